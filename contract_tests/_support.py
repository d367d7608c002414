"""Helpers shared by the contract tests: the spec, an exact schema validator, the spec's
examples, and request conformance checks. Nothing here imports the wrapper's own validation:
the tests check the wrapper against independent tools."""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import jsonschema_rs
import yaml

ROOT = Path(__file__).resolve().parent.parent
SPEC_PATH = ROOT / "openapi" / "kie-add-instrumental.yaml"
API_KEY = "sk-test-0123456789abcdef-SECRET"
BASE_URL = "https://api.kie.ai"
UPLOAD_BASE_URL = "https://kieai.redpandaai.co"
CREATE_PATH = "/api/v1/generate/add-instrumental"
RECORD_PATH = "/api/v1/generate/record-info"
CREDIT_PATH = "/api/v1/chat/credit"
UPLOAD_PATH = "/api/file-stream-upload"
MARKET_CREATE_PATH = "/api/v1/jobs/createTask"
MARKET_RECORD_PATH = "/api/v1/jobs/recordInfo"

# KIE's documented request and response examples (docs.kie.ai, the add-instrumental page's
# curl and its 200 answer), field for field. The spec must carry exactly these.
KIE_DOCUMENTED_REQUEST = {
    "uploadUrl": "https://example.com/music.mp3",
    "title": "Relaxing Piano",
    "negativeTags": "heavy metal, fast drums",
    "tags": "relaxing, piano, soothing",
    "callBackUrl": "https://example.com/callback",
    "model": "V4_5PLUS",
    "vocalGender": "m",
    "styleWeight": 0.61,
    "weirdnessConstraint": 0.72,
    "audioWeight": 0.65,
}
KIE_DOCUMENTED_RESPONSE = {"code": 200, "msg": "success", "data": {"taskId": "5c79****be8e"}}

VALID_FIELDS = {
    "upload_url": "https://example.com/vocals.mp3",
    "title": "Night Drive",
    "tags": "synthwave",
    "negative_tags": "",
    "callback_url": "https://example.com/cb",
}


def load_spec(path: Path = SPEC_PATH) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return document


@functools.cache
def spec() -> dict[str, Any]:
    return load_spec()


@functools.cache
def checker_openapi() -> Any:
    """The spec as openapi-core can check it. Two known gaps of openapi-core are bridged:
    its float multipleOf rejects valid weights such as 0.07 (the body is checked exactly by
    jsonschema-rs instead), and it type-checks a multipart file part, which it decodes to
    bytes, as a string (`format: binary`)."""
    from openapi_core import OpenAPI

    def bridge(node: dict[str, Any]) -> None:
        node.pop("multipleOf", None)
        if node.get("format") == "binary":
            node.clear()

    return OpenAPI.from_dict(rewrite(spec(), bridge))


def resolved(schema: dict[str, Any]) -> dict[str, Any]:
    """A property schema with a `$ref` to components/schemas replaced by its target."""
    if "$ref" not in schema:
        return schema
    target = spec()["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return {**resolved(target), **{k: v for k, v in schema.items() if k != "$ref"}}


def rewrite(schema: Any, change: Callable[[dict[str, Any]], None]) -> Any:
    """A deep copy of `schema` with `change` applied to every object (dict) in it."""
    schema = copy.deepcopy(schema)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            change(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return schema


def strict(schema: Any) -> Any:
    """A copy in which every object schema with `properties` refuses undeclared keys."""

    def close(node: dict[str, Any]) -> None:
        if "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False

    return rewrite(schema, close)


def validator(
    schema: dict[str, Any], document: dict[str, Any] | None = None, *, undeclared_keys: bool = True
) -> Any:
    """jsonschema-rs (exact multipleOf, formats on) for `schema`, resolving `#/components`."""
    document = document or spec()
    components = document["components"] if undeclared_keys else strict(document["components"])
    root = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **(schema if undeclared_keys else strict(schema)),
        "components": components,
    }
    return jsonschema_rs.validator_for(root, validate_formats=True)


def errors(schema: dict[str, Any], value: Any, *, undeclared_keys: bool = True) -> list[str]:
    found = validator(schema, undeclared_keys=undeclared_keys).iter_errors(value)
    return [f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in found]


@attrs.frozen
class Example:
    where: str
    schema: dict[str, Any]
    value: Any


def _media_examples(where: str, content: dict[str, Any]) -> Iterator[Example]:
    for media_type, media in content.items():
        for name, example in media.get("examples", {}).items():
            yield Example(f"{where} {media_type} example {name}", media["schema"], example["value"])


def all_examples(document: dict[str, Any] | None = None) -> list[Example]:
    """Every example in the spec: requests, responses and callbacks, shared responses too."""
    document = document or spec()
    found: list[Example] = []

    def operation_examples(prefix: str, operation: dict[str, Any]) -> None:
        body = operation.get("requestBody", {}).get("content", {})
        found.extend(_media_examples(f"{prefix} request", body))
        for status, response in operation.get("responses", {}).items():
            if "$ref" in response:
                continue  # shared responses are walked once below
            found.extend(_media_examples(f"{prefix} {status}", response.get("content", {})))
        for name, callback in operation.get("callbacks", {}).items():
            for expression, item in callback.items():
                for method, inner in item.items():
                    operation_examples(f"callback {name} {method.upper()} {expression}", inner)

    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                operation_examples(f"{method.upper()} {path}", operation)
    for name, response in document["components"].get("responses", {}).items():
        found.extend(_media_examples(f"components/responses/{name}", response.get("content", {})))
    return found


def example(where_contains: str, name: str) -> Any:
    """One example's value, by a part of its location and its name."""
    matches = [
        e.value
        for e in all_examples()
        if where_contains in e.where and e.where.endswith(f"example {name}")
    ]
    assert len(matches) == 1, f"{len(matches)} examples match {where_contains!r} / {name!r}"
    return copy.deepcopy(matches[0])


def create_request_schema() -> dict[str, Any]:
    return {"$ref": "#/components/schemas/AddInstrumentalRequest"}


def market_request_schema() -> dict[str, Any]:
    return {"$ref": "#/components/schemas/MarketCreateTaskRequest"}


def body_of(request: Any) -> Any:
    return json.loads(request.content)
