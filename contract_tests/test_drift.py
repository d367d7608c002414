"""The "KIE changed the API" scenario, end to end: a modified copy of the spec (a new optional
request field on each route; a renamed response field) is regenerated in a temporary
directory. A non-empty diff alone proves nothing, so this also shows the pinned-facts test
failing on the new and renamed fields by name, and the renamed field going silently missing at
run time without it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from _records import record, suno_track
from _support import RECORD_PATH, ROOT, SPEC_PATH

REGENERATE = ROOT / "openapi" / "regenerate.py"


def drifted(text: str) -> str:
    request_anchor = "        audioWeight:\n"
    market_anchor = "        audio_weight:\n"  # the Market route's input
    track_anchor = "        audioUrl:\n          type: [string, 'null']\n        streamAudioUrl:"
    assert request_anchor in text and track_anchor in text and text.count(market_anchor) == 1
    text = text.replace(
        request_anchor, "        tempoHint:\n          type: string\n" + request_anchor, 1
    )
    text = text.replace(
        market_anchor, "        tempo_hint:\n          type: string\n" + market_anchor, 1
    )
    return text.replace(track_anchor, track_anchor.replace("audioUrl:", "audioURL:"), 1)


@pytest.fixture(scope="module")
def drifted_spec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("drift") / "kie-add-instrumental.yaml"
    path.write_text(drifted(SPEC_PATH.read_text()))
    return path


def test_check_generated_reports_both_changes(drifted_spec: Path):
    result = subprocess.run(
        [sys.executable, str(REGENERATE), "--check", "--spec", str(drifted_spec)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    models = "generated/kie_instrumental_generated/models"
    assert f"{models}/add_instrumental_request.py" in result.stdout
    assert f"{models}/suno_track.py" in result.stdout
    assert f"{models}/market_add_instrumental_input.py" in result.stdout


def test_the_pinned_facts_test_fails_naming_the_fields(drifted_spec: Path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(ROOT / "contract_tests" / "test_pinned_facts.py"),
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            "-k",
            "every_pinned_fact",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "KIE_SPEC_UNDER_TEST": str(drifted_spec)},
    )
    assert result.returncode == 1
    assert "SunoTrack: field 'audioUrl' is gone" in result.stdout
    assert "new field 'tempoHint' is not pinned" in result.stdout
    assert "MarketAddInstrumentalInput: new field 'tempo_hint' is not pinned" in result.stdout


def test_without_the_tripwire_the_rename_would_pass_silently(client, mock_api):
    """Today's client meeting KIE's renamed field: no error at all, just a track whose audio
    URL quietly became None. Only the pinned facts say so before users notice."""
    track = suno_track(0)
    track["audioURL"] = track.pop("audioUrl")
    mock_api.get(RECORD_PATH).mock(return_value=record("SUCCESS", [track]))
    details = client.get_task("task-1")
    assert details.succeeded and details.tracks[0].audio_url is None
