"""Operations end to end (#15): the sandbox's planted SLA misses, deactivation, failed audit and 11.11
stockout, synced over HTTP at several moments of its business clock, kept as history, and found and
explained in the shop's operations report."""

import os
import re
import subprocess
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest

from shoplens.config import warehouse_path
from shoplens.demo import sync_from_sandbox
from shoplens.reports.batch import plan_reports, run_batch
from shoplens.sandbox import SandboxServer, make_sandbox
from shoplens.sync import SyncOptions
from shoplens.warehouse import Warehouse

PERIOD = (date(2026, 11, 9), date(2026, 11, 15))
SHOPLENS = str(Path(sys.executable).with_name("shoplens"))


def run(args, home):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SHOPLENS_")}
    return subprocess.run([SHOPLENS, *args], capture_output=True, text=True, env=environment | {"SHOPLENS_HOME": str(home)},
                          timeout=120)


@pytest.fixture(scope="module")
def ops(tmp_path_factory) -> tuple[Path, object]:
    """Four weeks of a busier sandbox, with a week of daily stock and status snapshots before the sync."""
    home = tmp_path_factory.mktemp("ops")
    sandbox = make_sandbox(11, 2, orders_per_day=30, days=28)
    with SandboxServer(sandbox) as running:
        sync_from_sandbox(running, home, options=SyncOptions(history_days=30), snapshot_days=7)
    return home, sandbox


def test_the_sandbox_plants_its_operations_story_deterministically():
    first, again = make_sandbox(11, 2, orders_per_day=30, days=28), make_sandbox(11, 2, orders_per_day=30, days=28)
    for shop in first.business.shops:
        planted = first.business.operations[shop.id].planted
        assert planted == again.business.operations[shop.id].planted
        assert set(planted) >= {"platform_deactivation", "audit_failure", "stockout", "restock"}
        product, out = planted["stockout"]
        ledgers = [l for l in first.business.operations[shop.id].ledgers.values() if l.product_id == product]
        assert all(l.available(out) == 0 and l.available(out - 3600) >= 0 for l in ledgers)
        assert all(min(l._levels) >= 0 for l in first.business.operations[shop.id].ledgers.values())
        deactivated, when = planted["platform_deactivation"]
        assert not any(li.product.id == deactivated for o in first.business.orders[shop.id]
                       if (o.paid_time or o.create_time) >= when for li in o.line_items)
        late = [o for o in first.business.orders[shop.id] if (o.fulfilment or {}).get("rts_time", 0)
                > (o.fulfilment or {}).get("rts_sla_time", 2**40)]
        peak = [o for o in late if datetime.fromtimestamp(o.paid_time, UTC).date() in
                (date(2026, 11, 10), date(2026, 11, 11), date(2026, 11, 12))]
        assert late and len(peak) > len(late) / 3  # dispatch slows on the peak days


def test_the_sandbox_reviews_follow_its_operations_story_deterministically():
    """Reviews come after delivery (within TikTok's 60 days); a late dispatch brings more and worse ones;
    some buyers raise a low rating later; and planning them again gives the same reviews."""
    from shoplens.sandbox.reviews import REVIEW_WINDOW_S, plan_reviews

    business = make_sandbox(11, 2, orders_per_day=30, days=28).business
    late, on_time, edited = [0, 0, 0], [0, 0, 0], 0  # orders, reviews, negative reviews
    for shop in business.shops:
        assert plan_reviews(11, business, shop) == business.reviews[shop.id]
        orders = {o.id: o for o in business.orders[shop.id]}
        reviewed = {}
        for product in business.reviews[shop.id].values():
            for review in product.reviews:
                delivered = orders[review.order_id].fulfilment["delivery_time"]
                assert delivered < review.posted < delivered + REVIEW_WINDOW_S
                reviewed.setdefault(review.order_id, []).append(review.stars)
                edited += review.edit is not None and review.edit[1] > review.stars
        for o in orders.values():
            f = o.fulfilment or {}
            if "delivery_time" in f and o.cancel_time is None:
                tally = late if f["rts_time"] > f["rts_sla_time"] else on_time
                stars = reviewed.get(o.id, [])
                tally[0], tally[1], tally[2] = tally[0] + 1, tally[1] + len(stars), tally[2] + sum(s <= 2 for s in stars)
    assert late[1] / late[0] > 2 * on_time[1] / on_time[0]  # more buyers review a late parcel
    assert late[2] / late[1] > 3 * on_time[2] / on_time[1]  # and more of them give 1 or 2 stars
    assert edited


