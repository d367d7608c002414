"""Verify and parse KIE's callbacks, framework-agnostic: bytes and headers in, CallbackEvent out.

    event = webhooks.unwrap(body, headers, secret)      # verify, then parse
    webhooks.verify_signature(body, headers, secret)    # the two halves on their own
    event = webhooks.parse_callback(body)

How KIE signs (when `webhookHmacKey` is set on its settings page): X-Webhook-Timestamp is Unix
seconds, X-Webhook-Signature the standard Base64 of HMAC-SHA256(key, "<task_id>.<timestamp>"),
task_id being the body's data.task_id.

The signature does NOT cover the body. Whoever captured one signed callback can send its headers
again with another body for the same task inside the replay window. So: keep the window short
(`tolerance`, 300 s by default, enforced both ways), de-duplicate (`Deduplicator`), and before
trusting a `complete` event's URLs confirm them with KIE (`confirm` / `aconfirm`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import inspect
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import attrs
from kie_instrumental_generated.types import Unset

from . import _generated as gen
from ._errors import WebhookVerificationError
from ._models import CallbackEvent, ShapeError, Track, require_str

if TYPE_CHECKING:
    from ._client import AsyncKieClient, KieClient
    from ._models import TaskDetails

__all__ = [
    "DEFAULT_TOLERANCE",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "CallbackEvent",
    "DedupStore",
    "Deduplicator",
    "InMemoryDedupStore",
    "Receipt",
    "aconfirm",
    "areceive",
    "confirm",
    "parse_callback",
    "receive",
    "sign",
    "unwrap",
    "verify_signature",
]

SIGNATURE_HEADER = "X-Webhook-Signature"
TIMESTAMP_HEADER = "X-Webhook-Timestamp"
DEFAULT_TOLERANCE = 300
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
    data = document.get("data")
    task_id = data.get("task_id") if isinstance(data, dict) else None
    if not isinstance(task_id, str) or not task_id:
        raise WebhookVerificationError("the body has no data.task_id")
    return task_id


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
    if not secret:
        raise WebhookVerificationError("no webhook secret configured")
    lowered = {key.lower(): value for key, value in headers.items()}
    signature = lowered.get(SIGNATURE_HEADER.lower(), "").strip()
    stamp = lowered.get(TIMESTAMP_HEADER.lower(), "").strip()
    if not signature:
        raise WebhookVerificationError(f"missing {SIGNATURE_HEADER} header")
    if not stamp:
        raise WebhookVerificationError(f"missing {TIMESTAMP_HEADER} header")
    if not stamp.isdigit() or not stamp.isascii():
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
    return task_id


def parse_callback(body: bytes | str | Mapping[str, Any]) -> CallbackEvent:
    """Parse a callback body. Unknown stages and extra fields are kept or ignored, not fatal."""
    document = dict(body) if isinstance(body, Mapping) else _load(body)
    task_id = _task_id(document)
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
    except (ShapeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        reason = f"unexpected callback shape: {exc}"
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


# -- confirmation: the signature does not cover the body ----------------------------------------


def _confirmed(event: CallbackEvent, details: TaskDetails) -> CallbackEvent:
    claimed = {(t.id, t.audio_url) for t in event.tracks}
    known = {(t.id, t.audio_url) for t in details.tracks}
    if not details.succeeded or not claimed <= known:
        raise WebhookVerificationError(
            "the callback's tracks do not match the task's details at KIE "
            f"(status {details.status}): a replayed signature with a forged body?",
            task_id=event.task_id,
        )
    return attrs.evolve(event, tracks=details.tracks)


def confirm(event: CallbackEvent, client: KieClient) -> CallbackEvent:
    """For a `complete` event, check its tracks against client.get_task and return the event
    with KIE's own tracks; other stages are returned unchanged."""
    if event.stage != "complete":
        return event
    return _confirmed(event, client.get_task(event.task_id))


async def aconfirm(event: CallbackEvent, client: AsyncKieClient) -> CallbackEvent:
    """confirm() for AsyncKieClient."""
    if event.stage != "complete":
        return event
    return _confirmed(event, await client.get_task(event.task_id))


# -- de-duplication ---------------------------------------------------------------------------


class DedupStore(Protocol):
    """Where processed (task id, stage) keys live. Back it with a shared store (Redis SET NX
    with a TTL, a unique row) so that several receivers agree."""

    def claim(self, key: str) -> bool:
        """Atomically take `key` for processing; False if it is done or being processed."""
        ...

    def complete(self, key: str) -> None:
        """The handler succeeded: the key is done for good."""
        ...

    def release(self, key: str) -> None:
        """The handler failed: let a redelivery process the key again."""
        ...


