"""``python -m nodes.headless sweep`` against two real ``main.py --cpu`` servers on loopback.

The stand-in workflow is made of core nodes only (grey frames + seeded ``ImageAddNoise`` → ``CreateVideo`` →
``SaveVideo``), so a job takes well under a second on CPU and the test stays within the e2e budget; the sweep
adds the pack's real ``InertiaChangeMeter`` to every queued graph, so the measured numbers come from the pack
running in the server. Motion energy must grow with the noise strength, which the meter sees as frame-to-frame
change. (The same command on the demo Wan graph, RelaxationCFG.beta × KSampler.seed, is run by hand: it works
the same and costs ~1 min per job on this CPU.)
"""

from __future__ import annotations

import csv
import hashlib
import http.server
import json
import math
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from comfyui_inertia.nodes import headless
from comfyui_inertia.nodes.headless import sweep_jobs

REPO = Path(__file__).resolve().parents[2]
#: t_{0.975, 2}: the two-sided 95 % Student-t quantile for 3 seeds (published tables: 4.303)
T_975_DF2 = 4.302652729749464

NOISE_WORKFLOW = {
    "1": {"class_type": "EmptyImage", "_meta": {"title": "grey frames"},
          "inputs": {"width": 64, "height": 48, "batch_size": 6, "color": 0x808080}},
    "2": {"class_type": "ImageAddNoise", "_meta": {"title": "Noise"},
          "inputs": {"image": ["1", 0], "seed": 0, "strength": 0.2}},
    "3": {"class_type": "CreateVideo", "_meta": {"title": "CreateVideo"}, "inputs": {"images": ["2", 0], "fps": 8.0}},
    "4": {"class_type": "SaveVideo", "_meta": {"title": "Save video"},
          "inputs": {"video": ["3", 0], "filename_prefix": "inertia/sweep_test", "format": "auto", "codec": "auto"}},
}
SETS = ["--set", "Noise.strength=0.1,0.4", "--set", "ImageAddNoise.seed=0..2"]  # by title and by class


@pytest.fixture(scope="module")
def two_servers(comfy, tmp_path_factory):
    comfy_dir = Path(comfy.__file__).resolve().parent
    servers = [headless.LocalComfyUI(comfy_dir, tmp_path_factory.mktemp(f"comfy-{i}")) for i in (0, 1)]
    try:
        for s in servers:  # both start side by side
            s.start()
        yield [s.wait_ready() for s in servers]
    finally:
        for s in servers:
            s.stop()


def _cmd(wf: Path, out: Path, servers: list[str]) -> list[str]:
    return [sys.executable, "-m", "nodes.headless", "sweep", str(wf), *SETS, "--out", str(out),
            *[x for s in servers for x in ("--server", s)]]


