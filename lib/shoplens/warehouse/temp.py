"""Temp tables a write works through: rows from Python as one statement, and rows moved out of a table.

A write that replaces rows keeps what it replaced in a temp table (the facts' refresh sums it out of the
rollups; an upsert compares it with what it brings). `take` moves them there inside DuckDB: the rows found
through the key's index with their rowid, then deleted by rowid. `DELETE ... RETURNING` brought them to
Python and `fill` sent them back: 40-90 ms more per table of millions for 2,000 orders (measured at 1M and
10M orders, `docs/sync.md`)."""

from __future__ import annotations


def temp(con, name: str, columns: str, rows: list[tuple]) -> str:
    """A temp table of `rows` (one statement: a list per column, unnested together); `columns` as DDL."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} ({columns})")
    return fill(con, name, rows)


def temp_like(con, name: str, table: str, rows: list[tuple]) -> str:
    """A temp table of `rows` with the columns of `table`."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {table} LIMIT 0")
    return fill(con, name, rows)


def fill(con, name: str, rows: list[tuple]) -> str:
    if rows:
        lists = [list(column) for column in zip(*rows, strict=True)]
        con.execute(f"INSERT INTO {name} SELECT {', '.join(f'unnest(${n + 1})' for n in range(len(lists)))}", lists)
    return name


def take(con, name: str, table: str, where: str, params=None, columns: str = "*") -> int:
    """Move the rows of `table` matching `where` (`columns` of them) into the temp table `name`, with their
    rowid as `_rid`; returns how many. The caller drops `_rid` if it wants the table's shape."""
    count = con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT rowid AS _rid, {columns} FROM {table} "
                        f"WHERE {where}", params or []).fetchone()[0]
    if count:
        con.execute(f"DELETE FROM {table} WHERE rowid IN (SELECT _rid FROM {name})")
    return count


def take_like(con, name: str, table: str, where: str, params=None) -> int:
    """`take` of whole rows, `name` left with the columns of `table` (for a UNION with it)."""
    count = take(con, name, table, where, params)
    con.execute(f"ALTER TABLE {name} DROP COLUMN _rid")
    return count
