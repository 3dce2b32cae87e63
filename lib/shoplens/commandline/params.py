"""Parsing what users type into options: ISO dates and comma-separated lists."""

from __future__ import annotations

from datetime import date

from shoplens.errors import ShoplensError


def parse_date(value: str | None, option: str) -> date | None:
    """YYYY-MM-DD, or None for None; anything else names the option and the format."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ShoplensError(f"{option} {value!r} is not a date: use YYYY-MM-DD") from None


def split_list(values: list[str] | None) -> list[str]:
    """["gmv,orders", "aov"] -> ["gmv", "orders", "aov"]: repeatable options that also take commas."""
    return [v.strip() for value in values or [] for v in value.split(",") if v.strip()]
