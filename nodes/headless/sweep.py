"""Parameter sweeps through ComfyUI's HTTP API: a grid of jobs, a work queue over one or more servers,
the change meter on every job, a results table with 95 % confidence intervals, a contact sheet and a plot.

How a job is measured: the sweep adds to each queued graph an ``InertiaChangeMeter`` node on the decoded
frames (the IMAGE that feeds the workflow's video / image save node, or ``--frames NODE``), core
``PreviewAny`` nodes on its three float outputs, and a small animated WebP of the frames (core
``ImageScale`` + ``SaveAnimatedWEBP``) for the contact sheet. The server computes the numbers where the frames
are, and they come back as text in ``/history/<prompt id>``; this client stays standard library only and
never decodes a video. (Pillow draws the sheet and the plot, imported lazily: ``figures.py``.) A workflow that
already has an ``InertiaChangeMeter`` (e.g. one with a region mask) is measured by that node instead.

Files in the sweep folder (``--out``; default ``<ComfyUI output>/inertia/<workflow>/sweep``):

* ``results.jsonl``: the manifest, one JSON line per finished job keyed by the SHA-256 of the job's prompt
  (the API graph as queued). Lines are appended with one ``write`` on an ``O_APPEND`` descriptor and
  ``fsync``-ed, so an interrupted sweep leaves whole lines; started again, the sweep skips every job whose
  key has a successful line.
* ``jobs.json``: the grid of the last invocation (setting, key, prompt of every job).
* ``results.csv``, ``results.md``: per cell (a setting of the non-seed inputs), n and, per metric, the mean
  and the Student-t 95 % interval over the seeds (``nodes/pure/sweep_stats.py``).
* ``contact_sheet.png``: one row per cell (its first seed), frames evenly spaced from first to last.
* ``plot_<metric>.png``: the metric against the first numeric setting, one line per other setting.
* ``outputs/``: every file the workflow saved, named ``<node title>_<setting>.<ext>``.

Any server takes any job: one worker thread per server takes the next job from a shared queue. A server that
stops answering gives its job back to the queue, and the others go on.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import queue
import shutil
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from ..pure.sweep_stats import mean_ci
from . import figures
from .client import (
    HeadlessError,
    ServerError,
    UsageError,
    WorkflowError,
    download_outputs,
    output_items,
    output_names,
    slug,
    submit,
    wait_for,
)
from .grid import Axis, _class_names, apply, expand, resolve_nodes, setting_text

#: the change meter's float outputs, by output index
METRICS = {"motion_energy": 2, "dynamic_degree": 3, "remaining": 4}
METER_CLASS = "InertiaChangeMeter"
#: (node class, IMAGE input) of the nodes whose frames are "the video": the meter is attached to what feeds them
FRAME_SINKS = (("CreateVideo", "images"), ("SaveAnimatedWEBP", "images"), ("SaveAnimatedPNG", "images"),
               ("VHS_VideoCombine", "images"), ("SaveWEBM", "images"), ("SaveImage", "images"),
               ("PreviewImage", "images"))
#: ids of the nodes the sweep adds to each graph
METER_ID, THUMB_ID, FRAMES_ID = "inertia_sweep_meter", "inertia_sweep_thumbs", "inertia_sweep_frames"
RESULTS = "results.jsonl"


# ------------------------------------------------------------------------------------------ graph


def downstream(graph: dict, node_ids) -> set:
    """Ids of the nodes that read, directly or through others, an output of any node in ``node_ids``
    (``node_ids`` included)."""
    readers: dict[str, set] = {}
    for nid, node in graph.items():
        for v in node.get("inputs", {}).values():
            if isinstance(v, list) and len(v) == 2 and isinstance(v[0], str):
                readers.setdefault(v[0], set()).add(nid)
    seen, todo = set(), [str(n) for n in node_ids]
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo += readers.get(n, ())
    return seen


def frames_source(graph: dict, ref: str | None = None, swept=()) -> list:
    """The ``[node id, output index]`` of the decoded frames to measure.

    ``ref`` (``--frames``): ``NODE`` or ``NODE:INDEX`` (node id, title or class). Without it: the IMAGE of an
    existing change meter, else the IMAGE that feeds the first video / image save node, else the first
    ``VAEDecode*`` node's output. ``swept``: one list of node ids per swept input (an axis sets every node it
    names); the frames are then taken downstream of at least one node of every axis where any are (in an A/B
    graph: the branch the sweep changes, not the stock one), else downstream of the non-replicate axes only
    when ``swept`` gives those first (see :func:`run_sweep`).

    Raises:
        UsageError: ``ref`` names no node, or the graph has no frames to measure.
    """
    if ref:
        name, _, idx = ref.rpartition(":")
        name, idx = (name, int(idx)) if name and idx.isdigit() else (ref, 0)
        ids = resolve_nodes(graph, name)
        if not ids:
            raise UsageError(f"bad --frames {ref!r}: no node with that id, title or class type")
        return [ids[0], idx]
    order = sorted(graph, key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k))
    cands = []
    for cls, key in ((METER_CLASS, "images"), *FRAME_SINKS):
        for nid in order:
            link = graph[nid].get("inputs", {}).get(key)
            if graph[nid].get("class_type") in _class_names(cls) and isinstance(link, list) and len(link) == 2:
                cands.append([str(link[0]), int(link[1])])
    cands += [[nid, 0] for nid in order if graph[nid].get("class_type", "").startswith("VAEDecode")]
    if not cands:
        raise UsageError("the workflow has no decoded frames to measure (no VAEDecode, no video or image save "
                         "node); name the IMAGE with --frames NODE[:OUTPUT], or pass --no-meter")
    groups = [[str(n) for n in ids] for ids in swept if ids]
    for k in range(len(groups), 0, -1):
        after = set.intersection(*(downstream(graph, ids) for ids in groups[:k]))
        hit = [c for c in cands if c[0] in after]
        if hit:
            return hit[0]
    return cands[0]


def existing_meter(graph: dict, frames: list | None = None) -> str | None:
    """The id of the workflow's own change meter (the one on ``frames``, where given), if it has one."""
    ids = [nid for nid, n in graph.items() if n.get("class_type") in _class_names(METER_CLASS)]
    if frames is not None:
        ids = [nid for nid in ids if graph[nid].get("inputs", {}).get("images") == list(frames)]
    return sorted(ids)[0] if ids else None


