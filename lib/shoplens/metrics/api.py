"""The metric API for notebooks and the CLI: `query(...)` -> a labelled pandas DataFrame.

Results keep money as `decimal.Decimal` and carry, in `DataFrame.attrs`, the metric records, their
labels in the requested language, the policies in force, the period and the comparison period, and the
compiled SQL (`attrs["sql"]`, a `CompiledQuery`), so a report can print exactly what its numbers mean.
"""

from __future__ import annotations

import html
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from functools import lru_cache

import duckdb
import pandas as pd

from shoplens.errors import MetricError
from shoplens.metrics.catalogue import Catalogue, Policies, SharedMap, SharedTuple
from shoplens.metrics.compiler import FX_ERROR_TAG, FX_MAX_AGE_DAYS, CompiledQuery, QuerySpec, compile_query
from shoplens.warehouse import Warehouse, open_warehouse
from shoplens.suggest import unknown


@lru_cache(maxsize=1)
def default_catalogue() -> Catalogue:
    return Catalogue()


def parse_period(period: tuple[str | date, str | date] | None) -> tuple[date, date] | None:
    """(start, end) as dates, both days included; ISO strings accepted."""
    if period is None:
        return None
    try:
        start, end = (p if isinstance(p, date) else date.fromisoformat(str(p)) for p in period)
    except (TypeError, ValueError) as exc:
        raise MetricError(f"bad period {period!r}: use ISO dates like ('2026-11-09', '2026-11-15')") from exc
    return start, end


def query(metrics: Sequence[str], *, by: Sequence[str] = (), period=None, shop: str | Sequence[str] | None = None,
          policies: Policies | None = None, compare: str | None = None, where: dict | None = None,
          lang: str = "en", warehouse: Warehouse | None = None) -> pd.DataFrame:
    """Compute `metrics` broken down `by` dimensions over `period` (local dates, inclusive).

    compare="previous" or "last_year" adds `<metric>_previous` and `<metric>_change` (relative) columns.
    where={"creator": "nong.ploy", "channel": ["affiliate"]} keeps only those dimension values.
    """
    if isinstance(metrics, str):
        metrics = [metrics]
    catalogue = default_catalogue()
    spec = query_spec(metrics, by=by, period=period, shop=shop, policies=policies, compare=compare, where=where)
    compiled = compile_query(spec, catalogue)
    with _reading(warehouse, spec.shops) as wh:
        frame = run_compiled(wh, compiled)
    # shared values: pandas deep-copies `attrs` after nearly every operation on the frame
    frame.attrs["metrics"] = SharedMap({m: catalogue.get(m) for m in metrics})
    frame.attrs["labels"] = SharedMap({m: catalogue.get(m).label[lang] for m in metrics})
    frame.attrs["policies"] = spec.policies
    frame.attrs["period"] = None if spec.period is None else SharedTuple(spec.period)
    frame.attrs["compare"] = compare
    frame.attrs["comparison_period"] = (None if compiled.comparison_period is None
                                        else SharedTuple(compiled.comparison_period))
    frame.attrs["where"] = SharedMap(spec.where)
    frame.attrs["sql"] = compiled
    frame.attrs["spec"] = spec
    return frame


def query_spec(metrics: Sequence[str], *, by: Sequence[str] = (), period=None,
               shop: str | Sequence[str] | None = None, policies: Policies | None = None, compare: str | None = None,
               where: dict | None = None) -> QuerySpec:
    """The QuerySpec of `query()`'s arguments."""
    shops = (shop,) if isinstance(shop, str) else tuple(shop or ())
    return QuerySpec(metrics=tuple(metrics), by=tuple(by), period=parse_period(period), shops=shops,
                     policies=policies or Policies(), compare=compare,
                     where=tuple((dim, (v,) if isinstance(v, str) else tuple(v)) for dim, v in (where or {}).items()))


@contextmanager
def _reading(warehouse: Warehouse | None, shops: tuple[str, ...]) -> Iterator[Warehouse]:
    """The warehouse to read (the workspace's, read-only, unless given), checked for current facts and
    for the shops asked about."""
    owned = warehouse is None
    wh = open_warehouse() if owned else warehouse
    try:
        if not wh.facts_are_current():
            raise MetricError("the warehouse's order facts (or their rollups) are older than its orders: run "
                              "`shoplens sync` to refresh them (or Warehouse.refresh_facts() after loading data "
                              "yourself)")
        if shops:
            known = wh.shop_ids()
            missing = [s for s in shops if s not in known]
            if missing:
                raise MetricError(unknown("shop id", missing, known, listed_by="shoplens shops",
                                          none_known="no shop is synced yet: run `shoplens sync`"))
        yield wh
    finally:
        if owned:
            wh.close()


def run_compiled(warehouse: Warehouse, compiled: CompiledQuery) -> pd.DataFrame:
    """Run compiler output; a missing FX rate becomes a MetricError naming the currency and day."""
    try:
        return warehouse.frame(compiled.sql, compiled.params)
    except duckdb.InvalidInputException as exc:
        raise _fx_error(exc) from None


def _fx_error(exc: Exception) -> Exception:
    text = str(exc)
    if FX_ERROR_TAG not in text:
        return exc
    currency, day = text.split(FX_ERROR_TAG, 1)[1].split()[:2]
    return MetricError(f"no FX rate for {currency} on {day} (nor in the {FX_MAX_AGE_DAYS} days before): load a "
                       f"rates file in the ECB format with `shoplens fx load PATH_OR_URL`, or report in the shops' "
                       "own currencies")


def glossary(metric_ids: Sequence[str] | None = None, lang: str = "en") -> list[tuple[str, str]]:
    """(label, description) for each metric (all of them by default), in `lang` ("en" or "zh")."""
    catalogue = default_catalogue()
    ids = metric_ids if metric_ids is not None else [m.id for m in catalogue.metrics]
    return [(catalogue.get(m).label[lang], catalogue.get(m).description[lang]) for m in ids]


_HEAD = {"en": ("Metric", "Definition", "Glossary"), "zh": ("指标", "定义", "指标说明")}


def glossary_markdown(metric_ids: Sequence[str] | None = None, lang: str = "en") -> str:
    """The glossary as a Markdown table, for report appendices and the docs."""
    name, definition, _ = _HEAD[lang]
    rows = [f"| {name} | {definition} |", "|---|---|"]
    rows += [f"| {label} | {text.replace('|', '/')} |" for label, text in glossary(metric_ids, lang)]
    return "\n".join(rows) + "\n"


def glossary_html(metric_ids: Sequence[str] | None = None, lang: str = "en") -> str:
    """The glossary as an escaped HTML definition list."""
    _, _, title = _HEAD[lang]
    items = "".join(f"<dt>{html.escape(label)}</dt><dd>{html.escape(text)}</dd>"
                    for label, text in glossary(metric_ids, lang))
    return f'<section class="glossary" lang="{lang}"><h2>{title}</h2><dl>{items}</dl></section>'
