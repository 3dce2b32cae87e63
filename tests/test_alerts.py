"""Alerts end to end on a workspace synced from the sandbox: alerts.toml checked with one message per
problem; windows; every channel delivering to a real server on 127.0.0.1 (SMTP with STARTTLS and login,
Slack, Feishu and DingTalk with their signatures checked by the receiver, WeCom, a signed generic
webhook) with names escaped for each markup; fire -> repeat suppressed -> repeat -> resolved; a channel
that is down not stopping the others and retried; secrets never in alerts.toml, history or output."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from chatservers import ChatReceiver, Mailbox
from shoplens.alerts import check_alerts
from shoplens.alerts.channels import dingtalk_sign, feishu_sign, render_markdown, render_slack
from shoplens.alerts.messages import WORDS, Message
from shoplens.alerts.rules import load_config
from shoplens.alerts.windows import comparable, window_days
from shoplens.config import warehouse_path, write_private_json
from shoplens.errors import AlertError
from shoplens.warehouse import Warehouse
from shoplens.warehouse.reference import workspace_writer

SHOPLENS = str(Path(sys.executable).with_name("shoplens"))
NOW = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)  # the small sandbox's data runs to 2026-11-15
HOSTILE = '<b>*Nori*</b> _GB_ <!channel> <at user_id="all"></at> [x](http://evil) <@all> &amp; # `rm`'
TOKEN = "tok-SECRET-4242"
LISTING_DOWN = "('FAILED', 'PLATFORM_DEACTIVATED', 'FREEZE')"  # what the listing built-in reports


@pytest.fixture
def home(synced, tmp_path) -> Path:
    """A private copy of the module's synced workspace (published and working warehouses)."""
    source, _ = synced
    target = tmp_path / "ws"
    shutil.copytree(source / "data", target / "data", symlinks=True, ignore=shutil.ignore_patterns("raw", "*.lock"))
    return target


def shop_ids(home: Path) -> list[str]:
    with Warehouse(warehouse_path(home), read_only=True) as warehouse:
        return [r[0] for r in warehouse.rows("SELECT shop_id FROM shops ORDER BY shop_id")]


def write_alerts(home: Path, text: str) -> None:
    (home / "alerts.toml").write_text(text, encoding="utf-8")


def with_hook(home: Path, server_url: str, rules: str) -> None:
    """alerts.toml with one generic webhook channel `hook` (its URL a secret in credentials.json) and `rules`."""
    write_private_json(home / ".shoplens" / "credentials.json", {"channels": {"hook": {"url": f"{server_url}/webhook"}}})
    write_alerts(home, '[channel.hook]\nkind = "webhook"\n' + rules)


def cli(args, home: Path, **env) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SHOPLENS_")}
    environment.update(SHOPLENS_HOME=str(home), COLUMNS="250", **env)
    return subprocess.run([SHOPLENS, *args], capture_output=True, text=True, env=environment, timeout=120)


