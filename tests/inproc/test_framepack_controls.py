"""FramePack history controls inside real ComfyUI: tiny packed stand-in, real loader, real section sampler.

Every control is checked on what the model actually received: an APPLY_MODEL probe installed
*before* the node (outer: sees the stock inputs), a DIFFUSION_MODEL probe or an attention-override
recorder installed *after* it (inner / outer around the node's override), with references written
out here (separable Gaussian, softmax attention, ages from the index splits by hand).
"""

from __future__ import annotations

import math

import pytest
import torch

from comfyui_inertia.nodes import keys, standins
from comfyui_inertia.nodes.pure import framepack_schedule as fs
from comfyui_inertia.nodes.pure.errors import InertiaInputError
from tests.references import gauss_blur

from .helpers import model_state, reference_scale

WS, STEPS, SECONDS = 2, 2, 0.8  # 0.8 s · 30 / (2·4) = 3 sections, paddings [2, 1, 0]
N_SECTIONS = 3
PREFIX = 40          # 4×: 4 token-frames × 1×1; 2×: 1 × 2×2; 1×: 2 frames × 4×4 (8×8 latent, patch 2)
WINDOW = WS * 16     # 2 frames × 4×4 tokens
AGES_4X = (5.5, 9.5, 13.5, 17.5)
AGE_2X = 2.5


@pytest.fixture(scope="module")
def fc(comfy):
    from comfyui_inertia.nodes import framepack_controls
    return framepack_controls


def vision(seed=0, tokens=8):
    import comfy.clip_vision

    out = comfy.clip_vision.Output()
    out["last_hidden_state"] = torch.randn(1, tokens, 1152, generator=torch.Generator().manual_seed(seed)) * 0.5
    return out


def run(fps, model, seconds=SECONDS, steps=STEPS, **kw):
    args = dict(model=model, positive=standins.hunyuan_text_conditioning(1, length=8), clip_vision_output=vision(),
                start_latent={"samples": torch.randn(1, 16, 1, 8, 8, generator=torch.Generator().manual_seed(10))},
                total_seconds=seconds, latent_window_size=WS, steps=steps, distilled_guidance=10.0, cfg=1.0,
                shift=0.0, seed=7, sampler_name="euler", mode="inverted")
    args.update(kw)
    return fps.FramePackSectionSampler.execute(**args).args[0]["samples"]


def controls(fc, model, **kw):
    return fc.FramePackHistoryControls.execute(model=model, **kw).args[0]


PACK = ("clean_latents", "clean_latents_2x", "clean_latents_4x", "latent_indices", "clean_latent_indices",
        "clean_latent_2x_indices", "clean_latent_4x_indices")


def apply_probe(model, key="test_probe_outer"):
    """Clone with an APPLY_MODEL wrapper recording the packed kwargs, σ, guidance and section facts."""
    import comfy.patcher_extension as pe

    calls = []

    def probe(executor, x, t, c_concat=None, c_crossattn=None, control=None, transformer_options=None, **kwargs):
        ms = executor.class_obj.model_sampling
        calls.append({"sigma": float(t.flatten()[0]), "sigma_min": float(ms.sigma_min), "sigma_max": float(ms.sigma_max),
                      "guidance": float(kwargs["guidance"].flatten()[0]),
                      "section": dict(transformer_options.get(keys.FRAMEPACK_SECTION) or {}),
                      **{k: kwargs[k].detach().float().cpu().clone() for k in PACK}})
        return executor(x, t, c_concat, c_crossattn, control, transformer_options, **kwargs)

    m = model.clone()
    m.add_wrapper_with_key(pe.WrappersMP.APPLY_MODEL, key, probe)
    return m, calls


def diffusion_probe(model, key="test_probe_inner"):
    """Clone with a DIFFUSION_MODEL wrapper (innermost: what the transformer itself receives)."""
    import comfy.patcher_extension as pe

    calls = []

    def probe(executor, x, timestep, context, y, txt_byt5, guidance, attention_mask, guiding_frame_index, ref_latent,
              disable_time_r, control, transformer_options, **kwargs):
        calls.append({"guidance": float(guidance.flatten()[0]), "sigma": float(transformer_options["sigmas"].flatten()[0]),
                      "section": dict(transformer_options.get(keys.FRAMEPACK_SECTION) or {}),
                      **{k: kwargs[k].detach().float().cpu().clone() for k in PACK}})
        return executor(x, timestep, context, y, txt_byt5, guidance, attention_mask, guiding_frame_index, ref_latent,
                        disable_time_r, control, transformer_options, **kwargs)

    m = model.clone()
    m.add_wrapper_with_key(pe.WrappersMP.DIFFUSION_MODEL, key, probe)
    return m, calls


