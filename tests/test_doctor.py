"""`shoplens doctor` against the sandbox over HTTP: a healthy workspace is all ✔; each problem planted on
its own (no Chromium, an expired token, a revoked authorization, a stale warehouse, a clock 10 minutes
off, no secret) shows ✗ with its fix and exit code 1."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import replace

import duckdb
import pytest

from shoplens.demo import authorize_with_sandbox, sandbox_settings, sync_from_sandbox
from shoplens.sandbox import SandboxServer
from shoplens.sync import SyncOptions
from shoplens.tiktok import TokenStore
from shoplens.workspace.doctor import Doctor, ago, run_doctor

from conftest import small_sandbox
from test_cli_guidance import invoke


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    """A sandbox served for the whole module, and a warehouse synced from it a moment ago."""
    synced = tmp_path_factory.mktemp("synced")
    sandbox = small_sandbox()
    with SandboxServer(sandbox) as server:
        sync_from_sandbox(server, synced, options=SyncOptions(history_days=21))
        yield server, synced


@pytest.fixture
def workspace(running, tmp_path, monkeypatch):
    """A workspace of its own: a copy of the synced warehouse, freshly authorized tokens in
    .shoplens/tokens.json (as `shoplens auth exchange` writes them), settings pointing at the sandbox."""
    server, synced = running
    gate = server.sandbox.gate
    gate.clock_skew = 0
    (tmp_path / "data").mkdir()
    shutil.copy(synced / "data" / "shoplens.duckdb", tmp_path / "data" / "shoplens.duckdb")
    store = TokenStore(tmp_path / ".shoplens" / "tokens.json")
    store.save(authorize_with_sandbox(sandbox_settings(server, tmp_path)))
    for name in [n for n in os.environ if n.startswith("SHOPLENS_")]:
        monkeypatch.delenv(name)
    for name, value in {"SHOPLENS_HOME": tmp_path, "SHOPLENS_API_URL": server.url, "SHOPLENS_AUTH_URL": server.url,
                        "SHOPLENS_APP_KEY": gate.app_key, "SHOPLENS_SERVICE_ID": "sandbox"}.items():
        monkeypatch.setenv(name, str(value))
    (tmp_path / ".shoplens" / "credentials.json").write_text(json.dumps({"app_secret": gate.app_secret}))
    (tmp_path / ".shoplens" / "credentials.json").chmod(0o600)
    yield tmp_path, server, store
    gate.clock_skew = 0


def doctor(capsys, *args) -> tuple[int, list[str]]:
    code, out, err = invoke(["doctor", *args], capsys)
    assert "Traceback" not in out + err, out + err
    return code, [line.strip() for line in out.splitlines() if line.strip() and line.strip()[0] in "✔!✗–"]


def failed(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("✗")]


def test_a_healthy_workspace_is_all_ticks(workspace, capsys):
    code, lines = doctor(capsys)
    assert code == 0, "\n".join(lines)
    assert lines and all(line.startswith("✔") for line in lines), "\n".join(lines)
    text = "\n".join(lines)
    assert "✔ clock: within" in text and "API for Sandbox Seller: answers in" in text and "3 shop(s)" in text
    assert text.count("✔ shop ") == 3 and "synced" in text
    home, server, store = workspace
    secret = server.sandbox.gate.app_secret
    assert secret not in text and store.all()[0].access_token not in text and "set (from .shoplens/credentials.json)" in text


def test_no_chromium(workspace, capsys, monkeypatch):
    monkeypatch.setenv("SHOPLENS_CHROMIUM", "/nowhere/chromium")
    code, lines = doctor(capsys)
    assert code == 1
    assert failed(lines) == ["✗ Chromium (PDFs): not found at /nowhere/chromium; reports still render to HTML; fix: "
                             "install it with `sudo apt-get install -y chromium` (`make system-deps` does) or set "
                             "SHOPLENS_CHROMIUM to a Chromium or Chrome binary"]


def test_an_access_token_the_api_has_expired(workspace, capsys):
    _, server, _ = workspace
    server.sandbox.gate.expire_all()
    code, lines = doctor(capsys)
    assert code == 1
    assert failed(lines) == ["✗ API for Sandbox Seller: the API says the access token has expired (105002); "
                             "fix: `shoplens auth refresh`"]


@pytest.mark.parametrize("expired, said, fix", [
    (["access_token_expire_in"], "the access token expired", "fix: `shoplens auth refresh`"),
    (["access_token_expire_in", "refresh_token_expire_in"], "the authorization expired",
     "fix: the seller must authorize again: `shoplens auth url`"),
])
def test_expired_tokens_in_the_workspace(workspace, capsys, expired, said, fix):
    _, _, store = workspace
    store.save(replace(store.all()[0], **{field: int(time.time()) - 60 for field in expired}))
    code, lines = doctor(capsys)
    assert code == 1
    [problem] = failed(lines)
    assert problem.startswith(f"✗ tokens of Sandbox Seller: {said}") and fix in problem
    assert "– API for Sandbox Seller: not called: the token above must be renewed first" in lines


def test_a_revoked_authorization(workspace, capsys):
    _, server, _ = workspace
    server.sandbox.gate.revoke_all()
    code, lines = doctor(capsys)
    assert code == 1
    [problem] = failed(lines)
    assert problem.startswith("✗ API for Sandbox Seller: the API no longer accepts this authorization's access token")
    assert "fix: the seller must authorize again" in problem


def test_a_shop_revoked_in_the_warehouse(workspace, capsys):
    home, server, _ = workspace
    shop = server.sandbox.business.shops[1]
    with duckdb.connect(str(home / "data" / "shoplens.duckdb")) as con:
        con.execute("INSERT INTO shop_authorizations (shop_id, revoked, revoked_reason, updated_at) "
                    "VALUES (?, true, 'the seller deauthorized the shop', now())", [shop.id])
    code, lines = doctor(capsys)
    assert code == 1
    [problem] = failed(lines)
    assert f"({shop.id}): authorization revoked: the seller deauthorized the shop" in problem
    assert "authorize again" in problem


def test_a_stale_warehouse(workspace, capsys):
    home, server, _ = workspace
    shop = server.sandbox.business.shops[0]
    with duckdb.connect(str(home / "data" / "shoplens.duckdb")) as con:
        con.execute("UPDATE sync_runs SET finished_at = finished_at - INTERVAL 3 DAY WHERE shop_id = ?", [shop.id])
    code, lines = doctor(capsys)
    assert code == 1
    [problem] = failed(lines)
    assert f"({shop.id}): stale:" in problem and "last synced 3.0 days ago" in problem
    assert "fix: `shoplens sync` (and `shoplens schedule --install` to sync every hour)" in problem
    code, lines = doctor(capsys, "--stale-hours", "100")
    assert code == 0


@pytest.mark.parametrize("skew, said", [(600, "behind"), (-600, "ahead of")])
def test_a_clock_ten_minutes_off(workspace, capsys, skew, said):
    _, server, _ = workspace
    server.sandbox.gate.clock_skew = skew
    code, lines = doctor(capsys)
    assert code == 1
    clock, api = failed(lines)
    # a second either way while the request is on the wire
    assert re.match(rf"✗ clock: this machine's clock is (9 min 59|10 min 0|10 min 1) s {said} the API's", clock), clock
    assert "fix: set the clock by NTP" in clock
    assert api.startswith("✗ API for Sandbox Seller: the API refused this machine's timestamp")


def test_no_secret(workspace, capsys):
    home, _, _ = workspace
    (home / ".shoplens" / "credentials.json").unlink()
    code, lines = doctor(capsys)
    assert code == 1
    assert failed(lines) == [f"✗ app secret: not set; fix: write {{\"app_secret\": \"...\"}} to "
                             f"{home / '.shoplens' / 'credentials.json'} (mode 0600), or set SHOPLENS_APP_SECRET"]
    assert "– API for Sandbox Seller: not called: needs the app key and secret" in lines


def test_offline_skips_the_network_and_json_is_for_scripts(workspace, capsys):
    code, out, _ = invoke(["doctor", "--offline", "--format", "json"], capsys)
    results = json.loads(out)
    assert code == 0
    by_check = {r["check"]: r for r in results}
    assert by_check["clock"]["status"] == "skip" and by_check["API for Sandbox Seller"]["status"] == "skip"
    assert {r["section"] for r in results} == {"system", "workspace", "API", "warehouse"}


def test_the_redirect_service_when_configured(workspace, capsys, monkeypatch):
    from shoplens.links.server import RedirectServer

    home, _, _ = workspace
    with RedirectServer(home) as links:
        monkeypatch.setenv("SHOPLENS_LINK_BASE", links.url)
        code, lines = doctor(capsys)
        assert code == 0 and f"✔ redirect service: {links.url} answers" in lines
    code, lines = doctor(capsys)
    assert code == 1 and failed(lines)[0].startswith(f"✗ redirect service: {links.url} does not answer")


def test_the_webhook_receiver_when_configured(workspace, capsys, monkeypatch, tmp_path):
    from shoplens.webhooks.receiver import Receiver, ReceiverServer

    with ReceiverServer(Receiver("key", "secret", tmp_path / "log")) as receiver:
        monkeypatch.setenv("SHOPLENS_WEBHOOK_BASE", receiver.url)
        code, lines = doctor(capsys)
        assert code == 0 and f"✔ webhook receiver: {receiver.url} answers" in lines
    code, lines = doctor(capsys)
    assert code == 1 and failed(lines)[0].startswith(f"✗ webhook receiver: {receiver.url} does not answer")
    assert "`shoplens webhooks serve`" in failed(lines)[0]


def test_a_broken_settings_file_is_reported_not_raised(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SHOPLENS_HOME", str(tmp_path))
    (tmp_path / "shoplens.toml").write_text("app_secret = 'oops'\n")
    code, lines = doctor(capsys, "--offline")
    assert code == 1 and "holds app_secret" in failed(lines)[0]


def test_a_check_that_breaks_is_a_cross_not_a_traceback(tmp_path, monkeypatch):
    from shoplens.config import Settings
    from shoplens.workspace import doctor as module

    def broken(doctor):
        raise RuntimeError("boom")
        yield

    monkeypatch.setattr(module, "sections", lambda: [("system", [broken])])
    [result] = run_doctor(Doctor(Settings(home=tmp_path)))
    assert result.status == "fail" and "RuntimeError: boom" in result.detail
    assert ago(30) == "30 s ago" and ago(3 * 86_400) == "3.0 days ago"