# --- alerts.toml ---------------------------------------------------------------------------------------
def test_a_bad_alerts_file_gets_one_message_per_problem_naming_rule_and_field(home):
    write_alerts(home, """
[settings]
language = "fr"

[channel.ops]
kind = "feishu"
url = "https://open.feishu.cn/open-apis/bot/v2/hook/abc"

[channel.mail]
kind = "email"
host = "smtp.example.com"
to = "not-an-address"

[[rule]]
id = "refunds"
metric = "refund_rat"
above = 0.05
channels = ["ops"]

[[rule]]
id = "gmv-drop"
metric = "gmv"
falls_by = 30
window = "last_week_ish"
channels = ["opps"]

[[rule]]
id = "both"
metric = "gmv"
above = 1
below = 2
channels = ["ops"]
repet = "1d"

[[rule]]
id = "today-change"
metric = "orders"
window = "today"
falls_by = 0.5
shop = "123"
channels = ["ops"]
""")
    with pytest.raises(AlertError) as caught:
        load_config(home / "alerts.toml", known_shops=set(shop_ids(home)))
    problems = caught.value.problems
    expected = [
        "[settings]: language 'fr' is not one of en, zh",
        "channel 'ops': `url` is a secret and never goes in alerts.toml: set SHOPLENS_CHANNEL_OPS_URL",
        "channel 'mail': email needs `from`",
        "channel 'mail': to 'not-an-address' must be a list of email addresses",
        "rule 'refunds': field `metric`: no metric 'refund_rat' (did you mean 'refund_rate'?)",
        "rule 'gmv-drop': field `falls_by`: 30 is a share of the previous figure: 0.3 means 30 %",
        "rule 'gmv-drop': field `window`: 'last_week_ish' is not a window",
        "rule 'gmv-drop': field `channels`: no channel 'opps' (did you mean 'ops'?)",
        "rule 'both': unknown field 'repet' (did you mean 'repeat'?)",
        "rule 'both': give exactly one condition",
        "rule 'today-change': field `window`: today is not over yet",
        "rule 'today-change': field `shop`: unknown shop id(s) 123; synced shops: ",
    ]
    for text in expected:
        assert any(text in p for p in problems), (text, problems)
    assert len(problems) == len(expected)

    done = cli(["alerts", "check"], home)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "12 problems:" in done.stderr and "rule 'refunds': field `metric`" in done.stderr
    assert "open.feishu.cn" not in done.stderr + done.stdout  # the secret found in the file is never repeated

    (home / "alerts.toml").write_text("[[rule]\nid = 1", encoding="utf-8")
    done = cli(["alerts", "list"], home)
    assert done.returncode == 1 and "alerts.toml: not valid TOML" in done.stderr and "Traceback" not in done.stderr
    (home / "alerts.toml").unlink()
    done = cli(["alerts", "check"], home)
    assert done.returncode == 1 and "no alerts file at" in done.stderr and "docs/alerts.md" in done.stderr


def test_the_documented_alerts_files_are_valid(tmp_path):
    root = Path(__file__).resolve().parents[1]
    for doc, section in ((root / "docs" / "alerts.md", "## A complete `alerts.toml`"),
                         (root / "README.md", "**Add a rule and a channel in five minutes:**")):
        text = doc.read_text(encoding="utf-8").split(section, 1)[1]
        blocks = [b.split("```", 1)[0] for b in text.split("```toml\n")[1:]]
        path = tmp_path / "alerts.toml"
        path.write_text("\n".join(b.replace("\n   ", "\n") for b in blocks[:1 if "complete" in section else 2]))
        config = load_config(path)
        assert config.rules and all(rule.channels for rule in config.rules), doc


@pytest.mark.parametrize("name, today, days, previous", [
    ("yesterday", date(2026, 11, 16), (date(2026, 11, 15), date(2026, 11, 15)), (date(2026, 11, 14),) * 2),
    ("today", date(2026, 11, 16), (date(2026, 11, 16),) * 2, (date(2026, 11, 15),) * 2),
    ("last_7_days", date(2026, 11, 16), (date(2026, 11, 9), date(2026, 11, 15)),
     (date(2026, 11, 2), date(2026, 11, 8))),
    ("week_to_date", date(2026, 11, 19), (date(2026, 11, 16), date(2026, 11, 18)),
     (date(2026, 11, 9), date(2026, 11, 11))),
    ("week_to_date", date(2026, 11, 16), (date(2026, 11, 9), date(2026, 11, 15)),  # a Monday: last week
     (date(2026, 11, 2), date(2026, 11, 8))),
    ("month_to_date", date(2026, 11, 16), (date(2026, 11, 1), date(2026, 11, 15)),
     (date(2026, 10, 1), date(2026, 10, 15))),
    ("month_to_date", date(2026, 3, 31), (date(2026, 3, 1), date(2026, 3, 30)),
     (date(2026, 2, 1), date(2026, 2, 28))),
    ("last_month", date(2026, 11, 16), (date(2026, 10, 1), date(2026, 10, 31)),
     (date(2026, 9, 1), date(2026, 9, 30))),
    ("last_week", date(2026, 11, 18), (date(2026, 11, 9), date(2026, 11, 15)),
     (date(2026, 11, 2), date(2026, 11, 8))),
])
def test_windows_and_their_comparable_windows(name, today, days, previous):
    assert window_days(name, today) == days
    assert comparable(name, days) == previous


