"""A seeded, believable TikTok Shop business for the sandbox to serve.

Same seed and settings, same business: every id, price, order and refund follows from `random.Random(seed)`.
The business covers a fixed window of days (by default the 91 days ending 2026-11-15, with the 10.10
and 11.11 sales peaks in it), so notebook defaults and tests can name real dates. Platform-funded
discounts (TikTok's vouchers, its campaign subsidies on sale days, free-shipping vouchers) come from a
second generator seeded per shop, so adding them left every order, id and buyer as before; the amounts
follow the OAS formulas (docs/metrics.md). Each order carries
its whole life as timed events (created, paid, shipped, delivered, completed or cancelled); what the
API shows depends on the sandbox clock, so late data and status changes come for free.

Money is Decimal throughout. This module does no I/O and imports nothing from sync or warehouse.
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal
from zoneinfo import ZoneInfo

from shoplens.regions import REGIONS, Region
from shoplens.sandbox.operations import plan_operations
from shoplens.sandbox.reviews import plan_reviews
from shoplens.sandbox.content import HOSTILE_TITLES, Attribution, ShopContent, attribute, daily_spend, make_content

REGION_ORDER = ("TH", "GB", "US", "VN", "MY", "PH", "ID", "SG")
DEFAULT_LAST_DAY = date(2026, 11, 15)
DEFAULT_DAYS = 91

#: rough units of local currency per US dollar, for believable prices
_PER_USD = {"THB": 35, "GBP": Decimal("0.79"), "USD": 1, "VND": 25000, "MYR": Decimal("4.5"),
            "PHP": 57, "IDR": 16000, "SGD": Decimal("1.34")}
#: prices end on a step that looks local (9.99, 199, 149000 ...)
_PRICE_STEP = {"THB": 1, "GBP": Decimal("0.01"), "USD": Decimal("0.01"), "VND": 1000, "MYR": Decimal("0.1"),
               "PHP": 1, "IDR": 100, "SGD": Decimal("0.1")}

_BRANDS = ("Lumi", "Nori", "Kora", "Mala", "Sora", "Tiva", "Zeno", "Pika")
_NOUNS = {
    "en": ["Serum", "Lip Tint", "Sunscreen SPF50", "Phone Case", "Water Bottle", "Hoodie", "Sneakers",
           "Face Mask", "Hair Clip", "Tote Bag", "Earbuds", "Desk Lamp"],
    "th": ["เซรั่ม", "ลิปทินท์", "ครีมกันแดด", "เคสโทรศัพท์", "ขวดน้ำ", "เสื้อฮู้ด", "รองเท้าผ้าใบ", "มาส์กหน้า"],
    "vi": ["Tinh chất dưỡng", "Son tint", "Kem chống nắng", "Ốp điện thoại", "Bình nước", "Áo hoodie",
           "Giày thể thao", "Mặt nạ"],
    "id": ["Serum Wajah", "Lip Tint", "Tabir Surya", "Casing HP", "Botol Minum", "Hoodie", "Sepatu", "Masker"],
}
_LANG = {"TH": "th", "VN": "vi", "ID": "id"}
_VARIANTS = ("Red", "Blue", "Black", "White", "S", "M", "L", "30ml", "50ml")

STATUS_FLOW = ("UNPAID", "AWAITING_SHIPMENT", "IN_TRANSIT", "DELIVERED", "COMPLETED")
RETURN_DONE = "RETURN_OR_REFUND_REQUEST_COMPLETE"


def state_at(events: list[tuple[int, str]], now: int) -> tuple[str, int]:
    """The latest (status, time) at or before `now`; the first event if none has happened yet."""
    i = bisect.bisect_right([t for t, _ in events], now) - 1
    t, status = events[max(i, 0)]
    return status, t


@dataclass(frozen=True)
class Shop:
    id: str
    name: str
    region: Region
    cipher: str
    code: str
    seller_type: str


@dataclass(frozen=True)
class Sku:
    id: str
    name: str
    seller_sku: str
    price: Decimal


@dataclass(frozen=True)
class Product:
    id: str
    shop_id: str
    title: str
    skus: tuple[Sku, ...]
    create_time: int


@dataclass(frozen=True)
class LineItem:
    id: str
    product: Product
    sku: Sku
    original_price: Decimal
    seller_discount: Decimal
    promotion_id: str | None = None
    #: funded by TikTok (a platform voucher or a campaign subsidy); the seller is paid it back
    platform_discount: Decimal = Decimal(0)

    @property
    def sale_price(self) -> Decimal:
        """What the buyer paid for the unit: original price less seller and platform discounts."""
        return self.original_price - self.seller_discount - self.platform_discount

    @property
    def seller_price(self) -> Decimal:
        """The unit's price after seller discounts: what the seller is paid, platform discounts included."""
        return self.original_price - self.seller_discount


