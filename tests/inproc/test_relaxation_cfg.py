"""Relaxation CFG inside real ComfyUI: real loaders, real samplers, tiny random models."""

from __future__ import annotations

import pytest
import torch

from comfyui_inertia.nodes import standins
from comfyui_inertia.nodes.pure.errors import InertiaInputError
from comfyui_inertia.nodes.relaxation_cfg import RelaxationCFG, RelaxationCFGPreview

from .helpers import guidance_recorder, latent, model_state, reference_scale

PAPER = dict(beta=0.75, decay_power=0.7, s_min=1.0, s_base=0.0)


def relax(model, guidance="auto", **kw):
    out = RelaxationCFG.execute(model=model, guidance=guidance, **{**PAPER, **kw})
    return out.args[0], out.ui.as_dict()["text"][0] if out.ui is not None else ""


def shifted(comfy, model, shift):
    from comfy_extras.nodes_model_advanced import ModelSamplingSD3
    return ModelSamplingSD3().patch(model, shift)[0]


def ksample(comfy, model, cfg=6.0, steps=6, seed=0, sampler="euler", scheduler="simple"):
    pos, neg = standins.wan_text_conditioning(1), standins.wan_text_conditioning(2)
    return comfy.common_ksampler(model, seed, steps, cfg, sampler, scheduler, pos, neg, latent())[0]["samples"]


@pytest.mark.parametrize("shift", [8.0, 3.0])
def test_wan_applied_scale_matches_eq2_per_step(comfy, load_standin, shift):
    base = shifted(comfy, load_standin("wan21_t2v"), shift)
    patched, text = relax(base)
    assert "cfg mode" in text and "auto" in text
    probe, rec = guidance_recorder(patched)
    ksample(comfy, probe, cfg=6.0, steps=8)
    ms = base.get_model_object("model_sampling")
    assert len(rec) == 8
    for r in rec:
        want = reference_scale(r["sigma"], float(ms.sigma_min), float(ms.sigma_max), 0.75, 0.7, 1.0, 6.0)
        assert r["scale"] == pytest.approx(want, rel=1e-4), r
    # relaxed early (high σ), back to the sampler's cfg late
    assert rec[0]["scale"] < 2.5 and all(a["scale"] < b["scale"] for a, b in zip(rec, rec[1:]))
    print(f"\nWan shift {shift}: " + ", ".join(f"σ={r['sigma']:.4f}→s={r['scale']:.4f}" for r in rec))


def test_shift_changes_sigmas_not_the_rule(comfy, load_standin):
    """Same steps, different shift: the scales differ exactly as the σ's do (schedule by σ)."""
    scales = {}
    for shift in (8.0, 3.0):
        probe, rec = guidance_recorder(relax(shifted(comfy, load_standin("wan21_t2v"), shift))[0])
        ksample(comfy, probe, steps=6)
        scales[shift] = [r["scale"] for r in rec]
    assert scales[8.0] != pytest.approx(scales[3.0], rel=1e-3)


def test_split_schedule_two_ksampler_advanced(comfy, load_standin):
    """Wan 2.2-style two experts: each KSamplerAdvanced sees a sub-schedule; σ rule still holds."""
    high = relax(load_standin("wan21_t2v"))[0]
    low = relax(load_standin("wan21_t2v"))[0]
    (ph, rh), (pl, rl) = guidance_recorder(high), guidance_recorder(low)
    adv = comfy.KSamplerAdvanced()
    pos, neg = standins.wan_text_conditioning(1), standins.wan_text_conditioning(2)
    mid = adv.sample(ph, "enable", 0, 8, 5.0, "euler", "simple", pos, neg, latent(), 0, 4, "enable")[0]
    adv.sample(pl, "disable", 0, 8, 5.0, "euler", "simple", pos, neg, mid, 4, 10000, "disable")
    ms = high.get_model_object("model_sampling")
    assert len(rh) == 4 and len(rl) == 4
    for r in rh + rl:
        want = reference_scale(r["sigma"], float(ms.sigma_min), float(ms.sigma_max), 0.75, 0.7, 1.0, 5.0)
        assert r["scale"] == pytest.approx(want, rel=1e-4)
    assert rh[-1]["sigma"] > rl[0]["sigma"]