def test_the_signatures_match_the_services_worked_examples():
    # values computed independently with `openssl dgst -sha256 -hmac KEY -binary | base64` (docs' formulas)
    assert feishu_sign("demo-secret", "1599360473") == "3/MaVZ8JLIy4TUG+7KSFJqvUkTKd+HWY8g+56DZWq8s="
    assert dingtalk_sign("SECdemo", "1700000000000") == "lOvVf9TQCVugV68mGbSZCg0gzOl1SVjxWi1MyVZCUuA="


def test_every_message_word_exists_in_both_languages():
    for key, texts in WORDS.items():
        assert set(texts) == {"en", "zh"} and all(texts.values()), key


def test_markup_escaping_for_slack_and_markdown():
    message = Message("fired", "en", "r", "s", "s", f"ALERT · {HOSTILE}", "summary *x*", [("Shop", HOSTILE)],
                      [HOSTILE], ("Open", "https://reports.example.com/a b.html"))
    slack = render_slack(message)
    assert "<!channel>" not in slack["text"] and "&lt;!channel&gt;" in slack["text"]
    plain = [b for b in slack["blocks"] if b.get("text", {}).get("type") == "plain_text"]
    assert plain and all(b["text"]["emoji"] is False for b in plain)
    assert all(f["type"] == "plain_text" for b in slack["blocks"] for f in b.get("fields", []))
    markdown = render_markdown(message)
    for raw in ("<b>", "<!channel>", "<at ", "[x](http://evil)", "*Nori*", "<@all>", "`rm`"):
        assert raw not in markdown, raw
    assert r"\*Nori\*" in markdown and "&lt;@all&gt;" in markdown and "&amp;amp;" in markdown
    assert "[Open](https://reports.example.com/a%20b.html)" in markdown


# --- delivery to real servers ----------------------------------------------------------------------------
def channels_toml(receiver_url: str | None = None, mailbox: Mailbox | None = None) -> str:
    text = ""
    if mailbox is not None:
        text += f"""
[channel.mail]
kind = "email"
host = "127.0.0.1"
port = {mailbox.port}
starttls = true
username = "alerts@example.com"
from = "shoplens@example.com"
to = ["ops@example.com", "lead@example.com"]
ca_file = "{mailbox.ca_file}"
"""
    if receiver_url is not None:
        text += """
[channel.slack]
kind = "slack"
[channel.feishu]
kind = "feishu"
sign = true
[channel.dingtalk]
kind = "dingtalk"
sign = true
[channel.wecom]
kind = "wecom"
[channel.hook]
kind = "webhook"
sign = true
"""
    return text


def channel_secrets(home: Path, receiver_url: str) -> dict:
    secrets = {"slack": {"url": f"{receiver_url}/slack"},
               "feishu": {"url": f"{receiver_url}/feishu", "secret": "feishu-SECRET-1"},
               "dingtalk": {"url": f"{receiver_url}/dingtalk?access_token={TOKEN}", "secret": "SECdingtalk-2"},
               "wecom": {"url": f"{receiver_url}/wecom?key={TOKEN}"},
               "hook": {"url": f"{receiver_url}/webhook", "secret": "hook-SECRET-3"}}
    write_private_json(home / ".shoplens" / "credentials.json", {"channels": secrets})
    return secrets


