"""HTTP and websocket client of a running ComfyUI: submit an API-format graph to ``/prompt``, follow its
progress on ``/ws``, read ``/history`` and download the outputs from ``/view``.

Standard library only, plus ``aiohttp`` for the websocket progress bar when it is importable (ComfyUI
ships it); without it progress falls back to polling ``/history``. The routes are those of ComfyUI's
``server.py``.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path


class WorkflowError(RuntimeError):
    """The server refused or failed a workflow; the message lists the node errors."""


def _url(server: str, path: str) -> str:
    base = server if server.startswith("http") else f"http://{server}"
    return base.rstrip("/") + path


def _get_json(server: str, path: str, timeout: float = 30):
    with urllib.request.urlopen(_url(server, path), timeout=timeout) as r:
        return json.loads(r.read())


def server_alive(server: str, timeout: float = 2.0) -> bool:
    try:
        _get_json(server, "/system_stats", timeout=timeout)
        return True
    except (OSError, urllib.error.URLError, ValueError):
        return False


def format_validation_error(body: dict, graph: dict) -> str:
    """Turn ComfyUI's 400 answer from ``/prompt`` into one readable line per problem."""
    lines = [f"ComfyUI refused the workflow: {body.get('error', {}).get('message', body.get('error'))}"]
    for node_id, info in (body.get("node_errors") or {}).items():
        cls = info.get("class_type") or graph.get(node_id, {}).get("class_type", "?")
        for err in info.get("errors", []):
            detail = err.get("details") or err.get("message")
            lines.append(f"  node {node_id} ({cls}): {err.get('message')}: {detail}")
    return "\n".join(lines)


def submit(server: str, graph: dict, client_id: str) -> str:
    """POST an API-format graph to ``/prompt``; return its prompt id.

    Raises:
        WorkflowError: validation failed (400), or ComfyUI queued only some outputs (node errors listed).
    """
    data = json.dumps({"prompt": graph, "client_id": client_id}).encode()
    req = urllib.request.Request(_url(server, "/prompt"), data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            body = json.loads(r.read())
    except urllib.error.HTTPError as e:
        body = json.loads(e.read() or b"{}")
        raise WorkflowError(format_validation_error(body, graph)) from None
    if body.get("node_errors"):
        # ComfyUI queues the outputs that validated and silently drops the others: refuse that.
        raise WorkflowError(format_validation_error({"error": {"message": "some outputs failed validation"},
                                                     "node_errors": body["node_errors"]}, graph)
                            + f"\n  (prompt {body.get('prompt_id')} was queued with the valid outputs only)")
    return body["prompt_id"]


def _bar(done: int, total: int, label: str) -> str:
    width = 30
    fill = int(width * done / max(1, total))
    return f"\r  [{'#' * fill}{'.' * (width - fill)}] {done}/{total} {label:<40}"


def _watch_websocket(server: str, client_id: str, prompt_id: str, graph: dict, timeout: float) -> None:
    import asyncio

    import aiohttp

    ws_url = _url(server, f"/ws?clientId={client_id}").replace("http", "ws", 1)

    async def run():
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(ws_url, heartbeat=30) as ws:
                deadline = time.monotonic() + timeout
                node = ""
                last_poll = 0.0
                while time.monotonic() < deadline:
                    try:
                        msg = await ws.receive(timeout=1.0)
                    except asyncio.TimeoutError:
                        msg = None
                    if time.monotonic() - last_poll > 2.0:  # a missed "done" event (e.g. all nodes cached)
                        last_poll = time.monotonic()
                        if await asyncio.to_thread(_history_entry, server, prompt_id) is not None:
                            return
                    if msg is None:
                        continue
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        continue
                    ev = json.loads(msg.data)
                    data = ev.get("data", {})
                    if data.get("prompt_id") not in (None, prompt_id):
                        continue
                    if ev["type"] == "executing":
                        if data.get("node") is None:
                            return
                        node = f"{data['node']} {graph.get(str(data['node']), {}).get('class_type', '')}"
                        sys.stderr.write(_bar(0, 1, node))
                    elif ev["type"] == "progress":
                        sys.stderr.write(_bar(data["value"], data["max"], node))
                    elif ev["type"] == "execution_error":
                        return
                raise TimeoutError(f"workflow did not finish within {timeout:.0f}s")

    asyncio.run(run())
    sys.stderr.write("\n")


def _history_entry(server: str, prompt_id: str):
    hist = _get_json(server, f"/history/{prompt_id}")
    entry = hist.get(prompt_id)
    if entry and entry.get("status", {}).get("completed") is not None:
        if entry["status"].get("status_str") in ("success", "error"):
            return entry
    return None


def wait_for(server: str, prompt_id: str, client_id: str, graph: dict, timeout: float = 3600) -> dict:
    """Show progress until the prompt finishes; return its ``/history`` entry."""
    try:
        _watch_websocket(server, client_id, prompt_id, graph, timeout)
    except ImportError:
        pass  # no aiohttp: poll only
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        entry = _history_entry(server, prompt_id)
        if entry is not None:
            if entry["status"]["status_str"] != "success":
                msgs = [m for m in entry["status"].get("messages", []) if m[0] == "execution_error"]
                detail = msgs[0][1] if msgs else entry["status"]
                if isinstance(detail, dict):
                    detail = (f"node {detail.get('node_id')} ({detail.get('node_type')}): "
                              f"{detail.get('exception_type')}: {detail.get('exception_message')}")
                raise WorkflowError(f"ComfyUI failed the workflow: {detail}")
            return entry
        time.sleep(0.5)
    raise TimeoutError(f"workflow {prompt_id} did not finish within {timeout:.0f}s")


def download_outputs(server: str, entry: dict, out_dir: Path) -> list[Path]:
    """Fetch every file the workflow's output nodes report (images, animated images, videos)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    saved = []
    for node_out in entry.get("outputs", {}).values():
        for key in ("images", "gifs", "videos", "animated"):
            for item in node_out.get(key, []) or []:
                if not isinstance(item, dict) or "filename" not in item:
                    continue
                q = urllib.parse.urlencode({k: item.get(k, "") for k in ("filename", "subfolder", "type")})
                sub = [p for p in Path(item.get("subfolder") or "").parts if p not in ("..", "/", "")]
                target = out_dir.joinpath(*sub, Path(item["filename"]).name)
                target.parent.mkdir(parents=True, exist_ok=True)
                with urllib.request.urlopen(_url(server, f"/view?{q}"), timeout=120) as r:
                    target.write_bytes(r.read())
                saved.append(target)
    return saved


def queue_workflow(server: str, graph: dict, out_dir: Path, timeout: float = 3600) -> tuple[dict, list[Path]]:
    """Submit an API-format ``graph``, show progress, save outputs. Returns (history entry, saved files)."""
    client_id = uuid.uuid4().hex
    prompt_id = submit(server, graph, client_id)
    entry = wait_for(server, prompt_id, client_id, graph, timeout)
    return entry, download_outputs(server, entry, out_dir)


def load_graph(path: Path) -> dict:
    """Read an API-format workflow (``workflows/api/*.json``).

    Raises:
        WorkflowError: ``path`` is a UI-format workflow (it has ``nodes`` and ``links``).
    """
    graph = json.loads(Path(path).read_text())
    if "nodes" in graph and "links" in graph:
        raise WorkflowError(f"{path} is a UI-format workflow; queue the API-format file from workflows/api/")
    return graph
