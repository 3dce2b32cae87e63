"""The click log: append-only JSON-lines files that the redirect server writes and `links load` reads.

A `shoplens.journal.Journal` named `clicks-*.jsonl` (durability, group commit and file rotation are
described there): `await ClickLog.append(record)` returns only once the click's line is on disk, and
the server sends the redirect only after that.

Must never: write a line it has not been given whole, acknowledge a click before its write returns,
or open the warehouse.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from shoplens import journal
from shoplens.errors import LinkError
from shoplens.journal import MAX_BYTES, Chunk, encode_record

PREFIX = "clicks"
PATTERN = f"{PREFIX}-*.jsonl"
encode_click = encode_record


class ClickLog(journal.Journal):
    """A group-committing writer of click lines: `start()`, `await append(record)`, `close()`."""

    def __init__(self, directory: Path, *, max_bytes: int = MAX_BYTES,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(directory, prefix=PREFIX, error=LinkError, what="click log", max_bytes=max_bytes,
                         clock=clock)


def _is_click(record: dict) -> bool:
    return bool(record.get("click_id") and record.get("code"))


def log_files(directory: Path) -> list[Path]:
    return journal.journal_files(directory, PREFIX)


def read_complete_lines(path: Path, start: int = 0) -> Chunk:
    """Clicks of the complete lines after byte `start`; a last line without its newline is left for later."""
    return journal.read_complete_lines(path, start, valid=_is_click)


def iter_chunks(directory: Path, offsets: dict[str, int]) -> Iterator[Chunk]:
    """One chunk per log file that grew since `offsets` (file name -> bytes already loaded)."""
    return journal.iter_chunks(directory, PREFIX, offsets, valid=_is_click)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")
