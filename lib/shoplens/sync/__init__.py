"""Sync: API pages -> warehouse rows, recorded per shop and resource in `sync_runs`."""

from shoplens.sync.runner import SyncSummary, raise_if_failed, sync_authorization, sync_workspace

__all__ = ["SyncSummary", "raise_if_failed", "sync_authorization", "sync_workspace"]
