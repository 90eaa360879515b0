"""A sweep's report: per cell (a setting of the non-seed inputs) n and, per metric, the mean with its Student-t
95 % interval over the seeds (``nodes/pure/sweep_stats.py``), as ``results.csv`` / ``results.md``; the contact
sheet and the metric plots (``figures.py``, Pillow imported lazily).
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from ..pure.sweep_stats import mean_ci
from . import figures
from .grid import Axis
from .sweep_jobs import Job


def cells(jobs: list[Job], axes: list[Axis]) -> list[tuple]:
    """The distinct cells (settings of the non-seed inputs) of ``jobs``, in grid order."""
    seen = []
    for j in jobs:
        if j.cell not in seen:
            seen.append(j.cell)
    return seen


def summarize(jobs: list[Job], axes: list[Axis], rows: dict[str, dict], metrics: list[str]) -> list[dict]:
    """Per cell: its setting, n done, n failed, and per metric :func:`~nodes.pure.sweep_stats.mean_ci`."""
    out = []
    for cell in cells(jobs, axes):
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


def write_tables(summary: list[dict], axes: list[Axis], metrics: list[str], out_dir: Path,
                 header: str) -> tuple[Path, Path, str]:
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
    atomic_write(csv_path, buf.getvalue())
    md = [header, "", "| " + " | ".join(labels + ["n"] + [f"{m} mean [95 % CI]" for m in metrics]) + " |",
          "|" + "---|" * (len(labels) + 1 + len(metrics))]
    for c in summary:
        vals = [f"{_short(c['stats'][m]['mean'])} [{_short(c['stats'][m]['low'])}, {_short(c['stats'][m]['high'])}]"
                if c["stats"][m]["low"] is not None else _short(c["stats"][m]["mean"]) for m in metrics]
        n = f"{c['n']}/{c['jobs']}" + (f" ({c['failed']} failed)" if c["failed"] else "")
        md.append("| " + " | ".join([str(v) for v in c["cell"]] + [n] + vals) + " |")
    text = "\n".join(md) + "\n"
    md_path = out_dir / "results.md"
    atomic_write(md_path, text)
    return csv_path, md_path, text


def atomic_write(path: Path, text: str) -> None:
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
        numeric = [a for a in cell_axes
                   if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in a.values)]
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
