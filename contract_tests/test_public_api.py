"""The public surface is pinned: adding or removing a name is a decision, made here."""

from __future__ import annotations

import inspect
import typing

import kie_instrumental
from _support import resolved, spec
from kie_instrumental import (
    events,
    journal,
    notify,
    otel,
    receivers,
    redis_backend,
    testing,
    webhooks,
)
from kie_instrumental._validation import python_name

PUBLIC = {
    "AddInstrumentalParams",
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
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
}


def test_public_names_are_pinned():
    assert set(kie_instrumental.__all__) == PUBLIC


def test_public_names_are_exported_and_presented_as_the_packages_own():
    for name in kie_instrumental.__all__:
        value = getattr(kie_instrumental, name)
        if inspect.isclass(value):
            assert value.__module__ == "kie_instrumental", name


def test_submodule_surfaces_are_pinned():
    assert set(webhooks.__all__) == {
        "DEFAULT_TOLERANCE",
        "SIGNATURE_HEADER",
        "TIMESTAMP_HEADER",
        "CallbackEvent",
        "Claim",
        "DedupStore",
        "DedupStoreFull",
        "Deduplicator",
        "InMemoryDedupStore",
        "Outcome",
        "Receipt",
        "aconfirm",
        "areceive",
        "confirm",
        "known_stages",
        "parse_callback",
        "receive",
        "sign",
        "unwrap",
        "verify_signature",
    }
    assert set(testing.__all__) == {
        "FakeClock",
        "FakeKie",
        "SignedCallback",
        "serve_app",
        "signed_callback",
    }
    assert set(receivers.__all__) == {"CALLBACK_PATH", "MAX_BODY", "starlette_app", "wsgi_app"}
    assert set(redis_backend.__all__) == {
        "RedisDedupStore",
        "RedisJournal",
        "RedisNotifier",
        "RedisRateLimit",
    }
    assert set(notify.__all__) == {"DEFAULT_SAFETY_POLL", "LocalNotifier", "Notifier", "wakes"}
    assert set(journal.__all__) == {
        "FINISHED",
        "JOB_KEY_PARAM",
        "Job",
        "Journal",
        "SQLiteJournal",
        "State",
        "job_key_from",
        "record_callback",
        "with_job_key",
    }
    assert set(events.__all__) == {
        "CallFinished",
        "CallStarted",
        "CallbackReceived",
        "CallbackRefused",
        "CallbackVerified",
        "DownloadFinished",
        "Event",
        "Hook",
        "RateLimitWait",
        "RequestAnswered",
        "RequestSent",
        "RetryScheduled",
        "TaskFinished",
        "TaskStatusChanged",
    }
    assert set(otel.__all__) == {"OpenTelemetryHook"}
    for module in (webhooks, testing, receivers, redis_backend, journal, notify, events, otel):
        for name in module.__all__:
            assert getattr(module, name) is not None


def test_every_error_is_a_kie_error():
    errors = [getattr(kie_instrumental, n) for n in kie_instrumental.__all__ if n.endswith("Error")]
    assert len(errors) == 19
    assert all(issubclass(e, kie_instrumental.KieError) for e in errors)


def test_the_sync_and_async_clients_offer_the_same_methods():
    def surface(cls):
        return {
            name: list(inspect.signature(getattr(cls, name)).parameters)
            for name in dir(cls)
            if not name.startswith("_")
        }

    assert surface(kie_instrumental.KieClient) == surface(kie_instrumental.AsyncKieClient)
    for name in surface(kie_instrumental.AsyncKieClient):
        method = getattr(kie_instrumental.AsyncKieClient, name)
        # as_completed is an async iterator; every other method a coroutine.
        assert inspect.iscoroutinefunction(method) or inspect.isasyncgenfunction(method)


def test_importing_the_package_imports_only_what_every_user_needs():
    # The fake, the CLI, asyncio, redis-py and the generated models load when first used.
    import subprocess
    import sys

    probe = (
        "import sys, kie_instrumental; "
        "print([m for m in ('starlette', 'uvicorn', 'redis', 'kie_instrumental._cli', "
        "'kie_instrumental.testing._fake', 'opentelemetry') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _flat_args(annotation: object) -> set[object]:
    args = typing.get_args(annotation)
    if not args:
        return {annotation}
    if typing.get_origin(annotation) is typing.Literal:
        return set(args)
    return set().union(*map(_flat_args, args))


def test_create_parameters_are_typed_from_the_spec_enums():
    from kie_instrumental_generated.models import (
        add_instrumental_request_vocal_gender,
        suno_model,
    )

    generated = {
        **vars(suno_model),
        **vars(add_instrumental_request_vocal_gender),
    }
    properties = {
        name: resolved(field)  # model refers to SunoModel, shared by both routes
        for name, field in spec()["components"]["schemas"]["AddInstrumentalRequest"][
            "properties"
        ].items()
    }
    for function in (
        kie_instrumental.KieClient.add_instrumental,
        kie_instrumental.AsyncKieClient.add_instrumental,
    ):
        hints = typing.get_type_hints(function, localns=generated)
        for keyword, wire in (("model", "model"), ("vocal_gender", "vocalGender")):
            assert _flat_args(hints[keyword]) == {*properties[wire]["enum"], type(None)}, keyword
    params = kie_instrumental.AddInstrumentalParams
    hints = typing.get_type_hints(params, localns=generated)
    assert _flat_args(hints["model"]) == {*properties["model"]["enum"], type(None)}


def test_the_create_parameters_typed_dict_matches_the_signature_and_the_spec():
    params = kie_instrumental.AddInstrumentalParams
    schema = spec()["components"]["schemas"]["AddInstrumentalRequest"]
    keywords = set(inspect.signature(kie_instrumental.KieClient.add_instrumental).parameters)
    assert params.__required_keys__ | params.__optional_keys__ == keywords - {
        "self",
        "request_timeout",
        "route",
    }
    # Required: what both routes require (callBackUrl is optional on the Market route).
    market = spec()["components"]["schemas"]["MarketAddInstrumentalInput"]
    assert params.__required_keys__ == {python_name(name) for name in market["required"]}
    assert params.__required_keys__ < {python_name(name) for name in schema["required"]}
    assert params.__required_keys__ | params.__optional_keys__ == {
        python_name(name) for name in schema["properties"]
    }


def test_the_batch_surface_is_pinned():
    from kie_instrumental import batch

    assert set(batch.__all__) == {
        "NO_CALLBACK_URL",
        "BatchEvent",
        "BatchReport",
        "Claims",
        "Item",
        "ItemResult",
        "Manifest",
        "ManifestError",
        "MemoryClaims",
        "Problem",
        "SQLiteClaims",
        "run_batch",
        "run_batch_async",
    }
    for name in batch.__all__:
        assert getattr(batch, name) is not None
