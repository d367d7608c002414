"""Hostile callers: every bad argument (of the client, of a request) is a KieError naming it,
raised before anything is sent (counted at a loopback server that must receive nothing), and a
malformed API key is refused without ever being echoed: not in the error, not in a
KIE_LOG=debug line, not on the CLI."""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Any

import httpx
import pytest
from _hostile import HostileServer, Reply
from _support import API_KEY, CREDIT_PATH, VALID_FIELDS
from kie_instrumental import (
    AsyncKieClient,
    ClientClosedError,
    ConfigurationError,
    InvalidRequestError,
    KieClient,
)
from kie_instrumental._cli import main

CREDITS = Reply(200, json={"code": 200, "msg": "success", "data": 3})


@pytest.fixture
def server():
    with HostileServer() as running:
        running.script("GET", CREDIT_PATH, CREDITS)
        yield running


def _construct(cls: type, **options: Any) -> Any:
    options.setdefault("api_key", API_KEY)
    if cls is AsyncKieClient and "http_client" not in options:
        options["http_client"] = httpx.AsyncClient()
    return cls(**options)


BAD_CONFIGURATION = [
    ({"rate_limit": (0, 10)}, "rate_limit"),
    ({"rate_limit": (20, math.inf)}, "rate_limit"),
    ({"rate_limit": (math.nan, 10)}, "rate_limit"),
    ({"rate_limit": (20, math.nan)}, "rate_limit"),
    ({"rate_limit": (20, 0)}, "rate_limit"),
    ({"rate_limit": (20, -1)}, "rate_limit"),
    ({"rate_limit": (20.5, 10)}, "rate_limit"),
    ({"rate_limit": (True, 10)}, "rate_limit"),
    ({"rate_limit": 20}, "rate_limit"),
    ({"rate_limit": (20, 10, 1)}, "rate_limit"),
    ({"rate_limit": "20/10s"}, "rate_limit"),
    ({"api_key": 123}, "api_key"),
    ({"api_key": b"bytes-key"}, "api_key"),
    ({"http_client": "http://proxy"}, "http_client"),
    ({"max_retries": -1}, "max_retries"),
    ({"max_retries": "2"}, "max_retries"),
    ({"max_retries": 1.5}, "max_retries"),
    ({"validate_requests": "no"}, "validate_requests"),
    ({"base_url": 8080}, "base_url"),
    ({"upload_base_url": "ftp://files"}, "upload_base_url"),
]


@pytest.mark.parametrize("cls", [KieClient, AsyncKieClient])
@pytest.mark.parametrize(("options", "argument"), BAD_CONFIGURATION)
def test_bad_configuration_is_a_configuration_error_naming_the_argument(
    server, cls, options, argument
):
    with pytest.raises(ConfigurationError) as caught:
        _construct(cls, **{"base_url": server.url, **options})
    assert str(caught.value).startswith(argument)
    assert caught.value.__cause__ is None and caught.value.__context__ is None
    assert server.count() == 0


@pytest.mark.parametrize(
    ("cls", "wrong"), [(KieClient, httpx.AsyncClient), (AsyncKieClient, httpx.Client)]
)
def test_the_other_kind_of_http_client_is_refused(server, cls, wrong):
    http = wrong()
    with pytest.raises(ConfigurationError, match=r"^http_client must be an httpx\."):
        cls(API_KEY, base_url=server.url, http_client=http)
    assert server.count() == 0


@pytest.mark.parametrize("cls", [KieClient, AsyncKieClient])
def test_a_closed_http_client_is_refused_at_construction(server, cls):
    http = httpx.Client() if cls is KieClient else httpx.AsyncClient()
    if cls is KieClient:
        http.close()
    else:
        asyncio.run(http.aclose())
    with pytest.raises(ConfigurationError, match=r"^http_client is already closed"):
        cls(API_KEY, base_url=server.url, http_client=http)


@pytest.mark.parametrize("rate_limit", [(1, 0.5), [20, 10], (20, 10.0), None])
def test_good_rate_limits_are_accepted(server, rate_limit):
    with KieClient(API_KEY, base_url=server.url, rate_limit=rate_limit) as client:
        assert client.get_credits() == 3
    assert server.count() == 1


# -- a closed client -------------------------------------------------------------------------


def test_a_closed_client_raises_client_closed_error_and_sends_nothing(server, make_client):
    client = make_client(base_url=server.url)
    assert client.get_credits() == 3
    client.close()
    with pytest.raises(ClientClosedError, match="is closed"):
        client.get_credits()
    with pytest.raises(ClientClosedError):
        client.get_task("task-1")
    assert server.count() == 1


def test_a_client_whose_injected_http_client_was_closed_says_so(server):
    http = httpx.Client()
    client = KieClient(API_KEY, base_url=server.url, http_client=http)
    http.close()
    with pytest.raises(ClientClosedError, match="http_client given to this KieClient was closed"):
        client.get_credits()
    assert server.count() == 0


