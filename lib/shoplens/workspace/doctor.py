"""`shoplens doctor`: every check a workspace needs to pass before a sync or a report can fail, one line each.

A check is a function of the `Doctor` (settings, clock, HTTP seam, what earlier checks learned) that
yields `Result`s: ok (✔), warn (!), fail (✗, with the fix) or skip (–, with why). `SECTIONS` lists them in
the order they print; an area adds its own check to a section (the webhook service will). Network checks
are skipped `offline`. The doctor reads and never writes: it refreshes no token and opens the warehouse
read-only. It must never print a secret or a token.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import timedelta

import httpx

from shoplens.config import Settings, load_settings
from shoplens.errors import ConfigError

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"
MARKS = {OK: "✔", WARN: "!", FAIL: "✗", SKIP: "–"}


@dataclass(frozen=True)
class Result:
    check: str
    status: str
    detail: str
    fix: str = ""
    #: set by run_doctor from the section the check is listed in
    section: str = ""


@dataclass
class Doctor:
    """What the checks share: the workspace's settings, the clock, the HTTP seam, and what they learned."""

    settings: Settings | None
    offline: bool = False
    #: a shop whose stalest resource last synced longer ago than this is stale
    stale_after: timedelta = timedelta(hours=24)
    clock: Callable[[], float] = time.time
    timeout: float = 10.0
    transport: httpx.BaseTransport | None = None
    #: settings that failed to load (the checks that need them are skipped)
    settings_error: str | None = None
    #: open_id -> the shop ids the API says this authorization covers (filled by the API checks)
    covered: dict[str, list[str]] = field(default_factory=dict)

    def http(self) -> httpx.Client:
        return httpx.Client(transport=self.transport, timeout=self.timeout, follow_redirects=False)


Check = Callable[[Doctor], Iterable[Result]]


def sections() -> list[tuple[str, list[Check]]]:
    """The checks, section by section, in the order they print."""
    from shoplens.workspace import account_checks, data_checks, system_checks

    return [("system", [system_checks.packages, system_checks.chromium, system_checks.fonts,
                        system_checks.renderer]),
            ("workspace", [system_checks.settings_file, system_checks.folder, system_checks.private_folder,
                           account_checks.app_credentials]),
            ("API", [account_checks.clock, account_checks.authorizations]),
            ("warehouse", [data_checks.freshness]),
            ("services", [data_checks.redirect_service, data_checks.webhook_service])]


def make_doctor(*, offline: bool = False, stale_after: timedelta = timedelta(hours=24),
                transport: httpx.BaseTransport | None = None) -> Doctor:
    """A doctor for the current workspace; settings that do not load are reported, not raised."""
    try:
        return Doctor(load_settings(), offline=offline, stale_after=stale_after, transport=transport)
    except ConfigError as exc:
        return Doctor(None, offline=offline, stale_after=stale_after, transport=transport, settings_error=str(exc))


def run_doctor(doctor: Doctor) -> list[Result]:
    """Every check's results, in order; a check that breaks is itself a ✗, never a traceback."""
    results = []
    for section, checks in sections():
        for check in checks:
            try:
                found = list(check(doctor))
            except Exception as exc:  # a doctor must finish: a check that breaks is reported
                found = [Result(check.__name__.replace("_", " "), FAIL,
                                f"the check itself failed: {type(exc).__name__}: {exc}",
                                "please report this with the line above")]
            results += [replace(r, section=section) for r in found]
    return results


def ago(seconds: float) -> str:
    """"12 min ago", "3 h ago", "2.5 days ago"."""
    if seconds < 90:
        return f"{int(seconds)} s ago"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86_400:.1f} days ago"
