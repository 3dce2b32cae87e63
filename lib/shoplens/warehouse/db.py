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
from shoplens.warehouse.temp import take


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
        self.record_pages([page])
        self._page = page
        try:
            yield
        finally:
            self._page = None

    @property
    def page(self) -> RawPage | None:
        """The page `loading_page()` is loading, if any."""
        return self._page

    def record_pages(self, pages: Sequence[RawPage]) -> None:
        """Record `pages` in raw_pages, one statement per run (a replay loads a page again: delete, then
        insert; INSERT OR REPLACE costs more, see `upsert`)."""
        for run_id in dict.fromkeys(p.run_id for p in pages):
            mine = [p for p in pages if p.run_id == run_id]
            self.con.execute("DELETE FROM raw_pages WHERE run_id = ? AND list_contains(?, seq)",
                             [run_id, [p.seq for p in mine]])
            self.con.execute("INSERT INTO raw_pages SELECT " + ", ".join(f"unnest(${n + 1})" for n in range(7)),
                             [list(c) for c in zip(*((p.run_id, p.seq, p.shop_id, p.resource, p.file, p.line,
                                                      p.fetched_at) for p in mine), strict=True)])

    def upsert(self, table: str, records: list[dict], columns: dict[str, str]) -> tuple[int, int]:
        """Insert or replace `records` into `table`; call inside `transaction()`. Returns (inserted, updated).

        `columns` maps each column to its kind: "str", "int", "bool", "time" (Unix seconds -> TIMESTAMPTZ),
        "date" (ISO date), "money" or "decimal" (decimal string -> DECIMAL, never through a float) or "now".
        The table's primary key decides what is replaced; records repeating a key keep the last one.
        "Updated" counts only rows whose content changed: a record re-read unchanged counts in neither.
        Inside `loading_page()`, rows of a traced table also get that page (not part of their content).
        """
        return self.upsert_pages(table, [(self._page, records)], columns)[0]

    def upsert_pages(self, table: str, parts: Sequence[tuple[RawPage | None, list[dict]]],
                     columns: dict[str, str]) -> list[tuple[int, int]]:
        """`upsert` of several pages' records at once, each row of a traced table stamped with its own page;
        (inserted, updated) per page. One statement per step for all of them when the table's key is one
        text column and no key repeats across pages (the pages of one writer group: each statement on a
        table of millions costs a few ms whatever its size); otherwise page after page, as `upsert`."""
        key = list(TABLE_KEYS[table])
        parts = [(page, list({tuple(r.get(k) for k in key): r for r in records}.values()))  # a repeated key:
                 for page, records in parts]                                              # the last
        keys = [tuple(r.get(k) for k in key) for _, rows in parts for r in rows]
        if len(parts) > 1 and (len(key) > 1 or columns[key[0]] != "str" or len(set(keys)) < len(keys)):
            return [self.upsert_pages(table, [part], columns)[0] for part in parts]
        rows = [r for _, part_rows in parts for r in part_rows]
        if not rows:
            return [(0, 0)] * len(parts)
        content = [c for c, kind in columns.items() if kind != "now"]
        # the batch as a temp table, a typed list per column unnested together (no DataFrame: ~3 ms less a page)
        lists = [[_plain(r.get(c), columns[c]) for r in rows] for c in content]
        lists.append([n for n, (_, part_rows) in enumerate(parts) for _ in part_rows])
        self.con.execute("CREATE OR REPLACE TEMP TABLE _batch AS SELECT "
                         + ", ".join(f"unnest(${n + 1}) AS {c}" for n, c in enumerate([*content, "_part"])), lists)
        select = ", ".join(_CAST[kind].format(c=c) for c, kind in columns.items())
        cast_content = ", ".join(_CAST[columns[c]].format(c=c) for c in content)
        insert, params = list(columns), []
        if table in TRACED_TABLES and any(page is not None for page, _ in parts):
            insert += ["page_run", "page_seq"]
            select += ", CAST(list_extract(?, _part + 1) AS VARCHAR), CAST(list_extract(?, _part + 1) AS INTEGER)"
            params = [[page and page.run_id for page, _ in parts], [page and page.seq for page, _ in parts]]
        if len(key) == 1 and columns[key[0]] == "str":
            # the rows there now for the batch's keys, moved out through the primary key's index (one pass;
            # a join would read the whole key column, the cost of the history), compared with the batch in
            # SQL, then the batch inserted: INSERT OR REPLACE costs a fixed ~0.15 s a statement on millions
            # of rows (bench/incremental.py)
            existing, same = [0] * len(parts), [0] * len(parts)
            if take(self.con, "_replaced", table, f"list_contains(?, {key[0]})", [lists[content.index(key[0])]],
                    ", ".join(content)):
                alike = " AND ".join(f"o.{c} IS NOT DISTINCT FROM {_CAST[columns[c]].format(c='b.' + c)}"
                                     for c in content)
                for part, there, unchanged in self.con.execute(
                        f"SELECT b._part, count(*), count(*) FILTER ({alike}) FROM _batch b JOIN _replaced o "
                        f"ON o.{key[0]} = b.{key[0]} GROUP BY b._part").fetchall():
                    existing[part], same[part] = there, unchanged
            self.con.execute(f"INSERT INTO {table} ({', '.join(insert)}) SELECT {select} FROM _batch", params)
        else:
            join = " AND ".join(f"t.{k} = {_CAST[columns[k]].format(c='b.' + k)}" for k in key)
            current = f"SELECT {', '.join('t.' + c for c in content)} FROM {table} t SEMI JOIN _batch b ON {join}"
            there, unchanged = self.con.execute(
                f"WITH cur AS ({current}) SELECT (SELECT count(*) FROM cur), (SELECT count(*) FROM "
                f"(SELECT {cast_content} FROM _batch INTERSECT SELECT * FROM cur))").fetchone()
            existing, same = [there], [unchanged]  # one page: pages are upserted one by one on this path
            self.con.execute(f"INSERT OR REPLACE INTO {table} ({', '.join(insert)}) SELECT {select} FROM _batch",
                             params)
        self._mark_facts(table, rows, changed=len(rows) - sum(same))
        return [(len(part_rows) - e, e - s) for (_, part_rows), e, s in zip(parts, existing, same, strict=True)]

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
