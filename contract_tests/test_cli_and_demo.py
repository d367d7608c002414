"""The command line and `make demo`'s path, end to end on loopback: real processes, real
ports, real signed callbacks, real files; expected errors as one line and a documented code."""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest
from _hostile import HostileServer, Reply
from _support import CREDIT_PATH, VALID_FIELDS
from kie_instrumental import KieClient
from kie_instrumental._cli import EXIT_CODES, PORT_IN_USE, build_parser, main
from kie_instrumental.testing import FakeKie
from kie_instrumental.testing._suno import track_id

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def fake() -> Iterator[tuple[FakeKie, str]]:
    server = FakeKie(rate_limit=None, callbacks="off")
    with server.serve() as url:
        yield server, url


@pytest.fixture
def env(fake, monkeypatch):
    server, url = fake
    monkeypatch.setenv("KIE_API_KEY", server.api_key)
    monkeypatch.setenv("KIE_BASE_URL", url)
    monkeypatch.setenv("KIE_UPLOAD_BASE_URL", url)
    monkeypatch.delenv("KIE_ROUTE", raising=False)  # the CLI's own default: market
    return server, url


ADD = [
    "add",
    "--upload-url",
    "https://example.com/v.mp3",
    "--title",
    "Night Drive",
    "--tags",
    "synthwave",
    "--negative-tags",
    "",
    "--callback-url",
    "https://example.com/cb",
]


@pytest.mark.parametrize("route", [[], ["--route", "market"], ["--route", "legacy"]])
def test_add_wait_download_json(env, capsys, tmp_path, route):
    argv = [*route, *ADD, "--style-weight", "0.07", "--wait", "--json", "--download", str(tmp_path)]
    assert main(argv) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert result["status"] == "SUCCESS" and len(result["tracks"]) == 2
    assert result["route"] == (route[1] if route else "market")  # market by default
    assert [Path(p).parent for p in result["files"]] == [tmp_path, tmp_path]
    assert "stage SUCCESS" in captured.err and "elapsed" in captured.err


def test_the_legacy_route_needs_a_callback_url_and_market_does_not(env, capsys):
    server, _ = env
    without = [a for a in ADD if a not in ("--callback-url", "https://example.com/cb")]
    before = len(server.requests)
    assert main(["--route", "legacy", *without]) == 4
    assert "callback_url (callBackUrl): is required" in capsys.readouterr().err
    assert len(server.requests) == before
    assert main(["--route", "market", *without, "--json"]) == 0
    task_id = json.loads(capsys.readouterr().out)["task_id"]
    assert "callBackUrl" not in server.tasks[task_id].request


def test_add_with_a_local_file_uploads_it_first(env, capsys, tmp_path):
    vocals = tmp_path / "vocals.wav"
    vocals.write_bytes(b"RIFF-vocals")
    args = [a for a in ADD if a not in ("--upload-url", "https://example.com/v.mp3")]
    assert main([*args, "--file", str(vocals), "--json"]) == 0
    task_id = json.loads(capsys.readouterr().out)["task_id"]
    server, _ = env
    uploaded = server.tasks[task_id].request["input"]["upload_url"]
    assert re.search(r"/kie-instrumental/vocals-[0-9a-f]{16}\.wav$", uploaded), uploaded


def test_status_and_credits(env, capsys):
    server, _ = env
    assert main([*ADD, "--json"]) == 0
    task_id = json.loads(capsys.readouterr().out)["task_id"]
    assert main(["status", task_id]) == 0
    assert f"task {task_id}: SUCCESS" in capsys.readouterr().out
    assert main(["credits", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"credits": server.credits}


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (
            ["--route", "market", *ADD, "--style-weight", "1.5"],
            4,
            "style_weight (input.style_weight): must be a",
        ),
        (
            ["--route", "legacy", *ADD, "--style-weight", "1.5"],
            4,
            "style_weight (styleWeight): must be a multiple",
        ),
        (["status", "no-such-task"], 11, "knows no task no-such-task"),
    ],
)
def test_expected_errors_are_one_line_with_a_documented_code(env, capsys, argv, code, message):
    assert main(argv) == code
    err = capsys.readouterr().err.strip()
    assert err.startswith("kie-instrumental: error: ") and message in err
    assert "\n" not in err and "Traceback" not in err


