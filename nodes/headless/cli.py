"""Queue bundled workflows headless through ComfyUI's HTTP API; parameter sweeps; demo mode without weights.

Commands (run from the pack's folder with the Python that runs ComfyUI)::

    # queue an API-format workflow on a running ComfyUI and save its outputs
    python -m nodes.headless queue workflows/api/wan21_t2v_relaxation_cfg.json --server 127.0.0.1:8188

    # the main job. No file: the testbed workflows (workflows/api/testbed_*.json), which run on the pack's own
    # trained testbed weights with no downloads, on a CPU: stock vs Relaxation CFG mp4s and the change meter's plots.
    # Queued on --server if one answers; otherwise a local headless ComfyUI is started ($COMFYUI_PATH or
    # ~/comfy/ComfyUI).
    python -m nodes.headless run

    # an official-weights workflow (--all: every bundled one). Where its model files are absent it runs in demo
    # mode: tiny random-weight stand-ins, stand-in text conditioning, CPU-sized frames.
    python -m nodes.headless run workflows/api/wan21_t2v_relaxation_cfg.json

    # a sweep: every combination queued on one or several servers, measured by the change meter,
    # a table with 95 % intervals over the seeds, a contact sheet and a plot (see sweep.py)
    python -m nodes.headless sweep workflows/api/wan21_t2v_relaxation_cfg.json \\
        --set RelaxationCFG.beta=-1,-0.5,0,0.5,0.75,1 --set KSampler.seed=0..7 --server A:8188 --server B:8188

Outputs go to ComfyUI's output folder, ``<output>/inertia/<workflow>/`` (``--out`` overrides): for ``run`` the
output folder of the ComfyUI it started from; for ``queue`` / ``sweep`` on a server on this machine the
folder that server saves to (its ``--output-directory`` / ``--base-directory``, read from ``/system_stats``),
else the output folder of the ComfyUI found here. Files are named after the node that saved them (its
title) and, in a sweep, the setting; not after ComfyUI's counters or temporary names.

Input media (images and videos of ``LoadImage`` / ``LoadVideo``) are staged into ComfyUI's input folder from
the official template media packages where they are missing (uploaded through ``/upload/image`` for a
running server); each staged file is reported with where it came from.

Every bad invocation ends with one line on stderr and a non-zero exit (2: bad arguments; 1: a failed run).
A subcommand is a function that adds its parser and sets ``func`` (the handler, returning the exit code);
:data:`COMMANDS` lists them.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

from .client import (
    HeadlessError,
    ServerError,
    UsageError,
    WorkflowError,
    check_server,
    load_graph,
    queue_workflow,
    server_problem,
    system_stats,
)
from .comfy_env import PACK_DIR, find_comfyui
from .demo import DEMO_BANNER, TESTING_NODES, prepare_demo_models, standin_graph
from .server import LocalComfyUI, has_cuda, missing_model_files, stage_input_images, upload_media

LOOPBACK = ("127.0.0.1", "localhost", "::1", "0.0.0.0")


def default_workflows() -> list[Path]:
    """What ``run`` queues without a file: the bundled testbed workflows (``workflows/api/testbed_*.json``), which
    need no download (the pack ships their weights)."""
    return sorted((PACK_DIR / "workflows" / "api").glob("testbed_*.json"))


def all_workflows() -> list[Path]:
    """Every bundled API workflow (``run --all``)."""
    return sorted((PACK_DIR / "workflows" / "api").glob("*.json"))


def resolve_workflow(path: Path) -> Path:
    """``path`` itself, or a bundled workflow's name (``wan21_t2v_relaxation_cfg``) → ``workflows/api/<name>.json``."""
    p = Path(path)
    if not p.exists() and p.parent == Path("."):
        bundled = PACK_DIR / "workflows" / "api" / (p.name if p.suffix == ".json" else f"{p.name}.json")
        if bundled.is_file():
            return bundled
    return p


def _arg_value(argv: list, flag: str) -> str | None:
    for i, a in enumerate(argv):
        if a == flag and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
    return None


def _host(server: str) -> str:
    return urllib.parse.urlsplit(server if "://" in server else f"http://{server}").hostname or ""


def output_root(servers: list[str], comfy_path: str | None = None) -> tuple[Path, str]:
    """ComfyUI's output folder for files fetched from ``servers``, and a few words on why (see the module
    docstring). Servers on this machine are asked for the folder they save to."""
    if servers and all(_host(s) in LOOPBACK for s in servers):
        with contextlib.suppress(HeadlessError, OSError, ValueError, KeyError, TypeError):
            argv = system_stats(servers[0])["system"]["argv"]
            out = _arg_value(argv, "--output-directory")
            base = _arg_value(argv, "--base-directory")
            if out and Path(out).is_absolute():
                return Path(out), f"the output folder of the ComfyUI at {servers[0]}"
            if base and Path(base).is_absolute():
                return Path(base) / "output", f"the output folder of the ComfyUI at {servers[0]}"
    comfy = find_comfyui(comfy_path)
    if comfy is not None:
        return comfy / "output", f"the output folder of the ComfyUI at {comfy}"
    return Path("output").resolve(), "no ComfyUI found on this machine"


