"""What a sweep queues: each job's graph, instrumented to measure its video, and the results manifest.

The sweep adds to a graph an ``InertiaChangeMeter`` on the frames that feed the workflow's video / image save node
(or ``--frames NODE``), or uses the meter the workflow already has on those frames; core ``PreviewAny`` nodes on the
meter's three float outputs bring the numbers back as text in ``/history/<prompt id>``; a small animated WebP of
the frames (core ``ImageScale`` + ``SaveAnimatedWEBP``) feeds the contact sheet. A job is keyed by the SHA-256 of
its graph; ``results.jsonl`` holds one JSON line per finished job, appended atomically. Standard library only.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from .client import UsageError, slug
from .grid import Axis, _class_names, apply, expand, resolve_nodes

#: the change meter's float outputs, by output index
METRICS = {"motion_energy": 2, "dynamic_degree": 3, "remaining": 4}
METER_CLASS = "InertiaChangeMeter"
#: (node class, IMAGE input) of the nodes whose frames are "the video": the meter is attached to what feeds them
FRAME_SINKS = (("CreateVideo", "images"), ("SaveAnimatedWEBP", "images"), ("SaveAnimatedPNG", "images"),
               ("VHS_VideoCombine", "images"), ("SaveWEBM", "images"), ("SaveImage", "images"),
               ("PreviewImage", "images"))
#: ids of the nodes the sweep adds to each graph
METER_ID, THUMB_ID, FRAMES_ID = "inertia_sweep_meter", "inertia_sweep_thumbs", "inertia_sweep_frames"


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
    when ``swept`` gives those first (see :func:`.sweep.run_sweep`).

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
