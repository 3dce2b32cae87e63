"""Figures recomputed from the raw archive alone: the API's own JSON, read page by page as the sync
archived it, with none of shoplens' loading, facts or metric SQL in between.

Each order's (and return's) latest archived version counts, as each sync load replaced the one before.
A page the sync would refuse (a record without its id, times or amounts) is skipped as the sync skipped
it. Which orders count, their day and their value follow the policies, written out here again in plain
Python: paid (or placed), cancelled or not, the seller's or the buyer's price, the day in the reporting
time zone; refunds are completed returns' product refunds (`refund_subtotal`, plus the products'
platform discount at the seller's price), dated by request or by their order.

This module must never read the warehouse, call the metric compiler or import the sync's mapping:
it is the independent side of the comparison.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from shoplens.regions import region
from shoplens.sync.archive import RawArchive

#: the metrics recomputed, as the catalogue names them
METRICS = ("gmv", "orders", "units", "buyers", "refund_amount")
#: return statuses whose refund has been paid
REFUNDED = ("RETURN_OR_REFUND_REQUEST_COMPLETE", "RETURN_OR_REFUND_REQUEST_SUCCESS")


@dataclass(frozen=True)
class Contribution:
    """What one archived record adds to one metric on one shop-day, and where it was read."""

    shop: str
    day: date
    metric: str
    #: the record: an order id, a line item id, a buyer id or a return id
    key: str
    value: Decimal | int
    #: the order the record belongs to (for a buyer, the order that counts them)
    order_id: str
    archive: str


@dataclass
class ArchiveFigures:
    """Every contribution, and the archive's size: pages read, orders and returns known."""

    contributions: list[Contribution] = field(default_factory=list)
    pages: int = 0
    orders: int = 0
    returns: int = 0
    shops: dict[str, str] = field(default_factory=dict)  # shop id -> time zone

    def totals(self) -> dict[tuple[str, date, str], Decimal | int]:
        """(shop, day, metric) -> the archive's figure."""
        out: dict[tuple[str, date, str], Decimal | int] = defaultdict(int)
        for c in self.contributions:
            out[(c.shop, c.day, c.metric)] += c.value
        return dict(out)


def _complete(item: dict, paths: Iterable[str]) -> bool:
    for path in paths:
        value = item
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value in (None, ""):
            return False
    return True


_ORDER_FIELDS = ("id", "status", "create_time", "update_time", "payment.currency", "payment.sub_total",
                 "payment.total_amount")
_RETURN_FIELDS = ("return_id", "order_id", "return_status", "create_time", "update_time", "refund_amount.currency",
                  "refund_amount.refund_total")


def archive_figures(archive: RawArchive, *, timezone: str = "Asia/Shanghai", gmv_basis: str = "paid",
                    include_cancelled: bool = False, gmv_price: str = "seller", refunds_by: str = "refund_date",
                    period: tuple[date, date] | None = None, shops: Iterable[str] = ()) -> ArchiveFigures:
    """Recompute the METRICS per shop and day of `period` (all days when None) from `archive`."""
    result = ArchiveFigures()
    orders: dict[str, tuple[str, dict, str]] = {}  # order id -> (shop, latest version, archive place)
    returns: dict[str, tuple[str, dict, str]] = {}
    for page, record in archive.pages():
        result.pages += 1
        place = f"data/raw/{page.file}:{page.line}"
        data = record.get("data") or {}
        if record["resource"] == "shops":
            for shop in data.get("shops") or []:
                result.shops[str(shop["id"])] = region(shop["region"]).timezone
        elif record["resource"] == "orders":
            items = data.get("orders") or []
            if all(_complete(o, _ORDER_FIELDS) for o in items):
                orders.update((str(o["id"]), (record["shop_id"], o, place)) for o in items)
        elif record["resource"] == "returns":
            items = data.get("return_orders") or []
            if all(_complete(r, _RETURN_FIELDS) for r in items):
                returns.update((str(r["return_id"]), (record["shop_id"], r, place)) for r in items)
    wanted = set(shops)
    result.orders, result.returns = len(orders), len(returns)

    def day_of(seconds: int, shop: str) -> date:
        zone = ZoneInfo(result.shops.get(shop, "UTC") if timezone == "shop" else timezone)
        return datetime.fromtimestamp(int(seconds), zone).date()

    def inside(shop: str, day: date) -> bool:
        return (not wanted or shop in wanted) and (period is None or period[0] <= day <= period[1])

    first_buyer: dict[tuple[str, date, str], tuple] = {}
    add = result.contributions.append
    for order_id, (shop, o, place) in orders.items():
        paid = o.get("paid_time") is not None
        if (gmv_basis == "paid" and not paid) or (o["status"] == "CANCELLED" and not include_cancelled):
            continue
        day = day_of(o["create_time"], shop)
        if not inside(shop, day):
            continue
        pay = o["payment"]
        value = Decimal(pay["sub_total"]) + (Decimal(pay.get("platform_discount") or 0) if gmv_price == "seller"
                                             else Decimal(0))
        add(Contribution(shop, day, "gmv", order_id, value, order_id, place))
        add(Contribution(shop, day, "orders", order_id, 1, order_id, place))
        for item in o.get("line_items") or []:
            add(Contribution(shop, day, "units", str(item["id"]), 1, order_id, place))
        if o.get("user_id"):
            key = (shop, day, str(o["user_id"]))
            first_buyer[key] = min(first_buyer.get(key, (o["create_time"], order_id, place)),
                                   (o["create_time"], order_id, place))
    for (shop, day, buyer), (_, order_id, place) in first_buyer.items():
        add(Contribution(shop, day, "buyers", buyer, 1, order_id, place))
    for return_id, (shop, r, place) in returns.items():
        if r["return_status"] not in REFUNDED:
            continue
        if refunds_by == "order_date":
            order = orders.get(str(r["order_id"]))
            if order is None:  # an order the archive never saw has no day to date its refund by
                continue
            day = day_of(order[1]["create_time"], shop)
        else:
            day = day_of(r["create_time"], shop)
        if not inside(shop, day):
            continue
        amount = r["refund_amount"]
        value = Decimal(amount.get("refund_subtotal") or amount["refund_total"])
        if gmv_price == "seller":
            value += sum((Decimal(d.get("product_platform_discount") or 0) for d in r.get("discount_amount") or []
                          if isinstance(d, dict)), Decimal(0))
        add(Contribution(shop, day, "refund_amount", return_id, value, str(r["order_id"]), place))
    return result
