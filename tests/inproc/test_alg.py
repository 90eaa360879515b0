"""ALG inside real ComfyUI: real I2V conditioning nodes, real samplers, tiny random models.

Instrumentation: an ``APPLY_MODEL`` probe under "test_probe" on a clone of the patched model records
what every model call received (σ, the cond/uncond group of each batch chunk, and the image
condition: Wan ``c_concat``, VACE ``vace_context``, Hunyuan ``c_concat`` / ``ref_latent`` / the
guiding frame of ``x``). Each chunk is classified by exact comparison with the stock run's tensor
("sharp") or with that tensor low-passed at the expected r ("lp").

Conditioning comes from the real core nodes at 32x32 px, 5 frames (latent 2x4x4) with the random
full-size Wan VAE. HunyuanImageToVideo is also fed the Wan VAE: it has the Hunyuan VAE's latent
geometry (16 channels, 8x spatial, causal 4x temporal), so the node's conditioning and shapes are
the real ones; only the latent values come from another (random) VAE.
"""

from __future__ import annotations

import pytest
import torch

from comfyui_inertia.nodes import standins
from comfyui_inertia.nodes.alg import ALG, KEY, add_run_listener
from comfyui_inertia.nodes.pure import lowpass as lp
from comfyui_inertia.nodes.pure.errors import InertiaInputError
from comfyui_inertia.nodes.relaxation_cfg import RelaxationCFG

from .helpers import model_state, reference_scale

STEPS, CFG, PX, FRAMES = 6, 5.0, 32, 5


# ---------------------------------------------------------------- fixtures: real conditioning nodes

