"""Pure math of the FramePack history controls. No ComfyUI import.

References are written independently of ``nodes/pure/framepack_history.py``: ages from the
original's index splits by hand, a separable Gaussian with reflect padding in plain torch
(``tests/references.py``), softmax attention written out, synthetic videos with known motion.
"""

import math

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

def test_section_betas_count():  # the parser's own tests: tests/unit/test_parse.py
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
