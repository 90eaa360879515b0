"""FramePack section sampler and timed prompts inside real ComfyUI: tiny packed stand-in in the released
key layout, real loader, real CFGGuider/samplers, instrumented with wrappers on clones."""

from __future__ import annotations

import pytest
import torch

from comfyui_inertia.nodes import keys, standins
from comfyui_inertia.nodes.pure import framepack_schedule as fs
from comfyui_inertia.nodes.pure.errors import InertiaInputError

from .helpers import framepack_start_latent as lat
from .helpers import framepack_vision as vision
from .helpers import model_state, reference_scale

SCALE = 0.476986  # HunyuanVideo latent_format.scale_factor (process_latent_in)
WS, STEPS, SECONDS = 2, 2, 0.8  # 0.8 s · 30 / (2·4) = 3 sections


def run(fps, model, mode="inverted", end=False, seconds=SECONDS, positive=None, **kw):
    args = dict(model=model, positive=positive or standins.hunyuan_text_conditioning(1, length=8),
                clip_vision_output=vision(), start_latent=lat(10), total_seconds=seconds, latent_window_size=WS,
                steps=STEPS, distilled_guidance=10.0, cfg=1.0, shift=0.0, seed=7, sampler_name="euler", mode=mode)
    if end:
        args.update(end_latent=lat(11), end_clip_vision_output=vision(1))
    args.update(kw)
    return fps.FramePackSectionSampler.execute(**args)


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


def test_inverted_with_end_every_section_sees_patch_and_context(fps, load_fp):
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
        out = run(fps, m, end=True)
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


def test_f1_mode_runs_with_end_frame(fps, load_fp):
    m, calls = probe(load_fp("framepack_f1"))
    out = run(fps, m, mode="f1", end=True)
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


def test_weight_patch_and_seed_reach_every_section(fps, load_fp):
    base = load_fp()
    a = run(fps, base).args[0]["samples"]
    b = run(fps, base).args[0]["samples"]
    assert torch.equal(a, b)  # same seed, same video
    lora = base.clone()
    bias = lora.model.diffusion_model.final_layer.linear.bias
    lora.add_patches({"diffusion_model.final_layer.linear.bias": (torch.full_like(bias, 0.5),)}, 1.0)
    c = run(fps, lora).args[0]["samples"]
    # every generated section changes (the start frame stays)
    assert torch.equal(c[:, :, :1], a[:, :, :1])
    for plan in fs.plan_sections(3, WS, "inverted"):
        assert not torch.allclose(c[:, :, plan.out_start:plan.out_stop], a[:, :, plan.out_start:plan.out_stop])
    assert torch.equal(run(fps, base).args[0]["samples"], a)  # the patch left with its clone


def test_relaxation_cfg_embedded_rewrites_framepack_guidance(fps, load_fp):
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
    run(fps, m, steps=4)
    assert len(calls) == len(seen) == 3 * 4
    shift = fs.auto_shift(WS, 8, 8)
    for (sigma, lo, hi), c in zip(seen, calls):
        assert lo == pytest.approx(float(fs.flow_sigmas(1000, shift)[-2]), rel=1e-3)  # the sampler's shift is live
        want = reference_scale(sigma, lo, hi, 0.75, 0.7, 1.0, 10.0)  # s_base 0 → the distilled guidance 10
        assert float(c["guidance"][0]) == pytest.approx(want, rel=1e-4)
    assert min(float(c["guidance"][0]) for c in calls) < 4.0


