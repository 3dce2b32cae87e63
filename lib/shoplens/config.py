"""Workspace settings: where things live, which API to talk to, and where credentials come from.

Settings come from environment variables, then `shoplens.toml` in the workspace, then defaults.
Secrets (app secret, tokens) come only from the environment or from 0600 files in the workspace's
`.shoplens/` folder; they are never written to the config file, a log line, a notebook or a report.
Notebooks never import this module's credential functions.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from shoplens.errors import ConfigError

DEFAULT_API_URL = "https://open-api.tiktokglobalshop.com"
DEFAULT_AUTH_URL = "https://auth.tiktok-shops.com"
DEFAULT_CONSENT_URL = "https://services.tiktokshop.com/open/authorize"
DEFAULT_ADS_URL = "https://business-api.tiktok.com"

#: Settings a user may put in `shoplens.toml`, each with the environment variable that overrides it.
FILE_KEYS = {
    "api_url": "SHOPLENS_API_URL",
    "auth_url": "SHOPLENS_AUTH_URL",
    "consent_url": "SHOPLENS_CONSENT_URL",
    "app_key": "SHOPLENS_APP_KEY",
    "service_id": "SHOPLENS_SERVICE_ID",
    "api_qps": "SHOPLENS_API_QPS",
    "ads_url": "SHOPLENS_ADS_URL",
    "ads_advertisers": "SHOPLENS_ADS_ADVERTISERS",
}
#: Settings that are tables in `shoplens.toml` ([name] with key = "value" lines), or "k=v,k=v" in the variable.
TABLE_KEYS = {
    #: Seller Center export status words shoplens does not know -> the API status each means (docs/imports.md)
    "export_status_words": "SHOPLENS_EXPORT_STATUS_WORDS",
}


@dataclass(frozen=True)
class Settings:
    """Resolved settings for one workspace."""

    home: Path
    api_url: str = DEFAULT_API_URL
    auth_url: str = DEFAULT_AUTH_URL
    consent_url: str = DEFAULT_CONSENT_URL
    app_key: str | None = None
    service_id: str | None = None
    #: client-side requests per second per (shop, endpoint); the API allows 50 by default
    api_qps: float = 40.0
    ads_url: str = DEFAULT_ADS_URL
    #: shop id -> Marketing API advertiser id ("shop=advertiser,..." in SHOPLENS_ADS_ADVERTISERS)
    ads_advertisers: dict = field(default_factory=dict)
    #: export status word -> API status, for words shoplens' own table does not have
    export_status_words: dict = field(default_factory=dict)
    app_secret: str | None = field(default=None, repr=False)
    ads_access_token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        try:
            qps = float(self.api_qps)
        except (TypeError, ValueError):
            raise ConfigError(f"api_qps {self.api_qps!r} is not a number: set SHOPLENS_API_QPS to e.g. 40") from None
        if not 0 < qps <= 1000:
            raise ConfigError(f"api_qps {qps} is out of range: use a value between 0 and 1000 (API default 50)")
        object.__setattr__(self, "api_qps", qps)
        if isinstance(self.ads_advertisers, str):
            object.__setattr__(self, "ads_advertisers", parse_advertisers(self.ads_advertisers))

    @property
    def warehouse_path(self) -> Path:
        return warehouse_path(self.home)

    @property
    def private_dir(self) -> Path:
        return self.home / ".shoplens"

    @property
    def tokens_path(self) -> Path:
        return self.private_dir / "tokens.json"

    @property
    def credentials_path(self) -> Path:
        return self.private_dir / "credentials.json"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    def require_app(self) -> tuple[str, str]:
        """The app key and secret, or a ConfigError saying where to put them."""
        if not self.app_key:
            raise ConfigError("no app key: set SHOPLENS_APP_KEY or `app_key` in shoplens.toml")
        if not self.app_secret:
            raise ConfigError(
                "no app secret: set SHOPLENS_APP_SECRET, or write "
                f'{{"app_secret": "..."}} to {self.credentials_path} with mode 0600'
            )
        return self.app_key, self.app_secret


def warehouse_path(home: Path) -> Path:
    """Where a workspace keeps its DuckDB warehouse."""
    return home / "data" / "shoplens.duckdb"


def workspace_home(env: dict[str, str] | None = None) -> Path:
    """The workspace folder: SHOPLENS_HOME, or the current directory."""
    env = os.environ if env is None else env
    return Path(env.get("SHOPLENS_HOME") or os.getcwd()).resolve()


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Read settings from the environment and the workspace's `shoplens.toml`."""
    env = dict(os.environ if env is None else env)
    home = workspace_home(env)
    file_values = _read_config_file(home / "shoplens.toml")
    values: dict[str, str] = {}
    for key, var in FILE_KEYS.items():
        if env.get(var):
            values[key] = env[var]
        elif key in file_values:
            values[key] = str(file_values[key])
    for key, var in TABLE_KEYS.items():
        if env.get(var):
            values[key] = _parse_pairs(env[var], var)
        elif key in file_values:
            if not isinstance(file_values[key], dict):
                raise ConfigError(f"{home / 'shoplens.toml'}: {key} must be a table: [{key}] then lines like "
                                  '"word" = "VALUE"')
            values[key] = {str(k): str(v) for k, v in file_values[key].items()}
    private = _read_private_json(home / ".shoplens" / "credentials.json")
    secret = env.get("SHOPLENS_APP_SECRET") or private.get("app_secret")
    ads_token = env.get("SHOPLENS_ADS_ACCESS_TOKEN") or private.get("ads_access_token")
    return Settings(home=home, app_secret=secret, ads_access_token=ads_token, **values)


def read_settings_file(home: Path) -> dict:
    """The settings `shoplens.toml` in `home` sets (checked like load_settings does); {} without one."""
    return _read_config_file(home / "shoplens.toml")


def parse_advertisers(text: str) -> dict[str, str]:
    """'shop1=adv1,shop2=adv2' -> {"shop1": "adv1", ...}."""
    return _parse_pairs(text, "SHOPLENS_ADS_ADVERTISERS", shape="SHOP_ID=ADVERTISER_ID")


def _parse_pairs(text: str, variable: str, *, shape: str = "KEY=VALUE") -> dict[str, str]:
    """'a=1,b=2' -> {"a": "1", "b": "2"}; an entry without both sides is refused, naming `variable`."""
    mapping = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.rpartition("=")
        if not sep or not key.strip() or not value.strip():
            raise ConfigError(f"{variable} entry {part!r}: write {shape}, comma-separated")
        mapping[key.strip()] = value.strip()
    return mapping


def _read_config_file(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    unknown = sorted(set(data) - set(FILE_KEYS) - set(TABLE_KEYS))
    for secret in ("app_secret", "ads_access_token"):
        if secret in data:
            raise ConfigError(f"{path} holds {secret}: move it to SHOPLENS_{secret.upper()} "
                              "or .shoplens/credentials.json")
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(unknown)}; valid: {', '.join([*FILE_KEYS, *TABLE_KEYS])}")
    return data


def _read_private_json(path: Path) -> dict:
    if not path.exists():
        return {}
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(f"{path} is readable by others (mode {mode:o}); run: chmod 600 {path}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from exc


def read_private_json(path: Path) -> dict:
    """Read a 0600 JSON file; {} when it does not exist."""
    return _read_private_json(path)


def write_private_json(path: Path, data: dict) -> None:
    """Write JSON to `path` with mode 0600, atomically (temp file in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
