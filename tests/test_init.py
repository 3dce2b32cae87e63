"""`shoplens init`: a fresh folder, an existing one, idempotence, modes."""

from __future__ import annotations

import os
import stat
import tomllib

import pytest

from shoplens.config import FILE_KEYS, load_settings
from shoplens.errors import ConfigError
from shoplens.workspace.scaffold import GITIGNORE_LINES, init_workspace

from test_cli_guidance import invoke


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def snapshot(home) -> dict:
    return {p.relative_to(home): (p.read_bytes() if p.is_file() else None, mode(p), p.stat().st_mtime_ns)
            for p in sorted(home.rglob("*"))}


def test_a_fresh_folder_gets_every_file_and_a_private_folder(tmp_path, capsys, monkeypatch):
    home = tmp_path / "shop-team"
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SHOPLENS_HOME", raising=False)
    code, out, err = invoke(["init", str(home)], capsys)
    assert code == 0, err
    assert {p.name for p in home.iterdir()} == {"shoplens.toml", "targets.toml", "alerts.toml", ".gitignore",
                                                ".shoplens"}
    assert mode(home / ".shoplens") == 0o700
    for line in ("shoplens doctor", "shoplens auth url", "shoplens sync", f"cd {home}"):
        assert line in out
    settings_text = (home / "shoplens.toml").read_text()
    assert tomllib.loads(settings_text) == {}  # every setting commented out
    for key, variable in FILE_KEYS.items():
        assert f"# {key} = " in settings_text and variable in settings_text
    assert "app_secret =" not in settings_text
    assert tomllib.loads((home / "targets.toml").read_text()) == {}
    assert "# [[target]]" in (home / "targets.toml").read_text()
    from shoplens.alerts.rules import load_config

    assert load_config(home / "alerts.toml").rules == ()  # all commented out: a valid file with no rule yet
    assert "# [[rule]]" in (home / "alerts.toml").read_text()
    assert (home / ".gitignore").read_text().splitlines()[1:] == GITIGNORE_LINES
    monkeypatch.setenv("SHOPLENS_HOME", str(home))
    assert load_settings().home == home  # the commented file is a valid settings file


def test_running_again_changes_nothing(tmp_path):
    init_workspace(tmp_path)
    before = snapshot(tmp_path)
    again = init_workspace(tmp_path)
    assert snapshot(tmp_path) == before
    assert {done for _, done, _ in again.steps} == {"kept"}


def test_an_existing_folder_keeps_its_files_and_gains_the_missing_ignores(tmp_path):
    (tmp_path / "shoplens.toml").write_text('app_key = "mine"\n')
    (tmp_path / ".gitignore").write_text("*.pyc\ndata/\n")
    (tmp_path / "notes.md").write_text("ours\n")
    result = init_workspace(tmp_path)
    assert (tmp_path / "shoplens.toml").read_text() == 'app_key = "mine"\n'
    assert (tmp_path / "notes.md").read_text() == "ours\n"
    lines = (tmp_path / ".gitignore").read_text().splitlines()
    assert lines[:2] == ["*.pyc", "data/"] and lines.count("data/") == 1
    assert set(GITIGNORE_LINES) <= set(lines)
    assert (".gitignore", "added", "reports/, logs/, links/, .shoplens/ (so they stay out of git)") in result.steps
    assert (tmp_path / "targets.toml").exists()


def test_a_readable_private_folder_is_reported_not_changed(tmp_path):
    (tmp_path / ".shoplens").mkdir(mode=0o755)
    os.chmod(tmp_path / ".shoplens", 0o755)
    result = init_workspace(tmp_path)
    assert mode(tmp_path / ".shoplens") == 0o755
    assert any(done == "warning" and "chmod 700" in about for _, done, about in result.steps)


def test_a_file_in_the_way_is_refused(tmp_path):
    (tmp_path / "ws").write_text("not a folder")
    with pytest.raises(ConfigError, match="is a file, not a folder"):
        init_workspace(tmp_path / "ws")