def test_status_history_keeps_each_status_from_when_it_held(ops):
    home, sandbox = ops
    shop = sandbox.business.shops[0]
    product, when = sandbox.business.operations[shop.id].planted["platform_deactivation"]
    with Warehouse(warehouse_path(home), read_only=True) as wh:
        rows = wh.rows("SELECT status, epoch(since), epoch(until) FROM product_status_history WHERE product_id = ? "
                       "ORDER BY since", [product])
        failed = wh.rows("SELECT status, audit_status FROM product_status_history WHERE product_id = ? ORDER BY since",
                         [sandbox.business.operations[shop.id].planted["audit_failure"][0]])
    # seen live by the early snapshot syncs, then deactivated at the time the API gives as its update_time
    assert [r[0] for r in rows] == ["ACTIVATE", "PLATFORM_DEACTIVATED"]
    assert rows[0][2] == rows[1][1] == when and rows[1][2] is None
    assert failed[-1] == ("FAILED", "FAILED")


def test_stock_is_a_daily_snapshot_history(ops):
    home, sandbox = ops
    shop = sandbox.business.shops[0]
    ops_truth = sandbox.business.operations[shop.id]
    with Warehouse(warehouse_path(home), read_only=True) as wh:
        days = [r[0] for r in wh.rows("SELECT DISTINCT date FROM inventory_snapshots WHERE shop_id = ? ORDER BY 1",
                                      [shop.id])]
        taken = wh.rows("SELECT sku_id, epoch(snapshot_time), available FROM inventory_snapshots WHERE shop_id = ? "
                        "AND date = ?", [shop.id, days[0]])
    assert len(days) >= 7  # one per snapshot day, plus the main sync's
    for sku, moment, available in taken:  # each row is what the sandbox had at the moment it was taken
        assert available == max(ops_truth.ledgers[sku].available(int(moment)), 0)


def test_late_changes_move_an_order_from_backlog_to_shipped(tmp_path):
    sandbox = make_sandbox(5, 1, orders_per_day=20, days=14)
    shop = sandbox.business.shops[0]
    first = datetime.combine(date(2026, 11, 11), time(16), UTC)
    waiting = [o for o in sandbox.business.orders[shop.id] if o.paid_time and o.paid_time < first.timestamp()
               < (o.fulfilment or {}).get("rts_time", 0)]
    assert waiting
    order = waiting[0]
    with SandboxServer(sandbox) as running:
        sandbox.business_now = lambda: int(first.timestamp())
        sync_from_sandbox(running, tmp_path, options=SyncOptions(history_days=20))
        with Warehouse(warehouse_path(tmp_path), read_only=True) as wh:
            assert wh.rows("SELECT rts_time FROM order_fulfilment WHERE order_id = ?", [order.id]) == [(None,)]
        sandbox.business_now = None  # the clock moves on to the end: the order has shipped since
        sync_from_sandbox(running, tmp_path, options=SyncOptions(history_days=20))
    with Warehouse(warehouse_path(tmp_path), read_only=True) as wh:
        shipped = wh.rows("SELECT epoch(rts_time), late FROM dispatch_facts WHERE order_id = ?", [order.id])
    assert shipped == [(order.fulfilment["rts_time"], order.fulfilment["rts_time"] > order.fulfilment["rts_sla_time"])]


