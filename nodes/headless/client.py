"""HTTP and websocket client of a running ComfyUI: submit an API-format graph to ``/prompt``, follow its
progress on ``/ws``, read ``/history``, download the outputs from ``/view`` and upload input media to
``/upload/image``.

Standard library only, plus ``aiohttp`` for the websocket progress bar when it is importable (ComfyUI
ships it); without it progress falls back to polling ``/history``. The routes are those of ComfyUI's
``server.py``.

Every failure a user can cause (a bad file, a bad address, a server that is absent or answers an error)
raises a :class:`HeadlessError` whose message is one line; the command line prints it and exits non-zero.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path


class HeadlessError(RuntimeError):
    """A failure the user can act on; ``str()`` is the message the command line prints.

    ``exit_code``: 1 for a failed run, 2 for a bad invocation (see :class:`UsageError`).
    """

    exit_code = 1


class UsageError(HeadlessError):
    """A bad invocation: an argument that cannot be right whatever the server says."""

    exit_code = 2


class WorkflowError(HeadlessError):
    """The workflow file is unusable, or the server refused or failed it; the message lists the node errors."""


class ServerError(HeadlessError):
    """The server is absent, does not answer in time, or answered an HTTP error that is not a validation error."""


_HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*)$")


def check_server(server: str, flag: str = "--server") -> str:
    """Return ``server`` if it is ``HOST``, ``HOST:PORT`` or ``http(s)://HOST[:PORT][/path]``.

    Raises:
        UsageError: anything else (spaces, an empty host, a port outside 1 … 65535, another scheme).
    """
    raw = str(server).strip()
    parsed = urllib.parse.urlsplit(raw if "://" in raw else f"http://{raw}")
    bad = UsageError(f"bad {flag} {server!r}: expected HOST:PORT or http://HOST:PORT (e.g. 127.0.0.1:8188)")
    try:
        port = parsed.port
    except ValueError:
        raise bad from None
    host = parsed.netloc.rsplit("@", 1)[-1]
    host = host[: host.rfind(":")] if port is not None else host
    if parsed.scheme not in ("http", "https") or not host or not _HOST.match(host) or parsed.query or parsed.fragment:
        raise bad
    if port is not None and not 0 < port < 65536:
        raise bad
    return raw


def _url(server: str, path: str) -> str:
    base = server if server.startswith(("http://", "https://")) else f"http://{server}"
    return base.rstrip("/") + path


def _first_line(body: bytes, limit: int = 160) -> str:
    text = body.decode("utf-8", "replace").strip()
    text = re.sub(r"<[^>]+>", " ", text)  # an HTML error page: keep its words
    text = " ".join(text.split())
    return (text[:limit] + "…") if len(text) > limit else text


def request(server: str, path: str, data: bytes | None = None, headers: dict | None = None, timeout: float = 30,
            method: str | None = None) -> bytes:
    """One HTTP request to ``server``; returns the body.

    Raises:
        ServerError: the server cannot be reached, does not answer within ``timeout`` s, or answers an
            HTTP error (the message has the status and the first words of the body).
        urllib.error.HTTPError: only for 400 and 404, which callers interpret (validation errors, a
            missing file), with the body still readable.
    """
    method = method or ("POST" if data is not None else "GET")
    req = urllib.request.Request(_url(server, path), data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.read()
    except urllib.error.HTTPError as e:
        if e.code in (400, 404):
            raise
        raise ServerError(f"ComfyUI at {server} answered {e.code} {e.reason} to {method} {path.split('?')[0]}"
                          + (f": {_first_line(e.read())}" if e.fp else "")) from None
    except (socket.timeout, TimeoutError):
        raise ServerError(f"ComfyUI at {server} did not answer {method} {path.split('?')[0]} within "
                          f"{timeout:g} s") from None
    except urllib.error.URLError as e:
        if isinstance(e.reason, TimeoutError):
            raise ServerError(f"ComfyUI at {server} did not answer {method} {path.split('?')[0]} within "
                              f"{timeout:g} s") from None
        reason = e.reason.strerror if isinstance(e.reason, OSError) and e.reason.strerror else e.reason
        raise ServerError(f"cannot reach ComfyUI at {server}: {reason} (start it, or pass --server HOST:PORT)") \
            from None
    except (ConnectionError, OSError) as e:  # reset mid-answer, a malformed status line (http.client)
        raise ServerError(f"cannot reach ComfyUI at {server}: {e.strerror or e}") from None


def _get_json(server: str, path: str, timeout: float = 30):
    body = request(server, path, timeout=timeout)
    try:
        return json.loads(body)
    except ValueError:
        raise ServerError(f"{server} answered GET {path.split('?')[0]} with something that is not JSON "
                          f"({_first_line(body, 60)!r}): is it a ComfyUI server?") from None


def server_problem(server: str, timeout: float = 2.0) -> str | None:
    """``None`` when ``server`` answers ``/system_stats`` with JSON, else the one-line reason."""
    try:
        _get_json(server, "/system_stats", timeout=timeout)
        return None
    except urllib.error.HTTPError as e:
        return f"ComfyUI at {server} answered {e.code} {e.reason} to GET /system_stats"
    except HeadlessError as e:
        return str(e)


def server_alive(server: str, timeout: float = 2.0) -> bool:
    """True when ``server`` answers ``/system_stats`` with JSON."""
    return server_problem(server, timeout) is None


def system_stats(server: str) -> dict:
    """The server's ``/system_stats`` (``system.argv`` holds the arguments it was started with)."""
    return _get_json(server, "/system_stats", timeout=10)


