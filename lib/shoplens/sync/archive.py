"""The raw archive: every page the API returned, before it is loaded, as gzip JSON lines under
`data/raw/<shop_id>/<resource>/<YYYY-MM-DD>.jsonl.gz` (the UTC day it was fetched).

Appends are separate gzip members, flushed and fsynced before the page is loaded, so the archive
is never behind the warehouse. A process killed mid-append leaves a torn member; reading skips it.
Records hold the request's own parameters and the response `data`, never credentials (the
signing parameters and tokens are not part of either).

Each page has one line; its place is (file relative to the archive folder, line from 1 among the
file's complete records). `zcat FILE | sed -n LINEp` shows the same line unless a write was torn.
The warehouse keeps that place for every page it loaded (`raw_pages`), so a figure can be traced
back to the page each of its records came from.
"""

from __future__ import annotations

import gzip
import json
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from shoplens.warehouse import RawPage

#: where the archive lives in a workspace
ARCHIVE_DIR = Path("data") / "raw"

#: (size, lines) of each archive file this process counted or appended to. A file only grows by appends, so
#: while its size is the one recorded, so is its count: a sync's first page of a file does not read the
#: file again (a day's file holds every run of that day; re-reading it cost 0.25 s at the day's 8th sync and
#: 0.88 s at its 24th, for 35 pages of 100 orders: docs/sync.md)
_COUNTED: dict[Path, tuple[int, int]] = {}

#: request parameters that never reach the archive
_PRIVATE = {"app_key", "app_secret", "sign", "timestamp", "access_token", "shop_cipher", "auth_code",
            "refresh_token"}


def _json_default(value):
    if isinstance(value, Decimal):
        return format(value, "f")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"cannot archive {type(value).__name__}")


@dataclass
class RawArchive:
    root: Path

    def append(self, *, shop_id: str, resource: str, run_id: str, seq: int, params: dict | None, body: dict | None,
               tag: str | None, data: dict, window_end: str | None, final: bool) -> RawPage:
        """Write one page durably; returns where it went (file and line)."""
        fetched = datetime.now(UTC)
        path = self.root / shop_id / resource / f"{fetched.date().isoformat()}.jsonl.gz"
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {"fetched_at": fetched.isoformat(), "run_id": run_id, "seq": seq, "shop_id": shop_id,
                  "resource": resource, "tag": tag, "window_end": window_end, "final": final,
                  "request": {"params": {k: v for k, v in (params or {}).items() if k not in _PRIVATE},
                              "body": body},
                  "data": data}
        line = json.dumps(record, ensure_ascii=False, default=_json_default, separators=(",", ":")) + "\n"
        member = gzip.compress(line.encode("utf-8"))
        number = _line_count(path) + 1  # one thread appends to a file at a time: a shop's pages go in order
        with open(path, "ab") as handle:
            handle.write(member)
            handle.flush()
            os.fsync(handle.fileno())
            _COUNTED[path] = (handle.tell(), number)
        return RawPage(run_id, seq, shop_id, resource, path.relative_to(self.root).as_posix(), number, fetched)

    def pages(self) -> list[tuple[RawPage, dict]]:
        """Every archived page with its place, in fetch order (run, then sequence within the run)."""
        found = []
        for path in sorted(self.root.glob("*/*/*.jsonl.gz")):
            file = path.relative_to(self.root).as_posix()
            found += [(RawPage(r["run_id"], r["seq"], r["shop_id"], r["resource"], file, line,
                               datetime.fromisoformat(r["fetched_at"])), r)
                      for line, r in enumerate(_read_members(path), start=1)]
        found.sort(key=lambda pair: (pair[0].run_id, pair[0].seq))  # run ids sort chronologically
        return found

    def records(self) -> Iterator[dict]:
        """Every archived page's record in fetch order."""
        return iter([record for _, record in self.pages()])

    def read_line(self, file: str, line: int) -> dict:
        """The record at `line` (from 1) of `file` (relative to the archive folder)."""
        path = self.root / file
        if not path.is_file() or path.resolve().parent.parent.parent != self.root.resolve():
            raise FileNotFoundError(f"no archive file {file} under {self.root}")
        records = _read_members(path)
        if not 1 <= line <= len(records):
            raise IndexError(f"{file} has {len(records)} lines, not {line}")
        return records[line - 1]


_MAGIC = b"\x1f\x8b\x08"


def _line_count(path: Path) -> int:
    """How many records `_read_members` finds in `path`, read only when this process has not counted the file
    at its present size. Counted without parsing: a complete member passed its CRC, so its line is the JSON
    that was written."""
    size = path.stat().st_size if path.exists() else 0
    counted = _COUNTED.get(path)
    if counted is not None and counted[0] == size:
        return counted[1]
    lines = sum(len(text.splitlines()) for text in _member_texts(path.read_bytes())) if size else 0
    _COUNTED[path] = (size, lines)
    return lines


def _read_members(path: Path) -> list[dict]:
    """Records of one file. A member torn by a killed process is skipped: later runs append after it,
    so reading resumes at the next gzip header."""
    records = []
    for text in _member_texts(path.read_bytes()):
        try:
            records.extend(json.loads(line) for line in text.splitlines())
        except ValueError:
            pass  # a member cut exactly at a line end: the page was never loaded either
    return records


def _member_texts(raw: bytes) -> Iterator[str]:
    """The text of each complete gzip member of `raw`, in order."""
    offset = 0
    while offset < len(raw):
        decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            text = decoder.decompress(raw[offset:])
            complete = decoder.eof
        except zlib.error:
            complete = False
        if not complete:
            offset = raw.find(_MAGIC, offset + 1)
            if offset < 0:
                break
            continue
        offset = len(raw) - len(decoder.unused_data)
        try:
            yield text.decode("utf-8")
        except UnicodeDecodeError:
            continue
