"""What drives a sandbox shop's orders: creators, videos, LIVE sessions, promotions, ad campaigns.

Creators have power-law reach (Pareto followers); their videos collect views that decay over days;
LIVE sessions run in the evening, more often around 10.10 and 11.11; promotions discount their
products inside their windows; ad campaigns (an always-on GMV Max campaign and boosts before the
peaks) make part of the orders "paid". `Attribution` is what an order carries from all this.
Same seed, same content. No I/O here.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

#: plain names, and with `hostile=True` also the payloads the security tests look for
_HANDLES = ("mali.beauty", "nong.ploy", "linh.review", "anh.dailyfinds", "sara.styles", "tom.unboxes", "mia.glow",
            "ken.gadgets", "putri.skincare", "ayu.ootd", "liz.haul", "jay.tech", "nina.home", "olivia.picks")
HOSTILE_NAMES = ('<script>alert("creator")</script>', '"><img src=x onerror=alert(1)>', "\u202eevil.txt.exe",
                 "😀🔥 ไลฟ์สด ลดแรง", "Nguyễn Thị Hoa 💄", "小红 <b>爆款</b>", "{{7*7}} ${7*7}")
HOSTILE_TITLES = ('<script>alert("product")</script> Serum', "<iframe src=javascript:alert(1)> Lip Tint",
                  "Sunscreen \u202eSPF50", "โปรโมชั่น 11.11 🔥 <b>ลด 50%</b>", "Kem chống nắng & <i>bảo vệ</i>",
                  "防晒霜 </td></tr><script>alert(2)</script>")


@dataclass(frozen=True)
class Creator:
    id: str
    username: str
    followers: int
    #: commission in hundredths of a percent ("1500" = 15 %), as the affiliate API writes it
    commission_rate: int
    official: bool = False


@dataclass(frozen=True)
class Video:
    id: str
    shop_id: str
    creator: Creator
    title: str
    post_time: int
    product_ids: tuple[str, ...]
    #: lifetime views, spread over days with a three-day decay
    views: int
    click_through_rate: float
    duration_s: int
    hash_tags: tuple[str, ...]

    def weight_at(self, t: int) -> float:
        """How strongly the video sells at time t (0 before it is posted)."""
        age_days = (t - self.post_time) / 86_400
        return 0.0 if age_days < 0 else self.views * math.exp(-age_days / 3)

    def views_between(self, start: int, end: int) -> int:
        """Views in [start, end): the decayed share of lifetime views."""
        def share(t: int) -> float:
            return 0.0 if t <= self.post_time else 1 - math.exp(-(t - self.post_time) / 86_400 / 3)
        return round(self.views * (share(end) - share(start)))


@dataclass(frozen=True)
class Live:
    id: str
    shop_id: str
    creator: Creator
    title: str
    start: int
    end: int
    product_ids: tuple[str, ...]
    viewers: int
    peak_concurrent: int
    avg_watch_s: int
    likes: int
    comments: int
    shares: int
    new_followers: int
    product_impressions: int
    product_clicks: int

    @property
    def views(self) -> int:
        return round(self.viewers * 1.35)

    @property
    def average_concurrent(self) -> int:
        return max(1, round(self.viewers * self.avg_watch_s / max(1, self.end - self.start)))


@dataclass(frozen=True)
class Promotion:
    id: str
    shop_id: str
    title: str
    activity_type: str
    begin: int
    end: int
    discount_pct: int
    product_ids: frozenset[str]
    create_time: int

    def applies(self, t: int, product_id: str) -> bool:
        return self.begin <= t < self.end and product_id in self.product_ids


@dataclass(frozen=True)
class AdCampaign:
    id: str
    advertiser_id: str
    shop_id: str
    name: str
    first_day: date
    last_day: date
    #: share of the shop's orders this campaign wins on an active day
    paid_share: float
    #: gross revenue per unit of spend the campaign achieves
    roas: float

    def active_on(self, day: date) -> bool:
        return self.first_day <= day <= self.last_day


@dataclass(frozen=True)
class Attribution:
    """Where an order came from: the content type the platform reports, and who or what drove it."""

    content_type: str  # VIDEO, LIVE or PRODUCT_CARD
    content_id: str | None = None
    creator: Creator | None = None
    campaign: AdCampaign | None = None

    @property
    def affiliate(self) -> bool:
        return self.creator is not None and not self.creator.official


@dataclass
class ShopContent:
    official: Creator
    creators: list[Creator]
    videos: list[Video]
    lives: list[Live]
    promotions: list[Promotion]
    campaigns: list[AdCampaign]
    _videos_by_day: dict[date, list[Video]] = field(default_factory=dict, repr=False)

    def live_at(self, t: int) -> Live | None:
        return next((live for live in self.lives if live.start <= t < live.end), None)

    def videos_near(self, day: date) -> list[Video]:
        """Videos posted in the 14 days up to `day` (older ones no longer sell noticeably)."""
        return self._videos_by_day.get(day, [])

    def promotion_for(self, t: int, product_id: str) -> Promotion | None:
        return next((p for p in self.promotions if p.applies(t, product_id)), None)

    def campaigns_on(self, day: date) -> list[AdCampaign]:
        return [c for c in self.campaigns if c.active_on(day)]


def _digits(rng: random.Random, n: int) -> str:
    return str(rng.randrange(10 ** (n - 1), 10**n))


def _at(day: date, hour: float, tz: ZoneInfo) -> int:
    return int(datetime.combine(day, time(), tz).timestamp() + hour * 3600)


def make_content(rng: random.Random, shop, products: list, first_day: date, days: int, *,
                 hostile: bool = False) -> ShopContent:
    """Creators, videos, LIVE sessions, promotions and campaigns for one shop's window."""
    tz = ZoneInfo(shop.region.timezone)
    slug = shop.name.lower().replace(" ", ".")
    official = Creator(_digits(rng, 19), slug, int(rng.uniform(20_000, 120_000)), 0, official=True)
    creators = []
    for i in range(24):
        handle = _HANDLES[i % len(_HANDLES)] + ("" if i < len(_HANDLES) else f".{i}")
        followers = int(min(3_000_000, 3_000 * rng.paretovariate(1.2)))
        creators.append(Creator(_digits(rng, 19), handle, followers, rng.choice((800, 1000, 1200, 1500, 2000))))
    if hostile:  # give the payloads big audiences, so they reach every report's top lists
        for i, name in enumerate(HOSTILE_NAMES):
            c = creators[i]
            creators[i] = Creator(c.id, name, c.followers * 20 + 500_000, c.commission_rate)
    reach = [c.followers for c in creators]
    start = first_day - timedelta(days=7)
    last_day = first_day + timedelta(days=days - 1)
    videos, lives = [], []
    for offset in range(days + 7):
        day = start + timedelta(days=offset)
        peak = (day.month, day.day) in ((10, 9), (10, 10), (11, 9), (11, 10), (11, 11))
        for _ in range(rng.choice((2, 3, 3, 4)) + (3 if peak else 0)):
            by_official = rng.random() < 0.2
            creator = official if by_official else rng.choices(creators, reach)[0]
            picks = tuple(p.id for p in rng.sample(products, rng.randint(1, 2)))
            views = int(creator.followers * rng.lognormvariate(-1.2, 0.9)) + rng.randint(200, 2_000)
            videos.append(Video(_digits(rng, 19), shop.id, creator, f"{rng.choice(('Unboxing', 'Review', 'Try-on', 'Haul', 'Tutorial'))} #{offset}",
                                _at(day, rng.uniform(9, 22), tz), picks, views, rng.uniform(0.01, 0.06),
                                rng.randint(12, 95), tuple(rng.sample(("fyp", "tiktokshop", "sale", "beauty", "1111"), 2))))
        if day.weekday() != 0 or peak:  # the shop goes LIVE six evenings a week
            lives.append(_make_live(rng, shop, official, products, day, tz, peak))
        if day.weekday() == 5 and rng.random() < 0.5:
            lives.append(_make_live(rng, shop, rng.choices(creators, reach)[0], products, day, tz, peak))
    content = ShopContent(official, creators, sorted(videos, key=lambda v: v.post_time),
                          sorted(lives, key=lambda v: v.start), _make_promotions(rng, shop, products, tz),
                          _make_campaigns(rng, shop, first_day, last_day))
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        lo = _at(day - timedelta(days=14), 0, tz)
        hi = _at(day + timedelta(days=1), 0, tz)
        content._videos_by_day[day] = [v for v in content.videos if lo <= v.post_time < hi]
    return content