def test_sampler_custom_advanced_route(comfy, load_standin):
    from comfy_extras import nodes_custom_sampler as cs
    patched = relax(load_standin("wan21_t2v"), s_base=5.0)[0]
    probe, rec = guidance_recorder(patched)
    pos, neg = standins.wan_text_conditioning(1), standins.wan_text_conditioning(2)
    guider = cs.CFGGuider().get_guider(probe, pos, neg, 1.0)[0]  # cfg 1: s_base overrides, uncond must run
    sigmas = cs.BasicScheduler().get_sigmas(probe, "simple", 5, 1.0)[0]
    sampler = cs.KSamplerSelect().get_sampler("euler")[0]
    noise = cs.RandomNoise().get_noise(0)[0]
    cs.SamplerCustomAdvanced().sample(noise, guider, sampler, sigmas, latent())
    assert [round(r["sigma"], 6) for r in rec] == [round(float(s), 6) for s in sigmas[:-1]]
    ms = probe.get_model_object("model_sampling")
    for r in rec:
        assert r["scale"] == pytest.approx(
            reference_scale(r["sigma"], float(ms.sigma_min), float(ms.sigma_max), 0.75, 0.7, 1.0, 5.0), rel=1e-4)


def test_beta_zero_reproduces_stock(comfy, load_standin):
    base = load_standin("wan21_t2v")
    stock = ksample(comfy, base, cfg=6.0)
    same, _ = relax(base, beta=0.0)
    assert torch.equal(ksample(comfy, same, cfg=6.0), stock)  # neutral settings: the model is returned as is
    forced, _ = relax(base, beta=0.0, s_base=6.0)  # patched, constant 6 through the cfg function
    assert forced is not base
    torch.testing.assert_close(ksample(comfy, forced, cfg=6.0), stock, rtol=1e-5, atol=1e-5)


def test_input_model_untouched_and_bit_identical_afterwards(comfy, load_standin):
    base = load_standin("wan21_t2v")
    before_state = model_state(base)
    before = ksample(comfy, base, seed=3)
    patched, _ = relax(base)
    relaxed = ksample(comfy, patched, seed=3)
    assert not torch.equal(relaxed, before)
    assert model_state(base) == before_state
    assert torch.equal(ksample(comfy, base, seed=3), before)


def test_chains_an_existing_cfg_function(comfy, load_standin):
    seen = []

    def earlier(args):  # another node's cfg function in the single slot
        seen.append((float(args["sigma"].flatten()[0]), args["cond_scale"]))
        return args["uncond"] + args["cond_scale"] * (args["cond"] - args["uncond"])

    base = load_standin("wan21_t2v").clone()
    base.set_model_sampler_cfg_function(earlier)
    patched, _ = relax(base)
    ksample(comfy, patched, cfg=6.0, steps=4)
    ms = base.get_model_object("model_sampling")
    assert len(seen) == 4
    for sigma, scale in seen:
        assert scale == pytest.approx(reference_scale(sigma, float(ms.sigma_min), 1.0, 0.75, 0.7, 1.0, 6.0), rel=1e-5)


def test_chains_core_rescale_cfg(comfy, load_standin):
    from comfy_extras.nodes_model_advanced import RescaleCFG
    base = load_standin("wan21_t2v")
    plain = ksample(comfy, relax(base)[0], seed=5)
    chained = ksample(comfy, relax(RescaleCFG().patch(base, 0.7)[0])[0], seed=5)
    assert not torch.equal(plain, chained)  # RescaleCFG still acts after RelaxationCFG


def test_hunyuan_embedded_guidance_received_per_step(comfy, load_standin):
    import comfy.patcher_extension as pe

    base = load_standin("hunyuan_t2v")
    patched, text = relax(base)
    assert "embedded mode" in text and "auto" in text
    seen = []

    def probe_wrapper(executor, *args, **kwargs):  # DIFFUSION_MODEL: what the transformer receives
        to = args[-1] if isinstance(args[-1], dict) else kwargs["transformer_options"]
        seen.append((float(to["sigmas"].flatten()[0]), args[5].flatten().tolist()))
        return executor(*args, **kwargs)

    probe = patched.clone()
    probe.add_wrapper_with_key(pe.WrappersMP.DIFFUSION_MODEL, "test_probe", probe_wrapper)
    pos = standins.hunyuan_text_conditioning(1, guidance=6.0)
    neg = standins.hunyuan_text_conditioning(2, guidance=6.0)
    comfy.common_ksampler(probe, 0, 6, 1.0, "euler", "simple", pos, neg, latent())
    ms = base.get_model_object("model_sampling")
    assert len(seen) == 6
    for sigma, received in seen:
        want = reference_scale(sigma, float(ms.sigma_min), float(ms.sigma_max), 0.75, 0.7, 1.0, 6.0)
        assert received == pytest.approx([want] * len(received), rel=1e-5)
    print("\nHunyuan embedded: " + ", ".join(f"σ={s:.4f}→g={g[0]:.4f}" for s, g in seen))