@dataclass
class Order:
    id: str
    shop: Shop
    buyer_id: str
    create_time: int
    line_items: list[LineItem]
    #: what the buyer paid for shipping
    shipping_fee: Decimal
    #: (unix time, status) in time order; the first is always UNPAID at create_time
    events: list[tuple[int, str]] = field(default_factory=list)
    paid_time: int | None = None
    cancel_time: int | None = None
    #: seconds after creation before the API shows the order (data lands late)
    visible_after: int = 0
    attribution: Attribution = field(default_factory=lambda: Attribution("PRODUCT_CARD"))
    #: SLA deadlines, fulfilment times and cancellation reason as the API names them (sandbox.operations)
    fulfilment: dict | None = None

    #: a platform free-shipping voucher: original shipping fee = shipping_fee + this
    shipping_fee_platform_discount: Decimal = Decimal(0)

    def _total(self, price: str) -> Decimal:
        """A line-item amount added up over the order's units."""
        return sum((getattr(li, price) for li in self.line_items), Decimal(0))

    @property
    def sub_total(self) -> Decimal:
        """Buyer-paid subtotal: original_total_product_price - seller_discount - platform_discount."""
        return self._total("sale_price")

    @property
    def seller_discount(self) -> Decimal:
        return self._total("seller_discount")

    @property
    def platform_discount(self) -> Decimal:
        return self._total("platform_discount")

    @property
    def seller_subtotal(self) -> Decimal:
        """The products after seller discounts only: sub_total + platform_discount."""
        return self._total("seller_price")

    @property
    def original_total(self) -> Decimal:
        return self._total("original_price")

    @property
    def original_shipping_fee(self) -> Decimal:
        return self.shipping_fee + self.shipping_fee_platform_discount

    @property
    def total_amount(self) -> Decimal:
        """Buyer-paid total: sub_total + shipping_fee (+ taxes, none here)."""
        return self.sub_total + self.shipping_fee

    @property
    def gross_total(self) -> Decimal:
        """The total before platform discounts (products and shipping): TikTok's analytics count this."""
        return self.total_amount + self.platform_discount + self.shipping_fee_platform_discount

    def visible_at(self, now: int) -> bool:
        return self.create_time + self.visible_after <= now

    def state_at(self, now: int) -> tuple[str, int]:
        """(status, update_time) as the API shows them at `now`."""
        return state_at(self.events, now)


@dataclass
class Return:
    id: str
    order: Order
    line_items: list[LineItem]
    return_type: str
    #: (unix time, return_status) in time order
    events: list[tuple[int, str]]

    @property
    def create_time(self) -> int:
        return self.events[0][0]

    @property
    def refund_total(self) -> Decimal:
        return sum((li.sale_price for li in self.line_items), Decimal(0))

    def state_at(self, now: int) -> tuple[str, int]:
        """(return_status, update_time) as the API shows them at `now`."""
        return state_at(self.events, now)


@dataclass(frozen=True)
class AdDay:
    """One campaign's delivery on one day (advertiser time zone = the shop's)."""

    campaign_id: str
    day: date
    spend: Decimal
    impressions: int
    clicks: int
    conversions: int
    revenue: Decimal


