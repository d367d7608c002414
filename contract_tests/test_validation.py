"""Client-side validation comes from the spec: one invalid value per constraint, derived from
the spec itself, is refused before any request, naming the field and the rule."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest
from _support import CREATE_PATH, KIE_DOCUMENTED_REQUEST, VALID_FIELDS, spec
from kie_instrumental import InvalidRequestError
from kie_instrumental._validation import python_name

SCHEMA = spec()["components"]["schemas"]["AddInstrumentalRequest"]
WEIGHTS = [n for n, s in SCHEMA["properties"].items() if "multipleOf" in s]
VALID = {python_name(k): v for k, v in KIE_DOCUMENTED_REQUEST.items()}


def _not_matching(pattern: str) -> str:
    for candidate in ("ftp://example.com/a", "example.com/a", "plain words", "x"):
        if re.search(pattern, candidate) is None:
            return candidate
    raise AssertionError(f"no candidate breaks {pattern}")


def invalid_value(field: str, keyword: str, schema: dict[str, Any]) -> Any:
    """A value breaking `keyword` of `schema` and, as far as possible, nothing before it."""
    valid = KIE_DOCUMENTED_REQUEST[field]
    bound = schema.get(keyword)
    if keyword == "type":
        return 12345 if schema["type"] == "string" else "0.5"
    if keyword == "enum":
        return "NOT_" + str(bound[0])
    if keyword == "minLength":
        return "x" * (bound - 1)
    if keyword == "maxLength":
        return valid + "a" * (bound + 1 - len(valid))
    if keyword == "pattern":
        return _not_matching(bound)
    if keyword == "format":
        return "http:///no-host"
    if keyword == "minimum":
        return bound - 0.01
    if keyword == "maximum":
        return bound + 0.01
    if keyword == "multipleOf":
        return 0.5 + bound / 2
    raise AssertionError(f"the test cannot break {keyword}: teach it")


CASES = [
    (field, keyword, invalid_value(field, keyword, schema))
    for field, schema in SCHEMA["properties"].items()
    for keyword in schema
    if keyword not in ("description", "default", "example", "examples", "title")
]


def test_every_constraint_of_the_spec_gets_a_case() -> None:
    keywords = {keyword for _, keyword, _ in CASES}
    assert {
        "type",
        "enum",
        "maxLength",
        "pattern",
        "format",
        "minimum",
        "maximum",
        "multipleOf",
    } <= keywords
    assert len(CASES) >= 25


@pytest.mark.parametrize(
    ("field", "keyword", "value"), CASES, ids=[f"{f}-{k}" for f, k, _ in CASES]
)
def test_each_constraint_is_enforced_before_sending(
    make_client, mock_api, field, keyword, value
) -> None:
    route = mock_api.post(CREATE_PATH).respond(200, json={"code": 200, "msg": "", "data": {}})
    with pytest.raises(InvalidRequestError) as caught:
        make_client().add_instrumental(**{**VALID, python_name(field): value})
    error = caught.value
    assert (error.field, error.rule) == (field, keyword)
    assert f"{python_name(field)} ({field}): must be" in str(error)
    assert route.call_count == 0
    assert len(mock_api.calls) == 0


@pytest.mark.parametrize("field", SCHEMA["required"])
def test_a_required_field_given_as_none_is_refused(make_client, mock_api, field) -> None:
    route = mock_api.post(CREATE_PATH)
    with pytest.raises(InvalidRequestError) as caught:
        make_client().add_instrumental(**{**VALID, python_name(field): None})
    assert (caught.value.field, caught.value.rule) == (field, "required")
    assert route.call_count == 0


def test_missing_or_unknown_keywords_are_pythons_own_type_error(client) -> None:
    with pytest.raises(TypeError):
        client.add_instrumental(upload_url="https://a.b/c")
    with pytest.raises(TypeError):
        client.add_instrumental(**VALID, tempo=120)


def test_the_message_names_both_spellings_and_the_rule(client, mock_api) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        client.add_instrumental(**{**VALID, "style_weight": 0.615})
    assert str(caught.value) == (
        "style_weight (styleWeight): must be a multiple of 0.01 between 0 and 1, got 0.615"
    )


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, True])
def test_non_finite_and_boolean_weights_are_refused(client, mock_api, value) -> None:
    with pytest.raises(InvalidRequestError, match="audio_weight"):
        client.add_instrumental(**{**VALID, "audio_weight": value})


def test_every_two_decimal_weight_is_accepted_and_sent_unchanged(client, mock_api) -> None:
    route = mock_api.post(CREATE_PATH).respond(
        200, json={"code": 200, "msg": "success", "data": {"taskId": "t"}}
    )
    for hundredths in range(101):
        value = hundredths / 100
        weights = dict.fromkeys(map(python_name, WEIGHTS), value)
        client.add_instrumental(**VALID_FIELDS, **weights)
        sent = json.loads(route.calls.last.request.content)
        assert [sent[w] for w in WEIGHTS] == [value] * len(WEIGHTS)
    assert route.call_count == 101


def test_integers_zero_and_one_are_valid_weights(client, mock_api) -> None:
    mock_api.post(CREATE_PATH).respond(200, json={"code": 200, "msg": "", "data": {"taskId": "t"}})
    assert client.add_instrumental(**VALID_FIELDS, style_weight=0, audio_weight=1).task_id == "t"


def test_validation_can_be_switched_off(make_client, mock_api, spec_checker) -> None:
    route = mock_api.post(CREATE_PATH).respond(
        200, json={"code": 200, "msg": "", "data": {"taskId": "t"}}
    )
    client = make_client(validate_requests=False)
    client.add_instrumental(**{**VALID_FIELDS, "title": "x" * 500})
    assert route.call_count == 1
    # The suite's own spec check catches what the wrapper no longer did (and is reset here).
    assert any("too long" in problem for problem in spec_checker.problems)
    spec_checker.problems.clear()
