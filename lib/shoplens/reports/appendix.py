"""The appendix every report ends with: how each figure it shows is computed.

For every figure a report registered (`ReportContext.kpi_table`, `ranked_table`, `scorecard_table`), an
entry anchored at `#sl-def-N` that the figure links to: the metric's definition, how it is computed,
the scope (shops, period, filters), and the SQL the compiler writes for it, parameters written in, in
a box that scrolls on its own. Below them, collapsed (`<details>`), the records each figure adds up:
order ids (or returns, line items, analytics days) with the day and the value each contributes, so a
reviewer can check a figure against Seller Center without shoplens. Record lists are capped per list
and per report (the report stays small); a capped list says how to get the rest with `shoplens metrics
explain ... --csv`.

Everything from the platform is escaped here. SQL comes only from the metric compiler. Nothing here
returns what it shows.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field, replace

from shoplens import i18n
from shoplens.metrics import Metric, QuerySpec, default_catalogue
from shoplens.metrics.api import run_compiled
from shoplens.metrics.compiler import compile_query, compile_record_lists, policy_filters, terms_of

#: records listed under one figure term, and in one report (about 70 bytes each)
ROWS_PER_LIST = 400
ROWS_PER_REPORT = 3000


@dataclass
class Figure:
    """A figure a report shows: a metric over a spec (the query that computed it, without comparison)."""

    anchor: str
    metric: str
    spec: QuerySpec
    #: the value shown, when the report shows one number for it
    value: object = None
    currency: str | None = None


@dataclass
class Figures:
    """The figures of one report, each registered once per (metric, spec)."""

    items: list[Figure] = field(default_factory=list)

    def register(self, metric: str, spec: QuerySpec, value=None, currency: str | None = None) -> str:
        """The anchor of the figure's appendix entry (the same for the same metric over the same spec)."""
        spec = replace(spec, metrics=(metric,), compare=None)
        for f in self.items:
            if f.metric == metric and f.spec == spec:
                return f.anchor
        figure = Figure(f"sl-def-{len(self.items) + 1}", metric, spec, value, currency)
        self.items.append(figure)
        return figure.anchor


def appendix_html(figures: Figures, warehouse, lang: str, format_value) -> str:
    """The appendix's entries and record lists (the heading is the caller's)."""
    catalogue = default_catalogue()
    e, t = html.escape, lambda key: i18n.t(key, lang)
    entries, listed = [], {}
    for figure in figures.items:
        m = catalogue.get(figure.metric)
        spec = figure.spec
        sql = compile_query(spec, catalogue).inline()
        scope = _scope(spec, lang)
        shown = ""
        if figure.value is not None:
            money = figure.currency if m.unit == "money" else None
            shown = f'<p class="sl-figure">{e(t("a_figure"))}: {e(format_value(figure.value, m.format, money))}</p>'
        links = []
        for part, _sign, base in terms_of(catalogue, m, spec.policies):
            key = (base.id, replace(spec, metrics=(base.id,)))
            if key not in listed:
                listed[key] = f"sl-rec-{len(listed) + 1}"
            label = base.label[lang] + (f" ({t('a_' + part)})" if part else "")
            links.append(f'<a href="#{listed[key]}-list">{e(label)}</a>')  # inside: following it opens the list
        entries.append(
            f'<article class="sl-def" id="{figure.anchor}" data-metric="{e(m.id)}">'
            f'<h3>{e(m.label[lang])}</h3><p>{e(m.description[lang])}</p>'
            f'<p class="sl-formula">{e(t("a_computed_as"))}: <code>{e(_formula(m, spec, lang))}</code></p>'
            f'<p class="sl-scope">{e(scope)}</p>{shown}'
            f'<p class="sl-links">{e(t("a_records"))}: {" · ".join(dict.fromkeys(links))}</p>'
            f'<pre class="sl-sql" tabindex="0">{e(sql)}</pre></article>')
    lists = _record_lists(list(listed.items()), warehouse, lang, format_value)
    return (f'<p>{e(t("a_intro"))}</p>{"".join(entries)}'
            f'<h3 id="sl-records">{e(t("a_records_title"))}</h3><p>{e(t("a_records_intro"))}</p>{"".join(lists)}')


def _formula(m: Metric, spec: QuerySpec, lang: str) -> str:
    """How the metric is computed, in the report's language where it is words."""
    catalogue = default_catalogue()
    if m.kind == "ratio":
        scale = f" × {m.scale}" if m.scale != 1 else ""
        return f"{catalogue.get(m.numerator).label[lang]} ÷ {catalogue.get(m.denominator).label[lang]}{scale}"
    if m.kind == "sum":
        on = [(sign, part) for sign, part, cond in m.terms if cond is None or getattr(spec.policies, cond)]
        return " ".join(f"{'−' if sign < 0 else '+'} {catalogue.get(part).label[lang]}" for sign, part in on
                        ).removeprefix("+ ")
    source = catalogue.sources[m.source]
    column = source.column(m.expr, spec.policies.gmv_price).replace("t.", "")
    aggregate = {"count": "count(*)", "count_distinct": f"count(DISTINCT {column})"}.get(m.agg, f"{m.agg}({column})")
    filters = [*m.filters, *policy_filters(m, spec.policies)]
    where = f" WHERE {' AND '.join(filters)}" if filters else ""
    table = source.relation.removesuffix(" t") if re.fullmatch(r"\w+ t", source.relation) else source.id
    return f"{aggregate} FROM {table}{where}"


