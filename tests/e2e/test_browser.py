"""The graph editor as a person meets it: real ComfyUI frontend in headless Chromium (Playwright).

Starts ``main.py --cpu`` with ``comfyui-frontend-package`` and the pack, and checks, in the page:

* every bundled UI workflow loads with no missing-node dialog, every pack node renders with its widgets;
* no two nodes overlap in any workflow, measured from the real LiteGraph canvas at the size the content
  needs (``computeSize``), with the loaders' image/video previews loaded, and again after a run has put the
  latent-mask preview into its node; every node sits inside one labelled group;
* the note is readable at the zoom the workflow opens with, and fully in view;
* the Templates browser shows every workflow with a title, a one-line description and a thumbnail that loads
  (HTTP 200, a JPEG), in the order of ``workflows/build.py``;
* the Relaxation CFG curve follows β and the cfg of the sampler the model reaches; the preview follows the
  patched model;
* the node search finds every pack node under "inertia".

Screenshots go to ``test-artifacts/browser/``. Skips with a reason where Chromium or Playwright is absent
(``.ci/run`` installs both).
"""

from __future__ import annotations

import importlib.util
import io
import json
import shutil
import urllib.request
from pathlib import Path

import pytest

from comfyui_inertia.nodes import headless

REPO = Path(__file__).resolve().parents[2]
UI_WORKFLOWS = sorted((REPO / "workflows").glob("*.json"))
ARTIFACTS = REPO / "test-artifacts" / "browser"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1600, "height": 1000}

playwright_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package (tests/requirements.txt)")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)")


