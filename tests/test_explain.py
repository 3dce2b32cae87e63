"""`metrics.explain` and `shoplens metrics explain`: for every metric of the catalogue, the records the
compiler lists add up to the figure it computes (per group, per part of a ratio), under filters and
policies; on a synced sandbox each record points at the archive line that really holds it."""

import csv
import io
import json
from decimal import Decimal

import pytest

from shoplens.config import warehouse_path
from shoplens.errors import MetricError
from shoplens.metrics import CATALOGUE, Policies
from shoplens.metrics.explain import explain
from shoplens.sync.archive import RawArchive
from shoplens.warehouse import Warehouse

from test_cli import run
from test_metrics import TH_NOV9_11, wh  # noqa: F401  (the hand-built warehouse fixture)

PERIOD = ("2026-11-09", "2026-11-11")
# (by, policies, where) a metric is explained under, where its dimensions allow
VARIANTS = [
    ((), Policies(), None),
    (("day",), Policies(timezone="shop"), None),
    (("creator",), Policies(include_cancelled=True, gmv_price="buyer"), None),
    (("shop", "week"), Policies(gmv_basis="placed", refunds_by="order_date", commission_deducted=True), None),
    (("day",), Policies(), {"channel": "affiliate"}),
]


@pytest.mark.parametrize("metric", [m.id for m in CATALOGUE])
def test_records_add_up_to_the_figure_for_every_metric(wh, metric):  # noqa: F811
    from shoplens.metrics import default_catalogue

    catalogue = default_catalogue()
    tried = 0
    for by, policies, where in VARIANTS:
        allowed = catalogue.dimensions_of(metric)
        if not set(by) <= set(allowed) or not set(where or {}) <= set(allowed):
            continue
        result = explain(metric, by=by, period=PERIOD, policies=policies, where=where, warehouse=wh)
        totals = result.totals()
        assert len(totals) and totals.agrees.all(), (by, policies, where, totals)
        assert result.records.counted.all()
        tried += 1
    assert tried >= 2


@pytest.mark.parametrize("metric, expected", [
    # kind measure: o1 100 + o2 50.50 + o5 19.50 (o3 cancelled, o4 unpaid are not counted)
    ("gmv", {"": {"o1": Decimal("100.00"), "o2": Decimal("50.50"), "o5": Decimal("19.50")}}),
    # a distinct count: b1 bought twice (o1, o2); its first order counts 1, the second 0
    ("buyers", {"": {"o1": 1, "o2": 0, "o5": 1}}),
    # a sum: net GMV = GMV - refunds: r1's 40 comes in negative
    ("net_gmv", {"": {"o1": Decimal("100.00"), "o2": Decimal("50.50"), "o5": Decimal("19.50"),
                      "r1": Decimal("-40.00")}}),
    # a ratio: AOV's numerator (GMV) and denominator (orders), each record once
    ("aov", {"numerator": {"o1": Decimal("100.00"), "o2": Decimal("50.50"), "o5": Decimal("19.50")},
             "denominator": {"o1": 1, "o2": 1, "o5": 1}}),
])
def test_each_record_contributes_what_the_hand_count_says(wh, metric, expected):  # noqa: F811
    result = explain(metric, **TH_NOV9_11, warehouse=wh)
    got: dict = {}
    for r in result.records.itertuples():
        got.setdefault(r.part, {})[r.record] = r.value
    assert got == expected


def test_excluded_records_say_why(wh):  # noqa: F811
    result = explain("gmv", **TH_NOV9_11, excluded=True, warehouse=wh)
    why = {r.record: (r.counted, r.value, r.reason) for r in result.records.itertuples()}
    assert why["o3"] == (False, 0, "cancelled") and why["o4"] == (False, 0, "not paid")
    assert why["o1"][:2] == (True, Decimal("100.00"))
    assert result.adds_up()  # the excluded add nothing
    refunds = explain("refund_amount", shop="th", period=("2026-11-10", "2026-11-11"), excluded=True, warehouse=wh)
    assert {r.record: r.reason for r in refunds.records.itertuples() if not r.counted} == {"r2": "refund not completed"}


def test_converted_records_add_up_to_the_figure_to_its_last_digit(wh):  # noqa: F811
    result = explain("gmv", by=["day"], shop="th", period=("2026-11-09", "2026-11-10"),
                     policies=Policies(currency="USD"), warehouse=wh)
    assert result.adds_up() and set(result.records.currency) == {"USD"}
    # Nov 10: o2 50.50 and o5 19.50 THB at 1.25 / 38 each
    nov10 = result.records[result.records.day.astype(str) == "2026-11-10"]
    assert sorted(round(v, 6) for v in nov10.value) == [round(19.5 * 1.25 / 38, 6), round(50.5 * 1.25 / 38, 6)]


