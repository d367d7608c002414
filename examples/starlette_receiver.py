"""Receive KIE's callbacks with Starlette or FastAPI.

KIE_API_KEY=... KIE_WEBHOOK_SECRET=... uvicorn examples.starlette_receiver:app --port 8000
# callback_url: https://<your public host>/kie/callback?job=<your job id>
"""

import os

from kie_instrumental import AsyncKieClient, CallbackEvent
from kie_instrumental.receivers import starlette_app

received: list[CallbackEvent] = []


async def on_callback(event: CallbackEvent) -> None:
    # Your work goes here: store the tracks, tell the user. Raise to have KIE deliver again.
    # Runs once per (task id, stage), after KIE confirmed the stage; the tracks are KIE's own.
    # event.query_params["job"] is your job id: unsigned, so check that job's task id.
    received.append(event)


app = starlette_app(
    secret=os.environ.get("KIE_WEBHOOK_SECRET", ""),
    handler=on_callback,
    confirm_with=AsyncKieClient(),  # $KIE_API_KEY: KIE's own answer, not the unsigned body
)