def _build_module():
    spec = importlib.util.spec_from_file_location("inertia_workflow_build_e2e", REPO / "workflows" / "build.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


BUILD = _build_module()


@pytest.fixture(scope="module")
def browser_page(comfy, tmp_path_factory):
    work = tmp_path_factory.mktemp("browser-base")
    settings = work / "user" / "default" / "comfy.settings.json"
    settings.parent.mkdir(parents=True)
    # a returning user: no first-run template dialog; model files are absent on purpose, so no model warning
    settings.write_text(json.dumps({"Comfy.TutorialCompleted": True, "Comfy.Workflow.ShowMissingModelsWarning": False,
                                    "Comfy.Workflow.ShowMissingNodesWarning": True}))
    comfy_dir = Path(comfy.__file__).resolve().parent
    BUILD.stage_media(work / "input")  # the real example media every workflow loads (images and clips)
    with headless.local_comfyui(comfy_dir, work) as srv:
        info = headless._get_json(srv, "/object_info")
        with playwright_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
            page = browser.new_page(viewport=VIEWPORT)
            errors = []
            page.on("pageerror", lambda e: errors.append(f"{e}\n{e.stack}"))
            page.goto(f"http://{srv}/")
            page.wait_for_function("window.app && window.app.graph && window.app.extensionManager", timeout=90_000)
            page.wait_for_timeout(1000)
            ours = [e for e in errors if "ComfyUI-Inertia" in e]
            assert not ours, ours
            errors.clear()  # frontend 1.27.10 itself throws one settings error while booting headless
            yield page, info, errors, srv
            browser.close()


def _visible_dialog_text(page) -> str:
    return page.evaluate("""() => [...document.querySelectorAll('.p-dialog, [role=dialog]')]
        .filter(d => d.offsetParent !== null).map(d => d.innerText).join('\\n---\\n')""")


def _pack_types(info) -> set[str]:
    return {k for k, v in info.items() if v.get("python_module", "").endswith("ComfyUI-Inertia")}


def _load(page, wf_path: Path, wait_ms: int = 1500):
    wf = json.loads(wf_path.read_text())
    page.evaluate("wf => window.app.loadGraphData(wf)", wf)
    page.wait_for_timeout(wait_ms)
    return wf


def _wf(stem: str) -> Path:
    return next(p for p in UI_WORKFLOWS if p.stem == stem)


def _widget_inputs(spec: dict) -> list[str]:
    names = []
    for section in ("required", "optional"):
        for name, (typ, *_rest) in spec["input"].get(section, {}).items():
            if isinstance(typ, list) or typ in ("INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"):
                names.append(name)
    return names


@pytest.mark.parametrize("wf_path", UI_WORKFLOWS, ids=[p.stem for p in UI_WORKFLOWS])
def test_workflow_loads_and_pack_nodes_render(browser_page, wf_path):
    page, info, errors, _srv = browser_page
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


# --------------------------------------------------------------------------- layout

#: Boxes of every node as the canvas draws it: title bar included, the node's width (widgets are drawn at it), and
#: the larger of the node's height and the height its content needs (widgets, DOM widgets, image and video
#: previews: what does not fit is drawn below the node), and every group.
_GEOMETRY_JS = """() => {
  const g = window.app.graph, T = window.LiteGraph?.NODE_TITLE_HEIGHT ?? 30;
  const nodes = g._nodes.map(n => {
    const need = n.computeSize ? n.computeSize() : n.size;
    const h = Math.max(n.size[1], need[1]);
    return {id: n.id, type: n.type, title: n.title, box: [n.pos[0], n.pos[1] - T, n.size[0], h + T],
            spill: Math.max(0, need[1] - n.size[1]), images: (n.imgs || []).length};
  });
  const groups = g._groups.map(gr => ({title: gr.title, box: [...(gr._bounding || gr.bounding)]}));
  return {nodes, groups};
}"""


def _intersection(a, b) -> float:
    ix = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    iy = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return ix * iy if ix > 0 and iy > 0 else 0.0


def _contains(outer, inner) -> bool:
    return (outer[0] <= inner[0] and outer[1] <= inner[1] and inner[0] + inner[2] <= outer[0] + outer[2]
            and inner[1] + inner[3] <= outer[1] + outer[3])


def _layout_problems(geometry: dict) -> list[str]:
    nodes, groups = geometry["nodes"], geometry["groups"]
    problems = []
    for i, a in enumerate(nodes):
        for b in nodes[i + 1:]:
            area = _intersection(a["box"], b["box"])
            if area:
                problems.append(f"overlap {a['type']} #{a['id']} / {b['type']} #{b['id']}: {area:.0f} px²")
    for i, a in enumerate(groups):
        for b in groups[i + 1:]:
            if _intersection(a["box"], b["box"]):
                problems.append(f"groups overlap: {a['title']!r} / {b['title']!r}")
    for n in nodes:
        if n["type"] == "MarkdownNote":
            if any(_intersection(n["box"], g["box"]) for g in groups):
                problems.append("the note overlaps a group")
            continue
        inside = [g["title"] for g in groups if _contains(g["box"], n["box"])]
        if len(inside) != 1:
            problems.append(f"{n['type']} #{n['id']} is inside {len(inside)} groups {inside}")
    return problems


def _wait_for_media_previews(page, timeout_ms: int = 20_000):
    """Until every LoadImage shows its image and every LoadVideo's <video> has its size."""
    page.wait_for_function("""() => window.app.graph._nodes.every(n =>
        n.type !== 'LoadImage' || (n.imgs && n.imgs.length && n.imgs[0].complete && n.imgs[0].naturalWidth > 0))
        && [...document.querySelectorAll('video')].every(v => v.readyState >= 1)""", timeout=timeout_ms)
    page.evaluate("() => window.app.canvas.setDirty(true, true)")
    page.wait_for_timeout(300)


@pytest.mark.parametrize("wf_path", UI_WORKFLOWS, ids=[p.stem for p in UI_WORKFLOWS])
def test_no_two_nodes_or_previews_overlap(browser_page, wf_path):
    page, _info, _errors, _srv = browser_page
    wf = _load(page, wf_path)
    _wait_for_media_previews(page)
    geometry = page.evaluate(_GEOMETRY_JS)
    assert len(geometry["nodes"]) == len(wf["nodes"])
    assert 4 <= len(geometry["groups"]) <= 14, [g["title"] for g in geometry["groups"]]
    loaders = [n for n in geometry["nodes"] if n["type"] == "LoadImage"]
    assert all(n["images"] == 1 for n in loaders), loaders  # the previews were there when measured
    problems = _layout_problems(geometry)
    assert not problems, problems
    # the groups run left to right in stage order, and are labelled by stage
    xs = [g["box"][0] for g in geometry["groups"]]
    assert xs == sorted(xs)
    assert [g["title"].split("  ")[0] for g in geometry["groups"]] == [str(i + 1) for i in range(len(xs))]


def test_opened_view_is_readable(browser_page):
    """At the saved zoom (``extra.ds``) the note's body text is at least 11 px on screen, the whole note is in
    view without scrolling, and the first group's title is in view."""
    page, _info, _errors, _srv = browser_page
    for wf_path in UI_WORKFLOWS:
        wf = _load(page, wf_path, wait_ms=1200)
        view = page.evaluate("""() => {
          const c = window.app.canvas, ds = c.ds;
          const md = [...document.querySelectorAll('.comfy-markdown')].find(e => e.offsetParent !== null);
          const text = md?.querySelector('.tiptap, .comfy-markdown-content') || md;
          const r = md.getBoundingClientRect();
          const g = window.app.graph._groups[0], b = g._bounding || g.bounding;
          const toScreen = (x, y) => [(x + ds.offset[0]) * ds.scale + c.canvas.getBoundingClientRect().left,
                                      (y + ds.offset[1]) * ds.scale + c.canvas.getBoundingClientRect().top];
          return {scale: ds.scale, font: parseFloat(getComputedStyle(text).fontSize),
                  note: [r.left, r.top, r.right, r.bottom], scroll: [text.scrollHeight, text.clientHeight],
                  group: [...toScreen(b[0], b[1]), ...toScreen(b[0] + 200, b[1] + 40)],
                  vw: window.innerWidth, vh: window.innerHeight};
        }""")
        assert view["scale"] == wf["extra"]["ds"]["scale"]
        assert view["font"] * view["scale"] >= 11, (wf_path.stem, view)
        left, top, right, bottom = view["note"]
        assert left >= 0 and top >= 0 and right <= view["vw"] and bottom <= view["vh"], (wf_path.stem, view)
        assert view["scroll"][0] <= view["scroll"][1] + 2, (wf_path.stem, "the note needs scrolling", view)
        gx0, gy0, gx1, gy1 = view["group"]
        assert 0 <= gx0 and gx1 <= view["vw"] and 0 <= gy0 and gy1 <= view["vh"], (wf_path.stem, view)


# --------------------------------------------------------------------------- templates browser

def test_templates_browser_titles_descriptions_thumbnails(browser_page):
    page, _info, _errors, srv = browser_page
    index = json.loads((REPO / "workflows" / "meta" / "index.json").read_text())[0]["templates"]
    assert [t["name"] for t in index] == [s["name"] for s in BUILD.ordered_specs()]
    assert {t["name"] for t in index} == {p.stem for p in UI_WORKFLOWS}
    testbed = [i for i, t in enumerate(index) if t["name"].startswith("testbed_")]
    assert testbed == list(range(len(testbed)))  # the workflows that need no downloads come first
    page.evaluate("() => window.app.extensionManager.command.execute('Comfy.BrowseTemplates')")
    page.get_by_text("ComfyUI-Inertia", exact=True).first.click()
    page.wait_for_timeout(1500)
    cards = page.locator("[data-testid^=template-workflow-]")
    for _ in range(10):  # the browser pages its cards in as they scroll into view
        if cards.count() >= len(index):
            break
        cards.last.scroll_into_view_if_needed()
        page.wait_for_timeout(800)
    found = []
    for i in range(cards.count()):  # thumbnails load as their card scrolls into view
        card = cards.nth(i)
        card.scroll_into_view_if_needed()
        try:
            card.locator("img").first.wait_for(timeout=5000)
            loaded = card.evaluate("c => new Promise(ok => { const t0 = Date.now(); (function poll() { const im = "
                                   "c.querySelector('img'); if (im && im.complete && im.naturalWidth > 0) ok(true); "
                                   "else if (Date.now() - t0 > 5000) ok(false); else setTimeout(poll, 100); })(); })")
        except playwright_api.TimeoutError:
            loaded = False
        found.append({**card.evaluate("""c => ({name: c.dataset.testid.replace('template-workflow-', ''),
            title: c.querySelector('h3')?.innerText, description: c.querySelector('p')?.innerText,
            img: c.querySelector('img')?.currentSrc || ''})"""), "loaded": loaded})
    cards = found
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "templates_browser.png"))
    page.keyboard.press("Escape")
    assert [c["name"] for c in cards] == [t["name"] for t in index], "order differs from workflows/build.py"
    from PIL import Image

    for card, meta in zip(cards, index):
        assert card["title"] == meta["title"] and card["title"] != card["name"], card
        assert card["description"] == meta["description"] and card["description"] != card["title"], card
        assert card["loaded"], f"{card['name']}: the thumbnail did not load ({card['img']})"
        url = f"http://{srv}/api/workflow_templates/ComfyUI-Inertia/{card['name']}.jpg"
        with urllib.request.urlopen(url, timeout=10) as r:
            assert r.status == 200 and r.headers["Content-Type"].startswith("image/jpeg"), (url, r.headers)
            data = r.read()
        assert len(data) <= 64 * 1024, f"{card['name']}.jpg is {len(data)} bytes"
        im = Image.open(io.BytesIO(data))
        assert im.format == "JPEG" and im.size[0] >= 320 and abs(im.size[0] / im.size[1] - 4 / 3) < 0.05, im


