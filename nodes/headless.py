"""Queue bundled workflows headless through ComfyUI's HTTP API; demo mode without weights.

Commands (run from the pack's folder with the Python that runs ComfyUI)::

    # queue an API-format workflow on a running ComfyUI and save its outputs
    python -m nodes.headless queue workflows/api/wan21_t2v_relaxation_cfg.json --server 127.0.0.1:8188

    # the main job (no file: every bundled workflow): queue on --server if one answers; otherwise start a local headless ComfyUI
    # ($COMFYUI_PATH or ~/comfy/ComfyUI). Where the official model files are absent it runs in
    # demo mode: tiny random-weight stand-ins, stand-in text conditioning, CPU-sized frames.
    python -m nodes.headless run workflows/api/wan21_t2v_relaxation_cfg.json

Progress comes from the server's websocket (``/ws``), validation errors from ``/prompt`` are
printed node by node, and every image the workflow saves is downloaded into ``--out``.

Standard library only (plus ``aiohttp`` for the websocket progress bar, which ComfyUI ships;
without it progress falls back to polling ``/history``).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

PACK_DIR = Path(__file__).resolve().parents[1]
TESTING_NODES = PACK_DIR / "tests" / "testing_nodes" / "inertia_testing"

DEMO_BANNER = ("DEMO MODE: the official model files are absent, so tiny random-weight stand-ins with the real "
               "key layouts are used, text encoders are replaced by stand-in conditioning, and frames are "
               "CPU-sized. The frames are noise from random weights: this run proves the plumbing, not the quality.")


class WorkflowError(RuntimeError):
    """The server refused or failed a workflow; the message lists the node errors."""


# --------------------------------------------------------------------------- HTTP client

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


# --------------------------------------------------------------------------- local server

#: models folder kind → the folder names ComfyUI accepts for it (legacy names second)
MODEL_FOLDERS = {"diffusion_models": ("diffusion_models", "unet"), "vae": ("vae",),
                 "text_encoders": ("text_encoders", "clip"), "clip_vision": ("clip_vision",), "loras": ("loras",)}


def find_comfyui(explicit: str | None = None) -> Path | None:
    """``explicit``, else ``$COMFYUI_PATH``, else the pack's custom_nodes parent, else ``~/comfy/ComfyUI``."""
    cands = [explicit, os.environ.get("COMFYUI_PATH")]
    if PACK_DIR.parent.name == "custom_nodes":
        cands.append(str(PACK_DIR.parent.parent))
    cands.append(str(Path.home() / "comfy" / "ComfyUI"))
    for c in cands:
        if c and (Path(c) / "main.py").is_file():
            return Path(c).resolve()
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def local_comfyui(comfy_dir: Path, workdir: Path, model_root: Path | None = None, extra_nodes=(),
                  cpu: bool = True, python: str | None = None, startup_timeout: float = 180):
    """Start ``main.py`` on loopback with the pack in a temporary ``custom_nodes``; yield the server address.

    Args:
        comfy_dir: the ComfyUI checkout.
        workdir: base directory for custom_nodes, input, output, temp and user folders.
        model_root: a folder with ``diffusion_models/``, ``vae/``… passed through
            ``--extra-model-paths-config``.
        extra_nodes: more custom-node folders to link in (the test conditioning node).
    The server is shut down (terminate, then kill) when the block exits.
    """
    custom = workdir / "custom_nodes"
    custom.mkdir(parents=True, exist_ok=True)
    for src in (PACK_DIR, *extra_nodes):
        link = custom / ("ComfyUI-Inertia" if Path(src) == PACK_DIR else Path(src).name)
        if not link.exists():
            link.symlink_to(Path(src).resolve(), target_is_directory=True)
    cfg = workdir / "extra_model_paths.yaml"
    lines = ["inertia:", f"  base_path: {model_root or workdir}"]
    for folder, aliases in MODEL_FOLDERS.items():
        lines.append(f"  {folder}: |")
        lines += [f"    {a}" for a in aliases]
    cfg.write_text("\n".join(lines) + "\n")
    configs = [str(cfg)]
    user_cfg = Path(comfy_dir) / "extra_model_paths.yaml"  # main.py reads it by itself only with its own base dir
    if user_cfg.is_file():
        configs.append(str(user_cfg))
    port = free_port()
    cmd = [python or sys.executable, "main.py", "--listen", "127.0.0.1", "--port", str(port),
           "--base-directory", str(workdir), "--extra-model-paths-config", *configs,
           "--disable-api-nodes", "--database-url", "sqlite:///:memory:", "--disable-auto-launch"]
    if cpu:
        cmd.append("--cpu")
    log_path = workdir / "comfyui.log"
    log = open(log_path, "w")
    proc = subprocess.Popen(cmd, cwd=comfy_dir, stdout=log, stderr=subprocess.STDOUT)
    server = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_timeout
        while not server_alive(server):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ComfyUI did not start (exit {proc.poll()}); log: {log_path}\n"
                                   + log_path.read_text()[-3000:])
            time.sleep(0.5)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