@dataclass(frozen=True)
class Traffic:
    """Product detail page traffic of one shop on one local day."""

    day: date
    page_views: int
    visitors: int
    product_impressions: int


@dataclass
class Business:
    """Everything the sandbox serves, generated from one seed."""

    seed: int
    first_day: date
    last_day: date
    shops: list[Shop]
    products: dict[str, list[Product]]
    orders: dict[str, list[Order]]
    returns: dict[str, list[Return]]
    content: dict[str, ShopContent] = field(default_factory=dict)
    ad_days: dict[str, list[AdDay]] = field(default_factory=dict)
    traffic: dict[str, list[Traffic]] = field(default_factory=dict)
    #: fulfilment, stock, listing status and service per shop (sandbox.operations)
    operations: dict = field(default_factory=dict)
    #: product id -> its reviews, per shop (sandbox.reviews)
    reviews: dict = field(default_factory=dict)

    @property
    def end_time(self) -> int:
        """Unix time just after the business window (UTC midnight after the last day, plus a day)."""
        return _unix(datetime.combine(self.last_day + timedelta(days=2), time(), UTC))

    def shop(self, shop_id: str) -> Shop:
        return next(s for s in self.shops if s.id == shop_id)


def sandbox_shop_id(seed: int, index: int) -> str:
    """Shop ids follow from seed and position, so docs and notebook defaults can name them."""
    return str(7_494_000_000_000_000_000 + seed * 1_000 + index + 1)


def generate_business(seed: int = 42, shops: int = 3, *, orders_per_day: int = 40,
                      last_day: date = DEFAULT_LAST_DAY, days: int = DEFAULT_DAYS, hostile: bool = False,
                      regions: tuple[str, ...] = REGION_ORDER) -> Business:
    """Build the whole business deterministically from `seed`.

    `hostile=True` puts HTML/JS payloads, right-to-left marks, emoji and Thai/Vietnamese/Chinese text
    into product titles and creator names, for the escaping tests. Shop i is in `regions[i % len(regions)]`
    (by default the eight markets in turn; fewer regions give fewer currencies).
    """
    if not 1 <= shops <= 64:
        raise ValueError(f"shops must be between 1 and 64, got {shops}")
    unknown_regions = [r for r in regions if r not in REGIONS]
    if not regions or unknown_regions:
        raise ValueError(f"regions must be some of {', '.join(REGION_ORDER)}, got {', '.join(regions) or 'none'}")
    rng = random.Random(seed)
    first_day = last_day - timedelta(days=days - 1)
    shop_list = [_make_shop(rng, seed, i, tuple(regions)) for i in range(shops)]
    business = Business(seed, first_day, last_day, shop_list, {}, {}, {})
    for s in shop_list:
        products = _make_products(rng, s, first_day, hostile=hostile)
        content = make_content(rng, s, products, first_day, days, hostile=hostile)
        scale = rng.uniform(0.6, 1.4)
        orders = _make_orders(rng, s, products, content, first_day, days, orders_per_day * scale)
        _add_platform_discounts(random.Random(f"{seed}:platform:{s.id}"), s, orders)
        business.products[s.id] = products
        business.content[s.id] = content
        business.orders[s.id] = orders
        business.returns[s.id] = _make_returns(rng, orders)
        business.ad_days[s.id] = _make_ad_days(rng, s, content, orders)
        business.traffic[s.id] = _make_traffic(rng, s, orders, first_day, days)
    for s in shop_list:  # its own random stream: nothing drawn above changes
        business.operations[s.id] = plan_operations(seed, business, s)
        business.reviews[s.id] = plan_reviews(seed, business, s)  # after deliveries are timed; its own stream
    return business


def _unix(moment: datetime) -> int:
    return int(moment.timestamp())


def _digits(rng: random.Random, n: int) -> str:
    return str(rng.randrange(10 ** (n - 1), 10**n))


