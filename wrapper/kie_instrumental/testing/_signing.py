"""Signed callbacks for tests: what KIE would POST, signed by kie_instrumental.webhooks' own
signing code."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any, NamedTuple

from .. import webhooks


class SignedCallback(NamedTuple):
    body: bytes
    headers: dict[str, str]


def signed_callback(
    payload: Mapping[str, Any] | bytes,
    secret: str,
    *,
    timestamp: float | None = None,
    task_id: str | None = None,
) -> SignedCallback:
    """The body and headers of a callback signed with `secret` at `timestamp` (Unix seconds,
    now by default), as KIE sends it: `body, headers = signed_callback(payload, secret)`.

    The signature covers the payload's task id, read where the receivers read it; pass
    `task_id` to sign for another one (a forged callback, say)."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    if task_id is None:  # where the receivers read it, so both always agree
        task_id = webhooks._task_id(webhooks._load(body))
    stamp = str(int(time.time() if timestamp is None else timestamp))
    headers = {
        "Content-Type": "application/json",
        webhooks.TIMESTAMP_HEADER: stamp,
        webhooks.SIGNATURE_HEADER: webhooks.sign(task_id, stamp, secret),
    }
    return SignedCallback(body, headers)
