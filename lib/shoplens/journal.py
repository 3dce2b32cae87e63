"""Durable append-only JSON-lines journals with group commit, for services that must not answer before
what they were given is on disk: the redirect service's click log (`links/clicklog.py`) and the TikTok
webhook receiver's notification log (`webhooks/receiver.py`).

Durability: `await Journal.append(record)` returns only once the record's line is on disk. The file is
opened with O_DSYNC, so a `write()` returns once its data and the file's new size are durable (what
`fdatasync()` after it gives, in one system call).

Group commit, on the event loop: the first record queued schedules a flush for the loop's next turn;
every record queued until then goes out in that flush's one `write()`, and all their requests resume
together. While the write blocks the loop, new requests wait in the kernel's socket buffers and make up
the next batch, so the batch grows with the load and a lone record waits for one disk write only. This
is Redis's `appendfsync always` design; a writer thread was measured to cost more CPU in GIL hand-offs
than the blocked loop loses (bench/links.py).

Files: `<dir>/<prefix>-YYYYMMDD-HHMMSS-<pid>-<hex>.jsonl`, created with O_EXCL (the directory is fsync'ed
before the first record in a new file is acknowledged). A new file starts every UTC day, past
`max_bytes`, and in every process, so a line torn by a crash (SIGKILL, power loss) can only be the last
bytes of its file and is never appended to. Readers take complete lines only.

Must never: write a line it has not been given whole, acknowledge a record before its write returns,
or open the warehouse.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from shoplens.errors import ShoplensError

MAX_BYTES = 64 * 1024 * 1024


def encode_record(record: dict) -> bytes:
    """One record as one JSON line (UTF-8, no spaces, newline-terminated)."""
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"


class Journal:
    """A group-committing writer of JSON lines: `start()`, `await append(record)`, `close()`.

    `append` is called on one event loop (the server's); `close` writes anything still queued. A failed
    write raises `error` (a ShoplensError subclass) in every request of its batch.
    """

    def __init__(self, directory: Path, *, prefix: str, error: type[ShoplensError] = ShoplensError,
                 what: str = "journal", max_bytes: int = MAX_BYTES, clock: Callable[[], float] = time.time) -> None:
        self.directory = Path(directory)
        self.prefix = prefix
        self.max_bytes = max_bytes
        self._error, self._what = error, what
        self._clock = clock
        self._lines: list[bytes] = []
        self._futures: list[asyncio.Future] = []
        self._open = False
        self._fd: int | None = None
        self._day = ""
        self._size = 0
        self.path: Path | None = None
        #: counters for the benches: flushes done and lines written
        self.commits = 0
        self.written = 0

    def start(self):
        self.directory.mkdir(parents=True, exist_ok=True)
        self._open = True
        return self

    async def append(self, record: dict) -> None:
        """Queue one record and return once it is on disk (raises `error` if it could not be)."""
        await self.append_line(encode_record(record))

    async def append_line(self, line: bytes) -> None:
        """Queue one already-encoded, newline-terminated line; return once it is on disk."""
        if not self._open:
            raise self._error(f"the {self._what} is closed")
        future = asyncio.get_running_loop().create_future()
        self._lines.append(line)
        self._futures.append(future)
        if len(self._futures) == 1:
            future.get_loop().call_soon(self._flush)
        await future

    def close(self) -> None:
        """Write what is queued, then close the file."""
        self._flush()
        self._open = False
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _flush(self) -> None:
        if not self._lines:
            return
        lines, futures = self._lines, self._futures
        self._lines, self._futures = [], []
        try:
            self._commit(b"".join(lines))
        except OSError as exc:
            error = self._error(f"cannot write the {self._what} in {self.directory}: {exc.strerror or exc}")
            for future in futures:
                if not future.done():
                    future.set_exception(error)
            return
        self.commits += 1
        self.written += len(lines)
        for future in futures:
            if not future.done():  # done = cancelled: the client left; the line is written, not acknowledged
                future.set_result(None)

    def _commit(self, data: bytes) -> None:
        now = self._clock()
        day = time.strftime("%Y%m%d", time.gmtime(now))
        if self._fd is None or day != self._day or (self._size and self._size + len(data) > self.max_bytes):
            self._rotate(now, day)
        view = memoryview(data)
        while view:  # O_DSYNC: each write returns once its data (and the new file size) is on disk
            written = os.write(self._fd, view)
            view = view[written:]
        self._size += len(data)

    def _rotate(self, now: float, day: str) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now))
        path = self.directory / f"{self.prefix}-{stamp}-{os.getpid()}-{secrets.token_hex(3)}.jsonl"
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_DSYNC, 0o600)
        directory = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(directory)  # the new name survives a crash before the first record is acknowledged
        finally:
            os.close(directory)
        self.path, self._day, self._size = path, day, 0


# --- reading ---------------------------------------------------------------------------------------------
@dataclass
class Chunk:
    """The complete lines of one journal file from `start` on: records, where they end, unreadable lines."""

    file: str
    records: list[dict]
    end: int
    unreadable: int


def journal_files(directory: Path, prefix: str) -> list[Path]:
    """The journal's files, oldest first (their names start with the UTC time they were opened)."""
    return sorted(Path(directory).glob(f"{prefix}-*.jsonl"))


def read_complete_lines(path: Path, start: int = 0, *, valid: Callable[[dict], bool] = lambda record: True) -> Chunk:
    """Records of the complete lines after byte `start`; a last line without its newline is left for later.
    A line that is not JSON, or a record `valid` refuses, counts as unreadable."""
    with open(path, "rb") as handle:
        handle.seek(start)
        data = handle.read()
    cut = data.rfind(b"\n") + 1  # 0 when there is no complete line
    records, unreadable = [], 0
    for line in data[:cut].splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            unreadable += 1
            continue
        if isinstance(record, dict) and valid(record):
            records.append(record)
        else:
            unreadable += 1
    return Chunk(path.name, records, start + cut, unreadable)


def iter_chunks(directory: Path, prefix: str, offsets: dict[str, int], *,
                valid: Callable[[dict], bool] = lambda record: True) -> Iterator[Chunk]:
    """One chunk per journal file that grew since `offsets` (file name -> bytes already read)."""
    for path in journal_files(directory, prefix):
        start = offsets.get(path.name, 0)
        if path.stat().st_size > start:
            yield read_complete_lines(path, start, valid=valid)
