"""A seeded random business that changes the way the API shows change, page by page, through the real
loaders: new orders (new, returning and guest buyers), late status changes, cancellations, shipping, line
items the API stops sending, returns, affiliate lines, the orders cursor moving, stock snapshots, product
status changes, unit costs and lead times. The incremental-facts tests (and their killed child processes)
drive it; `derived()` and `rebuilt()` compare the facts with a rebuild from scratch."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

from shoplens.sync import resources as r
from shoplens.sync.mapping import SHOP_COLUMNS
from shoplens.sync.resources import ShopRef
from shoplens.sync.state import Cursor, write_cursor
from shoplens.warehouse import Warehouse, facts
from shoplens.warehouse.facts import DERIVED  # noqa: F401 (the tests import it from here)
from shoplens.warehouse.reference import COST_COLUMNS

START = 1_790_000_000  # 2026-09-21
DAY = 86_400
SHOPS = [ShopRef("S1", "", "THB", "Asia/Bangkok"), ShopRef("S2", "", "USD", "America/Los_Angeles")]


class Business:
    """Orders and products that change over business time; `step(wh)` loads one random change."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.now = START + 30 * DAY
        self.orders: dict[str, dict] = {}
        self.affiliate: dict[str, dict] = {}
        self.status: dict[str, str] = {}
        self.next_id = 0

    # --- API-shaped records -------------------------------------------------------------------------
    def _new_order(self, shop: ShopRef, created: int) -> dict:
        self.next_id += 1
        rng = self.rng
        oid = f"{shop.shop_id}-{self.next_id}"
        buyer = None if rng.random() < 0.1 else f"u{rng.randrange(12)}"
        items = [{"id": f"{oid}-{k}", "product_id": f"{shop.shop_id}P{k}", "sku_id": f"{shop.shop_id}K{k}",
                  "sale_price": f"{rng.randrange(100, 5000) / 100:.2f}", "currency": shop.currency}
                          for k in rng.sample(range(4), rng.randrange(1, 4))]
        total = sum(float(i["sale_price"]) for i in items)
        paid = rng.random() < 0.85
        return {"id": oid, "_shop": shop, "status": "AWAITING_SHIPMENT" if paid else "UNPAID",
                "create_time": created, "update_time": created, "paid_time": created + 60 if paid else None,
                "cancel_time": None, "user_id": buyer, "line_items": items,
                "payment": {"currency": shop.currency, "sub_total": f"{total:.2f}", "total_amount": f"{total:.2f}",
                            "platform_discount": "0.50"},
                "rts_sla_time": created + 2 * DAY if paid else None, "rts_time": None, "delivery_time": None}

    def _touch(self, order: dict) -> dict:
        order["update_time"] = max(order["update_time"] + 1, self.now)
        return order

    # --- what a sync page brings ------------------------------------------------------------------------
    def step(self, wh: Warehouse) -> str:
        kind = self.rng.choice(["new", "new", "change", "change", "drop_item", "returns", "affiliate", "cursor",
                                "stock", "products", "costs", "late", "buyer"])
        self.now += self.rng.randrange(600, 12 * 3600)
        with wh.transaction():
            getattr(self, f"_{kind}")(wh)
        return kind

    def _load_orders(self, wh: Warehouse, orders: list[dict]) -> None:
        for shop in SHOPS:
            page = [{k: v for k, v in o.items() if k != "_shop"} for o in orders if o["_shop"] == shop]
            if page:
                r.load_orders(wh, shop, page, None)

    def _new(self, wh: Warehouse) -> None:
        fresh = [self._new_order(self.rng.choice(SHOPS), self.now - self.rng.randrange(0, 7200))
                 for _ in range(self.rng.randrange(1, 8))]
        self.orders.update({o["id"]: o for o in fresh})
        self._load_orders(wh, fresh)

    def _pick(self, count: int, *, recent: bool = True) -> list[dict]:
        pool = list(self.orders.values())
        if recent:
            pool = pool[-40:]
        return self.rng.sample(pool, min(count, len(pool)))

    def _change(self, wh: Warehouse, *, recent: bool = True) -> None:
        changed = []
        for order in self._pick(self.rng.randrange(1, 6), recent=recent):
            roll = self.rng.random()
            if order["status"] == "UNPAID" and roll < 0.6:
                order.update(status="AWAITING_SHIPMENT", paid_time=self.now, rts_sla_time=self.now + 2 * DAY)
            elif order["status"] in ("UNPAID", "AWAITING_SHIPMENT") and roll < 0.8:
                order.update(status="CANCELLED", cancel_time=self.now)
            elif order["status"] == "AWAITING_SHIPMENT":
                order.update(status="IN_TRANSIT", rts_time=self.now)
            elif order["status"] == "IN_TRANSIT":
                order.update(status="COMPLETED", delivery_time=self.now)
            changed.append(self._touch(order))
        self._load_orders(wh, changed)

    def _buyer(self, wh: Warehouse) -> None:
        """An order's buyer as the API now tells it: another buyer, a guest order attributed, or a buyer dropped
        (both buyers' sequences change)."""
        changed = []
        for order in self._pick(self.rng.randrange(1, 3), recent=False):
            order["user_id"] = self.rng.choice([None, *(f"u{n}" for n in range(12))])
            changed.append(self._touch(order))
        self._load_orders(wh, changed)

    def _late(self, wh: Warehouse) -> None:
        self._change(wh, recent=False)

    def _drop_item(self, wh: Warehouse) -> None:
        orders = [o for o in self._pick(10, recent=False) if len(o["line_items"]) > 1][:2]
        for order in orders:
            order["line_items"].pop(self.rng.randrange(len(order["line_items"])))
            self._touch(order)
        self._load_orders(wh, orders)

    def _returns(self, wh: Warehouse) -> None:
        for shop in SHOPS:
            page = [{"return_id": f"R{o['id']}", "order_id": o["id"], "return_status": "RETURN_OR_REFUND_REQUEST_COMPLETE",
                     "create_time": self.now, "update_time": self.now,
                     "refund_amount": {"currency": shop.currency, "refund_total": "1.00"}}
                    for o in self._pick(3) if o["_shop"] == shop]
            if page:
                r.load_returns(wh, shop, page, None)

    def _affiliate(self, wh: Warehouse) -> None:
        for shop in SHOPS:
            page = []
            for order in self._pick(4, recent=False):
                if order["_shop"] != shop:
                    continue
                skus = [{"product_id": li["product_id"], "quantity": 1,
                         "price": {"amount": li["sale_price"], "currency": shop.currency},
                         "creator_username": f"creator{self.rng.randrange(3)}", "content_type": "VIDEO",
                         "content_id": f"V{self.rng.randrange(5)}"}
                        for li in order["line_items"][:self.rng.randrange(0, 3)]]  # none: the API dropped them
                record = {"id": order["id"], "status": order["status"], "create_time": order["create_time"],
                          "skus": skus}
                self.affiliate[order["id"]] = record
                page.append(record)
            if page:
                r.load_affiliate(wh, shop, page, None)

    def _cursor(self, wh: Warehouse) -> None:
        from datetime import UTC, datetime

        for shop in SHOPS:
            write_cursor(wh, shop.shop_id, "orders", Cursor(str(self.now)), datetime.now(UTC))

    def _stock(self, wh: Warehouse) -> None:
        for shop in SHOPS:
            items = [{"product_id": f"{shop.shop_id}P{p}", "skus": [{"id": f"{shop.shop_id}K{p}", "warehouse_inventory": [
                {"warehouse_id": f"W{shop.shop_id}{w}", "available_quantity": self.rng.randrange(0, 30)}
                for w in range(self.rng.randrange(1, 3))]}]} for p in range(4) if self.rng.random() < 0.8]
            r.load_inventory(wh, shop, items, str(self.now))

    def _products(self, wh: Warehouse) -> None:
        for shop in SHOPS:
            page = []
            for p in self.rng.sample(range(4), 2):
                pid = f"{shop.shop_id}P{p}"
                status = self.rng.choice(["ACTIVATE", "SELLER_DEACTIVATED", "PLATFORM_DEACTIVATED"])
                self.status[pid] = status
                page.append({"id": pid, "status": status, "update_time": self.now, "title": pid, "skus": []})
            r.load_products(wh, shop, page, None)

    def _costs(self, wh: Warehouse) -> None:
        shop = self.rng.choice(SHOPS)
        rows = [{"shop_id": shop.shop_id, "sku_id": f"{shop.shop_id}K{k}", "currency": shop.currency,
                 "unit_cost": f"{self.rng.randrange(1, 20)}.00", "source": "costs.csv"} for k in range(2)]
        wh.upsert("product_costs", rows, COST_COLUMNS)
        sku = self.rng.choice(["*", f"{shop.shop_id}K1"])
        wh.con.execute("INSERT OR REPLACE INTO stock_lead_times VALUES (?, ?, ?)",
                       [shop.shop_id, sku, self.rng.randrange(2, 15)])
        facts.mark(wh.con, "sku", [facts.key(shop.shop_id, sku)])