# --------------------------------------------------------------------------- demo mode

#: CPU-sized overrides applied in demo mode: (class_type, input) → value
DEMO_SIZES = {**{(cls, key): value for cls in ("EmptyHunyuanLatentVideo", "WanImageToVideo", "WanFirstLastFrameToVideo",
                                                 "WanVaceToVideo", "HunyuanImageToVideo")
                   for key, value in (("width", 64), ("height", 64), ("length", 5))},
              ("KSampler", "steps"): 4, ("BasicScheduler", "steps"): 4, ("KSamplerAdvanced", "steps"): 4,
              ("ImageScale", "width"): 64, ("ImageScale", "height"): 64,
              # 1-frame windows, and as many sections as the real 5 s at window 9 (4): per-section lists still fit
              ("FramePackSectionSampler", "steps"): 2, ("FramePackSectionSampler", "latent_window_size"): 1,
              ("FramePackSectionSampler", "total_seconds"): 0.53}

#: CPU-sized caps applied in demo mode (value = min(value, cap)): frame counts
DEMO_CAPS = {("ImageFromBatch", "length"): 9, ("VACEKeyframeBuilder", "length"): 9,
             ("VACEExtensionBuilder", "generate"): 7}

#: packages whose templates/ folders hold the real example media the bundled workflows name
MEDIA_PACKAGES = ("comfyui_workflow_templates_media_video", "comfyui_workflow_templates_media_image")


def required_model_files(graph: dict) -> dict[str, str]:
    """``{file name: models folder}`` for the model files an API graph loads."""
    found = {}
    for node in graph.values():
        ins = node.get("inputs", {})
        for key, folder in (("unet_name", "diffusion_models"), ("model_name", "diffusion_models"), ("vae_name", "vae"),
                            ("clip_name", "text_encoders"),
                            ("clip_name1", "text_encoders"), ("clip_name2", "text_encoders")):
            if key == "model_name" and node["class_type"] != "FramePackModelLoader":
                continue
            if isinstance(ins.get(key), str):
                found[ins[key]] = "clip_vision" if node["class_type"] == "CLIPVisionLoader" else folder
    return found


def missing_model_files(graph: dict, comfy_dir: Path) -> list[str]:
    """Model files the graph names that are in none of ComfyUI's ``models/`` folders for their kind.

    (Files reachable only through the user's own ``extra_model_paths.yaml`` count as missing here; the
    server started by :func:`local_comfyui` still loads that yaml, so a real run finds them.)
    """
    models = comfy_dir / "models"
    missing = []
    for name, folder in required_model_files(graph).items():
        if not any((models / d / name).is_file() for d in MODEL_FOLDERS.get(folder, (folder,))):
            missing.append(name)
    return missing


