"""The workspace's `alerts.toml`: rules, channels and settings, read and checked all at once.

Every problem is reported together, each naming the rule (or channel) and the field, with the fix
(`AlertError.problems`). Channel secrets (webhook URLs, signing secrets, SMTP passwords) are refused
here: they live in the environment or `.shoplens/credentials.json` (see `channels.channel_secret`).

Must never: read a secret, open the warehouse or the network.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shoplens.alerts.windows import parse_window
from shoplens.errors import AlertError, MetricError
from shoplens.metrics import DIMENSIONS, default_catalogue

LANGS = ("en", "zh")
#: built-in conditions and the numeric field each takes (with its default)
BUILTINS = {"sync_stale": ("hours", 6), "authorization": ("days", 7), "stockout_risk": ("above", 0),
            "listing": ("above", 0)}
#: the catalogue metric the stockout-risk condition reads (the operations metrics)
STOCKOUT_METRIC = "stockout_risk_skus"
CHANNEL_KINDS = ("email", "webhook", "slack", "feishu", "dingtalk", "wecom")
#: the fields each channel kind takes in alerts.toml (its secrets come from elsewhere)
CHANNEL_FIELDS = {
    "email": {"kind", "host", "port", "starttls", "tls", "username", "from", "to", "ca_file", "timeout"},
    "webhook": {"kind", "sign", "timeout"},
    "slack": {"kind", "timeout"},
    "feishu": {"kind", "sign", "timeout"},
    "dingtalk": {"kind", "sign", "timeout"},
    "wecom": {"kind", "timeout"},
}
#: fields that would hold a secret: refused in alerts.toml wherever they appear
SECRET_FIELDS = ("url", "webhook", "webhook_url", "secret", "password", "token", "access_token", "key")
RULE_FIELDS = ("id", "metric", "condition", "shop", "where", "window", "above", "below", "falls_by", "rises_by",
               "compare_to", "anomaly", "target_below", "hours", "days", "channels", "language", "repeat",
               "timezone", "note")
SETTINGS_FIELDS = ("language", "repeat", "timezone", "reports_url")
_ID = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
_DURATION = re.compile(r"(\d+)\s*(m|min|h|d|w)")
_UNIT = {"m": 60, "min": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}


@dataclass(frozen=True)
class Channel:
    """Where messages go: a kind and its non-secret settings (`options`)."""

    name: str
    kind: str
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Rule:
    """One alert rule. `kind` is threshold, change, anomaly, target or a built-in (sync_stale,
    authorization, stockout_risk, listing); `limit` is the number the condition compares with."""

    id: str
    kind: str
    metric: str | None
    shops: tuple[str, ...] | None  # None: every synced shop
    where: tuple[tuple[str, tuple[str, ...]], ...]
    window: str
    channels: tuple[str, ...]
    language: str
    repeat: timedelta | None  # None: never re-sent while it stays true
    timezone: str
    #: "above"/"below" (threshold, built-ins), "falls_by"/"rises_by" (change), "below" (target)
    direction: str | None = None
    limit: float | None = None
    compare_to: str = "previous"
    note: str | None = None


@dataclass(frozen=True)
class AlertConfig:
    path: Path
    rules: tuple[Rule, ...]
    channels: dict[str, Channel]
    reports_url: str | None = None

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise AlertError(f"no rule {rule_id!r} in {self.path}; rules: {', '.join(r.id for r in self.rules)}")


def alerts_path(home: Path) -> Path:
    return home / "alerts.toml"


def load_config(path: Path, *, known_shops: set[str] | None = None) -> AlertConfig:
    """Read and check `path`; every problem is collected and raised at once as an AlertError."""
    if not path.exists():
        raise AlertError(f"no alerts file at {path}: write one (docs/alerts.md has a complete example), "
                         "or set SHOPLENS_HOME to the workspace that has it")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise AlertError(f"not valid TOML: {exc}", path=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AlertError(f"cannot read it: {exc}", path=str(path)) from None
    problems: list[str] = []
    for key in data:
        if key not in ("settings", "channel", "rule"):
            problems.append(f"unknown section {key!r}{_suggest(key, ('settings', 'channel', 'rule'))}; the file has "
                            "[settings], [channel.NAME] tables and [[rule]] entries")
    settings = _settings(data.get("settings", {}), problems)
    channels = _channels(data.get("channel", {}), problems)
    rules = []
    entries = data.get("rule", [])
    if not isinstance(entries, list):
        problems.append("`rule` must be a list of [[rule]] entries")
        entries = []
    seen: set[str] = set()
    for number, entry in enumerate(entries, start=1):
        rule = _rule(entry, number, settings, channels, known_shops, problems)
        if rule is None:
            continue
        if rule.id in seen:
            problems.append(f"rule {rule.id!r}: the id is used twice; give each rule its own id")
        seen.add(rule.id)
        rules.append(rule)
    # no [[rule]] yet (the file `shoplens init` writes is all comments) is no mistake: nothing to check
    if problems:
        raise AlertError(problems, path=str(path))
    return AlertConfig(path, tuple(rules), channels, settings.get("reports_url"))


# --- parts ------------------------------------------------------------------------------------------------
def _suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _secret_problem(where: str, key: str, channel: str | None = None) -> str:
    name = channel or "NAME"
    var = f"SHOPLENS_CHANNEL_{re.sub(r'[^A-Za-z0-9]', '_', name).upper()}_{key.upper()}"
    return (f"{where}: `{key}` is a secret and never goes in alerts.toml: set {var}, or put it in "
            f'.shoplens/credentials.json (mode 0600) as {{"channels": {{"{name}": {{"{key}": "..."}}}}}}')


def _settings(raw, problems: list[str]) -> dict:
    if not isinstance(raw, dict):
        problems.append("[settings] must be a table")
        return {}
    out = {}
    for key, value in raw.items():
        if key in SECRET_FIELDS:
            problems.append(_secret_problem("[settings]", key))
        elif key not in SETTINGS_FIELDS:
            problems.append(f"[settings]: unknown field {key!r}{_suggest(key, SETTINGS_FIELDS)}; "
                            f"valid: {', '.join(SETTINGS_FIELDS)}")
        else:
            out[key] = value
    if "language" in out and out["language"] not in LANGS:
        problems.append(f"[settings]: language {out.pop('language')!r} is not one of {', '.join(LANGS)}")
    if "repeat" in out:
        try:
            parse_repeat(out["repeat"])
        except ValueError as exc:
            problems.append(f"[settings]: repeat: {exc}")
            del out["repeat"]  # reported once here, not again in every rule
    if "timezone" in out and (problem := _timezone_problem(out["timezone"])):
        problems.append(f"[settings]: timezone: {problem}")
        del out["timezone"]
    if "reports_url" in out and not (isinstance(out["reports_url"], str)
                                     and out["reports_url"].startswith(("http://", "https://", "file://"))):
        problems.append(f"[settings]: reports_url {out['reports_url']!r} must be an http(s):// or file:// address "
                        "where the workspace's reports/ folder is served")
    return out


def _channels(raw, problems: list[str]) -> dict[str, Channel]:
    if not isinstance(raw, dict):
        problems.append("`channel` must be tables like [channel.team-feishu]")
        return {}
    out = {}
    for name, entry in raw.items():
        where = f"channel {name!r}"
        if not _ID.fullmatch(name):
            problems.append(f"{where}: a channel name is lowercase letters, digits, '-', '_' or '.' (e.g. ops-email)")
        if not isinstance(entry, dict):
            problems.append(f"{where}: must be a table with at least `kind`")
            continue
        kind = entry.get("kind")
        if kind not in CHANNEL_KINDS:
            problems.append(f"{where}: kind {kind!r}{_suggest(kind, CHANNEL_KINDS)} is not one of "
                            f"{', '.join(CHANNEL_KINDS)}")
            continue
        for key in entry:
            if key in SECRET_FIELDS:
                problems.append(_secret_problem(where, key, name))
            elif key not in CHANNEL_FIELDS[kind]:
                valid = sorted(CHANNEL_FIELDS[kind])
                problems.append(f"{where}: unknown field {key!r}{_suggest(key, valid)} for kind {kind}; "
                                f"valid: {', '.join(valid)}")
        options = {k: v for k, v in entry.items() if k != "kind" and k not in SECRET_FIELDS}
        problems += [f"{where}: {p}" for p in _channel_problems(kind, options)]
        out[name] = Channel(name, kind, options)
    return out


def _channel_problems(kind: str, options: dict) -> list[str]:
    found = []
    if "timeout" in options and not (_is_number(options["timeout"]) and 0 < options["timeout"] <= 60):
        found.append(f"timeout {options['timeout']!r} must be seconds between 0 and 60")
    for flag in ("sign", "starttls", "tls"):
        if flag in options and not isinstance(options[flag], bool):
            found.append(f"{flag} {options[flag]!r} must be true or false")
    if kind != "email":
        return found
    for key in ("host", "from", "to"):
        if key not in options:
            found.append(f"email needs `{key}`" + (" (a list of addresses)" if key == "to" else ""))
    if "host" in options and not isinstance(options["host"], str):
        found.append("host must be a host name, e.g. smtp.example.com")
    if "port" in options and not (isinstance(options["port"], int) and 0 < options["port"] < 65536):
        found.append(f"port {options['port']!r} must be a TCP port number")
    to = options.get("to", [])
    if isinstance(to, str):
        to = [to]
    if not isinstance(to, list) or not all(isinstance(a, str) and "@" in a for a in to):
        found.append(f"to {options.get('to')!r} must be a list of email addresses")
    if "from" in options and not (isinstance(options["from"], str) and "@" in options["from"]):
        found.append(f"from {options['from']!r} must be an email address")
    if options.get("tls") and options.get("starttls"):
        found.append("use tls (implicit TLS, port 465) or starttls (port 587), not both")
    if "ca_file" in options and not (isinstance(options["ca_file"], str) and Path(options["ca_file"]).expanduser().exists()):
        found.append(f"ca_file {options['ca_file']!r} does not exist: give the path of a PEM file of CA certificates")
    return found


def _rule(entry, number: int, settings: dict, channels: dict[str, Channel], known_shops: set[str] | None,
          problems: list[str]) -> Rule | None:
    if not isinstance(entry, dict):
        problems.append(f"rule {number}: must be a [[rule]] table")
        return None
    rule_id = entry.get("id")
    where = f"rule {rule_id!r}" if isinstance(rule_id, str) and rule_id else f"rule {number}"
    found: list[str] = []
    if not isinstance(rule_id, str) or not _ID.fullmatch(rule_id):
        found.append("field `id`: give the rule an id of lowercase letters, digits, '-', '_' or '.', "
                     "e.g. id = \"refund-rate-th\"")
    for key in entry:
        if key in SECRET_FIELDS:
            found.append(_secret_problem(where, key).removeprefix(f"{where}: "))
        elif key not in RULE_FIELDS:
            found.append(f"unknown field {key!r}{_suggest(key, RULE_FIELDS)}; valid: {', '.join(RULE_FIELDS)}")
    kind, metric, direction, limit = _condition(entry, found)
    language = entry.get("language", settings.get("language", "en"))
    if language not in LANGS:
        found.append(f"field `language`: {language!r} is not one of {', '.join(LANGS)}")
    repeat = None
    try:
        repeat = parse_repeat(entry.get("repeat", settings.get("repeat", "1d")))
    except ValueError as exc:
        found.append(f"field `repeat`: {exc}")
    timezone = entry.get("timezone", settings.get("timezone", "shop"))
    if problem := _timezone_problem(timezone):
        found.append(f"field `timezone`: {problem}")
    window = entry.get("window", "yesterday" if kind in ("threshold", "change", "anomaly") else
                       "week_to_date" if kind == "target" else "today")
    try:
        parse_window(window)
    except ValueError as exc:
        found.append(f"field `window`: {exc}")
    else:
        if window == "today" and kind in ("change", "target"):
            found.append("field `window`: today is not over yet, so it cannot be compared or pro-rated fairly: "
                         "use yesterday, last_7_days, week_to_date ...")
    shops = _shops(entry.get("shop", "all"), known_shops, found)
    filters = _where(entry.get("where", {}), metric, found)
    if filters and kind not in ("threshold", "change", "target"):
        found.append(f"field `where`: a {kind} rule watches the whole figure of each shop; drop `where`")
    names = entry.get("channels")
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        found.append("field `channels`: list the channels to tell, e.g. channels = [\"team-feishu\"]")
        names = []
    for name in names:
        if name not in channels:
            known = ", ".join(channels) or "none defined"
            found.append(f"field `channels`: no channel {name!r}{_suggest(name, channels)}; "
                         f"define [channel.{name}] (channels: {known})")
    compare_to = entry.get("compare_to", "previous")
    if compare_to not in ("previous", "last_week"):
        found.append(f"field `compare_to`: {compare_to!r} is not previous or last_week")
    note = entry.get("note")
    if note is not None and not isinstance(note, str):
        found.append("field `note`: a line of text")
    problems += [f"{where}: {p}" for p in found]
    if found:
        return None
    return Rule(rule_id, kind, metric, shops, filters, window, tuple(names), language, repeat, timezone,
                direction, limit, compare_to, note)


def _condition(entry: dict, found: list[str]) -> tuple[str, str | None, str | None, float | None]:
    """(kind, metric, direction, limit) from the rule's condition fields."""
    catalogue = default_catalogue()
    condition, metric = entry.get("condition"), entry.get("metric")
    given = [k for k in ("above", "below", "falls_by", "rises_by", "anomaly", "target_below") if k in entry]
    if condition is not None:
        if condition not in BUILTINS:
            found.append(f"field `condition`: {condition!r}{_suggest(condition, BUILTINS)} is not a built-in "
                         f"condition; built-ins: {', '.join(BUILTINS)} (or give `metric` instead)")
            return "invalid", None, None, None
        if metric is not None:
            found.append("give `metric` or a built-in `condition`, not both")
        number_field, default = BUILTINS[condition]
        extra = [k for k in (*given, "hours", "days") if k in entry and k != number_field]
        if extra:
            found.append(f"condition {condition} takes `{number_field}` (default {default}), not "
                         f"{', '.join(f'`{k}`' for k in extra)}")
        limit = entry.get(number_field, default)
        if not _is_number(limit) or limit < 0:
            found.append(f"field `{number_field}`: {limit!r} must be a number of at least 0")
        return condition, None, "above", float(limit) if _is_number(limit) else None
    if metric is None:
        found.append("give `metric` (a catalogue metric, `shoplens metrics list`) or a built-in `condition` "
                     f"({', '.join(BUILTINS)})")
        return "invalid", None, None, None
    try:
        catalogue.get(metric)
    except MetricError:
        ids = [m.id for m in catalogue.metrics]
        found.append(f"field `metric`: no metric {metric!r}{_suggest(metric, ids)} in the catalogue; "
                     "`shoplens metrics list` shows them")
        metric = None
    for key in ("hours", "days"):
        if key in entry:
            found.append(f"field `{key}` belongs to the built-in conditions, not to a metric rule")
    if len(given) != 1:
        found.append("give exactly one condition: above, below (threshold), falls_by, rises_by (change), "
                     "anomaly = true, or target_below" + (f"; this rule gives {', '.join(given)}" if given else ""))
        return "invalid", metric, None, None
    key = given[0]
    value = entry[key]
    if key == "anomaly":
        if value is not True:
            found.append("field `anomaly`: write anomaly = true (the catalogue's robust z-score rule)")
        elif metric and catalogue.get(metric).anomaly is None:
            pass  # a metric without its own thresholds is watched with the defaults (docs/quality.md)
        return "anomaly", metric, None, None
    if not _is_number(value):
        found.append(f"field `{key}`: {value!r} must be a number")
        return "invalid", metric, None, None
    if key in ("falls_by", "rises_by"):
        if not 0 < value < (1 if key == "falls_by" else 100):
            found.append(f"field `{key}`: {value!r} is a share of the previous figure: 0.3 means 30 %"
                         + (" (a fall is less than 1)" if key == "falls_by" else ""))
        return "change", metric, key, float(value)
    if key == "target_below":
        if not 0 < value <= 2:
            found.append(f"field `target_below`: {value!r} is a share of the target, e.g. 0.8 for 80 %")
        return "target", metric, "below", float(value)
    return "threshold", metric, key, float(value)


