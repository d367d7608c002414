"""Configuration: the environment, a clear error without a key, injected clients used and left
open, context managers closing what the client opened, the User-Agent on every request."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from _support import API_KEY, CREDIT_PATH
from kie_instrumental import (
    APIError,
    AsyncKieClient,
    ClientClosedError,
    ConfigurationError,
    KieClient,
    __version__,
)

CREDITS = {"code": 200, "msg": "success", "data": 3}


def test_key_and_base_url_come_from_the_environment(monkeypatch):
    seen: list[httpx.Request] = []
    monkeypatch.setenv("KIE_API_KEY", "env-key")
    monkeypatch.setenv("KIE_BASE_URL", "https://kie.internal.example")
    transport = httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(200, json=CREDITS))
    KieClient(http_client=httpx.Client(transport=transport)).get_credits()
    assert seen[0].headers["authorization"] == "Bearer env-key"
    assert str(seen[0].url) == "https://kie.internal.example/api/v1/chat/credit"


@pytest.mark.parametrize("cls", [KieClient, AsyncKieClient])
def test_no_key_is_a_clear_error_before_any_request(monkeypatch, cls):
    monkeypatch.delenv("KIE_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="KIE_API_KEY"):
        cls()


def test_a_bad_base_url_is_refused():
    with pytest.raises(ConfigurationError, match="base_url"):
        KieClient(API_KEY, base_url="api.kie.ai")


@pytest.mark.parametrize("cls", [KieClient, AsyncKieClient])
def test_the_upload_host_comes_from_the_environment(monkeypatch, cls):
    seen: list[httpx.Request] = []
    monkeypatch.setenv("KIE_UPLOAD_BASE_URL", "https://upload.internal.example")
    uploaded = {"fileName": "a.wav", "downloadUrl": "https://tmp.example/a.wav"}
    answer = {"success": True, "code": 200, "msg": "ok", "data": uploaded}
    transport = httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(200, json=answer))
    options = {"rate_limit": None, "max_retries": 0}

    async def run_async() -> object:
        async with httpx.AsyncClient(transport=transport) as http:
            client = AsyncKieClient(API_KEY, http_client=http, **options)
            return await client.upload_file(b"RIFF", file_name="a.wav")

    if cls is AsyncKieClient:
        url = asyncio.run(run_async())
    else:
        with httpx.Client(transport=transport) as http:
            url = KieClient(API_KEY, http_client=http, **options).upload_file(
                b"RIFF", file_name="a.wav"
            )
    assert url == "https://tmp.example/a.wav"
    assert [str(r.url) for r in seen] == ["https://upload.internal.example/api/file-stream-upload"]
    assert seen[0].headers["authorization"] == f"Bearer {API_KEY}"


def test_every_request_carries_the_user_agent(make_client):
    seen: list[httpx.Request] = []
    client = make_client(
        transport=httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(200, json=CREDITS))
    )
    client.get_credits()
    assert seen[0].headers["user-agent"].startswith(f"kie-instrumental/{__version__}")


def test_an_injected_client_is_used_and_left_open():
    seen: list[httpx.Request] = []
    http = httpx.Client(
        transport=httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(200, json=CREDITS))
    )
    with KieClient(API_KEY, http_client=http) as client:
        assert client.get_credits() == 3
    assert len(seen) == 1 and not http.is_closed
    http.close()


@pytest.mark.parametrize("cls", [KieClient, AsyncKieClient])
@pytest.mark.parametrize("follow", [True, False])
def test_a_read_follows_redirects_as_the_injected_client_says(cls, follow) -> None:
    """Reads (credits, task details) follow a redirect when your own http_client does (the
    create never does: test_hostile_credits)."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if request.url.path == CREDIT_PATH:
            return httpx.Response(307, headers={"Location": "/moved/credit"})
        return httpx.Response(200, json=CREDITS)

    transport = httpx.MockTransport(handler)
    options = {"rate_limit": None, "max_retries": 0}

    async def run_async() -> object:
        async with httpx.AsyncClient(transport=transport, follow_redirects=follow) as http:
            return await AsyncKieClient(API_KEY, http_client=http, **options).get_credits()

    def run() -> object:
        if cls is AsyncKieClient:
            return asyncio.run(run_async())
        with httpx.Client(transport=transport, follow_redirects=follow) as http:
            return KieClient(API_KEY, http_client=http, **options).get_credits()

    if follow:
        assert run() == 3
        assert seen == [CREDIT_PATH, "/moved/credit"]
    else:
        with pytest.raises(APIError, match="redirect") as caught:
            run()
        assert caught.value.http_status == 307 and seen == [CREDIT_PATH]


def test_the_context_manager_closes_its_own_client():
    with KieClient(API_KEY) as client:
        http = client._http
    assert http.is_closed


