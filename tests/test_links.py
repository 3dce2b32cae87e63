"""Tracking links: the UTM convention, the registry (idempotent, collision-free codes), QR files, the
click log reader and loader, click CSV imports, visitor classification, and the `shoplens links` commands.
Real DuckDB files in tmp_path; the commands run as a user runs them."""

from __future__ import annotations

import csv
import io
import os
import re
import stat
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit
from xml.etree import ElementTree

import pytest
import segno

from shoplens.config import warehouse_path
from shoplens.errors import LinkError
from shoplens.links.classify import IpHasher, classify_agent, load_salt, network_of, referrer_host
from shoplens.links.clicklog import encode_click, read_complete_lines
from shoplens.links.convention import ALLOWED_MEDIUMS, check_target, medium, slugify, tracked_url, utm_for
from shoplens.links.load import load_click_csv, load_click_log
from shoplens.links.qr import write_qr
from shoplens.links.registry import LinkSpec, create_link, export_csv, link_base, list_links
from shoplens.warehouse import Warehouse
from shoplens.warehouse.publish import publish, working_path

SHOPS = ("7494000000000001001", "7494000000000001002")
SHOPLENS = str(Path(sys.executable).with_name("shoplens"))
TARGET = "https://shop.example.com/product/1729?color=red&size=a%20b&utm_source=old#reviews"


def make_workspace(home: Path) -> Path:
    """A workspace whose published warehouse holds two shops and no links yet."""
    with Warehouse(working_path(home)) as warehouse:
        for n, shop in enumerate(SHOPS):
            warehouse.con.execute("INSERT INTO shops VALUES (?, ?, 'TH', 'LOCAL', ?, 'THB', 'Asia/Bangkok', "
                                  "'test', now())", [shop, f"Shop {n}", f"S{n}"])
        warehouse.con.execute("CHECKPOINT")
    publish(home)
    return home


@pytest.fixture
def warehouse(tmp_path):
    with Warehouse(tmp_path / "w.duckdb") as wh:
        for shop in SHOPS:
            wh.con.execute("INSERT INTO shops VALUES (?, 'S', 'TH', 'LOCAL', 'S', 'THB', 'Asia/Bangkok', 't', now())",
                           [shop])
        yield wh


def spec(**overrides) -> LinkSpec:
    values = {"shop_id": SHOPS[0], "campaign": "Black Friday 2026", "creator": "@Lily.Tan",
              "channel": "Paid Social", "target": TARGET, "content": "Video 7301"} | overrides
    return LinkSpec(**values)


# --- the convention --------------------------------------------------------------------------------
@pytest.mark.parametrize("value, slug", [
    ("Black Friday 2026", "black-friday-2026"),
    ("Lily.Tan", "lily-tan"),
    ("Café Crème", "cafe-creme"),
    ("  --Hello__World--  ", "hello-world"),
    ("双11 Mega Sale!", "11-mega-sale"),
    ("already-a-slug", "already-a-slug"),
])
def test_values_are_slugged(value, slug):
    assert slugify(value) == slug


@pytest.mark.parametrize("channel, expected", [
    ("affiliate", "affiliate"), ("Paid Social", "paid_social"), ("paid-social", "paid_social"), (" EMAIL ", "email"),
    ("CPC", "cpc"), ("referral", "referral"), ("influencer", "influencer"), ("social", "social"),
])
def test_channels_become_mediums_from_the_fixed_list(channel, expected):
    assert medium(channel) == expected
    assert expected in ALLOWED_MEDIUMS


@pytest.mark.parametrize("channel", ["tiktok", "organic", "paid social media", ""])
def test_other_mediums_are_refused_with_the_allowed_list(channel):
    with pytest.raises(LinkError) as caught:
        medium(channel)
    message = str(caught.value)
    assert message.startswith(f"channel {channel!r}") and "utm_medium" in message
    assert all(m in message for m in ALLOWED_MEDIUMS)


