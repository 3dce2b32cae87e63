"""Every money metric on orders and refunds, at both GMV prices, on a hand-built shop whose amounts
follow the OAS formulas and are worked out by hand below; and on the sandbox, order-level GMV against
line-level GMV and the generator's own objects.

One THB shop (Asia/Bangkok); every order is placed at 04:00 UTC on Nov 10 (Nov 10 in Shanghai too).
    m1 paid, COMPLETED. A: original 100, seller discount 10, platform discount 15 -> sale price 75;
                        B: original 50, platform discount 5 -> 45. Shipping 30 fully covered by a
                        platform free-shipping voucher -> shipping fee 0. sub_total 120, total 120.
                        seller's price 140 (150 - 10), buyer's 120.
    m2 paid, COMPLETED, driven by creator nok (commission 18). C: original 200, seller discount 20 -> 180.
                        Shipping 20 less a 5 seller voucher -> 15. sub_total 180, total 195. Both prices 180.
    m3 paid, CANCELLED. D: original 80, platform discount 8 -> 72. Seller's price 80, buyer's 72.
    m4 never paid.      E: original 60, platform discount 6 -> 54. Seller's price 60, buyer's 54.
Refunds (requested Nov 11 04:00 UTC):
    r1 on m1's unit A, completed: refund_subtotal 75, refund_total 75, platform discount 15 -> 90 / 75.
    r2 on the whole m2, completed: refund_subtotal 180 + shipping 15 = refund_total 195, no platform
       discount -> 180 / 180 (the shipping refund is not product value, as GMV has no shipping).
    r3 on m1's unit B, still pending: not counted.
"""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from shoplens import metrics
from shoplens.metrics import Policies, default_catalogue
from shoplens.sync.mapping import (AFFILIATE_COLUMNS, LINE_ITEM_COLUMNS, ORDER_COLUMNS, REFUND_COLUMNS,
                                   SHOP_COLUMNS)
from shoplens.warehouse import Warehouse

D = Decimal
NOV10 = int(datetime(2026, 11, 10, 4, tzinfo=UTC).timestamp())
NOV11 = NOV10 + 86_400
# (order, status, paid?, [(unit, original, seller discount, platform discount)], original shipping,
#  shipping seller discount, shipping platform discount)
ORDERS = [
    ("m1", "COMPLETED", True, [("A", "100", "10", "15"), ("B", "50", "0", "5")], "30", "0", "30"),
    ("m2", "COMPLETED", True, [("C", "200", "20", "0")], "20", "5", "0"),
    ("m3", "CANCELLED", True, [("D", "80", "0", "8")], "0", "0", "0"),
    ("m4", "UNPAID", False, [("E", "60", "0", "6")], "0", "0", "0"),
]
# (return, order, status, refund_subtotal, refund_total, product platform discount)
RETURNS = [
    ("r1", "m1", "RETURN_OR_REFUND_REQUEST_COMPLETE", "75", "75", "15"),
    ("r2", "m2", "RETURN_OR_REFUND_REQUEST_COMPLETE", "180", "195", "0"),
    ("r3", "m1", "RETURN_OR_REFUND_REQUEST_PENDING", "45", "45", "5"),
]


def api_order(oid, status, paid, units, ship, ship_seller, ship_platform) -> dict:
    """The order as order search returns it, every amount from the OAS formulas."""
    lines = [{"id": f"{oid}-{u}", "product_id": f"p{u}", "sku_id": f"s{u}", "original_price": o,
              "seller_discount": sd, "platform_discount": pd, "sale_price": str(D(o) - D(sd) - D(pd))}
             for u, o, sd, pd in units]

    def total(key):
        return sum(D(li[key]) for li in lines)

    sub_total = total("original_price") - total("seller_discount") - total("platform_discount")
    shipping = D(ship) - D(ship_seller) - D(ship_platform)
    return {"id": oid, "status": status, "create_time": NOV10, "update_time": NOV10 + 60, "user_id": f"buyer-{oid}",
            "paid_time": NOV10 + 30 if paid else None,
            "payment": {"currency": "THB", "sub_total": str(sub_total), "shipping_fee": str(shipping),
                        "seller_discount": str(total("seller_discount")),
                        "platform_discount": str(total("platform_discount")),
                        "original_total_product_price": str(total("original_price")),
                        "original_shipping_fee": ship, "shipping_fee_seller_discount": ship_seller,
                        "shipping_fee_platform_discount": ship_platform, "tax": "0",
                        "total_amount": str(sub_total + shipping)},
            "line_items": lines}


