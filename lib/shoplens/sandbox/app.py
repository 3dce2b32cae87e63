"""The sandbox as an ASGI application: the TikTok Shop API's paths, envelopes and error codes.

One server answers for the API host, the token host and the consent page. What it shows depends on
the business clock (`business_now`): orders appear 1-2 hours after creation and change status as the
clock moves. Two clocks show in `Date` headers: a Shop API answer carries the business clock (a sync
ends its windows there); every other answer (errors, tokens, consent) carries the gateway's clock, the
one request timestamps are checked against (`Gatekeeper.now()`, skewed by `clock_skew`). It imports
nothing from sync or warehouse.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from email.utils import formatdate
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from shoplens.sandbox.ads import AdsGate, make_ads_routes
from shoplens.sandbox.business import Business
from shoplens.sandbox.faults import Faults
from shoplens.sandbox.fx import ecb_rates_csv
from shoplens.sandbox.protocol import Gatekeeper, ProtocolError, request_id
from shoplens.sandbox.resources import HANDLERS
from shoplens.tiktok.endpoints import ENDPOINTS


#: query parameters the gateway consumes; handlers see only the endpoint's own
#: where the sandbox serves its reference FX rates (the ECB serves eurofxref-hist.zip)
FX_PATH = "/fx/eurofxref-hist.csv"
GATEWAY_PARAMS = frozenset({"app_key", "timestamp", "sign", "shop_cipher", "access_token"})


def _unversioned(path: str) -> str:
    return re.sub(r"^/([a-z_]+)/\d{6}/", r"/\1/*/", path)


def _path_pattern(template: str) -> re.Pattern:
    """A concrete path of `template`: each `{name}` segment one non-empty segment, captured by name."""
    parts = re.split(r"\{(\w+)\}", template)
    return re.compile("".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>[^/]+)" for i, p in enumerate(parts)) + "$")


@dataclass
class Sandbox:
    """The emulated service: a business, a gatekeeper and a business clock."""

    business: Business
    gate: Gatekeeper
    #: where the consent page sends the seller (fixed in Partner Center for a real app)
    redirect_uri: str = "http://127.0.0.1/shoplens/callback"
    business_now: Callable[[], int] | None = None
    open_id: str = "7010736057180325637"
    ads: AdsGate = field(default_factory=AdsGate)
    faults: Faults = field(default_factory=Faults)
    #: product id -> (status, since): statuses the platform changed (sandbox/webhooks.py pushes them)
    product_status: dict[str, tuple[str, int]] = field(default_factory=dict)

    def now(self) -> int:
        return self.business_now() if self.business_now else self.business.end_time

    def shop_by_cipher(self, cipher: str):
        return next((s for s in self.business.shops if s.cipher == cipher), None)


def envelope(data: dict | None, *, code: int = 0, message: str = "Success") -> dict:
    return {"code": code, "message": message, "request_id": request_id(), "data": data}


def error_response(err: ProtocolError) -> JSONResponse:
    return JSONResponse(envelope(None, code=err.code, message=err.message), status_code=err.status,
                        headers=err.headers)


# --- the application ------------------------------------------------------------------------------
def create_app(sandbox: Sandbox):
    """The ASGI app serving `sandbox`."""
    gate = sandbox.gate

    served = [(e, _path_pattern(e.path), _path_pattern(_unversioned(e.path))) for e in ENDPOINTS.values()
              if e.name in HANDLERS]

    def route(method: str, path: str):
        """(endpoint, path parameters) for a request; (None, {}) when no endpoint has that method and path."""
        for ep, pattern, _ in served:
            found = pattern.match(path)
            if found and ep.method == method:
                return ep, found.groupdict()  # the path arrives percent-decoded
        return None, {}

    async def dispatch(request: Request) -> Response:
        path = request.url.path
        ep, path_params = route(request.method, path)
        if ep is None:
            if any(pattern.match(path) for _, pattern, _ in served):
                return error_response(ProtocolError(405, 36009010, "Invalid method. The HTTP method used is not "
                                                                   "supported by this endpoint."))
            if any(loose.match(_unversioned(path)) for _, _, loose in served):
                return error_response(ProtocolError(404, 36009014, "The version name is invalid, please check "
                                                                   "and retry."))
            return error_response(ProtocolError(404, 36009009, "Invalid path. The specified path does not match "
                                                               "any available endpoint."))
        raw = await request.body()
        query = list(request.query_params.multi_items())
        fault = sandbox.faults.next_fault()
        if fault is not None:
            answer = await _inject(fault, sandbox)
            if answer is not None:
                return answer
        try:
            gate.check_request(path, query, raw, request.headers.get("content-type"),
                               request.headers.get("x-tts-access-token"), scope=ep.scope)
            cipher = request.query_params.get("shop_cipher")
            shop = None
            if ep.shop_scoped:
                if not cipher:
                    raise ProtocolError(400, 106013, "Missing identifier. The `shop_cipher` query parameter is "
                                                     "required to identify the target shop.")
                shop = sandbox.shop_by_cipher(cipher)
                if shop is None:
                    raise ProtocolError(403, 101000, "Invalid query or header. The `shop_cipher` query parameter "
                                                     "or `x-tts-access-token` header is invalid.")
            elif cipher is not None:
                raise ProtocolError(400, 36009004, "Unexpected identifier. The `shop_cipher` query parameter is "
                                                   "not required for this request.")
            gate.take_token(cipher or "", ep.path)  # limited per endpoint, whatever its path parameters
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                raise ProtocolError(400, 36009022, "Invalid request format. The request body format must be "
                                                   "`application/json`.") from None
            params = {k: v for k, v in request.query_params.items() if k not in GATEWAY_PARAMS}
            data = HANDLERS[ep.name](sandbox, params, body, shop, **path_params)
            # the server's clock is the business clock: a sync ends its windows there
            return JSONResponse(envelope(data), headers={"date": formatdate(sandbox.now(), usegmt=True)})
        except ProtocolError as err:
            return error_response(err)

    def token_endpoint(grant_type: str, redeem: Callable[[str], object], credential: str):
        """`/api/v2/token/get` and `/refresh`: unsigned, app secret in the query, same answer shape."""

        async def endpoint(request: Request) -> Response:
            q = request.query_params
            try:
                gate.check_app(q.get("app_key"), q.get("app_secret"))
                if q.get("grant_type") != grant_type:
                    raise ProtocolError(400, 36009004, f"Invalid request. `grant_type` must be `{grant_type}`.")
                grant = redeem(q.get(credential, ""))
            except ProtocolError as err:
                return error_response(err)
            return JSONResponse(envelope(_token_data(sandbox, grant), message="success"))

        return endpoint

    async def consent(request: Request) -> Response:
        """The seller approves at once; the redirect carries a fresh single-use code."""
        code = gate.issue_auth_code()
        params = {"code": code, "state": request.query_params.get("state", "")}
        return RedirectResponse(f"{sandbox.redirect_uri}?{urlencode(params)}", status_code=302)

    async def fx_rates(request: Request) -> Response:
        """Public reference rates covering the business window, like the ECB's historical file."""
        text = ecb_rates_csv(sandbox.business.first_day - timedelta(days=400), sandbox.business.last_day,
                             sandbox.business.seed)
        return Response(text, media_type="text/csv")

    routes = [Route(path, handler, methods=["GET"]) for path, handler in make_ads_routes(sandbox, sandbox.ads)]
    routes += [
        Route(FX_PATH, fx_rates, methods=["GET"]),
        Route("/api/v2/token/get", token_endpoint("authorized_code", gate.redeem_auth_code, "auth_code"),
              methods=["GET"]),
        Route("/api/v2/token/refresh", token_endpoint("refresh_token", gate.refresh, "refresh_token"),
              methods=["GET"]),
        Route("/open/authorize", consent, methods=["GET"]),
        Route("/{path:path}", dispatch, methods=["GET", "POST", "PUT", "DELETE"]),
    ]
    return _dated(Starlette(routes=routes), gate.now)