def test_a_failed_task_exits_9(env, capsys):
    server, _ = env
    server.fail_next_task("SENSITIVE_WORD_ERROR")
    assert main([*ADD, "--wait"]) == 9
    # Market reports the failure as GENERATE_AUDIO_FAILED; its failMsg names the cause.
    assert "Sensitive word error" in capsys.readouterr().err


def test_a_wrong_key_exits_5(env, capsys, monkeypatch):
    monkeypatch.setenv("KIE_API_KEY", "wrong")
    assert main(["credits"]) == 5


def test_no_key_exits_3_in_a_real_process_without_a_traceback(tmp_path):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KIE_")}
    result = subprocess.run(
        [str(BIN / "kie-instrumental"), "credits"],
        capture_output=True,
        text=True,
        env=clean,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 3
    assert result.stderr.strip().splitlines() == [
        "kie-instrumental: error: no API key: pass api_key=... or set the KIE_API_KEY "
        "environment variable"
    ]


def test_python_dash_m_is_the_same_command():
    result = subprocess.run(
        [sys.executable, "-m", "kie_instrumental", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    for command in ("add", "status", "wait", "credits", "fake-server", "demo"):
        assert command in result.stdout
    assert "Exit codes" in result.stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_fake_server_command_serves_a_real_port():
    port = free_port()
    process = subprocess.Popen(
        [str(BIN / "kie-instrumental"), "fake-server", "--port", str(port), "--stage-seconds", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = process.stdout.readline()
        assert f"http://127.0.0.1:{port}" in banner
        key = re.search(r"api key: (\S+)", banner).group(1)
        for _ in range(100):
            try:
                with KieClient(key, base_url=f"http://127.0.0.1:{port}") as client:
                    assert client.get_credits() == 1000.0
                break
            except Exception:
                time.sleep(0.05)
        else:
            pytest.fail("the fake server never answered")
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.parametrize(
    ("route", "stages", "stage_seconds"),
    [([], ["complete"], "1.0"), (["--route", "legacy"], ["text", "first", "complete"], "0.3")],
)
def test_the_demo_runs_the_whole_flow_and_leaves_nothing_behind(
    tmp_path, route, stages, stage_seconds
):
    out = tmp_path / "demo-output"
    result = subprocess.run(
        [
            str(BIN / "kie-instrumental"),
            *route,
            "demo",
            "--out",
            str(out),
            "--stage-seconds",
            stage_seconds,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("KIE_")},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout
    for stage in stages:
        assert f"callback '{stage}' received, signature verified" in lines
    assert lines.count("signature verified") == len(stages)
    assert f"on the {route[1] if route else 'market'} route" in lines
    assert "status SUCCESS" in lines and f"Callbacks {', '.join(stages)}" in lines
    # One vocabulary: the normalised status first, the route's own word in brackets.
    shown = re.findall(r"poll: status (\S+)( \[\w+\])?$", lines, re.MULTILINE)
    assert shown and all(word.isupper() for word, _ in shown)
    # The wait listens: one poll at once, then the final callback wakes it for the last one
    # (polling alone needs 3 on the Market route's 3 s task: at once, after 2.5 s and 5 s).
    assert "done after 2 status polls" in lines
    assert lines.index(f"callback '{stages[-1]}' received") < lines.index("status SUCCESS")
    assert all(raw for _, raw in shown) == (not route)  # Market's words are its own
    task_id = re.search(r"Task\s+(\w+)", lines).group(1)
    files = sorted(out.iterdir())
    track_ids = [track_id(task_id, n) for n in range(2)]  # the task's tracks, by their UUIDs
    assert len(files) == 2 and all(
        t in f.name for t, f in zip(sorted(track_ids), files, strict=True)
    )
    for file in files:
        with wave.open(io.BytesIO(file.read_bytes())) as audio:
            assert audio.getnframes() > 0
    # No process and no port left behind.
    ports = [int(p) for p in re.findall(r"127\.0\.0\.1:(\d+)", lines)]
    assert len(ports) == 2
    for port in ports:
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0
    leftovers = [p for p in Path("/proc").glob("[0-9]*/cmdline") if str(out).encode() in _read(p)]
    assert leftovers == []


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


@pytest.mark.parametrize("command", [["demo"], ["fake-server", "--port", "1"]])
def test_without_the_fake_extra_the_fake_commands_say_what_to_install(monkeypatch, capsys, command):
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if the extra were not installed
    assert main(command) == 3
    err = capsys.readouterr().err.strip()
    assert err == (
        "kie-instrumental: error: this command needs the fake server's packages: "
        "pip install 'kie-instrumental[fake]'"
    )


def test_verbose_shows_retries_and_failures_as_they_happen(env, capsys):
    server, _ = env
    server.fail_next(1, code=500)
    assert main(["credits"]) == 0
    assert "retrying" not in capsys.readouterr().err  # quiet without --verbose
    server.fail_next(1, code=500)
    assert main(["--verbose", "credits"]) == 0
    err = capsys.readouterr().err
    assert "kie-instrumental: get_credits: attempt 1 failed with ServerError (code 500); " in err
    assert "retrying in" in err
    server.fail_next_task("SENSITIVE_WORD_ERROR")
    assert main(["-v", "--route", "legacy", *ADD, "--wait"]) == 9  # legacy names the status
    err = capsys.readouterr().err
    assert re.search(r"kie-instrumental: task \S+ failed with status SENSITIVE_WORD_ERROR", err)
    assert server.api_key not in err


# -- every option checked before anything is paid for --------------------------------------------


@pytest.fixture
def counting(monkeypatch):
    """A loopback server counting every request; the CLI's API and upload hosts point at it."""
    with HostileServer() as server:
        server.script("GET", CREDIT_PATH, Reply(200, json={"code": 200, "msg": "ok", "data": 7}))
        monkeypatch.setenv("KIE_API_KEY", "sk-cli-test")
        monkeypatch.setenv("KIE_BASE_URL", server.url)
        monkeypatch.setenv("KIE_UPLOAD_BASE_URL", server.url)
        yield server


def _exit_code(argv: list[str]) -> int | str | None:
    """main's exit code, usage errors (argparse's SystemExit) included."""
    try:
        return main(argv)
    except SystemExit as exit_:
        return exit_.code


def _with_file(path: Path) -> list[str]:
    args = [a for a in ADD if a not in ("--upload-url", "https://example.com/v.mp3")]
    return [*args, "--file", str(path)]


@pytest.mark.parametrize(
    ("extra", "code", "says"),
    [
        (["--wait", "--timeout", "inf"], 2, "--timeout must be a bounded number"),
        (["--wait", "--timeout", "0"], 2, "--timeout must be a bounded number"),
        (["--wait", "--timeout", "nan"], 2, "--timeout must be a bounded number"),
        (["--wait", "--timeout", "1e12"], 2, "--timeout must be a bounded number"),
        (["--wait", "--timeout", "soon"], 2, "not a number of seconds"),
        (["--download", "out"], 2, "--download needs --wait"),
        (["--model", "V9"], 2, "invalid choice: 'V9'"),
        (["--vocal-gender", "x"], 2, "invalid choice: 'x'"),
        (["--style-weight", "1.5"], 4, "style_weight (styleWeight)"),
        (["--style-weight", "0.615", "--title", ""], 4, "2 invalid fields: "),
    ],
)
def test_bad_options_of_add_are_refused_before_the_upload(
    counting, capsys, tmp_path, extra, code, says
):
    vocals = tmp_path / "vocals.wav"
    vocals.write_bytes(b"RIFF-vocals")
    assert _exit_code([*_with_file(vocals), *extra]) == code
    err = capsys.readouterr().err
    assert says in err
    assert counting.count() == 0  # nothing uploaded, nothing created


def test_a_directory_as_file_and_a_file_as_download_folder_are_refused_first(
    counting, capsys, tmp_path
):
    assert main(_with_file(tmp_path)) == 4
    assert "must be a regular file, not a directory" in capsys.readouterr().err
    taken = tmp_path / "taken"
    taken.write_text("x")
    vocals = tmp_path / "vocals.wav"
    vocals.write_bytes(b"RIFF-vocals")
    assert main([*_with_file(vocals), "--wait", "--download", str(taken)]) == 4
    assert "--download: must be a directory" in capsys.readouterr().err
    assert counting.count() == 0


@pytest.mark.parametrize("timeout", ["inf", "-1", "x"])
def test_wait_checks_its_timeout_before_any_request(counting, capsys, timeout):
    with pytest.raises(SystemExit) as caught:
        main(["wait", "task-1", "--timeout", timeout])
    assert caught.value.code == 2
    assert counting.count() == 0


@pytest.mark.parametrize(
    ("data", "text", "document"),
    [
        (1_000_000.0, "1000000 credits", {"credits": 1_000_000}),
        (12.5, "12.5 credits", {"credits": 12.5}),
        (0.0001, "0.0001 credits", {"credits": 0.0001}),
        (1e16, "10000000000000000 credits", {"credits": 10**16}),
    ],
)
def test_credits_are_printed_as_plain_numbers(counting, capsys, data, text, document):
    counting.script("GET", CREDIT_PATH, Reply(200, json={"code": 200, "msg": "ok", "data": data}))
    assert main(["credits"]) == 0
    assert capsys.readouterr().out.strip() == text
    assert main(["credits", "--json"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out) == document
    assert "e+" not in out and "e-" not in out.replace("0.0001", "")


def _all_actions(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.Action]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                for where, inner in _all_actions(sub):
                    yield f"{name} {where}", inner
        else:
            yield "", action


def test_every_option_and_argument_has_help():
    missing = [
        f"{where}{'/'.join(action.option_strings) or action.dest}"
        for where, action in _all_actions(build_parser())
        if not action.help
    ]
    assert missing == []


def test_a_busy_port_for_fake_server_is_its_own_error_and_exit_code(capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        assert main(["fake-server", "--port", str(port)]) == PORT_IN_USE
    err = capsys.readouterr().err.strip()
    assert err == (
        f"kie-instrumental: error: port {port} on 127.0.0.1 is already in use: stop what uses "
        "it or choose another with --port"
    )
    assert PORT_IN_USE not in {code for _, code in EXIT_CODES}


# -- Ctrl-C says how to resume -------------------------------------------------------------------


@pytest.fixture
def slow_fake() -> Iterator[tuple[FakeKie, str]]:
    server = FakeKie(rate_limit=None, callbacks="off", stage_seconds=60)
    with server.serve() as url:
        yield server, url


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _interrupted(
    argv: list[str], fake: tuple[FakeKie, str], tmp_path: Path, ready: str
) -> list[str]:
    """Run the command, press Ctrl-C once a line of `ready` ("out" or "err") shows it is
    waiting, and return its stderr lines."""
    server, url = fake
    env = {
        **os.environ,
        "KIE_API_KEY": server.api_key,
        "KIE_UPLOAD_BASE_URL": url,
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(
        [str(BIN / "kie-instrumental"), "--base-url", url, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
        # As at a terminal: a run started in the background (nohup, `&` without job control)
        # ignores SIGINT, and the child would inherit that and never see the Ctrl-C.
        preexec_fn=_default_sigint,
    )
    try:
        first = (process.stdout if ready == "out" else process.stderr).readline()
        assert first, "the command ended before waiting"
        time.sleep(0.3)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode == 130
    return ([first] if ready == "err" else []) + err.strip().splitlines()


def test_ctrl_c_while_add_waits_repeats_the_task_and_how_to_resume(slow_fake, tmp_path):
    server, url = slow_fake
    lines = _interrupted([*ADD, "--wait", "--download", "out"], slow_fake, tmp_path, "out")
    (task_id,) = server.tasks
    assert lines[-1] == (
        f"kie-instrumental: interrupted; task {task_id} continues at KIE. Resume waiting with: "
        f"kie-instrumental --base-url {url} wait {task_id} --download out"
    )


def test_ctrl_c_while_wait_waits_repeats_the_task_and_how_to_resume(slow_fake, tmp_path):
    server, url = slow_fake
    with KieClient(server.api_key, base_url=url, rate_limit=None) as client:
        task_id = client.add_instrumental(**{k: v for k, v in VALID_FIELDS.items()}).task_id
    lines = _interrupted(["wait", task_id, "--json"], slow_fake, tmp_path, "err")
    assert "stage" in lines[0]
    assert lines[-1].endswith(f"kie-instrumental --base-url {url} wait {task_id} --json")
