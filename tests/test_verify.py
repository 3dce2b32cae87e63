"""`shoplens verify`: the raw archive's own figures against the compiler's, on a workspace synced from
the sandbox over HTTP; agreeing under every policy, and failing, naming the order, when a loaded amount
is corrupted."""

import shutil
from datetime import date
from decimal import Decimal

import pytest

from shoplens.config import warehouse_path
from shoplens.metrics import Policies
from shoplens.sync.archive import RawArchive
from shoplens.verify.check import verify
from shoplens.verify.recompute import archive_figures
from shoplens.warehouse import Warehouse

from oracle import expected_gmv
from test_cli import run

PERIOD = (date(2026, 11, 2), date(2026, 11, 15))


def test_verify_passes_on_a_synced_workspace(synced):
    home, _ = synced
    done = run(["verify"], home)
    assert done.returncode == 0, done.stdout + done.stderr
    said = done.stdout.replace("\n", " ")
    assert said.startswith("verify: ") and "figures agree with the raw archive" in said and "differ" not in said


@pytest.mark.parametrize("policies", [
    Policies(gmv_price="buyer"), Policies(timezone="shop"), Policies(include_cancelled=True),
    Policies(gmv_basis="placed", refunds_by="order_date"),
])
def test_verify_agrees_under_each_policy(synced, policies):
    home, _ = synced
    with Warehouse(warehouse_path(home), read_only=True) as warehouse:
        result = verify(home, warehouse, period=PERIOD, policies=policies)
    assert result.ok, result.differences[:3]
    assert result.checked == 3 * 14 * 5 and result.figures.orders > 0


def test_the_archive_side_matches_the_generator_by_hand(synced):
    home, sandbox = synced
    figures = archive_figures(RawArchive(home / "data" / "raw"), period=PERIOD)
    totals = figures.totals()
    for shop in sandbox.business.shops:
        gmv = sum((v for (s, _, m), v in totals.items() if s == shop.id and m == "gmv"), Decimal(0))
        assert gmv == expected_gmv(sandbox, shop.id, PERIOD)


def test_a_corrupted_amount_fails_verify_naming_the_order(synced, tmp_path):
    home, _ = synced
    copy = tmp_path / "workspace"
    shutil.copytree(home, copy, symlinks=True)
    with Warehouse(warehouse_path(copy)) as warehouse:
        order_id, day = warehouse.rows(
            "SELECT order_id, CAST(timezone('Asia/Shanghai', create_time) AS DATE) FROM orders "
            "WHERE paid_time IS NOT NULL AND status <> 'CANCELLED' AND create_time >= TIMESTAMPTZ '2026-11-05' "
            "ORDER BY order_id LIMIT 1")[0]
        warehouse.con.execute("UPDATE orders SET sub_total = sub_total + 0.01 WHERE order_id = ?", [order_id])
        warehouse.refresh_facts()
    done = run(["verify", "--since", "2026-11-01", "--until", "2026-11-15"], copy)
    assert done.returncode == 1
    assert f"{day} gmv: compiler" in done.stdout and f"  {order_id}: compiler" in done.stdout
    assert "archived at data/raw/" in done.stdout
    assert "1 figure(s) differ from the raw archive" in done.stderr and "Traceback" not in done.stderr


def test_verify_refuses_what_it_cannot_check(synced, tmp_path):
    home, _ = synced
    assert "unknown shop id(s) 42" in run(["verify", "--shop", "42"], home).stderr
    with Warehouse(warehouse_path(home), read_only=True) as warehouse:
        with pytest.raises(Exception, match="drop --currency"):
            verify(home, warehouse, policies=Policies(currency="USD"))
    empty = tmp_path / "empty"
    shutil.copytree(home, empty, symlinks=True, ignore=shutil.ignore_patterns("raw"))
    done = run(["verify"], empty)
    assert done.returncode == 1 and "no raw archive under" in done.stderr
