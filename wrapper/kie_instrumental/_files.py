"""Files in and out: upload operations, download plans, file names, and the checks a download
passes before its bytes are kept as audio.

Both clients drive these through the core's flows; the only I/O here is what a driver asks for
(resolving a host name, writing a temporary file while a response streams in).
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import os
import re
import secrets
import socket
import stat
import sys
import threading
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any, BinaryIO, cast
from urllib.parse import urljoin, urlsplit, urlunsplit

import attrs
import httpx

from . import _generated as gen
from . import _spec
from ._core import Flow, Operation, Reply, Resolve, Resolved
from ._emitter import safe_url
from ._errors import APIConnectionError, APIError, ConfigurationError, InvalidRequestError
from ._models import CallbackEvent, ShapeError, TaskDetails, Track, require_str
from ._responses import read_envelope

if TYPE_CHECKING:
    from ._core import ClientCore

Downloadable = TaskDetails | CallbackEvent | Iterable[Track]
UploadSource = str | os.PathLike[str] | bytes | bytearray | memoryview | IO[bytes]

_UPLOAD_PATH = "/api/file-stream-upload"
_AUDIO_SUFFIXES = frozenset({".mp3", ".wav", ".m4a", ".flac", ".ogg", ".aac", ".opus"})
_MAX_REDIRECTS = 5
_SNIFF = 12  # bytes needed to recognise every signature below


# -- arguments -----------------------------------------------------------------------------------


def _refuse(field: str, rule: str, got: object, keyword: str) -> InvalidRequestError:
    # No default: each refusal names the rule keyword it reports.
    from ._validation import Violation, _show  # loaded on first use

    return Violation(field, keyword, rule, _show(got)).to_error()


def _spec_checked(field: str, value: object) -> None:
    """The spec's rules for a multipart field of the upload request (type, minLength...)."""
    from ._validation import compile_field  # loaded on first use

    schema = _spec.schema(_upload_schema_name())["properties"][field]
    for check in compile_field(field, schema):
        violation = check(value)
        if violation is not None:
            raise violation.to_error()


def _upload_schema_name() -> str:
    body = _spec.load_spec()["paths"][_UPLOAD_PATH]["post"]["requestBody"]["content"]
    ref: str = body["multipart/form-data"]["schema"]["$ref"]
    return ref.rsplit("/", 1)[-1]


# The host stores files under uploadPath/fileName and builds their public URL from both: beyond
# the spec's own rules, a path must be a plain relative folder and a name a plain name.
_MAX_UPLOAD_PATH = 200
_MAX_FILE_NAME = 120
# The host puts folder and name into the URL as they are: '?', '#' and '%' would change its
# meaning in a way no encoding afterwards can undo.
_NOT_IN_NAMES = "/\\?#%"


def _printable(text: str) -> bool:
    return all(unicodedata.category(c)[0] != "C" for c in text)


def check_upload_path(value: object) -> str:
    _spec_checked("uploadPath", value)
    assert isinstance(value, str)
    segments = value.split("/")
    if (
        len(value) > _MAX_UPLOAD_PATH
        or not _printable(value)
        or any(char in value for char in _NOT_IN_NAMES.replace("/", ""))
        or any(segment in ("", ".", "..") or segment != segment.strip() for segment in segments)
    ):
        raise _refuse(
            "uploadPath",
            f"must be a relative folder like 'vocals/2026': at most {_MAX_UPLOAD_PATH} printable "
            "characters, no leading, trailing or double '/', no '.' or '..' segment, "
            "none of \\ ? # %",
            value,
            "pattern",
        )
    return value


def check_file_name(value: object) -> str:
    _spec_checked("fileName", value)
    assert isinstance(value, str)
    if (
        not value.strip()
        or len(value) > _MAX_FILE_NAME
        or not _printable(value)
        or any(char in value for char in _NOT_IN_NAMES)
        or value in (".", "..")
    ):
        raise _refuse(
            "fileName",
            f"must be a plain file name: 1 to {_MAX_FILE_NAME} printable characters, "
            "none of / \\ ? # %, not '.' or '..'",
            value,
            "pattern",
        )
    return value