def _check_out(path: Path, flag: str = "--out") -> Path:
    from .sweep import check_out_dir

    return check_out_dir(path, flag)


def _queue_all(server: str, graphs: dict[str, dict], out_root: Path, timeout: float, where: str = "") -> None:
    for name, graph in graphs.items():
        print(f"queueing {name}{where}")
        t0 = time.monotonic()
        _entry, files = queue_workflow(server, graph, out_root / name, timeout)
        print(f"  saved: {', '.join(map(str, files)) or 'nothing'}")
        print(f"  {name} took {time.monotonic() - t0:.1f} s")


def _writable_dir(path: Path) -> bool:
    try:
        path.mkdir(parents=True, exist_ok=True)
        return os.access(path, os.W_OK)
    except OSError:
        return False


@contextlib.contextmanager
def local_session(graphs: dict[str, dict], comfy_dir: Path, demo: str, media_graphs=()):
    """Start a local headless ComfyUI for ``graphs`` (demo mode with stand-ins where official model files are
    missing, or when ``demo == "on"``), with every input medium of ``graphs`` and ``media_graphs`` staged into
    ComfyUI's input folder.
    Yields ``(server address, graphs as they will be queued, demo mode on)``."""
    missing = sorted({m for g in graphs.values() for m in missing_model_files(g, comfy_dir)})
    use_demo = demo == "on" or (demo == "auto" and bool(missing))
    with tempfile.TemporaryDirectory(prefix="inertia-headless-") as tmp:
        work = Path(tmp)
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
        input_dir = comfy_dir / "input"
        if not _writable_dir(input_dir):
            print(f"  {input_dir} is not writable: input media go to a temporary input folder")
            input_dir = work / "input"
        for graph in (*graphs.values(), *media_graphs):
            stage_input_images(graph, input_dir, comfy_dir, log=print)
        print(f"starting ComfyUI from {comfy_dir} (headless, loopback)")
        srv = LocalComfyUI(comfy_dir, work, model_root, extra, cpu=use_demo or not has_cuda(), input_dir=input_dir)
        try:
            srv.start()
            yield srv.wait_ready(), graphs, use_demo
        finally:
            srv.stop()


def _find_comfy(comfy_path: str | None) -> Path:
    comfy_dir = find_comfyui(comfy_path)
    if comfy_dir is None:
        raise HeadlessError("no ComfyUI found: pass --comfyui PATH or set COMFYUI_PATH (or start one and pass "
                            "--server)")
    return comfy_dir


def run(workflows: list[Path], out_dir: Path | None, server: str | None, comfy_path: str | None, demo: str,
        timeout: float) -> int:
    """The main job: queue ``workflows`` on ``server`` if it answers, else on a local headless ComfyUI
    (demo mode with stand-ins where official model files are missing, or when ``demo == "on"``).
    Outputs go to ``out_dir/<workflow>/`` (default: ComfyUI's ``output/inertia/<workflow>/``). Returns the
    process exit code.

    Raises:
        HeadlessError: a bad file, folder or address; no ComfyUI found; a workflow refused or failed.
        TimeoutError: a workflow did not finish in ``timeout`` s.
    """
    t_start = time.monotonic()
    graphs = {Path(p).stem: load_graph(resolve_workflow(Path(p))) for p in workflows}
    if out_dir is not None:
        _check_out(out_dir)
    if server:
        check_server(server)
        problem = server_problem(server)
        if problem is None:
            root = out_dir or _check_out(output_root([server], comfy_path)[0] / "inertia", "the output folder")
            for name, g in graphs.items():
                graphs[name] = upload_media(server, g, find_comfyui(comfy_path), log=print)
            _queue_all(server, graphs, root, timeout, f" on {server}")
            print(f"main job done in {time.monotonic() - t_start:.1f} s; outputs in {root}")
            return 0
        print(f"{problem}; starting a local ComfyUI instead")
    comfy_dir = _find_comfy(comfy_path)
    root = out_dir or _check_out(comfy_dir / "output" / "inertia", "the output folder")
    with local_session(graphs, comfy_dir, demo) as (srv, graphs, use_demo):
        print(f"  ComfyUI ready after {time.monotonic() - t_start:.1f} s")
        _queue_all(srv, graphs, root, timeout)
    if use_demo:
        print(DEMO_BANNER)
    print(f"main job done in {time.monotonic() - t_start:.1f} s (server start included); outputs in {root}")
    return 0


