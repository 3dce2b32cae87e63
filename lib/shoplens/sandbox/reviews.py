"""The sandbox's product reviews: which buyers rate what they received, when, and with how many stars.

`plan_reviews()` runs once per shop after `plan_operations()` has timed every delivery, on its own seeded
random stream, so it changes nothing drawn before it. A buyer may review each product of a delivered
order once, some days after delivery (most within three, none after TikTok's 60 days). What moves the
stars, on top of each product's own quality:
- a parcel dispatched after its ready-to-ship SLA: more buyers review, and worse (the peak-day slowdown
  of `operations` shows up as a wave of 1-3 star reviews a few days after 10.10 and 11.11);
- a busy day: the more orders that day, the fewer stars;
- the planted stockout: the last units sold before the best seller ran out were packed in the rush;
- a return or refund: buyers who sent the product back review it more often, and badly.
Some buyers raise a 1-2 star review to 4 stars a few days later, after the seller has answered, so a
day's ratings change after the day (the analytics restatement a sync must catch).
The API counts a review on the shop-local day it was posted, with the stars it has when asked.
This module does no I/O.
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

D = 86_400
#: TikTok's review window after delivery (Seller Center, US)
REVIEW_WINDOW_S = 60 * D
STARS = ("1_STAR", "2_STAR", "3_STAR", "4_STAR", "5_STAR")


@dataclass(frozen=True)
class Review:
    order_id: str
    posted: int
    stars: int
    #: a buyer's later edit: (when, stars from then on)
    edit: tuple[int, int] | None = None

    def stars_at(self, now: int) -> int:
        return self.edit[1] if self.edit is not None and self.edit[0] <= now else self.stars


@dataclass
class ProductReviews:
    """One product's reviews in the order they were posted."""

    reviews: list[Review] = field(default_factory=list)
    _posted: list[int] = field(default_factory=list)

    def freeze(self) -> None:
        self.reviews.sort(key=lambda r: r.posted)
        self._posted = [r.posted for r in self.reviews]

    def counts(self, start: int, end: int, now: int) -> list[int]:
        """Reviews posted in [start, end) and visible by `now`, by stars (index 0 = 1 star), as of `now`."""
        counts = [0] * 5
        lo, hi = bisect.bisect_left(self._posted, start), bisect.bisect_left(self._posted, min(end, now + 1))
        for review in self.reviews[lo:hi]:
            counts[review.stars_at(now) - 1] += 1
        return counts


def plan_reviews(seed: int, business, shop) -> dict[str, ProductReviews]:
    """Every review of the shop's products, by product id."""
    rng = random.Random(f"reviews/{seed}/{shop.id}")
    tz = ZoneInfo(shop.region.timezone)
    products = business.products[shop.id]
    quality = {p.id: rng.uniform(4.4, 4.9) for p in products}
    orders = business.orders[shop.id]
    per_day: dict = {}
    for o in orders:
        if o.paid_time is not None:
            day = datetime.fromtimestamp(o.paid_time, tz).date()
            per_day[day] = per_day.get(day, 0) + 1
    typical = sorted(per_day.values())[len(per_day) // 2] if per_day else 1
    returned = {(r.order.id, li.product.id) for r in business.returns[shop.id] for li in r.line_items}
    planted = business.operations[shop.id].planted if shop.id in business.operations else {}
    rushed = planted.get("stockout")  # (product id, the moment it sold out)
    out = {p.id: ProductReviews() for p in products}
    for o in orders:
        fulfilment = o.fulfilment or {}
        delivered = fulfilment.get("delivery_time")
        if delivered is None or o.cancel_time is not None:
            continue
        late_h = max(0, fulfilment.get("rts_time", 0) - fulfilment.get("rts_sla_time", 2**40)) / 3600
        load = per_day.get(datetime.fromtimestamp(o.paid_time, tz).date(), typical) / typical
        for product in {li.product.id: li.product for li in o.line_items}.values():
            mood, chance = quality[product.id], 0.12
            if late_h:
                mood -= 1.3 + min(late_h, 48) / 24
                chance *= 3
            mood -= 0.35 * max(0.0, load - 1)
            if rushed and product.id == rushed[0] and rushed[1] - D <= o.paid_time < rushed[1]:
                mood -= 1.2
                chance *= 2
            if (o.id, product.id) in returned:
                mood -= 2.0
                chance = 0.3
            if rng.random() >= min(chance, 0.9):
                continue
            posted = delivered + int(rng.uniform(0.05, 1.0) * D) + int(min(rng.expovariate(1.0), 55)) * D
            posted = min(posted, delivered + REVIEW_WINDOW_S - 1)
            stars = min(5, max(1, round(mood + rng.gauss(0, 0.7))))
            edit = None
            if stars <= 2 and (o.id, product.id) not in returned and rng.random() < 0.3:
                edit = (posted + rng.randint(2, 6) * D + rng.randrange(D), 4)
            out[product.id].reviews.append(Review(o.id, posted, stars, edit))
    for reviews in out.values():
        reviews.freeze()
    return out


def ratings_json(counts: list[int]) -> list[dict]:
    """`ratings[]` as the product performance API writes it: every star level, count and share."""
    total = sum(counts)
    return [{"stars": STARS[i], "count": n, "percentage": f"{n / total:.4f}" if total else "0"}
            for i, n in enumerate(counts)]