def _make_shop(rng: random.Random, seed: int, index: int, regions: tuple[str, ...] = REGION_ORDER) -> Shop:
    region = REGIONS[regions[index % len(regions)]]
    brand = _BRANDS[index % len(_BRANDS)]
    suffix = f" {index // len(regions) + 1}" if index >= len(regions) else ""
    cipher = "ROW_" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
                              for _ in range(28))
    return Shop(id=sandbox_shop_id(seed, index), name=f"{brand} Official {region.code}{suffix}", region=region,
                cipher=cipher, code=f"{region.code}LC{_digits(rng, 6)}",
                seller_type="LOCAL" if region.code in ("GB", "US") else "CROSS_BORDER")


def _price(rng: random.Random, currency: str, usd: float) -> Decimal:
    step = Decimal(_PRICE_STEP[currency])
    raw = Decimal(str(round(usd, 2))) * Decimal(_PER_USD[currency])
    return max(step, (raw / step).quantize(Decimal(1)) * step)


def _make_products(rng: random.Random, shop: Shop, first_day: date, *, hostile: bool = False) -> list[Product]:
    lang = _LANG.get(shop.region.code, "en")
    nouns = _NOUNS[lang]
    created = _unix(datetime.combine(first_day - timedelta(days=60), time(), UTC))
    items = []
    for i in range(24):
        title = f"{_BRANDS[i % len(_BRANDS)]} {nouns[i % len(nouns)]}"
        if i >= len(nouns):
            title += f" {rng.choice(('Pro', 'Mini', 'Plus', '2.0'))}"
        usd = rng.lognormvariate(2.6, 0.6)
        skus = tuple(
            Sku(id=_digits(rng, 19), name=variant, seller_sku=f"SKU-{i:03d}-{j}",
                price=_price(rng, shop.region.currency, usd * rng.uniform(0.9, 1.15)))
            for j, variant in enumerate(rng.sample(_VARIANTS, rng.randint(1, 3)))
        )
        if hostile and i < len(HOSTILE_TITLES):
            title = HOSTILE_TITLES[i]
        items.append(Product(id=_digits(rng, 19), shop_id=shop.id, title=title, skus=skus, create_time=created))
    return items


def _day_multiplier(day: date) -> float:
    if (day.month, day.day) == (11, 11):
        return 3.2
    if (day.month, day.day) == (10, 10):
        return 2.0
    if (day.month, day.day) in ((11, 10), (11, 12), (10, 9), (10, 11)):
        return 1.5
    return 1.15 if day.weekday() >= 5 else 1.0


def _make_orders(rng: random.Random, shop: Shop, products: list[Product], content: ShopContent, first_day: date,
                 days: int, per_day: float) -> list[Order]:
    tz = ZoneInfo(shop.region.timezone)
    by_id = {p.id: p for p in products}
    weights = [1 / (rank + 1) ** 0.9 for rank in range(len(products))]  # a few best sellers
    buyer_pool = [_digits(rng, 16) for _ in range(max(20, int(per_day * days * 0.45)))]
    buyer_weights = [1 / (rank + 1) ** 0.5 for rank in range(len(buyer_pool))]
    zero = Decimal(0)
    orders: list[Order] = []
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        for _ in range(_poisson(rng, per_day * _day_multiplier(day))):
            hour = min(23, max(0, int(rng.gauss(19, 4.5))))
            local = datetime.combine(day, time(hour, rng.randrange(60), rng.randrange(60)), tz)
            created = _unix(local)
            source = attribute(rng, content, created, day)
            featured = [by_id[i] for i in _featured(content, source)] or products
            line_items = []
            for _unit in range(rng.choices((1, 2, 3), (70, 20, 10))[0]):
                product = rng.choices(featured, weights[:len(featured)])[0]
                sku = rng.choice(product.skus)
                promo = content.promotion_for(created, product.id)
                discount = zero
                if promo is not None:
                    discount = (sku.price * promo.discount_pct / 100).quantize(sku.price)
                line_items.append(LineItem(id=_digits(rng, 18), product=product, sku=sku, original_price=sku.price,
                                           seller_discount=discount, promotion_id=promo.id if promo else None))
            fee_usd = 0 if rng.random() < 0.5 else rng.choice((1.0, 1.5, 2.0))
            shipping = _price(rng, shop.region.currency, fee_usd) if fee_usd else zero
            order = Order(id=_digits(rng, 18), shop=shop, buyer_id=rng.choices(buyer_pool, buyer_weights)[0],
                          create_time=created, line_items=line_items, shipping_fee=shipping,
                          visible_after=rng.randrange(3600, 7200), attribution=source)
            _plan_life(rng, order)
            orders.append(order)
    orders.sort(key=lambda o: (o.create_time, o.id))
    return orders


