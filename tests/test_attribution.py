"""Attribution: each model on hand-built paths with hand-computed credit (one touch, two, ties in time,
rounding); paths from a hand-built warehouse (window edges, bots, visitor joins, other shops, refunds,
cancelled orders); the sandbox's click generator; and end to end: clicks through the running redirect
service and clicks imported as CSV, on synced sandbox orders, with every model's credit adding up to the
attributed GMV computed by hand; the attribution report in a browser, with clicks and without."""

from __future__ import annotations

import ast
import random
import re
import secrets
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from shoplens import metrics
from shoplens.attribution import MODEL_NAMES, Touch, credit, run_attribution, touches
from shoplens.attribution.analysis import (TIME_BUCKETS, TOUCH_BUCKETS, attribute, disagreement, distribution,
                                           frequency, rollup)
from shoplens.attribution.paths import conversions
from shoplens.config import warehouse_path
from shoplens.demo import sync_from_sandbox
from shoplens.errors import AttributionError
from shoplens.links.load import load_click_csv, load_click_log
from shoplens.links.registry import LinkSpec, create_link
from shoplens.links.server import COOKIE, RedirectServer, click_dir
from shoplens.sandbox import SANDBOX_APP_KEY, Gatekeeper, Sandbox, SandboxServer, generate_business
from shoplens.sandbox.clicks import Click, clicks_csv, demo_links, generate_clicks
from shoplens.sync import SyncOptions
from shoplens.warehouse import Warehouse
from shoplens.warehouse.reference import workspace_writer

T0 = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
D = Decimal


def at(days: float = 0, hours: float = 0) -> datetime:
    return T0 + timedelta(days=days, hours=hours)


def path(*specs) -> list[Touch]:
    """Touches from (days after T0, code) pairs."""
    return [Touch(at(days), code, f"c{n}") for n, (days, code) in enumerate(specs)]


# --- the models on hand-built paths ---------------------------------------------------------------
@pytest.mark.parametrize("model", MODEL_NAMES)
def test_a_single_touch_gets_the_whole_order(model):
    assert credit(path((0, "A")), D("199.0000"), model) == [D("199.0000")]


@pytest.mark.parametrize("model, expected", [
    ("last_click", ["0", "100"]),
    ("first_click", ["100", "0"]),
    ("linear", ["50", "50"]),
    ("position_based", ["50", "50"]),  # two touches: 50/50, not 40/40 + nothing between
    ("time_decay", ["33.3333", "66.6667"]),  # 7 days apart, half-life 7: weights 1/2 and 1 -> 1/3, 2/3
])
def test_two_touches(model, expected):
    assert credit(path((0, "A"), (7, "B")), D("100"), model) == [D(x) for x in expected]


@pytest.mark.parametrize("model, expected", [
    ("last_click", ["0", "0", "0", "70"]),
    ("first_click", ["70", "0", "0", "0"]),
    ("linear", ["17.5", "17.5", "17.5", "17.5"]),
    ("position_based", ["28", "7", "7", "28"]),  # 40 % + 10 % + 10 % + 40 %
    # days 0, 7, 14, 21 at half-life 7: weights 1/8, 1/4, 1/2, 1 -> 1/15, 2/15, 4/15, 8/15 of 70
    ("time_decay", ["4.6667", "9.3333", "18.6667", "37.3333"]),
])
def test_four_touches(model, expected):
    credits = credit(path((0, "A"), (7, "B"), (14, "C"), (21, "D")), D("70.0000"), model)
    assert credits == [D(x) for x in expected] and sum(credits) == D("70")


def test_time_decay_halves_per_half_life():
    touches_ = path((0, "A"), (7, "B"), (14, "C"))
    assert credit(touches_, D("70"), "time_decay") == [D("10"), D("20"), D("40")]  # 1/4 : 1/2 : 1
    assert credit(touches_, D("70"), "time_decay", half_life_days=14) == [  # 1/2 : 1/√2 : 1
        D("15.8579"), D("22.4264"), D("31.7157")]  # 15.85786|4, 22.42640|7, 31.71572|9: the 0.0001 left to the first