def _lines(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def _sweep_history(servers: list[str]) -> list[tuple[str, str, str]]:
    """``[(server, job key, run id)]`` of every prompt the sweep queued, from the servers' own /history."""
    found = []
    for s in servers:
        for entry in headless._get_json(s, "/history").values():
            extra = entry["prompt"][3].get("inertia_sweep")
            if extra:
                found.append((s, extra["key"], extra["run"]))
    return found


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_sweep_two_servers_identical_results_and_resume(two_servers, tmp_path):
    wf = tmp_path / "noise_frames.json"
    wf.write_text(json.dumps(NOISE_WORKFLOW))
    out = tmp_path / "sweep"
    results = out / "results.jsonl"

    # 1. interrupted: killed as soon as the first job has its line in the manifest
    proc = subprocess.Popen(_cmd(wf, out, two_servers), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not any(r.get("status") == "ok" for r in _lines(results)) and proc.poll() is None:
        assert time.monotonic() < deadline, "no job finished within 120 s"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    first = [r for r in _lines(results) if r["status"] == "ok"]
    assert first, "the first run recorded nothing"
    if len(first) == 6:  # the whole grid was done before the kill landed: simulate by dropping 4 lines
        results.write_text("".join(json.dumps(r) + "\n" for r in first[:2]))
        first = first[:2]
    done_before = {r["key"] for r in first}

    # 2. the same command again: resumes
    r = subprocess.run(_cmd(wf, out, two_servers), cwd=REPO, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    assert f"resuming: {len(done_before)} of 6 jobs already done" in r.stdout, r.stdout
    jobs = json.loads((out / "jobs.json").read_text())["jobs"]
    keys = {j["key"] for j in jobs}
    assert len(keys) == 6
    rows = {row["key"]: row for row in _lines(results) if row["status"] == "ok"}
    assert set(rows) == keys
    second_run = {rows[k]["run"] for k in keys - done_before}
    assert len(second_run) == 1
    run2 = second_run.pop()
    queued2 = [k for _s, k, run in _sweep_history(two_servers) if run == run2]
    # the restart queued exactly the jobs without a result, each once, and none of the finished ones
    assert sorted(queued2) == sorted(keys - done_before)
    print(f"resume: {len(done_before)} of 6 jobs done before the kill; the restart queued {len(queued2)}")

    # 3. any server, same result: every job queued again on the server that did not run it
    by_server = {s: sum(1 for row in rows.values() if row["server"] == s) for s in two_servers}
    compared = 0
    for job in jobs:
        row = rows[job["key"]]
        other = next(s for s in two_servers if s != row["server"])
        entry, files = headless.queue_workflow(other, job["prompt"], tmp_path / "again" / job["slug"], timeout=120)
        assert sweep_jobs.read_metrics(entry) == row["metrics"]  # exact float equality
        again = {f.suffix: f for f in files if f.suffix in (".mp4", ".webp")}  # not the meter's preview plot
        mine = {Path(p).suffix: out / p for p in row["files"]}
        assert set(again) == set(mine) == {".mp4", ".webp"}
        for suffix in (".mp4", ".webp"):
            assert _sha(again[suffix]) == _sha(mine[suffix]), (job["slug"], suffix)
        compared += 1
    print(f"identity: {compared} jobs re-run on the other server, metrics and file hashes equal; "
          f"jobs per server in the sweep: {by_server}")

    # 4. the table: mean and t-interval over the 3 seeds of each strength, recomputed here
    with open(out / "results.csv") as f:
        table = list(csv.DictReader(f))
    assert [t["strength"] for t in table] == ["0.1", "0.4"]
    for t in table:
        vals = [row["metrics"]["motion_energy"] for row in rows.values() if row["setting"]["strength"] == float(t["strength"])]
        assert len(vals) == 3 and t["n"] == "3"
        mean = sum(vals) / 3
        sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / 2)
        assert float(t["motion_energy_mean"]) == pytest.approx(mean, rel=1e-12)
        assert float(t["motion_energy_ci95_high"]) - mean == pytest.approx(T_975_DF2 * sd / math.sqrt(3), rel=1e-9)
    lo, hi = table
    # noise strength 0.1 → 0.4: the meter sees ~4x the frame-to-frame change, intervals far apart
    assert float(hi["motion_energy_ci95_low"]) > 2.5 * float(lo["motion_energy_ci95_high"])
    md = (out / "results.md").read_text()
    assert "| strength | n | motion_energy mean [95 % CI]" in md and "| 0.4 | 3/3 |" in md

    # 5. pictures and names
    from PIL import Image

    with Image.open(out / "contact_sheet.png") as sheet:
        assert sheet.width > 6 * 160 and sheet.height > 2 * 120  # 2 settings x 6 frames of 160x120 thumbnails
    with Image.open(out / "plot_motion_energy.png") as plot:
        assert plot.size == (900, 560)
    names = sorted(p.name for p in (out / "outputs").iterdir())
    assert "Save_video_strength=0.1_seed=0.mp4" in names and "sweep_frames_strength=0.4_seed=2.webp" in names


def test_media_staged_and_output_folder_asked_from_the_server(two_servers, tmp_path):
    """The start image of a bundled i2v workflow reaches a running server's input folder from the official
    template media package, and outputs default to the folder that server saves to."""
    srv = two_servers[0]
    graph = json.loads((REPO / "workflows" / "api" / "wan21_i2v_alg.json").read_text())
    name = headless.input_images(graph)[0]
    found = headless.find_media(name)
    assert found is not None and "template media package comfyui-workflow-templates" in found[1]
    said = []
    assert headless.upload_media(srv, graph, log=said.append) is graph
    assert said == [f"  media {name}: uploaded to {srv} from {found[1]} ({found[0]})"]
    with urllib.request.urlopen(f"http://{srv}/view?filename={name}&type=input", timeout=30) as r:
        assert r.read() == found[0].read_bytes()
    said.clear()
    headless.upload_media(srv, graph, log=said.append)  # the second time it is already there
    assert said == [f"  media {name}: already in the input folder of {srv}"]
    staged = headless.stage_input_images(graph, tmp_path / "input", log=said.append)
    assert staged == [tmp_path / "input" / name] and staged[0].read_bytes() == found[0].read_bytes()
    root, why = headless.output_root([srv])
    base = _arg(headless._get_json(srv, "/system_stats")["system"]["argv"], "--base-directory")
    assert root == Path(base) / "output" and why == f"the output folder of the ComfyUI at {srv}"


def _arg(argv, flag):
    return argv[argv.index(flag) + 1]


class _PromptFails(http.server.BaseHTTPRequestHandler):
    """Looks alive (/system_stats answers) but fails every prompt with 500: a server that breaks mid-sweep."""

    def do_GET(self):
        ok = self.path.startswith("/system_stats")
        body = json.dumps({"system": {"argv": ["main.py"]}}).encode() if ok else b"broken"
        self.send_response(200 if ok else 500)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_HEAD = do_GET

    def log_message(self, *args):
        pass


def test_a_failing_server_gives_its_jobs_to_the_others(two_servers, tmp_path):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _PromptFails)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    broken, absent = f"127.0.0.1:{httpd.server_address[1]}", f"127.0.0.1:{headless.free_port()}"
    wf = tmp_path / "noise_frames.json"
    wf.write_text(json.dumps(NOISE_WORKFLOW))
    try:
        r = subprocess.run(_cmd(wf, tmp_path / "sweep", [broken, absent, two_servers[0]]), cwd=REPO,
                           capture_output=True, text=True, timeout=180)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert f"skipping {absent}: cannot reach ComfyUI at {absent}" in r.stdout
    assert f"server {broken} dropped out: ComfyUI at {broken} answered 500" in r.stdout
    rows = [json.loads(line) for line in (tmp_path / "sweep" / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 6 and {row["server"] for row in rows} == {two_servers[0]}
    assert all(row["status"] == "ok" for row in rows)
