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

import json
import queue
import shutil
import sys
import threading
import time
import uuid
from pathlib import Path

from .client import (
    HeadlessError,
    ServerError,
    UsageError,
    WorkflowError,
    download_outputs,
    output_items,
    output_names,
    submit,
    wait_for,
)
from .grid import Axis, setting_text
from .sweep_jobs import (
    FRAMES_ID,
    Job,
    append_result,
    existing_meter,
    frames_source,
    make_jobs,
    read_metrics,
    read_results,
)
from .sweep_report import atomic_write, cells, summarize, write_figures, write_tables

RESULTS = "results.jsonl"


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
    atomic_write(out_dir / "jobs.json", json.dumps(
        {"workflow": workflow, "axes": [{"set": a.spec, "nodes": a.node_ids, "input": a.input, "label": a.label,
                                         "values": a.values, "replicate": a.replicate} for a in axes],
         "jobs": [{"key": j.key, "slug": j.slug, "setting": j.setting, "prompt": j.graph} for j in jobs]}, indent=1))
    results = out_dir / RESULTS
    done = read_results(results)
    todo = [j for j in jobs if done.get(j.key, {}).get("status") != "ok"]
    reps = [a for a in axes if a.replicate]
    n_cells = len(cells(jobs, axes))
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
