"""Docs cover every command, make target and metric; notebooks are committed clean; both languages
have every piece of report text."""

import ast
import json
import re
from pathlib import Path

import typer

from shoplens.cli import app
from shoplens.i18n import LANGS, TEXT
from shoplens.metrics import default_catalogue

ROOT = Path(__file__).resolve().parents[1]


def all_docs() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])


def cli_commands(group, prefix: str = "shoplens") -> list[str]:
    found = []
    for name, command in group.commands.items():
        if hasattr(command, "commands"):  # a group (typer ships its own click classes)
            found += cli_commands(command, f"{prefix} {name}")
        else:
            found.append(f"{prefix} {name}")
    return found


def test_every_cli_command_is_documented():
    commands = cli_commands(typer.main.get_command(app))
    assert len(commands) >= 9
    docs = all_docs()
    missing = [c for c in commands if c not in docs]
    assert not missing, f"document these commands in README.md or docs/: {missing}"


def test_every_make_target_is_documented():
    targets = re.findall(r"^([a-z][a-z0-9-]*):", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert {"setup", "demo", "test", "lab", "sandbox", "clean"} <= set(targets)
    docs = all_docs()
    missing = [t for t in targets if f"make {t}" not in docs]
    assert not missing, f"document these make targets: {missing}"


def test_every_metric_is_documented_with_its_labels():
    from shoplens.metrics.docs import section

    metrics_doc = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    assert section() in metrics_doc, "docs/metrics.md is stale: run `python -m shoplens.metrics.docs`"
    for m in default_catalogue().metrics:
        assert f"`{m.id}`" in metrics_doc and m.label["en"] in metrics_doc and m.label["zh"] in metrics_doc, m.id


def test_report_text_exists_in_every_language():
    for key, texts in TEXT.items():
        assert set(texts) == set(LANGS) and all(texts.values()), key
    from shoplens.sync import RESOURCES
    from shoplens.sync.runner import AD_RESOURCE

    unnamed = [r for r in [*RESOURCES, AD_RESOURCE] if f"q_res_{r}" not in TEXT]
    assert not unnamed, f"give these synced resources a name for the freshness table (i18n q_res_*): {unnamed}"


def test_notebooks_are_committed_clean_with_one_literal_parameters_cell():
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks
    for path in notebooks:
        nb = json.loads(path.read_text(encoding="utf-8"))
        assert "papermill" not in nb["metadata"], path
        assert nb["metadata"]["kernelspec"]["name"] == "python3"
        for cell in nb["cells"]:
            assert not cell.get("outputs") and not cell.get("execution_count"), path
            assert "papermill" not in cell.get("metadata", {}) and "execution" not in cell.get("metadata", {})
        tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
        if path.name.startswith("explore"):
            continue
        assert len(tagged) == 1, path
        for statement in ast.parse("".join(tagged[0]["source"])).body:
            assert isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Constant), path
        assert "/" not in "".join(tagged[0]["source"]).replace("://", ""), "no paths in parameters"