def attention_recorder(model):
    """Clone whose ``optimized_attention_override`` records inputs and output, chaining any earlier override."""
    calls = []
    m = model.clone()
    to = m.model_options.setdefault("transformer_options", {})
    prev = to.get("optimized_attention_override")

    def record(func, *args, **kwargs):
        opts = kwargs.get("transformer_options") or {}
        item = {"q": args[0].detach().clone(), "k": args[1].detach().clone(), "v": args[2].detach().clone(),
                "mask": None if kwargs.get("mask") is None else kwargs["mask"].detach().clone(),
                "sigma": float(opts["sigmas"].flatten().max()), "decay": opts.get("inertia_framepack_decay") is not None,
                "section": dict(opts.get(keys.FRAMEPACK_SECTION) or {})}
        out = prev(func, *args, **kwargs) if prev is not None else func(*args, **kwargs)
        item["out"] = out.detach().clone()
        calls.append(item)
        return out

    to["optimized_attention_override"] = record
    return m, calls


def joint(calls):
    return [c for c in calls if c["k"].shape[2] > 8]  # the 8-token text refiner calls are not joint attention


def group_kernel(sigma_max, size=8):
    k = 2 * math.ceil(3 * sigma_max) + 1
    return min(k, 2 * size - 1)


def expected_weights(d, a, start_w=1.0, post_w=1.0):
    w = [math.exp(-d * (1 + a * k)) for k in AGES_4X] + [math.exp(-d * (1 + a * AGE_2X))] * 4
    return torch.tensor(w + [start_w] * 16 + [post_w] * 16)


# ------------------------------------------------------------------------------ defaults, isolation

def test_defaults_are_stock_and_input_model_untouched(fps, fc, load_fp):
    base = load_fp()
    before = model_state(base)
    stock = run(fps, base)
    out = fc.FramePackHistoryControls.execute(model=base)
    assert out.args[0] is base and "every control off" in out.ui.as_dict()["text"][0]
    assert torch.equal(run(fps, out.args[0]), stock)
    patched = controls(fc, base, lowpass_sigma=1.0, decay_strength=1.0, section_betas="0.5*3")
    video = run(fps, patched)
    assert not torch.allclose(video[:, :, 1:], stock[:, :, 1:]) and torch.equal(video[:, :, :1], stock[:, :, :1])
    assert model_state(base) == before
    assert "inertia_framepack_history" not in str(model_state(base)["wrappers"])
    assert "optimized_attention_override" not in base.model_options.get("transformer_options", {})
    assert torch.equal(run(fps, base), stock)  # the patch left with its clone


# ------------------------------------------------------------------------------ 1. history low-pass

def test_lowpass_blurs_history_by_age_exactly(fps, fc, load_fp):
    s0, a = 0.6, 0.25
    outer, pre = apply_probe(load_fp())
    m, post = diffusion_probe(controls(fc, outer, lowpass_sigma=s0, lowpass_age_slope=a))
    run(fps, m, cfg=2.0)  # cond and uncond batched: both rows get the same blur
    assert len(pre) == len(post) == N_SECTIONS * STEPS and post[0]["clean_latents_4x"].shape[0] == 2
    sig2 = [s0 * (1 + a * k) for k in (2, 3)]
    sig4 = [s0 * (1 + a * k) for k in range(4, 20)]
    k2, k4 = group_kernel(max(sig2)), group_kernel(max(sig4))
    worst = 0.0
    for p, q in zip(pre, post):
        assert p["clean_latent_4x_indices"].tolist() == q["clean_latent_4x_indices"].tolist()
        for b in range(2):
            for j, s in enumerate(sig2):
                want = gauss_blur(p["clean_latents_2x"][b, :, j], s, k2)
                worst = max(worst, float((q["clean_latents_2x"][b, :, j] - want).abs().max()))
            for j, s in enumerate(sig4):
                want = gauss_blur(p["clean_latents_4x"][b, :, j], s, k4)
                worst = max(worst, float((q["clean_latents_4x"][b, :, j] - want).abs().max()))
        assert torch.equal(q["clean_latents"], p["clean_latents"])  # 1× (start anchor, post frame) untouched
    print(f"\nlow-pass: max |received − reference blur| = {worst:.2e} over {len(post)} calls")  # noqa: T201
    assert worst < 1e-5
    # the history that exists (non-zero) really changed
    later = post[-1]  # last generated section (time index 0): 2×/4× history holds generated frames
    assert float((later["clean_latents_4x"] - pre[-1]["clean_latents_4x"]).abs().max()) > 1e-3


