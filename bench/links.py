"""Benchmark the redirect service on loopback, then SIGKILL it under load and count lost clicks.

1. A workspace with one shop and `--links` tracking links; `shoplens links serve --port 0` in its own
   process (one process, as deployed).
2. Load: an asyncio HTTP/1.1 client on uvloop in this process (raw streams, keep-alive, no
   pipelining) requests random codes, each request with its own visitor cookie and a phone user agent.
   - saturation: `--connections` clients, each sending its next request as soon as it has the answer,
     for `--seconds` after a warm-up; redirects per second counts complete 302 responses;
   - steady: `--rate` requests per second whatever the answers (open loop) over a pool of 64
     connections, for `--seconds`; p50/p99 latency counts from when each request was due, so a stalled
     server cannot hide its queue (no coordinated omission).
3. Durability: a server in a fresh workspace, under the saturating load, is killed with SIGKILL after
   `--kill-after` seconds. Every request that received its 302 before the kill is "acknowledged"; the
   log is then loaded as `shoplens links load` does (`load_click_log` in `workspace_writer`) and each
   acknowledged click (found by its visitor id) must be in `link_clicks` exactly once; loading a
   second time must add nothing.

Writes bench/results/links.json and the links section of docs/performance.md.
A lost, duplicated or re-loaded click, a transport error or a non-302 answer exits non-zero after writing
the results (`durable`, `problems`).
Usage: .venv/bin/python bench/links.py [--seconds 10] [--connections 64] [--rate 2000] [--no-doc]
       .venv/bin/python bench/links.py --tiny --out /tmp/links.json --no-doc   (the test suite's size)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import uvloop

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from perfdoc import update_section  # noqa: E402

from shoplens.links.load import load_click_log  # noqa: E402
from shoplens.links.registry import LinkSpec, create_link  # noqa: E402
from shoplens.links.server import click_dir  # noqa: E402
from shoplens.warehouse import Warehouse  # noqa: E402
from shoplens.warehouse.publish import publish, working_path  # noqa: E402
from shoplens.warehouse.reference import workspace_writer  # noqa: E402

PHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
         "Mobile/15E148 musical_ly_37.1.0 BytedanceWebview/d8a21c6")
SHOP = "7494000000000042001"


def make_workspace(home: Path, links: int) -> list[str]:
    """One shop, `links` links; returns their codes."""
    with Warehouse(working_path(home)) as warehouse:
        warehouse.con.execute("INSERT INTO shops VALUES (?, 'Bench TH', 'TH', 'LOCAL', 'BENCH', 'THB', "
                              "'Asia/Bangkok', 'bench', now())", [SHOP])
        warehouse.con.execute("CHECKPOINT")
    publish(home)
    codes = []
    with workspace_writer(home) as warehouse:
        for n in range(links):
            spec = LinkSpec(SHOP, f"bench {n % 5}", f"creator {n}", "affiliate",
                            f"https://shop.example.com/product/{n}?src=bench")
            codes.append(create_link(warehouse, spec, base="http://127.0.0.1")[0]["code"])
    return codes


class Server:
    """`shoplens links serve --port 0` in its own process."""

    def __init__(self, home: Path) -> None:
        command = [sys.executable, "-c", "from shoplens.cli import main; main()", "links", "serve", "--port", "0"]
        self.process = subprocess.Popen(command, env=os.environ | {"SHOPLENS_HOME": str(home)},
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.process.stdout.readline()
        self.process.stdout.close()  # it prints nothing more
        if "redirecting on " not in line:
            raise RuntimeError(f"the redirect server did not start: {line!r}")
        url = line.split("redirecting on ", 1)[1].split(";", 1)[0]
        self.host, port = url.removeprefix("http://").rsplit(":", 1)
        self.port = int(port)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(timeout=30)


class Connection:
    """One keep-alive HTTP/1.1 connection; `get()` sends a request and reads the whole response."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def open(self) -> Connection:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def get(self, code: str, visitor: str) -> bytes:
        """The response's status line; raises OSError/IncompleteReadError when the server is gone."""
        self.writer.write((f"GET /{code} HTTP/1.1\r\nHost: {self.host}\r\nUser-Agent: {PHONE}\r\n"
                           f"Cookie: sl_vid={visitor}\r\n\r\n").encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:" and int(line[15:]):
                await self.reader.readexactly(int(line[15:]))
        return head[:12]

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class Load:
    """Requests for random codes, each from a new visitor; records latencies and acknowledged visitor ids."""

    def __init__(self, host: str, port: int, codes: list[str]) -> None:
        self.host, self.port, self.codes = host, port, codes
        self.rng = random.Random(secrets.randbits(64))
        self.latencies: list[float] = []
        self.acknowledged: list[str] = []
        self.other_status = 0
        self.errors = 0
        self.recording = False
        self.stop = False

    async def _one(self, connection: Connection, started: float) -> None:
        visitor = secrets.token_urlsafe(16)
        status = await connection.get(self.rng.choice(self.codes), visitor)
        if status == b"HTTP/1.1 302":
            self.acknowledged.append(visitor)
            if self.recording:
                self.latencies.append(time.perf_counter() - started)
        else:
            self.other_status += 1

    async def _closed_loop(self) -> None:
        while not self.stop:
            try:
                connection = await Connection(self.host, self.port).open()
            except OSError:
                self.errors += 1
                await asyncio.sleep(0.05)
                continue
            try:
                while not self.stop:
                    await self._one(connection, time.perf_counter())
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                self.errors += 1
            finally:
                connection.close()

    async def saturate(self, connections: int, warmup: float, seconds: float, kill=None) -> float:
        """`connections` clients each sending its next request as soon as the last is answered.

        Warm up, then record for `seconds`; `kill(elapsed)` is called every 10 ms while recording.
        """
        tasks = [asyncio.create_task(self._closed_loop()) for _ in range(connections)]
        await asyncio.sleep(warmup)
        self.latencies.clear()
        self.recording = True
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            await asyncio.sleep(0.01)
            if kill is not None:
                kill(time.perf_counter() - started)
        self.recording = False
        elapsed = time.perf_counter() - started
        self.stop = True
        await asyncio.wait(tasks, timeout=5)
        for task in tasks:
            task.cancel()
        return elapsed

    async def steady(self, rate: float, seconds: float, connections: int) -> float:
        """Requests at a fixed rate whatever the answers (open loop), over a pool of connections.

        A request's latency counts from when it was due, so time spent waiting for a free connection
        (a slow server) is in it too. Returns the seconds it took to send them all and get the answers.
        """
        idle: asyncio.Queue = asyncio.Queue()
        for _ in range(connections):
            idle.put_nowait(await Connection(self.host, self.port).open())

        async def send(due: float) -> None:
            connection = await idle.get()
            try:
                await self._one(connection, due)
            except (OSError, asyncio.IncompleteReadError):
                self.errors += 1
            idle.put_nowait(connection)

        self.recording = True
        started = time.perf_counter()
        tasks = []
        for n in range(int(rate * seconds)):
            due = started + n / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(send(due)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
        self.recording = False
        while not idle.empty():
            idle.get_nowait().close()
        return elapsed


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 1000) - 1] if len(values) > 1 else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each measured run")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=64, help="clients of the saturation run")
    parser.add_argument("--rate", type=float, default=2000.0, help="requests per second of the steady run")
    parser.add_argument("--links", type=int, default=200)
    parser.add_argument("--kill-after", type=float, default=3.0)
    parser.add_argument("--no-doc", action="store_true",
                        help="no docs/performance.md, and no json unless --out names one")
    parser.add_argument("--out", type=Path, help="where the json goes (default: bench/results/links.json)")
    parser.add_argument("--tiny", action="store_true",
                        help="the test suite's size: 20 links, 8 clients, 1 s runs at 200/s, killed after 1 s")
    args = parser.parse_args()
    if args.tiny:
        args.seconds, args.warmup, args.connections, args.rate, args.links, args.kill_after = 1.0, 0.2, 8, 200.0, 20, 1.0
    with tempfile.TemporaryDirectory(prefix="shoplens-bench-links-") as tmp:
        home = Path(tmp) / "load"
        codes = make_workspace(home, args.links)
        server = Server(home)
        try:
            saturated = Load(server.host, server.port, codes)
            seconds = uvloop.run(saturated.saturate(args.connections, args.warmup, args.seconds))
            print(f"saturation: {len(saturated.latencies) / seconds:.0f} redirects/s", flush=True)
            steady = Load(server.host, server.port, codes)
            steady_s = uvloop.run(steady.steady(args.rate, args.seconds, 64))
            print(f"steady {args.rate:g}/s: answered in {steady_s:.1f} s", flush=True)
        finally:
            server.stop()

        home = Path(tmp) / "kill"  # its own workspace: every click in its log comes from this run
        codes = make_workspace(home, args.links)
        killed = Server(home)
        kill_load = Load(killed.host, killed.port, codes)

        def kill(elapsed: float) -> None:
            if elapsed >= args.kill_after and killed.process.poll() is None:
                killed.process.send_signal(signal.SIGKILL)

        uvloop.run(kill_load.saturate(args.connections, 0.0, args.kill_after + 1.0, kill=kill))
        killed.process.wait(timeout=10)
        acknowledged = kill_load.acknowledged
        with workspace_writer(home) as warehouse:
            first = load_click_log(warehouse, click_dir(home))
            second = load_click_log(warehouse, click_dir(home))
            warehouse.con.execute("CREATE TEMP TABLE acked (visitor_id VARCHAR)")
            warehouse.con.executemany("INSERT INTO acked VALUES (?)", [[v] for v in acknowledged])
            found = dict(warehouse.rows("SELECT a.visitor_id, count(c.click_id) FROM acked a LEFT JOIN link_clicks c "
                                        "USING (visitor_id) GROUP BY a.visitor_id"))
            in_warehouse = warehouse.count("link_clicks")
    exactly_once = sum(1 for v in acknowledged if found.get(v) == 1)
    sat, ok = sorted(saturated.latencies), sorted(steady.latencies)
    result = {
        "redirects_per_s": round(len(sat) / seconds, 1),
        "p50_ms": round(percentile(ok, 0.50) * 1000, 2),
        "p99_ms": round(percentile(ok, 0.99) * 1000, 2),
        "steady_rate_per_s": args.rate, "steady_answered_per_s": round(len(ok) / steady_s, 1),
        "saturated_p50_ms": round(percentile(sat, 0.50) * 1000, 2),
        "saturated_p99_ms": round(percentile(sat, 0.99) * 1000, 2),
        "connections": args.connections, "seconds": args.seconds, "links": args.links,
        "errors": saturated.errors + steady.errors, "non_302": saturated.other_status + steady.other_status,
        "acknowledged": len(acknowledged), "loaded": exactly_once, "lost": len(acknowledged) - exactly_once,
        "duplicates": sum(1 for v in acknowledged if found.get(v, 0) > 1),
        "logged_not_acknowledged": in_warehouse - exactly_once,
        "unreadable_lines": first.unreadable,
        "second_load_new": second.inserted,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"), "machine": f"{os.cpu_count()} cores",
    }
    # the comparison: every acknowledged click in the warehouse exactly once, a second load adding nothing
    problems = [f"{name}: {result[name]}" for name in ("lost", "duplicates", "second_load_new", "errors", "non_302")
                if result[name]]
    if not result["acknowledged"]:
        problems.append("no click was acknowledged before the kill")
    result["durable"] = not problems
    result["problems"] = problems
    print(json.dumps(result, indent=2))
    if args.out or not args.no_doc:
        (args.out or ROOT / "bench" / "results" / "links.json").write_text(json.dumps(result, indent=2) + "\n")
    if not args.no_doc:
        document(result, args)
    if problems:
        raise SystemExit("bench/links.py: " + "; ".join(problems))