@pytest.mark.parametrize("field, value, words", [
    ("campaign", "!!!", "no latin letters or digits"),
    ("campaign", "泰国大促", "no latin letters or digits"),
    ("creator", "@@@", "no latin letters or digits"),
    ("content", "★★", "no latin letters or digits"),
    ("term", "…", "no latin letters or digits"),
    ("campaign", "x" * 61, "the convention allows 60"),
])
def test_values_that_break_the_convention_are_refused_naming_the_field(field, value, words):
    values = {"campaign": "sale", "creator": "lily", "channel": "email", "content": None, "term": None, field: value}
    with pytest.raises(LinkError) as caught:
        utm_for(**values, code="abc")
    assert str(caught.value).startswith(f"{field} {value!r}") and words in str(caught.value)


@pytest.mark.parametrize("target", [
    "ftp://shop.example.com/p", "javascript:alert(1)", "shop.example.com/p", "https://", "http:///path",
    "https://exa mple.com/", "mailto:a@example.com", "", "https://shop.example.com:99999/",
])
def test_targets_that_are_not_http_urls_are_refused(target):
    with pytest.raises(LinkError) as caught:
        check_target(target)
    assert str(caught.value).startswith("target")


def test_a_non_ascii_target_is_encoded_for_the_location_header():
    assert check_target("https://例子.测试/商品?q=红") == "https://xn--fsqu00a.xn--0zwm56d/%E5%95%86%E5%93%81?q=%E7%BA%A2"


def test_the_tracked_url_merges_utm_into_the_targets_query():
    utm = utm_for(campaign="Black Friday 2026", creator="@Lily.Tan", channel="Paid Social", content="Video 7301",
                  term=None, code="Ab3dE9x")
    url = tracked_url(TARGET, utm)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path, parts.fragment) == ("https", "shop.example.com", "/product/1729",
                                                                        "reviews")
    assert parts.query.startswith("color=red&size=a%20b&")  # the target's own parameters, byte for byte
    assert dict(parse_qsl(parts.query)) == {
        "color": "red", "size": "a b", "utm_source": "lily-tan", "utm_medium": "paid_social",
        "utm_campaign": "black-friday-2026", "utm_content": "video-7301", "utm_id": "Ab3dE9x"}


# --- the registry ----------------------------------------------------------------------------------
def test_creating_the_same_link_twice_returns_the_existing_one(warehouse):
    link, created = create_link(warehouse, spec(), base="https://go.example.com")
    assert created and re.fullmatch(r"[0-9A-Za-z]{7}", link["code"])
    assert link["short_url"] == f"https://go.example.com/{link['code']}"
    assert (link["campaign"], link["creator"], link["channel"], link["content"]) == (
        "Black Friday 2026", "Lily.Tan", "paid_social", "Video 7301")
    assert (link["utm_source"], link["utm_medium"], link["utm_campaign"], link["utm_content"], link["utm_term"],
            link["utm_id"]) == ("lily-tan", "paid_social", "black-friday-2026", "video-7301", None, link["code"])
    again, created = create_link(warehouse, spec(campaign="black friday 2026", creator="lily tan",
                                                 channel="paid_social", content="video-7301"),
                                 base="https://go.example.com")
    assert not created and again == link
    other, created = create_link(warehouse, spec(content="Video 7302"), base="https://go.example.com")
    assert created and other["code"] != link["code"]
    assert warehouse.count("links") == 2


def test_short_codes_never_collide(warehouse):
    codes = iter(["AAAAAAA", "AAAAAAA", "AAAAAAA", "BBBBBBB"])
    first, _ = create_link(warehouse, spec(), base="http://s", new_code=lambda: next(codes))
    second, _ = create_link(warehouse, spec(content="other"), base="http://s", new_code=lambda: next(codes))
    assert (first["code"], second["code"]) == ("AAAAAAA", "BBBBBBB")
    with pytest.raises(LinkError, match="no free short code after 20 tries"):
        create_link(warehouse, spec(content="third"), base="http://s", new_code=lambda: "AAAAAAA")
    assert warehouse.count("links") == 2


