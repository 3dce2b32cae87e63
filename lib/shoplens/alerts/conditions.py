"""Evaluate alert rules against the warehouse: one `Finding` per rule and subject (a shop, or a shop and
a target's owner), saying whether the condition holds, with the figures a message needs.

Metric values come only through `shoplens.metrics.query` and the data-quality signals
(`shoplens.quality`): this module writes no KPI SQL. A figure whose sources are not synced through the
window's last day is "unknown", never read as a zero (a sudden zero is more often a broken sync, which
the `sync_stale` rule reports). Reads only: it runs on the working or the published warehouse.

Must never: write to the warehouse, send anything, or read a secret.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd

from shoplens import metrics
from shoplens.alerts.rules import STOCKOUT_METRIC, Rule
from shoplens.alerts.windows import comparable, window_days
from shoplens.errors import ShoplensError
from shoplens.metrics import Policies, default_catalogue
from shoplens.quality import authorization_problems, failed_syncs, metric_anomalies, resource_freshness
from shoplens.quality.signals import metric_known_until
from shoplens.reports.context import format_value
from shoplens.warehouse import Warehouse

#: product statuses the platform gives a listing it took down or refused (TikTok Shop product statuses)
LISTING_PROBLEMS = ("FAILED", "PLATFORM_DEACTIVATED", "FREEZE")
#: at most this many products, resources or lines of detail in one message
MAX_ITEMS = 10


@dataclass
class Finding:
    """One rule's verdict for one subject. `state`: "firing", "ok" or "unknown" (with `reason`).

    Figures are kept as numbers for the state table and as text (`shown`, `limit_shown` ...) in the
    units a person reads; `items` are platform text (product titles, errors) a channel must escape.
    """

    rule: Rule
    subject: str
    shop_id: str | None
    shop_name: str | None
    state: str
    shown: str = ""
    limit_shown: str = ""
    days: tuple[date, date] | None = None
    previous_days: tuple[date, date] | None = None
    previous_shown: str | None = None
    change_shown: str | None = None
    items: list[str] = field(default_factory=list)
    facts: dict = field(default_factory=dict)
    reason: str | None = None


@dataclass(frozen=True)
class ShopInfo:
    name: str
    timezone: str
    currency: str


def shops_of(warehouse: Warehouse) -> dict[str, ShopInfo]:
    return {r[0]: ShopInfo(r[1], r[2], r[3]) for r in
            warehouse.rows("SELECT shop_id, name, timezone, currency FROM shops ORDER BY shop_id")}


def evaluate(rule: Rule, warehouse: Warehouse, *, now: datetime, home=None) -> list[Finding]:
    """Every finding of `rule` at `now` (timezone-aware)."""
    shops = shops_of(warehouse)
    scope = [s for s in (rule.shops or shops) if s in shops]
    missing = [s for s in rule.shops or () if s not in shops]
    findings = [Finding(rule, s, s, None, "unknown", reason=f"shop {s} is not in the warehouse (not synced)")
                for s in missing]
    handler = {"threshold": _threshold, "change": _change, "anomaly": _anomaly, "target": _target,
               "sync_stale": _sync_stale, "authorization": _authorization, "stockout_risk": _stockout,
               "listing": _listing}[rule.kind]
    try:
        findings += handler(rule, warehouse, scope, shops, now, home)
    except ShoplensError as exc:  # e.g. facts older than the orders, no FX rate: the rule cannot be judged now
        findings += [Finding(rule, s, s, shops[s].name, "unknown", reason=str(exc)) for s in scope]
    return findings


# --- metric conditions ---------------------------------------------------------------------------------
def _today(shop: ShopInfo, rule: Rule, now: datetime) -> date:
    return now.astimezone(ZoneInfo(shop.timezone if rule.timezone == "shop" else rule.timezone)).date()


def _by_window(rule: Rule, scope: list[str], shops: dict[str, ShopInfo], now: datetime) -> dict[tuple, list[str]]:
    """Shops grouped by their window's days (shops in different zones can be on different days)."""
    groups: dict[tuple, list[str]] = {}
    for shop_id in scope:
        groups.setdefault(window_days(rule.window, _today(shops[shop_id], rule, now)), []).append(shop_id)
    return groups


