"""Request validation compiled from the spec, so the rules live in one place: the spec.

A small interpreter for the JSON Schema keywords the request schema uses. Any keyword it does
not know makes compilation fail, so a new rule in the spec cannot be silently skipped. Chosen
over a validator library because it is exact where they are not (multipleOf with floats is
checked in decimal, so every 2-decimal weight passes; NaN and infinities are refused), names the
field and the rule in its messages, costs microseconds per call and nothing at import.
"""

from __future__ import annotations

import functools
import math
import numbers
import re
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

import attrs

from . import _spec
from ._errors import InvalidRequestError

# Keywords that describe and do not constrain.
_ANNOTATIONS = frozenset({"description", "default", "example", "examples", "title"})
_CHECKED = frozenset(
    {
        "type",
        "enum",
        "minLength",
        "maxLength",
        "pattern",
        "format",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
    }
)
# Public keyword names that differ from the plain snake_case of the wire name.
_PYTHON_NAMES = {"callBackUrl": "callback_url"}


class SpecError(Exception):
    """The spec uses a schema keyword this validator does not understand."""


@functools.cache
def python_name(wire_name: str) -> str:
    """uploadUrl -> upload_url; callBackUrl -> callback_url; input.style_weight -> style_weight
    (the public keyword; a nested field is named by its last part)."""
    wire_name = wire_name.rsplit(".", 1)[-1]
    if wire_name in _PYTHON_NAMES:
        return _PYTHON_NAMES[wire_name]
    return _spec.snake_case(wire_name)


@attrs.frozen
class Violation:
    """One broken rule: the field (wire name), the schema keyword, a sentence, and a hint."""

    field: str
    keyword: str
    rule: str
    got: str
    hint: str = ""

    def message(self, *, python_names: bool) -> str:
        name = f"{python_name(self.field)} ({self.field})" if python_names else self.field
        return f"{name}: {self.rule}, got {self.got}{self.hint}"

    def as_dict(self) -> dict[str, str]:
        return {
            "field": self.field,
            "argument": python_name(self.field),
            "rule": self.keyword,
            "message": self.message(python_names=True),
        }

    def to_error(self) -> InvalidRequestError:
        return errors_of([self])


def errors_of(violations: list[Violation]) -> InvalidRequestError:
    """One InvalidRequestError for every broken rule of a request, listed in its message and in
    `violations`; `field` and `rule` are the first one's."""
    first = violations[0]
    messages = [v.message(python_names=True) for v in violations]
    message = (
        messages[0]
        if len(messages) == 1
        else (f"{len(messages)} invalid fields: " + "; ".join(messages))
    )
    return InvalidRequestError(
        message,
        field=first.field,
        rule=first.keyword,
        violations=tuple(v.as_dict() for v in violations),
    )


_Check = Callable[[Any], Violation | None]


