"""The rollups (order and line-item facts summed per shop, currency and 15-minute bucket) give what the
facts give: every metric they serve, by every grouping they serve, under every policy, equal to the same
query compiled without them, on a synced sandbox warehouse; and the compiler reads them only then."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pandas as pd
import pytest

from shoplens.config import warehouse_path
from shoplens.metrics.api import run_compiled
from shoplens.metrics.catalogue import SOURCES, Catalogue, Policies
from shoplens.metrics.compiler import QuerySpec, compile_query
from shoplens.warehouse import Warehouse

WITH = Catalogue()
WITHOUT = Catalogue(sources={k: replace(v, rollup=None) for k, v in SOURCES.items()})
ROLLED = [m.id for m in WITH.metrics if m.source in ("orders", "line_items")]
PERIOD = (date(2026, 10, 20), date(2026, 11, 16))  # across the US and EU changes of clocks


@pytest.fixture(scope="module")
def wh(synced):
    home, _ = synced
    with Warehouse(warehouse_path(home), read_only=True) as warehouse:
        yield warehouse


def both(wh, spec: QuerySpec) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    rolled = compile_query(spec, WITH)
    return run_compiled(wh, rolled), run_compiled(wh, compile_query(spec, WITHOUT)), rolled.sql


def ordered(frame: pd.DataFrame) -> pd.DataFrame:
    keys = [c for c in ("shop", "region", "currency", "day", "week", "month") if c in frame.columns]
    return frame.sort_values(keys).reset_index(drop=True) if keys else frame


@pytest.mark.parametrize("policies", [
    Policies(), Policies(timezone="shop"), Policies(timezone="America/Los_Angeles", gmv_price="buyer"),
    Policies(timezone="Asia/Kolkata", gmv_basis="placed", include_cancelled=True), Policies(timezone="Asia/Kathmandu", currency="USD"),
    Policies(timezone="Europe/London", currency="EUR")], ids=lambda p: f"{p.timezone}-{p.gmv_price}-{p.gmv_basis}-{p.currency}")
@pytest.mark.parametrize("by", [("shop", "day"), ("region", "day"), ("day",), ("shop", "week"),
                                ("month",), ("shop",), ()], ids=lambda by: "+".join(by) or "total")
def test_every_metric_the_rollups_serve_equals_the_facts(wh, policies, by):
    spec = QuerySpec(tuple(ROLLED), by=by, period=PERIOD, policies=policies)
    rolled, facts, sql = both(wh, spec)
    assert len(facts) > 0 and facts[["gmv", "orders", "units"]].abs().sum().sum() > 0
    pd.testing.assert_frame_equal(ordered(rolled), ordered(facts))
    # distinct buyers by sequence need the day (and the sequence's own filters): else order_facts is read
    assert ("order_rollup" in sql) == ("day" in by and policies.gmv_basis == "paid") and "line_item_rollup" in sql


def test_by_day_the_rollups_serve_distinct_buyers_and_a_comparison(wh):
    spec = QuerySpec(("buyers", "gmv", "aov", "units", "cogs"), by=("shop", "day"), period=PERIOD,
                     compare="previous", policies=Policies(timezone="shop"))
    rolled, facts, sql = both(wh, spec)
    assert facts["buyers"].sum() > 0 and facts["buyers"].sum() < compile_count(wh, "orders")
    pd.testing.assert_frame_equal(ordered(rolled), ordered(facts))
    assert "order_facts" not in sql and "line_item_facts" not in sql


def compile_count(wh, metric: str) -> int:
    spec = QuerySpec((metric,), by=(), period=PERIOD)
    return int(run_compiled(wh, compile_query(spec, WITH))[metric].iloc[0])


@pytest.mark.parametrize("spec", [
    QuerySpec(("gmv",), by=("shop", "day"), period=PERIOD, where=(("channel", ("affiliate",)),)),
    QuerySpec(("units", "cogs"), by=("product",), period=PERIOD),
    QuerySpec(("gmv", "orders"), by=("creator", "day"), period=PERIOD),
], ids=["filtered-by-channel", "by-product", "by-creator"])
def test_what_the_rollups_do_not_keep_is_read_from_the_facts(wh, spec):
    rolled, facts, sql = both(wh, spec)
    pd.testing.assert_frame_equal(ordered(rolled), ordered(facts))
    assert "order_rollup" not in sql and "line_item_rollup" not in sql