# --------------------------------------------------------------------------- Relaxation CFG curve and preview

def _focus(page, node_id: int):
    """Bring a node to the middle of the view at 100% so its DOM widget is on screen."""
    page.evaluate("""id => { const n = window.app.graph.getNodeById(id); const c = window.app.canvas;
        c.ds.scale = 1; c.ds.offset = [-n.pos[0] + 300, -n.pos[1] + 150]; c.setDirty(true, true); }""", node_id)
    page.wait_for_timeout(800)


def _node_id(page, node_type: str) -> int:
    return page.evaluate("t => window.app.graph._nodes.find(n => n.type === t).id", node_type)


def _set_widget(page, node_id: int, name: str, value):
    """As a person editing the widget: the value, the widget's callback, a redraw of the canvas."""
    page.evaluate("""([id, name, value]) => { const n = window.app.graph.getNodeById(id);
        const w = n.widgets.find(w => w.name === name); w.value = value; w.callback?.(w.value, window.app.canvas, n);
        window.app.graph.setDirtyCanvas(true, true); }""", [node_id, name, value])
    page.wait_for_timeout(600)


def _curve(page, node_id: int) -> dict:
    """What the node's curve widget drew: the curve, its s_base and the note on where that came from."""
    return page.evaluate("""id => { const n = window.app.graph.getNodeById(id);
        const w = n.widgets.find(w => w.name === 'relaxation_curve'); const c = w.element.querySelector('canvas');
        return {curve: JSON.parse(c.dataset.curve || '[]'), base: Number(c.dataset.base), note: c.dataset.note || '',
                info: w.element.innerText}; }""", node_id)