def make_hostile(home: Path, shop_id: str) -> None:
    with workspace_writer(home, refresh_facts=False) as warehouse:
        warehouse.con.execute("UPDATE shops SET name = ? WHERE shop_id = ?", [HOSTILE, shop_id])


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_channel_gets_the_message_signed_and_escaped(home, tmp_path, lang):
    shops = shop_ids(home)
    make_hostile(home, shops[1])
    receiver = ChatReceiver(secrets={"feishu": "feishu-SECRET-1", "dingtalk": "SECdingtalk-2",
                                     "webhook": "hook-SECRET-3"})
    with receiver.serve() as server, Mailbox(tmp_path) as mailbox:
        secrets = channel_secrets(home, server.url)
        write_alerts(home, f"""
[settings]
reports_url = "https://reports.example.com/shoplens"
{channels_toml(server.url, mailbox)}
[[rule]]
id = "refund-rate-high"
metric = "refund_rate"
window = "last_7_days"
above = 0.015
shop = "{shops[1]}"
language = "{lang}"
note = "Check the GB returns queue"
channels = ["mail", "slack", "feishu", "dingtalk", "wecom", "hook"]
""")
        (home / "reports" / "2026-11-09_2026-11-15" / "shop_report").mkdir(parents=True)
        (home / "reports" / "2026-11-09_2026-11-15" / "shop_report" / f"{shops[1]}{'.zh' if lang == 'zh' else ''}.html").write_text("r")
        env = {"SHOPLENS_CHANNEL_MAIL_PASSWORD": "s3cret-pw"}
        result = check_alerts(home, now=NOW, env=env)
    assert [(d.channel, d.status) for d in result.deliveries] == [
        (c, "sent") for c in ("dingtalk", "feishu", "hook", "mail", "slack", "wecom")]
    assert result.events == {("refund-rate-high", shops[1]): "fired"}
    from shoplens import metrics
    from shoplens.metrics import Policies
    from shoplens.reports.context import format_value

    with Warehouse(warehouse_path(home), read_only=True) as warehouse:  # the figure, by the catalogue itself
        rate = metrics.query(["refund_rate"], by=["shop"], shop=shops[1], period=("2026-11-09", "2026-11-15"),
                             policies=Policies(timezone="shop"), warehouse=warehouse).refund_rate.iloc[0]
    shown = format_value(rate, "percent")
    assert rate > 0.015  # above the rule's limit, or this test proves nothing
    finding = result.findings[0]
    assert finding.state == "firing" and finding.shown == shown and finding.limit_shown == "1.5%"
    report = f"https://reports.example.com/shoplens/2026-11-09_2026-11-15/shop_report/{shops[1]}{'.zh' if lang == 'zh' else ''}.html"
    label = "Refund rate" if lang == "en" else "退款率"
    window = "2026-11-09 – 2026-11-15"

    # email: STARTTLS (the CA file), login, both parts, to every address
    assert mailbox.logins == ["alerts@example.com"]
    assert mailbox.envelopes == [("shoplens@example.com", ["ops@example.com", "lead@example.com"])]
    email = mailbox.messages[0]
    assert email["Subject"].startswith("[shoplens] " + ("ALERT" if lang == "en" else "告警"))
    text = email.get_body(("plain",)).get_content()
    page = email.get_body(("html",)).get_content()
    for part in (text, page):
        assert label in part and shown in part and "1.5%" in part and window in part and report in part
        assert "Check the GB returns queue" in part
    assert HOSTILE in text and "&lt;b&gt;*Nori*&lt;/b&gt;" in page and "<b>*Nori*" not in page
    definition = "Refund amount divided by GMV" if lang == "en" else "退款金额"
    assert definition in text

    slack = receiver.of("slack")[0].body
    assert "&lt;!channel&gt;" in slack["text"] and "<!channel>" not in slack["text"]
    shown = json.dumps(slack["blocks"], ensure_ascii=False)
    assert label in shown and report in shown and HOSTILE.replace('"', '\\"') in shown  # literal, in plain_text

    feishu = receiver.of("feishu")[0]
    assert feishu.signed is True and feishu.body["msg_type"] == "post"
    post = feishu.body["content"]["post"]["zh_cn" if lang == "zh" else "en_us"]
    texts = [element for paragraph in post["content"] for element in paragraph]
    assert all(e["tag"] in ("text", "a") for e in texts) and {"tag": "a", "text": WORDS["open_report"][lang],
                                                             "href": report} in texts
    assert any(HOSTILE in e["text"] for e in texts)  # text elements are literal: nothing to escape

    dingtalk = receiver.of("dingtalk")[0]
    assert dingtalk.signed is True and dingtalk.query["access_token"] == TOKEN
    for kind in ("dingtalk", "wecom"):
        body = receiver.of(kind)[0].body
        markdown = body["markdown"]["text" if kind == "dingtalk" else "content"]
        assert "<at " not in markdown and "<!channel>" not in markdown and "<@all>" not in markdown
        assert r"\*Nori\*" in markdown and label in markdown and f"]({report})" in markdown

    hook = receiver.of("webhook")[0]
    assert hook.signed is True and hook.body["event"] == "alert.fired" and hook.body["shop_id"] == shops[1]
    assert hook.body["link"]["url"] == report and HOSTILE in hook.body["text"]

    # nothing secret reached the warehouse's history
    with Warehouse(warehouse_path(home), read_only=True) as warehouse:
        stored = json.dumps(warehouse.rows("SELECT * FROM alert_events"), default=str) + json.dumps(
            warehouse.rows("SELECT * FROM alert_deliveries"), default=str)
    for secret in [*(v for s in secrets.values() for v in s.values() if "SECRET" in v or "SEC" in v), TOKEN, "s3cret-pw"]:
        assert secret not in stored


