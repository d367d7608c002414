"""Client-side validation comes from the spec: one invalid value per constraint, derived from
the spec itself, is refused before any request, naming the field and the rule, on both routes
(the Market route's fields sit under `input`)."""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from _support import (
    CREATE_PATH,
    KIE_DOCUMENTED_REQUEST,
    MARKET_CREATE_PATH,
    VALID_FIELDS,
    resolved,
    spec,
)
from kie_instrumental import InvalidRequestError
from kie_instrumental._validation import python_name

SCHEMA = spec()["components"]["schemas"]["AddInstrumentalRequest"]
MARKET_INPUT = spec()["components"]["schemas"]["MarketAddInstrumentalInput"]
WEIGHTS = [n for n, s in SCHEMA["properties"].items() if "multipleOf" in s]
VALID = {python_name(k): v for k, v in KIE_DOCUMENTED_REQUEST.items()}


def _not_matching(pattern: str) -> str:
    for candidate in ("ftp://example.com/a", "example.com/a", "plain words", "x"):
        if re.search(pattern, candidate) is None:
            return candidate
    raise AssertionError(f"no candidate breaks {pattern}")


def invalid_value(field: str, keyword: str, schema: dict[str, Any]) -> Any:
    """A value breaking `keyword` of `schema` and, as far as possible, nothing before it."""
    valid = KIE_DOCUMENTED_REQUEST.get(field, VALID[python_name(field)])
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


# (route, wire name as the error names it, keyword, invalid value)
CASES = [
    (route, prefix + field, keyword, invalid_value(field, keyword, schema))
    for route, prefix, fields in (
        ("legacy", "", SCHEMA["properties"]),
        ("market", "input.", MARKET_INPUT["properties"]),
    )
    for field, schema in ((f, resolved(s)) for f, s in fields.items())
    for keyword in schema
    if keyword not in ("description", "default", "example", "examples", "title")
    and not keyword.startswith("x-")
]
PATHS = {"legacy": CREATE_PATH, "market": MARKET_CREATE_PATH}


def test_every_constraint_of_the_spec_gets_a_case() -> None:
    keywords = {keyword for _, _, keyword, _ in CASES}
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
    assert len(CASES) >= 50


def test_both_routes_state_the_same_rules_for_the_same_fields() -> None:
    legacy = {python_name(f): resolved(s) for f, s in SCHEMA["properties"].items()}
    market = {python_name(f): resolved(s) for f, s in MARKET_INPUT["properties"].items()}
    legacy.pop("callback_url")  # top level on the Market route, optional there
    assert legacy == market
    assert sorted(map(python_name, MARKET_INPUT["required"])) == sorted(
        python_name(f) for f in SCHEMA["required"] if f != "callBackUrl"
    )


@pytest.mark.parametrize(
    ("route_name", "field", "keyword", "value"),
    CASES,
    ids=[f"{r}-{f}-{k}" for r, f, k, _ in CASES],
)
def test_each_constraint_is_enforced_before_sending(
    make_client, mock_api, route_name, field, keyword, value
) -> None:
    route = mock_api.post(PATHS[route_name]).respond(200, json={"code": 200, "msg": "", "data": {}})
    with pytest.raises(InvalidRequestError) as caught:
        make_client(route=route_name).add_instrumental(**{**VALID, python_name(field): value})
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


# -- every invalid field at once, values shown, the common mistake explained ------------------


def test_every_invalid_field_is_reported_at_once(client, mock_api) -> None:
    route = mock_api.post(CREATE_PATH)
    bad = {"title": "", "style_weight": 1.5, "audio_weight": 0.615, "model": "V9"}
    with pytest.raises(InvalidRequestError) as caught:
        client.add_instrumental(**{**VALID, **bad})
    error = caught.value
    assert sorted(v["argument"] for v in error.violations) == sorted(bad)
    assert str(error).startswith("4 invalid fields: ")
    for violation in error.violations:
        assert violation["message"] in str(error)
    assert (error.field, error.rule) == (
        error.violations[0]["field"],
        error.violations[0]["rule"],
    )
    assert route.call_count == 0


def test_a_long_value_is_shown_in_full_up_to_a_bound(client, mock_api) -> None:
    long_title = "".join(f"{i:03d}," for i in range(60))  # 240 characters, each part distinct
    with pytest.raises(InvalidRequestError) as caught:
        client.add_instrumental(**{**VALID, "title": long_title})
    assert repr(long_title) in str(caught.value)
    huge = "y" * 5000
    with pytest.raises(InvalidRequestError) as caught:
        client.add_instrumental(**{**VALID, "title": huge})
    assert "(5000 characters)" in str(caught.value)
    assert len(str(caught.value)) < 600


def test_control_characters_of_a_value_are_shown_escaped(client, mock_api) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        client.add_instrumental(**{**VALID, "upload_url": "https://a.b/\r\n\x1b[31m"})
    assert "\\r\\n\\x1b[31m" in str(caught.value)
    assert "\x1b" not in str(caught.value)


@pytest.mark.parametrize(
    "path", ["/home/me/vocals.wav", "vocals.wav", "./takes/vocals.mp3", "file:///tmp/v.wav"]
)
def test_a_local_path_as_upload_url_hints_at_upload_file(client, mock_api, path) -> None:
    route = mock_api.post(CREATE_PATH)
    with pytest.raises(InvalidRequestError) as caught:
        client.add_instrumental(**{**VALID, "upload_url": path})
    assert "upload_file(path)" in str(caught.value)
    assert repr(path) in str(caught.value)
    assert route.call_count == 0


def test_a_bad_web_url_gets_no_upload_hint(client, mock_api) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        client.add_instrumental(**{**VALID, "upload_url": "https://exa mple.com/v.mp3"})
    assert "upload_file" not in str(caught.value)


def _real_numbers() -> list[Any]:
    np = pytest.importorskip("numpy")
    return [
        np.float64(0.61),
        np.float32(0.5),
        np.int64(1),
        Decimal("0.61"),
        Fraction(61, 100),
    ]


@pytest.mark.parametrize("value", _real_numbers(), ids=repr)
def test_any_real_number_equal_to_a_two_decimal_value_is_accepted(client, mock_api, value) -> None:
    route = mock_api.post(CREATE_PATH).respond(
        200, json={"code": 200, "msg": "success", "data": {"taskId": "t"}}
    )
    weights = dict.fromkeys(map(python_name, WEIGHTS), value)
    client.add_instrumental(**VALID_FIELDS, **weights)
    sent = json.loads(route.calls.last.request.content)
    assert [sent[w] for w in WEIGHTS] == [float(value)] * len(WEIGHTS)


def test_real_numbers_off_the_grid_are_refused_naming_them(client, mock_api) -> None:
    np = pytest.importorskip("numpy")
    route = mock_api.post(CREATE_PATH)
    # float32(0.61) is 0.6100000143...: not a multiple of 0.01 once read as a number.
    for value in (np.float64(0.615), np.float32(0.61), Decimal("0.615"), np.float64("nan")):
        with pytest.raises(InvalidRequestError, match=r"audio_weight \(audioWeight\)"):
            client.add_instrumental(**{**VALID, "audio_weight": value})
    assert route.call_count == 0
