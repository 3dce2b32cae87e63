"""Data-quality signals for a report's shop(s) and period, read from the warehouse: freshness per shop
and resource, sync gaps and failing syncs, anomalies in the watched metrics, authorization problems.

Metric values come only through `shoplens.metrics.query(..., by=["shop", "day"])`: this module writes
no KPI SQL. Its own SQL reads sync metadata (`sync_runs`, `sync_state`) and which days the daily
analytics tables have rows for. It only reads, so it runs on a report's read-only warehouse.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd

from shoplens.metrics import Policies, default_catalogue, parse_period, query
from shoplens.metrics.catalogue import AnomalyRule
from shoplens.quality.anomalies import detect_anomalies
from shoplens.quality.authorization import authorization_problems
from shoplens.warehouse import Warehouse

#: the sync resources each metric source reads (names as in `shoplens.sync.resources` and `ad_spend`)
SOURCE_RESOURCES: dict[str, tuple[str, ...]] = {
    "orders": ("orders",),
    "line_items": ("orders",),
    "refunds": ("returns",),
    "affiliate": ("affiliate_orders",),
    "ads": ("ad_spend",),
    "shop_analytics": ("shop_performance",),
    "content_analytics": ("shop_performance",),
    "videos": ("video_performance",),
    "lives": ("live_performance",),
}
#: daily resources checked for days without rows, and the table that holds their days
DAILY_TABLES = {"shop_performance": "shop_daily", "product_performance": "product_daily",
                "video_performance": "video_daily", "ad_spend": "ad_campaign_daily"}
#: orders have no daily table: a day has orders when this metric is above zero (shop-local days)
ORDERS_PRESENCE_METRIC = "placed_orders"
#: a run of days without data is a gap when at least this share of the `GAP_WINDOW` days before it
#: (and at least `GAP_MIN_HISTORY` of them) had data: the resource normally has data every day
GAP_WINDOW = 28
GAP_MIN_HISTORY = 7
GAP_NORMAL_SHARE = 0.9

FRESHNESS_COLUMNS = ["shop_id", "shop", "resource", "last_ok", "last_status", "last_error", "covered_until",
                     "latest_available", "stale"]
GAP_COLUMNS = ["shop_id", "shop", "resource", "day"]
FAILURE_COLUMNS = ["shop_id", "shop", "resource", "failed_runs", "failing_since", "last_ok", "error"]
ANOMALY_COLUMNS = ["shop_id", "shop", "metric", "day", "kind", "value", "expected", "deviation", "change",
                   "threshold", "currency"]


@dataclass(frozen=True)
class Signals:
    """Every data-quality signal for one scope; each table has its columns even when empty."""

    shop: str | None
    period: tuple[date, date]
    freshness: pd.DataFrame
    gaps: pd.DataFrame
    failures: pd.DataFrame
    anomalies: pd.DataFrame
    authorization: pd.DataFrame

    def __repr__(self) -> str:  # a notebook cell ending in ctx.quality() shows one line, not six tables
        return (f"Signals(shop={self.shop!r}, period={self.period[0]}..{self.period[1]}, issues={self.issues}: "
                f"{len(self.stale)} stale, {len(self.failures)} failing, {len(self.gaps)} gap days, "
                f"{len(self.anomalies)} anomalies, {len(self.authorization)} authorization)")

    @property
    def stale(self) -> pd.DataFrame:
        """The freshness rows whose data ends before the period does."""
        return self.freshness[self.freshness.stale]

    @property
    def issues(self) -> int:
        return len(self.stale) + len(self.gaps) + len(self.failures) + len(self.anomalies) + len(self.authorization)

    @property
    def clean(self) -> bool:
        return self.issues == 0


def quality_signals(warehouse: Warehouse, *, period, shop: str | None = None, metrics: Sequence[str] | None = None,
                    policies: Policies | None = None, now: datetime | None = None) -> Signals:
    """All signals for `shop` (None: every shop) and `period` (local dates, both included); anomalies
    for `metrics` (default: every metric the catalogue watches) on the report's `policies`."""
    start, end = parse_period(period)
    fresh = resource_freshness(warehouse, shop=shop, period_end=end)
    return Signals(shop, (start, end), fresh,
                   sync_gaps(warehouse, period=(start, end), shop=shop, freshness=fresh),
                   failed_syncs(warehouse, shop=shop),
                   metric_anomalies(warehouse, period=(start, end), shop=shop, metrics=metrics, policies=policies),
                   authorization_problems(warehouse, shop=shop, now=now))


