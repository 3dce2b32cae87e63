"""`make lab` as an analyst uses it: JupyterLab on a loopback port over a synced workspace. Through
Jupyter Server's REST API the test lists the notebooks, opens a session on explore.ipynb, and runs
every code cell in that session's kernel over the kernel's WebSocket, as the Lab front end does."""

import asyncio
import json
import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

from shoplens.aio import run_coroutine
from shoplens.demo import sync_from_sandbox
from shoplens.sandbox import SandboxServer
from shoplens.sync import SyncOptions

from conftest import small_sandbox

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    home = tmp_path_factory.mktemp("lab")
    sandbox = small_sandbox(seed=42)  # explore.ipynb's default shop is the demo's first shop
    with SandboxServer(sandbox) as running:
        sync_from_sandbox(running, home, options=SyncOptions(history_days=21))
    port, token = free_port(), uuid.uuid4().hex
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPLENS_")} | {
        "SHOPLENS_HOME": str(home), "JUPYTER_TOKEN": token, "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTER_CONFIG_DIR": str(home / "jupyter-config")}
    log = (home / "lab.log").open("w")
    process = subprocess.Popen(["make", "--no-print-directory", "lab", f"LAB_PORT={port}"], cwd=REPO, env=env,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    client = httpx.Client(base_url=base, headers={"Authorization": f"token {token}"}, timeout=30)
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if client.get("/api/status").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not start: {(home / 'lab.log').read_text()[-2000:]}")
            time.sleep(0.5)
        yield client, base, token, sandbox
    finally:
        client.close()
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


def test_lab_serves_jupyterlab_and_lists_every_notebook(lab):
    client, _, _, _ = lab
    assert "JupyterLab" in client.get("/lab").text
    listing = client.get("/api/contents").raise_for_status().json()
    names = {item["name"] for item in listing["content"] if item["type"] == "notebook"}
    expected = {path.name for path in (REPO / "notebooks").glob("*.ipynb")}
    assert "explore.ipynb" in names and names == expected
    assert httpx.get(f"{lab[1]}/api/contents").status_code == 403  # nothing without the token


async def run_cells(base: str, token: str, kernel_id: str, cells: list[str]) -> list[dict]:
    """Execute each source in the kernel over its channels WebSocket; one result per cell."""
    from tornado.websocket import websocket_connect

    ws = await websocket_connect(f"{base.replace('http', 'ws')}/api/kernels/{kernel_id}/channels?token={token}")
    session, results = uuid.uuid4().hex, []
    try:
        for source in cells:
            msg_id = uuid.uuid4().hex
            ws.write_message(json.dumps({
                "header": {"msg_id": msg_id, "msg_type": "execute_request", "session": session, "username": "test",
                           "version": "5.3", "date": ""},
                "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
                "content": {"code": source, "silent": False, "store_history": True, "user_expressions": {},
                            "allow_stdin": False, "stop_on_error": True}}))
            # done when both the reply (shell) and the kernel's "idle" (iopub) came: the two channels are not
            # ordered, and a cell's last output can arrive after its reply
            result, idle = {"outputs": [], "status": None}, False
            while result["status"] is None or not idle:
                message = json.loads(await asyncio.wait_for(ws.read_message(), timeout=120))
                if message.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind, content = message["header"]["msg_type"], message["content"]
                if kind in ("execute_result", "display_data", "stream", "error"):
                    result["outputs"].append({"type": kind, **content})
                elif kind == "execute_reply":
                    result["status"] = content["status"]
                elif kind == "status" and content.get("execution_state") == "idle":
                    idle = True
            results.append(result)
    finally:
        ws.close()
    return results


def test_explore_notebook_runs_in_its_lab_kernel(lab):
    client, base, token, sandbox = lab
    notebook = client.get("/api/contents/explore.ipynb", params={"content": 1}).raise_for_status().json()
    cells = [cell["source"] for cell in notebook["content"]["cells"] if cell["cell_type"] == "code"]
    session = client.post("/api/sessions", json={"path": "explore.ipynb", "type": "notebook",
                                                 "kernel": {"name": "python3"}}).raise_for_status().json()
    try:
        results = run_coroutine(lambda: run_cells(base, token, session["kernel"]["id"], cells))
    finally:
        client.delete(f"/api/sessions/{session['id']}")
    errors = [out for r in results for out in r["outputs"] if out["type"] == "error"]
    assert errors == [] and [r["status"] for r in results] == ["ok"] * len(cells), errors[:1]
    shown = json.dumps([out.get("data", {}).get("text/plain", "") for r in results for out in r["outputs"]])
    assert sandbox.business.shops[0].id in shown  # the freshness table read the synced warehouse
    assert "gmv" in shown
    assert "data/raw/" in shown  # explain's records name the archived page each order came from
