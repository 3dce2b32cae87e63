"""The report appendix on its own: entries for the figures a report registered, record lists that add up
to them, the per-list cap with the command that lists the rest (which then lists them all)."""

import csv
import io
import re
from datetime import date
from decimal import Decimal

from shoplens import metrics
from shoplens.config import warehouse_path
from shoplens.metrics.compiler import compile_record_lists
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


def test_record_lists_in_one_query_are_each_measures_own_records(synced):
    """`compile_record_lists` (the appendix's one query) gives, per measure, the first records of
    `compile_records` with a value, and the count, total and currency of all of them."""
    home, sandbox = synced
    shop = sandbox.business.shops[0].id
    catalogue = metrics.default_catalogue()
    specs = [metrics.QuerySpec((m,), by=by, period=PERIOD, shops=(shop,))
             for m, by in (("gmv", ("shop",)), ("units", ("product",)), ("buyers", ("shop",)),
                           ("refund_amount", ("shop",)), ("page_views", ("shop", "day")))]
    limit = 7
    with Warehouse(warehouse_path(home), read_only=True) as warehouse:
        lists = warehouse.frame(compile_record_lists(specs, catalogue, limit=limit).sql)
        for n, spec in enumerate(specs):
            records = metrics.compile_records(spec, catalogue)
            alone = warehouse.frame(records.sql, records.params)
            alone = alone[alone.value != 0]
            mine = lists[lists.list == n]
            assert len(alone), spec.metrics  # each list has records in the sandbox's week
            assert list(mine.record) == list(alone.record[:limit]) and list(mine.value) == list(alone.value[:limit])
            assert set(mine.list_count) == {len(alone)} and set(mine.list_total) == {sum(alone.value)}
            if catalogue.get(spec.metrics[0]).unit == "money":
                currencies = sorted(set(alone.currency))
                assert set(mine.list_currency_lo) == {currencies[0]} and set(mine.list_currency_hi) == {currencies[-1]}
