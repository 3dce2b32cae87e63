"""Headless Chromium through Playwright, always Debian's browser (Playwright's own download cannot
work on these machines). Flags keep it from calling home on a closed network."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from shoplens.errors import RenderError

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


def chromium_executable() -> str:
    """SHOPLENS_CHROMIUM, else `chromium` on PATH; a RenderError says how to install it."""
    candidate = os.environ.get("SHOPLENS_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(candidate).exists():
        raise RenderError(f"no Chromium found at {candidate}: install it with `sudo apt-get install -y chromium` "
                          "(`make system-deps` does) or set SHOPLENS_CHROMIUM to a Chromium or Chrome binary")
    return candidate


def launch(playwright):
    """A headless Chromium browser from a started Playwright."""
    return playwright.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_ARGS, headless=True)
