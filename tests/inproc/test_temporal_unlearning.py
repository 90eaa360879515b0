"""Temporal Unlearning inside real ComfyUI: real loaders, samplers and attention, tiny random models.

What the attention computes with is recorded by an ``optimized_attention_override`` installed on
the model *before* TemporalUnlearning (so the node must keep it: it is the chained override) and
each attention module's input by forward pre-hooks. The expected K/V are rebuilt independently
from the recorded inputs and the blocks' own weights (Linear + RMSNorm written out here), blurred
with a plain loop over frames, and rotated with ComfyUI's own ``apply_rope1``.
"""

from __future__ import annotations

from contextlib import contextmanager

import pytest
import torch
import torch.nn.functional as F
from einops import rearrange

from comfyui_inertia.nodes import standins
from comfyui_inertia.nodes.pure.errors import InertiaInputError
from comfyui_inertia.nodes.relaxation_cfg import RelaxationCFG
from comfyui_inertia.nodes.temporal_unlearning import TemporalUnlearning
from tests.references import loop_blur

from .helpers import model_state

DEFAULTS = dict(sigma_blur=0.6, apply_to="kv", start_percent=0.0, end_percent=1.0, blocks="all",
                protect_anchor_frames=True, blur_vace_control=False)
ATOL = 2e-5


def tu(model, **kw):
    return TemporalUnlearning.execute(model=model, **{**DEFAULTS, **kw}).args[0]


# ----------------------------------------------------------------------------- independent references
def rms(x, weight, eps=1e-6):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def rope(x_heads, freqs):
    from comfy.ldm.flux.math import apply_rope1  # ComfyUI's own rotation
    return apply_rope1(x_heads, freqs)


def blur_tokens_ref(t, frames, sigma, anchors, prefix=0):
    """[B, prefix + T·S, C] → video tokens blurred by the loop reference, prefix untouched."""
    vid = rearrange(t[:, prefix:], "b (t s) c -> b t s c", t=frames)
    out = t.clone()
    out[:, prefix:] = rearrange(loop_blur(vid, sigma, anchors), "b t s c -> b (t s) c")
    return out


