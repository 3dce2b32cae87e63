"""Real servers on 127.0.0.1 for the alert channels' tests: an SMTP server (aiosmtpd) with STARTTLS and
login, its certificate from a throwaway CA (trustme); and one HTTP receiver that answers like Slack's
incoming webhooks, Feishu/Lark custom bots, DingTalk custom robots, WeCom group robots and a generic
JSON webhook, checking each service's signature with its own code written from the services' docs
(not with shoplens' signing helpers), and recording what arrived."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from shoplens.serving import ThreadedServer


@dataclass
class Arrival:
    kind: str
    path: str
    query: dict
    headers: dict
    body: dict
    raw: bytes
    signed: bool | None = None


@dataclass
class ChatReceiver:
    """POST /slack, /feishu, /dingtalk, /wecom, /webhook. `secrets[kind]` turns on that kind's signature
    check; `down` lists kinds that answer 503 (a service having a bad minute)."""

    secrets: dict = field(default_factory=dict)
    down: set = field(default_factory=set)
    arrivals: list = field(default_factory=list)

    def of(self, kind: str) -> list[Arrival]:
        return [a for a in self.arrivals if a.kind == kind]

    def app(self) -> Starlette:
        async def receive(request: Request):
            kind = request.path_params["kind"]
            raw = await request.body()
            arrival = Arrival(kind, request.url.path, dict(request.query_params), dict(request.headers),
                              json.loads(raw), raw)
            if kind in self.down:
                return PlainTextResponse("service unavailable", status_code=503)
            self.arrivals.append(arrival)
            secret = self.secrets.get(kind)
            if kind == "slack":
                return PlainTextResponse("ok")
            if kind == "feishu":
                if secret is not None:
                    stamp = arrival.body.get("timestamp", "")
                    # docs: timestamp + "\n" + secret as the HMAC-SHA256 key over nothing, base64
                    expected = base64.b64encode(hmac.new(f"{stamp}\n{secret}".encode(), b"",
                                                         hashlib.sha256).digest()).decode()
                    arrival.signed = (hmac.compare_digest(expected, arrival.body.get("sign", ""))
                                      and abs(time.time() - int(stamp or 0)) < 3600)
                    if not arrival.signed:
                        return JSONResponse({"code": 19021, "msg": "sign match fail or timestamp is not within one "
                                                                   "hour from current time", "data": {}})
                return JSONResponse({"code": 0, "msg": "success", "data": {}})
            if kind == "dingtalk":
                if secret is not None:
                    stamp = arrival.query.get("timestamp", "")
                    # docs: HMAC-SHA256 keyed by the secret over timestamp(ms) + "\n" + secret, base64, url-encoded
                    expected = base64.b64encode(hmac.new(secret.encode(), f"{stamp}\n{secret}".encode(),
                                                         hashlib.sha256).digest()).decode()
                    arrival.signed = (hmac.compare_digest(expected, arrival.query.get("sign", ""))
                                      and abs(time.time() * 1000 - int(stamp or 0)) < 3_600_000)
                    if not arrival.signed:
                        return JSONResponse({"errcode": 310000, "errmsg": "sign not match"})
                return JSONResponse({"errcode": 0, "errmsg": "ok"})
            if kind == "wecom":
                return JSONResponse({"errcode": 0, "errmsg": "ok"})
            if secret is not None:  # the generic webhook
                stamp = arrival.headers.get("x-shoplens-timestamp", "")
                expected = "sha256=" + hmac.new(secret.encode(), stamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
                arrival.signed = hmac.compare_digest(expected, arrival.headers.get("x-shoplens-signature", ""))
                if not arrival.signed:
                    return PlainTextResponse("bad signature", status_code=401)
            return PlainTextResponse("", status_code=204)

        return Starlette(routes=[Route("/{kind}", receive, methods=["POST"])])

    def serve(self) -> ThreadedServer:
        config = uvicorn.Config(self.app(), log_level="warning", access_log=False, lifespan="off")
        return ThreadedServer(config, "127.0.0.1", 0, name="chat-receiver")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Mailbox:
    """aiosmtpd on 127.0.0.1 that requires STARTTLS (certificate from a trustme CA) and a login;
    `messages` are the parsed emails that arrived, `logins` who logged in."""

    def __init__(self, tmp_path, *, user: str = "alerts@example.com", password: str = "s3cret-pw") -> None:
        import ssl

        import trustme
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        self.ca = trustme.CA()
        self.ca_file = tmp_path / "smtp-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        self.messages, self.logins, self.envelopes = [], [], []
        mailbox = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                mailbox.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
                mailbox.messages.append(message_from_bytes(envelope.content, policy=policy.default))
                return "250 OK"

        def authenticate(server, session, envelope, mechanism, auth_data):
            ok = auth_data.login.decode() == user and auth_data.password.decode() == password
            if ok:
                mailbox.logins.append(auth_data.login.decode())
            return AuthResult(success=ok)

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, tls_context=context,
                                     require_starttls=True, authenticator=authenticate, auth_require_tls=True)

    def __enter__(self) -> Mailbox:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()