def test_fire_then_repeat_suppressed_then_repeat_then_resolved(home):
    shops = shop_ids(home)
    receiver = ChatReceiver()
    rule = """
[[rule]]
id = "refunds"
metric = "refund_rate"
window = "last_7_days"
above = {limit}
shop = "{shop}"
repeat = "6h"
channels = ["hook"]
"""
    with receiver.serve() as server:
        with_hook(home, server.url, rule.format(limit=0.015, shop=shops[1]))
        steps = [check_alerts(home, now=NOW + timedelta(hours=h)) for h in (0, 1, 5)]
        steps.append(check_alerts(home, now=NOW + timedelta(hours=6, minutes=1)))
        write_alerts(home, '[channel.hook]\nkind = "webhook"\n' + rule.format(limit=0.5, shop=shops[1]))
        steps.append(check_alerts(home, now=NOW + timedelta(hours=7)))
        steps.append(check_alerts(home, now=NOW + timedelta(hours=30)))
    assert [list(s.events.values()) for s in steps] == [["fired"], [], [], ["repeat"], ["resolved"], []]
    assert [a.body["event"] for a in receiver.of("webhook")] == ["alert.fired", "alert.repeat", "alert.resolved"]
    resolved = receiver.of("webhook")[-1].body
    assert resolved["title"].startswith("[shoplens] RESOLVED") and "50.0%" in resolved["text"]

    done = cli(["alerts", "list", "--csv"], home)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("rule,condition,window,channels,lang,shop,subject,state,since")
    assert f"refunds,refund_rate above 0.5,last_7_days,hook,en,Nori Official GB,{shops[1]},ok," in lines[1]
    history = cli(["alerts", "history", "--csv"], home)
    rows = history.stdout.splitlines()
    assert len(rows) == 4 and [r.split(",")[4] for r in rows[1:]] == ["resolved", "repeat", "fired"]
    assert all(",hook,webhook 127.0.0.1,sent,1," in r for r in rows[1:])


def test_a_channel_that_is_down_does_not_stop_the_others_and_is_retried(home, caplog):
    shops = shop_ids(home)
    receiver = ChatReceiver(down={"wecom"})
    with receiver.serve() as server:
        channel_secrets(home, server.url)
        write_private_json(home / ".shoplens" / "credentials.json", {"channels": {
            "slack": {"url": f"{server.url}/slack"}, "wecom": {"url": f"{server.url}/wecom?key={TOKEN}"},
            "gone": {"url": f"http://127.0.0.1:9/hook?token={TOKEN}"}}})
        write_alerts(home, f"""
[channel.slack]
kind = "slack"
[channel.wecom]
kind = "wecom"
[channel.gone]
kind = "webhook"
timeout = 2

[[rule]]
id = "refunds"
metric = "refund_rate"
window = "last_7_days"
above = 0.015
shop = "{shops[1]}"
channels = ["gone", "wecom", "slack"]
""")
        first = check_alerts(home, now=NOW)
        assert {d.channel: d.status for d in first.deliveries} == {"gone": "pending", "wecom": "pending",
                                                                   "slack": "sent"}
        assert len(receiver.of("slack")) == 1 and receiver.of("wecom") == []
        too_soon = check_alerts(home, now=NOW + timedelta(seconds=30))
        assert too_soon.deliveries == []  # the retry waits for its backoff
        receiver.down.clear()
        again = check_alerts(home, now=NOW + timedelta(minutes=2))
        assert {d.channel: (d.status, d.attempts) for d in again.deliveries} == {"gone": ("pending", 2),
                                                                                 "wecom": ("sent", 2)}
        assert len(receiver.of("wecom")) == 1 and len(receiver.of("slack")) == 1  # slack is not sent twice
        done = cli(["alerts", "history"], home)
    assert done.returncode == 0
    output = done.stdout + done.stderr + caplog.text
    assert "ConnectError" in output
    with Warehouse(warehouse_path(home), read_only=True) as warehouse:
        errors = [r[0] for r in warehouse.rows("SELECT error FROM alert_deliveries WHERE error IS NOT NULL")]
        retry = warehouse.rows("SELECT next_attempt_at FROM alert_deliveries WHERE channel = 'gone'")[0][0]
    assert errors and retry == NOW + timedelta(minutes=2) + timedelta(minutes=5)
    for text in (output, *errors):
        assert TOKEN not in text


