"""KIE's two routes for add-instrumental, one object each: everything that differs between them.

    market  POST /api/v1/jobs/createTask ({model, callBackUrl?, input: {snake_case fields}}),
            GET /api/v1/jobs/recordInfo (`state`, `resultJson` a JSON string), and one
            callback when the task ends (task id at data.taskId)
    legacy  POST /api/v1/generate/add-instrumental (camelCase fields, callBackUrl required),
            GET /api/v1/generate/record-info (`status`, `response.sunoData`), and stage
            callbacks text/first/complete/error (task id at data.task_id)

Both build their create body from the same keyword arguments, with the wire names, the
operation's constant, defaults and discontinued models read from the spec, and read their
answers into the same types (InstrumentalTask, TaskDetails, Track, CallbackEvent). The core
only calls this interface; the clients pick the route (`route=`, `$KIE_ROUTE`, "market").
"""

from __future__ import annotations

import functools
import json
import os
import warnings
from collections.abc import Mapping
from typing import Any, Final

from kie_instrumental_generated.types import Unset

from . import _generated as gen
from . import _spec
from ._core import Reply, _envelope, _from_dict
from ._errors import (
    APIError,
    ConfigurationError,
    InvalidRequestError,
    NotFoundError,
    ResultUnreadableError,
)
from ._models import (
    CallbackEvent,
    InstrumentalTask,
    ShapeError,
    TaskDetails,
    TaskStatus,
    Track,
    lenient_code,
    optional_str,
    require_str,
)
from ._text import shown
from ._validation import python_name, resolve

__all__ = ["LEGACY", "MARKET", "ROUTES", "Route", "client_route", "route_for_call"]

ROUTE_ENV: Final = "KIE_ROUTE"
DEFAULT_ROUTE: Final = "market"
SNIPPET_LIMIT: Final = 300