def _image(seed, n=1):
    return torch.rand(n, PX, PX, 3, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def wan_i2v(comfy, wan_vae):
    from comfy_extras.nodes_wan import WanImageToVideo
    pos, neg, latent = WanImageToVideo.execute(standins.wan_text_conditioning(1), standins.wan_text_conditioning(2),
                                               wan_vae, PX, PX, FRAMES, 1, start_image=_image(0)).args
    return pos, neg, latent


@pytest.fixture(scope="module")
def wan_flf(comfy, wan_vae):
    from comfy_extras.nodes_wan import WanFirstLastFrameToVideo
    return WanFirstLastFrameToVideo.execute(standins.wan_text_conditioning(1), standins.wan_text_conditioning(2),
                                            wan_vae, PX, PX, FRAMES, 1, start_image=_image(0),
                                            end_image=_image(1)).args


@pytest.fixture(scope="module")
def wan_vace(comfy, wan_vae):
    """Reference image + first frame kept (mask 0 on pixel frames 0-1 = latent frame 0), rest generated."""
    from comfy_extras.nodes_wan import WanVaceToVideo
    video = torch.full((FRAMES, PX, PX, 3), 0.5)
    video[:2] = _image(0)
    masks = torch.ones(FRAMES, PX, PX)
    masks[:2] = 0.0
    pos, neg, latent, trim = WanVaceToVideo.execute(
        standins.wan_text_conditioning(1), standins.wan_text_conditioning(2), wan_vae, PX, PX, FRAMES, 1, 1.0,
        control_video=video, control_masks=masks, reference_image=_image(3)).args
    return pos, neg, latent


def _hunyuan(comfy, vae, kind):
    from comfy_extras.nodes_hunyuan import HunyuanImageToVideo
    pos, latent = HunyuanImageToVideo().encode(standins.hunyuan_text_conditioning(1, guidance=6.0), vae, PX, PX,
                                               FRAMES, 1, kind, start_image=_image(0))
    return pos, standins.hunyuan_text_conditioning(2, guidance=6.0), latent


@pytest.fixture(scope="module")
def hunyuan_conds(comfy, wan_vae):
    return {k: _hunyuan(comfy, wan_vae, k) for k in ("v1 (concat)", "v2 (replace)", "custom")}


# ---------------------------------------------------------------- instrumentation

def sample(comfy, model, conds, steps=STEPS, cfg=CFG, seed=0):
    pos, neg, latent = conds
    return comfy.common_ksampler(model, seed, steps, cfg, "euler", "simple", pos, neg, latent)[0]["samples"]


def image_of(call: dict, kind: str) -> torch.Tensor:
    """The image-condition tensor of a recorded call, batch first."""
    if kind == "guiding_frame":
        return call["x"][:, :, :1]
    return call[kind]


def probed(model, kind: str):
    """Clone ``model`` with an APPLY_MODEL probe; returns (clone, records)."""
    import comfy.patcher_extension as pe

    records = []

    def probe(executor, x, t, c_concat, c_crossattn, control, transformer_options, **kwargs):
        rec = {"sigma": float(t.flatten()[0]), "groups": list(transformer_options["cond_or_uncond"]),
               "x": x.detach().clone(), "c_concat": None if c_concat is None else c_concat.detach().clone(),
               "vace_context": kwargs.get("vace_context"), "ref_latent": kwargs.get("ref_latent")}
        for k in ("vace_context", "ref_latent"):
            if rec[k] is not None:
                rec[k] = rec[k].detach().clone()
        records.append(rec)
        return executor(x, t, c_concat, c_crossattn, control, transformer_options, **kwargs)

    m = model.clone()
    m.add_wrapper_with_key(pe.WrappersMP.APPLY_MODEL, "test_probe", probe)
    return m, records


def listened(model):
    """Clone of an ALG-patched model whose runs append their report (``patching.RunReport``) to the list."""
    reports = []
    return add_run_listener(model, reports.append), reports


def expected_lp(kind: str, sharp: torch.Tensor, r: float) -> torch.Tensor:
    """What ALG must hand the model: the sharp tensor with its image part down/up-sampled at r."""
    f = lambda t: lp.down_up(t, r)  # noqa: E731
    if kind == "c_concat_wan":
        return lp.lowpass_channels(sharp, 4, sharp.shape[1], f)
    if kind == "c_concat_hunyuan":
        return lp.lowpass_channels(sharp, 0, 16, f)
    if kind == "vace_context":
        return lp.lowpass_vace(sharp, f)
    return f(sharp)


def classify(records, kind, sharp, r):
    """Per step: σ and {group: 'sharp' | 'lp'} for every chunk. Raises if a chunk is neither."""
    tensor_kind = {"c_concat_wan": "c_concat", "c_concat_hunyuan": "c_concat"}.get(kind, kind)
    lp_ref = expected_lp(kind, sharp, r)
    assert not torch.equal(lp_ref, sharp), "the filter must change the condition, or the test proves nothing"
    sigmas = sorted({rec["sigma"] for rec in records}, reverse=True)
    steps = []
    for rec in records:
        img = image_of(rec, tensor_kind)
        status = {}
        for b, g in enumerate(rec["groups"]):
            chunk = img[b:b + 1]
            if torch.equal(chunk, sharp):
                status[g] = "sharp"
            elif torch.equal(chunk, lp_ref):
                status[g] = "lp"
            else:
                raise AssertionError(f"σ={rec['sigma']}: group {g} got neither the sharp nor the r={r} condition")
        steps.append({"step": sigmas.index(rec["sigma"]), "sigma": rec["sigma"], "status": status,
                      "shape": tuple(img.shape)})
    return steps


def sharp_reference(comfy, base, conds, kind, steps=STEPS, cfg=CFG):
    """Stock run through the probe: the unfiltered image tensor (chunk 0 of the first call) and the output."""
    tensor_kind = {"c_concat_wan": "c_concat", "c_concat_hunyuan": "c_concat"}.get(kind, kind)
    m, rec = probed(base, kind)
    out = sample(comfy, m, conds, steps=steps, cfg=cfg)
    ref = image_of(rec[0], tensor_kind)[0:1]
    for r in rec:  # the sharp condition is the same for every chunk and step
        img = image_of(r, tensor_kind)
        for b in range(img.shape[0]):
            assert torch.equal(img[b:b + 1], ref)
    return ref, out


def flow_sigma(model, percent):
    """σ at ``percent`` of a flow schedule, written out: σ = s·t / (1 + (s − 1)·t), t = 1 − percent."""
    shift = float(model.get_model_object("model_sampling").shift)
    t = 1.0 - percent
    return shift * t / (1 + (shift - 1) * t)


def alg(model, **kw):
    out = ALG.execute(model=model, **kw)
    return out.args[0], out.ui.as_dict()["text"][0]


def format_log(steps, r):
    lines = ["step  sigma    passes (group: condition)        r"]
    for s in steps:
        groups = ", ".join(f"{'cond' if g == 0 else 'uncond' if g == 1 else 'uncond#2'}:{v}"
                           for g, v in sorted(s["status"].items()))
        used = r if "lp" in s["status"].values() else 1.0
        lines.append(f"{s['step']:>4}  {s['sigma']:.4f}   {groups:<34} {used:g}")
    return "\n".join(lines)


# ---------------------------------------------------------------- Wan I2V: window, forms, log

def test_single_pass_wan_i2v_filtered_exactly_inside_window(comfy, load_standin, wan_i2v):
    base = load_standin("wan21_i2v")
    sharp, _ = sharp_reference(comfy, base, wan_i2v, "c_concat_wan")
    patched, text = alg(base, guidance_form="single_pass")
    assert "single_pass" in text and "r*=0.4" in text
    m, rec = probed(patched, "c_concat_wan")
    m, reports = listened(m)
    out = sample(comfy, m, wan_i2v)
    steps = classify(rec, "c_concat_wan", sharp, 0.4)
    sigma_end = flow_sigma(base, 0.20)
    assert len(steps) == STEPS
    for s in steps:
        want = "lp" if s["sigma"] >= sigma_end * (1 - 1e-4) else "sharp"
        assert s["status"] == {0: want, 1: want}, s
        assert s["shape"] == (2, 20, 2, 4, 4)
    assert [s["step"] for s in steps if "lp" in s["status"].values()] == [0, 1]
    assert out.shape == wan_i2v[2]["samples"].shape
    # ALG's own log agrees with what the model received
    assert len(reports) == 1
    assert [(e["step"], e["filtered"], e["r"]) for e in reports[0].log] == \
        [(s["step"], s["status"][0] == "lp", 0.4 if s["status"][0] == "lp" else 1.0) for s in steps]
    print("\nWan I2V single_pass, 6 steps euler/simple, shift 8, window 0-20% of the schedule "  # noqa: T201
          f"(sigma >= {sigma_end:.4f}):\n" + format_log(steps, 0.4))


def test_paper_wan_i2v_three_passes_inside_two_after(comfy, load_standin, wan_i2v):
    base = load_standin("wan21_i2v")
    sharp, stock = sharp_reference(comfy, base, wan_i2v, "c_concat_wan")
    patched, text = alg(base)  # auto → paper for a real-CFG model
    assert "paper form" in text
    m, rec = probed(patched, "c_concat_wan")
    out = sample(comfy, m, wan_i2v)
    steps = classify(rec, "c_concat_wan", sharp, 0.4)
    sigma_end = flow_sigma(base, 0.20)
    for s in steps:
        if s["sigma"] >= sigma_end * (1 - 1e-4):
            # cond and uncond with the filtered image, plus the uncond with the sharp one
            assert s["status"] == {0: "lp", 1: "lp", 2: "sharp"}, s
        else:
            assert s["status"] == {0: "sharp", 1: "sharp"}, s
    assert sum(len(s["status"]) for s in steps) == 3 * 2 + 2 * 4
    assert not torch.equal(out, stock)
    print("\nWan I2V paper form (uncond#2 = the extra uncond pass):\n" + format_log(steps, 0.4))  # noqa: T201


@pytest.mark.parametrize("with_relaxation", [False, True])
def test_paper_matches_independent_three_pass_computation(comfy, load_standin, wan_i2v, with_relaxation):
    """Re-run the three passes with the BaseModel directly and combine them by hand."""
    base = load_standin("wan21_i2v")
    sharp, _ = sharp_reference(comfy, base, wan_i2v, "c_concat_wan")
    lp_cc = expected_lp("c_concat_wan", sharp, 0.4)
    patched, _ = alg(base, guidance_form="paper")
    if with_relaxation:  # the workflow pairing: w becomes RelaxationCFG's s(σ)
        patched = RelaxationCFG.execute(model=patched, beta=0.75, decay_power=0.7, s_min=1.0, s_base=0.0,
                                        guidance="cfg").args[0]
    seen = []

    def record(args):
        seen.append((args["input"].clone(), args["sigma"].clone(), args["denoised"].clone()))
        return args["denoised"]

    probe = patched.clone()
    probe.set_model_sampler_post_cfg_function(record)
    sample(comfy, probe, wan_i2v)
    assert len(seen) == STEPS

    bm = base.model
    ms = base.get_model_object("model_sampling")
    ctx_pos, ctx_neg = wan_i2v[0][0][0], wan_i2v[1][0][0]
    sigma_end = flow_sigma(base, 0.20)

    def run(x, sig, cc, ctx):
        with torch.no_grad():
            return bm.apply_model(x, sig, c_concat=cc, c_crossattn=ctx, transformer_options={})

    inside = 0
    for x, sig, denoised in seen:
        s = float(sig[0])
        w = (reference_scale(s, float(ms.sigma_min), float(ms.sigma_max), 0.75, 0.7, 1.0, CFG)
             if with_relaxation else CFG)
        u_sharp = run(x, sig, sharp, ctx_neg)
        if s >= sigma_end * (1 - 1e-4):
            inside += 1
            c_lp, u_lp = run(x, sig, lp_cc, ctx_pos), run(x, sig, lp_cc, ctx_neg)
            want = u_sharp + w * (c_lp - u_lp)
            two_pass_lp = u_lp + w * (c_lp - u_lp)
            assert (denoised - two_pass_lp).abs().max() > 1e3 * (denoised - want).abs().max()  # test can fail
        else:
            want = u_sharp + w * (run(x, sig, sharp, ctx_pos) - u_sharp)
        torch.testing.assert_close(denoised, want, rtol=1e-4, atol=1e-5)
    assert inside == 2


# ---------------------------------------------------------------- schedule by step, identity, inputs

def test_step_mode_counts_steps_sigma_mode_counts_noise(comfy, load_standin, wan_i2v):
    """5 steps: step fraction i/4 ≤ 0.2 → step 0 only; the σ of step 1 is exactly 20% of the schedule
    (t = 0.8), which σ mode includes (inclusive bound)."""
    base = load_standin("wan21_i2v")
    sharp, _ = sharp_reference(comfy, base, wan_i2v, "c_concat_wan", steps=5)
    got = {}
    for by in ("step", "sigma"):
        m, rec = probed(alg(base, guidance_form="single_pass", schedule_by=by)[0], "c_concat_wan")
        sample(comfy, m, wan_i2v, steps=5)
        got[by] = [s["step"] for s in classify(rec, "c_concat_wan", sharp, 0.4) if s["status"][0] == "lp"]
    assert got == {"step": [0], "sigma": [0, 1]}


def test_paper_defaults_in_step_mode_filter_the_paper_fraction(comfy, load_standin, wan_i2v):
    base = load_standin("wan21_i2v")
    sharp, _ = sharp_reference(comfy, base, wan_i2v, "c_concat_wan", steps=11)
    m, rec = probed(alg(base, guidance_form="single_pass", schedule_by="step")[0], "c_concat_wan")
    sample(comfy, m, wan_i2v, steps=11)
    on = [s["step"] for s in classify(rec, "c_concat_wan", sharp, 0.4) if s["status"][0] == "lp"]
    assert on == [0, 1, 2]  # i/10 ≤ 0.20


@pytest.mark.parametrize("schedule", ["linear", "exponential"])
def test_graded_schedules_by_sigma_gaussian(comfy, load_standin, wan_i2v, schedule):
    """Window 0-50% of the noise schedule, gaussian σ* = 2: each step's blur follows κ(p), with p read
    off σ by inverting the flow shift by hand: t = σ / (s − (s − 1)σ), p = 1 − t."""
    base = load_standin("wan21_i2v")
    sharp, _ = sharp_reference(comfy, base, wan_i2v, "c_concat_wan")
    patched, _ = alg(base, preset="custom", guidance_form="single_pass", filter="gaussian", blur_sigma=2.0,
                     schedule=schedule, window_start=0.0, window_end=0.5, decay_rate=10.0)
    m, rec = probed(patched, "c_concat_wan")
    sample(comfy, m, wan_i2v)
    shift = float(base.get_model_object("model_sampling").shift)
    blurs = []
    for r in rec:
        s = r["sigma"]
        p = 1.0 - s / (shift - (shift - 1) * s)
        if p > 0.5 + 1e-4:
            kappa = 0.0
        else:
            p = min(p, 0.5)
            kappa = max(0.0, 1 - p / 0.5) if schedule == "linear" else float(torch.exp(torch.tensor(-10.0 * p)))
        blur = 2.0 * kappa
        blurs.append(round(blur, 4))
        want = lp.lowpass_channels(sharp, 4, 20, lambda t: lp.gaussian(t, blur))
        torch.testing.assert_close(r["c_concat"], want.expand_as(r["c_concat"]), rtol=0, atol=1e-6)
    assert len({b for b in blurs if b > 0}) >= 3 and blurs[-1] == 0.0, blurs  # graded, then off


@pytest.mark.parametrize("form", ["single_pass", "paper"])
def test_neutral_settings_identical_to_stock(comfy, load_standin, wan_i2v, form):
    base = load_standin("wan21_i2v")
    stock = sample(comfy, base, wan_i2v)
    r_one, _ = alg(base, preset="custom", guidance_form=form, resize_factor=1.0)
    assert torch.equal(sample(comfy, r_one, wan_i2v), stock)
    empty, _ = alg(base, preset="custom", guidance_form=form, schedule_by="step", window_start=0.9, window_end=0.95)
    assert torch.equal(sample(comfy, empty, wan_i2v), stock)  # no step has i/5 in [0.9, 0.95]
    zero_blur, _ = alg(base, preset="custom", guidance_form=form, filter="gaussian", blur_sigma=0.0)
    assert torch.equal(sample(comfy, zero_blur, wan_i2v), stock)
    on, _ = alg(base, preset="custom", guidance_form=form)
    assert not torch.equal(sample(comfy, on, wan_i2v), stock)


def test_input_model_and_conditioning_unchanged(comfy, load_standin, wan_i2v):
    base = load_standin("wan21_i2v")
    pos, neg, latent = wan_i2v
    snap_model = model_state(base)
    snap_conds = [(c[0].clone(), {k: v.clone() if torch.is_tensor(v) else v for k, v in c[1].items()})
                  for c in pos + neg]
    snap_latent = latent["samples"].clone()
    before = sample(comfy, base, wan_i2v, seed=3)
    for form in ("paper", "single_pass"):
        sample(comfy, alg(base, guidance_form=form)[0], wan_i2v, seed=3)
    assert model_state(base) == snap_model
    for (t, d), c in zip(snap_conds, pos + neg):
        assert torch.equal(t, c[0]) and d.keys() == c[1].keys()
        for k, v in d.items():
            assert torch.equal(v, c[1][k]) if torch.is_tensor(v) else v == c[1][k]
    assert torch.equal(latent["samples"], snap_latent)
    assert torch.equal(sample(comfy, base, wan_i2v, seed=3), before)


def test_filters_computed_once_per_run(comfy, load_standin, wan_i2v, monkeypatch):
    calls = []
    real = lp.down_up

    def counting(x, r):
        calls.append((tuple(x.shape), r))
        return real(x, r)

    monkeypatch.setattr(lp, "down_up", counting)
    base = load_standin("wan21_i2v")
    for form in ("single_pass", "paper"):
        calls.clear()
        m = alg(base, guidance_form=form)[0]
        sample(comfy, m, wan_i2v, steps=8)  # window: steps 0-1 of 8, 2-3 passes each
        # one filter per cond entry (positive, negative) for the whole run
        assert calls == [((1, 16, 2, 4, 4), pytest.approx(0.4))] * 2, (form, calls)
        sample(comfy, m, wan_i2v, steps=8)  # a second run builds its own cache
        assert len(calls) == 4
        assert KEY not in m.model_options.get("transformer_options", {})


def test_paper_chains_an_existing_calc_function_and_alg_replaces_itself(comfy, load_standin, wan_i2v):
    import comfy.patcher_extension as pe
    import comfy.samplers as samplers
    base = load_standin("wan21_i2v")
    plain = sample(comfy, alg(base)[0], wan_i2v)
    shapes = []

    def earlier(args):  # another node's single-slot function (e.g. SkipLayerGuidanceDiTSimple)
        shapes.append(tuple(g is not None for g in args["conds"]))
        return samplers.calc_cond_batch(args["model"], args["conds"], args["input"], args["sigma"],
                                              args["model_options"])

    chained_base = base.clone()
    chained_base.set_model_sampler_calc_cond_batch_function(earlier)
    twice, _ = alg(alg(chained_base, guidance_form="single_pass")[0])  # ALG on ALG: replaced, not stacked
    fn = twice.model_options["sampler_calc_cond_batch_function"]
    assert fn.inertia_previous is earlier
    assert len(twice.get_wrappers(pe.WrappersMP.OUTER_SAMPLE, KEY)) == 1
    assert twice.get_wrappers(pe.WrappersMP.CALC_COND_BATCH, KEY) == []
    out = sample(comfy, twice, wan_i2v)
    # inside the window: [cond_lp, uncond_lp] then [None, uncond_sharp]; after: the plain pair
    assert shapes == [(True, True), (False, True)] * 2 + [(True, True)] * 4
    torch.testing.assert_close(out, plain, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- other families: shapes and slots

def test_flf_concat_filtered_mask_channels_kept(comfy, load_standin, wan_flf):
    base = load_standin("wan21_flf")
    sharp, _ = sharp_reference(comfy, base, wan_flf, "c_concat_wan")
    assert sharp.shape == (1, 20, 2, 4, 4)
    assert sharp[0, :4, 0].min() == 1 and sharp[0, :4, -1].max() == 1  # first and last frames known
    m, rec = probed(alg(base)[0], "c_concat_wan")
    out = sample(comfy, m, wan_flf)
    steps = classify(rec, "c_concat_wan", sharp, 0.4)
    assert [s["status"] for s in steps[:2]] == [{0: "lp", 1: "lp", 2: "sharp"}] * 2
    for r in rec:
        assert torch.equal(r["c_concat"][:, :4], sharp[:, :4].expand(r["c_concat"].shape[0], -1, -1, -1, -1))
    assert out.shape == wan_flf[2]["samples"].shape == (1, 16, 2, 4, 4)


def test_vace_reference_and_first_frame_filtered_control_frames_kept(comfy, load_standin, wan_vace):
    base = load_standin("wan21_vace")
    sharp, _ = sharp_reference(comfy, base, wan_vace, "vace_context")
    assert sharp.shape == (1, 1, 96, 3, 4, 4)  # reference prepended: 1 + 2 latent frames
    assert lp.vace_image_frames(sharp).tolist() == [[[True, True, False]]]
    m, rec = probed(alg(base, guidance_form="single_pass")[0], "vace_context")
    out = sample(comfy, m, wan_vace)
    steps = classify(rec, "vace_context", sharp, 0.4)
    assert [s["step"] for s in steps if s["status"][0] == "lp"] == [0, 1]
    filt = next(r["vace_context"][0:1] for r in rec if not torch.equal(r["vace_context"][0:1], sharp))
    assert not torch.equal(filt[:, :, :32, :2], sharp[:, :, :32, :2])   # reference + first frame low-passed
    assert torch.equal(filt[:, :, :32, 2:], sharp[:, :, :32, 2:])        # generated frame untouched
    assert torch.equal(filt[:, :, 32:], sharp[:, :, 32:])                # mask untouched
    assert out.shape == wan_vace[2]["samples"].shape == (1, 16, 3, 4, 4)


@pytest.mark.parametrize("kind,standin,slot", [
    ("v1 (concat)", "hunyuan_i2v", "c_concat_hunyuan"),
    ("v2 (replace)", "hunyuan_t2v", "guiding_frame"),
    ("custom", "hunyuan_t2v", "ref_latent"),
])
def test_hunyuan_image_latent_single_pass(comfy, load_standin, hunyuan_conds, kind, standin, slot):
    conds = hunyuan_conds[kind]
    base = load_standin(standin)
    sharp, _ = sharp_reference(comfy, base, conds, slot, cfg=1.0)
    patched, text = alg(base)
    assert "single_pass" in text and "r*=0.625" in text  # paper defaults for HunyuanVideo
    m, rec = probed(patched, slot)
    out = sample(comfy, m, conds, cfg=1.0)
    steps = classify(rec, slot, sharp, 0.625)
    sigma_end = flow_sigma(base, 0.04)
    assert [s["step"] for s in steps if s["sigma"] >= sigma_end * (1 - 1e-4)] == [0]
    assert [s["status"] for s in steps] == [{0: "lp"}] + [{0: "sharp"}] * (STEPS - 1)
    want_shape = {"c_concat_hunyuan": (1, 17, 2, 4, 4), "guiding_frame": (1, 16, 1, 4, 4),
                  "ref_latent": (1, 16, 1, 4, 4)}[slot]
    assert steps[0]["shape"] == want_shape
    if slot == "c_concat_hunyuan":  # the inverted mask channel is left alone
        assert all(torch.equal(r["c_concat"][:, 16:], sharp[:, 16:]) for r in rec)
    assert out.shape == conds[2]["samples"].shape == (1, 16, 2, 4, 4)


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("kw,name", [
    (dict(resize_factor=0.0), "resize_factor"), (dict(resize_factor=1.5), "resize_factor"),
    (dict(window_start=0.5, window_end=0.2), "window_start"),
    (dict(filter="gaussian", blur_sigma=float("nan")), "blur_sigma"),
    (dict(filter="gaussian", blur_sigma=float("inf")), "blur_sigma"),
])
def test_bad_custom_values_raise_clear_errors(comfy, load_standin, kw, name):
    with pytest.raises(InertiaInputError) as e:
        ALG.execute(model=load_standin("wan21_i2v"), preset="custom", **kw)
    assert f"'{name}'" in str(e.value) and "Fix:" in str(e.value)


def test_paper_form_refused_for_guidance_distilled(comfy, load_standin):
    with pytest.raises(InertiaInputError, match="single_pass"):
        ALG.execute(model=load_standin("hunyuan_i2v"), guidance_form="paper")


def test_unknown_family_refused_at_node_time(comfy, load_standin):
    other = load_standin("wan21_i2v").clone()
    other.add_object_patch("diffusion_model", torch.nn.Identity())
    with pytest.raises(InertiaInputError, match="Identity.*Wan 2.1/2.2 I2V"):
        ALG.execute(model=other)


@pytest.mark.parametrize("standin", ["wan21_t2v", "wan21_i2v", "wan21_vace"])
def test_no_image_condition_raises_at_sampling(comfy, load_standin, standin):
    """Text-only conditioning: no concat image, no VACE kept frame → a message naming the supported nodes."""
    conds = (standins.wan_text_conditioning(1), standins.wan_text_conditioning(2),
             {"samples": torch.zeros(1, 16, 2, 4, 4)})
    patched, _ = alg(load_standin(standin))
    with pytest.raises(InertiaInputError) as e:
        sample(comfy, patched, conds, steps=2)
    msg = str(e.value)
    assert "no image condition" in msg and "WanImageToVideo" in msg and "HunyuanImageToVideo" in msg


# ---------------------------------------------------------------- pixel space (Wan I2V / FLF)
# 16x16 px, 5 frames (latent 2x2x2). The start/end images are 20x24: core's WanImageToVideo and ALG both
# center-crop them to 20x20 and resize to 16x16 (comfy.utils.common_upscale), so the resize is exercised.

PIX = 16


def _image_px(seed):
    return torch.rand(1, 20, 24, 3, generator=torch.Generator().manual_seed(100 + seed))


class RecordingVAE:
    """Thin proxy around the real VAE: every encode's input video and output latent are recorded."""

    def __init__(self, vae):
        self._vae, self.calls = vae, []

    def encode(self, pixels):
        out = self._vae.encode(pixels)
        self.calls.append((pixels.detach().clone(), out.detach().clone()))
        return out

    def __getattr__(self, name):
        return getattr(self._vae, name)


def independent_lowpassed(img, r):
    """Written out: center crop 20x24 → 20x20 (columns 2..21), bilinear to 16x16 (as core resizes), then
    bilinear antialiased down to round(16·r) px and back up. Returns [1, 16, 16, 3]."""
    import torch.nn.functional as F

    x = F.interpolate(img[:, :, 2:22].movedim(-1, 1), size=(PIX, PIX), mode="bilinear", align_corners=False)
    n = round(PIX * r)
    x = F.interpolate(x, size=(n, n), mode="bilinear", align_corners=False, antialias=True)
    x = F.interpolate(x, size=(PIX, PIX), mode="bilinear", align_corners=False, antialias=True)
    return x.movedim(1, -1)


def gray_video(first=None, last=None):
    v = torch.full((FRAMES, PIX, PIX, 3), 0.5)
    if first is not None:
        v[0] = first[0]
    if last is not None:
        v[-1] = last[0]
    return v


@pytest.fixture(scope="module")
def pixel_i2v(comfy, wan_vae):
    from comfy_extras.nodes_wan import WanImageToVideo
    img = _image_px(0)
    conds = WanImageToVideo.execute(standins.wan_text_conditioning(1), standins.wan_text_conditioning(2), wan_vae,
                                    PIX, PIX, FRAMES, 1, start_image=img).args
    return conds, img


@pytest.fixture(scope="module")
def pixel_flf(comfy, wan_vae):
    from comfy_extras.nodes_wan import WanFirstLastFrameToVideo
    start, end = _image_px(0), _image_px(1)
    conds = WanFirstLastFrameToVideo.execute(standins.wan_text_conditioning(1), standins.wan_text_conditioning(2),
                                             wan_vae, PIX, PIX, FRAMES, 1, start_image=start, end_image=end).args
    return conds, start, end


def test_pixel_space_i2v_matches_independent_encode_inside_window_sharp_after(comfy, load_standin, wan_vae,
                                                                             pixel_i2v):
    conds, img = pixel_i2v
    base = load_standin("wan21_i2v")
    sharp, _ = sharp_reference(comfy, base, conds, "c_concat_wan")
    assert sharp.shape == (1, 20, 2, 2, 2)
    vae = RecordingVAE(wan_vae)
    patched, text = alg(base, space="pixel", vae=vae, start_image=img)  # paper defaults: r*=0.4, 0-20%, paper form
    assert "pixel space" in text and "paper form" in text
    assert vae.calls == []  # nothing is encoded at node time
    m, rec = probed(patched, "c_concat_wan")
    m, reports = listened(m)
    sample(comfy, m, conds)

    # independent: low-pass the start image in pixels, gray video, vae.encode, process_latent_in
    video = gray_video(independent_lowpassed(img, 0.4))
    with torch.no_grad():
        want = torch.cat([sharp[:, :4], base.model.process_latent_in(wan_vae.encode(video))], dim=1)
    assert not torch.equal(want, sharp)
    assert not torch.equal(want, expected_lp("c_concat_wan", sharp, 0.4))  # not the latent-space filter
    sigma_end = flow_sigma(base, 0.20)
    inside_calls = 0
    for r in rec:
        status = {}
        for b, g in enumerate(r["groups"]):
            chunk = r["c_concat"][b:b + 1]
            status[g] = "sharp" if torch.equal(chunk, sharp) else "pixel_lp" if torch.equal(chunk, want) else "?"
        inside = r["sigma"] >= sigma_end * (1 - 1e-4)
        inside_calls += inside
        assert status == ({0: "pixel_lp", 1: "pixel_lp", 2: "sharp"} if inside else {0: "sharp", 1: "sharp"}), \
            (r["sigma"], status)
    assert inside_calls == 2 and len(rec) == STEPS
    # one encode for the run (2 filtered steps x 2 filtered passes), of exactly the video built above
    assert len(vae.calls) == 1 and torch.equal(vae.calls[0][0], video)
    assert len(reports) == 1
    info = reports[0].totals
    assert (info["space"], info["vae_encodes"], info["pixel_strengths"]) == ("pixel", 1, [1.0])
    sample(comfy, m, conds)  # a new run makes its own holder: one more encode, not one per step
    assert len(vae.calls) == 2 and torch.equal(vae.calls[1][1], vae.calls[0][1])


def test_pixel_space_encodes_once_per_distinct_strength(comfy, load_standin, wan_vae, pixel_i2v):
    """Linear by step over 0-50% of 5 steps: step fractions 0, .25 → κ 1, 0.5 (r 0.4, 0.7); then κ 0."""
    conds, img = pixel_i2v
    base = load_standin("wan21_i2v")
    sharp, _ = sharp_reference(comfy, base, conds, "c_concat_wan", steps=5)
    vae = RecordingVAE(wan_vae)
    patched, _ = alg(base, preset="custom", guidance_form="single_pass", schedule="linear", schedule_by="step",
                     window_start=0.0, window_end=0.5, space="pixel", vae=vae, start_image=img)
    m, rec = probed(patched, "c_concat_wan")
    m, reports = listened(m)
    sample(comfy, m, conds, steps=5)
    assert len(vae.calls) == 2
    for (video, _), r in zip(vae.calls, (0.4, 0.7)):
        assert torch.equal(video, gray_video(independent_lowpassed(img, r)))
    lp_images = [base.model.process_latent_in(out) for _, out in vae.calls]
    assert not torch.equal(lp_images[0], lp_images[1])
    assert len(rec) == 5
    for i, r in enumerate(rec):
        want = sharp if i >= 2 else torch.cat([sharp[:, :4], lp_images[i]], dim=1)
        assert torch.equal(r["c_concat"], want.expand(2, -1, -1, -1, -1)), i
    (report,) = reports
    assert [e["kappa"] for e in report.log] == [1.0, 0.5, 0.0, 0.0, 0.0]
    assert report.totals["vae_encodes"] == 2 and report.totals["pixel_strengths"] == [1.0, 0.5]


def test_pixel_space_flf_rebuilds_both_ends_and_leaves_inputs_unchanged(comfy, load_standin, wan_vae, pixel_flf):
    (pos, neg, latent), start, end = pixel_flf
    base = load_standin("wan21_flf")
    snap_model = model_state(base)
    snap_conds = [(c[0].clone(), {k: v.clone() if torch.is_tensor(v) else v for k, v in c[1].items()})
                  for c in pos + neg]
    snap_images = (start.clone(), end.clone(), latent["samples"].clone())
    vae = RecordingVAE(wan_vae)
    patched, _ = alg(base, guidance_form="single_pass", space="pixel", vae=vae, start_image=start, end_image=end)
    m, rec = probed(patched, "c_concat_wan")
    sample(comfy, m, (pos, neg, latent))
    assert len(vae.calls) == 1
    video, out = vae.calls[0]
    assert torch.equal(video, gray_video(independent_lowpassed(start, 0.4), independent_lowpassed(end, 0.4)))
    sharp_img = base.model.process_latent_in(pos[0][1]["concat_latent_image"])  # what core puts in c_concat
    lp_img = base.model.process_latent_in(out)
    for i, r in enumerate(rec):
        assert torch.equal(r["c_concat"][:, :4], rec[-1]["c_concat"][:, :4])  # mask channels never touched
        assert torch.equal(r["c_concat"][:, 4:], (lp_img if i < 2 else sharp_img).expand(2, -1, -1, -1, -1)), i
    assert model_state(base) == snap_model
    for (t, d), c in zip(snap_conds, pos + neg):
        assert torch.equal(t, c[0]) and d.keys() == c[1].keys()
        for k, v in d.items():
            assert torch.equal(v, c[1][k]) if torch.is_tensor(v) else v == c[1][k]
    assert all(torch.equal(a, b) for a, b in zip(snap_images, (start, end, latent["samples"])))
    assert KEY not in patched.model_options.get("transformer_options", {})


def test_pixel_space_gaussian_blurs_eight_image_pixels_per_latent_pixel(comfy, wan_vae):
    """blur_sigma is in latent pixels: in pixel space the image is blurred by σ·8 image pixels (no encode here)."""
    import torch.nn.functional as F

    from comfyui_inertia.nodes.alg_pixel import PixelSource

    img = _image_px(0)
    params = lp.ALGParams(filter="gaussian", blur_sigma=0.5)
    video = PixelSource(wan_vae, img, None).video(params, 0.5, FRAMES, PIX, PIX)  # σ = 0.5·0.5 latent px = 2 px
    resized = F.interpolate(img[:, :, 2:22].movedim(-1, 1), size=(PIX, PIX), mode="bilinear", align_corners=False)
    assert torch.equal(video[:1], lp.gaussian(resized, 2.0).movedim(1, -1))
    assert not torch.equal(video[:1], lp.gaussian(resized, 0.25).movedim(1, -1))
    assert bool((video[1:] == 0.5).all())


@pytest.mark.parametrize("standin,kw,name,text", [
    ("wan21_i2v", dict(space="pixel", start_image="img"), "vae", "required"),
    ("wan21_i2v", dict(space="pixel", vae="vae"), "start_image", "required"),
    ("wan21_i2v", dict(space="pixel", vae="vae", start_image=torch.rand(16, 16, 3)), "start_image", "IMAGE"),
    ("wan21_i2v", dict(space="voxel"), "space", "latent"),
    ("wan21_vace", dict(space="pixel", vae="vae", start_image="img"), "space", "wan_vace"),
    ("hunyuan_i2v", dict(space="pixel", vae="vae", start_image="img"), "space", "hunyuan"),
])
def test_pixel_space_bad_node_inputs(comfy, load_standin, wan_vae, standin, kw, name, text):
    """Refused at node execution, naming the input ("vae"/"img" stand for the real VAE and a real image)."""
    real = {"vae": wan_vae, "img": _image_px(0)}
    kw = {k: real[v] if isinstance(v, str) and v in real else v for k, v in kw.items()}
    with pytest.raises(InertiaInputError) as e:
        ALG.execute(model=load_standin(standin), **kw)
    msg = str(e.value)
    assert f"'{name}'" in msg and text in msg and "Fix:" in msg


@pytest.mark.parametrize("case", ["text_only", "end_image_on_i2v", "flf_without_end_image"])
def test_pixel_space_conditioning_mismatch_raises_before_any_encode(comfy, load_standin, wan_vae, pixel_i2v,
                                                                    pixel_flf, case):
    vae = RecordingVAE(wan_vae)
    img = _image_px(0)
    if case == "text_only":
        conds = (standins.wan_text_conditioning(1), standins.wan_text_conditioning(2), {"samples": torch.zeros(
            1, 16, 2, 2, 2)})
        kw, name, text = dict(start_image=img), "space", "WanImageToVideo"
    elif case == "end_image_on_i2v":
        conds, kw, name, text = pixel_i2v[0], dict(start_image=img, end_image=img), "end_image", "last frame is not"
    else:
        conds, kw, name, text = pixel_flf[0], dict(start_image=img), "end_image", "is missing"
    patched, _ = alg(load_standin("wan21_i2v"), space="pixel", vae=vae, **kw)
    with pytest.raises(InertiaInputError) as e:
        sample(comfy, patched, conds, steps=2)
    assert f"'{name}'" in str(e.value) and text in str(e.value)
    assert vae.calls == []


@pytest.mark.parametrize("order", ["alg_first", "slg_first"])
def test_paper_with_skip_layer_guidance_in_both_orders(comfy, load_standin, wan_i2v, order, caplog):
    """Core SkipLayerGuidanceDiTSimple sets ``sampler_calc_cond_batch_function`` without chaining. After ALG it
    replaces ALG's function on the ModelPatcher; ALG wraps it at run time. Before ALG, ALG chains it at patch time.
    Either way the model receives ALG's filtered condition inside the window, and SLG's layer skip on the uncond."""
    import comfy.patcher_extension as pe
    from comfy_extras.nodes_slg import SkipLayerGuidanceDiTSimple

    def slg(m):
        return SkipLayerGuidanceDiTSimple.execute(m, 0.0, 1.0, double_layers="0").args[0]

    base = load_standin("wan21_i2v")
    sharp, _ = sharp_reference(comfy, base, wan_i2v, "c_concat_wan")
    patched = slg(alg(base)[0]) if order == "alg_first" else alg(slg(base))[0]
    if order == "alg_first":  # SLG's function sits in the slot, ALG's is gone from the ModelPatcher
        assert getattr(patched.model_options["sampler_calc_cond_batch_function"], "inertia_key", None) is None
    m, rec = probed(patched, "c_concat_wan")
    skips = []

    def skip_probe(executor, x, t, c_concat, c_crossattn, control, transformer_options, **kwargs):
        dit = transformer_options.get("patches_replace", {}).get("dit", {})
        skips.append(("double_block", 0) in dit)
        return executor(x, t, c_concat, c_crossattn, control, transformer_options, **kwargs)

    m.add_wrapper_with_key(pe.WrappersMP.APPLY_MODEL, "test_skip_probe", skip_probe)
    with caplog.at_level("WARNING", logger="ComfyUI-Inertia"):
        out = sample(comfy, m, wan_i2v)
    steps = classify(rec, "c_concat_wan", sharp, 0.4)
    assert len(skips) == len(steps)
    sigma_end = flow_sigma(base, 0.20)
    per_sigma: dict = {}
    for s, skipped in zip(steps, skips):
        for g, status in s["status"].items():
            per_sigma.setdefault(s["sigma"], []).append((g, status, skipped))
    assert len(per_sigma) == STEPS
    for sigma, calls in per_sigma.items():
        if sigma >= sigma_end * (1 - 1e-4):  # c_lp plain, u_lp and u_sharp through SLG's skip
            assert sorted(calls) == [(0, "lp", False), (1, "lp", True), (1, "sharp", True)], (sigma, calls)
        else:
            assert sorted(calls) == [(0, "sharp", False), (1, "sharp", True)], (sigma, calls)
    warned = [r.getMessage() for r in caplog.records if "replaced sampler_calc_cond_batch_function" in r.getMessage()]
    if order == "alg_first":
        assert warned and "SkipLayerGuidanceDiTSimple" in warned[0], warned
    else:
        assert not warned
    assert not torch.equal(out, sample(comfy, slg(base), wan_i2v))  # ALG acts on top of SLG
    other = slg(alg(base)[0]) if order == "slg_first" else alg(slg(base))[0]
    torch.testing.assert_close(out, sample(comfy, other, wan_i2v), rtol=1e-5, atol=1e-6)  # order-independent


def test_paper_wrapped_at_run_time_filters_once_when_the_later_node_chains_it(comfy, load_standin, wan_i2v):
    """A node applied after ALG that chains the slot's function (ALG's) is wrapped by ALG at run time too; the
    inner ALG function then passes through, so the condition is filtered once and the result is plain ALG's."""
    base = load_standin("wan21_i2v")
    patched = alg(base)[0]
    plain = sample(comfy, patched, wan_i2v)
    inner_fn = patched.model_options["sampler_calc_cond_batch_function"]
    calls = []

    def later(args):  # a well-behaved node: chains what was in the slot
        calls.append(tuple(g is not None for g in args["conds"]))
        return inner_fn(args)

    chained = patched.clone()
    chained.set_model_sampler_calc_cond_batch_function(later)
    out = sample(comfy, chained, wan_i2v)
    assert calls == [(True, True), (False, True)] * 2 + [(True, True)] * 4  # ALG outside, `later` per pass
    torch.testing.assert_close(out, plain, rtol=1e-5, atol=1e-6)