def _curve_png(page, node_id: int) -> bytes:
    return page.evaluate_handle("""id => window.app.graph.getNodeById(id).widgets
        .find(w => w.name === 'relaxation_curve').element.querySelector('canvas')""", node_id).as_element().screenshot()


def test_relaxation_curve_draws_and_follows_beta(browser_page):
    page, info, _errors, _srv = browser_page
    _load(page, _wf("wan21_t2v_relaxation_cfg"))
    node_id = _node_id(page, "InertiaRelaxationCFG")
    _focus(page, node_id)
    assert page.locator(".inertia-relaxation-curve canvas").count() >= 1, "curve widget not mounted"
    before_png, before = _curve_png(page, node_id), _curve(page, node_id)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "curve_beta_0.75.png").write_bytes(before_png)
    _set_widget(page, node_id, "beta", -0.5)
    after_png, after = _curve_png(page, node_id), _curve(page, node_id)
    (ARTIFACTS / "curve_beta_-0.5.png").write_bytes(after_png)

    import numpy as np
    from PIL import Image

    a = np.asarray(Image.open(io.BytesIO(before_png)).convert("RGB"), dtype=np.int16)
    b = np.asarray(Image.open(io.BytesIO(after_png)).convert("RGB"), dtype=np.int16)
    assert a.shape == b.shape
    curve_blue = (a[..., 2] > 200) & (a[..., 0] < 140)
    assert curve_blue.sum() > 50, "the curve was not drawn"
    changed = (np.abs(a - b).sum(-1) > 60).sum()
    assert changed > 200, f"only {changed} pixels changed when beta changed"
    ys_before, ys_after = before["curve"], after["curve"]
    assert ys_before[0] < ys_before[-1] and ys_after[0] > ys_after[-1]  # relax vs boost