def test_the_async_context_manager_closes_its_own_client_and_not_an_injected_one():
    async def run() -> tuple[bool, bool]:
        async with AsyncKieClient(API_KEY) as own:
            own_http = own._http
        injected = httpx.AsyncClient()
        async with AsyncKieClient(API_KEY, http_client=injected):
            pass
        left_open = not injected.is_closed
        await injected.aclose()
        return own_http.is_closed, left_open

    assert asyncio.run(run()) == (True, True)


def test_base_url_trailing_slash_is_harmless(make_client):
    seen: list[httpx.Request] = []
    client = make_client(
        base_url="https://api.kie.ai/",
        transport=httpx.MockTransport(
            lambda r: seen.append(r) or httpx.Response(200, json=CREDITS)
        ),
    )
    client.get_credits()
    assert seen[0].url.path == CREDIT_PATH


def test_a_base_url_keeps_its_path_and_loses_only_its_trailing_slashes(make_client):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("file-stream-upload"):
            data = {"fileName": "a.wav", "downloadUrl": "https://tmp.example/a.wav"}
            return httpx.Response(
                200, json={"success": True, "code": 200, "msg": "ok", "data": data}
            )
        return httpx.Response(200, json=CREDITS)

    client = make_client(
        base_url="https://proxy.example/kieX//",
        upload_base_url="https://proxy.example/uploadX/",
        transport=httpx.MockTransport(handler),
    )
    client.get_credits()
    client.upload_file(b"RIFF", file_name="a.wav")
    assert [str(request.url) for request in seen] == [
        "https://proxy.example/kieX/api/v1/chat/credit",
        "https://proxy.example/uploadX/api/file-stream-upload",
    ]
    # Both are the client's own hosts: the key goes to each.
    assert [r.headers.get("authorization") for r in seen] == [f"Bearer {API_KEY}"] * 2


class _OnlyReserve:
    """Half of a limiter: a shared limiter needs both `reserve` and `back_off`."""

    def reserve(self) -> None:
        raise AssertionError("never called")


class _OnlyBackOff:
    def back_off(self) -> None:
        raise AssertionError("never called")


_RATE_RULE = "rate_limit must be (requests, seconds) with an integer >= 1 and a finite number > 0"


_UNSENDABLE = (
    "(CR, LF, NUL, spaces and non-ASCII characters cannot be sent in a header);"
    " the key is not shown"
)


@pytest.mark.parametrize(
    ("api_key", "message"),
    [
        (5, "api_key must be a string, got a int"),
        ("", "no API key: pass api_key=... or set the KIE_API_KEY environment variable"),
        (" \n", "no API key: pass api_key=... or set the KIE_API_KEY environment variable"),
        ("ab cd", f"api_key contains a space at position 2 {_UNSENDABLE}"),
        ("ab\x01cd", f"api_key contains a control character at position 2 {_UNSENDABLE}"),
        ("abc\x7fd", f"api_key contains a control character at position 3 {_UNSENDABLE}"),
        ("a\u00e9", f"api_key contains a non-ASCII character at position 1 {_UNSENDABLE}"),
        ("a\x80", f"api_key contains a non-ASCII character at position 1 {_UNSENDABLE}"),
    ],
)
def test_a_key_that_cannot_be_sent_is_refused_saying_what_and_where(
    api_key: object, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KIE_API_KEY", raising=False)
    for cls in (KieClient, AsyncKieClient):
        with pytest.raises(ConfigurationError) as caught:
            cls(api_key=api_key)
        assert str(caught.value) == message


def test_a_key_of_every_visible_ascii_character_is_sent_as_it_is() -> None:
    key = "".join(chr(code) for code in range(ord("!"), ord("~") + 1))  # "!" to "~"
    seen: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(200, json=CREDITS))
    KieClient(api_key=key, http_client=httpx.Client(transport=transport)).get_credits()
    assert seen[0].headers["authorization"] == f"Bearer {key}"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_retries": -1}, "max_retries must be an integer >= 0, got -1"),
        (
            {"max_retries": -(10**60)},
            f"max_retries must be an integer >= 0, got {str(-(10**60))[:50]}",
        ),
        ({"max_retries": "2"}, "max_retries must be an integer >= 0, got a str"),
        ({"max_retries": None}, "max_retries must be an integer >= 0, got None"),
        ({"max_retries": 1.5}, "max_retries must be an integer >= 0, got 1.5"),
        ({"validate_requests": None}, "validate_requests must be True or False, got None"),
        ({"validate_requests": "yes"}, "validate_requests must be True or False, got a str"),
        ({"http_client": object()}, "http_client must be an httpx.Client, got a object"),
        ({"rate_limit": (1, "x")}, f"{_RATE_RULE}, got (1, a str)"),
        ({"rate_limit": (0, 1)}, f"{_RATE_RULE}, got (0, 1)"),
        ({"rate_limit": [1, 2, 3, 4]}, f"{_RATE_RULE}, a limiter or None, got (1, 2, 3, 4)"),
        ({"rate_limit": (1, 2, 3, 4, 5)}, f"{_RATE_RULE}, a limiter or None, got a tuple"),
        ({"rate_limit": "x"}, f"{_RATE_RULE}, a limiter or None, got a str"),
        ({"rate_limit": _OnlyReserve()}, f"{_RATE_RULE}, a limiter or None, got a _OnlyReserve"),
        ({"rate_limit": _OnlyBackOff()}, f"{_RATE_RULE}, a limiter or None, got a _OnlyBackOff"),
        ({"base_url": "api.kie.ai"}, "base_url must be an http(s) URL, got 'api.kie.ai'"),
        ({"base_url": 5}, "base_url must be an http(s) URL, got a int"),
        (
            {"upload_base_url": "ftp://" + "u" * 300},
            f"upload_base_url must be an http(s) URL, got {('ftp://' + 'u' * 194)!r}",
        ),
    ],
)
def test_a_bad_option_is_named_with_what_was_given_in_short(options, message):
    with pytest.raises(ConfigurationError) as caught:
        KieClient(api_key="k" * 32, **options)
    assert str(caught.value) == message


