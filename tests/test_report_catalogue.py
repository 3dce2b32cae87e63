"""The report catalogue expands into one job per shop, campaign, LIVE session or once, for a period
given as an ISO week or as dates; mistakes name the input and the fix."""

from datetime import date

import pytest

from shoplens.config import warehouse_path
from shoplens.errors import ReportError
from shoplens.reports.batch import ReportSpec, iso_week, load_catalogue, plan_reports
from shoplens.warehouse import Warehouse

from test_cli import run

WEEK = (date(2026, 11, 9), date(2026, 11, 15))
CATALOGUE = {kind: ReportSpec(kind, "shop_report.ipynb", kind) for kind in ("shop", "campaign", "live", "once")}


@pytest.fixture
def warehouse(synced):
    home, _ = synced
    with Warehouse(warehouse_path(home), read_only=True) as wh:
        yield wh


def test_every_for_each_expands_from_the_warehouse(warehouse, synced, tmp_path):
    _, sandbox = synced
    jobs = plan_reports(warehouse, tmp_path, WEEK, catalogue=CATALOGUE, langs=("en", "zh"))
    by_kind = {kind: [j for j in jobs if j.output_dir.name == kind] for kind in CATALOGUE}
    shops = sorted(s.id for s in sandbox.business.shops)
    assert [j.parameters["shop_id"] for j in by_kind["shop"] if j.parameters["lang"] == "en"] == shops
    lives = {(live.shop_id, live.id) for shop in sandbox.business.shops
             for live in sandbox.business.content[shop.id].lives
             if WEEK[0] <= date.fromtimestamp(live.start) <= WEEK[1]}
    got = {(j.parameters["shop_id"], j.parameters["live_id"]) for j in by_kind["live"] if j.parameters["lang"] == "en"}
    assert lives and abs(len(got) - len(lives)) <= len(shops)  # a session near midnight may fall either side (UTC)
    kinds = {j.parameters["campaign_kind"] for j in by_kind["campaign"]}
    assert kinds == {"ad", "promotion"}  # 11.11 is a promotion in W46, and campaigns spend all week
    assert len(by_kind["once"]) == 2 and "shop_id" not in by_kind["once"][0].parameters
    assert all(j.parameters["start_date"] == "2026-11-09" and j.parameters["end_date"] == "2026-11-15" for j in jobs)
    assert len({(j.output_dir, j.slug) for j in jobs}) == len(jobs)  # no two jobs write the same file


def test_the_shipped_catalogue_loads():
    catalogue = load_catalogue()
    assert "shop_report" in catalogue and all(spec.for_each for spec in catalogue.values())


@pytest.mark.parametrize("text, expected", [("2026-W46", WEEK), ("2026-W1", (date(2025, 12, 29), date(2026, 1, 4)))])
def test_iso_weeks(text, expected):
    assert iso_week(text) == expected


@pytest.mark.parametrize("text", ["2026-46", "2026-W54", "last week"])
def test_bad_weeks_are_refused(text):
    with pytest.raises(ReportError, match="write it like 2026-W46"):
        iso_week(text)


def test_a_bad_catalogue_entry_is_named(tmp_path):
    bad = tmp_path / "reports.toml"
    bad.write_text('[weekly]\nnotebook = "shop_report.ipynb"\nfor_each = "planet"\n')
    with pytest.raises(ReportError, match=r"\[weekly\] for_each = 'planet'; use one of shop, campaign, live, once"):
        load_catalogue(bad)
    bad.write_text('[ghost]\nnotebook = "ghost.ipynb"\nfor_each = "shop"\n')
    with pytest.raises(ReportError, match="names notebooks/ghost.ipynb, which does not exist"):
        load_catalogue(bad)


@pytest.mark.parametrize("args, message", [
    (["reports", "run", "--week", "2026-W46", "--report", "nope"], "unknown report 'nope'; known reports: shop_report"),
    (["reports", "run", "--week", "46"], "--week '46' is not an ISO week"),
    (["reports", "run", "--week", "2026-W46", "--since", "2026-11-01"], "give --week or --since/--until"),
])
def test_reports_run_mistakes(synced, args, message):
    home, _ = synced
    done = run(args, home)
    assert done.returncode == 1 and message in done.stderr, done.stderr
