"""The doctor's checks of what the workspace holds and serves: each shop's freshness in the warehouse (its
stalest resource, failing syncs, its authorization: revoked, lapsed, or no longer among the shops the API
lists for its seller), and the redirect service when one is configured.

The warehouse is opened read-only; nothing is written. It must never print a token.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx

from shoplens.tiktok.cli import AUTHORIZE_AGAIN
from shoplens.workspace.doctor import FAIL, OK, SKIP, Doctor, Result, ago

SYNC_FIX = "`shoplens sync` (and `shoplens schedule --install` to sync every hour)"


def freshness(doctor: Doctor) -> Iterator[Result]:
    from shoplens.errors import WarehouseError
    from shoplens.quality.authorization import authorization_problems
    from shoplens.quality.signals import resource_freshness
    from shoplens.warehouse import Warehouse

    if doctor.settings is None:
        return
    path = doctor.settings.warehouse_path
    if not path.exists():
        yield Result("warehouse", FAIL, f"nothing synced yet (no {path})", SYNC_FIX)
        return
    try:
        with Warehouse(path, read_only=True) as warehouse:
            shops = warehouse.rows("SELECT shop_id, coalesce(name, shop_id) FROM shops ORDER BY 2, 1")
            fresh = resource_freshness(warehouse)
            problems = authorization_problems(warehouse)
            holders = dict(warehouse.rows("SELECT shop_id, open_id FROM shop_authorizations WHERE open_id IS NOT NULL"))
    except WarehouseError as exc:
        yield Result("warehouse", FAIL, str(exc), "see the message: `shoplens sync` migrates and repairs")
        return
    if not shops:
        yield Result("warehouse", FAIL, "no shop synced yet", SYNC_FIX)
        return
    now = doctor.clock()
    for shop_id, name in shops:
        label = f"shop {name} ({shop_id})"
        lapsed = problems[(problems.shop_id == shop_id) & problems.kind.isin(["revoked", "expired"])]
        open_id = holders.get(shop_id)
        if not lapsed.empty:
            row = lapsed.iloc[0]
            reason = f": {row.reason}" if row.reason else ""
            yield Result(label, FAIL, f"authorization {row.kind}{reason}", AUTHORIZE_AGAIN)
            continue
        if open_id in doctor.covered and shop_id not in doctor.covered[open_id]:
            yield Result(label, FAIL, "no longer among the shops its seller's authorization covers (revoked)",
                         AUTHORIZE_AGAIN)
            continue
        runs = [r for r in fresh.itertuples() if r.shop_id == shop_id]
        if not runs:
            yield Result(label, SKIP, "not synced (its orders come from imported exports)")
            continue
        never = [r.resource for r in runs if r.last_ok is None or r.last_ok != r.last_ok]
        if never:
            yield Result(label, FAIL, f"never synced completely: {', '.join(never)}", SYNC_FIX)
            continue
        failing = [r for r in runs if r.last_status != "ok"]
        stalest = min(runs, key=lambda r: r.last_ok)
        age = now - stalest.last_ok.timestamp()
        through = max((r.covered_until for r in runs if r.covered_until is not None), default=None)
        data = f"; data through {through}" if through else ""
        if age > doctor.stale_after.total_seconds():
            yield Result(label, FAIL, f"stale: {stalest.resource} last synced {ago(age)}{data}", SYNC_FIX)
        elif failing:
            yield Result(label, FAIL, f"{len(failing)} resource(s) failing ({', '.join(r.resource for r in failing)}): "
                                      f"{failing[0].last_error}", "see `shoplens sync status`, then `shoplens sync`")
        else:
            yield Result(label, OK, f"synced {ago(age)}{data}")


def redirect_service(doctor: Doctor) -> Iterator[Result]:
    """Checked only when SHOPLENS_LINK_BASE says where the team's redirect service runs."""
    yield from _service(doctor, "redirect service", "SHOPLENS_LINK_BASE", "/-/health",
                        "`shoplens links serve` (see docs/links.md)")


def webhook_service(doctor: Doctor) -> Iterator[Result]:
    """Checked only when SHOPLENS_WEBHOOK_BASE says where the TikTok webhook receiver answers."""
    yield from _service(doctor, "webhook receiver", "SHOPLENS_WEBHOOK_BASE", "/webhooks/health",
                        "`shoplens webhooks serve` (see docs/webhooks.md)")


def _service(doctor: Doctor, label: str, variable: str, health: str, start: str) -> Iterator[Result]:
    base = os.environ.get(variable, "").strip().rstrip("/")
    if not base:
        return
    if doctor.offline:
        yield Result(label, SKIP, "not checked (--offline)")
        return
    try:
        with doctor.http() as http:
            answer = http.get(f"{base}{health}")
    except httpx.HTTPError as exc:
        yield Result(label, FAIL, f"{base} does not answer ({type(exc).__name__})",
                     f"start it: {start}, or correct {variable}")
        return
    if answer.status_code != 200:
        yield Result(label, FAIL, f"{base}{health} answered HTTP {answer.status_code}",
                     f"is {variable} the {label} ({start.split(' (')[0]})?")
    else:
        yield Result(label, OK, f"{base} answers")
