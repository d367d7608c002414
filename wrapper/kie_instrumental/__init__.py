"""kie-instrumental: a safe, typed client for KIE.AI's Add Instrumental to Music API.

    from kie_instrumental import KieClient
    with KieClient() as client:                   # api key from $KIE_API_KEY
        task = client.add_instrumental(upload_url=..., title=..., tags=..., negative_tags=...,
                                       callback_url=...)
        details = client.wait(task.task_id)
        client.download(details, "out/")

Everything public is importable from here; modules starting with an underscore are private.
Webhook helpers live in `kie_instrumental.webhooks`, the fake server and test clock in
`kie_instrumental.testing`.
"""

from ._client import AsyncKieClient, KieClient
from ._errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    ClientClosedError,
    ConfigurationError,
    InsufficientCreditsError,
    InvalidRequestError,
    KieError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseTooLargeError,
    ResultUnreadableError,
    ServerError,
    ServiceUnavailableError,
    TaskFailedError,
    WaitTimeoutError,
    WebhookVerificationError,
)
from ._models import CallbackEvent, InstrumentalTask, TaskDetails, TaskStatus, Track
from ._params import AddInstrumentalParams
from ._polling import PollSchedule
from ._version import __version__

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AddInstrumentalParams",
    "AsyncKieClient",
    "AuthenticationError",
    "CallbackEvent",
    "ClientClosedError",
    "ConfigurationError",
    "InstrumentalTask",
    "InsufficientCreditsError",
    "InvalidRequestError",
    "KieClient",
    "KieError",
    "NotFoundError",
    "PermissionDeniedError",
    "PollSchedule",
    "RateLimitError",
    "ResponseTooLargeError",
    "ResultUnreadableError",
    "ServerError",
    "ServiceUnavailableError",
    "TaskDetails",
    "TaskFailedError",
    "TaskStatus",
    "Track",
    "WaitTimeoutError",
    "WebhookVerificationError",
    "__version__",
]

# Present the public names as this package's own (tracebacks and docs say kie_instrumental.X).
for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith("kie_instrumental._"):
        _obj.__module__ = __name__
del _name, _obj
