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

A subcommand is a function that adds its parser and sets ``func`` (the handler, returning the exit
code); :data:`COMMANDS` lists them.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import urllib.error
from pathlib import Path

from .client import WorkflowError, load_graph, queue_workflow, server_alive
from .comfy_env import PACK_DIR, find_comfyui
from .demo import DEMO_BANNER, TESTING_NODES, prepare_demo_models, standin_graph
from .server import has_cuda, local_comfyui, missing_model_files, stage_input_images


def _queue_all(server: str, graphs: dict[str, dict], out_dir: Path, timeout: float, where: str = "") -> None:
    for name, graph in graphs.items():
        print(f"queueing {name}{where}")
        _entry, files = queue_workflow(server, graph, out_dir / name, timeout)
        print(f"  saved: {', '.join(map(str, files)) or 'nothing'}")


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
        _queue_all(server, graphs, out_dir, timeout, f" on {server}")
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
        with local_comfyui(comfy_dir, work, model_root, extra, cpu=use_demo or not has_cuda()) as srv:
            _queue_all(srv, graphs, out_dir, timeout)
    if use_demo:
        print(DEMO_BANNER)
    return 0


def _common_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=Path("outputs"), help="where to save outputs (default: outputs/)")
    p.add_argument("--timeout", type=float, default=3600, help="seconds to wait per workflow")


def add_queue(sub) -> None:
    """``queue FILE…``: queue API workflows on a running ComfyUI (``--server``) and save their outputs."""
    q = sub.add_parser("queue", help="queue API workflows on a running ComfyUI and save outputs")
    q.add_argument("workflows", nargs="+", type=Path, help="API-format workflow JSON files (workflows/api/)")
    _common_options(q)
    q.add_argument("--server", default="127.0.0.1:8188", help="ComfyUI address (default 127.0.0.1:8188)")
    q.set_defaults(func=_queue_command)


def _queue_command(a: argparse.Namespace) -> int:
    for wf in a.workflows:  # one at a time: a bad file fails after the ones before it were queued
        _queue_all(a.server, {wf.stem: load_graph(wf)}, a.out, a.timeout, f" on {a.server}")
    return 0


def add_run(sub) -> None:
    """``run [FILE…]``: the main job, see :func:`run`."""
    r = sub.add_parser("run", help="main job: queue on --server if it answers, else start a local ComfyUI "
                                   "(demo mode where the official weights are absent)")
    r.add_argument("workflows", nargs="*", type=Path,
                   help="API-format workflow JSON files (default: every bundled workflow in workflows/api/)")
    _common_options(r)
    r.add_argument("--server", default=None, help="use this running ComfyUI if it answers")
    r.add_argument("--comfyui", default=None, help="ComfyUI checkout to start (default: $COMFYUI_PATH, ~/comfy/ComfyUI)")
    r.add_argument("--demo", choices=["auto", "on", "off"], default="auto",
                   help="auto: demo mode only where official model files are missing")
    r.set_defaults(func=lambda a: run(a.workflows or sorted((PACK_DIR / "workflows" / "api").glob("*.json")),
                                      a.out, a.server, a.comfyui, a.demo, a.timeout))


#: the subcommands, in the order ``--help`` lists them
COMMANDS = (add_queue, add_run)


def main(argv=None) -> int:
    """Command line (``python -m nodes.headless queue|run …``); returns the exit code (0 ok, 1 failed, 2 no ComfyUI)."""
    ap = argparse.ArgumentParser(prog="python -m nodes.headless", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for add in COMMANDS:
        add(sub)
    a = ap.parse_args(argv)
    try:
        return a.func(a)
    except (WorkflowError, TimeoutError) as e:
        print(e, file=sys.stderr)
        return 1
    except urllib.error.URLError as e:
        print(f"cannot reach ComfyUI: {e.reason}", file=sys.stderr)
        return 1
