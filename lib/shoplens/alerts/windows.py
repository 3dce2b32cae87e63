"""Alert windows: which local days a rule looks at, and the previous comparable days.

Windows are counted in local days (each shop's own zone by default) from "today" at the time of the
check:
- `today`: today so far (partial);
- `yesterday`: the day before today;
- `last_N_days` (N from 1 to 366): the N complete days before today;
- `week_to_date`: the complete days of this ISO week so far (Monday to yesterday; on a Monday, all of
  last week);
- `month_to_date`: the same for the calendar month (on the 1st, all of last month);
- `last_week`, `last_month`: the last complete ISO week or calendar month.

The comparable window for a change is the one just before with the same length; for a week or a
month window, the same days of the week or month before; `compare_to = "last_week"` shifts any window
by seven days instead (yesterday against the same weekday a week earlier).

Pure date arithmetic: no I/O.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

_LAST_N = re.compile(r"last_(\d{1,3})_days")
NAMES = ("today", "yesterday", "last_N_days", "week_to_date", "month_to_date", "last_week", "last_month")


def parse_window(name) -> str:
    """The window name, checked; ValueError names the choices."""
    if name in ("today", "yesterday", "week_to_date", "month_to_date", "last_week", "last_month"):
        return name
    match = _LAST_N.fullmatch(str(name))
    if match and 1 <= int(match.group(1)) <= 366:
        return name
    raise ValueError(f"{name!r} is not a window; use today, yesterday, last_7_days (any N from 1 to 366), "
                     "week_to_date, month_to_date, last_week or last_month")


def window_days(name: str, today: date) -> tuple[date, date]:
    """(first, last) local days of the window, both included."""
    yesterday = today - timedelta(days=1)
    if name == "today":
        return today, today
    if name == "yesterday":
        return yesterday, yesterday
    if match := _LAST_N.fullmatch(name):
        return today - timedelta(days=int(match.group(1))), yesterday
    if name == "week_to_date":
        monday = today - timedelta(days=today.weekday())
        return (monday - timedelta(days=7), monday - timedelta(days=1)) if today == monday else (monday, yesterday)
    if name == "last_week":
        monday = today - timedelta(days=today.weekday())
        return monday - timedelta(days=7), monday - timedelta(days=1)
    first = today.replace(day=1)
    if name == "month_to_date" and today != first:
        return first, yesterday
    if name in ("month_to_date", "last_month"):
        last = first - timedelta(days=1)
        return last.replace(day=1), last
    raise ValueError(parse_window(name))


def comparable(name: str, days: tuple[date, date], compare_to: str = "previous") -> tuple[date, date]:
    """The window a change is measured against (see the module docstring)."""
    start, end = days
    if compare_to == "last_week" or name in ("week_to_date", "last_week"):
        return start - timedelta(days=7), end - timedelta(days=7)
    if name in ("month_to_date", "last_month"):
        before_end = start - timedelta(days=1)
        before_start = before_end.replace(day=1)
        last = min(before_end, before_start + (end - start))
        return before_start, last
    length = (end - start).days + 1
    return start - timedelta(days=length), end - timedelta(days=length)


def describe(name: str, days: tuple[date, date], lang: str) -> str:
    """'2026-11-09 – 2026-11-15 (last 7 days)' in `lang`."""
    label = _label(name, lang)
    return f"{span(days)} ({label})" if lang == "en" else f"{span(days)}（{label}）"


def span(days: tuple[date, date]) -> str:
    """'2026-11-15', or '2026-11-09 – 2026-11-15'."""
    return days[0].isoformat() if days[0] == days[1] else f"{days[0].isoformat()} – {days[1].isoformat()}"


def _label(name: str, lang: str) -> str:
    zh = lang == "zh"
    fixed = {"today": ("today so far", "今日截至目前"), "yesterday": ("yesterday", "昨日"),
             "week_to_date": ("this week so far", "本周至今"), "month_to_date": ("this month so far", "本月至今"),
             "last_week": ("last week", "上周"), "last_month": ("last month", "上月")}
    if name in fixed:
        return fixed[name][zh]
    n = int(_LAST_N.fullmatch(name).group(1))
    return f"近 {n} 天" if zh else (f"last {n} days" if n != 1 else "last day")
