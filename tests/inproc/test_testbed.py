"""The Inertia testbed through real ComfyUI: the VAE loader node, the text node, the shipped DiT through the stock
UNETLoader (detected as Wan), one sampling run through real graph nodes, and the in-process evaluation."""

from __future__ import annotations

import inspect
import re
import time

import pytest
import torch

from comfyui_inertia.nodes import testbed
from comfyui_inertia.nodes.pure import testbed_metrics as tm
from comfyui_inertia.nodes.pure import toyworld as tw

#: Regression bounds for the shipped, preliminary weights (nodes/testbed/weights/PROVENANCE.json). They are below
#: the issue's targets on purpose and say so: the VAE's held-out PSNR target is 28 dB (the shipped VAE: 29.5 dB mean
#: on the four scenes tested here, 25.7 dB mean over the 32 held-out videos of `train_vae.vae_psnr`), and a 'stays'
#: video should keep its object above KEPT_ABOVE = 0.7 (the shipped DiT: 0.58 on the scene tested here).
VAE_PSNR_REGRESSION = 27.0
STAYS_PRESENCE_REGRESSION = 0.45


@pytest.fixture(scope="module")
def tb(comfy):
    from comfyui_inertia.nodes.testbed import comfy_nodes, evaluate

    for f in (testbed.VAE_DIR / testbed.DEFAULT_VAE, testbed.DIT_DIR / testbed.DEFAULT_DIT):
        assert f.is_file(), f"shipped testbed weights missing: {f} (python -m nodes.testbed.train)"
    return comfy_nodes, evaluate


@pytest.fixture(scope="module")
def vae(tb):
    return tb[1].call_node(__import__("nodes"), "InertiaTestbedVAELoader", vae_name=testbed.DEFAULT_VAE)[0]


