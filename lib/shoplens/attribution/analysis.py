"""Attribution of one shop's converting paths: every model's credit per touch, roll-ups by link, creator,
campaign and channel, where the models disagree most, and how often people touch links before buying.

Pure pandas over what `paths` and `platform` read, plus `run_attribution`, which reads it. Credit stays
`Decimal` and is added up with Decimal arithmetic: every roll-up of one model adds up to the attributed
GMV exactly. It must never write to the warehouse and never compute a catalogue KPI (a report takes
GMV, orders and creator GMV from `metrics.query`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import pandas as pd

from shoplens.attribution.models import DEFAULT_HALF_LIFE_DAYS, MODEL_NAMES, Touch, check_days, check_model, credit
from shoplens.attribution.paths import DEFAULT_LOOKBACK_DAYS, click_counts, touches
from shoplens.attribution.platform import platform_credit
from shoplens.metrics import Policies, parse_period
from shoplens.warehouse import Warehouse

CREDIT_COLUMNS = ("order_id", "touch_index", "click_id", "code", "creator", "campaign", "channel", "model", "credit")
#: roll-up name -> the touch column it groups by; a link also shows its creator, campaign and channel
ROLLUPS = {"link": "code", "creator": "creator", "campaign": "campaign", "channel": "channel"}
LINK_FACTS = ("creator", "campaign", "channel")
#: (label, lowest, highest) buckets, both ends included; None: no upper end
TOUCH_BUCKETS = (("1", 1, 1), ("2", 2, 2), ("3", 3, 3), ("4", 4, 4), ("5+", 5, None))
CREATOR_BUCKETS = (("1", 1, 1), ("2", 2, 2), ("3+", 3, None))
#: time from first touch to order, in hours: [lowest, highest), labels are i18n keys
TIME_BUCKETS = (("attr_lt_1h", 0, 1), ("attr_1_24h", 1, 24), ("attr_1_3d", 24, 72), ("attr_3_7d", 72, 168),
                ("attr_over_7d", 168, None))


def attribute(paths: pd.DataFrame, *, models: Sequence[str] = MODEL_NAMES,
              half_life_days: float = DEFAULT_HALF_LIFE_DAYS) -> pd.DataFrame:
    """One row per (touch, model) with the touch's credit (CREDIT_COLUMNS); per order and model the
    credits add up to the order's value exactly."""
    for model in models:
        check_model(model)
    rows = []
    for order_id, path in paths.groupby("order_id", sort=False):
        touch_list = [Touch(at, code, click_id)
                      for at, code, click_id in zip(path.clicked_at, path.code, path.click_id)]
        value = path["value"].iloc[0]
        facts = list(zip(path.touch_index, path.click_id, path.code, path.creator, path.campaign, path.channel))
        for model in models:
            for fact, amount in zip(facts, credit(touch_list, value, model, half_life_days=half_life_days)):
                rows.append((order_id, *fact, model, amount))
    return pd.DataFrame(rows, columns=list(CREDIT_COLUMNS))


def rollup(credits: pd.DataFrame, by: str) -> pd.DataFrame:
    """Credit per `by` (link, creator, campaign, channel), one column per model, exact; sorted by the first
    model's credit, largest first, then by key. A link row also names its creator, campaign and channel."""
    key = ROLLUPS[by]
    models = list(dict.fromkeys(credits["model"]))
    totals: dict = {}
    facts: dict = {}
    for value, model, amount, *link in zip(credits[key], credits["model"], credits["credit"],
                                            *(credits[c] for c in LINK_FACTS)):
        row = totals.setdefault(value, dict.fromkeys(models, Decimal(0)))
        row[model] += amount
        facts.setdefault(value, dict(zip(LINK_FACTS, link)))
    extra = list(LINK_FACTS) if by == "link" else []
    columns = [key, *extra, *models]
    records = [[value, *(facts[value][c] for c in extra), *row.values()] for value, row in totals.items()]
    frame = pd.DataFrame(records, columns=columns)
    if models and len(frame):
        order = sorted(range(len(frame)), key=lambda i: (-frame[models[0]].iloc[i], str(frame[key].iloc[i])))
        frame = frame.iloc[order].reset_index(drop=True)
    return frame


