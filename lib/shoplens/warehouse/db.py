"""The DuckDB warehouse: open (path, ":memory:" or a connection), migrate, upsert, read.

Reports open it read-only, so many can run at once. Writes go through `transaction()`, so a failed
load leaves the warehouse as it was. No HTTP here.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd

from shoplens.errors import WarehouseError
from shoplens.warehouse import facts
from shoplens.warehouse.results import Results
from shoplens.warehouse.schema import MIGRATIONS, MONEY, TABLE_KEYS, TRACED_TABLES


_CAST = {
    "str": "{c}",
    "int": "{c}",
    "bool": "{c}",
    "time": "to_timestamp({c})",
    "date": "CAST({c} AS DATE)",
    "money": "CAST({c} AS " + MONEY + ")",
    "decimal": "CAST({c} AS DECIMAL(18, 6))",
    "now": "now()",
}


def _plain(value, kind: str):
    """A record's value as the Python type its kind's SQL cast reads (`_CAST`): ints for times and ints,
    text for decimals (never through a float), dates and strings."""
    if value is None:
        return None
    if kind in ("time", "int"):
        return int(value)
    if kind in ("str", "money", "decimal", "date"):
        return str(value)
    return value


@dataclass(frozen=True)
class RawPage:
    """One archived API page: which run fetched it, and where it lies in the raw archive."""

    run_id: str
    seq: int
    shop_id: str
    resource: str
    #: the archive file, relative to the archive folder (data/raw)
    file: str
    #: its line in that file, from 1
    line: int
    fetched_at: datetime


class Warehouse:
    """A DuckDB database holding the synced shops' data."""

    def __init__(self, target: str | Path | duckdb.DuckDBPyConnection = ":memory:", *,
                 read_only: bool = False) -> None:
        self.read_only = read_only
        self._results: Results | None = None
        if isinstance(target, duckdb.DuckDBPyConnection):
            self.path = None
            self.con = target
        else:
            self.path = None if str(target) == ":memory:" else Path(target)
            if self.path is not None and read_only and not self.path.exists():
                raise WarehouseError(f"no warehouse at {self.path}: run `shoplens sync` first "
                                     "(or set SHOPLENS_HOME to the workspace that has one)")
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            for attempt in range(5):
                try:
                    if read_only and self.path is not None:  # a report: may share results with its batch
                        self.con, self._results = Results.around_open(
                            self.path, lambda: duckdb.connect(str(target), read_only=True))
                    else:
                        self.con = duckdb.connect(str(target), read_only=read_only)
                    break
                except duckdb.IOException as exc:
                    # a reader that resolved the published link just as a publish took the file it named
                    if read_only and "lock" in str(exc).lower() and attempt < 4:
                        time.sleep(0.05)
                        continue
                    raise WarehouseError(f"cannot open the warehouse {target}: {exc}") from exc
        self.con.execute("SET TimeZone = 'UTC'")
        self._page: RawPage | None = None
        self._facts_current: bool | None = None
        self._shop_ids: list[str] | None = None
        if not read_only:
            self.migrate()
        elif missing := self.pending_migrations():
            raise WarehouseError(f"the warehouse {target} lacks schema migration(s) {', '.join(map(str, missing))} "
                                 "that this shoplens needs: run `shoplens sync` to migrate it")

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- schema ------------------------------------------------------------------------------
    def _has_migrations_table(self) -> bool:
        # duckdb_tables(), not information_schema: the first query a report kernel runs, a third cheaper
        return bool(self.con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'schema_migrations'").fetchone()[0])

    def schema_version(self) -> int:
        if not self._has_migrations_table():
            return 0
        return self.con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0]

    def pending_migrations(self) -> list[int]:
        """The numbers of the migrations not applied yet, in order."""
        exists = self._has_migrations_table()
        applied = {row[0] for row in self.rows("SELECT version FROM schema_migrations")} if exists else set()
        return sorted(version for version, _, _ in MIGRATIONS if version not in applied)

    def migrate(self) -> None:
        """Apply every migration not yet applied, each in its own transaction, by number.

        Numbers need not be contiguous nor arrive in order: a migration is applied when its number is
        not recorded, so one numbered below a migration already applied (written on another branch) still
        runs.
        """
        self.con.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                         "description VARCHAR, applied_at TIMESTAMPTZ DEFAULT now())")
        pending = set(self.pending_migrations())
        for version, description, sql in sorted(MIGRATIONS, key=lambda migration: migration[0]):
            if version not in pending:
                continue
            with self.transaction():
                self.con.execute(sql)
                self.con.execute("INSERT INTO schema_migrations (version, description) VALUES (?, ?)",
                                 [version, description])

    def refresh_facts(self, *, incremental: bool = False) -> str:
        """Bring the derived fact tables up to date (after every load): rebuilt whole, or with `incremental`
        only what the keys recorded since the last refresh reach (`shoplens.warehouse.facts`). Returns
        'full', 'incremental' or 'current'. Writers that load through `upsert` (and `facts.mark`) may ask
        for incremental; rows written with SQL of one's own need the full rebuild."""
        return facts.refresh(self, incremental=incremental)

    def shop_ids(self) -> list[str]:
        """The synced shops' ids, sorted; read once per read-only connection (as `facts_are_current`)."""
        if self.read_only and self._shop_ids is not None:
            return self._shop_ids
        ids = [row[0] for row in self.rows("SELECT shop_id FROM shops ORDER BY shop_id")]
        self._shop_ids = ids if self.read_only else None
        return ids

    def facts_are_current(self) -> bool:
        """Whether the fact tables hold every order and line item, and the rollups every fact (a cheap
        check, not a full diff). Asked once per read-only connection: nothing changes what it reads (a
        published replica is never written while open, and a lock keeps writers off a file read-only
        connections hold)."""
        if self.read_only and self._facts_current is not None:
            return self._facts_current
        current = self.con.execute(
            "SELECT (SELECT count(*) FROM orders) = (SELECT count(*) FROM order_facts) AND "
            "(SELECT count(*) FROM order_line_items) = (SELECT count(*) FROM line_item_facts) AND "
            "(SELECT count(*) FROM order_facts) = (SELECT coalesce(sum(n), 0) FROM order_rollup) AND "
            "(SELECT count(*) FROM line_item_facts) = (SELECT coalesce(sum(n), 0) FROM line_item_rollup)"
        ).fetchone()[0]
        self._facts_current = current if self.read_only else None
        return current

    # --- writing -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """BEGIN ... COMMIT, or ROLLBACK on any exception."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield self.con
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    @contextlib.contextmanager
    def loading_page(self, page: RawPage) -> Iterator[None]:
        """Record `page` in raw_pages and stamp it on every traced row upserted meanwhile; call inside
        `transaction()`, so the page and its rows land together."""
        # a replay loads a page again: delete, then insert (INSERT OR REPLACE costs more, see `upsert`)
        self.con.execute("DELETE FROM raw_pages WHERE run_id = ? AND seq = ?", [page.run_id, page.seq])
        self.con.execute("INSERT INTO raw_pages VALUES (?, ?, ?, ?, ?, ?, ?)",
                         [page.run_id, page.seq, page.shop_id, page.resource, page.file, page.line, page.fetched_at])
        self._page = page
        try:
            yield
        finally:
            self._page = None

    def upsert(self, table: str, records: list[dict], columns: dict[str, str]) -> tuple[int, int]:
        """Insert or replace `records` into `table`; call inside `transaction()`. Returns (inserted, updated).

        `columns` maps each column to its kind: "str", "int", "bool", "time" (Unix seconds -> TIMESTAMPTZ),
        "date" (ISO date), "money" or "decimal" (decimal string -> DECIMAL, never through a float) or "now".
        The table's primary key decides what is replaced; records repeating a key keep the last one.
        "Updated" counts only rows whose content changed: a record re-read unchanged counts in neither.
        Inside `loading_page()`, rows of a traced table also get that page (not part of their content).
        """
        if not records:
            return 0, 0
        key = list(TABLE_KEYS[table])
        content = [c for c, kind in columns.items() if kind != "now"]
        rows = list({tuple(r.get(k) for k in key): r for r in records}.values())  # a repeated key: the last
        # the batch as a temp table, a typed list per column unnested together (no DataFrame: ~3 ms less a page)
        lists = [[_plain(r.get(c), columns[c]) for r in rows] for c in content]
        self.con.execute("CREATE OR REPLACE TEMP TABLE _batch AS SELECT "
                         + ", ".join(f"unnest(${n + 1}) AS {c}" for n, c in enumerate(content)), lists)
        select = ", ".join(_CAST[kind].format(c=c) for c, kind in columns.items())
        join = " AND ".join(f"t.{k} = {_CAST[columns[k]].format(c='b.' + k)}" for k in key)
        cast_content = ", ".join(_CAST[columns[c]].format(c=c) for c in content)
        insert, params = list(columns), []
        if self._page is not None and table in TRACED_TABLES:
            insert += ["page_run", "page_seq"]
            select += ", CAST(? AS VARCHAR), CAST(? AS INTEGER)"
            params = [self._page.run_id, self._page.seq]
        if len(key) == 1 and columns[key[0]] == "str":
            # the rows there now for the batch's keys, deleted through the primary key's index (one pass;
            # a join would read the whole key column, the cost of the history), then the batch inserted:
            # INSERT OR REPLACE costs a fixed ~0.15 s a statement on millions of rows (bench/incremental.py)
            old = self.con.execute(f"DELETE FROM {table} WHERE list_contains(?, {key[0]}) RETURNING "
                                   f"{', '.join(content)}", [lists[content.index(key[0])]]).fetchall()
            new = self.con.execute(f"SELECT {cast_content} FROM _batch").fetchall() if old else []
            existing, same = len(old), len(set(old) & set(new))
            self.con.execute(f"INSERT INTO {table} ({', '.join(insert)}) SELECT {select} FROM _batch", params)
        else:
            current = f"SELECT {', '.join('t.' + c for c in content)} FROM {table} t SEMI JOIN _batch b ON {join}"
            existing, same = self.con.execute(
                f"WITH cur AS ({current}) SELECT (SELECT count(*) FROM cur), (SELECT count(*) FROM "
                f"(SELECT {cast_content} FROM _batch INTERSECT SELECT * FROM cur))").fetchone()
            self.con.execute(f"INSERT OR REPLACE INTO {table} ({', '.join(insert)}) SELECT {select} FROM _batch",
                             params)
        self._mark_facts(table, rows, changed=len(rows) - same)
        return len(rows) - existing, existing - same

    def _mark_facts(self, table: str, rows: list[dict], *, changed: int) -> None:
        """Record the keys whose derived facts this write makes stale (`shoplens.warehouse.facts`)."""
        if table in facts.TRACKED:
            kind, cols = facts.TRACKED[table]
            facts.mark(self.con, kind, (facts.key(*(r.get(c) for c in cols)) for r in rows))
        elif table in facts.TRACKED_IF_CHANGED and changed:
            facts.mark_full(self.con)

    # --- reading -----------------------------------------------------------------------------
    def rows(self, sql: str, params: Sequence | dict | None = None) -> list[tuple]:
        run = lambda: self.con.execute(sql, params or []).fetchall()  # noqa: E731
        return run() if self._results is None else self._results.get_or_run("rows", sql, params, run)

    def frame(self, sql: str, params: Sequence | dict | None = None) -> pd.DataFrame:
        """A query's result as a DataFrame, DECIMAL values kept as `decimal.Decimal`."""
        def run() -> pd.DataFrame:
            cursor = self.con.execute(sql, params or [])
            columns = [d[0] for d in cursor.description]
            return pd.DataFrame(cursor.fetchall(), columns=columns)

        return run() if self._results is None else self._results.get_or_run("frame", sql, params, run)

    def count(self, table: str) -> int:
        return self.con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
