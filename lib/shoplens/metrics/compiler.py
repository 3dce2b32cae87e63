"""The metric compiler: (metrics, dimensions, filters, period, policies, comparison) -> one DuckDB query.

Each source's measures are aggregated in their own CTE (one pass over the source, each measure with
its own FILTER), the CTEs are joined on the dimensions, and ratios and sums are computed last from the
aggregated columns. With a time dimension and a period, a date spine makes days without data appear
as zeros. With a reporting currency, money is summed per local day and currency, converted with that
day's ECB-style rate (the latest published on or before it, at most `FX_MAX_AGE_DAYS` old) and then
added up; a missing rate fails the query naming the currency and day. A comparison runs the same body
over the previous (or last year's) period and joins it on the dimensions, time shifted forward.
Values are bound as named parameters. This is the only module that writes KPI SQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shoplens.errors import MetricError
from shoplens.metrics.catalogue import DIMENSIONS, JOINS, TIME_DIMENSIONS, Catalogue, Metric, Policies, Source
from shoplens.warehouse.schema import MONEY

_AGG = {"sum": "sum({e})", "count": "count({e})", "count_distinct": "count(DISTINCT {e})", "min": "min({e})",
        "max": "max({e})"}
_TIME_SQL = {"day": "_day", "week": "CAST(date_trunc('week', _day) AS DATE)",
             "month": "CAST(date_trunc('month', _day) AS DATE)"}
COMPARISONS = ("previous", "last_year")
#: keys every selected shop has, so a shop without data still gets its row of zeros
_SHOP_KEYS = {"shop", "region", "currency"}
#: ECB publishes no rates at weekends and on TARGET holidays (Good Friday to Easter Monday is 4 days)
FX_MAX_AGE_DAYS = 4
FX_ERROR_TAG = "shoplens-fx-missing:"


@dataclass(frozen=True)
class QuerySpec:
    metrics: tuple[str, ...]
    by: tuple[str, ...] = ()
    period: tuple[date, date] | None = None
    shops: tuple[str, ...] = ()
    policies: Policies = field(default_factory=Policies)
    compare: str | None = None
    #: (dimension, allowed values): keep only rows whose dimension value is one of them
    where: tuple[tuple[str, tuple], ...] = ()


@dataclass(frozen=True)
class CompiledQuery:
    sql: str
    params: dict
    columns: tuple[str, ...]
    comparison_period: tuple[date, date] | None = None


def comparison_period(period: tuple[date, date], compare: str) -> tuple[date, date]:
    """The period a comparison looks at: the same length just before, or the same dates a year earlier."""
    start, end = period
    if compare == "previous":
        length = (end - start).days + 1
        return start - timedelta(days=length), end - timedelta(days=length)
    return _year_before(start), _year_before(end)


def _year_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def compile_query(spec: QuerySpec, catalogue: Catalogue) -> CompiledQuery:
    """Compile a metric query; unknown metrics, dimensions, comparisons or bad periods raise MetricError."""
    requested = [catalogue.get(m) for m in spec.metrics]
    if not requested:
        raise MetricError("no metrics requested; `shoplens metrics list` shows them")
    if len(set(spec.by)) != len(spec.by):
        raise MetricError(f"a dimension is repeated in {list(spec.by)}")
    for dim in spec.by:
        if dim not in DIMENSIONS:
            raise MetricError(f"unknown dimension {dim!r}; known dimensions: {', '.join(DIMENSIONS)}")
        for m in requested:
            if dim not in catalogue.dimensions_of(m.id):
                raise MetricError(f"metric {m.id!r} cannot be broken down by {dim!r}; it can by: "
                                  f"{', '.join(catalogue.dimensions_of(m.id))}")
    for dim, values in spec.where:
        if dim in TIME_DIMENSIONS or dim == "shop" or dim not in DIMENSIONS:
            raise MetricError(f"cannot filter on {dim!r}: filter on one of "
                              f"{', '.join(d for d in DIMENSIONS if d not in (*TIME_DIMENSIONS, 'shop'))}; "
                              "use period= for days and shop= for shops")
        if not values:
            raise MetricError(f"the filter on {dim!r} lists no values")
        for m in requested:
            if dim not in catalogue.dimensions_of(m.id):
                raise MetricError(f"metric {m.id!r} cannot be filtered by {dim!r}; it has: "
                                  f"{', '.join(catalogue.dimensions_of(m.id))}")
    if spec.period is not None and spec.period[0] > spec.period[1]:
        raise MetricError(f"period starts {spec.period[0]} after it ends {spec.period[1]}: swap the dates")
    _check_timezone(spec.policies.timezone)
    shifts = _comparison_shifts(spec)

    bases: dict[str, Metric] = {}
    for m in requested:
        for base in _bases(catalogue, m, spec.policies):
            bases.setdefault(base.id, base)
    money = any(b.unit == "money" for b in bases.values())
    keys = list(spec.by) + (["currency"] if money else [])
    params: dict = {"tz": spec.policies.timezone, "shops": list(spec.shops)}
    params |= {f"w_{dim}": [str(v) for v in values] for dim, values in spec.where}
    if spec.policies.currency:
        params["currency"] = spec.policies.currency
    metric_cols = [f"{_metric_expr(catalogue, m, spec.policies)} AS {m.id}" for m in requested]

    body = _body(catalogue, spec, bases, keys, metric_cols, "", spec.period, params)
    columns = keys + [m.id for m in requested]
    compared = None
    if spec.compare is None:
        sql = body + (f"\nORDER BY {', '.join(keys)}" if keys else "")
    else:
        compared = comparison_period(spec.period, spec.compare)
        prev = _body(catalogue, spec, bases, keys, metric_cols, "_prev", compared, params)
        sql, extra = _compare_sql(body, prev, keys, requested, shifts)
        columns += extra
    used = {name: value for name, value in params.items() if re.search(rf"\${name}\b", sql)}
    return CompiledQuery(sql=sql, params=used, columns=tuple(columns), comparison_period=compared)


def _bases(catalogue: Catalogue, m: Metric, policies: Policies) -> list[Metric]:
    """The measures a metric needs under these policies (a sum's switched-off terms are left out)."""
    if m.kind == "measure":
        return [m]
    parts = m.parts() if m.kind == "ratio" else [p for _, p, cond in m.terms if _term_on(cond, policies)]
    out: dict[str, Metric] = {}
    for part in parts:
        for base in _bases(catalogue, catalogue.get(part), policies):
            out.setdefault(base.id, base)
    return list(out.values())


def _term_on(condition: str | None, policies: Policies) -> bool:
    return condition is None or bool(getattr(policies, condition))


def _check_timezone(tz: str) -> None:
    if tz == "shop":
        return
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise MetricError(f"unknown time zone {tz!r}: use an IANA name such as Asia/Shanghai, or 'shop'") from None


def _comparison_shifts(spec: QuerySpec) -> dict[str, str]:
    """How each time dimension of the comparison period moves forward to meet the current one."""
    if spec.compare is None:
        return {}
    if spec.compare not in COMPARISONS:
        raise MetricError(f"unknown comparison {spec.compare!r}; use one of {', '.join(COMPARISONS)}")
    if spec.period is None:
        raise MetricError("a comparison needs a period: pass period=(start, end)")
    if spec.compare == "last_year":
        return {d: "INTERVAL 1 YEAR" for d in TIME_DIMENSIONS}
    length = (spec.period[1] - spec.period[0]).days + 1
    shifts = {"day": f"INTERVAL {length} DAY"}
    if length % 7 == 0:
        shifts["week"] = f"INTERVAL {length} DAY"
    for dim in spec.by:
        if dim in TIME_DIMENSIONS and dim not in shifts:
            raise MetricError(f"cannot compare by {dim!r} with the previous {length}-day period: the {dim}s do "
                              "not line up; break down by day, or compare with last_year")
    return shifts


def _metric_expr(catalogue: Catalogue, m: Metric, policies: Policies) -> str:
    if m.kind == "measure":
        return f"CAST(coalesce({m.id}, 0) AS {MONEY})" if m.unit == "money" else f"coalesce({m.id}, 0)"
    if m.kind == "sum":
        terms = [(sign, _metric_expr(catalogue, catalogue.get(part), policies))
                 for sign, part, cond in m.terms if _term_on(cond, policies)]
        text = " ".join(f"{'-' if sign < 0 else '+'} {expr}" for sign, expr in terms)
        return f"({text.removeprefix('+ ')})"
    num = _metric_expr(catalogue, catalogue.get(m.numerator), policies)
    den = _metric_expr(catalogue, catalogue.get(m.denominator), policies)
    scale = f" * {m.scale}" if m.scale != 1 else ""
    ratio = f"CASE WHEN {den} = 0 THEN NULL ELSE CAST({num} AS DOUBLE){scale} / {den} END"
    return f"CAST({ratio} AS {MONEY})" if m.unit == "money" else ratio


def _body(catalogue: Catalogue, spec: QuerySpec, bases: dict[str, Metric], keys: list[str], metric_cols: list[str],
          suffix: str, period: tuple[date, date] | None, params: dict) -> str:
    """`WITH <one CTE per source> SELECT <keys, metrics>` for one period."""
    if period is not None:
        params[f"start{suffix}"], params[f"end{suffix}"] = period
    by_source: dict[str, list[Metric]] = {}
    for base in bases.values():
        by_source.setdefault(base.source, []).append(base)
    ctes: list[tuple[str, str]] = []
    for source_id, measures in by_source.items():
        ctes += _source_ctes(catalogue.sources[source_id], measures, keys, spec, suffix, period, f"m{len(ctes)}")
    names = [name for name, _ in ctes if not name.endswith("_raw")]  # the others hold the keys and measures
    time_keys = [k for k in keys if k in TIME_DIMENSIONS] if period is not None else []
    other = [k for k in keys if k not in time_keys]
    if set(other) <= _SHOP_KEYS and (other or time_keys):
        # every selected shop appears, with zeros where it has no data
        shop_cols = {"shop": "shop_id AS shop", "region": "region",
                     "currency": "$currency AS currency" if spec.policies.currency else "currency"}
        from_shops = (f"  SELECT DISTINCT {', '.join(shop_cols[k] for k in other)} FROM shops "
                      "WHERE (len($shops) = 0 OR list_contains($shops, shop_id))"
                      + (" AND list_contains($w_region, region)" if "region" in dict(spec.where) else "")) if other else None
        keysets = [*(f"  SELECT DISTINCT {', '.join(other)} FROM {n}" for n in names if other), from_shops]
        base = _keyset(ctes, other, [k for k in keysets if k], time_keys, suffix)
        joined = base + "".join(f" LEFT JOIN {n} USING ({', '.join(keys)})" for n in names)
    elif time_keys:
        base = _keyset(ctes, other, [f"  SELECT DISTINCT {', '.join(other)} FROM {n}" for n in names], time_keys,
                       suffix)
        joined = base + "".join(f" LEFT JOIN {n} USING ({', '.join(keys)})" for n in names)
    else:
        joined = names[0]
        for name in names[1:]:
            joined += f" FULL OUTER JOIN {name} USING ({', '.join(keys)})" if keys else f" CROSS JOIN {name}"
    with_sql = ",\n".join(f"{name} AS (\n{sql}\n)" for name, sql in ctes)
    return f"WITH {with_sql}\nSELECT {', '.join(keys + metric_cols)}\nFROM {joined}"


def _keyset(ctes: list[tuple[str, str]], other: list[str], keysets: list[str], time_keys: list[str],
            suffix: str) -> str:
    """Add the CTEs holding every key combination a result shows; return the FROM clause over them."""
    parts = []
    if time_keys:
        spine = ", ".join(f"{_TIME_SQL[k]} AS {k}" for k in time_keys)
        ctes.append(("_spine", f"  SELECT DISTINCT {spine} FROM (SELECT CAST(r AS DATE) AS _day FROM range("
                               f"CAST($start{suffix} AS TIMESTAMP), CAST($end{suffix} AS TIMESTAMP) + INTERVAL 1 DAY, "
                               "INTERVAL 1 DAY) g(r))"))
        parts.append("_spine")
    if other:
        ctes.append(("_keys", "\n  UNION\n".join(keysets)))
        parts.append("_keys")
    return " CROSS JOIN ".join(parts)


def _source_ctes(source: Source, measures: list[Metric], keys: list[str], spec: QuerySpec, suffix: str,
                 period: tuple[date, date] | None, name: str) -> list[tuple[str, str]]:
    """One source's measures aggregated by `keys` (converted to the reporting currency when one is set)."""
    policies = spec.policies
    dims = [k for k in keys if k != "currency"]
    time = source.order_time if (source.order_time and policies.refunds_by == "order_date"
                                 and any("refunds_by" in m.policies for m in measures)) else source.time
    inner = {"_shop": "t.shop_id", "_cur": source.currency}
    if "region" in dims:
        inner["_region"] = "s.region"
    has_period = period is not None
    inner["_day"] = time if source.time_kind == "date" else _local_day(time, policies, period)
    for dim in dims:
        if dim not in ("shop", "region", *TIME_DIMENSIONS):
            inner[f"_d_{dim}"] = source.dimensions[dim]
    aggs: dict[str, tuple[str, str]] = {}  # metric id -> (aggregate SQL, unit)
    for m in measures:
        inner[f"_c_{m.expr}"] = source.column(m.expr, policies.gmv_price)
        conds = []
        filter_names = (*m.filters, *_policy_filters(m, policies))
        for filter_name in filter_names:
            inner[f"_f_{filter_name}"] = source.filters[filter_name]
            conds.append(f"_f_{filter_name}")
        agg = _AGG[m.agg].format(e=f"_c_{m.expr}")
        sequence = source.sequences.get(m.expr)
        if (m.agg == "count_distinct" and sequence and set(filter_names) == set(sequence[1])
                and set(dims) <= {"shop", "region", *TIME_DIMENSIONS}):
            inner["_prev_day"] = _local_day(sequence[0], policies, period)
            conds += [f"_c_{m.expr} IS NOT NULL", _first_in_group([d for d in dims if d in TIME_DIMENSIONS], suffix,
                                                                   has_period)]
            agg = "count(*)"
        aggs[m.id] = (agg + (f" FILTER (WHERE {' AND '.join(conds)})" if conds else ""), m.unit)

    where = ["(len($shops) = 0 OR list_contains($shops, t.shop_id))"]
    for dim, _ in spec.where:
        where.append(f"list_contains($w_{dim}, CAST({'s.region' if dim == 'region' else source.dimensions[dim]} AS VARCHAR))")
    if has_period:
        if source.time_kind == "date":
            where.append(f"{time} BETWEEN $start{suffix} AND $end{suffix}")
        else:  # a coarse UTC window any zone's local days fall in, so DuckDB can skip row groups
            where.append(f"{time} >= CAST($start{suffix} AS TIMESTAMPTZ) - INTERVAL 1 DAY "
                         f"AND {time} < CAST($end{suffix} AS TIMESTAMPTZ) + INTERVAL 2 DAY")
    fragments = " ".join([*inner.values(), time, *where])
    joins = [sql for alias, sql in JOINS.items() if re.search(rf"\b{alias}\.", fragments)]
    if re.search(r"\bs\.", fragments):  # the shop's region, zone or currency
        joins.insert(0, "JOIN shops s ON s.shop_id = t.shop_id")
    select_inner = ", ".join(f"{sql} AS {alias}" for alias, sql in inner.items())
    relation = (f"    SELECT {select_inner}\n    FROM {' '.join([source.relation, *joins])}"
                f"\n    WHERE {' AND '.join(where)}")
    outer_where = f"\n  WHERE _day BETWEEN $start{suffix} AND $end{suffix}" if has_period else ""
    dim_sql = [f"{_dim_sql(d)} AS {d}" for d in dims]

    def aggregate(cols: list[str], group: list[str]) -> str:
        by = f"\n  GROUP BY {', '.join(str(i + 1) for i in range(len(group)))}" if group else ""
        return f"  SELECT {', '.join(group + cols)}\n  FROM (\n{relation}\n  ) x{outer_where}{by}"

    if not policies.currency:
        group = dim_sql + (["_cur AS currency"] if "currency" in keys else [])
        return [(name, aggregate([f"{sql} AS {mid}" for mid, (sql, _) in aggs.items()], group))]
    # money: per local day and currency, then converted; everything else straight to the keys
    ctes = []
    money = {mid: sql for mid, (sql, unit) in aggs.items() if unit == "money"}
    other = {mid: sql for mid, (sql, unit) in aggs.items() if unit != "money"}
    if other:
        group = dim_sql + (["$currency AS currency"] if "currency" in keys else [])
        ctes.append((f"{name}c", aggregate([f"{sql} AS {mid}" for mid, sql in other.items()], group)))
    if money:
        raw = f"{name}_raw"
        raw_group = [*dim_sql, "_day", "_cur"]
        ctes.append((raw, aggregate([f"{sql} AS {mid}" for mid, sql in money.items()], raw_group)))
        converted = ", ".join(f"CAST(sum(x.{mid} * {_FX_FACTOR}) AS {MONEY}) AS {mid}" for mid in money)
        carried = [f"x.{d}" for d in dims]
        ctes.append((f"{name}x", f"  SELECT {', '.join(carried + ['$currency AS currency', converted])}\n"
                                  f"  FROM {raw} x{_FX_JOINS}"
                                  + (f"\n  GROUP BY {', '.join(carried)}" if carried else "")))
    return ctes


def _local_day(time: str, policies: Policies, period: tuple[date, date] | None) -> str:
    """SQL for the local day of an instant in the reporting time zone."""
    offset = _fixed_offset(policies.timezone, period)
    if offset is not None:  # integer arithmetic, several times faster than a zone lookup per row
        return f"DATE '1970-01-01' + CAST((CAST(epoch({time}) AS BIGINT) + {offset}) // 86400 AS INTEGER)"
    zone = "s.timezone" if policies.timezone == "shop" else "$tz"
    return f"CAST(timezone({zone}, {time}) AS DATE)"


def _first_in_group(time_dims: list[str], suffix: str, has_period: bool) -> str:
    """Whether a row is its entity's first in the result group, from the day of the entity's previous row.

    Exact when the group is a stretch of time (a day, week, month or the whole period) of one shop: a
    buyer's previous counted order lies in the same group exactly when it lies in the same stretch. This
    counts distinct buyers without a hash set per group, which is most of a KPI cube's time.
    """
    if "day" in time_dims:
        same = "_prev_day = _day"
    elif time_dims:
        unit = "week" if "week" in time_dims else "month"
        same = f"date_trunc('{unit}', _prev_day) = date_trunc('{unit}', _day)"
    elif has_period:
        same = f"_prev_day >= $start{suffix}"
    else:
        same = "true"
    return f"(_prev_day IS NULL OR NOT ({same}))"


def _fixed_offset(tz: str, period: tuple[date, date] | None) -> int | None:
    """The zone's UTC offset in seconds if it is the same all through the period (with a margin), else None."""
    if tz == "shop" or period is None:
        return None
    zone = ZoneInfo(tz)
    moment = datetime.combine(period[0] - timedelta(days=2), datetime.min.time(), UTC)
    end = datetime.combine(period[1] + timedelta(days=3), datetime.min.time(), UTC)
    offsets = set()
    while moment <= end:
        offsets.add(moment.astimezone(zone).utcoffset())
        if len(offsets) > 1:
            return None
        moment += timedelta(hours=1)
    return int(offsets.pop().total_seconds())


def _dim_sql(dim: str) -> str:
    if dim in TIME_DIMENSIONS:
        return _TIME_SQL[dim]
    return {"shop": "_shop", "region": "_region"}.get(dim, f"_d_{dim}")


def _policy_filters(m: Metric, policies: Policies) -> list[str]:
    out = []
    if "gmv_basis" in m.policies and policies.gmv_basis == "paid":
        out.append("paid")
    if "include_cancelled" in m.policies and not policies.include_cancelled:
        out.append("not_cancelled")
    return out


def _fx_rate(side: str, currency: str, day: str) -> str:
    return (f"CASE WHEN {currency} = 'EUR' THEN 1.0 WHEN {side}.date IS NULL OR {day} - {side}.date > {FX_MAX_AGE_DAYS} "
            f"THEN error('{FX_ERROR_TAG}' || {currency} || ' ' || CAST({day} AS VARCHAR)) "
            f"ELSE CAST({side}.per_eur AS DOUBLE) END")


_FX_JOINS = ("\n  ASOF LEFT JOIN fx_rates src ON src.currency = x._cur AND x._day >= src.date"
             "\n  ASOF LEFT JOIN (SELECT date, per_eur FROM fx_rates WHERE currency = $currency) dst ON x._day >= dst.date")
_FX_FACTOR = (f"(CASE WHEN x._cur = $currency THEN 1.0 ELSE ({_fx_rate('dst', '$currency', 'x._day')}) "
              f"/ ({_fx_rate('src', 'x._cur', 'x._day')}) END)")


def _compare_sql(body: str, prev: str, keys: list[str], requested: list[Metric],
                 shifts: dict[str, str]) -> tuple[str, list[str]]:
    """Join the current and comparison bodies on the keys, the comparison's time moved forward."""
    moved = [f"CAST({k} + {shifts[k]} AS DATE) AS {k}" if k in TIME_DIMENSIONS else k for k in keys]
    cols, extra = list(keys), []
    for m in requested:
        cur, before = f"cur.{m.id}", f"prv.{m.id}"
        if m.kind != "ratio":
            zero = f"CAST(0 AS {MONEY})" if m.unit == "money" else "0"
            cur, before = f"coalesce({cur}, {zero})", f"coalesce({before}, {zero})"
        cols += [f"{cur} AS {m.id}", f"{before} AS {m.id}_previous",
                 f"CASE WHEN {before} = 0 THEN NULL ELSE CAST({cur} - {before} AS DOUBLE) / abs({before}) END "
                 f"AS {m.id}_change"]
        extra += [f"{m.id}_previous", f"{m.id}_change"]
    join = f"FULL OUTER JOIN prv USING ({', '.join(keys)})" if keys else "CROSS JOIN prv"
    rest = f"p.* EXCLUDE ({', '.join(keys)})" if keys else "p.*"
    select_prev = f"SELECT {', '.join([*moved, rest])} FROM (\n{prev}\n) p"
    sql = (f"WITH cur AS (\n{body}\n),\nprv AS (\n{select_prev}\n)\nSELECT {', '.join(cols)}\nFROM cur {join}"
           + (f"\nORDER BY {', '.join(keys)}" if keys else ""))
    return sql, extra