def api_return(rid, oid, status, subtotal, total, platform) -> dict:
    return {"return_id": rid, "order_id": oid, "return_type": "RETURN_AND_REFUND", "return_status": status,
            "create_time": NOV11, "update_time": NOV11,
            "refund_amount": {"currency": "THB", "refund_total": total, "refund_subtotal": subtotal,
                              "refund_shipping_fee": str(D(total) - D(subtotal)), "refund_tax": "0"},
            "discount_amount": [{"currency": "THB", "product_platform_discount": platform,
                                 "product_seller_discount": "0"}]}


@pytest.fixture(scope="module")
def wh():
    from shoplens.sync.mapping import order_rows, refund_rows

    warehouse = Warehouse()
    orders, lines = order_rows("th", [api_order(*o) for o in ORDERS])
    with warehouse.transaction():
        warehouse.upsert("shops", [{"shop_id": "th", "name": "TH", "region": "TH", "currency": "THB",
                                    "timezone": "Asia/Bangkok", "source": "test"}], SHOP_COLUMNS)
        warehouse.upsert("orders", [dict(o, source="test") for o in orders], ORDER_COLUMNS)
        warehouse.upsert("order_line_items", lines, LINE_ITEM_COLUMNS)
        warehouse.upsert("refunds", refund_rows("th", [api_return(*r) for r in RETURNS]), REFUND_COLUMNS)
        warehouse.upsert("affiliate_order_items", [
            {"item_key": "m2:0", "order_id": "m2", "shop_id": "th", "status": "COMPLETED", "create_time": NOV10,
             "quantity": 1, "currency": "THB", "creator_username": "nok", "content_type": "VIDEO", "content_id": "v9",
             "estimated_commission": "18", "actual_commission": "18"}], AFFILIATE_COLUMNS)
    warehouse.refresh_facts()
    yield warehouse
    warehouse.close()


SELLER, BUYER = Policies(), Policies(gmv_price="buyer")
# metric -> (seller's price, buyer's price), period Nov 10-11, default order policies
EXPECTED = {
    "gmv": (D("320.00"), D("300.00")),  # m1 + m2: 140 + 180 | 120 + 180
    "product_gmv": (D("320.00"), D("300.00")),  # A 90 + B 50 + C 180 | 75 + 45 + 180: adds up to GMV
    "cancelled_gmv": (D("80.00"), D("72.00")),  # m3
    "refund_amount": (D("270.00"), D("255.00")),  # r1 90 + r2 180 | 75 + 180; r3 pending
    "net_gmv": (D("50.00"), D("45.00")),  # 320 - 270 | 300 - 255
    "aov": (D("160.0000"), D("150.0000")),  # 320 / 2 | 300 / 2
    "creator_gmv": (D("180.00"), D("180.00")),  # m2
    "creator_net_gmv": (D("162.00"), D("162.00")),  # 180 - 18
    "commission": (D("18.00"), D("18.00")),
    "marketing_cost": (D("18.00"), D("18.00")),  # no ads: commission only
    "cogs": (D("0.00"), D("0.00")),  # no cost table loaded
    "contribution": (D("32.00"), D("27.00")),  # 320 - 270 - 0 - 18 | 300 - 255 - 0 - 18
    "refund_rate": (270 / 320, 255 / 300),
    "affiliate_gmv_share": (180 / 320, 180 / 300),
    "commission_rate": (18 / 180, 18 / 180),
    "roi": (32 / 18, 27 / 18),
}


@pytest.mark.parametrize("metric", EXPECTED)
@pytest.mark.parametrize("price", [0, 1], ids=["seller", "buyer"])
def test_money_metrics_at_each_gmv_price(wh, metric, price):
    frame = metrics.query([metric], shop="th", period=("2026-11-10", "2026-11-11"),
                          policies=(SELLER, BUYER)[price], warehouse=wh)
    value, expected = frame.iloc[0][metric], EXPECTED[metric][price]
    if isinstance(expected, float):
        assert value == pytest.approx(expected, rel=1e-9)
    else:
        assert value == expected