def test_lowpass_1x_and_anchors_on_request(fps, fc, load_fp):
    s0, a = 0.5, 0.5
    outer, pre = apply_probe(load_fp())
    m, post = diffusion_probe(controls(fc, outer, lowpass_sigma=s0, lowpass_age_slope=a, include_1x=True,
                                       include_anchors=True))
    run(fps, m)
    plans = fs.plan_sections(N_SECTIONS, WS, "inverted")
    for plan in plans:
        p, q = pre[plan.step * STEPS], post[plan.step * STEPS]
        start_age = 1 + plan.padding * WS  # 5, 3, 1: the start image's RoPE distance shrinks section by section
        sig = [s0 * (1 + a * start_age), s0 * (1 + a * 1)]
        k = group_kernel(max(sig))
        for j in range(2):
            want = gauss_blur(p["clean_latents"][0, :, j], sig[j], k)
            assert torch.allclose(q["clean_latents"][0, :, j], want, atol=1e-5), (plan.step, j)


def test_f1_end_frame_stays_an_anchor(fps, fc, load_fp):
    s0, a = 0.5, 0.5
    outer, pre = apply_probe(load_fp("framepack_f1"))
    m, post = diffusion_probe(controls(fc, outer, lowpass_sigma=s0, lowpass_age_slope=a, include_1x=True,
                                       decay_strength=0.5, decay_mode="logit_bias"))
    run(fps, m, mode="f1", end_latent={"samples": torch.randn(1, 16, 1, 8, 8, generator=torch.Generator().manual_seed(11))},
        end_clip_vision_output=vision(1))
    last_p, last_q = pre[-1], post[-1]  # last F1 section: 1× = [start, newest, end]
    assert last_q["section"]["clean_roles"] == ("start", "history", "end")
    assert torch.equal(last_q["clean_latents"][:, :, 0], last_p["clean_latents"][:, :, 0])  # start anchor
    assert torch.equal(last_q["clean_latents"][:, :, 2], last_p["clean_latents"][:, :, 2])  # end anchor
    want = gauss_blur(last_p["clean_latents"][0, :, 1], s0 * (1 + a), group_kernel(s0 * (1 + a)))  # newest, k = 1
    assert torch.allclose(last_q["clean_latents"][0, :, 1], want, atol=1e-5)
    # F1's 4× history is oldest first: k = 19 … 4
    sig4 = [s0 * (1 + a * k) for k in range(19, 3, -1)]
    k4 = group_kernel(max(sig4))
    for j in (0, 15):
        assert torch.allclose(last_q["clean_latents_4x"][0, :, j], gauss_blur(last_p["clean_latents_4x"][0, :, j],
                                                                              sig4[j], k4), atol=1e-5)


def test_plain_sampler_passes_through_and_section_betas_need_the_section_sampler(fc, load_fp):
    import comfy.sample

    base = load_fp()
    lat = torch.zeros(1, 16, 2, 8, 8)
    noise = torch.randn(lat.shape, generator=torch.Generator().manual_seed(0))
    cond = standins.hunyuan_text_conditioning(1, length=8)

    def sample(model):
        return comfy.sample.sample(model, noise, 2, 1.0, "euler", "simple", cond, cond, lat, disable_pbar=True, seed=0)

    stock = sample(base)
    # no packed context (plain HunyuanVideo call): low-pass and decay have nothing to act on
    assert torch.equal(sample(controls(fc, base, lowpass_sigma=1.0, decay_strength=2.0, decay_mode="logit_bias")), stock)
    with pytest.raises(InertiaInputError, match="section_betas.*FramePack Section Sampler"):
        sample(controls(fc, base, section_betas="0.5"))