def instrument(graph: dict, frames: list | None, frames_prefix: str, thumb_width: int = 160,
               fps: float = 16.0) -> dict:
    """A copy of ``graph`` with the sweep's nodes: the change meter (unless the graph has one on ``frames``) with a
    ``PreviewAny`` per float output (ids ``inertia_sweep_<metric>``), and the thumbnail WebP of ``frames``
    saved under ``frames_prefix``. ``frames`` None: no meter and no thumbnails (``--no-meter``). An added meter
    takes the region mask and thresholds of the workflow's own meter on other frames, if there is one (an A/B
    graph's other branch)."""
    g = json.loads(json.dumps(graph))
    if frames is None:
        return g
    meter = existing_meter(g, frames)
    if meter is None:
        meter = METER_ID
        inputs = {"fps": fps, "motion_threshold": 0.04, "dynamic_threshold": 0.01}
        other = existing_meter(g)
        if other is not None:
            inputs.update({k: v for k, v in g[other]["inputs"].items() if k != "images"})
        g[meter] = {"class_type": METER_CLASS, "_meta": {"title": "sweep change meter"},
                    "inputs": {**inputs, "images": list(frames)}}
    for name, idx in METRICS.items():
        g[f"inertia_sweep_{name}"] = {"class_type": "PreviewAny", "_meta": {"title": f"sweep {name}"},
                                      "inputs": {"source": [meter, idx]}}
    g[THUMB_ID] = {"class_type": "ImageScale", "_meta": {"title": "sweep thumbnails"},
                   "inputs": {"image": frames, "upscale_method": "bilinear", "width": thumb_width, "height": 0,
                              "crop": "disabled"}}
    g[FRAMES_ID] = {"class_type": "SaveAnimatedWEBP", "_meta": {"title": "sweep frames"},
                    "inputs": {"images": [THUMB_ID, 0], "filename_prefix": frames_prefix, "fps": fps,
                               "lossless": False, "quality": 85, "method": "default"}}
    return g