def _common_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=None,
                   help="where to save outputs (default: ComfyUI's output folder, output/inertia/<workflow>/)")
    p.add_argument("--timeout", type=float, default=3600, help="seconds to wait per workflow (per job in a sweep)")


def add_queue(sub) -> None:
    """``queue FILE…``: queue API workflows on a running ComfyUI (``--server``) and save their outputs."""
    q = sub.add_parser("queue", help="queue API workflows on a running ComfyUI and save outputs")
    q.add_argument("workflows", nargs="+", type=Path, help="API-format workflow JSON files (workflows/api/)")
    _common_options(q)
    q.add_argument("--server", default="127.0.0.1:8188", help="ComfyUI address (default 127.0.0.1:8188)")
    q.add_argument("--comfyui", default=None, help="a local ComfyUI checkout to take input media from")
    q.set_defaults(func=_queue_command)


def _queue_command(a: argparse.Namespace) -> int:
    check_server(a.server)
    paths = [resolve_workflow(wf) for wf in a.workflows]
    graphs = [load_graph(p) for p in paths]  # every file is checked before anything is queued
    if a.out is not None:
        _check_out(a.out)
    problem = server_problem(a.server)
    if problem is not None:
        raise ServerError(problem)
    root = a.out or _check_out(output_root([a.server], a.comfyui)[0] / "inertia", "the output folder")
    for wf, g in zip(a.workflows, graphs):
        g = upload_media(a.server, g, find_comfyui(a.comfyui), log=print)
        _queue_all(a.server, {Path(wf).stem: g}, root, a.timeout, f" on {a.server}")
    return 0


def add_run(sub) -> None:
    """``run [FILE…]``: the main job, see :func:`run`."""
    r = sub.add_parser("run", help="main job: queue on --server if it answers, else start a local ComfyUI "
                                   "(default: the testbed workflows, no downloads; demo mode where the official "
                                   "weights of other workflows are absent)")
    r.add_argument("workflows", nargs="*", type=Path,
                   help="API-format workflow JSON files or names of bundled ones (default: the testbed workflows, "
                        "workflows/api/testbed_*.json)")
    r.add_argument("--all", dest="all_workflows", action="store_true",
                   help="every bundled workflow in workflows/api/ (with no file given)")
    _common_options(r)
    r.add_argument("--server", default=None, help="use this running ComfyUI if it answers")
    r.add_argument("--comfyui", default=None, help="ComfyUI checkout to start (default: $COMFYUI_PATH, ~/comfy/ComfyUI)")
    r.add_argument("--demo", choices=["auto", "on", "off"], default="auto",
                   help="auto: demo mode only where official model files are missing")
    r.set_defaults(func=_run_command)


def _run_command(a: argparse.Namespace) -> int:
    if a.workflows and a.all_workflows:
        raise UsageError("give workflow files or --all, not both")
    workflows = a.workflows or (all_workflows() if a.all_workflows else default_workflows())
    if not workflows:
        raise UsageError(f"no bundled workflow found in {PACK_DIR / 'workflows' / 'api'}; give a workflow file")
    return run(workflows, a.out, a.server, a.comfyui, a.demo, a.timeout)


def add_sweep(sub) -> None:
    """``sweep FILE --set NODE.INPUT=V1,V2 …``: a parameter sweep, see ``sweep.py``."""
    s = sub.add_parser("sweep", help="parameter sweep: every combination of --set values, measured by the change "
                                     "meter; table with 95 %% CIs, contact sheet, plot; resumable")
    s.add_argument("workflow", type=Path, help="API-format workflow JSON (or the name of a bundled one)")
    s.add_argument("--set", dest="sets", action="append", required=True, metavar="NODE.INPUT=V1,V2,...",
                   help="values of one input: NODE is a node id, title or class type (with or without the "
                        "'Inertia' prefix); values: a,b,c or A..B or A..B:STEP or a JSON list. Repeat for a grid; "
                        "seed / noise_seed axes are the replicates of the table")
    s.add_argument("--server", dest="servers", action="append", default=[], metavar="HOST:PORT",
                   help="a running ComfyUI; repeat to spread the jobs over several (default: start a local one)")
    s.add_argument("--out", type=Path, default=None,
                   help="the sweep folder (default: ComfyUI's output/inertia/<workflow>/sweep); the same folder "
                        "resumes")
    s.add_argument("--metric", dest="metrics", action="append", choices=["motion_energy", "dynamic_degree",
                                                                         "remaining"],
                   help="metrics in the table and plots (default: motion_energy and dynamic_degree, plus remaining "
                        "when the workflow has its own change meter with a mask)")
    s.add_argument("--frames", default=None, metavar="NODE[:OUTPUT]",
                   help="the IMAGE to measure (default: what feeds the video / image save node)")
    s.add_argument("--no-meter", dest="meter", action="store_false", help="queue and collect outputs only")
    s.add_argument("--sheet-frames", type=int, default=6, help="frames per row of the contact sheet")
    s.add_argument("--thumb-width", type=int, default=160, help="width of the contact-sheet frames in pixels")
    s.add_argument("--timeout", type=float, default=3600, help="seconds to wait per job")
    s.add_argument("--comfyui", default=None, help="ComfyUI checkout to start, or to take input media from")
    s.add_argument("--demo", choices=["auto", "on", "off"], default="auto",
                   help="for the local ComfyUI: auto = demo mode only where official model files are missing")
    s.set_defaults(func=_sweep_command)


