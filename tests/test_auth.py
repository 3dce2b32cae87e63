"""Tokens: refresh at the sandbox, the 0600 token store, and sync refreshing a token near expiry."""

import stat
import time
from dataclasses import replace

import pytest

from shoplens import errors
from shoplens.demo import sandbox_settings
from shoplens.sync import SyncOptions, run_sync
from shoplens.tiktok import ApiClient, TokenStore, refresh_tokens
from shoplens.warehouse import Warehouse


def test_refresh_gives_a_new_pair_and_retires_the_old_access_token(server, tokens):
    gate = server.sandbox.gate
    fresh = refresh_tokens(server.url, gate.app_key, gate.app_secret, tokens.refresh_token)
    assert fresh.access_token != tokens.access_token and fresh.refresh_token != tokens.refresh_token
    with ApiClient(server.url, gate.app_key, gate.app_secret, fresh.access_token) as client:
        assert client.get_authorized_shops()
    with ApiClient(server.url, gate.app_key, gate.app_secret, tokens.access_token) as stale:
        with pytest.raises(errors.InvalidCredentials):
            stale.get_authorized_shops()
    with pytest.raises(errors.InvalidCredentials):
        refresh_tokens(server.url, gate.app_key, gate.app_secret, tokens.refresh_token)  # used up


def test_token_store_is_private_and_atomic(tmp_path, tokens):
    store = TokenStore(tmp_path / ".shoplens" / "tokens.json")
    store.save(tokens)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert [t.open_id for t in store.all()] == [tokens.open_id]
    assert not list(store.path.parent.glob(".tokens.json.*"))  # no temp file left behind
    store.path.chmod(0o644)
    with pytest.raises(errors.ConfigError, match="chmod 600"):
        store.all()


def test_sync_refreshes_a_token_about_to_expire_and_saves_the_new_pair(server, tokens, tmp_path):
    settings = sandbox_settings(server, tmp_path)
    store = TokenStore(settings.tokens_path)
    store.save(replace(tokens, access_token_expire_in=int(time.time()) + 60))
    summary = run_sync(settings, options=SyncOptions(resources=["orders"]))
    assert summary.ok
    with Warehouse(settings.warehouse_path, read_only=True) as wh:
        assert wh.count("orders") > 0
    saved = store.all()[0]
    assert saved.access_token != tokens.access_token
    assert saved.access_token_expire_in > time.time() + 86_400
