"""schemathesis against the example receiver, with the callback operation lifted from the spec.

Each generated case is signed before it is sent (KIE signs every callback), so the receiver
must accept what the spec allows; the test then counts the events that reached the handler,
so a run in which every case was refused (401s the default checks would accept) fails.
Stages the spec does not name are answered 200 and must never reach the handler.
"""

from __future__ import annotations

import copy
import time
from typing import Any

import schemathesis
from _callbacks import SECRET, stdlib_signature
from _support import CREATE_PATH, spec
from hypothesis import HealthCheck, settings
from kie_instrumental import CallbackEvent
from kie_instrumental.receivers import CALLBACK_PATH, starlette_app
from kie_instrumental.webhooks import known_stages


def receiver_spec() -> dict[str, Any]:
    """The callback operation, placed under the receiver's path, as its own small API."""
    document = copy.deepcopy(spec())
    callbacks = document["paths"][CREATE_PATH]["post"]["callbacks"]["audioGenerated"]
    (operation,) = (item["post"] for item in callbacks.values())
    assert operation["security"] == []
    # Our receiver's own answers besides KIE's 200: rejected, handler failed, try again later.
    operation["responses"]["401"] = {"description": "signature or body refused"}
    operation["responses"]["500"] = {"description": "the handler failed; KIE delivers again"}
    operation["responses"]["503"] = {"description": "in progress elsewhere; KIE delivers again"}
    return {
        "openapi": document["openapi"],
        "info": document["info"],
        "paths": {CALLBACK_PATH: {"post": operation}},
        "components": {"schemas": document["components"]["schemas"]},
    }


handled: list[CallbackEvent] = []
accepted: set[tuple[str, str]] = set()
ignored: set[tuple[str, str]] = set()
config = schemathesis.Config.from_dict({"generation": {"max-examples": 60, "mode": "positive"}})
schema = schemathesis.openapi.from_dict(receiver_spec(), config=config)
schema.app = starlette_app(SECRET, handled.append)


def sign(case: schemathesis.Case) -> tuple[str, str]:
    """Sign the case as KIE would: over its body's task id and the current time."""
    task_id = case.body["data"]["task_id"]
    stamp = str(int(time.time()))
    case.headers = {
        **(case.headers or {}),
        "X-Webhook-Timestamp": stamp,
        "X-Webhook-Signature": stdlib_signature(task_id, stamp),
    }
    return task_id, case.body["data"]["callbackType"]


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_the_receiver_accepts_every_signed_callback_the_spec_allows(case):
    key = sign(case)
    response = case.call()
    case.validate_response(response)
    assert response.status_code == 200, response.text
    (accepted if key[1] in known_stages() else ignored).add(key)


def test_every_accepted_callback_reached_the_handler_once():
    # Runs after the property above in this module (pytest keeps file order).
    assert len(accepted) + len(ignored) >= 20, "too few distinct callbacks reached the receiver"
    assert accepted, "no callback of a known stage was generated"
    # Unconfirmed, the handler runs once per signed delivery (a notice without tracks).
    assert {(e.task_id, e.stage) for e in handled} == accepted
    assert all(not e.tracks and not e.confirmed for e in handled)
