"""The warehouse: migrations, keyed upserts, exact money, transactions, read-only access."""

from decimal import Decimal

import duckdb
import pytest

from shoplens.errors import WarehouseError
from shoplens.sync.mapping import ORDER_COLUMNS, SHOP_COLUMNS
from shoplens.warehouse import Warehouse
from shoplens.warehouse.schema import MIGRATIONS
from shoplens.warehouse.temp import take, take_like


def order(order_id, sub_total, status="COMPLETED", update_time=1_794_000_000):
    return {"order_id": order_id, "shop_id": "s1", "status": status, "create_time": 1_793_900_000,
            "update_time": update_time, "paid_time": 1_793_900_100, "cancel_time": None, "buyer_id": "b1",
            "currency": "THB", "sub_total": sub_total, "shipping_fee": "0", "seller_discount": "0",
            "platform_discount": "0", "tax": "0", "total_amount": sub_total, "source": "api"}


def test_accepts_path_memory_or_connection(tmp_path):
    for target in (tmp_path / "w.duckdb", ":memory:", duckdb.connect()):
        with Warehouse(target) as wh:
            # migrations are numbered per branch, not contiguously: every one is applied, the highest last
            assert wh.schema_version() == max(version for version, _, _ in MIGRATIONS)
            assert wh.pending_migrations() == []
            assert wh.count("orders") == 0


def test_migrations_run_once(tmp_path):
    path = tmp_path / "w.duckdb"
    Warehouse(path).close()
    with Warehouse(path) as again:
        assert again.rows("SELECT count(*) FROM schema_migrations")[0][0] == len(MIGRATIONS)


def test_upsert_replaces_by_key_and_keeps_money_exact():
    with Warehouse() as wh:
        with wh.transaction():
            assert wh.upsert("orders", [order("1", "0.1"), order("2", "0.2")], ORDER_COLUMNS) == (2, 0)
        with wh.transaction():
            changed = [order("1", "0.1"), order("2", "0.2", status="DELIVERED", update_time=1_794_000_500)]
            assert wh.upsert("orders", changed, ORDER_COLUMNS) == (0, 1)  # order 1 re-read unchanged
        assert wh.count("orders") == 2
        total = wh.rows("SELECT sum(sub_total) FROM orders")[0][0]
        assert total == Decimal("0.3") and isinstance(total, Decimal)
        assert wh.rows("SELECT status FROM orders WHERE order_id = '2'")[0][0] == "DELIVERED"


def test_duplicate_keys_in_one_batch_keep_the_last():
    with Warehouse() as wh, wh.transaction():
        wh.upsert("orders", [order("1", "5"), order("1", "7")], ORDER_COLUMNS)
        assert wh.rows("SELECT sub_total FROM orders")[0][0] == Decimal("7")


def test_take_moves_the_matching_rows_out_of_a_table_into_a_temp_table():
    with Warehouse() as wh, wh.transaction():
        wh.upsert("orders", [order(str(n), str(n)) for n in range(5)], ORDER_COLUMNS)
        assert take_like(wh.con, "_moved", "orders", "list_contains(?, order_id)", [["1", "3", "9"]]) == 2
        assert [r[0] for r in wh.rows("SELECT order_id FROM orders ORDER BY 1")] == ["0", "2", "4"]
        assert wh.rows("SELECT order_id, sub_total FROM _moved ORDER BY 1") == [("1", Decimal("1")), ("3", Decimal("3"))]
        assert [r[0] for r in wh.rows("DESCRIBE _moved")] == [r[0] for r in wh.rows("DESCRIBE orders")]
        assert take(wh.con, "_none", "orders", "order_id = ?", ["9"], "order_id, status") == 0
        assert [r[0] for r in wh.rows("DESCRIBE _none")] == ["_rid", "order_id", "status"]
        assert wh.count("orders") == 3


def test_a_failed_transaction_leaves_the_warehouse_as_it_was():
    with Warehouse() as wh:
        with wh.transaction():
            wh.upsert("orders", [order("1", "5")], ORDER_COLUMNS)
        with pytest.raises(duckdb.Error):
            with wh.transaction():
                wh.upsert("orders", [order("2", "6")], ORDER_COLUMNS)
                wh.upsert("orders", [order("3", "not-a-number")], ORDER_COLUMNS)
        assert [r[0] for r in wh.rows("SELECT order_id FROM orders")] == ["1"]


def test_read_only_open_of_a_missing_warehouse_says_what_to_do(tmp_path):
    with pytest.raises(WarehouseError, match="shoplens sync"):
        Warehouse(tmp_path / "nothing.duckdb", read_only=True)


def test_read_only_connections_cannot_write(tmp_path):
    path = tmp_path / "w.duckdb"
    Warehouse(path).close()
    with Warehouse(path, read_only=True) as reader, pytest.raises(duckdb.Error):
        reader.con.execute("DELETE FROM orders")


def test_shop_ids_are_read_once_per_read_only_connection_and_each_time_by_a_writer(tmp_path):
    """A report asks for the shop list before each of its queries: a read-only connection (whose file
    nothing changes while it is open) reads it once; a writer sees each shop it adds."""
    path = tmp_path / "w.duckdb"

    def shop(shop_id):
        return {"shop_id": shop_id, "name": shop_id, "region": "TH", "currency": "THB", "timezone": "Asia/Bangkok",
                "source": "test"}

    with Warehouse(path) as wh:
        wh.upsert("shops", [shop("s2")], SHOP_COLUMNS)
        assert wh.shop_ids() == ["s2"]
        wh.upsert("shops", [shop("s1")], SHOP_COLUMNS)
        assert wh.shop_ids() == ["s1", "s2"]
    reader = Warehouse(path, read_only=True)
    assert reader.shop_ids() == ["s1", "s2"]
    reader.close()  # the list is the reader's own now: no query is needed for it
    assert reader.shop_ids() == ["s1", "s2"]
