"""Pure math of the FramePack history controls and of the change / disappearance meter. No ComfyUI import.

References are written independently of ``nodes/pure/framepack_history.py``: ages from the
original's index splits by hand, a separable Gaussian with reflect padding in plain torch
(``tests/references.py``), softmax attention written out, synthetic videos with known motion.
"""

import math
from pathlib import Path

import pytest
import torch

from comfyui_inertia.nodes.pure import framepack_history as fh
from comfyui_inertia.nodes.pure import framepack_schedule as fs
from comfyui_inertia.nodes.pure.errors import InertiaInputError
from tests.references import gauss_blur

# ------------------------------------------------------------------------------ ages and layout

@pytest.mark.parametrize("mode", ["inverted", "f1"])
def test_ages_follow_the_index_splits(mode):
    """Both modes: 1× history k=1, 2× k=2,3, 4× k=4…19; start k = 1+pad·ws (inverted) or 20 (F1)."""
    ws = 9
    for plan in fs.plan_sections(5, ws, mode, has_end=True):
        a1 = fh.frame_ages(plan.clean_indices, plan.latent_indices).tolist()
        a2 = fh.frame_ages(plan.clean_2x_indices, plan.latent_indices).tolist()
        a4 = fh.frame_ages(plan.clean_4x_indices, plan.latent_indices).tolist()
        assert sorted(a2) == [2, 3] and sorted(a4) == list(range(4, 20))
        assert a1[1] == 1
        assert a1[0] == (1 + plan.padding * ws if mode == "inverted" else 20)
        if mode == "f1":
            assert a2 == [3, 2] and a4 == list(range(19, 3, -1))  # oldest first in F1's index order
            if len(a1) == 3:
                assert a1[2] == 1  # F1 end frame right after the window
        else:
            assert a2 == [2, 3] and a4 == list(range(4, 20))


def test_token_frame_ages_replicate_padding():
    ages = torch.tensor([4.0, 5, 6, 7, 8, 9, 10])  # 7 frames, kernel 4 → 2 token-frames, last padded with 10
    assert fh.token_frame_ages(ages, 4).tolist() == [5.5, (8 + 9 + 10 + 10) / 4]
    assert fh.token_frame_ages(torch.tensor([2.0, 3.0]), 2).tolist() == [2.5]


def test_prefix_layout_matches_packing_and_roles():
    """Token counts as FramePack packs them (replicate-padded kernels), order [4×, 2×, 1×]."""
    plan = fs.plan_sections(3, 2, "inverted", has_end=True)[0]
    h, w = 12, 20  # 4× grid: ceil(12/8)=2 × ceil(20/8)=3
    pack = {"latent_indices": torch.tensor([plan.latent_indices]),
            "clean_latents": torch.zeros(1, 16, 2, h, w), "clean_latent_indices": torch.tensor([plan.clean_indices]),
            "clean_latents_2x": torch.zeros(1, 16, 2, h, w),
            "clean_latent_2x_indices": torch.tensor([plan.clean_2x_indices]),
            "clean_latents_4x": torch.zeros(1, 16, 16, h, w),
            "clean_latent_4x_indices": torch.tensor([plan.clean_4x_indices])}
    segs = fh.prefix_layout(pack, (1, 2, 2), ("start", "end"))
    per4, per2, per1 = 2 * 3, 3 * 5, 6 * 10
    assert [(s.group, s.stop - s.start) for s in segs] == [("4x", per4)] * 4 + [("2x", per2)] + [("1x", per1)] * 2
    assert [s.age for s in segs] == [5.5, 9.5, 13.5, 17.5, 2.5, 1 + 2 * 2, 1]
    assert [s.role for s in segs][-2:] == ["start", "end"]
    assert fh.prefix_tokens(pack) == segs[-1].stop == 4 * per4 + per2 + 2 * per1
    assert fh.prefix_tokens({"clean_latents": torch.zeros(1, 16, 2, h, w)}) == 0  # no indices: not packed