def _dated(app, clock: Callable[[], float]):
    """`app`, with a `Date` header from `clock` on every answer that does not carry one already."""

    async def dated(scope, receive, send) -> None:
        if scope["type"] != "http":
            return await app(scope, receive, send)

        async def send_dated(message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"date" for name, _ in headers):
                    message = {**message, "headers": [*headers, (b"date", formatdate(clock(), usegmt=True).encode())]}
            await send(message)

        await app(scope, receive, send_dated)

    return dated


class _DroppedConnection(Exception):
    """Raised after the response has started: the server closes the connection mid-answer."""


class _DropResponse(Response):
    async def __call__(self, scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")]})
        await send({"type": "http.response.body", "body": b'{"code": 0, "data": {', "more_body": True})
        raise _DroppedConnection("sandbox fault: connection dropped")


async def _inject(fault: str, sandbox: Sandbox) -> Response | None:
    """The faulty answer, or None when the fault only changes state (expire, revoke, slow)."""
    if fault == "429":
        return error_response(ProtocolError(429, 36009002, "Too many requests. You've made too many requests in "
                                                           "a short period of time."))
    if fault == "5xx":
        return JSONResponse(envelope(None, code=36009003, message="Internal error."), status_code=503)
    if fault == "malformed":
        return Response(b'{"code": 0, "message": "Success", "data": {"orders": [{"id": "1', status_code=200,
                        media_type="application/json")
    if fault == "drop":
        return _DropResponse()
    if fault == "slow":
        await asyncio.sleep(sandbox.faults.slow_seconds)
    elif fault == "expire":
        sandbox.gate.expire_all()
    elif fault == "revoke":
        sandbox.gate.revoke_all()
    return None


def _token_data(sandbox: Sandbox, grant) -> dict:
    return {
        "access_token": grant.access_token,
        "access_token_expire_in": grant.access_expires,
        "refresh_token": grant.refresh_token,
        "refresh_token_expire_in": grant.refresh_expires,
        "open_id": sandbox.open_id,
        "seller_name": "Sandbox Seller",
        "seller_base_region": "CN",
        "user_type": 0,
        "granted_scopes": list(grant.scopes),
    }
