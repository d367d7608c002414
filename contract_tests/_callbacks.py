"""Signed callbacks for webhook tests, signed with the standard library only (independently of
kie_instrumental.webhooks.sign)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

SECRET = "whsec-test-0123456789"


def stdlib_signature(task_id: str, timestamp: str, secret: str = SECRET) -> str:
    digest = hmac.new(secret.encode(), f"{task_id}.{timestamp}".encode(), hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


def signed(
    body: dict[str, Any],
    *,
    secret: str = SECRET,
    at: float | None = None,
    task_id: str | None = None,
) -> tuple[bytes, dict[str, str]]:
    stamp = str(int(time.time() if at is None else at))
    signer_task = task_id if task_id is not None else body["data"]["task_id"]
    headers = {
        "X-Webhook-Timestamp": stamp,
        "X-Webhook-Signature": stdlib_signature(signer_task, stamp, secret),
        "Content-Type": "application/json",
    }
    return json.dumps(body).encode(), headers


def callback(
    stage: str = "complete",
    task_id: str = "task-1",
    tracks: list[dict[str, Any]] | None = None,
    code: int = 200,
) -> dict[str, Any]:
    if tracks is None:
        tracks = (
            []
            if stage == "text"
            else [
                {
                    "id": f"{task_id}-{n}",
                    "audio_url": f"https://cdn.example/{task_id}/{n}.mp3",
                    "title": "Night Drive",
                    "duration": 100.0 + n,
                    "createTime": 1735689600000,
                }
                for n in range(2)
            ]
        )
    return {
        "code": code,
        "msg": "ok",
        "data": {
            "callbackType": stage,
            "task_id": task_id,
            "data": None if stage == "error" else tracks,
        },
    }
