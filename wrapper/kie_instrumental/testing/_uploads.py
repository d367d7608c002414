"""The upload host: POST /api/file-stream-upload (multipart) stores a file, served back at
/uploads/{path}."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ._answers import not_found, upload_envelope
from ._gate import Gate

UPLOAD_PATH = "/api/file-stream-upload"


class Uploads:
    def __init__(self, gate: Gate) -> None:
        self.gate = gate
        self.files: dict[str, tuple[bytes, str]] = {}  # path -> (content, content type)

    def routes(self) -> list[Route]:
        return [
            Route(UPLOAD_PATH, self._upload, methods=["POST"]),
            Route("/uploads/{path:path}", self._uploaded, methods=["GET"]),
        ]

    async def _upload(self, request: Request) -> Response:
        refused = self.gate.refuse(request, counted=False)
        if refused is not None:
            return refused
        try:
            form = await request.form()
        except Exception:
            return upload_envelope(422, "The body is not multipart/form-data.")
        upload = form.get("file")
        folder = form.get("uploadPath")
        if upload is None or isinstance(upload, str):
            return upload_envelope(422, "file: is required")
        if not isinstance(folder, str) or not folder.strip("/"):
            return upload_envelope(422, "uploadPath: is required")
        name = form.get("fileName")
        name = name if isinstance(name, str) and name else upload.filename or "upload.bin"
        data = await upload.read()
        path = f"{folder.strip('/')}/{name.replace('/', '_')}"
        content_type = upload.content_type or "application/octet-stream"
        self.files[path] = (data, content_type)
        base = str(request.base_url).rstrip("/")
        return upload_envelope(
            200,
            "File uploaded successfully",
            {
                "fileName": name,
                "filePath": path,
                "downloadUrl": f"{base}/uploads/{path}",
                "fileSize": len(data),
                "mimeType": content_type,
                "uploadedAt": None,
            },
        )

    async def _uploaded(self, request: Request) -> Response:
        found = self.files.get(request.path_params["path"])
        if found is None:
            return not_found()
        return Response(found[0], media_type=found[1])
