"""Tables for people, CSV or JSON for scripts: one option and one call for any command that prints rows.

A command adopts it with one parameter, `output: OutputFormat = Output.table`, and hands its rows to
`emit()`: raw values (numbers, dates, None) in dicts keyed by column, with a `show` per column for how a
person reads them. `--format table` prints rich tables (cells as plain text: platform text is never read
as markup) and their notes; `--format csv` writes the first listing with its column keys as the header;
`--format json` writes the rows (one listing) or an object of listings plus `extra` facts. Machine output
goes to stdout unwrapped, notes to stderr; it never holds a rich markup tag or a Python repr.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text


class Output(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


#: the `--format` option: `output: OutputFormat = Output.table`
OutputFormat = Annotated[Output, typer.Option("--format", case_sensitive=False,
                                              help="table (for people), csv or json (for scripts).")]


def plain(value: Any) -> Any:
    """A value as JSON holds it: exact decimals as numbers when a float keeps them, times as ISO text."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, Decimal):
        return float(value) if Decimal(repr(float(value))) == value else str(value)
    if isinstance(value, datetime) and value.tzinfo is None and value.time() == time(0):
        return value.date().isoformat()  # a day column (pandas holds days as midnight timestamps)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy and pandas scalars
        return plain(value.item())
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if value != value:  # pandas NA/NaT
        return None
    return str(value)


def _csv_cell(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)  # exactly as stored
    value = plain(value)
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (list, dict)) else value


def shown(value: Any) -> str:
    """How a table cell shows a raw value by default: empty for nothing, ISO for times."""
    value = plain(value)
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


@dataclass
class Column:
    key: str
    header: str = ""
    show: Callable[[Any], str] = shown
    justify: str = "left"
    overflow: str = "fold"
    min_width: int | None = None

    def __post_init__(self) -> None:
        self.header = self.header or self.key


@dataclass
class Listing:
    columns: list[Column]
    rows: list[dict]
    title: str | None = None
    #: its key in JSON output when a command prints several listings
    name: str = "rows"
    #: lines a person reads after the table (a count, a warning); not part of machine output
    notes: list[str] = field(default_factory=list)


def emit(output: Output, *listings: Listing, extra: dict | None = None, console: Console | None = None) -> None:
    """Print `listings` as tables, or as CSV (the first listing) or JSON for scripts (notes then go to stderr)."""
    if output is not Output.table:
        notes = Console(stderr=True)
        for note in (n for listing in listings for n in listing.notes):
            notes.print(note, markup=False, highlight=False, soft_wrap=True)
    if output is Output.csv:
        first = listings[0]
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow([c.key for c in first.columns])
        for row in first.rows:
            writer.writerow([_csv_cell(row.get(c.key)) for c in first.columns])
        return
    if output is Output.json:
        def rows_of(listing: Listing) -> list[dict]:
            return [{c.key: plain(row.get(c.key)) for c in listing.columns} for row in listing.rows]

        if len(listings) == 1 and not extra:
            data: Any = rows_of(listings[0])
        else:
            data = {listing.name: rows_of(listing) for listing in listings} | plain(extra or {})
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        return
    console = console or Console()
    for listing in listings:
        table = Table(title=Text(listing.title) if listing.title else None)
        for c in listing.columns:
            table.add_column(c.header, justify=c.justify, overflow=c.overflow, min_width=c.min_width)
        for row in listing.rows:
            table.add_row(*(Text(c.show(row.get(c.key))) for c in listing.columns))
        console.print(table, crop=False)  # a wide table wraps rather than losing columns
        for note in listing.notes:
            console.print(note, markup=False, highlight=False, soft_wrap=True)
