"""Tracking-link clicks for the sandbox's buyers, so attribution has paths to work on.

TikTok Shop does not tell a seller who clicked which link before buying; a real deployment learns it
from its own redirect service and landing pages. The sandbox makes it up, deterministically: given
links (code, shop, creator) it has some of each shop's buyers click 1-4 of them in the days before an
order (a logged-in click carries the buyer id, the others only the visitor's cookie id), and some
visitors who never buy click too. The records are what `shoplens links load --csv` reads
(code, time, visitor_id, buyer_id); `demo_links` suggests links worth making for a shop.

Same business, links and seed, same clicks. No I/O; imports nothing from links, sync or warehouse.
"""

from __future__ import annotations

import csv
import hashlib
import io
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from shoplens.sandbox.business import Business

CSV_HEADER = ("code", "time", "visitor_id", "buyer_id")


@dataclass(frozen=True)
class Click:
    """One click as a CSV row: link code, Unix time, visitor id, buyer id (None when not logged in)."""

    code: str
    time: int
    visitor_id: str
    buyer_id: str | None


def visitor_of(seed: int, who: str) -> str:
    """A stable cookie-like visitor id (22 characters of [A-Za-z0-9_-]) for a buyer or an anonymous visitor."""
    return hashlib.sha256(f"sandbox-visitor:{seed}:{who}".encode()).hexdigest()[:22]


def demo_links(business: Business, shop_id: str, *, creators: int = 4) -> list[dict]:
    """Link specs (shop_id, campaign, creator, channel, target, content) for a shop: its busiest affiliate
    creators' video links for the 11.11 campaign, and the shop's own email and paid-social links."""
    shop = business.shop(shop_id)
    content = business.content[shop_id]
    orders_by: dict[str, int] = {}
    for order in business.orders[shop_id]:
        if order.attribution.affiliate:
            orders_by[order.attribution.creator.username] = orders_by.get(order.attribution.creator.username, 0) + 1
    usable = [c for c in content.creators if any(ch.isascii() and ch.isalnum() for ch in c.username)]
    chosen = sorted(usable, key=lambda c: (-orders_by.get(c.username, 0), c.username))[:creators]
    product = business.products[shop_id][0].id
    target = f"https://shop.tiktok.com/view/product/{product}?region={shop.region.code}"
    specs = []
    for creator in chosen:
        video = next((v for v in content.videos if v.creator.username == creator.username), None)
        specs.append({"shop_id": shop_id, "campaign": "Double 11 2026", "creator": creator.username,
                      "channel": "affiliate", "target": target,
                      "content": f"video {video.id}" if video else None})
    for channel in ("email", "paid_social"):
        specs.append({"shop_id": shop_id, "campaign": "Always on", "creator": content.official.username,
                      "channel": channel, "target": target, "content": None})
    return specs


#: what a link is (its code last: two links alike but for their codes are ordered by them)
_LINK_ORDER = ("campaign", "creator", "channel", "target", "content", "code")


def generate_clicks(business: Business, links: Iterable[Mapping], *, seed: int = 0, share: float = 0.2,
                    max_days_before: float = 9.0, anonymous_per_link: int = 12) -> list[Click]:
    """Clicks on `links` (mappings with code, shop_id, creator) for the business's buyers, in time order.

    For about `share` of each linked shop's orders the buyer clicks 1-4 of the shop's links between a
    minute and `max_days_before` days before ordering, mostly in the last day or two (some clicks fall
    outside a 7-day window); a link of the creator TikTok credits the order to is picked more often.
    Each buyer keeps one visitor id; the first click made for a buyer carries the buyer id, later ones
    do so 60 % of the time.
    Every link also gets `anonymous_per_link` clicks from visitors who never buy.
    """
    by_shop: dict[str, list[Mapping]] = {}
    for link in links:
        by_shop.setdefault(link["shop_id"], []).append(link)
    clicks: list[Click] = []
    for shop_id in sorted(by_shop):
        # in the order of what the links are, not of their codes: a link's code is random, and the demo
        # makes new ones each run, so ordering by code gave each run's creators different clicks
        shop_links = sorted(by_shop[shop_id], key=lambda link: tuple(str(link.get(k)) for k in _LINK_ORDER))
        rng = random.Random(f"sandbox-clicks:{business.seed}:{seed}:{shop_id}")
        named: set[str] = set()
        for order in business.orders.get(shop_id, []):
            if rng.random() >= share:
                continue
            creator = order.attribution.creator.username.lower() if order.attribution.affiliate else None
            own = [link for link in shop_links if str(link["creator"]).lower() == creator]
            visitor = visitor_of(seed, order.buyer_id)
            offsets = sorted((_offset(rng, max_days_before) for _ in range(rng.choices(
                (1, 2, 3, 4), (45, 30, 15, 10))[0])), reverse=True)
            for offset in offsets:
                link = rng.choice(own) if own and rng.random() < 0.6 else rng.choice(shop_links)
                logged_in = order.buyer_id not in named or rng.random() < 0.6
                named.add(order.buyer_id)
                clicks.append(Click(link["code"], order.create_time - round(offset), visitor,
                                    order.buyer_id if logged_in else None))
        start, end = _window(business)
        for place, link in enumerate(shop_links):
            for n in range(anonymous_per_link):
                clicks.append(Click(link["code"], rng.randrange(start, end),
                                    visitor_of(seed, f"anonymous:{shop_id}:{place}:{n}"), None))
    clicks.sort(key=lambda c: (c.time, c.code, c.visitor_id))
    return clicks


def clicks_csv(clicks: Iterable[Click]) -> str:
    """The clicks as the CSV `shoplens links load --csv` imports (times in ISO 8601, UTC)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for c in clicks:
        writer.writerow([c.code, datetime.fromtimestamp(c.time, UTC).isoformat(), c.visitor_id, c.buyer_id or ""])
    return out.getvalue()


def _offset(rng: random.Random, max_days: float) -> float:
    """Seconds between a click and the order: mostly within a day or two (exponential, mean 1.5 days),
    one in six anywhere up to `max_days` (some beyond a 7-day window)."""
    if rng.random() < 1 / 6:
        return rng.uniform(60, max_days * 86_400)
    return min(max_days * 86_400, 60 + rng.expovariate(1 / (1.5 * 86_400)))


def _window(business: Business) -> tuple[int, int]:
    start = datetime.combine(business.first_day, datetime.min.time(), UTC)
    end = datetime.combine(business.last_day, datetime.max.time(), UTC)
    return int(start.timestamp()), int(end.timestamp())