#: share of orders with a platform product discount: campaign subsidies on sale days, vouchers otherwise
PLATFORM_SHARE_SALE_DAY = 0.4
PLATFORM_SHARE_OTHER_DAY = 0.1
#: share of orders paying for shipping whose fee a platform free-shipping voucher covers
FREE_SHIPPING_SHARE = 0.25


def _add_platform_discounts(rng: random.Random, shop: Shop, orders: list[Order]) -> None:
    """TikTok-funded discounts, as TikTok gives them: on sale days (10.10, 11.11 and the days beside them)
    a campaign subsidy of 5-15 % on each unit of 40 % of orders; on other days a platform voucher (a
    fixed amount, at most half the order) on 10 %; a free-shipping voucher on a quarter of the orders
    that pay for shipping. Every amount is in the price's own step; no unit goes below zero."""
    tz = shop.region.timezone
    zero = Decimal(0)
    for order in orders:
        sale_day = _day_multiplier(local_day(order.create_time, tz)) >= 1.5
        roll = rng.random()
        if sale_day and roll < PLATFORM_SHARE_SALE_DAY:
            pct = Decimal(rng.choice((5, 8, 10, 12, 15)))
            cuts = [(li.seller_price * pct / 100).quantize(li.original_price) for li in order.line_items]
        elif not sale_day and roll < PLATFORM_SHARE_OTHER_DAY:
            total = order.seller_subtotal
            voucher = min(_price(rng, shop.region.currency, rng.choice((1.0, 2.0, 3.0))), total / 2)
            cuts = _allocate(voucher, order.line_items)
        else:
            cuts = [zero] * len(order.line_items)
        order.line_items = [replace(li, platform_discount=cut) for li, cut in zip(order.line_items, cuts)]
        if order.shipping_fee > 0 and rng.random() < FREE_SHIPPING_SHARE:
            order.shipping_fee_platform_discount, order.shipping_fee = order.shipping_fee, zero


def _allocate(amount: Decimal, items: list[LineItem]) -> list[Decimal]:
    """`amount` over the units in proportion to their seller price, each in its price's step; the
    rounding remainder goes to the dearest unit, so the parts add up to the rounded amount exactly."""
    total = sum((li.seller_price for li in items), Decimal(0))
    if total <= 0:
        return [Decimal(0)] * len(items)
    parts = [(amount * li.seller_price / total).quantize(li.original_price, rounding=ROUND_DOWN) for li in items]
    dearest = max(range(len(items)), key=lambda i: items[i].seller_price)
    step = items[dearest].original_price
    rest = (amount - sum(parts, Decimal(0))).quantize(step, rounding=ROUND_DOWN)
    parts[dearest] = min(parts[dearest] + max(rest, Decimal(0)), items[dearest].seller_price)
    return parts


def _featured(content: ShopContent, source: Attribution) -> tuple[str, ...]:
    """The products a video or LIVE showed; an order it drove buys among them."""
    if source.content_type == "VIDEO":
        return next((v.product_ids for v in content.videos if v.id == source.content_id), ())
    if source.content_type == "LIVE":
        return next((v.product_ids for v in content.lives if v.id == source.content_id), ())
    return ()


