"""Benchmark the TikTok webhook path: the sandbox pushes order changes to `shoplens webhooks serve` at a
fixed rate; how fast are they acknowledged, and how soon is each change in the published warehouse?

1. A sandbox (seed 42, `--shops` shops) served on 127.0.0.1 in this process, its business clock set
   `--start-day` days into its window; a workspace synced from it at that clock; the sandbox's tokens
   saved in the workspace for the receiver's worker.
2. `shoplens webhooks serve --port 0` in its own process (receiver and worker, as deployed).
3. The pusher (`shoplens.sandbox.webhooks.WebhookPusher`) takes the business's next changes in time
   order (order status changes, cancellations, returns) and sends them signed at `--rate` per second for
   `--seconds` (open loop over a pool of 32 keep-alive connections: a request's answer time counts from
   when it was due, so a stalled receiver cannot hide its queue). Before each push the business clock
   moves to that change, so the API shows it.
4. A poller watches the published warehouse file; each time it is replaced, it looks up every change
   not seen yet (orders.update_time, cancellations, refunds.update_time) and notes when it appeared:
   push -> published freshness.
5. At the end every acknowledged notification must be in `webhook_notifications` (lost = 0). The naive
   way beside it: a scheduled incremental sync (timed here on the same warehouse), which shows a change
   after half the schedule interval on average.

Writes bench/results/webhooks.json (events, acknowledged, lost, ack_p99_ms, fresh_p50_s, fresh_p99_s,
...) and the webhooks section of docs/performance.md.
Usage: .venv/bin/python bench/webhooks.py [--rate 200] [--seconds 60] [--shops 3] [--no-doc] [--out PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from perfdoc import update_section  # noqa: E402

from shoplens.config import warehouse_path  # noqa: E402
from shoplens.demo import authorize_with_sandbox, sandbox_settings, sync_from_sandbox  # noqa: E402
from shoplens.sandbox import SandboxServer, make_sandbox  # noqa: E402
from shoplens.sandbox.webhooks import WebhookPusher  # noqa: E402
from shoplens.sync import SyncOptions, run_sync  # noqa: E402
from shoplens.tiktok import StaticToken, TokenStore  # noqa: E402


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


class Receiver:
    """`shoplens webhooks serve --port 0` in its own process; its lines are kept in `lines`."""

    def __init__(self, home: Path, settings) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPLENS_")} | {
            "SHOPLENS_HOME": str(home), "SHOPLENS_APP_KEY": settings.app_key,
            "SHOPLENS_APP_SECRET": settings.app_secret, "SHOPLENS_API_URL": settings.api_url,
            "SHOPLENS_AUTH_URL": settings.auth_url}
        command = [sys.executable, "-c", "from shoplens.cli import main; main()", "webhooks", "serve", "--port", "0"]
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = self.process.stdout.readline()
        if not line.startswith("receiving on "):
            raise RuntimeError(f"the receiver did not start: {line!r}")
        self.url = line.split()[2].rstrip(";")
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip())

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=120)


class Freshness:
    """Polls the published warehouse; notes when each pushed change first shows in it."""

    def __init__(self, home: Path) -> None:
        self.path = warehouse_path(home)
        self.pending: dict[str, tuple] = {}  # key -> (kind, id, update_time, pushed_at)
        self.seen: dict[str, float] = {}
        self.publishes = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def expect(self, notification: dict, pushed_at: float) -> None:
        data, kind = notification["data"], notification["type"]
        if kind == 1:
            item = ("orders", data["order_id"], data["update_time"], pushed_at)
        elif kind == 11:
            item = ("cancellations", data["cancel_id"], 0, pushed_at)
        elif kind == 12:
            item = ("refunds", data["return_id"], data["update_time"], pushed_at)
        else:
            return
        with self._lock:
            self.pending[notification["tts_notification_id"]] = item

    def start(self) -> Freshness:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        stamp = None
        while not self._stop.is_set():
            try:
                st = os.stat(self.path)
            except FileNotFoundError:
                time.sleep(0.02)
                continue
            now_stamp = (st.st_ino, st.st_mtime_ns)
            if now_stamp == stamp:
                time.sleep(0.02)
                continue
            stamp = now_stamp
            self.publishes += 1
            self._look(time.time())

    def _look(self, at: float) -> None:
        with self._lock:
            pending = [(key, *item[:3]) for key, item in self.pending.items() if key not in self.seen]
        if not pending:
            return
        try:
            con = duckdb.connect(str(self.path), read_only=True)
        except duckdb.Error:
            return
        try:
            con.execute("CREATE TEMP TABLE want (key VARCHAR, kind VARCHAR, id VARCHAR, t BIGINT)")
            con.executemany("INSERT INTO want VALUES (?, ?, ?, ?)", pending)
            found = con.execute("""
                SELECT w.key FROM want w JOIN orders o ON w.kind = 'orders' AND o.order_id = w.id
                    AND epoch(o.update_time) >= w.t
                UNION ALL SELECT w.key FROM want w JOIN cancellations c ON w.kind = 'cancellations' AND c.cancel_id = w.id
                UNION ALL SELECT w.key FROM want w JOIN refunds r ON w.kind = 'refunds' AND r.return_id = w.id
                    AND epoch(r.update_time) >= w.t
            """).fetchall()
        finally:
            con.close()
        with self._lock:
            for (key,) in found:
                self.seen.setdefault(key, at)

    def latencies(self) -> list[float]:
        with self._lock:
            return [self.seen[k] - item[3] for k, item in self.pending.items() if k in self.seen]


class Connection:
    """One keep-alive HTTP/1.1 connection: `post()` sends a request and reads the whole answer (raw
    streams, as bench/links.py: httpx's pool slows down badly with thousands of requests waiting)."""

    def __init__(self, host: str, port: int, path: str) -> None:
        self.host, self.port, self.path = host, port, path
        self.reader = self.writer = None

    async def open(self) -> Connection:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def post(self, body: bytes, headers: dict) -> int:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.writer.write(f"POST {self.path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Length: {len(body)}\r\n"
                          f"{head}\r\n".encode() + body)
        answer = await self.reader.readuntil(b"\r\n\r\n")
        for line in answer.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:" and int(line[15:]):
                await self.reader.readexactly(int(line[15:]))
        return int(answer[9:12])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def push_all(pusher: WebhookPusher, due: list[tuple[int, dict]], url: str, rate: float,
                   fresh: Freshness) -> tuple[list[float], list[str], int, float]:
    """Push `due` at `rate` per second (open loop over 32 keep-alive connections); returns the answer
    times (from when each was due), the acknowledged ids, failures, and the seconds it took."""
    address = httpx.URL(url)
    idle: asyncio.Queue = asyncio.Queue()
    for _ in range(32):
        idle.put_nowait(await Connection(address.host, address.port, address.path).open())
    answers: list[float] = []
    acknowledged: list[str] = []
    failures = 0
    started = time.perf_counter()
    wall = time.time()

    async def one(index: int, notification: dict) -> None:
        nonlocal failures
        due_at = started + index / rate
        body, headers = pusher.encode(notification)
        connection = await idle.get()
        try:
            status = await connection.post(body, headers)
        except (OSError, asyncio.IncompleteReadError):
            failures += 1
            connection = await Connection(address.host, address.port, address.path).open()
        else:
            answers.append(time.perf_counter() - due_at)
            if status == 200:
                acknowledged.append(notification["tts_notification_id"])
            else:
                failures += 1
        idle.put_nowait(connection)

    tasks = []
    for index, (at, notification) in enumerate(due):
        delay = started + index / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if at >= pusher.clock:  # the API shows the change from now on
            pusher.pushed_until, pusher.clock = at, at + 1
        fresh.expect(notification, wall + index / rate)
        tasks.append(asyncio.create_task(one(index, notification)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    while not idle.empty():
        idle.get_nowait().close()
    return answers, acknowledged, failures, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--shops", type=int, default=3)
    parser.add_argument("--orders-per-day", type=int, default=40)
    parser.add_argument("--start-day", type=int, default=30, help="business day (from the window's start) to begin at")
    parser.add_argument("--drain", type=float, default=180.0, help="seconds to wait for the last changes")
    parser.add_argument("--no-doc", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "webhooks.json")
    args = parser.parse_args()

    sandbox = make_sandbox(42, args.shops, orders_per_day=args.orders_per_day)
    start = int(datetime.combine(sandbox.business.first_day + timedelta(days=args.start_day),
                                 datetime.min.time(), UTC).timestamp())
    events = int(args.rate * args.seconds)
    with tempfile.TemporaryDirectory(prefix="shoplens-webhooks-bench-") as tmp, SandboxServer(sandbox) as api:
        home = Path(tmp)
        pusher = WebhookPusher(sandbox, "", start=start)
        settings = sandbox_settings(api, home)
        began = time.perf_counter()
        sync_from_sandbox(api, home, options=SyncOptions(history_days=args.start_day + 2))
        first_sync = time.perf_counter() - began
        tokens = authorize_with_sandbox(settings)
        TokenStore(home / ".shoplens" / "tokens.json").save(tokens)
        due = list(pusher.upcoming(events))
        receiver = Receiver(home, settings)
        fresh = Freshness(home).start()
        try:
            url = receiver.url
            answers, acknowledged, failures, pushing = asyncio.run(push_all(pusher, due, url, args.rate, fresh))
            deadline = time.monotonic() + args.drain
            while time.monotonic() < deadline and len(fresh.seen) < len(fresh.pending):
                time.sleep(0.2)
            fresh.stop()
            # every change can be seen before the worker has recorded the last notifications (a later push's
            # change was already read by an earlier batch's sync): wait for the journal to drain too
            while True:
                con = duckdb.connect(str(warehouse_path(home)), read_only=True)
                recorded = {r[0] for r in con.execute("SELECT notification_id FROM webhook_notifications").fetchall()}
                batches = con.execute("SELECT count(DISTINCT processed_at) FROM webhook_notifications").fetchone()[0]
                size_mb = os.path.getsize(warehouse_path(home)) / 1e6
                con.close()
                if set(acknowledged) <= recorded or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
        finally:
            receiver.stop()
        # the naive way beside it: one scheduled incremental sync of every shop and resource, timed
        began = time.perf_counter()
        run_sync(settings, authorizations=[StaticToken(tokens.access_token)])
        scheduled_sync = time.perf_counter() - began
        pusher.close()
    lost = len(set(acknowledged) - recorded)
    phases = [[float(part.split()[-2]) for part in line.split("(API ", 1)[1].rstrip(")").split(", ")]
              for line in receiver.lines if "(API " in line]
    api, record, publish = ([p[i] for p in phases] for i in range(3))
    latencies = fresh.latencies()
    result = {
        "events": len(due), "acknowledged": len(acknowledged), "lost": lost, "failures": failures,
        "acknowledged_per_s": round(len(acknowledged) / pushing, 1),
        "ack_p50_ms": round(percentile(answers, 0.5) * 1000, 2), "ack_p99_ms": round(percentile(answers, 0.99) * 1000, 2),
        "ack_max_ms": round(max(answers, default=0) * 1000, 2),
        "fresh_p50_s": round(percentile(latencies, 0.5), 2), "fresh_p99_s": round(percentile(latencies, 0.99), 2),
        "fresh_max_s": round(max(latencies, default=0), 2), "changes_checked": len(fresh.pending),
        "changes_seen": len(latencies), "syncs": batches,
        "notifications_per_sync": round(len(recorded) / batches, 1) if batches else 0,
        "batch_api_s_mean": round(statistics.mean(api), 2) if api else 0,
        "batch_record_s_mean": round(statistics.mean(record), 2) if record else 0,
        "batch_facts_publish_s_mean": round(statistics.mean(publish), 2) if publish else 0,
        "publishes_seen": fresh.publishes, "warehouse_mb": round(size_mb, 1), "first_sync_s": round(first_sync, 1),
        "scheduled_sync_s": round(scheduled_sync, 2), "rate": args.rate, "seconds": args.seconds,
        "shops": args.shops, "business_days_pushed": round((due[-1][0] - start) / 86_400, 1) if due else 0,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"), "machine": f"{os.cpu_count()} cores",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    if not args.no_doc:
        write_doc(result)


def write_doc(r: dict) -> None:
    intro = (f"Measured {r['measured_at']} on {r['machine']} (1-minute load average {r['load_average_1m']} at the "
             f"end: the machine was shared) by `bench/webhooks.py`: a sandbox of {r['shops']} shops pushes its order "
             f"changes (status changes, cancellations, returns: {r['business_days_pushed']} business days of them "
             "squeezed into the run) signed like TikTok's to `shoplens webhooks serve` on 127.0.0.1, open loop over 32 "
             "keep-alive connections. The receiver and its worker share one process; the sandbox and the pusher "
             "share another. Each 200 is sent only once the notification is on disk (O_DSYNC, group commit); the "
             "answer time counts from when each push was due. Freshness runs from the push to when a poller first "
             "finds the change in the published warehouse file.\n\n"
             "Where a batch's time goes: the targeted incremental sync of the touched shops and resources "
             f"({r['batch_api_s_mean']} s on average: every changed order of the batch is read again from the sandbox, "
             f"which runs beside the pusher), recording the notifications ({r['batch_record_s_mean']} s), then the "
             "facts the batch's changes reach refreshed and its log appended to the idle published replica "
             f"({r['batch_facts_publish_s_mean']} s at {r['warehouse_mb']} MB; what that part costs at 10 million "
             "orders: the incremental section). Answer times stay within TikTok's 3 s; their tail is measured on a machine "
             "loaded well beyond its 2 cores, with the worker loading pages in the receiver's own process (one "
             "interpreter): a worker process of its own is the next step if the tail matters. The naive way beside it is a scheduled incremental sync of every shop and "
             "resource, timed on the same warehouse: it shows a change half its interval later on average, plus the "
             "sync; and the API itself shows an order only 1-2 hours after it was placed.")
    table = [
        "| measure | webhooks | scheduled sync (naive) |",
        "|---|---|---|",
        f"| notifications pushed ({r['rate']:g}/s for {r['seconds']:g} s) | {r['events']:,} | |",
        f"| acknowledged (200) / lost after the drain | {r['acknowledged']:,} / {r['lost']} | |",
        f"| acknowledged per second | {r['acknowledged_per_s']:,} | |",
        f"| answer time p50 / p99 / max (TikTok allows 3 s) | {r['ack_p50_ms']} ms / {r['ack_p99_ms']} ms / "
        f"{r['ack_max_ms']} ms | |",
        f"| push -> published warehouse p50 / p99 / max | {r['fresh_p50_s']} s / {r['fresh_p99_s']} s / "
        f"{r['fresh_max_s']} s ({r['changes_seen']:,} of {r['changes_checked']:,} changes seen) | "
        f"every 15 min: 7.5 min + {r['scheduled_sync_s']} s on average, 15 min + {r['scheduled_sync_s']} s at worst |",
        f"| syncs (worker batches) / notifications per sync | {r['syncs']} / {r['notifications_per_sync']} | "
        f"1 sync of every shop and resource: {r['scheduled_sync_s']} s |",
        f"| one batch, mean: the targeted sync's API part / recording its notifications / fact refresh and "
        f"publish | {r['batch_api_s_mean']} s / {r['batch_record_s_mean']} s / {r['batch_facts_publish_s_mean']} s | |",
    ]
    update_section("webhooks", intro, table)


if __name__ == "__main__":
    if sys.argv[1:] == ["--doc-only"]:  # rewrite the docs section from the last results
        write_doc(json.loads((ROOT / "bench" / "results" / "webhooks.json").read_text(encoding="utf-8")))
    else:
        main()