# -- uploads -------------------------------------------------------------------------------------


def _ascii_slug(text: str, limit: int) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._-")[:limit]


def unique_remote_name(local_name: str) -> str:
    """`<readable stem>-<random token><ext>` in URL-safe ASCII: two uploads never share a name."""
    pure = PurePosixPath(local_name.replace("\\", "/")).name
    suffix = _ascii_slug(PurePosixPath(pure).suffix, 10).lower()
    stem = _ascii_slug(PurePosixPath(pure).stem, 60) or "upload"
    return f"{stem}-{secrets.token_hex(8)}{'.' + suffix if suffix else ''}"


def _local_file(path: Path) -> Path:
    """The path of a regular, readable file, or an error saying what the path is instead."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        hint = (
            " (a URL needs no upload: pass it to add_instrumental as upload_url)"
            if str(path).startswith(("http:", "https:"))
            else ""
        )
        raise _refuse("file", "no such file" + hint, str(path), "exists") from None
    except OSError as exc:
        raise _refuse("file", f"cannot be read ({exc.strerror})", str(path), "exists") from None
    kind = (
        "a directory"
        if stat.S_ISDIR(mode)
        else "a FIFO (named pipe)"
        if stat.S_ISFIFO(mode)
        else "a device"
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "a socket"
        if stat.S_ISSOCK(mode)
        else None
    )
    if kind is not None:
        raise _refuse("file", f"must be a regular file, not {kind}", str(path), "type")
    if not os.access(path, os.R_OK):
        raise _refuse("file", "cannot be read (permission denied)", str(path), "exists")
    return path


def _readable_stream(stream: object) -> IO[bytes]:
    if isinstance(stream, io.TextIOBase) or not callable(getattr(stream, "read", None)):
        raise _refuse(
            "file",
            "must be a path, bytes or a file object opened in binary mode",
            type(stream).__name__,
            "type",
        )
    return stream  # type: ignore[return-value]


def upload_operation(
    core: ClientCore, source: object, *, file_name: str | None, upload_path: object
) -> Operation[str]:
    """The stream upload of a path, bytes or a binary file object, checked before sending."""
    folder = check_upload_path(upload_path)
    if file_name is not None:
        check_file_name(file_name)
    if isinstance(source, str | os.PathLike):
        path = _local_file(Path(source))
        local_name = path.name

        @contextlib.contextmanager
        def opened() -> Iterator[IO[bytes]]:
            # A fresh handle per attempt: a retry must send the file from its first byte.
            with path.open("rb") as handle:
                yield handle

    else:
        if isinstance(source, bytes | bytearray | memoryview):
            stream: IO[bytes] = io.BytesIO(source)
        else:
            stream = _readable_stream(source)
        local_name = os.path.basename(str(getattr(stream, "name", "") or "")) or "upload.bin"
        attempts = 0

        @contextlib.contextmanager
        def opened() -> Iterator[IO[bytes]]:
            nonlocal attempts
            attempts += 1
            # httpx rewinds a seekable stream for every attempt; one that cannot rewind can
            # be sent only once.
            if attempts > 1 and not _seekable(stream):
                raise _refuse(
                    "file",
                    "is a stream that cannot be rewound, so a failed upload cannot be sent "
                    "again: pass a path, bytes or a seekable file",
                    type(stream).__name__,
                    "seekable",
                )
            yield stream

    remote = file_name if file_name is not None else unique_remote_name(local_name)

    @contextlib.contextmanager
    def open_request() -> Iterator[dict[str, Any]]:
        with opened() as handle:
            body = gen.FileStreamUploadRequest(
                file=gen.File(payload=cast(BinaryIO, handle), file_name=remote),
                upload_path=folder,
                file_name=remote,
            )
            yield core._api_request(
                gen.upload_file_stream._get_kwargs(body=body), core.upload_base_url
            )

    path_name = "/api/file-stream-upload"
    return Operation(
        name=f"POST {path_name}",
        open=open_request,
        parse=_parse_upload,
        rate_limited=False,  # another host, not api.kie.ai
        operation="upload_file",
        method="POST",
        url=core.upload_base_url + path_name,
    )


def _seekable(stream: IO[bytes]) -> bool:
    try:
        return bool(stream.seekable())
    except (AttributeError, OSError, ValueError):
        return False


# RFC 3986: what may appear unencoded in a path, query or fragment (a '%' only before two hex
# digits; '[' and ']' only in a host).
_URI_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#@!$&'()*+,;="
)
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")


def _encoded(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "%" and _ESCAPE.match(text, i):
            out.append(text[i : i + 3])
            i += 3
            continue
        out.append(char if char in _URI_CHARS else "".join(f"%{b:02X}" for b in char.encode()))
        i += 1
    return "".join(out)


def percent_encoded(url: str) -> str:
    """`url` with every character RFC 3986 does not allow in its path, query and fragment
    percent-encoded (UTF-8), and a non-ASCII host in its IDNA form."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if not netloc.isascii() and parts.hostname:
        with contextlib.suppress(UnicodeError, ValueError):
            port = f":{parts.port}" if parts.port is not None else ""
            netloc = parts.hostname.encode("idna").decode() + port
    return urlunsplit(
        (
            parts.scheme,
            netloc,
            _encoded(parts.path),
            _encoded(parts.query),
            _encoded(parts.fragment),
        )
    )


