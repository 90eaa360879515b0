"""Pure math of ALG, ``nodes/pure/lowpass.py`` (filters, schedules, strength mapping, three-pass formula). No ComfyUI import."""

import math

import pytest
import torch
import torch.nn.functional as F

from comfyui_inertia.nodes.pure import lowpass as lp
from comfyui_inertia.nodes.pure.errors import InertiaInputError


def _checker(h=12, w=16):
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    return ((yy + xx) % 2).float() * 2 - 1  # highest spatial frequency


# ---------------------------------------------------------------- down_up

def test_down_up_is_per_frame_and_matches_torch_reference():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 4, 12, 16, generator=g)
    out = lp.down_up(x, 0.4)
    assert out.shape == x.shape and out.dtype == x.dtype
    for b in range(2):
        for t in range(4):
            frame = x[b:b + 1, :, t]
            # small size: round(12·0.4) = 5, round(16·0.4) = 6
            small = F.interpolate(frame, size=(5, 6), mode="bilinear", align_corners=False, antialias=True)
            ref = F.interpolate(small, size=(12, 16), mode="bilinear", align_corners=False, antialias=True)
            torch.testing.assert_close(out[b:b + 1, :, t], ref, rtol=0, atol=1e-6)


def test_down_up_removes_high_frequency_and_keeps_constants():
    x = _checker()[None, None, None].repeat(1, 2, 3, 1, 1)
    out = lp.down_up(x, 0.5)
    assert out.abs().max() < 0.5 * x.abs().max()  # checkerboard mostly gone
    const = torch.full((1, 4, 2, 6, 10), 0.7)
    torch.testing.assert_close(lp.down_up(const, 0.4), const, rtol=0, atol=1e-6)  # masks survive


def test_down_up_identity_at_one_and_no_temporal_mixing():
    x = torch.randn(1, 2, 3, 8, 8)
    assert lp.down_up(x, 1.0) is x
    y = x.clone()
    y[:, :, 1] += 5.0  # change only frame 1
    d = (lp.down_up(y, 0.5) - lp.down_up(x, 0.5)).abs().amax(dim=(0, 1, 3, 4))
    assert d[0] == 0 and d[2] == 0 and d[1] > 1


def test_down_up_keeps_dtype_and_accepts_4d():
    x = torch.randn(2, 3, 8, 8).to(torch.bfloat16)
    out = lp.down_up(x, 0.5)
    assert out.dtype == torch.bfloat16 and out.shape == x.shape
    tiny = torch.randn(1, 1, 1, 2, 2)
    assert lp.down_up(tiny, 0.1).shape == tiny.shape  # 1x1 floor


@pytest.mark.parametrize("r", [0.0, -0.1, 1.5, float("nan"), float("inf")])
def test_down_up_rejects_bad_r(r):
    with pytest.raises(InertiaInputError) as e:
        lp.down_up(torch.zeros(1, 1, 1, 4, 4), r)
    assert "'resize_factor'" in str(e.value) and "Fix:" in str(e.value)


# ---------------------------------------------------------------- gaussian

def test_gaussian_matches_explicit_separable_kernel():
    x = torch.randn(1, 2, 2, 16, 16, generator=torch.Generator().manual_seed(1))
    sigma = 1.0
    out = lp.gaussian(x, sigma)
    k = lp.gaussian_kernel_size(sigma, 16, 16)
    assert k == 7
    r = k // 2
    t = torch.arange(-r, r + 1, dtype=torch.float64)
    g = torch.exp(-t * t / (2 * sigma * sigma))
    g = (g / g.sum()).float()
    frame = x[:, :, 0]
    pad = F.pad(frame, (r, r, r, r), mode="reflect")
    ref = F.conv2d(pad, (g[:, None] * g[None, :]).expand(2, 1, k, k).contiguous(), groups=2)
    torch.testing.assert_close(out[:, :, 0], ref, rtol=1e-5, atol=1e-5)


def test_gaussian_identity_small_frames_and_bad_sigma():
    x = torch.randn(1, 1, 2, 6, 6)
    assert lp.gaussian(x, 0.0) is x
    assert lp.gaussian_kernel_size(10.0, 4, 6) == 7  # capped at 2·min(H,W) − 1
    assert lp.gaussian(x, 10.0).shape == x.shape
    for bad in (float("nan"), float("inf"), -1.0):
        with pytest.raises(InertiaInputError, match="blur_sigma"):
            lp.gaussian(x, bad)


# ---------------------------------------------------------------- condition layouts

def test_lowpass_channels_touches_only_the_span():
    x = torch.randn(1, 20, 3, 8, 8)
    out = lp.lowpass_channels(x, 4, 20, lambda t: lp.down_up(t, 0.5))
    assert torch.equal(out[:, :4], x[:, :4])
    assert not torch.equal(out[:, 4:], x[:, 4:])
    assert torch.equal(out[:, 4:], lp.down_up(x[:, 4:], 0.5))


