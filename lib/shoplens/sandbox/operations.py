"""The sandbox's operations side: fulfilment times and SLAs, warehouses and stock, listing status and
audits, customer-service performance, simulated causally from the orders on the business clock.

`plan_operations()` runs once per shop after the orders exist. It draws from its own seeded random
stream (never the business generator's), so adding it changes no id, price or order time drawn before.
What it plants in every shop, relative to the business's last day L (2026-11-15 by default):
- dispatch slows on peak days (10.10, 11.11 and the days around them): handling time stretches with
  the day's volume, so some orders miss their ready-to-ship SLA (`rts_sla_time` = paid + 48 h);
- the shop's second best seller sells out during 11.11 (L-4, at the moment its stock reaches 0) and is
  restocked on L-1 at 10:00 shop time; meanwhile buyers buy other products;
- the best seller is deactivated by the platform on L-3 at 00:30 shop time (no sales from then on);
- another product is edited on L-5, pending audit, then fails it six hours later (with reasons);
- chat response times and ratings get worse with the day's volume.
Products that cannot be sold (deactivated, failed, out of stock) lose their later orders to other
products, so GMV by product shows the drop the same day. This module does no I/O.
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from shoplens.sandbox.protocol import ProtocolError

H, D = 3600, 86_400
#: the ready-to-ship SLA: shipped within this many seconds of payment
RTS_SLA_S = 48 * H
PEAK_DAYS = ((11, 11), (10, 10), (11, 10), (11, 12), (10, 9), (10, 11))
AUDIT_FAILURE = {"position": "Main image",
                 "reasons": ["The main image contains a watermark or promotional text"],
                 "suggestions": ["Upload a main image on a plain background without text or watermarks"]}


#: the audit status products search shows for a product status
AUDIT_STATUS = {"PENDING": "AUDITING", "FAILED": "FAILED", "DRAFT": "NONE"}
#: fulfilment fields that are times of something that happened: shown once it has
_HAPPENED = ("rts_time", "collection_time", "delivery_time")


@dataclass(frozen=True)
class Warehouse:
    id: str
    name: str
    is_default: bool


@dataclass
class Ledger:
    """One SKU's stock in its warehouse: every change (time, delta) in time order."""

    sku_id: str
    product_id: str
    seller_sku: str
    warehouse_id: str
    changes: list[tuple[int, int]] = field(default_factory=list)
    _times: list[int] = field(default_factory=list)
    _levels: list[int] = field(default_factory=list)
    #: (time sold, time shipped) per unit: reserved by an order until it ships
    _reserved: list[tuple[int, int]] = field(default_factory=list)

    def freeze(self) -> None:
        self.changes.sort()
        level, self._times, self._levels = 0, [], []
        for t, delta in self.changes:
            level += delta
            self._times.append(t)
            self._levels.append(level)

    def available(self, now: int) -> int:
        i = bisect.bisect_right(self._times, now) - 1
        return self._levels[i] if i >= 0 else 0

    def committed(self, now: int) -> int:
        return sum(1 for sold, shipped in self._reserved if sold <= now < shipped)


@dataclass
class ServiceDay:
    sessions: int
    responded_24h: int
    response_minutes_total: float
    satisfied: int
    rated: int


@dataclass
class ShopOperations:
    warehouses: list[Warehouse]
    ledgers: dict[str, Ledger]
    #: product id -> [(time, status, audit failure reasons)] in time order, first at creation
    listing: dict[str, list[tuple[int, str, tuple]]]
    service: dict[date, ServiceDay]
    #: what was planted, for tests and docs: name -> (product id, unix time)
    planted: dict[str, tuple[str, int]]

    def listing_at(self, product_id: str, now: int) -> tuple[str, int, tuple]:
        """(status, time it took effect, audit failure reasons) as of `now`."""
        history = self.listing[product_id]
        i = max(bisect.bisect_right([t for t, _, _ in history], now) - 1, 0)
        changed, status, reasons = history[i]
        return status, changed, reasons


def _local(day: date, hour: int, tz: ZoneInfo) -> int:
    return int(datetime.combine(day, time(hour), tz).timestamp())


