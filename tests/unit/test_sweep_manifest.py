"""``nodes/headless/sweep_jobs.py`` and ``sweep_report.py`` without a server: the graph the sweep queues (meter,
metric read-outs, thumbnails), job keys, the append-only manifest and resume, the per-cell table. Standard library
only."""

from __future__ import annotations

import csv
import json
import threading
from pathlib import Path

import pytest

from comfyui_inertia.nodes.headless import grid, sweep_jobs, sweep_report
from comfyui_inertia.nodes.headless.client import UsageError

REPO = Path(__file__).resolve().parents[2]
WAN = json.loads((REPO / "workflows" / "api" / "wan21_t2v_relaxation_cfg.json").read_text())


def test_frames_source_and_instrumented_graph():
    assert sweep_jobs.frames_source(WAN) == ["10", 0]  # VAEDecode, which feeds CreateVideo
    assert sweep_jobs.frames_source(WAN, "VAEDecode:0") == ["10", 0]
    assert sweep_jobs.video_fps(WAN, ["10", 0]) == 16.0
    g = sweep_jobs.instrument(WAN, ["10", 0], "inertia/wan/sweep_frames/beta=0", 160, 16.0)
    meter = g[sweep_jobs.METER_ID]
    assert meter["class_type"] == "InertiaChangeMeter" and meter["inputs"]["images"] == ["10", 0]
    assert {g[f"inertia_sweep_{m}"]["inputs"]["source"][1] for m in sweep_jobs.METRICS} == {2, 3, 4}
    assert g[sweep_jobs.FRAMES_ID]["inputs"]["filename_prefix"] == "inertia/wan/sweep_frames/beta=0"
    assert set(g) - set(WAN) == {sweep_jobs.METER_ID, sweep_jobs.THUMB_ID, sweep_jobs.FRAMES_ID,
                                 "inertia_sweep_motion_energy", "inertia_sweep_dynamic_degree",
                                 "inertia_sweep_remaining"}
    assert sweep_jobs.instrument(WAN, None, "x") == WAN  # --no-meter


def test_frames_source_refuses_a_graph_without_frames():
    with pytest.raises(UsageError, match="no decoded frames to measure"):
        sweep_jobs.frames_source({"1": {"class_type": "UNETLoader", "inputs": {}}})
    with pytest.raises(UsageError, match="bad --frames 'Nope'"):
        sweep_jobs.frames_source(WAN, "Nope")


def test_an_existing_meter_is_used():
    g = json.loads(json.dumps(WAN))
    g["20"] = {"class_type": "InertiaChangeMeter", "inputs": {"images": ["10", 0], "mask": ["21", 0], "fps": 16.0,
                                                              "motion_threshold": 0.04, "dynamic_threshold": 0.01}}
    assert sweep_jobs.existing_meter(g) == "20"
    out = sweep_jobs.instrument(g, sweep_jobs.frames_source(g), "p")
    assert sweep_jobs.METER_ID not in out and out["inertia_sweep_remaining"]["inputs"]["source"] == ["20", 4]


def test_an_ab_graph_is_measured_on_the_branch_the_sweep_changes():
    """The testbed A/B graph has a meter on each branch: sweeping the Relaxation CFG branch's beta and seed must
    measure that branch (its VAEDecode and its meter), not the stock branch that comes first."""
    ab = json.loads((REPO / "workflows" / "api" / "testbed_disappear_ab.json").read_text())
    relax = next(k for k, n in ab.items() if n["class_type"] == "InertiaRelaxationCFG")
    ks_relax = next(k for k, n in ab.items() if n["class_type"] == "KSampler" and n["inputs"]["model"][0] == relax)
    dec_relax = next(k for k, n in ab.items() if n["class_type"] == "VAEDecode" and n["inputs"]["samples"][0] == ks_relax)
    meter_relax = next(k for k, n in ab.items() if n["class_type"] == "InertiaChangeMeter"
                       and n["inputs"]["images"] == [dec_relax, 0])
    axes = grid.build_axes(ab, ["InertiaRelaxationCFG.beta=0,1", f"{ks_relax}.seed=0..1"])
    swept = [a.node_ids for a in sorted(axes, key=lambda a: a.replicate)]
    frames = sweep_jobs.frames_source(ab, None, swept)
    assert frames == [dec_relax, 0]
    out = sweep_jobs.instrument(ab, frames, "p")
    assert out["inertia_sweep_remaining"]["inputs"]["source"] == [meter_relax, 4]
    # a seed axis that sets both KSamplers still leaves the beta axis to decide
    both = grid.build_axes(ab, ["InertiaRelaxationCFG.beta=0,1", "KSampler.seed=0..1"])
    swept = [a.node_ids for a in sorted(both, key=lambda a: a.replicate)]
    assert sweep_jobs.frames_source(ab, None, swept) == [dec_relax, 0]
    # no meter on the swept branch: the added one takes the other meter's region mask
    del ab[meter_relax]
    out = sweep_jobs.instrument(ab, frames, "p")
    stock_meter = next(k for k, n in ab.items() if n["class_type"] == "InertiaChangeMeter")
    assert out[sweep_jobs.METER_ID]["inputs"]["images"] == [dec_relax, 0]
    assert out[sweep_jobs.METER_ID]["inputs"]["mask"] == ab[stock_meter]["inputs"]["mask"]
    assert out["inertia_sweep_remaining"]["inputs"]["source"] == [sweep_jobs.METER_ID, 4]