@attrs.frozen
class ObjectValidator:
    """Validates a request body (wire names) against one object schema of the spec."""

    properties: Mapping[str, tuple[_Check, ...]]
    required: tuple[str, ...]
    closed: bool
    numbers: frozenset[str] = frozenset()
    # Object fields (the Market route's `input`), validated whole, named name.field.
    nested: Mapping[str, ObjectValidator] = attrs.field(factory=dict)

    def violations(self, body: object) -> list[Violation]:
        if not isinstance(body, Mapping):
            return [Violation("body", "type", "must be a JSON object", _show(body))]
        found = [
            Violation(name, "required", "is required", "nothing")
            for name in self.required
            if body.get(name) is None
        ]
        for name, value in body.items():
            checks = self.properties.get(name)
            if checks is None:
                if self.closed:
                    found.append(
                        Violation(
                            str(name),
                            "additionalProperties",
                            "is not a field of this request",
                            _show(value),
                        )
                    )
                continue
            if value is None and name in self.required:
                continue  # reported as missing above
            if name in self.nested:
                found += [
                    attrs.evolve(v, field=name if v.field == "body" else f"{name}.{v.field}")
                    for v in self.nested[name].violations(value)
                ]
                continue
            for check in checks:
                violation = check(value)
                if violation is not None:
                    found.append(violation)
                    break
        return found

    def validate(self, body: Mapping[str, Any]) -> None:
        """Raise one InvalidRequestError naming every broken rule (field and rule)."""
        violations = self.violations(body)
        if violations:
            raise errors_of(violations)

    def normalized(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The body with numbers of other real types (numpy, Decimal, Fraction) as plain
        floats, so that they serialize as JSON; other values as they are."""
        return {
            name: _plain_number(value)
            if name in self.numbers
            else self.nested[name].normalized(value)
            if name in self.nested and isinstance(value, Mapping)
            else value
            for name, value in body.items()
        }


@functools.cache
def field_names(schema_name: str) -> tuple[tuple[str, str], ...]:
    """(wire name, public keyword) of every field of a request schema, in spec order."""
    return tuple((name, python_name(name)) for name in _spec.schema(schema_name)["properties"])


@functools.cache
def request_validator(schema_name: str) -> ObjectValidator:
    return compile_object(_spec.schema(schema_name))


@functools.cache
def _parameter(path: str, method: str, name: str) -> tuple[bool, tuple[_Check, ...]]:
    operation = _spec.load_spec()["paths"][path][method]
    (parameter,) = [p for p in operation.get("parameters", ()) if p["name"] == name]
    return bool(parameter.get("required")), compile_field(name, parameter["schema"])


def parameter_violation(path: str, method: str, name: str, value: object) -> Violation | None:
    """The first rule of the spec's parameter `name` that `value` breaks, if any."""
    required, checks = _parameter(path, method, name)
    if value is None:
        return Violation(name, "required", "is required", "nothing") if required else None
    for check in checks:
        violation = check(value)
        if violation is not None:
            return violation
    return None


def resolve(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A `$ref` to components/schemas replaced by its target (keywords beside it are kept)."""
    if "$ref" not in schema:
        return dict(schema)
    siblings = {k: v for k, v in schema.items() if k != "$ref"}
    return {**resolve(_spec.schema(schema["$ref"].rsplit("/", 1)[-1])), **siblings}


def _keywords(schema: Mapping[str, Any]) -> set[str]:
    # x-... extensions annotate (x-discontinued is read by the client, not a rule).
    return {key for key in schema if not key.startswith("x-")} - _ANNOTATIONS


def compile_object(schema: Mapping[str, Any]) -> ObjectValidator:
    unknown = _keywords(schema) - {"type", "properties", "required", "additionalProperties"}
    if unknown or schema.get("type") != "object":
        raise SpecError(f"request schema: unsupported keywords {sorted(unknown)}")
    additional = schema.get("additionalProperties", True)
    if additional not in (True, False):
        raise SpecError("request schema: additionalProperties must be true or false")
    fields = {name: resolve(f) for name, f in schema.get("properties", {}).items()}
    nested = {
        name: compile_object(field)
        for name, field in fields.items()
        if field.get("type") == "object"
    }
    properties = {
        name: () if name in nested else compile_field(name, field) for name, field in fields.items()
    }
    numbers = frozenset(
        name for name, field in fields.items() if field.get("type") in ("number", "integer")
    )
    return ObjectValidator(
        properties, tuple(schema.get("required", ())), not additional, numbers, nested
    )


def compile_field(name: str, schema: Mapping[str, Any]) -> tuple[_Check, ...]:
    schema = resolve(schema)
    unknown = _keywords(schema) - _CHECKED
    if unknown:
        raise SpecError(f"{name}: unsupported keywords {sorted(unknown)}")
    kind = schema.get("type")
    rule = _describe(schema)
    checks: list[_Check] = []

    def add(keyword: str, ok: Callable[[Any], bool]) -> None:
        def check(value: Any) -> Violation | None:
            if ok(value):
                return None
            return Violation(name, keyword, rule, _show(value), _hint(name, value))

        checks.append(check)

    if kind == "string":
        add("type", lambda v: isinstance(v, str))
    elif kind in ("number", "integer"):
        # Any real number type (numpy's too), compared by its value as a float.
        add("type", _is_real)
        add("type", lambda v: math.isfinite(_as_float(v)))
        if kind == "integer":
            add("type", lambda v: _as_float(v).is_integer())
    elif kind == "boolean":
        add("type", lambda v: isinstance(v, bool))
    else:
        raise SpecError(f"{name}: unsupported type {kind!r}")

    if "enum" in schema:
        allowed = tuple(schema["enum"])
        add("enum", lambda v: v in allowed)
    if "minLength" in schema:
        low = int(schema["minLength"])
        add("minLength", lambda v: len(v) >= low)
    if "maxLength" in schema:
        high = int(schema["maxLength"])
        add("maxLength", lambda v: len(v) <= high)
    if "pattern" in schema:
        pattern = re.compile(schema["pattern"])
        add("pattern", lambda v: pattern.search(v) is not None)
    if "format" in schema:
        if schema["format"] != "uri":
            raise SpecError(f"{name}: unsupported format {schema['format']!r}")
        add("format", _is_absolute_uri)
    for keyword, holds in (
        ("minimum", lambda v, b: v >= b),
        ("maximum", lambda v, b: v <= b),
        ("exclusiveMinimum", lambda v, b: v > b),
        ("exclusiveMaximum", lambda v, b: v < b),
    ):
        if keyword in schema:
            bound = schema[keyword]
            add(keyword, functools.partial(lambda v, b, h: h(_as_float(v), b), b=bound, h=holds))
    if "multipleOf" in schema:
        step = Decimal(str(schema["multipleOf"]))
        add("multipleOf", lambda v: _is_multiple(v, step))
    return tuple(checks)


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real | Decimal) and not isinstance(value, bool)


def _as_float(value: Any) -> float:
    """The value as a float; NaN when it has none (so every rule refuses it)."""
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return math.nan


def _plain_number(value: Any) -> Any:
    if type(value) in (int, float) or not _is_real(value):
        return value
    number = _as_float(value)
    return value if math.isnan(number) else number


def _is_multiple(value: Any, step: Decimal) -> bool:
    # The float's own repr (not the value's: numpy's is "np.float64(0.61)") is the shortest
    # decimal that round-trips: 0.29 stays 0.29, not 0.28999...
    try:
        return Decimal(float.__repr__(_as_float(value))) % step == 0
    except InvalidOperation:
        return False


# RFC 3986 (what `format: uri` means): ASCII only, these characters, % followed by two hex digits.
_URI = re.compile(
    r"[A-Za-z][A-Za-z0-9+.-]*:(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*"
)


def _is_absolute_uri(value: str) -> bool:
    if _URI.fullmatch(value) is None:
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return False
    return bool(parts.scheme and parts.netloc)


def _describe(schema: Mapping[str, Any]) -> str:
    """The whole rule of a field in words, e.g. 'must be a multiple of 0.01 between 0 and 1'."""
    kind = schema.get("type")
    if "enum" in schema:
        return "must be one of " + ", ".join(repr(v) for v in schema["enum"])
    if kind in ("number", "integer"):
        noun = "an integer" if kind == "integer" else "a finite number"
        if "multipleOf" in schema:
            noun = f"a multiple of {_num(schema['multipleOf'])}"
        if "minimum" in schema and "maximum" in schema:
            return f"must be {noun} between {_num(schema['minimum'])} and {_num(schema['maximum'])}"
        bounds = [
            f"{word} {_num(schema[key])}"
            for key, word in (
                ("minimum", "at least"),
                ("maximum", "at most"),
                ("exclusiveMinimum", "above"),
                ("exclusiveMaximum", "below"),
            )
            if key in schema
        ]
        return " ".join([f"must be {noun}", *bounds])
    if kind == "boolean":
        return "must be true or false"
    parts = ["must be " + ("an http(s) URL" if "format" in schema else "a string")]
    if "pattern" in schema:
        parts.append(f"matching {schema['pattern']}")
    if "minLength" in schema and "maxLength" in schema:
        parts.append(f"of {schema['minLength']} to {schema['maxLength']} characters")
    elif "maxLength" in schema:
        parts.append(f"of at most {schema['maxLength']} characters")
    elif "minLength" in schema:
        parts.append(f"of at least {schema['minLength']} characters")
    return " ".join(parts)


def _num(value: float) -> str:
    return format(value, "g")


# Values are shown in full up to this many characters (escaped), then cut with their length.
SHOWN_CHARACTERS = 300


def _show(value: object) -> str:
    if isinstance(value, str):
        if len(value) <= SHOWN_CHARACTERS:
            return repr(value)
        return f"{value[:SHOWN_CHARACTERS]!r}... ({len(value)} characters)"
    if type(value) in (bool, int, float) or value is None:
        return repr(value)
    try:
        shown = repr(value)
    except Exception:  # a foreign object's repr may fail; its type still helps
        shown = "?"
    if len(shown) > SHOWN_CHARACTERS:
        shown = shown[:SHOWN_CHARACTERS] + "..."
    return f"a {type(value).__name__}: {shown}"


def _hint(field: str, value: object) -> str:
    """What to do instead, where the mistake is a common one."""
    if field == "uploadUrl" and isinstance(value, str) and _looks_local(value):
        return (
            "; it looks like a local path: upload the file first with upload_file(path) "
            "and pass the URL it returns"
        )
    return ""


def _looks_local(value: str) -> bool:
    return value.startswith(("file:", "/", "./", "../", "~")) or "://" not in value
