"""`explain(...)`: a figure opened down to the source records it adds up, for notebooks, reports and
`shoplens metrics explain`.

An `Explanation` holds the metric's definition, the policies in force, the SQL the compiler ran for the
figure (parameters written in), the figure, and the records (`compiler.compile_records`): one row per
order, line item, refund, affiliate item or analytics row, with the `value` it contributes, the raw
archive file and line it was loaded from, and the sync run. Per group of `by` (and per part of a ratio)
the values add up to the figure exactly in the shops' own currencies; converted to a reporting
currency each record is converted on its own day, so they add up to the figure to within its last digit.

This module only reads; it never writes SQL of its own (the compiler does).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import pandas as pd

from shoplens.metrics.api import _reading, default_catalogue, query_spec, run_compiled
from shoplens.metrics.catalogue import Metric, Policies
from shoplens.metrics.compiler import QuerySpec, compile_query, compile_records, terms_of
from shoplens.warehouse import Warehouse


@dataclass
class Explanation:
    """One metric's figure with its definition, policies, SQL and records (see the module docstring)."""

    metric: Metric
    spec: QuerySpec
    lang: str
    #: the compiler's result: the keys, the metric and, for a ratio, its numerator and denominator
    figure: pd.DataFrame = field(repr=False)
    #: one row per source record: part, term, record, shop, day, [by dimensions], currency, amount,
    #: value, counted, reason, archive_file, archive_line, sync_run, then the source's own fields
    records: pd.DataFrame = field(repr=False)
    #: the SQL behind the figure and behind the records, parameters written in
    sql: str = field(repr=False)
    records_sql: str = field(repr=False)

    @property
    def label(self) -> str:
        return self.metric.label[self.lang]

    @property
    def definition(self) -> str:
        return self.metric.description[self.lang]

    @property
    def policies(self) -> dict[str, str]:
        return self.spec.policies.describe(self.lang)

    @property
    def keys(self) -> list[str]:
        """The figure's group columns: the `by` dimensions, and currency for money."""
        return [c for c in self.figure.columns if c in (*self.spec.by, "currency")]

    def parts(self) -> list[str]:
        """What the records add up to: the metric itself, or a ratio's numerator and denominator."""
        m = self.metric
        return [m.numerator, m.denominator] if m.kind == "ratio" else [m.id]

    def totals(self) -> pd.DataFrame:
        """The records' values added up per group (and per part of a ratio), beside the compiler's figure
        for the same group and part: `value` against `figure`, and whether they `agree` (exactly in the
        shops' currencies; converted record by record, to the figure's last digit)."""
        keys = self.keys
        counted = self.records[self.records.counted.astype(bool)]

        def key_of(values) -> tuple:  # a missing dimension value (no creator ...) is one group
            return tuple(None if v is None or v != v else v for v in values)

        rows = []
        for part_name, column in zip(("numerator", "denominator") if self.metric.kind == "ratio" else ("",),
                                     self.parts()):
            sums: dict[tuple, object] = {}
            mine = counted[counted.part == part_name]
            for values, value in zip(mine[keys].itertuples(index=False, name=None), mine.value):
                sums[key_of(values)] = sums.get(key_of(values), 0) + value
            for values, figure in zip(self.figure[keys].itertuples(index=False, name=None), self.figure[column]):
                none = figure is None or figure != figure  # a median, min or max of no records
                rows.append({**dict(zip(keys, values)), "part": column,
                             "value": sums.get(key_of(values), None if none else 0), "figure": None if none else figure})
        tolerance = Decimal("0.0001") if self.spec.policies.currency else Decimal(0)
        for row in rows:
            if row["figure"] is None:  # no figure agrees with no records
                row["agrees"] = row["value"] is None
            else:
                row["agrees"] = abs(Decimal(str(row["value"])) - Decimal(str(row["figure"]))) <= tolerance
        return pd.DataFrame(rows, columns=[*keys, "part", "value", "figure", "agrees"])

    def adds_up(self) -> bool:
        """Whether every group's (and part's) records add up to the compiler's figure."""
        return bool(self.totals().agrees.all())


    def _repr_html_(self) -> str:
        """A compact view for JupyterLab: definition, policies, figure, SQL and the first records."""
        e = html.escape
        policies = "".join(f"<li>{e(k)}: {e(v)}</li>" for k, v in self.policies.items())
        shown = self.records.head(20).fillna("").astype(str)
        return (f"<h4>{e(self.label)} <code>{e(self.metric.id)}</code></h4><p>{e(self.definition)}</p>"
                f"<ul>{policies}</ul>{self.figure.fillna('').astype(str).to_html(index=False)}"
                f"<details><summary>SQL</summary><pre>{e(self.sql)}</pre></details>"
                f"<p>{len(self.records):,} records; the first {len(shown)}:</p>{shown.to_html(index=False)}")


def explain(metric: str, *, by: Sequence[str] = (), period=None, shop: str | Sequence[str] | None = None,
            policies: Policies | None = None, where: dict | None = None, excluded: bool = False, lang: str = "en",
            warehouse: Warehouse | None = None) -> Explanation:
    """Open one metric's figure down to its records (arguments as for `metrics.query`); `excluded=True`
    also lists the records the period reaches that do not count, each with the reason."""
    catalogue = default_catalogue()
    m = catalogue.get(metric)
    names = [metric, *(p for p in (m.numerator, m.denominator) if p)]
    spec = query_spec([metric], by=by, period=period, shop=shop, policies=policies, where=where)
    figure_sql = compile_query(QuerySpec(**{**spec.__dict__, "metrics": tuple(names)}), catalogue)
    records_sql = compile_records(spec, catalogue, excluded=excluded)
    with _reading(warehouse, spec.shops) as wh:
        figure = run_compiled(wh, figure_sql)
        records = run_compiled(wh, records_sql)
    records["counted"] = records["counted"].astype(bool)
    # a line number stays a whole number where some records have none (rows not loaded by a sync)
    records["archive_line"] = pd.Series([None if v is None or v != v else int(v) for v in records["archive_line"]],
                                        index=records.index, dtype=object)
    if not any(b.unit == "money" for _, _, b in terms_of(catalogue, m, spec.policies)):
        records["value"] = [int(v) for v in records["value"]]  # a count's records count whole
    return Explanation(m, spec, lang, figure, records, figure_sql.inline(), records_sql.inline())
