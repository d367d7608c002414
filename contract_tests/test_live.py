"""Live contract tests against the real KIE API. Opt-in: they run only with KIE_API_KEY set,
and never in CI. Read-only by default (free); the one paid submission needs KIE_LIVE_PAID=1
and your own KIE_LIVE_UPLOAD_URL and KIE_LIVE_CALLBACK_URL (no defaults that would send a
file or results to a third party)."""

from __future__ import annotations

import os

import httpx
import pytest
from _support import BASE_URL, CREDIT_PATH, RECORD_PATH, errors
from kie_instrumental import KieClient, NotFoundError

KEY = os.environ.get("KIE_API_KEY", "")
pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not KEY, reason="live: set KIE_API_KEY to test against the real API"),
    pytest.mark.skipif(bool(os.environ.get("CI")), reason="live tests never run in CI"),
]


def raw_get(path: str, **params: str) -> httpx.Response:
    from kie_instrumental._core import USER_AGENT

    return httpx.get(
        BASE_URL + path,
        params=params,
        timeout=30,
        headers={"Authorization": f"Bearer {KEY}", "User-Agent": USER_AGENT},
    )


def test_live_credits_conform_to_the_spec():
    answer = raw_get(CREDIT_PATH)
    assert errors({"$ref": "#/components/schemas/CreditsResponse"}, answer.json()) == []
    with KieClient() as client:
        assert client.get_credits() >= 0


def test_live_unknown_task_conforms_to_the_spec():
    answer = raw_get(RECORD_PATH, taskId="kie-instrumental-live-probe-0000")
    assert errors({"$ref": "#/components/schemas/RecordInfoResponse"}, answer.json()) == []
    with KieClient() as client, pytest.raises(NotFoundError):
        client.get_task("kie-instrumental-live-probe-0000")


@pytest.mark.skipif(
    os.environ.get("KIE_LIVE_PAID") != "1",
    reason="paid: set KIE_LIVE_PAID=1, KIE_LIVE_UPLOAD_URL, KIE_LIVE_CALLBACK_URL",
)
def test_live_paid_submission_completes():
    with KieClient() as client:
        task = client.add_instrumental(
            upload_url=os.environ["KIE_LIVE_UPLOAD_URL"],
            title="kie-instrumental live test",
            tags="piano, calm",
            negative_tags="drums",
            callback_url=os.environ["KIE_LIVE_CALLBACK_URL"],
        )
        print(f"live task {task.task_id}")
        details = client.wait(task.task_id, timeout=900)
    assert details.succeeded and details.tracks
