"""Every bad invocation of ``python -m nodes.headless`` ends with one clear line on stderr and a non-zero exit,
never a traceback. Each case runs the real command line in a subprocess; the "server answers 500" cases use
a small standard-library HTTP server, the "server is not there" case a free loopback port.
"""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from comfyui_inertia.nodes import headless

REPO = Path(__file__).resolve().parents[2]
WF = "workflows/api/wan21_t2v_relaxation_cfg.json"


def cli(*args, timeout=60) -> tuple[int, str, str]:
    r = subprocess.run([sys.executable, "-m", "nodes.headless", *map(str, args)], cwd=REPO, capture_output=True,
                       text=True, timeout=timeout)
    return r.returncode, r.stdout, r.stderr


def one_line(code: int, err: str, expected: str) -> str:
    """The check every case makes: non-zero exit, no traceback, exactly one non-empty stderr line with ``expected``."""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code != 0, err
    assert "Traceback" not in err, err
    assert len(lines) == 1, err
    assert expected in lines[0], lines[0]
    print(f"exit {code}: {lines[0]}")
    return lines[0]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad-files")
    (d / "empty.json").write_text("")
    (d / "binary.json").write_bytes(bytes(range(256)) * 4)
    (d / "notjson.json").write_text("{'prompt': this is not json}\n")
    (d / "list.json").write_text("[1, 2, 3]")
    (d / "folder.json").mkdir()
    (d / "a-file").write_text("x")
    return d


FILE_CASES = {
    "missing": ("missing.json", "workflow file not found: "),
    "empty": ("empty.json", "is empty; expected an API-format workflow JSON"),
    "binary": ("binary.json", "is a binary file, not an API-format workflow JSON"),
    "not_json": ("notjson.json", "is not valid JSON (line 1, column 2: Expecting property name"),
    "not_api": ("list.json", "is JSON but not an API-format workflow"),
    "directory": ("folder.json", "is a directory; give an API-format workflow .json file"),
}


@pytest.mark.parametrize("command,case", [(c, k) for c in ("queue", "sweep") for k in FILE_CASES]
                         + [("run", "missing"), ("run", "binary")])
def test_bad_workflow_file(files, case, command):
    name, expected = FILE_CASES[case]
    extra = {"queue": ["--server", "127.0.0.1:9"], "run": ["--server", "127.0.0.1:9"],
             "sweep": ["--set", "KSampler.seed=0..1", "--server", "127.0.0.1:9"]}[command]
    code, _out, err = cli(command, files / name, *extra, "--out", files / "out")
    assert code == 1
    one_line(code, err, expected)


@pytest.mark.parametrize("command", ["queue", "run", "sweep"])
def test_server_not_a_host(command, tmp_path):
    extra = ["--set", "KSampler.seed=0..1"] if command == "sweep" else []
    code, _out, err = cli(command, WF, *extra, "--server", "not a host", "--out", tmp_path)
    assert code == 2
    one_line(code, err, "bad --server 'not a host': expected HOST:PORT or http://HOST:PORT")


@pytest.mark.parametrize("command", ["queue", "sweep"])
def test_server_not_there(command, tmp_path):
    port = headless.free_port()  # nothing listens on it
    extra = ["--set", "KSampler.seed=0..1"] if command == "sweep" else []
    code, _out, err = cli(command, WF, *extra, "--server", f"127.0.0.1:{port}", "--out", tmp_path)
    assert code == 1
    one_line(code, err, f"cannot reach ComfyUI at 127.0.0.1:{port}: Connection refused")


class _Answer500(http.server.BaseHTTPRequestHandler):
    """Answers 500 with an HTML page to everything, or (``stats_ok``) 200 JSON to /system_stats only."""

    stats_ok = False

    def _answer(self):
        if self.stats_ok and self.path.startswith("/system_stats"):
            body, code, kind = json.dumps({"system": {"argv": ["main.py"]}}).encode(), 200, "application/json"
        else:
            body, code, kind = b"<html><body><h1>500 Internal Server Error</h1>boom</body></html>", 500, "text/html"
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_HEAD = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def server_500(request):
    handler = type("H", (_Answer500,), {"stats_ok": getattr(request, "param", False)})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("command", ["queue", "sweep"])
def test_server_answers_500(server_500, command, tmp_path):
    extra = ["--set", "KSampler.seed=0..1"] if command == "sweep" else []
    code, _out, err = cli(command, WF, *extra, "--server", server_500, "--out", tmp_path)
    assert code == 1
    one_line(code, err, f"ComfyUI at {server_500} answered 500 Internal Server Error to GET /system_stats")


