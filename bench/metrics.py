"""Benchmark the metric compiler: the full KPI cube on a 10-million-order warehouse, against pandas.

The cube is every catalogue metric by shop by day over 90 days, in Asia/Shanghai days, default
policies. In one run, each step in its own process so its peak memory is its own:
1. build a synthetic warehouse file (the real schema, filled by SQL): orders (some with platform discounts),
   line items, refunds, affiliate items, unit costs, shop / video / ad analytics, LIVE sessions, order
   fulfilment (SLAs, shipping, delivery), stock snapshots, product status history, chat service and
   product ratings; then the derived fact tables, as every sync does;
2. shoplens: `metrics.query(<all metrics>, by=["shop", "day"], period=...)` on the file, read-only,
   timed from the call to the DataFrame (best of --repeat, and the first, cold run);
3. pandas: the same metrics written the straightforward way (load the columns into DataFrames, then
   boolean masks, groupby, merge); load and compute timed separately; `pandas_s` is compute only,
   the most favourable reading for pandas.
Both results are compared metric by metric (money to the cent, counts exactly, ratios to 1e-9) so the
speed-up is between two correct implementations. The pandas side reads only the raw tables, never the
derived ones nor shoplens SQL. Every catalogue metric must be compared or listed in SKIPPED with its reason:
a metric added to the catalogue without a pandas reference fails the run, naming it (the bench cannot rot:
tests/test_benches.py runs it with --tiny). Any difference exits non-zero after writing the results.

Writes bench/results/metrics.json and the metrics table of docs/performance.md.
Usage: .venv/bin/python bench/metrics.py [--orders 10000000] [--shops 20] [--days 90] [--repeat 3]
       .venv/bin/python bench/metrics.py --tiny --out /tmp/metrics.json --no-doc   (the test suite's size)
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from perfdoc import update_section  # noqa: E402

LAST_DAY = date(2026, 11, 15)
TZ = "Asia/Shanghai"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- 1. the synthetic warehouse -----------------------------------------------------------------------
def build(path: Path, orders: int, shops: int, days: int) -> dict:
    from shoplens.regions import REGIONS
    from shoplens.warehouse import Warehouse

    first = LAST_DAY - timedelta(days=days - 1)
    span = days * 86_400
    regions = list(REGIONS.values())
    started = time.perf_counter()
    wh = Warehouse(path)
    con = wh.con
    shop_rows = ", ".join(f"('S{i}', 'Shop {i}', '{r.code}', '{r.currency}', '{r.timezone}')"
                          for i, r in ((i, regions[i % len(regions)]) for i in range(shops)))
    con.execute(f"INSERT INTO shops (shop_id, name, region, seller_type, code, currency, timezone, source, updated_at) SELECT s, n, r, 'LOCAL', s, c, z, 'bench', now() FROM (VALUES {shop_rows}) v(s, n, r, c, z)")
    # orders, spread evenly over the days with jitter; about 3 orders per buyer; 6 % cancelled, 1 % unpaid
    start = f"TIMESTAMPTZ '{first.isoformat()} 00:00:00+08'"
    con.execute(f"""
        CREATE TEMP TABLE g AS SELECT i, 'S' || (i % {shops}) AS shop_id,
            {start} + to_seconds(CAST((i * {span}.0 / {orders}) + hash(i) % 3600 AS BIGINT)) AS t,
            hash(i * 7) % 100 AS roll, CAST(10 + hash(i * 13) % 49000 / 100.0 AS DECIMAL(20, 4)) AS amount,
            s.currency
        FROM range({orders}) r(i) JOIN shops s ON s.shop_id = 'S' || (i % {shops})""")
    # a fifth of orders carry a TikTok-funded platform discount (5 % of the sub total)
    con.execute("ALTER TABLE g ADD COLUMN pdisc DECIMAL(20, 4)")
    con.execute("UPDATE g SET pdisc = CASE WHEN i % 5 = 0 THEN round(amount * 0.05, 2) ELSE 0 END")
    con.execute(f"""
        INSERT INTO orders (order_id, shop_id, status, create_time, update_time, paid_time, cancel_time, buyer_id,
            currency, sub_total, shipping_fee, seller_discount, platform_discount, tax, total_amount, source,
            synced_at)
        SELECT 'O' || i, shop_id,
            CASE WHEN roll < 6 THEN 'CANCELLED' WHEN roll < 7 THEN 'UNPAID' ELSE 'COMPLETED' END,
            t, t + INTERVAL 1 HOUR, CASE WHEN roll BETWEEN 6 AND 6 THEN NULL ELSE t + INTERVAL 60 SECOND END,
            CASE WHEN roll < 6 THEN t + INTERVAL 2 HOUR END, 'B' || (hash(i * 31) % {max(orders // 3, 1)}),
            currency, amount, 0, 0, pdisc, 0, amount, 'bench', now()
        FROM g""")
    # one or two line items (a third of orders have two), summing to the order's sub total
    con.execute("""
        INSERT INTO order_line_items (line_item_id, order_id, shop_id, product_id, product_name, sku_id, sku_name,
            seller_sku, original_price, sale_price, seller_discount, platform_discount, currency, display_status)
        SELECT 'O' || i || '-' || k, 'O' || i, shop_id,
            'P' || shop_id || '-' || (hash(i + k) % 200), 'Product', 'K' || shop_id || '-' || (hash(i + k) % 200),
            'SKU', 'SKU', price, price, 0, platform, currency, 'COMPLETED'
        FROM (SELECT i, shop_id, currency, k, CASE WHEN i % 3 <> 0 THEN amount WHEN k = 0 THEN round(amount * 0.6, 2)
                                          ELSE amount - round(amount * 0.6, 2) END AS price,
                     CASE WHEN i % 3 <> 0 THEN pdisc WHEN k = 0 THEN round(pdisc * 0.6, 2)
                          ELSE pdisc - round(pdisc * 0.6, 2) END AS platform
              FROM g, range(2) r(k) WHERE k = 0 OR i % 3 = 0)""")
    # refunds of half the order; most carry the refunded products' value and platform discount, some (synced
    # before shoplens kept them) only the refund total
    con.execute("""
        INSERT INTO refunds (return_id, shop_id, order_id, return_type, return_status, create_time, update_time,
            currency, refund_total, refund_subtotal, platform_discount, source, synced_at)
        SELECT 'R' || i, shop_id, 'O' || i, 'REFUND',
            CASE WHEN i % 125 = 0 THEN 'RETURN_OR_REFUND_REQUEST_PENDING' ELSE 'RETURN_OR_REFUND_REQUEST_COMPLETE' END,
            t + INTERVAL 3 DAY, t + INTERVAL 4 DAY, currency, round(amount / 2, 2) + 3,
            CASE WHEN i % 50 <> 0 THEN round(amount / 2, 2) END, CASE WHEN i % 50 <> 0 THEN round(pdisc / 2, 2) END,
            'bench', now()
        FROM g WHERE i % 25 = 0 AND roll >= 7""")
    # fulfilment: paid orders are due to ship 48 h after payment and ship 1 to 72 h after it (so some late),
    # then arrive 2 to 6 days later (a tenth not yet delivered); cancelled ones never ship; a few have no SLA
    ship = "t + INTERVAL 60 SECOND + to_seconds(CAST(3600 * (1 + hash(i * 17) % 72) + hash(i * 29) % 3600 AS BIGINT))"
    con.execute(f"""
        INSERT INTO order_fulfilment (order_id, shop_id, rts_sla_time, rts_time, delivery_time, synced_at)
        SELECT 'O' || i, shop_id, CASE WHEN i % 97 <> 0 THEN t + INTERVAL 60 SECOND + INTERVAL 48 HOUR END,
            CASE WHEN roll >= 7 THEN {ship} END,
            CASE WHEN roll >= 7 AND i % 10 <> 3 THEN {ship} + to_seconds(CAST(86400 * (2 + hash(i * 19) % 5)
                                                                              + hash(i * 23) % 7200 AS BIGINT)) END,
            now()
        FROM g WHERE roll <> 6""")
    con.execute("""
        INSERT INTO affiliate_order_items (item_key, order_id, shop_id, status, create_time, product_id, quantity,
            currency, price, creator_username, content_type, content_id, estimated_commission, actual_commission,
            synced_at)
        SELECT 'O' || i || ':0', 'O' || i, shop_id, CASE WHEN roll < 6 THEN 'CANCELLED' ELSE 'COMPLETED' END, t,
            'P' || shop_id || '-' || (hash(i) % 200), 1, currency, amount, 'creator' || (hash(i) % 500),
            CASE WHEN i % 8 = 1 THEN 'LIVE' ELSE 'VIDEO' END, 'C' || (hash(i) % 5000), round(amount * 0.1, 2),
            CASE WHEN roll % 2 = 0 THEN round(amount * 0.1, 2) END, now()
        FROM g WHERE i % 4 = 1""")
    con.execute("DROP TABLE g")
    con.execute("""
        INSERT INTO product_costs (shop_id, sku_id, currency, unit_cost, source, loaded_at) SELECT s.shop_id, 'K' || s.shop_id || '-' || k, s.currency, 5 + k % 50, 'bench', now()
        FROM shops s, range(200) r(k)""")
    day_grid = f"(SELECT CAST(DATE '{first.isoformat()}' + INTERVAL (d) DAY AS DATE) AS day, d FROM range({days}) r(d))"
    con.execute(f"""
        INSERT INTO shop_daily (shop_id, date, currency, gmv, gmv_video, gmv_live, gmv_product_card, gmv_max_share,
            visitors, page_views, synced_at)
        SELECT s.shop_id, day, s.currency, 3000 + d * 10, 1000 + d * 5, 1000, 1000 + d * 5, 0.2 + (d % 5) / 100,
            5000 + d, 9000 + d, now() FROM shops s, {day_grid}""")
    con.execute(f"""
        INSERT INTO video_daily (shop_id, date, video_id, username, views, ctr, currency, gmv, synced_at)
        SELECT s.shop_id, day, s.shop_id || '-V' || v, 'creator' || v, 1000 + v * d, 0.01 + v / 1000, s.currency,
            10 * v + d, now() FROM shops s, {day_grid}, range(30) r(v)""")
    con.execute(f"""
        INSERT INTO live_sessions (live_id, shop_id, username, start_time, end_time, currency, gmv, viewers, views,
            peak_concurrent, avg_viewing_s, product_impressions, product_clicks, sku_orders, items_sold, synced_at)
        SELECT s.shop_id || '-L' || d, s.shop_id, 'host', CAST(day AS TIMESTAMP) AT TIME ZONE 'UTC' + INTERVAL 12 HOUR,
            CAST(day AS TIMESTAMP) AT TIME ZONE 'UTC' + INTERVAL 14 HOUR, s.currency, 500 + d, 2000 + d, 3000 + d,
            300 + d, 60 + d % 60, 8000 + d, 400 + d, 40 + d % 9, 55 + d % 13, now() FROM shops s, {day_grid}""")
    # chat service per shop-local day, and product reviews by stars on about two days in three
    con.execute(f"""
        INSERT INTO service_daily (shop_id, date, sessions, response_percentage, response_minutes, synced_at)
        SELECT s.shop_id, day, 40 + (d * 7) % 23, 80 + (d * 3) % 21 + 0.25, 2.5 + (d % 9) * 0.75, now()
        FROM shops s, {day_grid}""")
    con.execute(f"""
        INSERT INTO product_ratings_daily (shop_id, product_id, date, stars_1, stars_2, stars_3, stars_4,
            stars_5, synced_at)
        SELECT s.shop_id, 'P' || s.shop_id || '-' || p, day,
            hash(p * 3 + d) % 2, hash(p * 5 + d) % 2, hash(p * 7 + d) % 3, hash(p * 11 + d) % 5, hash(p * 13 + d) % 8,
            now()
        FROM shops s, {day_grid}, range(20) r(p) WHERE hash(p * 17 + d) % 3 <> 0""")
    # stock: snapshots every third day for each SKU (a quarter of them in two warehouses), a tenth empty;
    # the days between carry the last snapshot forward
    con.execute(f"""
        INSERT INTO inventory_snapshots (sku_id, warehouse_id, date, shop_id, product_id, snapshot_time, available,
            synced_at)
        SELECT 'K' || s.shop_id || '-' || k, 'W' || s.shop_id || '-' || w, day, s.shop_id, 'P' || s.shop_id || '-' || k,
            now(), CASE WHEN hash(k * 101 + d + w) % 10 = 0 THEN 0 ELSE CAST(hash(k * 103 + d + w) % 600 AS INTEGER) END,
            now()
        FROM shops s, {day_grid}, range(200) r(k), range(2) ws(w) WHERE d % 3 = 0 AND (w = 0 OR k % 4 = 0)""")
    # listings: every product live from 10 days before the period; every tenth taken down on a day in it
    # (by the seller or the platform), a third of those live again 5 days later; one draft per shop
    con.execute(f"""
        CREATE TEMP TABLE changes AS SELECT s.shop_id, 'P' || s.shop_id || '-' || k AS product_id, k,
            TIMESTAMPTZ '{first.isoformat()} 00:00:00+00' - INTERVAL 10 DAY AS live_since,
            TIMESTAMPTZ '{first.isoformat()} 00:00:00+00' + to_seconds(CAST(86400 * (5 + (k * 7) % ({days} - 6))
                                                                           + (k * 997) % 86400 AS BIGINT)) AS down
        FROM shops s, range(200) r(k)""")
    con.execute("""
        INSERT INTO product_status_history (product_id, since, shop_id, status, until)
        SELECT product_id, live_since, shop_id, 'ACTIVATE', CASE WHEN k % 10 = 0 THEN down END FROM changes
        UNION ALL
        SELECT product_id, down, shop_id, CASE WHEN k % 20 = 0 THEN 'SELLER_DEACTIVATED' ELSE 'PLATFORM_DEACTIVATED' END,
            CASE WHEN k % 30 = 0 THEN down + INTERVAL 5 DAY END FROM changes WHERE k % 10 = 0
        UNION ALL
        SELECT product_id, down + INTERVAL 5 DAY, shop_id, 'ACTIVATE', NULL FROM changes WHERE k % 30 = 0
        UNION ALL
        SELECT 'D' || shop_id, min(live_since), shop_id, 'DRAFT', NULL FROM changes GROUP BY shop_id""")
    con.execute("DROP TABLE changes")
    con.execute(f"""
        INSERT INTO ad_campaign_daily (campaign_id, date, advertiser_id, shop_id, campaign_name, currency, spend, roas,
            synced_at)
        SELECT s.shop_id || '-A' || c, day, 'adv', s.shop_id, 'Campaign', s.currency, 100 + c * 10 + d, 2 + c, now()
        FROM shops s, {day_grid}, range(2) r(c)""")
    loaded = time.perf_counter()
    wh.refresh_facts()  # what every sync does before it publishes
    facts_s = time.perf_counter() - loaded
    con.execute("CHECKPOINT")
    counts = {t: wh.count(t) for t in ("orders", "order_line_items", "refunds", "affiliate_order_items")}
    wh.close()
    return {"build_s": round(time.perf_counter() - started, 1), "facts_s": round(facts_s, 1),
            "file_mb": round(path.stat().st_size / 2**20), **counts}


# --- 2. shoplens --------------------------------------------------------------------------------------
def run_shoplens(path: Path, period: tuple[date, date], repeat: int, out: Path) -> dict:
    from shoplens import metrics
    from shoplens.metrics import default_catalogue
    from shoplens.warehouse import Warehouse

    ids = [m.id for m in default_catalogue().metrics]
    times = []
    with Warehouse(path, read_only=True) as wh:
        for _ in range(repeat):
            started = time.perf_counter()
            frame = metrics.query(ids, by=["shop", "day"], period=period, warehouse=wh)
            times.append(time.perf_counter() - started)
    out.write_bytes(pickle.dumps(frame))
    return {"first_s": times[0], "best_s": min(times), "peak_rss_mb": peak_rss_mb(), "metrics": len(ids),
            "cube_rows": len(frame)}


def operations(orders, items, fulfilment, snapshots, history, shops, lo, hi):
    """Fulfilment, backlog, stock and listing metrics by shop and day, from the raw tables, as the catalogue
    defines them (the warehouse's derived tables are not read). Returns (sums and counts, medians).

    The bench has no orders sync cursor, so no order is judged late for still being unshipped past its SLA
    at the last sync (`as_of`), and no lead times are set (7 days for every SKU)."""
    import numpy as np
    import pandas as pd

    key = ["shop_id", "day"]
    zones = shops.groupby("timezone").shop_id

    def shanghai_day(series):
        return series.dt.tz_convert(TZ).dt.tz_localize(None).dt.normalize()

    def shop_day(frame, column):  # the shop-local day of each row's time
        parts = [frame.loc[frame.shop_id.isin(ids), column].dt.tz_convert(tz).dt.tz_localize(None).dt.normalize()
                 for tz, ids in zones]
        return pd.concat(parts).reindex(frame.index)

    def ns(series):  # UTC instants as numpy datetime64[ns] (NaT stays NaT)
        return series.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[ns]")

    def day_end(day, tz):  # the instant a shop-local day ends
        return np.datetime64((day + pd.Timedelta(days=1)).tz_localize(tz).tz_convert("UTC").tz_localize(None), "ns")

    def period_days(first, last):
        return pd.date_range(max(first, lo), min(last, hi), freq="D")

    out, medians = {}, {}
    # --- dispatch: paid orders with a ready-to-ship SLA, except those cancelled before they shipped
    every = orders[["order_id", "shop_id", "status", "paid_time", "cancel_time"]].merge(fulfilment, on="order_id")
    every = every[every.paid_time.notna()]
    f = every[every.rts_sla_time.notna()]
    cancelled_unshipped = (f.status == "CANCELLED") & f.rts_time.isna()
    d = f[~cancelled_unshipped].copy()
    d["day"] = shanghai_day(d.rts_sla_time)
    d["late"] = d.rts_time > d.rts_sla_time
    d["on_time"] = d.rts_time <= d.rts_sla_time
    d = d[(d.day >= lo) & (d.day <= hi)]
    out["dispatches_due"] = d[d.late | d.on_time].groupby(key).size()
    out["late_dispatches"] = d[d.late].groupby(key).size()
    out["on_time_dispatches"] = d[d.on_time].groupby(key).size()
    shipped = d[d.rts_time.notna()]
    medians["hours_to_ship"] = ((shipped.rts_time - shipped.paid_time).dt.total_seconds() / 3600).groupby(
        [shipped.shop_id, shipped.day]).median()
    dl = f[~cancelled_unshipped & f.delivery_time.notna()].copy()
    dl["day"] = shanghai_day(dl.delivery_time)
    dl = dl[(dl.day >= lo) & (dl.day <= hi)]
    medians["delivery_days"] = ((dl.delivery_time - dl.paid_time).dt.total_seconds() / 86400).groupby(
        [dl.shop_id, dl.day]).median()

    # --- backlog at the end of each shop-local day: paid before it ended, not yet shipped, not yet cancelled
    # (cancelled unshipped orders, SLA or not, waited until they were cancelled); an order with neither waits
    # 30 days at most
    gone = (every.status == "CANCELLED") & every.rts_time.isna()
    waiting = every[(every.rts_sla_time.notna() & ~gone) | (gone & every.cancel_time.notna())]
    backlog, at_risk = {}, {}
    for tz, ids in zones:
        for shop in ids:
            w = waiting[waiting.shop_id == shop]
            paid, rts, cancel, sla = ns(w.paid_time), ns(w.rts_time), ns(w.cancel_time), ns(w.rts_sla_time)
            exit_ = np.fmin(rts, cancel)  # the earlier of the two that happened
            cap = shop_day(w.assign(cap=w.paid_time + pd.Timedelta(days=30)), "cap").to_numpy("datetime64[ns]")
            for day in period_days(lo, hi):
                end = day_end(day, tz)
                held = (paid < end) & ((exit_ > end) | (np.isnat(exit_) & (np.datetime64(day, "ns") <= cap)))
                backlog[(shop, day)] = int(held.sum())
                at_risk[(shop, day)] = int((held & (sla < end + np.timedelta64(24, "h"))).sum())
    out["backlog_orders"] = pd.Series(backlog).rename_axis(key)
    out["orders_at_risk"] = pd.Series(at_risk).rename_axis(key)

    # --- stock: each SKU and warehouse on every day of its shop's snapshot span, the last snapshot carried
    # forward (none yet: 0), against the SKU's units sold (paid, not cancelled) over the trailing 14 local days
    snapshots["date"] = pd.to_datetime(snapshots.date)
    wide = snapshots.pivot_table(index="date", columns=["shop_id", "sku_id", "warehouse_id"], values="available")
    wide = wide.reindex(pd.date_range(wide.index.min(), wide.index.max(), freq="D")).ffill().fillna(0)
    stock = wide.stack(level=[0, 1, 2], future_stack=True).rename("stock").rename_axis(
        ["date", "shop_id", "sku_id", "warehouse_id"]).reset_index()
    span = snapshots.groupby("shop_id").date.agg(["min", "max"])
    stock = stock.join(span, on="shop_id")
    stock = stock[(stock.date >= stock["min"]) & (stock.date <= stock["max"])]
    sold = items.merge(orders.loc[orders.counted, ["order_id", "create_time"]], on="order_id")
    sold["day"] = shop_day(sold, "create_time")
    units = sold.groupby(["day", "shop_id", "sku_id"]).size().unstack(["shop_id", "sku_id"])
    units = units.reindex(pd.date_range(min(units.index.min(), wide.index.min() - pd.Timedelta(days=13)),
                                        max(units.index.max(), wide.index.max()), freq="D")).fillna(0)
    trailing = (units.rolling(14, min_periods=1).sum() / 14).stack(level=[0, 1], future_stack=True)
    per_sku = stock.groupby(["shop_id", "sku_id", "date"]).stock.sum().rename("sku_stock").reset_index()
    per_sku["sku_daily"] = trailing.reindex(pd.MultiIndex.from_frame(per_sku[["date", "shop_id", "sku_id"]])
                                            ).fillna(0).to_numpy()
    per_sku = per_sku[(per_sku.date >= lo) & (per_sku.date <= hi)].rename(columns={"date": "day"})
    g = per_sku.groupby(key)
    out["stock_on_hand"] = g.sku_stock.sum()
    out["trailing_daily_units"] = g.sku_daily.sum()
    risky = per_sku[(per_sku.sku_daily > 0) & (per_sku.sku_stock / per_sku.sku_daily < 7)]
    out["stockout_risk_skus"] = risky.groupby(key).sku_id.nunique()
    out["out_of_stock_days"] = per_sku[per_sku.sku_stock == 0].groupby(key).sku_id.nunique()

    # --- listings: each product's status at the end of each local day; a product not live (drafts aside)
    # counts, with its GMV (buyer price, paid and not cancelled) in the 28 local days before it stopped
    product_days = sold.groupby(["shop_id", "product_id", "day"]).sale_price.sum()
    history = history.copy()
    history["since_day"] = shop_day(history, "since")
    not_live = history.status != "ACTIVATE"
    before = []
    for row in history.itertuples():
        if row.status == "ACTIVATE":
            before.append(np.nan)
            continue
        try:
            days = product_days.loc[(row.shop_id, row.product_id)]
        except KeyError:
            before.append(0.0)
            continue
        before.append(days[(days.index >= row.since_day - pd.Timedelta(days=28))
                           & (days.index <= row.since_day - pd.Timedelta(days=1))].sum())
    history["gmv_before"] = before
    inactive_count, at_risk_gmv = {}, {}
    last_sale = product_days.reset_index().groupby("shop_id").day.max()
    for tz, ids in zones:
        for shop in ids:
            h = history[history.shop_id == shop]
            if h.empty:
                continue
            first, last = h.since_day.min(), max(h.since_day.max(), last_sale.get(shop, h.since_day.max()))
            since, until = ns(h.since), ns(h.until)
            down = (not_live & (history.status != "DRAFT"))[h.index].to_numpy()
            value = h.gmv_before.to_numpy()
            for day in period_days(max(first, last - pd.Timedelta(days=120)), last):
                end = day_end(day, tz)
                now = (since < end) & (np.isnat(until) | (until >= end)) & down
                inactive_count[(shop, day)] = int(now.sum())
                at_risk_gmv[(shop, day)] = float(value[now].sum())
    out["deactivated_products"] = pd.Series(inactive_count, dtype=float).rename_axis(key)
    out["listing_gmv_at_risk"] = pd.Series(at_risk_gmv, dtype=float).rename_axis(key)
    return out, medians


# --- 3. pandas, the straightforward way ----------------------------------------------------------------
def run_pandas(path: Path, period: tuple[date, date], out: Path) -> dict:
    import duckdb
    import pandas as pd

    started = time.perf_counter()
    con = duckdb.connect(str(path), read_only=True)
    con.execute("SET TimeZone = 'UTC'")

    def load(sql: str) -> pd.DataFrame:
        return con.sql(sql).df()

    # money as float64, as a pandas user would have it (object columns of Decimal would be far slower)
    shops = load("SELECT shop_id, timezone FROM shops")
    orders = load("SELECT order_id, shop_id, status, create_time, paid_time, cancel_time, buyer_id, "
                  "CAST(sub_total AS DOUBLE) AS sub_total, CAST(platform_discount AS DOUBLE) AS platform_discount "
                  "FROM orders")
    items = load("SELECT order_id, shop_id, product_id, sku_id, CAST(sale_price AS DOUBLE) AS sale_price, "
                 "CAST(platform_discount AS DOUBLE) AS platform_discount FROM order_line_items")
    refunds = load("SELECT shop_id, order_id, return_status, create_time, CAST(refund_total AS DOUBLE) AS refund_total, "
                   "CAST(refund_subtotal AS DOUBLE) AS refund_subtotal, CAST(platform_discount AS DOUBLE) AS "
                   "platform_discount FROM refunds")
    fulfilment = load("SELECT order_id, rts_sla_time, rts_time, delivery_time FROM order_fulfilment")
    snapshots = load("SELECT shop_id, sku_id, warehouse_id, date, available FROM inventory_snapshots")
    history = load("SELECT shop_id, product_id, since, until, status FROM product_status_history")
    service = load("SELECT shop_id, date, sessions, CAST(response_percentage AS DOUBLE) AS response_percentage, "
                   "CAST(response_minutes AS DOUBLE) AS response_minutes FROM service_daily")
    ratings = load("SELECT shop_id, date, stars_1, stars_2, stars_3, stars_4, stars_5 FROM product_ratings_daily")
    affiliate = load("SELECT order_id, shop_id, status, create_time, CAST(estimated_commission AS DOUBLE) AS "
                     "estimated_commission, CAST(actual_commission AS DOUBLE) AS actual_commission "
                     "FROM affiliate_order_items")
    costs = load("SELECT shop_id, sku_id, CAST(unit_cost AS DOUBLE) AS unit_cost FROM product_costs")
    shop_daily = load("SELECT shop_id, date, CAST(gmv AS DOUBLE) AS gmv, CAST(gmv_max_share AS DOUBLE) AS "
                      "gmv_max_share, visitors, page_views FROM shop_daily")
    videos = load("SELECT shop_id, date, views, CAST(ctr AS DOUBLE) AS ctr, CAST(gmv AS DOUBLE) AS gmv FROM video_daily")
    lives = load("SELECT shop_id, start_time, viewers, views, peak_concurrent, avg_viewing_s, CAST(gmv AS DOUBLE) "
                 "AS gmv, product_impressions, product_clicks, sku_orders, items_sold FROM live_sessions")
    ads = load("SELECT shop_id, date, CAST(spend AS DOUBLE) AS spend, CAST(roas AS DOUBLE) AS roas "
               "FROM ad_campaign_daily")
    con.close()
    load_s = time.perf_counter() - started

    started = time.perf_counter()
    lo, hi = pd.Timestamp(period[0]), pd.Timestamp(period[1])
    key = ["shop_id", "day"]

    def local_day(series: pd.Series) -> pd.Series:
        return series.dt.tz_convert(TZ).dt.tz_localize(None).dt.normalize()

    def in_period(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[(frame.day >= lo) & (frame.day <= hi)]

    orders["day"] = local_day(orders.create_time)
    paid = orders.paid_time.notna()
    cancelled = orders.status == "CANCELLED"
    first = orders[paid].groupby(["shop_id", "buyer_id"]).create_time.min().rename("first_time")
    affiliated = pd.Index(affiliate.order_id.unique())
    orders["counted"] = paid & ~cancelled
    orders["first"] = paid & (orders.create_time == orders.join(first, on=["shop_id", "buyer_id"]).first_time)
    orders["affiliate"] = orders.order_id.isin(affiliated)
    orders["value"] = orders.sub_total + orders.platform_discount  # the seller's price (default GMV price)
    o = in_period(orders)
    counted = o[o.counted]
    cube = {
        "gmv": counted.groupby(key).value.sum(),
        "cancelled_gmv": o[o.paid_time.notna() & (o.status == "CANCELLED")].groupby(key).value.sum(),
        "orders": counted.groupby(key).size(),
        "paid_orders": counted.groupby(key).size(),
        "placed_orders": o.groupby(key).size(),
        "cancelled_orders": o[o.status == "CANCELLED"].groupby(key).size(),
        "buyers": counted.groupby(key).buyer_id.nunique(),
        "new_buyers": o[o["first"]].groupby(key).buyer_id.nunique(),
        "creator_gmv": counted[counted.affiliate].groupby(key).value.sum(),
        "creator_orders": counted[counted.affiliate].groupby(key).size(),
    }
    li = items.merge(counted[["order_id", "day"]], on="order_id").merge(costs, on=["shop_id", "sku_id"], how="left")
    cube |= {"units": li.groupby(key).size(),
             "product_gmv": (li.sale_price + li.platform_discount).groupby([li.shop_id, li.day]).sum(),
             "cogs": li.groupby(key).unit_cost.sum()}
    refunds["day"] = local_day(refunds.create_time)
    done = in_period(refunds[refunds.return_status.isin(["RETURN_OR_REFUND_REQUEST_COMPLETE",
                                                         "RETURN_OR_REFUND_REQUEST_SUCCESS"])])
    product_refund = done.refund_subtotal.fillna(done.refund_total) + done.platform_discount.fillna(0)
    cube["refund_amount"] = product_refund.groupby([done.shop_id, done.day]).sum()
    affiliate["day"] = local_day(affiliate.create_time)
    aff = in_period(affiliate[affiliate.status != "CANCELLED"])
    cube["commission"] = aff.actual_commission.fillna(aff.estimated_commission).groupby([aff.shop_id, aff.day]).sum()
    for frame in (shop_daily, videos, ads):
        frame["day"] = pd.to_datetime(frame.date)
    sd = in_period(shop_daily)
    cube |= {"visitors": sd.groupby(key).visitors.sum(), "page_views": sd.groupby(key).page_views.sum(),
             "analytics_gmv": sd.groupby(key).gmv.sum(),
             "paid_gmv": (sd.gmv * sd.gmv_max_share).groupby([sd.shop_id, sd.day]).sum()}
    v = in_period(videos)
    cube |= {"video_views": v.groupby(key).views.sum(), "video_gmv": v.groupby(key).gmv.sum(),
             "video_clicks": (v.views * v.ctr + 0.5).floordiv(1).groupby([v.shop_id, v.day]).sum()}  # half up, as SQL
    a = in_period(ads)
    cube |= {"ad_spend": a.groupby(key).spend.sum(), "ad_gmv": (a.spend * a.roas).groupby([a.shop_id, a.day]).sum()}
    lives["day"] = local_day(lives.start_time)
    lv = in_period(lives)
    g = lv.groupby(key)
    cube |= {"live_sessions": g.size(), "live_viewers": g.viewers.sum(), "live_views": g.views.sum(),
             "live_peak_concurrent": g.peak_concurrent.max(), "live_gmv": g.gmv.sum(),
             "live_watch_time": (lv.avg_viewing_s * lv.viewers).groupby([lv.shop_id, lv.day]).sum(),
             "live_product_impressions": g.product_impressions.sum(), "live_product_clicks": g.product_clicks.sum(),
             "live_orders": g.sku_orders.sum(), "live_items_sold": g.items_sold.sum()}
    for frame in (service, ratings):
        frame["day"] = pd.to_datetime(frame.date)
    sv = in_period(service)
    cube |= {"chat_sessions": sv.groupby(key).sessions.sum(),
             "chat_responses": (sv.sessions * sv.response_percentage / 100).groupby([sv.shop_id, sv.day]).sum(),
             "chat_response_minutes": (sv.sessions * sv.response_minutes).groupby([sv.shop_id, sv.day]).sum()}
    rt = in_period(ratings)
    stars = rt[[f"stars_{n}" for n in range(1, 6)]]
    rk = [rt.shop_id, rt.day]
    cube |= {"reviews": stars.sum(axis=1).groupby(rk).sum(),
             "review_stars": (stars * [1, 2, 3, 4, 5]).sum(axis=1).groupby(rk).sum(),
             "negative_reviews": (rt.stars_1 + rt.stars_2).groupby(rk).sum()}
    ops, medians = operations(orders, items, fulfilment, snapshots, history, shops, lo, hi)
    cube |= ops
    result = pd.DataFrame(cube).fillna(0)
    cube = result
    cube["content_gmv"] = cube.analytics_gmv  # the three content types add up to the shop's GMV

    def ratio(num, den, scale=1):
        return (num * scale / den).where(den != 0)

    cube["net_gmv"] = cube.gmv - cube.refund_amount
    cube["returning_buyers"] = cube.buyers - cube.new_buyers
    cube["cancellation_rate"] = ratio(cube.cancelled_orders, cube.placed_orders)
    cube["aov"] = ratio(cube.gmv, cube.orders)
    cube["refund_rate"] = ratio(cube.refund_amount, cube.gmv)
    cube["conversion_rate"] = ratio(cube.buyers, cube.visitors)
    cube["organic_gmv"] = cube.analytics_gmv - cube.paid_gmv
    cube["paid_gmv_share"] = ratio(cube.paid_gmv, cube.analytics_gmv)
    cube["affiliate_gmv_share"] = ratio(cube.creator_gmv, cube.gmv)
    cube["commission_rate"] = ratio(cube.commission, cube.creator_gmv)
    cube["commission_efficiency"] = ratio(cube.creator_gmv, cube.commission)
    cube["creator_net_gmv"] = cube.creator_gmv - cube.commission
    cube["creator_roi"] = ratio(cube.creator_net_gmv, cube.commission)
    cube["roas"] = ratio(cube.ad_gmv, cube.ad_spend)
    cube["marketing_cost"] = cube.ad_spend + cube.commission
    cube["contribution"] = cube.gmv - cube.refund_amount - cube.cogs - cube.marketing_cost
    cube["roi"] = ratio(cube.contribution, cube.marketing_cost)
    cube["video_ctr"] = ratio(cube.video_clicks, cube.video_views)
    cube["video_gpm"] = ratio(cube.video_gmv, cube.video_views, 1000)
    cube["live_avg_watch_time"] = ratio(cube.live_watch_time, cube.live_viewers)
    cube["live_gpm"] = ratio(cube.live_gmv, cube.live_views, 1000)
    cube["live_ctr"] = ratio(cube.live_product_clicks, cube.live_product_impressions)
    cube["late_dispatch_rate"] = ratio(cube.late_dispatches, cube.dispatches_due)
    cube["on_time_dispatch_rate"] = ratio(cube.on_time_dispatches, cube.dispatches_due)
    cube["days_of_cover"] = ratio(cube.stock_on_hand, cube.trailing_daily_units)
    cube["units_and_stock"] = cube.units + cube.stock_on_hand
    cube["sell_through_rate"] = ratio(cube.units, cube.units_and_stock)
    cube["response_rate"] = ratio(cube.chat_responses, cube.chat_sessions)
    cube["response_minutes"] = ratio(cube.chat_response_minutes, cube.chat_sessions)
    cube["average_rating"] = ratio(cube.review_stars, cube.reviews)
    cube["negative_review_share"] = ratio(cube.negative_reviews, cube.reviews)
    # a median of no records is none (NaN): a shop-day with nothing shipped (or delivered) has no median
    cube["hours_to_ship"] = medians["hours_to_ship"].reindex(cube.index)
    cube["delivery_days"] = medians["delivery_days"].reindex(cube.index)
    compute_s = time.perf_counter() - started
    out.write_bytes(pickle.dumps(cube.reset_index()))
    return {"load_s": load_s, "compute_s": compute_s, "peak_rss_mb": peak_rss_mb()}


#: catalogue metrics the pandas reference does not compute, each with the reason; a metric in the catalogue
#: that is neither computed by the reference nor listed here fails the comparison, naming it
SKIPPED: dict[str, str] = {}


def compare(shoplens_path: Path, pandas_path: Path) -> list[str]:
    """What differs between the two results: metrics the reference lacks (unless skipped, with a reason),
    shop-days in only one result, and metric columns whose values differ (money to the cent, counts exactly,
    ratios to 1e-9)."""
    import pandas as pd

    from shoplens.metrics import default_catalogue

    ours = pickle.loads(shoplens_path.read_bytes()).rename(columns={"shop": "shop_id"})
    theirs = pickle.loads(pandas_path.read_bytes())
    ours["day"] = pd.to_datetime(ours.day)
    catalogue = default_catalogue().metrics
    problems = [f"{m.id}: in the catalogue but not in the pandas reference (compute it in run_pandas, or list it "
                "in SKIPPED with the reason)" for m in catalogue if m.id not in theirs.columns and m.id not in SKIPPED]
    problems += [f"{mid}: listed in SKIPPED but no longer in the catalogue" for mid in SKIPPED
                 if mid not in {m.id for m in catalogue}]
    merged = ours.merge(theirs, on=["shop_id", "day"], how="outer", suffixes=("", "_pd"), indicator=True)
    if (merged._merge != "both").any():
        problems.append(f"{(merged._merge != 'both').sum()} shop-days in only one result")
    for m in catalogue:
        if m.id in SKIPPED or m.id not in theirs.columns:
            continue
        a = merged[m.id].astype(float)
        b = merged[f"{m.id}_pd"].astype(float)
        tolerance = 0.011 if m.unit == "money" else 1e-9 * b.abs().clip(lower=1)
        bad = ~(((a - b).abs() <= tolerance) | (a.isna() & b.isna()))
        if bad.any():
            problems.append(f"{m.id}: {bad.sum()} shop-days differ")
    return problems


def all_zero(shoplens_path: Path) -> list[str]:
    """Catalogue metrics that are 0 (or empty) on every shop-day: the data never exercises them."""
    from shoplens.metrics import default_catalogue

    ours = pickle.loads(shoplens_path.read_bytes())
    return [m.id for m in default_catalogue().metrics
            if m.id in ours.columns and not (ours[m.id].astype(float).fillna(0) != 0).any()]


def child(step: str, argv: list[str]) -> dict:
    done = subprocess.run([sys.executable, __file__, "--step", step, *argv], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"step {step} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=10_000_000)
    parser.add_argument("--shops", type=int, default=20)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tiny", action="store_true",
                        help="the test suite's size: 30,000 orders, 3 shops, 30 days, one run")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "metrics.json")
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite docs/performance.md")
    parser.add_argument("--step", choices=("build", "shoplens", "pandas"))
    parser.add_argument("--dir")
    args = parser.parse_args()
    if args.tiny:
        args.orders, args.shops, args.days, args.repeat = 30_000, 3, 30, 1
    period = (LAST_DAY - timedelta(days=args.days - 1), LAST_DAY)
    if args.step:
        work = Path(args.dir)
        if args.step == "build":
            result = build(work / "bench.duckdb", args.orders, args.shops, args.days)
        elif args.step == "shoplens":
            result = run_shoplens(work / "bench.duckdb", period, args.repeat, work / "shoplens.pickle")
        else:
            result = run_pandas(work / "bench.duckdb", period, work / "pandas.pickle")
        print(json.dumps(result, default=str))
        return

    with tempfile.TemporaryDirectory(prefix="shoplens-bench-") as tmp:
        argv = ["--orders", str(args.orders), "--shops", str(args.shops), "--days", str(args.days), "--repeat",
                str(args.repeat), "--dir", tmp]
        built = child("build", argv)
        print(f"warehouse: {built}", flush=True)
        ours = child("shoplens", argv)
        print(f"shoplens: {ours}", flush=True)
        theirs = child("pandas", argv)
        print(f"pandas: {theirs}", flush=True)
        problems = compare(Path(tmp) / "shoplens.pickle", Path(tmp) / "pandas.pickle")
        zero = all_zero(Path(tmp) / "shoplens.pickle")
    result = {
        "rows": built["orders"], "shops": args.shops, "days": args.days, "metrics": ours["metrics"],
        "cube_rows": ours["cube_rows"], "line_items": built["order_line_items"], "refunds": built["refunds"],
        "affiliate_items": built["affiliate_order_items"], "warehouse_mb": built["file_mb"],
        "facts_refresh_s": built["facts_s"],
        "shoplens_s": round(ours["best_s"], 3), "shoplens_first_s": round(ours["first_s"], 3),
        "pandas_s": round(theirs["compute_s"], 3), "pandas_load_s": round(theirs["load_s"], 3),
        "speedup": round(theirs["compute_s"] / ours["best_s"], 1),
        "peak_rss_mb": round(ours["peak_rss_mb"]), "pandas_peak_rss_mb": round(theirs["peak_rss_mb"]),
        "results_match": not problems, "differences": problems,
    }
    result["load_average_1m"] = round(os.getloadavg()[0], 2)
    result["skipped"] = SKIPPED
    result["all_zero_metrics"] = zero  # metrics the synthetic data leaves at 0 everywhere: compared, but weakly
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    if not args.no_doc:
        document(result, args)
    if problems:
        raise SystemExit("bench/metrics.py: shoplens and the pandas reference disagree:\n  " + "\n  ".join(problems))


def document(result: dict, args: argparse.Namespace) -> None:
    problems = result["differences"]
    update_section("metrics", (
        f"`bench/metrics.py`: the full KPI cube ({result['metrics']} metrics by shop by day, {args.days} days, "
        f"{args.shops} shops, {result['cube_rows']} rows) on a synthetic warehouse of {result['rows']:,} orders, "
        f"{result['line_items']:,} line items, {result['affiliate_items']:,} affiliate items and "
        f"{result['refunds']:,} refunds ({result['warehouse_mb']} MB), with fulfilment for every paid order, "
        "stock snapshots, product status history, chat service and product ratings. shoplens runs one "
        "compiled DuckDB query on the file (best of the runs; the first, cold run beside it); pandas computes the "
        "same metrics from the raw tables in DataFrames already in memory (loading them is shown apart): the "
        "fulfilment, backlog, stock and listing metrics from orders, fulfilment times, snapshots and status "
        "history, as the catalogue defines them. Each side runs in its own process, "
        "so peak memory is its own. Every catalogue metric is compared, metric by metric"
        + (f" (skipped: {', '.join(f'{k} ({v})' for k, v in result['skipped'].items())})" if result["skipped"] else "")
        + ": " + ("they match." if not problems else f"they differ: {'; '.join(problems)}.")
        + " The cube reads the order and line-item rollups (the facts summed per shop, currency and 15-minute "
        "bucket) where its measures allow, and the facts for the rest."
        + f" Not in the cube time: rebuilding the fact tables (order, line-item, dispatch, backlog, stock and "
        f"listing facts, and the rollups), which a sync does in full only after a migration or a replay (else it "
        f"maintains them by the keys that changed), took {result['facts_refresh_s']} s at this size. pandas groups on the string ids as loaded, which is what a straightforward implementation "
        "pays."
        + (f" 1-minute load average at the end: {result['load_average_1m']} (the machine is shared)."
           if "load_average_1m" in result else "")), [
        "| | shoplens (DuckDB) | pandas |",
        "|---|---|---|",
        f"| full cube, seconds | {result['shoplens_s']} (first run {result['shoplens_first_s']}) | "
        f"{result['pandas_s']} (+ {result['pandas_load_s']} to load) |",
        f"| peak memory, MB | {result['peak_rss_mb']} | {result['pandas_peak_rss_mb']} |",
        f"| speed-up | {result['speedup']}x | 1x |",
        "| target | ≤ 1.5 s, ≤ 1 GB, ≥ 2x pandas | |",
    ])


if __name__ == "__main__":
    main()