def format_validation_error(body: dict, graph: dict) -> str:
    """Turn ComfyUI's 400 answer from ``/prompt`` into one readable line per problem."""
    err = body.get("error", {})
    lines = [f"ComfyUI refused the workflow: {err.get('message', err) if isinstance(err, dict) else err}"]
    for node_id, info in (body.get("node_errors") or {}).items():
        cls = info.get("class_type") or graph.get(node_id, {}).get("class_type", "?")
        for e in info.get("errors", []):
            detail = e.get("details") or e.get("message")
            lines.append(f"  node {node_id} ({cls}): {e.get('message')}: {detail}")
    return "\n".join(lines)


def submit(server: str, graph: dict, client_id: str, extra_data: dict | None = None) -> str:
    """POST an API-format graph to ``/prompt``; return its prompt id.

    Raises:
        WorkflowError: validation failed (400), or ComfyUI queued only some outputs (node errors listed).
        ServerError: see :func:`request`.
    """
    payload = {"prompt": graph, "client_id": client_id}
    if extra_data:
        payload["extra_data"] = extra_data
    data = json.dumps(payload).encode()
    try:
        raw = request(server, "/prompt", data, {"Content-Type": "application/json"}, timeout=60)
    except urllib.error.HTTPError as e:
        text = e.read()
        try:
            body = json.loads(text or b"{}")
        except ValueError:
            raise ServerError(f"ComfyUI at {server} answered {e.code} to POST /prompt: {_first_line(text)}") from None
        raise WorkflowError(format_validation_error(body, graph)) from None
    try:
        body = json.loads(raw)
    except ValueError:
        raise ServerError(f"{server} answered POST /prompt with something that is not JSON: is it ComfyUI?") from None
    if body.get("node_errors"):
        # ComfyUI queues the outputs that validated and silently drops the others: refuse that.
        raise WorkflowError(format_validation_error({"error": {"message": "some outputs failed validation"},
                                                     "node_errors": body["node_errors"]}, graph)
                            + f"\n  (prompt {body.get('prompt_id')} was queued with the valid outputs only)")
    if "prompt_id" not in body:
        raise ServerError(f"{server} answered POST /prompt without a prompt id: is it ComfyUI?")
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
                        if await asyncio.to_thread(history_entry, server, prompt_id) is not None:
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

    try:
        asyncio.run(run())
    except aiohttp.ClientError:
        pass  # the websocket is only for the progress bar: fall back to polling /history
    sys.stderr.write("\n")


def history_entry(server: str, prompt_id: str):
    """The finished ``/history`` entry of ``prompt_id`` (status success or error), or None while it runs."""
    hist = _get_json(server, f"/history/{prompt_id}")
    entry = hist.get(prompt_id) if isinstance(hist, dict) else None
    if entry and entry.get("status", {}).get("completed") is not None:
        if entry["status"].get("status_str") in ("success", "error"):
            return entry
    return None