@pytest.mark.parametrize("server_500", [True], indirect=True)
def test_server_answers_500_to_prompt(server_500, tmp_path):
    code, _out, err = cli("queue", WF, "--server", server_500, "--out", tmp_path)
    assert code == 1
    line = one_line(code, err, f"ComfyUI at {server_500} answered 500 Internal Server Error to POST /prompt")
    assert line.endswith("500 Internal Server Error boom")


_GRAPH = json.loads((Path(__file__).resolve().parents[2] / WF).read_text())
#: ids in the bundled graph (the workflow builder numbers nodes; the messages name them)
_RELAX_ID = next(k for k, n in _GRAPH.items() if n["class_type"] == "InertiaRelaxationCFG")
_KSAMPLER_ID = next(k for k, n in _GRAPH.items() if n["class_type"] == "KSampler")
_MODEL_FROM = _GRAPH[_KSAMPLER_ID]["inputs"]["model"][0]

SET_CASES = {
    "no_equals": ("RelaxationCFG.beta", "bad --set 'RelaxationCFG.beta': expected NODE.INPUT=V1,V2,..."),
    "no_input": ("RelaxationCFG=1", "bad --set 'RelaxationCFG=1': expected NODE.INPUT=V1,V2,..."),
    "no_values": ("RelaxationCFG.beta=", "bad --set 'RelaxationCFG.beta=': no values after '='"),
    "empty_item": ("RelaxationCFG.beta=0,,1", "an empty value between commas"),
    "bad_range_step": ("KSampler.seed=0..7:0", "the step of '0..7:0' must be > 0"),
    "not_an_int": ("KSampler.seed=0.5", "bad --set 'KSampler.seed=0.5': 0.5 is not an integer"),
    "not_a_number": ("RelaxationCFG.beta=high", "'high' is not a number"),
    "unknown_node": ("Relaxation.beta=0,1", "no node 'Relaxation' in workflows/api/wan21_t2v_relaxation_cfg.json"),
    "unknown_input": ("RelaxationCFG.betta=0,1", f"node {_RELAX_ID} (InertiaRelaxationCFG) has no input 'betta' (its inputs: beta,"),
    "link_input": ("KSampler.model=1", f"input 'model' of node {_KSAMPLER_ID} (KSampler) is a link from node {_MODEL_FROM}"),
    "bad_json_list": ('RelaxationCFG.beta=[0, 1', "the JSON list does not parse"),
}


@pytest.mark.parametrize("case", list(SET_CASES))
def test_bad_set(case, tmp_path):
    spec, expected = SET_CASES[case]
    code, _out, err = cli("sweep", WF, "--set", spec, "--server", "127.0.0.1:9", "--out", tmp_path)
    assert code == 2
    one_line(code, err, expected)


@pytest.mark.parametrize("command", ["queue", "run", "sweep"])
def test_unwritable_out(files, command):
    extra = ["--set", "KSampler.seed=0..1"] if command == "sweep" else []
    out = files / "a-file" / "sub"  # below a regular file: cannot be created, not even by root
    code, _out, err = cli(command, WF, *extra, "--server", "127.0.0.1:9", "--out", out)
    assert code == 2
    one_line(code, err, f"cannot write to --out {out}: Not a directory")


def test_out_is_a_file(files):
    code, _out, err = cli("sweep", WF, "--set", "KSampler.seed=0..1", "--server", "127.0.0.1:9",
                          "--out", files / "a-file")
    one_line(code, err, "it is a file, not a folder")


def test_argparse_errors_are_one_line():
    code, _out, err = cli("sweep", WF)
    assert code == 2
    one_line(code, err, "error: the following arguments are required: --set (see --help)")
    code, _out, err = cli("nonsense")
    one_line(code, err, "invalid choice: 'nonsense'")


def test_set_accepts_pack_prefix_and_titles(tmp_path):
    """Both spellings of a pack node id and a node title pass the --set checks (the run then fails only
    because no server listens)."""
    port = headless.free_port()
    for spec in ("RelaxationCFG.beta=0,1", "InertiaRelaxationCFG.beta=0,1", "Positive prompt.text=[\"a, b\", \"c\"]",
                 "9.seed=0..1"):
        code, _out, err = cli("sweep", WF, "--set", spec, "--server", f"127.0.0.1:{port}", "--out", tmp_path)
        one_line(code, err, "cannot reach ComfyUI")
