"""Retries per the policy: GETs retried with backoff honouring Retry-After; the create POST
retried only when the task certainly was not created; attempts and waiting time capped.
The fake clock records every sleep, so nothing here sleeps for real."""

from __future__ import annotations

import random

import httpx
import pytest
from _support import CREATE_PATH, CREDIT_PATH, RECORD_PATH, VALID_FIELDS
from kie_instrumental import (
    APIConnectionError,
    APITimeoutError,
    RateLimitError,
    ServerError,
    ServiceUnavailableError,
)

OK_CREATE = httpx.Response(200, json={"code": 200, "msg": "success", "data": {"taskId": "t1"}})
OK_CREDITS = httpx.Response(200, json={"code": 200, "msg": "success", "data": 42})


def envelope(code: int, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, json={"code": code, "msg": "x", "data": None}, headers=headers)


@pytest.mark.parametrize(
    "first",
    [
        envelope(500, 500),
        envelope(502, 502),
        envelope(503, 503),
        envelope(455),
        envelope(429, 429),
        envelope(430),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("dropped"),
        RuntimeError("the caller's hook failed"),
    ],
    ids=["500", "502", "503", "455", "429", "430", "connect", "read-timeout", "dropped", "foreign"],
)
def test_gets_are_retried_after_transient_failures(client, mock_api, clock, first):
    route = mock_api.get(CREDIT_PATH).mock(side_effect=[first, OK_CREDITS])
    assert client.get_credits() == 42
    assert route.call_count == 2
    assert len(clock.sleeps) == 1 and 0.3 <= clock.sleeps[0] <= 0.7  # 0.5 s +- jitter


@pytest.mark.parametrize(
    "first",
    [
        httpx.ConnectError("refused"),
        httpx.ConnectTimeout("no connection"),
        envelope(429, 429),
        envelope(430),
        envelope(455),
        envelope(455, 503),
        envelope(429, 400),
    ],
    ids=["connect", "connect-timeout", "429", "430", "455", "455 in HTTP 503", "429 in HTTP 400"],
)
def test_create_is_retried_only_when_the_task_certainly_does_not_exist(client, mock_api, first):
    route = mock_api.post(CREATE_PATH).mock(side_effect=[first, OK_CREATE])
    assert client.add_instrumental(**VALID_FIELDS).task_id == "t1"
    assert route.call_count == 2


@pytest.mark.parametrize(
    ("first", "error_class"),
    [
        (httpx.ReadTimeout("slow"), APITimeoutError),
        (httpx.WriteTimeout("slow"), APITimeoutError),
        (httpx.RemoteProtocolError("dropped"), APIConnectionError),
        (httpx.ReadError("reset"), APIConnectionError),
        (envelope(500, 500), ServerError),
        (envelope(500), ServerError),
        (envelope(501), ServerError),
        (envelope(531), ServerError),
        (envelope(502, 502), ServerError),
        (envelope(503, 503), ServiceUnavailableError),
        (httpx.Response(504, text="<html>gateway</html>"), ServerError),
    ],
    ids=[
        "read-timeout",
        "write-timeout",
        "dropped",
        "reset",
        "HTTP 500",
        "body 500",
        "body 501",
        "body 531",
        "HTTP 502",
        "HTTP 503",
        "HTML 504",
    ],
)
def test_create_is_sent_exactly_once_when_the_task_may_exist(client, mock_api, first, error_class):
    route = mock_api.post(CREATE_PATH).mock(side_effect=[first, OK_CREATE])
    with pytest.raises(error_class) as caught:
        client.add_instrumental(**VALID_FIELDS)
    assert route.call_count == 1  # one POST reached the server: never charged twice
    assert type(caught.value) is error_class
    assert "may have been created" in str(caught.value)


def test_a_foreign_exception_from_the_callers_transport_may_follow_a_created_task(client, mock_api):
    # Not httpx's: the caller's transport, event hook or codec raised it, maybe after the
    # request left. It is a connection error, and the create is not sent again.
    route = mock_api.post(CREATE_PATH).mock(side_effect=[RuntimeError("hook failed"), OK_CREATE])
    with pytest.raises(APIConnectionError) as caught:
        client.add_instrumental(**VALID_FIELDS)
    assert route.call_count == 1
    assert type(caught.value) is APIConnectionError
    assert caught.value.request_may_have_arrived is True
    assert str(caught.value).startswith("POST /api/v1/generate/add-instrumental: RuntimeError: ")
    assert "may have been created" in str(caught.value)


@pytest.mark.parametrize(
    ("raised", "detail"),
    [
        (httpx.ConnectError("refused"), "ConnectError: refused"),
        (httpx.ConnectError(""), "ConnectError"),
        (ValueError("codec\nbroke"), "ValueError: codec\\nbroke"),
        (ValueError(), "ValueError"),
    ],
    ids=["httpx", "httpx without text", "foreign", "foreign without text"],
)
def test_a_failed_exchange_is_named_by_its_exception_and_its_text(
    make_client, mock_api, raised, detail
):
    mock_api.get(CREDIT_PATH).mock(side_effect=raised)
    with pytest.raises(APIConnectionError) as caught:
        make_client(max_retries=0).get_credits()
    assert type(caught.value) is APIConnectionError
    assert str(caught.value) == f"GET /api/v1/chat/credit: {detail}"


