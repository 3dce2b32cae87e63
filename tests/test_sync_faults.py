"""The sync under faults: 429 bursts, 5xx, timeouts, dropped connections, malformed pages, a token
expiring mid-run, and SIGKILL at 20 seeded moments. Each ends with a warehouse identical, row for
row (a content hash per table), to one clean sync of the same sandbox, with no duplicate keys."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shoplens.demo import authorize_with_sandbox, sandbox_settings, sync_from_sandbox
from shoplens.sandbox import Faults, SandboxServer, make_sandbox
from shoplens.sync import SyncOptions, replay, run_sync
from shoplens.tiktok import RetryPolicy, TokenStore
from shoplens.warehouse import Warehouse
from shoplens.warehouse.schema import SYNCED_TABLES
from test_sync import content_hashes, warehouse

OPTIONS = SyncOptions(history_days=12)
PATIENT = {"retry": RetryPolicy(max_attempts=15, base_delay=0.02, max_delay=0.2), "timeout": 0.5}


@pytest.fixture(scope="module")
def running():
    sandbox = make_sandbox(seed=23, shops=2, orders_per_day=5, days=10)
    with SandboxServer(sandbox) as server:
        yield server


@pytest.fixture(scope="module")
def clean(running, tmp_path_factory):
    home = tmp_path_factory.mktemp("clean")
    sync_from_sandbox(running, home, options=OPTIONS)
    return content_hashes(warehouse(home))


def assert_no_duplicate_keys(path):
    with Warehouse(path, read_only=True) as wh:
        for table, key in SYNCED_TABLES.items():
            total, distinct = wh.rows(f"SELECT count(*), count(DISTINCT ({', '.join(key)})) FROM {table}")[0]
            assert total == distinct, table


def test_a_sync_through_every_transient_fault_matches_a_clean_one(running, clean, tmp_path):
    running.sandbox.faults = Faults.parse("429:0.08,5xx:0.05,drop:0.03,malformed:0.03,slow:0.02", seed=5,
                                          slow_seconds=1.0)
    try:
        settings = sandbox_settings(running, tmp_path)
        tokens = authorize_with_sandbox(settings)
        from shoplens.tiktok import StaticToken

        summary = run_sync(settings, authorizations=[StaticToken(tokens.access_token)], options=OPTIONS,
                           client_options=PATIENT)
    finally:
        injected = dict(running.sandbox.faults.injected)
        running.sandbox.faults = Faults()
    assert summary.ok, [r.error for r in summary.results if r.error]
    assert {"429", "5xx", "drop", "malformed", "slow"} <= set(injected)
    assert sum(r.retries for r in summary.results) >= sum(injected.values())
    assert content_hashes(warehouse(tmp_path)) == clean
    assert_no_duplicate_keys(warehouse(tmp_path))


def test_a_token_expiring_mid_run_is_refreshed_and_the_result_matches(running, clean, tmp_path):
    settings = sandbox_settings(running, tmp_path)
    TokenStore(settings.tokens_path).save(authorize_with_sandbox(settings))
    running.sandbox.faults = Faults.parse("expire:0.03", seed=23)  # expiries far apart: a request is refreshed once
    try:
        summary = run_sync(settings, options=OPTIONS, client_options=PATIENT)
    finally:
        expired = running.sandbox.faults.injected.get("expire", 0)
        running.sandbox.faults = Faults()
    assert summary.ok and expired >= 1, [(r.shop_id, r.resource, str(r.error)) for r in summary.results if r.error]
    assert content_hashes(warehouse(tmp_path)) == clean


def sync_command(server, home: Path) -> tuple[list[str], dict]:
    settings = sandbox_settings(server, home)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPLENS_")}
    env.update(SHOPLENS_HOME=str(home), SHOPLENS_API_URL=server.url, SHOPLENS_AUTH_URL=server.url,
               SHOPLENS_APP_KEY=settings.app_key, SHOPLENS_APP_SECRET=settings.app_secret,
               SHOPLENS_ADS_URL=server.url, SHOPLENS_ADS_ACCESS_TOKEN=settings.ads_access_token,
               SHOPLENS_ADS_ADVERTISERS=",".join(f"{k}={v}" for k, v in settings.ads_advertisers.items()),
               SHOPLENS_API_QPS="50")
    command = [str(Path(sys.executable).with_name("shoplens")), "sync", "--history-days", str(OPTIONS.history_days)]
    return command, env


def test_sigkill_at_20_seeded_moments_then_a_normal_run_matches_a_clean_sync(running, clean, tmp_path):
    settings = sandbox_settings(running, tmp_path)
    TokenStore(settings.tokens_path).save(authorize_with_sandbox(settings))
    command, env = sync_command(running, tmp_path)
    # how long one whole first run takes here (in a workspace of its own), so kill points spread over it
    elsewhere = tmp_path / "calibration"
    TokenStore(sandbox_settings(running, elsewhere).tokens_path).save(authorize_with_sandbox(settings))
    started = time.monotonic()
    calibration = subprocess.run(command, env=env | {"SHOPLENS_HOME": str(elsewhere)}, capture_output=True,
                                 text=True, timeout=300)
    duration = time.monotonic() - started
    assert calibration.returncode == 0, calibration.stderr
    rng = random.Random(20261122)
    # draw seeded kill points until 20 have landed inside a run; a run that finished first shows how
    # short runs have become (later runs are incremental), so later delays stay within one
    kills, attempts, shortest = 0, 0, duration
    while kills < 20 and attempts < 80:
        attempts += 1
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started = time.monotonic()
        time.sleep(rng.uniform(0.2, 0.9 * shortest))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        else:
            shortest = min(shortest, time.monotonic() - started)
        process.wait()
    assert kills == 20
    final = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stdout + final.stderr
    assert content_hashes(warehouse(tmp_path)) == clean
    assert_no_duplicate_keys(warehouse(tmp_path))
    assert not list((tmp_path / "data").glob(".shoplens.duckdb.*.tmp"))
    # and the archive written through all those crashes still replays to the same warehouse
    replay(settings)
    assert content_hashes(warehouse(tmp_path)) == clean
