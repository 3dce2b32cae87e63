"""Ad spend from the Marketing API report endpoint, against the sandbox over HTTP, quirks included."""

from datetime import date
from decimal import Decimal

import pytest

from shoplens import errors
from shoplens.tiktok.ads import AdsClient, parse_metric
from shoplens.tiktok.client import RetryPolicy

START, END = date(2026, 11, 2), date(2026, 11, 15)


def expected_spend(sandbox, advertiser_id):
    total = Decimal(0)
    for shop in sandbox.business.shops:
        ids = {c.id for c in sandbox.business.content[shop.id].campaigns if c.advertiser_id == advertiser_id}
        total += sum((d.spend for d in sandbox.business.ad_days[shop.id] if d.campaign_id in ids
                      and START <= d.day <= END), Decimal(0))
    return total


def test_daily_campaign_spend_matches_the_sandbox_exactly(server):
    with AdsClient(server.url, server.sandbox.ads.token) as ads:
        advertisers = ads.advertisers()
        assert len(advertisers) == len(server.sandbox.business.shops)
        advertiser = advertisers[0]["advertiser_id"]
        rows = list(ads.campaign_days(advertiser, START, END))
        paged = list(ads.campaign_days(advertiser, START, END, page_size=4))
    assert rows == paged and len(rows) > 14
    assert sum(r["spend"] for r in rows) == expected_spend(server.sandbox, advertiser)
    assert all(isinstance(r["spend"], Decimal) and isinstance(r["clicks"], int) for r in rows)
    assert {r["campaign_name"] for r in rows} >= {"Always-on GMV Max", "11.11 Boost"}
    boosted = [r for r in rows if r["campaign_name"] == "11.11 Boost" and r["spend"]]
    assert boosted and all(r["complete_payment_roas"] > 1 for r in boosted)


def test_dash_means_empty_and_numbers_stay_exact():
    assert parse_metric("complete_payment_roas", "-") is None
    assert parse_metric("spend", "12.30") == Decimal("12.30")
    assert parse_metric("clicks", "17") == 17
    with pytest.raises(errors.ApiError, match="not a number"):
        parse_metric("spend", "twelve")


def test_rate_limit_arrives_as_http_200_with_40100_and_is_retried(server):
    with AdsClient(server.url, server.sandbox.ads.token) as ads:
        advertiser = ads.advertisers()[0]["advertiser_id"]
    server.sandbox.ads.qps = 4
    with AdsClient(server.url, server.sandbox.ads.token,
                   retry=RetryPolicy(max_attempts=30, base_delay=0.05, max_delay=0.3)) as ads:
        rows = list(ads.campaign_days(advertiser, START, END, page_size=4))
        assert rows and ads.retries > 0
    with AdsClient(server.url, server.sandbox.ads.token, retry=RetryPolicy(max_attempts=1)) as impatient:
        with pytest.raises(errors.RateLimited) as caught:
            for _ in range(10):
                impatient.advertisers()
    assert caught.value.status == 200 and caught.value.code == 40100


def test_a_bad_access_token_is_named(server):
    with AdsClient(server.url, "not-the-token") as ads, pytest.raises(errors.InvalidCredentials,
                                                                      match="SHOPLENS_ADS_ACCESS_TOKEN") as caught:
        ads.advertisers()
    assert caught.value.code == 40105
    assert "not-the-token" not in repr(ads)


def test_bad_report_parameters_are_refused(server):
    with AdsClient(server.url, server.sandbox.ads.token) as ads:
        advertiser = ads.advertisers()[0]["advertiser_id"]
        with pytest.raises(errors.ApiError, match="within 30 days"):
            list(ads.campaign_days(advertiser, date(2026, 9, 1), date(2026, 11, 15)))