def test_latent_calibration_is_exact(comfy):
    """calibrate_vae_latents maps mu to the Wan 2.1 latent statistics and leaves decode(encode(x)) unchanged."""
    from comfyui_inertia.nodes.testbed import models

    vae = models.build_vae_module(models.VAEConfig(dim=4), seed=0).eval()
    x = torch.rand(2, 3, 1, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad():
        mu = vae.encode(x)
        y = vae.decode(mu)
        m, s = mu.transpose(0, 1).flatten(1).mean(1), mu.transpose(0, 1).flatten(1).std(1)
        tm_, ts_ = models.wan21_latent_stats()
        models.calibrate_vae_latents(vae, m, s, tm_, ts_)
        mu2 = vae.encode(x)
        y2 = vae.decode(mu2)
    flat = mu2.transpose(0, 1).flatten(1)
    assert torch.allclose(flat.mean(1), tm_, atol=1e-4) and torch.allclose(flat.std(1), ts_, rtol=1e-4)
    assert torch.allclose(y2, y, atol=1e-4)


def test_loader_returns_a_normal_comfyui_vae_with_the_wan21_ratios(tb, vae, comfy):
    import comfy.sd as sd_module

    assert isinstance(vae, sd_module.VAE)
    assert vae.spacial_compression_encode() == 8 and vae.temporal_compression_decode() == 4
    assert vae.latent_channels == 16 and vae.latent_dim == 3
    assert sum(p.numel() for p in vae.first_stage_model.parameters()) < 2_000_000
    # every attribute core's VAE constructor sets exists on ours (guards against ComfyUI adding one)
    names = set(re.findall(r"self\.(\w+)\s*=", inspect.getsource(sd_module.VAE.__init__)))
    missing = sorted(n for n in names if not hasattr(vae, n))
    assert not missing, missing


def test_vaeencode_vaedecode_shapes_and_heldout_reconstruction(tb, vae, comfy):
    """VAEEncode → [1, 16, 5, 16, 16] → VAEDecode → [17, 128, 128, 3]; mean PSNR on held-out scene 7 as four
    scenarios (measured 29.3 / 32.4 / 27.7 / 28.5 dB with the shipped VAE)."""
    psnrs = []
    for scen in ("stays", "disappears", "moves_left", "appears"):
        _, r, _ = tw.heldout_scenes(1, scen, first=7)
        video = r["video"][0].float()                                       # [17, 128, 128, 3]
        latent = comfy.VAEEncode().encode(vae, video)[0]["samples"]
        assert latent.shape == (1, 16, 5, 16, 16)
        out = comfy.VAEDecode().decode(vae, {"samples": latent})[0]
        assert out.shape == (17, 128, 128, 3)
        psnrs.append(float(10 * torch.log10(1.0 / (out.float() - video).pow(2).mean())))
    assert sum(psnrs) / 4 >= VAE_PSNR_REGRESSION, psnrs


def test_wan_image_to_video_accepts_the_testbed_vae(tb, vae, comfy):
    cond = tb[0].encode_text("a red ball on a grey striped background, it stays still")
    start = tw.heldout_scenes(1, "stays")[1]["video"][0, :1].float()
    pos, neg, lat = tb[1].call_node(comfy, "WanImageToVideo", positive=cond, negative=cond, vae=vae, width=128,
                                    height=128, length=17, batch_size=1, start_image=start)
    assert lat["samples"].shape == (1, 16, 5, 16, 16)
    assert pos[0][1]["concat_latent_image"].shape == (1, 16, 5, 16, 16)
    assert pos[0][1]["concat_mask"][0, 0, :, 0, 0].tolist() == [0.0, 1.0, 1.0, 1.0, 1.0]


def test_text_node_gives_the_testbed_conditioning(tb, comfy):
    out = tb[1].call_node(comfy, "InertiaTestbedTextEncode", text="a red ball, it disappears")[0]
    c = out[0][0]
    assert c.shape == (1, 32, 4096)
    assert torch.equal(c, tw.encode_prompts("a red ball, it disappears"))
    assert torch.count_nonzero(tb[1].call_node(comfy, "InertiaTestbedTextEncode", text="")[0][0][0]) == 0


def test_scene_node_matches_the_generator(tb, comfy):
    img, mask, prompt, gt, bg = tb[1].call_node(comfy, "InertiaTestbedScene", scene=5, scenario="disappears")
    _, r, prompts = tw.heldout_scenes(1, "disappears", first=5)
    assert img.shape == (1, 128, 128, 3) and mask.shape == (1, 128, 128) and gt.shape == (17, 128, 128, 3)
    assert torch.equal(img, r["video"][:, 0]) and prompt == prompts[0] and prompt.endswith("it disappears")
    assert torch.equal(mask, (r["full_alpha"] > 0.5).float())


def test_stock_unetloader_lists_and_loads_the_dit_as_wan(tb, comfy):
    import comfy.model_base as model_base
    import comfy.model_sampling as model_sampling
    import folder_paths
    from comfy.ldm.wan.model import WanModel

    assert testbed.DEFAULT_DIT in folder_paths.get_filename_list("diffusion_models")
    model = tb[1].call_node(comfy, "UNETLoader", unet_name=testbed.DEFAULT_DIT, weight_dtype="default")[0]
    assert type(model.model) is model_base.WAN21
    dm = model.model.diffusion_model
    assert isinstance(dm, WanModel) and dm.patch_embedding.in_channels == 36 and dm.img_emb is None
    assert sum(p.numel() for p in dm.parameters()) <= 5_000_000
    ms = model.get_model_object("model_sampling")
    assert isinstance(ms, model_sampling.CONST) and float(ms.shift) == 8.0


def test_evaluate_loads_the_dit_file_it_is_given_not_the_shipped_one_of_the_same_name(tb, tmp_path, comfy):
    """Every trained DiT is called inertia_testbed_dit.safetensors, like the shipped one (whose folder ComfyUI
    searches first): the evaluation must load the file at the path it was given."""
    from safetensors.torch import load_file, save_file

    sd = load_file(str(testbed.DIT_DIR / testbed.DEFAULT_DIT))
    key = "head.head.bias"
    original = sd[key].clone()
    sd[key] = original + 1.0
    other = tmp_path / "dit_other_s0" / testbed.DEFAULT_DIT
    other.parent.mkdir()
    save_file(sd, str(other))
    loaded = tb[1].load_dit(comfy, str(other))
    got = loaded.model.diffusion_model.state_dict()[key].float()
    assert torch.equal(got, sd[key].float()), "the evaluation loaded another file than the one it was given"
    shipped = tb[1].load_dit(comfy, str(testbed.DIT_DIR / testbed.DEFAULT_DIT))
    assert torch.equal(shipped.model.diffusion_model.state_dict()[key].float(), original.float())


def test_training_convention_is_what_comfyui_samples(tb, vae, comfy):
    """The conventions the DiT is trained with (``train_dit.dit_input``, timestep σ·1000, prediction noise − x0,
    process_in'd latents, zeros for the empty prompt) are the ones ComfyUI samples with: KSampler (euler, simple,
    cfg 5) on the WanImageToVideo conditioning equals an Euler loop written with them around the raw WanModel."""
    from comfy import sample as comfy_sample
    from comfy import samplers as comfy_samplers

    from comfyui_inertia.nodes.testbed import train_dit

    ev = tb[1]
    _, r, prompts = tw.heldout_scenes(1, "disappears")
    pos = ev.call_node(comfy, "InertiaTestbedTextEncode", text=prompts[0])[0]
    neg = ev.call_node(comfy, "InertiaTestbedTextEncode", text="")[0]
    p, n, lat = ev.call_node(comfy, "WanImageToVideo", positive=pos, negative=neg, vae=vae, width=128, height=128,
                             length=17, batch_size=1, start_image=r["video"][0, :1].float())[:3]
    model = ev.call_node(comfy, "UNETLoader", unet_name=testbed.DEFAULT_DIT, weight_dtype="default")[0]
    steps, cfg = 6, 5.0
    with torch.inference_mode():
        got = ev.call_node(comfy, "KSampler", model=model, seed=3, steps=steps, cfg=cfg, sampler_name="euler",
                           scheduler="simple", positive=p, negative=n, latent_image=lat, denoise=1.0)[0]["samples"]
        lf = model.model.latent_format
        dm = model.model.diffusion_model
        dtype = next(dm.parameters()).dtype
        sigmas = comfy_samplers.calculate_sigmas(model.get_model_object("model_sampling"), "simple", steps).float()
        cond = lf.process_in(p[0][1]["concat_latent_image"].float())
        x = comfy_sample.prepare_noise(lat["samples"], 3) * sigmas[0]
        for i in range(steps):
            s = sigmas[i]
            inp = train_dit.dit_input(x, cond).to(dtype)
            t = (s * 1000.0).view(1).to(dtype)
            vc, vu = (dm(inp, t, c[0][0].to(dtype)).float() for c in (pos, neg))
            x0 = x - s * (vu + cfg * (vc - vu))
            x = x0 + sigmas[i + 1] * (x - x0) / s if float(sigmas[i + 1]) > 0 else x0
        want = lf.process_out(x)
    err = float((got.float() - want).abs().max() / want.abs().max())
    assert err < 1e-3, f"KSampler and the training convention differ by {err:.2e} (relative max)"


def test_one_sampling_run_through_real_graph_nodes_on_cpu(tb, vae, comfy):
    """17 frames, 20 steps, CFG 5, euler/simple: UNETLoader, text node, WanImageToVideo, KSampler, VAEDecode, under
    torch.inference_mode as ComfyUI's executor runs them. The DiT reproduces the start frame; the object of a 'stays'
    prompt is still mostly there (regression bound, see STAYS_PRESENCE_REGRESSION). Prints the timings."""
    ev = tb[1]
    _, r, prompts = tw.heldout_scenes(1, "stays", first=1)
    t0 = time.perf_counter()
    c0 = time.process_time()
    with torch.inference_mode():
        video, (t1, t2, t3, t4) = _cpu_run(ev, comfy, vae, r, prompts[0])
    cpu = time.process_time() - c0
    print(f"\nCPU testbed run: load {t1 - t0:.2f}s, WanImageToVideo {t2 - t1:.2f}s, KSampler 20 steps cfg 5 "
          f"{t3 - t2:.2f}s, VAEDecode {t4 - t3:.2f}s; total {t4 - t0:.2f}s wall, {cpu:.2f}s CPU time")
    assert video.shape == (17, 128, 128, 3) and bool(torch.isfinite(video).all())
    first = float((video[0] - r["video"][0, 0]).pow(2).mean())
    assert 10 * torch.log10(torch.tensor(1 / first)) > 20.0                 # the start frame is reproduced
    core, guard = tm.object_regions(r["full_alpha"], r["alpha"])
    pres = tm.presence_series(video[None], r["background"], r["reference"], core)
    assert float(tm.late_mean(pres)[0]) > STAYS_PRESENCE_REGRESSION
    assert float(tm.background_error(video[None], r["background"], guard)[0]) < 0.05


def _cpu_run(ev, comfy, vae, r, prompt):
    model = ev.call_node(comfy, "UNETLoader", unet_name=testbed.DEFAULT_DIT, weight_dtype="default")[0]
    pos = ev.call_node(comfy, "InertiaTestbedTextEncode", text=prompt)[0]
    neg = ev.call_node(comfy, "InertiaTestbedTextEncode", text="")[0]
    t1 = time.perf_counter()
    pos, neg, lat = ev.call_node(comfy, "WanImageToVideo", positive=pos, negative=neg, vae=vae, width=128, height=128,
                                 length=17, batch_size=1, start_image=r["video"][0, :1].float())
    t2 = time.perf_counter()
    out = ev.call_node(comfy, "KSampler", model=model, seed=0, steps=20, cfg=5.0, sampler_name="euler",
                       scheduler="simple", positive=pos, negative=neg, latent_image=lat, denoise=1.0)[0]
    t3 = time.perf_counter()
    video = ev.call_node(comfy, "VAEDecode", vae=vae, samples=out)[0]
    return video, (t1, t2, t3, time.perf_counter())


def test_evaluate_in_process_writes_a_scored_report(tb, tmp_path, comfy):
    ev = tb[1]
    rep = ev.evaluate([str(testbed.DIT_DIR / testbed.DEFAULT_DIT)], testbed.DEFAULT_VAE,
                      ["stock", "relax=RelaxationCFG"], cfgs=(5.0,), n=1, steps=2, first=0,
                      out_json=str(tmp_path / "eval.json"), progress=lambda *_: None)
    (name, m), = rep["models"].items()
    assert set(m["runs"]) == {"stock@cfg5#seed0", "relax@cfg5#seed0"}
    d = m["runs"]["stock@cfg5#seed0"]["scenarios"]["disappears"]
    assert len(d["bg_error"]) == 1 and len(d["presence"][0]) == 17 and len(d["latent_presence"][0]) == 5
    assert len(d["meter_remaining"][0]) == 17
    assert m["threshold"] >= tm.COLLAPSE_FLOOR
    assert m["summary"]["relax@cfg5#seed0"]["stays"]["kept"]["n"] == 1
    assert (tmp_path / "eval.json").is_file()
    s = ev.Setting.parse("tu=TemporalUnlearning:sigma_blur=0.6;RelaxationCFG:beta=1")
    assert s.name == "tu" and s.patches == [("TemporalUnlearning", {"sigma_blur": 0.6}), ("RelaxationCFG", {"beta": 1})]


def _workflow_build():
    """``workflows/build.py``, loaded by path as the other workflow tests do."""
    import importlib.util

    build_path = testbed.PACKAGE_DIR.parents[1] / "workflows" / "build.py"
    spec = importlib.util.spec_from_file_location("inertia_workflow_build_tb", build_path)
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    return build


@pytest.fixture(scope="module")
def testbed_workflow(comfy):
    """(build module, the testbed spec, its API graph as built, the API graph as shipped in workflows/api/)."""
    import json

    build = _workflow_build()
    (wf,) = [s for s in build.SPECS if build.is_testbed(s)]
    _ui, api = build.build(wf, comfy.NODE_CLASS_MAPPINGS)
    shipped = json.loads((build.HERE / "api" / f"{wf['name']}.json").read_text())
    return build, wf, api, shipped


def _only(api: dict, class_type: str) -> str:
    (nid,) = [k for k, n in api.items() if n["class_type"] == class_type]
    return nid


def test_testbed_workflow_spec_builds_and_validates_with_zero_downloads(tb, testbed_workflow, comfy, tmp_path):
    """The testbed workflow of workflows/build.py (the one the main job runs by default) validates in full against
    the real node definitions, with no error at all: every model file it names is the pack's own registered weights
    (nothing to download), and the headless client's missing-file check counts them as present, so no demo mode."""
    import asyncio

    import execution
    import folder_paths

    from comfyui_inertia.nodes import headless

    build, wf, api, shipped = testbed_workflow
    assert shipped == api, "workflows/api is stale: run python workflows/build.py"
    assert wf["name"].startswith("testbed_") and build.ordered_specs()[0]["name"] == wf["name"]
    ok, err, outputs, node_errors = asyncio.run(execution.validate_prompt("t", api, None))
    assert ok and not node_errors, (err, node_errors)
    assert sorted(api[o]["class_type"] for o in outputs) == ["InertiaChangeMeter"] * 2 + ["SaveVideo"] * 3
    unet, vae = api[_only(api, "UNETLoader")], api[_only(api, "InertiaTestbedVAELoader")]
    assert unet["inputs"]["unet_name"] == testbed.DEFAULT_DIT and vae["inputs"]["vae_name"] == testbed.DEFAULT_VAE
    assert folder_paths.get_full_path("diffusion_models", testbed.DEFAULT_DIT) == str(testbed.DIT_DIR / testbed.DEFAULT_DIT)
    assert folder_paths.get_full_path(testbed.VAE_FOLDER, testbed.DEFAULT_VAE) == str(testbed.VAE_DIR / testbed.DEFAULT_VAE)
    empty_comfy = tmp_path / "ComfyUI"  # a fresh install: nothing in models/
    (empty_comfy / "models").mkdir(parents=True)
    assert headless.required_model_files(api) == {testbed.DEFAULT_DIT: "diffusion_models",
                                                  testbed.DEFAULT_VAE: testbed.VAE_FOLDER}
    assert headless.missing_model_files(api, empty_comfy) == []
    assert headless.runs_on_pack_weights(api) and headless.standin_graph(api) == api  # no stand-ins, no shrinking
    renamed = {k: {**n, "inputs": {**n["inputs"], "unet_name": "elsewhere.safetensors"}} if n["class_type"] == "UNETLoader"
               else n for k, n in api.items()}
    assert headless.missing_model_files(renamed, empty_comfy) == ["elsewhere.safetensors"]
    assert not headless.runs_on_pack_weights(renamed)


def test_testbed_workflow_is_a_fair_ab(testbed_workflow):
    """Both branches sample the same start image, prompt, latent and seed with the same sampler settings; the B
    branch's model is Relaxation CFG on the A branch's UNETLoader; every decoded branch is saved as an mp4 and
    measured with the scene's first-frame object mask; the ground truth is saved too."""
    _build, _wf, api, _shipped = testbed_workflow
    unet, relax, scene, i2v = (_only(api, c) for c in ("UNETLoader", "InertiaRelaxationCFG", "InertiaTestbedScene",
                                                       "WanImageToVideo"))
    assert api[relax]["inputs"]["model"] == [unet, 0] and api[relax]["inputs"]["beta"] == 0.75
    assert api[i2v]["inputs"]["start_image"] == [scene, 0]
    assert (api[i2v]["inputs"]["width"], api[i2v]["inputs"]["height"], api[i2v]["inputs"]["length"]) == (128, 128, 17)
    samplers = {n["inputs"]["model"][0]: n for n in api.values() if n["class_type"] == "KSampler"}
    assert set(samplers) == {unet, relax}
    stock, relaxed = samplers[unet]["inputs"], samplers[relax]["inputs"]
    assert {k: v for k, v in stock.items() if k != "model"} == {k: v for k, v in relaxed.items() if k != "model"}
    assert stock["positive"] == [i2v, 0] and stock["negative"] == [i2v, 1] and stock["latent_image"] == [i2v, 2]
    pos = api[api[i2v]["inputs"]["positive"][0]]
    assert pos["class_type"] == "InertiaTestbedTextEncode" and pos["inputs"]["text"] == [scene, 2]
    ks_of = {k: n["inputs"]["model"][0] for k, n in api.items() if n["class_type"] == "KSampler"}
    decoded = {}
    for k, n in api.items():
        if n["class_type"] == "VAEDecode":
            decoded[ks_of[n["inputs"]["samples"][0]]] = k
    assert set(decoded) == {unet, relax}
    for dec in decoded.values():
        videos = [k for k, n in api.items() if n["class_type"] == "CreateVideo" and n["inputs"]["images"] == [dec, 0]]
        saves = [n for n in api.values() if n["class_type"] == "SaveVideo" and n["inputs"]["video"] == [videos[0], 0]]
        assert len(videos) == 1 and len(saves) == 1 and saves[0]["inputs"]["format"] == "mp4"
        meters = [n for n in api.values() if n["class_type"] == "InertiaChangeMeter" and n["inputs"]["images"] == [dec, 0]]
        assert len(meters) == 1 and meters[0]["inputs"]["mask"] == [scene, 1]
    gt = [k for k, n in api.items() if n["class_type"] == "CreateVideo" and n["inputs"]["images"] == [scene, 3]]
    assert len(gt) == 1 and any(n["inputs"].get("video") == [gt[0], 0] for n in api.values())
    titles = sorted(n["_meta"]["title"] for n in api.values() if n["class_type"] == "SaveVideo")
    assert titles == ["Ground truth", "Relaxation CFG", "Stock"]  # the names of the files the main job writes


def test_testbed_note_is_honest_about_the_preliminary_weights(testbed_workflow):
    """The Templates-browser text and the note: a title, a one-line description, no download links, and the plain
    statement that the shipped weights do not show Static Death robustly yet."""
    build, wf, _api, _shipped = testbed_workflow
    (meta,) = [t for t in build.template_index()[0]["templates"] if t["name"] == wf["name"]]
    assert meta["title"] == wf["title"] and "no downloads" in meta["title"] and meta["description"]
    note = build.note_text(wf)
    assert "preliminary" in note and "does not" in note and "Static Death" in note
    assert "nothing to download" in note and "huggingface" not in note
    assert f"`{testbed.DEFAULT_DIT}`" in note and f"`{testbed.DEFAULT_VAE}`" in note
