"""Reconciliation: the sandbox, synced over HTTP, against a Seller Center export of the same shop that
disagrees on known orders and amounts; the result shows exactly those. Expectations come from the
sandbox's own business objects, not from shoplens."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from exports import line, write_csv
from shoplens.config import warehouse_path
from shoplens.errors import ShoplensError
from shoplens.imports.reconcile import reconcile
from shoplens.sandbox.business import RETURN_DONE
from shoplens.warehouse import Warehouse

SHOPLENS = str(Path(sys.executable).with_name("shoplens"))
SINCE, UNTIL = date(2026, 11, 10), date(2026, 11, 14)
THAI = {"UNPAID": "ยังไม่ชำระเงิน", "AWAITING_SHIPMENT": "ที่ต้องจัดส่ง", "IN_TRANSIT": "จัดส่งแล้ว",
        "DELIVERED": "จัดส่งสำเร็จ", "COMPLETED": "เสร็จสมบูรณ์", "CANCELLED": "ยกเลิกแล้ว"}
FAKE = "579999999999999999"


def shoplens(args, home):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SHOPLENS_")}
    environment.update(SHOPLENS_HOME=str(home), COLUMNS="250")
    return subprocess.run([SHOPLENS, *args], capture_output=True, text=True, env=environment, timeout=120)


def refunded(order, returns, now) -> Decimal:
    """What the buyer got back by `now`: completed returns, or the whole order if paid and then cancelled."""
    total = sum((r.refund_total for r in returns if r.order is order and r.state_at(now)[0] == RETURN_DONE),
                Decimal(0))
    if order.paid_time is not None and order.cancel_time is not None and order.cancel_time <= now:
        total += order.total_amount
    return total


def export_rows(order, refund: Decimal, now: int, tz: ZoneInfo) -> list[dict]:
    """The order as Seller Center's export shows it: one row per SKU, order-level values on each row."""
    def when(t):
        return "" if t is None or t > now else datetime.fromtimestamp(t, tz).strftime("%d/%m/%Y %H:%M:%S")

    status, _ = order.state_at(now)
    skus = defaultdict(list)
    for li in order.line_items:
        skus[li.sku.id].append(li)
    common = dict(Order_ID=order.id, Order_Status=THAI[status], Shipping_Fee_After_Discount=f"{order.shipping_fee:,.2f}",
                  Order_Amount=f"฿{order.total_amount:,.2f}", Order_Refund_Amount=f"{refund:,.2f}",
                  Created_Time=when(order.create_time), Paid_Time=when(order.paid_time),
                  Cancelled_Time=when(order.cancel_time), Buyer_Username=f"buyer{order.buyer_id[-4:]}",
                  Country="Thailand")
    return [line(**common, SKU_ID=sku_id, Seller_SKU=items[0].sku.seller_sku, Product_Name=items[0].product.title,
                 Variation=items[0].sku.name, Quantity=str(len(items)),
                 SKU_Unit_Original_Price=f"{items[0].original_price:,.2f}",
                 SKU_Seller_Discount=f"{sum(li.seller_discount for li in items):,.2f}",
                 SKU_Subtotal_After_Discount=f"{sum(li.sale_price for li in items):,.2f}")
            for sku_id, items in skus.items()]


@pytest.fixture
def workspace(synced, tmp_path):
    """A copy of the synced workspace, so this test's imports stay here."""
    home, sandbox = synced
    shutil.copytree(home / "data", tmp_path / "data", symlinks=True, ignore=shutil.ignore_patterns("raw", "*.lock"))
    return tmp_path, sandbox