def _values(rule: Rule, warehouse: Warehouse, metric_id: str, shop_ids: list[str],
            days: tuple[date, date]) -> dict[str, tuple[object, str | None]]:
    """shop -> (value, currency) of one metric over `days`; a shop without rows has 0 for an additive
    metric and no value (None) for a ratio."""
    frame = metrics.query([metric_id], by=["shop"], period=days, shop=shop_ids, where=dict(rule.where),
                          policies=Policies(timezone=rule.timezone), warehouse=warehouse)
    currency = frame["currency"] if "currency" in frame.columns else [None] * len(frame)
    found = {shop: (value, cur) for shop, cur, value in zip(frame["shop"], currency, frame[metric_id])}
    metric = default_catalogue().get(metric_id)
    empty = None if metric.kind == "ratio" else 0
    return {shop: found.get(shop, (empty, None)) for shop in shop_ids}


def _number(value) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if number != number else number


def _shown(metric_id: str, value, currency: str | None) -> str:
    metric = default_catalogue().get(metric_id)
    return format_value(value, metric.format, currency if metric.format == "money" else None)


def _unknown_days(rule: Rule, warehouse: Warehouse, metric_id: str, shop_id: str, days: tuple[date, date],
                  today: date) -> str | None:
    """Why the window's figure is not known yet, or None when every source is synced through it."""
    known = metric_known_until(warehouse, metric_id, shop_id, rule.timezone)
    needed = days[1] - timedelta(days=1) if days[1] >= today else days[1]  # today: synced during today
    if known is None:
        return f"{metric_id} has never been synced for this shop"
    if known < needed:
        return f"{metric_id} is synced through {known.isoformat()} only; the window ends {days[1].isoformat()}"
    return None


def _metric_findings(rule: Rule, warehouse: Warehouse, scope: list[str], shops: dict[str, ShopInfo], now: datetime,
                     judge) -> list[Finding]:
    """The shared loop of threshold, change and stock-out rules: per window group, values, then `judge`."""
    out = []
    metric_id = rule.metric or STOCKOUT_METRIC
    for days, group in _by_window(rule, scope, shops, now).items():
        values = _values(rule, warehouse, metric_id, group, days)
        for shop_id in group:
            info = shops[shop_id]
            finding = Finding(rule, shop_id, shop_id, info.name, "unknown", days=days)
            reason = _unknown_days(rule, warehouse, metric_id, shop_id, days, _today(info, rule, now))
            value, currency = values[shop_id]
            if reason is None and _number(value) is None:
                reason = f"{metric_id} has no figure in this window (nothing to divide by)"
            if reason:
                finding.reason = reason
            else:
                finding.shown = _shown(metric_id, value, currency or info.currency)
                judge(finding, _number(value), currency or info.currency)
            out.append(finding)
    return out


def _threshold(rule, warehouse, scope, shops, now, home) -> list[Finding]:
    def judge(finding: Finding, value: float, currency: str) -> None:
        finding.limit_shown = _shown(rule.metric, rule.limit, currency)
        crossed = value > rule.limit if rule.direction == "above" else value < rule.limit
        finding.state = "firing" if crossed else "ok"

    return _metric_findings(rule, warehouse, scope, shops, now, judge)


def _stockout(rule, warehouse, scope, shops, now, home) -> list[Finding]:
    def judge(finding: Finding, value: float, currency: str) -> None:
        finding.limit_shown = _shown(STOCKOUT_METRIC, rule.limit, currency)
        finding.state = "firing" if value > rule.limit else "ok"

    return _metric_findings(rule, warehouse, scope, shops, now, judge)


