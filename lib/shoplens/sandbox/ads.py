"""The TikTok Marketing API's synchronous report and advertiser list, as the sandbox serves them.

Quirks kept on purpose: every metric value is a string, "-" means empty, and rate limiting comes as
HTTP 200 with code 40100. Auth is an `Access-Token` header (not Bearer, not the Shop API's).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from datetime import date, timedelta

from starlette.requests import Request
from starlette.responses import JSONResponse

from shoplens.sandbox.protocol import request_id

REPORT_PATH = "/open_api/v1.3/report/integrated/get/"
ADVERTISERS_PATH = "/open_api/v1.3/oauth2/advertiser/get/"
METRICS = ("spend", "impressions", "clicks", "ctr", "cpc", "cpm", "conversion", "cost_per_conversion",
           "complete_payment_roas", "campaign_name")


def _answer(code: int, message: str, data: dict | None = None) -> JSONResponse:
    return JSONResponse({"code": code, "message": message, "request_id": request_id(), "data": data or {}})


class AdsGate:
    """The Marketing API's access token and its (much lower) request rate."""

    def __init__(self, token: str | None = None, qps: float = 10.0) -> None:
        self.token = token or secrets.token_hex(20)
        self.qps = qps
        self._last: list[float] = []
        self._lock = threading.Lock()

    def allow(self) -> bool:
        now = time.monotonic()
        with self._lock:
            self._last = [t for t in self._last if now - t < 1.0]
            if len(self._last) >= self.qps:
                return False
            self._last.append(now)
            return True


def _fmt(value, digits: int = 2) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def report_rows(sandbox, advertiser_id: str, start: date, end: date) -> list[dict]:
    rows = []
    for shop in sandbox.business.shops:
        content = sandbox.business.content[shop.id]
        campaigns = {c.id: c for c in content.campaigns if c.advertiser_id == advertiser_id}
        for day in sandbox.business.ad_days[shop.id]:
            if day.campaign_id not in campaigns or not start <= day.day <= end:
                continue
            spend = float(day.spend)
            metrics = {
                "spend": f"{day.spend:.2f}", "impressions": str(day.impressions), "clicks": str(day.clicks),
                "ctr": _fmt(100 * day.clicks / day.impressions if day.impressions else None),
                "cpc": _fmt(spend / day.clicks if day.clicks else None),
                "cpm": _fmt(1000 * spend / day.impressions if day.impressions else None),
                "conversion": str(day.conversions),
                "cost_per_conversion": _fmt(spend / day.conversions if day.conversions else None),
                "complete_payment_roas": _fmt(float(day.revenue) / spend if spend else None),
                "campaign_name": campaigns[day.campaign_id].name,
            }
            rows.append({"dimensions": {"campaign_id": day.campaign_id,
                                        "stat_time_day": f"{day.day.isoformat()} 00:00:00"}, "metrics": metrics})
    return sorted(rows, key=lambda r: (r["dimensions"]["stat_time_day"], r["dimensions"]["campaign_id"]))


def make_ads_routes(sandbox, gate: AdsGate):
    """Starlette endpoints for the report and the advertiser list."""

    def check(request: Request) -> JSONResponse | None:
        if request.headers.get("access-token") != gate.token:
            return _answer(40105, "The access token is invalid or has been revoked.")
        if not gate.allow():
            return _answer(40100, "Requests made too frequently. Please try again later.")  # HTTP 200, on purpose
        return None

    async def advertisers(request: Request) -> JSONResponse:
        refused = check(request)
        if refused:
            return refused
        shops = sandbox.business.shops
        listed = [{"advertiser_id": sandbox.business.content[s.id].campaigns[0].advertiser_id,
                   "advertiser_name": f"{s.name} Ads"} for s in shops if sandbox.business.content[s.id].campaigns]
        return _answer(0, "OK", {"list": listed})

    async def report(request: Request) -> JSONResponse:
        refused = check(request)
        if refused:
            return refused
        q = request.query_params
        try:
            dimensions = json.loads(q.get("dimensions", "[]"))
            metrics = json.loads(q.get("metrics", "[]"))
            start, end = date.fromisoformat(q["start_date"]), date.fromisoformat(q["end_date"])
            page, size = int(q.get("page", 1)), int(q.get("page_size", 10))
        except (KeyError, ValueError):
            return _answer(40002, "Invalid parameters: start_date, end_date, dimensions and metrics are required.")
        if q.get("report_type") != "BASIC" or q.get("data_level") != "AUCTION_CAMPAIGN":
            return _answer(40002, "The sandbox serves report_type BASIC at data_level AUCTION_CAMPAIGN only.")
        if sorted(dimensions) != ["campaign_id", "stat_time_day"]:
            return _answer(40002, 'dimensions must be ["campaign_id", "stat_time_day"].')
        unknown = [m for m in metrics if m not in METRICS]
        if unknown:
            return _answer(40002, f"Invalid metrics: {', '.join(unknown)}.")
        if end < start or end - start > timedelta(days=29):
            return _answer(40002, "With stat_time_day, end_date must be within 30 days of start_date.")
        if not 1 <= size <= 1000 or page < 1:
            return _answer(40002, "page must be >= 1 and page_size between 1 and 1000.")
        rows = report_rows(sandbox, q.get("advertiser_id", ""), start, end)
        chosen = [{"dimensions": r["dimensions"], "metrics": {m: r["metrics"][m] for m in metrics}}
                  for r in rows[(page - 1) * size: page * size]]
        total_page = max(1, -(-len(rows) // size))
        data = {"list": chosen, "page_info": {"page": page, "page_size": size, "total_number": len(rows),
                                              "total_page": total_page}}
        if not chosen:
            del data["list"]  # an empty page may leave out `list` entirely
        return _answer(0, "OK", data)

    return [(ADVERTISERS_PATH, advertisers), (REPORT_PATH, report)]
