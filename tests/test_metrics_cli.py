"""`shoplens metrics query|glossary`, `shoplens fx load` and `shoplens costs load` as a user runs them,
on a workspace synced from the sandbox over HTTP (which also loads the sandbox's FX rates)."""

import csv
import io
from datetime import date
from decimal import Decimal

import pytest

from shoplens.config import warehouse_path
from shoplens.warehouse import Warehouse

from oracle import expected_gmv
from test_cli import run

PERIOD = (date(2026, 11, 9), date(2026, 11, 15))
SINCE_UNTIL = ["--since", "2026-11-09", "--until", "2026-11-15"]


def rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_query_csv_matches_the_sandbox_by_hand(synced):
    home, sandbox = synced
    done = run(["metrics", "query", "gmv,orders", "aov", "--by", "shop", *SINCE_UNTIL, "--csv"], home)
    assert done.returncode == 0, done.stderr
    got = rows(done.stdout)
    assert [r["shop"] for r in got] == sorted(s.id for s in sandbox.business.shops)
    for r in got:
        assert Decimal(r["gmv"]) == expected_gmv(sandbox, r["shop"], PERIOD)
        assert Decimal(r["aov"]) == (Decimal(r["gmv"]) / int(r["orders"])).quantize(Decimal("0.0001"))


def test_query_in_one_currency_with_the_sandbox_rates(synced):
    home, sandbox = synced
    done = run(["metrics", "query", "gmv", "ad_spend", "roas", "--by", "day", *SINCE_UNTIL, "--currency", "USD",
                "--compare", "previous", "--csv"], home)
    assert done.returncode == 0, done.stderr
    got = rows(done.stdout)
    assert [r["day"] for r in got] == [f"2026-11-{d:02d}" for d in range(9, 16)]  # one row a day, all shops added
    assert {r["currency"] for r in got} == {"USD"}
    assert all(Decimal(r["gmv"]) > 0 and Decimal(r["gmv_previous"]) > 0 for r in got)


def test_query_where_splits_gmv_into_its_channels(synced):
    home, _ = synced
    total, *parts = (rows(run(["metrics", "query", "gmv", "--by", "shop", *SINCE_UNTIL, "--csv", *extra], home).stdout)
                     for extra in ([], ["--where", "channel=affiliate"], ["--where", "channel=own"]))
    for whole, affiliate, own in zip(total, *parts):
        assert Decimal(whole["gmv"]) == Decimal(affiliate["gmv"]) + Decimal(own["gmv"]) > Decimal(affiliate["gmv"]) > 0


def test_query_table_shows_labels_and_policies(synced):
    home, _ = synced
    done = run(["metrics", "query", "gmv", "--by", "shop", "--lang", "zh", "--timezone", "shop", *SINCE_UNTIL], home,
               COLUMNS="300")
    assert done.returncode == 0, done.stderr
    assert "成交金额 (GMV)" in done.stdout and "各店铺当地时区" in done.stdout


def test_query_table_shows_whole_ids_and_formatted_money_in_80_columns(synced):
    home, sandbox = synced
    done = run(["metrics", "query", "gmv", "roas", "--by", "shop", *SINCE_UNTIL, "--compare", "previous"], home,
               COLUMNS="80")
    assert done.returncode == 0, done.stderr
    for shop in sandbox.business.shops:  # never cut to "749400…"
        assert shop.id in done.stdout
        gmv = expected_gmv(sandbox, shop.id, PERIOD)
        assert f"{int(gmv):,}" in done.stdout  # with thousands separators, as the reports show it
    assert "×" in done.stdout and "prev." in done.stdout


@pytest.mark.parametrize("args, message", [
    (["metrics", "query", "gmv", "--by", "planet"], "unknown dimension 'planet'"),
    (["metrics", "query", "gmv", "--currency", "XYZ", *SINCE_UNTIL], "no FX rate for XYZ on 2026-11-"),
    (["metrics", "query", "gmv", "--since", "2026-11-09"], "give both --since and --until"),
    (["metrics", "query", "gmv", "--gmv-basis", "shipped"], "gmv_basis 'shipped' is not one of paid, placed"),
    (["metrics", "query", "gmv", "--where", "channel"], "--where 'channel': write DIMENSION=VALUE"),
    (["costs", "load", "{costs}"], "unknown shop id 'nope'"),
    (["fx", "load", "{bad_rates}"], "row 3, column USD: 'abc' is not a positive rate"),
])
def test_bad_input_gets_one_line_and_loads_nothing(synced, tmp_path, args, message):
    home, _ = synced
    costs = tmp_path / "costs.csv"
    costs.write_text("shop_id,sku_id,currency,unit_cost\nnope,s1,THB,1.00\n")
    bad_rates = tmp_path / "rates.csv"
    bad_rates.write_text("Date,USD,\n2030-01-02,1.1,\n2030-01-01,abc,\n")
    args = [a.format(costs=costs, bad_rates=bad_rates) for a in args]
    before = reference_rows(home)
    done = run(args, home)
    assert done.returncode == 1 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) <= 2
    assert reference_rows(home) == before  # the good rows of a bad file were not loaded either


def reference_rows(home) -> tuple[int, int]:
    with Warehouse(warehouse_path(home), read_only=True) as warehouse:
        return warehouse.count("fx_rates"), warehouse.count("product_costs")


def test_fx_and_costs_load_into_a_workspace(tmp_path):
    rates = tmp_path / "eurofxref-hist.csv"
    rates.write_text("\ufeffDate,USD,THB,\n2026-11-10,1.25,38.0,\n2026-11-09,1.00,N/A,\n")
    done = run(["fx", "load", str(rates)], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "3 new, 0 changed; 2 currencies from 2026-11-09 to 2026-11-10" in done.stdout
    again = run(["fx", "load", str(rates)], tmp_path)
    assert "0 new, 0 changed" in again.stdout  # loading the same file twice changes nothing


def test_glossary_in_chinese_markdown(tmp_path):
    done = run(["metrics", "glossary", "--lang", "zh", "--metric", "gmv,roi"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:2] == ["| 指标 | 定义 |", "|---|---|"]
    assert len(done.stdout.splitlines()) == 4 and "投资回报率 (ROI)" in done.stdout