def _change(rule, warehouse, scope, shops, now, home) -> list[Finding]:
    before: dict[str, tuple] = {}
    for days, group in _by_window(rule, scope, shops, now).items():
        previous = comparable(rule.window, days, rule.compare_to)
        for shop_id, (value, currency) in _values(rule, warehouse, rule.metric, group, previous).items():
            before[shop_id] = (previous, value, currency)

    def judge(finding: Finding, value: float, currency: str) -> None:
        previous_days, previous, previous_currency = before[finding.shop_id]
        finding.previous_days = previous_days
        finding.previous_shown = _shown(rule.metric, previous, previous_currency or currency)
        previous = _number(previous)
        sign = -1 if rule.direction == "falls_by" else 1
        finding.limit_shown = f"{sign * rule.limit:+.0%}"
        if not previous:
            finding.state, finding.reason = "unknown", "the previous comparable window has no figure to compare with"
            return
        change = (value - previous) / abs(previous)
        finding.change_shown = f"{change:+.1%}"
        finding.facts["change"] = change
        finding.state = "firing" if sign * change >= rule.limit else "ok"

    return _metric_findings(rule, warehouse, scope, shops, now, judge)


def _anomaly(rule, warehouse, scope, shops, now, home) -> list[Finding]:
    metric = default_catalogue().get(rule.metric)
    threshold = (metric.anomaly.threshold if metric.anomaly else None) or 3.5
    out = []
    for days, group in _by_window(rule, scope, shops, now).items():
        for shop_id in group:
            info = shops[shop_id]
            finding = Finding(rule, shop_id, shop_id, info.name, "unknown", days=days,
                              limit_shown=f"|z| ≥ {threshold:g}")
            finding.reason = _unknown_days(rule, warehouse, rule.metric, shop_id, days, _today(info, rule, now))
            if finding.reason is None:
                flagged = metric_anomalies(warehouse, period=days, shop=shop_id, metrics=[rule.metric],
                                           policies=Policies(timezone=rule.timezone))
                if flagged.empty:
                    finding.state = "ok"
                else:
                    last = flagged.sort_values("day").iloc[-1]
                    currency = last["currency"] if isinstance(last["currency"], str) else info.currency
                    finding.state = "firing"
                    finding.shown = _shown(rule.metric, last["value"], currency)
                    finding.facts = {"anomaly": str(last["kind"]), "day": last["day"].isoformat(),
                                     "expected": _shown(rule.metric, last["expected"], currency),
                                     "deviation": f"{float(last['deviation']):+.1f}"}
            out.append(finding)
    return out


def _target(rule, warehouse, scope, shops, now, home) -> list[Finding]:
    from shoplens.reports.targets import load_targets

    path = (home / "targets.toml") if home is not None else None
    if path is None or not path.exists():
        return [Finding(rule, s, s, shops[s].name, "unknown",
                        reason="no targets.toml in the workspace: copy templates/targets.example.toml and set "
                               "weekly targets (docs/reports.md)") for s in scope]
    try:
        targets = [t for t in load_targets(path, set(shops)) if t.metric == rule.metric and t.shop in scope]
    except ShoplensError as exc:
        return [Finding(rule, s, s, shops[s].name, "unknown", reason=str(exc)) for s in scope]
    out = []
    groups = _by_window(rule, sorted({t.shop for t in targets}), shops, now)
    for days, group in groups.items():
        values = _values(rule, warehouse, rule.metric, group, days)
        length = (days[1] - days[0]).days + 1
        for target in (t for t in targets if t.shop in group):
            info = shops[target.shop]
            finding = Finding(rule, f"{target.shop}/{target.owner}", target.shop, info.name, "unknown", days=days,
                              facts={"owner": target.owner, "role": target.role})
            value, currency = values[target.shop]
            finding.reason = _unknown_days(rule, warehouse, rule.metric, target.shop, days, _today(info, rule, now))
            attainment = None if finding.reason else target.attainment(value, length)
            if finding.reason is None and attainment is None:
                finding.reason = "no figure to compare with the target"
            if attainment is not None:
                currency = currency or info.currency
                finding.shown = f"{attainment:.0%}"
                finding.limit_shown = f"{rule.limit:.0%}"
                finding.facts |= {"actual": _shown(rule.metric, value, currency),
                                  "target": _shown(rule.metric, target.for_days(length), currency),
                                  "target_days": length}
                finding.state = "firing" if attainment < rule.limit else "ok"
            out.append(finding)
    return out