def video_fps(graph: dict, frames: list | None) -> float:
    """The frame rate the workflow gives the frames (its ``CreateVideo`` / video save node), else 16."""
    for node in graph.values():
        if node.get("inputs", {}).get("images") == frames or node.get("inputs", {}).get("image") == frames:
            for key in ("fps", "frame_rate"):
                v = node["inputs"].get(key)
                if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0:
                    return float(v)
    return 16.0


def prompt_key(graph: dict) -> str:
    """The job's key: SHA-256 (hex, 16 digits) of the API graph as queued, with sorted keys."""
    return hashlib.sha256(json.dumps(graph, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


def read_metrics(entry: dict) -> dict:
    """``{metric: float}`` from the ``PreviewAny`` texts of a finished ``/history`` entry."""
    out = {}
    for name in METRICS:
        texts = (entry.get("outputs", {}).get(f"inertia_sweep_{name}") or {}).get("text") or []
        if texts:
            try:
                out[name] = float(texts[0])
            except (TypeError, ValueError):
                pass
    return out


# ------------------------------------------------------------------------------------------ jobs


@dataclass
class Job:
    """One queued graph: its setting ``{label: value}``, the cell (setting without the seeds), key and slug."""

    setting: dict
    cell: tuple
    graph: dict
    key: str
    slug: str


def make_jobs(graph: dict, axes: list[Axis], workflow: str, frames: list | None, thumb_width: int) -> list[Job]:
    """Every job of the grid, in grid order. File names come from the setting (``beta=0.5_seed=3``); the
    key makes them unique where two settings share a slug."""
    jobs, used = [], set()
    fps = video_fps(graph, frames)
    for setting in expand(axes):
        s = slug("_".join(f"{k}={v}" for k, v in setting.items()), 120)
        if s in used:
            s = f"{s}_{len(used)}"
        used.add(s)
        g = apply(graph, axes, setting)
        g = instrument(g, frames, f"inertia/{workflow}/sweep_frames/{s}", thumb_width, fps)
        cell = tuple(setting[a.label] for a in axes if not a.replicate)
        jobs.append(Job(setting, cell, g, prompt_key(g), s))
    return jobs


def read_results(path: Path) -> dict[str, dict]:
    """``{key: last line}`` of ``results.jsonl``; a torn last line (an interrupted write) is ignored."""
    rows = {}
    if not path.is_file():
        return rows
    for line in path.read_text(errors="replace").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and "key" in row:
            if row.get("status") == "ok" or rows.get(row["key"], {}).get("status") != "ok":
                rows[row["key"]] = row
    return rows


def append_result(path: Path, row: dict, lock: threading.Lock) -> None:
    """Append one JSON line atomically (one ``write`` on an ``O_APPEND`` descriptor, then ``fsync``)."""
    data = (json.dumps(row, sort_keys=True) + "\n").encode()
    with lock:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)


# ------------------------------------------------------------------------------------------ progress


class Progress:
    """One updating line on stderr: ``[####....] done/total · running · failed · elapsed · left``."""

    def __init__(self, total: int, done: int, stream=None):
        self.total, self.done, self.failed = total, done, 0
        self.start_done = done
        self.running: dict[str, str] = {}
        self.stream = stream or sys.stderr
        self.tty = getattr(self.stream, "isatty", lambda: False)()
        self.t0 = time.monotonic()
        self.lock = threading.Lock()
        self._last = 0.0
        self._shown = False
        self._text: str | None = None

    def _line(self) -> str:
        width = 24
        fill = int(width * self.done / max(1, self.total))
        el = time.monotonic() - self.t0
        ran = self.done - self.start_done
        left = f" · ~{_clock(el / ran * (self.total - self.done))} left" if ran and self.done < self.total else ""
        run = "; ".join(f"{s}: {lbl}" for s, lbl in self.running.items())
        text = (f"sweep [{'#' * fill}{'.' * (width - fill)}] {self.done}/{self.total} jobs"
                f"{f' · {self.failed} failed' if self.failed else ''} · {_clock(el)}{left}"
                f"{f' · {run}' if run else ''}")
        cols = shutil.get_terminal_size((120, 20)).columns if self.tty else 200
        return text[: cols - 1]

    def render(self, force: bool = False) -> None:
        with self.lock:
            now = time.monotonic()
            if not force and (not self.tty or now - self._last < 0.25):  # a log file gets one update per event
                return
            self._last = now
            line = self._line()
            if self._shown and line == self._text:
                return
            self._text = line
            self.stream.write("\r" + line + ("\x1b[K" if self.tty else ""))
            self.stream.flush()
            self._shown = True

    def set_running(self, server: str, label: str | None) -> None:
        """Show (``label``) or clear (None) what ``server`` is running."""
        with self.lock:
            if label is None:
                self.running.pop(server, None)
            else:
                self.running[server] = label

    def log(self, text: str) -> None:
        """Print ``text`` on stdout without breaking the bar."""
        with self.lock:
            if self._shown:
                self.stream.write("\r\x1b[K" if self.tty else "\n")
                self.stream.flush()
                self._shown = False
            print(text, flush=True)
        self.render(force=True)

    def close(self) -> None:
        self.render(force=True)
        self.stream.write("\n")
        self.stream.flush()


def _clock(s: float) -> str:
    s = int(s)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


# ------------------------------------------------------------------------------------------ the work queue


class Sweep:
    """The state of one invocation: the jobs left, the workers, the manifest."""

    def __init__(self, jobs: list[Job], servers: list[str], out_dir: Path, timeout: float, progress: Progress):
        self.jobs = jobs
        self.servers = servers
        self.out_dir = out_dir
        self.timeout = timeout
        self.progress = progress
        self.queue: queue.Queue = queue.Queue()
        for j in jobs:
            self.queue.put(j)
        self.in_flight = 0
        self.lock = threading.Lock()
        self.file_lock = threading.Lock()
        self.abort: str | None = None
        self.dead: dict[str, str] = {}
        self.ran: dict[str, int] = {s: 0 for s in servers}
        self.failures: list[tuple[Job, str]] = []
        self.successes = 0
        self.run_id = uuid.uuid4().hex[:12]

    def _take(self) -> Job | None:
        while self.abort is None:
            try:
                job = self.queue.get(timeout=0.2)
            except queue.Empty:
                with self.lock:
                    if self.in_flight == 0 and self.queue.empty():
                        return None
                continue
            with self.lock:
                self.in_flight += 1
            return job
        return None

    def _release(self) -> None:
        with self.lock:
            self.in_flight -= 1

    def run_job(self, server: str, job: Job) -> dict:
        t0 = time.monotonic()
        pid = submit(server, job.graph, uuid.uuid4().hex,
                     extra_data={"inertia_sweep": {"key": job.key, "run": self.run_id}})
        deadline = time.monotonic() + self.timeout
        while True:  # wait_for polls /history; short slices keep the bar moving
            try:
                entry = wait_for(server, pid, None, job.graph, timeout=min(2.0, max(0.1, deadline - time.monotonic())),
                                 progress=False)
                break
            except TimeoutError:
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"job {setting_text(job.setting)} did not finish within {self.timeout:g} s") \
                        from None
                self.progress.render()
        metrics = read_metrics(entry)
        outputs = self.out_dir / "outputs"
        files = download_outputs(server, entry, outputs, job.graph, types={"output"}, suffix=f"_{job.slug}")
        items = output_items(entry, {"output"})
        names = output_names(items, job.graph, f"_{job.slug}")
        frames = next((n for (nid, _i, _it), n in zip(items, names) if nid == FRAMES_ID), None)
        return {"key": job.key, "status": "ok", "setting": job.setting, "server": server, "prompt_id": pid,
                "metrics": metrics, "frames": f"outputs/{frames}" if frames else None,
                "files": [str(f.relative_to(self.out_dir)) for f in files],
                "seconds": round(time.monotonic() - t0, 3), "run": self.run_id,
                "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}

    def worker(self, server: str) -> None:
        while True:
            job = self._take()
            if job is None:
                return
            self.progress.set_running(server, setting_text(job.setting))
            self.progress.render()
            try:
                row = self.run_job(server, job)
            except ServerError as e:  # the server went away: another one takes the job
                self.queue.put(job)
                self.dead[server] = str(e)
                self.progress.set_running(server, None)
                self.progress.log(f"server {server} dropped out: {e}")
                self._release()
                return
            except (WorkflowError, TimeoutError) as e:
                msg = str(e)
                append_result(self.out_dir / RESULTS, {"key": job.key, "status": "error", "setting": job.setting,
                                                       "server": server, "error": msg, "run": self.run_id},
                              self.file_lock)
                with self.lock:
                    self.failures.append((job, msg))
                    self.progress.failed += 1
                    if self.successes == 0 and len(self.failures) >= 3:
                        self.abort = f"the first {len(self.failures)} jobs failed; stopping. The first error:\n{self.failures[0][1]}"
                self.progress.log(f"job {setting_text(job.setting)} failed on {server}: {msg.splitlines()[0]}")
            else:
                append_result(self.out_dir / RESULTS, row, self.file_lock)
                with self.lock:
                    self.successes += 1
                    self.ran[server] += 1
                    self.progress.done += 1
            finally:
                self.progress.set_running(server, None)
            self._release()
            self.progress.render(force=True)

    def run(self) -> None:
        threads = [threading.Thread(target=self.worker, args=(s,), daemon=True, name=f"sweep-{s}")
                   for s in self.servers]
        for t in threads:
            t.start()
        try:
            while any(t.is_alive() for t in threads):
                for t in threads:
                    t.join(timeout=0.5)
                self.progress.render()
        except KeyboardInterrupt:
            self.abort = "interrupted"
            raise


# ------------------------------------------------------------------------------------------ reports


def _cells(jobs: list[Job], axes: list[Axis]) -> list[tuple]:
    seen = []
    for j in jobs:
        if j.cell not in seen:
            seen.append(j.cell)
    return seen


def summarize(jobs: list[Job], axes: list[Axis], rows: dict[str, dict], metrics: list[str]) -> list[dict]:
    """Per cell: its setting, n done, n failed, and per metric :func:`~nodes.pure.sweep_stats.mean_ci`."""
    out = []
    for cell in _cells(jobs, axes):
        members = [j for j in jobs if j.cell == cell]
        ok = [rows[j.key] for j in members if rows.get(j.key, {}).get("status") == "ok"]
        failed = sum(1 for j in members if rows.get(j.key, {}).get("status") == "error")
        stats = {m: mean_ci([r["metrics"][m] for r in ok if m in r.get("metrics", {})]) for m in metrics}
        out.append({"cell": cell, "jobs": len(members), "n": len(ok), "failed": failed, "stats": stats,
                    "first": next((rows[j.key] for j in members if rows.get(j.key, {}).get("status") == "ok"), None)})
    return out


def _num(v) -> str:
    return "" if v is None else repr(float(v))


def _short(v) -> str:
    return "n/a" if v is None else f"{v:.4g}"


def write_tables(summary: list[dict], axes: list[Axis], metrics: list[str], out_dir: Path, header: str) -> tuple[Path, Path, str]:
    """``results.csv`` (full precision) and ``results.md`` (4 significant digits); returns both paths and the
    Markdown text."""
    labels = [a.label for a in axes if not a.replicate]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(labels + ["n", "jobs", "failed"] + [f"{m}_{k}" for m in metrics
                                                   for k in ("mean", "ci95_low", "ci95_high", "sd")])
    for c in summary:
        w.writerow(list(c["cell"]) + [c["n"], c["jobs"], c["failed"]]
                   + [_num(c["stats"][m][k]) for m in metrics for k in ("mean", "low", "high", "sd")])
    csv_path = out_dir / "results.csv"
    _atomic_write(csv_path, buf.getvalue())
    md = [header, "", "| " + " | ".join(labels + ["n"] + [f"{m} mean [95 % CI]" for m in metrics]) + " |",
          "|" + "---|" * (len(labels) + 1 + len(metrics))]
    for c in summary:
        vals = [f"{_short(c['stats'][m]['mean'])} [{_short(c['stats'][m]['low'])}, {_short(c['stats'][m]['high'])}]"
                if c["stats"][m]["low"] is not None else _short(c["stats"][m]["mean"]) for m in metrics]
        n = f"{c['n']}/{c['jobs']}" + (f" ({c['failed']} failed)" if c["failed"] else "")
        md.append("| " + " | ".join([str(v) for v in c["cell"]] + [n] + vals) + " |")
    text = "\n".join(md) + "\n"
    md_path = out_dir / "results.md"
    _atomic_write(md_path, text)
    return csv_path, md_path, text


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_figures(summary: list[dict], axes: list[Axis], metrics: list[str], out_dir: Path, title: str,
                  frames_per_row: int) -> list[Path]:
    """``contact_sheet.png`` and ``plot_<metric>.png`` (Pillow); [] with a note when Pillow is absent."""
    if not figures.pillow_available():
        print("  Pillow is not importable: contact sheet and plots skipped (pip install pillow)")
        return []
    cell_axes = [a for a in axes if not a.replicate]
    written = []
    rows = []
    for c in summary:
        label = " ".join(f"{a.label}={v}" for a, v in zip(cell_axes, c["cell"])) or "all"
        first = c["first"]
        seed = " ".join(f"{k}={v}" for k, v in (first or {}).get("setting", {}).items()
                        if k in {a.label for a in axes if a.replicate})
        path = out_dir / first["frames"] if first and first.get("frames") else None
        rows.append((label + (f" ({seed})" if seed else ""), path))
    if any(p for _l, p in rows):
        written.append(figures.contact_sheet(rows, out_dir / "contact_sheet.png", frames_per_row, title))
    if not cell_axes:
        x_axis, others = None, []
    else:
        numeric = [a for a in cell_axes if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in a.values)]
        x_axis = (numeric or cell_axes)[0]
        others = [a for a in cell_axes if a is not x_axis]
    for m in metrics:
        series: dict[str, list] = {}
        x_ticks = None
        if x_axis is not None and x_axis not in [a for a in cell_axes if all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in a.values)]:
            x_ticks = [(float(i), str(v)) for i, v in enumerate(x_axis.values)]
        for c in summary:
            st = c["stats"][m]
            if st["mean"] is None:
                continue
            values = dict(zip([a.label for a in cell_axes], c["cell"]))
            name = " ".join(f"{a.label}={values[a.label]}" for a in others) or m
            if x_axis is None:
                x = 0.0
            elif x_ticks is not None:
                x = float(x_axis.values.index(values[x_axis.label]))
            else:
                x = float(values[x_axis.label])
            series.setdefault(name, []).append((x, st["mean"], st["low"], st["high"]))
        if series:
            written.append(figures.error_plot(series, out_dir / f"plot_{m}.png",
                                              x_axis.label if x_axis else "(all jobs)", m, title, x_ticks))
    return written