def test_job_keys_are_stable_and_distinct():
    axes = grid.build_axes(WAN, ["RelaxationCFG.beta=0,1", "KSampler.seed=0..1"])
    jobs = sweep_jobs.make_jobs(WAN, axes, "wan", ["10", 0], 160)
    again = sweep_jobs.make_jobs(json.loads(json.dumps(WAN, sort_keys=True)), axes, "wan", ["10", 0], 160)
    assert [j.key for j in jobs] == [j.key for j in again]  # key order of the file does not matter
    assert len({j.key for j in jobs}) == 4
    assert [j.slug for j in jobs] == ["beta=0.0_seed=0", "beta=0.0_seed=1", "beta=1.0_seed=0", "beta=1.0_seed=1"]
    assert [j.cell for j in jobs] == [(0.0,), (0.0,), (1.0,), (1.0,)]


def test_manifest_is_append_only_and_survives_a_torn_line(tmp_path):
    path = tmp_path / "results.jsonl"
    lock = threading.Lock()
    sweep_jobs.append_result(path, {"key": "a", "status": "error", "error": "boom"}, lock)
    sweep_jobs.append_result(path, {"key": "a", "status": "ok", "metrics": {"motion_energy": 0.1}}, lock)
    sweep_jobs.append_result(path, {"key": "b", "status": "ok", "metrics": {"motion_energy": 0.2}}, lock)
    sweep_jobs.append_result(path, {"key": "b", "status": "error", "error": "later failure"}, lock)
    with open(path, "a") as f:
        f.write('{"key": "c", "status": "o')  # killed mid-write
    rows = sweep_jobs.read_results(path)
    assert set(rows) == {"a", "b"}
    assert rows["a"]["status"] == "ok" and rows["b"]["status"] == "ok"  # a success is never undone


def test_summary_and_tables(tmp_path):
    axes = grid.build_axes(WAN, ["RelaxationCFG.beta=0,1", "KSampler.seed=0..2"])
    jobs = sweep_jobs.make_jobs(WAN, axes, "wan", ["10", 0], 160)
    energy = [0.10, 0.12, 0.14, 0.30, 0.31, 0.35]
    rows = {j.key: {"status": "ok", "setting": j.setting, "metrics": {"motion_energy": e, "dynamic_degree": 1.0}}
            for j, e in zip(jobs, energy)}
    rows[jobs[5].key] = {"status": "error", "error": "x"}
    summary = sweep_report.summarize(jobs, axes, rows, ["motion_energy"])
    assert [(c["cell"], c["n"], c["failed"]) for c in summary] == [((0.0,), 3, 0), ((1.0,), 2, 1)]
    first = summary[0]["stats"]["motion_energy"]
    # mean 0.12, s = 0.02, t_{0.975,2} = 4.302652729749464
    assert first["mean"] == pytest.approx(0.12) and first["half_width"] == pytest.approx(4.302652729749464 * 0.02 / 3 ** 0.5)
    csv_path, md_path, md = sweep_report.write_tables(summary, axes, ["motion_energy"], tmp_path, "header")
    with open(csv_path) as f:
        table = list(csv.DictReader(f))
    assert table[0]["beta"] == "0.0" and table[0]["n"] == "3" and float(table[0]["motion_energy_mean"]) == pytest.approx(0.12)
    assert table[1]["failed"] == "1" and float(table[1]["motion_energy_mean"]) == pytest.approx(0.305)
    assert "| 0.0 | 3/3 | 0.12 [0.07032, 0.1697] |" in md and "| 1.0 | 2/3 (1 failed) |" in md
    assert md_path.read_text() == md
