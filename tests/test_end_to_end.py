"""Sandbox on an ephemeral port -> sync over HTTP -> papermill report in a real kernel -> built-in
HTML -> headless Chromium. The GMV the report prints is checked against the sandbox's own data."""

import json
import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from shoplens.render import render_job
from shoplens.reports.batch import plan_shop_reports, run_batch
from shoplens.render import write_index
from shoplens.warehouse import Warehouse

from browsing import open_offline, wait_for_charts
from oracle import expected_gmv

PERIOD = (date(2026, 11, 9), date(2026, 11, 15))


@pytest.fixture(scope="module")
def batch(synced):
    home, sandbox = synced
    with Warehouse(home / "data" / "shoplens.duckdb", read_only=True) as wh:
        jobs = plan_shop_reports(wh, home / "reports", PERIOD, lang="en")
        jobs += plan_shop_reports(wh, home / "reports", PERIOD, lang="zh", shops=[sandbox.business.shops[0].id])
    result = run_batch(jobs, home=home, reports_dir=home / "reports", render=render_job)
    write_index(home / "reports")
    return home, sandbox, result


def test_every_shop_gets_a_report_and_the_batch_succeeds(batch):
    home, sandbox, result = batch
    assert [o.status for o in result.outcomes] == ["ok"] * 4
    slugs = {o.job.slug for o in result.outcomes}
    assert {s.id for s in sandbox.business.shops} <= slugs
    manifest = json.loads(result.manifest.read_text())
    assert all(entry["outputs"]["html"].endswith(".html") for entry in manifest["reports"])


def test_report_opens_offline_with_charts_drawn_and_exact_gmv(batch, browser):
    home, sandbox, result = batch
    for outcome in result.outcomes:
        shop_id = outcome.job.parameters["shop_id"]
        page, errors, remote = open_offline(browser, outcome.job.html_path)
        wait_for_charts(page)
        assert errors == [] and remote == []
        executed = json.loads(outcome.job.executed_path.read_text())
        figures = sum("application/vnd.plotly.v1+json" in out.get("data", {})
                      for cell in executed["cells"] for out in cell.get("outputs", []))
        assert figures >= 4 and page.locator(".plotly-graph-div").count() == figures  # every chart made it
        assert page.locator(".plotly-graph-div .bars path").count() > 0  # the bars really drew
        cell = page.locator('table.sl-kpis tr[data-metric="gmv"]')
        assert Decimal(cell.get_attribute("data-value")) == expected_gmv(sandbox, shop_id, PERIOD)
        shown = cell.locator("td").first.inner_text()
        assert re.sub(r"[^\d.]", "", shown) == f"{expected_gmv(sandbox, shop_id, PERIOD):.2f}"
        assert page.locator("pre").count() == 0 or "Traceback" not in page.content()
        assert page.locator(".jp-InputArea").count() == 0  # code hidden
        page.close()


def test_chinese_report_has_chinese_headings(batch, browser):
    home, sandbox, result = batch
    zh = next(o for o in result.outcomes if o.job.parameters["lang"] == "zh")
    page, errors, _ = open_offline(browser, zh.job.html_path)
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    headings = page.locator("h2").all_inner_texts()
    assert "核心指标" in headings and "指标说明" in headings
    assert errors == []
    page.close()


def test_a_shop_report_contains_no_other_shop(batch):
    home, sandbox, result = batch
    for outcome in result.outcomes:
        mine = outcome.job.parameters["shop_id"]
        text = outcome.job.html_path.read_text(encoding="utf-8") + outcome.job.executed_path.read_text(encoding="utf-8")
        for shop in sandbox.business.shops:
            if shop.id != mine:
                assert shop.id not in text and shop.name not in text and shop.cipher not in text
                gmv = expected_gmv(sandbox, shop.id, PERIOD)  # nor its numbers
                assert f"{gmv:,.2f}" not in text and f'"{gmv:.4f}"' not in text


def test_no_secret_reaches_notebooks_reports_or_the_manifest(batch):
    home, sandbox, result = batch
    secret = sandbox.gate.app_secret
    tokens = [g.access_token for g in sandbox.gate._grants.values()] + [g.refresh_token for g in
                                                                         sandbox.gate._grants.values()]
    assert tokens
    for path in (home / "reports").rglob("*"):
        if path.is_file():
            content = path.read_text(encoding="utf-8", errors="replace")
            assert secret not in content, path
            assert not any(token in content for token in tokens), path
    assert not (home / ".shoplens").exists()  # the sandbox flow keeps tokens in memory


def test_index_links_every_report_and_works_from_disk(batch, browser):
    home, sandbox, result = batch
    page, errors, remote = open_offline(browser, home / "reports" / "index.html")
    links = page.locator("a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    for outcome in result.outcomes:
        assert str(outcome.job.html_path.relative_to(home / "reports")) in links
    page.fill("#filter", sandbox.business.shops[1].id)
    visible = page.locator("tr.sl-row:visible")
    assert visible.count() == 1
    assert errors == [] and remote == []
    page.close()


def test_period_defaults_cover_the_week_with_11_11(batch):
    assert PERIOD[1] - PERIOD[0] == timedelta(days=6) and PERIOD[0].isoweekday() == 1
