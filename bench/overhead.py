"""1. Per-call CPU overhead over httpx.MockTransport with the same canned answers: KieClient
(validation on and off; no hooks, as most users run it, and one no-op event hook), the
generated client alone, and raw httpx sending the same JSON."""

from __future__ import annotations

import json
from typing import Any

import httpx
from kie_instrumental import KieClient
from kie_instrumental._core import ClientCore
from kie_instrumental._demo import documented_example
from kie_instrumental._validation import python_name
from kie_instrumental_generated import Client
from kie_instrumental_generated.api.music import add_instrumental, get_task_details
from kie_instrumental_generated.models.add_instrumental_request import AddInstrumentalRequest

from ._timing import interleaved, per_call_seconds

BASE = "https://api.kie.ai"
# KIE's documented request example, read from the spec like the demo does.
BODY = documented_example()
KWARGS = {python_name(key): value for key, value in BODY.items()}
CREATED = json.dumps({"code": 200, "msg": "success", "data": {"taskId": "abc"}}).encode()
RECORD = json.dumps(
    {
        "code": 200,
        "msg": "success",
        "data": {
            "taskId": "abc",
            "status": "SUCCESS",
            "type": "GENERATE",
            "operationType": "generate",
            "errorCode": None,
            "errorMessage": None,
            "param": "{}",
            "parentMusicId": "",
            "response": {
                "taskId": "abc",
                "sunoData": [
                    {
                        "id": f"t{n}",
                        "audioUrl": f"https://cdn/{n}.mp3",
                        "streamAudioUrl": f"https://cdn/{n}",
                        "imageUrl": f"https://cdn/{n}.jpg",
                        "prompt": "",
                        "modelName": "chirp-v4-5-plus",
                        "title": "Relaxing Piano",
                        "tags": "piano",
                        "createTime": "2025-01-01 00:00:00",
                        "duration": 198.44,
                    }
                    for n in range(2)
                ],
            },
        },
    }
).encode()


def transport() -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        content = CREATED if request.method == "POST" else RECORD
        return httpx.Response(200, content=content, headers={"Content-Type": "application/json"})

    return httpx.MockTransport(handler)


class _NoEventsCore(ClientCore):
    def call(self, op: Any, request_timeout: Any) -> Any:
        return self._call(op, self._timeout(request_timeout), None)


def run(calls: int) -> dict[str, Any]:
    raw = httpx.Client(transport=transport(), base_url=BASE)
    headers = {"Authorization": "Bearer k", "User-Agent": "bench"}
    generated = Client(base_url=BASE, httpx_args={"transport": transport()})
    # The legacy route: the raw and generated baselines send to its paths.
    validated = KieClient(
        "k", rate_limit=None, http_client=httpx.Client(transport=transport()), route="legacy"
    )
    hooked = KieClient(
        "k",
        rate_limit=None,
        http_client=httpx.Client(transport=transport()),
        hooks=[lambda event: None],
        route="legacy",
    )
    # The same client with the event machinery cut out of call(): what "no hooks" costs.
    bare = KieClient(
        "k", rate_limit=None, http_client=httpx.Client(transport=transport()), route="legacy"
    )
    bare._core.__class__ = _NoEventsCore
    unvalidated = KieClient(
        "k",
        rate_limit=None,
        route="legacy",
        validate_requests=False,
        http_client=httpx.Client(transport=transport()),
    )

    def raw_create() -> object:
        response = raw.post("/api/v1/generate/add-instrumental", json=BODY, headers=headers)
        return response.json()["data"]["taskId"]

    def raw_get() -> object:
        response = raw.get(
            "/api/v1/generate/record-info", params={"taskId": "abc"}, headers=headers
        )
        return response.json()["data"]["status"]

    def generated_create() -> object:
        return add_instrumental.sync_detailed(
            client=generated, body=AddInstrumentalRequest.from_dict(BODY)
        ).parsed

    def generated_get() -> object:
        return get_task_details.sync_detailed(client=generated, task_id="abc").parsed

    measures = {
        "raw httpx / create": lambda: per_call_seconds(raw_create, calls=calls),
        "generated client / create": lambda: per_call_seconds(generated_create, calls=calls),
        "KieClient, validation on / create": lambda: per_call_seconds(
            lambda: validated.add_instrumental(**KWARGS), calls=calls
        ),
        "KieClient, validation off / create": lambda: per_call_seconds(
            lambda: unvalidated.add_instrumental(**KWARGS), calls=calls
        ),
        "raw httpx / get_task": lambda: per_call_seconds(raw_get, calls=calls),
        "generated client / get_task": lambda: per_call_seconds(generated_get, calls=calls),
        "KieClient / get_task": lambda: per_call_seconds(
            lambda: validated.get_task("abc"), calls=calls
        ),
        "KieClient, no event code / get_task": lambda: per_call_seconds(
            lambda: bare.get_task("abc"), calls=calls
        ),
        "KieClient, a no-op hook / get_task": lambda: per_call_seconds(
            lambda: hooked.get_task("abc"), calls=calls
        ),
    }
    seconds = interleaved(measures)
    rows = {}
    for name, value in seconds.items():
        what = name.split(" / ")[1]
        baseline = seconds[f"raw httpx / {what}"]
        rows[name] = {"us_per_call": round(value * 1e6, 1), "ratio": round(value / baseline, 3)}
    return rows