@pytest.mark.parametrize("policies, metric, expected", [
    (Policies(include_cancelled=True), "gmv", D("400.00")),  # + m3 at 80
    (Policies(include_cancelled=True, gmv_price="buyer"), "gmv", D("372.00")),  # + m3 at 72
    (Policies(include_cancelled=True), "net_gmv", D("50.00")),  # 400 - 270 - 80: cancelled comes back out
    (Policies(include_cancelled=True, gmv_price="buyer"), "net_gmv", D("45.00")),  # 372 - 255 - 72
    (Policies(gmv_basis="placed"), "gmv", D("380.00")),  # + the unpaid m4 at 60
    (Policies(gmv_basis="placed", gmv_price="buyer"), "product_gmv", D("354.00")),  # + m4 at 54
    (Policies(commission_deducted=True, gmv_price="buyer"), "net_gmv", D("27.00")),  # 45 - 18
    (Policies(refunds_by="order_date"), "refund_amount", D("270.00")),  # both refunds' orders are Nov 10
])
def test_money_metrics_under_the_other_policies(wh, policies, metric, expected):
    frame = metrics.query([metric], shop="th", period=("2026-11-10", "2026-11-11"), policies=policies, warehouse=wh)
    assert frame.iloc[0][metric] == expected


def test_every_money_metric_on_orders_or_refunds_is_hand_checked_at_both_prices():
    catalogue = default_catalogue()
    priced = {m.id for m in catalogue.metrics
              if any("gmv_price" in b.policies or b.source in ("orders", "line_items", "refunds", "affiliate")
                     for b in catalogue.base_metrics(m.id)) and m.unit == "money"}
    assert priced <= set(EXPECTED), sorted(priced - set(EXPECTED))


def test_gmv_by_product_adds_up_to_gmv_at_both_prices(wh):
    for policies in (SELLER, BUYER):
        by_product = metrics.query(["product_gmv"], by=["product"], shop="th", period=("2026-11-10", "2026-11-11"),
                                   policies=policies, warehouse=wh)
        gmv = metrics.query(["gmv"], shop="th", period=("2026-11-10", "2026-11-11"), policies=policies, warehouse=wh)
        assert by_product.product_gmv.sum() == gmv.gmv.iloc[0]


def test_the_gmv_price_is_a_policy_printed_with_the_others():
    assert Policies().describe()["GMV price"].startswith("seller's price")
    assert Policies(gmv_price="buyer").describe("zh")["GMV 价格口径"].startswith("买家实付")
    with pytest.raises(Exception, match="gmv_price 'list' is not one of seller, buyer"):
        Policies(gmv_price="list")


def test_on_the_sandbox_order_and_line_level_gmv_agree_and_match_the_generator(synced):
    from shoplens.config import warehouse_path

    home, sandbox = synced
    period = ("2026-11-02", "2026-11-15")  # 11.11's subsidies are in it
    now = sandbox.now()
    with Warehouse(warehouse_path(home), read_only=True) as warehouse:
        discounted = warehouse.rows("SELECT count(*) FROM orders WHERE platform_discount > 0")[0][0]
        assert discounted > 0
        for policies in (SELLER, BUYER):
            gmv = metrics.query(["gmv"], by=["shop"], period=period, policies=policies, warehouse=warehouse)
            lines = metrics.query(["product_gmv"], by=["shop", "product"], period=period, policies=policies,
                                  warehouse=warehouse)
            for row in gmv.itertuples():
                assert lines[lines["shop"] == row.shop].product_gmv.sum() == row.gmv
        # refunds keep the platform discount on the returned products, as the generator gave it
        got = dict(warehouse.rows("SELECT return_id, platform_discount FROM refunds"))
    for shop in sandbox.business.shops:
        for ret in sandbox.business.returns[shop.id]:
            if ret.create_time <= now and ret.id in got:
                assert got[ret.id] == sum((li.platform_discount for li in ret.line_items), D(0))