def watched_metrics() -> list[str]:
    """The metrics the catalogue gives an anomaly rule, in catalogue order."""
    return [m.id for m in default_catalogue().metrics if m.anomaly is not None]


# --- freshness ------------------------------------------------------------------------------------
def resource_freshness(warehouse: Warehouse, *, shop: str | None = None,
                       period_end: date | None = None) -> pd.DataFrame:
    """One row per shop and synced resource: the last successful sync, the last run's status and error,
    the last shop-local day the data covers completely, the API's latest available analytics day, and
    `stale`: the data ends before `period_end` (or no run ever succeeded)."""
    rows = warehouse.rows("""
        WITH runs AS (
            SELECT shop_id, resource, max(finished_at) FILTER (WHERE status = 'ok') AS last_ok,
                   arg_max(status, finished_at) AS last_status, arg_max(error, finished_at) AS last_error
            FROM sync_runs WHERE shop_id = $1 OR $1 IS NULL GROUP BY ALL
        )
        SELECT r.shop_id, coalesce(s.name, r.shop_id), s.timezone, r.resource, r.last_ok, r.last_status,
               r.last_error, st.cursor, st.latest_available
        FROM runs r LEFT JOIN sync_state st USING (shop_id, resource) LEFT JOIN shops s USING (shop_id)
        ORDER BY 2, 1, 4
    """, [shop])
    out = []
    for shop_id, name, tz, resource, last_ok, status, error, cursor, latest in rows:
        covered = _covered_until(cursor, tz)
        stale = last_ok is None or covered is None or (period_end is not None and covered < period_end)
        out.append([shop_id, name, resource, last_ok, status, error, covered, latest, stale])
    return pd.DataFrame(out, columns=FRESHNESS_COLUMNS).astype({"stale": bool})


def _cursor_end(cursor: str | None) -> datetime | date | None:
    """A saved cursor's exclusive end: an instant (Unix seconds) or a shop-local date."""
    if not cursor:
        return None
    if cursor.isdigit():
        return datetime.fromtimestamp(int(cursor), UTC)
    return date.fromisoformat(cursor)


def _covered_until(cursor: str | None, tz: str | None) -> date | None:
    """The last shop-local day before the cursor's (exclusive) end: the last day loaded completely."""
    end = _cursor_end(cursor)
    if end is None:
        return None
    if isinstance(end, datetime):
        end = end.astimezone(ZoneInfo(tz or "UTC")).date()
    return end - timedelta(days=1)


# --- sync gaps and failures --------------------------------------------------------------------------
def failed_syncs(warehouse: Warehouse, *, shop: str | None = None) -> pd.DataFrame:
    """One row per shop and resource whose runs failed since its last successful one: how many, since
    when, and the latest error. The saved state does not move on a failure, so the next good run fills
    the hole; until then the data ends where the last good run left it."""
    rows = warehouse.rows("""
        WITH runs AS (SELECT * FROM sync_runs WHERE shop_id = $1 OR $1 IS NULL),
        good AS (SELECT shop_id, resource, max(finished_at) FILTER (WHERE status = 'ok') AS last_ok
                 FROM runs GROUP BY ALL)
        SELECT r.shop_id, coalesce(any_value(s.name), r.shop_id), r.resource, count(*), min(r.started_at),
               any_value(g.last_ok), arg_max(r.error, r.finished_at)
        FROM runs r JOIN good g USING (shop_id, resource) LEFT JOIN shops s USING (shop_id)
        WHERE r.status <> 'ok' AND (g.last_ok IS NULL OR r.finished_at > g.last_ok)
        GROUP BY r.shop_id, r.resource ORDER BY 2, 1, 3
    """, [shop])
    return pd.DataFrame([list(r) for r in rows], columns=FAILURE_COLUMNS)


