"""The facts of the spec the wrapper depends on: request fields, required list and types; the
response fields it reads. A change here is a change to the wrapper: update both together."""

from __future__ import annotations

from typing import Any

# schema -> field -> type (JSON types joined by |, "ref:X" for a reference)
PINNED: dict[str, dict[str, str]] = {
    "AddInstrumentalRequest": {
        "uploadUrl": "string",
        "title": "string",
        "tags": "string",
        "negativeTags": "string",
        "callBackUrl": "string",
        "model": "ref:SunoModel",
        "vocalGender": "string",
        "styleWeight": "number",
        "weirdnessConstraint": "number",
        "audioWeight": "number",
    },
    "SunoModel": {},
    "MarketCreateTaskRequest": {
        "model": "string",
        "callBackUrl": "string",
        "input": "ref:MarketAddInstrumentalInput",
    },
    "MarketAddInstrumentalInput": {
        "upload_url": "string",
        "title": "string",
        "tags": "string",
        "negative_tags": "string",
        "model": "ref:SunoModel",
        "vocal_gender": "string",
        "style_weight": "number",
        "weirdness_constraint": "number",
        "audio_weight": "number",
    },
    "MarketCreateTaskResponse": {
        "code": "integer",
        "msg": "string",
        "data": "null|ref:MarketCreateTaskData",
    },
    "MarketCreateTaskData": {"taskId": "string"},
    "MarketRecordInfoResponse": {
        "code": "integer",
        "msg": "string",
        "data": "null|ref:MarketTaskRecord",
    },
    "MarketTaskRecord": {
        "taskId": "string",
        "state": "string",
        "param": "null|string",
        "resultJson": "null|string",
        "failCode": "integer|null|string",
        "failMsg": "null|string",
    },
    "MarketTaskCallback": {"code": "integer", "msg": "string", "data": "ref:MarketTaskRecord"},
    "CreateTaskResponse": {"code": "integer", "msg": "string", "data": "null|ref:CreateTaskData"},
    "CreateTaskData": {"taskId": "string"},
    "RecordInfoResponse": {"code": "integer", "msg": "string", "data": "null|ref:TaskRecord"},
    "TaskRecord": {
        "taskId": "string",
        "status": "string",
        "response": "null|ref:TaskResult",
        "errorCode": "integer|null|string",
        "errorMessage": "null|string",
        "type": "null|string",
        "operationType": "null|string",
        "param": "null|string",
        "parentMusicId": "null|string",
    },
    "TaskResult": {"sunoData": "array|null"},
    "SunoTrack": {
        "id": "string",
        "audioUrl": "null|string",
        "streamAudioUrl": "null|string",
        "imageUrl": "null|string",
        "sourceAudioUrl": "null|string",
        "sourceStreamAudioUrl": "null|string",
        "sourceImageUrl": "null|string",
        "prompt": "null|string",
        "modelName": "null|string",
        "title": "null|string",
        "tags": "null|string",
        "createTime": "ref:CreateTime",
        "duration": "null|number",
    },
    "CallbackTrack": {
        "id": "string",
        "audio_url": "null|string",
        "stream_audio_url": "null|string",
        "image_url": "null|string",
        "source_audio_url": "null|string",
        "source_stream_audio_url": "null|string",
        "source_image_url": "null|string",
        "prompt": "null|string",
        "model_name": "null|string",
        "title": "null|string",
        "tags": "null|string",
        "createTime": "ref:CreateTime",
        "duration": "null|number",
    },
    "AudioGeneratedCallback": {
        "code": "integer",
        "msg": "string",
        "data": "ref:AudioGeneratedCallbackData",
    },
    "AudioGeneratedCallbackData": {
        "callbackType": "string",
        "task_id": "string",
        "data": "array|null",
    },
    "CreditsResponse": {"code": "integer", "msg": "string", "data": "null|number"},
    "FileUploadResponse": {"code": "integer", "msg": "string", "data": "null|ref:UploadedFile"},
    "UploadedFile": {"downloadUrl": "string"},
}
PINNED_REQUIRED = {
    "AddInstrumentalRequest": ["callBackUrl", "negativeTags", "tags", "title", "uploadUrl"],
    "MarketCreateTaskRequest": ["input", "model"],
    "MarketAddInstrumentalInput": ["negative_tags", "tags", "title", "upload_url"],
}
# Request schemas: every field is a keyword of add_instrumental, so new ones must be pinned.
CLOSED = {"AddInstrumentalRequest", "MarketCreateTaskRequest", "MarketAddInstrumentalInput"}
WHERE = {
    "AddInstrumentalRequest": "KieClient.add_instrumental and AsyncKieClient.add_instrumental",
    "MarketAddInstrumentalInput": (
        "KieClient.add_instrumental and AsyncKieClient.add_instrumental (route='market')"
    ),
    "MarketTaskRecord": "kie_instrumental/_routes.py (market_details)",
    "SunoModel": "kie_instrumental/_routes.py (the default and x-discontinued models)",
    "SunoTrack": "_models.Track (read through the generated SunoTrack)",
    "CallbackTrack": "_models.Track (read through the generated CallbackTrack)",
}


def type_of(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return "ref:" + schema["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return "|".join(sorted(type_of(member) for member in schema["anyOf"]))
    kind = schema.get("type", "any")
    return "|".join(sorted(kind)) if isinstance(kind, list) else kind


def violations(spec: dict[str, Any]) -> list[str]:
    """Every pinned fact the spec no longer states, each naming what to update."""
    schemas = spec["components"]["schemas"]
    found = []
    for name, fields in PINNED.items():
        where = f"components/schemas/{name}"
        reader = WHERE.get(name, "kie_instrumental/_core.py")
        if name not in schemas:
            found.append(f"{where} is gone; the wrapper reads it in {reader}")
            continue
        properties = schemas[name].get("properties", {})
        for field, pinned_type in fields.items():
            if field not in properties:
                found.append(
                    f"{where}: field {field!r} is gone (pinned {pinned_type}); the "
                    f"wrapper reads it in {reader}: update it, then this pin"
                )
            elif type_of(properties[field]) != pinned_type:
                found.append(
                    f"{where}: field {field!r} is now {type_of(properties[field])} "
                    f"(pinned {pinned_type}); update {reader}, then this pin"
                )
        if name in CLOSED:
            for field in sorted(set(properties) - set(fields)):
                found.append(
                    f"{where}: new field {field!r} is not pinned; add it as a keyword "
                    f"to {reader}, then pin it here"
                )
        if (
            name in PINNED_REQUIRED
            and sorted(schemas[name].get("required", [])) != PINNED_REQUIRED[name]
        ):
            found.append(
                f"{where}: required is now {sorted(schemas[name].get('required', []))}"
                f" (pinned {PINNED_REQUIRED[name]}); update {reader}"
            )
    return found