def _parse_upload(reply: Reply) -> str:
    from ._validation import request_validator  # loaded on first use

    envelope = read_envelope(reply.status, reply.content, reply.headers, operation="upload_file")
    uploaded = _from_dict(gen.FileUploadResponse, envelope).data
    if not isinstance(uploaded, gen.UploadedFile):
        raise ShapeError("data.downloadUrl is missing")
    url = percent_encoded(require_str(uploaded.download_url, "data.downloadUrl"))
    # The URL is meant for add_instrumental: check it by that request's own rule.
    schema_name = _spec.request_schema_name(_spec.ADD_INSTRUMENTAL_PATH)
    violations = request_validator(schema_name).violations({"uploadUrl": url})
    found = [v for v in violations if v.field == "uploadUrl"]
    if found:
        raise APIError(
            "upload_file: the upload host returned a URL that add_instrumental cannot use: "
            + found[0].message(python_names=False),
            code=200,
            http_status=reply.status,
        )
    return url


def _from_dict(model: Any, envelope: dict[str, Any]) -> Any:
    try:
        return model.from_dict(envelope)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ShapeError(f"{type(exc).__name__}: {exc}") from None


# -- download plans and file names ---------------------------------------------------------------


def tracks_of(source: object) -> tuple[Track, ...]:
    if isinstance(source, TaskDetails | CallbackEvent):
        return source.tracks
    if isinstance(source, str | bytes | os.PathLike) or not isinstance(source, Iterable):
        hint = (
            " (a task id? pass client.wait(task_id) or client.get_task(task_id) instead)"
            if isinstance(source, str)
            else ""
        )
        raise _refuse(
            "source", "must be TaskDetails, a CallbackEvent or tracks" + hint, source, "type"
        )
    tracks = tuple(source)
    for track in tracks:
        if not isinstance(track, Track):
            raise _refuse("source", "must hold only Track objects", track, "type")
    return tracks


def task_id_of(source: object) -> str | None:
    return source.task_id if isinstance(source, TaskDetails | CallbackEvent) else None


def _directory(directory: object) -> Path:
    if not isinstance(directory, str | os.PathLike):
        raise _refuse("directory", "must be a path", directory, "type")
    folder = Path(directory)
    if folder.exists() and not folder.is_dir():
        raise _refuse("directory", "must be a directory, not a file", str(folder), "type")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _refuse(
            "directory", f"cannot be created ({exc.strerror})", str(folder), "exists"
        ) from None
    return folder


def download_plan(source: object, directory: object) -> list[tuple[str, Path]]:
    """(url, destination) for each track with audio; unfinished tracks have none and are skipped.

    Destinations are new names: never an existing file, never two names equal but for case.
    """
    tracks = tracks_of(source)
    folder = _directory(directory)
    # NFC as well as case: macOS stores names decomposed, and shows both forms alike.
    taken = {unicodedata.normalize("NFC", name).casefold() for name in os.listdir(folder)}
    return [
        (track.audio_url, folder / safe_file_name(track, taken))
        for track in tracks
        if track.audio_url
    ]


