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
    # The request pin and the public signature agree, so the pin really is the wrapper's view.
    for cls in (KieClient, AsyncKieClient):
        parameters = inspect.signature(cls.add_instrumental).parameters
        keywords = {name for name in parameters if name not in ("self", "request_timeout")}
        assert keywords == {python_name(f) for f in PINNED["AddInstrumentalRequest"]}
        required = {n for n, p in parameters.items() if p.default is inspect.Parameter.empty}
        assert required - {"self"} == {
            python_name(f) for f in PINNED_REQUIRED["AddInstrumentalRequest"]
        }


def test_a_renamed_field_is_named():
    spec = load_spec()
    track = spec["components"]["schemas"]["SunoTrack"]["properties"]
    track["audioURL"] = track.pop("audioUrl")
    (problem,) = pinned_violations(spec)
    assert "SunoTrack: field 'audioUrl' is gone" in problem and "_models.Track" in problem
