"""Fixtures with real parts: the sandbox over HTTP on an ephemeral loopback port, DuckDB files in
temp dirs, real kernels, Debian's headless Chromium."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from shoplens.demo import authorize_with_sandbox, sandbox_settings, sync_from_sandbox
from shoplens.sync import SyncOptions
from shoplens.sandbox import Sandbox, SandboxServer, make_sandbox
from shoplens.tiktok import ApiClient, RetryPolicy, TokenSet


def small_sandbox(**overrides) -> Sandbox:
    """Three shops, two weeks ending 2026-11-15, a handful of orders a day: fast to sync."""
    options = {"seed": 7, "shops": 3, "orders_per_day": 5, "days": 14} | overrides
    return make_sandbox(**options)


@pytest.fixture
def sandbox() -> Sandbox:
    return small_sandbox()


@pytest.fixture
def server(sandbox):
    with SandboxServer(sandbox) as running:
        yield running


@pytest.fixture
def tokens(server, tmp_path) -> TokenSet:
    return authorize_with_sandbox(sandbox_settings(server, tmp_path))


@pytest.fixture
def client(server, tokens):
    gate = server.sandbox.gate
    with ApiClient(server.url, gate.app_key, gate.app_secret, tokens.access_token,
                   retry=RetryPolicy(max_attempts=6, base_delay=0.05, max_delay=1.0)) as api:
        yield api


@pytest.fixture(scope="session")
def synced_once(tmp_path_factory) -> tuple[Path, Sandbox]:
    """One workspace synced over HTTP from a small sandbox, with a week of daily stock and product status
    snapshots before it, for the whole run; tests get copies (`synced`), never this one."""
    home = tmp_path_factory.mktemp("synced-once")
    sandbox = small_sandbox()
    with SandboxServer(sandbox) as running:
        sync_from_sandbox(running, home, options=SyncOptions(history_days=21), snapshot_days=8)
    return home, sandbox


@pytest.fixture(scope="module")
def synced(synced_once, tmp_path_factory) -> tuple[Path, Sandbox]:
    """A module's own copy of the synced workspace (warehouse, working copy, raw archive): what a module
    writes there stays there. The sandbox is returned for cross-checks (the same business: read only)."""
    source, sandbox = synced_once
    home = tmp_path_factory.mktemp("workspace")
    shutil.copytree(source, home, symlinks=True, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.lock"))
    return home, sandbox


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    from shoplens.render.browser import launch

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def contract():
    """The official OAS, fetched with `npm pack` into .cache/ (git-ignored); skipped only if npm
    cannot reach its registry."""
    from shoplens.tiktok.contract import OasUnavailable, OpenApiContract, fetch_oas

    try:
        oas_dir = fetch_oas(Path(__file__).resolve().parents[1] / ".cache" / "oas")
    except OasUnavailable as exc:
        pytest.skip(f"contract tests need the OAS from npm: {exc}")
    return OpenApiContract(oas_dir)