def _poisson(rng: random.Random, mean: float) -> int:
    # normal approximation is fine at these means and keeps the generator fast
    return max(0, round(rng.gauss(mean, mean**0.5)))


def _plan_life(rng: random.Random, order: Order) -> None:
    t = order.create_time
    order.events = [(t, "UNPAID")]
    roll = rng.random()
    if roll < 0.04:  # never paid: the system cancels it after a day
        order.cancel_time = t + 86_400
        order.events.append((order.cancel_time, "CANCELLED"))
        return
    order.paid_time = t + rng.randrange(30, 1800)
    order.events.append((order.paid_time, "AWAITING_SHIPMENT"))
    if roll < 0.07:  # paid, then cancelled by the buyer before shipping
        order.cancel_time = order.paid_time + rng.randrange(600, 36_000)
        order.events.append((order.cancel_time, "CANCELLED"))
        return
    shipped = order.paid_time + rng.randrange(12, 60) * 3600
    delivered = shipped + rng.randrange(1, 5) * 86_400 + rng.randrange(0, 36_000)
    order.events += [(shipped, "IN_TRANSIT"), (delivered, "DELIVERED"), (delivered + 7 * 86_400, "COMPLETED")]


def local_day(t: int, tz: str) -> date:
    return datetime.fromtimestamp(t, ZoneInfo(tz)).date()


def _make_ad_days(rng: random.Random, shop: Shop, content: ShopContent, orders: list[Order]) -> list[AdDay]:
    """Each campaign's daily delivery, priced so that its revenue / spend is near its ROAS."""
    revenue: dict[tuple[str, date], list[Order]] = {}
    for o in orders:
        c = o.attribution.campaign
        if c is not None and o.paid_time is not None:
            revenue.setdefault((c.id, local_day(o.create_time, shop.region.timezone)), []).append(o)
    days = []
    for c in content.campaigns:
        day = c.first_day
        while day <= c.last_day:
            won = revenue.get((c.id, day), [])
            gross = sum((o.total_amount for o in won), Decimal(0))
            spend = daily_spend(c, gross, rng) if won else Decimal(0)
            clicks = max(len(won), int(len(won) * rng.uniform(25, 60)))
            days.append(AdDay(c.id, day, spend, int(clicks / rng.uniform(0.008, 0.02)) if clicks else 0, clicks,
                              len(won), gross))
            day += timedelta(days=1)
    return days


def _make_traffic(rng: random.Random, shop: Shop, orders: list[Order], first_day: date, days: int) -> list[Traffic]:
    """Product page visitors behind each day's buyers, at a 2-5 % conversion rate."""
    buyers: dict[date, set[str]] = {}
    for o in orders:
        if o.paid_time is not None:
            buyers.setdefault(local_day(o.create_time, shop.region.timezone), set()).add(o.buyer_id)
    result = []
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        visitors = max(1, int(len(buyers.get(day, ())) / rng.uniform(0.02, 0.05)))
        views = int(visitors * rng.uniform(1.4, 1.9))
        result.append(Traffic(day, views, visitors, int(views * rng.uniform(8, 14))))
    return result


def _make_returns(rng: random.Random, orders: list[Order]) -> list[Return]:
    result = []
    for order in orders:
        delivered = next((t for t, s in order.events if s == "DELIVERED"), None)
        if delivered is None or rng.random() >= 0.06:
            continue
        requested = delivered + rng.randrange(3600, 5 * 86_400)
        chosen = rng.sample(order.line_items, rng.randint(1, len(order.line_items)))
        done = requested + rng.randrange(1, 4) * 86_400
        result.append(Return(id=_digits(rng, 18), order=order, line_items=chosen,
                             return_type=rng.choice(("REFUND", "RETURN_AND_REFUND")),
                             events=[(requested, "RETURN_OR_REFUND_REQUEST_PENDING"), (done, RETURN_DONE)]))
    result.sort(key=lambda r: (r.create_time, r.id))
    return result