# ------------------------------------------------------------------------------ 2. attention decay

def test_decay_v_scale_scales_history_values_in_window(fps, fc, load_fp):
    d, a = 0.8, 0.2
    under, seen = attention_recorder(load_fp())          # below the node's override: what the backend gets
    over, given = attention_recorder(controls(fc, under, decay_strength=d, decay_age_slope=a,
                                              decay_start_percent=0.3))
    run(fps, over, steps=4)
    ms = fps._FlowSampling(over.model.model_config)
    ms.set_parameters(shift=fs.auto_shift(WS, 8, 8), multiplier=1000)
    hi = float(ms.percent_to_sigma(0.3))
    w = expected_weights(d, a).view(1, 1, -1, 1)
    assert len(seen) == len(given)
    n_in = n_out = 0
    for g, s in zip(joint(given), joint(seen)):
        assert g["k"].shape[2] == PREFIX + WINDOW + 16  # 8 text + 8 SigLIP tokens
        assert torch.equal(g["q"], s["q"]) and torch.equal(g["k"], s["k"]) and torch.equal(g["out"], s["out"])
        if g["sigma"] <= hi * (1 + 1e-4):
            n_in += 1
            assert g["decay"]
            assert torch.allclose(s["v"][:, :, :PREFIX], g["v"][:, :, :PREFIX] * w, rtol=1e-6, atol=1e-7)
            assert torch.equal(s["v"][:, :, PREFIX:], g["v"][:, :, PREFIX:])
            assert not torch.equal(s["v"], g["v"])
        else:
            n_out += 1
            assert not g["decay"] and torch.equal(s["v"], g["v"])
    refiner = [c for c in seen if c["k"].shape[2] == 8]
    assert refiner and all(torch.equal(c["v"], c2["v"]) for c, c2 in zip(refiner, [c for c in given if c["k"].shape[2] == 8]))
    print(f"\nv_scale: {n_in} joint attention calls decayed (σ ≤ {hi:.3f}), {n_out} outside the window untouched")  # noqa: T201
    assert n_in > 0 and n_out > 0
    # two applications stack: each override applies its own node's weights
    under, seen = attention_recorder(load_fp())
    twice = controls(fc, controls(fc, under, decay_strength=d, decay_age_slope=a), decay_strength=0.3, decay_age_slope=0.0)
    over, given = attention_recorder(twice)
    run(fps, over, seconds=0.27, steps=1)
    w2 = w * expected_weights(0.3, 0.0).view(1, 1, -1, 1)
    for g, s in zip(joint(given), joint(seen)):
        assert torch.allclose(s["v"][:, :, :PREFIX], g["v"][:, :, :PREFIX] * w2, rtol=1e-5, atol=1e-7)


