"""Verify and parse KIE's callbacks, framework-agnostic: bytes and headers in, CallbackEvent out.

    receipt = webhooks.receive(body, headers, secret, handler, dedup=..., confirm_with=client)
    event = webhooks.unwrap(body, headers, secret)      # verify, then parse (body unconfirmed)
    event = webhooks.confirm(event, client)             # stage and tracks checked with KIE

How KIE signs (when `webhookHmacKey` is set on its settings page): X-Webhook-Timestamp is Unix
seconds, X-Webhook-Signature the standard Base64 of HMAC-SHA256(key, "<task_id>.<timestamp>"),
task_id being the body's data.task_id.

The signature does NOT cover the body: whoever captured one signed callback can send its headers
again with any body for the same task inside the replay window (`tolerance`, 300 s, both ways).
So `receive` trusts only what is signed or what KIE confirms:
- with `confirm_with`, the event's stage is checked against KIE's task status and its tracks are
  replaced by KIE's own; it is de-duplicated per (task id, stage), which a forgery cannot
  pre-empt because a stage KIE has not reached is refused (and that refusal remembered per
  signed delivery, so replays do not spend KIE's rate limit) before anything is recorded;
- without it, the handler gets a notice: task id and stage (a hint), no tracks and no URLs,
  de-duplicated per signed delivery (task id, stage, timestamp), so a forgery never suppresses
  the genuine delivery, and one captured header set runs the handler at most once per stage;
- stages the spec does not name are answered 200 and never reach the handler.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import inspect
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

import attrs
from kie_instrumental_generated.types import Unset

from . import _generated as gen
from . import _spec
from ._emitter import NO_EVENTS, Emitter
from ._errors import ConfigurationError, KieError, WebhookVerificationError
from ._models import CallbackEvent, ShapeError, Track, require_str
from .events import CallbackReceived, CallbackRefused, CallbackVerified, Hook

if TYPE_CHECKING:
    from ._client import AsyncKieClient, KieClient
    from ._models import TaskDetails

__all__ = [
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
]

SIGNATURE_HEADER = "X-Webhook-Signature"
TIMESTAMP_HEADER = "X-Webhook-Timestamp"
DEFAULT_TOLERANCE = 300
_MAX_STAMP_DIGITS = 12  # Unix seconds until the year 33658; longer is refused before int()
R = TypeVar("R")
logger = logging.getLogger("kie_instrumental.webhooks")


def sign(task_id: str, timestamp: int | str, secret: str) -> str:
    """The X-Webhook-Signature KIE sends for `task_id` at `timestamp`."""
    message = f"{task_id}.{timestamp}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def _load(body: bytes | str) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise WebhookVerificationError("malformed JSON body") from None
    if not isinstance(document, dict):
        raise WebhookVerificationError("the body is not a JSON object")
    return document


def _task_id(document: Mapping[str, Any]) -> str:
    """The signed task id: data.task_id (stage callbacks), data.taskId (the Market route's
    callback) or a top-level taskId, the first that is a non-empty string."""
    data = document.get("data")
    places = (data, data, document) if isinstance(data, dict) else ({}, {}, document)
    for place, key in zip(places, ("task_id", "taskId", "taskId"), strict=True):
        task_id = place.get(key)
        if isinstance(task_id, str) and task_id:
            return task_id
    raise WebhookVerificationError("the body has no data.task_id, data.taskId or taskId")


def _is_market(document: Mapping[str, Any]) -> bool:
    """The Market route's callback carries the task record (`state`), not a `callbackType`."""
    data = document.get("data")
    return isinstance(data, dict) and "state" in data and "callbackType" not in data