def test_reconciliation_shows_exactly_the_orders_and_amounts_that_differ(workspace):
    home, sandbox = workspace
    business, now = sandbox.business, sandbox.now()
    shop = business.shops[0]
    tz = ZoneInfo(shop.region.timezone)
    assert shop.region.code == "TH"

    def day_of(order):
        return datetime.fromtimestamp(order.create_time, tz).date()

    orders = [o for o in business.orders[shop.id] if SINCE <= day_of(o) <= UNTIL]
    refunds = {o.id: refunded(o, business.returns[shop.id], now) for o in orders}
    by_day = defaultdict(list)
    for o in orders:
        by_day[day_of(o)].append(o)
    assert all(len(by_day[d]) >= 2 for d in by_day) and len(by_day) == 5
    missing = by_day[date(2026, 11, 11)][0]       # A: not in the export
    gmv_off = by_day[date(2026, 11, 12)][1]       # B: the export's first SKU row says 10.00 more
    refund_off = by_day[date(2026, 11, 13)][0]    # C: the export's refund is 50.00 more

    rows = []
    for o in orders:
        if o is missing:
            continue
        refund = refunds[o.id] + (Decimal(50) if o is refund_off else 0)
        order_rows = export_rows(o, refund, now, tz)
        if o is gmv_off:
            first = order_rows[0]
            first["SKU Subtotal After Discount"] = f"{Decimal(first['SKU Subtotal After Discount'].replace(',', '')) + 10:,.2f}"
        rows += order_rows
    rows.append(line(Order_ID=FAKE, Order_Status="เสร็จสมบูรณ์", SKU_ID="1", Quantity="1",  # Z: not in the API
                     SKU_Subtotal_After_Discount="1,000.00", Order_Amount="1,000.00", Order_Refund_Amount="0",
                     Created_Time="14/11/2026 12:00:00", Paid_Time="14/11/2026 12:01:00", Country="Thailand"))
    export = write_csv(home / "All orders-2026-11-15.csv", rows)

    with Warehouse(warehouse_path(home), read_only=True) as wh:
        api_before = wh.rows("SELECT * FROM orders ORDER BY order_id")
    done = shoplens(["import", str(export), "--shop", shop.id], home)
    assert done.returncode == 0, done.stderr
    assert f"kept as the API wrote them: {len(orders) - 1}" in " ".join(done.stdout.split())
    done = shoplens(["reconcile", "--shop", shop.id, "--since", str(SINCE), "--until", str(UNTIL)], home)
    assert done.returncode == 0, done.stderr
    assert "4 order(s) differ" in done.stdout and FAKE in done.stdout and missing.id in done.stdout

    # by hand, from the sandbox's business: per day, what the API holds and what the export says
    expected_days = []
    for n in range(5):
        day = date(2026, 11, 10 + n)
        api = by_day[day]
        exported = [o for o in api if o is not missing]
        export_gmv = sum((o.sub_total for o in exported), Decimal(0)) + (10 if gmv_off in exported else 0)
        export_refunds = sum((refunds[o.id] for o in exported), Decimal(0)) + (50 if refund_off in exported else 0)
        extra = day == UNTIL  # the fake order
        expected_days.append({
            "shop_id": shop.id, "day": day, "currency": "THB", "api_orders": len(api),
            "export_orders": len(exported) + extra, "api_gmv": sum((o.sub_total for o in api), Decimal(0)),
            "export_gmv": export_gmv + (1000 if extra else 0),
            "api_refunds": sum((refunds[o.id] for o in api), Decimal(0)), "export_refunds": export_refunds,
            "only_api": int(missing in api), "only_export": int(extra),
            "amounts_differ": int(gmv_off in api) + int(refund_off in api)})
    a, b, c = missing, gmv_off, refund_off
    expected_orders = sorted([
        (a.id, day_of(a), "only_api", None, a.sub_total, None, refunds[a.id], None),
        (b.id, day_of(b), "amounts", "gmv", b.sub_total, b.sub_total + 10, refunds[b.id], refunds[b.id]),
        (c.id, day_of(c), "amounts", "refunds", c.sub_total, c.sub_total, refunds[c.id], refunds[c.id] + 50),
        (FAKE, UNTIL, "only_export", None, None, Decimal(1000), None, Decimal(0)),
    ], key=lambda r: (r[1], r[0]))

    with Warehouse(warehouse_path(home), read_only=True) as wh:
        result = reconcile(wh, shop.id, SINCE, UNTIL)
        stored_days = wh.frame("SELECT * EXCLUDE (reconciled_at) FROM reconciliation_days ORDER BY day")
        stored_orders = wh.rows("SELECT order_id, day, difference, fields, api_gmv, export_gmv, api_refunds, "
                                "export_refunds FROM reconciliation_orders ORDER BY day, order_id")
        # the API's orders are as the sync wrote them; the export-only order joined them, marked
        assert wh.rows("SELECT * FROM orders WHERE order_id <> ? ORDER BY order_id", [FAKE]) == api_before
        assert wh.rows("SELECT source, sub_total FROM orders WHERE order_id = ?", [FAKE]) == [
            (f"export:{export.name}", Decimal("1000.00"))]
        assert wh.rows("SELECT count(*) FROM order_facts WHERE order_id = ?", [FAKE])[0][0] == 1

    assert result.days.to_dict("records") == expected_days
    assert stored_days.to_dict("records") == expected_days
    got = [(r["order_id"], r["day"], r["difference"], r["fields"], r["api_gmv"], r["export_gmv"], r["api_refunds"],
            r["export_refunds"]) for r in result.orders.to_dict("records")]
    assert got == expected_orders
    assert stored_orders == expected_orders

    # the shop report's reconciliation section shows exactly those orders, and the days they fall on
    done = shoplens(["reports", "run", "--report", "shop_report", "--shop", shop.id, "--since", str(SINCE),
                     "--until", str(UNTIL), "--to", "html"], home)
    assert done.returncode == 0, done.stdout + done.stderr
    page = next((home / "reports").rglob(f"{shop.id}.html")).read_text(encoding="utf-8")
    section = page[page.index("sl-recon-days"):]
    rows = [dict(re.findall(r'data-([\w-]+)="([^"]*)"', attrs)) for attrs in re.findall(r"<tr ([^>]*data-order[^>]*)>", section)]
    shown_orders = sorted((row["order"], row["difference"]) for row in rows)
    assert shown_orders == sorted((r[0], r[2]) for r in expected_orders)
    shown_days = re.findall(r'<tr data-day="([\d-]+)">', section)
    assert shown_days == sorted({str(r[1]) for r in expected_orders})
    assert "4 order(s) differ: 1 only in the API, 1 only in the export, 2 with different amounts." in page