def _make_live(rng: random.Random, shop, host: Creator, products: list, day: date, tz: ZoneInfo, peak: bool) -> Live:
    start = _at(day, rng.choice((19, 19.5, 20, 20.5)), tz)
    length = rng.choice((90, 120, 150, 180)) * 60
    viewers = int(host.followers * rng.uniform(0.05, 0.25) * (2.2 if peak else 1)) + rng.randint(300, 1500)
    impressions = int(viewers * rng.uniform(2.5, 4))
    return Live(_digits(rng, 19), shop.id, host, f"{'11.11 ' if peak else ''}LIVE {day.isoformat()}", start,
                start + length, tuple(p.id for p in rng.sample(products, min(len(products), 8))), viewers,
                int(viewers * rng.uniform(0.06, 0.15)), rng.randint(60, 420), int(viewers * rng.uniform(0.5, 3)),
                int(viewers * rng.uniform(0.02, 0.1)), int(viewers * rng.uniform(0.005, 0.02)),
                int(viewers * rng.uniform(0.01, 0.04)), impressions, int(impressions * rng.uniform(0.04, 0.12)))


def _make_promotions(rng: random.Random, shop, products: list, tz: ZoneInfo) -> list[Promotion]:
    year = 2026
    plans = [("10.10 Flash Sale", "FLASHSALE", date(year, 10, 9), date(year, 10, 11), 15),
             ("11.11 Mega Sale", "DIRECT_DISCOUNT", date(year, 11, 9), date(year, 11, 12), 20),
             ("Weekend Bundle", "BUY_MORE_SAVE_MORE", date(year, 10, 24), date(year, 10, 26), 10)]
    promos = []
    for title, kind, first, last, pct in plans:
        chosen = frozenset(p.id for p in rng.sample(products, max(3, len(products) // 2)))
        begin, end = _at(first, 0, tz), _at(last + timedelta(days=1), 0, tz)
        promos.append(Promotion(_digits(rng, 19), shop.id, title, kind, begin, end, pct, chosen, begin - 10 * 86_400))
    return promos


def _make_campaigns(rng: random.Random, shop, first_day: date, last_day: date) -> list[AdCampaign]:
    advertiser = _digits(rng, 16)
    plans = [("Always-on GMV Max", first_day, last_day, 0.12, rng.uniform(4, 7)),
             ("10.10 Boost", date(2026, 10, 3), date(2026, 10, 11), 0.18, rng.uniform(3, 5)),
             ("11.11 Boost", date(2026, 11, 4), date(2026, 11, 12), 0.22, rng.uniform(3, 5.5))]
    return [AdCampaign(_digits(rng, 16), advertiser, shop.id, name, max(a, first_day), min(b, last_day), share, roas)
            for name, a, b, share, roas in plans if a <= last_day and b >= first_day]


def attribute(rng: random.Random, content: ShopContent, t: int, day: date) -> Attribution:
    """Where one order placed at `t` came from."""
    campaigns = content.campaigns_on(day)
    campaign = None
    for c in campaigns:
        if rng.random() < c.paid_share:
            campaign = c
            break
    live = content.live_at(t)
    if live is not None and rng.random() < 0.75:
        return Attribution("LIVE", live.id, live.creator, campaign)
    videos = content.videos_near(day)
    weights = [v.weight_at(t) for v in videos]
    if videos and sum(weights) > 0 and rng.random() < 0.45:
        video = rng.choices(videos, weights)[0]
        return Attribution("VIDEO", video.id, video.creator, campaign)
    return Attribution("PRODUCT_CARD", None, None, campaign)


def daily_spend(campaign: AdCampaign, paid_revenue: Decimal, rng: random.Random) -> Decimal:
    """What the campaign spent on a day to win `paid_revenue`, at roughly its ROAS."""
    base = paid_revenue / Decimal(str(round(campaign.roas * rng.uniform(0.8, 1.2), 3)))
    return base.quantize(Decimal("0.01"))