def test_random_codes_are_distinct_base62(warehouse):
    codes = {create_link(warehouse, spec(content=f"video {n}"), base="http://s")[0]["code"] for n in range(200)}
    assert len(codes) == 200 and all(re.fullmatch(r"[0-9A-Za-z]{7}", c) for c in codes)


@pytest.mark.parametrize("overrides, start", [
    ({"shop_id": "999"}, "shop '999' is not in the warehouse; known shops: " + ", ".join(SHOPS)),
    ({"target": "ftp://x.example.com"}, "target 'ftp://x.example.com' is not an http(s) URL"),
    ({"channel": "tiktok"}, "channel 'tiktok' is not an allowed utm_medium"),
    ({"creator": "@"}, "creator '@' has no latin letters"),
])
def test_bad_input_is_refused_and_leaves_the_registry_as_it_was(warehouse, overrides, start):
    with pytest.raises(LinkError) as caught:
        create_link(warehouse, spec(**overrides), base="http://s")
    assert str(caught.value).startswith(start)
    assert warehouse.count("links") == 0


def test_list_filters_by_shop_campaign_creator_and_channel(warehouse):
    create_link(warehouse, spec(), base="http://s")
    create_link(warehouse, spec(shop_id=SHOPS[1], channel="email"), base="http://s")
    create_link(warehouse, spec(creator="Mai", campaign="Songkran"), base="http://s")
    assert len(list_links(warehouse)) == 3
    assert [r["shop_id"] for r in list_links(warehouse, shop=SHOPS[1])] == [SHOPS[1]]
    assert [r["creator"] for r in list_links(warehouse, campaign="SONGKRAN")] == ["Mai"]
    assert len(list_links(warehouse, creator="@lily.tan")) == 2
    assert [r["channel"] for r in list_links(warehouse, channel="Email")] == ["email"]


def test_link_base_comes_from_the_environment():
    assert link_base({}) == "http://127.0.0.1:8780"
    assert link_base({"SHOPLENS_LINK_BASE": "https://go.example.com/l/"}) == "https://go.example.com/l"
    with pytest.raises(LinkError, match="SHOPLENS_LINK_BASE 'go.example.com' is not an http"):
        link_base({"SHOPLENS_LINK_BASE": "go.example.com"})