def test_rounding_gives_leftover_quanta_to_the_largest_remainders_then_the_later_touch():
    three = path((0, "A"), (1, "B"), (2, "C"))
    assert credit(three, D("100"), "linear") == [D("33.3333"), D("33.3333"), D("33.3334")]
    assert credit(three, D("0.0002"), "linear") == [D("0"), D("0.0001"), D("0.0001")]
    five = path((0, "A"), (1, "B"), (2, "C"), (3, "D"), (4, "E"))
    # 40, then 20/3 = 6.6666|67 three times (two quanta left: the two later ones), then 40
    assert credit(five, D("100"), "position_based") == [D("40"), D("6.6666"), D("6.6667"), D("6.6667"), D("40")]
    # 1 quantum over 3 touches of 1/15, 2/15 ... : the largest remainder wins, not the latest touch
    assert credit(path((0, "A"), (7, "B")), D("0.0002"), "time_decay") == [D("0.0001"), D("0.0001")]
    assert credit(path((0, "A"), (14, "B")), D("0.0002"), "time_decay") == [D("0"), D("0.0002")]


def test_ties_in_time_are_ordered_by_code_and_credit_comes_back_in_the_given_order():
    same = [Touch(T0, "B", "x"), Touch(T0, "A", "y")]  # given B first; on the path A comes first
    assert credit(same, D("10"), "last_click") == [D("10"), D("0")]
    assert credit(same, D("10"), "first_click") == [D("0"), D("10")]
    assert credit(same, D("10"), "time_decay") == [D("5"), D("5")]  # the same instant: the same weight
    assert credit(same, D("0.0001"), "linear") == [D("0.0001"), D("0")]  # a tie goes to the later touch (B)
    twins = [Touch(T0, "A", "k2"), Touch(T0, "A", "k1")]  # same link, same time: the click id decides
    assert credit(twins, D("10"), "last_click") == [D("10"), D("0")]


@pytest.mark.parametrize("model", MODEL_NAMES)
def test_credit_always_adds_up_to_the_order_value_exactly(model):
    rng = random.Random(model)
    for _ in range(300):
        n = rng.randint(1, 9)
        touches_ = [Touch(at(hours=rng.choice((0, 1, 5, 30, 100))), rng.choice("ABC"), str(i)) for i in range(n)]
        value = D(rng.randint(0, 10**8)) / 10_000
        credits = credit(touches_, value, model, half_life_days=rng.choice((0.5, 3, 7)))
        assert sum(credits) == value and all(c >= 0 and c == c.quantize(D("0.0001")) for c in credits)


@pytest.mark.parametrize("call, words", [
    (lambda: credit(path((0, "A")), D("1"), "u_shaped"), "unknown attribution model 'u_shaped'; use one of "
                                                        "last_click, first_click, linear, time_decay, position_based"),
    (lambda: credit(path((0, "A")), 1.5, "linear"), "never a float"),
    (lambda: credit(path((0, "A")), D("1.00005"), "linear"), "not a non-negative multiple of 0.0001"),
    (lambda: credit(path((0, "A")), D("-1"), "linear"), "not a non-negative multiple"),
    (lambda: credit(path((0, "A")), D("1"), "time_decay", half_life_days=0), "half_life_days 0 is not a number"),
])
def test_bad_settings_are_refused_with_the_fix(call, words):
    with pytest.raises(AttributionError, match=re.escape(words)):
        call()


def test_an_empty_path_gets_no_credit():
    assert credit([], D("10"), "linear") == []


