"""Files from npm packages, fetched once with `npm pack` into a cache folder outside git."""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from shoplens.errors import ConfigError

_NETWORK_HINTS = ("ENOTFOUND", "ECONNREFUSED", "ETIMEDOUT", "EAI_AGAIN", "ECONNRESET", "network", "ENETUNREACH")


class NpmUnavailable(ConfigError):
    """npm is missing or the registry cannot be reached."""


def npm_pack(package: str, version: str, target: Path, inner: str) -> Path:
    """Extract the files under `inner` (a folder in the package tarball) into `target`, once."""
    if target.exists():
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise NpmUnavailable(f"npm is not installed; it is needed to fetch {package}")
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run([npm, "pack", f"{package}@{version}", "--pack-destination", tmp, "--silent"],
                              capture_output=True, text=True, timeout=180)
        if done.returncode != 0:
            message = (done.stderr or done.stdout).strip()
            if any(hint in message for hint in _NETWORK_HINTS):
                raise NpmUnavailable(f"the npm registry is unreachable: {message.splitlines()[-1]}")
            raise ConfigError(f"npm pack {package}@{version} failed: {message}")
        tarball = next(Path(tmp).glob("*.tgz"))
        staging = Path(tmp) / "files"
        with tarfile.open(tarball) as archive:
            members = [m for m in archive.getmembers() if m.name.startswith(inner + "/") and m.isfile()]
            for member in members:
                member.name = member.name[len(inner) + 1:]
            archive.extractall(staging, members=members, filter="data")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staging), str(target))
    return target
