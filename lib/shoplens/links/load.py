"""Load clicks into the warehouse: the redirect server's click log, or a CSV of clicks from elsewhere.

Both are idempotent. A logged click keeps the id the server gave it; an imported click's id is a hash
of its row (code, time, visitor, buyer, and which repeat of an identical row it is), so loading the
same file or log again inserts nothing. The log is read from where the last load stopped
(`link_click_files`), complete lines only. Callers wrap this in `workspace_writer`; a bad CSV row
refuses the whole file, naming row and column.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from hashlib import sha256
from pathlib import Path

import pandas as pd

from shoplens.errors import LinkError
from shoplens.links.clicklog import iter_chunks
from shoplens.warehouse.db import Warehouse

CLICK_COLUMNS = ("click_id", "code", "clicked_at", "visitor_id", "buyer_id", "ip_hash", "is_bot", "device",
                 "referrer_host", "source")
CSV_REQUIRED = ("code", "time", "visitor_id")
CSV_OPTIONAL = ("buyer_id",)
_MAX_ID = 128


@dataclass
class LoadResult:
    """What a load did: clicks read, clicks new to the warehouse, files read, unreadable lines skipped."""

    read: int = 0
    inserted: int = 0
    files: int = 0
    unreadable: int = 0


def load_click_log(warehouse: Warehouse, directory: Path) -> LoadResult:
    """Every complete line the log gained since the last load, in one transaction."""
    result = LoadResult()
    if not Path(directory).is_dir():
        return result
    offsets = dict(warehouse.rows("SELECT file, loaded_bytes FROM link_click_files"))
    with warehouse.transaction() as con:
        for chunk in iter_chunks(Path(directory), offsets):
            result.files += 1
            result.read += len(chunk.records)
            result.unreadable += chunk.unreadable
            result.inserted += _insert(warehouse, [{**r, "source": "redirect"} for r in chunk.records])
            con.execute("INSERT OR REPLACE INTO link_click_files VALUES (?, ?, now())",
                        [chunk.file, chunk.end]).fetchall()
    return result


def parse_click_csv(text: str, name: str, codes: set[str]) -> list[dict]:
    """Click rows of a CSV with columns code, time, visitor_id (and optionally buyer_id)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = {_column(c): c for c in reader.fieldnames or []}
    missing = [c for c in CSV_REQUIRED if c not in header]
    if missing:
        raise LinkError(f"{name}: missing column(s) {', '.join(missing)}; the header must be "
                        f"{','.join(CSV_REQUIRED)}[,buyer_id]")
    source = f"import:{Path(name).name}"
    seen: Counter = Counter()
    records = []
    for row_number, row in enumerate(reader, start=2):
        values = {c: (row.get(header[c]) or "").strip() for c in (*CSV_REQUIRED, *CSV_OPTIONAL) if c in header}
        if not any(values.values()):
            continue
        code = values["code"]
        if code not in codes:
            raise LinkError(f"{name}: row {row_number}, column code: {code!r} is not a link in the registry "
                            "(`shoplens links list` shows them)")
        clicked = _parse_time(values["time"], name, row_number)
        visitor = values["visitor_id"]
        if not visitor or len(visitor) > _MAX_ID:
            raise LinkError(f"{name}: row {row_number}, column visitor_id: give an id of 1 to {_MAX_ID} characters")
        buyer = values.get("buyer_id") or None
        if buyer and len(buyer) > _MAX_ID:
            raise LinkError(f"{name}: row {row_number}, column buyer_id: longer than {_MAX_ID} characters")
        key = "\x1f".join((code, clicked.isoformat(), visitor, buyer or ""))
        seen[key] += 1
        click_id = "imp-" + sha256(f"{key}\x1f{seen[key]}".encode()).hexdigest()[:24]
        records.append({"click_id": click_id, "code": code, "clicked_at": clicked.isoformat(), "visitor_id": visitor,
                        "buyer_id": buyer, "ip_hash": None, "is_bot": False, "device": None, "referrer_host": None,
                        "source": source})
    if not records:
        raise LinkError(f"{name}: the file has no clicks")
    return records


def load_click_csv(warehouse: Warehouse, text: str, name: str) -> LoadResult:
    """Import a CSV of clicks; the whole file or nothing."""
    codes = {r[0] for r in warehouse.rows("SELECT code FROM links")}
    records = parse_click_csv(text, name, codes)
    with warehouse.transaction():
        inserted = _insert(warehouse, records)
    return LoadResult(read=len(records), inserted=inserted, files=1)


def _insert(warehouse: Warehouse, records: list[dict]) -> int:
    if not records:
        return 0
    frame = pd.DataFrame.from_records(records, columns=list(CLICK_COLUMNS))
    frame = frame.astype({c: "string" for c in CLICK_COLUMNS if c != "is_bot"} | {"is_bot": "boolean"})
    con = warehouse.con
    con.register("click_batch", frame)
    try:
        inserted = con.execute(f"INSERT OR IGNORE INTO link_clicks ({', '.join(CLICK_COLUMNS)}) "
                               "SELECT click_id, code, CAST(clicked_at AS TIMESTAMPTZ), visitor_id, buyer_id, ip_hash, "
                               "coalesce(is_bot, false), device, referrer_host, source FROM click_batch").fetchall()
    finally:
        con.unregister("click_batch")
    return inserted[0][0]


def _column(name: str) -> str:
    return re.sub(r"[\s-]+", "_", name.strip().lower())


def _parse_time(value: str, name: str, row_number: int) -> datetime:
    """ISO 8601 (a time without an offset is UTC) or Unix seconds."""
    try:
        if re.fullmatch(r"\d{9,11}(\.\d+)?", value):
            return datetime.fromtimestamp(float(value), UTC)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        raise LinkError(f"{name}: row {row_number}, column time: {value!r} is not a time like "
                        "2026-11-15T20:31:07+07:00 or Unix seconds") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