def test_built_in_conditions_sync_authorization_and_listing(home):
    from shoplens.quality import record_revoked

    shops = shop_ids(home)
    receiver = ChatReceiver()
    now = datetime.now(UTC)  # after the module's sync: a failed run now is a failing sync
    with workspace_writer(home, refresh_facts=False) as warehouse:
        record_revoked(warehouse, [shops[0]], reason="the seller deauthorized the app")
        warehouse.con.execute("INSERT INTO sync_runs (run_id, shop_id, resource, started_at, finished_at, status, "
                              "error) VALUES ('r9', ?, 'orders', ?, ?, 'failed', 'HTTP 503 from the API')",
                              [shops[2], now, now + timedelta(seconds=1)])
        product = warehouse.rows("SELECT product_id FROM products WHERE shop_id = ? LIMIT 1", [shops[1]])[0][0]
        warehouse.con.execute("UPDATE products SET status = 'PLATFORM_DEACTIVATED', title = ? WHERE product_id = ?",
                              [HOSTILE, product])
    with receiver.serve() as server:
        with_hook(home, server.url, """
[[rule]]
id = "auth"
condition = "authorization"
days = 7
channels = ["hook"]
[[rule]]
id = "sync"
condition = "sync_stale"
hours = 400
channels = ["hook"]
language = "zh"
[[rule]]
id = "listing"
condition = "listing"
channels = ["hook"]
""")
        result = check_alerts(home, now=now + timedelta(minutes=1))
    with Warehouse(warehouse_path(home), read_only=True) as warehouse:  # the sandbox takes products down too
        down = {r[0] for r in warehouse.rows(f"SELECT DISTINCT shop_id FROM products WHERE status IN {LISTING_DOWN}")}
    fired = {(rule, subject) for (rule, subject), kind in result.events.items() if kind == "fired"}
    assert shops[1] in down
    assert fired == {("auth", shops[0]), ("sync", shops[2]), *(("listing", shop) for shop in down)}
    bodies = {a.body["rule"]: a.body for a in receiver.of("webhook") if a.body["rule"] != "listing"}
    bodies["listing"] = next(a.body for a in receiver.of("webhook")
                             if a.body["rule"] == "listing" and a.body["subject"] == shops[1])
    assert "revoked" in bodies["auth"]["text"] and "the seller deauthorized the app" in bodies["auth"]["items"]
    assert bodies["sync"]["lang"] == "zh" and "数据同步失败" in bodies["sync"]["title"]
    assert any("orders: 1 failed run(s)" in i and "HTTP 503" in i for i in bodies["sync"]["items"])
    assert f"{HOSTILE} ({product}): PLATFORM_DEACTIVATED" in bodies["listing"]["items"]


