"""Sync: API pages -> raw archive -> warehouse rows, incrementally, per shop and resource."""

from shoplens.sync.resources import RESOURCES, ResourceSpec
from shoplens.sync.runner import (AD_RESOURCE, Observer, ResourceResult, SyncOptions, SyncSummary, raise_if_failed,
                                  replay, run_sync, token_sources)

__all__ = ["AD_RESOURCE", "RESOURCES", "Observer", "ResourceResult", "ResourceSpec", "SyncOptions", "SyncSummary",
           "raise_if_failed", "replay", "run_sync", "token_sources"]