def wan_expected(sa, x, freqs, frames, sigma, anchors, blur_k, blur_v, prefix=0):
    """Expected (post-RoPE K, V) of Wan self-attention from its input x and its own weights."""
    k = rms(F.linear(x, sa.k.weight, sa.k.bias), sa.norm_k.weight)
    v = F.linear(x, sa.v.weight, sa.v.bias)
    if blur_k:
        k = blur_tokens_ref(k, frames, sigma, anchors, prefix)
    if blur_v:
        v = blur_tokens_ref(v, frames, sigma, anchors, prefix)
    b, L, C = k.shape
    n = sa.num_heads
    return rope(k.view(b, L, n, C // n), freqs).view(b, L, C), v


# ----------------------------------------------------------------------------- recording
class Probe:
    """Attention override (q, k, v each call) + module pre-hooks (inputs), one ordered event list."""

    STARTS = ("self", "cross", "vace_self", "vace_cross", "double", "single", "refiner")

    def __init__(self):
        self.events = []

    def make_override(self):
        """A plain closure: ModelPatcher.clone() deep-copies model_options, and a bound method would
        be copied together with its probe, while a function keeps its identity."""
        events = self.events

        def recording_override(func, *args, **kwargs):
            sig = kwargs.get("transformer_options", {}).get("sigmas")
            events.append({"kind": "attn", "q": args[0].clone(), "k": args[1].clone(), "v": args[2].clone(),
                           "sigma": None if sig is None else float(sig.flatten()[0])})
            return func(*args, **kwargs)

        return recording_override

    def hook(self, kind, idx, grab):
        def pre_hook(module, args, kwargs):
            self.events.append({"kind": kind, "idx": idx, **grab(args, kwargs)})
        return pre_hook

    def tagged(self):
        """[(context, attn_event)]: each attention call with the markers that precede it."""
        out, ctx = [], {"role": "pre"}
        for e in self.events:
            if e["kind"] == "attn":
                out.append((dict(ctx), e))
            elif e["kind"] in self.STARTS:
                ctx = {"role": e["kind"], **{k: v for k, v in e.items() if k != "kind"}}
            else:
                ctx.update({f"{e['kind']}_{k}": v for k, v in e.items() if k not in ("kind", "idx")})
        return out

    def of(self, role, idx=None):
        return [(c, e) for c, e in self.tagged() if c["role"] == role and (idx is None or c.get("idx") == idx)]


def with_recorder(model):
    """A clone of ``model`` carrying the probe's override (installed before TemporalUnlearning)."""
    probe = Probe()
    m = model.clone()
    m.model_options.setdefault("transformer_options", {})["optimized_attention_override"] = probe.make_override()
    return m, probe


@contextmanager
def hooks(probe, dm):
    grab_x = lambda a, k: {"x": a[0].clone(), "freqs": a[1]}  # noqa: E731
    grab_qkv = lambda a, k: {"q": a[0].clone(), "k": a[1].clone(), "v": a[2].clone()}  # noqa: E731
    grab_pe = lambda a, k: {"pe": k.get("pe")}  # noqa: E731
    nothing = lambda a, k: {}  # noqa: E731
    handles = []
    reg = lambda mod, kind, i, grab: handles.append(mod.register_forward_pre_hook(probe.hook(kind, i, grab), with_kwargs=True))  # noqa: E731
    if hasattr(dm, "blocks"):
        for i, b in enumerate(dm.blocks):
            reg(b.self_attn, "self", i, grab_x)
            reg(b.cross_attn, "cross", i, nothing)
        for j, b in enumerate(getattr(dm, "vace_blocks", None) or []):
            reg(b.self_attn, "vace_self", j, grab_x)
            reg(b.cross_attn, "vace_cross", j, nothing)
    else:
        reg(dm.txt_in, "refiner", 0, nothing)
        for i, b in enumerate(dm.double_blocks):
            reg(b, "double", i, grab_pe)
            reg(b.img_attn.norm, "img", i, grab_qkv)
            reg(b.txt_attn.norm, "txt", i, grab_qkv)
        for j, b in enumerate(dm.single_blocks):
            reg(b, "single", j, grab_pe)
            reg(b.norm, "joint", j, grab_qkv)
    try:
        yield probe
    finally:
        for h in handles:
            h.remove()


def dm_of(model):
    return model.get_model_object("diffusion_model")


# ----------------------------------------------------------------------------- sampling
def wan_latent(frames=5, h=8, w=8):
    return {"samples": torch.zeros(1, 16, frames, h, w)}


def sample(comfy, model, latent=None, pos=None, neg=None, steps=2, cfg=6.0, seed=0):
    pos = pos if pos is not None else standins.wan_text_conditioning(1)
    neg = neg if neg is not None else standins.wan_text_conditioning(2)
    latent = latent if latent is not None else wan_latent()
    return comfy.common_ksampler(model, seed, steps, cfg, "euler", "simple", pos, neg, latent)[0]["samples"]


def hy_sample(comfy, model, pos=None, frames=5, steps=2):
    pos = pos if pos is not None else standins.hunyuan_text_conditioning(1, guidance=6.0)
    return comfy.common_ksampler(model, 0, steps, 1.0, "euler", "simple", pos, pos,
                                 {"samples": torch.zeros(1, 16, frames, 8, 8)})[0]["samples"]


def check_wan_self_attention(probe, dm, frames, anchors, blur_k=True, blur_v=True, role="self", blocks=None,
                             sigma=0.6, expect_calls=None, prefix=0):
    """Every recorded self-attention call used exactly the reference K/V."""
    calls = probe.of(role)
    assert calls, f"no {role} attention recorded"
    if expect_calls is not None:
        assert len(calls) == expect_calls
    owner = dm.blocks if role == "self" else dm.vace_blocks
    for ctx, e in calls:
        i = ctx["idx"]
        on = blocks is None or i in blocks
        k_ref, v_ref = wan_expected(owner[i].self_attn, ctx["x"], ctx["freqs"], frames, sigma, anchors,
                                    blur_k and on, blur_v and on, prefix)
        assert torch.allclose(e["k"], k_ref, atol=ATOL), (role, i, (e["k"] - k_ref).abs().max())
        assert torch.allclose(e["v"], v_ref, atol=ATOL), (role, i, (e["v"] - v_ref).abs().max())
    return calls


# ============================================================================= Wan T2V
def test_reference_machinery_matches_stock(comfy, load_standin):
    """Guard for the tests below: with no blur, the rebuilt K/V equal what stock attention used."""
    m, probe = with_recorder(load_standin("wan21_t2v"))
    with hooks(probe, dm_of(m)):
        sample(comfy, m)
    check_wan_self_attention(probe, dm_of(m), 5, (), blur_k=False, blur_v=False, expect_calls=4)
    # and a blurred reference would differ clearly, so the checks can fail
    ctx, e = probe.of("self")[0]
    k_b, v_b = wan_expected(dm_of(m).blocks[0].self_attn, ctx["x"], ctx["freqs"], 5, 0.6, (), True, True)
    assert (e["k"] - k_b).abs().max() > 100 * ATOL and (e["v"] - v_b).abs().max() > 100 * ATOL


@pytest.mark.parametrize("apply_to", ["kv", "k", "v"])
def test_wan_t2v_attention_uses_reference_blur(comfy, load_standin, apply_to):
    m, probe = with_recorder(load_standin("wan21_t2v"))
    patched = tu(m, apply_to=apply_to)
    with hooks(probe, dm_of(m)):
        sample(comfy, patched)
    # 2 steps × 1 batched cond/uncond call × 2 blocks; the earlier override ran every time (chained)
    check_wan_self_attention(probe, dm_of(m), 5, (), "k" in apply_to, "v" in apply_to, expect_calls=4)


def test_wan_block_selection_and_cross_attention_untouched(comfy, load_standin):
    base = load_standin("wan21_t2v")
    m, probe = with_recorder(base)
    with hooks(probe, dm_of(m)):
        sample(comfy, tu(m, blocks="1"))
    check_wan_self_attention(probe, dm_of(m), 5, (), blocks={1})
    sm, stock = with_recorder(base)
    with hooks(stock, dm_of(sm)):
        sample(comfy, sm)
    cross, cross_stock = probe.of("cross"), stock.of("cross")
    assert len(cross) == len(cross_stock) == 4
    for (_, e), (_, s) in zip(cross, cross_stock):  # text K/V depend on the context only
        assert torch.equal(e["k"], s["k"]) and torch.equal(e["v"], s["v"])
        assert e["k"].shape[1] == 512
    # block 0 is not selected: its self-attention is bit-identical to stock at the first call
    (_, e0), (_, s0) = probe.of("self", 0)[0], stock.of("self", 0)[0]
    assert torch.equal(e0["k"], s0["k"]) and torch.equal(e0["v"], s0["v"])


def test_sigma_zero_and_empty_window_are_stock(comfy, load_standin):
    base = load_standin("wan21_t2v")
    stock = sample(comfy, base)
    assert tu(base, sigma_blur=0.0) is base
    assert torch.equal(sample(comfy, tu(base, sigma_blur=0.0)), stock)
    assert torch.equal(sample(comfy, tu(base, start_percent=1.0, end_percent=1.0)), stock)
    assert not torch.equal(sample(comfy, tu(base)), stock)  # so the two checks above can fail


def test_window_gates_steps_by_sigma(comfy, load_standin):
    base = load_standin("wan21_t2v")
    m, probe = with_recorder(base)
    patched = tu(m, start_percent=0.0, end_percent=0.5)
    with hooks(probe, dm_of(m)):
        sample(comfy, patched, steps=4)
    ms = base.get_model_object("model_sampling")
    lo = float(ms.percent_to_sigma(0.5))
    seen = set()
    for ctx, e in probe.of("self"):
        on = e["sigma"] >= lo
        seen.add(on)
        k_ref, v_ref = wan_expected(dm_of(m).blocks[ctx["idx"]].self_attn, ctx["x"], ctx["freqs"], 5, 0.6, (), on, on)
        assert torch.allclose(e["k"], k_ref, atol=ATOL) and torch.allclose(e["v"], v_ref, atol=ATOL), (e["sigma"], on)
    assert seen == {True, False}


def test_window_holds_across_a_split_schedule(comfy, load_standin):
    """Wan 2.2 A14B style: two KSamplerAdvanced runs split one 4-step schedule (steps 0-2 with leftover noise,
    then 2-4), each on a Temporal Unlearning clone with the same window (A14B's two experts are two files of one
    architecture; one stand-in serves both here). Every call is blurred exactly when its σ is at or above the
    window's end σ of the live model_sampling, as in the unsplit run, though the second run sees only its
    sub-schedule."""
    base = load_standin("wan21_t2v")
    m, probe = with_recorder(base)
    pos, neg = standins.wan_text_conditioning(1), standins.wan_text_conditioning(2)
    adv = comfy.KSamplerAdvanced()
    with hooks(probe, dm_of(m)):
        mid = adv.sample(tu(m, start_percent=0.0, end_percent=0.5), "enable", 0, 4, 6.0, "euler", "simple",
                         pos, neg, wan_latent(), 0, 2, "enable")[0]
        n_first = len(probe.of("self"))
        adv.sample(tu(m, start_percent=0.0, end_percent=0.5), "disable", 0, 4, 6.0, "euler", "simple",
                   pos, neg, mid, 2, 4, "disable")
    lo = float(base.get_model_object("model_sampling").percent_to_sigma(0.5))
    calls = probe.of("self")
    assert 0 < n_first < len(calls)
    first = {e["sigma"] >= lo for _, e in calls[:n_first]}
    second = {e["sigma"] >= lo for _, e in calls[n_first:]}
    for ctx, e in calls:
        on = e["sigma"] >= lo
        k_ref, v_ref = wan_expected(dm_of(m).blocks[ctx["idx"]].self_attn, ctx["x"], ctx["freqs"], 5, 0.6, (), on, on)
        assert torch.allclose(e["k"], k_ref, atol=ATOL) and torch.allclose(e["v"], v_ref, atol=ATOL), (e["sigma"], on)
    assert first | second == {True, False}, (first, second)


def test_input_model_unchanged_and_stock_after(comfy, load_standin):
    base = load_standin("wan21_t2v")
    before = model_state(base)
    stock = sample(comfy, base)
    patched = tu(base)
    assert patched is not base and patched.object_patches and not base.object_patches
    sample(comfy, patched)
    assert model_state(base) == before
    assert torch.equal(sample(comfy, base), stock)


def test_two_clones_do_not_interfere(comfy, load_standin):
    base = load_standin("wan21_t2v")
    a = tu(base)
    b = tu(base, sigma_blur=2.0, apply_to="v", blocks="1")
    a1, b1, a2 = sample(comfy, a), sample(comfy, b), sample(comfy, a)
    assert torch.equal(a1, a2) and not torch.equal(a1, b1)
    b_alone = sample(comfy, tu(load_standin("wan21_t2v"), sigma_blur=2.0, apply_to="v", blocks="1"))
    assert torch.equal(b1, b_alone)


def test_composes_with_relaxation_cfg_in_either_order(comfy, load_standin):
    relax = dict(beta=0.75, decay_power=0.7, s_min=1.0, s_base=0.0, guidance="auto")
    base = load_standin("wan21_t2v")
    rc_then_tu = tu(RelaxationCFG.execute(model=base, **relax).args[0])
    tu_then_rc = RelaxationCFG.execute(model=tu(base), **relax).args[0]
    x1, x2 = sample(comfy, rc_then_tu), sample(comfy, tu_then_rc)
    assert torch.equal(x1, x2)
    assert not torch.equal(x1, sample(comfy, RelaxationCFG.execute(model=base, **relax).args[0]))
    assert not torch.equal(x1, sample(comfy, tu(base)))


def test_stacking_two_nodes_blurs_twice(comfy, load_standin):
    m, probe = with_recorder(load_standin("wan21_t2v"))
    twice = tu(tu(m, apply_to="v"), apply_to="v", sigma_blur=1.0)
    with hooks(probe, dm_of(m)):
        sample(comfy, twice, steps=1)
    ctx, e = probe.of("self")[0]
    sa = dm_of(m).blocks[0].self_attn
    v = F.linear(ctx["x"], sa.v.weight, sa.v.bias)
    v = blur_tokens_ref(blur_tokens_ref(v, 5, 0.6, ()), 5, 1.0, ())
    assert torch.allclose(e["v"], v, atol=ATOL)


def test_grid_is_read_per_call_with_context_windows(comfy, load_standin):
    """Core context windows call the model on 4-frame slices of a 9-frame latent: each call blurs its own grid."""
    import comfy.context_windows as cw
    from comfy_extras.nodes_context_windows import WanContextWindowsManualNode

    m, probe = with_recorder(load_standin("wan21_t2v"))
    windowed = WanContextWindowsManualNode.execute(
        tu(m), context_length=13, context_overlap=4, context_schedule=cw.ContextSchedules.STATIC_STANDARD,
        context_stride=1, closed_loop=False, fuse_method=cw.ContextFuseMethods.PYRAMID).args[0]
    with hooks(probe, dm_of(m)):
        sample(comfy, windowed, wan_latent(frames=9), steps=1)
    calls = probe.of("self")
    frames = {e["k"].shape[1] // 16 for _, e in calls}
    assert frames == {4}, frames  # never the full 9 frames
    assert len(calls) >= 2 * 3  # several windows × 2 blocks
    check_wan_self_attention(probe, dm_of(m), 4, ())


@pytest.mark.parametrize("extra", ["time_dim_concat", "ref_conv"])
def test_wan_extra_reference_tokens(comfy, load_standin, extra):
    """Phantom-style time_dim_concat frames are appended anchors; ref_conv reference tokens are an untouched prefix."""
    import node_helpers
    ref = torch.randn(1, 16, 1, 8, 8, generator=torch.Generator().manual_seed(9))
    if extra == "time_dim_concat":
        base = load_standin("wan21_t2v")
        vals = {"time_dim_concat": ref}
        frames, anchors, prefix = 6, (5,), 0
    else:
        from comfy.ldm.wan.model import WanModel
        from comfy.ops import disable_weight_init
        from comfy.sd import load_diffusion_model_state_dict
        module = WanModel(**{**standins.WAN_COMMON, "model_type": "t2v", "in_dim": 16, "in_dim_ref_conv": 16},
                          operations=disable_weight_init)
        base = load_diffusion_model_state_dict(standins.random_state_dict(module, seed=1))
        assert dm_of(base).ref_conv is not None
        vals = {"reference_latents": [ref]}
        frames, anchors, prefix = 5, (), 16
    pos = node_helpers.conditioning_set_values(standins.wan_text_conditioning(1), vals)
    neg = node_helpers.conditioning_set_values(standins.wan_text_conditioning(2), vals)
    m, probe = with_recorder(base)
    with hooks(probe, dm_of(m)):
        sample(comfy, tu(m), wan_latent(), pos, neg)
    calls = check_wan_self_attention(probe, dm_of(m), frames, anchors, prefix=prefix, expect_calls=4)
    assert {e["v"].shape[1] for _, e in calls} == {prefix + frames * 16}


# ============================================================================= Wan I2V / FLF
def fake_clip_vision(seed=0, tokens=257):
    """A real comfy.clip_vision.Output with CLIP ViT-H's shape (the encoder itself cannot be shrunk)."""
    import comfy.clip_vision

    g = torch.Generator().manual_seed(seed)
    out = comfy.clip_vision.Output()
    out["penultimate_hidden_states"] = torch.randn(1, tokens, 1280, generator=g) * 0.1
    return out


@pytest.fixture(scope="module")
def i2v_conds(comfy, wan_vae):
    """Core WanImageToVideo at 16x16 px, 9 frames (latent 3 frames of 2x2), with CLIP-vision tokens."""
    from comfy_extras.nodes_wan import WanImageToVideo
    img = torch.rand(1, 16, 16, 3, generator=torch.Generator().manual_seed(3))
    out = WanImageToVideo.execute(standins.wan_text_conditioning(1), standins.wan_text_conditioning(2), wan_vae,
                                  16, 16, 9, 1, start_image=img, clip_vision_output=fake_clip_vision())
    return out.args


@pytest.mark.parametrize("protect", [True, False])
def test_wan_i2v_core_node_anchor_frame(comfy, load_standin, i2v_conds, protect):
    pos, neg, latent = i2v_conds
    assert latent["samples"].shape[2] == 3
    base = load_standin("wan21_i2v")
    m, probe = with_recorder(base)
    with hooks(probe, dm_of(m)):
        sample(comfy, tu(m, sigma_blur=1.0, protect_anchor_frames=protect), latent, pos, neg)
    anchors = (0,) if protect else ()
    calls = check_wan_self_attention(probe, dm_of(m), 3, anchors, sigma=1.0)
    S = 1  # 2x2 latent, 2x2 patches
    for ctx, e in calls:
        sa = dm_of(m).blocks[ctx["idx"]].self_attn
        v_pre = F.linear(ctx["x"], sa.v.weight, sa.v.bias)
        assert torch.equal(e["v"][:, :S], v_pre[:, :S]) == protect  # anchor frame bit-identical iff protected
    # cross-attention (CLIP image tokens and text) is untouched: same as stock
    sm, stock = with_recorder(base)
    with hooks(stock, dm_of(sm)):
        sample(comfy, sm, latent, pos, neg)
    cross, cross_stock = probe.of("cross"), stock.of("cross")
    assert len(cross) == len(cross_stock) and len(cross) == 2 * len(probe.of("self"))  # img + text per block
    assert {e["k"].shape[1] for _, e in cross} == {257, 512}
    for (_, e), (_, s) in zip(cross, cross_stock):
        assert torch.equal(e["k"], s["k"]) and torch.equal(e["v"], s["v"])


def flf_conds(frames=5, h=8, w=8):
    """The c_concat inputs WanFirstLastFrameToVideo builds (mask with 4 sub-frames per latent frame)."""
    import node_helpers
    g = torch.Generator().manual_seed(5)
    image = torch.randn(1, 16, frames, h, w, generator=g)
    mask = torch.ones(1, 1, frames * 4, h, w)
    mask[:, :, :4] = 0.0   # start image: the whole first latent frame
    mask[:, :, -1:] = 0.0  # end image: only the last sub-frame of the last latent frame
    mask = mask.view(1, frames, 4, h, w).transpose(1, 2)
    vals = {"concat_latent_image": image, "concat_mask": mask}
    return (node_helpers.conditioning_set_values(standins.wan_text_conditioning(1), vals),
            node_helpers.conditioning_set_values(standins.wan_text_conditioning(2), vals))


def test_wan_flf_first_and_last_latent_protected(comfy, load_standin):
    pos, neg = flf_conds()
    m, probe = with_recorder(load_standin("wan21_flf"))
    with hooks(probe, dm_of(m)):
        sample(comfy, tu(m, sigma_blur=0.8), wan_latent(), pos, neg)
    calls = check_wan_self_attention(probe, dm_of(m), 5, (0, 4), sigma=0.8)
    S = 16
    for ctx, e in calls:
        sa = dm_of(m).blocks[ctx["idx"]].self_attn
        v_pre = F.linear(ctx["x"], sa.v.weight, sa.v.bias)
        assert torch.equal(e["v"][:, :S], v_pre[:, :S]) and torch.equal(e["v"][:, -S:], v_pre[:, -S:])
        assert not torch.equal(e["v"][:, S:2 * S], v_pre[:, S:2 * S])


# ============================================================================= VACE
def vace_conds(frames=5, ref_frames=1, h=8, w=8):
    """The conds WanVaceToVideo builds with a reference image: ref latents first, their VACE mask 0."""
    import node_helpers
    g = torch.Generator().manual_seed(7)
    vace_frames = torch.randn(1, 32, frames, h, w, generator=g)
    mask = torch.ones(1, 64, frames, h, w)
    mask[:, :, :ref_frames] = 0.0
    vals = {"vace_frames": [vace_frames], "vace_mask": [mask], "vace_strength": [1.0]}
    return (node_helpers.conditioning_set_values(standins.wan_text_conditioning(1), vals, append=True),
            node_helpers.conditioning_set_values(standins.wan_text_conditioning(2), vals, append=True))


@pytest.mark.parametrize("vace_control", [False, True])
def test_wan_vace_main_blocks_only_by_default(comfy, load_standin, vace_control):
    pos, neg = vace_conds()
    base = load_standin("wan21_vace")
    m, probe = with_recorder(base)
    with hooks(probe, dm_of(m)):
        sample(comfy, tu(m, blur_vace_control=vace_control), wan_latent(), pos, neg)
    check_wan_self_attention(probe, dm_of(m), 5, (0,), expect_calls=4)
    if vace_control:
        check_wan_self_attention(probe, dm_of(m), 5, (0,), role="vace_self", expect_calls=2)
    else:
        sm, stock = with_recorder(base)
        with hooks(stock, dm_of(sm)):
            sample(comfy, sm, wan_latent(), pos, neg)
        # the first control-block call sees the same input as stock (it runs on the un-blurred embedding)
        (_, e), (_, s) = probe.of("vace_self")[0], stock.of("vace_self")[0]
        assert torch.equal(e["k"], s["k"]) and torch.equal(e["v"], s["v"])
        check_wan_self_attention(probe, dm_of(m), 5, (), blur_k=False, blur_v=False, role="vace_self")


def test_wan_vace_core_node_reference_latent_is_anchor(comfy, load_standin, wan_vae):
    from comfy_extras.nodes_wan import WanVaceToVideo
    img = torch.rand(1, 16, 16, 3, generator=torch.Generator().manual_seed(4))
    pos, neg, latent, trim = WanVaceToVideo.execute(standins.wan_text_conditioning(1), standins.wan_text_conditioning(2),
                                                    wan_vae, 16, 16, 9, 1, 1.0, reference_image=img).args
    assert trim == 1 and latent["samples"].shape[2] == 4
    m, probe = with_recorder(load_standin("wan21_vace"))
    with hooks(probe, dm_of(m)):
        sample(comfy, tu(m, sigma_blur=1.0), latent, pos, neg)
    check_wan_self_attention(probe, dm_of(m), 4, (0,), sigma=1.0)


# ============================================================================= HunyuanVideo
def heads_blur_ref(t, frames, sigma, anchors, prefix=0):
    """[B, H, prefix + T·S, D] → video tokens blurred (all heads), prefix untouched."""
    flat = rearrange(t, "b h l d -> b l (h d)")
    return rearrange(blur_tokens_ref(flat, frames, sigma, anchors, prefix), "b l (h d) -> b h l d", h=t.shape[1])


def hy_expected_double(blk, ctx, frames, sigma, anchors, n_img, prefix=0):
    """Joint [img; txt] post-RoPE K and V of a double block, image part blurred."""
    kn_img = rms(ctx["img_k"], blk.img_attn.norm.key_norm.scale)
    kn_txt = rms(ctx["txt_k"], blk.txt_attn.norm.key_norm.scale)
    hb = lambda t: heads_blur_ref(t, frames, sigma, anchors, prefix)  # noqa: E731
    k = torch.cat((hb(kn_img), kn_txt), dim=2)
    v = torch.cat((hb(ctx["img_v"]), ctx["txt_v"]), dim=2)
    assert kn_img.shape[2] == n_img
    return rope(k, ctx["pe"]), v


def hy_expected_single(blk, ctx, frames, sigma, anchors, n_img, prefix=0):
    kn = rms(ctx["joint_k"], blk.norm.key_norm.scale)
    v = ctx["joint_v"].clone()
    hb = lambda t: heads_blur_ref(t, frames, sigma, anchors, prefix)  # noqa: E731
    kn = torch.cat((hb(kn[:, :, :n_img]), kn[:, :, n_img:]), dim=2)
    v = torch.cat((hb(v[:, :, :n_img]), v[:, :, n_img:]), dim=2)
    return rope(kn, ctx["pe"]), v


def check_hunyuan(probe, dm, frames, anchors, sigma=0.6, prefix=0):
    n_img = prefix + frames * 16
    doubles, singles = probe.of("double"), probe.of("single")
    assert doubles and singles
    for ctx, e in doubles:
        k_ref, v_ref = hy_expected_double(dm.double_blocks[ctx["idx"]], ctx, frames, sigma, anchors, n_img, prefix)
        assert torch.allclose(e["k"], k_ref, atol=ATOL), (e["k"] - k_ref).abs().max()
        assert torch.allclose(e["v"], v_ref, atol=ATOL)
        assert torch.equal(e["v"][:, :, n_img:], ctx["txt_v"])  # text values bit-identical
    for ctx, e in singles:
        k_ref, v_ref = hy_expected_single(dm.single_blocks[ctx["idx"]], ctx, frames, sigma, anchors, n_img, prefix)
        assert torch.allclose(e["k"], k_ref, atol=ATOL), (e["k"] - k_ref).abs().max()
        assert torch.allclose(e["v"], v_ref, atol=ATOL)
        assert torch.equal(e["v"][:, :, n_img:], ctx["joint_v"][:, :, n_img:])
    return doubles, singles


def test_hunyuan_reference_machinery_matches_stock(comfy, load_standin):
    m, probe = with_recorder(load_standin("hunyuan_t2v"))
    with hooks(probe, dm_of(m)):
        hy_sample(comfy, m)
    check_hunyuan(probe, dm_of(m), 5, (), sigma=1e-9)  # σ→0: the loop reference is the identity


def test_hunyuan_image_tokens_only(comfy, load_standin):
    base = load_standin("hunyuan_t2v")
    m, probe = with_recorder(base)
    with hooks(probe, dm_of(m)):
        hy_sample(comfy, tu(m))
    doubles, singles = check_hunyuan(probe, dm_of(m), 5, ())
    assert len(doubles) == len(singles) == 2
    # the token refiner (text-only attention, before the double blocks) is untouched
    sm, stock = with_recorder(base)
    with hooks(stock, dm_of(sm)):
        hy_sample(comfy, sm)
    refiner, refiner_stock = probe.of("refiner"), stock.of("refiner")
    assert refiner and len(refiner) == len(refiner_stock)
    for (_, e), (_, s) in zip(refiner, refiner_stock):
        assert e["k"].shape[2] == 32 and torch.equal(e["k"], s["k"]) and torch.equal(e["v"], s["v"])


def test_hunyuan_block_selection_single_only(comfy, load_standin):
    m, probe = with_recorder(load_standin("hunyuan_t2v"))
    with hooks(probe, dm_of(m)):
        hy_sample(comfy, tu(m, blocks="1", apply_to="k"), steps=1)
    (dctx, d), = probe.of("double")
    k_ref, v_ref = hy_expected_double(dm_of(m).double_blocks[0], dctx, 5, 1e-9, (), 80)
    assert torch.allclose(d["k"], k_ref, atol=ATOL) and torch.allclose(d["v"], v_ref, atol=ATOL)
    (sctx, s), = probe.of("single")
    k_ref, _ = hy_expected_single(dm_of(m).single_blocks[0], sctx, 5, 0.6, (), 80)
    assert torch.allclose(s["k"], k_ref, atol=ATOL)
    assert torch.equal(s["v"], sctx["joint_v"])  # apply_to k: V untouched


@pytest.mark.parametrize("route", ["v1_concat", "v2_replace", "custom_ref_latent"])
def test_hunyuan_i2v_anchor_frame(comfy, load_standin, route):
    import node_helpers
    pos = standins.hunyuan_text_conditioning(1, guidance=6.0)
    if route == "v1_concat":  # what HunyuanImageToVideo "v1 (concat)" sets
        mask = torch.ones(1, 1, 5, 8, 8)
        mask[:, :, :1] = 0.0
        img = torch.randn(1, 16, 5, 8, 8, generator=torch.Generator().manual_seed(2))
        pos = node_helpers.conditioning_set_values(pos, {"concat_latent_image": img, "concat_mask": mask})
        name = "hunyuan_i2v"
    elif route == "v2_replace":
        pos = node_helpers.conditioning_set_values(pos, {"guiding_frame_index": 0})
        name = "hunyuan_t2v"
    else:  # "custom": ref_latent tokens are prepended to the image tokens
        img = torch.randn(1, 16, 1, 8, 8, generator=torch.Generator().manual_seed(2))
        pos = node_helpers.conditioning_set_values(pos, {"ref_latent": img})
        name = "hunyuan_t2v"
    prefix, anchors = (16, ()) if route == "custom_ref_latent" else (0, (0,))
    m, probe = with_recorder(load_standin(name))
    with hooks(probe, dm_of(m)):
        hy_sample(comfy, tu(m, sigma_blur=0.9), pos=pos)
    doubles, _ = check_hunyuan(probe, dm_of(m), 5, anchors, sigma=0.9, prefix=prefix)
    for ctx, e in doubles:  # anchor frame / reference tokens bit-identical
        assert torch.equal(e["v"][:, :, :16], ctx["img_v"][:, :, :16])
        assert not torch.equal(e["v"][:, :, 16:32], ctx["img_v"][:, :, 16:32])


# ============================================================================= bad input
def test_bad_inputs(comfy, load_standin):
    base = load_standin("wan21_t2v")
    for kw, name in [(dict(sigma_blur=-0.5), "sigma_blur"), (dict(sigma_blur=float("nan")), "sigma_blur"),
                     (dict(sigma_blur=float("inf")), "sigma_blur"), (dict(blocks=""), "blocks"),
                     (dict(blocks="0-5"), "blocks"), (dict(blocks="x"), "blocks"),
                     (dict(start_percent=0.7, end_percent=0.2), "start_percent"), (dict(apply_to="q"), "apply_to")]:
        with pytest.raises(InertiaInputError, match=f"'{name}'") as e:
            tu(base, **kw)
        assert "Fix:" in str(e.value)
    with pytest.raises(InertiaInputError, match="has 2 \\(0-1\\)"):
        tu(base, blocks="0,2")
    assert not base.object_patches and not base.wrappers


def test_unsupported_model_names_supported_families(comfy):
    from comfy.ldm.modules.diffusionmodules.openaimodel import UNetModel
    from comfy.model_management import get_torch_device, unet_offload_device
    from comfy.model_patcher import ModelPatcher
    from comfy.ops import disable_weight_init

    holder = torch.nn.Module()
    holder.diffusion_model = UNetModel(image_size=32, in_channels=4, model_channels=32, out_channels=4,
                                       num_res_blocks=1, channel_mult=[1], num_heads=1, context_dim=768,
                                       use_spatial_transformer=True, transformer_depth=[1],
                                       transformer_depth_output=[1, 1], transformer_depth_middle=1,
                                       operations=disable_weight_init)
    sd_like = ModelPatcher(holder, get_torch_device(), unet_offload_device())
    with pytest.raises(InertiaInputError, match="UNetModel") as e:
        tu(sd_like)
    assert "Wan" in str(e.value) and "HunyuanVideo" in str(e.value)
