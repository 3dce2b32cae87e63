"""The doctor's checks of the app and its authorizations: app key, secret and service id present (the
secret never printed), the local clock against the API's `Date` header, and for each saved authorization
its tokens' state and expiry and whether the API answers one cheap signed call (the authorized shops).

Works against the real API and the sandbox alike. It never refreshes a token (the doctor writes nothing):
an expired access token is reported with the command that renews it. It must never print a secret or a
token, nor a token endpoint's URL.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from email.utils import parsedate_to_datetime

import httpx

from shoplens import errors
from shoplens.tiktok.cli import AUTHORIZE_AGAIN, when
from shoplens.workspace.doctor import FAIL, OK, SKIP, WARN, Doctor, Result

#: the API refuses a request whose timestamp is more than 5 minutes behind its clock, or 30 s ahead
BEHIND_LIMIT = 300
AHEAD_LIMIT = 30
#: warn when an authorization lapses within this many seconds
EXPIRY_WARNING = 7 * 86_400
CLOCK_FIX = "set the clock by NTP: `timedatectl set-ntp true` (or your system's time service)"


def _source(variable: str, elsewhere: str) -> str:
    return f"from {variable}" if os.environ.get(variable) else f"from {elsewhere}"


def app_credentials(doctor: Doctor) -> Iterator[Result]:
    settings = doctor.settings
    if settings is None:
        return
    if settings.app_key:
        yield Result("app key", OK, f"{settings.app_key} ({_source('SHOPLENS_APP_KEY', 'shoplens.toml')})")
    else:
        yield Result("app key", FAIL, "not set", "put `app_key = \"...\"` in shoplens.toml (from Partner Center), "
                                                 "or set SHOPLENS_APP_KEY")
    if settings.app_secret:  # present is all it says: the value is never shown
        where = _source("SHOPLENS_APP_SECRET", str(settings.credentials_path.relative_to(settings.home)))
        note = "; scheduled runs do not see your shell's variables: keep it in .shoplens/credentials.json" \
            if os.environ.get("SHOPLENS_APP_SECRET") else ""
        yield Result("app secret", OK, f"set ({where}){note}")
    else:
        yield Result("app secret", FAIL, "not set",
                     f'write {{"app_secret": "..."}} to {settings.credentials_path} (mode 0600), '
                     "or set SHOPLENS_APP_SECRET")
    if settings.service_id:
        yield Result("service id", OK, settings.service_id)
    else:
        yield Result("service id", WARN, "not set: `shoplens auth url` needs it to make the consent link",
                     "put `service_id = \"...\"` in shoplens.toml (from Partner Center), or set SHOPLENS_SERVICE_ID")


def clock(doctor: Doctor) -> Iterator[Result]:
    if doctor.settings is None:
        return
    if doctor.offline:
        yield Result("clock", SKIP, "not checked (--offline)")
        return
    url = doctor.settings.api_url
    try:
        with doctor.http() as http:
            sent = doctor.clock()
            response = http.get(url.rstrip("/") + "/")  # unsigned: any answer carries the gateway's Date
            received = doctor.clock()
    except httpx.HTTPError as exc:
        yield Result("clock", FAIL, f"cannot reach {url} ({type(exc).__name__})",
                     "check the network, or SHOPLENS_API_URL / api_url in shoplens.toml")
        return
    stamp = response.headers.get("date")
    if not stamp:
        yield Result("clock", SKIP, f"{url} sent no Date header to compare with")
        return
    server = parsedate_to_datetime(stamp).timestamp()
    offset = (sent + received) / 2 - server  # positive: this machine is ahead
    limits = "the API refuses requests more than 5 minutes behind it or 30 s ahead"
    if offset < -BEHIND_LIMIT or offset > AHEAD_LIMIT:
        yield Result("clock", FAIL, f"this machine's clock is {_span(abs(offset))} {'ahead of' if offset > 0 else 'behind'} "
                                    f"the API's; {limits}", CLOCK_FIX)
    else:
        yield Result("clock", OK, f"within {_span(abs(offset))} of the API's ({limits})")


def _span(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes < 90 else f"{seconds / 3600:.1f} h"


def authorizations(doctor: Doctor) -> Iterator[Result]:
    from shoplens.tiktok import TokenStore

    settings = doctor.settings
    if settings is None:
        return
    try:
        saved = TokenStore(settings.tokens_path).all()
    except errors.ConfigError as exc:
        yield Result("authorization", FAIL, str(exc), "fix the file named above")
        return
    if not saved:
        yield Result("authorization", FAIL, f"no seller has authorized this app yet ({settings.tokens_path})",
                     "`shoplens auth url`, have the seller approve, then `shoplens auth exchange --code CODE`")
        return
    now = doctor.clock()
    for tokens in saved:
        name = tokens.seller_name or tokens.open_id
        usable = yield from _token_state(tokens, name, now)
        yield from _api_answer(doctor, tokens, name, usable)


def _token_state(tokens, name: str, now: float) -> Iterator[Result]:
    """The token line; returns whether the access token may still be used."""
    label = f"tokens of {name}"
    if tokens.refresh_token_expire_in <= now:
        yield Result(label, FAIL, f"the authorization expired {when(tokens.refresh_token_expire_in, now)}",
                     AUTHORIZE_AGAIN)
        return False
    if tokens.access_token_expire_in <= now:
        yield Result(label, FAIL, f"the access token expired {when(tokens.access_token_expire_in, now)}",
                     "`shoplens auth refresh` (`shoplens sync` renews it by itself: `shoplens schedule --install` "
                     "runs it every hour)")
        return False
    detail = (f"access token until {when(tokens.access_token_expire_in, now)}, authorization until "
              f"{when(tokens.refresh_token_expire_in, now)}")
    if tokens.refresh_token_expire_in - now <= EXPIRY_WARNING:
        yield Result(label, WARN, detail, f"the authorization lapses soon: {AUTHORIZE_AGAIN}")
    else:
        yield Result(label, OK, detail)
    return True


def _api_answer(doctor: Doctor, tokens, name: str, usable: bool) -> Iterator[Result]:
    from shoplens.tiktok import ApiClient, RetryPolicy, StaticToken

    settings, label = doctor.settings, f"API for {name}"
    if doctor.offline:
        yield Result(label, SKIP, "not called (--offline)")
        return
    if not usable:
        yield Result(label, SKIP, "not called: the token above must be renewed first")
        return
    if not (settings.app_key and settings.app_secret):
        yield Result(label, SKIP, "not called: needs the app key and secret")
        return
    started = time.monotonic()
    try:
        with ApiClient(settings.api_url, settings.app_key, settings.app_secret, StaticToken(tokens.access_token),
                       timeout=doctor.timeout, retry=RetryPolicy(max_attempts=2, base_delay=0.2),
                       transport=doctor.transport) as client:
            shops = client.get_authorized_shops()
    except errors.ApiError as exc:
        yield Result(label, FAIL, *_api_failure(exc))
        return
    doctor.covered[tokens.open_id] = [str(s["id"]) for s in shops]
    names = ", ".join(f"{s.get('name') or s['id']} ({s.get('region', '?')})" for s in shops)
    yield Result(label, OK, f"answers in {(time.monotonic() - started) * 1000:.0f} ms: "
                            f"{len(shops)} shop(s): {names or 'none'}")


def _api_failure(exc: errors.ApiError) -> tuple[str, str]:
    """What a failed signed call means, and its fix."""
    said = exc.bare_message.split(" (")[0]
    if isinstance(exc, errors.AuthExpired):
        return "the API says the access token has expired (105002)", "`shoplens auth refresh`"
    if isinstance(exc, errors.SignatureRejected):
        return "the API rejected the signature: the app secret does not belong to this app key", \
            "check the app secret (SHOPLENS_APP_SECRET or .shoplens/credentials.json) and app_key"
    if isinstance(exc, errors.InvalidCredentials):
        lowered = exc.bare_message.lower()
        if "timestamp" in lowered:
            return f"the API refused this machine's timestamp ({said})", CLOCK_FIX + " (see the clock line)"
        if "app_key" in lowered:
            return "the API does not know this app key", "check app_key in shoplens.toml or SHOPLENS_APP_KEY"
        return "the API no longer accepts this authorization's access token: the seller revoked it, or a newer " \
               "authorization replaced it", AUTHORIZE_AGAIN
    if isinstance(exc, errors.ScopeMissing):
        return "the app lacks a scope (105005)", "add the scope to the app in Partner Center, then " + AUTHORIZE_AGAIN
    if isinstance(exc, errors.TransientApiError):
        return f"the API did not answer: {said}", "try again later; check the network and api_url"
    return f"the API answered an error: {exc}", "see docs/api.md for the code"
