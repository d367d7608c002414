"""The upload host: POST /api/file-stream-upload (multipart) stores a file, served back at
/uploads/{filePath}. Answers look like real ones (`data.success`, `filePath` under
`kieai/<uid>/`, an ISO `uploadedAt`; errors code 400 without `data`, HTTP 200). Files are
spooled to a temporary directory in chunks, never held whole in memory; the directory goes
when the FakeKie is garbage-collected or at exit."""

from __future__ import annotations

import hashlib
import secrets
import shutil
import string
import tempfile
import weakref
import zlib
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from .._clock import Clock
from ._answers import UPLOAD_JSON, not_found, upload_envelope
from ._gate import Gate

UPLOAD_PATH = "/api/file-stream-upload"
_CHUNK = 1 << 20
_ALPHABET = string.ascii_lowercase + string.digits


class Uploads:
    def __init__(self, gate: Gate, clock: Clock) -> None:
        self.gate = gate
        self.clock = clock
        self.files: dict[str, tuple[Path, str]] = {}  # filePath -> (file on disk, content type)
        self.directory = Path(tempfile.mkdtemp(prefix="fake-kie-uploads-"))
        weakref.finalize(self, shutil.rmtree, self.directory, ignore_errors=True)

    def routes(self) -> list[Route]:
        return [
            Route(UPLOAD_PATH, self._upload, methods=["POST"]),
            Route("/uploads/{path:path}", self._uploaded, methods=["GET"]),
        ]

    async def _upload(self, request: Request) -> Response:
        refused = self.gate.refuse(request, counted=False, media_type=UPLOAD_JSON)
        if refused is not None:
            return refused
        try:
            form = await request.form()
        except Exception:
            return upload_envelope(400, "The body is not multipart/form-data.")
        upload = form.get("file")
        folder = form.get("uploadPath")
        if not isinstance(upload, UploadFile):
            return upload_envelope(400, "file is required")
        if not isinstance(folder, str) or not folder.strip("/"):
            return upload_envelope(400, "uploadPath is required")
        given = form.get("fileName")
        name = given if isinstance(given, str) and given else self._random_name(upload)
        path = f"kieai/{self._uid()}/{folder.strip('/')}/{name.replace('/', '_')}"
        # The same path again overwrites, as on the real host.
        stored = self.directory / hashlib.sha256(path.encode()).hexdigest()
        size = 0
        with stored.open("wb") as out:
            while chunk := await upload.read(_CHUNK):
                out.write(chunk)
                size += len(chunk)
        content_type = upload.content_type or "application/octet-stream"
        self.files[path] = (stored, content_type)
        base = str(request.base_url).rstrip("/")
        uploaded_at = datetime.fromtimestamp(self.clock.time(), UTC)
        return upload_envelope(
            200,
            "File uploaded successfully",
            {
                "success": True,
                "fileName": name,
                "filePath": path,
                "downloadUrl": f"{base}/uploads/{path}",
                "fileSize": size,
                "mimeType": content_type,
                "uploadedAt": uploaded_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            },
        )

    def _uid(self) -> int:
        """A stable account number per API key, like the real `kieai/<uid>/` prefix."""
        return 100_000 + zlib.crc32(self.gate.api_key.encode()) % 900_000

    def _random_name(self, upload: UploadFile) -> str:
        """Without fileName the host picks `<epoch ms>-<11 random chars><suffix>`."""
        suffix = PurePosixPath(upload.filename or "").suffix
        tail = "".join(secrets.choice(_ALPHABET) for _ in range(11))
        return f"{int(self.clock.time() * 1000)}-{tail}{suffix}"

    async def _uploaded(self, request: Request) -> Response:
        found = self.files.get(request.path_params["path"])
        if found is None:
            return not_found()
        return FileResponse(found[0], media_type=found[1])