def test_relaxation_curve_follows_the_samplers_cfg(browser_page):
    """s_base 0 means the sampler's cfg: the curve ends at the cfg of the KSampler the MODEL reaches, and moves
    when that widget is edited; with embedded guidance it ends at the FluxGuidance value."""
    page, _info, _errors, _srv = browser_page
    _load(page, _wf("wan21_t2v_relaxation_cfg"))
    relax, ksampler = _node_id(page, "InertiaRelaxationCFG"), _node_id(page, "KSampler")
    _focus(page, relax)
    drawn = _curve(page, relax)
    assert drawn["base"] == 6.0 and drawn["curve"][-1] == pytest.approx(6.0), drawn
    assert f"KSampler #{ksampler}" in drawn["note"] and "6" in drawn["info"], drawn
    _set_widget(page, ksampler, "cfg", 3.5)
    drawn = _curve(page, relax)
    assert drawn["base"] == 3.5 and drawn["curve"][-1] == pytest.approx(3.5), drawn
    # the first point is the relaxed one: s_min + (cfg − s_min)(1 − β) = 1 + 2.5·0.25
    assert drawn["curve"][0] == pytest.approx(1 + 2.5 * 0.25, abs=1e-4), drawn
    _set_widget(page, relax, "s_base", 5.0)  # an own s_base wins, and says so
    drawn = _curve(page, relax)
    assert drawn["base"] == 5.0 and "set on the node" in drawn["note"], drawn

    _load(page, _wf("hunyuan_t2v_relaxation_embedded"))
    relax, flux = _node_id(page, "InertiaRelaxationCFG"), _node_id(page, "FluxGuidance")
    _focus(page, relax)
    assert _curve(page, relax)["base"] == 6.0
    _set_widget(page, flux, "guidance", 8.0)
    drawn = _curve(page, relax)
    assert drawn["base"] == 8.0 and f"FluxGuidance #{flux}" in drawn["note"], drawn


def test_preview_follows_the_patched_model(browser_page):
    """The preview has no β/p/s_min/s_base widgets: its curve is the schedule of the Relaxation CFG node its
    MODEL comes from, and follows that node's widgets."""
    page, info, _errors, _srv = browser_page
    assert not {"beta", "decay_power", "s_min", "s_base"} & set(_widget_inputs(info["InertiaRelaxationCFGPreview"]))
    assert "model" in info["InertiaRelaxationCFGPreview"]["input"]["required"]
    _load(page, _wf("wan21_t2v_relaxation_cfg"))
    relax, preview = _node_id(page, "InertiaRelaxationCFG"), _node_id(page, "InertiaRelaxationCFGPreview")
    _focus(page, preview)
    assert _curve(page, preview)["curve"] == _curve(page, relax)["curve"]
    _set_widget(page, relax, "beta", -0.5)
    _focus(page, preview)
    drawn = _curve(page, preview)
    assert drawn["curve"] == _curve(page, relax)["curve"] and drawn["curve"][0] > drawn["curve"][-1], drawn
    _set_widget(page, relax, "decay_power", 2.0)
    _focus(page, preview)
    ys = _curve(page, preview)["curve"]
    assert ys[50] == pytest.approx(1 + 5 * (1 + 0.5 * 0.5 ** 2.0), abs=1e-4)  # σ̂ 0.5, β −0.5, p 2, cfg 6
    # the preview's own cfg stands for s_base 0, as in the backend; the sampler's differing value is named
    _set_widget(page, preview, "cfg", 4.0)
    drawn = _curve(page, preview)
    assert drawn["base"] == 4.0 and "the sampler uses 6" in drawn["note"], drawn


# --------------------------------------------------------------------------- node search

