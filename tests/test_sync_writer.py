"""The sync's writer: pages of concurrent shops share a transaction; a bad page fails alone."""

from __future__ import annotations

import asyncio

import pytest

from shoplens.aio import run_coroutine
from shoplens.errors import SyncError
from shoplens.sync import RESOURCES
from shoplens.sync.archive import RawArchive
from shoplens.sync.resources import ShopRef
from shoplens.sync.writer import PageJob, PageWriter, load_group
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


# --- pages loaded together: one statement per table for a group's pages of one resource ---------------------
def affiliate(order_id: str, skus: int) -> dict:
    return {"id": order_id, "status": "COMPLETED", "create_time": CREATED,
            "skus": [{"product_id": f"P{n}", "price": {"amount": "5.00", "currency": "GBP"},
                      "creator_username": "maya", "commission_rate": "1000"} for n in range(skus)]}


def group_jobs(wh: Warehouse, archive: RawArchive, pages: list[tuple[str, str, list[dict]]], run_id: str, *,
               together: bool, calls: list[int]) -> list[PageJob]:
    """A group of pages (shop, resource, items) with the real loaders; `together`: as the sync's writer
    loads them (`ResourceSpec.load_pages`, each call's page count noted in `calls`), else each by `load`."""
    loaders = {}

    def loader(spec):
        def load_pages(wh, parts):
            calls.append(len(parts))
            return spec.load_pages(wh, parts)
        return loaders.setdefault(spec.name, load_pages)  # one callable per resource: the writer's batch key

    jobs = []
    for seq, (shop_id, resource, items) in enumerate(pages, start=1):
        shop, spec = ShopRef(shop_id, "", "GBP", "Europe/London"), RESOURCES[resource]

        def archive_page(shop_id=shop_id, resource=resource, items=items, seq=seq):
            return archive.append(shop_id=shop_id, resource=resource, run_id=run_id, seq=seq, params=None,
                                  body=None, tag=None, data={"items": items}, window_end=None, final=True)

        def load(page, shop=shop, items=items, spec=spec):
            return spec.load(wh, shop, items, None)

        jobs.append(PageJob(archive_page, load, (loader(spec), (shop, items, None)) if together else None))
    return jobs


