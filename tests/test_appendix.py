"""The report appendix on its own: entries for the figures a report registered, record lists that add up
to them, the per-list cap with the command that lists the rest (which then lists them all)."""

import csv
import io
import re
from datetime import date
from decimal import Decimal

from shoplens import metrics
from shoplens.config import warehouse_path
from shoplens.reports import appendix
from shoplens.reports.context import ReportContext, format_value
from shoplens.warehouse import Warehouse

from test_cli import run

PERIOD = (date(2026, 11, 9), date(2026, 11, 15))


def test_a_capped_list_names_the_command_that_lists_every_record(synced, monkeypatch):
    home, sandbox = synced
    shop = sandbox.business.shops[0].id
    monkeypatch.setattr(appendix, "ROWS_PER_LIST", 5)
    with Warehouse(warehouse_path(home), read_only=True) as warehouse:
        report = ReportContext.open("shop_report", shop_id=shop, period=PERIOD, warehouse=warehouse)
        frame = metrics.query(["gmv", "aov"], by=["shop"], shop=shop, period=PERIOD, warehouse=warehouse)
        anchors = [report.figures.register(m, frame.attrs["spec"], frame.iloc[0][m], "THB") for m in ("gmv", "aov")]
        assert report.figures.register("gmv", frame.attrs["spec"]) == anchors[0]  # one entry per figure
        page = appendix.appendix_html(report.figures, warehouse, "en", format_value)
    assert [a for a in re.findall(r'<article class="sl-def" id="([^"]+)"', page)] == anchors
    # GMV's orders are listed once, though AOV's numerator is GMV too
    assert page.count('data-metric="gmv" data-count=') == 1 and page.count('data-metric="orders" data-count=') == 1
    listed = re.search(r'<details class="sl-records" id="sl-rec-1".*?</details>', page, re.DOTALL).group(0)
    count = int(re.search(r'data-count="(\d+)"', listed).group(1))
    assert listed.count("<tr>") == 5 + 1 and f"{count - 5:,} more not listed here" in listed
    command = re.search(r"<code>(shoplens metrics explain gmv [^<]+)</code>", listed).group(1)
    done = run(command.split()[1:], home)
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert len(rows) == count and sum(Decimal(r["value"]) for r in rows) == frame.iloc[0]["gmv"]
