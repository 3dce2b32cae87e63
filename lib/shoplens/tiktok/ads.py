"""A client for the TikTok Marketing API report endpoint: campaign-level daily ad spend.

The Marketing API is a separate service (`SHOPLENS_ADS_URL`) with its own `Access-Token` header.
It writes metric values as strings and "-" for empty, and says "rate limited" with HTTP 200 and
code 40100; this client turns those into Decimals, None and a retried RateLimited.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal, InvalidOperation

import httpx

from shoplens import errors
from shoplens.tiktok.client import RetryPolicy

DEFAULT_ADS_URL = "https://business-api.tiktok.com"
REPORT_PATH = "/open_api/v1.3/report/integrated/get/"
ADVERTISERS_PATH = "/open_api/v1.3/oauth2/advertiser/get/"
SPEND_METRICS = ["spend", "impressions", "clicks", "conversion", "complete_payment_roas", "campaign_name"]
_TEXT_METRICS = {"campaign_name"}


def parse_metric(name: str, value: str | None):
    """A metric value as the Marketing API sends it -> Decimal, int, str or None ("-" is empty)."""
    if value is None or value == "-" or value == "":
        return None
    if name in _TEXT_METRICS:
        return value
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise errors.ApiError(f"metric {name} is not a number: {value!r}", path=REPORT_PATH) from None
    return int(number) if name in ("impressions", "clicks", "conversion") else number


class AdsClient:
    def __init__(self, base_url: str, access_token: str, *, transport: httpx.BaseTransport | None = None,
                 timeout: float = 30.0, retry: RetryPolicy | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._http = httpx.Client(base_url=base_url.rstrip("/"), transport=transport, timeout=timeout,
                                  headers={"Access-Token": access_token, "user-agent": "shoplens"})
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self.retries = 0

    def __repr__(self) -> str:
        return "AdsClient()"  # never the token

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AdsClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _get(self, path: str, params: dict) -> dict:
        attempt = 0
        while True:
            try:
                return self._get_once(path, params)
            except errors.TransientApiError as exc:
                attempt += 1
                if attempt >= self._retry.max_attempts:
                    raise
                self.retries += 1
                self._sleep(self._retry.delay(attempt, getattr(exc, "retry_after", None)))

    def _get_once(self, path: str, params: dict) -> dict:
        try:
            response = self._http.get(path, params=params)
        except httpx.HTTPError as exc:
            raise errors.TransientApiError(f"connection failed: {type(exc).__name__}", path=path) from exc
        if response.status_code >= 500:
            raise errors.TransientApiError(f"the Marketing API answered HTTP {response.status_code}", path=path,
                                           status=response.status_code)
        try:
            payload = response.json()
        except ValueError:
            raise errors.TransientApiError("the Marketing API sent a body that is not JSON", path=path) from None
        code = payload.get("code")
        kwargs = {"code": code, "status": response.status_code, "request_id": payload.get("request_id"), "path": path}
        if code == 0:
            return payload.get("data") or {}
        if code == 40100:
            raise errors.RateLimited("rate limited by the Marketing API", **kwargs)
        if code in (40104, 40105):
            raise errors.InvalidCredentials("the Marketing API access token is invalid or revoked: "
                                            "set a fresh SHOPLENS_ADS_ACCESS_TOKEN", **kwargs)
        raise errors.ApiError(f"the Marketing API refused the request: {payload.get('message')}", **kwargs)

    def advertisers(self) -> list[dict]:
        """Advertiser accounts the token can read: advertiser_id, advertiser_name."""
        return self._get(ADVERTISERS_PATH, {}).get("list") or []

    def campaign_days(self, advertiser_id: str, start: date, end: date, *, page_size: int = 1000) -> Iterator[dict]:
        """One row per campaign and day in [start, end] (at most 30 days), metrics parsed."""
        page = 1
        while True:
            data = self._get(REPORT_PATH, {
                "advertiser_id": advertiser_id, "report_type": "BASIC", "data_level": "AUCTION_CAMPAIGN",
                "dimensions": json.dumps(["campaign_id", "stat_time_day"]), "metrics": json.dumps(SPEND_METRICS),
                "start_date": start.isoformat(), "end_date": end.isoformat(), "page": page, "page_size": page_size,
            })
            for row in data.get("list") or []:  # an empty page may have no `list` at all
                dims, metrics = row["dimensions"], row["metrics"]
                yield {"campaign_id": str(dims["campaign_id"]), "day": date.fromisoformat(dims["stat_time_day"][:10]),
                       **{name: parse_metric(name, metrics.get(name)) for name in SPEND_METRICS}}
            info = data.get("page_info") or {}
            if page >= int(info.get("total_page") or 1):
                return
            page += 1
