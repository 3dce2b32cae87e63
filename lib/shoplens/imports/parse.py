"""Reading export files and their cells: CSV or XLSX into rows; ids, amounts and local times.

Every function here either returns a clean value or raises `CellError` saying what is wrong with the
cell and how to fix it; the caller adds file, row and column. Money goes text -> Decimal, never through
a float. This module must never touch the warehouse or guess: an amount in another currency, a date
that could be read two ways or an id a spreadsheet has rounded is refused, not repaired.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from zoneinfo import ZoneInfo

from shoplens.imports.formats import CURRENCY_SYMBOLS


class CellError(ValueError):
    """A cell that cannot be read; the message says why and what to do."""


@dataclass
class Table:
    """A sheet as read: the header row, then (spreadsheet row number, cells) for each non-blank row."""

    header: list[str]
    rows: list[tuple[int, list]]


# --- files --------------------------------------------------------------------------------------------
def read_table(path: Path, data: bytes) -> Table:
    """The first sheet of an XLSX file, or a CSV file (UTF-8, with or without a byte-order mark)."""
    if data[:2] == b"PK":
        return _read_xlsx(path, data)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        raise CellError("not an XLSX workbook (no zip signature): download the export again")
    try:  # Excel's "Unicode text" is UTF-16 with a byte-order mark; everything else UTF-8
        text = data.decode("utf-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig")
    except UnicodeDecodeError:
        raise CellError("not UTF-8 text: give the CSV as Seller Center downloaded it, or the XLSX") from None
    text = text.lstrip("\ufeff")
    first_line = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first_line.count)
    records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    if not records:
        return Table([], [])
    # a spreadsheet shows each CSV record as one row, so record n is row n
    rows = [(number, record) for number, record in enumerate(records[1:], start=2)
            if any(str(cell).strip() for cell in record)]
    return Table([str(h) for h in records[0]], rows)


def _read_xlsx(path: Path, data: bytes) -> Table:
    import openpyxl

    with warnings.catch_warnings():  # "workbook contains no default style" and the like: harmless here
        warnings.simplefilter("ignore", UserWarning)
        try:
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a broken zip or workbook
            raise CellError(f"not a readable XLSX workbook ({type(exc).__name__}): download the export again") from exc
        try:
            sheet = book.worksheets[0]
            values = list(sheet.iter_rows(values_only=True))
        finally:
            book.close()
    if not values:
        return Table([], [])
    header = ["" if h is None else str(h) for h in values[0]]
    rows = [(number, ["" if v is None else v for v in row]) for number, row in enumerate(values[1:], start=2)
            if any(v not in (None, "") and str(v).strip() for v in row)]
    return Table(header, rows)


# --- ids and whole numbers ----------------------------------------------------------------------------
_ID = re.compile(r"[0-9A-Za-z_-]+")
_ROUNDED = "a spreadsheet stored it as a number and rounded it; use the file as downloaded (don't re-save it in Excel)"


def parse_id(value) -> str:
    """An id as text: the trailing tab Seller Center pads ids with, and spaces, removed."""
    if isinstance(value, bool):
        raise CellError(f"{value!r} is not an id")
    if isinstance(value, int):
        if len(str(abs(value))) >= 16:  # Excel keeps 15 significant digits
            raise CellError(f"{value} is too long to be exact as a number: {_ROUNDED}")
        return str(value)
    if isinstance(value, float):
        raise CellError(f"{value!r}: {_ROUNDED}")
    text = str(value).strip().strip("'\"").strip()
    if re.fullmatch(r"\d(\.\d+)?[eE]\+?\d+", text):
        raise CellError(f"{text!r} is in scientific notation: {_ROUNDED}")
    if not _ID.fullmatch(text):
        raise CellError(f"{text!r} is not an id")
    return text


def parse_int(value) -> int:
    if isinstance(value, bool):
        raise CellError(f"{value!r} is not a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = str(value).strip().replace(",", "")
    if re.fullmatch(r"-?\d+(\.0+)?", text):
        return int(Decimal(text))
    raise CellError(f"{str(value).strip()!r} is not a whole number")


# --- money --------------------------------------------------------------------------------------------
_CODE = re.compile(r"(?<![A-Za-z])([A-Z]{3})(?![A-Za-z])")
_NUMBER = re.compile(r"[0-9][0-9.,' \u00a0\u202f]*")


def parse_amount(value, currency: str, minor_digits: int) -> Decimal:
    """An amount of the shop's `currency`: '1,234.50', '฿1,234.50', 'THB 1234.5', 'Rp 149.000', '-12'.

    A currency code or symbol that does not fit `currency` is refused (a file from another shop). With
    both ',' and '.' the last is the decimal point; with one of them, it groups thousands when three
    digits follow it (for currencies without minor units such as IDR and VND also '.'), else it is the
    decimal point.
    """
    if isinstance(value, bool):
        raise CellError(f"{value!r} is not an amount")
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value))
    text = str(value).strip()
    for code in _CODE.findall(text):
        if code != currency:
            raise CellError(f"{text!r} is in {code} but the shop's currency is {currency}: is this the export of "
                            "another shop? (check --shop)")
    rest = _CODE.sub("", text)
    for symbol, currencies in sorted(CURRENCY_SYMBOLS.items(), key=lambda kv: -len(kv[0])):
        if symbol in rest:
            if currency not in currencies:
                raise CellError(f"{text!r} is in {'/'.join(currencies)} but the shop's currency is {currency}: is "
                                "this the export of another shop? (check --shop)")
            rest = rest.replace(symbol, "")
    rest = rest.strip()
    negative = rest.startswith("-") or (rest.startswith("(") and rest.endswith(")"))
    rest = rest.strip("-()+ ")
    if not _NUMBER.fullmatch(rest):
        raise CellError(f"{text!r} is not an amount (write e.g. 1,234.50 or 1234.50)")
    digits = re.sub(r"['\s\u00a0\u202f]", "", rest)
    try:
        amount = Decimal(_plain_number(digits, minor_digits))
    except (InvalidOperation, CellError):
        raise CellError(f"{text!r} is not an amount (write e.g. 1,234.50 or 1234.50)") from None
    return -amount if negative else amount


def _plain_number(digits: str, minor_digits: int) -> str:
    seps = [c for c in digits if c in ",."]
    if not seps:
        return digits
    if len(set(seps)) == 2:
        point = digits[max(digits.rfind(","), digits.rfind("."))]
        group = "," if point == "." else "."
        whole, frac = digits.rsplit(point, 1)
        if point in whole:
            raise CellError(digits)
        return _ungroup(whole, group) + "." + frac
    sep = seps[0]
    parts = digits.split(sep)
    tail = parts[-1]
    if len(parts) > 2 or (len(tail) == 3 and (sep == "," or minor_digits == 0)):
        return _ungroup(digits, sep)
    if len(tail) == 0 or len(parts[0]) == 0:
        raise CellError(digits)
    return parts[0] + "." + tail


def _ungroup(whole: str, group: str) -> str:
    parts = whole.split(group)
    if not 1 <= len(parts[0]) <= 3 or any(len(p) != 3 for p in parts[1:]):
        raise CellError(whole)
    return "".join(parts)


# --- dates and times ----------------------------------------------------------------------------------
DATE_FORMATS = ("DMY", "MDY", "YMD")
_DATE_TIME = re.compile(
    r"(?P<a>\d{1,4})[/.\-](?P<b>\d{1,2})[/.\-](?P<c>\d{1,4})"
    r"(?:[ T]+(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:\.\d+)?)?\s*(?P<ampm>[AaPp]\.?\s?[Mm]\.?|上午|下午|SA|CH)?)?")
_PM = {"pm", "p.m.", "p.m", "下午", "ch"}


def date_parts(text: str) -> tuple[int, int, int] | None:
    """The three numbers of a date-like cell, or None if it does not look like a date."""
    m = _DATE_TIME.fullmatch(text.strip())
    return None if m is None else (int(m["a"]), int(m["b"]), int(m["c"]))


def detect_date_format(samples: list[str]) -> str | None:
    """DMY, MDY or YMD from a file's date cells; None when every cell reads both ways.

    Raises CellError naming the two cells when the file mixes day-first and month-first dates.
    """
    day_first = month_first = None
    year_first = False
    for text in samples:
        parts = date_parts(text)
        if parts is None:
            continue
        a, b, _ = parts
        if a > 31:
            year_first = True
        elif a > 12:
            day_first = day_first or text
        elif b > 12:
            month_first = month_first or text
    if day_first and month_first:
        raise CellError(f"dates are written both day-first ({day_first!r}) and month-first ({month_first!r})")
    if year_first and not (day_first or month_first):
        return "YMD"
    return "DMY" if day_first else "MDY" if month_first else None


def parse_local_time(value, date_format: str, tz: ZoneInfo) -> int:
    """Unix seconds of a wall-clock time in the shop's time zone: '15/11/2026 21:05:09', '11/15/2026 9:05 PM'."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip()
        m = _DATE_TIME.fullmatch(text)
        if m is None:
            raise CellError(f"{text!r} is not a date and time like 15/11/2026 21:05:09")
        a, b, c = int(m["a"]), int(m["b"]), int(m["c"])
        if a > 31:
            year, month, day = a, b, c
        elif date_format == "DMY":
            day, month, year = a, b, c
        elif date_format == "MDY":
            month, day, year = a, b, c
        else:
            raise CellError(f"{text!r} does not start with the year, but --date-format is YMD")
        if year < 100:
            year += 2000
        hour, minute, second = int(m["h"] or 0), int(m["mi"] or 0), int(m["s"] or 0)
        if m["ampm"]:
            if not 1 <= hour <= 12:
                raise CellError(f"{text!r}: hour {hour} with AM/PM")
            hour = hour % 12 + (12 if m["ampm"].lower().replace(" ", "") in _PM else 0)
        try:
            moment = datetime(year, month, day, hour, minute, second)
        except ValueError as exc:
            hint = " (is --date-format right?)" if date_format in ("DMY", "MDY") else ""
            raise CellError(f"{text!r} is not a valid {date_format} date: {exc}{hint}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return int(moment.timestamp())
