"""5. Request validation per call and webhook unwrap per callback, in microseconds, against a
json.dumps of the same body."""

from __future__ import annotations

import json
import time
from typing import Any

from kie_instrumental import webhooks
from kie_instrumental._validation import request_validator

from ._timing import per_call_seconds
from .overhead import BODY

CALLBACK = {
    "code": 200,
    "msg": "All generated successfully.",
    "data": {
        "callbackType": "complete",
        "task_id": "2fac9f72",
        "data": [
            {
                "id": f"t{n}",
                "audio_url": f"https://cdn/{n}.mp3",
                "stream_audio_url": f"https://cdn/{n}",
                "image_url": f"https://cdn/{n}.jpg",
                "prompt": "",
                "model_name": "chirp-v4-5-plus",
                "title": "Relaxing Piano",
                "tags": "piano",
                "createTime": 1735689600000,
                "duration": 198.44,
            }
            for n in range(2)
        ],
    },
}


def run(calls: int) -> dict[str, Any]:
    validator = request_validator("AddInstrumentalRequest")
    validate = per_call_seconds(lambda: validator.validate(BODY), calls=calls)
    dumps_request = per_call_seconds(lambda: json.dumps(BODY), calls=calls)
    body = json.dumps(CALLBACK).encode()
    stamp = str(int(time.time()))
    headers = {
        webhooks.TIMESTAMP_HEADER: stamp,
        webhooks.SIGNATURE_HEADER: webhooks.sign("2fac9f72", stamp, "secret"),
    }
    unwrap = per_call_seconds(lambda: webhooks.unwrap(body, headers, "secret"), calls=calls)
    dumps_callback = per_call_seconds(lambda: json.dumps(CALLBACK), calls=calls)
    return {
        "validation_us": round(validate * 1e6, 2),
        "json_dumps_request_us": round(dumps_request * 1e6, 2),
        "validation_ratio": round(validate / dumps_request, 2),
        "unwrap_us": round(unwrap * 1e6, 2),
        "json_dumps_callback_us": round(dumps_callback * 1e6, 2),
        "unwrap_ratio": round(unwrap / dumps_callback, 2),
    }