def test_decay_logit_bias_reweights_window_attention_exactly(fps, fc, load_fp):
    d, a = 1.0, 0.1
    under, seen = attention_recorder(load_fp())
    over, given = attention_recorder(controls(fc, under, decay_strength=d, decay_age_slope=a, decay_mode="logit_bias",
                                              include_1x=True))
    run(fps, over, seconds=0.27, steps=2)  # one section (padding 0)
    w = expected_weights(d, a, post_w=math.exp(-d * (1 + a)))
    logw = torch.log(w).double()
    j_given, j_seen = joint(given), joint(seen)
    assert len(j_seen) == 2 * len(j_given)  # window rows (biased) and the other rows, one backend call each
    worst_out = worst_p = 0.0
    for i, g in enumerate(j_given):
        q, k, v = (t.double() for t in (g["q"], g["k"], g["v"]))
        n = k.shape[2]
        scale = q.shape[-1] ** -0.5
        logits = q @ k.transpose(-1, -2) * scale                        # [B, H, N, N]
        p_stock = torch.softmax(logits, -1)
        biased = logits.clone()
        biased[:, :, PREFIX:PREFIX + WINDOW, :PREFIX] += logw[:PREFIX]
        p_ref = torch.softmax(biased, -1)
        # identity: the window's weights on history are w·p renormalised; other rows are stock
        wp = p_stock[:, :, PREFIX:PREFIX + WINDOW] * torch.cat([w.double(), torch.ones(n - PREFIX, dtype=torch.float64)])
        assert torch.allclose(p_ref[:, :, PREFIX:PREFIX + WINDOW], wp / wp.sum(-1, keepdim=True), atol=1e-12)
        out_ref = (p_ref @ v).transpose(1, 2).reshape(q.shape[0], n, -1)
        worst_out = max(worst_out, float((g["out"].double() - out_ref).abs().max()))
        # what the backend received: window query rows + bias mask, then the remaining rows unmasked
        sw, sr = j_seen[2 * i], j_seen[2 * i + 1]
        assert torch.equal(sw["q"], g["q"][:, :, PREFIX:PREFIX + WINDOW]) and sr["mask"] is None
        assert torch.equal(sr["q"], torch.cat([g["q"][:, :, :PREFIX], g["q"][:, :, PREFIX + WINDOW:]], 2))
        assert torch.equal(sw["k"], g["k"]) and torch.equal(sw["v"], g["v"])
        got = torch.softmax(sw["q"].double() @ sw["k"].double().transpose(-1, -2) * scale + sw["mask"].double(), -1)
        worst_p = max(worst_p, float((got - p_ref[:, :, PREFIX:PREFIX + WINDOW]).abs().max()))
        history_mass = float(got[..., :PREFIX].sum(-1).mean()), float(p_stock[:, :, PREFIX:PREFIX + WINDOW, :PREFIX].sum(-1).mean())
    print(  # noqa: T201
        f"\nlogit_bias: max |output − softmax reference| {worst_out:.2e}, max |received weights − reference| "
        f"{worst_p:.2e}; window→history attention mass {history_mass[1]:.4f} → {history_mass[0]:.4f}")
    assert worst_out < 1e-5 and worst_p < 1e-6
    assert history_mass[0] < history_mass[1]


# ------------------------------------------------------------------------------ 3. per-section β

def test_section_betas_follow_the_section_index(fps, fc, load_fp):
    from comfyui_inertia.nodes.relaxation_cfg import RelaxationCFG

    relaxed = RelaxationCFG.execute(model=load_fp(), beta=0.75, decay_power=0.5, s_min=2.0, s_base=0.0,
                                    guidance="auto").args[0]
    before = model_state(relaxed)
    betas = (0.0, 0.5, 1.0)  # time order: section 0 (after the start image) strict, last one relaxed
    m, calls = apply_probe(controls(fc, relaxed, section_betas="0, 0.5, 1"), "test_probe_inner")
    run(fps, m, steps=3)
    assert len(calls) == N_SECTIONS * 3
    seen = set()
    for c in calls:
        i = c["section"]["index"]
        seen.add(i)
        want = reference_scale(c["sigma"], c["sigma_min"], c["sigma_max"], betas[i], 0.5, 2.0, 10.0)
        assert c["guidance"] == pytest.approx(want, rel=1e-4), (i, c["sigma"])
        if betas[i] == 0.0:
            assert c["guidance"] == pytest.approx(10.0)
    assert seen == {0, 1, 2} and [c["section"]["index"] for c in calls[::3]] == [2, 1, 0]  # generated last-first
    assert model_state(relaxed) == before
    # no upstream Relaxation CFG: the paper's schedule (p 0.7, s_min 1) with the section's β
    m, calls = apply_probe(controls(fc, load_fp(), section_betas="0.75*2, 0"), "test_probe_inner")
    run(fps, m)
    for c in calls:
        b = (0.75, 0.75, 0.0)[c["section"]["index"]]
        assert c["guidance"] == pytest.approx(reference_scale(c["sigma"], c["sigma_min"], c["sigma_max"], b, 0.7, 1.0,
                                                              10.0), rel=1e-4)


def test_section_betas_survive_a_later_relaxation_cfg(fps, fc, load_fp):
    """Controls (betas) → RelaxationCFG: the later node's s_min/p apply, the per-section β list stays."""
    from comfyui_inertia.nodes.relaxation_cfg import RelaxationCFG

    m = controls(fc, load_fp(), section_betas="0, 0.5, 1")
    m = RelaxationCFG.execute(model=m, beta=0.75, decay_power=0.5, s_min=2.0, s_base=0.0, guidance="auto").args[0]
    m, calls = apply_probe(m, "test_probe_inner")
    run(fps, m, steps=3)
    assert len(calls) == N_SECTIONS * 3
    for c in calls:
        b = (0.0, 0.5, 1.0)[c["section"]["index"]]
        assert c["guidance"] == pytest.approx(reference_scale(c["sigma"], c["sigma_min"], c["sigma_max"], b, 0.5, 2.0,
                                                              10.0), rel=1e-4)


