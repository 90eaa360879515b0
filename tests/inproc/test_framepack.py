"""FramePack inside real ComfyUI: tiny packed stand-in in the released key layout, real loader,
real CFGGuider/samplers, instrumented with wrappers on clones."""

from __future__ import annotations

import pytest
import torch

from comfyui_inertia.nodes import keys, standins
from comfyui_inertia.nodes.pure import framepack_schedule as fs
from comfyui_inertia.nodes.pure.errors import InertiaInputError
from comfyui_inertia.nodes.standins import framepack as framepack_standin

from .framepack_reference import packed_forward
from .helpers import model_state, reference_scale

SCALE = 0.476986  # HunyuanVideo latent_format.scale_factor (process_latent_in)
WS, STEPS, SECONDS = 2, 2, 0.8  # 0.8 s · 30 / (2·4) = 3 sections


def vision(seed=0, tokens=8):
    import comfy.clip_vision

    out = comfy.clip_vision.Output()
    out["last_hidden_state"] = torch.randn(1, tokens, 1152, generator=torch.Generator().manual_seed(seed)) * 0.5
    return out


def lat(seed, h=8, w=8):
    return {"samples": torch.randn(1, 16, 1, h, w, generator=torch.Generator().manual_seed(seed))}


def run(fp, model, mode="inverted", end=False, seconds=SECONDS, positive=None, **kw):
    args = dict(model=model, positive=positive or standins.hunyuan_text_conditioning(1, length=8),
                clip_vision_output=vision(), start_latent=lat(10), total_seconds=seconds, latent_window_size=WS,
                steps=STEPS, distilled_guidance=10.0, cfg=1.0, shift=0.0, seed=7, sampler_name="euler", mode=mode)
    if end:
        args.update(end_latent=lat(11), end_clip_vision_output=vision(1))
    args.update(kw)
    return fp.FramePackSectionSampler.execute(**args)


def probe(model, key="test_probe"):
    """Clone with a DIFFUSION_MODEL wrapper recording what every model call received."""
    import comfy.patcher_extension as pe

    calls = []

    def wrapper(executor, x, timestep, context, y, txt_byt5, guidance, attention_mask, guiding_frame_index, ref_latent,
                disable_time_r, control, transformer_options, **kwargs):
        calls.append({
            "x": tuple(x.shape), "sigma": float(transformer_options["sigmas"].flatten()[0]),
            "guidance": guidance.detach().float().cpu().clone(), "context": context.detach().float().cpu().clone(),
            "shapes": {k: tuple(kwargs[k].shape) for k in ("clean_latents", "clean_latents_2x", "clean_latents_4x",
                                                           "image_embeddings")},
            "idx": {k: kwargs[k][0].tolist() for k in ("latent_indices", "clean_latent_indices",
                                                       "clean_latent_2x_indices", "clean_latent_4x_indices")},
            "clean": kwargs["clean_latents"].detach().float().cpu().clone(),
            "image": kwargs["image_embeddings"].detach().float().cpu().clone(),
        })
        return executor(x, timestep, context, y, txt_byt5, guidance, attention_mask, guiding_frame_index, ref_latent,
                        disable_time_r, control, transformer_options, **kwargs)

    m = model.clone()
    m.add_wrapper_with_key(pe.WrappersMP.DIFFUSION_MODEL, key, wrapper)
    return m, calls


# ------------------------------------------------------------------------------ model and loader

