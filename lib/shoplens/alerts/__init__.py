"""Alerts: rules in the workspace's alerts.toml, evaluated against the warehouse, their state kept in it,
messages delivered to email, chat bots and webhooks (docs/alerts.md)."""

from shoplens.alerts.check import CheckResult, check_alerts
from shoplens.alerts.rules import AlertConfig, Channel, Rule, alerts_path, load_config

__all__ = ["AlertConfig", "Channel", "CheckResult", "Rule", "alerts_path", "check_alerts", "load_config"]
