"""The metric API for notebooks and the CLI: `query(...)` -> a labelled pandas DataFrame.

Results keep money as `decimal.Decimal` and carry, in `DataFrame.attrs`, the metric records, the
policies in force and the period, so a report can print exactly what its numbers mean.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from functools import lru_cache

import pandas as pd

from shoplens.errors import MetricError
from shoplens.metrics.catalogue import Catalogue, Policies
from shoplens.metrics.compiler import QuerySpec, compile_query
from shoplens.warehouse import Warehouse, open_warehouse


@lru_cache(maxsize=1)
def default_catalogue() -> Catalogue:
    return Catalogue()


def parse_period(period: tuple[str | date, str | date] | None) -> tuple[date, date] | None:
    """(start, end) as dates, both days included; ISO strings accepted."""
    if period is None:
        return None
    try:
        start, end = (p if isinstance(p, date) else date.fromisoformat(str(p)) for p in period)
    except ValueError as exc:
        raise MetricError(f"bad period {period!r}: use ISO dates like ('2026-11-09', '2026-11-15')") from exc
    return start, end


def query(metrics: Sequence[str], *, by: Sequence[str] = (), period=None, shop: str | Sequence[str] | None = None,
          policies: Policies | None = None, warehouse: Warehouse | None = None) -> pd.DataFrame:
    """Compute `metrics` broken down `by` dimensions over `period` (local dates, inclusive)."""
    catalogue = default_catalogue()
    shops = (shop,) if isinstance(shop, str) else tuple(shop or ())
    spec = QuerySpec(metrics=tuple(metrics), by=tuple(by), period=parse_period(period), shops=shops,
                     policies=policies or Policies())
    compiled = compile_query(spec, catalogue)
    owned = warehouse is None
    wh = open_warehouse() if owned else warehouse
    try:
        if shops:
            known = {r[0] for r in wh.rows("SELECT shop_id FROM shops WHERE list_contains(?, shop_id)", [list(shops)])}
            missing = [s for s in shops if s not in known]
            if missing:
                raise MetricError(f"unknown shop id(s) {', '.join(missing)}; `shoplens shops` lists the synced shops")
        frame = wh.frame(compiled.sql, compiled.params)
    finally:
        if owned:
            wh.close()
    frame.attrs["metrics"] = {m: catalogue.get(m) for m in metrics}
    frame.attrs["policies"] = spec.policies
    frame.attrs["period"] = spec.period
    return frame


def glossary(metric_ids: Sequence[str], lang: str = "en") -> list[tuple[str, str]]:
    """(label, description) for each metric, in `lang` ("en" or "zh")."""
    catalogue = default_catalogue()
    return [(catalogue.get(m).label[lang], catalogue.get(m).description[lang]) for m in metric_ids]
