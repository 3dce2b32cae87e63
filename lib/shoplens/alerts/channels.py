"""Channels: where alert messages go, each speaking its real protocol.

- email: SMTP, optionally implicit TLS or STARTTLS and a login; a plain-text and an HTML part;
- webhook: a generic JSON POST, optionally signed (`X-Shoplens-Signature: sha256=<hex HMAC-SHA256 of
  "<timestamp>." + body>`, `X-Shoplens-Timestamp`);
- slack: an incoming webhook; the message in Block Kit `plain_text` objects (never parsed as markup),
  with a fallback `text` escaped as Slack asks (&, <, >);
- feishu: a Feishu/Lark custom bot, rich-text `post` message (text elements are literal), optionally
  signed: sign = base64(HMAC-SHA256(key = timestamp + "\\n" + secret, message = empty));
- dingtalk: a DingTalk custom robot, `markdown` message with every text escaped, optionally signed:
  `timestamp` (ms) and `sign` = base64(HMAC-SHA256(key = secret, message = timestamp + "\\n" + secret))
  as query parameters;
- wecom: a WeCom group robot, `markdown` message with every text escaped.

Secrets (a webhook's URL, which carries its token; signing secrets; the SMTP password) come from the
environment (`SHOPLENS_CHANNEL_<NAME>_<FIELD>`) or `.shoplens/credentials.json` (0600, `{"channels":
{"<name>": {"url": ..., "secret": ..., "password": ...}}}`), never from alerts.toml. A delivery error
is scrubbed of every secret before it is raised, stored or shown.

Must never: log, store or show a secret; let one channel's failure stop another (`deliver_all`).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import html
import json
import os
import re
import smtplib
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from urllib.parse import quote, quote_plus, urlsplit

import httpx

from shoplens.alerts.messages import Message
from shoplens.alerts.rules import Channel
from shoplens.config import read_private_json
from shoplens.errors import AlertError

DEFAULT_TIMEOUT = 10.0
#: what each kind needs from the secret store: always, and when `sign = true` / a username is given
NEEDS = {"email": (), "webhook": ("url",), "slack": ("url",), "feishu": ("url",), "dingtalk": ("url",),
         "wecom": ("url",)}
WECOM_MAX_BYTES = 4096
USER_AGENT = "shoplens-alerts"


class DeliveryFailed(Exception):
    """A message did not reach a channel; the text is already scrubbed of secrets."""


def secret_variable(name: str, field_name: str) -> str:
    return f"SHOPLENS_CHANNEL_{re.sub(r'[^A-Za-z0-9]', '_', name).upper()}_{field_name.upper()}"


def channel_secret(home: Path, name: str, field_name: str, env: dict | None = None) -> str | None:
    """A channel's secret: SHOPLENS_CHANNEL_<NAME>_<FIELD>, else .shoplens/credentials.json's
    channels.<name>.<field>; None when neither has it."""
    env = os.environ if env is None else env
    if value := env.get(secret_variable(name, field_name)):
        return value
    stored = read_private_json(home / ".shoplens" / "credentials.json").get("channels", {})
    value = stored.get(name, {}).get(field_name) if isinstance(stored.get(name), dict) else None
    return value if isinstance(value, str) and value else None


def required_secrets(channel: Channel) -> list[str]:
    needed = list(NEEDS[channel.kind])
    if channel.options.get("sign"):
        needed.append("secret")
    if channel.kind == "email" and channel.options.get("username"):
        needed.append("password")
    return needed


@dataclass
class Sender:
    """A channel ready to send: its settings, its secrets (kept out of repr), and an HTTP client."""

    channel: Channel
    secrets: dict[str, str] = field(repr=False)
    http: httpx.AsyncClient | None = field(default=None, repr=False)
    clock: Callable[[], float] = time.time

    @property
    def timeout(self) -> float:
        return float(self.channel.options.get("timeout", DEFAULT_TIMEOUT))

    def recipient(self) -> str:
        """Where messages go, without secrets: the addresses for email, else the kind and the host."""
        if self.channel.kind == "email":
            to = self.channel.options["to"]
            return ", ".join([to] if isinstance(to, str) else to)
        host = urlsplit(self.secrets.get("url", "")).hostname or "?"
        return f"{self.channel.kind} {host}"

    def scrub(self, text: str) -> str:
        for value in self.secrets.values():
            for form in {value, quote(value, safe=""), quote_plus(value)}:
                if form:
                    text = text.replace(form, "***")
        return text

    async def send(self, message: Message) -> None:
        """Deliver `message`; DeliveryFailed (scrubbed) when the channel did not take it."""
        try:
            if self.channel.kind == "email":
                await asyncio.wait_for(asyncio.to_thread(self._send_email, message), self.timeout + 5)
            else:
                await self._post(message)
        except DeliveryFailed as exc:
            raise DeliveryFailed(self.scrub(str(exc))) from None
        except (httpx.HTTPError, OSError, smtplib.SMTPException, ssl.SSLError, TimeoutError) as exc:
            detail = str(exc) or type(exc).__name__
            raise DeliveryFailed(self.scrub(f"{type(exc).__name__}: {detail}")) from None

    # --- chat and webhook ---------------------------------------------------------------------------------
    async def _post(self, message: Message) -> None:
        kind = self.channel.kind
        url, params, headers = self.secrets["url"], {}, {"user-agent": USER_AGENT}
        body = RENDER[kind](message)
        if kind == "feishu" and self.channel.options.get("sign"):
            stamp = str(int(self.clock()))
            body = {"timestamp": stamp, "sign": feishu_sign(self.secrets["secret"], stamp)} | body
        if kind == "dingtalk" and self.channel.options.get("sign"):
            stamp = str(int(self.clock() * 1000))
            params = {"timestamp": stamp, "sign": dingtalk_sign(self.secrets["secret"], stamp)}
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        if kind == "webhook" and self.channel.options.get("sign"):
            stamp = str(int(self.clock()))
            headers |= {"x-shoplens-timestamp": stamp,
                        "x-shoplens-signature": "sha256=" + webhook_signature(self.secrets["secret"], stamp, raw)}
        headers["content-type"] = "application/json; charset=utf-8"
        if params:
            url = str(httpx.URL(url).copy_merge_params(params))
        response = await self.http.post(url, content=raw, headers=headers, timeout=self.timeout)
        _check_answer(kind, response)

    # --- email ------------------------------------------------------------------------------------------------
    def _send_email(self, message: Message) -> None:
        options = self.channel.options
        email = EmailMessage()
        email["Subject"] = message.title
        email["From"] = options["from"]
        to = [options["to"]] if isinstance(options["to"], str) else options["to"]
        email["To"] = ", ".join(to)
        email["Date"] = formatdate(localtime=False)
        email["Message-ID"] = make_msgid(domain=options["from"].rpartition("@")[2] or None)
        email.set_content(message.text())
        email.add_alternative(render_html(message), subtype="html")
        context = ssl.create_default_context(cafile=os.path.expanduser(options["ca_file"])
                                             if options.get("ca_file") else None)
        host = options["host"]
        if options.get("tls"):
            smtp = smtplib.SMTP_SSL(host, options.get("port", 465), timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(host, options.get("port", 587 if options.get("starttls", True) else 25),
                                timeout=self.timeout)
        with smtp:
            smtp.ehlo()
            if not options.get("tls") and options.get("starttls", True):
                smtp.starttls(context=context)
                smtp.ehlo()
            if options.get("username"):
                smtp.login(options["username"], self.secrets["password"])
            refused = smtp.send_message(email)
        if refused:
            raise DeliveryFailed("the server refused " + ", ".join(f"{a} ({c} {m!r})" for a, (c, m) in refused.items()))


def _check_answer(kind: str, response: httpx.Response) -> None:
    """Raise DeliveryFailed unless the service said it took the message."""
    text = response.text[:300]
    if response.status_code // 100 != 2:
        raise DeliveryFailed(f"HTTP {response.status_code}: {text}")
    if kind in ("feishu", "dingtalk", "wecom"):
        try:
            answer = response.json()
        except ValueError:
            raise DeliveryFailed(f"HTTP {response.status_code} with an answer that is not JSON: {text}") from None
        code = answer.get("code", answer.get("StatusCode")) if kind == "feishu" else answer.get("errcode")
        if code != 0:
            raise DeliveryFailed(f"the service refused the message: {text}")


# --- signing ------------------------------------------------------------------------------------------------
def feishu_sign(secret: str, timestamp: str) -> str:
    """Feishu/Lark custom bot: base64(HMAC-SHA256(key = timestamp + "\\n" + secret, message = empty))."""
    key = f"{timestamp}\n{secret}".encode("utf-8")
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode("ascii")


def dingtalk_sign(secret: str, timestamp_ms: str) -> str:
    """DingTalk custom robot: base64(HMAC-SHA256(key = secret, message = timestamp + "\\n" + secret)),
    sent URL-encoded as the `sign` query parameter."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    """The generic webhook's signature: hex HMAC-SHA256(key = secret, message = timestamp + "." + body)."""
    return hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


