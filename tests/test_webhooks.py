"""The TikTok webhook receiver over real HTTP on 127.0.0.1: valid, invalid, duplicate, malformed and
oversized notifications; a receiver killed with SIGKILL under load losing no notification it answered
200, and its worker recording each exactly once after a restart; and the whole path with the sandbox:
pushed order changes reaching the published warehouse without a scheduled sync, coalesced per shop;
a product taken down and a deauthorization reaching their records and the built-in alerts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from chatservers import ChatReceiver
from killing import burst_until_killed
from shoplens.aio import run_coroutine
from shoplens.config import warehouse_path, write_private_json
from shoplens.demo import authorize_with_sandbox, sandbox_settings, sync_from_sandbox
from shoplens.journal import journal_files, read_complete_lines
from shoplens.sandbox import SandboxServer
from shoplens.sandbox.webhooks import WebhookPusher
from shoplens.sync import SyncOptions
from shoplens.tiktok import StaticToken
from shoplens.warehouse import Warehouse
from shoplens.webhooks import PATH, Receiver, ReceiverServer, Worker, log_dir, signature
from shoplens.webhooks.receiver import PREFIX, is_notification
from conftest import small_sandbox

APP_KEY, APP_SECRET = "app-key-1", "app-SECRET-9f"
SAMPLE = ('{"type":1,"shop_id":"7494726673780148744","timestamp":1664095733,"data":{"order_id":"576684019603311365",'
          '"order_status":"AWAITING_SHIPMENT","update_time":1664095610}}')


def test_the_signature_matches_the_worked_example():
    # the EcomPHP SDK's webhook test vector; the digest computed independently with
    # `printf '%s' "fake_app_key$BODY" | openssl dgst -sha256 -hmac fake_app_secret`
    expected = "21109834de72ec53c9959716d8514ae388ce1f123e5ffdcafc46713fcdf62b27"
    assert signature("fake_app_key", "fake_app_secret", SAMPLE.encode()) == expected
    pusher = WebhookPusher.__new__(WebhookPusher)  # the sandbox's own signing, no server needed
    pusher.sandbox = type("S", (), {"gate": type("G", (), {"app_key": "fake_app_key",
                                                           "app_secret": "fake_app_secret"})()})()
    assert pusher.sign(SAMPLE.encode()) == expected


def signed(notification: dict | bytes, secret: str = APP_SECRET) -> tuple[bytes, dict]:
    body = notification if isinstance(notification, bytes) else json.dumps(notification).encode()
    return body, {"authorization": signature(APP_KEY, secret, body), "content-type": "application/json"}


def note(nid: str, kind: int = 1, shop: str = "7494000000000007001", **data) -> dict:
    return {"type": kind, "tts_notification_id": nid, "shop_id": shop, "timestamp": 1763280000,
            "data": data or {"order_id": "5760001", "order_status": "IN_TRANSIT", "update_time": 1763280000}}


def logged(directory: Path) -> list[dict]:
    return [r for path in journal_files(directory, PREFIX) for r in read_complete_lines(path, valid=is_notification).records]


def test_valid_invalid_duplicate_malformed_and_oversized_notifications(tmp_path):
    woken = []
    receiver = Receiver(APP_KEY, APP_SECRET, tmp_path / "log", on_logged=lambda: woken.append(1))
    with ReceiverServer(receiver) as server, httpx.Client(base_url=server.url, timeout=10) as http:
        body, headers = signed(note("n-1"))
        first = http.post(PATH, content=body, headers=headers)
        assert first.status_code == 200 and first.content == b""
        again = http.post(PATH, content=body, headers=headers)  # TikTok retrying: answered, not logged twice
        assert again.status_code == 200

        forged = http.post(PATH, content=body, headers={"authorization": signature(APP_KEY, "wrong", body)})
        assert forged.status_code == 401 and forged.content == b""
        bearer = http.post(PATH, content=body, headers={"authorization": "Bearer " + headers["authorization"]})
        assert bearer.status_code == 401
        assert http.post(PATH, content=body).status_code == 401
        tampered = body.replace(b"IN_TRANSIT", b"DELIVERED")
        assert http.post(PATH, content=tampered, headers=headers).status_code == 401

        for bad in (b"not json", b"[1, 2]", json.dumps({"type": 1, "shop_id": "1"}).encode(),
                    json.dumps({"type": "1", "tts_notification_id": "x"}).encode(),
                    json.dumps(note("n-2") | {"data": "text"}).encode()):
            answer = http.post(PATH, content=bad, headers=signed(bad)[1])
            assert answer.status_code == 400, bad
        huge, huge_headers = signed(b"x" * (1024 * 1024 + 1))
        assert http.post(PATH, content=huge, headers=huge_headers).status_code == 413
        assert http.get(PATH).status_code in (404, 405) and http.get("/other").status_code == 404
        second = http.post(PATH, content=signed(note("n-3", kind=12))[0], headers=signed(note("n-3", kind=12))[1])
        assert second.status_code == 200
        assert http.get("/webhooks/health").text == "ok 2 accepted\n"
    records = logged(tmp_path / "log")
    assert [r["notification_id"] for r in records] == ["n-1", "n-3"] and len(woken) == 2
    assert json.loads(records[0]["body"]) == note("n-1")  # the body exactly as signed
    assert (receiver.accepted, receiver.duplicates, receiver.rejected) == (2, 1, 9)
    assert APP_SECRET not in "".join(p.read_text() for p in (tmp_path / "log").iterdir())

    # a new receiver process remembers what was logged: a late retry of n-1 is not logged again
    receiver = Receiver(APP_KEY, APP_SECRET, tmp_path / "log")
    with ReceiverServer(receiver) as server:
        assert httpx.post(server.url + PATH, content=body, headers=headers).status_code == 200
    assert receiver.duplicates == 1 and len(logged(tmp_path / "log")) == 2


# --- durability -----------------------------------------------------------------------------------
def start_receiver(home: Path) -> tuple[subprocess.Popen, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SHOPLENS_")} | {
        "SHOPLENS_HOME": str(home), "SHOPLENS_APP_KEY": APP_KEY, "SHOPLENS_APP_SECRET": APP_SECRET}
    process = subprocess.Popen([str(Path(sys.executable).with_name("shoplens")), "webhooks", "serve", "--port", "0",
                                "--coalesce", "0.2"], env=environment, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    line = process.stdout.readline()
    assert line.startswith("receiving on http://127.0.0.1:"), line

    def drain() -> None:  # the worker says a line per batch; read them so its pipe never fills
        with process.stdout:
            for _ in process.stdout:
                pass

    threading.Thread(target=drain, daemon=True).start()
    return process, line.split()[2].rstrip(";")


async def burst(url: str, process: subprocess.Popen, kill_after: int) -> tuple[list[str], int]:
    """32 clients posting new signed notifications until the receiver dies (SIGKILL after `kill_after` 200s)."""
    counter = iter(range(10**9))

    async def push(http: httpx.AsyncClient, n: int) -> str:
        nid = f"k{n}-{next(counter)}"
        body, headers = signed(note(nid, kind=13, **{"conversation_id": nid}))
        answer = await http.post(url, content=body, headers=headers)
        assert answer.status_code == 200
        return nid

    return await burst_until_killed(process, kill_after, push)


def test_sigkill_under_load_loses_no_acknowledged_notification(tmp_path):
    process, url = start_receiver(tmp_path)
    try:
        acknowledged, failures = run_coroutine(lambda: burst(url, process, kill_after=300))
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL and failures == 32 and len(acknowledged) >= 300
    ids = [r["notification_id"] for r in logged(log_dir(tmp_path))]
    assert set(acknowledged) <= set(ids) and len(ids) == len(set(ids)), "an acknowledged notification is missing"

    # a restarted receiver's worker records every logged notification exactly once
    process, url = start_receiver(tmp_path)
    try:
        deadline = time.monotonic() + 120
        while True:
            if warehouse_path(tmp_path).exists():
                with Warehouse(warehouse_path(tmp_path), read_only=True) as warehouse:
                    stored = dict(warehouse.rows("SELECT notification_id, action FROM webhook_notifications"))
                if len(stored) >= len(ids):
                    break
            assert time.monotonic() < deadline, "the worker did not catch up with the log"
            time.sleep(0.2)
    finally:
        process.terminate()
        process.wait(timeout=60)
    # SIGTERM (systemd's stop) stops the worker first: it closes the working copy it keeps open and lets the
    # sync lock go (the lock's line is emptied on release), and the receiver exits 0
    assert process.returncode == 0
    assert (tmp_path / "data" / "sync.lock").read_text() == ""
    assert set(stored) == set(ids)
    assert set(stored.values()) == {"ignored: shoplens does not use NEW_CONVERSATION"}


# --- the whole path with the sandbox ----------------------------------------------------------------
def wait_for(worker: Worker, home: Path, count: int, seconds: float = 90) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        with Warehouse(warehouse_path(home), read_only=True) as warehouse:
            stored = {r[0]: r[1:] for r in warehouse.rows("SELECT notification_id, type, action, shop_id "
                                                          "FROM webhook_notifications")}
        if len(stored) >= count:
            return stored
        assert time.monotonic() < deadline, f"{len(stored)} of {count} notifications recorded"
        time.sleep(0.2)


def test_pushed_changes_reach_the_published_warehouse_without_a_scheduled_sync(tmp_path):
    sandbox = small_sandbox()
    home = tmp_path / "ws"
    start = sandbox.business.end_time - 5 * 86_400  # four days before the business window ends
    chat = ChatReceiver()
    with SandboxServer(sandbox) as api, chat.serve() as chat_server:
        pusher = WebhookPusher(sandbox, "http://127.0.0.1:1/unused", start=start)
        sync_from_sandbox(api, home, options=SyncOptions(history_days=21))
        settings = sandbox_settings(api, home)
        token = authorize_with_sandbox(settings).access_token
        write_private_json(home / ".shoplens" / "credentials.json",
                           {"channels": {"hook": {"url": f"{chat_server.url}/webhook"}}})
        (home / "alerts.toml").write_text('[channel.hook]\nkind = "webhook"\n'
                                          '[[rule]]\nid = "listing"\ncondition = "listing"\nchannels = ["hook"]\n'
                                          '[[rule]]\nid = "auth"\ncondition = "authorization"\nchannels = ["hook"]\n')
        worker = Worker(settings, log_dir(home), coalesce=0.5, authorizations=[StaticToken(token)])
        receiver = Receiver(settings.app_key, settings.app_secret, log_dir(home), on_logged=worker.wake)
        with ReceiverServer(receiver) as server:
            worker.start()
            try:
                pusher.address = server.url + PATH
                pushed = pusher.advance(start + 6 * 3600)
                assert len(pushed) >= 10 and {s for _, s, _ in pusher.pushed} == {200}
                stored = wait_for(worker, home, len(pushed))

                shop = sandbox.business.shops[0]
                product = sandbox.business.products[shop.id][3]
                assert pusher.set_product_status(shop.id, product.id, "PLATFORM_DEACTIVATED") == 200
                stored = wait_for(worker, home, len(pushed) + 1)
                assert pusher.deauthorize(sandbox.business.shops[1].id) == 200
                stored = wait_for(worker, home, len(pushed) + 2)
                deadline = time.monotonic() + 30

                def told(rule: str, subject: str) -> list[dict]:
                    return [a.body for a in chat.of("webhook") if a.body["rule"] == rule and a.body["subject"] == subject]

                while not (told("listing", shop.id) and told("auth", sandbox.business.shops[1].id)) \
                        and time.monotonic() < deadline:
                    time.sleep(0.1)
            finally:
                worker.stop()
        pusher.close()

    now = pusher.clock
    with Warehouse(warehouse_path(home), read_only=True) as warehouse:
        statuses = dict(warehouse.rows("SELECT order_id, status FROM orders"))
        listed = warehouse.rows("SELECT status FROM products WHERE product_id = ?", [product.id])
        revoked = warehouse.rows("SELECT revoked, revoked_reason FROM shop_authorizations WHERE shop_id = ?",
                                 [sandbox.business.shops[1].id])
    changed = {n["data"]["order_id"] for n in pushed if n["type"] == 1}
    by_id = {o.id: o for s in sandbox.business.shops for o in sandbox.business.orders[s.id]}
    for order_id in changed:  # every pushed order shows its state at the new business clock
        assert statuses[order_id] == by_id[order_id].state_at(now)[0], order_id
    assert {row[1] for nid, row in stored.items() if row[0] == 1} == {"sync orders"}
    assert len(worker.batches) < len(pushed)  # coalesced: far fewer syncs than notifications
    first = worker.batches[0]
    assert first.notifications > 1 and first.resources == sorted({"orders", "cancellations", "returns"} &
                                                                 set(first.resources)) and "orders" in first.resources
    assert listed == [("PLATFORM_DEACTIVATED",)]
    assert revoked == [(True, "TikTok: The seller has deauthorized the app")]
    listing, auth = told("listing", shop.id)[0], told("auth", sandbox.business.shops[1].id)[0]
    assert listing["event"] == "alert.fired" and product.title in " ".join(listing["items"])
    assert auth["event"] == "alert.fired" and "revoked" in auth["text"]


def test_the_webhook_bench_runs_at_a_tiny_size(tmp_path):
    out = tmp_path / "webhooks.json"
    done = subprocess.run([sys.executable, str(Path(__file__).resolve().parents[1] / "bench" / "webhooks.py"),
                           "--seconds", "1.5", "--rate", "20", "--shops", "1", "--orders-per-day", "10",
                           "--start-day", "7", "--no-doc", "--out", str(out)],
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["events"] >= 20 and result["acknowledged"] == result["events"] and result["lost"] == 0
    assert result["ack_p99_ms"] > 0 and 0 < result["fresh_p50_s"] <= result["fresh_p99_s"]
