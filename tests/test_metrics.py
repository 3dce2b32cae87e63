"""The metric catalogue and compiler on a small hand-built warehouse whose expected numbers are
worked out by hand in the comments below."""

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from shoplens import metrics
from shoplens.errors import MetricDefinitionError, MetricError
from shoplens.metrics import CATALOGUE, Catalogue, Policies, validate
from shoplens.metrics.catalogue import SOURCES
from shoplens.sync.mapping import LINE_ITEM_COLUMNS, ORDER_COLUMNS, REFUND_COLUMNS, SHOP_COLUMNS
from shoplens.warehouse import Warehouse


def ts(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


# (order id, shop, created UTC, paid?, status, buyer, line item prices)
ORDERS = [
    ("o1", "th", "2026-11-09 15:30", True, "COMPLETED", "b1", ["60.00", "40.00"]),  # Shanghai Nov 9 23:30
    ("o2", "th", "2026-11-09 16:30", True, "COMPLETED", "b1", ["50.50"]),  # Shanghai Nov 10 00:30, Bangkok Nov 9
    ("o3", "th", "2026-11-10 03:00", True, "CANCELLED", "b2", ["70.00"]),  # cancelled after payment
    ("o4", "th", "2026-11-10 04:00", False, "UNPAID", "b3", ["30.00"]),  # never paid
    ("o5", "th", "2026-11-10 05:00", True, "IN_TRANSIT", "b2", ["19.50"]),
    ("g1", "gb", "2026-11-10 10:00", True, "DELIVERED", "c1", ["12.34"]),
    ("g2", "gb", "2026-10-24 23:30", True, "COMPLETED", "c2", ["10.00"]),  # London BST: Oct 25 00:30
    ("g3", "gb", "2026-10-25 23:30", True, "COMPLETED", "c3", ["5.00"]),  # London GMT: Oct 25 23:30
    ("g4", "gb", "2026-10-24 22:30", True, "COMPLETED", "c2", ["1.00"]),  # London BST: Oct 24 23:30
]
# (return id, shop, order, status, requested UTC, amount)
REFUNDS = [
    ("r1", "th", "o1", "RETURN_OR_REFUND_REQUEST_COMPLETE", "2026-11-11 02:00", "40.00"),
    ("r2", "th", "o5", "RETURN_OR_REFUND_REQUEST_PENDING", "2026-11-10 06:00", "19.50"),
]


@pytest.fixture(scope="module")
def wh():
    warehouse = Warehouse()
    shops = [{"shop_id": "th", "name": "TH shop", "region": "TH", "seller_type": "LOCAL", "code": "T",
              "currency": "THB", "timezone": "Asia/Bangkok", "source": "test"},
             {"shop_id": "gb", "name": "GB shop", "region": "GB", "seller_type": "LOCAL", "code": "G",
              "currency": "GBP", "timezone": "Europe/London", "source": "test"}]
    orders, items = [], []
    for oid, shop, created, paid, status, buyer, prices in ORDERS:
        total = str(sum(Decimal(p) for p in prices))
        currency = "THB" if shop == "th" else "GBP"
        orders.append({"order_id": oid, "shop_id": shop, "status": status, "create_time": ts(created),
                       "update_time": ts(created) + 60, "paid_time": ts(created) + 30 if paid else None,
                       "cancel_time": None, "buyer_id": buyer, "currency": currency, "sub_total": total,
                       "shipping_fee": "0", "seller_discount": "0", "platform_discount": "0", "tax": "0",
                       "total_amount": total, "source": "test"})
        items += [{"line_item_id": f"{oid}-{i}", "order_id": oid, "shop_id": shop, "product_id": "p", "product_name": "P",
                   "sku_id": "s", "sku_name": "S", "seller_sku": "S", "original_price": p, "sale_price": p,
                   "seller_discount": "0", "platform_discount": "0", "currency": currency, "display_status": status}
                  for i, p in enumerate(prices)]
    refunds = [{"return_id": rid, "shop_id": shop, "order_id": oid, "return_type": "REFUND", "return_status": status,
                "create_time": ts(when), "update_time": ts(when), "currency": "THB", "refund_total": amount,
                "source": "test"} for rid, shop, oid, status, when, amount in REFUNDS]
    with warehouse.transaction():
        warehouse.upsert("shops", shops, SHOP_COLUMNS)
        warehouse.upsert("orders", orders, ORDER_COLUMNS)
        warehouse.upsert("order_line_items", items, LINE_ITEM_COLUMNS)
        warehouse.upsert("refunds", refunds, REFUND_COLUMNS)
    yield warehouse
    warehouse.close()


NOV9, NOV10, NOV11 = date(2026, 11, 9), date(2026, 11, 10), date(2026, 11, 11)
D = Decimal


@pytest.mark.parametrize("policies, expected", [
    # default: paid orders, cancelled excluded, Asia/Shanghai days
    (Policies(), {NOV9: (D("100.00"), 1), NOV10: (D("70.00"), 2)}),
    # each shop's own zone: o2 falls on Bangkok's Nov 9
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


def test_headline_kpis_for_one_shop(wh):
    frame = metrics.query(["gmv", "orders", "buyers", "units", "aov", "refund_amount"], by=["shop"], shop="th",
                          period=("2026-11-09", "2026-11-11"), warehouse=wh)
    row = frame.iloc[0]
    assert (row.shop, row.currency) == ("th", "THB")
    assert row.gmv == D("170.00") and isinstance(row.gmv, Decimal)
    assert (row.orders, row.buyers, row.units) == (3, 2, 4)  # o1 has two units
    assert row.aov == D("56.6667")  # 170 / 3, not the mean of daily AOVs (100 and 35)
    assert row.refund_amount == D("40.00")  # r1 completed on Nov 11; r2 still pending


def test_ratio_is_computed_after_aggregation_not_averaged(wh):
    daily = metrics.query(["aov"], by=["day"], shop="th", period=("2026-11-09", "2026-11-10"), warehouse=wh)
    assert list(daily.aov) == [D("100.0000"), D("35.0000")]
    total = metrics.query(["aov"], shop="th", period=("2026-11-09", "2026-11-10"), warehouse=wh)
    assert total.aov.iloc[0] == D("56.6667") != (D(100) + D(35)) / 2


def test_a_refund_lands_in_the_period_it_was_requested(wh):
    first = metrics.query(["refund_amount"], shop="th", period=("2026-11-09", "2026-11-10"), warehouse=wh)
    later = metrics.query(["refund_amount"], shop="th", period=("2026-11-11", "2026-11-11"), warehouse=wh)
    assert first.empty  # no completed refund was requested on Nov 9-10: no row at all
    assert later.refund_amount.iloc[0] == D("40.00")


def test_days_across_the_uk_dst_change_use_local_midnight(wh):
    frame = metrics.query(["gmv"], by=["day"], shop="gb", period=("2026-10-24", "2026-10-25"),
                          policies=Policies(timezone="shop"), warehouse=wh)
    assert {r.day: r.gmv for r in frame.itertuples()} == {date(2026, 10, 24): D("1.00"),
                                                           date(2026, 10, 25): D("15.00")}


def test_money_is_never_added_across_currencies(wh):
    frame = metrics.query(["gmv"], period=("2026-11-09", "2026-11-10"), warehouse=wh)
    assert {r.currency: r.gmv for r in frame.itertuples()} == {"GBP": D("12.34"), "THB": D("170.00")}


@pytest.mark.parametrize("kwargs, message", [
    ({"metrics": ["gmv", "revenue"]}, "unknown metric 'revenue'; known metrics: gmv, orders"),
    ({"metrics": ["gmv"], "by": ["planet"]}, "unknown dimension 'planet'; known dimensions: shop"),
    ({"metrics": ["gmv"], "period": ("2026-11-10", "2026-11-01")}, "swap the dates"),
    ({"metrics": ["gmv"], "period": ("2026-11-01", "soon")}, "use ISO dates"),
    ({"metrics": ["gmv"], "shop": "nope"}, "unknown shop id(s) nope"),
    ({"metrics": ["gmv"], "policies": Policies(timezone="Mars/Olympus")}, "unknown time zone 'Mars/Olympus'"),
])
def test_bad_queries_name_the_input_and_the_fix(wh, kwargs, message):
    names = kwargs.pop("metrics")
    with pytest.raises(MetricError) as caught:
        metrics.query(names, warehouse=wh, **kwargs)
    assert message in str(caught.value)


def _with(**changes):
    return replace(CATALOGUE[0], **changes)


@pytest.mark.parametrize("bad, message", [
    (_with(id="x1", source="nowhere"), "metric 'x1': unknown source 'nowhere'"),
    (_with(id="x2", expr="price_in_gold"), "metric 'x2': source 'orders' has no column 'price_in_gold'"),
    (_with(id="x3", unit="furlongs"), "metric 'x3': unit 'furlongs' is not one of money, count, ratio, duration"),
    (_with(id="x4", agg="median"), "metric 'x4': aggregation 'median' is not one of"),
    (_with(id="x5", source=None, expr=None, agg=None, numerator="gmv", denominator="ghosts"),
     "metric 'x5': ratio refers to unknown metric 'ghosts'"),
    (_with(id="x6", label={"en": "X"}), "metric 'x6': missing zh label"),
    (_with(id="gmv"), "metric id 'gmv' is defined more than once"),
])
def test_each_invalid_definition_is_reported(bad, message):
    with pytest.raises(MetricDefinitionError) as caught:
        validate(CATALOGUE + (bad,), SOURCES)
    assert any(message in p for p in caught.value.problems), caught.value.problems


def test_every_problem_is_reported_at_once_including_cycles():
    loop_a = _with(id="loop_a", source=None, expr=None, agg=None, numerator="loop_b", denominator="orders")
    loop_b = _with(id="loop_b", source=None, expr=None, agg=None, numerator="loop_a", denominator="orders")
    with pytest.raises(MetricDefinitionError) as caught:
        validate(CATALOGUE + (loop_a, loop_b, _with(id="x3", unit="furlongs")), SOURCES)
    problems = caught.value.problems
    assert any("ratio cycle: loop_a -> loop_b -> loop_a" in p or "ratio cycle: loop_b -> loop_a -> loop_b" in p
               for p in problems)
    assert any("furlongs" in p for p in problems)
    assert str(len(problems)) in str(caught.value)


def test_the_shipped_catalogue_is_valid_and_bilingual():
    catalogue = Catalogue()
    for m in catalogue.metrics:
        assert m.label["en"] and m.label["zh"] and m.description["en"] and m.description["zh"]
