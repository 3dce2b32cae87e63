"""Seller Center order exports as sellers download them in several regions and languages: BOM, ids
padded with a tab, local status words, day-first and month-first dates, 12- and 24-hour clocks,
amounts with separators and currency marks, order-level amounts repeated per SKU row. Expected totals
are worked out by hand here; real DuckDB files in temp folders; the CLI run as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest

from exports import HEADER, line, write_csv, write_xlsx
from shoplens.config import warehouse_path
from shoplens.errors import ExportFileError, ShoplensError
from shoplens.imports.formats import COUNTRY_NAMES, STATUS_LABELS, status_of
from shoplens.imports.load import import_exports
from shoplens.imports.parse import CellError, parse_amount, parse_id
from shoplens.warehouse import Warehouse
from shoplens.warehouse.publish import working_path
from shoplens.warehouse.reference import workspace_writer

SHOPLENS = str(Path(sys.executable).with_name("shoplens"))
TH, ID_SHOP, US = "7494000000000000101", "7494000000000000102", "7494000000000000103"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def run_import(home: Path, paths: list[Path], **options):
    with workspace_writer(home) as warehouse:
        return import_exports(warehouse, paths, **options)


def published(home: Path) -> Warehouse:
    return Warehouse(warehouse_path(home), read_only=True)


def snapshot(home: Path) -> dict:
    """Every table an import touches, whole, from the working copy and the published warehouse."""
    tables = ("shops", "orders", "order_line_items", "export_orders", "export_line_items", "export_files",
              "order_facts", "line_item_facts")
    out = {}
    for name, path in (("working", working_path(home)), ("published", warehouse_path(home))):
        if path.exists():
            with Warehouse(path, read_only=True) as wh:
                out[name] = {t: sorted(map(repr, wh.rows(f"SELECT * FROM {t}"))) for t in tables}
    return out


# --- Thailand: BOM, tab-padded ids, Thai status words, DD/MM/YYYY 24-hour, ฿ and thousands separators ---
def thai_rows() -> list[dict]:
    order_1 = dict(Order_ID="577000000000000001", Order_Status="ที่ต้องจัดส่ง", Order_Substatus="รอการรับพัสดุ",
                   Shipping_Fee_After_Discount="40.00", Original_Shipping_Fee="40.00", Taxes="0.00",
                   Order_Amount="฿1,680.00", Order_Refund_Amount="0.00", Created_Time="13/11/2026 20:15:07",
                   Paid_Time="13/11/2026 20:16:45", RTS_Time="14/11/2026 09:30:00", Buyer_Username="somchai_k",
                   Country="Thailand", Payment_Method="COD")
    order_2 = dict(Order_ID="577000000000000002", Order_Status="ยกเลิกแล้ว", Order_Substatus="ยกเลิกแล้ว",
                   Cancelation_Return_Type="Cancel", Shipping_Fee_After_Discount="0", Taxes="0",
                   Order_Amount="599.00", Order_Refund_Amount="฿599.00", Created_Time="14/11/2026 09:02:00",
                   Paid_Time="14/11/2026 09:05:00", Cancelled_Time="14/11/2026 18:00:00", Cancel_By="Buyer",
                   Buyer_Username="nok.p", Country="Thailand")
    return [
        line(**order_1, SKU_ID="1729000000000000011", Seller_SKU="SERUM-30", Product_Name="เซรั่ม Lumi",
             Variation="30ml", Quantity="2", SKU_Unit_Original_Price="700.00", SKU_Subtotal_Before_Discount="1,400.00",
             SKU_Platform_Discount="0.00", SKU_Seller_Discount="110.00", SKU_Subtotal_After_Discount="฿1,290.00"),
        line(**order_1, SKU_ID="1729000000000000012", Seller_SKU="TINT-RED", Product_Name="ลิปทินท์ Nori",
             Variation="Red", Quantity="1", SKU_Unit_Original_Price="350.00", SKU_Subtotal_Before_Discount="350.00",
             SKU_Platform_Discount="0.00", SKU_Seller_Discount="0.00", SKU_Subtotal_After_Discount="350.00"),
        line(**order_2, SKU_ID="1729000000000000013", Seller_SKU="CASE-BLK", Product_Name="เคสโทรศัพท์",
             Variation="Black", Quantity="1", SKU_Unit_Original_Price="599.00", SKU_Subtotal_Before_Discount="599.00",
             SKU_Seller_Discount="0", SKU_Subtotal_After_Discount="599.00"),
    ]


def test_a_thai_export_loads_with_order_amounts_counted_once(tmp_path):
    export = write_csv(tmp_path / "th_orders.csv", thai_rows())
    assert export.read_bytes().startswith(b"\xef\xbb\xbf") and b"577000000000000001\t" in export.read_bytes()
    summary = run_import(tmp_path, [export], shop_id=TH, region="TH")
    assert summary.shop_registered and (summary.exports_new, summary.orders_new, summary.api_kept) == (2, 2, 0)
    assert [(f.rows, f.orders, f.date_format) for f in summary.files] == [(3, 2, "DMY")]
    with published(tmp_path) as wh:
        rows = wh.rows("SELECT order_id, status, status_label, create_time, paid_time, cancel_time, sub_total, "
                       "shipping_fee, seller_discount, total_amount, refund_amount, buyer_username, source, source_row "
                       "FROM export_orders ORDER BY order_id")
        assert rows == [
            # 1,290.00 + 350.00 of SKUs; shipping 40 and the order amount 1,680 counted once, not per row
            ("577000000000000001", "AWAITING_COLLECTION", "ที่ต้องจัดส่ง", utc(2026, 11, 13, 13, 15, 7),
             utc(2026, 11, 13, 13, 16, 45), None, Decimal("1640.00"), Decimal("40.00"), Decimal("110.00"),
             Decimal("1680.00"), Decimal("0.00"), "somchai_k", "export:th_orders.csv", 2),
            ("577000000000000002", "CANCELLED", "ยกเลิกแล้ว", utc(2026, 11, 14, 2, 2), utc(2026, 11, 14, 2, 5),
             utc(2026, 11, 14, 11, 0), Decimal("599.00"), Decimal("0.00"), Decimal("0.00"), Decimal("599.00"),
             Decimal("599.00"), "nok.p", "export:th_orders.csv", 4),
        ]
        # order amounts summed over orders: 1,680 + 599, not 1,680 twice + 599
        assert wh.rows("SELECT sum(total_amount), sum(sub_total) FROM orders")[0] == (Decimal("2279.00"),
                                                                                      Decimal("2239.00"))
        assert wh.rows("SELECT DISTINCT source FROM orders") == [("export:th_orders.csv",)]
        assert wh.rows("SELECT buyer_id FROM orders ORDER BY order_id") == [("username:somchai_k",), ("username:nok.p",)]
        # one line item per unit, as the API has them: 2 x 645 (1,290 / 2), then 350; and 599
        units = wh.rows("SELECT line_item_id, sku_id, original_price, sale_price, seller_discount "
                        "FROM order_line_items ORDER BY line_item_id")
        assert units == [
            ("export:577000000000000001:1:1", "1729000000000000011", Decimal("700.00"), Decimal("645.00"), Decimal("55.00")),
            ("export:577000000000000001:1:2", "1729000000000000011", Decimal("700.00"), Decimal("645.00"), Decimal("55.00")),
            ("export:577000000000000001:2:1", "1729000000000000012", Decimal("350.00"), Decimal("350.00"), Decimal("0.00")),
            ("export:577000000000000002:1:1", "1729000000000000013", Decimal("599.00"), Decimal("599.00"), Decimal("0.00")),
        ]
        assert wh.rows("SELECT count(*), sum(quantity) FROM export_line_items")[0] == (3, 4)
        # the metric facts were refreshed in the same write
        assert wh.rows("SELECT count(*), sum(sub_total) FILTER (WHERE NOT cancelled) FROM order_facts")[0] == (
            2, Decimal("1640.00"))
        assert wh.count("line_item_facts") == 4
        assert wh.rows("SELECT region, currency, timezone, source FROM shops") == [("TH", "THB", "Asia/Bangkok", "export")]
        # personal data in the file never reaches the warehouse
        everything = repr([wh.rows(f"SELECT * FROM {t}") for t in ("orders", "order_line_items", "export_orders",
                                                                    "export_line_items")])
        assert "N*** S***" not in everything and "81*****12" not in everything and "Road" not in everything


def test_the_same_file_again_changes_nothing_and_an_edited_one_changes_its_order(tmp_path):
    export = write_csv(tmp_path / "th_orders.csv", thai_rows())
    run_import(tmp_path, [export], shop_id=TH, region="TH")
    before = snapshot(tmp_path)
    again = run_import(tmp_path, [export], shop_id=TH)
    assert again.files[0].imported_before and (again.exports_new, again.exports_changed) == (0, 0)
    assert snapshot(tmp_path) == before
    edited = thai_rows()
    edited[2]["Order Refund Amount"] = "0.00"  # the cancelled order, later: refund reversed
    edited[2]["Order Status"] = "ยกเลิกแล้ว"
    summary = run_import(tmp_path, [write_csv(tmp_path / "th_orders_2.csv", edited)], shop_id=TH)
    assert (summary.exports_new, summary.exports_changed, summary.orders_changed) == (0, 2, 2)  # source changes
    with published(tmp_path) as wh:
        assert wh.rows("SELECT order_id, refund_amount, source FROM export_orders ORDER BY 1") == [
            ("577000000000000001", Decimal("0.00"), "export:th_orders_2.csv"),
            ("577000000000000002", Decimal("0.00"), "export:th_orders_2.csv")]
        assert wh.count("order_line_items") == 4 and wh.count("export_line_items") == 3
    shorter = thai_rows()[:1] + thai_rows()[2:]  # order 1 without its second SKU row now
    run_import(tmp_path, [write_csv(tmp_path / "th_orders_3.csv", shorter)], shop_id=TH)
    with published(tmp_path) as wh:
        assert wh.rows("SELECT order_id, count(*) FROM export_line_items GROUP BY 1 ORDER BY 1") == [
            ("577000000000000001", 1), ("577000000000000002", 1)]
        assert wh.rows("SELECT count(*), sum(sale_price) FROM order_line_items WHERE order_id = '577000000000000001'")[
            0] == (2, Decimal("1290.00"))
        assert wh.rows("SELECT sub_total FROM orders WHERE order_id = '577000000000000001'")[0][0] == Decimal("1290.00")


# --- Indonesia: Indonesian words, "Rp 149.000" (dots group thousands), a row 2 describing the columns ---
def test_an_indonesian_export_with_a_description_row_and_rupiah(tmp_path):
    base = dict(Order_Status="Dikirim", Order_Substatus="Dalam perjalanan", Country="Indonesia",
                Shipping_Fee_After_Discount="Rp 12.000", Order_Refund_Amount="Rp 0")
    rows = [
        line(**base, Order_ID="578000000000000001", SKU_ID="1730000000000000001", Quantity="3",
             SKU_Unit_Original_Price="Rp 49.000", SKU_Seller_Discount="Rp 10.000",
             SKU_Subtotal_After_Discount="Rp 137.000", Order_Amount="Rp 238.000",
             Created_Time="02/11/2026 19:40:00", Paid_Time="02/11/2026 19:41:10", Buyer_Username="budi"),
        line(**base, Order_ID="578000000000000001", SKU_ID="1730000000000000002", Quantity="1",
             SKU_Unit_Original_Price="89000", SKU_Subtotal_After_Discount="89000", Order_Amount="Rp 238.000",
             Created_Time="02/11/2026 19:40:00", Paid_Time="02/11/2026 19:41:10", Buyer_Username="budi"),
        line(Order_ID="578000000000000002", Order_Status="Selesai", Order_Substatus="Selesai", Country="Indonesia",
             SKU_ID="1730000000000000001", Quantity="1", SKU_Unit_Original_Price="49.000",
             SKU_Subtotal_After_Discount="49.000", Shipping_Fee_After_Discount="0", Order_Amount="49.000",
             Order_Refund_Amount="49.000", Created_Time="25/10/2026 08:00:00", Paid_Time="25/10/2026 08:03:00",
             Delivered_Time="28/10/2026 14:00:00", Buyer_Username="sari"),
    ]
    export = write_csv(tmp_path / "Pesanan-semua.csv", rows, description_row=True)
    summary = run_import(tmp_path, [export], shop_id=ID_SHOP, region="ID")
    assert [(f.rows, f.orders, f.date_format) for f in summary.files] == [(3, 2, "DMY")]
    with published(tmp_path) as wh:
        assert wh.rows("SELECT order_id, status, create_time, sub_total, shipping_fee, total_amount, refund_amount, "
                       "source_row FROM export_orders ORDER BY order_id") == [
            # 137,000 + 89,000 of SKUs; the order amount 238,000 (= 226,000 + 12,000 shipping) once
            ("578000000000000001", "IN_TRANSIT", utc(2026, 11, 2, 12, 40), Decimal("226000.0000"),
             Decimal("12000.0000"), Decimal("238000.0000"), Decimal("0.0000"), 3),
            ("578000000000000002", "COMPLETED", utc(2026, 10, 25, 1, 0), Decimal("49000.0000"), Decimal("0.0000"),
             Decimal("49000.0000"), Decimal("49000.0000"), 5),
        ]
        # 137,000 over 3 units does not divide: 45,667 + 45,667 + 45,666, adding up exactly
        assert wh.rows("SELECT sale_price FROM order_line_items WHERE sku_id = '1730000000000000001' AND "
                       "order_id = '578000000000000001' ORDER BY line_item_id") == [
            (Decimal("45667"),), (Decimal("45667"),), (Decimal("45666"),)]


# --- United States: XLSX, month-first dates with AM/PM, "$" amounts; Pacific time ---------------------
def test_a_us_xlsx_export_with_month_first_dates_and_am_pm(tmp_path):
    order = dict(Order_ID="576859029223086481", Order_Status="Completed", Order_Substatus="Completed",
                 Shipping_Fee_After_Discount="$5.99", Taxes="$2.10", Order_Amount="$1,032.08",
                 Order_Refund_Amount="", Created_Time="11/05/2026 09:15:02 PM", Paid_Time="11/05/2026 09:16:00 PM",
                 Shipped_Time="11/06/2026 10:00:00 AM", Delivered_Time="11/15/2026 12:30:00 PM",
                 Buyer_Username="jo_smith", Country="United States")
    rows = [line(**order, SKU_ID="1729767803962038562", Seller_SKU="Matcha_box", Quantity=1,
                 SKU_Unit_Original_Price="$35.99", SKU_Subtotal_After_Discount="$23.99",
                 SKU_Platform_Discount="$12.00"),
            line(**order, SKU_ID="1729767803962038563", Seller_SKU="Desk-Lamp", Quantity=2,
                 SKU_Unit_Original_Price="$500.00", SKU_Subtotal_After_Discount="$1,000.00")]
    export = write_xlsx(tmp_path / "US orders.xlsx", rows)
    summary = run_import(tmp_path, [export], shop_id=US, region="US")
    assert [(f.orders, f.date_format) for f in summary.files] == [(1, "MDY")]
    with published(tmp_path) as wh:
        assert wh.rows("SELECT order_id, status, create_time, update_time, sub_total, platform_discount, tax, "
                       "total_amount, refund_amount FROM export_orders") == [
            # 9:15:02 PM on 5 November, Pacific standard time (UTC-8); delivered 12:30 PM on 15 November
            ("576859029223086481", "COMPLETED", utc(2026, 11, 6, 5, 15, 2), utc(2026, 11, 15, 20, 30),
             Decimal("1023.99"), Decimal("12.00"), Decimal("2.10"), Decimal("1032.08"), Decimal("0.00"))]
        assert wh.count("order_line_items") == 3


def test_dates_that_read_both_ways_need_date_format(tmp_path):
    rows = thai_rows()
    for row in rows:  # every day and month 12 or below: 09/11 is 9 November or 11 September
        for column in ("Created Time", "Paid Time", "RTS Time", "Cancelled Time"):
            if row[column]:
                row[column] = "09/11/2026 " + row[column].split(" ")[1]
    export = write_csv(tmp_path / "th_ambiguous.csv", rows)
    with pytest.raises(ExportFileError, match=r"th_ambiguous.csv: every date in the file reads both day-first and "
                                              r"month-first .*--date-format DMY"):
        run_import(tmp_path, [export], shop_id=TH, region="TH")
    assert not warehouse_path(tmp_path).exists()
    run_import(tmp_path, [export], shop_id=TH, region="TH", date_format="DMY")
    with published(tmp_path) as wh:
        assert wh.rows("SELECT min(create_time) FROM export_orders")[0][0] == utc(2026, 11, 9, 2, 2)


@pytest.mark.parametrize("edit, expected", [
    (lambda rows: [{k: v for k, v in r.items() if k != "Order Amount"} for r in rows],
     "th.csv, row 1, column Order Amount: missing column(s) Order Amount"),
    (lambda rows: rows[1].update({"SKU Subtotal After Discount": "35O.00"}),
     "th.csv, row 3, column SKU Subtotal After Discount (P): '35O.00' is not an amount"),
    (lambda rows: rows[0].update({"Order Status": "Envoyé"}),
     "th.csv, row 2, column Order Status (B): unknown order status 'Envoyé'"),
    (lambda rows: rows[1].update({"Order Amount": "1,690.00"}),
     "th.csv, row 3, column Order Amount (W): 1690.00 differs from row 2 (1680.00): an order-level value"),
    (lambda rows: rows[2].update({"Order Amount": "Rp 599.000"}),
     "th.csv, row 4, column Order Amount (W): 'Rp 599.000' is in IDR but the shop's currency is THB"),
    (lambda rows: rows[2].update({"Order Amount": "599.00 VND"}),
     "th.csv, row 4, column Order Amount (W): '599.00 VND' is in VND"),
    (lambda rows: rows[2].update({"Country": "Việt Nam"}),
     "th.csv, row 4, column Country (AP): 'Việt Nam' is not where shop"),
    (lambda rows: rows[0].update({"Created Time": "31/02/2026 10:00:00"}),
     "th.csv, row 2, column Created Time (Y): '31/02/2026 10:00:00' is not a valid DMY date"),
    (lambda rows: rows[1].update({"Order ID": "5.77E+17"}),
     "th.csv, row 3, column Order ID (A): '5.77E+17' is in scientific notation"),
    (lambda rows: rows[1].update({"Quantity": "two"}),
     "th.csv, row 3, column Quantity (J): 'two' is not a whole number"),
])
def test_a_bad_file_is_refused_naming_file_row_and_column_and_nothing_is_loaded(tmp_path, edit, expected):
    run_import(tmp_path, [write_csv(tmp_path / "first.csv", thai_rows()[:1])], shop_id=TH, region="TH")
    before = snapshot(tmp_path)
    rows = thai_rows()
    edited = edit(rows)
    rows = edited if isinstance(edited, list) else rows
    header = [h for h in HEADER if h in rows[0]]
    bad = write_csv(tmp_path / "th.csv", rows, header=header)
    good = write_csv(tmp_path / "good.csv", thai_rows()[2:])
    with pytest.raises(ExportFileError) as refused:
        run_import(tmp_path, [good, bad], shop_id=TH)  # the good file is not loaded either
    assert str(refused.value).startswith(expected), str(refused.value)
    assert snapshot(tmp_path) == before


def test_every_problem_is_counted_in_the_message(tmp_path):
    rows = thai_rows()
    rows[0]["Quantity"] = "x"
    rows[2]["Order Amount"] = "?"
    with pytest.raises(ExportFileError, match=r"row 2, column Quantity \(J\): 'x' is not a whole number \(and 1 more "
                                              r"problem\(s\) in this file; nothing was imported\)"):
        run_import(tmp_path, [write_csv(tmp_path / "th.csv", rows)], shop_id=TH, region="TH")


def test_another_shops_orders_are_refused(tmp_path):
    run_import(tmp_path, [write_csv(tmp_path / "th.csv", thai_rows())], shop_id=TH, region="TH")
    before = snapshot(tmp_path)
    with pytest.raises(ExportFileError, match=r"th2.csv, row 2, column Order ID: order 577000000000000001 belongs to "
                                              rf"shop {TH} in the warehouse, so this is not shop 999's export"):
        run_import(tmp_path, [write_csv(tmp_path / "th2.csv", thai_rows())], shop_id="999", region="TH")
    assert snapshot(tmp_path) == before


def test_an_unknown_shop_needs_region(tmp_path):
    with pytest.raises(ShoplensError, match="unknown shop id '42'.*`shoplens sync` it first, or give --region"):
        run_import(tmp_path, [write_csv(tmp_path / "th.csv", thai_rows())], shop_id="42")


def test_an_api_sync_replaces_an_order_an_export_filled_in(tmp_path):
    """API first: a later sync of the order replaces the export's row and drops its line items."""
    from shoplens.sync.resources import load_orders

    run_import(tmp_path, [write_csv(tmp_path / "th.csv", thai_rows())], shop_id=TH, region="TH")
    api_order = {"id": "577000000000000001", "status": "IN_TRANSIT", "create_time": 1_794_575_707,
                 "update_time": 1_794_600_000, "user_id": "7000001",
                 "payment": {"currency": "THB", "sub_total": "1640.00", "total_amount": "1680.00", "shipping_fee": "40"},
                 "line_items": [{"id": f"58000000000000000{i}", "sku_id": "1729000000000000011", "sale_price": s}
                                for i, s in enumerate(("645", "645", "350"))]}
    with workspace_writer(tmp_path) as wh, wh.transaction():
        load_orders(wh, SimpleNamespace(shop_id=TH), [api_order], None)
    with published(tmp_path) as wh:
        assert wh.rows("SELECT source, status FROM orders WHERE order_id = '577000000000000001'") == [("api", "IN_TRANSIT")]
        assert wh.rows("SELECT count(*) FROM order_line_items WHERE order_id = '577000000000000001' AND "
                       "line_item_id LIKE 'export:%'")[0][0] == 0
        assert wh.count("export_orders") == 2  # the export's version stays for reconciliation
        # and an import after that leaves the API's order alone
    rows = thai_rows()
    rows[0]["Seller Note"] = "gift wrap"  # a column shoplens does not read: new bytes, same orders
    summary = run_import(tmp_path, [write_csv(tmp_path / "th_again.csv", rows)], shop_id=TH)
    assert summary.api_kept == 1 and summary.orders_changed == 1  # only the export-only order 2 (new source)
    with published(tmp_path) as wh:
        assert wh.rows("SELECT source FROM orders WHERE order_id = '577000000000000001'") == [("api",)]