def test_search_inertia_finds_every_pack_node(browser_page):
    page, info, _errors, _srv = browser_page
    pack = _pack_types(info)
    by_display = {info[k]["display_name"]: k for k in pack}
    page.keyboard.press("Escape")
    page.mouse.dblclick(VIEWPORT["width"] // 2, VIEWPORT["height"] - 120)  # on empty canvas: the node search box
    page.wait_for_timeout(800)
    page.keyboard.type("inertia")
    page.wait_for_timeout(1500)
    shown = page.evaluate("""() => [...document.querySelectorAll('.p-autocomplete-option, [role=option]')]
        .map(e => e.innerText.split('\\n')[0].replace(/\\u00a0/g, ' ').trim()).filter(Boolean)""")
    page.keyboard.press("Escape")
    found = {by_display[s] for s in shown if s in by_display}
    assert found == pack, f"search 'inertia' finds {len(found)} of {len(pack)} pack nodes; missing {sorted(pack - found)}"


# --------------------------------------------------------------------------- VACE timeline (runs the mask branch)

def test_vace_timeline_draws_live_and_after_a_run(browser_page):
    """The keyframe builder's timeline: live from the length widget (81 → 21 reads), then coloured from
    the backend's latent mask after the graph is queued from the page (only the mask branch can run:
    the model files are absent, so ComfyUI queues the outputs that validate). After the run the latent-mask
    preview shows its picture inside its node: still no overlaps."""
    page, info, _errors, _srv = browser_page
    _load(page, _wf("vace_keyframes_anchor"))
    node_id = _node_id(page, "InertiaVACEKeyframeBuilder")
    _focus(page, node_id)
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
    preview = _node_id(page, "InertiaVACELatentMaskPreview")
    page.wait_for_function("""id => { const n = window.app.graph.getNodeById(id);
        return n.imgs && n.imgs.length && n.imgs[0].complete && n.imgs[0].naturalWidth > 0; }""", arg=preview,
                           timeout=60_000)
    _focus(page, preview)
    page.screenshot(path=str(ARTIFACTS / "vace_mask_preview_after_run.png"))
    problems = _layout_problems(page.evaluate(_GEOMETRY_JS))
    assert not problems, problems


def test_testbed_workflow_runs_from_the_page(browser_page):
    """Right after install (this server has no models folder of its own: the pack's testbed weights are all it
    has), the testbed template runs from the page: queued as a person presses Run, it saves the three mp4s and
    both change meters show their plot in their node; after the run nothing overlaps."""
    import time

    page, _info, _errors, srv = browser_page
    _load(page, _wf("testbed_disappear_ab"))
    before = set(headless._get_json(srv, "/history"))
    page.evaluate("() => window.app.queuePrompt(0, 1)")
    deadline, entry = time.monotonic() + 300, None
    while time.monotonic() < deadline and entry is None:
        new = {k: v for k, v in headless._get_json(srv, "/history").items() if k not in before}
        entry = next((v for v in new.values() if v.get("status", {}).get("completed") is not None), None)
        time.sleep(1)
    assert entry is not None, "the testbed workflow did not finish within 300 s"
    assert entry["status"]["status_str"] == "success", entry["status"]
    prompt = entry["prompt"][2]
    saves = [k for k, n in prompt.items() if n["class_type"] == "SaveVideo"]
    files = [i["filename"] for k in saves for i in entry["outputs"].get(k, {}).get("images", [])]
    assert len(saves) == 3 and len(files) == 3 and all(f.endswith(".mp4") for f in files), entry["outputs"]
    meters = [int(k) for k, n in prompt.items() if n["class_type"] == "InertiaChangeMeter"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for meter in meters:  # the frontend loads a node's output image when it draws the node: bring each into view
        _focus(page, meter)
        page.wait_for_function("""id => { const n = window.app.graph.getNodeById(id);
            return n.imgs && n.imgs.length && n.imgs[0].complete && n.imgs[0].naturalWidth > 0; }""", arg=meter,
                               timeout=60_000)
    page.wait_for_timeout(800)
    page.screenshot(path=str(ARTIFACTS / "testbed_after_run.png"))
    problems = _layout_problems(page.evaluate(_GEOMETRY_JS))
    assert not problems, problems