def standin_graph(graph: dict, cpu_sizes: bool = True) -> dict:
    """Replace text-encoder nodes by ``InertiaTestConditioning`` and shrink sizes; the rest is unchanged.

    Returns a new API graph; ``graph`` is not modified.
    """
    g = copy.deepcopy(graph)
    loaders = {}
    for nid, node in g.items():
        if node["class_type"] == "CLIPLoader":
            loaders[nid] = "wan" if node["inputs"].get("type") == "wan" else "hunyuan"
        elif node["class_type"] == "DualCLIPLoader":
            loaders[nid] = "hunyuan"
    for seed, (nid, node) in enumerate(sorted(g.items())):
        clip = node.get("inputs", {}).get("clip")
        if node["class_type"] == "CLIPTextEncode" and isinstance(clip, list) and clip[0] in loaders:
            g[nid] = {"class_type": "InertiaTestConditioning", "_meta": {"title": "stand-in text encoder"},
                      "inputs": {"kind": loaders[clip[0]], "seed": seed, "text": node["inputs"].get("text", "")}}
    for nid in loaders:
        del g[nid]
    vision = {nid for nid, n in g.items() if n["class_type"] == "CLIPVisionLoader"}
    for seed, (nid, node) in enumerate(sorted(g.items())):
        if node["class_type"] == "CLIPVisionEncode" and node["inputs"].get("clip_vision", [None])[0] in vision:
            loader = g[node["inputs"]["clip_vision"][0]]["inputs"].get("clip_name", "")
            kind = "siglip" if "sigclip" in loader or "siglip" in loader else "clip_h"
            g[nid] = {"class_type": "InertiaTestClipVision", "_meta": {"title": "stand-in image encoder"},
                      "inputs": {"image": node["inputs"]["image"], "seed": seed, "kind": kind}}
    for nid in vision:
        del g[nid]
    if cpu_sizes:
        old_sizes = {nid: (n["inputs"].get("width"), n["inputs"].get("height")) for nid, n in g.items()
                     if n["class_type"] == "ImageScale"}
        for node in g.values():
            ins = node["inputs"]
            for (cls, key), value in DEMO_SIZES.items():
                if node["class_type"] == cls and key in ins and not isinstance(ins[key], list):
                    ins[key] = value
            for (cls, key), cap in DEMO_CAPS.items():
                if node["class_type"] == cls and isinstance(ins.get(key), int):
                    ins[key] = min(ins[key], cap)
        for node in g.values():  # pixel boxes follow the frames they refer to
            ins = node["inputs"]
            src = ins.get("video")
            if node["class_type"] == "VACERepaintBuilder" and isinstance(src, list) and src[0] in old_sizes \
                    and ins.get("bbox") and ":" not in ins["bbox"]:
                (w0, h0), (w1, h1) = old_sizes[src[0]], (g[src[0]]["inputs"]["width"], g[src[0]]["inputs"]["height"])
                x0, y0, x1, y1 = (float(v) for v in ins["bbox"].split(","))
                ins["bbox"] = ",".join(str(int(round(v))) for v in (x0 * w1 / w0, y0 * h1 / h0, x1 * w1 / w0, y1 * h1 / h0))
    return g


def write_standin_models(graph: dict, model_root: Path) -> list[str]:
    """Write a stand-in for every diffusion model and VAE file the graph names; return what was written."""
    from . import framepack_standin, standins

    by_file = {official: name for name, (official, _kind, _kw) in standins.STANDINS.items()}
    framepack_files = set(framepack_standin.FRAMEPACK_STANDINS.values())
    written = []
    for fname, folder in required_model_files(graph).items():
        target = model_root / folder / fname
        if target.exists() or folder in ("text_encoders", "clip_vision"):  # replaced by stand-in nodes
            continue
        if folder == "diffusion_models" and fname in by_file:
            standins.write_diffusion_model(by_file[fname], str(target.parent), fname)
        elif folder == "diffusion_models" and fname in framepack_files:
            framepack_standin.write_framepack_model(str(target.parent), fname)
        elif folder == "vae" and fname in standins.VAE_STANDINS:
            standins.VAE_STANDINS[fname](str(target.parent), fname)
        else:
            raise WorkflowError(f"demo mode has no stand-in for {folder}/{fname}")
        written.append(f"{folder}/{fname}")
    return written