# --- cells and words ------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, currency, digits, amount", [
    ("1,234.50", "THB", 2, "1234.50"), ("฿1,234.50", "THB", 2, "1234.50"), ("THB 1234.5", "THB", 2, "1234.5"),
    ("1.234,50", "THB", 2, "1234.50"), ("12,5", "MYR", 2, "12.5"), ("RM 1,299.00", "MYR", 2, "1299.00"),
    ("Rp 149.000", "IDR", 0, "149000"), ("149.000,00", "IDR", 0, "149000.00"), ("149000", "IDR", 0, "149000"),
    ("1.250.000₫", "VND", 0, "1250000"), ("1,250,000 VND", "VND", 0, "1250000"), ("-฿12.00", "THB", 2, "-12.00"),
    ("£9.99", "GBP", 2, "9.99"), ("S$ 1,000", "SGD", 2, "1000"), ("$5", "SGD", 2, "5"), ("₱1,499", "PHP", 2, "1499"),
    (12.5, "USD", 2, "12.5"), (149000, "IDR", 0, "149000"),
])
def test_amounts(text, currency, digits, amount):
    assert parse_amount(text, currency, digits) == Decimal(amount)


@pytest.mark.parametrize("text", ["1,23,4.00", "12.34.5,6,7", "abc", "1.2.3", "$", "1,2345.00"])
def test_not_amounts(text):
    with pytest.raises(CellError):
        parse_amount(text, "USD", 2)