def shops(wh: Warehouse) -> None:
    """The two shops of the business, as a sync records them."""
    from shoplens.regions import REGIONS

    code = {s.currency: next(r.code for r in REGIONS.values() if r.currency == s.currency) for s in SHOPS}
    with wh.transaction():
        wh.upsert("shops", [{"shop_id": s.shop_id, "name": s.shop_id, "region": code[s.currency], "seller_type": None,
                             "code": None, "currency": s.currency, "timezone": s.timezone, "source": "api"}
                            for s in SHOPS], SHOP_COLUMNS)


def derived(wh: Warehouse) -> dict[str, list[tuple]]:
    """Every derived table's rows, sorted; buyer keys shown as the buyer they stand for (a rebuild numbers
    buyers afresh, the incremental refresh keeps their numbers)."""
    out = {}
    for table in DERIVED:
        columns = [c[0] for c in wh.rows(f"DESCRIBE {table}")]
        select = ", ".join("(SELECT buyer FROM buyer_keys b WHERE b.buyer_key = t.buyer_key)" if c == "buyer_key"
                           else f"t.{c}" for c in columns)
        out[table] = wh.rows(f"SELECT {select} FROM {table} t ORDER BY ALL")
    return out


def rebuilt(path: Path, scratch: Path) -> dict[str, list[tuple]]:
    """The derived tables of a copy of the warehouse at `path` (and its log), rebuilt from scratch (buyers
    renumbered)."""
    path = path.resolve()
    shutil.copyfile(path, scratch)
    log, copy_log = path.with_name(path.name + ".wal"), scratch.with_name(scratch.name + ".wal")
    copy_log.unlink(missing_ok=True)
    if log.exists():
        shutil.copyfile(log, copy_log)
    with Warehouse(scratch) as wh:
        with wh.transaction():
            wh.con.execute("DELETE FROM buyer_keys")
        wh.refresh_facts()
        keys = wh.rows("SELECT buyer_key FROM buyer_keys")
        assert len(keys) == len(set(keys))
        return derived(wh)


