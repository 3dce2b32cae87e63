"""Root pytest configuration: the sandbox workspace the notebooks run against under nbval.

nbval executes `notebooks/*.ipynb` with their default parameters, which name sandbox seed 42's first
shop and ISO week 2026-W46. Before any notebook runs, a small sandbox is served on an ephemeral
loopback port, synced over HTTP into a temporary workspace, and SHOPLENS_HOME points at it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def pytest_collection_modifyitems(session, config, items):
    if not any(type(item).__module__.startswith("nbval") for item in items):
        return
    from shoplens.demo import sync_from_sandbox
    from shoplens.sandbox import SandboxServer, make_sandbox
    from shoplens.sync import SyncOptions

    home = Path(tempfile.mkdtemp(prefix="shoplens-nbval-"))
    config.add_cleanup(lambda: shutil.rmtree(home, ignore_errors=True))
    with SandboxServer(make_sandbox(seed=42, shops=3, orders_per_day=8, days=21)) as server:
        sync_from_sandbox(server, home, options=SyncOptions(history_days=30))
    os.environ["SHOPLENS_HOME"] = str(home)
