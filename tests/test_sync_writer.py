"""The sync's writer: pages of concurrent shops share a transaction; a bad page fails alone."""

from __future__ import annotations

import asyncio

import pytest

from shoplens.aio import run_coroutine
from shoplens.errors import SyncError
from shoplens.sync import RESOURCES
from shoplens.sync.archive import RawArchive
from shoplens.sync.resources import ShopRef
from shoplens.sync.writer import PageJob, PageWriter
from shoplens.warehouse import Warehouse

CREATED = 1_763_000_000


def order(order_id: str, shop_id: str) -> dict:
    return {"id": order_id, "status": "AWAITING_SHIPMENT", "create_time": CREATED, "update_time": CREATED + 60,
            "paid_time": CREATED + 60, "user_id": f"buyer-{order_id}",
            "payment": {"currency": "GBP", "sub_total": "12.50", "total_amount": "12.50"},
            "line_items": [{"id": f"{order_id}-1", "product_id": "P1", "sku_id": "K1", "product_name": "Tea",
                            "sale_price": "12.50", "currency": "GBP"}]}


def jobs_for(wh: Warehouse, archive: RawArchive, pages: dict[str, list[dict]], archived: list[str],
             fail: set[str] = frozenset()) -> dict[str, PageJob]:
    """One page of orders per shop, loaded by the real orders loader; a shop in `fail` writes its page, then
    fails (as a page whose later record lacks a required field would)."""
    jobs = {}
    for seq, (shop_id, items) in enumerate(pages.items(), start=1):
        shop = ShopRef(shop_id, "", "GBP", "Europe/London")

        def archive_page(shop_id=shop_id, items=items, seq=seq):
            archived.append(shop_id)
            return archive.append(shop_id=shop_id, resource="orders", run_id="run-1", seq=seq, params=None,
                                  body=None, tag=None, data={"orders": items}, window_end=None, final=True)

        def load(page, shop=shop, items=items):
            counts = RESOURCES["orders"].load(wh, shop, items, None)
            if shop.shop_id in fail:
                raise SyncError(f"orders page of {shop.shop_id}: an order without its id")
            return counts

        jobs[shop_id] = PageJob(archive_page, load)
    return jobs


async def submit_together(writer: PageWriter, jobs: dict[str, PageJob]) -> dict[str, object]:
    results = await asyncio.gather(*(writer.page(job) for job in jobs.values()), return_exceptions=True)
    return dict(zip(jobs, results, strict=True))


def test_pages_that_wait_together_load_in_one_transaction(tmp_path):
    wh = Warehouse(tmp_path / "w.duckdb")
    pages = {f"S{n}": [order(f"O{n}-{k}", f"S{n}") for k in range(3)] for n in range(6)}
    archived: list[str] = []
    writer = PageWriter(wh)
    jobs = jobs_for(wh, RawArchive(tmp_path / "raw"), pages, archived)
    results = run_coroutine(lambda: submit_together(writer, jobs))
    assert writer.groups == [6]  # the six shops' pages waited together: one group, one commit
    assert results == {shop_id: (3, 0) for shop_id in pages}  # each page's own counts: 3 inserted
    assert sorted(archived) == sorted(pages)
    assert wh.count("orders") == 18 and wh.count("order_line_items") == 18
    # every row carries its own page, not the group's first or last
    stamped = wh.rows("SELECT o.shop_id, p.shop_id FROM orders o JOIN raw_pages p ON p.run_id = o.page_run "
                      "AND p.seq = o.page_seq")
    assert len(stamped) == 18 and all(own == page for own, page in stamped)


def test_a_bad_page_fails_alone_and_leaves_nothing_while_its_group_loads(tmp_path):
    wh = Warehouse(tmp_path / "w.duckdb")
    pages = {f"S{n}": [order(f"O{n}-{k}", f"S{n}") for k in range(2)] for n in range(4)}
    archived: list[str] = []
    writer = PageWriter(wh)
    jobs = jobs_for(wh, RawArchive(tmp_path / "raw"), pages, archived, fail={"S2"})
    results = run_coroutine(lambda: submit_together(writer, jobs))
    assert isinstance(results["S2"], SyncError) and "S2" in str(results["S2"])
    assert {k: v for k, v in results.items() if k != "S2"} == {"S0": (2, 0), "S1": (2, 0), "S3": (2, 0)}
    # the group was rolled back and its pages loaded one by one: the bad one's rows and page are not there
    assert sorted(r[0] for r in wh.rows("SELECT DISTINCT shop_id FROM orders")) == ["S0", "S1", "S3"]
    assert sorted(r[0] for r in wh.rows("SELECT shop_id FROM raw_pages")) == ["S0", "S1", "S3"]
    assert wh.count("order_line_items") == 6
    assert sorted(archived) == ["S0", "S1", "S2", "S3"]  # each page archived once, the bad one too (replayable)


def test_a_page_alone_keeps_its_error(tmp_path):
    wh = Warehouse(tmp_path / "w.duckdb")
    archived: list[str] = []
    jobs = jobs_for(wh, RawArchive(tmp_path / "raw"), {"S9": [order("O9", "S9")]}, archived, fail={"S9"})
    with pytest.raises(SyncError, match="S9"):
        run_coroutine(lambda: PageWriter(wh).page(jobs["S9"]))
    assert wh.count("orders") == 0 and wh.count("raw_pages") == 0