class Route:
    """One route: its paths, how to build its requests and how to read its answers."""

    name: str
    create_path: str
    record_path: str

    def __repr__(self) -> str:
        return f"<route {self.name}: {self.create_path}, {self.record_path}>"

    @property
    def create_schema(self) -> str:
        """The component name of the create body (from the spec)."""
        return _spec.request_schema_name(self.create_path)

    def create_body(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """The wire body for the keyword arguments `fields`, before validation."""
        return _wire(self.create_schema, fields)

    def warn_discontinued(self, wire: Mapping[str, Any], stacklevel: int) -> None:
        for field, value, current in _discontinued(self.create_schema, wire):
            warnings.warn(
                f"{python_name(field)}={value!r} is discontinued by KIE; current: "
                f"{', '.join(current)}. It is still sent.",
                DeprecationWarning,
                stacklevel=stacklevel + 1,
            )

    def create_kwargs(self, wire: Mapping[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def record_kwargs(self, task_id: str) -> dict[str, Any]:
        raise NotImplementedError

    def read_created(self, reply: Reply) -> InstrumentalTask:
        raise NotImplementedError

    def read_record(self, reply: Reply, task_id: str) -> TaskDetails:
        raise NotImplementedError


def _generated_body(model: Any, wire: Mapping[str, Any]) -> Any:
    try:
        return model.from_dict(dict(wire))
    except (KeyError, TypeError, ValueError) as exc:
        # Only reachable with validate_requests=False.
        raise InvalidRequestError(f"add_instrumental: {exc}") from None


class _Legacy(Route):
    name = "legacy"
    create_path = _spec.ADD_INSTRUMENTAL_PATH
    record_path = _spec.RECORD_INFO_PATH

    def create_kwargs(self, wire: Mapping[str, Any]) -> dict[str, Any]:
        body = _generated_body(gen.AddInstrumentalRequest, wire)
        return gen.add_instrumental._get_kwargs(body=body)

    def record_kwargs(self, task_id: str) -> dict[str, Any]:
        return gen.get_task_details._get_kwargs(task_id=task_id)

    def read_created(self, reply: Reply) -> InstrumentalTask:
        envelope = _envelope(reply, "add_instrumental")
        parsed = _from_dict(gen.CreateTaskResponse, envelope)
        if not isinstance(parsed.data, gen.CreateTaskData):
            raise ShapeError("data.taskId is missing")
        return InstrumentalTask(require_str(parsed.data.task_id, "data.taskId"), self.name)

    def read_record(self, reply: Reply, task_id: str) -> TaskDetails:
        envelope = _envelope(reply, "get_task")
        if envelope.get("data") is None:
            raise NotFoundError(
                f"get_task: KIE knows no task {task_id} (data is null)",
                code=404,
                msg=shown(str(envelope.get("msg"))),
                http_status=reply.status,
                task_id=task_id,
            )
        record = _from_dict(gen.RecordInfoResponse, envelope).data
        if not isinstance(record, gen.TaskRecord):
            raise ShapeError("data is not a task record")
        answered = _same_task(record.task_id, task_id, reply)
        status = TaskStatus(require_str(record.status, "data.status"))
        result = record.response
        if not (result is None or isinstance(result, Unset | gen.TaskResult)):
            raise ShapeError("data.response must be an object or null")
        suno = result.suno_data if isinstance(result, gen.TaskResult) else None
        if isinstance(suno, list):
            tracks = tuple(
                _track(item, gen.SunoTrack, f"data.response.sunoData[{i}]")
                for i, item in enumerate(suno)
            )
        elif status == TaskStatus.SUCCESS or not (suno is None or isinstance(suno, Unset)):
            raise ShapeError(
                f"data.response.sunoData must be a list of tracks on {shown(str(status), 100)}"
            )
        else:
            tracks = ()
        return TaskDetails(
            task_id=answered,
            status=status,
            tracks=tracks,
            error_code=lenient_code(record.error_code, "data.errorCode"),
            error_message=optional_str(record.error_message, "data.errorMessage"),
            type=optional_str(record.type_, "data.type"),
            operation_type=optional_str(record.operation_type, "data.operationType"),
            param=optional_str(record.param, "data.param"),
            parent_music_id=optional_str(record.parent_music_id, "data.parentMusicId"),
            route=self.name,
            raw_status=str(status),
        )


def _same_task(answered: object, asked: str, reply: Reply) -> str:
    """The record's taskId, which must be the one asked for (a mixed-up answer is an error)."""
    task_id = require_str(answered, "data.taskId")
    if task_id != asked:
        raise APIError(
            f"get_task: asked for task {asked}, KIE answered with the record of "
            f"'{shown(task_id, 100)}'",
            code=200,
            http_status=reply.status,
            task_id=asked,
        )
    return task_id


def _track(item: object, model: Any, field: str) -> Track:
    # The generated reader leaves an item it cannot read as it came (a string, a number).
    if not isinstance(item, model):
        raise ShapeError(f"{field} must be a track object")
    return Track.from_generated(item, field)


class _Market(Route):
    name = "market"
    create_path = _spec.MARKET_CREATE_PATH
    record_path = _spec.MARKET_RECORD_PATH

    def create_kwargs(self, wire: Mapping[str, Any]) -> dict[str, Any]:
        body = _generated_body(gen.MarketCreateTaskRequest, wire)
        return gen.create_market_task._get_kwargs(body=body)

    def record_kwargs(self, task_id: str) -> dict[str, Any]:
        return gen.get_market_task_details._get_kwargs(task_id=task_id)

    def read_created(self, reply: Reply) -> InstrumentalTask:
        envelope = _envelope(reply, "add_instrumental")
        parsed = _from_dict(gen.MarketCreateTaskResponse, envelope)
        if not isinstance(parsed.data, gen.MarketCreateTaskData):
            raise ShapeError("data.taskId is missing")
        return InstrumentalTask(require_str(parsed.data.task_id, "data.taskId"), self.name)

    def read_record(self, reply: Reply, task_id: str) -> TaskDetails:
        try:
            envelope = _envelope(reply, "get_task")
        except InvalidRequestError as error:
            # KIE's answer for an unknown id is body code 422 "recordInfo is null" (seen live);
            # the id itself was checked against the spec before sending.
            if error.code == 422 and "recordinfo is null" in (error.msg or "").lower():
                raise NotFoundError(
                    f"get_task: KIE knows no task {task_id} ({error.msg})",
                    code=404,
                    msg=error.msg,
                    http_status=reply.status,
                    task_id=task_id,
                ) from None
            raise
        record = _from_dict(gen.MarketRecordInfoResponse, envelope).data
        if not isinstance(record, gen.MarketTaskRecord):
            raise NotFoundError(
                f"get_task: KIE knows no task {task_id} (data is null)",
                code=404,
                msg=shown(str(envelope.get("msg"))),
                http_status=reply.status,
                task_id=task_id,
            )
        _same_task(record.task_id, task_id, reply)
        return market_details(record, "data")

    def read_callback(self, document: Mapping[str, Any]) -> CallbackEvent:
        """A Market callback (one, when the task ends) as a CallbackEvent: stage `complete`
        on success, `error` on failure, the raw state otherwise."""
        data, top = document.get("data"), document.get("taskId")
        if isinstance(data, dict) and "taskId" not in data and isinstance(top, str):
            document = {**document, "data": {**data, "taskId": top}}  # the id sat at the top
        parsed = _from_dict(gen.MarketTaskCallback, dict(document))
        code, msg = parsed.code, parsed.msg
        if isinstance(code, bool) or not isinstance(code, int):
            raise ShapeError("code must be an integer")
        if not isinstance(msg, str):
            raise ShapeError("msg must be a string")
        if not isinstance(parsed.data, gen.MarketTaskRecord):
            raise ShapeError("data is not a task record")
        details = market_details(parsed.data, "data")
        stage = "complete" if details.succeeded else "error" if details.failed else None
        return CallbackEvent(
            task_id=details.task_id,
            stage=stage or str(details.raw_status),
            code=code,
            msg=msg,
            tracks=details.tracks,
            route=self.name,
        )


LEGACY: Final = _Legacy()
MARKET: Final = _Market()
ROUTES: Final[Mapping[str, Route]] = {MARKET.name: MARKET, LEGACY.name: LEGACY}


# -- choosing the route ------------------------------------------------------------------------


def client_route(name: str | None) -> Route:
    """The client's route: `name`, else $KIE_ROUTE, else market. Unknown: ConfigurationError."""
    source = "route"
    if name is None:
        name, source = os.environ.get(ROUTE_ENV) or DEFAULT_ROUTE, f"${ROUTE_ENV}"
    found = ROUTES.get(name.strip().lower())
    if found is None:
        raise ConfigurationError(f"{source} must be one of {_choices()}, got {name!r}")
    return found


def route_for_call(
    route: str | None, task: InstrumentalTask | str, default: Route
) -> tuple[str, Route]:
    """(task id, route) for get_task and wait: the task's own route, or `route`, or the
    client's. A per-call route that contradicts the task's is refused before any request."""
    task_id, recorded = (
        (task.task_id, task.route) if isinstance(task, InstrumentalTask) else (task, None)
    )
    chosen = call_route(route, default) if route is not None else None
    if recorded is not None:
        own = ROUTES.get(recorded)
        if own is None:
            raise InvalidRequestError(
                f"task.route must be one of {_choices()}, got {recorded!r}",
                field="route",
                rule="enum",
            )
        if chosen is not None and chosen is not own:
            raise InvalidRequestError(
                f"route: the task was created on the {own.name} route, got {chosen.name!r}",
                field="route",
                rule="task",
                task_id=task_id,
            )
        return task_id, own
    return task_id, chosen or default


def call_route(route: str | None, default: Route) -> Route:
    """A per-call `route=` override (None: the client's)."""
    if route is None:
        return default
    found = ROUTES.get(route) if isinstance(route, str) else None
    if found is None:
        raise InvalidRequestError(
            f"route: must be one of {_choices()}, got {route!r}", field="route", rule="enum"
        )
    return found


def _choices() -> str:
    return ", ".join(repr(name) for name in ROUTES)


# -- the create body, from the spec ------------------------------------------------------------


def _ref_name(schema: Mapping[str, Any]) -> str:
    return str(schema["$ref"]).rsplit("/", 1)[-1]


def _wire(schema_name: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Wire names from the spec; a required one-value enum is the operation's constant (the
    Market `model`); a nested object is filled the same way; a field left out gets the spec's
    `default` (the model: KIE's own server-side default is a discontinued one)."""
    body: dict[str, Any] = {}
    for wire_name, nested, constant, keyword, default in _wire_plan(schema_name):
        if nested is not None:
            body[wire_name] = _wire(nested, fields)
        elif keyword is None:
            body[wire_name] = constant
        else:
            value = fields.get(keyword)
            if value is None:
                value = default
            if value is not None:
                body[wire_name] = value
    return body


@functools.cache
def _wire_plan(
    schema_name: str,
) -> tuple[tuple[str, str | None, Any, str | None, Any], ...]:
    """Per field of the schema, read once: (wire name, nested schema, constant, keyword,
    default); a nested object has its schema, a constant no keyword."""
    schema = _spec.schema(schema_name)
    required = set(schema.get("required", ()))
    plan: list[tuple[str, str | None, Any, str | None, Any]] = []
    for wire_name, declared in schema["properties"].items():
        target = resolve(declared)
        if target.get("type") == "object" and "$ref" in declared:
            plan.append((wire_name, _ref_name(declared), None, None, None))
        elif wire_name in required and len(target.get("enum", ())) == 1:
            plan.append((wire_name, None, target["enum"][0], None, None))
        else:
            plan.append((wire_name, None, None, python_name(wire_name), target.get("default")))
    return tuple(plan)


def _discontinued(
    schema_name: str, wire: Mapping[str, Any]
) -> list[tuple[str, Any, tuple[str, ...]]]:
    """(field, value, current values) for each value the spec marks `x-discontinued`."""
    found = []
    for path, old, current in _discontinued_rules(schema_name):
        value: Any = wire
        for key in path:
            value = value.get(key) if isinstance(value, Mapping) else None
        if value in old:
            found.append((".".join(path), value, current))
    return found


@functools.cache
def _discontinued_rules(
    schema_name: str,
) -> tuple[tuple[tuple[str, ...], tuple[Any, ...], tuple[str, ...]], ...]:
    """(wire path, discontinued values, current values) of each field that has any, read
    from the spec once (a create checks its body against them)."""
    rules: list[tuple[tuple[str, ...], tuple[Any, ...], tuple[str, ...]]] = []
    for wire_name, declared in _spec.schema(schema_name)["properties"].items():
        target = resolve(declared)
        if target.get("type") == "object" and "$ref" in declared:
            inner = _discontinued_rules(_ref_name(declared))
            rules += [((wire_name, *path), old, current) for path, old, current in inner]
        elif target.get("x-discontinued"):
            old = tuple(target["x-discontinued"])
            current = tuple(v for v in target.get("enum", ()) if v not in old)
            rules.append(((wire_name,), old, current))
    return tuple(rules)


# -- Market answers ------------------------------------------------------------------------------

_MARKET_TERMINAL = {"success": TaskStatus.SUCCESS, "fail": TaskStatus.GENERATE_AUDIO_FAILED}
# Where a result's songs were found: what KIE measured for Suno first, then other shapes.
_SONG_KEYS = ("data", "sunoData", "songs")
_CAMEL_TRACK_KEYS = frozenset({"audioUrl", "streamAudioUrl", "imageUrl", "modelName"})


def market_details(record: Any, where: str) -> TaskDetails:
    """A Market task record (recordInfo's `data`, or a callback's) as TaskDetails."""
    task_id = require_str(record.task_id, f"{where}.taskId")
    state = require_str(record.state, f"{where}.state")
    status = _MARKET_TERMINAL.get(state.lower(), TaskStatus(state))
    tracks = _songs(record.result_json, task_id, where) if status == TaskStatus.SUCCESS else ()
    code, message = _failure(record.fail_code, record.fail_msg, where)
    return TaskDetails(
        task_id=task_id,
        status=status,
        tracks=tracks,
        error_code=code,
        error_message=message,
        param=optional_str(record.param, f"{where}.param"),
        route=MARKET.name,
        raw_status=state,
    )


def _failure(fail_code: object, fail_msg: object, where: str) -> tuple[int | None, str | None]:
    """failCode is documented as a string: digits become the int error_code; other text is
    kept in front of the message so nothing is lost."""
    message = optional_str(fail_msg, f"{where}.failMsg")
    code = None if isinstance(fail_code, Unset) else fail_code
    if code is None or code == "":
        return None, message
    if isinstance(code, int) and not isinstance(code, bool):
        return code, message
    if isinstance(code, str):
        if code.strip().isdigit():
            return int(code.strip()), message
        return None, f"{code}: {message}" if message else code
    raise ShapeError(f"{where}.failCode must be a string, an integer or null")


def _songs(result_json: object, task_id: str, where: str) -> tuple[Track, ...]:
    """The tracks of a successful task's resultJson. What cannot be read raises
    ResultUnreadableError: the task is paid for, so say so, with its id and an excerpt."""
    text = result_json if isinstance(result_json, str) else ""
    snippet = text[:SNIPPET_LIMIT] if text else repr(result_json)[:SNIPPET_LIMIT]

    def unreadable(why: str) -> ResultUnreadableError:
        return ResultUnreadableError(
            f"task {task_id} succeeded and is paid for, but its result cannot be read: {why}. "
            f"Do not submit it again: the result stays at KIE (about 14 days). "
            f"resultJson begins {snippet!r}",
            task_id=task_id,
            snippet=snippet,
            code=200,
        )

    if not text.strip():
        raise unreadable(f"{where}.resultJson is missing or empty")
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        raise unreadable(f"{where}.resultJson is not JSON") from None
    items, found_at = _find_songs(document)
    if not items:
        raise unreadable(
            f"{where}.resultJson holds no songs (looked in data, sunoData, songs, resultObject)"
        )
    tracks = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise unreadable(f"resultJson {found_at}[{i}] is not an object")
        model = gen.SunoTrack if _CAMEL_TRACK_KEYS & item.keys() else gen.CallbackTrack
        try:
            tracks.append(Track.from_generated(_from_dict(model, item), f"{found_at}[{i}]"))
        except ShapeError as shape:
            raise unreadable(f"resultJson {shape}") from None
    return tuple(tracks)


def _find_songs(document: object, prefix: str = "") -> tuple[list[Any] | None, str]:
    if isinstance(document, list):
        return document, prefix or "[]"
    if not isinstance(document, dict):
        return None, prefix
    for key in _SONG_KEYS:
        if isinstance(document.get(key), list):
            return document[key], f"{prefix}{key}"
    inner = document.get("resultObject")
    if isinstance(inner, dict | list):
        return _find_songs(inner, f"{prefix}resultObject.")
    return None, prefix
