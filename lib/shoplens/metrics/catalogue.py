"""The KPI catalogue: one declarative record per metric, the sources they read, and the validator.

A metric is one of three kinds:
- a *measure*: an aggregation of a named source column, optionally restricted by named filters and
  by the policies it follows (`policies=("gmv_basis", ...)`);
- a *ratio*: numerator metric / denominator metric (times `scale`), computed after aggregation and
  never averaged;
- a *sum*: signed terms of other metrics (net GMV = GMV - refunds ...), also after aggregation; a term
  may apply only when a policy switch is on.
Sources name their columns, filters and dimensions as SQL fragments over the alias `t` (the source
row), `s` (its shop) and the optional joins listed in `JOINS`. The compiler assembles them; nothing
else in shoplens writes KPI SQL.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from shoplens.errors import MetricDefinitionError, MetricError
from shoplens.suggest import unknown

UNITS = ("money", "count", "ratio", "duration")
FORMATS = ("money", "integer", "percent", "multiple", "seconds", "minutes", "hours", "days", "decimal")
AGGREGATIONS = ("sum", "count", "count_distinct", "min", "max", "median")
TIME_DIMENSIONS = ("day", "week", "month")
#: every source can be broken down by these; the rest depend on the source
COMMON_DIMENSIONS = ("shop", "region", *TIME_DIMENSIONS)
DIMENSIONS = (*COMMON_DIMENSIONS, "promotion", "campaign", "live", "creator", "content_type", "content_id",
              "product", "channel", "sku", "warehouse")
#: policy switches a measure can follow (see Policies)
MEASURE_POLICIES = ("gmv_basis", "include_cancelled", "refunds_by", "gmv_price")
#: the prices money can be counted at (Policies.gmv_price); a source column may give its SQL per price
GMV_PRICES = ("seller", "buyer")
#: policy switches a sum term can depend on
TERM_CONDITIONS = ("include_cancelled", "commission_deducted")
REFUND_DONE = ("RETURN_OR_REFUND_REQUEST_COMPLETE", "RETURN_OR_REFUND_REQUEST_SUCCESS")

#: optional joins a source may use; the compiler adds one only when a used fragment names its alias
JOINS: dict[str, str] = {
    # the order a refund belongs to (its time, attribution)
    "o": "LEFT JOIN order_facts o ON o.order_id = t.order_id",
    # promotions running when the order was placed (an order in two overlapping promotions counts in both)
    "pr": "JOIN promotions pr ON pr.shop_id = t.shop_id AND pr.begin_time <= t.create_time "
          "AND t.create_time < pr.end_time",
    # the shop's LIVE session on air when the order was placed
    "lv": "JOIN live_sessions lv ON lv.shop_id = t.shop_id AND lv.start_time <= t.create_time "
          "AND t.create_time < lv.end_time",
}


class Shared:
    """A value never changed once made, so a copy of it is itself. pandas deep-copies a frame's `attrs`
    (where a query's frame keeps its metrics, policies, spec and SQL) after nearly every operation on the
    frame: about 45,000 `deepcopy` calls, a tenth of a shop report's CPU, before these were shared."""

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self


class SharedMap(dict, Shared):
    """A dict not changed once made (a query frame's metrics, labels and filters in `attrs`): copies of
    the frame share it rather than copy it. Changing it raises."""

    def _frozen(self, *args, **kwargs):
        raise TypeError("a query's attrs are not changed once made: copy it with dict(...) first")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = __ior__ = _frozen

    def __reduce__(self):  # pickled (a frame sent elsewhere) as what it holds, not item by item
        return type(self), (dict(self),)


class SharedTuple(tuple, Shared):
    """A tuple of immutable values (a period's dates) that copies share: deep-copying dates is not free."""


@dataclass(frozen=True)
class Trace:
    """How `metrics explain` lists a source's rows: the record's id, the synced row holding its raw page
    (`page`: an alias whose `page_run`/`page_seq` point into raw_pages, joined by `join` unless it is the
    source row `t` itself) and the fields shown beside it, as SQL over `t` and that alias."""

    record: str
    fields: Mapping[str, str]
    page: str = "t"
    join: str | None = None


@dataclass(frozen=True)
class Rollup:
    """A source's rows summed per shop, currency, 15-minute UTC bucket (`t.bucket`: epoch seconds // 900)
    and filter values, kept by the facts refresh (warehouse schema migration 24). Every zone's offset is a
    multiple of 15 minutes, so a bucket lies in one local day of any zone. The compiler reads it instead of
    the source when every measure of a query on the source can be summed from it (`compiler._rollup_usable`).

    `sums` and `counts`: a source column -> the rollup's SQL for its sum and for its count of values (one
    per GMV price for a priced column); `filters`: a source filter -> the same condition on the rollup;
    `sequences`: a column counted distinct by sequence -> (whether the row has a value, the buckets since
    the entity's previous row, capped at 192: the previous row's day is exact within two days, and
    "earlier" beyond, so it serves day groups only); `rows`: the number of source rows in a rollup row."""

    relation: str
    sums: Mapping[str, str | Mapping[str, str]]
    counts: Mapping[str, str]
    filters: Mapping[str, str]
    sequences: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    rows: str = "t.n"


#: why a row a filter rejects does not count, as `metrics explain --excluded` says it
EXCLUDED_BECAUSE = {"paid": "not paid", "not_cancelled": "cancelled", "cancelled": "not cancelled",
                    "affiliate": "no affiliate creator", "first_paid_order": "not the buyer's first paid order",
                    "done": "refund not completed"}


@dataclass(frozen=True)
class Source:
    """A relation measures aggregate: what places a row in time, its columns, filters and dimensions.

    time_kind "instant" rows carry a TIMESTAMPTZ and are placed on local days by the reporting time
    zone; "date" rows (daily analytics) already carry the shop-local day TikTok reports and are used as
    they are; "snapshot" rows are a state on each shop-local day (stock, listings, backlog): a period,
    week or month reads only its last day, so a state is never added up over days. `order_time` is the time
    of the row's order, for the `refunds_by` policy. A column is one SQL fragment, or one per GMV price
    ({"seller": ..., "buyer": ...}) for money whose amount depends on whether TikTok-funded discounts count
    (`Policies.gmv_price`).
    """

    id: str
    relation: str
    time: str
    time_kind: str
    description: str
    columns: Mapping[str, str | Mapping[str, str]]
    filters: Mapping[str, str] = field(default_factory=dict)
    dimensions: Mapping[str, str] = field(default_factory=dict)
    currency: str = "coalesce(t.currency, s.currency)"
    order_time: str | None = None
    #: column -> (time of the same entity's previous row, the filters that define "previous") for
    #: counting distinct values without a hash set: see compiler._distinct_by_sequence
    sequences: Mapping[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    trace: Trace | None = None
    rollup: Rollup | None = None

    def dimension_names(self) -> tuple[str, ...]:
        return (*COMMON_DIMENSIONS, *self.dimensions)

    def column(self, name: str, gmv_price: str) -> str:
        """A column's SQL, at the GMV price in force when the column depends on it."""
        sql = self.columns[name]
        return sql if isinstance(sql, str) else sql[gmv_price]

    def fragments(self) -> list[str]:
        """Every SQL fragment of the source (each price of a priced column)."""
        columns = [c for sql in self.columns.values() for c in ([sql] if isinstance(sql, str) else sql.values())]
        return [self.relation, self.time, *columns, *self.filters.values(), *self.dimensions.values()]


@dataclass(frozen=True)
class AnomalyRule(Shared):
    """How the data-quality signals watch a metric's daily series (method: docs/quality.md).

    A day is flagged when its robust z-score against the trailing `window` days (median; MAD × 1.4826,
    or mean deviation × 1.2533 when the MAD is 0; the scale floored at `floor` × the median) reaches
    `threshold`, judged once `min_history` days are known; `zero_alarm` also flags a zero on a metric
    that was non-zero on at least 90% of those days.
    """

    threshold: float = 3.5
    window: int = 28
    min_history: int = 7
    zero_alarm: bool = True
    floor: float = 0.05

    def problems(self) -> list[str]:
        found = []
        if not isinstance(self.threshold, int | float) or isinstance(self.threshold, bool) or self.threshold <= 0:
            found.append(f"threshold {self.threshold!r} must be a positive number")
        if not isinstance(self.window, int) or isinstance(self.window, bool) or self.window < 1:
            found.append(f"window {self.window!r} must be a whole number of days, at least 1")
        elif not isinstance(self.min_history, int) or not 1 <= self.min_history <= self.window:
            found.append(f"min_history {self.min_history!r} must be between 1 and the window ({self.window})")
        if not isinstance(self.zero_alarm, bool):
            found.append(f"zero_alarm {self.zero_alarm!r} must be True or False")
        if not isinstance(self.floor, int | float) or isinstance(self.floor, bool) or not 0 <= self.floor < 1:
            found.append(f"floor {self.floor!r} must be a fraction of the median, from 0 up to 1")
        return found


@dataclass(frozen=True)
class Metric(Shared):
    id: str
    label: dict[str, str]
    description: dict[str, str]
    unit: str
    format: str
    higher_is_better: bool
    # a measure
    source: str | None = None
    expr: str | None = None
    agg: str | None = None
    filters: tuple[str, ...] = ()
    policies: tuple[str, ...] = ()
    # a ratio
    numerator: str | None = None
    denominator: str | None = None
    scale: int = 1
    # a sum: (sign, metric id, policy switch that must be on, or None)
    terms: tuple[tuple[int, str, str | None], ...] = ()
    #: restrict the dimensions (default: all the source's, or those all parts share)
    dimensions: tuple[str, ...] | None = None
    #: watched for anomalies by the data-quality signals, with these thresholds (None: not watched)
    anomaly: AnomalyRule | None = None

    @property
    def kind(self) -> str:
        if self.numerator is not None or self.denominator is not None:
            return "ratio"
        if self.terms:
            return "sum"
        return "measure"

    @property
    def is_ratio(self) -> bool:
        return self.kind == "ratio"

    def parts(self) -> tuple[str, ...]:
        if self.kind == "ratio":
            return tuple(p for p in (self.numerator, self.denominator) if p is not None)
        return tuple(term[1] for term in self.terms)


@dataclass(frozen=True)
class Policies(Shared):
    """Switches that change what a metric means; every result says which were in force.

    gmv_basis: "paid" counts orders once paid, "placed" counts every order placed.
    include_cancelled: whether cancelled orders count toward GMV, orders, buyers and units.
    refunds_by: "refund_date" dates a refund by the buyer's request, "order_date" by its order.
    commission_deducted: whether net GMV subtracts affiliate commission.
    gmv_price: "seller" counts products at the seller's price (original price less seller discounts:
        TikTok-funded discounts count, as TikTok pays them to the seller and Seller Center counts them);
        "buyer" at what buyers paid (after platform discounts too: `payment.sub_total`).
    timezone: an IANA zone for day boundaries, or "shop" for each shop's own zone.
    currency: None keeps each shop's currency; an ISO code converts money with daily FX rates.
    """

    gmv_basis: str = "paid"
    include_cancelled: bool = False
    refunds_by: str = "refund_date"
    commission_deducted: bool = False
    timezone: str = "Asia/Shanghai"
    gmv_price: str = "seller"
    currency: str | None = None

    def __post_init__(self) -> None:
        if self.gmv_basis not in ("paid", "placed"):
            raise MetricError(f"gmv_basis {self.gmv_basis!r} is not one of paid, placed")
        if self.gmv_price not in GMV_PRICES:
            raise MetricError(f"gmv_price {self.gmv_price!r} is not one of {', '.join(GMV_PRICES)}")
        if self.refunds_by not in ("refund_date", "order_date"):
            raise MetricError(f"refunds_by {self.refunds_by!r} is not one of refund_date, order_date")
        if self.currency is not None and not re.fullmatch(r"[A-Z]{3}", self.currency):
            raise MetricError(f"currency {self.currency!r} is not an ISO 4217 code such as USD or THB")

    def describe(self, lang: str = "en") -> dict[str, str]:
        """The policies in force as (name, value) pairs in `lang`, for a report's definitions box."""
        zh = lang == "zh"
        basis = {"paid": ("paid orders", "已支付订单"), "placed": ("all placed orders", "所有已下单订单")}
        refunds = {"refund_date": ("by refund request date", "按退款申请日期"),
                   "order_date": ("by order date", "按下单日期")}
        yes_no = {True: ("included", "计入"), False: ("excluded", "不计入")}
        deducted = {True: ("deducted", "扣除"), False: ("not deducted", "不扣除")}
        price = {"seller": ("seller's price: platform discounts count (TikTok pays them; as Seller Center)",
                            "商家价：计入平台补贴的折扣（由 TikTok 承担；与 Seller Center 一致）"),
                 "buyer": ("what buyers paid: platform discounts deducted", "买家实付：扣除平台补贴的折扣")}
        tz = self.timezone if self.timezone != "shop" else ("each shop's own time zone", "各店铺当地时区")[zh]
        currency = self.currency or ("each shop's own currency", "各店铺本币")[zh]
        rows = [(("GMV basis", "GMV 口径"), basis[self.gmv_basis]),
                (("GMV price", "GMV 价格口径"), price[self.gmv_price]),
                (("Cancelled orders", "已取消订单"), yes_no[self.include_cancelled]),
                (("Refunds dated", "退款归属日期"), refunds[self.refunds_by]),
                (("Commission in net GMV", "净 GMV 中的佣金"), deducted[self.commission_deducted])]
        out = {name[zh]: value[zh] for name, value in rows}
        out[("Reporting time zone", "报告时区")[zh]] = tz
        out[("Reporting currency", "报告币种")[zh]] = currency
        return out


def _label(en: str, zh: str) -> dict[str, str]:
    return {"en": en, "zh": zh}


SOURCES: dict[str, Source] = {s.id: s for s in (
    Source("orders", "order_facts t", "t.create_time", "instant",
           "Orders, placed in the period (by create time in the reporting time zone); from order_facts, which "
           "adds each order's affiliate attribution and whether it is its buyer's first paid order.",
           columns={"row": "1", "buyer_key": "t.buyer_key",
                    "product_value": {"seller": "t.sub_total + t.platform_discount", "buyer": "t.sub_total"}},
           filters={"paid": "t.paid", "not_cancelled": "NOT t.cancelled", "cancelled": "t.cancelled",
                    "affiliate": "t.affiliate", "first_paid_order": "t.first_paid"},
           dimensions={"promotion": "pr.promotion_id", "live": "lv.live_id", "creator": "t.creator",
                       "content_type": "t.content_type",
                       "content_id": "t.content_id",
                       "channel": "CASE WHEN t.affiliate THEN 'affiliate' ELSE 'own' END"},
           currency="t.currency", sequences={"buyer_key": ("t.prev_counted_time", ("paid", "not_cancelled"))},
           trace=Trace("t.order_id", {"order_id": "t.order_id", "status": "r.status", "buyer_id": "r.buyer_id",
                                      "sub_total": "r.sub_total", "platform_discount": "r.platform_discount"},
                       "r", "LEFT JOIN orders r ON r.order_id = t.order_id"),
           rollup=Rollup("order_rollup t", sums={"row": "t.n", "product_value": {"seller": "t.value_seller",
                                                                                  "buyer": "t.value_buyer"}},
                         counts={"row": "t.n"},
                         filters={"paid": "t.paid", "not_cancelled": "NOT t.cancelled", "cancelled": "t.cancelled",
                                  "affiliate": "t.affiliate", "first_paid_order": "t.first_paid"},
                         sequences={"buyer_key": ("t.has_buyer", "t.buyer_gap")})),
    Source("line_items", "line_item_facts t", "t.create_time", "instant",
           "Order line items (one per unit), placed in the period by their order's create time; from "
           "line_item_facts, which carries the order's flags and the SKU's unit cost.",
           columns={"row": "1", "unit_cost": "t.unit_cost",
                    "product_value": {"seller": "t.sale_price + t.platform_discount", "buyer": "t.sale_price"}},
           filters={"paid": "t.paid", "not_cancelled": "NOT t.cancelled"},
           dimensions={"product": "t.product_id", "live": "lv.live_id", "creator": "t.creator",
                       "channel": "CASE WHEN t.affiliate THEN 'affiliate' ELSE 'own' END"}, currency="t.currency",
           trace=Trace("t.line_item_id", {"order_id": "t.order_id", "status": "r.display_status",
                                          "product_id": "t.product_id", "sku_id": "t.sku_id",
                                          "sale_price": "r.sale_price", "platform_discount": "r.platform_discount"},
                       "r", "LEFT JOIN order_line_items r ON r.line_item_id = t.line_item_id"),
           rollup=Rollup("line_item_rollup t",
                         sums={"row": "t.n", "unit_cost": "t.unit_cost",
                               "product_value": {"seller": "t.value_seller", "buyer": "t.value_buyer"}},
                         counts={"row": "t.n", "unit_cost": "t.costed"},
                         filters={"paid": "t.paid", "not_cancelled": "NOT t.cancelled"})),
    Source("refunds", "refunds t", "t.create_time", "instant",
           "Completed returns and refunds, dated by the buyer's request (or by their order, per policy). Rows "
           "synced before shoplens kept refund_subtotal count their refund_total until they are synced again.",
           columns={"refund_total": "t.refund_total",
                    "product_refund": {"seller": "coalesce(t.refund_subtotal, t.refund_total) + "
                                                 "coalesce(t.platform_discount, 0)",
                                       "buyer": "coalesce(t.refund_subtotal, t.refund_total)"}},
           filters={"done": f"t.return_status IN ({', '.join(repr(s) for s in REFUND_DONE)})"},
           dimensions={"creator": "o.creator",
                       "channel": "CASE WHEN o.affiliate THEN 'affiliate' ELSE 'own' END"},
           order_time="o.create_time",
           trace=Trace("t.return_id", {"order_id": "t.order_id", "status": "t.return_status",
                                       "refund_total": "t.refund_total", "refund_subtotal": "t.refund_subtotal",
                                       "platform_discount": "t.platform_discount"})),
    Source("affiliate", "affiliate_order_items t", "t.create_time", "instant",
           "Affiliate order items (one per SKU line an affiliate creator drove), by order create time.",
           columns={"commission": "coalesce(t.actual_commission, t.estimated_commission)"},
           filters={"not_cancelled": "t.status <> 'CANCELLED'"},
           dimensions={"creator": "t.creator_username", "content_type": "t.content_type",
                       "content_id": "t.content_id", "product": "t.product_id", "channel": "'affiliate'"},
           trace=Trace("t.item_key", {"order_id": "t.order_id", "status": "t.status",
                                      "creator": "t.creator_username"})),
    Source("ads", "ad_campaign_daily t", "t.date", "date",
           "Marketing API daily campaign report (spend and the GMV the ad platform attributes).",
           columns={"spend": "t.spend", "attributed_gmv": "t.spend * t.roas", "impressions": "t.impressions",
                    "clicks": "t.clicks"},
           dimensions={"campaign": "t.campaign_id"},
           trace=Trace("t.campaign_id || ' ' || CAST(t.date AS VARCHAR)", {"campaign_id": "t.campaign_id"})),
    Source("shop_analytics", "shop_daily t", "t.date", "date",
           "Shop analytics per shop-local day: GMV as TikTok counts it, its GMV Max (paid) share, traffic.",
           columns={"gmv": "t.gmv", "paid_gmv": "t.gmv * t.gmv_max_share", "visitors": "t.visitors",
                    "page_views": "t.page_views"},
           trace=Trace("CAST(t.date AS VARCHAR)", {})),
    Source("content_analytics",
           "(SELECT shop_id, date, currency, 'VIDEO' AS content_type, gmv_video AS gmv FROM shop_daily "
           "UNION ALL SELECT shop_id, date, currency, 'LIVE', gmv_live FROM shop_daily "
           "UNION ALL SELECT shop_id, date, currency, 'PRODUCT_CARD', gmv_product_card FROM shop_daily) t",
           "t.date", "date", "Shop analytics GMV split by the content type that sold it.",
           columns={"gmv": "t.gmv"}, dimensions={"content_type": "t.content_type"},
           trace=Trace("t.content_type || ' ' || CAST(t.date AS VARCHAR)", {"content_type": "t.content_type"}, "r",
                       "LEFT JOIN shop_daily r ON r.shop_id = t.shop_id AND r.date = t.date")),
    Source("videos", "video_daily t", "t.date", "date", "Video analytics per video and shop-local day.",
           columns={"views": "t.views", "clicks": "CAST(round(t.views * t.ctr) AS BIGINT)", "gmv": "t.gmv"},
           dimensions={"creator": "t.username", "content_id": "t.video_id", "content_type": "'VIDEO'"},
           trace=Trace("t.video_id || ' ' || CAST(t.date AS VARCHAR)", {"video_id": "t.video_id"})),
    Source("lives", "live_sessions t", "t.start_time", "instant", "LIVE sessions, by start time.",
           columns={"row": "1", "viewers": "t.viewers", "views": "t.views",
                    "peak_concurrent": "t.peak_concurrent", "watch_s": "t.avg_viewing_s * t.viewers",
                    "gmv": "t.gmv", "product_clicks": "t.product_clicks", "sku_orders": "t.sku_orders",
                    "items_sold": "t.items_sold",
                    "product_impressions": "t.product_impressions"},
           dimensions={"live": "t.live_id", "creator": "t.username", "content_id": "t.live_id",
                       "content_type": "'LIVE'"},
           trace=Trace("t.live_id", {"live_id": "t.live_id"})),
)}

_ORDER_POLICIES = ("gmv_basis", "include_cancelled")
_PRICED = (*_ORDER_POLICIES, "gmv_price")


def _m(id, en, zh, desc_en, desc_zh, unit, fmt, higher=True, **kind) -> Metric:
    return Metric(id, _label(en, zh), _label(desc_en, desc_zh), unit, fmt, higher, **kind)


CATALOGUE: tuple[Metric, ...] = (
    # --- sales --------------------------------------------------------------------------------------------
    _m("gmv", "GMV", "成交金额 (GMV)",
       "Value of the products in orders placed in the period, at the GMV price: by default the seller's price "
       "(payment.sub_total + payment.platform_discount: original prices less seller discounts, so discounts "
       "TikTok funds count, as TikTok pays them to the seller), or what buyers paid (payment.sub_total). "
       "Shipping and tax are not in it; refunded orders stay in (see net GMV); which orders count follows the "
       "GMV basis and cancelled-orders policies.",
       "期间内下单订单的商品金额，按 GMV 价格口径：默认为商家价（payment.sub_total + payment.platform_discount，"
       "即原价减商家折扣；TikTok 承担的平台折扣计入，因其由 TikTok 支付给商家），或买家实付（payment.sub_total）。"
       "不含运费和税；含后续退款的订单（见净 GMV）；计入哪些订单由 GMV 口径和已取消订单政策决定。",
       "money", "money", source="orders", expr="product_value", agg="sum", policies=_PRICED,
       anomaly=AnomalyRule(threshold=4.0)),
    _m("cancelled_gmv", "Cancelled GMV", "已取消订单金额",
       "GMV (the same products at the same price) of the orders placed in the period that were cancelled, on "
       "the GMV basis in force.",
       "期间内下单后被取消订单的 GMV（同样的商品金额与价格口径，按当前 GMV 口径）。",
       "money", "money", False, source="orders", expr="product_value", agg="sum", filters=("cancelled",),
       policies=("gmv_basis", "gmv_price")),
    _m("net_gmv", "Net GMV", "净成交金额 (净 GMV)",
       "GMV minus the refund amount (both at the GMV price), minus cancelled orders' GMV when the policy "
       "counts them in GMV, minus affiliate commission when the commission policy deducts it.",
       "GMV 减去退款金额（二者价格口径相同）；若政策将已取消订单计入 GMV 则再减去其 GMV；若政策扣除佣金则再减去联盟佣金。",
       "money", "money", terms=((1, "gmv", None), (-1, "refund_amount", None),
                                (-1, "cancelled_gmv", "include_cancelled"), (-1, "commission", "commission_deducted"))),
    _m("orders", "Orders", "订单数",
       "Orders placed in the period (which ones follow the GMV basis and cancelled-orders policies).",
       "期间内下单的订单数（计入哪些由 GMV 口径和已取消订单政策决定）。",
       "count", "integer", source="orders", expr="row", agg="count", policies=_ORDER_POLICIES,
       anomaly=AnomalyRule(threshold=4.0)),
    _m("paid_orders", "Paid orders", "已支付订单数",
       "Orders placed in the period that were paid (cancelled ones per the cancelled-orders policy).",
       "期间内下单且已支付的订单数（已取消订单按政策处理）。",
       "count", "integer", source="orders", expr="row", agg="count", filters=("paid",),
       policies=("include_cancelled",)),
    _m("placed_orders", "Placed orders", "下单数",
       "Every order placed in the period, paid or not, cancelled or not.", "期间内所有下单的订单，不论是否支付或取消。",
       "count", "integer", source="orders", expr="row", agg="count"),
    _m("cancelled_orders", "Cancelled orders", "取消订单数",
       "Orders placed in the period that were cancelled, by anyone, before or after payment.",
       "期间内下单后被取消的订单数（任何一方、支付前后均计）。",
       "count", "integer", False, source="orders", expr="row", agg="count", filters=("cancelled",)),
    _m("cancellation_rate", "Cancellation rate", "取消率",
       "Cancelled orders divided by placed orders.", "取消订单数除以下单数。",
       "ratio", "percent", False, numerator="cancelled_orders", denominator="placed_orders"),
    _m("buyers", "Buyers", "买家数",
       "Distinct buyers with a counted order in the period.", "期间内有计入订单的买家数（去重）。",
       "count", "integer", source="orders", expr="buyer_key", agg="count_distinct", policies=_ORDER_POLICIES),
    _m("new_buyers", "New buyers", "新买家数",
       "Buyers whose first paid order in the shop (as far as the warehouse goes back) was placed in the period.",
       "在本店首个已支付订单（以仓库中最早数据为准）于期间内下单的买家数。",
       "count", "integer", source="orders", expr="row", agg="count", filters=("first_paid_order",)),
    _m("returning_buyers", "Returning buyers", "回头买家数",
       "Buyers in the period who are not new buyers: they had paid for an earlier order.",
       "期间内的非新买家：此前已有支付订单的买家。",
       "count", "integer", terms=((1, "buyers", None), (-1, "new_buyers", None))),
    _m("units", "Units sold", "销售件数",
       "Units in the counted orders (one line item is one unit).", "计入订单中的商品件数（每个订单行为一件）。",
       "count", "integer", source="line_items", expr="row", agg="count", policies=_ORDER_POLICIES),
    _m("product_gmv", "Product GMV", "商品成交金额",
       "GMV unit by unit: each counted order's line items at the GMV price (line_items.sale_price, what the "
       "buyer paid for the unit, plus line_items.platform_discount at the seller's price), so GMV broken down "
       "by product adds up to GMV.",
       "逐件计算的 GMV：计入订单的每个订单行按 GMV 价格口径计（line_items.sale_price 为买家为该件实付的金额，商家价再加 "
       "line_items.platform_discount），因此按商品拆分的 GMV 合计等于 GMV。",
       "money", "money", source="line_items", expr="product_value", agg="sum", policies=_PRICED),
    _m("aov", "Average order value", "客单价 (AOV)",
       "GMV divided by orders, computed after aggregation.", "GMV 除以订单数（先汇总后相除）。",
       "money", "money", numerator="gmv", denominator="orders"),
    _m("refund_amount", "Refund amount", "退款金额",
       "Product value refunded on completed returns and refunds, at the GMV price: what buyers got back for the "
       "products (refund_amount.refund_subtotal; shipping and tax refunds are not in GMV, so not here), plus, "
       "at the seller's price, the platform discount on the returned products "
       "(discount_amount.product_platform_discount). Dated by the buyer's request (or by the order, per the "
       "refunds policy).",
       "已完成退货退款的商品退款金额，按 GMV 价格口径：买家就商品获退的金额（refund_amount.refund_subtotal；运费和税的退款"
       "不在 GMV 中，故不计），商家价再加退回商品上的平台折扣（discount_amount.product_platform_discount）。按买家申请日期计"
       "（或按政策按下单日期计）。",
       "money", "money", False, source="refunds", expr="product_refund", agg="sum", filters=("done",),
       policies=("refunds_by", "gmv_price"), anomaly=AnomalyRule(threshold=5.0, zero_alarm=False)),
    _m("refund_rate", "Refund rate", "退款率",
       "Refund amount divided by GMV.", "退款金额除以 GMV。",
       "ratio", "percent", False, numerator="refund_amount", denominator="gmv"),
    # --- traffic ------------------------------------------------------------------------------------------
    _m("visitors", "Product page visitors", "商品页访客数",
       "Product page visitors, summed over the shop-local days TikTok reports (a visitor on two days counts "
       "twice).", "商品页访客数，按 TikTok 报告的店铺当地日期相加（同一访客在两天各计一次）。",
       "count", "integer", source="shop_analytics", expr="visitors", agg="sum", anomaly=AnomalyRule(threshold=4.0)),
    _m("page_views", "Product page views", "商品页浏览量",
       "Product page views, from shop analytics.", "商品页浏览量（店铺分析数据）。",
       "count", "integer", source="shop_analytics", expr="page_views", agg="sum"),
    _m("conversion_rate", "Conversion rate", "转化率",
       "Buyers divided by product page visitors.", "买家数除以商品页访客数。",
       "ratio", "percent", numerator="buyers", denominator="visitors"),
    _m("analytics_gmv", "GMV (shop analytics)", "GMV（店铺分析）",
       "GMV as TikTok's shop analytics count it per shop-local day (paid orders, refunds not deducted).",
       "TikTok 店铺分析按店铺当地日期统计的 GMV（已支付订单，不扣退款）。",
       "money", "money", source="shop_analytics", expr="gmv", agg="sum"),
    _m("paid_gmv", "Paid GMV", "付费流量 GMV",
       "Shop analytics GMV times the day's GMV Max (paid traffic) share.", "店铺分析 GMV 乘以当天 GMV Max（付费流量）占比。",
       "money", "money", source="shop_analytics", expr="paid_gmv", agg="sum"),
    _m("organic_gmv", "Organic GMV", "自然流量 GMV",
       "Shop analytics GMV not driven by paid traffic.", "非付费流量带来的店铺分析 GMV。",
       "money", "money", terms=((1, "analytics_gmv", None), (-1, "paid_gmv", None))),
    _m("paid_gmv_share", "Paid GMV share", "付费 GMV 占比",
       "Paid GMV divided by shop analytics GMV.", "付费流量 GMV 除以店铺分析 GMV。",
       "ratio", "percent", False, numerator="paid_gmv", denominator="analytics_gmv"),
    _m("content_gmv", "GMV by content type", "各内容类型 GMV",
       "Shop analytics GMV of one content type (video, LIVE, product card); break down by content_type.",
       "店铺分析中某内容类型（短视频、直播、商品卡）带来的 GMV；按 content_type 拆分。",
       "money", "money", source="content_analytics", expr="gmv", agg="sum"),
    # --- affiliate and creators ---------------------------------------------------------------------------
    _m("creator_gmv", "Creator GMV", "达人带货 GMV",
       "GMV (at the GMV price) of counted orders an affiliate creator drove.",
       "联盟达人带来的计入订单的 GMV（按 GMV 价格口径）。",
       "money", "money", source="orders", expr="product_value", agg="sum", filters=("affiliate",),
       policies=_PRICED),
    _m("creator_orders", "Creator orders", "达人带货订单数",
       "Counted orders an affiliate creator drove.", "联盟达人带来的计入订单数。",
       "count", "integer", source="orders", expr="row", agg="count", filters=("affiliate",),
       policies=_ORDER_POLICIES),
    _m("affiliate_gmv_share", "Affiliate GMV share", "联盟 GMV 占比",
       "Creator GMV divided by GMV.", "达人带货 GMV 除以 GMV。",
       "ratio", "percent", numerator="creator_gmv", denominator="gmv"),
    _m("commission", "Commission", "佣金",
       "Affiliate commission on items not cancelled: the actual amount once settled, else the estimate.",
       "未取消联盟订单项的佣金：已结算取实际金额，否则取预估金额。",
       "money", "money", False, source="affiliate", expr="commission", agg="sum", filters=("not_cancelled",)),
    _m("commission_rate", "Commission rate", "佣金率",
       "Commission divided by creator GMV.", "佣金除以达人带货 GMV。",
       "ratio", "percent", False, numerator="commission", denominator="creator_gmv"),
    _m("creator_net_gmv", "Creator GMV after commission", "扣佣后达人 GMV",
       "Creator GMV minus the commission paid on it.", "达人带货 GMV 减去所付佣金。",
       "money", "money", terms=((1, "creator_gmv", None), (-1, "commission", None))),
    _m("creator_roi", "Creator ROI", "达人投资回报率",
       "Creator GMV after commission divided by commission: what each unit of commission returned.",
       "扣佣后达人 GMV 除以佣金：每单位佣金的回报。",
       "ratio", "multiple", numerator="creator_net_gmv", denominator="commission"),
    _m("commission_efficiency", "Commission efficiency", "佣金效率",
       "Creator GMV per unit of commission paid.", "每单位佣金带来的达人带货 GMV。",
       "ratio", "multiple", numerator="creator_gmv", denominator="commission"),
    # --- ads and return on investment ---------------------------------------------------------------------
    _m("ad_spend", "Ad spend", "广告花费",
       "Spend in the Marketing API's daily campaign report.", "营销 API 每日广告系列报告中的花费。",
       "money", "money", False, source="ads", expr="spend", agg="sum", anomaly=AnomalyRule(threshold=4.0)),
    _m("ad_gmv", "Ad-attributed GMV", "广告归因 GMV",
       "GMV the ad platform attributes to the campaigns (spend times its reported ROAS).",
       "广告平台归因于广告系列的 GMV（花费乘以其报告的 ROAS）。",
       "money", "money", source="ads", expr="attributed_gmv", agg="sum"),
    _m("roas", "ROAS", "广告支出回报率 (ROAS)",
       "Ad-attributed GMV divided by ad spend.", "广告归因 GMV 除以广告花费。",
       "ratio", "multiple", numerator="ad_gmv", denominator="ad_spend"),
    _m("cogs", "Cost of goods sold", "商品成本",
       "Unit cost of each counted unit, from the product cost table; zero when no cost table was loaded.",
       "按商品成本表计算的计入件数成本；未加载成本表时为零。",
       "money", "money", False, source="line_items", expr="unit_cost", agg="sum", policies=_ORDER_POLICIES),
    _m("marketing_cost", "Marketing cost", "营销成本",
       "Ad spend plus affiliate commission.", "广告花费加联盟佣金。",
       "money", "money", False, terms=((1, "ad_spend", None), (1, "commission", None))),
    _m("contribution", "Contribution", "贡献利润",
       "GMV minus refunds, cost of goods, commission and ad spend.", "GMV 减去退款、商品成本、佣金和广告花费。",
       "money", "money", terms=((1, "gmv", None), (-1, "refund_amount", None), (-1, "cogs", None),
                                (-1, "marketing_cost", None))),
    _m("roi", "ROI", "投资回报率 (ROI)",
       "Contribution divided by marketing cost: what each unit of ad spend and commission returned, net of "
       "refunds, commission, ad spend and (when a cost table is loaded) cost of goods.",
       "贡献利润除以营销成本：每单位广告花费和佣金在扣除退款、佣金、广告花费及（已加载成本表时）商品成本后的回报。",
       "ratio", "multiple", numerator="contribution", denominator="marketing_cost"),
    # --- video ---------------------------------------------------------------------------------------------
    _m("video_views", "Video views", "视频播放量",
       "Views of shoppable videos, from video analytics.", "带货视频的播放量（视频分析）。",
       "count", "integer", source="videos", expr="views", agg="sum", anomaly=AnomalyRule(threshold=4.0)),
    _m("video_clicks", "Video product clicks", "视频商品点击数",
       "Product clicks from videos (views times click-through rate).", "视频中的商品点击数（播放量乘以点击率）。",
       "count", "integer", source="videos", expr="clicks", agg="sum"),
    _m("video_ctr", "Video CTR", "视频点击率",
       "Video product clicks divided by video views.", "视频商品点击数除以视频播放量。",
       "ratio", "percent", numerator="video_clicks", denominator="video_views"),
    _m("video_gmv", "Video GMV", "视频 GMV",
       "GMV video analytics attribute to the videos.", "视频分析归因于视频的 GMV。",
       "money", "money", source="videos", expr="gmv", agg="sum"),
    _m("video_gpm", "Video GPM", "视频千次播放成交额 (GPM)",
       "Video GMV per thousand video views.", "每千次视频播放带来的 GMV。",
       "money", "money", numerator="video_gmv", denominator="video_views", scale=1000),
    # --- LIVE ----------------------------------------------------------------------------------------------
    _m("live_sessions", "LIVE sessions", "直播场次",
       "LIVE sessions that started in the period.", "期间内开播的直播场次。",
       "count", "integer", source="lives", expr="row", agg="count"),
    _m("live_viewers", "LIVE viewers", "直播观看人数",
       "Viewers of the LIVE sessions (summed over sessions).", "直播观看人数（各场相加）。",
       "count", "integer", source="lives", expr="viewers", agg="sum",
       anomaly=AnomalyRule(threshold=5.0, zero_alarm=False)),
    _m("live_views", "LIVE views", "直播观看次数",
       "Views of the LIVE sessions.", "直播观看次数。",
       "count", "integer", source="lives", expr="views", agg="sum"),
    _m("live_peak_concurrent", "Peak concurrent viewers", "最高同时在线人数",
       "The highest concurrent viewer count of any session.", "各场直播中最高的同时在线人数。",
       "count", "integer", source="lives", expr="peak_concurrent", agg="max"),
    _m("live_watch_time", "LIVE watch time", "直播总观看时长",
       "Seconds watched: each session's average viewing time times its viewers.", "观看总秒数：每场平均观看时长乘以观看人数。",
       "duration", "seconds", source="lives", expr="watch_s", agg="sum"),
    _m("live_avg_watch_time", "Average watch time", "平均观看时长",
       "LIVE watch time divided by LIVE viewers.", "直播总观看时长除以观看人数。",
       "duration", "seconds", numerator="live_watch_time", denominator="live_viewers"),
    _m("live_gmv", "LIVE GMV", "直播 GMV",
       "GMV of the LIVE sessions, from LIVE analytics.", "直播分析中的直播 GMV。",
       "money", "money", source="lives", expr="gmv", agg="sum"),
    _m("live_gpm", "LIVE GPM", "直播千次观看成交额 (GPM)",
       "LIVE GMV per thousand LIVE views.", "每千次直播观看带来的 GMV。",
       "money", "money", numerator="live_gmv", denominator="live_views", scale=1000),
    _m("live_orders", "LIVE orders", "直播订单数",
       "SKU orders placed during the sessions, from LIVE analytics.", "直播分析中直播期间的 SKU 订单数。",
       "count", "integer", source="lives", expr="sku_orders", agg="sum"),
    _m("live_items_sold", "LIVE items sold", "直播售出件数",
       "Items sold during the sessions, from LIVE analytics.", "直播分析中直播期间售出的件数。",
       "count", "integer", source="lives", expr="items_sold", agg="sum"),
    _m("live_product_impressions", "LIVE product impressions", "直播商品曝光数",
       "Product impressions during the sessions.", "直播中的商品曝光数。",
       "count", "integer", source="lives", expr="product_impressions", agg="sum"),
    _m("live_product_clicks", "LIVE product clicks", "直播商品点击数",
       "Product clicks during the sessions.", "直播中的商品点击数。",
       "count", "integer", source="lives", expr="product_clicks", agg="sum"),
    _m("live_ctr", "LIVE CTR", "直播商品点击率",
       "LIVE product clicks divided by LIVE product impressions.", "直播商品点击数除以商品曝光数。",
       "ratio", "percent", numerator="live_product_clicks", denominator="live_product_impressions"),
)

# --- operations (#15): fulfilment, stock, listings, service -----------------------------------------------
SOURCES.update({s.id: s for s in (
    Source("dispatch", "dispatch_facts t", "t.rts_sla_time", "instant",
           "Paid orders due to be shipped in the period (by their ready-to-ship SLA, `rts_sla_time`, in the "
           "reporting time zone), not cancelled before they shipped.",
           columns={"row": "1", "hours_to_ship": "t.hours_to_ship"},
           filters={"late": "t.late", "on_time": "t.on_time", "decided": "(t.late OR t.on_time)",
                    "shipped": "t.hours_to_ship IS NOT NULL"}),
    Source("deliveries", "dispatch_facts t", "t.delivery_time", "instant",
           "Paid orders delivered in the period (by delivery time in the reporting time zone).",
           columns={"delivery_days": "t.delivery_days"}),
    Source("backlog", "backlog_daily t", "t.date", "snapshot",
           "Orders paid and awaiting shipment at the end of each shop-local day (not shipped, not cancelled).",
           columns={"row": "1"}, filters={"at_risk": "t.at_risk", "overdue": "t.overdue"}, currency="s.currency"),
    Source("stock", "stock_daily t", "t.date", "snapshot",
           "Stock per SKU and warehouse at the end of each shop-local day, carried forward from the last "
           "inventory snapshot synced, with the SKU's average daily units over the trailing 14 days.",
           columns={"stock": "t.stock", "daily_units": "t.daily_units", "sku": "t.sku_id"},
           filters={"at_risk": "t.at_risk"},
           dimensions={"product": "t.product_id", "sku": "t.sku_id", "warehouse": "t.warehouse_id"},
           currency="s.currency"),
    Source("stock_days", "stock_daily t", "t.date", "date",
           "The same stock rows, one per SKU, warehouse and day, counted over every day of the period.",
           columns={"sku_day": "t.sku_id || ':' || CAST(t.date AS VARCHAR)"},
           filters={"out_of_stock": "t.out_of_stock"},
           dimensions={"product": "t.product_id", "sku": "t.sku_id", "warehouse": "t.warehouse_id"},
           currency="s.currency"),
    Source("listings", "listing_daily t", "t.date", "snapshot",
           "Each product's status at the end of each shop-local day, from the status history the syncs record.",
           columns={"row": "1", "gmv_before": "t.gmv_before"},
           filters={"inactive": "NOT t.active AND t.status NOT IN ('DRAFT')"},
           dimensions={"product": "t.product_id"}, currency="t.currency"),
    Source("service", "service_daily t", "t.date", "date",
           "Customer-service chat performance per shop-local day, from the customer service performance API.",
           columns={"sessions": "t.sessions", "responded": "t.sessions * t.response_percentage / 100",
                    "response_minutes": "t.sessions * t.response_minutes"},
           currency="s.currency"),
    Source("ratings", "product_ratings_daily t", "t.date", "date",
           "Product reviews by stars per product and shop-local day (the day the review was posted, with the "
           "stars it had when last read), from the product performance API's ratings.",
           columns={"reviews": "t.stars_1 + t.stars_2 + t.stars_3 + t.stars_4 + t.stars_5",
                    "stars": "t.stars_1 + 2 * t.stars_2 + 3 * t.stars_3 + 4 * t.stars_4 + 5 * t.stars_5",
                    "negative": "t.stars_1 + t.stars_2"},
           dimensions={"product": "t.product_id"}, currency="s.currency"),
)})

CATALOGUE += (
    # --- fulfilment -------------------------------------------------------------------------------------
    _m("dispatches_due", "Orders due to ship", "应发货订单数",
       "Paid orders whose ready-to-ship deadline (rts_sla_time) fell in the period and that shipped, or were "
       "still unshipped past it when orders were last synced; orders cancelled before shipping are left out.",
       "发货截止时间（rts_sla_time）落在期间内、且已发货或在最近一次同步时仍未发货并已超时的已支付订单；发货前取消的订单不计。",
       "count", "integer", source="dispatch", expr="row", agg="count", filters=("decided",)),
    _m("late_dispatches", "Late dispatches", "延迟发货订单数",
       "Orders due to ship in the period that shipped after their ready-to-ship deadline, or have not shipped.",
       "期间内应发货、但晚于发货截止时间发货或仍未发货的订单数。",
       "count", "integer", False, source="dispatch", expr="row", agg="count", filters=("late",)),
    _m("late_dispatch_rate", "Late dispatch rate", "延迟发货率",
       "Late dispatches divided by orders due to ship.", "延迟发货订单数除以应发货订单数。",
       "ratio", "percent", False, numerator="late_dispatches", denominator="dispatches_due"),
    _m("on_time_dispatches", "On-time dispatches", "准时发货订单数",
       "Orders due to ship in the period that shipped by their ready-to-ship deadline.",
       "期间内应发货且在发货截止时间前发货的订单数。",
       "count", "integer", source="dispatch", expr="row", agg="count", filters=("on_time",)),
    _m("on_time_dispatch_rate", "On-time dispatch rate", "准时发货率",
       "On-time dispatches divided by orders due to ship.", "准时发货订单数除以应发货订单数。",
       "ratio", "percent", numerator="on_time_dispatches", denominator="dispatches_due"),
    _m("hours_to_ship", "Hours to ship (median)", "发货时长（中位数，小时）",
       "Median hours from payment to the seller shipping (rts_time), over the shipped orders due in the period.",
       "期间内应发货且已发货订单从支付到商家发货（rts_time）的小时数中位数。",
       "duration", "hours", False, source="dispatch", expr="hours_to_ship", agg="median", filters=("shipped",),
       dimensions=("shop", "region", "day", "week", "month")),
    _m("orders_at_risk", "Orders at risk", "超时风险订单数",
       "Orders awaiting shipment at the end of the period that are due to ship within 24 hours of it, or "
       "already past their deadline.", "期末仍待发货、且在期末后 24 小时内到达或已超过发货截止时间的订单数。",
       "count", "integer", False, source="backlog", expr="row", agg="count", filters=("at_risk",)),
    _m("backlog_orders", "Orders awaiting shipment", "待发货订单数",
       "Orders paid, not shipped and not cancelled at the end of the period.", "期末已支付、未发货且未取消的订单数。",
       "count", "integer", False, source="backlog", expr="row", agg="count"),
    _m("delivery_days", "Days to deliver (median)", "送达天数（中位数）",
       "Median days from payment to delivery, over the orders delivered in the period.",
       "期间内送达订单从支付到送达的天数中位数。",
       "duration", "days", False, source="deliveries", expr="delivery_days", agg="median",
       dimensions=("shop", "region", "day", "week", "month")),
    # --- stock ------------------------------------------------------------------------------------------
    _m("stock_on_hand", "Stock on hand", "可售库存",
       "Units available to sell at the end of the period (the last inventory snapshot on or before that day).",
       "期末可售件数（当天或之前最近一次库存快照）。",
       "count", "integer", source="stock", expr="stock", agg="sum"),
    _m("trailing_daily_units", "Daily units (14-day average)", "日均销量（近 14 天）",
       "Average units sold a day over the 14 days up to the end of the period (paid, not cancelled).",
       "截至期末的 14 天内日均销售件数（已支付且未取消）。",
       "count", "decimal", source="stock", expr="daily_units", agg="sum"),
    _m("days_of_cover", "Days of cover", "库存可售天数",
       "Stock on hand divided by the average daily units of the trailing 14 days: how long stock lasts at "
       "the recent pace.", "可售库存除以近 14 天日均销量：按近期速度库存可维持的天数。",
       "duration", "days", numerator="stock_on_hand", denominator="trailing_daily_units"),
    _m("stockout_risk_skus", "SKUs at stockout risk", "缺货风险 SKU 数",
       "SKUs selling in the trailing 14 days whose days of cover at the end of the period are below their "
       "restock lead time (7 days unless set per shop or SKU with `shoplens stock lead-time`).",
       "近 14 天有销量、且期末库存可售天数低于补货周期（默认 7 天，可用 `shoplens stock lead-time` 按店铺或 SKU 设置）的 SKU 数。",
       "count", "integer", False, source="stock", expr="sku", agg="count_distinct", filters=("at_risk",)),
    _m("out_of_stock_days", "Out-of-stock SKU days", "缺货 SKU 天数",
       "SKU-days in the period that ended with no stock available (a SKU out of stock for 3 days counts 3).",
       "期间内日终可售库存为零的 SKU 天数（一个 SKU 缺货 3 天计 3）。",
       "count", "integer", False, source="stock_days", expr="sku_day", agg="count_distinct",
       filters=("out_of_stock",)),
    _m("units_and_stock", "Units sold plus stock", "销量加期末库存",
       "Units sold in the period plus stock on hand at its end: what there was to sell.",
       "期间销量加期末可售库存：可供销售的总量。",
       "count", "integer", terms=((1, "units", None), (1, "stock_on_hand", None))),
    _m("sell_through_rate", "Sell-through rate", "售罄率",
       "Units sold in the period divided by units sold plus the stock left at its end.",
       "期间销量除以（期间销量加期末库存）。",
       "ratio", "percent", numerator="units", denominator="units_and_stock"),
    # --- listings ---------------------------------------------------------------------------------------
    _m("deactivated_products", "Products not live", "未在售商品数",
       "Products not active at the end of the period: deactivated by the seller or the platform, frozen, "
       "deleted, pending or failing audit.", "期末未处于在售状态的商品：被商家或平台下架、冻结、删除、审核中或审核未通过。",
       "count", "integer", False, source="listings", expr="row", agg="count", filters=("inactive",)),
    _m("listing_gmv_at_risk", "GMV at risk from listings", "下架影响 GMV",
       "For the products not active at the end of the period: their GMV in the 28 days before they stopped "
       "being active, what the shop stands to lose.", "期末未在售商品在停售前 28 天的 GMV：店铺可能损失的销售额。",
       "money", "money", False, source="listings", expr="gmv_before", agg="sum", filters=("inactive",)),
    # --- service ----------------------------------------------------------------------------------------
    _m("chat_sessions", "Chat sessions", "客服会话数",
       "Customer-service chat sessions buyers started in the period.", "期间内买家发起的客服会话数。",
       "count", "integer", source="service", expr="sessions", agg="sum"),
    _m("chat_responses", "Chats answered within 24 h", "24 小时内回复会话数",
       "Chat sessions whose first answer came within 24 hours.", "24 小时内首次回复的会话数。",
       "count", "integer", source="service", expr="responded", agg="sum"),
    _m("response_rate", "Chat response rate", "客服回复率",
       "Chats answered within 24 hours divided by chat sessions.", "24 小时内回复的会话数除以会话总数。",
       "ratio", "percent", numerator="chat_responses", denominator="chat_sessions"),
    _m("chat_response_minutes", "Chat response minutes", "客服回复总分钟数",
       "First-response minutes summed over the chat sessions.", "各会话首次回复分钟数之和。",
       "duration", "minutes", False, source="service", expr="response_minutes", agg="sum"),
    _m("response_minutes", "Chat response time", "客服平均回复时长",
       "Average minutes to the first answer of a chat session (weighted by sessions).",
       "客服会话首次回复的平均分钟数（按会话数加权）。",
       "duration", "minutes", False, numerator="chat_response_minutes", denominator="chat_sessions"),
    _m("reviews", "Product reviews", "商品评价数",
       "Product reviews buyers posted in the period (each counts on the shop-local day it was posted).",
       "期间内买家发布的商品评价数（按发布当天的店铺当地日期计）。",
       "count", "integer", source="ratings", expr="reviews", agg="sum"),
    _m("review_stars", "Stars given", "评价星数合计",
       "The stars of the period's reviews added up (a 4-star review counts 4).",
       "期间内评价的星数之和（一条 4 星评价计 4）。",
       "count", "integer", source="ratings", expr="stars", agg="sum"),
    _m("negative_reviews", "Negative reviews", "差评数",
       "Reviews of 1 or 2 stars posted in the period (TikTok's negative reviews).",
       "期间内发布的 1 星或 2 星评价数（TikTok 定义的差评）。",
       "count", "integer", False, source="ratings", expr="negative", agg="sum"),
    _m("average_rating", "Average rating", "平均评分",
       "Stars given divided by reviews, over the period's reviews: the mean star rating (1 to 5), weighted by "
       "reviews, never an average of daily averages.",
       "评价星数合计除以评价数：期间内评价的平均星级（1–5），按评价数加权，而非每日平均值的平均。",
       "ratio", "decimal", numerator="review_stars", denominator="reviews"),
    _m("negative_review_share", "Negative review share", "差评率",
       "Reviews of 1 or 2 stars divided by all reviews posted in the period.",
       "期间内 1 星或 2 星评价数除以全部评价数。",
       "ratio", "percent", False, numerator="negative_reviews", denominator="reviews"),
)


def validate(catalogue: tuple[Metric, ...] = CATALOGUE, sources: Mapping[str, Source] = SOURCES) -> None:
    """Raise MetricDefinitionError listing every problem in the catalogue, or return None."""
    problems: list[str] = []
    ids = [m.id for m in catalogue]
    by_id = {m.id: m for m in catalogue}
    for dup in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(f"metric id {dup!r} is defined more than once")
    for source in sources.values():
        for fragment in source.fragments():
            for alias in re.findall(r"\b([a-z]{1,2})\.[a-z_]", fragment):
                if alias not in ("t", "s") and alias not in JOINS:
                    problems.append(f"source {source.id!r}: unknown join alias {alias!r} in {fragment!r}")
        if source.time_kind not in ("instant", "date", "snapshot"):
            problems.append(f"source {source.id!r}: time_kind must be instant, date or snapshot")
        for name, sql in source.columns.items():
            if not isinstance(sql, str) and set(sql) != set(GMV_PRICES):
                problems.append(f"source {source.id!r}: column {name!r} must give its SQL for each GMV price "
                                f"({', '.join(GMV_PRICES)}), not {', '.join(sql)}")
    for m in catalogue:
        problems += _metric_problems(m, by_id, sources)
    problems += _cycles(by_id)
    if problems:
        raise MetricDefinitionError(problems)


def _metric_problems(m: Metric, by_id: dict[str, Metric], sources: Mapping[str, Source]) -> list[str]:
    where = f"metric {m.id!r}"
    problems = []
    if not m.id.isidentifier() or m.id != m.id.lower():
        problems.append(f"{where}: id must be snake_case")
    if m.unit not in UNITS:
        problems.append(f"{where}: unit {m.unit!r} is not one of {', '.join(UNITS)}")
    if m.format not in FORMATS:
        problems.append(f"{where}: format {m.format!r} is not one of {', '.join(FORMATS)}")
    for lang in ("en", "zh"):
        if not m.label.get(lang):
            problems.append(f"{where}: missing {lang} label")
        if not m.description.get(lang):
            problems.append(f"{where}: missing {lang} description")
    if m.dimensions is not None:
        bad_dims = [d for d in m.dimensions if d not in DIMENSIONS]
        if bad_dims:
            problems.append(f"{where}: unknown dimension(s) {', '.join(bad_dims)}")
    if m.anomaly is not None:
        if not isinstance(m.anomaly, AnomalyRule):
            problems.append(f"{where}: anomaly must be an AnomalyRule, not {type(m.anomaly).__name__}")
        else:
            problems += [f"{where}: anomaly rule: {p}" for p in m.anomaly.problems()]
            if m.dimensions is not None and not {"shop", "day"} <= set(m.dimensions):
                problems.append(f"{where}: an anomaly rule needs the metric by shop and day; its dimensions "
                                f"are {', '.join(m.dimensions)}")
    if m.kind == "measure":
        return problems + _measure_problems(m, where, sources)
    if m.source or m.expr or m.agg:
        problems.append(f"{where}: a {m.kind} is computed from other metrics and names no source/expr/agg")
    for part in m.parts():
        if part not in by_id:
            problems.append(f"{where}: {m.kind} refers to unknown metric {part!r}")
    if m.kind == "ratio":
        if m.numerator is None or m.denominator is None:
            problems.append(f"{where}: a ratio needs both a numerator and a denominator")
    else:
        for sign, part, condition in m.terms:
            if sign not in (1, -1):
                problems.append(f"{where}: term {part!r} has sign {sign!r}, not 1 or -1")
            if condition is not None and condition not in TERM_CONDITIONS:
                problems.append(f"{where}: term {part!r} depends on unknown policy {condition!r}")
            if part in by_id and by_id[part].unit != m.unit:
                problems.append(f"{where}: cannot add {by_id[part].unit} {part!r} to a {m.unit} sum")
    return problems


def _measure_problems(m: Metric, where: str, sources: Mapping[str, Source]) -> list[str]:
    problems = []
    if m.agg not in AGGREGATIONS:
        problems.append(f"{where}: aggregation {m.agg!r} is not one of {', '.join(AGGREGATIONS)}")
    elif m.unit == "money" and m.agg != "sum":
        problems.append(f"{where}: money must aggregate with sum (FX conversion adds up daily amounts)")
    source = sources.get(m.source)
    if source is None:
        return problems + [f"{where}: unknown source {m.source!r}; known: {', '.join(sources)}"]
    if m.expr not in source.columns:
        problems.append(f"{where}: source {m.source!r} has no column {m.expr!r}")
    elif isinstance(source.columns[m.expr], str) == ("gmv_price" in m.policies):
        problems.append(f"{where}: column {m.expr!r} " + ("is priced by GMV price: add 'gmv_price' to its policies"
                                                          if "gmv_price" not in m.policies else
                                                          "has one price: drop 'gmv_price' from its policies"))
    for name in m.filters:
        if name not in source.filters:
            problems.append(f"{where}: source {m.source!r} has no filter {name!r}")
    for policy in m.policies:
        if policy not in MEASURE_POLICIES:
            problems.append(f"{where}: unknown policy {policy!r}; known: {', '.join(MEASURE_POLICIES)}")
        needed = {"gmv_basis": "paid", "include_cancelled": "not_cancelled"}.get(policy)
        if needed and needed not in source.filters:
            problems.append(f"{where}: policy {policy!r} needs source {m.source!r} to define filter {needed!r}")
        if policy == "refunds_by" and source.order_time is None:
            problems.append(f"{where}: policy 'refunds_by' needs source {m.source!r} to name its order_time")
    if m.dimensions is not None:
        for dim in m.dimensions:
            if dim in DIMENSIONS and dim not in source.dimension_names():
                problems.append(f"{where}: source {m.source!r} has no dimension {dim!r}")
    return problems


def _cycles(by_id: dict[str, Metric]) -> list[str]:
    found: list[list[str]] = []

    def walk(metric_id: str, trail: tuple[str, ...]) -> None:
        m = by_id.get(metric_id)
        if m is None:
            return
        for part in m.parts():
            if part in trail:
                found.append([*trail[trail.index(part):], part])
            elif len(trail) < len(by_id):
                walk(part, (*trail, part))

    for metric_id in by_id:
        walk(metric_id, (metric_id,))
    seen, unique = set(), []
    for cycle in found:
        key = frozenset(cycle)
        if key not in seen:
            seen.add(key)
            unique.append(f"metric cycle: {' -> '.join(cycle)}")
    return unique


@dataclass
class Catalogue:
    """A validated catalogue with lookups; `get` rejects unknown ids with the list of valid ones."""

    metrics: tuple[Metric, ...] = CATALOGUE
    sources: dict[str, Source] = field(default_factory=lambda: dict(SOURCES))

    def __post_init__(self) -> None:
        validate(self.metrics, self.sources)
        self._by_id = {m.id: m for m in self.metrics}
        self._dimensions: dict[str, tuple[str, ...]] = {}  # dimensions_of, worked out once per metric

    def get(self, metric_id: str) -> Metric:
        try:
            return self._by_id[metric_id]
        except KeyError:
            raise MetricError(unknown("metric", metric_id, self._by_id, listed_by="shoplens metrics list")) from None

    def base_metrics(self, metric_id: str) -> list[Metric]:
        """The measures a metric is computed from (itself, for a measure), each once."""
        m = self.get(metric_id)
        if m.kind == "measure":
            return [m]
        out: dict[str, Metric] = {}
        for part in m.parts():
            for base in self.base_metrics(part):
                out.setdefault(base.id, base)
        return list(out.values())

    def dimensions_of(self, metric_id: str) -> tuple[str, ...]:
        """The dimensions a metric can be broken down by: its source's, or those all its parts share."""
        if metric_id in self._dimensions:
            return self._dimensions[metric_id]
        m = self.get(metric_id)
        if m.kind == "measure":
            allowed = self.sources[m.source].dimension_names()
        else:
            allowed = tuple(d for d in DIMENSIONS
                            if all(d in self.dimensions_of(p) for p in m.parts()))
        if m.dimensions is not None:
            allowed = tuple(d for d in allowed if d in m.dimensions)
        self._dimensions[metric_id] = allowed
        return allowed