def test_vace_only_frames_with_kept_content_are_filtered():
    b, n, t, h, w = 1, 1, 4, 8, 8
    latent = torch.randn(b, n, 32, t, h, w)
    mask = torch.ones(b, n, 64, t, h, w)
    mask[:, :, :, 0] = 0.0          # reference frame (kept)
    mask[:, :, :, 1, :, :4] = 0.0   # partly kept frame (outpaint-like)
    ctx = torch.cat([latent, mask], dim=2)
    sel = lp.vace_image_frames(ctx)
    assert sel.tolist() == [[[True, True, False, False]]]
    out = lp.lowpass_vace(ctx, lambda x: lp.down_up(x, 0.5))
    assert out.shape == ctx.shape
    assert torch.equal(out[:, :, 32:], ctx[:, :, 32:])                 # mask untouched
    assert torch.equal(out[:, :, :32, 2:], ctx[:, :, :32, 2:])          # control frames untouched
    assert torch.equal(out[:, :, :32, :2], lp.down_up(ctx[0, :, :32, :2], 0.5)[None])


# ---------------------------------------------------------------- schedules

def test_strength_mapping_paper():
    assert lp.resize_at(1.0, 0.4) == pytest.approx(0.4)
    assert lp.resize_at(0.0, 0.4) == 1.0
    assert lp.resize_at(0.5, 0.4) == pytest.approx(0.7)
    assert lp.sigma_at(0.5, 3.0) == pytest.approx(1.5)
    p = lp.ALGParams(resize_factor=0.4)
    assert p.at(1.0)[0] == pytest.approx(0.4) and p.is_active(1.0) and not p.is_active(0.0)
    assert not lp.ALGParams(resize_factor=1.0).is_active(1.0)
    assert not lp.ALGParams(filter="gaussian", blur_sigma=0.0).is_active(1.0)


def test_interval_reproduces_paper_filtered_step_counts():
    """Paper configs: Wan end 0.20 of 50 steps → 10 steps; HunyuanVideo/CogVideoX end 0.04 → 2."""
    for end, want in ((0.20, 10), (0.04, 2)):
        on = [i for i in range(50) if lp.strength(lp.step_progress(i, 50), "interval", 0.0, end) > 0]
        assert on == list(range(want))


def test_linear_and_exponential_schedules():
    assert lp.strength(0.0, "linear", 0.0, 0.5) == 1.0
    assert lp.strength(0.25, "linear", 0.0, 0.5) == pytest.approx(0.5)
    assert lp.strength(0.5, "linear", 0.0, 0.5) == pytest.approx(0.0)
    assert lp.strength(0.6, "linear", 0.0, 0.5) == 0.0
    assert lp.strength(0.3, "exponential", 0.0, 1.0, decay_rate=10) == pytest.approx(math.exp(-3))
    assert lp.strength(0.3, "exponential", 0.1, 1.0, decay_rate=10) == pytest.approx(math.exp(-2))
    assert lp.strength(0.05, "exponential", 0.1, 1.0) == 0.0
    assert lp.strength(0.5, "interval", 0.5, 0.5) == 1.0  # inclusive bounds


def test_step_index_and_progress():
    sig = [1.0, 0.9, 0.5, 0.2, 0.0]
    assert [lp.step_index(s, sig) for s in sig[:-1]] == [0, 1, 2, 3]
    assert lp.step_index(0.7, sig) == 1        # Heun-like intermediate σ belongs to step 1
    assert lp.step_index(0.9 * (1 + 1e-6), sig) == 1  # float32/float64 jitter
    assert lp.step_progress(3, 4) == 1.0 and lp.step_progress(0, 1) == 0.0


def test_sigma_to_percent_inverts_flow_shift():
    shift = 8.0
    p2s = lambda p: 1.0 if p <= 0 else 0.0 if p >= 1 else shift * (1 - p) / (1 + (shift - 1) * (1 - p))  # noqa: E731
    for p in (0.0, 0.1, 0.2, 0.5, 0.93):
        assert lp.sigma_to_percent(p2s(p), p2s) == pytest.approx(p, abs=1e-9)
    assert lp.sigma_to_percent(0.0, p2s) == 1.0