_history_entry = history_entry  # the older private name


def execution_error(entry: dict) -> str:
    """One line for a failed ``/history`` entry: the node, its type and the exception message."""
    msgs = [m for m in entry["status"].get("messages", []) if m[0] == "execution_error"]
    detail = msgs[0][1] if msgs else entry["status"]
    if isinstance(detail, dict):
        detail = (f"node {detail.get('node_id')} ({detail.get('node_type')}): "
                  f"{detail.get('exception_type')}: {detail.get('exception_message')}")
    return f"ComfyUI failed the workflow: {detail}"


def wait_for(server: str, prompt_id: str, client_id: str | None, graph: dict, timeout: float = 3600,
             progress: bool = True) -> dict:
    """Wait until the prompt finishes (with a progress bar from ``/ws`` when ``progress``); return its
    ``/history`` entry.

    Raises:
        WorkflowError: the prompt failed (the message names the node and the exception).
        TimeoutError: it did not finish within ``timeout`` s.
    """
    if progress and client_id:
        try:
            _watch_websocket(server, client_id, prompt_id, graph, timeout)
        except ImportError:
            pass  # no aiohttp: poll only
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        entry = history_entry(server, prompt_id)
        if entry is not None:
            if entry["status"]["status_str"] != "success":
                raise WorkflowError(execution_error(entry))
            return entry
        time.sleep(0.3)
    raise TimeoutError(f"workflow {prompt_id} did not finish within {timeout:.0f}s")


def slug(text: str, limit: int = 80) -> str:
    """A file-name-safe form of ``text``: letters, digits and ``. = + -`` kept, runs of others become ``_``."""
    s = re.sub(r"[^A-Za-z0-9.=+-]+", "_", str(text)).strip("._") or "output"
    return s[:limit]


def output_items(entry: dict, types=None) -> list[tuple[str, int, dict]]:
    """``[(node id, index, file item)]`` for every file the workflow's output nodes report (images, animated
    images, videos), restricted to the ComfyUI folder ``types`` (``output``, ``temp``) when given."""
    found = []
    for node_id, node_out in (entry.get("outputs") or {}).items():
        items = []
        for key in ("images", "gifs", "videos", "animated"):
            for item in node_out.get(key, []) or []:
                if isinstance(item, dict) and "filename" in item and (types is None or item.get("type") in types):
                    items.append(item)
        found += [(node_id, i, item) for i, item in enumerate(items)]
    return found


def output_names(items: list[tuple[str, int, dict]], graph: dict, suffix: str = "") -> list[str]:
    """Meaningful file names for :func:`output_items`: ``<node title>[<suffix>][_NN].<ext>`` (the node id is
    added where two nodes share a title, ``_NN`` where a node saved several files)."""
    counts: dict[str, int] = {}
    titles = {}
    for node_id, _i, _item in items:
        node = graph.get(node_id, {})
        titles[node_id] = slug(node.get("_meta", {}).get("title") or node.get("class_type") or node_id, 60)
    by_title: dict[str, set] = {}
    for nid, t in titles.items():
        by_title.setdefault(t, set()).add(nid)
    for node_id, _i, _item in items:
        counts[node_id] = counts.get(node_id, 0) + 1
    names = []
    for node_id, i, item in items:
        base = titles[node_id] + (f"_{slug(node_id)}" if len(by_title[titles[node_id]]) > 1 else "") + suffix
        ext = Path(item["filename"]).suffix.lower()
        names.append(base + (f"_{i + 1:02d}" if counts[node_id] > 1 else "") + ext)
    return names


def fetch_file(server: str, item: dict, target: Path, timeout: float = 300) -> Path:
    """Download one file item (``filename``, ``subfolder``, ``type``) from ``/view`` to ``target`` atomically."""
    q = urllib.parse.urlencode({k: item.get(k, "") for k in ("filename", "subfolder", "type")})
    body = request(server, f"/view?{q}", timeout=timeout)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
    tmp.write_bytes(body)
    os.replace(tmp, target)
    return target


