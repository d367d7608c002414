"""Every JSON Schema keyword the request validator compiles from the spec, on schemas written
here, at its boundary: what passes, what is refused with which field, rule and sentence, and
which schema the compiler refuses (so a new rule in the spec can never be skipped silently).
The spec's own fields are in test_validation.py; these are the rules a future spec may use."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from _support import RECORD_PATH, spec
from kie_instrumental import InvalidRequestError, KieClient
from kie_instrumental._validation import SpecError, Violation, compile_field, compile_object


def refused(schema: dict[str, Any], value: Any) -> tuple[str, str] | None:
    """(keyword, message) of the first rule `value` breaks, None when it passes."""
    for check in compile_field("f", schema):
        violation = check(value)
        if violation is not None:
            return violation.keyword, violation.message(python_names=False)
    return None


@pytest.mark.parametrize(
    ("schema", "passes", "fails", "message"),
    [
        (
            {"type": "number", "minimum": 0},
            [0, 0.0, 5],
            [-0.01],
            "f: must be a finite number at least 0, got -0.01",
        ),
        (
            {"type": "number", "maximum": 1},
            [1, 0.5, -3],
            [1.01],
            "f: must be a finite number at most 1, got 1.01",
        ),
        (
            {"type": "number", "exclusiveMinimum": 0},
            [0.01, 3],
            [0, -1],
            "f: must be a finite number above 0, got 0",
        ),
        (
            {"type": "number", "exclusiveMaximum": 1},
            [0.99, -1],
            [1, 2],
            "f: must be a finite number below 1, got 1",
        ),
        (
            {"type": "integer", "minimum": 1, "maximum": 3},
            [1, 3, 2.0],
            [0, 4],
            "f: must be an integer between 1 and 3, got 0",
        ),
        (
            {"type": "number", "multipleOf": 0.01},
            [0.07, 0.29, Decimal("0.61")],
            [0.071],
            "f: must be a multiple of 0.01, got 0.071",
        ),
        (
            {"type": "string", "minLength": 2},
            ["ab"],
            ["a"],
            "f: must be a string of at least 2 characters, got 'a'",
        ),
        (
            {"type": "string", "maxLength": 2},
            ["ab", ""],
            ["abc"],
            "f: must be a string of at most 2 characters, got 'abc'",
        ),
        (
            {"type": "string", "minLength": 1, "maxLength": 2},
            ["a"],
            [""],
            "f: must be a string of 1 to 2 characters, got ''",
        ),
        (
            {"type": "string", "pattern": "^a"},
            ["ab"],
            ["ba"],
            "f: must be a string matching ^a, got 'ba'",
        ),
        (
            {"type": "string", "enum": ["x", "y"]},
            ["x", "y"],
            ["z"],
            "f: must be one of 'x', 'y', got 'z'",
        ),
        ({"type": "boolean"}, [True, False], [1, "true"], "f: must be true or false, got 1"),
        (
            {"type": "string", "format": "uri"},
            ["https://a.example/x"],
            ["a.example/x", "https://a.example:port/x"],
            "f: must be an http(s) URL, got 'a.example/x'",
        ),
    ],
)
def test_each_keyword_at_its_boundary(
    schema: dict[str, Any], passes: list[Any], fails: list[Any], message: str
) -> None:
    for value in passes:
        assert refused(schema, value) is None, value
    keyword = next(k for k in schema if k != "type") if len(schema) > 1 else "type"
    for value in fails:
        found = refused(schema, value)
        assert found is not None, value
        if keyword in ("minimum", "maximum") and "minimum" in schema and "maximum" in schema:
            keyword = "minimum" if value < schema["minimum"] else "maximum"
        assert found[0] == keyword, (value, found)
    first = refused(schema, fails[0])
    assert first is not None and first[1] == message


@pytest.mark.parametrize("value", [2.5, float("nan"), float("inf"), "2", True, None])
def test_an_integer_field_refuses_what_is_not_a_whole_finite_number(value: Any) -> None:
    assert refused({"type": "integer"}, value) == ("type", f"f: must be an integer, got {value!r}")


@pytest.mark.parametrize("value", [float("nan"), float("-inf"), "1", None, False])
def test_a_number_field_refuses_what_is_not_a_finite_real(value: Any) -> None:
    assert refused({"type": "number"}, value) == (
        "type",
        f"f: must be a finite number, got {value!r}",
    )


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "number", "exclusiveMaximum": 1, "uniqueItems": True},
        {"type": "array"},
        {"type": "string", "format": "email"},
        {"type": "string", "const": "x"},
    ],
)
def test_an_unknown_rule_stops_compilation(schema: dict[str, Any]) -> None:
    with pytest.raises(SpecError) as raised:
        compile_field("f", schema)
    assert str(raised.value).startswith("f: unsupported ")


def test_an_object_schema_reports_every_broken_rule_at_once() -> None:
    validator = compile_object(
        {
            "type": "object",
            "description": "a request",
            "properties": {
                "uploadUrl": {"type": "string", "format": "uri"},
                "count": {"type": "integer", "minimum": 1},
                "flag": {"type": "boolean"},
            },
            "required": ["uploadUrl", "count"],
            "additionalProperties": False,
        }
    )
    validator.validate({"uploadUrl": "https://a.example/x", "count": 1})
    validator.validate({"uploadUrl": "https://a.example/x", "count": 2, "flag": False})
    with pytest.raises(InvalidRequestError) as raised:
        validator.validate({"uploadUrl": "./song.mp3", "count": None, "extra": 1, "flag": 0})
    error = raised.value
    assert (error.field, error.rule) == ("count", "required")
    assert [(v["field"], v["argument"], v["rule"]) for v in error.violations] == [
        ("count", "count", "required"),
        ("uploadUrl", "upload_url", "format"),
        ("extra", "extra", "additionalProperties"),
        ("flag", "flag", "type"),
    ]
    assert error.message.startswith("4 invalid fields: count (count): is required, got nothing; ")
    assert (
        "upload_url (uploadUrl): must be an http(s) URL, got './song.mp3'; it looks like a "
        "local path: upload the file first with upload_file(path) and pass the URL it returns"
    ) in error.message
    assert "extra (extra): is not a field of this request, got 1" in error.message
    with pytest.raises(InvalidRequestError) as one:
        validator.validate({"uploadUrl": "https://a.example/x", "count": 0})
    assert one.value.message == "count (count): must be an integer at least 1, got 0"
    assert validator.violations(["not", "an", "object"])[0].keyword == "type"
    assert validator.numbers == frozenset({"count"})
    # Not closed: unknown fields pass.
    open_ = compile_object({"type": "object", "properties": {}})
    assert open_.violations({"anything": 1}) == []


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "array", "properties": {}},
        {"type": "object", "properties": {}, "minProperties": 1},
        {"type": "object", "properties": {}, "additionalProperties": {"type": "string"}},
    ],
)
def test_an_unknown_object_rule_stops_compilation(schema: dict[str, Any]) -> None:
    with pytest.raises(SpecError, match=r"^request schema: "):
        compile_object(schema)


def test_the_object_compiler_names_what_it_refuses() -> None:
    with pytest.raises(SpecError) as unknown:
        compile_object({"type": "object", "properties": {}, "minProperties": 1, "allOf": []})
    assert str(unknown.value) == "request schema: unsupported keywords ['allOf', 'minProperties']"
    with pytest.raises(SpecError) as additional:
        compile_object({"type": "object", "additionalProperties": {"type": "string"}})
    assert str(additional.value) == "request schema: additionalProperties must be true or false"
    # An object without properties compiles: no fields, every value passes when open.
    bare = compile_object({"type": "object"})
    assert (bare.properties, bare.numbers, bare.violations({"x": 1})) == ({}, frozenset(), [])


def test_numbers_are_named_as_the_spec_writes_them() -> None:
    validator = compile_object(
        {
            "type": "object",
            "properties": {
                "weight": {"type": "number", "minimum": 1.0, "multipleOf": 1e-05},
                "count": {"type": "integer", "maximum": 250000.0},
                "name": {"type": "string"},
            },
        }
    )
    assert validator.numbers == frozenset({"weight", "count"})
    assert [v.rule for v in validator.violations({"weight": 0.5, "count": 250001})] == [
        "must be a multiple of 1e-05 at least 1",
        "must be an integer at most 250000",
    ]


@pytest.mark.parametrize(
    ("task_id", "rule", "message"),
    [
        (None, "required", "task_id (taskId): is required, got nothing"),
        (
            "",
            "minLength",
            "task_id (taskId): must be a string {rule}of 1 to 128 characters, got ''",
        ),
        (
            "t" * 129,
            "maxLength",
            "task_id (taskId): must be a string {rule}of 1 to 128 characters, got "
            + repr("t" * 129),
        ),
    ],
)
def test_a_task_id_the_spec_refuses_is_refused_before_any_request(
    task_id: Any, rule: str, message: str
) -> None:
    # Port 9 on loopback: nothing listens, so a request sent would fail as a connection error.
    with (
        KieClient(api_key="k" * 32, base_url="http://127.0.0.1:9") as kie,
        pytest.raises(InvalidRequestError) as raised,
    ):
        kie.get_task(task_id)
    error = raised.value
    (parameter,) = [
        p for p in spec()["paths"][RECORD_PATH]["get"]["parameters"] if p["name"] == "taskId"
    ]
    pattern = parameter["schema"].get("pattern")
    message = message.format(rule=f"matching {pattern} " if pattern else "")
    assert (error.field, error.rule, error.message) == ("taskId", rule, message)
    assert [v["argument"] for v in error.violations] == ["task_id"]


def test_one_violation_is_one_error_naming_it() -> None:
    error = Violation("uploadUrl", "format", "must be an http(s) URL", "'x'").to_error()
    assert isinstance(error, InvalidRequestError)
    assert (error.field, error.rule) == ("uploadUrl", "format")
    assert error.message == "upload_url (uploadUrl): must be an http(s) URL, got 'x'"


def test_values_are_shown_in_full_up_to_300_characters_then_cut() -> None:
    schema = {"type": "string", "maxLength": 1}
    exact = "x" * 300
    assert refused(schema, exact) == (
        "maxLength",
        f"f: must be a string of at most 1 characters, got {exact!r}",
    )
    longer = "y" * 301
    assert refused(schema, longer) == (
        "maxLength",
        f"f: must be a string of at most 1 characters, got {'y' * 300!r}... (301 characters)",
    )

    class Loud:
        def __repr__(self) -> str:
            return "z" * 400

    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    assert refused({"type": "string"}, Loud()) == (
        "type",
        f"f: must be a string, got a Loud: {'z' * 300}...",
    )
    assert refused({"type": "string"}, Broken()) == ("type", "f: must be a string, got a Broken: ?")


def test_a_body_that_is_not_an_object_is_named_body() -> None:
    validator = compile_object({"type": "object", "properties": {}})
    (violation,) = validator.violations(["not", "an", "object"])
    assert (violation.field, violation.keyword) == ("body", "type")
    assert violation.message(python_names=False) == (
        "body: must be a JSON object, got a list: ['not', 'an', 'object']"
    )


def test_numbers_of_other_types_are_sent_as_floats_and_nothing_else_changes() -> None:
    validator = compile_object(
        {
            "type": "object",
            "properties": {
                "weight": {"type": "number"},
                "count": {"type": "integer"},
                "name": {"type": "string"},
            },
        }
    )
    odd = Decimal("NaN")
    body = validator.normalized(
        {"weight": Decimal("0.5"), "count": 5, "name": Decimal("1.5"), "extra": Decimal("2")}
    )
    assert body == {"weight": 0.5, "count": 5, "name": Decimal("1.5"), "extra": Decimal("2")}
    assert [type(body[k]) for k in ("weight", "count", "name")] == [float, int, Decimal]
    assert type(validator.normalized({"weight": 0.25})["weight"]) is float
    # A number without a float value is passed on as it is (validation, when on, refuses it).
    assert validator.normalized({"weight": odd})["weight"] is odd
    assert validator.normalized({"weight": "0.5"}) == {"weight": "0.5"}


def test_a_foreign_value_of_exactly_300_characters_is_shown_whole() -> None:
    class Exact:
        def __repr__(self) -> str:
            return "e" * 300

    assert refused({"type": "string"}, Exact()) == (
        "type",
        f"f: must be a string, got a Exact: {'e' * 300}",
    )


@pytest.mark.parametrize(
    "path", ["/srv/a://b.mp3", "./a://b.mp3", "../a://b.mp3", "~/a://b.mp3", "file:///a.mp3"]
)
def test_a_local_path_as_upload_url_gets_the_upload_hint(path: str) -> None:
    validator = compile_object(
        {"type": "object", "properties": {"uploadUrl": {"type": "string", "format": "uri"}}}
    )
    messages = [v.message(python_names=True) for v in validator.violations({"uploadUrl": path})]
    if path.startswith("file:"):
        # A file: URL is a valid URI without a host: refused for its missing host, hinted.
        assert messages and messages[0].endswith("and pass the URL it returns")
    else:
        assert len(messages) == 1 and "upload the file first with upload_file(path)" in messages[0]


def test_a_nested_object_is_checked_field_by_field_and_named_by_its_path() -> None:
    # The Market route's body nests its fields under `input`: every broken rule is reported at
    # once, a nested one under its dotted path, and the fields after the nested one still count.
    validator = compile_object(
        {
            "type": "object",
            "properties": {
                "model": {"type": "string"},
                "input": {
                    "type": "object",
                    "properties": {
                        "weight": {"type": "number", "maximum": 1},
                        "title": {"type": "string"},
                    },
                    "required": ["title"],
                    "additionalProperties": False,
                },
                "count": {"type": "integer", "minimum": 1},
            },
            "required": ["model"],
        }
    )
    with pytest.raises(InvalidRequestError) as raised:
        validator.validate({"input": {"weight": 2}, "count": 0})
    assert [(v["field"], v["rule"]) for v in raised.value.violations] == [
        ("model", "required"),
        ("input.title", "required"),
        ("input.weight", "maximum"),
        ("count", "minimum"),
    ]
    assert "weight (input.weight): must be a finite number at most 1, got 2" in raised.value.message
    with pytest.raises(InvalidRequestError) as not_an_object:
        validator.validate({"model": "m", "input": "x", "count": 1})
    assert not_an_object.value.message == "input (input): must be a JSON object, got 'x'"
    validator.validate({"model": "m", "input": {"title": "t"}})
    # Numbers inside the nested object are sent as floats too; a non-object is passed on.
    body = validator.normalized(
        {"model": "m", "input": {"weight": Decimal("0.5"), "title": "t"}, "count": 2}
    )
    assert body == {"model": "m", "input": {"weight": 0.5, "title": "t"}, "count": 2}
    assert type(body["input"]["weight"]) is float
    assert validator.normalized({"input": "x", "other": {"a": Decimal(1)}}) == {
        "input": "x",
        "other": {"a": Decimal(1)},
    }
