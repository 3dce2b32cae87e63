"""The click log: append-only JSON-lines files that the redirect server writes and `links load` reads.

Durability: `await ClickLog.append(record)` returns only once the click's line is on disk, and the
server sends the redirect only after that. The file is opened with O_DSYNC, so a `write()` returns once
its data and the file's new size are durable (what `fdatasync()` after it gives, in one system call).

Group commit, on the event loop: the first click queued schedules a flush for the loop's next turn;
every click queued until then goes out in that flush's one `write()`, and all their requests resume
together. While the write blocks the loop, new requests wait in the kernel's socket buffers and make up
the next batch, so the batch grows with the load and a lone click waits for one disk write only. This
is Redis's `appendfsync always` design; a writer thread was measured to cost more CPU in GIL hand-offs
than the blocked loop loses (bench/links.py).

Files: `<dir>/clicks-YYYYMMDD-HHMMSS-<pid>-<hex>.jsonl`, created with O_EXCL (the directory is fsync'ed
before the first click in a new file is acknowledged). A new file starts every UTC day, past
`max_bytes`, and in every server process, so a line torn by a crash (SIGKILL, power loss) can only be
the last bytes of its file and is never appended to. Readers take complete lines only.

Must never: write a line it has not been given whole, acknowledge a click before its write returns,
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
from datetime import UTC, datetime
from pathlib import Path

from shoplens.errors import LinkError

MAX_BYTES = 64 * 1024 * 1024
PATTERN = "clicks-*.jsonl"


def encode_click(record: dict) -> bytes:
    """One click as one JSON line (UTF-8, no spaces, newline-terminated)."""
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"


class ClickLog:
    """A group-committing writer of click lines: `start()`, `await append(record)`, `close()`.

    `append` is called on one event loop (the server's); `close` writes anything still queued.
    """

    def __init__(self, directory: Path, *, max_bytes: int = MAX_BYTES,
                 clock: Callable[[], float] = time.time) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self._clock = clock
        self._lines: list[bytes] = []
        self._futures: list[asyncio.Future] = []
        self._open = False
        self._fd: int | None = None
        self._day = ""
        self._size = 0
        self.path: Path | None = None
        #: counters for the bench: flushes done and lines written
        self.commits = 0
        self.written = 0

    def start(self) -> ClickLog:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._open = True
        return self

    async def append(self, record: dict) -> None:
        """Queue one click and return once it is on disk (raises LinkError if it could not be)."""
        if not self._open:
            raise LinkError("the click log is closed")
        future = asyncio.get_running_loop().create_future()
        self._lines.append(encode_click(record))
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
            error = LinkError(f"cannot write the click log in {self.directory}: {exc.strerror or exc}")
            for future in futures:
                if not future.done():
                    future.set_exception(error)
            return
        self.commits += 1
        self.written += len(lines)
        for future in futures:
            if not future.done():  # done = cancelled: the client left; the click is logged, not acknowledged
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
        path = self.directory / f"clicks-{stamp}-{os.getpid()}-{secrets.token_hex(3)}.jsonl"
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_DSYNC, 0o600)
        directory = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(directory)  # the new name survives a crash before the first click is acknowledged
        finally:
            os.close(directory)
        self.path, self._day, self._size = path, day, 0


# --- reading ---------------------------------------------------------------------------------------------
@dataclass
class Chunk:
    """The complete lines of one log file from `start` on: records, where they end, unreadable lines."""

    file: str
    records: list[dict]
    end: int
    unreadable: int


def log_files(directory: Path) -> list[Path]:
    return sorted(Path(directory).glob(PATTERN))


def read_complete_lines(path: Path, start: int = 0) -> Chunk:
    """Records of the complete lines after byte `start`; a last line without its newline is left for later."""
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
        if isinstance(record, dict) and record.get("click_id") and record.get("code"):
            records.append(record)
        else:
            unreadable += 1
    return Chunk(path.name, records, start + cut, unreadable)


def iter_chunks(directory: Path, offsets: dict[str, int]) -> Iterator[Chunk]:
    """One chunk per log file that grew since `offsets` (file name -> bytes already loaded)."""
    for path in log_files(directory):
        start = offsets.get(path.name, 0)
        if path.stat().st_size > start:
            yield read_complete_lines(path, start)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")
