"""The result files FakeKie serves itself: each track's audio (synthesised once, cached) and
cover image at /files/{task_id}/{n}.wav and .png, and the same files as "Suno's copy" at
/suno/{task_id}/... (what real tracks' `source*` URLs point at)."""

from __future__ import annotations

import threading
import zlib
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ._answers import not_found
from ._audio import synth_png, synth_wav, wav_duration


class TrackFiles:
    def __init__(self, *, audio_seconds: float, tracks_per_task: int) -> None:
        self.audio_seconds = audio_seconds
        self.tracks_per_task = tracks_per_task
        self._audio: dict[tuple[str, int], bytes] = {}
        self._lock = threading.Lock()

    def url(
        self,
        base_url: str,
        task_id: str,
        n: int,
        kind: str,
        *,
        source: bool = False,
        stream: bool = False,
    ) -> str:
        folder = "suno" if source else "files"
        return f"{base_url}/{folder}/{task_id}/{n}.{kind}" + ("?stream=1" if stream else "")

    def duration(self, task_id: str, n: int) -> float:
        return round(wav_duration(self.audio(task_id, n)), 2)

    def audio(self, task_id: str, n: int) -> bytes:
        key = (task_id, n)
        with self._lock:
            if key not in self._audio:
                self._audio[key] = synth_wav(
                    self.audio_seconds, seed=zlib.crc32(f"{task_id}/{n}".encode())
                )
            return self._audio[key]

    def routes(self, task_exists: Callable[[str], bool]) -> list[Route]:
        async def serve(request: Request) -> Response:
            task_id = request.path_params["task_id"]
            stem, _, kind = request.path_params["name"].partition(".")
            if not task_exists(task_id) or not stem.isdigit() or int(stem) >= self.tracks_per_task:
                return not_found()
            if kind == "png":
                return Response(synth_png(int(stem)), media_type="image/png")
            if kind != "wav":
                return not_found()
            return Response(self.audio(task_id, int(stem)), media_type="audio/wav")

        return [
            Route(f"/{folder}/{{task_id}}/{{name}}", serve, methods=["GET"])
            for folder in ("files", "suno")
        ]