def test_forward_matches_independent_reference(fp):
    """Our model (core HunyuanVideo + FramePack parts) == a plain-torch FramePack forward on the same weights."""
    sd = framepack_standin.framepack_state_dict(seed=5, std=0.05)
    model = fp.load_framepack_state_dict({k: v.clone() for k, v in sd.items()}, {"dtype": torch.float32})
    dm = model.get_model_object("diffusion_model")
    assert isinstance(dm, fp.FramePackHunyuanVideo) and dm.params.guidance_embed
    g = torch.Generator().manual_seed(0)
    h = w = 12  # 4×: 12 → padded to 16 latent, RoPE grid 6 → 8 (replicate edges)
    plan = fs.plan_sections(3, WS, "inverted")[1]
    rnd = lambda *s: torch.randn(*s, generator=g)  # noqa: E731
    x, text, pooled, image = rnd(1, 16, WS, h, w), rnd(1, 7, 4096) * 0.5, rnd(1, 768), rnd(1, 5, 1152)
    pack = {"latent_indices": torch.tensor([plan.latent_indices]),
            "clean_latents": rnd(1, 16, 2, h, w), "clean_latent_indices": torch.tensor([plan.clean_indices]),
            "clean_latents_2x": rnd(1, 16, 2, h, w), "clean_latent_2x_indices": torch.tensor([plan.clean_2x_indices]),
            "clean_latents_4x": rnd(1, 16, 16, h, w), "clean_latent_4x_indices": torch.tensor([plan.clean_4x_indices]),
            "image_embeddings": image}
    t = torch.tensor([700.0])
    with torch.no_grad():
        ours = dm(x, t, text, y=pooled, guidance=torch.tensor([10.0]), transformer_options={}, **pack)
        ref = packed_forward(sd, x, t, text, pooled, torch.tensor([10000.0]), **pack)
        other = packed_forward(sd, x, t, text, pooled, torch.tensor([10000.0]),
                               **{**pack, "clean_latents_4x": torch.zeros_like(pack["clean_latents_4x"])})
    err = float((ours - ref).norm() / ref.norm())
    sensitivity = float((other - ref).norm() / ref.norm())
    print(f"\nrelative error vs reference {err:.2e}; 4x-context sensitivity {sensitivity:.2e}")
    assert err < 1e-4
    assert sensitivity > 100 * max(err, 1e-6)
    # without FramePack kwargs it is core's HunyuanVideo forward (no prefix, no image tokens)
    with torch.no_grad():
        plain = dm(x, t, text, y=pooled, guidance=torch.tensor([10.0]), transformer_options={})
    assert plain.shape == x.shape and not torch.allclose(plain, ours)


def test_loader_node_real_layout_and_rejects_other_checkpoints(fp, load_fp):
    from comfyui_inertia.nodes.model_info import has_guidance_input

    model = load_fp()
    assert fp.is_framepack_model(model) and has_guidance_input(model)
    assert model.model.framepack_variant == "i2v" and load_fp("framepack_f1").model.framepack_variant == "f1"
    keys = set(model.model.diffusion_model.state_dict())
    assert {"clean_x_embedder.proj_4x.weight", "image_projection.up.weight", "double_blocks.0.img_attn.qkv.weight",
            "single_blocks.0.linear1.weight"} <= keys
    assert not any(k.startswith("byt5_in") for k in keys)
    with pytest.raises(InertiaInputError, match="plain HunyuanVideo"):
        fp.FramePackModelLoader.execute(model_name="hunyuan_plain.safetensors")
    with pytest.raises(InertiaInputError, match="not a FramePack checkpoint"):
        fp.FramePackModelLoader.execute(model_name="wan_plain.safetensors")
    # the ComfyUI layout (e.g. a re-saved file) loads too
    sd = fp.diffusers_to_comfy(framepack_standin.framepack_state_dict(seed=2))
    assert fp.is_framepack_model(fp.load_framepack_state_dict({"model.diffusion_model." + k: v for k, v in sd.items()}))


# ------------------------------------------------------------------------------ sampling