def test_decay_weights_select_groups():
    plan = fs.plan_sections(3, 2, "inverted")[1]
    pack = {"latent_indices": torch.tensor([plan.latent_indices]),
            "clean_latents": torch.zeros(1, 16, 2, 8, 8), "clean_latent_indices": torch.tensor([plan.clean_indices]),
            "clean_latents_2x": torch.zeros(1, 16, 2, 8, 8),
            "clean_latent_2x_indices": torch.tensor([plan.clean_2x_indices]),
            "clean_latents_4x": torch.zeros(1, 16, 16, 8, 8),
            "clean_latent_4x_indices": torch.tensor([plan.clean_4x_indices])}
    segs = fh.prefix_layout(pack, (1, 2, 2), ("start", "history"))
    d, a = 0.7, 0.2
    w = fh.prefix_decay_weights(segs, d, a, include_1x=False, include_anchors=False)
    want4 = [math.exp(-d * (1 + a * k)) for k in (5.5, 9.5, 13.5, 17.5)]
    assert w[:4].tolist() == pytest.approx(want4, rel=1e-12)
    assert w[4:8].tolist() == pytest.approx([math.exp(-d * (1 + a * 2.5))] * 4, rel=1e-12)
    assert torch.equal(w[8:], torch.ones(32, dtype=torch.float64))  # start + post untouched by default
    w1 = fh.prefix_decay_weights(segs, d, a, include_1x=True, include_anchors=False)
    assert torch.equal(w1[8:24], torch.ones(16, dtype=torch.float64))
    assert w1[24:].tolist() == pytest.approx([math.exp(-d * (1 + a))] * 16)
    wa = fh.prefix_decay_weights(segs, d, a, include_1x=False, include_anchors=True)
    start_age = 1 + plan.padding * 2
    assert wa[8:24].tolist() == pytest.approx([math.exp(-d * (1 + a * start_age))] * 16)
    assert torch.equal(wa[24:], torch.ones(16, dtype=torch.float64))
    assert torch.equal(fh.prefix_decay_weights(segs, 0.0, a, True, True), torch.ones(40, dtype=torch.float64))


# ------------------------------------------------------------------------------ low-pass

def test_blur_frames_by_sigma_per_frame():
    g = torch.Generator().manual_seed(0)
    lat = torch.randn(2, 4, 3, 10, 12, generator=g)
    sig = [0.0, 0.8, 2.5]
    out = fh.blur_frames_by_sigma(lat, sig)
    assert out is not lat and torch.equal(out[:, :, 0], lat[:, :, 0])
    for b in range(2):
        for j in (1, 2):
            assert torch.allclose(out[b, :, j], gauss_blur(lat[b, :, j], sig[j]), atol=2e-5)
    assert fh.blur_frames_by_sigma(lat, [0.0] * 3) is lat
    const = torch.full((1, 2, 2, 6, 6), 0.37)
    assert torch.allclose(fh.blur_frames_by_sigma(const, [1.0, 9.0]), const, atol=1e-6)  # mean preserved
    bf = fh.blur_frames_by_sigma(lat.bfloat16(), sig)
    assert bf.dtype == torch.bfloat16


def test_lowpass_sigmas_law():
    ages = torch.tensor([4.0, 10.0, 19.0])
    assert fh.lowpass_sigmas(ages, 0.5, 0.25).tolist() == [0.5 * 2.0, 0.5 * 3.5, 0.5 * 5.75]
    assert fh.lowpass_sigmas(ages, 0.5, 0.0).tolist() == [0.5] * 3


# ------------------------------------------------------------------------------ attention helpers

def test_v_scale_and_key_bias():
    g = torch.Generator().manual_seed(1)
    v = torch.randn(1, 2, 10, 4, generator=g)
    w = torch.tensor([0.5, 0.25, 1.0])
    out = fh.v_scale(v, w)
    assert torch.equal(out[:, :, 3:], v[:, :, 3:]) and torch.allclose(out[:, :, :3], v[:, :, :3] * w.view(1, 1, 3, 1))
    assert not torch.equal(out, v) and torch.equal(v, torch.randn(1, 2, 10, 4, generator=torch.Generator().manual_seed(1)))
    inplace = v.clone()
    assert fh.v_scale_(inplace, w) is inplace and torch.equal(inplace, out)
    b = fh.key_bias(torch.log(w), 10, torch.float32, "cpu")
    assert b.shape == (1, 1, 1, 10) and b.stride(-2) % 16 == 0
    assert torch.allclose(b[0, 0, 0, :3], torch.log(w)) and torch.equal(b[0, 0, 0, 3:], torch.zeros(7))


def test_logit_bias_is_exact_reweighting():
    """softmax(s + log w) = w·p / Σ w·p: the identity the logit_bias mode relies on."""
    g = torch.Generator().manual_seed(2)
    s = torch.randn(5, 9, generator=g, dtype=torch.float64)
    w = torch.rand(9, generator=g, dtype=torch.float64) + 0.05
    p = torch.softmax(s, -1)
    assert torch.allclose(torch.softmax(s + torch.log(w), -1), w * p / (w * p).sum(-1, keepdim=True))


# ------------------------------------------------------------------------------ inputs