def test_section_beta_count_must_match(fps, fc, load_fp):
    m = controls(fc, load_fp(), section_betas="0.5, 0.5")
    with pytest.raises(InertiaInputError, match=r"has 2 values but this video has 3 sections \(0.8 s at "
                                                r"latent_window_size 2.*exactly 3"):
        run(fps, m)


# ------------------------------------------------------------------------------ 4. Temporal Unlearning

def test_temporal_unlearning_blurs_only_the_noisy_window(fps, load_fp):
    from comfyui_inertia.nodes.pure.temporal_blur import blur_matrix
    from comfyui_inertia.nodes.temporal_unlearning import TemporalUnlearning

    base = load_fp()
    stock, s_calls = attention_recorder(base)
    run(fps, stock, seconds=0.27, steps=1)
    W = blur_matrix(WS, 0.6, dtype=torch.float64)
    # blocks "0" = the double block, "1" = the single block (each run blurs only that one, so its inputs are stock)
    for block, which in (("0", 0), ("1", 1)):
        tu = TemporalUnlearning.execute(model=base, sigma_blur=0.6, apply_to="kv", start_percent=0.0, end_percent=1.0,
                                        blocks=block, protect_anchor_frames=True).args[0]
        tu, t_calls = attention_recorder(tu)
        run(fps, tu, seconds=0.27, steps=1)
        s, t = joint(s_calls)[which], joint(t_calls)[which]
        assert t["v"].shape[2] == PREFIX + WINDOW + 16
        win = s["v"][:, :, PREFIX:PREFIX + WINDOW].double().unflatten(2, (WS, 16))
        want = torch.einsum("tu,bhusd->bhtsd", W, win).flatten(2, 3)
        assert torch.equal(t["v"][:, :, :PREFIX], s["v"][:, :, :PREFIX]), block                 # clean history
        assert torch.equal(t["v"][:, :, PREFIX + WINDOW:], s["v"][:, :, PREFIX + WINDOW:]), block  # text + SigLIP
        assert torch.allclose(t["v"][:, :, PREFIX:PREFIX + WINDOW].double(), want, atol=1e-6), block
        assert not torch.allclose(t["v"][:, :, PREFIX:PREFIX + WINDOW], s["v"][:, :, PREFIX:PREFIX + WINDOW])
        assert torch.equal(t["k"][:, :, :PREFIX], s["k"][:, :, :PREFIX]), block


# ------------------------------------------------------------------------------ bad input and schemas

@pytest.mark.parametrize("change,match", [
    (dict(lowpass_sigma=-0.5), "lowpass_sigma.*is negative"),
    (dict(decay_strength=-1.0), "decay_strength.*is negative"),
    (dict(lowpass_sigma=1.0, lowpass_age_slope=-0.1), "lowpass_age_slope.*α < 0"),
    (dict(decay_strength=1.0, decay_age_slope=-2.0), "decay_age_slope.*α < 0"),
    (dict(decay_strength=1.0, decay_start_percent=0.7, decay_end_percent=0.2), "decay_start_percent.*after"),
    (dict(section_betas="0.5, abc"), "section_betas.*not a number"),
    (dict(section_betas="2"), "section_betas.*outside"),
    (dict(decay_mode="both"), "decay_mode"),
])
def test_bad_inputs(fc, load_fp, change, match):
    with pytest.raises(InertiaInputError, match=match):
        fc.FramePackHistoryControls.execute(model=load_fp(), **change)


def test_rejects_non_framepack(fc, load_standin):
    with pytest.raises(InertiaInputError, match="not a FramePack model"):
        fc.FramePackHistoryControls.execute(model=load_standin("hunyuan_i2v"), lowpass_sigma=1.0)


def test_node_schemas(comfy, fc):
    for cls in fc.NODES:
        schema = cls.GET_SCHEMA()
        assert comfy.NODE_CLASS_MAPPINGS[schema.node_id] is cls and schema.description
        assert all(i.tooltip for i in schema.inputs) and all(o.tooltip for o in schema.outputs)
    assert fc.FramePackHistoryControls.GET_SCHEMA().category == "Inertia/FramePack"