def test_schedule_table_by_step_and_sigma():
    shift = 8.0
    p2s = lambda p: 1.0 if p <= 0 else 0.0 if p >= 1 else shift * (1 - p) / (1 + (shift - 1) * (1 - p))  # noqa: E731
    sig = [p2s(i / 10) for i in range(10)] + [0.0]
    rows = lp.schedule_table(sig, lp.ALGParams(schedule_by="step"))
    assert [r["filtered"] for r in rows] == [True, True] + [False] * 8  # i/9 ≤ 0.2
    rows = lp.schedule_table(sig, lp.ALGParams(schedule_by="sigma"), p2s)
    assert [r["filtered"] for r in rows] == [True, True, True] + [False] * 7  # percent 0, .1, .2
    assert rows[0]["r"] == pytest.approx(0.4) and rows[5]["r"] == 1.0


@pytest.mark.parametrize("kwargs,name", [
    (dict(resize_factor=0.0), "resize_factor"), (dict(resize_factor=1.01), "resize_factor"),
    (dict(window_start=0.5, window_end=0.2), "window_start"), (dict(window_end=1.5), "window_end"),
    (dict(blur_sigma=float("nan")), "blur_sigma"), (dict(blur_sigma=float("inf")), "blur_sigma"),
    (dict(blur_sigma=-1.0), "blur_sigma"), (dict(filter="median"), "filter"), (dict(schedule="cosine"), "schedule"),
    (dict(schedule_by="time"), "schedule_by"), (dict(decay_rate=-1.0), "decay_rate"),
])
def test_bad_parameters_name_input_value_and_fix(kwargs, name):
    with pytest.raises(InertiaInputError) as e:
        lp.ALGParams(**kwargs)
    msg = str(e.value)
    assert f"'{name}'" in msg and "Fix:" in msg and repr(kwargs[name]) in msg


# ---------------------------------------------------------------- guidance

def test_paper_formula_and_cfg_pair():
    g = torch.Generator().manual_seed(2)
    u_sharp, c_lp, u_lp = (torch.randn(1, 4, 2, 3, 3, generator=g) for _ in range(3))
    w = 5.0
    want = u_sharp + w * (c_lp - u_lp)
    torch.testing.assert_close(lp.paper_combine(u_sharp, c_lp, u_lp, w), want)
    cond, uncond = lp.paper_as_cfg_pair(u_sharp, c_lp, u_lp)
    for w in (1.0, 5.0, 7.5):  # the ordinary CFG mix of the pair is the paper's formula for any w
        torch.testing.assert_close(uncond + w * (cond - uncond), lp.paper_combine(u_sharp, c_lp, u_lp, w),
                                   rtol=1e-5, atol=1e-5)
    # and it is not the two-pass CFG with the filtered image
    assert not torch.allclose(u_lp + 5.0 * (c_lp - u_lp), lp.paper_combine(u_sharp, c_lp, u_lp, 5.0))


# ---------------------------------------------------------------- pixel space helpers

def test_wan_i2v_video_places_start_and_end_frames_in_gray():
    g = torch.Generator().manual_seed(0)
    start, end = torch.rand(2, 6, 8, 4, generator=g), torch.rand(1, 6, 8, 3, generator=g)
    v = lp.wan_i2v_video(9, 6, 8, start=start, end=end)
    assert v.shape == (9, 6, 8, 3) and v.dtype == torch.float32
    assert torch.equal(v[:2], start[..., :3])          # alpha dropped
    assert torch.equal(v[-1:], end)
    assert bool((v[2:-1] == 0.5).all())
    only_start = lp.wan_i2v_video(5, 6, 8, start=torch.rand(7, 6, 8, 3, generator=g))  # more frames than length
    assert only_start.shape[0] == 5 and not bool((only_start == 0.5).all())
    long_end = torch.rand(7, 6, 8, 3, generator=g)
    assert torch.equal(lp.wan_i2v_video(5, 6, 8, end=long_end), long_end[-5:])  # the last `length` frames
    assert bool((lp.wan_i2v_video(5, 6, 8) == 0.5).all())


@pytest.mark.parametrize("name,kw", [("start_image", dict(start=torch.rand(1, 5, 8, 3))),
                                     ("end_image", dict(end=torch.rand(1, 6, 8, 1))),
                                     ("start_image", dict(start=torch.rand(6, 8, 3)))])
def test_wan_i2v_video_rejects_wrong_image_shapes(name, kw):
    with pytest.raises(InertiaInputError) as e:
        lp.wan_i2v_video(5, 6, 8, **kw)
    assert f"'{name}'" in str(e.value)


def test_apply_sigma_scale_converts_latent_sigma_to_image_pixels():
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    p = lp.ALGParams(filter="gaussian", blur_sigma=0.5)
    torch.testing.assert_close(p.apply(x, 0.5, sigma_scale=8), lp.gaussian(x, 2.0), rtol=0, atol=0)
    assert torch.equal(p.apply(x, 0.5), lp.gaussian(x, 0.25))
    d = lp.ALGParams(filter="down_up", resize_factor=0.4)
    assert torch.equal(d.apply(x, 1.0, sigma_scale=8), lp.down_up(x, 0.4))  # r is relative: no scaling