def document(result: dict, args: argparse.Namespace) -> None:
    table = [
        "| measure | result | target |",
        "|---|---|---|",
        f"| redirects per second, saturated ({args.connections} keep-alive clients, {args.seconds:g} s) | "
        f"{result['redirects_per_s']:,.0f} | ≥ 2,000 |",
        f"| latency p50 / p99 at a steady {args.rate:,.0f} requests/s (open loop, from when each was due) | "
        f"{result['p50_ms']} ms / {result['p99_ms']} ms | p99 < 20 ms |",
        f"| latency p50 / p99 when saturated | {result['saturated_p50_ms']} ms / {result['saturated_p99_ms']} ms | |",
        f"| SIGKILL under load: clicks acknowledged (302 received) | {result['acknowledged']:,} | |",
        f"| ... in the warehouse exactly once after `links load` | {result['loaded']:,} | all |",
        f"| ... lost | {result['lost']} | 0 |",
        f"| logged but not acknowledged (in flight at the kill; loaded too) | {result['logged_not_acknowledged']} | |",
        f"| new rows from loading the log a second time | {result['second_load_new']} | 0 |",
    ]
    update_section("links", f"Measured {result['measured_at']} on {result['machine']} (1-minute load average "
                            f"{result['load_average_1m']} at the end) by `bench/links.py`: `shoplens links serve` "
                            "(one process: a Starlette router on uvicorn with httptools and uvloop) on 127.0.0.1, "
                            "against an asyncio HTTP/1.1 load generator (uvloop) in another process on the same 2 "
                            "cores; every request is a new visitor "
                            "with a phone user agent. Every 302 is sent only after its click is on disk "
                            "(O_DSYNC write, group commit). Throughput comes from a saturation run (each client "
                            "sends its next request as soon as it has the answer); latency from a steady run at "
                            "the target rate. Then a second server under load is killed with SIGKILL after "
                            f"{args.kill_after:g} s, and its click log is loaded twice (`load_click_log`, what "
                            "`shoplens links load` runs).", table)


if __name__ == "__main__":
    main()