def test_timed_prompts_pick_and_blend_per_section(fps, load_fp, fpi):
    a = standins.hunyuan_text_conditioning(1, length=8)
    b = standins.hunyuan_text_conditioning(2, length=6)
    at = lambda c, s: fpi.FramePackConditioningAt.execute(conditioning=c, start_seconds=s).args[0]  # noqa: E731
    positive = at(a, 0.0) + at(b, 0.5)  # Conditioning (Combine) = list concatenation
    # sections (ws 2) start at 0, 0.267, 0.533 s → a, a, b; generated last-to-first
    m, calls = probe(load_fp())
    run(fps, m, positive=positive)
    firsts = [calls[k * STEPS]["context"] for k in range(3)]
    assert torch.allclose(firsts[0], b[0][0]) and torch.allclose(firsts[1], a[0][0]) and torch.allclose(firsts[2], a[0][0])
    m, calls = probe(load_fp())
    run(fps, m, positive=positive, prompt_blend_sections=1)
    mid = calls[1 * STEPS]["context"]  # time section 1: half a, half b (b zero-padded to 8 tokens)
    want = fs.blend_tokens(a[0][0], b[0][0], 0.5)
    assert mid.shape == (1, 8, 4096) and torch.allclose(mid, want, atol=1e-5)
    with pytest.raises(InertiaInputError, match="out of order"):
        run(fps, load_fp(), positive=at(b, 0.5) + at(a, 0.0))


@pytest.mark.parametrize("change,match", [
    (dict(start_latent={"samples": torch.zeros(1, 16, 1, 6, 8)}), "32-px bucket"),
    (dict(latent_window_size=0), "latent_window_size"),
    (dict(total_seconds=0.0), "total_seconds"),
    (dict(end_latent={"samples": torch.zeros(1, 16, 1, 8, 12)}), "differs in size"),
])
def test_bad_inputs(fps, load_fp, change, match):
    with pytest.raises(InertiaInputError, match=match):
        run(fps, load_fp(), **change)


def test_rejects_non_framepack_model(fps, load_standin):
    with pytest.raises(InertiaInputError, match="not a FramePack model"):
        run(fps, load_standin("hunyuan_t2v"))


def test_alg_lowpasses_the_start_latent_only_inside_the_window(fps, load_fp):
    """ALG on FramePack (single pass): clean_latents[:, :, :1] (the start latent) is low-passed in the
    window, the 1x history frame beside it is untouched, and the sharp start latent returns after."""
    from comfyui_inertia.nodes.alg import ALG
    from comfyui_inertia.nodes.pure.lowpass import down_up

    base_model = load_fp()
    m0, stock = probe(base_model)
    run(fps, m0, steps=4)
    alg = ALG.execute(model=base_model, preset="custom", guidance_form="auto", schedule_by="step", filter="down_up",
                      resize_factor=0.5, blur_sigma=1.0, schedule="interval", window_start=0.0, window_end=0.34,
                      decay_rate=10.0)
    assert "single_pass" in alg.ui.as_dict()["text"][0]
    m1, calls = probe(alg.args[0])
    run(fps, m1, steps=4)
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


def test_shift_zero_keeps_an_upstream_model_sampling(fps, load_fp):
    from comfy_extras.nodes_model_advanced import ModelSamplingSD3

    text = run(fps, ModelSamplingSD3().patch(load_fp(), 3.0)[0]).ui.as_dict()["text"][0]
    assert "shift 3 (upstream or auto)" in text
    auto = run(fps, load_fp()).ui.as_dict()["text"][0]
    assert f"shift {fs.auto_shift(WS, 8, 8):.3g} (upstream or auto)" in auto


# ---------------------------------------------------------------------------------- hardening

def clip_h_vision():
    """What CLIP Vision Encode gives with clip_vision_h (Wan / SD): 257 tokens, 1280 wide; image_embeds 1024."""
    import comfy.clip_vision

    out = comfy.clip_vision.Output()
    out["last_hidden_state"] = torch.randn(1, 257, 1280)
    out["image_embeds"] = torch.randn(1, 1024)
    return out


def wan_text():
    """Wan's umt5-xxl text conditioning: tokens [1, L, 4096] and no pooled_output."""
    return [[torch.randn(1, 16, 4096, generator=torch.Generator().manual_seed(3)) * 0.1, {}]]