def churn(home: str, seed: int, rounds: int, phases: str | None = None) -> None:
    """Rounds of a writer, as a sync runs them: open the working copy, load a few random changes, refresh the
    facts, close, publish; each round ends by recording how many orders it published (`churn_marker`).
    `phases` names a file the current phase is written to (the SIGKILL test reads where it struck)."""
    import os

    from shoplens.locks import sync_lock
    from shoplens.warehouse.publish import WorkingCopy

    business = Business(seed)
    fd = os.open(phases, os.O_WRONLY | os.O_CREAT | os.O_APPEND) if phases else None

    def phase(name: str) -> None:
        if fd is not None:
            os.write(fd, name.encode() + b"\n")

    for _ in range(rounds):
        with sync_lock(Path(home)):
            copy = WorkingCopy(Path(home))
            phase("open")
            wh = copy.open()
            try:
                if not wh.rows("SELECT 1 FROM shops LIMIT 1"):
                    shops(wh)
                phase("load")
                for _ in range(business.rng.randrange(1, 4)):
                    business.step(wh)
                phase("derive")
                wh.refresh_facts(incremental=True)
                with wh.transaction():
                    wh.con.execute("CREATE TABLE IF NOT EXISTS churn_marker (orders BIGINT, total DECIMAL(38, 4))")
                    wh.con.execute("DELETE FROM churn_marker")
                    wh.con.execute("INSERT INTO churn_marker SELECT count(*), coalesce(sum(sub_total), 0) FROM orders")
            finally:
                phase("close")
                copy.close(wh)
            phase("publish")
            copy.publish()
            phase("done")
