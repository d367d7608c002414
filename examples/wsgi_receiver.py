"""Receive KIE's callbacks in any WSGI server (gunicorn, Flask's, Django's, wsgiref).

KIE_API_KEY=... KIE_WEBHOOK_SECRET=... gunicorn examples.wsgi_receiver:app
# callback_url: https://<your public host>/kie/callback?job=<your job id>
"""

import os

from kie_instrumental import CallbackEvent, KieClient
from kie_instrumental.receivers import wsgi_app

received: list[CallbackEvent] = []


def on_callback(event: CallbackEvent) -> None:
    # Your work goes here: store the tracks, tell the user. Raise to have KIE deliver again.
    # Runs once per (task id, stage), after KIE confirmed the stage; the tracks are KIE's own.
    # event.query_params["job"] is your job id: unsigned, so check that job's task id.
    received.append(event)


app = wsgi_app(
    secret=os.environ.get("KIE_WEBHOOK_SECRET", ""),
    handler=on_callback,
    confirm_with=KieClient(),  # $KIE_API_KEY: KIE's own answer, not the unsigned body
)