def test_hunyuan_cfg_mode_when_asked(comfy, load_standin):
    patched, text = relax(load_standin("hunyuan_t2v"), guidance="cfg")
    assert "cfg mode" in text and "as chosen" in text
    import comfy.patcher_extension as pe

    from comfyui_inertia.nodes import keys
    assert patched.get_wrappers(pe.WrappersMP.PREDICT_NOISE, keys.RELAXATION)  # cfg mode: the per-call scale


def test_bad_inputs_name_the_input(comfy, load_standin):
    from comfy_extras.nodes_model_advanced import ModelSamplingDiscrete
    wan = load_standin("wan21_t2v")
    with pytest.raises(InertiaInputError, match="'decay_power'.*Fix"):
        relax(wan, decay_power=0.0)
    with pytest.raises(InertiaInputError, match="'s_min'.*Fix"):
        relax(wan, s_min=7.0, s_base=6.0)
    with pytest.raises(InertiaInputError, match="'beta'.*finite"):
        relax(wan, beta=float("nan"))
    with pytest.raises(InertiaInputError, match="'guidance'.*embedded.*no"):
        relax(wan, guidance="embedded")
    x0 = ModelSamplingDiscrete().patch(wan, "x0", False)[0]
    with pytest.raises(InertiaInputError, match="'model'.*neither flow nor EPS/V"):
        relax(x0)
    low_cfg, _ = relax(wan, s_min=3.0)  # s_base from the sampler: checked when sampling
    with pytest.raises(InertiaInputError, match="'s_min'.*sampler's cfg"):
        ksample(comfy, low_cfg, cfg=2.0, steps=2)


def test_eps_model_accepted(comfy, load_standin):
    from comfy_extras.nodes_model_advanced import ModelSamplingDiscrete
    eps = ModelSamplingDiscrete().patch(load_standin("wan21_t2v"), "v_prediction", False)[0]
    patched, text = relax(eps)
    assert "cfg mode" in text


def test_preview_node_plot_and_table(comfy, load_standin):
    from comfy_extras import nodes_custom_sampler as cs
    model = shifted(comfy, load_standin("wan21_t2v"), 8.0)
    sigmas = cs.BasicScheduler().get_sigmas(model, "simple", 10, 1.0)[0]
    out = RelaxationCFGPreview.execute(model=relax(model)[0], sigmas=sigmas, cfg=6.0)
    image, table = out.args
    assert image.shape[0] == 1 and image.shape[-1] == 3 and 0 <= float(image.min()) and float(image.max()) <= 1
    lines = table.strip().splitlines()[1:]
    assert len(lines) == 10
    ms = model.get_model_object("model_sampling")
    for line, sigma in zip(lines, sigmas[:-1].tolist()):
        step, sig, sh, s = line.split("\t")
        assert float(s) == pytest.approx(reference_scale(sigma, float(ms.sigma_min), 1.0, 0.75, 0.7, 1.0, 6.0), abs=1e-4)
    with pytest.raises(InertiaInputError, match="'sigmas'"):  # a schedule that is not this model's
        RelaxationCFGPreview.execute(model=relax(model)[0], sigmas=sigmas * 10, cfg=6.0)


def _preview_scales(model, sigmas, cfg=6.0) -> list[float]:
    table = RelaxationCFGPreview.execute(model=model, sigmas=sigmas, cfg=cfg).args[1]
    return [float(line.split("\t")[3]) for line in table.strip().splitlines()[1:]]