def test_date_order_is_decided_per_file():
    from shoplens.imports.parse import detect_date_format

    assert detect_date_format(["09/11/2026 10:00:00", "13/11/2026 9:00:00 PM"]) == "DMY"
    assert detect_date_format(["09/11/2026 10:00:00", "11/13/2026 9:00:00 PM"]) == "MDY"
    assert detect_date_format(["2026-11-13 10:00:00"]) == "YMD"
    assert detect_date_format(["09/11/2026 10:00:00", "01/02/2026"]) is None
    with pytest.raises(CellError, match="both day-first .'13/11/2026'. and month-first .'11/14/2026'."):
        detect_date_format(["13/11/2026", "11/14/2026"])


def test_ids_lose_their_tab_and_rounded_ones_are_refused():
    assert parse_id("576859029223086481\t") == "576859029223086481"
    assert parse_id(" 123 ") == "123" and parse_id(42) == "42"
    for rounded in (576859029223086000, 5.76859029223086e17, "5.76859E+17"):
        with pytest.raises(CellError, match="rounded"):
            parse_id(rounded)


@pytest.mark.parametrize("lang, samples", [
    ("en", {"To ship": "AWAITING_SHIPMENT", "Awaiting collection": "AWAITING_COLLECTION", "Canceled": "CANCELLED",
            "in transit": "IN_TRANSIT"}),
    ("zh", {"待发货": "AWAITING_SHIPMENT", "运输中": "IN_TRANSIT", "已完成": "COMPLETED", "已取消": "CANCELLED"}),
    ("th", {"ที่ต้องจัดส่ง": "AWAITING_SHIPMENT", "จัดส่งสำเร็จ": "DELIVERED", "ยกเลิกแล้ว": "CANCELLED"}),
    ("vi", {"Chờ lấy hàng": "AWAITING_COLLECTION", "Đang giao": "IN_TRANSIT", "Đã giao": "DELIVERED",
            "Đã huỷ": "CANCELLED", "Đã hủy": "CANCELLED"}),
    ("id", {"Perlu dikirim": "AWAITING_SHIPMENT", "Dikirim": "IN_TRANSIT", "Selesai": "COMPLETED",
            "Dibatalkan": "CANCELLED"}),
    ("ms", {"Untuk dihantar": "AWAITING_SHIPMENT", "Dalam transit": "IN_TRANSIT", "Belum dibayar": "UNPAID"}),
])
def test_status_words_in_every_seller_center_language(lang, samples):
    assert set(STATUS_LABELS[lang]) == {"UNPAID", "ON_HOLD", "AWAITING_SHIPMENT", "PARTIALLY_SHIPPING",
                                        "AWAITING_COLLECTION", "IN_TRANSIT", "DELIVERED", "COMPLETED", "CANCELLED"}
    for label, status in samples.items():
        assert status_of(label) == status and status_of(f" {label.upper()} ") == status