# --- QR codes --------------------------------------------------------------------------------------
def png_pixels(data: bytes) -> list[list[int]]:
    """Rows of a 1-bit greyscale PNG (0 = black), decoded by hand with its five row filters."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        assert zlib.crc32(kind + body) == struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour = header[:4]
    assert (depth, colour) == (1, 0)
    raw, stride = zlib.decompress(idat), (width + 7) // 8
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a, b = line[x - 1] if x else 0, previous[x]
            c = previous[x - 1] if x else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            predictor = a if pa <= pb and pa <= pc else b if pb <= pc else c
            line[x] = (line[x] + (0, a, b, (a + b) // 2, predictor)[kind]) & 0xFF
        rows.append([(line[x // 8] >> (7 - x % 8)) & 1 for x in range(width)])
        previous = line
    return rows


def test_qr_files_are_a_valid_svg_and_a_png_of_the_short_url(tmp_path):
    url = "https://go.example.com/Ab3dE9x"
    svg, png = write_qr(tmp_path, "Ab3dE9x", url)
    assert (svg.name, png.name) == ("Ab3dE9x.svg", "Ab3dE9x.png") and svg.parent == tmp_path / "links" / "qr"
    root = ElementTree.fromstring(svg.read_bytes())
    assert root.tag == "{http://www.w3.org/2000/svg}svg" and root.find("{http://www.w3.org/2000/svg}path") is not None
    pixels = png_pixels(png.read_bytes())
    matrix = segno.make(url, error="m", micro=False).matrix
    scale = len(pixels) // (len(matrix) + 8)
    for r, row in enumerate(matrix):  # every module of the symbol, sampled at its centre
        for c, dark in enumerate(row):
            assert pixels[(r + 4) * scale + scale // 2][(c + 4) * scale + scale // 2] == (0 if dark else 1)
    assert all(v == 1 for v in pixels[0]) and all(v == 1 for v in pixels[-1])  # the quiet zone


# --- the click log, loading, imports ---------------------------------------------------------------
def click(n: int, code: str = "Ab3dE9x", **extra) -> dict:
    return {"click_id": f"c{n:04d}", "code": code, "clicked_at": f"2026-11-15T12:00:{n % 60:02d}.000001+00:00",
            "visitor_id": f"visitor-{n:012d}", "buyer_id": None, "ip_hash": "0123456789abcdef", "is_bot": False,
            "device": "mobile", "referrer_host": None} | extra


def test_the_reader_takes_complete_lines_and_leaves_a_torn_one(tmp_path):
    path = tmp_path / "clicks-20261115-120000-1-abc.jsonl"
    whole = encode_click(click(1)) + encode_click(click(2))
    torn = encode_click(click(3))[:-9]
    path.write_bytes(whole + torn)
    chunk = read_complete_lines(path)
    assert [r["click_id"] for r in chunk.records] == ["c0001", "c0002"] and chunk.end == len(whole)
    assert read_complete_lines(path, chunk.end).records == []


def test_loading_the_log_is_idempotent_and_resumes_where_it_stopped(warehouse, tmp_path):
    log = tmp_path / "clicks"
    log.mkdir()
    first = log / "clicks-20261115-120000-1-aaa.jsonl"
    first.write_bytes(b"".join(encode_click(click(n)) for n in range(5)) + encode_click(click(5))[:20])
    result = load_click_log(warehouse, log)
    assert (result.read, result.inserted, result.unreadable) == (5, 5, 0)
    assert (load_click_log(warehouse, log).inserted, warehouse.count("link_clicks")) == (0, 5)
    # a second server process writes its own file; a torn line in the first is never completed
    (log / "clicks-20261115-130000-2-bbb.jsonl").write_bytes(b"".join(encode_click(click(n)) for n in range(6, 9)))
    result = load_click_log(warehouse, log)
    assert (result.read, result.inserted) == (3, 3)
    # loading from scratch (offsets forgotten) finds the same clicks by their ids
    warehouse.con.execute("DELETE FROM link_click_files")
    assert load_click_log(warehouse, log).inserted == 0
    rows = warehouse.rows("SELECT click_id, source, is_bot, device, CAST(clicked_at AS VARCHAR) FROM link_clicks "
                          "ORDER BY click_id")
    assert rows[0] == ("c0000", "redirect", False, "mobile", "2026-11-15 12:00:00.000001+00")


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return path


def test_a_csv_of_clicks_imports_once(warehouse, tmp_path):
    code = create_link(warehouse, spec(), base="http://s")[0]["code"]
    rows = [["code", "time", "Visitor ID", "buyer_id"], [code, "2026-11-15T20:31:07+07:00", "v1", "b9"],
            [code, "1794749520", "v2", ""], [code, "2026-11-15 13:31:07", "v1", "b9"],
            [code, "2026-11-15 13:31:07", "v1", "b9"]]  # the same click twice in the file: two clicks
    path = write_csv(tmp_path / "partner clicks.csv", rows)
    result = load_click_csv(warehouse, path.read_text(), str(path))
    assert (result.read, result.inserted) == (4, 4)
    assert load_click_csv(warehouse, path.read_text(), str(path)).inserted == 0
    got = warehouse.rows("SELECT visitor_id, buyer_id, CAST(clicked_at AS VARCHAR), source, is_bot FROM link_clicks "
                         "ORDER BY clicked_at, visitor_id")
    assert got[0] == ("v1", "b9", "2026-11-15 13:31:07+00", "import:partner clicks.csv", False)
    assert got[-1][0] == "v2" and got[-1][1] is None


@pytest.mark.parametrize("rows, message", [
    ([["code", "time"], ["x", "y"]], "missing column(s) visitor_id"),
    ([["code", "time", "visitor_id"], ["NOPE123", "2026-11-15T00:00:00Z", "v"]],
     "row 2, column code: 'NOPE123' is not a link in the registry"),
    ([["code", "time", "visitor_id"], ["{code}", "yesterday", "v"]], "row 2, column time: 'yesterday' is not a time"),
    ([["code", "time", "visitor_id"], ["{code}", "2026-11-15T00:00:00Z", ""]], "row 2, column visitor_id"),
    ([["code", "time", "visitor_id"]], "the file has no clicks"),
])
def test_a_bad_click_csv_is_refused_whole(warehouse, tmp_path, rows, message):
    code = create_link(warehouse, spec(), base="http://s")[0]["code"]
    rows = [[cell.replace("{code}", code) for cell in row] for row in rows]
    text = io.StringIO()
    csv.writer(text).writerows(rows + [[code, "2026-11-15T00:00:00Z", "ok"]] * (len(rows) > 1))
    with pytest.raises(LinkError) as caught:
        load_click_csv(warehouse, text.getvalue(), "clicks.csv")
    assert str(caught.value).startswith("clicks.csv: ") and message in str(caught.value)
    assert warehouse.count("link_clicks") == 0


# --- what is kept of a visitor ---------------------------------------------------------------------
@pytest.mark.parametrize("agent, bot, device", [
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 "
     "musical_ly_37.1.0 BytedanceWebview/d8a21c6", False, "mobile"),
    ("Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 Chrome/131.0 Mobile Safari/537.36", False, "mobile"),
    ("Mozilla/5.0 (Linux; Android 13; CUBOT X30) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36", False, "mobile"),
    ("Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Safari/604.1", False, "tablet"),
    ("Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 Chrome/120.0 Safari/537.36", False, "tablet"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36", False, "desktop"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 Version/17.1 Safari/605.1.15", False,
     "desktop"),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", True, "other"),
    ("Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X) Chrome/131.0 Mobile Safari/537.36 (compatible; Googlebot/2.1)",
     True, "mobile"),
    ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", True, "other"),
    ("WhatsApp/2.23.20.0 A", True, "other"),
    ("TelegramBot (like TwitterBot)", True, "other"),
    ("Mozilla/5.0 (compatible; Bytespider; spider-feedback@bytedance.com)", True, "other"),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/131.0 Safari/537.36", True, "desktop"),
    ("curl/8.5.0", True, "other"),
    ("python-httpx/0.28.1", True, "other"),
    ("", True, "other"),
])
def test_user_agents_are_classified(agent, bot, device):
    assert classify_agent(agent) == (bot, device)


def test_ip_addresses_are_hashed_by_network_with_the_workspace_salt(tmp_path):
    salt = load_salt(tmp_path)
    assert load_salt(tmp_path) == salt and len(salt) == 32
    assert stat.S_IMODE((tmp_path / ".shoplens" / "link_salt").stat().st_mode) == 0o600
    hasher = IpHasher(salt)
    assert network_of("203.0.113.77") == "203.0.113.0/24"
    assert network_of("2001:db8:abcd:12::1") == "2001:db8:abcd::/48"
    assert network_of("::ffff:203.0.113.9") == "203.0.113.0/24"
    assert hasher("203.0.113.77") == hasher("203.0.113.9") != hasher("203.0.114.77")
    assert hasher("2001:db8:abcd:12::1") == hasher("2001:db8:abcd:ffff::2") != hasher("2001:db8:abce::1")
    assert re.fullmatch(r"[0-9a-f]{16}", hasher("203.0.113.77")) and hasher("not an ip") is None
    assert IpHasher(os.urandom(32))("203.0.113.77") != hasher("203.0.113.77")  # another workspace, another hash


def test_only_the_referrers_host_is_kept():
    assert referrer_host("https://www.TikTok.com/@lily.tan/video/7301?lang=th#x") == "www.tiktok.com"
    assert referrer_host(None) is None and referrer_host("not a url") is None


# --- the commands ----------------------------------------------------------------------------------
def run(args: list[str], home: Path, **env) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SHOPLENS_")}
    environment.update(SHOPLENS_HOME=str(home), **env)
    return subprocess.run([SHOPLENS, "links", *args], capture_output=True, text=True, env=environment, timeout=120)


def test_links_commands_create_list_export_and_load(tmp_path):
    home = make_workspace(tmp_path)
    create = ["create", "--shop", SHOPS[0], "--campaign", "Black Friday 2026", "--creator", "@Lily.Tan",
              "--channel", "affiliate", "--target", TARGET, "--content", "Video 7301"]
    done = run(create, home, SHOPLENS_LINK_BASE="https://go.example.com")
    assert done.returncode == 0, done.stderr
    code = re.search(r"created: ([0-9A-Za-z]{7})", done.stdout).group(1)
    assert f"https://go.example.com/{code}" in done.stdout
    assert (home / "links" / "qr" / f"{code}.svg").is_file() and (home / "links" / "qr" / f"{code}.png").is_file()
    again = run(create, home)
    assert again.returncode == 0 and f"exists: {code}" in again.stdout

    listed = run(["list", "--campaign", "black friday 2026"], home, COLUMNS="250")
    assert listed.returncode == 0 and code in listed.stdout and "1 link(s)" in listed.stdout
    exported = run(["export", "--csv"], home)
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert [(r["code"], r["qr_svg"], r["qr_png"], r["utm_medium"], r["short_url"]) for r in rows] == [
        (code, f"{code}.svg", f"{code}.png", "affiliate", f"https://go.example.com/{code}")]
    out = tmp_path / "for-creators.csv"
    assert run(["export", "--csv", "--out", str(out)], home).returncode == 0
    assert out.read_text(encoding="utf-8") == exported.stdout

    clicks = write_csv(tmp_path / "clicks.csv", [["code", "time", "visitor_id"], [code, "2026-11-15T12:00:00Z", "v"]])
    loaded = run(["load", "--csv", str(clicks)], home)
    assert loaded.returncode == 0 and "1 new" in loaded.stdout
    assert "0 new" in run(["load", "--csv", str(clicks)], home).stdout
    assert "0 read from 0 file(s)" in run(["load"], home).stdout
    with Warehouse(warehouse_path(home), read_only=True) as published:
        assert published.count("links") == 1 and published.count("link_clicks") == 1


@pytest.mark.parametrize("args, message", [
    (["create", "--shop", "nope", "--campaign", "c", "--creator", "h", "--channel", "email", "--target", "https://x.io"],
     "shop 'nope' is not in the warehouse"),
    (["create", "--shop", SHOPS[0], "--campaign", "c", "--creator", "h", "--channel", "tv", "--target", "https://x.io"],
     "channel 'tv' is not an allowed utm_medium: use one of affiliate, influencer"),
    (["create", "--shop", SHOPS[0], "--campaign", "c", "--creator", "h", "--channel", "email", "--target", "x.io"],
     "target 'x.io' is not an http(s) URL"),
    (["create", "--shop", SHOPS[0], "--campaign", "???", "--creator", "h", "--channel", "email",
      "--target", "https://x.io"], "campaign '???' has no latin letters or digits"),
    (["load", "--csv", "missing.csv"], "--csv: no file at missing.csv"),
    (["serve", "--refresh", "0"], "--refresh 0.0: give a number of seconds above 0"),
])
def test_link_mistakes_get_one_line_and_exit_1(tmp_path, args, message):
    done = run(args, make_workspace(tmp_path))
    assert done.returncode == 1, done.stdout
    assert message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) <= 2


def test_export_writes_the_documented_columns(warehouse):
    create_link(warehouse, spec(), base="http://s")
    out = io.StringIO()
    export_csv(list_links(warehouse), out)
    header = out.getvalue().splitlines()[0].split(",")
    assert header[:9] == ["code", "shop_id", "campaign", "creator", "channel", "content", "short_url", "qr_svg",
                          "qr_png"]
    assert {"tracked_url", "target_url", "utm_source", "utm_id", "created_at"} <= set(header)
