"""Operations metrics (#15) on a small hand-built warehouse, every expected number worked out by hand
in the comments. Bangkok is UTC+7 all year; Los Angeles leaves PDT (UTC-7) for PST (UTC-8) at 09:00 UTC
on 2026-11-01; Shanghai (the default reporting zone) is UTC+8."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from shoplens import metrics
from shoplens.metrics import Policies
from shoplens.sync.mapping import (FULFILMENT_COLUMNS, INVENTORY_COLUMNS, LINE_ITEM_COLUMNS, ORDER_COLUMNS,
                                   RATING_COLUMNS, SERVICE_COLUMNS, SHOP_COLUMNS)
from shoplens.warehouse import Warehouse


def ts(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


H = 3600
# (order, shop, paid UTC, SKU, units, price, cancelled UTC, rts UTC, delivered UTC); the SLA is paid + 48 h
ORDERS = [
    ("d1", "th", "2026-11-09 01:00", "s1", 1, "10.00", None, "2026-11-10 01:00", "2026-11-12 01:00"),  # on time, 24 h
    ("d2", "th", "2026-11-09 10:00", "s1", 2, "10.00", None, "2026-11-11 12:00", None),  # late: 50 h, SLA Nov 11
    ("d3", "th", "2026-11-09 20:00", "s2", 1, "40.00", None, "2026-11-10 08:00", "2026-11-13 20:00"),  # SLA BKK Nov 12
    ("d4", "th", "2026-11-10 00:00", "s1", 1, "10.00", None, None, None),  # unshipped past its SLA (BKK Nov 12 07:00)
    ("d5", "th", "2026-11-10 02:00", "s1", 1, "10.00", "2026-11-10 05:00", None, None),  # cancelled before shipping
    ("d6", "th", "2026-11-11 10:00", "s1", 1, "10.00", None, None, None),  # due Nov 13: not decided yet
    # history for GMV before a listing stopped: pb's 10-20 is in the 28 days before Nov 10, 10-05 is not
    ("h1", "th", "2026-10-20 05:00", "s9", 1, "40.00", None, None, None),
    ("h2", "th", "2026-10-05 05:00", "s9", 1, "99.00", None, None, None),
    ("h3", "th", "2026-11-05 05:00", "s8", 1, "25.00", None, None, None),
    # Los Angeles across the DST change: SLA u3 Oct 31 23:30, u1 Nov 1 00:30 PDT, u2 Nov 1 23:30 PST
    ("u1", "us", "2026-10-30 07:30", "x", 1, "1.00", None, "2026-10-31 07:30", None),  # on time
    ("u2", "us", "2026-10-31 07:30", "x", 1, "1.00", None, "2026-11-02 08:30", None),  # late by an hour
    ("u3", "us", "2026-10-30 06:30", "x", 1, "1.00", None, "2026-10-31 06:30", None),  # on time, Oct 31
]
PRODUCT = {"s1": "pa", "s2": "pb", "s9": "pb", "s8": "pc", "x": "ux"}
AS_OF = "2026-11-12 12:00"  # the th shop's orders were last synced then; us has never been (no as_of)
# (day, SKU, warehouse, available)
SNAPSHOTS = [("2026-11-08", "s1", "w1", 30), ("2026-11-08", "s1", "w2", 10), ("2026-11-08", "s2", "w1", 5),
             ("2026-11-10", "s1", "w1", 20), ("2026-11-10", "s1", "w2", 10), ("2026-11-10", "s2", "w1", 0),
             ("2026-11-11", "s1", "w1", 14), ("2026-11-11", "s1", "w2", 0), ("2026-11-11", "s2", "w1", 0)]
# (product, status, since UTC, until UTC)
STATUSES = [("pa", "ACTIVATE", "2026-10-01 00:00", None),
            ("pb", "ACTIVATE", "2026-10-01 00:00", "2026-11-10 03:00"),
            ("pb", "PLATFORM_DEACTIVATED", "2026-11-10 03:00", None),  # BKK Nov 10 10:00
            ("pc", "ACTIVATE", "2026-10-01 00:00", "2026-11-11 05:00"),
            ("pc", "FAILED", "2026-11-11 05:00", None),  # BKK Nov 11 12:00
            ("pd", "DRAFT", "2026-10-01 00:00", None)]  # a draft was never live: not counted
# (day, sessions, % answered within 24 h, average first-response minutes)
SERVICE = [("2026-11-09", 10, "90", "12"), ("2026-11-10", 30, "80", "20"), ("2026-11-11", 0, None, None)]
# (shop, product, shop-local day, reviews with 1, 2, 3, 4, 5 stars)
RATINGS = [("th", "pa", "2026-11-09", (0, 0, 1, 2, 7)),  # 10 reviews, 3 + 8 + 35 = 46 stars, none negative
           ("th", "pa", "2026-11-10", (1, 1, 0, 0, 2)),  # 4 reviews, 1 + 2 + 10 = 13 stars, 2 negative
           ("th", "pb", "2026-11-10", (2, 0, 0, 0, 0)),  # 2 reviews, 2 stars, 2 negative
           ("th", "pb", "2026-11-12", (0, 0, 0, 1, 1)),  # after Nov 11: 2 reviews, 9 stars
           ("us", "ux", "2026-11-10", (0, 0, 0, 0, 3))]  # another shop


@pytest.fixture(scope="module")
def wh():
    warehouse = Warehouse()
    zones = {"th": ("TH", "Asia/Bangkok", "THB"), "us": ("US", "America/Los_Angeles", "USD")}
    shops = [{"shop_id": s, "name": f"{s} shop", "region": r, "seller_type": "LOCAL", "code": s, "currency": c,
              "timezone": z, "source": "test"} for s, (r, z, c) in zones.items()]
    orders, items, fulfilment = [], [], []
    for oid, shop, paid, sku, units, price, cancelled, rts, delivered in ORDERS:
        currency = zones[shop][2]
        total = str(Decimal(price) * units)
        orders.append({"order_id": oid, "shop_id": shop, "status": "CANCELLED" if cancelled else "COMPLETED",
                       "create_time": ts(paid) - 60, "update_time": ts(paid), "paid_time": ts(paid),
                       "cancel_time": ts(cancelled) if cancelled else None, "buyer_id": "b", "currency": currency,
                       "sub_total": total, "shipping_fee": "0", "seller_discount": "0", "platform_discount": "0",
                       "tax": "0", "total_amount": total, "source": "test"})
        items += [{"line_item_id": f"{oid}-{n}", "order_id": oid, "shop_id": shop, "product_id": PRODUCT[sku],
                   "sku_id": sku, "original_price": price, "sale_price": price, "seller_discount": "0",
                   "platform_discount": "0", "currency": currency} for n in range(units)]
        if oid.startswith(("d", "u")):
            fulfilment.append({"order_id": oid, "shop_id": shop, "rts_sla_time": ts(paid) + 48 * H,
                               "rts_time": ts(rts) if rts else None,
                               "delivery_time": ts(delivered) if delivered else None})
    with warehouse.transaction():
        warehouse.upsert("shops", shops, SHOP_COLUMNS)
        warehouse.upsert("orders", orders, ORDER_COLUMNS)
        warehouse.upsert("order_line_items", [{c: r.get(c) for c in LINE_ITEM_COLUMNS} for r in items],
                         LINE_ITEM_COLUMNS)
        warehouse.upsert("order_fulfilment", [{c: r.get(c) for c in FULFILMENT_COLUMNS if c != "synced_at"}
                                              for r in fulfilment], FULFILMENT_COLUMNS)
        warehouse.upsert("inventory_snapshots", [
            {"sku_id": sku, "warehouse_id": w, "date": day, "shop_id": "th", "product_id": PRODUCT[sku],
             "seller_sku": sku.upper(), "snapshot_time": ts(day + " 12:00"), "available": n, "committed": 0}
            for day, sku, w, n in SNAPSHOTS], INVENTORY_COLUMNS)
        warehouse.upsert("service_daily", [
            {"shop_id": "th", "date": day, "sessions": n, "response_percentage": pct, "response_minutes": minutes,
             "satisfaction_percentage": None} for day, n, pct, minutes in SERVICE], SERVICE_COLUMNS)
        warehouse.upsert("product_ratings_daily", [
            {"shop_id": shop, "product_id": pid, "date": day, **{f"stars_{n + 1}": c for n, c in enumerate(counts)}}
            for shop, pid, day, counts in RATINGS], RATING_COLUMNS)
        for pid, status, since, until in STATUSES:
            warehouse.con.execute("INSERT INTO product_status_history VALUES (?, to_timestamp(?), 'th', ?, NULL, "
                                  "to_timestamp(?))", [pid, ts(since), status, ts(until) if until else None])
        warehouse.con.execute("INSERT INTO sync_state VALUES ('th', 'orders', ?, NULL, now())", [str(ts(AS_OF))])
        warehouse.con.execute("INSERT INTO stock_lead_times VALUES ('th', 's1', 45)")  # s1 takes 45 days to restock
    warehouse.refresh_facts()
    yield warehouse
    warehouse.close()


SHOP_TZ = Policies(timezone="shop")
TH = {"shop": "th", "period": ("2026-11-09", "2026-11-11"), "policies": SHOP_TZ}
TH_TO_12 = {"shop": "th", "period": ("2026-11-09", "2026-11-12"), "policies": SHOP_TZ}


def one(wh, metric, **kwargs):
    frame = metrics.query([metric], warehouse=wh, **kwargs)
    assert len(frame) == 1, frame
    return frame.iloc[0][metric]


@pytest.mark.parametrize("metric, scope, expected", [
    # due Nov 9-11 (Bangkok): d1 (on time) and d2 (late); d3, d4 fall due on Nov 12, d5 was cancelled, d6 later
    ("dispatches_due", TH, 2), ("late_dispatches", TH, 1), ("on_time_dispatches", TH, 1),
    ("late_dispatch_rate", TH, 0.5), ("on_time_dispatch_rate", TH, 0.5),
    ("hours_to_ship", TH, 37.0),  # median of 24 and 50
    # to Nov 12: d3 on time (12 h), d4 unshipped past its SLA when last synced: late
    ("dispatches_due", TH_TO_12, 4), ("late_dispatch_rate", TH_TO_12, 0.5), ("hours_to_ship", TH_TO_12, 24.0),
    # at the end of Nov 11 (17:00 UTC) d4 and d6 await shipment; d4 is due before Nov 12 17:00 UTC, d6 is not
    ("backlog_orders", TH, 2), ("orders_at_risk", TH, 1),
    # delivered Nov 9-11: none, so no median (not 0 days); to Nov 14: d1 after 3.0 days (Nov 12) and d3 after
    # 4.0 (BKK Nov 14 03:00)
    ("delivery_days", TH, None),
    ("delivery_days", {"shop": "th", "period": ("2026-11-09", "2026-11-13"), "policies": SHOP_TZ}, 3.0),
    ("delivery_days", {"shop": "th", "period": ("2026-11-09", "2026-11-14"), "policies": SHOP_TZ}, 3.5),
    # stock at the end of Nov 11: s1 14 + 0, s2 0; units in the 14 days to Nov 11: s1 5, s2 1
    ("stock_on_hand", TH, 14), ("trailing_daily_units", TH, 6 / 14), ("days_of_cover", TH, 14 / (6 / 14)),
    # s2 is out (cover 0 < 7); s1 has 14 / (5/14) = 39.2 days, below its own 45-day lead time
    ("stockout_risk_skus", TH, 2),
    # s2 ended Nov 10 and Nov 11 with nothing; s1 never did (w2 alone at 0 does not make the SKU out)
    ("out_of_stock_days", TH, 2),
    # units Nov 9-11 (d1 1, d2 2, d3 1, d4 1, d6 1; d5 cancelled) = 6; 6 / (6 + 14)
    ("units_and_stock", TH, 20), ("sell_through_rate", TH, 0.3),
    # not live at the end of Nov 11: pb (deactivated Nov 10) and pc (failed audit Nov 11); the draft pd is not
    ("deactivated_products", TH, 2),
    # pb's GMV Oct 13 - Nov 9 (40.00, not the 99.00 of Oct 5) + pc's Oct 14 - Nov 10 (25.00)
    ("listing_gmv_at_risk", TH, Decimal("65.0000")),
    # chat: 10 sessions 90 % answered, 12 min; 30 sessions 80 %, 20 min; a day without sessions
    ("chat_sessions", TH, 40), ("chat_responses", TH, 33.0), ("response_rate", TH, 33 / 40),
    ("chat_response_minutes", TH, 720.0), ("response_minutes", TH, 18.0),
    # reviews Nov 9-11: 10 + 4 + 2 = 16 with 46 + 13 + 2 = 61 stars, 0 + 2 + 2 = 4 of 1-2 stars; to Nov 12 pb's 2
    ("reviews", TH, 16), ("review_stars", TH, 61), ("negative_reviews", TH, 4),
    ("average_rating", TH, 61 / 16), ("negative_review_share", TH, 4 / 16),
    ("average_rating", TH_TO_12, 70 / 18), ("negative_review_share", TH_TO_12, 4 / 18),
])
def test_each_operations_metric_on_the_hand_built_shop(wh, metric, scope, expected):
    value = one(wh, metric, **scope)
    if expected is None:
        assert value is None or value != value, value  # none, or NaN in a float column
    elif isinstance(expected, float):
        assert float(value) == pytest.approx(expected, rel=1e-9)
    else:
        assert value == expected and isinstance(value, Decimal) == isinstance(expected, Decimal)


OPERATIONS_METRICS = {args[0] for args in test_each_operations_metric_on_the_hand_built_shop.pytestmark[0].args[1]}


def test_snapshots_are_read_on_the_last_day_never_added_up(wh):
    by_day = metrics.query(["stock_on_hand", "deactivated_products", "orders_at_risk"], by=["day"], warehouse=wh,
                           **TH)
    # Nov 9 carries Nov 8's snapshot forward (30 + 10 + 5); Nov 10 20 + 10 + 0; Nov 11 14
    assert list(by_day["stock_on_hand"]) == [45, 30, 14]
    assert list(by_day["deactivated_products"]) == [0, 1, 2]
    # end of Nov 10 (17:00 UTC): d2 awaits, due Nov 11 10:00 (at risk); d4 is due Nov 12 00:00 (not yet)
    assert list(by_day["orders_at_risk"]) == [0, 1, 1]
    # Nov 8-11 spans two ISO weeks: the first is read on its Sunday (Nov 8), the second on the period's end
    week = metrics.query(["stock_on_hand"], by=["week"], shop="th", period=("2026-11-08", "2026-11-11"),
                         policies=SHOP_TZ, warehouse=wh)
    assert list(week["stock_on_hand"]) == [45, 14]


def test_sla_days_follow_the_reporting_zone_across_the_us_dst_change(wh):
    period = ("2026-10-31", "2026-11-02")
    la = metrics.query(["dispatches_due", "late_dispatch_rate"], by=["day"], shop="us", period=period,
                       policies=SHOP_TZ, warehouse=wh)
    # Los Angeles: u3 Oct 31 23:30 PDT; u1 Nov 1 00:30 PDT; u2 Nov 1 23:30 PST (late)
    assert list(la["dispatches_due"]) == [1, 2, 0]
    assert list(la["late_dispatch_rate"].astype(float).fillna(-1)) == [0.0, 0.5, -1]
    shanghai = metrics.query(["dispatches_due"], by=["day"], shop="us", period=period, warehouse=wh)
    # Shanghai: u3 Nov 1 14:30, u1 Nov 1 15:30, u2 Nov 2 15:30
    assert list(shanghai["dispatches_due"]) == [0, 2, 1]


def test_stock_breaks_down_by_sku_and_warehouse(wh):
    frame = metrics.query(["stock_on_hand", "stockout_risk_skus"], by=["sku", "warehouse"], warehouse=wh, **TH)
    got = {(r.sku, r.warehouse): (r.stock_on_hand, r.stockout_risk_skus) for r in frame.itertuples()}
    assert got == {("s1", "w1"): (14, 1), ("s1", "w2"): (0, 1), ("s2", "w1"): (0, 1)}


def test_lead_time_defaults_to_seven_days(wh):
    frame = wh.frame("SELECT sku_id, max(lead_days) AS lead FROM stock_daily GROUP BY 1 ORDER BY 1")
    assert dict(zip(frame["sku_id"], frame["lead"], strict=True)) == {"s1": 45, "s2": 7}


def test_a_comparison_reads_the_previous_period_at_its_own_end(wh):
    frame = metrics.query(["stock_on_hand"], shop="th", period=("2026-11-11", "2026-11-11"), compare="previous",
                          policies=SHOP_TZ, warehouse=wh)
    assert frame.iloc[0]["stock_on_hand"] == 14 and frame.iloc[0]["stock_on_hand_previous"] == 30
    assert date(2026, 11, 10) == metrics.comparison_period((date(2026, 11, 11),) * 2, "previous")[0]


def test_ratings_are_weighted_by_reviews_and_break_down_by_product_and_day(wh):
    by_product = metrics.query(["reviews", "average_rating", "negative_review_share"], by=["product"], warehouse=wh,
                               **TH)
    got = {r.product: (r.reviews, float(r.average_rating), float(r.negative_review_share))
           for r in by_product.itertuples()}
    # pa: 14 reviews, 59 stars, 2 negative; pb: 2 reviews of 1 star
    assert got == {"pa": (14, pytest.approx(59 / 14), pytest.approx(2 / 14)), "pb": (2, 1.0, 1.0)}
    by_day = metrics.query(["reviews", "average_rating"], by=["day"], warehouse=wh, **TH)
    # Nov 10 is 15 stars over 6 reviews; Nov 11 has none, so no rating (not 0); the period's 61 / 16 = 3.81
    # is not the mean of the daily 4.6 and 2.5
    assert list(by_day["reviews"]) == [10, 6, 0]
    assert [None if v is None or v != v else float(v) for v in by_day["average_rating"]] == [4.6, 2.5, None]
    # a shop-local day stays that day whatever the reporting time zone (Shanghai by default)
    assert one(wh, "reviews", shop="us", period=("2026-11-10", "2026-11-10")) == 3