def _scope(spec: QuerySpec, lang: str) -> str:
    t = lambda key: i18n.t(key, lang)  # noqa: E731
    parts = [f"{t('period')}: {spec.period[0]} – {spec.period[1]}" if spec.period else t("a_all_time")]
    parts.append(f"{t('a_shops')}: {', '.join(spec.shops)}" if spec.shops else t("all_shops"))
    if spec.by:
        parts.append(f"{t('a_by')}: {', '.join(_dim(d, lang) for d in spec.by)}")
    parts += [f"{dim} = {', '.join(map(str, values))}" for dim, values in spec.where]
    return " · ".join(parts)


def _record_lists(listed: list, warehouse, lang: str, format_value) -> list[str]:
    """The collapsed lists of `listed` ((measure id, spec), anchor), from one query."""
    if not listed:
        return []
    catalogue = default_catalogue()
    specs = [spec for (_, spec), _ in listed]
    frame = run_compiled(warehouse, compile_record_lists(specs, catalogue, limit=ROWS_PER_LIST))
    columns = {name: frame[name].tolist() for name in frame.columns}
    rows_of: dict[int, list[int]] = {}
    for i, n in enumerate(columns.get("list", [])):
        rows_of.setdefault(n, []).append(i)
    budget, out = ROWS_PER_REPORT, []
    for n, ((metric_id, spec), anchor) in enumerate(listed):
        rows = rows_of.get(n, [])
        take = max(0, min(len(rows), budget))
        budget -= take
        out.append(_records(anchor, catalogue.get(metric_id), spec, columns, rows, take, lang, format_value))
    return out


def _records(anchor: str, base: Metric, spec: QuerySpec, columns: dict[str, list], rows: list[int], take: int,
             lang: str, format_value) -> str:
    """One collapsed list: the records of one measure over one spec, what each contributes (`rows`: its
    first records in `columns`, of which `take` are shown)."""
    e, t = html.escape, lambda key: i18n.t(key, lang)
    dims = [d for d in spec.by if d not in ("shop", "day")]
    money = base.unit == "money"
    head = [t(f"rec_{base.source}") if f"rec_{base.source}" in i18n.TEXT else t("a_record"),
            *(_dim(d, lang) for d in dims), t("day"),
            t("value")]
    count, total, currency = 0, 0, None
    if rows:
        first = rows[0]
        count, total = columns["list_count"][first], columns["list_total"][first]
        lo, hi = columns["list_currency_lo"][first], columns["list_currency_hi"][first]
        currency = lo if money and lo == hi and isinstance(lo, str) else None
    by_order = base.source == "line_items" and "order_id" in columns
    body = []
    for i in rows[:take]:
        record = columns["order_id"][i] if by_order and columns["order_id"][i] else columns["record"][i]
        value = columns["value"][i]
        cells = [record, *(columns[d][i] for d in dims), columns["day"][i],
                 format_value(value, base.format, None) if money else f"{int(value):,}"]
        body.append("<tr>" + "".join(f"<td>{e('–' if c is None or c != c else str(c))}</td>" for c in cells)
                    + "</tr>")
    noun = t(f"recn_{base.source}") if f"recn_{base.source}" in i18n.TEXT else t("a_records_n")
    grouped = f" ({t('a_by_dims').format(dims=', '.join(_dim(d, lang) for d in dims))})" if dims else ""
    summary = (f"{base.label[lang]}{grouped} · {count:,} {noun}"
               + (f" · {format_value(total, base.format, currency)}" if count else ""))
    more = ""
    if count > take:
        command = _command(base.id, spec)
        more = (f'<p class="sl-empty">{e(t("a_more").format(n=f"{count - take:,}"))} '
                f'<code>{e(command)}</code></p>')
    table = (f'<div class="sl-scroll" id="{anchor}-list"><table class="sl-ranked sl-records"><thead><tr>'
             f'{"".join(f"<th>{e(h)}</th>" for h in head)}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'
             if body else f'<p class="sl-empty" id="{anchor}-list">{e(t("nothing_in_period"))}</p>')
    return (f'<details class="sl-records" id="{anchor}" data-metric="{e(base.id)}" data-count="{count}">'
            f"<summary>{e(summary)}</summary>{table}{more}</details>")


def _dim(dimension: str, lang: str) -> str:
    """A dimension's name in the report's language, where the reports have one."""
    return i18n.t(dimension, lang) if dimension in i18n.TEXT else dimension


def _command(metric: str, spec: QuerySpec) -> str:
    """The `shoplens metrics explain` line that lists every record of a figure."""
    words = ["shoplens metrics explain", metric]
    if spec.by:
        words.append(f"--by {','.join(spec.by)}")
    if spec.period:
        words.append(f"--since {spec.period[0]} --until {spec.period[1]}")
    words += [f"--shop {s}" for s in spec.shops]
    words += [f"--where {dim}={','.join(map(str, values))}" for dim, values in spec.where]
    p, default = spec.policies, type(spec.policies)()
    for name in ("timezone", "currency", "gmv_basis", "refunds_by", "gmv_price"):
        if getattr(p, name) != getattr(default, name):
            words.append(f"--{name.replace('_', '-')} {getattr(p, name)}")
    for name in ("include_cancelled", "commission_deducted"):
        if getattr(p, name):
            words.append(f"--{name.replace('_', '-')}")
    return " ".join(words + ["--csv"])
