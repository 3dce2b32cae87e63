"""The sandbox's analytics, computed from the same orders the order API serves.

Analytics dates are shop-local; data is available up to the day before the business clock's day
(`latest_available_date`), and because figures are recomputed from orders at every request, late
orders and refunds restate past days the way TikTok's analytics do. GMV here follows TikTok's
analytics definition: the amount paid for orders placed in the period, cancelled and refunded ones
included.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from shoplens.sandbox.business import Order, local_day
from shoplens.sandbox.protocol import ProtocolError


def money(value: Decimal) -> str:
    """Decimal as the API writes it: a plain string, never an exponent."""
    return format(value, "f")


def amount(value: Decimal, currency: str) -> dict:
    return {"amount": money(value), "currency": currency}


def parse_date_range(query: dict, max_days: int = 365,
                     names: tuple[str, str] = ("start_date_ge", "end_date_lt")) -> tuple[date, date]:
    """[start, end) from the query's two date parameters (`names`), validated as the API would."""
    first, last = names
    try:
        start = date.fromisoformat(query[first])
        end = date.fromisoformat(query[last])
    except (KeyError, ValueError):
        raise ProtocolError(400, 36009004, f"Invalid request. `{first}` and `{last}` are required "
                                           "dates in YYYY-MM-DD format.") from None
    if end <= start or (end - start).days > max_days:
        raise ProtocolError(400, 36009004, f"Invalid request. `{last}` must be after `{first}` and "
                                           f"at most {max_days} days later.")
    return start, end


def latest_available_date(shop, now: int) -> date:
    return local_day(now, shop.region.timezone) - timedelta(days=1)


@dataclass
class Totals:
    """What a set of orders adds up to, in analytics terms."""

    gmv: Decimal = Decimal(0)
    orders: int = 0
    items: int = 0
    sku_orders: int = 0
    buyers: set = field(default_factory=set)
    products: set = field(default_factory=set)

    def add(self, order: Order) -> None:
        self.gmv += order.gross_total
        self.orders += 1
        self.items += len(order.line_items)
        self.sku_orders += len({li.sku.id for li in order.line_items})
        self.buyers.add(order.buyer_id)
        self.products.update(li.product.id for li in order.line_items)


def paid_orders_between(orders: list[Order], start: int, end: int, now: int) -> list[Order]:
    """Orders placed in [start, end), visible and paid by `now`; `orders` is sorted by create time."""
    times = [o.create_time for o in orders]
    lo, hi = bisect.bisect_left(times, start), bisect.bisect_left(times, end)
    return [o for o in orders[lo:hi] if o.visible_at(now) and o.paid_time is not None and o.paid_time <= now]


def local_bounds(shop, start: date, end: date) -> tuple[int, int]:
    tz = ZoneInfo(shop.region.timezone)
    return (int(datetime.combine(start, time(), tz).timestamp()), int(datetime.combine(end, time(), tz).timestamp()))


def shop_interval(business, shop, start: date, end: date, now: int) -> dict:
    """One interval of shop performance: sales by content type, refunds and product-page traffic."""
    currency = shop.region.currency
    lo, hi = local_bounds(shop, start, end)
    orders = paid_orders_between(business.orders[shop.id], lo, hi, now)
    totals, by_type = Totals(), {"VIDEO": Decimal(0), "LIVE": Decimal(0), "PRODUCT_CARD": Decimal(0)}
    paid_gmv = Decimal(0)
    for o in orders:
        totals.add(o)
        by_type[o.attribution.content_type] += o.gross_total
        if o.attribution.campaign is not None:
            paid_gmv += o.gross_total
    refunds = sum((r.refund_total for r in business.returns[shop.id]
                   if lo <= r.create_time < hi and r.state_at(now)[0] == "RETURN_OR_REFUND_REQUEST_COMPLETE"
                   and r.state_at(now)[1] <= now), Decimal(0))
    days = (end - start).days
    traffic = [t for t in business.traffic[shop.id] if start <= t.day < end]
    visitors = sum(t.visitors for t in traffic)
    views = sum(t.page_views for t in traffic)
    paid_share = (paid_gmv / totals.gmv) if totals.gmv else Decimal(0)
    return {
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "sales": {
            "gmv": {"overall": amount(totals.gmv, currency),
                    "breakdowns": [{"type": k, "gmv": amount(v, currency)} for k, v in by_type.items()]},
            "gross_revenue": {"overall": amount(totals.gmv, currency),
                              "breakdowns": [{"type": "GMV_MAX", "percentage": f"{paid_share:.4f}"},
                                             {"type": "NON_GMV_MAX", "percentage": f"{1 - paid_share:.4f}"}]},
            "orders_count": totals.orders,
            "sku_orders_count": totals.sku_orders,
            "items_sold": totals.items,
            "avg_customers_count": round(len(totals.buyers) / days),
            "refunds": amount(refunds, currency),
        },
        "traffic": {
            "avg_page_views": round(views / days),
            "avg_visitors": round(visitors / days),
            "avg_conversation_rate": f"{(len(totals.buyers) / visitors) if visitors else 0:.4f}",
        },
    }
