"""Layer 1: the spec is valid OpenAPI 3.1, and every example in it is valid against its schema,
with no undeclared keys, checked by a validator that gets float multipleOf right."""

from __future__ import annotations

import copy

import pytest
from _support import (
    KIE_DOCUMENTED_REQUEST,
    KIE_DOCUMENTED_RESPONSE,
    all_examples,
    create_request_schema,
    errors,
    example,
    spec,
)
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename

from _support import SPEC_PATH  # isort: skip


def test_spec_is_valid_openapi_3_1() -> None:
    document, _ = read_from_filename(str(SPEC_PATH))
    assert document["openapi"].startswith("3.1")
    validate(document)  # raises on any violation


def test_an_invalid_spec_is_caught() -> None:
    document = copy.deepcopy(spec())
    document["paths"]["/api/v1/chat/credit"]["get"]["responses"] = "not responses"
    with pytest.raises(Exception, match=r"responses|not of type"):
        validate(document)


EXAMPLES = all_examples()


def test_the_walk_finds_every_kind_of_example() -> None:
    places = " | ".join(e.where for e in EXAMPLES)
    for needle in (
        "request",
        "callback audioGenerated",
        "record-info 200",
        "components/responses/RateLimited",
        "file-stream-upload 200",
    ):
        assert needle in places
    stages = {e.value["data"]["callbackType"] for e in EXAMPLES if "audioGenerated" in e.where}
    assert stages == {"text", "first", "complete", "error"}
    states = {e.value["data"]["state"] for e in EXAMPLES if "marketTaskEnded" in e.where}
    assert states == {"success", "fail"}
    assert "GET /api/v1/jobs/recordInfo 200" in places


@pytest.mark.parametrize("item", EXAMPLES, ids=[e.where for e in EXAMPLES])
def test_example_matches_its_schema_with_no_undeclared_keys(item) -> None:
    assert errors(item.schema, item.value, undeclared_keys=False) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda v: v.update(surprise=1), "surprise"),
        (lambda v: v.update(styleWeight=0.615), "multiple of"),
        (lambda v: v.pop("title"), "title"),
        (lambda v: v.update(model="V7"), "V7"),
        (lambda v: v.update(uploadUrl="ftp://example.com/a.mp3"), "does not match"),
    ],
    ids=["undeclared key", "three decimals", "missing required", "enum", "url pattern"],
)
def test_a_broken_copy_of_an_example_is_caught(change, expected) -> None:
    value = example("add-instrumental request", "documented")
    change(value)
    found = errors(create_request_schema(), value, undeclared_keys=False)
    assert any(expected in message for message in found), found


def test_a_broken_callback_example_is_caught() -> None:
    value = example("callback", "complete")
    value["data"]["data"][0]["bonus"] = True
    found = errors(
        {"$ref": "#/components/schemas/AudioGeneratedCallback"}, value, undeclared_keys=False
    )
    assert any("bonus" in message for message in found), found


def test_every_two_decimal_weight_is_valid_for_the_example_validator() -> None:
    # The trap of testing-guide.md: naive float multipleOf rejects 0.07, 0.29, ...
    value = example("add-instrumental request", "documented")
    rejected = []
    for hundredths in range(101):
        for field in ("styleWeight", "weirdnessConstraint", "audioWeight"):
            if errors(create_request_schema(), {**value, field: hundredths / 100}):
                rejected.append((field, hundredths / 100))
    assert rejected == []


def test_request_example_equals_kies_documented_one_field_for_field() -> None:
    assert example("add-instrumental request", "documented") == KIE_DOCUMENTED_REQUEST


def test_response_example_equals_kies_documented_one() -> None:
    assert example("add-instrumental 200", "documented") == KIE_DOCUMENTED_RESPONSE


def test_business_error_with_http_200_is_documented() -> None:
    value = example("add-instrumental 200", "missingCallBackUrl")
    assert value == {"code": 422, "msg": "Please enter callBackUrl.", "data": None}
