"""The packaged copy of the spec (written by `make generate`), read lazily and once."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

SPEC_JSON = Path(__file__).resolve().parent / "_spec" / "kie-add-instrumental.json"
ADD_INSTRUMENTAL_PATH = "/api/v1/generate/add-instrumental"
RECORD_INFO_PATH = "/api/v1/generate/record-info"
MARKET_CREATE_PATH = "/api/v1/jobs/createTask"
MARKET_RECORD_PATH = "/api/v1/jobs/recordInfo"


def snake_case(name: str) -> str:
    """KIE's camelCase names as Python spells them: audioUrl -> audio_url."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@functools.cache
def load_spec() -> dict[str, Any]:
    with SPEC_JSON.open(encoding="utf-8") as handle:
        document: dict[str, Any] = json.load(handle)
    return document


def schema(name: str) -> dict[str, Any]:
    """A schema of `components/schemas` by name."""
    found: dict[str, Any] = load_spec()["components"]["schemas"][name]
    return found


@functools.cache
def request_schema_name(path: str, method: str = "post") -> str:
    """The component name of an operation's JSON request body."""
    operation = load_spec()["paths"][path][method]
    ref: str = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return ref.rsplit("/", 1)[-1]
