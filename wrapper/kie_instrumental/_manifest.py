"""A batch's items, read from a folder of audio files or a CSV / JSONL manifest, and checked up
front: every row against the spec's request rules (the validator the client uses), local files
for readability, and the whole for duplicates, before anything is sent.

Manifest columns (CSV header or JSONL keys): `file` (a local path, relative to the manifest) or
`url` (a public URL), then the request's fields by their public keyword or wire name (`title`,
`tags`, `negative_tags` / `negativeTags`, `model`, `vocal_gender`, `style_weight`, ...). A
folder gives one item per audio file: its name (without extension) is the title, tags and
negative tags come from the batch's defaults.

Each item has a job key derived from what it asks for (its source as written, relative to the
manifest, and its fields), so the same manifest run again, on this machine or another, finds
the same jobs in the journal.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import attrs

from . import _spec
from ._errors import InvalidRequestError
from ._validation import field_names, python_name, request_validator

AUDIO_SUFFIXES = frozenset({".mp3", ".wav", ".m4a", ".flac", ".ogg", ".aac", ".opus", ".webm"})
# Where the request's file comes from: a local file (uploaded first) or a URL (sent as is).
FILE_COLUMN = "file"
URL_COLUMNS = ("url", "upload_url", "uploadUrl")
_SOURCE_FIELDS = frozenset({"uploadUrl", "callBackUrl"})  # set by the batch, not by a row
MAX_LISTED = 20


@attrs.frozen
class Problem:
    """One bad cell: where (`row`: 1-based data row, or the file's name for a folder), which
    column, what is wrong."""

    row: int | str
    column: str
    message: str

    def __str__(self) -> str:
        where = f"row {self.row}" if isinstance(self.row, int) else f"file {self.row}"
        return f"{where}, column {self.column}: {self.message}"


class ManifestError(InvalidRequestError):
    """The manifest has bad rows; nothing was sent. `problems` lists every one."""

    def __init__(
        self,
        message: str,
        *,
        problems: tuple[Problem, ...] = (),
        field: str | None = None,
        rule: str | None = "manifest",
        violations: tuple[dict[str, str], ...] = (),
        code: int | None = None,
        msg: str | None = None,
        http_status: int | None = None,
        task_id: str | None = None,
    ) -> None:
        super().__init__(
            message,
            field=field,
            rule=rule,
            violations=violations,
            code=code,
            msg=msg,
            http_status=http_status,
            task_id=task_id,
        )
        self.problems = problems

    @classmethod
    def of(cls, source: str, problems: list[Problem]) -> ManifestError:
        lines = [str(p) for p in problems[:MAX_LISTED]]
        if len(problems) > MAX_LISTED:
            lines.append(f"... and {len(problems) - MAX_LISTED} more")
        message = f"{source}: {len(problems)} bad row(s), nothing sent:\n  " + "\n  ".join(lines)
        column = problems[0].column if problems else None
        return cls(message, problems=tuple(problems), field=column)


@attrs.frozen
class Item:
    """One track to make. `fields` are add_instrumental's keywords except upload_url and
    callback_url; `path` is set for a local file, `url` otherwise."""

    row: int | str
    name: str  # the source as written (relative path or URL): shown and reported
    fields: Mapping[str, Any]
    path: Path | None = None
    url: str | None = None

    @property
    def key(self) -> str:
        """A job key derived from the item alone: readable start, digest of the request."""
        identity = json.dumps({"source": self.name, **self.fields}, sort_keys=True)
        digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
        stem = PurePosixPath(self.name.split("?")[0]).stem
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("._")[:40]
        return f"{slug}-{digest}" if slug else digest


@functools.cache
def _schema() -> tuple[str, Mapping[str, Any]]:
    name = _spec.request_schema_name(_spec.ADD_INSTRUMENTAL_PATH)
    return name, _spec.schema(name)


@functools.cache
def _columns() -> dict[str, str]:
    """Accepted column name -> wire name, for every request field a row may set."""
    name, _ = _schema()
    columns: dict[str, str] = {}
    for wire, keyword in field_names(name):
        if wire not in _SOURCE_FIELDS:
            columns[wire] = wire
            columns[keyword] = wire
    return columns


def _is_number(wire: str) -> bool:
    kind = _schema()[1]["properties"][wire].get("type")
    return kind in ("number", "integer") or (isinstance(kind, list) and "number" in kind)


class Manifest:
    """Items of a folder, a `.csv` or a `.jsonl` file; `check()` validates them all, `items()`
    reads them again lazily (the manifest is never held whole in memory)."""

    def __init__(self, source: str | Path, *, defaults: Mapping[str, Any] | None = None) -> None:
        self.source = Path(source)
        # Batch-wide values (public keywords) for what a row leaves empty.
        self.defaults = {k: v for k, v in (defaults or {}).items() if v is not None}
        unknown = [k for k in self.defaults if k not in _columns()]
        if unknown:
            raise InvalidRequestError(
                f"batch defaults: {unknown[0]} is not a request field a row may set",
                field=unknown[0],
                rule="manifest",
            )
        self._wire_defaults = {_columns()[k]: v for k, v in self.defaults.items()}

    def _rows(self) -> Iterator[tuple[int | str, Mapping[str, Any]]]:
        source = self.source
        if source.is_dir():
            for path in sorted(p for p in source.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES):
                name = path.relative_to(source).as_posix()
                yield name, {FILE_COLUMN: name, "title": path.stem}
            return
        suffix = source.suffix.lower()
        try:
            handle = source.open(newline="", encoding="utf-8-sig")
        except OSError as exc:
            raise InvalidRequestError(
                f"{source}: cannot read the manifest ({exc.strerror or exc})",
                field="source",
                rule="readable",
            ) from None
        with handle:
            if suffix == ".csv":
                for number, row in enumerate(csv.DictReader(handle), start=1):
                    yield number, {k: v for k, v in row.items() if k is not None}
            elif suffix in (".jsonl", ".ndjson"):
                for number, line in enumerate(handle, start=1):
                    if line.strip():
                        yield number, _json_row(line)
            else:
                raise InvalidRequestError(
                    f"{source}: a batch source is a folder, a .csv or a .jsonl file",
                    field="source",
                    rule="format",
                )

    def _item(self, row: int | str, raw: Mapping[str, Any]) -> tuple[Item | None, list[Problem]]:
        problems: list[Problem] = []
        if "__json__" in raw:
            return None, [Problem(row, "-", str(raw["__json__"]))]
        wire: dict[str, Any] = {}
        columns = _columns()
        required = set(_schema()[1].get("required", ()))
        for column, value in {**self._wire_defaults, **raw}.items():
            if column == FILE_COLUMN or column in URL_COLUMNS:
                continue
            if column not in columns:
                problems.append(Problem(row, column, "is not a column a manifest may have"))
                continue
            if value is None or value == "":
                # An empty cell takes the batch's default; a required text stays "" (then the
                # spec's rules judge it), an optional field is left out.
                value = self._wire_defaults.get(
                    columns[column], "" if columns[column] in required else None
                )
                if value is None:
                    continue
            if isinstance(value, str) and _is_number(columns[column]):
                try:
                    value = float(value)
                except ValueError:
                    problems.append(Problem(row, column, f"must be a number, got {value!r}"))
                    continue
            wire[columns[column]] = value
        for violation in request_validator(_schema()[0]).violations(wire):
            if violation.field not in _SOURCE_FIELDS:
                column = _column_name(violation.field, raw)
                problems.append(Problem(row, column, violation.message(python_names=False)))
        file_cell = raw.get(FILE_COLUMN) or None
        url_cells = [raw[c] for c in URL_COLUMNS if raw.get(c)]
        path = url = None
        if (file_cell is None) == (not url_cells):
            problems.append(Problem(row, FILE_COLUMN, "give exactly one of file or url"))
            name = str(file_cell or (url_cells[0] if url_cells else ""))
        elif file_cell is not None:
            name = PurePosixPath(str(file_cell).replace("\\", "/")).as_posix()
            base = self.source if self.source.is_dir() else self.source.parent
            path = base / name
            problem = _unreadable(path)
            if problem:
                problems.append(Problem(row, FILE_COLUMN, problem))
        else:
            name = url = str(url_cells[0])
            checked = request_validator(_schema()[0]).violations({"uploadUrl": url})
            for violation in checked:
                if violation.field == "uploadUrl":
                    problems.append(Problem(row, "url", violation.message(python_names=False)))
        if problems:
            return None, problems
        fields = {python_name(k): v for k, v in wire.items()}
        return Item(row=row, name=name, fields=fields, path=path, url=url), []

    def items(self) -> Iterator[Item]:
        """Every item, in manifest order (call `check()` first: bad rows are skipped here)."""
        for row, raw in self._rows():
            item, _ = self._item(row, raw)
            if item is not None:
                yield item

    def check(self) -> int:
        """Validate every row; return the number of items, or raise ManifestError naming each
        bad row and column (a duplicate item is one with the same source and fields)."""
        problems: list[Problem] = []
        seen: dict[str, int | str] = {}
        count = 0
        for row, raw in self._rows():
            item, found = self._item(row, raw)
            problems += found
            if item is None:
                continue
            count += 1
            first = seen.setdefault(item.key, row)
            if first != row:
                column = FILE_COLUMN if item.path is not None else "url"
                problems.append(Problem(row, column, f"duplicate of row {first} (same request)"))
        if problems:
            raise ManifestError.of(str(self.source), problems)
        if count == 0:
            raise ManifestError.of(str(self.source), [Problem(0, "-", "no items")])
        return count


def _json_row(line: str) -> Mapping[str, Any]:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        return {"__json__": f"not JSON ({exc.msg})"}
    return value if isinstance(value, dict) else {"__json__": "must be a JSON object"}


def _column_name(wire: str, raw: Mapping[str, Any]) -> str:
    """The column as the manifest spells it (wire name or keyword)."""
    keyword = python_name(wire)
    return wire if wire in raw and keyword not in raw else keyword


def _unreadable(path: Path) -> str | None:
    try:
        with path.open("rb") as handle:
            if not handle.read(1):
                return f"{path} is empty"
    except OSError as exc:
        return f"cannot read {path} ({exc.strerror or type(exc).__name__})"
    return None
