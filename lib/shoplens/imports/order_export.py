"""One Seller Center "All orders" export -> export_orders and export_line_items records, validated whole.

Every row is read and every problem collected before anything is returned: a file is either entirely
readable or refused with an `ExportFileError` naming its first problem (file, spreadsheet row,
column) and how many more there are. Order-level amounts repeat on each SKU row of their order; they
must agree and count once. This module reads no warehouse and writes nothing.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from shoplens.errors import ExportFileError, ShoplensError
from shoplens.imports.formats import (API_STATUSES, COUNTRY_REGION, LANGUAGE_NAMES, ORDER_COLUMNS, Column,
                                      normalize, status_of)
from shoplens.imports.parse import (DATE_FORMATS, CellError, date_parts, detect_date_format, parse_amount,
                                    parse_id, parse_int, parse_local_time, read_table)

#: --date-format spellings -> DMY, MDY or YMD
DATE_FORMAT_NAMES = {"DMY": "DMY", "DD/MM/YYYY": "DMY", "MDY": "MDY", "MM/DD/YYYY": "MDY", "YMD": "YMD",
                     "YYYY-MM-DD": "YMD", "YYYY/MM/DD": "YMD"}


@dataclass(frozen=True)
class ShopInfo:
    """What reading a shop's export needs to know about the shop."""

    shop_id: str
    region: str
    currency: str
    timezone: str
    minor_digits: int


@dataclass
class ExportFile:
    """A parsed export: its records, ready to load."""

    name: str
    sha256: str
    date_format: str
    rows: int
    orders: list[dict]
    lines: list[dict]
    #: order id -> the spreadsheet row where it first appears, for messages
    first_rows: dict[str, int]


def date_format_option(value: str | None) -> str | None:
    """The --date-format value as DMY, MDY or YMD; None passes through."""
    if value is None:
        return None
    key = value.strip().upper()
    if key not in DATE_FORMAT_NAMES:
        raise ShoplensError(f"--date-format {value!r}: use DMY (day first, 15/11/2026) or MDY (month first, "
                            "11/15/2026)")
    return DATE_FORMAT_NAMES[key]


def read_order_export(path: Path, data: bytes, shop: ShopInfo, *, date_format: str | None = None,
                      status_words: dict[str, str] | None = None) -> ExportFile:
    """Parse and validate one order export (CSV or XLSX bytes) for `shop`."""
    name = path.name
    try:
        table = read_table(path, data)
    except CellError as exc:
        raise ExportFileError(str(exc), file=name) from None
    index = _column_index(table.header, name)
    rows = table.rows
    if rows and rows[0][0] == 2 and _is_description(rows[0][1], index["order_id"]):
        rows = rows[1:]  # some exports explain each column in row 2
    if not rows:
        raise ExportFileError("the file has no order rows", file=name)
    fmt = date_format or _detect(rows, index, name)
    return _Reader(name, shop, fmt, index, table.header, status_words or {}).read(rows, hashlib.sha256(data).hexdigest())


def _column_index(header: list[str], name: str) -> dict[str, int]:
    position = {}
    for i, text in enumerate(header):
        position.setdefault(normalize(text), i)
    index, missing = {}, []
    for col in ORDER_COLUMNS:
        found = next((position[normalize(h)] for h in (col.header, *col.aliases) if normalize(h) in position), None)
        if found is not None:
            index[col.field] = found
        elif col.required:
            missing.append(col.header)
    if missing:
        raise ExportFileError(f"missing column(s) {', '.join(missing)}; shoplens reads Seller Center's order export "
                              "(Orders > Manage orders > Export, CSV or XLSX) with its header row as downloaded "
                              "(docs/imports.md)", file=name, row=1, column=", ".join(missing))
    return index


def _is_description(cells: list, at: int) -> bool:
    text = str(cells[at]).strip() if at < len(cells) else ""
    return " " in text and bool(re.search(r"[^\W\d_]", text))


