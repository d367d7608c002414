"""Layer 3, the breaking-change tripwire: the spec still states every fact the wrapper depends
on. KIE_SPEC_UNDER_TEST points it at another spec (the drift scenario does)."""

from __future__ import annotations

import inspect
import os
from pathlib import Path

from _pinned import PINNED, PINNED_REQUIRED
from _pinned import violations as pinned_violations
from _support import SPEC_PATH, load_spec
from kie_instrumental import AsyncKieClient, KieClient
from kie_instrumental._validation import python_name

SPEC_UNDER_TEST = Path(os.environ.get("KIE_SPEC_UNDER_TEST", SPEC_PATH))


def test_the_spec_states_every_pinned_fact():
    problems = pinned_violations(load_spec(SPEC_UNDER_TEST))
    assert problems == [], "\n".join(["The spec changed under the wrapper:", *problems])


def test_the_pins_match_the_wrappers_keywords():
    # The request pins and the public signature agree, so the pins really are the wrapper's
    # view: the keywords are the legacy fields, which are the Market input's plus callBackUrl;
    # the required keywords are what both routes require (callBackUrl is optional on Market).
    legacy = {python_name(f) for f in PINNED["AddInstrumentalRequest"]}
    market = {python_name(f) for f in PINNED["MarketAddInstrumentalInput"]} | {"callback_url"}
    assert legacy == market
    both_require = {python_name(f) for f in PINNED_REQUIRED["MarketAddInstrumentalInput"]}
    for cls in (KieClient, AsyncKieClient):
        parameters = inspect.signature(cls.add_instrumental).parameters
        keywords = set(parameters) - {"self", "request_timeout", "route"}
        assert keywords == legacy
        required = {n for n, p in parameters.items() if p.default is inspect.Parameter.empty}
        assert required - {"self"} == both_require


def test_a_renamed_field_is_named():
    spec = load_spec()
    track = spec["components"]["schemas"]["SunoTrack"]["properties"]
    track["audioURL"] = track.pop("audioUrl")
    (problem,) = pinned_violations(spec)
    assert "SunoTrack: field 'audioUrl' is gone" in problem and "_models.Track" in problem