def plan_operations(seed: int, business, shop) -> ShopOperations:
    """Fulfilment, listing, stock and service for one shop; rewrites its orders where products could
    not be sold, and their shipping times."""
    rng = random.Random(f"operations/{seed}/{shop.id}")
    tz = ZoneInfo(shop.region.timezone)
    products, orders = business.products[shop.id], business.orders[shop.id]
    last = business.last_day
    listing = {p.id: [(p.create_time, "ACTIVATE", ())] for p in products}
    planted: dict[str, tuple[str, int]] = {}
    blocked: dict[str, list[tuple[int, int]]] = {}  # product id -> [(from, until)) it cannot be sold

    def plant(name: str, product, at: int, status: str, reasons: tuple = ()) -> None:
        listing[product.id].append((at, status, reasons))
        planted[name] = (product.id, at)

    if len(products) >= 5 and business.first_day <= last - timedelta(days=5):
        deactivated = _local(last - timedelta(days=3), 0, tz) + 1800  # 00:30: no sale that day
        plant("platform_deactivation", products[0], deactivated, "PLATFORM_DEACTIVATED")
        blocked.setdefault(products[0].id, []).append((deactivated, 2**40))
        edited = _local(last - timedelta(days=5), 15, tz)
        plant("audit_pending", products[4], edited, "PENDING")
        plant("audit_failure", products[4], edited + 6 * H, "FAILED", (AUDIT_FAILURE,))
        blocked.setdefault(products[4].id, []).append((edited, 2**40))
        stockout = _stockout_moment(orders, products[1], last - timedelta(days=4), tz)
        if stockout is not None:
            restock = _local(last - timedelta(days=1), 10, tz)
            planted["stockout"] = (products[1].id, stockout)
            planted["restock"] = (products[1].id, restock)
            blocked.setdefault(products[1].id, []).append((stockout, restock))
    _substitute(rng, business, shop, blocked)
    _time_fulfilment(rng, orders, business.returns[shop.id], tz)
    warehouses = [Warehouse(f"7{shop.id[-6:]}0000000001", f"{shop.region.code} main warehouse", True)]
    if rng.random() < 0.7:
        warehouses.append(Warehouse(f"7{shop.id[-6:]}0000000002", f"{shop.region.code} overflow warehouse", False))
    ledgers = _stock(rng, business, shop, warehouses, planted, tz)
    service = _service(rng, orders, tz)
    return ShopOperations(warehouses, ledgers, listing, service, planted)