def test_attempts_are_capped(make_client, mock_api, clock):
    route = mock_api.get(CREDIT_PATH).mock(return_value=envelope(500, 500))
    with pytest.raises(ServerError):
        make_client(max_retries=3).get_credits()
    assert route.call_count == 4
    # exponential: about 0.5, 1, 2 s, each within the 25 % jitter
    for sleep, base in zip(clock.sleeps, (0.5, 1.0, 2.0), strict=True):
        assert base * 0.75 <= sleep <= base * 1.25


def test_no_retries_when_switched_off(make_client, mock_api):
    route = mock_api.get(CREDIT_PATH).mock(return_value=envelope(500, 500))
    with pytest.raises(ServerError):
        make_client(max_retries=0).get_credits()
    assert route.call_count == 1


def test_retry_after_is_honoured(client, mock_api, clock):
    mock_api.get(RECORD_PATH).mock(
        side_effect=[
            envelope(429, 429, **{"Retry-After": "4"}),
            envelope(429, 429, **{"Retry-After": "6"}),
            envelope(429, 429),
        ]
    )
    with pytest.raises(RateLimitError):
        client.get_task("t1")
    assert clock.sleeps == [4.0, 6.0]


def test_total_waiting_time_is_capped(client, mock_api, clock):
    route = mock_api.get(CREDIT_PATH).mock(
        return_value=envelope(429, 429, **{"Retry-After": "120"})
    )
    with pytest.raises(RateLimitError) as caught:
        client.get_credits()
    assert route.call_count == 1 and clock.sleeps == []  # 120 s is past the 30 s budget
    assert caught.value.retry_after == 120


def test_the_waits_add_up_to_30_s_at_most(make_client, mock_api, clock):
    answers = [envelope(429, 429, **{"Retry-After": s}) for s in ("10", "10", "10", "5")]
    route = mock_api.get(CREDIT_PATH).mock(side_effect=[*answers, OK_CREDITS])
    with pytest.raises(RateLimitError):
        make_client(max_retries=4).get_credits()
    assert clock.sleeps == [10.0, 10.0, 10.0]  # 30 s in all: 5 s more would pass the budget
    assert route.call_count == 4


def test_errors_that_no_retry_can_fix_are_not_retried(client, mock_api):
    route = mock_api.get(CREDIT_PATH).mock(return_value=envelope(401, 401))
    with pytest.raises(Exception):  # noqa: B017 - the class is checked in test_errors
        client.get_credits()
    assert route.call_count == 1


def test_a_zero_retry_after_still_waits_a_third_of_a_second(client, mock_api, clock):
    mock_api.get(CREDIT_PATH).mock(
        side_effect=[envelope(429, 429, **{"Retry-After": "0"}), OK_CREDITS]
    )
    assert client.get_credits() == 42
    assert clock.sleeps == [pytest.approx(1 / 3)]


@pytest.mark.parametrize("status", [300, 303, 307, 399])
def test_a_redirected_create_is_never_sent_again_whatever_its_body_code(client, mock_api, status):
    # A redirect is not KIE's refusal (a 303 says the POST was processed): even a rate-limit
    # body code under it does not prove that no task was made.
    route = mock_api.post(CREATE_PATH).mock(side_effect=[envelope(429, status), OK_CREATE])
    with pytest.raises(RateLimitError) as caught:
        client.add_instrumental(**VALID_FIELDS)
    assert route.call_count == 1
    assert caught.value.http_status == status
    assert "may have been created" in str(caught.value)


@pytest.mark.parametrize(("draw", "factor"), [(0.0, 0.75), (0.5, 1.0), (0.75, 1.125)])
def test_the_jitter_spreads_each_delay_evenly_over_a_quarter_either_side(
    make_client, mock_api, clock, monkeypatch, draw, factor
):
    # The random draw is pinned: 0 gives the shortest delay, 0.5 the base, towards 1 the longest.
    monkeypatch.setattr(random.Random, "random", lambda self: draw)
    mock_api.get(CREDIT_PATH).mock(return_value=envelope(500, 500))
    with pytest.raises(ServerError):
        make_client(max_retries=3).get_credits()
    assert clock.sleeps == [pytest.approx(base * factor) for base in (0.5, 1.0, 2.0)]


def test_a_429_without_retry_after_holds_the_limiter_one_second(make_client, mock_api, clock):
    # The retry's own delay is 0.5 s (+-25 %); the limiter's back-off (1 s without a
    # Retry-After) holds every request of the client, this retry included.
    stamps: list[float] = []
    answers = iter([envelope(429, 429), OK_CREDITS])

    def answer(request: httpx.Request) -> httpx.Response:
        stamps.append(clock.monotonic())
        return next(answers)

    mock_api.get(CREDIT_PATH).mock(side_effect=answer)
    assert make_client(rate_limit=(20, 10.0)).get_credits() == 42
    assert stamps[1] - stamps[0] == pytest.approx(1.0)
