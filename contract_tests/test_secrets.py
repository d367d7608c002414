"""The API key appears in no repr, str, raised error (its __dict__, __cause__ and __context__
walked deeply) or log record, across the whole error matrix with DEBUG logging on."""

from __future__ import annotations

import logging
import re
from typing import Any

import httpx
import pytest
import respx
from _support import (
    API_KEY,
    CREATE_PATH,
    CREDIT_PATH,
    RECORD_PATH,
    VALID_FIELDS,
)
from kie_instrumental import KieClient, KieError, Track

FAULTS = [
    *[
        httpx.Response(s, json={"code": s, "msg": "m", "data": None})
        for s in (400, 401, 402, 403, 404, 422, 429, 430, 455, 500, 502, 503, 531)
    ],
    *[
        httpx.Response(200, json={"code": c, "msg": "m", "data": None})
        for c in (401, 402, 409, 422, 451, 455, 501)
    ],
    httpx.Response(403, text="error code: 1010"),
    httpx.Response(502, html="<html>bad gateway</html>"),
    httpx.Response(200, content=b""),
    httpx.ConnectError("refused"),
    httpx.ReadTimeout("slow"),
    httpx.WriteTimeout("slow"),
    httpx.PoolTimeout("busy"),
    httpx.RemoteProtocolError("dropped"),
]


def leaks(value: Any, secret: str, seen: set[int] | None = None, depth: int = 0) -> list[str]:
    """Where `secret` hides in `value`: its str and repr, attributes, causes and contexts."""
    seen = seen if seen is not None else set()
    if id(value) in seen or depth > 12:
        return []
    seen.add(id(value))
    found = []
    for text in (str(value), repr(value)):
        if secret in text:
            found.append(f"{type(value).__name__} at depth {depth}")
    children: list[Any] = []
    if isinstance(value, BaseException):
        children += [value.__cause__, value.__context__, *value.args]
    if isinstance(value, dict):
        children += list(value.keys()) + list(value.values())
    elif isinstance(value, list | tuple | set):
        children += list(value)
    elif hasattr(value, "__dict__"):
        children += list(vars(value).values())
    for child in children:
        if child is not None and not isinstance(child, int | float | bool):
            found += leaks(child, secret, seen, depth + 1)
    return found


def test_the_leak_finder_finds_a_key_hidden_in_a_context() -> None:
    try:
        try:
            raise ValueError({"headers": {"Authorization": f"Bearer {API_KEY}"}})
        except ValueError:
            raise KieError("outer") from None
    except KieError as error:
        assert leaks(error, API_KEY)


@pytest.mark.parametrize("fault", FAULTS, ids=[repr(f)[:40] for f in FAULTS])
def test_no_error_or_log_line_carries_the_key(make_client, mock_api, caplog, fault) -> None:
    caplog.set_level(logging.DEBUG, logger="kie_instrumental")
    for method, path in (("post", CREATE_PATH), ("get", RECORD_PATH), ("get", CREDIT_PATH)):
        getattr(mock_api, method)(path).mock(side_effect=lambda request, f=fault: _raise(f))
    client = make_client()
    assert API_KEY not in repr(client) and API_KEY not in str(client)
    errors: list[KieError] = []
    for call in (
        lambda: client.add_instrumental(**VALID_FIELDS),
        lambda: client.get_task("task-1"),
        client.get_credits,
    ):
        try:
            call()
        except KieError as error:  # the class is checked in test_errors
            errors.append(error)
    assert len(errors) == 3
    for error in errors:
        assert leaks(error, API_KEY) == []
    # Nor does the client keep anything that reveals it (a stored request, an exception).
    assert leaks(getattr(client, "_client", client), API_KEY) == []
    assert caplog.records, "DEBUG logging should have recorded the attempts"
    for record in caplog.records:
        assert API_KEY not in record.getMessage()
        assert API_KEY not in repr(record.args)


def _raise(fault: Any) -> httpx.Response:
    if isinstance(fault, Exception):
        raise fault
    return fault


def test_kie_log_debug_prints_one_line_per_attempt(monkeypatch, capsys) -> None:
    monkeypatch.setenv("KIE_LOG", "debug")
    logger = logging.getLogger("kie_instrumental")
    previous = (logger.level, list(logger.handlers))
    try:
        transport = httpx.MockTransport(
            lambda r: httpx.Response(500, json={"code": 500, "msg": "x"})
        )
        from kie_instrumental.testing import FakeClock

        client = KieClient(
            API_KEY, http_client=httpx.Client(transport=transport), clock=FakeClock(), max_retries=1
        )
        with pytest.raises(KieError):
            client.get_credits()
        lines = [
            line for line in capsys.readouterr().err.splitlines() if "/api/v1/chat/credit" in line
        ]
        assert len(lines) == 2
        # Each line: when, which logger, then the attempt.
        stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} kie_instrumental(\.\w+)* GET "
        assert all(re.match(stamp, line) for line in lines), lines
        assert "GET /api/v1/chat/credit -> HTTP 500 code 500" in lines[0]
        assert "(attempt 1/2)" in lines[0] and "(attempt 2/2)" in lines[1]
        assert not any(API_KEY in line for line in lines)
    finally:
        logger.setLevel(previous[0])
        logger.handlers[:] = previous[1]


def test_client_attributes_do_not_reveal_the_key() -> None:
    client = KieClient(API_KEY)
    assert leaks(client, API_KEY) == []


def test_a_result_file_on_another_host_is_fetched_without_the_key(make_client, tmp_path) -> None:
    # The key goes to KIE's own hosts only: a file host (a CDN) never receives it.
    audio = b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(range(256))
    track = Track(id="t1", title="Night Drive", audio_url="https://cdn.example/t1.mp3")
    client = make_client(allow_private_downloads=True)
    with respx.mock() as router:
        cdn = router.get("https://cdn.example/t1.mp3").respond(200, content=audio)
        (saved,) = client.download([track], tmp_path)
    assert saved.read_bytes() == audio
    assert cdn.call_count == 1
    sent = cdn.calls.last.request.headers
    assert "authorization" not in sent
    assert not any(API_KEY in value for value in sent.values())


def test_a_result_file_under_the_upload_base_is_fetched_without_the_key(make_client, tmp_path):
    # A download never carries the key, even from a URL under the upload's base (here one of
    # the caller's own, outside the spec's hosts).
    base = "https://uploads.example"
    audio = b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(range(256))
    track = Track(id="t1", title="Night Drive", audio_url=f"{base}/files/t1.mp3")
    client = make_client(allow_private_downloads=True, upload_base_url=base)
    with respx.mock() as router:
        host = router.get(f"{base}/files/t1.mp3").respond(200, content=audio)
        (saved,) = client.download([track], tmp_path)
    assert saved.read_bytes() == audio
    sent = host.calls.last.request.headers
    assert "authorization" not in sent
    assert not any(API_KEY in value for value in sent.values())