def test_the_repr_shows_the_settings_and_hides_the_key() -> None:
    for cls, route in ((KieClient, "market"), (AsyncKieClient, "legacy")):
        client = cls(api_key=API_KEY, route=route)
        assert repr(client) == (
            f"{cls.__name__}(base_url='https://api.kie.ai', route='{route}', api_key='***', "
            "timeout=Timeout(connect=5.0, read=60.0, write=60.0, pool=60.0), max_retries=2, "
            "rate_limit=RateLimiter(limit=20, period=10.0))"
        )


def test_a_route_given_per_call_is_the_one_used(make_client, mock_api) -> None:
    from _records import suno_track
    from _support import MARKET_CREATE_PATH, MARKET_RECORD_PATH, VALID_FIELDS

    record = {
        "code": 200,
        "msg": "success",
        "data": {
            "taskId": "t1",
            "model": "V6",
            "state": "success",
            "param": "{}",
            "resultJson": json.dumps({"resultUrls": [], "sunoData": [suno_track()]}),
            "failCode": None,
            "failMsg": None,
            "costTime": 1,
            "completeTime": 1,
            "createTime": 1,
        },
    }
    create = mock_api.post(MARKET_CREATE_PATH).respond(
        200, json={"code": 200, "msg": "success", "data": {"taskId": "t1"}}
    )
    read = mock_api.get(MARKET_RECORD_PATH).respond(200, json=record)
    client = make_client(route="legacy")
    fields = {k: v for k, v in VALID_FIELDS.items() if k != "callback_url"}
    assert client.add_instrumental(**fields, route="market").route == "market"
    assert client.get_task("t1", route="market").route == "market"
    assert client.wait("t1", route="market").route == "market"
    assert (create.call_count, read.call_count) == (1, 2)


@pytest.mark.parametrize("cls", [KieClient, AsyncKieClient])
def test_a_closed_client_says_what_to_do_before_any_request(cls) -> None:
    seen: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(200, json=CREDITS))

    async def run_async() -> None:
        async with httpx.AsyncClient(transport=transport) as http:
            async with AsyncKieClient(API_KEY, http_client=http) as client:
                pass
            await client.get_credits()

    with pytest.raises(ClientClosedError) as caught:
        if cls is AsyncKieClient:
            asyncio.run(run_async())
        else:
            with httpx.Client(transport=transport) as http:
                with KieClient(API_KEY, http_client=http) as client:
                    pass
                client.get_credits()
    assert str(caught.value) == (
        f"this {cls.__name__} is closed: create a new one (or use it inside its `with` block)"
    )
    assert seen == []


def test_a_discontinued_model_warning_never_points_into_the_library(make_client, mock_api):
    """The warning blames a line outside kie_instrumental, whatever wraps the library's
    functions (a profiler, mutation testing's trampolines); the exact caller's line is pinned
    by test_market_examples."""
    import kie_instrumental
    from _support import MARKET_CREATE_PATH, VALID_FIELDS

    sent = mock_api.post(MARKET_CREATE_PATH).respond(
        200, json={"code": 200, "msg": "success", "data": {"taskId": "t1"}}
    )
    client = make_client(route="market")
    with pytest.warns(DeprecationWarning, match="model='V5' is discontinued") as caught:
        client.add_instrumental(**{**VALID_FIELDS, "model": "V5"})
    library = str(Path(kie_instrumental.__file__).parent)
    assert [w.filename.startswith(library) for w in caught] == [False]
    assert sent.call_count == 1