def prepare_demo_models(graphs: list[dict], model_root: Path, comfy_dir: Path) -> None:
    """Write the stand-ins in a subprocess that imports ComfyUI (keeps this client light)."""
    code = ("import sys, json; sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[2]);"
            "from comfy.cli_args import args; args.cpu = True;"
            "import importlib.util as u; s = u.spec_from_file_location('inertia_demo', sys.argv[2] + '/__init__.py',"
            " submodule_search_locations=[sys.argv[2]]); m = u.module_from_spec(s); sys.modules['inertia_demo'] = m;"
            " s.loader.exec_module(m); from inertia_demo.nodes.headless import write_standin_models;"
            "from pathlib import Path; graphs = json.load(open(sys.argv[3]));"
            "[print('wrote', w) for g in graphs for w in write_standin_models(g, Path(sys.argv[4]))]")
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(graphs, f)
    subprocess.run([sys.executable, "-c", code, str(comfy_dir), str(PACK_DIR), f.name, str(model_root)],
                   check=True, cwd=str(model_root))


def input_images(graph: dict) -> list[str]:
    """File names the graph's ``LoadImage`` nodes read from ComfyUI's input folder."""
    return sorted({n["inputs"]["image"] for n in graph.values()
                   if n["class_type"] == "LoadImage" and isinstance(n["inputs"].get("image"), str)})


def stage_input_images(graph: dict, input_dir: Path, comfy_dir: Path | None = None) -> list[Path]:
    """Copy every image the graph loads into ``input_dir``, from ComfyUI's input folder or the
    official template media packages (real images, e.g. ``video_wan2_2_14B_i2v-2.webp``)."""
    import importlib.util
    import shutil

    roots = [comfy_dir / "input"] if comfy_dir else []
    for pkg in MEDIA_PACKAGES:
        spec = importlib.util.find_spec(pkg)
        if spec and spec.submodule_search_locations:
            roots.append(Path(list(spec.submodule_search_locations)[0]) / "templates")
    input_dir.mkdir(parents=True, exist_ok=True)
    staged = []
    for name in input_images(graph):
        src = next((r / name for r in roots if (r / name).is_file()), None)
        if src is None:
            raise WorkflowError(f"input image {name!r} is in neither ComfyUI's input folder nor the template "
                                f"media packages ({', '.join(MEDIA_PACKAGES)}); put it in ComfyUI/input")
        shutil.copyfile(src, input_dir / name)
        staged.append(input_dir / name)
    return staged


def load_graph(path: Path) -> dict:
    graph = json.loads(Path(path).read_text())
    if "nodes" in graph and "links" in graph:
        raise WorkflowError(f"{path} is a UI-format workflow; queue the API-format file from workflows/api/")
    return graph


