"""Data-quality signals: the anomaly method on hand-built series (planted spikes, drops and zeros, and
none), freshness, sync gaps and failures and anomalies on a hand-built warehouse, authorization status,
a run against a warehouse synced from the sandbox, and the report section."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import pytest

from shoplens.config import warehouse_path
from shoplens.demo import sandbox_settings
from shoplens.errors import MetricDefinitionError, WarehouseError
from shoplens.metrics import CATALOGUE, default_catalogue, validate
from shoplens.metrics.catalogue import SOURCES, AnomalyRule
from shoplens.quality import (authorization_problems, detect_anomalies, quality_signals, record_authorization,
                              record_revoked, watched_metrics)
from shoplens.quality import anomalies as method
from shoplens.quality.signals import (ANOMALY_COLUMNS, FAILURE_COLUMNS, FRESHNESS_COLUMNS, GAP_COLUMNS,
                                      SOURCE_RESOURCES)
from shoplens.reports import context
from shoplens.reports.context import ReportContext
from shoplens.sync import SyncOptions, run_sync
from shoplens.sync.mapping import ORDER_COLUMNS, SHOP_DAILY_COLUMNS
from shoplens.tiktok import StoredTokens, TokenStore
from shoplens.warehouse import Warehouse
from shoplens.warehouse import db as warehouse_db

ROOT = Path(__file__).resolve().parents[1]
DAY0 = date(2026, 8, 1)


def days(n: int, first: date = DAY0) -> list[date]:
    return [first + timedelta(days=i) for i in range(n)]


def noisy(n: int, level: float, sd: float, seed: int) -> pd.Series:
    """Seeded normal noise around a level, one value a day from DAY0."""
    rng = np.random.default_rng(seed)
    return pd.Series(np.round(level + rng.normal(0, sd, n), 2), index=days(n))


def by_hand(series: pd.Series, day: date, window: int = 28) -> tuple[float, float]:
    """Median and robust z of `day` against the `window` values before it, computed independently."""
    history = series[[d for d in series.index if day - timedelta(days=window) <= d < day]].to_numpy(float)
    median = float(np.median(history))
    scale = max(1.4826 * float(np.median(np.abs(history - median))), 0.05 * abs(median), 1.0)
    return median, (float(series[day]) - median) / scale


# --- the method -----------------------------------------------------------------------------------
def test_seeded_noise_around_a_level_raises_no_alarm():
    assert detect_anomalies(noisy(120, 1000, 50, seed=7)) == []


def test_planted_spike_drop_and_zero_are_flagged_with_their_size_and_nothing_else():
    series = noisy(120, 1000, 50, seed=7)
    spike, drop, zero = DAY0 + timedelta(days=40), DAY0 + timedelta(days=60), DAY0 + timedelta(days=90)
    series[spike], series[drop], series[zero] = 1600.0, 550.0, 0.0
    found = detect_anomalies(series)
    assert [(a.day, a.kind) for a in found] == [(spike, "spike"), (drop, "drop"), (zero, "zero")]
    for a in found:
        median, z = by_hand(series, a.day)
        assert a.expected == pytest.approx(median)
        assert a.deviation == pytest.approx(z)
        assert a.value == series[a.day]
        assert a.history == 28
        assert a.change == pytest.approx((a.value - median) / median)
    assert found[0].deviation > 10 and found[1].deviation < -8 and found[2].change == -1


def test_sizes_on_a_weekly_pattern_computed_by_hand():
    # median 100; |x - 100| = 10, 0, 10, 5, 5, 0, 0 -> MAD 5 -> scale 1.4826 * 5 = 7.413
    pattern = [90, 100, 110, 95, 105, 100, 100] * 4
    series = pd.Series(pattern + [160, 100, 55], index=days(31))
    found = detect_anomalies(series)
    assert [(a.day, a.kind, a.expected, a.scale) for a in found] == [
        (DAY0 + timedelta(days=28), "spike", 100.0, pytest.approx(7.413)),
        (DAY0 + timedelta(days=30), "drop", 100.0, pytest.approx(7.413))]
    assert found[0].deviation == pytest.approx(60 / 7.413)
    assert found[1].deviation == pytest.approx(-45 / 7.413)


def test_a_flat_history_uses_the_floor_instead_of_exploding():
    series = pd.Series([100.0] * 30 + [103.0, 130.0], index=days(32))
    found = detect_anomalies(series)
    # MAD is 0: the scale is 5% of the median, so +3 is 0.6 z and +30 is 6 z
    assert [(a.day, a.deviation, a.scale) for a in found] == [(DAY0 + timedelta(days=31), pytest.approx(6.0), 5.0)]


def test_small_counts_use_the_one_unit_floor():
    series = pd.Series([2.0] * 20 + [4.0, 9.0], index=days(22))
    assert [(a.value, a.deviation) for a in detect_anomalies(series)] == [(9.0, pytest.approx(7.0))]


def test_a_day_is_judged_only_with_enough_history_and_never_against_itself():
    series = pd.Series([100.0] * 5 + [900.0] + [100.0] * 10, index=days(16))
    assert detect_anomalies(series) == []  # only five days before the jump
    assert [a.day for a in detect_anomalies(series, min_history=5)] == [DAY0 + timedelta(days=5)]


def test_missing_days_are_unknown_not_zero():
    series = noisy(60, 500, 20, seed=3)
    holed = series.drop(days(10, DAY0 + timedelta(days=30)))  # ten days absent
    holed[DAY0 + timedelta(days=45)] = np.nan
    assert detect_anomalies(holed) == []
    after = DAY0 + timedelta(days=40)
    assert all(a.day != after for a in detect_anomalies(holed))


def test_a_level_shift_is_flagged_until_the_trailing_median_catches_up():
    series = pd.Series([100.0] * 10 + [1000.0] * 10 + [100.0], index=days(21))
    found = detect_anomalies(series, window=5, min_history=3)
    # day 10: five days of 100 before it (MAD 0, mean deviation 0: the floor, 5); day 11: one 1000 among
    # them (MAD 0, so 1.2533 x mean deviation 180 = 225.6: +3.99 z); day 12: two (+2.0 z, not flagged);
    # day 13 on, the median is 1000 until the level falls back on day 20
    assert [(a.day, a.kind, a.expected, round(a.deviation, 2)) for a in found] == [
        (DAY0 + timedelta(days=10), "spike", 100.0, 180.0), (DAY0 + timedelta(days=11), "spike", 100.0, 3.99),
        (DAY0 + timedelta(days=20), "drop", 1000.0, -18.0)]


def test_since_judges_only_the_later_days_against_the_same_history():
    """A report judges only its period: the days before `since` stay history, not candidates."""
    series = pd.Series([100.0] * 10 + [1000.0] * 10 + [100.0], index=days(21))
    every = detect_anomalies(series, window=5, min_history=3)
    assert len(every) == 3
    for k in (0, 5, 11, 12, 20, 21, 30):
        since = DAY0 + timedelta(days=k)
        assert detect_anomalies(series, window=5, min_history=3, since=since) == [a for a in every if a.day >= since]
    holed = series.drop(DAY0 + timedelta(days=11))  # `since` on a day the series does not have
    assert ([a.day for a in detect_anomalies(holed, window=5, min_history=3, since=DAY0 + timedelta(days=11))]
            == [a.day for a in detect_anomalies(holed, window=5, min_history=3) if a.day > DAY0 + timedelta(days=11)])


def test_zeros_alarm_only_when_the_metric_is_normally_non_zero():
    normal = noisy(40, 1000, 50, seed=7)
    normal[DAY0 + timedelta(days=35)] = 0
    assert [(a.day, a.kind) for a in detect_anomalies(normal)] == [(DAY0 + timedelta(days=35), "zero")]
    sparse = pd.Series([0.0, 0.0, 30.0, 20.0, 0.0, 25.0, 35.0] * 6, index=days(42))  # zero on 3 days in 7
    assert detect_anomalies(sparse) == []  # MAD 0: the scale falls back to 1.2533 x the mean deviation
    assert [a.kind for a in detect_anomalies(normal, zero_alarm=False)] == ["drop"]


def test_a_metric_that_is_zero_on_most_days_has_no_usual_level():
    rare = pd.Series([0.0] * 6 + [30.0] + [0.0] * 10 + [40.0] + [0.0] * 10 + [500.0], index=days(29))
    assert detect_anomalies(rare) == []


def test_money_as_decimal_and_days_as_timestamps_or_strings():
    values = [Decimal("100.10"), Decimal("99.90"), Decimal("100.00")] * 4 + [Decimal("180.00")]
    as_dates = detect_anomalies(pd.Series(values, index=days(13)), min_history=7)
    as_stamps = detect_anomalies(pd.Series(values, index=pd.to_datetime(days(13))), min_history=7)
    as_text = detect_anomalies(pd.Series(values, index=[d.isoformat() for d in days(13)]), min_history=7)
    assert as_dates == as_stamps == as_text and [a.kind for a in as_dates] == ["spike"]


@pytest.mark.parametrize("kwargs, message", [
    ({"window": 0}, "need 1 <= min_history <= window"),
    ({"window": 7, "min_history": 8}, "need 1 <= min_history <= window"),
    ({"threshold": 0}, "threshold and min_scale must be positive"),
    ({"floor": -0.1}, "floor at least 0"),
])
def test_bad_parameters_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        detect_anomalies(noisy(10, 1, 1, seed=0), **kwargs)


def test_a_repeated_day_is_refused():
    with pytest.raises(ValueError, match="repeats day"):
        detect_anomalies(pd.Series([1.0, 2.0], index=[DAY0, DAY0]))


# --- thresholds in the catalogue ------------------------------------------------------------------
def test_the_catalogue_watches_the_key_metrics_with_valid_rules():
    assert watched_metrics() == ["gmv", "orders", "refund_amount", "visitors", "ad_spend", "video_views",
                                 "live_viewers"]
    catalogue = default_catalogue()
    assert catalogue.get("refund_amount").anomaly == AnomalyRule(threshold=5.0, zero_alarm=False)
    for metric_id in watched_metrics():
        base_sources = {b.source for b in catalogue.base_metrics(metric_id)}
        assert base_sources <= set(SOURCE_RESOURCES), metric_id  # signals know which sync feeds each


def test_rule_defaults_match_the_method_defaults():
    rule = AnomalyRule()
    assert (rule.threshold, rule.window, rule.min_history, rule.floor) == (
        method.DEFAULT_THRESHOLD, method.DEFAULT_WINDOW, method.DEFAULT_MIN_HISTORY, method.DEFAULT_FLOOR)


@pytest.mark.parametrize("rule, message", [
    (AnomalyRule(threshold=0), "anomaly rule: threshold 0 must be a positive number"),
    (AnomalyRule(window=0), "anomaly rule: window 0 must be a whole number of days"),
    (AnomalyRule(window=7, min_history=8), "anomaly rule: min_history 8 must be between 1 and the window (7)"),
    (AnomalyRule(floor=1.5), "anomaly rule: floor 1.5 must be a fraction of the median"),
    (AnomalyRule(zero_alarm="yes"), "anomaly rule: zero_alarm 'yes' must be True or False"),
    ({"threshold": 4}, "anomaly must be an AnomalyRule, not dict"),
])
def test_invalid_anomaly_rules_are_reported_by_the_validator(rule, message):
    bad = replace(CATALOGUE[0], id="x_anomaly", anomaly=rule)
    with pytest.raises(MetricDefinitionError) as caught:
        validate(CATALOGUE + (bad,), SOURCES)
    assert any(p.startswith("metric 'x_anomaly'") and message in p for p in caught.value.problems), \
        caught.value.problems


def test_a_rule_needs_the_metric_by_shop_and_day():
    bad = replace(CATALOGUE[0], id="x_dims", dimensions=("shop", "week"), anomaly=AnomalyRule())
    with pytest.raises(MetricDefinitionError, match="an anomaly rule needs the metric by shop and day"):
        validate(CATALOGUE + (bad,), SOURCES)


def test_the_docs_explain_the_method_and_list_every_watched_threshold():
    text = (ROOT / "docs" / "quality.md").read_text(encoding="utf-8")
    for phrase in ("1.4826", "median", "trailing", "min_history", "90%", "revoked", "7 days"):
        assert phrase in text, phrase
    for metric_id in watched_metrics():
        rule = default_catalogue().get(metric_id).anomaly
        row = next((line for line in text.splitlines() if line.startswith(f"| `{metric_id}` |")), None)
        assert row is not None, f"docs/quality.md lacks a row for {metric_id}"
        assert f"| {rule.threshold:g} |" in row and ("| yes |" if rule.zero_alarm else "| no |") in row, row
    assert "docs/quality.md" in (ROOT / "README.md").read_text(encoding="utf-8")


# --- a hand-built warehouse -----------------------------------------------------------------------
SHOP = "s1"
SPIKE, ZERO, GAP = date(2026, 11, 11), date(2026, 11, 13), date(2026, 11, 10)
PERIOD = (date(2026, 11, 9), date(2026, 11, 15))


def _instant(day: date, hour: int) -> int:
    """Unix seconds of `hour`:00 on `day` in Asia/Shanghai (UTC+8, the default reporting zone)."""
    return int(datetime(day.year, day.month, day.day, hour, tzinfo=UTC).timestamp()) - 8 * 3600


def _orders_per_day(day: date) -> int:
    return 40 if day == SPIKE else 0 if day == ZERO else (8, 10, 12, 9, 11, 10, 10)[day.toordinal() % 7]


def build_warehouse(path: Path, *, shop_name: str = "Shop One") -> None:
    """One shop, orders every day from 1 October to 15 November (a spike, a day with none), shop analytics
    to 13 November with 10 November missing, and sync records: analytics failing twice since its last
    good run."""
    with Warehouse(path) as wh, wh.transaction() as con:
        con.execute("INSERT INTO shops VALUES (?, ?, 'CN', 'LOCAL', 'C1', 'CNY', 'Asia/Shanghai', 'api', now())",
                    [SHOP, shop_name])
        orders = []
        for day in days(46, date(2026, 10, 1)):
            for k in range(_orders_per_day(day)):
                created = _instant(day, 12) + k
                orders.append({"order_id": f"{day}-{k}", "shop_id": SHOP, "status": "COMPLETED",
                               "create_time": created, "update_time": created, "paid_time": created + 60,
                               "cancel_time": None, "buyer_id": f"b{k}", "currency": "CNY", "sub_total": "10.00",
                               "shipping_fee": "0", "seller_discount": "0", "platform_discount": "0", "tax": "0",
                               "total_amount": "10.00", "source": "api"})
        wh.upsert("orders", orders, ORDER_COLUMNS)
        analytics = [{"shop_id": SHOP, "date": day.isoformat(), "currency": "CNY", "gmv": "100", "gmv_video": None,
                      "gmv_live": None, "gmv_product_card": None, "gmv_max_share": None, "orders": 10,
                      "sku_orders": 10, "items_sold": 10, "buyers": 10, "refunds": "0", "page_views": 300,
                      "visitors": 100 + day.toordinal() % 5, "conversion_rate": None}
                     for day in days(44, date(2026, 10, 1)) if day != GAP]
        wh.upsert("shop_daily", analytics, SHOP_DAILY_COLUMNS)
        ok, later = datetime(2026, 11, 16, 1, tzinfo=UTC), datetime(2026, 11, 16, 5, tzinfo=UTC)
        runs = [("r1", "orders", ok, "ok", None), ("r1", "shop_performance", ok, "ok", None),
                ("r2", "shop_performance", later, "failed", "HTTP 500 from the analytics endpoint"),
                ("r3", "shop_performance", later + timedelta(hours=1), "failed", "boom <b>twice</b>")]
        for run_id, resource, at, status, error in runs:
            con.execute("INSERT INTO sync_runs (run_id, shop_id, resource, started_at, finished_at, status, error) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)", [run_id, SHOP, resource, at - timedelta(minutes=5), at,
                                                         status, error])
        con.execute("INSERT INTO sync_state VALUES (?, 'orders', ?, NULL, now())",
                    [SHOP, str(_instant(date(2026, 11, 16), 6))])
        con.execute("INSERT INTO sync_state VALUES (?, 'shop_performance', '2026-11-14', DATE '2026-11-13', now())",
                    [SHOP])
    with Warehouse(path) as wh:
        wh.refresh_facts()


@pytest.fixture
def handmade(tmp_path) -> Warehouse:
    build_warehouse(tmp_path / "w.duckdb")
    with Warehouse(tmp_path / "w.duckdb", read_only=True) as wh:
        yield wh


def test_freshness_per_resource_with_the_stale_one_flagged(handmade):
    fresh = quality_signals(handmade, period=PERIOD, shop=SHOP, metrics=[]).freshness
    assert list(fresh.columns) == FRESHNESS_COLUMNS
    rows = {r.resource: r for r in fresh.itertuples()}
    assert set(rows) == {"orders", "shop_performance"}
    assert rows["orders"].covered_until == date(2026, 11, 15) and not rows["orders"].stale
    assert rows["orders"].last_status == "ok"
    analytics = rows["shop_performance"]
    assert (analytics.covered_until, analytics.latest_available, analytics.stale, analytics.last_status) == (
        date(2026, 11, 13), date(2026, 11, 13), True, "failed")
    assert analytics.last_ok == datetime(2026, 11, 16, 1, tzinfo=UTC)


def test_failing_syncs_say_how_often_since_when_and_why(handmade):
    failures = quality_signals(handmade, period=PERIOD, shop=SHOP, metrics=[]).failures
    assert list(failures.columns) == FAILURE_COLUMNS
    assert [(r.resource, r.failed_runs, r.failing_since, r.error) for r in failures.itertuples()] == [
        ("shop_performance", 2, datetime(2026, 11, 16, 4, 55, tzinfo=UTC), "boom <b>twice</b>")]


def test_a_day_without_data_inside_the_synced_range_is_a_gap(handmade):
    gaps = quality_signals(handmade, period=PERIOD, shop=SHOP, metrics=[]).gaps
    assert list(gaps.columns) == GAP_COLUMNS
    # 10 Nov has no analytics row; 13 Nov has no order; 14-15 Nov are past the analytics cursor (stale, not gaps)
    assert sorted((r.resource, r.day) for r in gaps.itertuples()) == [("orders", ZERO), ("shop_performance", GAP)]


def test_anomalies_through_the_metric_api_on_exactly_the_planted_days(handmade):
    found = quality_signals(handmade, period=PERIOD, shop=SHOP, metrics=["orders", "gmv", "visitors"]).anomalies
    assert list(found.columns) == ANOMALY_COLUMNS
    assert [(r.metric, r.day, r.kind) for r in found.sort_values(["metric", "day"]).itertuples()] == [
        ("gmv", SPIKE, "spike"), ("gmv", ZERO, "zero"),
        ("orders", SPIKE, "spike"), ("orders", ZERO, "zero"),
        # the missing analytics row reads as zero visitors; 14-15 Nov are not synced yet, so not judged
        ("visitors", GAP, "zero")]
    spike = found[(found.metric == "orders") & (found.day == SPIKE)].iloc[0]
    history = pd.Series([_orders_per_day(d) for d in days(28, SPIKE - timedelta(days=28))], dtype=float)
    median = history.median()
    mad = (history - median).abs().median()
    assert (spike.value, spike.expected, spike.threshold) == (40, median, 4.0)
    assert spike.deviation == pytest.approx((40 - median) / max(1.4826 * mad, 0.05 * median, 1.0))
    gmv = found[(found.metric == "gmv") & (found.day == SPIKE)].iloc[0]
    assert gmv.value == Decimal("400.0000") and gmv.currency == "CNY" and gmv.expected == 10 * median


def test_a_clean_warehouse_has_no_issues(tmp_path):
    build_warehouse(tmp_path / "w.duckdb")
    with Warehouse(tmp_path / "w.duckdb") as wh:
        wh.con.execute("DELETE FROM sync_runs WHERE status = 'failed'")
    with Warehouse(tmp_path / "w.duckdb", read_only=True) as wh:
        signals = quality_signals(wh, period=(date(2026, 11, 1), date(2026, 11, 7)), shop=SHOP)
    assert signals.clean and signals.issues == 0 and "issues=0" in repr(signals)


# --- authorization --------------------------------------------------------------------------------
NOW = datetime(2026, 11, 16, 12, tzinfo=UTC)


def test_expiring_revoked_and_expired_authorizations(tmp_path):
    with Warehouse(tmp_path / "w.duckdb") as wh, wh.transaction():
        for shop_id in ("soon", "fine", "gone", "static", "refused"):
            wh.con.execute("INSERT INTO shops VALUES (?, ?, 'TH', 'LOCAL', NULL, 'THB', 'Asia/Bangkok', 'api', now())",
                           [shop_id, f"Shop {shop_id}"])
        in_days = lambda n: int((NOW + timedelta(days=n)).timestamp())  # noqa: E731
        # the authorization lapses in 3 days: its refresh token expires then
        record_authorization(wh, ["soon"], open_id="o1", access_expires_at=in_days(1), refresh_expires_at=in_days(3),
                             now=NOW)
        # only the access token expires soon: the sync renews it, nothing to say
        record_authorization(wh, ["fine"], open_id="o2", access_expires_at=in_days(3), refresh_expires_at=in_days(365),
                             now=NOW)
        record_authorization(wh, ["gone"], open_id="o3", access_expires_at=in_days(5), refresh_expires_at=in_days(365),
                             now=NOW)
        record_revoked(wh, ["gone"], reason="SELLER_DEAUTHORIZATION webhook", now=NOW)
        # a token that cannot be refreshed lapsed with its access token yesterday
        record_authorization(wh, ["static"], open_id=None, access_expires_at=in_days(-1), refresh_expires_at=None,
                             now=NOW)
        # never recorded, but its last sync was refused: the API no longer knows the token
        wh.con.execute("INSERT INTO sync_runs (run_id, shop_id, resource, started_at, finished_at, status, error) "
                       "VALUES ('r', 'refused', 'orders', ?, ?, 'failed', ?)",
                       [NOW - timedelta(hours=1), NOW, "Invalid credentials (the access token is invalid: run "
                                                       "`shoplens auth exchange` again) [code 36009004, HTTP 401]"])
    with Warehouse(tmp_path / "w.duckdb", read_only=True) as wh:
        problems = authorization_problems(wh, now=NOW)
        assert [(r.shop_id, r.kind, r.days_left) for r in problems.itertuples()] == [
            ("gone", "revoked", 365), ("soon", "expiring", 3), ("static", "expired", -1), ("refused", "revoked", None)]
        assert problems.set_index("shop_id").loc["soon", "expires_at"] == NOW + timedelta(days=3)
        assert problems.set_index("shop_id").loc["gone", "reason"] == "SELLER_DEAUTHORIZATION webhook"
        assert "36009004" in problems.set_index("shop_id").loc["refused", "reason"]
        assert list(authorization_problems(wh, shop="soon", now=NOW).shop_id) == ["soon"]
        assert authorization_problems(wh, shop="fine", now=NOW).empty


def test_a_shop_dropped_from_its_authorization_is_revoked(tmp_path):
    with Warehouse(tmp_path / "w.duckdb") as wh:
        year = int((NOW + timedelta(days=365)).timestamp())
        record_authorization(wh, ["a", "b"], open_id="o1", access_expires_at=year, refresh_expires_at=year, now=NOW)
        record_authorization(wh, ["a"], open_id="o1", access_expires_at=year, refresh_expires_at=year, now=NOW)
        problems = authorization_problems(wh, now=NOW)
        assert [(r.shop_id, r.kind, r.reason) for r in problems.itertuples()] == [
            ("b", "revoked", "the shop is no longer in the seller's authorized shops")]
        assert wh.rows("SELECT count(*) FROM information_schema.columns WHERE table_name = 'shop_authorizations' "
                       "AND column_name LIKE '%token%'")[0][0] == 0  # expiries only, never a token


def test_the_sync_records_each_shops_token_expiries(server, tokens, tmp_path):
    settings = sandbox_settings(server, tmp_path)
    source = StoredTokens(TokenStore(tmp_path / "tokens.json"), tokens, auth_url=settings.auth_url,
                          app_key=settings.app_key, app_secret=settings.app_secret)
    run_sync(settings, authorizations=[source], options=SyncOptions(resources=["shop_performance"], history_days=2))
    with Warehouse(warehouse_path(tmp_path), read_only=True) as wh:
        rows = wh.rows("SELECT shop_id, open_id, access_expires_at, refresh_expires_at, revoked "
                       "FROM shop_authorizations ORDER BY shop_id")
    assert [r[0] for r in rows] == sorted(s.id for s in server.sandbox.business.shops)
    for _, open_id, access, refresh, revoked in rows:
        assert open_id == tokens.open_id and not revoked
        assert access == datetime.fromtimestamp(tokens.access_token_expire_in, UTC)
        assert refresh == datetime.fromtimestamp(tokens.refresh_token_expire_in, UTC)


# --- migrations by number -------------------------------------------------------------------------
def test_migrations_apply_by_number_without_contiguity(tmp_path, monkeypatch):
    path = tmp_path / "w.duckdb"
    monkeypatch.setattr(warehouse_db, "MIGRATIONS", [(1, "a", "CREATE TABLE a (x INT)"),
                                                     (7, "g", "CREATE TABLE g (x INT)")])
    Warehouse(path).close()
    # numbers 5 and 6 land later, after 7 was applied: they still run, once
    monkeypatch.setattr(warehouse_db, "MIGRATIONS", [(1, "a", "CREATE TABLE a (x INT)"),
                                                     (7, "g", "CREATE TABLE g (x INT)"),
                                                     (6, "f", "CREATE TABLE f (x INT)"),
                                                     (5, "e", "CREATE TABLE e (x INT)")])
    with pytest.raises(WarehouseError, match="lacks schema migration"):
        Warehouse(path, read_only=True)
    with Warehouse(path) as wh:
        assert [r[0] for r in wh.rows("SELECT version FROM schema_migrations ORDER BY applied_at, version")] == [
            1, 7, 5, 6]
        assert wh.pending_migrations() == []
    Warehouse(path, read_only=True).close()


# --- against a warehouse synced from the sandbox ----------------------------------------------------
def test_signals_on_a_synced_warehouse_have_the_right_shape(synced):
    home, sandbox = synced
    with Warehouse(warehouse_path(home), read_only=True) as wh:
        signals = quality_signals(wh, period=("2026-11-09", "2026-11-15"))
        resources = wh.rows("SELECT DISTINCT shop_id, resource FROM sync_runs ORDER BY ALL")
        one = quality_signals(wh, period=("2026-11-09", "2026-11-15"), shop=sandbox.business.shops[0].id)
    assert list(signals.freshness.columns) == FRESHNESS_COLUMNS
    assert sorted(zip(signals.freshness.shop_id, signals.freshness.resource)) == resources
    assert signals.freshness.last_status.eq("ok").all() and not signals.freshness.stale.any()
    assert list(signals.failures.columns) == FAILURE_COLUMNS and signals.failures.empty
    assert list(signals.gaps.columns) == GAP_COLUMNS
    assert list(signals.anomalies.columns) == ANOMALY_COLUMNS
    assert set(signals.anomalies.kind) <= {"spike", "drop", "zero"}
    assert set(signals.anomalies.metric) <= set(watched_metrics())
    assert signals.anomalies.day.between(date(2026, 11, 9), date(2026, 11, 15)).all()
    judged = signals.anomalies[signals.anomalies.kind != "zero"]
    assert (judged.deviation.abs() >= judged.threshold).all()
    assert signals.authorization.empty  # the fixture syncs with a static token: no expiry recorded
    assert set(one.freshness.shop_id) == {sandbox.business.shops[0].id}
    assert set(one.anomalies.shop_id) <= {sandbox.business.shops[0].id}


def _shown(ctx: ReportContext, **kwargs) -> tuple[str, object]:
    """What ctx.quality() puts on the page (it returns nothing), and the signals it shows."""
    out: list[str] = []
    with mock.patch.object(context, "_display_html", out.append):
        assert ctx.quality(**kwargs) is None  # a cell ending in it shows the section, never a repr
    signals = quality_signals(ctx.warehouse, period=ctx.period, shop=ctx.shop_id, policies=ctx.policies, **kwargs)
    return "".join(out), signals


def test_the_report_section_on_a_synced_warehouse(synced):
    home, sandbox = synced
    shop = sandbox.business.shops[0].id
    with Warehouse(warehouse_path(home), read_only=True) as wh:
        ctx = ReportContext.open("shop_report", shop_id=shop, period=("2026-11-09", "2026-11-15"), warehouse=wh)
        markup, signals = _shown(ctx)
        zh, _ = _shown(replace(ctx, lang="zh"))
    assert markup.startswith('<h2 id="sl-q_title">Data quality</h2>')
    assert markup.count('data-status="ok"') == len(signals.freshness)
    assert "Shop analytics" in markup and "Freshness by data source" in markup
    assert markup.count("<tr data-shop=") == len(signals.freshness) + len(signals.anomalies) + len(signals.gaps)
    for r in signals.anomalies.itertuples():
        assert f'data-metric="{r.metric}" data-day="{r.day}" data-kind="{r.kind}"' in markup
    assert ("No data-quality issues found." in markup) == signals.clean
    assert "数据质量" in zh and "店铺分析" in zh


def test_the_report_section_escapes_and_warns(tmp_path):
    build_warehouse(tmp_path / "w.duckdb", shop_name="<script>alert(1)</script>")
    with Warehouse(tmp_path / "w.duckdb") as wh:
        soon = int((datetime.now(UTC) + timedelta(days=3)).timestamp())
        record_authorization(wh, [SHOP], open_id="o1", access_expires_at=soon, refresh_expires_at=soon)
    with Warehouse(tmp_path / "w.duckdb", read_only=True) as wh:
        ctx = ReportContext.open("kpi_scorecard", shop_id=None, period=PERIOD, warehouse=wh)
        markup, signals = _shown(ctx, metrics=["orders"])
    assert "<script>" not in markup and "&lt;script&gt;alert(1)&lt;/script&gt;" in markup
    assert "boom &lt;b&gt;twice&lt;/b&gt;" in markup  # the sync's error text, escaped
    assert 'data-kind="expiring"' in markup and "Authorization expires within 7 days" in markup
    assert 'role="alert"' in markup and "Shop analytics (2026-11-13)" in markup  # the stale banner
    assert f'data-shop="{SHOP}" data-metric="orders" data-day="{SPIKE}" data-kind="spike"' in markup
    assert f'data-resource="shop_performance" data-day="{GAP}"' in markup
    assert "No data-quality issues found." not in markup and not signals.clean


def test_a_report_over_every_shop_summarises_freshness_one_line_per_shop(synced, tmp_path):
    home, sandbox = synced
    with Warehouse(warehouse_path(home), read_only=True) as wh:
        ctx = ReportContext.open("kpi_scorecard", shop_id=None, period=("2026-11-09", "2026-11-15"), warehouse=wh)
        markup, signals = _shown(ctx)
    by_shop = markup.split('<table class="sl-ranked sl-q_freshness_by_shop">')[1].split("</table>")[0]
    assert by_shop.count("<tr data-shop=") == len(sandbox.business.shops) == signals.freshness.shop_id.nunique()
    assert len(signals.freshness) > 3 * len(sandbox.business.shops)  # many sources, summarised
    assert "sl-q_attention" not in markup and "sl-q_freshness\"" not in markup  # nothing stale: no details
    # a stale source: its shop's line names it, and the details list only what needs attention
    build_warehouse(tmp_path / "w.duckdb")
    with Warehouse(tmp_path / "w.duckdb", read_only=True) as wh:
        ctx = ReportContext.open("kpi_scorecard", shop_id=None, period=PERIOD, warehouse=wh)
        markup, signals = _shown(ctx, metrics=["orders"])
    needs = signals.freshness[signals.freshness.stale | (signals.freshness.last_status != "ok")]
    attention = markup.split('<table class="sl-ranked sl-q_attention">')[1].split("</table>")[0]
    assert attention.count("<tr data-shop=") == len(needs) >= 1
    summary = markup.split('<table class="sl-ranked sl-q_freshness_by_shop">')[1].split("</table>")[0]
    assert summary.count("<tr data-shop=") == 1 and 'data-status="ok"' not in summary