def test_section_betas_parse_and_count():
    assert fh.parse_section_betas("") == ()
    assert fh.parse_section_betas(" 0.2, 0.2 ,0.75") == (0.2, 0.2, 0.75)
    assert fh.parse_section_betas("0.2*2; 0.75 * 2 -0.5") == (0.2, 0.2, 0.75, 0.75, -0.5)
    with pytest.raises(InertiaInputError, match="section_betas.*not a number"):
        fh.parse_section_betas("0.2, x")
    with pytest.raises(InertiaInputError, match="outside"):
        fh.parse_section_betas("0.2, 1.5")
    with pytest.raises(InertiaInputError, match="zero times"):
        fh.parse_section_betas("0.2*0")
    assert fh.check_section_betas((0.1, 0.2, 0.3, 0.4), 4) == (0.1, 0.2, 0.3, 0.4)
    n = fs.section_count(5.0, 9)
    with pytest.raises(InertiaInputError, match=f"has 3 values but this video has {n} sections.*exactly {n}"):
        fh.check_section_betas((0.1, 0.2, 0.3), n)


def test_bad_strengths_slopes_windows():
    with pytest.raises(InertiaInputError, match="'lowpass_sigma' = -0.5 is negative"):
        fh.check_strength("lowpass_sigma", -0.5, "fix")
    with pytest.raises(InertiaInputError, match="not a finite"):
        fh.check_strength("decay_strength", float("nan"), "fix")
    with pytest.raises(InertiaInputError, match="α < 0"):
        fh.check_age_slope("lowpass_age_slope", -0.1)
    with pytest.raises(InertiaInputError, match="decay_start_percent.*after decay_end_percent"):
        fh.check_window(0.6, 0.4)
    assert fh.check_window(0.2, 0.2) == (0.2, 0.2)


# ------------------------------------------------------------------------------ meter (synthetic)

def square_video(T=8, size=48, side=12, speed=1, color=0.9, bg=0.1, gone_from=None):
    """A bright square on a dark background moving ``speed`` px/frame to the right; vanishes at ``gone_from``."""
    v = torch.full((T, size, size, 3), bg)
    for t in range(T):
        if gone_from is not None and t >= gone_from:
            continue
        x0 = 6 + speed * t
        v[t, 18:18 + side, x0:x0 + side] = color
    return v


def test_static_video_has_zero_motion():
    g = torch.Generator().manual_seed(3)
    frame = torch.rand(1, 32, 40, 3, generator=g)
    s = fh.motion_series(frame.expand(6, -1, -1, -1).contiguous())
    assert torch.equal(s["energy"], torch.zeros(6, dtype=torch.float64))
    assert torch.equal(s["moving"], torch.zeros(6, dtype=torch.float64))
    assert torch.equal(s["flow_px"], torch.zeros(6, dtype=torch.float64))
    assert fh.dynamic_degree(s["moving"]) == 0.0


def test_moving_square_motion_where_and_how_fast():
    v = square_video(T=8, speed=1)
    s = fh.motion_series(v, threshold=0.04)
    # two vertical edges of a 12-px square move; contrast 0.8 → the change sits on those edges only
    assert (s["energy"][1:] > 0).all() and s["energy"][0] == 0
    assert torch.allclose(s["energy"][1:], s["energy"][1:2].expand(7), rtol=1e-4)  # uniform motion
    assert 0.005 < float(s["moving"][1]) < 0.1   # a thin band at 2 edges of 48×48
    assert float(s["flow_px"][1:].mean()) == pytest.approx(1.0, rel=0.25)  # 1 px/frame
    fast = fh.motion_series(square_video(T=8, speed=2), threshold=0.04)
    assert float(fast["energy"][1:].mean()) > 1.5 * float(s["energy"][1:].mean())
    assert float(fast["flow_px"][1:].mean()) > float(s["flow_px"][1:].mean())
    assert fh.dynamic_degree(s["moving"], 0.005) == 1.0
    # where: the change lies on the square's left/right edges, not above or below it
    y = fh.luminance(v)
    d = (y[1] - y[0]).abs()[0]
    assert float(d[:14].max()) == 0.0 and float(d[34:].max()) == 0.0
    # burst: still, then motion → dynamic degree counts only the moving pairs
    burst = torch.cat([v[:1].expand(6, -1, -1, -1), v[1:4]], 0).contiguous()  # still 6 frames, then 3 moves
    sb = fh.motion_series(burst)
    assert fh.dynamic_degree(sb["moving"], 0.005) == pytest.approx(3 / 8)
    assert int(sb["energy"].argmax()) >= 6


