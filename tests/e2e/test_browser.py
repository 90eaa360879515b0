"""The graph editor as a person meets it: real ComfyUI frontend in headless Chromium (Playwright).

Starts ``main.py --cpu`` with ``comfyui-frontend-package`` and the pack, loads every bundled UI
workflow, and checks: no missing-node dialog, every pack node renders with its widgets, the
Relaxation CFG curve draws and changes when β changes (screenshot pixels). Screenshots are saved
under ``test-artifacts/browser/``. Skips with a reason where Chromium or Playwright is absent
(``.ci/run`` installs both).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from comfyui_inertia.nodes import headless

REPO = Path(__file__).resolve().parents[2]
UI_WORKFLOWS = sorted((REPO / "workflows").glob("*.json"))
ARTIFACTS = REPO / "test-artifacts" / "browser"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync"]

playwright_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package (tests/requirements.txt)")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)")


@pytest.fixture(scope="module")
def browser_page(comfy, tmp_path_factory):
    work = tmp_path_factory.mktemp("browser-base")
    settings = work / "user" / "default" / "comfy.settings.json"
    settings.parent.mkdir(parents=True)
    # a returning user: no first-run template dialog; model files are absent on purpose, so no model warning
    settings.write_text(json.dumps({"Comfy.TutorialCompleted": True, "Comfy.Workflow.ShowMissingModelsWarning": False,
                                    "Comfy.Workflow.ShowMissingNodesWarning": True}))
    comfy_dir = Path(comfy.__file__).resolve().parent
    for wf in (REPO / "workflows" / "api").glob("*.json"):  # real example media, for the runs queued from the page
        headless.stage_input_images(json.loads(wf.read_text()), work / "input", comfy_dir)
    with headless.local_comfyui(comfy_dir, work) as srv:
        info = headless._get_json(srv, "/object_info")
        with playwright_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            errors = []
            page.on("pageerror", lambda e: errors.append(f"{e}\n{e.stack}"))
            page.goto(f"http://{srv}/")
            page.wait_for_function("window.app && window.app.graph && window.app.extensionManager", timeout=90_000)
            page.wait_for_timeout(1000)
            ours = [e for e in errors if "ComfyUI-Inertia" in e]
            assert not ours, ours
            errors.clear()  # frontend 1.27.10 itself throws one settings error while booting headless
            yield page, info, errors
            browser.close()


def _visible_dialog_text(page) -> str:
    return page.evaluate("""() => [...document.querySelectorAll('.p-dialog, [role=dialog]')]
        .filter(d => d.offsetParent !== null).map(d => d.innerText).join('\\n---\\n')""")


def _pack_types(info) -> set[str]:
    return {k for k, v in info.items() if v.get("python_module", "").endswith("ComfyUI-Inertia")}


def _load(page, wf_path: Path):
    wf = json.loads(wf_path.read_text())
    page.evaluate("wf => window.app.loadGraphData(wf)", wf)
    page.wait_for_timeout(1500)
    return wf


def _widget_inputs(spec: dict) -> list[str]:
    names = []
    for section in ("required", "optional"):
        for name, (typ, *_rest) in spec["input"].get(section, {}).items():
            if isinstance(typ, list) or typ in ("INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"):
                names.append(name)
    return names


@pytest.mark.parametrize("wf_path", UI_WORKFLOWS, ids=[p.stem for p in UI_WORKFLOWS])
def test_workflow_loads_and_pack_nodes_render(browser_page, wf_path):
    page, info, errors = browser_page
    wf = _load(page, wf_path)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{wf_path.stem}.png"))
    dialogs = _visible_dialog_text(page)
    assert "missing" not in dialogs.lower(), f"dialog after loading {wf_path.name}: {dialogs[:500]}"
    nodes = page.evaluate("() => window.app.graph._nodes.map(n => ({type: n.type, id: n.id, "
                          "widgets: (n.widgets || []).map(w => w.name), has_errors: !!n.has_errors}))")
    assert len(nodes) == len(wf["nodes"])
    pack = _pack_types(info)
    rendered = [n for n in nodes if n["type"] in pack]
    assert rendered, "no pack node in the workflow"
    for n in rendered:
        missing = set(_widget_inputs(info[n["type"]])) - set(n["widgets"])
        assert not missing, f"{n['type']} #{n['id']} lacks widgets {missing}"
    # every widget shows the value the API twin of this workflow queues (UI and API formats agree)
    api = json.loads((REPO / "workflows" / "api" / wf_path.name).read_text())
    values = page.evaluate("() => Object.fromEntries(window.app.graph._nodes.map(n => [n.id, "
                           "Object.fromEntries((n.widgets || []).map(w => [w.name, w.value]))]))")
    for nid, node in api.items():
        for name, value in node["inputs"].items():
            if isinstance(value, list):
                continue
            shown = values[nid].get(name)
            assert shown == value or (isinstance(value, float) and shown == pytest.approx(value)), \
                (wf_path.stem, node["class_type"], name, shown, value)
    assert not errors, errors


def _curve_png(page, node_type: str) -> tuple[bytes, str]:
    loc = page.locator(".inertia-relaxation-curve canvas").first
    loc.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    return loc.screenshot(), loc.get_attribute("data-curve") or ""


def test_relaxation_curve_draws_and_follows_beta(browser_page):
    page, info, _errors = browser_page
    _load(page, next(p for p in UI_WORKFLOWS if p.stem.startswith("wan21_t2v")))
    node_id = page.evaluate("() => window.app.graph._nodes.find(n => n.type === 'RelaxationCFG').id")
    # bring the node to the middle of the view so its DOM widget is on screen
    page.evaluate("""id => { const n = window.app.graph.getNodeById(id); const c = window.app.canvas;
        c.ds.scale = 1; c.ds.offset = [-n.pos[0] + 200, -n.pos[1] + 150]; c.setDirty(true, true); }""", node_id)
    page.wait_for_timeout(800)
    assert page.locator(".inertia-relaxation-curve canvas").count() >= 1, "curve widget not mounted"
    before_png, before_curve = _curve_png(page, "RelaxationCFG")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "curve_beta_0.75.png").write_bytes(before_png)
    page.evaluate("""id => { const n = window.app.graph.getNodeById(id); const w = n.widgets.find(w => w.name === 'beta');
        w.value = -0.5; w.callback?.(w.value, window.app.canvas, n); }""", node_id)
    page.wait_for_timeout(500)
    after_png, after_curve = _curve_png(page, "RelaxationCFG")
    (ARTIFACTS / "curve_beta_-0.5.png").write_bytes(after_png)

    import io

    import numpy as np
    from PIL import Image

    a = np.asarray(Image.open(io.BytesIO(before_png)).convert("RGB"), dtype=np.int16)
    b = np.asarray(Image.open(io.BytesIO(after_png)).convert("RGB"), dtype=np.int16)
    assert a.shape == b.shape
    curve_blue = (a[..., 2] > 200) & (a[..., 0] < 140)
    assert curve_blue.sum() > 50, "the curve was not drawn"
    changed = (np.abs(a - b).sum(-1) > 60).sum()
    assert changed > 200, f"only {changed} pixels changed when beta changed"
    ys_before, ys_after = json.loads(before_curve), json.loads(after_curve)
    assert ys_before[0] < ys_before[-1] and ys_after[0] > ys_after[-1]  # relax vs boost


def test_vace_timeline_draws_live_and_after_a_run(browser_page):
    """The keyframe builder's timeline: live from the length widget (81 → 21 reads), then coloured from
    the backend's latent mask after the graph is queued from the page (only the mask branch can run:
    the model files are absent, so ComfyUI queues the outputs that validate)."""
    page, info, _errors = browser_page
    _load(page, next(p for p in UI_WORKFLOWS if p.stem == "vace_keyframes_anchor"))
    node_id = page.evaluate("() => window.app.graph._nodes.find(n => n.type === 'VACEKeyframeBuilder').id")
    page.evaluate("""id => { const n = window.app.graph.getNodeById(id); const c = window.app.canvas;
        c.ds.scale = 1; c.ds.offset = [-n.pos[0] + 200, -n.pos[1] + 150]; c.setDirty(true, true); }""", node_id)
    page.wait_for_timeout(800)
    timeline = page.locator(".inertia-vace-timeline canvas").first
    live = json.loads(timeline.get_attribute("data-timeline"))
    assert live["L"] == 81 and live["T"] == 21
    assert live["reads"] == [1, 5, 9, 13, 17, 21, 25, 28, 32, 36, 40, 44, 48, 52, 55, 59, 63, 67, 71, 75, 79]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "vace_timeline_live.png").write_bytes(timeline.screenshot())
    page.evaluate("() => window.app.queuePrompt(0, 1)")
    page.wait_for_function("""() => { const c = document.querySelector('.inertia-vace-timeline canvas');
        return c && c.dataset.timeline && !JSON.parse(c.dataset.timeline).code.includes('?'); }""", timeout=120_000)
    ran = json.loads(timeline.get_attribute("data-timeline"))
    assert ran["code"][0] == "0" and ran["code"][10] == "0" and ran["code"][20] == "0", ran  # keyframes 0, 40, 80
    assert "1" in ran["code"] or "m" in ran["code"]
    (ARTIFACTS / "vace_timeline_after_run.png").write_bytes(timeline.screenshot())