def _shops(value, known_shops: set[str] | None, found: list[str]) -> tuple[str, ...] | None:
    if value == "all":
        return None
    shops = [value] if isinstance(value, str | int) else value
    if not isinstance(shops, list) or not shops or not all(isinstance(s, str | int) for s in shops):
        found.append(f"field `shop`: {value!r}: give \"all\", one shop id, or a list of shop ids")
        return None
    shops = [str(s) for s in shops]
    if known_shops is not None:
        unknown = [s for s in shops if s not in known_shops]
        if unknown:
            found.append(f"field `shop`: unknown shop id(s) {', '.join(unknown)}; synced shops: "
                         f"{', '.join(sorted(known_shops)) or 'none yet (run `shoplens sync`)'}")
    return tuple(shops)


def _where(value, metric: str | None, found: list[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not isinstance(value, dict):
        found.append("field `where`: a table of dimension = value(s), e.g. where = { channel = \"affiliate\" }")
        return ()
    allowed = default_catalogue().dimensions_of(metric) if metric else ()
    out = []
    for dim, values in value.items():
        if dim not in DIMENSIONS or (metric and dim not in allowed):
            choices = [d for d in allowed if d not in ("day", "week", "month")]
            found.append(f"field `where`: {dim!r}{_suggest(dim, choices)} is not a dimension of "
                         f"{metric or 'a built-in condition'}; dimensions: {', '.join(choices) or 'none'}")
            continue
        values = [values] if isinstance(values, str) else values
        if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
            found.append(f"field `where`: {dim} takes a value or a list of values (text)")
            continue
        out.append((dim, tuple(values)))
    return tuple(out)


def parse_repeat(value) -> timedelta | None:
    """'30m', '6h', '1d', '1w' or 'never' -> a timedelta (None for never)."""
    if value in ("never", False):
        return None
    if not isinstance(value, str):
        raise ValueError(f"{value!r}: write a duration like \"6h\", \"1d\" or \"never\"")
    match = _DURATION.fullmatch(value.strip())
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"{value!r}: write a duration like \"30m\", \"6h\", \"1d\" or \"never\"")
    return timedelta(seconds=int(match.group(1)) * _UNIT[match.group(2)])


def _timezone_problem(value) -> str | None:
    if value == "shop":
        return None
    try:
        ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        return f"{value!r} is not \"shop\" (each shop's own zone) nor an IANA zone like Asia/Shanghai"
    return None


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
