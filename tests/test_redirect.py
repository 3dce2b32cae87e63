"""The redirect service over real HTTP on 127.0.0.1 (ephemeral ports): redirects that carry the UTM
parameters, the visitor cookie, bot flags, 404s, what the click log keeps and never keeps, a 503 rather
than an unlogged 302; and a server process killed with SIGKILL in the middle of a burst losing no click
it had answered with a 302."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import parse_qsl

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from shoplens.aio import run_coroutine
from shoplens.config import warehouse_path
from shoplens.links.classify import IpHasher, load_salt
from shoplens.links.load import load_click_log
from shoplens.links.registry import LinkSpec, create_link
from shoplens.links.server import COOKIE, RedirectServer, bind_socket, click_dir, url_of
from shoplens.warehouse import Warehouse
from shoplens.warehouse.reference import workspace_writer
from killing import burst_until_killed
from test_links import SHOPS, make_workspace

PHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
         "Mobile/15E148 musical_ly_37.1.0 BytedanceWebview/d8a21c6")
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


class Landing:
    """A shop page on its own loopback port that answers with the query it was given."""

    def __init__(self) -> None:
        async def page(request):
            return JSONResponse({"path": request.url.path, "query": request.url.query})

        self._sock = bind_socket("127.0.0.1", 0)
        self.url = url_of(self._sock)
        self._server = uvicorn.Server(uvicorn.Config(Starlette(routes=[Route("/{path:path}", page)]),
                                                     log_level="warning", lifespan="off"))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True)

    def __enter__(self) -> Landing:
        self._thread.start()
        while not self._server.started:
            time.sleep(0.01)
        return self

    def __exit__(self, *exc) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()


def add_link(home: Path, target: str, content: str = "video 7301", **overrides) -> dict:
    spec = LinkSpec(**({"shop_id": SHOPS[0], "campaign": "Black Friday 2026", "creator": "@Lily.Tan",
                        "channel": "affiliate", "target": target, "content": content} | overrides))
    with workspace_writer(home) as warehouse:
        return create_link(warehouse, spec, base="http://127.0.0.1:8780")[0]


def logged(home: Path) -> list[dict]:
    return [json.loads(line) for path in sorted(click_dir(home).glob("clicks-*.jsonl"))
            for line in path.read_text(encoding="utf-8").splitlines()]


def test_redirects_carry_utm_set_a_cookie_flag_bots_and_log_no_raw_ip_or_agent(tmp_path):
    home = make_workspace(tmp_path)
    with Landing() as landing:
        link = add_link(home, f"{landing.url}/product/1729?color=red&utm_source=stale")
        with RedirectServer(home) as server, httpx.Client(base_url=server.url, timeout=10) as client:
            headers = {"user-agent": PHONE, "referer": "https://www.tiktok.com/@lily.tan/video/7301?is_from_webapp=1",
                       "x-forwarded-for": "203.0.113.77"}
            first = client.get(f"/{link['code']}?buyer=B42", headers=headers)
            assert first.status_code == 302 and first.headers["location"] == link["tracked_url"]
            assert first.headers["cache-control"] == "no-store"
            cookie = first.headers["set-cookie"]
            assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
            visitor = client.cookies[COOKIE]

            # followed to the shop page: its own query kept, utm_source replaced, the rest added
            followed = client.get(f"/{link['code']}", headers={"user-agent": PHONE}, follow_redirects=True)
            assert followed.status_code == 200 and followed.json()["path"] == "/product/1729"
            query = parse_qsl(followed.json()["query"])
            assert query[0] == ("color", "red") and dict(query) == {
                "color": "red", "utm_source": "lily-tan", "utm_medium": "affiliate",
                "utm_campaign": "black-friday-2026", "utm_content": "video-7301", "utm_id": link["code"]}
            assert "set-cookie" not in followed.history[0].headers  # the cookie was sent back and reused

            bot = httpx.get(f"{server.url}/{link['code']}", headers={"user-agent": GOOGLEBOT}, timeout=10)
            assert bot.status_code == 302 and bot.headers["location"] == link["tracked_url"]

            head = client.head(f"/{link['code']}", headers={"user-agent": PHONE})  # a link checker
            assert head.status_code == 302 and head.headers["location"] == link["tracked_url"]

            missing = client.get("/Zz9Zz9Z", headers={"user-agent": PHONE})
            assert missing.status_code == 404 and "does not exist" in missing.text
            for path in ("/bad-code!", "/", "/a/b", "/-/nothing"):
                answer = client.get(path, headers={"user-agent": PHONE})
                assert answer.status_code == 404 and "does not exist" in answer.text, path
            assert client.get("/-/health").text.startswith("ok 1 links")

    clicks = logged(home)
    assert len(clicks) == 4  # the four 302s; the 404s log nothing
    mine, again, crawler, checker = clicks
    assert (checker["is_bot"], checker["device"]) == (True, "mobile")  # HEAD: counted as a bot
    assert mine["visitor_id"] == again["visitor_id"] == visitor != crawler["visitor_id"]
    assert (mine["code"], mine["buyer_id"], mine["referrer_host"], mine["is_bot"], mine["device"]) == (
        link["code"], "B42", "www.tiktok.com", False, "mobile")
    assert mine["ip_hash"] == IpHasher(load_salt(home))("203.0.113.1")  # the /24, keyed
    assert again["ip_hash"] == IpHasher(load_salt(home))("127.0.0.1") and again["buyer_id"] is None
    assert (crawler["is_bot"], crawler["device"]) == (True, "other")
    assert len({c["click_id"] for c in clicks}) == 4
    text = "".join(p.read_text() for p in click_dir(home).iterdir())
    for secret in ("203.0.113", "127.0.0.1", "iPhone", "Mozilla", "Googlebot", "video/7301", "is_from_webapp"):
        assert secret not in text
    assert set(mine) == {"click_id", "code", "clicked_at", "visitor_id", "buyer_id", "ip_hash", "is_bot", "device",
                         "referrer_host"}

    with workspace_writer(home) as warehouse:
        assert load_click_log(warehouse, click_dir(home)).inserted == 4
    with Warehouse(warehouse_path(home), read_only=True) as published:
        assert published.rows("SELECT count(*), count(DISTINCT visitor_id), sum(is_bot::INT) FROM link_clicks "
                              "WHERE source = 'redirect'") == [(4, 2, 2)]


def test_a_link_created_while_the_server_runs_is_picked_up(tmp_path):
    home = make_workspace(tmp_path)
    first = add_link(home, "https://shop.example.com/a")
    with RedirectServer(home, refresh=0.05) as server:
        assert httpx.get(f"{server.url}/{first['code']}", headers={"user-agent": PHONE}).status_code == 302
        second = add_link(home, "https://shop.example.com/b")
        deadline = time.monotonic() + 30
        while httpx.get(f"{server.url}/{second['code']}", headers={"user-agent": PHONE}).status_code == 404:
            assert time.monotonic() < deadline, "the new link never became reachable"
            time.sleep(0.05)
        answer = httpx.get(f"{server.url}/{second['code']}", headers={"user-agent": PHONE})
        assert answer.headers["location"] == second["tracked_url"]


def test_a_click_that_cannot_be_logged_gets_a_503_with_a_link_not_a_302(tmp_path):
    home = make_workspace(tmp_path)
    link = add_link(home, "https://shop.example.com/p?a=1&b=<2>")
    broken = tmp_path / "clicks"
    with RedirectServer(home, log_dir=broken) as server:
        broken.rmdir()
        broken.write_text("a file where the log folder was")
        answer = httpx.get(f"{server.url}/{link['code']}", headers={"user-agent": PHONE})
    assert answer.status_code == 503 and "location" not in answer.headers and "set-cookie" not in answer.headers
    assert 'href="https://shop.example.com/p?a=1&amp;b=%3C2%3E' in answer.text


# --- durability -----------------------------------------------------------------------------------
def start_server(home: Path) -> tuple[subprocess.Popen, str]:
    """`shoplens links serve --port 0` in its own process; returns it and its URL."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SHOPLENS_")} | {"SHOPLENS_HOME": str(home)}
    process = subprocess.Popen([str(Path(sys.executable).with_name("shoplens")), "links", "serve", "--port", "0"],
                               env=environment, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = process.stdout.readline()
    process.stdout.close()  # it prints nothing more
    assert line.startswith("redirecting on http://127.0.0.1:"), line
    return process, line.split()[2].rstrip(";")


async def burst(url: str, codes: list[str], process: subprocess.Popen, kill_after: int) -> tuple[list[str], int]:
    """32 clients, each request a new visitor, until the server dies; SIGKILL once `kill_after` 302s came back.

    Returns the visitor ids whose requests got a 302, and how many requests failed."""
    async def click(http: httpx.AsyncClient, n: int) -> str:
        visitor = secrets.token_urlsafe(16)
        answer = await http.get(f"{url}/{codes[n % len(codes)]}",
                                headers={"user-agent": PHONE, "cookie": f"{COOKIE}={visitor}"})
        assert answer.status_code == 302
        return visitor

    return await burst_until_killed(process, kill_after, click)


def test_sigkill_during_a_burst_loses_no_acknowledged_click(tmp_path):
    home = make_workspace(tmp_path)
    codes = [add_link(home, f"https://shop.example.com/p/{n}", content=f"video {n}")["code"] for n in range(3)]
    process, url = start_server(home)
    try:
        acknowledged, failures = run_coroutine(lambda: burst(url, codes, process, kill_after=400))
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    assert len(acknowledged) >= 400 and failures == 32  # every client saw the server die mid-burst

    with workspace_writer(home) as warehouse:
        first = load_click_log(warehouse, click_dir(home))
        counts = dict(warehouse.rows("SELECT visitor_id, count(*) FROM link_clicks GROUP BY visitor_id"))
        assert all(counts.get(v) == 1 for v in acknowledged), "an acknowledged click is missing or doubled"
        assert first.inserted >= len(acknowledged)  # plus any written but not answered before the kill
        total = warehouse.count("link_clicks")
    with workspace_writer(home) as warehouse:  # loading again changes nothing
        assert load_click_log(warehouse, click_dir(home)).inserted == 0
        assert warehouse.count("link_clicks") == total

    # a new server process starts a new file; the old one (maybe torn at its end) is never appended to
    process, url = start_server(home)
    try:
        answer = httpx.get(f"{url}/{codes[0]}", headers={"user-agent": PHONE}, timeout=10)
        assert answer.status_code == 302
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert len(list(click_dir(home).glob("clicks-*.jsonl"))) == 2
    with workspace_writer(home) as warehouse:
        assert load_click_log(warehouse, click_dir(home)).inserted == 1