def test_the_report_finds_and_explains_the_planted_deactivation_and_stockout(ops):
    home, sandbox = ops
    shop = sandbox.business.shops[1]
    planted = sandbox.business.operations[shop.id].planted
    with Warehouse(warehouse_path(home), read_only=True) as wh:
        jobs = plan_reports(wh, home / "reports", PERIOD, reports=["operations"], shops=[shop.id], langs=("en", "zh"))
    from shoplens.render import Rendering, choose_renderer

    with Rendering(choose_renderer(), formats=("html",)) as render:
        result = run_batch(jobs, home=home, reports_dir=home / "reports", render=render)
    assert result.failures == []
    html = {o.job.parameters["lang"]: o.job.html_path.read_text(encoding="utf-8") for o in result.outcomes}
    titles = {p.id: p.title for p in sandbox.business.products[shop.id]}
    deactivated = titles[planted["platform_deactivation"][0]]
    tz = shop.region.timezone
    from zoneinfo import ZoneInfo

    day = datetime.fromtimestamp(planted["platform_deactivation"][1], ZoneInfo(tz)).date().isoformat()
    assert (f"GMV of {deactivated} fell to {shop.region.currency} 0" in html["en"]
            and f"on {day} (a typical day:" in html["en"] and "the platform deactivated it that day" in html["en"])
    assert f"{deactivated} 的 GMV 于 {day} 降至" in html["zh"] and "平台于当天将其下架" in html["zh"]
    assert f'data-product="{planted["stockout"][0]}"' in html["en"] and "it had run out of stock" in html["en"]
    assert f'data-product="{planted["audit_failure"][0]}"' in html["en"] and "it failed audit that day" in html["en"]
    # the listing section lists the change with the product's GMV before it
    assert f'data-product="{planted["platform_deactivation"][0]}" data-status="PLATFORM_DEACTIVATED"' in html["en"]
    assert 'class="sl-ranked sl-at-risk"' in html["en"] or "sl-empty sl-at-risk" in html["en"]
    # the service section rates the week as the sandbox's reviews do: stars over reviews, 1-2 stars over all
    tz_info = ZoneInfo(tz)
    week = [r.stars_at(sandbox.now()) for product in sandbox.business.reviews[shop.id].values()
            for r in product.reviews if PERIOD[0] <= datetime.fromtimestamp(r.posted, tz_info).date() <= PERIOD[1]]
    shown = {m: float(re.search(f'data-metric="{m}" data-value="([^"]+)"', html["en"]).group(1))
             for m in ("reviews", "average_rating", "negative_review_share")}
    assert shown == {"reviews": len(week), "average_rating": pytest.approx(sum(week) / len(week)),
                     "negative_review_share": pytest.approx(sum(s <= 2 for s in week) / len(week))}
    assert "Products with negative reviews (1–2 stars)" in html["en"] and "有差评（1–2 星）的商品" in html["zh"]


def test_stock_lead_time_command_sets_and_refuses(ops):
    home, sandbox = ops
    shop = sandbox.business.shops[0].id
    done = run(["stock", "lead-time", "30", "--shop", shop], home)
    assert done.returncode == 0 and "30 days" in done.stdout, done.stderr
    with Warehouse(warehouse_path(home), read_only=True) as wh:
        assert wh.rows("SELECT DISTINCT lead_days FROM stock_daily WHERE shop_id = ?", [shop]) == [(30,)]
    bad = run(["stock", "lead-time", "30", "--shop", "nope"], home)
    assert bad.returncode == 1 and "unknown shop 'nope'" in bad.stderr and "Traceback" not in bad.stderr
    assert "between 1 and 365" in run(["stock", "lead-time", "0", "--shop", shop], home).stderr
    assert run(["stock", "lead-time", "7", "--shop", shop], home).returncode == 0


def test_targets_on_operations_metrics_are_not_scaled_by_days():
    from shoplens.reports.targets import Target

    assert Target("s", "o", "operations", "stock_on_hand", 700).for_days(14) == 700
    assert Target("s", "o", "operations", "hours_to_ship", 24).for_days(14) == 24
    assert Target("s", "o", "operations", "late_dispatch_rate", 0.05).for_days(14) == 0.05
    assert Target("s", "o", "operations", "stockout_risk_skus", 3).for_days(14) == 3
    assert Target("s", "o", "operations", "chat_sessions", 70).for_days(14) == 140  # a flow adds up
    assert Target("s", "o", "operations", "average_rating", 4.5).for_days(14) == 4.5
    assert Target("s", "o", "operations", "negative_review_share", 0.05).for_days(14) == 0.05