# --- rendering: every text escaped for the channel's markup ------------------------------------------------
_MARKDOWN = re.compile(r"([\\`*_\[\]~|])")


def escape_markdown(text: str) -> str:
    """Text for DingTalk's and WeCom's markdown: HTML special characters as entities (both render
    tags such as <font> and WeCom's <@user> mentions), the characters that make emphasis, code, links
    and tables backslash-escaped (with [ and ] escaped no link can form, so parentheses stay as they
    are), newlines as spaces (every text follows a prefix of ours, so none can start a heading or a list)."""
    return _MARKDOWN.sub(r"\\\1", html.escape(" ".join(text.split()), quote=False))


def escape_slack(text: str) -> str:
    """Slack's own rule for text it may parse: &, < and > as entities (no <!channel>, no links)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_markdown(message: Message, *, max_bytes: int | None = None) -> str:
    e = escape_markdown
    lines = [f"#### {e(message.title)}", "", e(message.summary), ""]
    lines += [f"**{e(label)}**: {e(value)}  " for label, value in message.fields]
    items = [f"- {e(item)}" for item in message.items]
    link = [f"[{e(message.link[0])}]({message.link[1].replace(')', '%29').replace(' ', '%20')})"] if message.link else []
    text = "\n".join(lines + ([""] + items if items else []) + ([""] + link if link else []))
    while max_bytes and len(text.encode("utf-8")) > max_bytes and items:  # drop detail lines, never the link
        items.pop()
        text = "\n".join(lines + ([""] + items if items else []) + ([""] + link if link else []))
    return text


def render_html(message: Message) -> str:
    e = html.escape
    rows = "".join(f"<tr><th style=\"text-align:left;padding-right:1em\">{e(label)}</th><td>{e(value)}</td></tr>"
                   for label, value in message.fields)
    items = "".join(f"<li>{e(item)}</li>" for item in message.items)
    link = (f'<p><a href="{e(message.link[1], quote=True)}">{e(message.link[0])}</a></p>' if message.link else "")
    return (f'<!doctype html><html lang="{message.lang}"><head><meta charset="utf-8"><title>{e(message.title)}</title>'
            f'</head><body style="font-family:sans-serif"><h2>{e(message.title)}</h2><p>{e(message.summary)}</p>'
            f"<table>{rows}</table>{f'<ul>{items}</ul>' if items else ''}{link}</body></html>")


def _plain(text: str, limit: int) -> dict:
    return {"type": "plain_text", "text": text[:limit] or " ", "emoji": False}


def render_slack(message: Message) -> dict:
    blocks = [{"type": "header", "text": _plain(message.title, 150)},
              {"type": "section", "text": _plain(message.summary, 3000)}]
    fields = [_plain(f"{label}: {value}", 2000) for label, value in message.fields]
    for start in range(0, len(fields), 10):  # a section holds at most 10 fields
        blocks.append({"type": "section", "fields": fields[start:start + 10]})
    if message.items:
        blocks.append({"type": "section", "text": _plain("\n".join(f"• {i}" for i in message.items), 3000)})
    if message.link:
        url = message.link[1].replace("|", "%7C").replace(">", "%3E")
        blocks.append({"type": "section", "text": {"type": "mrkdwn",
                                                   "text": f"<{url}|{escape_slack(message.link[0])}>"}})
    return {"text": escape_slack(f"{message.title}\n{message.summary}"), "blocks": blocks}


def render_feishu(message: Message) -> dict:
    paragraphs = [[{"tag": "text", "text": message.summary}]]
    paragraphs += [[{"tag": "text", "text": f"{label}: {value}"}] for label, value in message.fields]
    paragraphs += [[{"tag": "text", "text": f"• {item}"}] for item in message.items]
    if message.link:
        paragraphs.append([{"tag": "a", "text": message.link[0], "href": message.link[1]}])
    lang = "zh_cn" if message.lang == "zh" else "en_us"
    return {"msg_type": "post", "content": {"post": {lang: {"title": message.title, "content": paragraphs}}}}


def render_dingtalk(message: Message) -> dict:
    return {"msgtype": "markdown", "markdown": {"title": message.title[:64], "text": render_markdown(message)}}


def render_wecom(message: Message) -> dict:
    return {"msgtype": "markdown", "markdown": {"content": render_markdown(message, max_bytes=WECOM_MAX_BYTES)}}


def render_webhook(message: Message) -> dict:
    return {"event": f"alert.{message.kind}", "rule": message.rule_id, "subject": message.subject,
            "shop_id": message.shop_id, "lang": message.lang, "title": message.title, "summary": message.summary,
            "fields": [{"label": label, "value": value} for label, value in message.fields],
            "items": message.items, "link": {"label": message.link[0], "url": message.link[1]} if message.link else None,
            "text": message.text()}


RENDER = {"webhook": render_webhook, "slack": render_slack, "feishu": render_feishu, "dingtalk": render_dingtalk,
          "wecom": render_wecom}


# --- sending ------------------------------------------------------------------------------------------------
def senders(channels: dict[str, Channel], home: Path, env: dict | None = None) -> dict[str, Sender]:
    """A Sender per channel, with its secrets; AlertError listing every missing secret."""
    out, missing = {}, []
    for name, channel in channels.items():
        found = {}
        for key in required_secrets(channel):
            value = channel_secret(home, name, key, env)
            if value is None:
                missing.append(f"channel {name!r}: no {key}: set {secret_variable(name, key)}, or add "
                               f'{{"channels": {{"{name}": {{"{key}": "..."}}}}}} to .shoplens/credentials.json (0600)')
            else:
                found[key] = value
        if channel.kind != "email" and "url" in found and not found["url"].startswith(("https://", "http://")):
            missing.append(f"channel {name!r}: its url must start with https:// (it is the address the service "
                           "gave for the bot or webhook)")
        out[name] = Sender(channel, found)
    if missing:
        raise AlertError(missing)
    return out


async def deliver_all(jobs: Sequence[tuple[Sender, Message]], *,
                      transport: httpx.AsyncBaseTransport | None = None) -> list[str | None]:
    """Send every (sender, message); each result is None (delivered) or the scrubbed error. Channels
    are sent to at the same time, each channel's messages one after another in the order given, so one
    channel down or slow never stops or delays another."""
    results: list[str | None] = [None] * len(jobs)
    queues: dict[str, list[int]] = {}
    for index, (sender, _) in enumerate(jobs):
        queues.setdefault(sender.channel.name, []).append(index)
    async with httpx.AsyncClient(transport=transport, follow_redirects=False) as http:
        async def one(sender: Sender, message: Message) -> str | None:
            sender.http = http
            try:
                await asyncio.wait_for(sender.send(message), sender.timeout + 10)
            except DeliveryFailed as exc:
                return str(exc)
            except TimeoutError:
                return f"no answer within {sender.timeout:g} s"
            return None

        async def channel(indexes: list[int]) -> None:
            for index in indexes:
                results[index] = await one(*jobs[index])

        await asyncio.gather(*(channel(indexes) for indexes in queues.values()))
    return results