def sync_gaps(warehouse: Warehouse, *, period, shop: str | None = None,
              freshness: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per day of `period` on which a resource that normally has data every day has none,
    although the sync says it covered that day (see `GAP_NORMAL_SHARE`)."""
    start, end = parse_period(period)
    fresh = resource_freshness(warehouse, shop=shop, period_end=end) if freshness is None else freshness
    covered = {(r.shop_id, r.resource): r.covered_until for r in fresh.itertuples() if pd.notna(r.covered_until)}
    names = dict(zip(fresh.shop_id, fresh.shop))
    first = start - timedelta(days=GAP_WINDOW)
    present: dict[tuple[str, str], set[date]] = {}
    for resource, table in DAILY_TABLES.items():
        for shop_id, day in warehouse.rows(f"SELECT DISTINCT shop_id, date FROM {table} WHERE (shop_id = $1 OR "
                                           "$1 IS NULL) AND date BETWEEN $2 AND $3", [shop, first, end]):
            present.setdefault((shop_id, resource), set()).add(day)
    if any(resource == "orders" for _, resource in covered):
        frame = query([ORDERS_PRESENCE_METRIC], by=["shop", "day"], period=(first, end), shop=shop,
                      policies=Policies(timezone="shop"), warehouse=warehouse)
        for shop_id, day, n in zip(frame["shop"], frame["day"], frame[ORDERS_PRESENCE_METRIC]):
            if n:
                present.setdefault((shop_id, "orders"), set()).add(day)
    rows = []
    for (shop_id, resource), days in sorted(present.items()):
        last = covered.get((shop_id, resource))
        if last is None:
            continue  # never completed a window: a freshness problem, not a gap
        for day in _missing_days(days, min(days), min(last, end)):
            if day >= start:
                rows.append([shop_id, names.get(shop_id, shop_id), resource, day])
    return pd.DataFrame(rows, columns=GAP_COLUMNS)


def _missing_days(present: set[date], first: date, last: date) -> list[date]:
    """Days in [first, last] without data, in runs that follow a history with data nearly every day."""
    missing, day = [], first
    while day <= last:
        if day in present:
            day += timedelta(days=1)
            continue
        run_end = day
        while run_end + timedelta(days=1) <= last and run_end + timedelta(days=1) not in present:
            run_end += timedelta(days=1)
        history = [day - timedelta(days=k) for k in range(1, GAP_WINDOW + 1) if day - timedelta(days=k) >= first]
        with_data = sum(d in present for d in history)
        if len(history) >= GAP_MIN_HISTORY and with_data >= GAP_NORMAL_SHARE * len(history):
            missing += [day + timedelta(days=k) for k in range((run_end - day).days + 1)]
        day = run_end + timedelta(days=1)
    return missing


# --- anomalies --------------------------------------------------------------------------------------
def metric_anomalies(warehouse: Warehouse, *, period, shop: str | None = None, metrics: Sequence[str] | None = None,
                     policies: Policies | None = None) -> pd.DataFrame:
    """One row per shop, metric and day of `period` flagged by `detect_anomalies` with the metric's
    catalogue rule (defaults for a metric without one). Each series runs from `window` days before the
    period; days before the metric's first non-zero value (nothing to compare yet) and days its sources
    have not been synced completely for (not yet known) are left out rather than read as zeros."""
    start, end = parse_period(period)
    policies = policies or Policies()
    catalogue = default_catalogue()
    ids = list(dict.fromkeys(metrics if metrics is not None else watched_metrics()))
    if not ids:
        return pd.DataFrame(columns=ANOMALY_COLUMNS)
    rules = {m: catalogue.get(m).anomaly or AnomalyRule() for m in ids}
    first = start - timedelta(days=max(rule.window for rule in rules.values()))
    frame = query(ids, by=["shop", "day"], period=(first, end), shop=shop, policies=policies, warehouse=warehouse)
    cursors = _cursors(warehouse, shop)
    zones = dict(warehouse.rows("SELECT shop_id, timezone FROM shops"))
    names = dict(warehouse.rows("SELECT shop_id, name FROM shops"))
    keys = ["shop", "currency"] if "currency" in frame.columns else ["shop"]
    rows = []
    for key, group in frame.groupby(keys, sort=True):
        shop_id, currency = (key[0], key[1]) if len(keys) == 2 else (key[0], None)
        group = group.set_index("day").sort_index()
        zone = ZoneInfo(zones.get(shop_id, "UTC") if policies.timezone == "shop" else policies.timezone)
        for metric_id in ids:
            rule = rules[metric_id]
            known = _known_until(catalogue, metric_id, shop_id, cursors, zone)
            series = _prepared(group[metric_id], known)
            for a in detect_anomalies(series, window=rule.window, min_history=rule.min_history,
                                      threshold=rule.threshold, zero_alarm=rule.zero_alarm, floor=rule.floor,
                                      since=start):
                if a.day <= end:
                    rows.append([shop_id, names.get(shop_id, shop_id), metric_id, a.day, a.kind,
                                 group[metric_id].loc[a.day], a.expected, a.deviation, a.change, rule.threshold,
                                 currency if catalogue.get(metric_id).unit == "money" else None])
    return pd.DataFrame(rows, columns=ANOMALY_COLUMNS)


def metric_known_until(warehouse: Warehouse, metric_id: str, shop_id: str, timezone: str = "shop") -> date | None:
    """The last reporting day (in `timezone`, or the shop's own zone for "shop") through which every source
    of `metric_id` has been synced for `shop_id`: None when one never was, `date.max` when no sync feeds it
    (data loaded from files). Alerts use it so that data not synced yet is not read as a zero."""
    zone = ZoneInfo(dict(warehouse.rows("SELECT shop_id, timezone FROM shops")).get(shop_id, "UTC")
                    if timezone == "shop" else timezone)
    return _known_until(default_catalogue(), metric_id, shop_id, _cursors(warehouse, shop_id), zone)


def _cursors(warehouse: Warehouse, shop: str | None) -> dict[tuple[str, str], datetime | date]:
    rows = warehouse.rows("SELECT shop_id, resource, cursor FROM sync_state WHERE shop_id = $1 OR $1 IS NULL", [shop])
    return {(shop_id, resource): _cursor_end(cursor) for shop_id, resource, cursor in rows}


def _known_until(catalogue, metric_id: str, shop_id: str, cursors: dict, zone: ZoneInfo) -> date | None:
    """The last reporting day every source of the metric has been synced through (None: never; no limit
    for a source no sync feeds, such as data loaded from files)."""
    last = date.max
    for base in catalogue.base_metrics(metric_id):
        for resource in SOURCE_RESOURCES.get(base.source, ()):
            end = cursors.get((shop_id, resource))
            if end is None:
                return None
            # an instant cursor falls inside a reporting day: the day before it is the last complete one;
            # a date cursor is an exclusive shop-local end, and analytics dates are used as they are
            local = end.astimezone(zone).date() if isinstance(end, datetime) else end
            day = local - timedelta(days=1)
            last = min(last, day)
    return last


def _prepared(values: pd.Series, known: date | None) -> pd.Series:
    """Floats by day; NaN before the first non-zero value and after the last day known."""
    out = pd.Series([math.nan if v is None else float(v) for v in values], index=values.index, dtype=float)
    if known is None:
        return out * math.nan
    started = (out.fillna(0) != 0).cummax()
    return out.where(started & (out.index.to_series() <= known).to_numpy())


__all__ = ["ANOMALY_COLUMNS", "DAILY_TABLES", "FAILURE_COLUMNS", "FRESHNESS_COLUMNS", "GAP_COLUMNS",
           "SOURCE_RESOURCES", "Signals", "failed_syncs", "metric_anomalies", "metric_known_until", "quality_signals", "resource_freshness",
           "sync_gaps", "watched_metrics"]