def test_inverted_with_end_every_section_sees_patch_and_context(fp, load_fp):
    import comfy.model_management as mm
    import comfy.utils

    base = load_fp()
    before = model_state(base)
    m, calls = probe(base)
    attn = []

    def attention_override(func, *args, **kwargs):
        attn.append((args[0].shape[2], kwargs["transformer_options"].get(keys.FRAMEPACK_LAYOUT)))
        return func(*args, **kwargs)

    m.model_options.setdefault("transformer_options", {})["optimized_attention_override"] = attention_override
    bar = []
    comfy.utils.set_progress_bar_global_hook(lambda value, total, preview, node_id=None: bar.append((value, total)))
    try:
        out = run(fp, m, end=True)
    finally:
        comfy.utils.set_progress_bar_global_hook(None)
    video = out.args[0]["samples"]
    n = fs.section_count(SECONDS, WS)
    plans = fs.plan_sections(n, WS, "inverted", has_end=True)
    assert n == 3 and video.shape == (1, 16, 1 + n * WS, 8, 8) and torch.isfinite(video).all()
    assert torch.equal(video[:, :, :1], lat(10)["samples"])
    assert len(calls) == n * STEPS  # cfg 1: one model call per step, every one through the patch
    start = lat(10)["samples"] * SCALE
    for plan in plans:
        section = calls[plan.step * STEPS:(plan.step + 1) * STEPS]
        for c in section:
            assert c["idx"]["latent_indices"] == list(plan.latent_indices)
            assert c["idx"]["clean_latent_indices"] == list(plan.clean_indices)
            assert c["idx"]["clean_latent_4x_indices"] == list(plan.clean_4x_indices)
            assert c["shapes"] == {"clean_latents": (1, 16, 2, 8, 8), "clean_latents_2x": (1, 16, 2, 8, 8),
                                   "clean_latents_4x": (1, 16, 16, 8, 8), "image_embeddings": (1, 8, 1152)}
            assert torch.allclose(c["clean"][:, :, :1], start, atol=1e-6)
            assert c["x"] == (1, 16, WS, 8, 8)
            assert torch.allclose(c["guidance"], torch.tensor([10.0]))
        post = section[0]["clean"][:, :, 1:2]
        if plan.step == 0:  # first generated section: the end frame is its post context
            assert torch.allclose(post, lat(11)["samples"] * SCALE, atol=1e-6)
        else:  # then the first frame of the section generated just before (later in time)
            assert torch.allclose(post, video[:, :, plan.out_stop:plan.out_stop + 1] * SCALE, atol=1e-4)
    # image tokens move from the start image to the end image across time
    first_in_time, last_in_time = calls[(n - 1) * STEPS]["image"], calls[0]["image"]
    assert torch.allclose(first_in_time, vision(0)["last_hidden_state"], atol=1e-5)
    assert torch.allclose(last_in_time, vision(1)["last_hidden_state"], atol=1e-5)
    # core's attention (override) saw the packed tokens: prefix 1× 2·16 + 2× 1·2·2 + 4× 4·1·1 = 40,
    # then the window 2·4·4 = 32, 8 text and 8 image tokens; the layout rides in transformer_options
    joint = [(length, layout) for length, layout in attn if length > 8]
    assert len(joint) == n * STEPS * 2  # one double + one single block per call
    assert all(item == (40 + 32 + 8 + 8, {"prefix_tokens": 40, "grid": (WS, 4, 4)}) for item in joint)
    assert bar[-1] == (n * STEPS, n * STEPS) and len(bar) >= n * STEPS
    assert model_state(base) == before and "test_probe" not in str(model_state(base)["wrappers"])
    mm.soft_empty_cache()


def test_f1_mode_runs_with_end_frame(fp, load_fp):
    m, calls = probe(load_fp("framepack_f1"))
    out = run(fp, m, mode="f1", end=True)
    video = out.args[0]["samples"]
    n = fs.section_count(SECONDS, WS)
    plans = fs.plan_sections(n, WS, "f1", has_end=True)
    assert video.shape == (1, 16, 1 + n * WS, 8, 8) and torch.isfinite(video).all()
    assert len(calls) == n * STEPS
    for plan in plans:
        c = calls[plan.step * STEPS]
        assert c["idx"]["latent_indices"] == list(plan.latent_indices) == list(range(20, 20 + WS))
        assert c["idx"]["clean_latent_indices"] == list(plan.clean_indices)
        # F1: the newest existing frame is the 1× context (the start frame itself for section 0)
        newest = video[:, :, plan.out_start - 1:plan.out_start] * SCALE
        assert torch.allclose(c["clean"][:, :, 1:2], newest, atol=1e-4)
    assert calls[-1]["shapes"]["clean_latents"] == (1, 16, 3, 8, 8)  # start, newest, end (last section)
    assert torch.allclose(calls[-1]["clean"][:, :, 2:3], lat(11)["samples"] * SCALE, atol=1e-6)


def test_weight_patch_and_seed_reach_every_section(fp, load_fp):
    base = load_fp()
    a = run(fp, base).args[0]["samples"]
    b = run(fp, base).args[0]["samples"]
    assert torch.equal(a, b)  # same seed, same video
    lora = base.clone()
    bias = lora.model.diffusion_model.final_layer.linear.bias
    lora.add_patches({"diffusion_model.final_layer.linear.bias": (torch.full_like(bias, 0.5),)}, 1.0)
    c = run(fp, lora).args[0]["samples"]
    # every generated section changes (the start frame stays)
    assert torch.equal(c[:, :, :1], a[:, :, :1])
    for plan in fs.plan_sections(3, WS, "inverted"):
        assert not torch.allclose(c[:, :, plan.out_start:plan.out_stop], a[:, :, plan.out_start:plan.out_stop])
    assert torch.equal(run(fp, base).args[0]["samples"], a)  # the patch left with its clone