def test_the_docs_list_every_status_word():
    doc = (Path(__file__).resolve().parents[1] / "docs" / "imports.md").read_text(encoding="utf-8")
    missing = [label for table in STATUS_LABELS.values() for labels in table.values() for label in labels
               if label not in doc]
    assert not missing, f"add these to the status table of docs/imports.md: {missing}"


def test_every_region_has_country_names():
    from shoplens.regions import REGIONS

    assert set(COUNTRY_NAMES) == set(REGIONS)


# --- the command ----------------------------------------------------------------------------------------
def shoplens(args, home):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SHOPLENS_")}
    environment.update(SHOPLENS_HOME=str(home), COLUMNS="200")
    return subprocess.run([SHOPLENS, *args], capture_output=True, text=True, env=environment, timeout=120)


def test_the_import_command(tmp_path):
    export = write_csv(tmp_path / "th_orders.csv", thai_rows())
    done = shoplens(["import", str(export), "--shop", TH, "--region", "TH"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "th_orders.csv" in done.stdout and f"registered shop {TH}" in done.stdout
    assert "export orders: 2 new, 0 changed" in done.stdout
    again = shoplens(["import", str(export), "--shop", TH], tmp_path)
    assert again.returncode == 0 and "imported before" in again.stdout and "2 new" not in again.stdout
    rows = thai_rows()
    rows[1]["SKU Subtotal After Discount"] = "three hundred"
    bad = shoplens(["import", str(write_csv(tmp_path / "bad.csv", rows)), "--shop", TH], tmp_path)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) <= 2, bad.stderr
    assert "bad.csv, row 3, column SKU Subtotal After Discount (P): 'three hundred' is not an amount" in \
        " ".join(bad.stderr.split())
    wrong = shoplens(["import", str(export), "--shop", TH, "--date-format", "YDM"], tmp_path)
    assert wrong.returncode == 1 and "--date-format 'YDM': use DMY" in wrong.stderr
    with published(tmp_path) as wh:
        assert wh.count("export_orders") == 2


def test_a_status_word_shoplens_does_not_know_can_be_mapped_without_touching_code(tmp_path):
    rows = thai_rows()
    for row in rows[:2]:  # order 1: another Thai wording of "To ship", with no substatus
        row.update({"Order Status": "รอส่งของ", "Order Substatus": ""})
    export = write_csv(tmp_path / "th.csv", rows)
    refused = shoplens(["import", str(export), "--shop", TH, "--region", "TH"], tmp_path)
    message = " ".join(refused.stderr.split())
    assert refused.returncode == 1 and "unknown order status 'รอส่งของ'" in message, refused.stderr
    assert "--status 'รอส่งของ=AWAITING_SHIPMENT'" in message and "[export_status_words]" in message
    assert not warehouse_path(tmp_path).exists() or snapshot(tmp_path)["published"]["export_orders"] == []
    # a word mapped to something that is not an API status is refused, naming it and the valid ones
    typo = shoplens(["import", str(export), "--shop", TH, "--region", "TH", "--status", "รอส่งของ=TO_SHIP"], tmp_path)
    assert typo.returncode == 1 and "--status: 'รอส่งของ' = 'TO_SHIP' is not an API status" in typo.stderr
    assert "AWAITING_SHIPMENT" in typo.stderr and "Traceback" not in typo.stderr
    # --status on the command line
    done = shoplens(["import", str(export), "--shop", TH, "--region", "TH", "--status", "รอส่งของ=awaiting_shipment"],
                    tmp_path)
    assert done.returncode == 0, done.stderr
    with published(tmp_path) as wh:
        assert wh.rows("SELECT status, status_label FROM export_orders WHERE order_id = '577000000000000001'") == [
            ("AWAITING_SHIPMENT", "รอส่งของ")]
    # or once for the workspace, in shoplens.toml
    other = tmp_path / "other"
    other.mkdir()
    (other / "shoplens.toml").write_text('[export_status_words]\n"รอส่งของ" = "AWAITING_SHIPMENT"\n', encoding="utf-8")
    assert shoplens(["import", str(export), "--shop", TH, "--region", "TH"], other).returncode == 0
    (other / "shoplens.toml").write_text('export_status_words = "AWAITING_SHIPMENT"\n', encoding="utf-8")
    bad = shoplens(["import", str(export), "--shop", TH], other)
    assert bad.returncode == 1 and "export_status_words must be a table" in bad.stderr
