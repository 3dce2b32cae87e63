"""The metric compiler: (metrics, dimensions, filters, period, policies) -> one DuckDB query.

Each source's measures are aggregated in their own CTE, the CTEs are joined on the dimensions, and
ratios are computed last from the aggregated columns. User values (dates, shop ids, the time zone)
are bound as parameters, never pasted into SQL. This is the only module that writes KPI SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shoplens.errors import MetricError
from shoplens.metrics.catalogue import DIMENSIONS, Catalogue, Metric, Policies
from shoplens.warehouse.schema import MONEY

_AGG = {"sum": "sum({e})", "count": "count({e})", "count_distinct": "count(DISTINCT {e})", "min": "min({e})",
        "max": "max({e})"}
_DIM_SQL = {
    "shop": "_shop_id",
    "region": "_region",
    "currency": "_currency",
    "day": "CAST(local_ts AS DATE)",
    "week": "CAST(date_trunc('week', local_ts) AS DATE)",
    "month": "CAST(date_trunc('month', local_ts) AS DATE)",
}
#: refunds count once the platform has paid them out
REFUND_DONE = ("RETURN_OR_REFUND_REQUEST_COMPLETE", "RETURN_OR_REFUND_REQUEST_SUCCESS")


@dataclass(frozen=True)
class QuerySpec:
    metrics: tuple[str, ...]
    by: tuple[str, ...] = ()
    period: tuple[date, date] | None = None
    shops: tuple[str, ...] = ()
    policies: Policies = field(default_factory=Policies)


@dataclass(frozen=True)
class CompiledQuery:
    sql: str
    params: list
    columns: tuple[str, ...]


def compile_query(spec: QuerySpec, catalogue: Catalogue) -> CompiledQuery:
    """Compile a metric query; unknown metrics, dimensions or bad periods raise MetricError."""
    requested = [catalogue.get(m) for m in spec.metrics]
    if not requested:
        raise MetricError("no metrics requested; `shoplens metrics list` shows them")
    for dim in spec.by:
        if dim not in DIMENSIONS:
            raise MetricError(f"unknown dimension {dim!r}; known dimensions: {', '.join(DIMENSIONS)}")
        for m in requested:
            if dim not in m.dimensions:
                raise MetricError(f"metric {m.id!r} cannot be broken down by {dim!r}")
    if spec.period is not None and spec.period[0] > spec.period[1]:
        raise MetricError(f"period starts {spec.period[0]} after it ends {spec.period[1]}: swap the dates")
    _check_timezone(spec.policies.timezone)

    bases: dict[str, Metric] = {}
    for m in requested:
        for base in catalogue.base_metrics(m.id):
            bases.setdefault(base.id, base)
    needs_currency = any(b.unit == "money" for b in bases.values())
    dims = list(spec.by)
    # money never adds up across currencies: keep the currency as a dimension
    keys = dims + (["currency"] if needs_currency else [])

    by_source: dict[str, list[Metric]] = {}
    for base in bases.values():
        by_source.setdefault(base.source, []).append(base)
    ctes, params = [], []
    for i, (source_id, measures) in enumerate(by_source.items()):
        sql, p = _source_cte(catalogue, source_id, measures, keys, spec)
        ctes.append((f"m{i}", sql))
        params += p

    joined = ctes[0][0]
    for name, _ in ctes[1:]:
        joined += f" FULL OUTER JOIN {name} USING ({', '.join(keys)})" if keys else f" CROSS JOIN {name}"
    select = list(keys)
    for m in requested:
        select.append(f"{_metric_expr(catalogue, m)} AS {m.id}")
    order = f" ORDER BY {', '.join(keys)}" if keys else ""
    with_sql = ",\n".join(f"{name} AS (\n{sql}\n)" for name, sql in ctes)
    sql = f"WITH {with_sql}\nSELECT {', '.join(select)}\nFROM {joined}{order}"
    return CompiledQuery(sql=sql, params=params, columns=tuple(keys + [m.id for m in requested]))


def _check_timezone(tz: str) -> None:
    if tz == "shop":
        return
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise MetricError(f"unknown time zone {tz!r}: use an IANA name such as Asia/Shanghai, or 'shop'") from None


def _metric_expr(catalogue: Catalogue, m: Metric) -> str:
    if not m.is_ratio:
        zero = "CAST(0 AS " + MONEY + ")" if m.unit == "money" else "0"
        return f"coalesce({m.id}, {zero})"
    num = _metric_expr(catalogue, catalogue.get(m.numerator))
    den = _metric_expr(catalogue, catalogue.get(m.denominator))
    ratio = f"CASE WHEN {den} = 0 THEN NULL ELSE CAST({num} AS DOUBLE) / {den} END"
    return f"CAST({ratio} AS {MONEY})" if m.unit == "money" else ratio


def _source_cte(catalogue: Catalogue, source_id: str, measures: list[Metric], dims: list[str],
                spec: QuerySpec) -> tuple[str, list]:
    """One source's measures, aggregated by `dims`, with policy, shop and period filters applied."""
    source = catalogue.sources[source_id]
    policies = spec.policies
    if source.parent:
        parent = catalogue.sources[source.parent]
        from_sql = f"{source.table} t JOIN {parent.table} p ON p.{source.parent_key} = t.{source.parent_key}"
        time_col, filter_alias, filter_source = f"p.{parent.time_column}", "p", parent.id
    else:
        from_sql = f"{source.table} t"
        time_col, filter_alias, filter_source = f"t.{source.time_column}", "t", source.id
    params: list = []
    if policies.timezone == "shop":
        tz_sql = "s.timezone"
    else:
        tz_sql = "?"
        params.append(policies.timezone)
    inner_where = _policy_filters(filter_source, filter_alias, policies)
    if spec.shops:
        inner_where.append("list_contains(?, s.shop_id)")
        params.append(list(spec.shops))
    columns = ", ".join(f"t.{c}" for c in sorted({m.expr for m in measures}))
    inner = (f"SELECT {columns}, s.shop_id AS _shop_id, s.region AS _region, s.currency AS _currency, "
             f"timezone({tz_sql}, {time_col}) AS local_ts\n    FROM {from_sql} JOIN shops s ON s.shop_id = t.shop_id"
             + (f"\n    WHERE {' AND '.join(inner_where)}" if inner_where else ""))
    outer_where = ""
    if spec.period is not None:
        outer_where = "\n  WHERE CAST(local_ts AS DATE) BETWEEN ? AND ?"
        params += [spec.period[0], spec.period[1]]
    dim_sql = [f"{_DIM_SQL[d]} AS {d}" for d in dims]
    aggs = [f"{_AGG[m.agg].format(e=m.expr)} AS {m.id}" for m in measures]
    group = f"\n  GROUP BY {', '.join(str(i + 1) for i in range(len(dims)))}" if dims else ""
    return f"  SELECT {', '.join(dim_sql + aggs)}\n  FROM (\n    {inner}\n  ) x{outer_where}{group}", params


def _policy_filters(source_id: str, alias: str, policies: Policies) -> list[str]:
    if source_id == "orders":
        where = []
        if policies.gmv_basis == "paid":
            where.append(f"{alias}.paid_time IS NOT NULL")
        if not policies.include_cancelled:
            where.append(f"{alias}.status <> 'CANCELLED'")
        return where
    if source_id == "refunds":
        return [f"{alias}.return_status IN ({', '.join(repr(s) for s in REFUND_DONE)})"]
    return []