def disagreement(credits: pd.DataFrame, by: str = "link") -> pd.DataFrame:
    """Where the models disagree most: `rollup` plus the spread (highest minus lowest credit), the model
    that gives most and the one that gives least; only rows with a spread, largest spread first."""
    wide = rollup(credits, by)
    models = [m for m in MODEL_NAMES if m in wide.columns]
    if not len(wide) or not models:
        return wide.assign(spread=[], highest=[], lowest=[])
    values = [[row[m] for m in models] for _, row in wide.iterrows()]
    wide["spread"] = [max(v) - min(v) for v in values]
    wide["highest"] = [models[v.index(max(v))] for v in values]
    wide["lowest"] = [models[v.index(min(v))] for v in values]
    key = ROLLUPS[by]
    wide = wide[wide["spread"] > 0]
    order = sorted(range(len(wide)), key=lambda i: (-wide["spread"].iloc[i], str(wide[key].iloc[i])))
    return wide.iloc[order].reset_index(drop=True)


def frequency(paths: pd.DataFrame) -> pd.DataFrame:
    """One row per converting path: order_id, value, touches, distinct creators, distinct links, and the
    hours from its first and from its last touch to the order."""
    rows = []
    for order_id, path in paths.groupby("order_id", sort=False):
        order_time = path["order_time"].iloc[0]
        rows.append((order_id, path["value"].iloc[0], len(path), path["creator"].nunique(), path["code"].nunique(),
                     (order_time - path["clicked_at"].min()).total_seconds() / 3600,
                     (order_time - path["clicked_at"].max()).total_seconds() / 3600))
    return pd.DataFrame(rows, columns=["order_id", "value", "touches", "creators", "links", "first_touch_hours",
                                       "last_touch_hours"])


def distribution(per_path: pd.DataFrame, column: str, buckets) -> pd.DataFrame:
    """Paths per bucket of `column` (TOUCH_BUCKETS, CREATOR_BUCKETS or TIME_BUCKETS): bucket, paths, share
    of the paths, and their GMV (exact)."""
    total = len(per_path)
    rows = []
    for label, low, high in buckets:
        inside = per_path[column] >= low
        if high is not None:
            inside &= (per_path[column] < high) if column.endswith("_hours") else (per_path[column] <= high)
        chosen = per_path[inside]
        rows.append((label, len(chosen), len(chosen) / total if total else 0.0, sum(chosen["value"], Decimal(0))))
    return pd.DataFrame(rows, columns=["bucket", "paths", "share", "gmv"])


@dataclass
class AttributionResult:
    """One shop's attribution for a period: its paths, every model's credit, TikTok's credit of the same
    orders, and the period's click counts."""

    shop_id: str
    period: tuple[date, date]
    lookback_days: float
    half_life_days: float
    paths: pd.DataFrame
    credits: pd.DataFrame
    platform: pd.DataFrame
    clicks: dict[str, int] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        """No order had a tracked touch in its window."""
        return not len(self.paths)

    @property
    def orders(self) -> pd.DataFrame:
        """The attributed orders, one row each: order_id, order_time, value, refunded."""
        return self.paths.drop_duplicates("order_id")[["order_id", "order_time", "value", "refunded"]]

    @property
    def attributed_gmv(self) -> Decimal:
        """GMV of the orders with at least one touch in their window (gross of refunds)."""
        return sum(self.orders["value"], Decimal(0))

    @property
    def refunded(self) -> Decimal:
        """What was refunded on those orders (credit stays gross of it)."""
        return sum(self.orders["refunded"], Decimal(0))

    def totals(self) -> dict[str, Decimal]:
        """Each model's total credit; every one equals `attributed_gmv`."""
        totals = dict.fromkeys(dict.fromkeys(self.credits["model"]), Decimal(0))
        for model, amount in zip(self.credits["model"], self.credits["credit"]):
            totals[model] += amount
        return totals


def run_attribution(warehouse: Warehouse, shop_id: str, period, *, lookback_days: float = DEFAULT_LOOKBACK_DAYS,
                    half_life_days: float = DEFAULT_HALF_LIFE_DAYS, policies: Policies | None = None,
                    models: Sequence[str] = MODEL_NAMES) -> AttributionResult:
    """Paths of the shop's orders placed in `period` (local dates, both included), every model's credit
    and TikTok's own attribution of the same orders."""
    period = parse_period(period)
    lookback_days = check_days(lookback_days, "lookback_days")
    half_life_days = check_days(half_life_days, "half_life_days")
    paths = touches(warehouse, shop_id, period, lookback_days=lookback_days, policies=policies)
    credits = attribute(paths, models=models, half_life_days=half_life_days)
    orders = paths.drop_duplicates("order_id")[["order_id", "value"]]
    return AttributionResult(shop_id, period, lookback_days, half_life_days, paths, credits,
                             platform_credit(warehouse, shop_id, orders),
                             click_counts(warehouse, shop_id, period, policies=policies))
