"""Expected numbers computed by hand from the sandbox generator's own objects, not through shoplens."""

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo


def expected_gmv(sandbox, shop_id: str, period, tz: str = "Asia/Shanghai", price: str = "seller") -> Decimal:
    """GMV by hand from the generator's orders: paid, not cancelled, placed on a local day in the period,
    at the seller's price (original price less seller discounts; the default GMV price) or the buyer's
    (what the buyer paid, after platform discounts too)."""
    zone, now = ZoneInfo(tz), sandbox.now()
    total = Decimal(0)
    for order in sandbox.business.orders[shop_id]:
        if not order.visible_at(now) or order.paid_time is None or order.state_at(now)[0] == "CANCELLED":
            continue
        day = datetime.fromtimestamp(order.create_time, zone).date()
        if period[0] <= day <= period[1]:
            total += sum(((li.seller_price if price == "seller" else li.sale_price) for li in order.line_items),
                         Decimal(0))
    return total