def test_a_reconciliation_replaces_the_days_it_covers(workspace):
    home, sandbox = workspace
    shop = sandbox.business.shops[1]
    for since, until in ((SINCE, UNTIL), (date(2026, 11, 12), date(2026, 11, 12))):
        done = shoplens(["reconcile", "--shop", shop.id, "--since", str(since), "--until", str(until)], home)
        assert done.returncode == 0, done.stderr
    with Warehouse(warehouse_path(home), read_only=True) as wh:
        days = wh.rows("SELECT day, api_orders > 0, export_orders FROM reconciliation_days WHERE shop_id = ? "
                       "ORDER BY day", [shop.id])
        assert [d for d, _, _ in days] == [date(2026, 11, 10 + n) for n in range(5)]
        assert all(has_api and exported == 0 for _, has_api, exported in days)  # no export: all API-only
        assert wh.rows("SELECT count(DISTINCT difference) FROM reconciliation_orders WHERE shop_id = ?",
                       [shop.id])[0][0] == 1
        assert wh.rows("SELECT count(*) FROM reconciliation_days WHERE reconciled_at = (SELECT max(reconciled_at) "
                       "FROM reconciliation_days)")[0][0] == 1  # the second run replaced just its day
        with pytest.raises(ShoplensError, match="unknown shop id 'nope'"):
            reconcile(wh, "nope", SINCE, UNTIL)
    done = shoplens(["reconcile", "--shop", shop.id, "--since", "2026-11-14", "--until", "2026-11-10"], home)
    assert done.returncode == 1 and "swap them" in done.stderr
