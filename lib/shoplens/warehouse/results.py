"""Query results shared by the reports of one batch.

A weekly batch runs every report in English and in Chinese: the two run the same queries on the same
warehouse and differ only in their words. The batch therefore gives its kernels a results folder of
its own (`SHOPLENS_RESULTS`, a private temp folder removed when the batch ends); a read-only warehouse
opened in such a kernel keeps each query's result there, keyed by the replica it reads and by the
query's SQL and parameters, and the next report that asks the same of the same replica reads it back.

Keyed by the replica, not the link: a sync may publish while a batch runs, and a report that opens the
warehouse after it reads the new data, under a new key. The key is taken around the open: the link's
target and the target's (and its log's) size and modification time before and after DuckDB opens it.
If they differ (a publish in that instant), the connection keeps nothing. Once open, no writer touches
the replica a reader holds (`shoplens.warehouse.publish`). A query that reads the clock or draws random
numbers is never kept. Outside a batch (no `SHOPLENS_RESULTS`) nothing is kept.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
from pathlib import Path

#: the environment variable naming a batch's results folder
RESULTS_ENV = "SHOPLENS_RESULTS"
_VOLATILE = re.compile(r"\b(now|current_date|current_time|current_timestamp|today|random|uuid|gen_random_uuid|"
                       r"get_current_time|get_current_timestamp|localtimestamp)\b", re.IGNORECASE)
_READ = re.compile(r"^\s*(SELECT|WITH|FROM)\b", re.IGNORECASE)


def _identity(path: Path) -> tuple | None:
    """What the file a path names is right now: its target and its (and its log's) size and time."""
    try:
        target = path.resolve(strict=True)
        stamps = []
        for part in (target, target.with_name(target.name + ".wal")):
            try:
                st = part.stat()
            except FileNotFoundError:
                stamps.append(None)
                continue
            stamps.append((st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns))
        return str(target), *stamps
    except OSError:
        return None


class Results:
    """A batch's results folder, as seen by one read-only connection to the replica `scope` names."""

    def __init__(self, folder: Path, scope: str) -> None:
        self.folder = folder
        self.scope = scope

    @classmethod
    def around_open(cls, path: Path, connect):
        """`connect()` (which opens `path`), and the results it may share: None outside a batch, for a
        file in memory, or when the file changed while it was being opened."""
        folder = os.environ.get(RESULTS_ENV)
        before = _identity(path) if folder else None
        connection = connect()
        if before is None or _identity(path) != before:
            return connection, None
        return connection, cls(Path(folder), hashlib.sha256(repr(before).encode()).hexdigest())

    def _path(self, kind: str, sql: str, params) -> Path | None:
        if _VOLATILE.search(sql) or not _READ.match(sql):
            return None
        key = hashlib.sha256(f"{self.scope}\0{kind}\0{sql}\0{params!r}".encode()).hexdigest()
        return self.folder / f"{key}.pickle"

    def get_or_run(self, kind: str, sql: str, params, run):
        """The kept result of this query, else `run()`'s, kept for the next report (written to a temp
        name and renamed: a reader never sees half of it)."""
        path = self._path(kind, sql, params)
        if path is None:
            return run()
        try:
            with open(path, "rb") as handle:
                return pickle.load(handle)
        except FileNotFoundError:
            pass
        result = run()
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as handle:
                pickle.dump(result, handle, protocol=pickle.HIGHEST_PROTOCOL)
            tmp.replace(path)
        except OSError:  # the folder is gone (the batch ended) or full: the result stands, unkept
            tmp.unlink(missing_ok=True)
        return result