# Windows refuses these as file names whatever the extension (CON.mp3 is the console).
_RESERVED = re.compile(r"(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?", re.IGNORECASE)
_MAX_NAME_BYTES = 200  # below the 255-byte limit of common file systems, with room for "-N"


def _slug(text: str | None) -> str:
    """Letters and digits of any script kept (NFC), everything else one '_'."""
    text = unicodedata.normalize("NFC", text or "")
    kept = "".join(c if c.isalnum() or c in "._-" else " " for c in text)
    return re.sub(r"\s+", "_", kept.strip()).strip("._-")


def _fits(name: str) -> bool:
    try:
        return len(name.encode(sys.getfilesystemencoding())) <= _MAX_NAME_BYTES
    except UnicodeEncodeError:
        return False


def safe_file_name(track: Track, taken: set[str]) -> str:
    """`<title>-<id><ext>`: readable in any script the file system can store, never hidden,
    never starting with '-', never a Windows device name, unique (ignoring case) in `taken`."""
    suffix = Path(urlsplit(track.audio_url or "").path).suffix.lower()
    suffix = suffix if suffix in _AUDIO_SUFFIXES else ".mp3"
    title, track_id = _slug(track.title)[:80], _slug(getattr(track, "id", None))[:80]
    stem = "-".join(part for part in (title, track_id) if part) or "track"
    while stem and not _fits(stem + "-999" + suffix):
        stem = stem[:-1]
    if not stem:  # the file system's encoding cannot hold the title: fall back to ASCII
        ascii_parts = (_ascii_slug(track.title or "", 80), _ascii_slug(track_id, 80))
        stem = "-".join(part for part in ascii_parts if part) or "track"
    if _RESERVED.fullmatch(stem):
        stem = f"_{stem}"
    name, n = f"{stem}{suffix}", 1
    while name.casefold() in taken:
        n += 1
        name = f"{stem}-{n}{suffix}"
    taken.add(name.casefold())
    return name


# -- where a download may come from --------------------------------------------------------------


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


@attrs.frozen
class DownloadPolicy:
    """Downloads go only to https URLs on public addresses, except to the client's own API
    hosts (already trusted with the key) or with `allow_private` (FakeKie, tests)."""

    trusted: frozenset[tuple[str, str, int | None]]
    allow_private: bool = False

    @classmethod
    def of(cls, core: ClientCore, allow_private: object) -> DownloadPolicy:
        if not isinstance(allow_private, bool):
            raise ConfigurationError(
                f"allow_private_downloads must be True or False, got {type(allow_private).__name__}"
            )
        return cls(
            frozenset({_origin(core.base_url), _origin(core.upload_base_url)}), allow_private
        )

    def needs_check(self, url: str, task_id: str | None) -> tuple[str, int] | None:
        """The (host, port) whose addresses must be checked, or None when the URL is allowed
        as it is. Refuses what no address check can allow."""
        scheme, host, port = _origin(url)
        if scheme not in ("http", "https") or not host:
            rule = "must be an http(s) URL"
        elif self.allow_private or (scheme, host, port) in self.trusted:
            return None
        elif scheme != "https":
            rule = "must be https (http only with allow_private_downloads=True)"
        else:
            assert port is not None
            return host, port
        error = _refuse("audioUrl", rule, url, "format")
        error.task_id = task_id
        raise error