def test_an_async_client_used_after_its_with_block_says_so(server):
    async def scenario() -> None:
        async with AsyncKieClient(API_KEY, base_url=server.url) as client:
            assert await client.get_credits() == 3
        with pytest.raises(ClientClosedError, match="AsyncKieClient is closed"):
            await client.get_credits()

    asyncio.run(scenario())
    assert server.count() == 1


# -- a key that cannot be sent is refused and never shown ------------------------------------

SECRET = "sk-hostile-5f3a9c"
BAD_KEYS = [
    f"{SECRET}\r\nX-Injected: 1",
    f"{SECRET}\nmore",
    f"{SECRET}\x00",
    f"{SECRET}\u00e9",
    f"{SECRET}\u2028x",
    f"{SECRET} {SECRET}",
]


def _texts(error: BaseException) -> list[str]:
    found = [str(error), repr(error), *map(str, error.args)]
    found += [repr(value) for value in vars(error).values()]
    return found


@pytest.mark.parametrize("cls", [KieClient, AsyncKieClient])
@pytest.mark.parametrize("key", BAD_KEYS)
def test_an_unsendable_key_is_refused_without_being_echoed(
    server, cls, key, caplog, capfd, monkeypatch
):
    monkeypatch.setenv("KIE_LOG", "debug")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ConfigurationError) as caught:
        _construct(cls, api_key=key, base_url=server.url)
    assert "api_key contains" in str(caught.value)
    assert "the key is not shown" in str(caught.value)
    assert not any(SECRET in text for text in _texts(caught.value))
    assert caught.value.__cause__ is None and caught.value.__context__ is None
    assert not any(SECRET in record.getMessage() for record in caplog.records)
    out, err = capfd.readouterr()
    assert SECRET not in out + err
    assert server.count() == 0


# An environment variable cannot hold NUL.
@pytest.mark.parametrize("key", [key for key in BAD_KEYS if "\x00" not in key])
def test_an_unsendable_key_from_the_environment_never_reaches_the_cli_output(
    server, key, capfd, monkeypatch
):
    monkeypatch.setenv("KIE_API_KEY", key)
    monkeypatch.setenv("KIE_LOG", "debug")
    code = main(["--base-url", server.url, "credits"])
    out, err = capfd.readouterr()
    assert code == 3
    assert "KIE_API_KEY contains" in err
    assert SECRET not in out + err
    assert server.count() == 0


def test_a_key_with_surrounding_whitespace_is_still_accepted(server):
    with KieClient(f"  {API_KEY}\n", base_url=server.url) as client:
        assert client.get_credits() == 3
    headers = {name.lower(): value for name, value in server.requests[0].headers.items()}
    assert headers["authorization"] == f"Bearer {API_KEY}"


# -- hostile request arguments: a KieError naming the argument, nothing sent -------------------

HOSTILE_FIELDS = [
    ("title", None),
    ("title", 12345),
    ("title", ["Night", "Drive"]),
    ("title", {"text": "x"}),
    ("title", "x" * 1_000_000),
    ("tags", b"synthwave"),
    ("upload_url", "https://example.com/a\r\nHost: evil"),
    ("upload_url", "javascript:alert(1)"),
    ("upload_url", "/etc/passwd"),
    ("callback_url", ""),
    ("model", "V9"),
    ("model", 5),
    ("vocal_gender", "male"),
    ("style_weight", math.nan),
    ("style_weight", "0.5"),
    ("style_weight", 10**400),
    ("audio_weight", True),
    ("audio_weight", object()),
]


def _stable_id(value: object) -> str:
    # The same on every xdist worker: no addresses, no huge strings.
    if isinstance(value, str) and len(value) <= 20 and value.isprintable():
        return value
    return f"{type(value).__name__}{len(value) if isinstance(value, str | bytes) else ''}"


@pytest.mark.parametrize(("argument", "value"), HOSTILE_FIELDS, ids=_stable_id)
def test_hostile_create_arguments_are_invalid_request_errors_naming_them(
    server, make_client, argument, value
):
    client = make_client(base_url=server.url)
    with pytest.raises(InvalidRequestError) as caught:
        client.add_instrumental(**{**VALID_FIELDS, argument: value})
    assert caught.value.violations[0]["argument"] == argument
    assert str(caught.value).startswith(argument)
    assert len(str(caught.value)) < 1000
    assert server.count() == 0


@pytest.mark.parametrize("task_id", ["", None, 123, "x" * 100_000, "a\r\nb", ["t"]])
def test_hostile_task_ids_are_refused_before_sending(server, make_client, task_id):
    client = make_client(base_url=server.url)
    for call in (client.get_task, lambda t: client.wait(t, timeout=5)):
        with pytest.raises(InvalidRequestError, match="taskId"):
            call(task_id)
    assert server.count() == 0