@pytest.mark.parametrize("change,match", [
    (dict(sampler_name="EULER"), r"'sampler_name' = 'EULER' is not a ComfyUI sampler. Fix: did you mean 'euler'\?"),
    (dict(sampler_name="no_such"), r"'sampler_name' = 'no_such' is not a ComfyUI sampler"),
    (dict(steps=0), r"'steps' = 0 is outside \[1, 200\]"),
    (dict(steps=10**9), r"'steps' = 1000000000 is outside \[1, 200\]"),
    (dict(steps=2.5), r"'steps' = 2.5 is not a whole number"),
    (dict(distilled_guidance=float("nan")), r"'distilled_guidance' = nan is not a finite number"),
    (dict(cfg=float("nan")), r"'cfg' = nan is not a finite number"),
    (dict(cfg=float("inf")), r"'cfg' = inf is not a finite number"),
    (dict(shift=5e-324), r"'shift' = 5e-324 is above 0 but below 0.01.*Fix: enter 0 \(automatic\)"),
    (dict(shift=float("nan")), r"'shift' = nan is not a finite number"),
    (dict(shift=-1.0), r"'shift' = -1.0 is outside \[0, 100\]"),
])
def test_bad_settings_refused_at_validation_and_execution(fps, load_fp, change, match):
    import re

    names = ("sampler_name", "steps", "distilled_guidance", "cfg", "shift")
    msg = fps.FramePackSectionSampler.validate_inputs(**{k: v for k, v in change.items() if k in names})
    assert isinstance(msg, str) and re.search(match, msg), msg
    # at execution too the node's own check answers first (nodes/validation.py runs it before the layer's)
    with pytest.raises(InertiaInputError, match=match):
        run(fps, load_fp(), **change)


def test_good_settings_pass_validation_and_links_are_left_to_execution(fps):
    ok = fps.FramePackSectionSampler.validate_inputs
    assert ok(sampler_name="uni_pc", steps=25, distilled_guidance=10.0, cfg=1.0, shift=0.0) is True
    assert ok(sampler_name=None, steps=None, distilled_guidance=None, cfg=None, shift=None) is True  # linked
    assert ok(shift=0.01) is True and ok(shift=100.0) is True


def test_wan_text_and_clip_h_vision_are_refused_naming_the_encoder(fps, load_fp):
    with pytest.raises(InertiaInputError, match=r"'positive' = 'tokens \(1, 16, 4096\), no pooled_output' comes from "
                                                r"another text encoder.*DualCLIPLoader type hunyuan_video"):
        run(fps, load_fp(), positive=wan_text())
    with pytest.raises(InertiaInputError, match=r"'negative'.*DualCLIPLoader type hunyuan_video"):
        run(fps, load_fp(), negative=wan_text(), cfg=2.0)
    with pytest.raises(InertiaInputError, match=r"'clip_vision_output' = 'last_hidden_state \(1, 257, 1280\)' has image "
                                                r"tokens 1280 wide from CLIP-H.*needs SigLIP's 1152.*"
                                                r"sigclip_vision_patch14_384"):
        run(fps, load_fp(), clip_vision_output=clip_h_vision())
    with pytest.raises(InertiaInputError, match=r"'end_clip_vision_output'.*CLIP-H"):
        run(fps, load_fp(), end_latent=lat(11), end_clip_vision_output=clip_h_vision())


def test_a_non_finite_section_fails_naming_section_and_step(fps, load_fp):
    """The model (through a DIFFUSION_MODEL wrapper on a clone) returns NaN from its 4th call on: generation
    section 2 of 3, its step 2 of 2. The sampler must stop there with a message, not return NaN."""
    import comfy.patcher_extension as pe

    calls = []

    def nan_from_fourth_call(executor, *args, **kwargs):
        out = executor(*args, **kwargs)
        calls.append(1)
        return out * float("nan") if len(calls) >= 4 else out

    m = load_fp().clone()
    m.add_wrapper_with_key(pe.WrappersMP.DIFFUSION_MODEL, "test_nan", nan_from_fourth_call)
    with pytest.raises(InertiaInputError, match=r"'model' = 'the sampled model' produced a latent with NaN or inf values "
                                                r"in section 2 of 3 in generation order \(inverted; video latent "
                                                r"frames 3-4\), step 2 of 2"):
        run(fps, m)
    assert len(calls) == 4  # it stopped after the bad section