def test_relaxation_cfg_embedded_rewrites_framepack_guidance(fp, load_fp):
    import comfy.patcher_extension as pe

    from comfyui_inertia.nodes.relaxation_cfg import RelaxationCFG

    relaxed = RelaxationCFG.execute(model=load_fp(), beta=0.75, decay_power=0.7, s_min=1.0, s_base=0.0,
                                    guidance="auto").args[0]
    seen = []

    def apply_probe(executor, x, t, *args, **kwargs):
        ms = executor.class_obj.model_sampling
        seen.append((float(t.flatten()[0]), float(ms.sigma_min), float(ms.sigma_max)))
        return executor(x, t, *args, **kwargs)

    relaxed = relaxed.clone()
    relaxed.add_wrapper_with_key(pe.WrappersMP.APPLY_MODEL, "test_probe", apply_probe)  # inner to RelaxationCFG's
    m, calls = probe(relaxed)
    run(fp, m, steps=4)
    assert len(calls) == len(seen) == 3 * 4
    shift = fs.auto_shift(WS, 8, 8)
    for (sigma, lo, hi), c in zip(seen, calls):
        assert lo == pytest.approx(float(fs.flow_sigmas(1000, shift)[-2]), rel=1e-3)  # the sampler's shift is live
        want = reference_scale(sigma, lo, hi, 0.75, 0.7, 1.0, 10.0)  # s_base 0 → the distilled guidance 10
        assert float(c["guidance"][0]) == pytest.approx(want, rel=1e-4)
    assert min(float(c["guidance"][0]) for c in calls) < 4.0


def test_timed_prompts_pick_and_blend_per_section(fp, load_fp):
    a = standins.hunyuan_text_conditioning(1, length=8)
    b = standins.hunyuan_text_conditioning(2, length=6)
    at = lambda c, s: fp.FramePackConditioningAt.execute(conditioning=c, start_seconds=s).args[0]  # noqa: E731
    positive = at(a, 0.0) + at(b, 0.5)  # Conditioning (Combine) = list concatenation
    # sections (ws 2) start at 0, 0.267, 0.533 s → a, a, b; generated last-to-first
    m, calls = probe(load_fp())
    run(fp, m, positive=positive)
    firsts = [calls[k * STEPS]["context"] for k in range(3)]
    assert torch.allclose(firsts[0], b[0][0]) and torch.allclose(firsts[1], a[0][0]) and torch.allclose(firsts[2], a[0][0])
    m, calls = probe(load_fp())
    run(fp, m, positive=positive, prompt_blend_sections=1)
    mid = calls[1 * STEPS]["context"]  # time section 1: half a, half b (b zero-padded to 8 tokens)
    want = fs.blend_tokens(a[0][0], b[0][0], 0.5)
    assert mid.shape == (1, 8, 4096) and torch.allclose(mid, want, atol=1e-5)
    with pytest.raises(InertiaInputError, match="out of order"):
        run(fp, load_fp(), positive=at(b, 0.5) + at(a, 0.0))


@pytest.mark.parametrize("change,match", [
    (dict(start_latent={"samples": torch.zeros(1, 16, 1, 6, 8)}), "32-px bucket"),
    (dict(latent_window_size=0), "latent_window_size"),
    (dict(total_seconds=0.0), "total_seconds"),
    (dict(end_latent={"samples": torch.zeros(1, 16, 1, 8, 12)}), "differs in size"),
])
def test_bad_inputs(fp, load_fp, change, match):
    with pytest.raises(InertiaInputError, match=match):
        run(fp, load_fp(), **change)


def test_rejects_non_framepack_model(fp, load_standin):
    with pytest.raises(InertiaInputError, match="not a FramePack model"):
        run(fp, load_standin("hunyuan_t2v"))


def test_node_schemas(comfy, fp):
    for cls in fp.NODES:
        schema = cls.GET_SCHEMA()
        assert comfy.NODE_CLASS_MAPPINGS[schema.node_id] is cls
        assert schema.category == "Inertia/FramePack" and schema.description
        assert all(i.tooltip for i in schema.inputs) and all(o.tooltip for o in schema.outputs)
    ids = {cls.GET_SCHEMA().node_id for cls in fp.NODES}
    assert {"FramePackModelLoader", "FramePackSectionSampler"} <= ids