class InMemoryDedupStore:
    """A process-local DedupStore remembering the last `max_keys` keys."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self._keys: OrderedDict[str, bool] = OrderedDict()
        self._max = max_keys
        self._lock = threading.Lock()

    def claim(self, key: str) -> bool:
        with self._lock:
            if key in self._keys:
                return False
            self._keys[key] = False
            while len(self._keys) > self._max:
                self._keys.popitem(last=False)
            return True

    def complete(self, key: str) -> None:
        with self._lock:
            self._keys[key] = True

    def release(self, key: str) -> None:
        with self._lock:
            self._keys.pop(key, None)


class Deduplicator:
    """Runs a handler once per (task id, stage). An event counts as done only after its handler
    returned, so KIE's redelivery after a failed handler is processed again."""

    def __init__(self, store: DedupStore | None = None) -> None:
        self.store: DedupStore = store if store is not None else InMemoryDedupStore()

    @staticmethod
    def key(event: CallbackEvent) -> str:
        return f"{event.task_id}:{event.stage}"

    def handle(self, event: CallbackEvent, handler: Callable[[CallbackEvent], Any]) -> bool:
        """Run `handler(event)` unless already done; True if it ran. Its errors propagate."""
        key = self.key(event)
        if not self.store.claim(key):
            return False
        try:
            handler(event)
        except BaseException:
            self.store.release(key)
            raise
        self.store.complete(key)
        return True

    async def ahandle(
        self, event: CallbackEvent, handler: Callable[[CallbackEvent], Awaitable[Any]]
    ) -> bool:
        """handle() for a coroutine handler."""
        key = self.key(event)
        if not self.store.claim(key):
            return False
        try:
            await handler(event)
        except BaseException:
            self.store.release(key)
            raise
        self.store.complete(key)
        return True


# -- the receiver's whole job, for any web framework --------------------------------------------


@attrs.frozen
class Receipt:
    """What a receiver answers KIE: `status` 200 makes KIE stop redelivering."""

    status: int
    detail: str
    event: CallbackEvent | None = None
    processed: bool = False


def receive(
    body: bytes,
    headers: Mapping[str, str],
    secret: str,
    handler: Callable[[CallbackEvent], Any],
    *,
    dedup: Deduplicator,
    confirm_with: KieClient | None = None,
    tolerance: int = DEFAULT_TOLERANCE,
) -> Receipt:
    """Verify, parse, optionally confirm, de-duplicate and handle one callback.

    401 when verification or confirmation fails; 500 when the handler raised (KIE redelivers,
    and the event is processed again); 200 otherwise, duplicates included.
    """
    try:
        event = unwrap(body, headers, secret, tolerance=tolerance)
        if confirm_with is not None:
            event = confirm(event, confirm_with)
    except WebhookVerificationError as rejected:
        logger.warning("callback rejected: %s", rejected.reason)
        return Receipt(401, rejected.reason)
    try:
        processed = dedup.handle(event, handler)
    except Exception as failed:
        logger.warning("callback handler failed for %s: %r", dedup.key(event), failed)
        return Receipt(500, "handler failed", event)
    return Receipt(200, "ok" if processed else "duplicate", event, processed)


async def areceive(
    body: bytes,
    headers: Mapping[str, str],
    secret: str,
    handler: Callable[[CallbackEvent], Any],
    *,
    dedup: Deduplicator,
    confirm_with: AsyncKieClient | None = None,
    tolerance: int = DEFAULT_TOLERANCE,
) -> Receipt:
    """receive() for asyncio frameworks; `handler` may be a plain or a coroutine function."""
    try:
        event = unwrap(body, headers, secret, tolerance=tolerance)
        if confirm_with is not None:
            event = await aconfirm(event, confirm_with)
    except WebhookVerificationError as rejected:
        logger.warning("callback rejected: %s", rejected.reason)
        return Receipt(401, rejected.reason)

    async def run(event: CallbackEvent) -> None:
        result = handler(event)
        if inspect.isawaitable(result):
            await result

    try:
        processed = await dedup.ahandle(event, run)
    except Exception as failed:
        logger.warning("callback handler failed for %s: %r", dedup.key(event), failed)
        return Receipt(500, "handler failed", event)
    return Receipt(200, "ok" if processed else "duplicate", event, processed)