def download_outputs(server: str, entry: dict, out_dir: Path, graph: dict | None = None, types=None,
                     suffix: str = "") -> list[Path]:
    """Fetch every file the workflow's output nodes report into ``out_dir``, named after the node's title
    (see :func:`output_names`), not ComfyUI's counter names. Returns the saved paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    items = output_items(entry, types)
    names = output_names(items, graph or {}, suffix)
    return [fetch_file(server, item, out_dir / name) for (_nid, _i, item), name in zip(items, names)]


def queue_workflow(server: str, graph: dict, out_dir: Path, timeout: float = 3600) -> tuple[dict, list[Path]]:
    """Submit an API-format ``graph``, show progress, save outputs. Returns (history entry, saved files)."""
    client_id = uuid.uuid4().hex
    prompt_id = submit(server, graph, client_id)
    entry = wait_for(server, prompt_id, client_id, graph, timeout)
    return entry, download_outputs(server, entry, out_dir, graph)


def file_on_server(server: str, name: str, folder: str = "input") -> bool:
    """True when ``name`` (``subfolder/file`` allowed) is in the server's ``folder`` (``input``, ``output``)."""
    sub, _, fname = name.rpartition("/")
    q = urllib.parse.urlencode({"filename": fname, "subfolder": sub, "type": folder})
    try:
        request(server, f"/view?{q}", method="HEAD", timeout=30)
        return True
    except urllib.error.HTTPError:
        return False


def upload_input(server: str, name: str, data: bytes) -> str:
    """Upload ``data`` as ``name`` into the server's input folder (``/upload/image``, which takes any file,
    videos too); return the name the server stored it under (it renames on a clash with another file)."""
    sub, _, fname = name.rpartition("/")
    boundary = uuid.uuid4().hex
    parts = []
    for field, value in (("type", "input"), ("subfolder", sub)):
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"\r\n\r\n{value}\r\n'.encode())
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{fname}"\r\n'
                 f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    try:
        body = request(server, "/upload/image", b"".join(parts),
                       {"Content-Type": f"multipart/form-data; boundary={boundary}"}, timeout=300)
    except urllib.error.HTTPError as e:
        raise ServerError(f"ComfyUI at {server} refused the upload of {name!r} ({e.code})") from None
    info = json.loads(body)
    return "/".join(p for p in (info.get("subfolder"), info["name"]) if p)


def load_graph(path: Path) -> dict:
    """Read an API-format workflow (``workflows/api/*.json``).

    Raises:
        WorkflowError: ``path`` is missing, a directory, unreadable, empty, binary, not JSON, a UI-format
            workflow (it has ``nodes`` and ``links``), or JSON that is not ``{node id: {class_type, inputs}}``.
    """
    p = Path(path)
    if not p.exists():
        raise WorkflowError(f"workflow file not found: {p}")
    if p.is_dir():
        raise WorkflowError(f"{p} is a directory; give an API-format workflow .json file (e.g. {p}/<name>.json)")
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise WorkflowError(f"cannot read workflow {p}: {e.strerror or e}") from None
    if not raw.strip():
        raise WorkflowError(f"{p} is empty; expected an API-format workflow JSON")
    if b"\0" in raw[:8192]:
        raise WorkflowError(f"{p} is a binary file, not an API-format workflow JSON")
    try:
        graph = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise WorkflowError(f"{p} is not UTF-8 text (a binary file?); expected an API-format workflow JSON") from None
    except ValueError as e:
        raise WorkflowError(f"{p} is not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    if isinstance(graph, dict) and "nodes" in graph and "links" in graph:
        raise WorkflowError(f"{p} is a UI-format workflow; queue the API-format file from workflows/api/ "
                            "(in ComfyUI: Workflow > Export (API))")
    if not isinstance(graph, dict) or not graph or not all(
            isinstance(n, dict) and isinstance(n.get("class_type"), str) and isinstance(n.get("inputs", {}), dict)
            for n in graph.values()):
        raise WorkflowError(f"{p} is JSON but not an API-format workflow: expected "
                            '{"<node id>": {"class_type": ..., "inputs": {...}}, ...} (Workflow > Export (API))')
    for node in graph.values():
        node.setdefault("inputs", {})
    return graph