def test_preview_follows_the_patched_model(comfy, load_standin):
    """The preview has no schedule widgets: it reads β, p, s_min, s_base off the patch on the MODEL,
    in cfg and embedded mode, and shows stock guidance for an unpatched model."""
    from comfy_extras import nodes_custom_sampler as cs

    from comfyui_inertia.nodes.relaxation_cfg import relaxation_on
    base = shifted(comfy, load_standin("wan21_t2v"), 8.0)
    sigmas = cs.BasicScheduler().get_sigmas(base, "simple", 8, 1.0)[0]
    ms = base.get_model_object("model_sampling")
    lo = float(ms.sigma_min)
    assert relaxation_on(base) is None
    assert _preview_scales(base, sigmas, cfg=5.0) == [5.0] * 8  # no patch: the sampler's cfg at every step
    for beta in (0.75, -0.5):
        patched = relax(base, beta=beta)[0]
        params, mode, betas = relaxation_on(patched)
        assert (params.beta, params.decay_power, mode, betas) == (beta, 0.7, "cfg", ())
        got = _preview_scales(patched, sigmas, cfg=6.0)
        want = [reference_scale(s, lo, 1.0, beta, 0.7, 1.0, 6.0) for s in sigmas[:-1].tolist()]
        assert got == pytest.approx(want, abs=1e-4)
        assert (got[0] < got[-1]) == (beta > 0)  # relax starts low, boost starts high
    hy = load_standin("hunyuan_t2v")
    hy_sigmas = cs.BasicScheduler().get_sigmas(hy, "simple", 6, 1.0)[0]
    patched = relax(hy, guidance="embedded", s_base=6.0, s_min=2.0)[0]
    params, mode, _ = relaxation_on(patched)
    assert mode == "embedded" and (params.s_base, params.s_min) == (6.0, 2.0)
    hms = hy.get_model_object("model_sampling")
    want = [reference_scale(s, float(hms.sigma_min), float(hms.sigma_max), 0.75, 0.7, 2.0, 6.0)
            for s in hy_sigmas[:-1].tolist()]
    assert _preview_scales(patched, hy_sigmas, cfg=99.0) == pytest.approx(want, abs=1e-4)  # s_base wins over cfg


def test_second_relaxation_replaces_the_first_and_keeps_its_chain(comfy, load_standin):
    seen = []

    def earlier(args):
        seen.append(args["cond_scale"])
        return args["uncond"] + args["cond_scale"] * (args["cond"] - args["uncond"])

    base = load_standin("wan21_t2v").clone()
    base.set_model_sampler_cfg_function(earlier)
    twice = relax(relax(base, beta=0.5)[0], beta=0.75)[0]
    ksample(comfy, twice, cfg=6.0, steps=3)
    ms = base.get_model_object("model_sampling")
    assert len(seen) == 3  # the earlier node's function still runs, once per step
    probe, rec = guidance_recorder(twice)
    ksample(comfy, probe, cfg=6.0, steps=3)
    for r in rec:  # and the last RelaxationCFG's β is the one applied
        assert r["scale"] == pytest.approx(reference_scale(r["sigma"], float(ms.sigma_min), 1.0, 0.75, 0.7, 1.0, 6.0), rel=1e-4)


def test_eps_model_schedule_uses_vp_noise_fraction(comfy, load_standin):
    """An EPS/V model: σ̂ = (g(σ) − g(σ_min)) / (g(σ_max) − g(σ_min)), g(σ) = σ/√(1+σ²), while sampling."""
    import math

    from comfy_extras.nodes_model_advanced import ModelSamplingDiscrete
    v_model = ModelSamplingDiscrete().patch(load_standin("wan21_t2v"), "v_prediction", False)[0]
    probe, rec = guidance_recorder(relax(v_model)[0])
    ksample(comfy, probe, cfg=6.0, steps=5, scheduler="karras")
    ms = v_model.get_model_object("model_sampling")
    g = lambda s: s / math.sqrt(1 + s * s)  # noqa: E731
    lo, hi = g(float(ms.sigma_min)), g(float(ms.sigma_max))
    assert len(rec) == 5 and rec[0]["sigma"] > 1.0  # EPS-scale sigmas, not flow's [0, 1]
    for r in rec:
        sh = min(1.0, max(0.0, (g(r["sigma"]) - lo) / (hi - lo)))
        assert r["scale"] == pytest.approx(1.0 + 5.0 * (1 - 0.75 * sh ** 0.7), rel=1e-4)
