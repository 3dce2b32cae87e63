"""The KPI catalogue: one declarative record per metric, the sources they read, and the validator.

A metric is either a measure (an aggregation of a source column) or a ratio of two other metrics,
computed after aggregation and never averaged. Every definition, policy and label lives here; the
compiler turns them into SQL and nothing else in shoplens writes KPI SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shoplens.errors import MetricDefinitionError, MetricError

UNITS = ("money", "count", "ratio", "duration")
AGGREGATIONS = ("sum", "count", "count_distinct", "min", "max")
TIME_DIMENSIONS = ("day", "week", "month")
DIMENSIONS = ("shop", "region", *TIME_DIMENSIONS)


@dataclass(frozen=True)
class Source:
    """A warehouse table a measure aggregates, with the column that places a row in time.

    A source with a `parent` (e.g. line items of orders) takes its time and its policy filters from
    the parent row joined on `parent_key`.
    """

    id: str
    table: str
    time_column: str
    columns: tuple[str, ...]
    description: str
    parent: str | None = None
    parent_key: str | None = None


@dataclass(frozen=True)
class Metric:
    id: str
    label: dict[str, str]
    description: dict[str, str]
    unit: str
    format: str
    higher_is_better: bool
    source: str | None = None
    expr: str | None = None
    agg: str | None = None
    numerator: str | None = None
    denominator: str | None = None
    dimensions: tuple[str, ...] = DIMENSIONS

    @property
    def is_ratio(self) -> bool:
        return self.numerator is not None


@dataclass(frozen=True)
class Policies:
    """Switches that change what a metric means; every result says which were in force.

    gmv_basis: "paid" counts orders once paid, "placed" counts every order placed.
    include_cancelled: whether cancelled orders count toward GMV, orders and buyers.
    timezone: an IANA zone for day boundaries, or "shop" for each shop's own zone.
    """

    gmv_basis: str = "paid"
    include_cancelled: bool = False
    timezone: str = "Asia/Shanghai"

    def describe(self, lang: str = "en") -> dict[str, str]:
        basis = {"paid": {"en": "paid orders", "zh": "已支付订单"}, "placed": {"en": "all placed orders",
                                                                               "zh": "所有已下单订单"}}
        tz = self.timezone if self.timezone != "shop" else {"en": "each shop's own time zone",
                                                             "zh": "各店铺当地时区"}[lang]
        cancelled = {True: {"en": "included", "zh": "计入"}, False: {"en": "excluded", "zh": "不计入"}}
        if lang == "zh":
            return {"GMV 口径": basis[self.gmv_basis]["zh"], "已取消订单": cancelled[self.include_cancelled]["zh"],
                    "报告时区": tz}
        return {"GMV basis": basis[self.gmv_basis]["en"], "Cancelled orders": cancelled[self.include_cancelled]["en"],
                "Reporting time zone": tz}


SOURCES: dict[str, Source] = {s.id: s for s in (
    Source("orders", "orders", "create_time",
           ("order_id", "buyer_id", "sub_total", "shipping_fee", "total_amount", "seller_discount"),
           "Orders, placed in the period (by create time in the reporting time zone)."),
    Source("line_items", "order_line_items", "create_time",
           ("line_item_id", "product_id", "sku_id", "sale_price", "original_price"),
           "Order line items (one per unit), placed in the period.", parent="orders", parent_key="order_id"),
    Source("refunds", "refunds", "create_time", ("return_id", "order_id", "refund_total"),
           "Completed refunds, dated by the day the buyer requested them."),
)}

CATALOGUE: tuple[Metric, ...] = (
    Metric("gmv", {"en": "GMV", "zh": "成交金额 (GMV)"},
           {"en": "Product value buyers paid for, after seller discounts, excluding shipping and tax, "
                  "on orders placed in the period. Refunded orders stay in; see refund amount.",
            "zh": "期间内下单订单的商品成交金额（扣除商家折扣，不含运费和税），含后续退款的订单。"},
           unit="money", format="money", higher_is_better=True, source="orders", expr="sub_total", agg="sum"),
    Metric("orders", {"en": "Orders", "zh": "订单数"},
           {"en": "Distinct orders placed in the period.", "zh": "期间内下单的订单数（去重）。"},
           unit="count", format="integer", higher_is_better=True, source="orders", expr="order_id",
           agg="count_distinct"),
    Metric("buyers", {"en": "Buyers", "zh": "买家数"},
           {"en": "Distinct buyers who placed an order in the period.", "zh": "期间内下单的买家数（去重）。"},
           unit="count", format="integer", higher_is_better=True, source="orders", expr="buyer_id",
           agg="count_distinct"),
    Metric("units", {"en": "Units sold", "zh": "销售件数"},
           {"en": "Units in those orders (one line item is one unit).", "zh": "订单中的商品件数（每个订单行为一件）。"},
           unit="count", format="integer", higher_is_better=True, source="line_items", expr="line_item_id",
           agg="count"),
    Metric("aov", {"en": "Average order value", "zh": "客单价 (AOV)"},
           {"en": "GMV divided by orders, computed after aggregation.", "zh": "GMV 除以订单数（先汇总后相除）。"},
           unit="money", format="money", higher_is_better=True, numerator="gmv", denominator="orders"),
    Metric("refund_amount", {"en": "Refund amount", "zh": "退款金额"},
           {"en": "Money refunded on completed returns and refunds, dated by the request day.",
            "zh": "已完成的退货退款金额，按买家申请日期计。"},
           unit="money", format="money", higher_is_better=False, source="refunds", expr="refund_total", agg="sum"),
)


def validate(catalogue: tuple[Metric, ...] = CATALOGUE, sources: dict[str, Source] = SOURCES) -> None:
    """Raise MetricDefinitionError listing every problem in the catalogue, or return None."""
    problems: list[str] = []
    ids = [m.id for m in catalogue]
    by_id = {m.id: m for m in catalogue}
    for dup in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(f"metric id {dup!r} is defined more than once")
    for m in catalogue:
        where = f"metric {m.id!r}"
        if not m.id.isidentifier() or m.id != m.id.lower():
            problems.append(f"{where}: id must be snake_case")
        if m.unit not in UNITS:
            problems.append(f"{where}: unit {m.unit!r} is not one of {', '.join(UNITS)}")
        for lang in ("en", "zh"):
            if not m.label.get(lang):
                problems.append(f"{where}: missing {lang} label")
            if not m.description.get(lang):
                problems.append(f"{where}: missing {lang} description")
        bad_dims = [d for d in m.dimensions if d not in DIMENSIONS]
        if bad_dims:
            problems.append(f"{where}: unknown dimension(s) {', '.join(bad_dims)}")
        if m.is_ratio:
            if m.source or m.expr or m.agg:
                problems.append(f"{where}: a ratio names numerator and denominator, not source/expr/agg")
            for part in (m.numerator, m.denominator):
                if part not in by_id:
                    problems.append(f"{where}: ratio refers to unknown metric {part!r}")
            if m.denominator is None:
                problems.append(f"{where}: ratio has no denominator")
        else:
            if m.source not in sources:
                problems.append(f"{where}: unknown source {m.source!r}; known: {', '.join(sources)}")
            elif m.expr not in sources[m.source].columns:
                problems.append(f"{where}: source {m.source!r} has no column {m.expr!r}")
            if m.agg not in AGGREGATIONS:
                problems.append(f"{where}: aggregation {m.agg!r} is not one of {', '.join(AGGREGATIONS)}")
    problems += _cycles(by_id)
    if problems:
        raise MetricDefinitionError(problems)


def _cycles(by_id: dict[str, Metric]) -> list[str]:
    found = []

    def walk(metric_id: str, trail: tuple[str, ...]) -> None:
        m = by_id.get(metric_id)
        if m is None or not m.is_ratio:
            return
        for part in (m.numerator, m.denominator):
            if part in trail:
                cycle = " -> ".join((*trail[trail.index(part):], part))
                if cycle not in found:
                    found.append(cycle)
            elif part is not None:
                walk(part, (*trail, part))

    for metric_id in by_id:
        walk(metric_id, (metric_id,))
    seen, unique = set(), []
    for cycle in found:
        key = frozenset(cycle.split(" -> "))
        if key not in seen:
            seen.add(key)
            unique.append(f"ratio cycle: {cycle}")
    return unique


@dataclass
class Catalogue:
    """A validated catalogue with lookups; `get` rejects unknown ids with the list of valid ones."""

    metrics: tuple[Metric, ...] = CATALOGUE
    sources: dict[str, Source] = field(default_factory=lambda: dict(SOURCES))

    def __post_init__(self) -> None:
        validate(self.metrics, self.sources)
        self._by_id = {m.id: m for m in self.metrics}

    def get(self, metric_id: str) -> Metric:
        try:
            return self._by_id[metric_id]
        except KeyError:
            raise MetricError(f"unknown metric {metric_id!r}; known metrics: {', '.join(self._by_id)}") from None

    def base_metrics(self, metric_id: str) -> list[Metric]:
        """The measures a metric is computed from (itself, for a measure)."""
        m = self.get(metric_id)
        if not m.is_ratio:
            return [m]
        return [*self.base_metrics(m.numerator), *self.base_metrics(m.denominator)]