# ------------------------------------------------------------------------------------------ entry point


def check_out_dir(path: Path, flag: str = "--out") -> Path:
    """Create ``path`` and prove it writable.

    Raises:
        UsageError: it is a file, or it cannot be created or written.
    """
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise UsageError(f"cannot write to {flag} {p}: it is a file, not a folder")
    try:
        p.mkdir(parents=True, exist_ok=True)
        probe = p / f".write-test-{uuid.uuid4().hex[:8]}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise UsageError(f"cannot write to {flag} {p}: {e.strerror or e}") from None
    return p


def run_sweep(graph: dict, axes: list[Axis], servers: list[str], out_dir: Path, workflow: str,
              metrics: list[str] | None = None, frames_ref: str | None = None, meter: bool = True,
              thumb_width: int = 160, frames_per_row: int = 6, timeout: float = 3600) -> int:
    """Run (or resume) the sweep on ``servers`` (all answering) and write its tables and pictures into
    ``out_dir``. Returns the exit code: 0 when every job of the grid has a result, 1 otherwise.

    Raises:
        UsageError: no frames to measure (see :func:`frames_source`). HeadlessError: every server dropped out.
    """
    swept = [a.node_ids for a in sorted(axes, key=lambda a: a.replicate)]  # the parameters first, then the seeds
    frames = frames_source(graph, frames_ref, swept) if meter else None
    if metrics is None:
        metrics = ["motion_energy", "dynamic_degree"]
        own = existing_meter(graph)
        if own is not None and isinstance(graph[own]["inputs"].get("mask"), list):
            metrics.append("remaining")
    if not meter:
        metrics = []
    jobs = make_jobs(graph, axes, workflow, frames, thumb_width)
    _atomic_write(out_dir / "jobs.json", json.dumps(
        {"workflow": workflow, "axes": [{"set": a.spec, "nodes": a.node_ids, "input": a.input, "label": a.label,
                                         "values": a.values, "replicate": a.replicate} for a in axes],
         "jobs": [{"key": j.key, "slug": j.slug, "setting": j.setting, "prompt": j.graph} for j in jobs]}, indent=1))
    results = out_dir / RESULTS
    done = read_results(results)
    todo = [j for j in jobs if done.get(j.key, {}).get("status") != "ok"]
    reps = [a for a in axes if a.replicate]
    n_cells = len(_cells(jobs, axes))
    print(f"sweep {workflow}: {len(jobs)} jobs ({n_cells} setting{'s' * (n_cells != 1)}"
          + (f" × {len(jobs) // max(1, n_cells)} {'/'.join(a.label for a in reps)} values" if reps else "")
          + f") on {len(servers)} server{'s' * (len(servers) != 1)}: {', '.join(servers)}")
    print(f"  results: {out_dir}")
    if len(todo) < len(jobs):
        print(f"  resuming: {len(jobs) - len(todo)} of {len(jobs)} jobs already done ({results.name}); "
              f"{len(todo)} to run")
    progress = Progress(len(jobs), len(jobs) - len(todo))
    sw = Sweep(todo, servers, out_dir, timeout, progress)
    t0 = time.monotonic()
    try:
        if todo:
            sw.run()
    finally:
        progress.close()
    ran = ", ".join(f"{s}: {n}" for s, n in sw.ran.items())
    print(f"  ran {sum(sw.ran.values())} job{'s' * (sum(sw.ran.values()) != 1)} in {time.monotonic() - t0:.1f} s"
          + (f" ({ran})" if todo else ""))
    rows = read_results(results)
    summary = summarize(jobs, axes, rows, metrics)
    header = (f"Sweep of `{workflow}`: {' '.join(a.spec for a in axes)}. Mean and Student-t 95 % confidence "
              f"interval over {'/'.join(a.label for a in reps) or 'replicates'} (n per cell); metrics from "
              "InertiaChangeMeter.")
    if metrics:
        csv_path, md_path, md = write_tables(summary, axes, metrics, out_dir, header)
        pics = write_figures(summary, axes, metrics, out_dir, f"{workflow}", frames_per_row)
        print(md)
        print("  wrote " + ", ".join(p.name for p in [csv_path, md_path, *pics]))
    missing = [j for j in jobs if rows.get(j.key, {}).get("status") != "ok"]
    if sw.abort and sw.abort != "interrupted":
        raise HeadlessError(sw.abort)
    if missing:
        if len(sw.dead) == len(servers) and sw.dead:
            raise ServerError(f"every server dropped out ({'; '.join(sw.dead.values())}); {len(missing)} of "
                              f"{len(jobs)} jobs not done: run the same command again to resume")
        first = next((r.get("error") for j in missing if (r := rows.get(j.key)) and r.get("error")), "")
        print(f"{len(missing)} of {len(jobs)} jobs have no result" + (f"; the first error: {first}" if first else ""),
              file=sys.stderr)
        return 1
    return 0
