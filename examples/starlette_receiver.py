"""Receive KIE's callbacks with Starlette or FastAPI.

KIE_WEBHOOK_SECRET=... uvicorn examples.starlette_receiver:app --port 8000
# callback_url: https://<your public host>/kie/callback
"""

import os

from kie_instrumental import CallbackEvent
from kie_instrumental.receivers import starlette_app

received: list[CallbackEvent] = []


async def on_callback(event: CallbackEvent) -> None:
    # Your work goes here: store the tracks, tell the user. Raise to have KIE deliver again.
    # Runs once per (task id, stage); the signature was checked before it is called.
    received.append(event)


app = starlette_app(secret=os.environ.get("KIE_WEBHOOK_SECRET", ""), handler=on_callback)
