"""The doctor's checks of this machine and the workspace folder: Python packages, Chromium and the report
fonts, the renderer, the settings file, the folder (writable, disk space) and its private `.shoplens/`.
Local only: none of them touches the network. They must never print a secret.
"""

from __future__ import annotations

import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from importlib import metadata

from shoplens.workspace.doctor import FAIL, OK, SKIP, WARN, Doctor, Result

#: below this much free space the warehouse, raw archive and PDFs may not fit
DISK_FAIL = 500 * 2**20
DISK_WARN = 2 * 2**30
#: font families the reports' CSS asks for, by script, and the Debian package that has them
FONTS = {"Chinese (Noto Sans CJK)": (("Noto Sans CJK", "Noto Sans SC"), "fonts-noto-cjk"),
         "Thai (Noto Sans Thai)": (("Noto Sans Thai",), "fonts-noto-core")}


def missing_requirements(requirements: Iterable[str]) -> list[str]:
    """The requirements (PEP 508 strings) this environment does not satisfy, each with what it has."""
    try:
        from packaging.requirements import Requirement
    except ImportError:  # packaging ships with pip's environments; without it, names only
        Requirement = None
    problems = []
    for line in requirements:
        if Requirement is None:
            name, spec, marker = line.split(";")[0].split(">")[0].split("=")[0].strip(), None, None
        else:
            req = Requirement(line)
            name, spec, marker = req.name, req.specifier, req.marker
            if marker is not None and not marker.evaluate({"extra": ""}):
                continue  # another platform's, or an extra's (dev tools)
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            problems.append(f"{name} (not installed)")
            continue
        if spec is not None and not spec.contains(have, prereleases=True):
            problems.append(f"{name} {have} (needs {spec})")
    return problems


def packages(doctor: Doctor) -> Iterator[Result]:
    try:
        requirements = metadata.requires("shoplens") or []
    except metadata.PackageNotFoundError:
        yield Result("Python packages", SKIP, "shoplens is not installed as a package, so its requirements are unknown")
        return
    problems = missing_requirements(requirements)
    if problems:
        yield Result("Python packages", FAIL, "missing or too old: " + ", ".join(problems),
                     "run `make setup` in the shoplens folder (or `pip install -e .` in its environment)")
    else:
        wanted = [r for r in requirements if "extra ==" not in r]
        yield Result("Python packages", OK, f"all {len(wanted)} shoplens needs, in {sys.prefix}")


def chromium(doctor: Doctor) -> Iterator[Result]:
    from shoplens.errors import RenderError
    from shoplens.render.browser import chromium_executable

    try:
        executable = chromium_executable()
    except RenderError as exc:
        where, _, fix = str(exc).removeprefix("no Chromium found ").partition(": ")
        yield Result("Chromium (PDFs)", FAIL, f"not found {where}; reports still render to HTML", fix)
        return
    fix = "`apt-get install -y chromium`, or point SHOPLENS_CHROMIUM at a working Chromium"
    try:
        done = subprocess.run([executable, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        yield Result("Chromium (PDFs)", FAIL, f"{executable} does not run ({type(exc).__name__})", fix)
        return
    version = done.stdout.strip()
    if done.returncode != 0 or not version:
        yield Result("Chromium (PDFs)", FAIL, f"{executable} does not run (exit code {done.returncode})", fix)
    else:
        yield Result("Chromium (PDFs)", OK, f"{version} ({executable})")


def fonts(doctor: Doctor) -> Iterator[Result]:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        yield Result("report fonts", FAIL, "fc-list (fontconfig) is not installed, so the fonts cannot be checked",
                     "`apt-get install -y fontconfig fonts-noto-cjk fonts-noto-core`")
        return
    families = subprocess.run([fc_list, ":", "family"], capture_output=True, text=True, timeout=60).stdout
    missing = {script: package for script, (names, package) in FONTS.items()
               if not any(name in families for name in names)}
    if missing:
        yield Result("report fonts", FAIL, f"missing {', '.join(missing)}: those scripts print as empty boxes",
                     f"`apt-get install -y {' '.join(sorted(set(missing.values())))}`")
    else:
        yield Result("report fonts", OK, ", ".join(FONTS))


def renderer(doctor: Doctor) -> Iterator[Result]:
    from shoplens.errors import RenderError
    from shoplens.render.quarto import quarto_executable, quarto_version

    try:
        executable = quarto_executable()
        version = quarto_version(executable) if executable else None
    except RenderError as exc:
        yield Result("renderer", FAIL, str(exc).split(":")[0], str(exc))
        return
    if executable is None:
        yield Result("renderer", OK, "built-in (Quarto is optional and not installed; with it, Quarto renders)")
    else:
        yield Result("renderer", OK, f"Quarto {version} ({executable})")


def settings_file(doctor: Doctor) -> Iterator[Result]:
    if doctor.settings_error:
        yield Result("settings", FAIL, doctor.settings_error, "fix the file or variable named above")
        return
    path = doctor.settings.home / "shoplens.toml"
    yield Result("settings", OK, f"{path} read" if path.exists() else
                 "from the environment (no shoplens.toml: `shoplens init` writes a commented one)")


def folder(doctor: Doctor) -> Iterator[Result]:
    if doctor.settings is None:
        return
    home = doctor.settings.home
    if not home.is_dir():
        yield Result("folder", FAIL, f"no folder at {home}", f"`shoplens init {home}`, or set SHOPLENS_HOME")
        return
    try:
        with tempfile.NamedTemporaryFile(dir=home, prefix=".shoplens-doctor-"):
            pass
    except OSError as exc:
        yield Result("folder", FAIL, f"{home} is not writable ({exc.strerror})",
                     f"make it yours (`chmod u+w {home}`), or set SHOPLENS_HOME to a folder you can write")
        return
    free = shutil.disk_usage(home).free
    detail = f"{home}: writable, {free / 2**30:.1f} GB free"
    if free < DISK_FAIL:
        yield Result("folder", FAIL, detail, "free some space: the warehouse, raw archive and PDFs grow every week")
    elif free < DISK_WARN:
        yield Result("folder", WARN, detail, "less than 2 GB free: the warehouse and raw archive grow every sync")
    else:
        yield Result("folder", OK, detail)


def private_folder(doctor: Doctor) -> Iterator[Result]:
    if doctor.settings is None:
        return
    private = doctor.settings.private_dir
    if not private.exists():
        yield Result(".shoplens/", OK, "not created yet (`shoplens init` or `shoplens auth exchange` make it, mode 0700)")
        return
    mode = stat.S_IMODE(private.stat().st_mode)
    if mode & 0o077:
        yield Result(".shoplens/", FAIL, f"mode {mode:o}: others can list the folder that holds the tokens",
                     f"chmod 700 {private}")
    else:
        yield Result(".shoplens/", OK, "private (mode 0700)")