# --- built-in conditions --------------------------------------------------------------------------------
def _age(now: datetime, then: datetime | None) -> str:
    if then is None:
        return "never"
    hours = max((now - then).total_seconds(), 0) / 3600  # never negative (a check --now before the sync)
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} d"


def _sync_stale(rule, warehouse, scope, shops, now, home) -> list[Finding]:
    out = []
    limit = timedelta(hours=rule.limit)
    for shop_id in scope:
        finding = Finding(rule, shop_id, shop_id, shops[shop_id].name, "ok", limit_shown=f"{rule.limit:g} h")
        fresh = resource_freshness(warehouse, shop=shop_id)
        failing = failed_syncs(warehouse, shop=shop_id)
        if fresh.empty:
            finding.state, finding.reason = "unknown", "the shop has never been synced"
            out.append(finding)
            continue
        for r in failing.itertuples():
            finding.items.append(f"{r.resource}: {r.failed_runs} failed run(s) since "
                                 f"{r.failing_since:%Y-%m-%d %H:%M} UTC: {r.error}")
        lasts = [None if pd.isna(r.last_ok) else r.last_ok for r in fresh.itertuples()]
        for resource, last_ok in zip(fresh.resource, lasts):
            if resource not in set(failing.resource) and (last_ok is None or now - last_ok > limit):
                finding.items.append(f"{resource}: last successful sync {_age(now, last_ok)} ago")
        finding.shown = _age(now, None if None in lasts else min(lasts))
        finding.facts = {"failing": sorted(set(failing.resource))}
        finding.state = "firing" if finding.items else "ok"
        finding.items = finding.items[:MAX_ITEMS]
        out.append(finding)
    return out


def _authorization(rule, warehouse, scope, shops, now, home) -> list[Finding]:
    problems = authorization_problems(warehouse, now=now, warn_within=timedelta(days=rule.limit))
    by_shop = {r.shop_id: r for r in problems.itertuples()}
    out = []
    for shop_id in scope:
        finding = Finding(rule, shop_id, shop_id, shops[shop_id].name, "ok", limit_shown=f"{rule.limit:g} d")
        problem = by_shop.get(shop_id)
        if problem is not None:
            finding.state = "firing"
            finding.facts = {"problem": problem.kind}
            finding.shown = problem.kind
            if problem.expires_at is not None and problem.expires_at == problem.expires_at:
                finding.facts["expires_at"] = f"{problem.expires_at:%Y-%m-%d %H:%M} UTC"
                finding.facts["days_left"] = int(problem.days_left)
            if isinstance(problem.reason, str) and problem.reason:
                finding.items.append(problem.reason)
        else:
            finding.shown = "ok"
        out.append(finding)
    return out


def _listing(rule, warehouse, scope, shops, now, home) -> list[Finding]:
    rows = warehouse.rows("SELECT shop_id, product_id, coalesce(title, product_id), status FROM products "
                          "WHERE list_contains(?, status) ORDER BY shop_id, update_time DESC NULLS LAST, product_id",
                          [list(LISTING_PROBLEMS)])
    by_shop: dict[str, list[tuple]] = {}
    for shop_id, product_id, title, status in rows:
        by_shop.setdefault(shop_id, []).append((product_id, title, status))
    out = []
    for shop_id in scope:
        products = by_shop.get(shop_id, [])
        finding = Finding(rule, shop_id, shop_id, shops[shop_id].name, "firing" if len(products) > rule.limit else "ok",
                          shown=str(len(products)), limit_shown=f"{rule.limit:g}")
        finding.items = [f"{title} ({product_id}): {status}" for product_id, title, status in products[:MAX_ITEMS]]
        if len(products) > MAX_ITEMS:
            finding.facts["more"] = len(products) - MAX_ITEMS
        out.append(finding)
    return out
