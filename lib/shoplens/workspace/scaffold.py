"""`shoplens init`: the files a new workspace starts with.

A commented `shoplens.toml` (every setting, none set), an example `targets.toml` (entries commented out),
a `.gitignore` keeping data, reports, logs, click logs and credentials out of version control, and the
private `.shoplens/` folder at mode 0700. Running it again changes nothing that exists: a file that is
there is kept as it is, except that a `.gitignore` lacking one of the workspace's lines gets it appended
(credentials must never be committed). Each file is written to a temporary name and renamed. It must
never write a secret, nor a placeholder where a secret would go.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from shoplens.config import (DEFAULT_ADS_URL, DEFAULT_API_URL, DEFAULT_AUTH_URL, DEFAULT_CONSENT_URL, FILE_KEYS,
                             TABLE_KEYS)
from shoplens.errors import ConfigError

#: every setting of shoplens.toml: (key, example value, what it is for)
SETTINGS = [
    ("app_key", '""', "your app's key, from its page in TikTok Shop Partner Center"),
    ("service_id", '""', "your app's service id (Partner Center); `shoplens auth url` needs it"),
    ("api_url", f'"{DEFAULT_API_URL}"', "the Shop API (`shoplens sandbox serve` prints the sandbox's)"),
    ("auth_url", f'"{DEFAULT_AUTH_URL}"', "the token endpoints"),
    ("consent_url", f'"{DEFAULT_CONSENT_URL}"', "the page a seller opens to authorize the app"),
    ("api_qps", "40", "requests per second per shop and endpoint (the API allows 50)"),
    ("ads_url", f'"{DEFAULT_ADS_URL}"', "the TikTok Marketing API, for ad spend"),
    ("ads_advertisers", '"SHOP_ID=ADVERTISER_ID,..."', "which ad account belongs to which shop"),
]

GITIGNORE_LINES = ["data/", "reports/", "logs/", "links/", ".shoplens/"]


def settings_text() -> str:
    """shoplens.toml with every setting commented out, each with its environment variable."""
    lines = ["# shoplens workspace settings. An environment variable (named on each line) overrides its setting.",
             "# Secrets never go here: put the app secret in .shoplens/credentials.json as",
             '# {"app_secret": "..."} (mode 0600), or in SHOPLENS_APP_SECRET. `shoplens doctor` checks all of it.',
             ""]
    width = max(len(f"# {key} = {value}") for key, value, _ in SETTINGS) + 2
    for key, value, about in SETTINGS:
        lines.append(f"# {about}")
        lines.append(f"{f'# {key} = {value}':<{width}}# {FILE_KEYS[key]}")
    lines += ["", "# Seller Center export status words shoplens does not know, and the API status each means",
              f"# (docs/imports.md); {TABLE_KEYS['export_status_words']} overrides the table",
              "# [export_status_words]", '# "รอส่งของ" = "AWAITING_SHIPMENT"']
    return "\n".join(lines) + "\n"


def targets_text() -> str:
    """targets.toml: how to write a target, with the shipped example commented out."""
    from shoplens.reports.targets import EXAMPLE

    example = [line for line in EXAMPLE.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    while example and not example[0].strip():
        example.pop(0)
    head = ["# Team KPI targets for the scorecard report (kpi_scorecard). Each [[target]] names a shop id",
            "# (`shoplens shops`), who owns the number and in which role (operations, ad_buyer, live_host), a",
            "# metric id (`shoplens metrics list`) and its weekly value, money in the shop's currency. For a",
            "# period of N days an additive metric's target is weekly x N / 7; ratios keep their value.",
            "# Uncomment and edit; the examples below fit the sandbox's shops.", ""]
    return "\n".join(head + [f"# {line}" if line.strip() else "" for line in example]) + "\n"


def alerts_text() -> str:
    """alerts.toml: how to write a rule and a channel, every line commented out (docs/alerts.md)."""
    return "\n".join([
        "# Alert rules and the channels they tell (docs/alerts.md). `shoplens alerts check` evaluates them, and",
        "# the hourly `shoplens sync --alerts` that `shoplens schedule` installs does after each sync. Secrets",
        "# (webhook URLs, bot secrets, SMTP passwords) never go here: .shoplens/credentials.json or the",
        "# environment. Uncomment and edit:",
        "",
        "# [settings]",
        '# language = "zh"                  # en or zh',
        '# repeat = "1d"                    # re-send a still-true alert once a day',
        "",
        "# [channel.ops]",
        '# kind = "feishu"                  # feishu, dingtalk, wecom, slack, email or webhook',
        "# sign = true                      # its URL and secret: SHOPLENS_CHANNEL_OPS_URL / _SECRET",
        "",
        "# [[rule]]",
        '# id = "refund-rate"',
        '# metric = "refund_rate"           # any id of `shoplens metrics list`',
        '# window = "last_7_days"',
        "# above = 0.05",
        '# channels = ["ops"]',
        "",
        "# [[rule]]",
        '# id = "sync"',
        '# condition = "sync_stale"         # built-ins: sync_stale, authorization, listing, stockout_risk',
        "# hours = 6",
        '# channels = ["ops"]',
    ]) + "\n"


def gitignore_text() -> str:
    return "# the workspace's data, reports, logs, click logs and credentials stay out of version control\n" + \
        "\n".join(GITIGNORE_LINES) + "\n"


@dataclass(frozen=True)
class Scaffold:
    """One file of a new workspace."""

    name: str
    about: str
    text: Callable[[], str]


#: the files `shoplens init` writes, in order (alerts.toml joins them when alerts exist)
FILES = [
    Scaffold("shoplens.toml", "settings, all commented out: app key, service id, API hosts", settings_text),
    Scaffold("targets.toml", "team KPI targets for the scorecard (examples commented out)", targets_text),
    Scaffold("alerts.toml", "alert rules and channels (examples commented out)", alerts_text),
    Scaffold(".gitignore", "keeps data/, reports/, logs/, links/ and .shoplens/ out of git", gitignore_text),
]


@dataclass
class InitResult:
    home: Path
    #: (path relative to home, what happened: "created" | "kept" | "added ..." | "warning ...", about)
    steps: list[tuple[str, str, str]] = field(default_factory=list)


def _write_new(path: Path, text: str, mode: int = 0o644) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def init_workspace(home: Path) -> InitResult:
    """Lay out a workspace at `home` (created if missing); what exists is kept."""
    home = home.expanduser().resolve()
    if home.exists() and not home.is_dir():
        raise ConfigError(f"{home} is a file, not a folder: give `shoplens init` a folder")
    try:
        home.mkdir(parents=True, exist_ok=True)
        return _lay_out(home)
    except PermissionError as exc:
        raise ConfigError(f"cannot write in {exc.filename or home}: choose a folder you own") from None


def _lay_out(home: Path) -> InitResult:
    result = InitResult(home)
    for scaffold in FILES:
        path = home / scaffold.name
        if not path.exists():
            _write_new(path, scaffold.text())
            result.steps.append((scaffold.name, "created", scaffold.about))
        elif scaffold.name == ".gitignore":
            result.steps.append((scaffold.name, *_complete_gitignore(path)))
        else:
            result.steps.append((scaffold.name, "kept", "exists"))
    private = home / ".shoplens"
    if not private.exists():
        private.mkdir(mode=0o700)
        os.chmod(private, 0o700)  # whatever the umask
        result.steps.append((".shoplens/", "created", "private folder (mode 0700) for the app secret and tokens"))
    else:
        mode = stat.S_IMODE(private.stat().st_mode)
        if mode & 0o077:
            result.steps.append((".shoplens/", "warning", f"mode {mode:o} lets others read it: run chmod 700 {private}"))
        else:
            result.steps.append((".shoplens/", "kept", "exists (mode 0700)"))
    return result


def _complete_gitignore(path: Path) -> tuple[str, str]:
    text = path.read_text(encoding="utf-8")
    present = {line.strip().lstrip("/") for line in text.splitlines()}
    missing = [line for line in GITIGNORE_LINES if line not in present and line.rstrip("/") not in present]
    if not missing:
        return "kept", "exists"
    addition = ("" if text.endswith("\n") or not text else "\n") + "# shoplens workspace\n" + "\n".join(missing) + "\n"
    _write_new(path, text + addition, stat.S_IMODE(path.stat().st_mode))
    return "added", f"{', '.join(missing)} (so they stay out of git)"