def state(wh: Warehouse) -> dict[str, list[tuple]]:
    """What the loads wrote, but the clock's times (when a row was synced, when a page was archived)."""
    tables = ("orders", "order_line_items", "order_fulfilment", "affiliate_order_items", "raw_pages", "fact_changes")
    columns = {t: [c for (c,) in wh.rows("SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                                         "ORDER BY ordinal_position", [t]) if c not in ("synced_at", "fetched_at")]
               for t in tables}
    return {t: wh.rows(f"SELECT DISTINCT {', '.join(columns[t])} FROM {t} ORDER BY ALL") for t in tables}


def test_a_groups_pages_loaded_together_equal_the_same_pages_loaded_one_by_one(tmp_path):
    """The orders and affiliate pages of a group go in one call per resource (a statement per table for all
    of them); what they write (rows, each stamped with its own page, stale children dropped, keys marked for
    the facts) and each page's counts equal loading them page after page, including an order in two pages
    of one group (the later page wins, as it would alone)."""
    def first(n):  # what the warehouse holds before: orders of two line items, affiliate orders of two SKUs
        return [("S0", "orders", [dict(order(f"O{k}", "S0"), line_items=[*order(f"O{k}", "S0")["line_items"],
                 {"id": f"O{k}-2", "product_id": "P2", "sku_id": "K2", "sale_price": "3.00", "currency": "GBP"}])
                                  for k in range(n)]),
                ("S1", "affiliate_orders", [affiliate(f"A{k}", 2) for k in range(n)])]

    changed = dict(order("O1", "S0"), status="IN_TRANSIT", update_time=CREATED + 600)  # line item O1-2 dropped
    group = [("S2", "orders", [order("O9", "S2"), order("O8", "S2")]),
             ("S3", "affiliate_orders", [affiliate("A9", 2)]),
             ("S0", "orders", [order("O0", "S0"), changed, order("O5", "S0")]),  # O0 unchanged but O0-2 dropped
             ("S1", "affiliate_orders", [affiliate("A0", 1), affiliate("A7", 3)]),
             ("S1", "orders", [order("O7", "S1")])]
    extra = {"id": "O2-9", "product_id": "P9", "sku_id": "K9", "sale_price": "1.00", "currency": "GBP"}
    repeated = [  # O2 in both pages: the second page wins, the line item only the first sent is dropped
        ("S0", "orders", [dict(order("O2", "S0"), status="IN_TRANSIT",
                               line_items=[*order("O2", "S0")["line_items"], extra])]),
        ("S0", "orders", [dict(order("O2", "S0"), status="COMPLETED")])]
    outcomes, states, calls = {}, {}, {}
    for together in (False, True):
        wh = Warehouse(tmp_path / f"{together}.duckdb")
        archive = RawArchive(tmp_path / f"raw-{together}")
        calls[together] = []
        results = []
        for run_id, pages in (("run-1", first(3)), ("run-2", group), ("run-3", repeated)):
            outcome = load_group(wh, group_jobs(wh, archive, pages, run_id, together=together, calls=calls[together]))
            assert all(ok for ok, _ in outcome), outcome
            results.append([value for _, value in outcome])
        outcomes[together], states[together] = results, state(wh)
    assert calls[False] == [] and calls[True] == [1, 1, 3, 2, 2]  # per group, one call per resource
    assert outcomes[True] == outcomes[False]
    assert outcomes[True][1] == [(2, 0), (2, 0), (1, 1), (3, 0), (1, 0)]  # O0 and A0's first SKU re-read unchanged
    assert states[True] == states[False]
    wh = Warehouse(tmp_path / "True.duckdb")
    assert wh.rows("SELECT status FROM orders WHERE order_id = 'O2'") == [("COMPLETED",)]
    assert wh.rows("SELECT line_item_id FROM order_line_items WHERE order_id = 'O2'") == [("O2-1",)]
    assert wh.rows("SELECT line_item_id FROM order_line_items WHERE order_id IN ('O0', 'O1') ORDER BY 1") == [
        ("O0-1",), ("O1-1",)]  # the line items the API no longer sends
    assert wh.rows("SELECT item_key FROM affiliate_order_items WHERE order_id = 'A0'") == [("A0:0",)]
    # every row stamped with its own page, not the group's first or last
    stamped = wh.rows("SELECT o.order_id, p.shop_id, o.shop_id FROM orders o JOIN raw_pages p "
                      "ON p.run_id = o.page_run AND p.seq = o.page_seq")
    assert len(stamped) == wh.count("orders") and all(page == own for _, page, own in stamped)


def test_a_bad_page_loaded_together_fails_alone(tmp_path):
    wh = Warehouse(tmp_path / "w.duckdb")
    bad = [{k: v for k, v in order("O3", "S2").items() if k != "id"}]
    pages = [("S1", "orders", [order("O1", "S1")]), ("S2", "orders", bad), ("S3", "orders", [order("O2", "S3")])]
    calls: list[int] = []
    outcome = load_group(wh, group_jobs(wh, RawArchive(tmp_path / "raw"), pages, "run-1", together=True, calls=calls))
    assert [ok for ok, _ in outcome] == [True, False, True] and "id" in str(outcome[1][1])
    assert calls == [3]  # tried together first, then page by page
    assert sorted(r[0] for r in wh.rows("SELECT shop_id FROM raw_pages")) == ["S1", "S3"]
    assert wh.rows("SELECT order_id FROM orders ORDER BY 1") == [("O1",), ("O2",)]


def test_archived_lines_stay_right_across_other_writers_and_torn_members(tmp_path):
    """An append numbers its line without reading the file again when this process knows the file at its
    size; a file grown by another process, with a member torn by a kill, is counted again."""
    import gzip
    import json

    def append(archive: RawArchive, seq: int):
        return archive.append(shop_id="S1", resource="orders", run_id="run-1", seq=seq, params=None, body=None,
                              tag=None, data={"orders": [order(f"O{seq}", "S1")]}, window_end=None, final=True)

    archive = RawArchive(tmp_path / "raw")
    pages = [append(archive, 1), append(archive, 2)]
    path = tmp_path / "raw" / pages[0].file
    record = archive.read_line(pages[0].file, 1) | {"run_id": "run-0", "seq": 3}
    other = gzip.compress((json.dumps(record) + "\n").encode())
    with open(path, "ab") as handle:  # another process's page, then one it was killed writing
        handle.write(other + other[:-5])
    pages += [append(archive, 4), append(RawArchive(tmp_path / "raw"), 5), append(archive, 6)]
    assert [p.line for p in pages] == [1, 2, 4, 5, 6]
    assert [archive.read_line(p.file, p.line)["seq"] for p in pages] == [1, 2, 4, 5, 6]
    assert [r["seq"] for _, r in archive.pages()] == [3, 1, 2, 4, 5, 6]  # run-0 sorts first
