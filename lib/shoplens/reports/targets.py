"""Team KPI targets, read from a TOML file, and attainment against them.

A target names a shop, an owner and their role (operations, ad buyer, LIVE host), a catalogue metric
and its weekly value. For a period of N days an additive metric's target is weekly × N / 7; a ratio's
(ROAS, conversion rate) is the weekly value as it is. Attainment is actual / target, or target / actual
for a metric where lower is better (refund rate).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd

from shoplens import metrics
from shoplens.errors import ReportError
from shoplens.metrics import default_catalogue

ROLES = ("operations", "ad_buyer", "live_host")
EXAMPLE = Path(__file__).resolve().parents[3] / "templates" / "targets.example.toml"


@dataclass(frozen=True)
class Target:
    shop: str
    owner: str
    role: str
    metric: str
    weekly: Decimal

    def for_days(self, days: int) -> Decimal:
        """The target over `days` days: scaled for additive metrics, as it is for ratios."""
        catalogue = default_catalogue()
        # states (stock, backlog, listings: read at the period's end) and medians do not add up over days
        additive = all(base.agg not in ("max", "min", "count_distinct", "median")
                       and catalogue.sources[base.source].time_kind != "snapshot"
                       for base in catalogue.base_metrics(self.metric)) and catalogue.get(self.metric).kind != "ratio"
        return self.weekly * days / 7 if additive else self.weekly

    def attainment(self, actual, days: int) -> float | None:
        target = float(self.for_days(days))
        if actual is None or actual != actual:
            return None
        actual = float(actual)
        if default_catalogue().get(self.metric).higher_is_better:
            return actual / target if target else None
        return target / actual if actual else None


def resolve(path: str | Path | None, home: Path | None = None) -> Path:
    """The targets file: the one given, else `targets.toml` in the workspace, else the shipped example."""
    if path:
        return Path(path)
    home = home or Path(os.environ.get("SHOPLENS_HOME", "."))
    return home / "targets.toml" if (home / "targets.toml").exists() else EXAMPLE


def scorecard(targets: list[Target], period: tuple[date, date], warehouse) -> pd.DataFrame:
    """One row per target: its period target, the actual, the attainment."""
    days = (period[1] - period[0]).days + 1
    actuals = {}
    for shop in dict.fromkeys(t.shop for t in targets):
        wanted = list(dict.fromkeys(t.metric for t in targets if t.shop == shop))
        frame = metrics.query(wanted, by=["shop"], shop=shop, period=period, warehouse=warehouse)
        row = frame.iloc[0] if len(frame) else {}
        actuals |= {(shop, m): row.get(m) for m in wanted}
    rows = []
    for t in targets:
        actual = actuals[(t.shop, t.metric)]
        rows.append({"shop": t.shop, "owner": t.owner, "role": t.role, "metric": t.metric,
                     "target": t.for_days(days), "actual": actual, "attainment": t.attainment(actual, days)})
    return pd.DataFrame(rows).sort_values(["role", "owner", "shop"], kind="stable").reset_index(drop=True)


def weekly_trend(targets: list[Target], last_day: date, warehouse, weeks: int = 4) -> pd.DataFrame:
    """Attainment of every target in each of the `weeks` ISO weeks up to the one holding `last_day`."""
    monday = last_day - timedelta(days=last_day.weekday())
    frames = []
    for back in range(weeks - 1, -1, -1):
        start = monday - timedelta(weeks=back)
        week = scorecard(targets, (start, start + timedelta(days=6)), warehouse)
        week["week"] = start
        frames.append(week)
    return pd.concat(frames, ignore_index=True)


def load_targets(path: Path, known_shops: set[str] | None = None) -> list[Target]:
    """Every target in the file, checked; a bad entry is named by its number and field. (The shipped
    example keeps only the shops this workspace has synced.)"""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ReportError(f"cannot read the targets file {path}: {exc}", notebook="kpi_scorecard.ipynb") from None
    catalogue = default_catalogue()
    targets = []
    for number, entry in enumerate(data.get("target", []), start=1):
        where = f"{path}: target {number}"
        missing = [k for k in ("shop", "owner", "role", "metric", "weekly") if k not in entry]
        if missing:
            raise ReportError(f"{where} lacks {', '.join(missing)}", notebook="kpi_scorecard.ipynb")
        if entry["role"] not in ROLES:
            raise ReportError(f"{where}: role {entry['role']!r} is not one of {', '.join(ROLES)}",
                              notebook="kpi_scorecard.ipynb")
        try:
            catalogue.get(entry["metric"])
        except Exception as exc:
            raise ReportError(f"{where}: {exc}", notebook="kpi_scorecard.ipynb") from None
        if known_shops is not None and str(entry["shop"]) not in known_shops:
            if path == EXAMPLE:
                continue
            raise ReportError(f"{where}: shop {entry['shop']!r} is not synced; synced: {', '.join(sorted(known_shops))}",
                              notebook="kpi_scorecard.ipynb")
        weekly = Decimal(str(entry["weekly"]))
        if weekly <= 0:
            raise ReportError(f"{where}: weekly must be above zero", notebook="kpi_scorecard.ipynb")
        targets.append(Target(str(entry["shop"]), str(entry["owner"]), entry["role"], entry["metric"], weekly))
    # no targets (an empty or all-commented targets.toml, as `shoplens init` writes it, or the shipped example
    # for shops this workspace lacks): the scorecard says how to set them instead of failing the weekly batch
    return targets