def test_disappearing_square_remaining_drops():
    v = square_video(T=10, speed=0, gone_from=5)
    region = torch.zeros(48, 48, dtype=torch.bool)
    region[14:34, 2:22] = True  # the square and a border of background
    r = fh.region_series(v, region)
    assert torch.allclose(r["remaining"][:5], torch.ones(5, dtype=torch.float64))
    assert (r["remaining"][5:] < 0.05).all()
    assert fh.first_below(r["remaining"], 0.5) == 5
    assert float(r["region_change"][5]) > 0.2 and float(r["region_change"][4]) == 0.0
    # fading out: remaining stays 1 (structure kept) while the change grows; gain-invariant by design
    fade = torch.stack([0.1 + (v[0] - 0.1) * (1 - t / 12) for t in range(6)])
    assert (fh.region_series(fade, region)["remaining"] > 0.999).all()
    # a flat region has nothing to correlate
    flat = torch.full((4, 48, 48, 3), 0.5)
    assert torch.isnan(fh.region_series(flat, region)["remaining"]).all()


def test_meter_inputs():
    with pytest.raises(InertiaInputError, match="fewer than 2 frames"):
        fh.motion_series(torch.zeros(1, 8, 8, 3))
    with pytest.raises(InertiaInputError, match="not an IMAGE"):
        fh.motion_series(torch.zeros(4, 8, 8))
    with pytest.raises(InertiaInputError, match="motion_threshold.*negative"):
        fh.motion_series(torch.zeros(3, 8, 8, 3), threshold=-0.1)
    with pytest.raises(InertiaInputError, match="selects no pixel"):
        fh.region_from_mask(torch.zeros(1, 8, 8), 8, 8)
    m = torch.zeros(1, 4, 4)
    m[0, :2, :2] = 1.0
    assert fh.region_from_mask(m, 8, 8).sum() == 16  # nearest resize to the frame size


# ------------------------------------------------------------------------------ meter (real video)

def template_video(name):
    import comfyui_workflow_templates_media_video as media
    from PIL import Image, ImageSequence

    path = Path(media.__file__).parent / "templates" / name
    if not path.is_file():
        pytest.skip(f"{name} not in the template media package")
    frames = [torch.from_numpy(__import__("numpy").asarray(f.convert("RGB"), dtype="float32") / 255.0)
              for f in ImageSequence.Iterator(Image.open(path))]
    return torch.stack(frames)


def test_real_video_motion_and_disappearance():
    """video_wan_vace_inpainting-2.webp (ComfyUI template media): a boy walks with a dog, the camera tracks."""
    pytest.importorskip("comfyui_workflow_templates_media_video")
    v = template_video("video_wan_vace_inpainting-2.webp")[:24]  # 24 frames (0.8 s), 350×350
    s = fh.motion_series(v)
    frozen = fh.motion_series(v[:1].expand(8, -1, -1, -1).contiguous())
    assert float(frozen["energy"].max()) == 0.0
    print(  # noqa: T201
        f"\nreal video: energy mean {float(s['energy'][1:].mean()):.4f}, moving {float(s['moving'][1:].mean()):.3f}, "
        f"flow {float(s['flow_px'][1:].mean()):.2f} px/frame, dynamic degree {fh.dynamic_degree(s['moving']):.2f}")
    assert float(s["energy"][1:].min()) > 0.002 and fh.dynamic_degree(s["moving"]) > 0.5
    # the dog (lower middle-right) stays: its region keeps most of its content
    region = torch.zeros(350, 350, dtype=torch.bool)
    region[235:335, 225:320] = True
    kept = fh.region_series(v, region)["remaining"]
    # ...then the same clip with the dog removed from frame 12 on: the region is filled from its surroundings
    # (normalised convolution: a wide blur of the frame outside the region / the same blur of the outside mask)
    import kornia

    gone = v.clone()
    outside = (~region).float()[None, None]
    for t in range(12, gone.shape[0]):
        img = gone[t].permute(2, 0, 1)[None]
        num = kornia.filters.gaussian_blur2d(img * outside, (121, 121), (30.0, 30.0))
        den = kornia.filters.gaussian_blur2d(outside, (121, 121), (30.0, 30.0))
        gone[t][region] = (num / den)[0].permute(1, 2, 0)[region]
    lost = fh.region_series(gone, region)["remaining"]
    print(  # noqa: T201
        f"dog region remaining: kept last {float(kept[-1]):.3f} min {float(kept.min()):.3f}; "
        f"removed at frame 12 → {float(lost[12]):.3f}, last {float(lost[-1]):.3f}")
    assert float(kept.min()) > 0.5
    assert torch.equal(lost[:12], kept[:12])
    assert float(lost[12:].max()) < 0.1
    assert fh.first_below(lost, 0.5) == 12
