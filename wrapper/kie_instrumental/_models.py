"""The wrapper's result types, built from the generated models.

The generated `from_dict` checks no types, so every value read here is checked on the way in:
a wrong type in a field the wrapper reads is an APIError naming the field, never a crash later.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qsl

import attrs
from kie_instrumental_generated.types import Unset

if TYPE_CHECKING:
    from kie_instrumental_generated.models.callback_track import CallbackTrack
    from kie_instrumental_generated.models.suno_track import SunoTrack

__all__ = ["CallbackEvent", "InstrumentalTask", "TaskDetails", "TaskStatus", "Track"]


class ShapeError(ValueError):
    """A field of an answer has the wrong type; the client turns it into an APIError."""


class TaskStatus(str):
    """A task status as KIE reports it. Unknown values are kept as they are, never a crash.

    Known values are class attributes (`TaskStatus.SUCCESS`); instances compare equal to plain
    strings. Running: PENDING, TEXT_SUCCESS, FIRST_SUCCESS and any unknown value. Success:
    SUCCESS, and CALLBACK_EXCEPTION when tracks exist (only the callback delivery failed).
    Failure: CREATE_TASK_FAILED, GENERATE_AUDIO_FAILED, SENSITIVE_WORD_ERROR, and any unknown
    value ending in _FAILED or _ERROR.
    """

    PENDING: ClassVar[TaskStatus]
    TEXT_SUCCESS: ClassVar[TaskStatus]
    FIRST_SUCCESS: ClassVar[TaskStatus]
    SUCCESS: ClassVar[TaskStatus]
    CREATE_TASK_FAILED: ClassVar[TaskStatus]
    GENERATE_AUDIO_FAILED: ClassVar[TaskStatus]
    CALLBACK_EXCEPTION: ClassVar[TaskStatus]
    SENSITIVE_WORD_ERROR: ClassVar[TaskStatus]

    __slots__ = ()

    @property
    def is_known(self) -> bool:
        return str(self) in _KNOWN_STATUSES

    @property
    def is_failure(self) -> bool:
        return str(self) in _FAILED_STATUSES or self.endswith(("_FAILED", "_ERROR"))

    @property
    def is_terminal(self) -> bool:
        return self.is_failure or str(self) in ("SUCCESS", "CALLBACK_EXCEPTION")

    def __repr__(self) -> str:
        return f"TaskStatus({str(self)!r})"


_KNOWN_STATUSES = (
    "PENDING",
    "TEXT_SUCCESS",
    "FIRST_SUCCESS",
    "SUCCESS",
    "CREATE_TASK_FAILED",
    "GENERATE_AUDIO_FAILED",
    "CALLBACK_EXCEPTION",
    "SENSITIVE_WORD_ERROR",
)
_FAILED_STATUSES = ("CREATE_TASK_FAILED", "GENERATE_AUDIO_FAILED", "SENSITIVE_WORD_ERROR")
for _name in _KNOWN_STATUSES:
    setattr(TaskStatus, _name, TaskStatus(_name))


@attrs.frozen
class Track:
    """One generated track, from a callback (snake_case) or from task details (camelCase).

    `created_at` reads epoch milliseconds and strings; a string without a zone ("2025-01-01
    00:00:00", KIE's documented form) is assumed to be UTC. Unparseable values give None.
    `duration` is in seconds, None while the track is unfinished. `id` is None when KIE sent a
    track without one (seen in real callbacks).
    """

    id: str | None
    audio_url: str | None = None
    stream_audio_url: str | None = None
    image_url: str | None = None
    source_audio_url: str | None = None
    source_stream_audio_url: str | None = None
    source_image_url: str | None = None
    title: str | None = None
    tags: str | None = None
    prompt: str | None = None
    model_name: str | None = None
    duration: float | None = None
    created_at: datetime | None = None

    @classmethod
    def from_generated(cls, model: SunoTrack | CallbackTrack, field: str) -> Track:
        """Both generated track models use the same attribute names; one reader serves both."""
        return cls(
            id=optional_str(model.id, f"{field}.id") or None,
            audio_url=optional_str(model.audio_url, f"{field}.audio_url"),
            stream_audio_url=optional_str(model.stream_audio_url, f"{field}.stream_audio_url"),
            image_url=optional_str(model.image_url, f"{field}.image_url"),
            source_audio_url=optional_str(model.source_audio_url, f"{field}.source_audio_url"),
            source_stream_audio_url=optional_str(
                model.source_stream_audio_url, f"{field}.source_stream_audio_url"
            ),
            source_image_url=optional_str(model.source_image_url, f"{field}.source_image_url"),
            title=optional_str(model.title, f"{field}.title"),
            tags=optional_str(model.tags, f"{field}.tags"),
            prompt=optional_str(model.prompt, f"{field}.prompt"),
            model_name=optional_str(model.model_name, f"{field}.model_name"),
            duration=optional_non_negative(model.duration, f"{field}.duration"),
            created_at=parse_create_time(model.create_time, f"{field}.createTime"),
        )


@attrs.frozen
class InstrumentalTask:
    """A created task: keep `task_id` (and `route`) to poll it or match its callbacks.

    `route` is the route that created it, "market" or "legacy"; a task is read on that route.
    None (a task built by hand from a stored id) means the client's route.
    """

    task_id: str
    route: str | None = None


@attrs.frozen
class TaskDetails:
    """A task as record-info (legacy route) or recordInfo (Market route) reports it.

    The same type on both routes. `status` uses the legacy vocabulary: the Market route's
    `success` is SUCCESS, `fail` is GENERATE_AUDIO_FAILED, and its running states (waiting,
    queuing, generating) are kept as they are, which TaskStatus treats as running.
    `raw_status` is the route's own value (`status` or `state`), `route` the route read.
    """

    task_id: str
    status: TaskStatus
    tracks: tuple[Track, ...] = ()
    error_code: int | None = None
    error_message: str | None = None
    type: str | None = None
    operation_type: str | None = None
    param: str | None = None
    parent_music_id: str | None = None
    route: str = "legacy"
    raw_status: str | None = None

    @property
    def succeeded(self) -> bool:
        """SUCCESS, or CALLBACK_EXCEPTION with tracks (only the callback delivery failed)."""
        if self.status == TaskStatus.SUCCESS:
            return True
        return self.status == TaskStatus.CALLBACK_EXCEPTION and bool(self.tracks)

    @property
    def failed(self) -> bool:
        if self.status == TaskStatus.CALLBACK_EXCEPTION:
            return not self.tracks
        return self.status.is_failure


@attrs.frozen
class CallbackEvent:
    """One callback from KIE. `stage` is text, first, complete, error, or a new value kept as is.

    `confirmed`: the stage and tracks were checked against KIE's own task details (the signature
    does not cover the body). `query`: the query string of the URL that was called (unsigned).
    The Market route sends one callback when the task ends: stage `complete` or `error`.
    `route` is the route whose callback shape it had ("legacy" or "market").
    """

    task_id: str
    stage: str
    code: int
    msg: str
    tracks: tuple[Track, ...] = ()
    confirmed: bool = False
    query: str = ""
    route: str = "legacy"

    @property
    def query_params(self) -> dict[str, str]:
        """`query` parsed; a repeated name keeps its last value."""
        return dict(parse_qsl(self.query, keep_blank_values=True))

    @property
    def is_final(self) -> bool:
        return self.stage in ("complete", "error") or self.code != 200


def _unset_to_none(value: object) -> object:
    return None if isinstance(value, Unset) else value


def require_str(value: object, field: str) -> str:
    value = _unset_to_none(value)
    if not isinstance(value, str) or not value:
        raise ShapeError(f"{field} must be a non-empty string, got {_kind(value)}")
    return value


def optional_str(value: object, field: str) -> str | None:
    value = _unset_to_none(value)
    if value is None or isinstance(value, str):
        return value
    raise ShapeError(f"{field} must be a string or null, got {_kind(value)}")


def optional_int(value: object, field: str) -> int | None:
    value = _unset_to_none(value)
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise ShapeError(f"{field} must be an integer or null, got {_kind(value)}")


def optional_number(value: object, field: str) -> float | None:
    value = _unset_to_none(value)
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    raise ShapeError(f"{field} must be a number or null, got {_kind(value)}")


def optional_non_negative(value: object, field: str) -> float | None:
    """A number that cannot be below zero (a duration, credits): a negative one is refused."""
    number = optional_number(value, field)
    if number is not None and number < 0:
        raise ShapeError(f"{field} must not be negative, got {number:g}")
    return number


def lenient_code(value: object, field: str) -> int | None:
    """An error code: an integer, or a string of one (seen as text); other text gives None,
    so that the failure it accompanies is still reported."""
    value = _unset_to_none(value)
    if isinstance(value, str):
        text = value.strip()
        return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else None
    return optional_int(value, field)


def parse_create_time(value: object, field: str) -> datetime | None:
    """Epoch milliseconds or a date string; zone-less strings are read as UTC."""
    value = _unset_to_none(value)
    if value is None:
        return None
    if isinstance(value, bool):
        raise ShapeError(f"{field} must be a string, a number or null, got {_kind(value)}")
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value / 1000, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    raise ShapeError(f"{field} must be a string, a number or null, got {_kind(value)}")


def _kind(value: Any) -> str:
    if value == "":
        return "an empty string"
    return "null" if value is None else type(value).__name__