def _stockout_moment(orders, product, day: date, tz: ZoneInfo) -> int | None:
    """When half of that day's units of `product` had sold: the moment its stock runs out."""
    start, end = _local(day, 0, tz), _local(day + timedelta(days=1), 0, tz)
    times = sorted(o.paid_time for o in orders if o.paid_time is not None and start <= o.create_time < end
                   for li in o.line_items if li.product.id == product.id)
    return times[len(times) // 2] + 1 if len(times) >= 2 else None


def _substitute(rng: random.Random, business, shop, blocked: dict[str, list[tuple[int, int]]]) -> None:
    """Orders placed while a product could not be sold buy another product instead."""
    def sellable(product_id: str, t: int) -> bool:
        return not any(lo <= t < hi for lo, hi in blocked.get(product_id, ()))

    products = business.products[shop.id]
    swapped: dict[str, object] = {}
    for order in business.orders[shop.id]:
        t = order.paid_time or order.create_time
        if not any(not sellable(li.product.id, t) for li in order.line_items):
            continue
        items = []
        for li in order.line_items:
            if sellable(li.product.id, t):
                items.append(li)
                continue
            others = [p for p in products if p.id != li.product.id and sellable(p.id, t)]
            product = rng.choice(others[:8])
            sku = rng.choice(product.skus)
            share = li.seller_discount / li.original_price if li.original_price else Decimal(0)
            new = replace(li, product=product, sku=sku, original_price=sku.price,
                          seller_discount=(sku.price * share).quantize(sku.price))
            swapped[li.id] = new
            items.append(new)
        order.line_items = items
    for ret in business.returns[shop.id]:
        if any(li.id in swapped for li in ret.line_items):
            ret.line_items = [swapped.get(li.id, li) for li in ret.line_items]


def _time_fulfilment(rng: random.Random, orders, returns, tz: ZoneInfo) -> None:
    """Ship every paid order after a handling time that stretches on busy days, keep its transit time,
    and record the SLA deadlines the platform sets."""
    per_day, typical = _volume(orders, tz)
    moved: dict[str, int] = {}
    for o in orders:
        o.fulfilment = fulfilment = {"cancel_order_sla_time": o.create_time + D}
        if o.paid_time is None:
            o.fulfilment |= {"cancel_reason": "Payment overdue", "cancellation_initiator": "SYSTEM"}
            continue
        fulfilment |= {"rts_sla_time": o.paid_time + RTS_SLA_S, "tts_sla_time": o.paid_time + RTS_SLA_S + D,
                       "shipping_due_time": o.paid_time + 5 * D, "collection_due_time": o.paid_time + 7 * D,
                       "delivery_sla_time": o.paid_time + 7 * D, "delivery_due_time": o.paid_time + 20 * D}
        if o.cancel_time is not None:
            fulfilment |= {"cancel_reason": rng.choice(("No longer needed", "Found a better price",
                                                        "Wrong size or colour")),
                           "cancellation_initiator": "BUYER"}
            continue
        shipped = next(t for t, s in o.events if s == "IN_TRANSIT")
        local = datetime.fromtimestamp(o.paid_time, tz)
        load = per_day.get(local.date(), typical) / typical
        handling = rng.uniform(4, 30) * H
        if (local.month, local.day) in PEAK_DAYS or load > 1.8:
            handling *= min(max(1.0, load), 2.2) * rng.uniform(0.8, 1.4)
        elif rng.random() < 0.02:
            handling += rng.uniform(24, 48) * H  # the odd parcel that waits
        rts = o.paid_time + int(handling)
        collected = rts + rng.randrange(2 * H, 10 * H)
        delta = collected - shipped
        o.events = [(t + delta, s) if s in ("IN_TRANSIT", "DELIVERED", "COMPLETED") else (t, s) for t, s in o.events]
        o.events.insert(2, (rts, "AWAITING_COLLECTION"))
        delivered = next(t for t, s in o.events if s == "DELIVERED")
        fulfilment |= {"rts_time": rts, "collection_time": collected, "delivery_time": delivered}
        moved[o.id] = delta
    for r in returns:
        if moved.get(r.order.id):
            r.events = [(t + moved[r.order.id], s) for t, s in r.events]


def _stock(rng: random.Random, business, shop, warehouses: list[Warehouse], planted: dict,
           tz: ZoneInfo) -> dict[str, Ledger]:
    """Opening stock, sales, cancellations back into stock, and restocks ordered at a reorder point."""
    first, last = business.first_day, business.last_day
    days = (last - first).days + 1
    ledgers: dict[str, Ledger] = {}
    for p in business.products[shop.id]:
        for sku in p.skus:
            home = warehouses[rng.randrange(len(warehouses))] if len(warehouses) > 1 and rng.random() < 0.4 \
                else warehouses[0]
            ledgers[sku.id] = Ledger(sku.id, p.id, sku.seller_sku, home.id)
    for o in business.orders[shop.id]:
        if o.paid_time is None:
            continue
        shipped = (o.fulfilment or {}).get("rts_time", 2**40)
        for li in o.line_items:
            ledger = ledgers[li.sku.id]
            ledger.changes.append((o.paid_time, -1))
            if o.cancel_time is not None:
                ledger.changes.append((o.cancel_time, 1))
            else:
                ledger._reserved.append((o.paid_time, shipped))
    start = _local(first, 0, tz)
    stockout = planted.get("stockout")
    for ledger in ledgers.values():
        daily = max(sum(1 for _, d in ledger.changes if d < 0) / days, 0.3)
        if stockout and ledger.product_id == stockout[0]:
            _plan_stockout(ledger, start, stockout[1], planted["restock"][1], daily)
        else:
            _plan_restocks(rng, ledger, start, first, days, daily, tz)
        ledger.freeze()
        while min(ledger._levels, default=0) < 0:  # an expedited delivery before stock would go negative
            i = next(i for i, level in enumerate(ledger._levels) if level < 0)
            ledger.changes.append((ledger._times[i] - 2 * D, -ledger._levels[i] + round(daily * 10)))
            ledger.freeze()
    return ledgers


def _plan_restocks(rng, ledger: Ledger, start: int, first: date, days: int, daily: float, tz: ZoneInfo) -> None:
    ledger.changes.append((start - H, round(daily * rng.uniform(20, 35)) + 10))
    pending_until = None
    for offset in range(days + 3):
        day_end = _local(first + timedelta(days=offset + 1), 0, tz)
        if pending_until is not None and pending_until > day_end:
            continue
        level = sum(d for t, d in ledger.changes if t < day_end)
        if level < daily * 10:
            pending_until = day_end + rng.randint(5, 9) * D + 10 * H
            ledger.changes.append((pending_until, round(daily * 30) + 10))


def _plan_stockout(ledger: Ledger, start: int, out: int, restock: int, daily: float) -> None:
    """Supply that covers the net sales before `out` exactly, then nothing until `restock`."""
    # a cancellation while sold out goes back on the shelf with the restock
    ledger.changes[:] = [(restock if d > 0 and out <= t < restock else t, d) for t, d in ledger.changes]
    arrivals = [*range(start - H, out - 12 * D, 21 * D), out - 12 * D]
    bounds = list(zip(arrivals, [*arrivals[1:], out], strict=True))
    counts = [max(0, -sum(d for t, d in ledger.changes if lo <= t < hi)) for lo, hi in bounds]
    counts[-1] = -sum(d for t, d in ledger.changes if t < out) - sum(counts[:-1])
    buffer = max(0, min(round(counts[0] * 0.1), counts[-1] // 2))
    counts[0] += buffer
    counts[-1] -= buffer
    ledger.changes += [(t, n) for t, n in zip(arrivals, counts, strict=True) if n]
    ledger.changes.append((restock, round(daily * 30) + 10))


def _volume(orders, tz: ZoneInfo) -> tuple[dict[date, int], int]:
    """Orders per shop-local day, and the median day's count."""
    per_day: dict[date, int] = {}
    for o in orders:
        day = datetime.fromtimestamp(o.create_time, tz).date()
        per_day[day] = per_day.get(day, 0) + 1
    return per_day, (sorted(per_day.values())[len(per_day) // 2] if per_day else 1)


def _service(rng: random.Random, orders, tz: ZoneInfo) -> dict[date, ServiceDay]:
    """Chat sessions follow order volume; on busy days answers come later and buyers are less happy."""
    per_day, typical = _volume(orders, tz)
    out = {}
    for day, n in sorted(per_day.items()):
        load = n / typical
        sessions = max(1, round(n * rng.uniform(0.12, 0.2)))
        minutes = max(2.0, rng.gauss(9, 2) * load ** 1.6)
        responded = min(sessions, round(sessions * min(0.995, max(0.6, 1.04 - 0.08 * load + rng.gauss(0, 0.01)))))
        rated = max(1, round(sessions * 0.4))
        satisfied = min(rated, round(rated * min(0.97, max(0.4, 0.98 - 0.07 * load + rng.gauss(0, 0.02)))))
        out[day] = ServiceDay(sessions, responded, minutes * sessions, satisfied, rated)
    return out


# --- what the API shows ------------------------------------------------------------------------------
def fulfilment_json(order, now: int) -> dict:
    """The order's SLA deadlines, fulfilment times and cancellation reason, as far as they are known."""
    found = order.fulfilment or {}
    out = {}
    for key, value in found.items():
        if key in _HAPPENED and value > now:
            continue
        if key in ("cancel_reason", "cancellation_initiator") and not (order.cancel_time and order.cancel_time <= now):
            continue
        if key.endswith("_time") and key not in _HAPPENED and key != "cancel_order_sla_time" and \
                (order.paid_time is None or order.paid_time > now):
            continue
        out[key] = value
    return out


def inventory_search(sandbox, query: dict, body: dict, shop) -> dict:
    ids = [str(i) for i in body.get("product_ids") or []]
    skus = {str(i) for i in body.get("sku_ids") or []}
    if not ids and not skus:
        raise ProtocolError(400, 36009004, "Invalid request. Give `product_ids` (at most 100) or `sku_ids`.")
    if len(ids) > 100 or len(skus) > 600:
        raise ProtocolError(400, 36009004, "Invalid request. At most 100 `product_ids` and 600 `sku_ids`.")
    now = sandbox.now()
    ops = sandbox.business.operations[shop.id]
    inventory = []
    for product in sandbox.business.products[shop.id]:
        if product.id not in ids and not skus & {s.id for s in product.skus}:
            continue
        rows = []
        for sku in product.skus:
            if skus and sku.id not in skus and product.id not in ids:
                continue
            ledger = ops.ledgers[sku.id]
            available, committed = max(ledger.available(now), 0), ledger.committed(now)
            rows.append({"id": sku.id, "seller_sku": sku.seller_sku, "total_available_quantity": available,
                         "total_committed_quantity": committed,
                         "warehouse_inventory": [{"warehouse_id": ledger.warehouse_id, "available_quantity": available,
                                                  "committed_quantity": committed}]})
        inventory.append({"product_id": product.id, "skus": rows})
    return {"inventory": inventory}


def warehouses(sandbox, query: dict, body: dict, shop) -> dict:
    return {"warehouses": [{"id": w.id, "name": w.name, "is_default": w.is_default, "effect_status": "ENABLED",
                            "type": "SALES_WAREHOUSE", "sub_type": "DOMESTIC_WAREHOUSE"}
                           for w in sandbox.business.operations[shop.id].warehouses]}


def service_performance(sandbox, query: dict, body: dict, shop) -> dict:
    """Chat support over shop-local dates [support_date_ge, support_date_lt), complete days only."""
    from shoplens.sandbox.analytics import parse_date_range  # analytics imports the business, which imports us

    start, end = parse_date_range(query, names=("support_date_ge", "support_date_lt"))
    today = datetime.fromtimestamp(sandbox.now(), ZoneInfo(shop.region.timezone)).date()
    days = [d for day, d in sandbox.business.operations[shop.id].service.items() if start <= day < min(end, today)]
    sessions = sum(d.sessions for d in days)
    rated = sum(d.rated for d in days)
    performance = {"support_session_count": sessions}
    if sessions:
        performance |= {"response_percentage": f"{100 * sum(d.responded_24h for d in days) / sessions:.2f}",
                        "response_time_mins": f"{sum(d.response_minutes_total for d in days) / sessions:.2f}"}
    if rated:
        performance["satisfaction_percentage"] = f"{100 * sum(d.satisfied for d in days) / rated:.2f}"
    return {"performance": performance}
