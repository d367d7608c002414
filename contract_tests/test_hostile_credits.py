"""Never a second charge: a create is never resent once an answer arrived that is not KIE's
plain refusal, whatever the caller's http_client does (redirects followed), and every answer
that does not rule out a created task says so. POSTs are counted at the server.

Decisions (README, "What it guarantees"):
- 3xx: never followed on the create. A 303 says the POST was processed; 301/302/307/308 are not
  KIE's answers and prove nothing either way: all raise APIError saying the task may exist.
- HTTP 429 (or any status) with a success body carrying a taskId: the body code decides first,
  so it is the created task, returned.
- HTTP 5xx with body code 429: the body code decides first (design.md's table), so it is KIE's
  refusal, resent like a plain 429 (and like 455 under HTTP 503); a 5xx without a refusing
  body code is never resent and says the task may exist.
- An unreadable HTTP 200 answer (empty, HTML, code 200 without taskId, cut): the task may exist.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from _hostile import HostileServer, Reply
from _support import API_KEY, CREATE_PATH, VALID_FIELDS
from kie_instrumental import (
    APIError,
    AsyncKieClient,
    KieClient,
    KieError,
    RateLimitError,
    ServerError,
)
from kie_instrumental.testing import FakeClock

KINDS = ["sync", "async"]
MAY_EXIST = "may have been created"
CREATED = {"code": 200, "msg": "success", "data": {"taskId": "task-42"}}


def create(kind: str, url: str, *, follow_redirects: bool = False):
    options = {"base_url": url, "rate_limit": None, "clock": FakeClock(), "max_retries": 2}
    if kind == "sync":
        with httpx.Client(follow_redirects=follow_redirects) as http:
            return KieClient(API_KEY, http_client=http, **options).add_instrumental(**VALID_FIELDS)

    async def main():
        async with httpx.AsyncClient(follow_redirects=follow_redirects) as http:
            client = AsyncKieClient(API_KEY, http_client=http, **options)
            return await client.add_instrumental(**VALID_FIELDS)

    return asyncio.run(main())


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("target", ["fails", "succeeds"])
def test_a_redirected_create_is_never_followed_nor_resent(kind, status, target) -> None:
    with HostileServer() as server:
        server.script("POST", CREATE_PATH, Reply.redirect(status, "/elsewhere"))
        answer = Reply(500, body=b"") if target == "fails" else Reply(200, json=CREATED)
        server.script("*", "/elsewhere", answer)
        with pytest.raises(APIError) as caught:
            create(kind, server.url, follow_redirects=True)
        assert server.count("POST", CREATE_PATH) == 1
        assert server.count("*", "/elsewhere") == 0
    assert MAY_EXIST in str(caught.value) and "redirect" in str(caught.value)
    assert caught.value.http_status == status


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("status", [429, 500, 503])
def test_a_success_body_under_an_error_status_is_the_created_task(kind, status) -> None:
    with HostileServer() as server:
        server.script("POST", CREATE_PATH, Reply(status, json=CREATED))
        assert create(kind, server.url).task_id == "task-42"
        assert server.count("POST", CREATE_PATH) == 1


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("status", [500, 502, 504])
def test_a_5xx_with_body_code_429_is_kies_refusal_and_resent(kind, status) -> None:
    """The body code decides first: KIE refused it (as with 455 under HTTP 503)."""
    with HostileServer() as server:
        server.script(
            "POST",
            CREATE_PATH,
            [Reply(status, json={"code": 429, "msg": "slow"}), Reply(200, json=CREATED)],
        )
        assert create(kind, server.url).task_id == "task-42"
        assert server.count("POST", CREATE_PATH) == 2


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("status", [500, 502, 504])
def test_a_5xx_without_a_refusing_body_code_is_not_resent(kind, status) -> None:
    with HostileServer() as server:
        server.script("POST", CREATE_PATH, Reply(status, json={"code": status, "msg": "oops"}))
        with pytest.raises(ServerError) as caught:
            create(kind, server.url)
        assert server.count("POST", CREATE_PATH) == 1
    assert MAY_EXIST in str(caught.value)


@pytest.mark.parametrize("kind", KINDS)
def test_a_plain_429_is_resent_because_nothing_was_made(kind) -> None:
    """The contrast: KIE's plain refusal is the one answer after which a create is resent."""
    with HostileServer() as server:
        server.script("POST", CREATE_PATH, Reply(429, json={"code": 429, "msg": "slow"}))
        with pytest.raises(RateLimitError) as caught:
            create(kind, server.url)
        assert server.count("POST", CREATE_PATH) == 3
    assert MAY_EXIST not in str(caught.value)


UNREADABLE = {
    "empty": Reply(200, body=b""),
    "html": Reply(200, body=b"<html><body>Bad gateway</body></html>"),
    "no taskId": Reply(200, json={"code": 200, "msg": "success", "data": {}}),
    "data null": Reply(200, json={"code": 200, "msg": "success", "data": None}),
    "cut": Reply(200, body=b'{"code": 200, "msg": "success", "data": {"taskId"', cut_after=20),
    "not json": Reply(200, body=b"\xff\xfe\x00garbage"),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", list(UNREADABLE))
def test_an_unreadable_answer_to_a_create_says_the_task_may_exist(kind, name) -> None:
    with HostileServer() as server:
        server.script("POST", CREATE_PATH, UNREADABLE[name])
        with pytest.raises(KieError) as caught:
            create(kind, server.url)
        assert server.count("POST", CREATE_PATH) == 1
    assert MAY_EXIST in str(caught.value)