def test_the_sql_shown_is_the_sql_that_gives_the_figure(wh):  # noqa: F811
    result = explain("roi", by=["day"], **TH_NOV9_11, warehouse=wh)
    rerun = wh.frame(result.sql)  # parameters written in: runs as printed
    assert rerun.fillna(-1).equals(result.figure.fillna(-1))  # Nov 11: no marketing cost, no ROI
    assert len(wh.frame(result.records_sql)) == len(result.records)


@pytest.mark.parametrize("kwargs, message", [
    ({"metric": "revenue"}, "unknown metric 'revenue'"),
    ({"metric": "gmv", "by": ["campaign"]}, "cannot be broken down by 'campaign'"),
    ({"metric": "gmv", "shop": "nope"}, "unknown shop id 'nope'; known shop ids: gb, th, us"),
])
def test_explaining_the_wrong_thing_names_it(wh, kwargs, message):  # noqa: F811
    with pytest.raises(MetricError, match=message.replace("(", r"\(").replace(")", r"\)")):
        explain(**kwargs, warehouse=wh)


def test_on_the_sandbox_every_record_points_at_the_archive_line_that_holds_it(synced):
    home, _ = synced
    archive = RawArchive(home / "data" / "raw")
    with Warehouse(warehouse_path(home), read_only=True) as warehouse:
        for metric, items, key in (("gmv", "orders", "id"), ("refund_amount", "return_orders", "return_id"),
                                   ("units", "orders", "id"), ("visitors", None, None)):
            result = explain(metric, by=["shop"], period=("2026-11-02", "2026-11-15"), warehouse=warehouse)
            assert result.adds_up() and len(result.records) > 0, metric
            for r in result.records.sample(min(25, len(result.records)), random_state=1).itertuples():
                assert r.archive_file.startswith("data/raw/") and r.sync_run
                page = archive.read_line(r.archive_file.removeprefix("data/raw/"), r.archive_line)
                assert page["run_id"] == r.sync_run and page["shop_id"] == r.shop
                if items is None:  # an analytics day: the page's intervals hold the record's day
                    days = [iv["start_date"] for iv in page["data"]["performance"]["intervals"]]
                    assert str(r.day) in days
                    continue
                held = {str(item[key]): item for item in page["data"][items]}
                record = r.order_id if metric == "units" else r.record
                assert record in held, (metric, r.record)
                if metric == "gmv":  # the line holds the amounts that count
                    payment = held[r.record]["payment"]
                    assert Decimal(payment["sub_total"]) + Decimal(payment["platform_discount"]) == r.value


def test_the_cli_csv_adds_up_to_the_figure_and_json_carries_everything(synced):
    home, _ = synced
    period = ["--since", "2026-11-09", "--until", "2026-11-15"]
    for metric in ("gmv", "net_gmv", "buyers"):
        figure = run(["metrics", "query", metric, "--by", "shop", *period, "--gmv-price", "buyer", "--csv"], home)
        done = run(["metrics", "explain", metric, "--by", "shop", *period, "--gmv-price", "buyer", "--csv"], home)
        assert done.returncode == 0, done.stderr
        records = list(csv.DictReader(io.StringIO(done.stdout)))
        for row in csv.DictReader(io.StringIO(figure.stdout)):
            mine = [Decimal(r["value"]) for r in records if r["shop"] == row["shop"]]
            assert sum(mine, Decimal(0)) == Decimal(row[metric]) and mine
    ratio = run(["metrics", "explain", "aov", "--shop", "7494000000000007001", *period, "--json"], home)
    assert ratio.returncode == 0, ratio.stderr
    data = json.loads(ratio.stdout)
    assert data["metric"] == "aov" and "GMV price" in data["policies"] and data["sql"].startswith("WITH")
    assert all(t["agrees"] for t in data["totals"]) and {r["part"] for r in data["records"]} == {"numerator",
                                                                                               "denominator"}
    shown = run(["metrics", "explain", "gmv", "--shop", "7494000000000007001", *period, "--excluded"], home,
                COLUMNS="200")
    assert shown.returncode == 0, shown.stderr
    for text in ("GMV (gmv)", "GMV price", "SQL the compiler ran", "add up to the figure in 1 of 1 groups",
                 "data/raw/7494000000000007001/orders/", "Records:"):
        assert text in shown.stdout, text
    wrong = run(["metrics", "explain", "gmv,orders"], home)
    assert wrong.returncode == 1 and "explain one metric at a time" in wrong.stderr and "Traceback" not in wrong.stderr


def test_a_warehouse_without_provenance_still_explains(wh):  # noqa: F811
    # rows loaded outside a sync (here by hand) have no archive page: the columns stay empty
    result = explain("gmv", **TH_NOV9_11, warehouse=wh)
    assert result.records.archive_file.isna().all() and result.records.sync_run.isna().all()
    assert result.adds_up() and len(result.records) == 3
