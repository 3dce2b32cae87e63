"""Reference data loaded from files: daily FX rates (the ECB reference-rate CSV format) and unit costs.

Both load into the working warehouse under the sync lock, in one transaction, and are published like a
sync; a bad file is refused whole, with the file, row and column named.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from shoplens.errors import ConfigError
from shoplens.locks import sync_lock
from shoplens.suggest import unknown
from shoplens.warehouse.db import Warehouse
from shoplens.warehouse.publish import WorkingCopy
from shoplens.warehouse.resident import resident_for

FX_COLUMNS = {"currency": "str", "date": "date", "per_eur": "decimal", "source": "str", "loaded_at": "now"}
COST_COLUMNS = {"shop_id": "str", "sku_id": "str", "currency": "str", "unit_cost": "money", "source": "str",
                "loaded_at": "now"}
_CURRENCY = re.compile(r"[A-Z]{3}")


def parse_ecb_rates(text: str, name: str) -> list[dict]:
    """Rows of an ECB-format rates file: `Date,USD,JPY,...` then one line per day; "N/A" means no rate."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = next(reader, None)
    if not header or header[0].strip() != "Date":
        raise ConfigError(f"{name}: not an ECB reference-rate file: the first column must be `Date` "
                          "(download eurofxref-hist.csv from the ECB, or use the sandbox's /fx/eurofxref-hist.csv)")
    currencies = [c.strip() for c in header[1:]]
    for column, code in enumerate(currencies, start=2):
        if code and not _CURRENCY.fullmatch(code):
            raise ConfigError(f"{name}: column {column} header {code!r} is not a currency code such as USD")
    records = []
    for row_number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        try:
            day = date.fromisoformat(row[0].strip())
        except ValueError:
            raise ConfigError(f"{name}: row {row_number}, column Date: {row[0]!r} is not a date like 2026-11-13") from None
        for column, (code, cell) in enumerate(zip(currencies, row[1:], strict=False), start=2):
            cell = cell.strip()
            if not code or not cell or cell == "N/A":
                continue
            try:
                rate = Decimal(cell)
            except InvalidOperation:
                rate = Decimal(0)
            if not rate > 0:
                raise ConfigError(f"{name}: row {row_number}, column {code}: {cell!r} is not a positive rate")
            records.append({"currency": code, "date": day.isoformat(), "per_eur": str(rate), "source": name})
    if not records:
        raise ConfigError(f"{name}: the file has no rates")
    return records


def rates_text(data: bytes, name: str) -> str:
    """The CSV inside the ECB's eurofxref-hist.zip, or the bytes of a plain CSV, as text."""
    if data[:2] == b"PK":
        import zipfile

        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = [m for m in archive.namelist() if m.lower().endswith(".csv")]
            if len(members) != 1:
                raise ConfigError(f"{name}: expected one CSV file in the zip archive, found {len(members)}")
            data = archive.read(members[0])
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(f"{name}: not a UTF-8 text file; give the ECB CSV or its zip") from None


def parse_costs(text: str, name: str) -> list[dict]:
    """Rows of a unit-cost CSV with columns shop_id, sku_id, currency, unit_cost."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    needed = ("shop_id", "sku_id", "currency", "unit_cost")
    missing = [c for c in needed if c not in (reader.fieldnames or [])]
    if missing:
        raise ConfigError(f"{name}: missing column(s) {', '.join(missing)}; the header must be {','.join(needed)}")
    records = []
    for row_number, row in enumerate(reader, start=2):
        values = {c: (row.get(c) or "").strip() for c in needed}
        for column in needed:
            if not values[column]:
                raise ConfigError(f"{name}: row {row_number}, column {column} is empty")
        if not _CURRENCY.fullmatch(values["currency"]):
            raise ConfigError(f"{name}: row {row_number}, column currency: {values['currency']!r} is not a code "
                              "such as THB")
        try:
            cost = Decimal(values["unit_cost"])
        except InvalidOperation:
            cost = Decimal(-1)
        if cost < 0:
            raise ConfigError(f"{name}: row {row_number}, column unit_cost: {values['unit_cost']!r} is not an amount")
        records.append({**values, "unit_cost": str(cost), "source": name})
    return records


@contextlib.contextmanager
def workspace_writer(home: Path, *, refresh_facts: bool = True) -> Iterator[Warehouse]:
    """The working warehouse under the sync lock; facts refreshed and published when the block succeeds.
    `refresh_facts=False` for writes no fact depends on (alert state, webhook notifications). In a process
    that keeps the working copy open (`shoplens.warehouse.resident`), through that writer."""
    resident = resident_for(home)
    if resident is not None:
        with resident.writing(refresh_facts=refresh_facts) as warehouse:
            yield warehouse
        return
    with sync_lock(home):
        copy = WorkingCopy(home)
        warehouse = copy.open()
        try:
            yield warehouse
            if refresh_facts:
                warehouse.refresh_facts(incremental=True)  # unit costs live in the line-item facts
        finally:
            copy.close(warehouse)
        copy.publish()


def load_fx_rates(warehouse: Warehouse, text: str, name: str) -> tuple[int, int]:
    records = parse_ecb_rates(text, name)
    with warehouse.transaction():
        return warehouse.upsert("fx_rates", records, FX_COLUMNS)


def load_costs(warehouse: Warehouse, text: str, name: str) -> tuple[int, int]:
    records = parse_costs(text, name)
    known = warehouse.shop_ids()
    missing = sorted({r["shop_id"] for r in records} - set(known))
    if missing:
        raise ConfigError(f"{name}: " + unknown("shop id", missing, known, listed_by="shoplens shops",
                                               none_known="no shop is synced yet: run `shoplens sync`"))
    with warehouse.transaction():
        return warehouse.upsert("product_costs", records, COST_COLUMNS)
