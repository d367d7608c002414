"""Receive KIE's callbacks in any WSGI server (gunicorn, Flask's, Django's, wsgiref).

KIE_WEBHOOK_SECRET=... gunicorn examples.wsgi_receiver:app
# callback_url: https://<your public host>/kie/callback
"""

import os

from kie_instrumental import CallbackEvent
from kie_instrumental.receivers import wsgi_app

received: list[CallbackEvent] = []


def on_callback(event: CallbackEvent) -> None:
    # Your work goes here: store the tracks, tell the user. Raise to have KIE deliver again.
    # Runs once per (task id, stage); the signature was checked before it is called.
    received.append(event)


app = wsgi_app(secret=os.environ.get("KIE_WEBHOOK_SECRET", ""), handler=on_callback)