def refused_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def _lookup(action: Resolve) -> Resolved:
    try:
        found = socket.getaddrinfo(action.host, action.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        return Resolved((), f"cannot resolve {action.host}: {exc}")
    return Resolved(tuple(str(info[4][0]) for info in found))


def _start_lookup(action: Resolve) -> tuple[threading.Thread, list[Resolved]]:
    # getaddrinfo has no timeout of its own: it runs in a daemon thread that may be abandoned
    # (neither a thread pool's worker nor an event loop's shutdown waits for it).
    answer: list[Resolved] = []
    worker = threading.Thread(target=lambda: answer.append(_lookup(action)), daemon=True)
    worker.start()
    return worker, answer


def _timed_out(action: Resolve) -> Resolved:
    return Resolved((), f"cannot resolve {action.host}: timed out")


def resolve(action: Resolve) -> Resolved:
    """Every address of a host within the action's timeout (the sync driver's half)."""
    worker, answer = _start_lookup(action)
    worker.join(action.timeout)
    return answer[0] if answer else _timed_out(action)


async def aresolve(action: Resolve) -> Resolved:
    """Every address of a host within the action's timeout, awaited (the async driver's half;
    any event loop httpx runs on)."""
    import anyio  # httpx's own dependency

    worker, answer = _start_lookup(action)
    with anyio.move_on_after(action.timeout):
        while worker.is_alive():
            await anyio.sleep(0.005)
    return answer[0] if answer else _timed_out(action)


# -- a download ----------------------------------------------------------------------------------


@attrs.frozen
class _Redirect:
    location: str


# First bytes of the audio formats KIE and its CDNs serve (and FakeKie's WAV).
def _is_audio(head: bytes) -> bool:
    return (
        head.startswith((b"ID3", b"fLaC", b"OggS", b"FORM"))
        or (head.startswith(b"RIFF") and head[8:12] == b"WAVE")
        or head[4:8] == b"ftyp"
        or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0)  # MPEG/AAC frame
    )


_AUDIO_TYPES = ("audio/", "video/", "application/octet-stream", "binary/octet-stream")


def _header_problem(response: httpx.Response) -> str | None:
    kind = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind and not kind.startswith(_AUDIO_TYPES) and kind != "application/ogg":
        return f"the answer is not audio (Content-Type {kind[:60]})"
    framed = (
        "content-length" in response.headers
        or "chunked" in response.headers.get("transfer-encoding", "").lower()
        or not response.http_version.startswith("HTTP/1")
    )
    if not framed:
        # Without a length or chunks, a connection cut looks exactly like the end.
        return "the answer has no Content-Length and is not chunked: its end cannot be verified"
    return None


class Sink:
    """Where a download's bytes go: a temporary file beside the destination, kept under a new
    name only when it is complete, non-empty audio. Used by the drivers while streaming."""

    def __init__(self, dest: Path) -> None:
        self.dest = dest
        self.saved: Path | None = None
        self.problem: str | None = None

    @contextlib.contextmanager
    def receiving(self, response: httpx.Response) -> Iterator[_Part]:
        self.problem = _header_problem(response)
        part = _Part(self.dest, refused=self.problem is not None)
        try:
            yield part
            if self.problem is None:
                self.problem = part.problem(response)
            if self.problem is None:
                self.saved = part.keep()
        finally:
            part.discard()