def test_alg_lowpasses_the_start_latent_only_inside_the_window(fp, load_fp):
    """ALG on FramePack (single pass): clean_latents[:, :, :1] (the start latent) is low-passed in the
    window, the 1x history frame beside it is untouched, and the sharp start latent returns after."""
    from comfyui_inertia.nodes.alg import ALG
    from comfyui_inertia.nodes.pure.lowpass import down_up

    base_model = load_fp()
    m0, stock = probe(base_model)
    run(fp, m0, steps=4)
    alg = ALG.execute(model=base_model, preset="custom", guidance_form="auto", schedule_by="step", filter="down_up",
                      resize_factor=0.5, blur_sigma=1.0, schedule="interval", window_start=0.0, window_end=0.34,
                      decay_rate=10.0)
    assert "single_pass" in alg.ui.as_dict()["text"][0]
    m1, calls = probe(alg.args[0])
    run(fp, m1, steps=4)
    assert len(calls) == len(stock) == 3 * 4
    for i, (a, b) in enumerate(zip(stock, calls)):
        step = i % 4
        start_stock, start_seen = a["clean"][:, :, :1], b["clean"][:, :, :1]
        if step <= 1:  # i/(N-1) = 0, 0.33 are inside [0, 0.34]
            if i < 4:  # first section: same inputs, so the filtered start equals an independent down-up
                torch.testing.assert_close(start_seen, down_up(start_stock, 0.5), rtol=1e-4, atol=1e-5)
            assert not torch.equal(start_seen, start_stock)
        elif i < 4:
            assert torch.equal(start_seen, start_stock)
        if i < 4:
            assert torch.equal(b["clean"][:, :, 1:], a["clean"][:, :, 1:])  # the 1x history is not ALG's


def test_memory_estimate_counts_the_packed_context(fp, load_fp):
    """calc_cond_batch sizes cond/uncond batches with model.memory_required(shape, cond_shapes): the clean
    latents must add to it (1x a token per patch, 2x 1/8, 4x 1/64), per step and per run."""
    model = load_fp().model
    x = [2, 16, 9, 80, 80]
    shapes = {"clean_latents": [[1, 16, 2, 80, 80]] * 2, "clean_latents_2x": [[1, 16, 2, 80, 80]] * 2,
              "clean_latents_4x": [[1, 16, 16, 80, 80]] * 2}
    bare, packed = model.memory_required(x), model.memory_required(x, cond_shapes=shapes)
    assert packed > bare
    only_1x = model.memory_required(x, cond_shapes={"clean_latents": shapes["clean_latents"]})
    # 2x and 4x add (2/8 + 16/64) frames per entry, the 1x 2 frames: the increments are in that ratio
    assert (packed - only_1x) / (only_1x - bare) == pytest.approx((2 / 8 + 16 / 64) / 2, rel=1e-3)
    pack = {"clean_latents": torch.zeros(1, 16, 2, 8, 8), "clean_latents_4x": torch.zeros(1, 16, 16, 8, 8)}
    assert model.extra_conds_shapes(framepack=pack) == {"clean_latents": [1, 16, 2, 8, 8],
                                                         "clean_latents_4x": [1, 16, 16, 8, 8]}


def test_blend_refuses_multi_entry_prompts_and_unions_masks(fp):
    a = [[torch.ones(1, 4, 8), {"attention_mask": torch.tensor([[1, 1, 0, 0]])}]]
    b = [[torch.ones(1, 6, 8), {"attention_mask": torch.tensor([[1, 1, 1, 0, 0, 0]])}]]
    out = fp.blend_conditioning(a, b, 0.25)
    assert out[0][0].shape == (1, 6, 8) and out[0][1]["attention_mask"].tolist() == [[1, 1, 1, 0, 0, 0]]
    with pytest.raises(InertiaInputError, match="'positive'.*2 entries"):
        fp.blend_conditioning(a + a, b, 0.5)


@pytest.mark.parametrize("bad,problem", [(2.5, "not a whole number"), (0, "below 1"), (float("nan"), "not a finite")])
def test_window_size_errors(bad, problem):
    with pytest.raises(InertiaInputError, match=f"'latent_window_size'.*{problem}"):
        fs.check_window(bad)


def test_shift_zero_keeps_an_upstream_model_sampling(fp, load_fp):
    from comfy_extras.nodes_model_advanced import ModelSamplingSD3

    text = run(fp, ModelSamplingSD3().patch(load_fp(), 3.0)[0]).ui.as_dict()["text"][0]
    assert "shift 3 (upstream or auto)" in text
    auto = run(fp, load_fp()).ui.as_dict()["text"][0]
    assert f"shift {fs.auto_shift(WS, 8, 8):.3g} (upstream or auto)" in auto