def _media_graph(graphs: list[dict]) -> dict:
    """One graph holding every media loader of ``graphs`` (the grid may sweep the start image)."""
    from .server import media_inputs

    merged = {}
    for i, g in enumerate(graphs):
        for nid, _key, _v in media_inputs(g):
            merged[f"{i}:{nid}"] = g[nid]
    return merged


def _sweep_command(a: argparse.Namespace) -> int:
    from . import grid, sweep, sweep_jobs

    if a.sheet_frames < 1 or a.thumb_width < 8:
        raise UsageError("--sheet-frames must be ≥ 1 and --thumb-width ≥ 8")
    path = resolve_workflow(a.workflow)
    graph = load_graph(path)
    name = path.stem
    axes = grid.build_axes(graph, a.sets, str(path))
    for s in a.servers:
        check_server(s)
    if a.out is not None:
        _check_out(a.out)
    if a.meter:
        sweep_jobs.frames_source(graph, a.frames)  # a graph with nothing to measure fails before any server is asked
    opts = dict(metrics=a.metrics, frames_ref=a.frames, meter=a.meter, thumb_width=a.thumb_width,
                frames_per_row=a.sheet_frames, timeout=a.timeout)
    if a.servers:
        servers = list(dict.fromkeys(a.servers))
        problems = {s: server_problem(s) for s in servers}
        alive = [s for s in servers if problems[s] is None]
        if not alive:
            raise ServerError("; ".join(problems.values()))
        for s in servers:
            if problems[s]:
                print(f"  skipping {s}: {problems[s]}")
        out = a.out or _check_out(output_root(alive, a.comfyui)[0] / "inertia" / name / "sweep", "the output folder")
        media = _media_graph([grid.apply(graph, axes, st) for st in grid.expand(axes)])
        for s in alive:
            if upload_media(s, media, find_comfyui(a.comfyui), log=print) is not media:
                raise WorkflowError(f"{s} stored an input medium under another name; rename the file and retry")
        return sweep.run_sweep(graph, axes, alive, out, name, **opts)
    comfy_dir = _find_comfy(a.comfyui)
    out = a.out or _check_out(comfy_dir / "output" / "inertia" / name / "sweep", "the output folder")
    media = _media_graph([grid.apply(graph, axes, st) for st in grid.expand(axes)])
    with local_session({name: graph}, comfy_dir, a.demo, (media,)) as (srv, graphs, use_demo):
        code = sweep.run_sweep(graphs[name], axes, [srv], out, name, **opts)
    if use_demo:
        print(DEMO_BANNER)
    return code


#: the subcommands, in the order ``--help`` lists them
COMMANDS = (add_queue, add_run, add_sweep)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``python -m nodes.headless sweep: error: … (see --help)``."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def main(argv=None) -> int:
    """Command line (``python -m nodes.headless queue|run|sweep …``); returns the exit code (0 ok, 1 failed,
    2 bad arguments, 130 interrupted). Errors are one line on stderr, never a traceback (``INERTIA_DEBUG=1``
    shows the traceback of an unexpected one)."""
    ap = _Parser(prog="python -m nodes.headless", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True, parser_class=_Parser)
    for add in COMMANDS:
        add(sub)
    a = ap.parse_args(argv)
    try:
        return a.func(a)
    except HeadlessError as e:
        print(str(e), file=sys.stderr)
        return e.exit_code
    except TimeoutError as e:
        print(e, file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as e:
        print(f"a helper process failed (exit {e.returncode}): see the lines above", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted (a sweep resumes when the same command is run again)", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001  (the promise is one line, never a traceback)
        if os.environ.get("INERTIA_DEBUG"):
            raise
        print(f"internal error: {type(e).__name__}: {e} (INERTIA_DEBUG=1 shows the traceback; please report it)",
              file=sys.stderr)
        return 1