class _Part:
    def __init__(self, dest: Path, *, refused: bool) -> None:
        self.dest = dest
        self.size = 0
        self.head = b""
        self.not_audio = False
        self.path: Path | None = None
        self._handle: IO[bytes] | None = None
        if not refused:
            # os.open applies the umask (mkstemp would make it 0600).
            name = dest.parent / f".part-{secrets.token_hex(8)}-{dest.name}"
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
            fd = os.open(name, flags, 0o666)
            self._handle, self.path = os.fdopen(fd, "wb"), name

    def write(self, chunk: bytes) -> bool:
        """Write a chunk; False when the stream should stop (its first bytes are not audio)."""
        if self._handle is None or self.not_audio:
            return False
        if len(self.head) < _SNIFF:
            self.head += chunk[: _SNIFF - len(self.head)]
            if len(self.head) >= _SNIFF and not _is_audio(self.head):
                self.not_audio = True
                return False
        self._handle.write(chunk)
        self.size += len(chunk)
        return True

    def problem(self, response: httpx.Response) -> str | None:
        if self.not_audio or (self.size and not _is_audio(self.head)):
            return "the answer is not audio (its first bytes are no audio format)"
        if self.size == 0:
            return "the answer is empty (0 bytes)"
        expected = response.headers.get("content-length", "")
        # A body the caller's transport had read whole (httpx.MockTransport's) counts no
        # bytes as downloaded in httpx: then what was written is what arrived.
        received = response.num_bytes_downloaded or self.size
        if expected.isdigit() and received != int(expected):
            return f"the answer is truncated ({received} of {expected} bytes)"
        return None

    def keep(self) -> Path:
        """Move the complete file to its destination, or the next free name: never over a file."""
        assert self._handle is not None and self.path is not None
        self._handle.close()
        stem, suffix = self.dest.stem, self.dest.suffix
        for n in range(1, 1000):
            target = self.dest if n == 1 else self.dest.with_name(f"{stem}-{n}{suffix}")
            try:
                os.link(self.path, target)
            except FileExistsError:
                continue
            except OSError:  # no hard links here: check, then rename
                if target.exists():
                    continue
                os.replace(self.path, target)
            return target
        raise OSError(f"no free name for {self.dest}")

    def discard(self) -> None:
        if self._handle is not None:
            self._handle.close()
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def download_operation(
    core: ClientCore, url: str, sink: Sink, task_id: str | None
) -> Operation[Path | _Redirect]:
    # Result files live on a CDN: never send the API key there. Redirects are followed by
    # download_flow, which checks every hop.
    kwargs = {
        "method": "GET",
        "url": url,
        "headers": core._headers(),
        "follow_redirects": False,
    }
    return Operation(
        name=f"GET {urlsplit(url).path or '/'} (download)",
        open=lambda: contextlib.nullcontext(kwargs),
        parse=lambda reply: _parse_download(reply, url, sink, task_id),
        rate_limited=False,
        task_id=task_id,
        stream_to=sink,
        operation="download",
        method="GET",
        url=safe_url(url),
        authenticated=False,
    )


def _parse_download(reply: Reply, url: str, sink: Sink, task_id: str | None) -> Path | _Redirect:
    location = reply.headers.get("location")
    if reply.status in (301, 302, 303, 307, 308) and location:
        return _Redirect(urljoin(url, location))
    if 200 <= reply.status <= 299:
        if sink.saved is not None:
            return sink.saved
        raise APIError(
            f"download: {sink.problem or 'nothing was saved'}",
            code=reply.status,
            http_status=reply.status,
            task_id=task_id,
        )
    # An error page from the file host: no envelope, so the HTTP status decides.
    read_envelope(reply.status, reply.content, reply.headers, operation="download", task_id=task_id)
    raise APIError(
        f"download: unexpected HTTP {reply.status}",
        code=reply.status,
        http_status=reply.status,
        task_id=task_id,
    )


def download_flow(
    core: ClientCore,
    policy: DownloadPolicy,
    url: str,
    dest: Path,
    task_id: str | None,
    request_timeout: float | httpx.Timeout | None,
) -> Flow[Path]:
    """Download one track to `dest` (or the next free name), checking every redirect hop."""
    sink = Sink(dest)
    for _ in range(_MAX_REDIRECTS + 1):
        target = policy.needs_check(url, task_id)
        if target is not None:
            # A name lookup is part of connecting: it gets the connect timeout.
            connect = core._timeout(request_timeout).connect or 5.0
            resolved = yield Resolve(*target, timeout=connect)
            assert isinstance(resolved, Resolved)
            if resolved.error is not None or not resolved.addresses:
                raise APIConnectionError(
                    f"download: {resolved.error or f'no address for {target[0]}'}",
                    request_may_have_arrived=False,
                    task_id=task_id,
                )
            bad = sorted({a for a in resolved.addresses if refused_address(a)})
            if bad:
                raise InvalidRequestError(
                    f"audio_url (audioUrl): must be on a public address, got {url} at "
                    f"{', '.join(bad)[:200]} "
                    "(private, loopback and link-local hosts need allow_private_downloads=True)",
                    field="audioUrl",
                    rule="public address",
                    task_id=task_id,
                )
        result = yield from core.call(download_operation(core, url, sink, task_id), request_timeout)
        if isinstance(result, Path):
            return result
        url = result.location
    raise APIError(f"download: more than {_MAX_REDIRECTS} redirects", task_id=task_id)