def test_sync_with_alerts_checks_after_the_sync(server, tokens, tmp_path):
    from shoplens.tiktok import TokenStore

    gate = server.sandbox.gate
    TokenStore(tmp_path / ".shoplens" / "tokens.json").save(tokens)
    receiver = ChatReceiver()
    shop = server.sandbox.business.shops[0].id
    with receiver.serve() as chat:
        write_private_json(tmp_path / ".shoplens" / "credentials.json",
                           {"app_secret": gate.app_secret, "channels": {"hook": {"url": f"{chat.url}/webhook"}}})
        write_alerts(tmp_path, f"""
[channel.hook]
kind = "webhook"
[[rule]]
id = "fresh"
condition = "sync_stale"
hours = 1
shop = "{shop}"
channels = ["hook"]
""")
        done = cli(["sync", "--shop", shop, "--resource", "orders", "--alerts"], tmp_path,
                   SHOPLENS_API_URL=server.url, SHOPLENS_AUTH_URL=server.url, SHOPLENS_APP_KEY=gate.app_key)
    assert done.returncode == 0, done.stderr
    assert "synced " in done.stdout and "1 checked, 0 firing" in done.stdout
    assert gate.app_secret not in done.stdout + done.stderr


def test_target_attainment_pro_rated_per_owner(home):
    shops = shop_ids(home)
    (home / "targets.toml").write_text(f"""
[[target]]
shop = "{shops[1]}"
owner = "Mia <script>"
role = "live_host"
metric = "gmv"
weekly = 100000

[[target]]
shop = "{shops[1]}"
owner = "Ken"
role = "operations"
metric = "gmv"
weekly = 1
""", encoding="utf-8")
    receiver = ChatReceiver()
    with receiver.serve() as server:
        with_hook(home, server.url, """
[[rule]]
id = "gmv-target"
metric = "gmv"
target_below = 0.8
window = "last_3_days"
channels = ["hook"]
language = "zh"
""")
        result = check_alerts(home, now=NOW)  # 2026-11-13 to 2026-11-15: 3 of the week's 7 days
    states = {f.subject: (f.state, f.facts.get("target_days")) for f in result.findings}
    assert states == {f"{shops[1]}/Mia <script>": ("firing", 3), f"{shops[1]}/Ken": ("ok", 3)}
    body = receiver.of("webhook")[0].body
    assert body["subject"] == f"{shops[1]}/Mia <script>" and "目标达成率低于 80%" in body["title"]
    assert "Mia <script> (主播)" in body["text"] and "GBP 42,857.14" in body["text"]  # 100,000 × 3 / 7


def test_stockout_risk_fires_for_the_shops_whose_skus_run_out_before_a_restock(home):
    """The built-in stockout_risk reads the catalogue's stockout_risk_skus (#15) on the window's last day;
    the sandbox plants an 11.11 best-seller stockout, so some shop is at risk the day after."""
    from zoneinfo import ZoneInfo

    from shoplens import metrics
    from shoplens.metrics import Policies

    now = datetime(2026, 11, 13, 9, 0, tzinfo=UTC)  # yesterday is 2026-11-12 in every sandbox shop's zone
    shops = shop_ids(home)
    with Warehouse(warehouse_path(home), read_only=True) as warehouse:
        at_risk = {}
        for shop in shops:  # each shop's window is its own local days
            zone = warehouse.rows("SELECT timezone FROM shops WHERE shop_id = ?", [shop])[0][0]
            period = window_days("yesterday", now.astimezone(ZoneInfo(zone)).date())
            frame = metrics.query(["stockout_risk_skus"], by=["shop"], shop=shop, period=period,
                                  policies=Policies(timezone="shop"), warehouse=warehouse)
            at_risk[shop] = int(frame.stockout_risk_skus.sum()) if len(frame) else 0
    assert any(at_risk.values()) and not all(at_risk.values()), at_risk  # a real split, or this proves nothing
    receiver = ChatReceiver()
    with receiver.serve() as server:
        with_hook(home, server.url, """
[[rule]]
id = "stock"
condition = "stockout_risk"
window = "yesterday"
channels = ["hook"]
""")
        result = check_alerts(home, now=now)
    fired = {subject for (rule, subject), kind in result.events.items() if kind == "fired"}
    assert fired == {shop for shop, n in at_risk.items() if n > 0}
    assert {a.body["subject"] for a in receiver.of("webhook")} == fired