# --- paths from a hand-built warehouse ------------------------------------------------------------
SHOP, OTHER = "7494000000000009001", "7494000000000009002"
ORDER_TIME = datetime(2026, 11, 12, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai, 2026-11-12


@pytest.fixture
def built():
    """Two shops; shop SHOP has links L1 (creator Amy), L2 (Ben), OTHER has L9. Orders of SHOP on
    2026-11-12 (Shanghai): o1 (buyer b1, 100), o2 (b2, 50, half refunded), o3 (b3, cancelled),
    o4 (b4, never paid), o5 (b1 again, two days later, 30)."""
    with Warehouse(":memory:") as wh:
        con = wh.con
        for shop in (SHOP, OTHER):
            con.execute("INSERT INTO shops VALUES (?, 'S', 'TH', 'LOCAL', 'S', 'THB', 'Asia/Bangkok', 't', now())",
                        [shop])
        for code, shop, creator, campaign, channel in (("L1", SHOP, "Amy", "Sale", "affiliate"),
                                                        ("L2", SHOP, "@Ben", "Sale", "email"),
                                                        ("L9", OTHER, "Amy", "Sale", "affiliate")):
            con.execute("INSERT INTO links VALUES (?, ?, ?, ?, ?, NULL, 'https://x.test', 'https://x.test', "
                        "'https://s/' || ?, 'a', ?, 'sale', NULL, NULL, ?, now())",
                        [code, shop, campaign, creator.removeprefix("@"), channel, code, channel, code])
        orders = (("o1", "b1", 0, "100", "AWAITING_SHIPMENT", True), ("o2", "b2", 0, "50", "DELIVERED", True),
                  ("o3", "b3", 0, "70", "CANCELLED", True), ("o4", "b4", 0, "20", "UNPAID", False),
                  ("o5", "b1", 2, "30", "DELIVERED", True))
        for order_id, buyer, days, amount, status, paid in orders:
            t = ORDER_TIME + timedelta(days=days)
            con.execute("INSERT INTO orders (order_id, shop_id, status, create_time, update_time, paid_time, "
                        "cancel_time, buyer_id, currency, sub_total, shipping_fee, seller_discount, platform_discount, "
                        "tax, total_amount, source, synced_at) "
                        "VALUES (?, ?, ?, ?, ?, ?, NULL, ?, 'THB', ?, 0, 0, 0, 0, ?, 'test', now())",
                        [order_id, SHOP, status, t, t, t if paid else None, buyer, D(amount), D(amount)])
        con.execute("INSERT INTO refunds (return_id, shop_id, order_id, return_type, return_status, create_time, "
                    "update_time, currency, refund_total, source, synced_at) "
                    "VALUES ('r1', ?, 'o2', 'REFUND', 'RETURN_OR_REFUND_REQUEST_COMPLETE', ?, ?, "
                    "'THB', 25, 'test', now())", [SHOP, ORDER_TIME, ORDER_TIME])
        con.execute("INSERT INTO affiliate_order_items (item_key, order_id, shop_id, status, create_time, quantity, "
                    "currency, creator_username, content_type, content_id, synced_at) VALUES "
                    "('a1', 'o1', ?, 'COMPLETED', ?, 1, 'THB', 'Ben', 'VIDEO', 'v1', now())", [SHOP, ORDER_TIME])
        wh.refresh_facts()
        yield wh


def add_clicks(wh: Warehouse, *rows) -> None:
    """(click id, code, time before ORDER_TIME, visitor, buyer, bot)"""
    for click_id, code, before, visitor, buyer, bot in rows:
        wh.con.execute("INSERT INTO link_clicks VALUES (?, ?, ?, ?, ?, NULL, ?, NULL, NULL, 'test')",
                       [click_id, code, ORDER_TIME - before, visitor, buyer, bot])


PERIOD = (date(2026, 11, 12), date(2026, 11, 14))


def test_paths_join_by_buyer_and_visitor_within_the_window_and_leave_the_rest_out(built):
    day = timedelta(days=1)
    add_clicks(built,
               ("k-outside", "L1", 7 * day + timedelta(seconds=1), "v1", "b1", False),  # just outside 7 days
               ("k-edge", "L1", 7 * day, "v1", "b1", False),                          # exactly 7 days: in
               ("k-visitor", "L2", 2 * day, "v1", None, False),                        # v1 is b1's visitor
               ("k-after", "L2", -timedelta(minutes=1), "v1", "b1", False),            # after o1: not for o1
               ("k-bot", "L2", day, "v1", "b1", True),                                 # a bot: never
               ("k-other-shop", "L9", day, "v1", "b1", False),                         # OTHER's link: never
               ("k-shared", "L1", day, "v-shared", "b2", False),                       # a shared device ...
               ("k-shared2", "L2", day, "v-shared", "b9", False),
               ("k-shared3", "L2", day / 2, "v-shared", None, False),                  # ... joins nobody
               ("k-cancelled", "L1", day, "v3", "b3", False),                          # o3 was cancelled
               ("k-unpaid", "L1", day, "v4", "b4", False))                             # o4 was never paid
    frame = touches(built, SHOP, PERIOD)
    by_order = {o: list(part.click_id) for o, part in frame.groupby("order_id", sort=False)}
    assert by_order == {"o1": ["k-edge", "k-visitor"], "o2": ["k-shared"],
                        # o5 is two days later: k-edge is now 9 days old; k-after is one click for two orders
                        "o5": ["k-visitor", "k-after"]}
    assert list(frame[frame.click_id == "k-visitor"].joined_by.unique()) == ["visitor_id"]
    assert list(frame.creator.unique()) == ["amy", "ben"] and list(frame.touch_index) == [0, 1, 0, 0, 1]
    wider = touches(built, SHOP, PERIOD, lookback_days=8)
    assert list(wider[wider.order_id == "o1"].click_id) == ["k-outside", "k-edge", "k-visitor"]
    with pytest.raises(AttributionError, match="lookback_days -1"):
        touches(built, SHOP, PERIOD, lookback_days=-1)


def test_a_refunded_order_is_credited_gross_and_shows_what_was_refunded(built):
    add_clicks(built, ("k1", "L1", timedelta(days=3), "v2", "b2", False),
               ("k2", "L2", timedelta(hours=1), "v2", None, False))
    result = run_attribution(built, SHOP, PERIOD)
    assert list(result.orders.order_id) == ["o2"] and result.refunded == D("25")
    assert result.attributed_gmv == D("50") and result.totals() == dict.fromkeys(MODEL_NAMES, D("50"))
    credits = {(r.model, r.code): r.credit for r in result.credits.itertuples()}
    assert (credits["position_based", "L1"], credits["position_based", "L2"]) == (D("25"), D("25"))
    # 71 hours apart at a 7-day half-life: 2^(-71/168) = 0.746069 -> 21.36424|7 and 28.63575|3
    assert (credits["time_decay", "L1"], credits["time_decay", "L2"]) == (D("21.3642"), D("28.6358"))


def test_conversions_are_the_orders_the_catalogues_gmv_counts(built):
    frame = conversions(built, SHOP, PERIOD)
    assert list(frame.order_id) == ["o1", "o2", "o5"]
    gmv = metrics.query(["gmv"], shop=SHOP, period=PERIOD, warehouse=built)
    assert sum(frame["value"]) == gmv.gmv.sum() == D("180")


def test_rollups_disagreement_frequency_and_tiktoks_credit(built):
    add_clicks(built, ("k1", "L1", timedelta(days=3), "v1", "b1", False),
               ("k2", "L2", timedelta(hours=2), "v1", None, False),
               ("k3", "L1", timedelta(days=1), "v2", "b2", False))
    result = run_attribution(built, SHOP, PERIOD)
    # o1 (100): L1 then L2; o2 (50): L1; o5 (30, two days later): L1 (5 days old), L2 (2 days 2 h old)
    by_link = rollup(result.credits, "link").set_index("code")
    assert by_link.loc["L1", "last_click"] == D("50") and by_link.loc["L2", "last_click"] == D("130")
    assert by_link.loc["L1", "first_click"] == D("180") and by_link.loc["L2", "first_click"] == D("0")
    assert by_link.loc["L1", "linear"] == D("115") and by_link.loc["L2", "linear"] == D("65")
    assert (by_link.loc["L2", "creator"], by_link.loc["L2", "channel"]) == ("ben", "email")
    for model in MODEL_NAMES:
        assert by_link[model].sum() == rollup(result.credits, "creator")[model].sum() == result.attributed_gmv
    spread = disagreement(result.credits, "link")
    assert list(spread.code) == ["L1", "L2"] and spread.spread.iloc[0] == D("130")
    assert (spread.highest.iloc[0], spread.lowest.iloc[0]) == ("first_click", "last_click")
    per_path = frequency(result.paths)
    assert list(per_path.touches) == [2, 1, 2] and list(per_path.creators) == [2, 1, 2]
    assert list(distribution(per_path, "touches", TOUCH_BUCKETS).paths) == [1, 2, 0, 0, 0]
    times = distribution(per_path, "first_touch_hours", TIME_BUCKETS)
    assert list(times.paths) == [0, 0, 1, 2, 0] and times.gmv.sum() == D("180")
    # TikTok names Ben on o1 (its only affiliate order here); o2 and o5 are the shop's own
    assert dict(zip(result.platform.order_id, result.platform.credit)) == {"o1": D("100"), "o2": D("50"),
                                                                          "o5": D("30")}
    assert [c if isinstance(c, str) else None for c in result.platform.creator] == ["ben", None, None]


def test_no_clicks_means_no_paths(built):
    result = run_attribution(built, SHOP, PERIOD)
    assert result.empty and result.attributed_gmv == 0 and result.totals() == {}
    assert attribute(result.paths).empty and result.clicks == {"clicks": 0, "bot_clicks": 0, "links": 0,
                                                               "visitors": 0}


# --- the sandbox's click generator ----------------------------------------------------------------
def test_the_click_generator_is_deterministic_and_clicks_before_orders():
    business = generate_business(3, 2, orders_per_day=6, days=20)
    shop = business.shops[0].id
    links = [{"code": f"C{n}", **spec} for n, spec in enumerate(demo_links(business, shop))]
    clicks = generate_clicks(business, links)
    assert clicks == generate_clicks(business, links) and clicks != generate_clicks(business, links, seed=1)
    assert {c.code for c in clicks} == {link["code"] for link in links}
    orders = {o.buyer_id: o for o in business.orders[shop]}
    buyers = {c.buyer_id for c in clicks if c.buyer_id}
    assert buyers and buyers <= set(orders)
    assert all(c.visitor_id and len(c.visitor_id) == 22 for c in clicks)
    text = clicks_csv(clicks[:2])
    assert text.splitlines()[0] == "code,time,visitor_id,buyer_id" and "+00:00" in text
    # the same links under other codes (the demo makes new random ones each run): the same clicks on them
    recoded = [{**link, "code": f"Z{len(links) - n}"} for n, link in enumerate(links)]
    again = generate_clicks(business, recoded)
    what = {link["code"]: (link["channel"], link["creator"]) for link in links + recoded}
    assert sorted((what[c.code], c.time, c.visitor_id, c.buyer_id) for c in again) == \
        sorted((what[c.code], c.time, c.visitor_id, c.buyer_id) for c in clicks)
    source = Path(__file__).resolve().parents[1] / "lib/shoplens/sandbox/clicks.py"
    imported = {n.module for n in ast.walk(ast.parse(source.read_text())) if isinstance(n, ast.ImportFrom)}
    assert not any(m.startswith(("shoplens.links", "shoplens.warehouse", "shoplens.sync")) for m in imported)


# --- end to end -----------------------------------------------------------------------------------
SHANGHAI = ZoneInfo("Asia/Shanghai")


def counted(order) -> bool:
    return order.paid_time is not None and order.cancel_time is None


def attributed_by_hand(orders, period, clicks, lookback_s: int = 7 * 86_400) -> dict[str, Decimal]:
    """order id -> GMV (the seller's price, the default GMV price) for the counted orders placed in `period`
    (Shanghai days) with a click naming their
    buyer (directly, or through a visitor seen with that buyer only) in [order time - window, order time].
    `clicks`: (unix time, visitor id, buyer id) of people's clicks on the shop's links."""
    seen = defaultdict(set)
    for _, visitor, buyer in clicks:
        if buyer:
            seen[visitor].add(buyer)
    resolved = [(t, buyer or (next(iter(seen[visitor])) if len(seen[visitor]) == 1 else None))
                for t, visitor, buyer in clicks]
    result = {}
    for order in orders:
        day = datetime.fromtimestamp(order.create_time, SHANGHAI).date()
        if counted(order) and period[0] <= day <= period[1] and any(
                buyer == order.buyer_id and order.create_time - lookback_s <= t <= order.create_time
                for t, buyer in resolved):
            result[order.id] = order.seller_subtotal
    return result


def add_links(home: Path, specs: list[dict]) -> list[dict]:
    with workspace_writer(home) as warehouse:
        return [create_link(warehouse, LinkSpec(**spec), base="http://127.0.0.1:8780")[0] for spec in specs]


PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def test_clicks_through_the_redirect_service_credit_synced_orders(tmp_path):
    """Real clicks are stamped now, so the sandbox's business runs from a few days ago to three days ahead:
    the buyers click now and order later."""
    now = datetime.now(UTC)
    business = generate_business(11, 2, orders_per_day=10, last_day=(now + timedelta(days=3)).date(), days=8)
    sandbox = Sandbox(business=business, gate=Gatekeeper(app_key=SANDBOX_APP_KEY, app_secret=secrets.token_hex(16)))
    home = tmp_path / "workspace"
    with SandboxServer(sandbox) as running:
        sync_from_sandbox(running, home, options=SyncOptions(history_days=21))
    shop, other = business.shops[0], business.shops[1]
    target = "https://shop.tiktok.com/view/product/1729"
    mine = add_links(home, [{"shop_id": shop.id, "campaign": "Launch", "creator": name, "channel": "affiliate",
                             "target": target} for name in ("@Amy.Tan", "ben.reviews", "cat.picks")])
    theirs = add_links(home, [{"shop_id": other.id, "campaign": "Launch", "creator": "Amy.Tan",
                               "channel": "affiliate", "target": target}])[0]
    later = [o for o in business.orders[shop.id] if counted(o) and o.create_time > now.timestamp() + 600]
    buyers = list(dict.fromkeys(o.buyer_id for o in later))[:5]
    assert len(buyers) == 5, "the sandbox should have buyers ordering after now"
    b0, b1, b2, b3, b4 = buyers

    with RedirectServer(home) as server:
        def visit(client: httpx.Client, link: dict, buyer: str | None = None, agent: str = PHONE) -> None:
            answer = client.get(f"/{link['code']}" + (f"?buyer={buyer}" if buyer else ""),
                                headers={"user-agent": agent})
            assert answer.status_code == 302

        def visitor() -> httpx.Client:
            return httpx.Client(base_url=server.url, timeout=10)

        with visitor() as c:
            visit(c, mine[0], b0)                            # b0: one logged-in click on Amy's link
        with visitor() as c:
            visit(c, mine[1], b1)                            # b1: Ben's link logged in ...
            visit(c, mine[2])                                # ... then Cat's, by cookie only
            assert COOKIE in c.cookies
        with visitor() as c:
            visit(c, mine[2])                                # b2: Cat's by cookie first ...
            visit(c, mine[0], b2)                            # ... then logged in on Amy's
        with visitor() as c:
            visit(c, mine[1], b3, agent=GOOGLEBOT)           # a bot with b3's id: never a touch
        with visitor() as c:
            visit(c, theirs, b4)                             # another shop's link: not this shop's touch
        with visitor() as c:
            visit(c, mine[0])                                # someone who never buys
    with workspace_writer(home) as warehouse:
        assert load_click_log(warehouse, click_dir(home)).inserted == 8

    start = now.astimezone(SHANGHAI).date()
    period = (start, start + timedelta(days=4))
    with Warehouse(warehouse_path(home), read_only=True) as wh:
        result = run_attribution(wh, shop.id, period)
        logged = wh.rows("SELECT epoch(c.clicked_at), c.visitor_id, c.buyer_id FROM link_clicks c JOIN links l "
                         "USING (code) WHERE l.shop_id = ? AND NOT c.is_bot", [shop.id])
        gmv = metrics.query(["gmv"], shop=shop.id, period=period, warehouse=wh).gmv.sum()
    expected = attributed_by_hand(business.orders[shop.id], period, logged)
    assert expected and {business_buyer(business, shop.id, o) for o in expected} == {b0, b1, b2}
    assert set(result.orders.order_id) == set(expected)
    assert result.attributed_gmv == sum(expected.values()) <= gmv
    assert result.totals() == dict.fromkeys(MODEL_NAMES, sum(expected.values()))
    assert result.clicks == {"clicks": 6, "bot_clicks": 1, "links": 3, "visitors": 4}

    by_order = {o: part for o, part in result.credits.groupby("order_id")}
    for order in later:
        if order.id not in expected:
            continue
        credits = by_order[order.id]
        for model in MODEL_NAMES:
            assert credits[credits.model == model].credit.sum() == order.seller_subtotal
        last = credits[(credits.model == "last_click") & (credits.credit > 0)].code.tolist()
        first = credits[(credits.model == "first_click") & (credits.credit > 0)].code.tolist()
        expected_path = {b0: ([mine[0]], [mine[0]]), b1: ([mine[2]], [mine[1]]), b2: ([mine[0]], [mine[2]])}
        assert (last, first) == tuple([link["code"] for link in side] for side in expected_path[order.buyer_id])
    joined = dict(zip(result.paths.code + result.paths.buyer_id, result.paths.joined_by))
    assert joined[mine[2]["code"] + b1] == "visitor_id" and joined[mine[1]["code"] + b1] == "buyer_id"


def business_buyer(business, shop_id: str, order_id: str) -> str:
    return next(o.buyer_id for o in business.orders[shop_id] if o.id == order_id)


HOSTILE_CREATOR = '"><img src=x onerror=alert(1)>'


@pytest.fixture(scope="module")
def clicked(synced):
    """The synced sandbox workspace with the sandbox's demo links for its first shop, their generated
    clicks imported as CSV, and one link whose creator and campaign are HTML."""
    home, sandbox = synced
    business = sandbox.business
    shop = business.shops[0].id
    specs = demo_links(business, shop) + [{"shop_id": shop, "campaign": "<script>alert(2)</script> Sale",
                                           "creator": HOSTILE_CREATOR, "channel": "referral",
                                           "target": "https://shop.tiktok.com/view/product/1"}]
    links = add_links(home, specs)
    clicks = generate_clicks(business, links[:-1])
    buyer_order = next(o for o in business.orders[shop]
                       if counted(o) and datetime.fromtimestamp(o.create_time, SHANGHAI).date() == date(2026, 11, 12))
    clicks.append(Click(links[-1]["code"], buyer_order.create_time - 3600, "hostile-visitor", buyer_order.buyer_id))
    with workspace_writer(home) as warehouse:
        assert load_click_csv(warehouse, clicks_csv(clicks), "sandbox-clicks.csv").inserted == len(clicks)
    return home, sandbox, shop, links, clicks


REPORT_PERIOD = (date(2026, 11, 9), date(2026, 11, 15))


@pytest.mark.parametrize("lookback", [7, 2])
def test_imported_sandbox_clicks_credit_exactly_the_attributed_gmv(clicked, lookback):
    home, sandbox, shop, links, clicks = clicked
    codes = {link["code"] for link in links}
    with Warehouse(warehouse_path(home), read_only=True) as wh:
        result = run_attribution(wh, shop, REPORT_PERIOD, lookback_days=lookback, half_life_days=3)
        gmv = metrics.query(["gmv"], shop=shop, period=REPORT_PERIOD, warehouse=wh).gmv.sum()
        assert sum(conversions(wh, shop, REPORT_PERIOD)["value"]) == gmv
    expected = attributed_by_hand(sandbox.business.orders[shop], REPORT_PERIOD,
                                  [(c.time, c.visitor_id, c.buyer_id) for c in clicks if c.code in codes],
                                  lookback_s=lookback * 86_400)
    assert len(expected) >= (5 if lookback == 7 else 2) and set(result.orders.order_id) == set(expected)
    total = sum(expected.values())
    assert result.attributed_gmv == total < gmv
    assert result.totals() == dict.fromkeys(MODEL_NAMES, total)
    for by in ("link", "creator", "campaign", "channel"):
        wide = rollup(result.credits, by)
        assert all(wide[m].sum() == total for m in MODEL_NAMES), by
    # TikTok's credit of the same orders: each whole, to the creator the sandbox drove it with
    drivers = {o.id: o.attribution.creator.username if o.attribution.affiliate else None
               for o in sandbox.business.orders[shop] if o.id in expected}
    platform = {o: (c if isinstance(c, str) else None) for o, c in zip(result.platform.order_id,
                                                                       result.platform.creator)}
    assert platform == drivers and sum(result.platform.credit) == total


def test_the_attribution_report_in_a_browser_with_clicks_and_without(clicked, browser):
    from browsing import open_offline, wait_for_charts
    from shoplens.i18n import t
    from shoplens.render import Rendering
    from shoplens.render.builtin import BuiltinRenderer
    from shoplens.reports.batch import plan_reports, run_batch

    home, sandbox, shop, links, _ = clicked
    quiet = sandbox.business.shops[2].id  # no links
    with Warehouse(warehouse_path(home), read_only=True) as wh:
        jobs = plan_reports(wh, home / "attribution", REPORT_PERIOD, reports=["attribution"], shops=[shop, quiet],
                            langs=("en", "zh"))
    with Rendering(BuiltinRenderer(), ("html",)) as rendering:
        result = run_batch(jobs, home=home, reports_dir=home / "attribution", render=rendering)
    assert [o.job.slug for o in result.failures] == [] and len(result.outcomes) == 4
    for outcome in result.outcomes:
        lang, shop_id = outcome.job.parameters["lang"], outcome.job.parameters["shop_id"]
        page, errors, remote = open_offline(browser, outcome.job.html_path)
        wait_for_charts(page)
        assert errors == [] and remote == [], outcome.job.slug  # the HTML creator opened no dialog
        headings = page.locator("h2").all_inner_texts()
        assert headings[:2] == [t("definitions", lang), t("attr_summary", lang)]
        assert headings[-2:] == [t("glossary", lang), t("appendix", lang)]  # how each figure is computed
        if shop_id == quiet:
            assert page.locator(".sl-no-clicks").inner_text() == t("attr_no_clicks", lang)
            assert page.locator(".plotly-graph-div").count() == 0 and t("attr_by_creator", lang) not in headings
        else:
            assert page.locator(".sl-no-clicks").count() == 0
            assert {t(k, lang) for k in ("attr_by_creator", "attr_by_link", "attr_by_campaign", "attr_by_channel",
                                         "attr_disagree", "attr_frequency", "attr_models")} <= set(headings)
            assert page.locator(".plotly-graph-div").count() == 2
            assert HOSTILE_CREATOR.lower() in page.locator("table.sl-attr-link").inner_text()
            model_heads = page.locator("table.sl-attr-creator thead th").all_inner_texts()
            assert [t(f"model_{m}", lang) for m in MODEL_NAMES] == model_heads[1:6]
        page.close()


def test_the_demo_adds_links_and_clicks_for_every_sandbox_shop_once(tmp_path):
    from shoplens.demo import load_sandbox_clicks
    from shoplens.warehouse.publish import publish, working_path

    business = generate_business(5, 2, orders_per_day=4, days=10)
    with Warehouse(working_path(tmp_path)) as warehouse:
        for s in business.shops:
            warehouse.con.execute("INSERT INTO shops VALUES (?, ?, ?, 'LOCAL', ?, ?, ?, 'sandbox', now())",
                                  [s.id, s.name, s.region.code, s.code, s.region.currency, s.region.timezone])
    publish(tmp_path)
    inserted = load_sandbox_clicks(business, tmp_path)
    assert inserted > 0 and load_sandbox_clicks(business, tmp_path) == 0  # again: nothing new
    with Warehouse(warehouse_path(tmp_path), read_only=True) as wh:
        per_shop = dict(wh.rows("SELECT l.shop_id, count(DISTINCT l.code) FROM links l GROUP BY 1"))
        assert per_shop == {s.id: len(demo_links(business, s.id)) for s in business.shops}
        assert wh.count("link_clicks") == inserted