# ---------------------------------------------------------------- schedule clock (one run)

def _flow(shift=8.0):
    return lambda p: 1.0 if p <= 0 else 0.0 if p >= 1 else shift * (1 - p) / (1 + (shift - 1) * (1 - p))  # noqa: E731


def test_schedule_clock_interval_by_sigma_follows_the_window():
    p2s = _flow()
    sig = [p2s(i / 10) for i in range(10)] + [0.0]
    clock = lp.ScheduleClock(lp.ALGParams(window_end=0.2), sig, p2s)
    assert clock.bounds == (1.0, p2s(0.2))
    states = [clock.at(s) for s in sig[:-1]]
    assert [st.step for st in states] == list(range(10))
    assert [st.kappa for st in states] == [1.0, 1.0, 1.0] + [0.0] * 7  # percent 0, .1, .2 (inclusive)
    assert [st.active for st in states] == [True] * 3 + [False] * 7
    assert states[0].r == pytest.approx(0.4) and states[5].r == 1.0 and states[0].progress is None
    assert clock.at(p2s(0.2) * (1 - 0.5 * lp.SIGMA_RTOL)).kappa == 1.0  # same σ computed in float32
    assert clock.planned_strengths() == [1.0]


def test_schedule_clock_graded_by_sigma_and_by_step():
    import torch

    p2s = _flow()
    sig = torch.tensor([p2s(i / 8) for i in range(8)] + [0.0], dtype=torch.float64)
    lin = lp.ScheduleClock(lp.ALGParams(schedule="linear", window_end=0.45), sig, p2s)
    st = lin.at(float(sig[2]))  # percent 0.25 of a 0-45% linear window: κ = 1 − 0.25/0.45
    # (a float σ goes through torch.as_tensor: float32, as the sampler's σ is)
    assert st.progress == pytest.approx(0.25, abs=1e-6) and st.kappa == pytest.approx(1 - 0.25 / 0.45, abs=1e-6)
    assert st.r == pytest.approx(1 - 0.6 * st.kappa) and st.active
    assert lin.at(float(sig[4])).kappa == 0.0  # percent 0.5: outside the window
    assert lin.planned_strengths() == pytest.approx([1.0, 1 - 0.125 / 0.45, 1 - 0.25 / 0.45, 1 - 0.375 / 0.45], abs=1e-6)
    by_step = lp.ScheduleClock(lp.ALGParams(schedule="linear", schedule_by="step", window_end=0.5), sig, p2s)
    assert [round(by_step.at(float(s)).kappa, 6) for s in sig[:-1]] == [1.0, 0.714286, 0.428571, 0.142857, 0, 0, 0, 0]
    assert by_step.at(float(sig[1])).progress == pytest.approx(1 / 7)


def test_schedule_clock_solver_stages_and_sample_sigmas():
    import torch

    p2s = _flow()
    sig = [1.0, 0.9, 0.5, 0.2, 0.0]
    per_call = lp.ScheduleClock(lp.ALGParams(schedule="linear", window_end=0.9), sig, p2s)
    per_step = lp.ScheduleClock(lp.ALGParams(schedule="linear", window_end=0.9), sig, p2s, per_step=True)
    mid = 0.7  # a Heun stage between steps 1 and 2: step 1
    assert per_call.at(mid).step == per_step.at(mid).step == 1
    assert per_step.at(mid).kappa == per_step.at(0.9).kappa != per_call.at(mid).kappa
    assert per_call.at(torch.tensor([0.9, 0.5])).sigma == pytest.approx(0.9)  # entry 0 of a [B] tensor
    sub = torch.tensor([0.5, 0.2, 0.0])  # KSamplerAdvanced's second half: its own schedule
    assert per_call.at(0.2, sub).step == 1 and per_call.schedule(sub) is per_call.schedule(sub)
    assert per_call.schedule() == pytest.approx(sig)


def test_schedule_clock_by_sigma_holds_across_a_split_schedule():
    """Two KSamplerAdvanced runs over one schedule (Wan 2.2 A14B's experts): by σ (the default) the second run's
    strengths equal the unsplit run's at the same σ; by step they follow that run's own steps (documented)."""
    p2s = _flow()
    full = [p2s(i / 10) for i in range(10)] + [0.0]
    second = full[5:]  # the second expert's run: its own sigmas
    for by in ("sigma", "step"):
        params = lp.ALGParams(schedule="linear", window_end=0.8, schedule_by=by)
        whole, split = lp.ScheduleClock(params, full, p2s), lp.ScheduleClock(params, second, p2s)
        same = [whole.at(s).kappa == pytest.approx(split.at(s).kappa) for s in second[:-1]]
        assert all(same) if by == "sigma" else not all(same), (by, same)