def _detect(rows: list[tuple[int, list]], index: dict[str, int], name: str) -> str:
    time_fields = [c.field for c in ORDER_COLUMNS if c.kind == "time" and c.field in index]
    samples = [(number, str(cells[index[f]]).strip()) for number, cells in rows for f in time_fields
               if index[f] < len(cells) and isinstance(cells[index[f]], str) and cells[index[f]].strip()]
    try:
        found = detect_date_format([text for _, text in samples])
    except CellError as exc:
        raise ExportFileError(f"{exc}; give --date-format DMY or MDY", file=name) from None
    if found:
        return found
    example = next((text for _, text in samples if date_parts(text)), None)
    if example is None:
        return "YMD"  # no text dates at all (an XLSX with date cells): nothing to decide
    a, b, _ = date_parts(example)
    raise ExportFileError(f"every date in the file reads both day-first and month-first (e.g. {example!r}: "
                          f"{a}/{b} or {b}/{a}); say which with --date-format DMY (day first) or --date-format MDY "
                          "(month first)", file=name)


class _Reader:
    def __init__(self, name: str, shop: ShopInfo, date_format: str, index: dict[str, int], header: list[str],
                 status_words: dict[str, str]):
        self.status_words = status_words
        self.name, self.shop, self.date_format, self.index = name, shop, date_format, index
        self.tz = ZoneInfo(shop.timezone)
        self.columns = {c.field: c for c in ORDER_COLUMNS if c.field in index}
        self.header = header
        #: (row, column, message), in the order found
        self.problems: list[tuple[int, str, str]] = []

    def problem(self, row: int, field: str, message: str) -> None:
        i = self.index[field]
        self.problems.append((row, f"{self.header[i].strip()} ({_letters(i)})", message))

    def cell(self, row: int, cells: list, col: Column):
        i = self.index[col.field]
        raw = cells[i] if i < len(cells) else ""
        if isinstance(raw, str):
            raw = raw.strip()
        if raw in ("", None) or (isinstance(raw, str) and raw in ("-", "--")):
            if col.required:
                self.problem(row, col.field, "is empty; every row of the order export has it")
            return None
        try:
            if col.kind == "id":
                return parse_id(raw)
            if col.kind == "int":
                return parse_int(raw)
            if col.kind == "money":
                return parse_amount(raw, self.shop.currency, self.shop.minor_digits)
            if col.kind == "time":
                return parse_local_time(raw, self.date_format, self.tz)
            return str(raw).strip()
        except CellError as exc:
            self.problem(row, col.field, str(exc))
            return None

    def read(self, rows: list[tuple[int, list]], sha256: str) -> ExportFile:
        orders: dict[str, dict] = {}
        lines: list[dict] = []
        for number, cells in rows:
            values = {field: self.cell(number, cells, col) for field, col in self.columns.items()}
            order_id = values["order_id"]
            if order_id is None:
                continue
            order = orders.setdefault(order_id, {"_row": number, "_lines": 0})
            for field, col in self.columns.items():
                if col.order_level and values[field] is not None:
                    seen = order.setdefault(field, (values[field], number))
                    if seen[0] != values[field]:
                        self.problem(number, field, f"{values[field]} differs from row {seen[1]} ({seen[0]}): an "
                                                    "order-level value repeats on every row of its order and must "
                                                    "be the same")
            self.check_row(number, values)
            order["_lines"] += 1
            lines.append({
                "order_id": order_id, "line_no": order["_lines"], "shop_id": self.shop.shop_id,
                "sku_id": values.get("sku_id"), "seller_sku": values.get("seller_sku"),
                "product_name": values.get("product_name"), "sku_name": values.get("variation"),
                "quantity": values["quantity"], "returned_quantity": values.get("returned_quantity"),
                "unit_original_price": _text(values.get("unit_original_price")),
                "seller_discount": _text(values.get("seller_discount") or Decimal(0)),
                "platform_discount": _text(values.get("platform_discount") or Decimal(0)),
                "subtotal": _text(values["subtotal"]), "currency": self.shop.currency,
                "cancel_return_type": values.get("cancel_return_type"), "source": f"export:{self.name}",
                "source_row": number})
        if self.problems:
            (row, column, message), more = self.problems[0], len(self.problems) - 1
            extra = f" (and {more} more problem(s) in this file; nothing was imported)" if more else ""
            raise ExportFileError(message + extra, file=self.name, row=row, column=column)
        by_order: dict[str, list[dict]] = {}
        for li in lines:
            by_order.setdefault(li["order_id"], []).append(li)
        records = [self.order_record(order_id, o, by_order[order_id]) for order_id, o in orders.items()]
        return ExportFile(self.name, sha256, self.date_format, len(rows), records, lines,
                          {order_id: o["_row"] for order_id, o in orders.items()})

    def check_row(self, number: int, values: dict) -> None:
        if values.get("quantity") is not None and values["quantity"] < 1:
            self.problem(number, "quantity", f"{values['quantity']} is not a quantity of at least 1")
        label = values.get("status")
        if label is not None and status_of(label, self.status_words) is None:
            self.problem(number, "status", f"unknown order status {label!r}; shoplens knows Seller Center's labels "
                                           f"in {', '.join(LANGUAGE_NAMES.values())} (docs/imports.md lists them). "
                                           f"If it is one of the API's statuses ({', '.join(API_STATUSES)}), say "
                                           f"which: `--status '{label}=AWAITING_SHIPMENT'`, or once for the "
                                           f"workspace in shoplens.toml under [export_status_words]")
        country = values.get("country")
        if country is not None and COUNTRY_REGION.get(normalize(country), self.shop.region) != self.shop.region:
            self.problem(number, "country", f"{country!r} is not where shop {self.shop.shop_id} sells "
                                            f"({self.shop.region}): is this the export of another shop? (check --shop)")

    def order_record(self, order_id: str, o: dict, lines: list[dict]) -> dict:
        def value(field):
            return o[field][0] if field in o else None

        status_label, substatus_label = value("status"), value("substatus")
        words = self.status_words
        status, sub = status_of(status_label, words), status_of(substatus_label, words) if substatus_label else None
        # the substatus is the finer word (To ship -> Awaiting collection), except that a cancelled or
        # completed order is that whatever its substatus says
        if sub is not None and status not in ("CANCELLED", "COMPLETED") and sub != "CANCELLED":
            status = sub
        times = [value(f) for f in ("created", "paid", "rts", "shipped", "delivered", "cancelled") if value(f)]
        money = lambda field: sum((Decimal(li[field]) for li in lines), Decimal(0))  # noqa: E731
        return {
            "order_id": order_id, "shop_id": self.shop.shop_id, "status": status, "status_label": status_label,
            "substatus_label": substatus_label, "create_time": value("created"), "update_time": max(times),
            "paid_time": value("paid"), "cancel_time": value("cancelled"), "buyer_username": value("buyer"),
            "currency": self.shop.currency, "sub_total": _text(money("subtotal")),
            "shipping_fee": _text(value("shipping_fee") or Decimal(0)),
            "seller_discount": _text(money("seller_discount")), "platform_discount": _text(money("platform_discount")),
            "tax": _text(value("taxes") or Decimal(0)), "total_amount": _text(value("order_amount")),
            "refund_amount": _text(abs(value("refund_amount") or Decimal(0))), "source": f"export:{self.name}",
            "source_row": o["_row"],
        }


def _text(amount: Decimal | None) -> str | None:
    return None if amount is None else format(amount, "f")


def _letters(i: int) -> str:
    """The spreadsheet column letters of a 0-based index: 0 -> A, 26 -> AA."""
    out = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        out = chr(65 + r) + out
    return out


__all__ = ["DATE_FORMATS", "ExportFile", "ShopInfo", "date_format_option", "read_order_export"]