def run(workflows: list[Path], out_dir: Path, server: str | None, comfy_path: str | None, demo: str,
        timeout: float) -> int:
    """The main job: queue ``workflows`` on ``server`` if it answers, else on a local headless ComfyUI
    (demo mode with stand-ins where official model files are missing, or when ``demo == "on"``).
    Outputs go to ``out_dir/<workflow>/``. Returns the process exit code (2: no ComfyUI found).

    Raises:
        WorkflowError: a workflow was refused or failed; TimeoutError: it did not finish in ``timeout`` s.
    """
    graphs = {Path(p).stem: load_graph(Path(p)) for p in workflows}
    if server and server_alive(server):
        for name, graph in graphs.items():
            print(f"queueing {name} on {server}")
            _entry, files = queue_workflow(server, graph, out_dir / name, timeout)
            print(f"  saved: {', '.join(map(str, files)) or 'nothing'}")
        return 0
    comfy_dir = find_comfyui(comfy_path)
    if comfy_dir is None:
        print("No ComfyUI found: pass --comfyui PATH or set COMFYUI_PATH (or start one and pass --server).")
        return 2
    missing = sorted({m for g in graphs.values() for m in missing_model_files(g, comfy_dir)})
    use_demo = demo == "on" or (demo == "auto" and missing)
    with tempfile.TemporaryDirectory(prefix="inertia-headless-") as tmp:
        work = Path(tmp)
        model_root = None
        extra = ()
        if use_demo:
            print(DEMO_BANNER)
            if missing:
                print(f"  missing official files: {', '.join(missing)}")
            graphs = {k: standin_graph(g) for k, g in graphs.items()}
            model_root = work / "models"
            model_root.mkdir(parents=True)
            prepare_demo_models(list(graphs.values()), model_root, comfy_dir)
            extra = (TESTING_NODES,)
        else:
            model_root = comfy_dir / "models"
        for graph in graphs.values():
            stage_input_images(graph, work / "input", comfy_dir)
        print(f"starting ComfyUI from {comfy_dir} (headless, loopback)")
        with local_comfyui(comfy_dir, work, model_root, extra, cpu=use_demo or not _has_cuda()) as srv:
            for name, graph in graphs.items():
                print(f"queueing {name}")
                _entry, files = queue_workflow(srv, graph, out_dir / name, timeout)
                print(f"  saved: {', '.join(map(str, files)) or 'nothing'}")
    if use_demo:
        print(DEMO_BANNER)
    return 0


def _has_cuda() -> bool:
    try:
        import torch
        return torch.cuda.is_available()
    except ImportError:
        return False


def main(argv=None) -> int:
    """Command line (``python -m nodes.headless queue|run …``); returns the exit code (0 ok, 1 failed, 2 no ComfyUI)."""
    ap = argparse.ArgumentParser(prog="python -m nodes.headless", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("queue", help="queue API workflows on a running ComfyUI and save outputs")
    r = sub.add_parser("run", help="main job: queue on --server if it answers, else start a local ComfyUI "
                                   "(demo mode where the official weights are absent)")
    q.add_argument("workflows", nargs="+", type=Path, help="API-format workflow JSON files (workflows/api/)")
    r.add_argument("workflows", nargs="*", type=Path,
                   help="API-format workflow JSON files (default: every bundled workflow in workflows/api/)")
    for p in (q, r):
        p.add_argument("--out", type=Path, default=Path("outputs"), help="where to save outputs (default: outputs/)")
        p.add_argument("--timeout", type=float, default=3600, help="seconds to wait per workflow")
    q.add_argument("--server", default="127.0.0.1:8188", help="ComfyUI address (default 127.0.0.1:8188)")
    r.add_argument("--server", default=None, help="use this running ComfyUI if it answers")
    r.add_argument("--comfyui", default=None, help="ComfyUI checkout to start (default: $COMFYUI_PATH, ~/comfy/ComfyUI)")
    r.add_argument("--demo", choices=["auto", "on", "off"], default="auto",
                   help="auto: demo mode only where official model files are missing")
    a = ap.parse_args(argv)
    try:
        if a.cmd == "queue":
            for wf in a.workflows:
                graph = load_graph(wf)
                print(f"queueing {wf.stem} on {a.server}")
                _e, files = queue_workflow(a.server, graph, a.out / wf.stem, a.timeout)
                print(f"  saved: {', '.join(map(str, files)) or 'nothing'}")
            return 0
        workflows = a.workflows or sorted((PACK_DIR / "workflows" / "api").glob("*.json"))
        return run(workflows, a.out, a.server, a.comfyui, a.demo, a.timeout)
    except (WorkflowError, TimeoutError) as e:
        print(e, file=sys.stderr)
        return 1
    except urllib.error.URLError as e:
        print(f"cannot reach ComfyUI: {e.reason}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