def verify_signature(
    body: bytes | str,
    headers: Mapping[str, str],
    secret: str,
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> str:
    """Check the signature headers against the body's task id; return that task id.

    Header names match case-insensitively. The timestamp must lie within `tolerance` seconds of
    `now`, in the past or the future. Raises WebhookVerificationError with a `reason`.
    """
    return _verify(body, headers, secret, tolerance=tolerance, now=now)[0]


def _verify(
    body: bytes | str,
    headers: Mapping[str, str],
    secret: str,
    *,
    tolerance: int,
    now: float | None = None,
) -> tuple[str, str]:
    """verify_signature, returning the signed (task id, timestamp)."""
    if not secret:
        raise WebhookVerificationError("no webhook secret configured")
    lowered = {key.lower(): value for key, value in headers.items()}
    signature = lowered.get(SIGNATURE_HEADER.lower(), "").strip()
    stamp = lowered.get(TIMESTAMP_HEADER.lower(), "").strip()
    if not signature:
        raise WebhookVerificationError(f"missing {SIGNATURE_HEADER} header")
    if not stamp:
        raise WebhookVerificationError(f"missing {TIMESTAMP_HEADER} header")
    if not (stamp.isascii() and stamp.isdigit()) or len(stamp) > _MAX_STAMP_DIGITS:
        raise WebhookVerificationError(f"{TIMESTAMP_HEADER} is not Unix seconds")
    age = (time.time() if now is None else now) - int(stamp)
    if abs(age) > tolerance:
        direction = "old" if age > 0 else "in the future"
        raise WebhookVerificationError(
            f"timestamp is {abs(age):.0f} s {direction} (tolerance {tolerance} s)"
        )
    task_id = _task_id(_load(body))
    expected = sign(task_id, stamp, secret)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise WebhookVerificationError("signature does not match", task_id=task_id)
    return task_id, stamp


def parse_callback(body: bytes | str | Mapping[str, Any]) -> CallbackEvent:
    """Parse a callback body. Unknown stages and extra fields are kept or ignored, not fatal."""
    document = dict(body) if isinstance(body, Mapping) else _load(body)
    task_id = _task_id(document)
    if _is_market(document):
        from ._routes import MARKET  # loaded on first use

        try:
            return MARKET.read_callback(document)
        except (KieError, ShapeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise WebhookVerificationError(
                f"unexpected callback shape: {exc}", task_id=task_id
            ) from None
    try:
        parsed = gen.AudioGeneratedCallback.from_dict(document)
        data = parsed.data
        if not isinstance(data, gen.AudioGeneratedCallbackData):
            raise ShapeError("data is not an object")
        code, msg = parsed.code, parsed.msg
        if isinstance(code, bool) or not isinstance(code, int):
            raise ShapeError("code must be an integer")
        if not isinstance(msg, str):
            raise ShapeError("msg must be a string")
        items = data.data if isinstance(data.data, list) else []
        if not (data.data is None or isinstance(data.data, list | Unset)):
            raise ShapeError("data.data must be a list or null")
        tracks = tuple(
            Track.from_generated(item, f"data.data[{i}]") for i, item in enumerate(items)
        )
        return CallbackEvent(
            task_id=task_id,
            stage=require_str(data.callback_type, "data.callbackType"),
            code=code,
            msg=msg,
            tracks=tracks,
        )
    except (ShapeError, KeyError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
        # ArithmeticError: numbers like 10**400 overflow float conversions.
        reason = f"unexpected callback shape: {str(exc)[:200] or type(exc).__name__}"
    raise WebhookVerificationError(reason, task_id=task_id)


def unwrap(
    body: bytes | str,
    headers: Mapping[str, str],
    secret: str,
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> CallbackEvent:
    """verify_signature, then parse_callback: the one call a receiver needs."""
    verify_signature(body, headers, secret, tolerance=tolerance, now=now)
    return parse_callback(body)


# -- stages ----------------------------------------------------------------------------------


@functools.cache
def known_stages() -> frozenset[str]:
    """The stages the spec's callback examples name (text, first, complete, error)."""
    stages: set[str] = set()
    for item in _spec.load_spec()["paths"].values():
        for operation in item.values():
            if not isinstance(operation, dict):  # a path's `parameters` list
                continue
            for callback in operation.get("callbacks", {}).values():
                for expression in callback.values():
                    content = expression["post"]["requestBody"]["content"]["application/json"]
                    for example in content.get("examples", {}).values():
                        data = example["value"].get("data")
                        if isinstance(data, dict) and isinstance(data.get("callbackType"), str):
                            stages.add(data["callbackType"])
    return frozenset(stages)


# -- confirmation: the signature does not cover the body ----------------------------------------


def _reached(stage: str, details: TaskDetails) -> bool:
    """Has KIE's task reached what a `stage` callback announces?"""
    if stage == "text":
        return details.succeeded or details.status in ("TEXT_SUCCESS", "FIRST_SUCCESS")
    if stage == "first":
        return details.succeeded or details.status == "FIRST_SUCCESS"
    if stage == "complete":
        return details.succeeded
    if stage == "error":
        return details.failed
    return False


def _confirmed(event: CallbackEvent, details: TaskDetails) -> CallbackEvent:
    if not _reached(event.stage, details):
        raise WebhookVerificationError(
            f"KIE reports status {details.status} for this task, which a '{event.stage[:40]}' "
            "callback does not match: a replayed signature with a forged body?",
            task_id=event.task_id,
        )
    claimed = {t.audio_url for t in event.tracks if t.audio_url}
    if not claimed <= {t.audio_url for t in details.tracks}:
        logger.warning("callback for %s names URLs KIE does not: KIE's used", event.task_id)
    if event.stage == "error":
        return attrs.evolve(
            event,
            code=details.error_code if details.error_code is not None else event.code,
            msg=details.error_message if details.error_message is not None else event.msg,
            tracks=(),
            confirmed=True,
        )
    tracks = details.tracks if event.stage == "complete" else ()
    if event.stage == "first":
        tracks = tuple(t for t in details.tracks if t.audio_url)
    return attrs.evolve(event, code=200, tracks=tracks, confirmed=True)


def confirm(event: CallbackEvent, client: KieClient) -> CallbackEvent:
    """Check the event's stage against client.get_task and return it with KIE's own tracks
    (and, for `error`, KIE's error code and message). WebhookVerificationError if KIE's task
    has not reached that stage; the client's own KieError if KIE cannot be asked."""
    return _confirmed(event, client.get_task(event.task_id, route=event.route))


async def aconfirm(event: CallbackEvent, client: AsyncKieClient) -> CallbackEvent:
    """confirm() for AsyncKieClient."""
    return _confirmed(event, await client.get_task(event.task_id, route=event.route))


def _notice(event: CallbackEvent) -> CallbackEvent:
    """What an unconfirmed event may carry: the signed task id and the stage as a hint."""
    return attrs.evolve(event, tracks=(), confirmed=False)


# -- de-duplication ---------------------------------------------------------------------------

Claim = Literal["claimed", "running", "done"]
_MAX_REFUSALS = 10_000
Outcome = Literal["processed", "running", "duplicate"]


class DedupStoreFull(KieError):
    """The de-duplication store cannot take another key without forgetting a live one."""


class DedupStore(Protocol):
    """Where de-duplication keys live. Back it with a shared store so that several receivers
    agree (Redis: `SET key running NX EX <ttl>`, then `GET key` when that fails).

    A store may raise from any method (full, unreachable): the receivers answer 503 and KIE
    delivers again. It must never forget a live key to make room.
    """

    def claim(self, key: str) -> Claim:
        """Atomically take `key`: "claimed" (the caller runs the handler), "running" (another
        delivery's handler is running now), or "done" (a handler succeeded)."""
        ...

    def complete(self, key: str) -> None:
        """The handler succeeded: the key is done."""
        ...

    def release(self, key: str) -> None:
        """The handler failed: let a redelivery claim the key again."""
        ...


class InMemoryDedupStore:
    """A process-local DedupStore. A key is kept for `retention` seconds after its claim
    (longer than KIE redelivers); when `max_keys` live keys are held, claim raises
    DedupStoreFull rather than forget one (a forgotten key would run its handler twice)."""

    def __init__(
        self,
        max_keys: int = 100_000,
        *,
        retention: float = 86_400.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._keys: OrderedDict[str, tuple[Literal["running", "done"], float]] = OrderedDict()
        self._max = max_keys
        self._retention = retention
        self._clock = clock
        self._lock = threading.Lock()

    def claim(self, key: str) -> Claim:
        with self._lock:
            now = self._clock()
            # Claims are appended in time order: expired keys sit at the front.
            while self._keys and next(iter(self._keys.values()))[1] + self._retention <= now:
                self._keys.popitem(last=False)
            held = self._keys.get(key)
            if held is not None:
                return held[0]
            if len(self._keys) >= self._max:
                raise DedupStoreFull(f"{self._max} keys held for less than {self._retention} s")
            self._keys[key] = ("running", now)
            return "claimed"

    def complete(self, key: str) -> None:
        with self._lock:
            held = self._keys.get(key)
            self._keys[key] = ("done", held[1] if held else self._clock())

    def release(self, key: str) -> None:
        with self._lock:
            self._keys.pop(key, None)


class Deduplicator:
    """Runs work once per key. A key counts as done only after its work returned, so KIE's
    redelivery after a failure is processed again, and a redelivery while the work is still
    running is told so ("running"), not acknowledged as a duplicate."""

    def __init__(self, store: DedupStore | None = None) -> None:
        self.store: DedupStore = store if store is not None else InMemoryDedupStore()
        # Signed deliveries whose stage KIE refused: replaying one costs no second question.
        self._refused: OrderedDict[str, None] = OrderedDict()
        self._refused_lock = threading.Lock()

    def _was_refused(self, delivery: str) -> bool:
        with self._refused_lock:
            return delivery in self._refused

    def _note_refused(self, delivery: str) -> None:
        with self._refused_lock:
            self._refused[delivery] = None
            if len(self._refused) > _MAX_REFUSALS:  # forgetting one costs one more get_task
                self._refused.popitem(last=False)

    @staticmethod
    def key(event: CallbackEvent) -> str:
        return f"{event.task_id}:{event.stage}"

    def run(self, key: str, work: Callable[[], Any]) -> Outcome:
        """Run `work()` unless `key` is done or running. Its errors propagate (key released)."""
        claim = self.store.claim(key)
        if claim != "claimed":
            return "duplicate" if claim == "done" else "running"
        try:
            work()
        except BaseException:
            self.store.release(key)
            raise
        self.store.complete(key)
        return "processed"

    async def arun(self, key: str, work: Callable[[], Awaitable[Any]]) -> Outcome:
        """run() for a coroutine function; the store is awaited, never blocking the loop."""
        claim = await self._store_step("claim", key)
        if claim != "claimed":
            return "duplicate" if claim == "done" else "running"
        try:
            await work()
        except BaseException:
            await self._store_step("release", key)
            raise
        await self._store_step("complete", key)
        return "processed"

    async def _store_step(self, name: Literal["claim", "complete", "release"], key: str) -> Any:
        # A store's own async twin (`claim_async`..., as RedisDedupStore has) is awaited; the
        # in-memory store is called as is (no I/O); any other store may do I/O: a thread.
        twin = getattr(self.store, f"{name}_async", None)
        if twin is not None:
            return await twin(key)
        step = getattr(self.store, name)
        if isinstance(self.store, InMemoryDedupStore):
            return step(key)
        return await asyncio.to_thread(step, key)

    def handle(self, event: CallbackEvent, handler: Callable[[CallbackEvent], Any]) -> Outcome:
        """Run `handler(event)` once per (task id, stage)."""
        return self.run(self.key(event), lambda: handler(event))

    async def ahandle(
        self, event: CallbackEvent, handler: Callable[[CallbackEvent], Awaitable[Any]]
    ) -> Outcome:
        """handle() for a coroutine handler."""
        return await self.arun(self.key(event), lambda: handler(event))


# -- the receiver's whole job, for any web framework --------------------------------------------


@attrs.frozen
class Receipt:
    """What a receiver answers KIE: `status` 200 makes KIE stop redelivering.

    200 processed, duplicate or ignored (a stage the spec does not name); 401 refused
    (signature, or a stage KIE's task has not reached); 500 the handler raised; 503 try again
    later (the same event is being handled now, KIE could not be asked, the store refused).
    """

    status: int
    detail: str
    event: CallbackEvent | None = None
    processed: bool = False


def require_secret(secret: object) -> str:
    """A receiver without a secret would refuse every callback: refuse to start instead."""
    if not isinstance(secret, str) or not secret.strip():
        raise ConfigurationError(
            "secret: the webhook secret (KIE's webhookHmacKey) must be a non-empty string"
        )
    return secret


def _checked(
    body: bytes, headers: Mapping[str, str], secret: str, tolerance: int, query: str
) -> tuple[CallbackEvent, str]:
    """Verify and parse; returns the event (query attached) and its signed timestamp."""
    _, stamp = _verify(body, headers, secret, tolerance=tolerance)
    return attrs.evolve(parse_callback(body), query=query), stamp


def _admit(
    body: bytes,
    headers: Mapping[str, str],
    secret: str,
    tolerance: int,
    query: str,
    dedup: Deduplicator,
    confirming: bool,
    events: Emitter,
) -> Receipt | tuple[CallbackEvent, str, str]:
    """Everything before the store: a Receipt, or the event, its dedup key and its delivery."""
    on = events.on
    claimed = _claimed(body) if on else {"task_id": None, "stage": None}
    if on:
        events.emit(CallbackReceived(**claimed))
    try:
        event, stamp = _checked(body, headers, secret, tolerance, query)
    except WebhookVerificationError as rejected:
        return _rejected(rejected, events, claimed["stage"])
    if event.stage not in known_stages():
        logger.warning("callback ignored: unknown stage %r", event.stage[:40])
        if on:
            refused = CallbackRefused(
                task_id=event.task_id, stage=event.stage[:40], reason="unknown stage"
            )
            events.emit(refused)
        return Receipt(200, "ignored: unknown stage")
    delivery = f"{Deduplicator.key(event)}@{stamp}"
    if confirming and dedup._was_refused(delivery):
        reason = "KIE refused this stage for this signed delivery before"
        if on:
            events.emit(CallbackRefused(task_id=event.task_id, stage=event.stage, reason=reason))
        return Receipt(401, reason)
    if on:  # the signature holds; confirmation, when asked for, may still refuse it
        events.emit(CallbackVerified(task_id=event.task_id, stage=event.stage))
    # Unconfirmed, the stage is unsigned: keyed per signed delivery so no forgery pre-empts it.
    return event, Deduplicator.key(event) if confirming else delivery, delivery


def _claimed(body: bytes) -> dict[str, str | None]:
    """The task id and stage a body claims, before any check (bounded: nothing is trusted)."""
    try:
        data = json.loads(body).get("data")
        task_id, stage = data.get("task_id") or data.get("taskId"), data.get("callbackType")
    except (ValueError, AttributeError, TypeError, RecursionError):
        return {"task_id": None, "stage": None}
    return {
        "task_id": task_id[:100] if isinstance(task_id, str) else None,
        "stage": stage[:40] if isinstance(stage, str) else None,
    }


def _rejected(error: WebhookVerificationError, events: Emitter, stage: str | None) -> Receipt:
    logger.warning("callback rejected: %s", error.reason)
    if events.on:
        events.emit(CallbackRefused(task_id=error.task_id, stage=stage, reason=error.reason))
    return Receipt(401, error.reason)


def _finish(
    outcome: Outcome | BaseException, event: CallbackEvent, key: str, events: Emitter
) -> Receipt:
    if isinstance(outcome, WebhookVerificationError):
        return _rejected(outcome, events, event.stage)
    if isinstance(outcome, _ConfirmationUnavailable):
        logger.warning("callback for %s deferred: KIE could not confirm it (%s)", key, outcome)
        return Receipt(503, f"KIE could not confirm the event now ({outcome})", event)
    if isinstance(outcome, DedupStoreFull):
        logger.warning("callback for %s deferred: %s", key, outcome)
        return Receipt(503, "de-duplication store full", event)
    if isinstance(outcome, BaseException):
        logger.warning("callback handler failed for %s: %r", key, outcome)
        return Receipt(500, "handler failed", event)
    if outcome == "running":
        return Receipt(503, "in progress", event)
    processed = outcome == "processed"
    return Receipt(200, "ok" if processed else "duplicate", event, processed)


def _emitter_of(hooks: Iterable[Hook] | Emitter | None) -> Emitter:
    """Receivers pass their own Emitter (its hooks' failures are then logged once for good)."""
    if hooks is None:
        return NO_EVENTS
    return hooks if isinstance(hooks, Emitter) else Emitter(hooks)


class _ConfirmationUnavailable(Exception):
    """KIE could not be asked (unreachable, rate-limited, ...): KIE should deliver again."""


def receive(
    body: bytes,
    headers: Mapping[str, str],
    secret: str,
    handler: Callable[[CallbackEvent], Any],
    *,
    dedup: Deduplicator,
    confirm_with: KieClient | None = None,
    tolerance: int = DEFAULT_TOLERANCE,
    query: str = "",
    hooks: Iterable[Hook] | Emitter | None = None,
) -> Receipt:
    """Verify, parse, de-duplicate, confirm (or reduce to a notice) and handle one callback.

    See the module docstring for what is trusted and Receipt for the answers. `hooks` get
    CallbackReceived, then CallbackVerified (the signature holds) or CallbackRefused; a refused
    confirmation follows a CallbackVerified with a CallbackRefused (kie_instrumental.events).
    """
    events = _emitter_of(hooks)
    confirming = confirm_with is not None
    admitted = _admit(body, headers, secret, tolerance, query, dedup, confirming, events)
    if isinstance(admitted, Receipt):
        return admitted
    event, key, delivery = admitted
    delivered: list[CallbackEvent] = []

    def work() -> None:
        if confirm_with is None:
            checked = _notice(event)
        else:
            try:
                checked = confirm(event, confirm_with)
            except WebhookVerificationError:
                dedup._note_refused(delivery)
                raise
            except KieError as unavailable:
                raise _ConfirmationUnavailable(type(unavailable).__name__) from None
        delivered.append(checked)
        handler(checked)

    try:
        outcome: Outcome | BaseException = dedup.run(key, work)
    except Exception as failed:
        outcome = failed
    return _finish(outcome, delivered[0] if delivered else _notice(event), key, events)


async def areceive(
    body: bytes,
    headers: Mapping[str, str],
    secret: str,
    handler: Callable[[CallbackEvent], Any],
    *,
    dedup: Deduplicator,
    confirm_with: AsyncKieClient | None = None,
    tolerance: int = DEFAULT_TOLERANCE,
    query: str = "",
    hooks: Iterable[Hook] | Emitter | None = None,
) -> Receipt:
    """receive() for asyncio frameworks; `handler` may be a plain or a coroutine function."""
    events = _emitter_of(hooks)
    confirming = confirm_with is not None
    admitted = _admit(body, headers, secret, tolerance, query, dedup, confirming, events)
    if isinstance(admitted, Receipt):
        return admitted
    event, key, delivery = admitted
    delivered: list[CallbackEvent] = []

    async def work() -> None:
        if confirm_with is None:
            checked = _notice(event)
        else:
            try:
                checked = await aconfirm(event, confirm_with)
            except WebhookVerificationError:
                dedup._note_refused(delivery)
                raise
            except KieError as unavailable:
                raise _ConfirmationUnavailable(type(unavailable).__name__) from None
        delivered.append(checked)
        result = handler(checked)
        if inspect.isawaitable(result):
            await result

    try:
        outcome: Outcome | BaseException = await dedup.arun(key, work)
    except Exception as failed:
        outcome = failed
    return _finish(outcome, delivered[0] if delivered else _notice(event), key, events)