def test_boolean_text_mask_drops_padded_tokens(fps, load_fp):
    """A boolean attention_mask (True = real token) must remove the padded tokens like the integer mask does:
    the video equals the one from the unpadded prompt. Core casts non-integer conds to the model dtype, so
    without care the mask arrives as 1.0/0.0 and reads as an additive mask that keeps every token."""
    base = standins.hunyuan_text_conditioning(1, length=8)
    tokens, extra = base[0]
    padded = torch.cat([tokens[:, :5], torch.full((1, 3, 4096), 3.0)], dim=1)  # loud padding
    keep = torch.tensor([[True] * 5 + [False] * 3])
    model = load_fp()
    short = run(fps, model, positive=[[tokens[:, :5], dict(extra)]]).args[0]["samples"]
    as_bool = run(fps, model, positive=[[padded, {**extra, "attention_mask": keep}]]).args[0]["samples"]
    as_long = run(fps, model, positive=[[padded, {**extra, "attention_mask": keep.long()}]]).args[0]["samples"]
    unmasked = run(fps, model, positive=[[padded, dict(extra)]]).args[0]["samples"]
    assert not torch.allclose(unmasked, short, atol=1e-3)  # the padding matters when it is not masked
    torch.testing.assert_close(as_long, short, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(as_bool, short, rtol=1e-5, atol=1e-6)


def test_conditioning_at_refuses_non_finite_seconds(fps, fpi):
    c = standins.hunyuan_text_conditioning(1, length=4)
    at = fpi.FramePackConditioningAt
    for kw, match in ((dict(start_seconds=float("nan")), r"'start_seconds' = nan is not a finite number"),
                      (dict(start_seconds=float("inf")), r"'start_seconds' = inf is not a finite number"),
                      (dict(start_seconds=1.0, end_seconds=float("nan")), r"'end_seconds' = nan is not a finite"),
                      (dict(start_seconds=-2.0), r"'start_seconds' = -2.0 is outside \[0, 1200\]"),
                      (dict(start_seconds=2.0, end_seconds=1.0), r"'end_seconds'.*ends before it starts")):
        with pytest.raises(InertiaInputError, match=match):
            at.execute(conditioning=c, **kw)
        msg = at.validate_inputs(**kw)
        assert isinstance(msg, str) and "ComfyUI-Inertia: input '" in msg
    assert at.validate_inputs(start_seconds=1.5, end_seconds=0.0) is True
    assert at.execute(conditioning=c, start_seconds=1.5).args[0][0][1][keys.FRAMEPACK_START_S] == 1.5


def test_timestamped_prompt_validation_is_fast_and_names_the_input(fps, fpi):
    import time

    node = fpi.FramePackTimestampedTextEncode
    assert node.validate_inputs(text="[0s: a cat] [2s: it jumps]") is True and node.validate_inputs(text=None) is True
    for text in ("[" * 10**6, "[:" * 500000):
        t0 = time.perf_counter()
        msg = node.validate_inputs(text=text)
        assert time.perf_counter() - t0 < 0.05
        assert "input 'text' = '1000000 characters' is too long" in msg
    assert "out of order" in node.validate_inputs(text="[3s: b] [1s: a]")


def test_image_to_bucket_resizes_and_centre_crops_like_the_original(fps, fpi):
    import torch.nn.functional as F

    img = torch.rand(2, 600, 1000, 3, generator=torch.Generator().manual_seed(0))
    out = fpi.FramePackImageToBucket.execute(image=img, upscale_method="bilinear")
    image, width, height = out.args
    assert (width, height) == (832, 480) and image.shape == (2, 480, 832, 3)
    assert "resized and centre-cropped 1000x600 px to the nearest bucket 832x480 px" in out.ui.as_dict()["text"][0]
    # independent: crop rows to the bucket's aspect (600·(1000/600)/(832/480) = 576.9 → 12 rows off each side), resize
    want = F.interpolate(img[:, 12:588].movedim(-1, 1), size=(480, 832), mode="bilinear").movedim(1, -1)
    torch.testing.assert_close(image, want.clamp(0, 1), rtol=0, atol=1e-6)
    sq = fpi.FramePackImageToBucket.execute(image=torch.rand(1, 512, 512, 3)).args  # lanczos, as the original
    assert sq[0].shape == (1, 640, 608, 3) and (sq[1], sq[2]) == (608, 640)  # a tie goes to the later bucket
    assert float(sq[0].min()) >= 0.0 and float(sq[0].max()) <= 1.0
    same = torch.rand(1, 480, 832, 3)
    res = fpi.FramePackImageToBucket.execute(image=same)
    assert res.args[0] is same and "already a bucket" in res.ui.as_dict()["text"][0]
    with pytest.raises(InertiaInputError, match="'upscale_method' = 'cubic'"):
        fpi.FramePackImageToBucket.execute(image=same, upscale_method="cubic")
    with pytest.raises(InertiaInputError, match=r"'image' = tensor\[480, 832\] float32 is 2-D; an IMAGE is 4-D"):
        fpi.FramePackImageToBucket.execute(image=torch.rand(480, 832))


def test_off_grid_start_latent_points_to_the_bucket_node(fps, load_fp):
    with pytest.raises(InertiaInputError, match=r"'start_latent' = '64x48 px \(8x6 latent\)' is not a multiple of "
                                                r"FramePack's 32-px bucket grid.*FramePack Image To Bucket.*nearest "
                                                r"FramePack bucket is 704x544 px"):
        run(fps, load_fp(), start_latent={"samples": torch.zeros(1, 16, 1, 6, 8)})


def test_core_prompt_validation_reports_a_bad_sampler_name(comfy, fp_dir):
    """Through ComfyUI's own validate_inputs (what /prompt runs): 'EULER' is a node error naming sampler_name,
    with the links (model, conditioning, ...) left alone; a good name gives no error of the sampler's own."""
    import asyncio

    import execution

    from comfyui_inertia.nodes.standins import framepack as framepack_standin

    def sampler_errors(name, steps=25):
        prompt = {
            "1": {"class_type": "InertiaFramePackModelLoader",
                  "inputs": {"model_name": framepack_standin.FRAMEPACK_STANDINS["framepack_i2v"], "weight_dtype": "default"}},
            "2": {"class_type": "EmptyHunyuanLatentVideo", "inputs": {"width": 64, "height": 64, "length": 1, "batch_size": 1}},
            "3": {"class_type": "InertiaFramePackSectionSampler", "inputs": {
                "model": ["1", 0], "positive": ["9", 0], "clip_vision_output": ["9", 0], "start_latent": ["2", 0],
                "total_seconds": 1.0, "latent_window_size": 9, "steps": steps, "distilled_guidance": 10.0, "cfg": 1.0,
                "shift": 0.0, "seed": 1, "sampler_name": name, "mode": "inverted"}},
            "9": {"class_type": "EmptyHunyuanLatentVideo", "inputs": {"width": 64, "height": 64, "length": 1, "batch_size": 1}},
        }
        _ok, errs, _ = asyncio.run(execution.validate_inputs("t", prompt, "3", {}))
        return [e for e in errs if e["type"] == "custom_validation_failed"]

    bad = sampler_errors("EULER")
    assert bad and all("'sampler_name' = 'EULER' is not a ComfyUI sampler" in e["details"] for e in bad)
    assert sampler_errors("euler") == []
    assert any("'steps' = 0 is outside [1, 200]" in e["details"] for e in sampler_errors("euler", steps=0))
