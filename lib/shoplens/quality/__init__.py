"""Data-quality signals for every report: freshness, sync gaps and failures, metric anomalies and
authorization problems. Reads the warehouse (metric values only through the metric API); writes
nothing but the non-secret authorization record the sync keeps (`record_authorization`)."""

from shoplens.quality.anomalies import Anomaly, detect_anomalies
from shoplens.quality.authorization import authorization_problems, record_authorization, record_revoked
from shoplens.quality.signals import (Signals, failed_syncs, metric_anomalies, quality_signals, resource_freshness,
                                      sync_gaps, watched_metrics)

__all__ = ["Anomaly", "Signals", "authorization_problems", "detect_anomalies", "failed_syncs", "metric_anomalies",
           "quality_signals", "record_authorization", "record_revoked", "resource_freshness", "sync_gaps",
           "watched_metrics"]
