"""The metric catalogue and compiler on a small hand-built warehouse whose expected numbers are
worked out by hand in the comments below (Shanghai is UTC+8, Bangkok UTC+7)."""

import pickle
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from shoplens import metrics
from shoplens.errors import MetricDefinitionError, MetricError
from shoplens.metrics import CATALOGUE, Catalogue, Policies, comparison_period, validate
from shoplens.metrics.catalogue import SOURCES
from shoplens.sync.mapping import (AD_COLUMNS, AFFILIATE_COLUMNS, LINE_ITEM_COLUMNS, LIVE_COLUMNS, ORDER_COLUMNS,
                                   PROMOTION_COLUMNS, REFUND_COLUMNS, SHOP_COLUMNS, SHOP_DAILY_COLUMNS,
                                   VIDEO_DAILY_COLUMNS)
from shoplens.warehouse import Warehouse
from shoplens.warehouse.reference import load_costs, load_fx_rates


def ts(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


CURRENCY = {"th": "THB", "gb": "GBP", "us": "USD"}
# (order id, shop, created UTC, paid?, status, buyer, line items as (product, price))
ORDERS = [
    ("o0", "th", "2026-10-01 05:00", True, "COMPLETED", "b2", [("pa", "25.00")]),  # b2's first paid order
    ("o6", "th", "2026-11-08 04:00", True, "COMPLETED", "b4", [("pa", "80.00")]),  # Sunday Nov 8
    ("o1", "th", "2026-11-09 15:30", True, "COMPLETED", "b1", [("pa", "60.00"), ("pb", "40.00")]),  # SH Nov 9 23:30
    ("o2", "th", "2026-11-09 16:30", True, "COMPLETED", "b1", [("pa", "50.50")]),  # SH Nov 10 00:30, BKK Nov 9
    ("o3", "th", "2026-11-10 03:00", True, "CANCELLED", "b2", [("pa", "70.00")]),  # cancelled after payment
    ("o4", "th", "2026-11-10 04:00", False, "UNPAID", "b3", [("pa", "30.00")]),  # never paid
    ("o5", "th", "2026-11-10 05:00", True, "IN_TRANSIT", "b2", [("pa", "19.50")]),
    ("g1", "gb", "2026-11-10 10:00", True, "DELIVERED", "c1", [("gx", "12.34")]),
    ("g2", "gb", "2026-10-24 23:30", True, "COMPLETED", "c2", [("gx", "10.00")]),  # London BST: Oct 25 00:30
    ("g3", "gb", "2026-10-25 23:30", True, "COMPLETED", "c3", [("gx", "5.00")]),  # London GMT: Oct 25 23:30
    ("g4", "gb", "2026-10-24 22:30", True, "COMPLETED", "c2", [("gx", "1.00")]),  # London BST: Oct 24 23:30
    # Los Angeles leaves PDT (UTC-7) for PST (UTC-8) at 09:00 UTC on Nov 1
    ("u1", "us", "2026-11-01 06:30", True, "COMPLETED", "d1", [("ux", "1.00")]),  # LA Oct 31 23:30, SH Nov 1
    ("u2", "us", "2026-11-01 07:30", True, "COMPLETED", "d2", [("ux", "2.00")]),  # LA Nov 1 00:30, SH Nov 1
    ("u3", "us", "2026-11-02 07:30", True, "COMPLETED", "d3", [("ux", "4.00")]),  # LA Nov 1 23:30, SH Nov 2
    ("u4", "us", "2026-11-02 08:30", True, "COMPLETED", "d4", [("ux", "8.00")]),  # LA Nov 2 00:30, SH Nov 2
]
# (return id, shop, order, status, requested UTC, amount)
REFUNDS = [
    ("r1", "th", "o1", "RETURN_OR_REFUND_REQUEST_COMPLETE", "2026-11-11 02:00", "40.00"),
    ("r2", "th", "o5", "RETURN_OR_REFUND_REQUEST_PENDING", "2026-11-10 06:00", "19.50"),
]
# (order, creator, content type, content id, status, estimated commission, actual commission)
AFFILIATE = [
    ("o1", "mali", "VIDEO", "v1", "COMPLETED", "6.00", None),
    ("o5", "ploy", "LIVE", "l1", "PROCESSING", "1.95", "2.00"),  # the actual amount wins
    ("o3", "ploy", "LIVE", "l1", "CANCELLED", "7.00", None),  # cancelled: no commission
]
# Bangkok days of shop analytics: (day, gmv, video, live, product card, GMV Max share, visitors, page views)
SHOP_DAILY = [
    ("2026-11-09", "100.00", "60.00", "0.00", "40.00", "0.25", 50, 80),
    ("2026-11-10", "70.00", "20.00", "30.00", "20.00", "0.50", 30, 60),
]
# (day, video, creator, views, ctr, gmv)
VIDEOS = [("2026-11-09", "v1", "mali", 1000, "0.05", "60.00"), ("2026-11-10", "v1", "mali", 500, "0.02", "0.00"),
          ("2026-11-10", "v2", "ploy", 2000, "0.01", "20.00")]
# (live, creator, start UTC, viewers, views, peak, average seconds watched, gmv, impressions, clicks, orders, items)
# l1 is on air 04:30-06:30 UTC on Nov 10, when o5 was placed
LIVES = [("l1", "ploy", "2026-11-10 04:30", 1000, 1500, 300, 120, "19.50", 4000, 200, 3, 4),
         ("l2", "ploy", "2026-11-11 12:00", 3000, 4500, 800, 60, "0.00", 6000, 300, 5, 6)]
# ECB format: units per euro; no GBP before Nov 9; Nov 7-8 is a weekend
RATES = """Date,USD,THB,GBP,
2026-11-11,1.25,38.0,0.80,
2026-11-10,1.25,38.0,0.80,
2026-11-09,1.00,40.0,0.80,
2026-11-06,1.10,40.0,N/A,
"""
COSTS = "shop_id,sku_id,currency,unit_cost\nth,s,THB,10.00\n"


def _records(columns: dict, rows: list[dict]) -> list[dict]:
    return [{c: row.get(c) for c in columns if columns[c] != "now"} for row in rows]


@pytest.fixture(scope="module")
def wh():
    warehouse = Warehouse()
    zones = {"th": ("TH", "Asia/Bangkok"), "gb": ("GB", "Europe/London"), "us": ("US", "America/Los_Angeles")}
    shops = [{"shop_id": s, "name": f"{s} shop", "region": region, "seller_type": "LOCAL", "code": s,
              "currency": CURRENCY[s], "timezone": zone, "source": "test"} for s, (region, zone) in zones.items()]
    orders, items = [], []
    for oid, shop, created, paid, status, buyer, lines in ORDERS:
        total = str(sum(Decimal(p) for _, p in lines))
        orders.append({"order_id": oid, "shop_id": shop, "status": status, "create_time": ts(created),
                       "update_time": ts(created) + 60, "paid_time": ts(created) + 30 if paid else None,
                       "buyer_id": buyer, "currency": CURRENCY[shop], "sub_total": total, "shipping_fee": "0",
                       "seller_discount": "0", "platform_discount": "0", "tax": "0", "total_amount": total,
                       "source": "test"})
        items += [{"line_item_id": f"{oid}-{i}", "order_id": oid, "shop_id": shop, "product_id": product,
                   "sku_id": "s", "original_price": price, "sale_price": price, "seller_discount": "0",
                   "platform_discount": "0", "currency": CURRENCY[shop]} for i, (product, price) in enumerate(lines)]
    created = {o[0]: ts(o[2]) for o in ORDERS}
    with warehouse.transaction():
        warehouse.upsert("shops", shops, SHOP_COLUMNS)
        warehouse.upsert("orders", orders, ORDER_COLUMNS)
        warehouse.upsert("order_line_items", _records(LINE_ITEM_COLUMNS, items), LINE_ITEM_COLUMNS)
        warehouse.upsert("refunds", [
            {"return_id": rid, "shop_id": shop, "order_id": oid, "return_type": "REFUND", "return_status": status,
             "create_time": ts(when), "update_time": ts(when), "currency": "THB", "refund_total": amount,
             "source": "test"} for rid, shop, oid, status, when, amount in REFUNDS], REFUND_COLUMNS)
        warehouse.upsert("affiliate_order_items", _records(AFFILIATE_COLUMNS, [
            {"item_key": f"{oid}:0", "order_id": oid, "shop_id": "th", "status": status, "create_time": created[oid],
             "quantity": 1, "currency": "THB", "creator_username": creator, "content_type": kind, "content_id": cid,
             "estimated_commission": estimated, "actual_commission": actual}
            for oid, creator, kind, cid, status, estimated, actual in AFFILIATE]), AFFILIATE_COLUMNS)
        warehouse.upsert("shop_daily", _records(SHOP_DAILY_COLUMNS, [
            {"shop_id": "th", "date": day, "currency": "THB", "gmv": gmv, "gmv_video": video, "gmv_live": live,
             "gmv_product_card": card, "gmv_max_share": share, "visitors": visitors, "page_views": views}
            for day, gmv, video, live, card, share, visitors, views in SHOP_DAILY]), SHOP_DAILY_COLUMNS)
        warehouse.upsert("video_daily", _records(VIDEO_DAILY_COLUMNS, [
            {"shop_id": "th", "date": day, "video_id": vid, "username": creator, "views": views, "ctr": ctr,
             "currency": "THB", "gmv": gmv} for day, vid, creator, views, ctr, gmv in VIDEOS]), VIDEO_DAILY_COLUMNS)
        warehouse.upsert("live_sessions", _records(LIVE_COLUMNS, [
            {"live_id": lid, "shop_id": "th", "username": creator, "start_time": ts(start),
             "end_time": ts(start) + 7200, "currency": "THB", "gmv": gmv, "viewers": viewers, "views": views,
             "peak_concurrent": peak, "avg_viewing_s": watch, "product_impressions": imps, "product_clicks": clicks,
             "sku_orders": orders, "items_sold": items}
            for lid, creator, start, viewers, views, peak, watch, gmv, imps, clicks, orders, items in LIVES]), LIVE_COLUMNS)
        warehouse.upsert("ad_campaign_daily", _records(AD_COLUMNS, [
            {"campaign_id": "c1", "date": day, "advertiser_id": "a", "shop_id": "th", "currency": "THB",
             "spend": spend, "roas": roas} for day, spend, roas in
            (("2026-11-09", "10.00", "3.0"), ("2026-11-10", "20.00", "2.5"))]), AD_COLUMNS)
        warehouse.upsert("promotions", _records(PROMOTION_COLUMNS, [
            {"promotion_id": "p1", "shop_id": "th", "title": "Flash", "begin_time": ts("2026-11-09 00:00"),
             "end_time": ts("2026-11-10 00:00")}]), PROMOTION_COLUMNS)
    load_fx_rates(warehouse, RATES, "rates.csv")
    load_costs(warehouse, COSTS, "costs.csv")
    warehouse.refresh_facts()
    yield warehouse
    warehouse.close()


NOV8, NOV9, NOV10, NOV11, NOV12 = (date(2026, 11, d) for d in (8, 9, 10, 11, 12))
D = Decimal
TH_NOV9_11 = {"shop": "th", "period": ("2026-11-09", "2026-11-11")}


def one(wh, names, **kwargs):
    frame = metrics.query(names, warehouse=wh, **kwargs)
    assert len(frame) == 1, frame
    return frame.iloc[0]


@pytest.mark.parametrize("policies, expected", [
    # default: paid orders, cancelled excluded, Asia/Shanghai days
    (Policies(), {NOV9: (D("100.00"), 1), NOV10: (D("70.00"), 2)}),
    # each shop's own zone: o2 falls on Bangkok's Nov 9 (a UTC+7 shop reported in UTC+8 above)
    (Policies(timezone="shop"), {NOV9: (D("150.50"), 2), NOV10: (D("19.50"), 1)}),
    # cancelled orders counted: o3 joins Nov 10
    (Policies(include_cancelled=True), {NOV9: (D("100.00"), 1), NOV10: (D("140.00"), 3)}),
    # every placed order: the unpaid o4 joins Nov 10
    (Policies(gmv_basis="placed"), {NOV9: (D("100.00"), 1), NOV10: (D("100.00"), 3)}),
])
def test_gmv_and_orders_by_day_under_each_policy(wh, policies, expected):
    frame = metrics.query(["gmv", "orders"], by=["day"], shop="th", period=("2026-11-09", "2026-11-10"),
                          policies=policies, warehouse=wh)
    got = {row.day: (row.gmv, row.orders) for row in frame.itertuples()}
    assert got == expected
    assert frame.attrs["policies"] == policies


# Nov 9-11 (Shanghai) for the TH shop: counted orders o1 (100.00), o2 (50.50), o5 (19.50); r1 refunds 40.00;
# affiliate o1 (mali) and o5 (ploy, actual commission 2.00) with commission 6.00 + 2.00; ads spend 10 + 20 with
# ROAS 3.0 and 2.5; units o1 x2, o2, o5 at cost 10.00 each; LIVE l1 and l2; videos v1 and v2.
@pytest.mark.parametrize("metric, expected", [
    ("gmv", D("170.00")),
    ("orders", 3),
    ("paid_orders", 3),  # o1, o2, o5: o3 was paid but is cancelled, o4 never paid
    ("placed_orders", 5),  # o1-o5
    ("cancelled_orders", 1),
    ("cancellation_rate", 1 / 5),
    ("buyers", 2),  # b1, b2
    ("new_buyers", 1),  # b1; b2 first paid in October
    ("returning_buyers", 1),
    ("units", 4),
    ("product_gmv", D("170.00")),
    ("aov", D("56.6667")),  # 170 / 3, not the mean of daily AOVs (100 and 35)
    ("refund_amount", D("40.00")),  # r1 completed on Nov 11; r2 still pending
    ("refund_rate", 40 / 170),
    ("cancelled_gmv", D("70.00")),
    ("net_gmv", D("130.00")),  # 170 - 40
    ("creator_gmv", D("119.50")),  # o1 + o5
    ("creator_orders", 2),
    ("affiliate_gmv_share", 119.5 / 170),
    ("commission", D("8.00")),
    ("commission_rate", 8 / 119.5),
    ("commission_efficiency", 119.5 / 8),
    ("creator_net_gmv", D("111.50")),  # 119.50 - 8.00
    ("creator_roi", 111.5 / 8),
    ("ad_spend", D("30.00")),
    ("ad_gmv", D("80.00")),  # 10 x 3.0 + 20 x 2.5
    ("roas", 80 / 30),  # not the mean of 3.0 and 2.5
    ("cogs", D("40.00")),
    ("marketing_cost", D("38.00")),
    ("contribution", D("52.00")),  # 170 - 40 - 40 - 38
    ("roi", 52 / 38),
    ("visitors", 80),
    ("page_views", 140),
    ("conversion_rate", 2 / 80),
    ("analytics_gmv", D("170.00")),
    ("paid_gmv", D("60.00")),  # 100 x 0.25 + 70 x 0.5
    ("organic_gmv", D("110.00")),
    ("paid_gmv_share", 60 / 170),
    ("content_gmv", D("170.00")),
    ("video_views", 3500),
    ("video_clicks", 80),  # 1000 x 0.05 + 500 x 0.02 + 2000 x 0.01
    ("video_ctr", 80 / 3500),
    ("video_gmv", D("80.00")),
    ("video_gpm", D("22.8571")),  # 80 / 3500 x 1000
    ("live_sessions", 2),
    ("live_viewers", 4000),
    ("live_views", 6000),
    ("live_peak_concurrent", 800),
    ("live_watch_time", 300_000),  # 1000 x 120 + 3000 x 60
    ("live_avg_watch_time", 75.0),  # not the mean of 120 and 60
    ("live_gmv", D("19.50")),
    ("live_gpm", D("3.2500")),  # 19.50 / 6000 x 1000
    ("live_orders", 8),
    ("live_items_sold", 10),
    ("live_product_impressions", 10_000),
    ("live_product_clicks", 500),
    ("live_ctr", 0.05),
])
def test_each_metric_on_the_hand_built_shop(wh, metric, expected):
    value = one(wh, [metric], **TH_NOV9_11)[metric]
    if isinstance(expected, float):
        assert value == pytest.approx(expected, rel=1e-9)
    else:
        assert value == expected and isinstance(value, Decimal) == isinstance(expected, Decimal)


def test_every_catalogue_metric_has_a_hand_checked_number():
    from test_operations_metrics import OPERATIONS_METRICS

    covered = {name for name, _ in test_each_metric_on_the_hand_built_shop.pytestmark[0].args[1]}
    assert covered | OPERATIONS_METRICS == {m.id for m in CATALOGUE}


@pytest.mark.parametrize("policies, metric, expected", [
    (Policies(include_cancelled=True), "gmv", D("240.00")),
    (Policies(include_cancelled=True), "net_gmv", D("130.00")),  # 240 - 40 refunds - 70 cancelled
    (Policies(include_cancelled=True), "paid_orders", 4),
    (Policies(gmv_basis="placed"), "orders", 4),  # o4 unpaid joins; o3 still cancelled
    (Policies(gmv_basis="placed"), "buyers", 3),
    (Policies(commission_deducted=True), "net_gmv", D("122.00")),  # 130 - 8
    (Policies(refunds_by="order_date"), "refund_amount", D("40.00")),
])
def test_policy_switches_change_the_definitions(wh, policies, metric, expected):
    assert one(wh, [metric], policies=policies, **TH_NOV9_11)[metric] == expected


def test_refunds_land_by_request_date_or_by_order_date(wh):
    # r1 was requested on Nov 11 for o1, placed on Nov 9
    early = {"shop": "th", "period": ("2026-11-09", "2026-11-10")}
    assert one(wh, ["refund_amount"], **early).refund_amount == 0  # nothing requested on Nov 9-10
    by_order = one(wh, ["refund_amount"], policies=Policies(refunds_by="order_date"), **early)
    assert by_order.refund_amount == D("40.00")
    later = one(wh, ["refund_amount"], shop="th", period=("2026-11-11", "2026-11-11"))
    assert later.refund_amount == D("40.00")


def test_ratio_is_computed_after_aggregation_not_averaged(wh):
    daily = metrics.query(["aov"], by=["day"], shop="th", period=("2026-11-09", "2026-11-10"), warehouse=wh)
    assert list(daily.aov) == [D("100.0000"), D("35.0000")]
    total = one(wh, ["aov"], shop="th", period=("2026-11-09", "2026-11-10"))
    assert total.aov == D("56.6667") != (D(100) + D(35)) / 2


def test_days_across_the_uk_dst_change_use_local_midnight(wh):
    frame = metrics.query(["gmv"], by=["day"], shop="gb", period=("2026-10-24", "2026-10-25"),
                          policies=Policies(timezone="shop"), warehouse=wh)
    assert {r.day: r.gmv for r in frame.itertuples()} == {date(2026, 10, 24): D("1.00"),
                                                           date(2026, 10, 25): D("15.00")}


@pytest.mark.parametrize("policies, expected", [
    (Policies(timezone="shop"), {date(2026, 10, 31): D("1.00"), date(2026, 11, 1): D("6.00"),
                                 date(2026, 11, 2): D("8.00")}),
    (Policies(), {date(2026, 10, 31): D("0.00"), date(2026, 11, 1): D("3.00"), date(2026, 11, 2): D("12.00")}),
])
def test_days_across_the_us_dst_change(wh, policies, expected):
    frame = metrics.query(["gmv"], by=["day"], shop="us", period=("2026-10-31", "2026-11-02"), policies=policies,
                          warehouse=wh)
    assert {r.day: r.gmv for r in frame.itertuples()} == expected


def test_a_fixed_offset_zone_days_instants_as_the_zone_lookup_does_to_the_microsecond():
    """The compiler reads a zone with one offset over the period by integer arithmetic on the instant's
    microseconds; the same orders by the zone's own rules (the shop's zone) land on the same days, even a
    fraction of a second before midnight (a DOUBLE of epoch seconds cast to an integer rounded it over)."""
    wh = Warehouse()
    shop = {"shop_id": "sh", "name": "sh shop", "region": "SG", "seller_type": "LOCAL", "code": "sh",
            "currency": "SGD", "timezone": "Asia/Shanghai", "source": "test"}
    # Shanghai is UTC+8: 15:59:59 UTC is 23:59:59 local, 16:00:00 UTC the next day's midnight
    created = {"late": ts("2026-11-09 15:59:59"), "midnight": ts("2026-11-09 16:00:00"),
               "noon": ts("2026-11-09 04:00:00")}
    orders = [{"order_id": oid, "shop_id": "sh", "status": "COMPLETED", "create_time": at, "update_time": at,
               "paid_time": at, "buyer_id": f"b-{oid}", "currency": "SGD", "sub_total": price, "shipping_fee": "0",
               "seller_discount": "0", "platform_discount": "0", "tax": "0", "total_amount": price, "source": "test"}
              for (oid, at), price in zip(created.items(), ("1.00", "2.00", "4.00"), strict=True)]
    with wh.transaction():
        wh.upsert("shops", [shop], SHOP_COLUMNS)
        wh.upsert("orders", orders, ORDER_COLUMNS)
        # 23:59:59.6 local: still Nov 9
        wh.con.execute("UPDATE orders SET create_time = create_time + INTERVAL 600 MILLISECOND, "
                       "paid_time = paid_time + INTERVAL 600 MILLISECOND WHERE order_id = 'late'")
    wh.refresh_facts()
    period = ("2026-11-09", "2026-11-10")
    fixed = metrics.query(["gmv", "orders"], by=["day"], period=period, policies=Policies(timezone="Asia/Shanghai"),
                          warehouse=wh)
    zone = metrics.query(["gmv", "orders"], by=["day"], period=period, policies=Policies(timezone="shop"),
                         warehouse=wh)
    expected = {date(2026, 11, 9): (D("5.00"), 2), date(2026, 11, 10): (D("2.00"), 1)}
    assert {r.day: (r.gmv, r.orders) for r in fixed.itertuples()} == expected
    assert {r.day: (r.gmv, r.orders) for r in zone.itertuples()} == expected
    assert "timezone(" not in fixed.attrs["sql"].sql and "timezone(" in zone.attrs["sql"].sql  # both paths ran


def test_money_is_never_added_across_currencies(wh):
    frame = metrics.query(["gmv"], period=("2026-11-09", "2026-11-10"), warehouse=wh)
    assert {r.currency: r.gmv for r in frame.itertuples()} == {"GBP": D("12.34"), "THB": D("170.00"), "USD": D("0.00")}


def test_fx_converts_each_day_at_its_own_rate(wh):
    # Nov 9: 100 THB / 40 x 1.00 = 2.50 USD; Nov 10: 70 THB / 38 x 1.25 = 2.302631... USD
    usd = Policies(currency="USD")
    daily = metrics.query(["gmv", "orders"], by=["day"], shop="th", period=("2026-11-09", "2026-11-10"),
                          policies=usd, warehouse=wh)
    assert [(r.day, r.currency, r.gmv, r.orders) for r in daily.itertuples()] == [
        (NOV9, "USD", D("2.5000"), 1), (NOV10, "USD", D("2.3026"), 2)]
    total = one(wh, ["gmv", "aov"], shop="th", period=("2026-11-09", "2026-11-10"), policies=usd)
    assert total.gmv == D("4.8026") and total.aov == D("1.6009")  # 4.802631... / 3


def test_fx_adds_shops_up_only_after_converting(wh):
    # TH 100/40 + 70/38 EUR, GB 12.34 / 0.80 EUR = 2.5 + 1.842105 + 15.425
    row = one(wh, ["gmv"], period=("2026-11-09", "2026-11-10"), policies=Policies(currency="EUR"))
    assert (row.currency, row.gmv) == ("EUR", D("19.7671"))


def test_fx_uses_the_last_working_day_rate_at_weekends(wh):
    # o6 on Sunday Nov 8 uses Friday Nov 6: 80 / 40 x 1.10
    row = one(wh, ["gmv"], shop="th", period=("2026-11-08", "2026-11-08"), policies=Policies(currency="USD"))
    assert row.gmv == D("2.2000")


def test_same_currency_needs_no_rate(wh):
    row = one(wh, ["gmv"], shop="us", period=("2026-11-01", "2026-11-02"), policies=Policies(currency="USD"))
    assert row.gmv == D("15.00")


@pytest.mark.parametrize("shop, period, message", [
    ("gb", ("2026-10-25", "2026-10-25"), "no FX rate for GBP on 2026-10-25"),  # GBP quoted only from Nov 9
    ("us", ("2026-11-01", "2026-11-01"), "no FX rate for USD on 2026-11-01"),  # first USD rate is Nov 6
])
def test_a_missing_fx_rate_is_an_error_naming_currency_and_day(wh, shop, period, message):
    with pytest.raises(MetricError) as caught:
        metrics.query(["gmv"], shop=shop, period=period, policies=Policies(currency="EUR"), warehouse=wh)
    assert message in str(caught.value) and "shoplens fx load" in str(caught.value)


def test_compare_with_the_previous_period(wh):
    # Nov 10-11 against Nov 8-9: 70 vs 80 (o6), 0 vs 100 (o1)
    frame = metrics.query(["gmv", "orders"], by=["day"], shop="th", period=("2026-11-10", "2026-11-11"),
                          compare="previous", warehouse=wh)
    assert [(r.day, r.gmv, r.gmv_previous, r.orders, r.orders_previous) for r in frame.itertuples()] == [
        (NOV10, D("70.00"), D("80.00"), 2, 1), (NOV11, D("0.00"), D("100.00"), 0, 1)]
    assert list(frame.gmv_change) == [pytest.approx(-0.125), pytest.approx(-1.0)]
    assert frame.attrs["comparison_period"] == (NOV8, NOV9)


def test_compare_with_last_year_when_there_is_none(wh):
    row = one(wh, ["gmv"], shop="th", period=("2026-11-09", "2026-11-11"), compare="last_year")
    assert (row.gmv, row.gmv_previous, row.gmv_change) == (D("170.00"), D("0.00"), None)
    assert comparison_period((date(2028, 2, 29), date(2028, 3, 1)), "last_year") == (date(2027, 2, 28),
                                                                                    date(2027, 3, 1))


def test_days_without_data_appear_as_zeros(wh):
    frame = metrics.query(["gmv", "orders", "aov"], by=["day"], shop="th", period=("2026-11-11", "2026-11-12"),
                          warehouse=wh)
    assert [(r.day, r.gmv, r.orders) for r in frame.itertuples()] == [(NOV11, D("0.00"), 0), (NOV12, D("0.00"), 0)]
    assert frame.aov.isna().all()  # no orders: no average, not zero


@pytest.mark.parametrize("names, by, expected", [
    (["gmv"], "channel", {"affiliate": D("119.50"), "own": D("50.50")}),
    (["creator_gmv"], "creator", {"mali": D("100.00"), "ploy": D("19.50"), None: D("0.00")}),
    (["product_gmv"], "product", {"pa": D("130.00"), "pb": D("40.00")}),
    (["units"], "product", {"pa": 3, "pb": 1}),
    (["gmv"], "promotion", {"p1": D("150.50")}),  # o1 and o2 fall in Flash (Nov 9 UTC)
    (["ad_spend"], "campaign", {"c1": D("30.00")}),
    (["content_gmv"], "content_type", {"VIDEO": D("80.00"), "LIVE": D("30.00"), "PRODUCT_CARD": D("60.00")}),
    (["video_gpm"], "content_id", {"v1": D("40.0000"), "v2": D("10.0000")}),
    (["commission"], "content_type", {"VIDEO": D("6.00"), "LIVE": D("2.00")}),
    (["live_avg_watch_time"], "content_id", {"l1": 120.0, "l2": 60.0}),
    (["gmv"], "live", {"l1": D("19.50")}),  # o5, placed while l1 was on air
    (["units"], "live", {"l1": 1}),
])
def test_dimensions_break_metrics_down(wh, names, by, expected):
    frame = metrics.query(names, by=[by], warehouse=wh, **TH_NOV9_11)
    got = {getattr(r, by): getattr(r, names[0]) for r in frame.itertuples()}
    assert {(None if k != k else k): v for k, v in got.items()} == expected  # NaN keys read as None


def test_stale_facts_are_refused_not_miscounted():
    warehouse = Warehouse()
    with warehouse.transaction():
        warehouse.upsert("shops", [{"shop_id": "x", "name": "X", "region": "TH", "currency": "THB",
                                    "timezone": "Asia/Bangkok", "source": "test"}], SHOP_COLUMNS)
        warehouse.upsert("orders", [{"order_id": "x1", "shop_id": "x", "status": "COMPLETED", "create_time": 0,
                                     "update_time": 0, "paid_time": 0, "buyer_id": "b", "currency": "THB",
                                     "sub_total": "1", "shipping_fee": "0", "seller_discount": "0",
                                     "platform_discount": "0", "tax": "0", "total_amount": "1", "source": "test"}],
                         ORDER_COLUMNS)
    with pytest.raises(MetricError, match="run `shoplens sync`"):
        metrics.query(["gmv"], warehouse=warehouse)
    warehouse.refresh_facts()
    assert one(warehouse, ["gmv"]).gmv == 1


def test_results_carry_labels_and_definitions(wh):
    frame = metrics.query(["gmv", "roas"], shop="th", lang="zh", warehouse=wh)
    assert frame.attrs["labels"] == {"gmv": "成交金额 (GMV)", "roas": "广告支出回报率 (ROAS)"}
    assert frame.attrs["metrics"]["roas"].numerator == "ad_gmv"
    assert "GMV 口径" in frame.attrs["policies"].describe("zh")


def test_a_results_attrs_are_shared_by_the_frames_pandas_derives_and_cannot_be_changed(wh):
    """pandas deep-copies `attrs` after nearly every operation: a query's are shared values, so the
    derived frames keep them equal without copying them, and a change is refused, not spread to them."""
    frame = metrics.query(["gmv", "orders"], by=["day"], shop="th", period=("2026-11-09", "2026-11-10"),
                          compare="previous", warehouse=wh)
    derived = frame.sort_values("gmv").head(1)[["day", "gmv"]]
    for key in ("metrics", "labels", "period", "comparison_period", "where", "policies", "spec", "sql"):
        assert derived.attrs[key] is frame.attrs[key], key
    assert frame.attrs["period"] == (date(2026, 11, 9), date(2026, 11, 10))
    with pytest.raises(TypeError, match="not changed once made"):
        derived.attrs["labels"]["gmv"] = "changed"
    assert frame.attrs["labels"]["gmv"] == "GMV"
    assert pickle.loads(pickle.dumps(derived)).attrs["labels"] == frame.attrs["labels"]


@pytest.mark.parametrize("kwargs, message", [
    ({"metrics": ["gmv", "revenue"]}, "unknown metric 'revenue'; `shoplens metrics list` lists all"),
    ({"metrics": ["gmv"], "by": ["planet"]}, "unknown dimension 'planet'; known dimensions: shop"),
    ({"metrics": ["gmv"], "by": ["campaign"]}, "metric 'gmv' cannot be broken down by 'campaign'"),
    ({"metrics": ["gmv"], "period": ("2026-11-10", "2026-11-01")}, "swap the dates"),
    ({"metrics": ["gmv"], "period": ("2026-11-01", "soon")}, "use ISO dates"),
    ({"metrics": ["gmv"], "shop": "nope"}, "unknown shop id 'nope'"),
    ({"metrics": ["gmv"], "policies": Policies(timezone="Mars/Olympus")}, "unknown time zone 'Mars/Olympus'"),
    ({"metrics": ["gmv"], "compare": "previous"}, "a comparison needs a period"),
    ({"metrics": ["gmv"], "compare": "yesterday", "period": ("2026-11-01", "2026-11-02")}, "unknown comparison"),
    ({"metrics": ["gmv"], "by": ["month"], "compare": "previous", "period": ("2026-11-01", "2026-11-02")},
     "cannot compare by 'month'"),
])
def test_bad_queries_name_the_input_and_the_fix(wh, kwargs, message):
    names = kwargs.pop("metrics")
    with pytest.raises(MetricError) as caught:
        metrics.query(names, warehouse=wh, **kwargs)
    assert message in str(caught.value)


@pytest.mark.parametrize("kwargs, message", [
    ({"gmv_basis": "shipped"}, "gmv_basis 'shipped' is not one of paid, placed"),
    ({"refunds_by": "moon"}, "refunds_by 'moon' is not one of"),
    ({"currency": "dollars"}, "currency 'dollars' is not an ISO 4217 code"),
])
def test_bad_policies_are_refused(kwargs, message):
    with pytest.raises(MetricError, match=message):
        Policies(**kwargs)


def _with(**changes):
    return replace(CATALOGUE[0], **changes)


def _derived(**changes):
    return _with(source=None, expr=None, agg=None, policies=(), **changes)


@pytest.mark.parametrize("bad, message", [
    (_with(id="x1", source="nowhere"), "metric 'x1': unknown source 'nowhere'"),
    (_with(id="x2", expr="price_in_gold"), "metric 'x2': source 'orders' has no column 'price_in_gold'"),
    (_with(id="x3", unit="furlongs"), "metric 'x3': unit 'furlongs' is not one of money, count, ratio, duration"),
    (_with(id="x4", agg="mode"), "metric 'x4': aggregation 'mode' is not one of"),
    (_derived(id="x5", numerator="gmv", denominator="ghosts"), "metric 'x5': ratio refers to unknown metric 'ghosts'"),
    (_with(id="x6", label={"en": "X"}), "metric 'x6': missing zh label"),
    (_with(id="gmv"), "metric id 'gmv' is defined more than once"),
    (_with(id="x7", filters=("shiny",)), "metric 'x7': source 'orders' has no filter 'shiny'"),
    (_with(id="x8", agg="max"), "metric 'x8': money must aggregate with sum"),
    (_derived(id="x9", terms=((1, "gmv", None), (-1, "orders", None))), "cannot add count 'orders' to a money sum"),
    (_derived(id="x10", terms=((1, "gmv", "moon_phase"),)), "term 'gmv' depends on unknown policy 'moon_phase'"),
    (_with(id="x11", format="roman"), "metric 'x11': format 'roman' is not one of"),
    (_with(id="x12", dimensions=("campaign",)), "metric 'x12': source 'orders' has no dimension 'campaign'"),
])
def test_each_invalid_definition_is_reported(bad, message):
    with pytest.raises(MetricDefinitionError) as caught:
        validate(CATALOGUE + (bad,), SOURCES)
    assert any(message in p for p in caught.value.problems), caught.value.problems


def test_every_problem_is_reported_at_once_including_cycles():
    loop_a = _derived(id="loop_a", numerator="loop_b", denominator="orders")
    loop_b = _derived(id="loop_b", numerator="loop_a", denominator="orders")
    with pytest.raises(MetricDefinitionError) as caught:
        validate(CATALOGUE + (loop_a, loop_b, _with(id="x3", unit="furlongs")), SOURCES)
    problems = caught.value.problems
    assert any("metric cycle: loop_a -> loop_b -> loop_a" in p or "metric cycle: loop_b -> loop_a -> loop_b" in p
               for p in problems)
    assert any("furlongs" in p for p in problems)
    assert str(len(problems)) in str(caught.value)


def test_the_shipped_catalogue_is_valid_and_bilingual():
    catalogue = Catalogue()
    for m in catalogue.metrics:
        assert m.label["en"] and m.label["zh"] and m.description["en"] and m.description["zh"]


def test_the_glossary_is_generated_in_both_languages():
    markdown = metrics.glossary_markdown(["gmv", "roi"], lang="zh")
    assert markdown.splitlines()[0] == "| 指标 | 定义 |" and "投资回报率 (ROI)" in markdown
    html = metrics.glossary_html(["gmv"], lang="en")
    assert "<dt>GMV</dt>" in html and "<h2>Glossary</h2>" in html


@pytest.mark.parametrize("by, policies, expected", [
    (["day"], Policies(), {(NOV9,): 1, (NOV10,): 2}),  # Nov 10: b1 again (o2) and b2
    (["day"], Policies(timezone="shop"), {(NOV9,): 1, (NOV10,): 1}),  # o1 and o2 are both Bangkok's Nov 9
    (["week"], Policies(), {(date(2026, 11, 9),): 2}),
    (["channel"], Policies(), {("affiliate",): 2, ("own",): 1}),  # b1 bought through both channels
    (["day"], Policies(gmv_basis="placed"), {(NOV9,): 1, (NOV10,): 3}),  # + b3's unpaid o4
])
def test_buyers_are_counted_once_per_group(wh, by, policies, expected):
    frame = metrics.query(["buyers"], by=by, shop="th", period=("2026-11-09", "2026-11-10"), policies=policies,
                          warehouse=wh)
    assert {tuple(getattr(r, d) for d in by): r.buyers for r in frame.itertuples()} == expected


@pytest.mark.parametrize("by", [[], ["day"], ["week"], ["shop", "month"], ["region", "day"]])
@pytest.mark.parametrize("tz", ["Asia/Shanghai", "shop", "America/New_York"])
def test_distinct_buyers_match_a_plain_count_on_the_sandbox(synced, by, tz):
    """The compiler counts buyers from each order's previous order; pandas counts distinct ids."""
    import pandas as pd

    from shoplens.config import warehouse_path

    home, _ = synced
    period = ("2026-10-26", "2026-11-15")  # includes New York's DST change on Nov 1
    with Warehouse(warehouse_path(home), read_only=True) as warehouse:
        ours = metrics.query(["buyers"], by=by, period=period, policies=Policies(timezone=tz), warehouse=warehouse)
        orders = warehouse.frame("SELECT o.*, s.region, s.timezone AS shop_tz FROM orders o JOIN shops s USING (shop_id)")
    orders = orders[orders.paid_time.notna() & (orders.status != "CANCELLED")].copy()
    stamps = pd.to_datetime(orders.create_time, utc=True)
    orders["day"] = [t.tz_convert(z if tz == "shop" else tz).date() for t, z in zip(stamps, orders.shop_tz)]
    orders = orders[(orders.day >= date(2026, 10, 26)) & (orders.day <= date(2026, 11, 15))]
    orders["week"] = [d - pd.Timedelta(days=d.weekday()) for d in orders.day]
    orders["month"] = [d.replace(day=1) for d in orders.day]
    orders["shop"] = orders.shop_id
    theirs = orders.groupby(by).buyer_id.nunique() if by else pd.Series([orders.buyer_id.nunique()])
    got = ours.set_index(by).buyers if by else ours.buyers
    expected = {k: v for k, v in theirs.items()} if by else {0: theirs.iloc[0]}
    assert {k: v for k, v in got.items() if v or k in expected} == expected


@pytest.mark.parametrize("names, where, expected", [
    (["gmv", "orders"], {"channel": "affiliate"}, (D("119.50"), 2)),
    (["gmv", "orders"], {"creator": ["mali"]}, (D("100.00"), 1)),
    (["gmv", "orders"], {"promotion": "p1"}, (D("150.50"), 2)),
    (["ad_spend", "roas"], {"campaign": "c1"}, (D("30.00"), 80 / 30)),
    (["gmv", "orders"], {"region": "TH"}, (D("170.00"), 3)),
])
def test_where_keeps_only_those_dimension_values(wh, names, where, expected):
    row = one(wh, names, where=where, **TH_NOV9_11)
    assert (row[names[0]], row[names[1]]) == (expected[0], pytest.approx(expected[1]) if isinstance(expected[1], float)
                                              else expected[1])


@pytest.mark.parametrize("where, message", [
    ({"campaign": "c1"}, "metric 'gmv' cannot be filtered by 'campaign'"),
    ({"day": "2026-11-09"}, "cannot filter on 'day'"),
    ({"creator": []}, "lists no values"),
])
def test_bad_filters_are_refused(wh, where, message):
    with pytest.raises(MetricError, match=message):
        metrics.query(["gmv"], where=where, warehouse=wh, **TH_NOV9_11)
