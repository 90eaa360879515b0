"""Pure math of Temporal Unlearning (eq. 3): kernel, blur matrix, layouts, input parsing. No ComfyUI import.

References used here are written independently of ``nodes/pure/temporal_blur.py``: a plain loop
over frames (the definition K̃_τ = Σ_j G(j−τ)·K_clamp(τ+j), ``tests/references.py`` ``loop_blur``) and
kornia's 1-D filtering with a replicate border.
"""

import math

import kornia
import pytest
import torch
from einops import rearrange

from comfyui_inertia.nodes.pure import parse
from comfyui_inertia.nodes.pure import temporal_blur as tb
from comfyui_inertia.nodes.pure.errors import InertiaInputError
from tests.references import loop_blur


def kornia_reference(x, sigma, anchors=()):
    """x [B, T, S, C]: each run of free frames filtered by kornia (1×k kernel along T, replicate border)."""
    r = max(1, math.ceil(3 * sigma))
    j = torch.arange(-r, r + 1, dtype=torch.float64)
    k = torch.exp(-j ** 2 / (2 * sigma ** 2))
    k = (k / k.sum())[None, None, :]
    y = x.double().clone()
    for a, b in tb.free_runs(x.shape[1], anchors):
        seg = rearrange(x[:, a:b].double(), "b t s c -> b (s c) 1 t")
        out = kornia.filters.filter2d(seg, k, border_type="replicate")
        y[:, a:b] = rearrange(out, "b (s c) 1 t -> b t s c", s=x.shape[2])
    return y.to(x.dtype)


def test_gaussian_taps_paper_sigma():
    taps = tb.gaussian_taps(0.6)
    assert taps.numel() == 5  # radius ceil(3·0.6) = 2
    want = torch.tensor([math.exp(-j * j / 0.72) for j in range(-2, 3)], dtype=torch.float64)
    assert torch.allclose(taps, want / want.sum(), atol=1e-15)
    assert float(taps.sum()) == pytest.approx(1.0, abs=1e-15) and torch.equal(taps, taps.flip(0))
    assert torch.equal(tb.gaussian_taps(0.0), torch.ones(1, dtype=torch.float64))
    assert tb.gaussian_taps(0.2).numel() == 3  # radius at least 1


@pytest.mark.parametrize("sigma", [0.3, 0.6, 1.0, 2.5])
@pytest.mark.parametrize("anchors", [(), (0,), (0, 6), (3,), (0, 1, 5)])
def test_blur_matrix_equals_loop_and_kornia(sigma, anchors):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 7, 3, 4, generator=g, dtype=torch.float64)
    W = tb.blur_matrix(7, sigma, anchors, dtype=torch.float64)
    y = torch.einsum("tu,bu...->bt...", W, x)
    assert torch.allclose(y, loop_blur(x, sigma, anchors), atol=1e-12)
    assert torch.allclose(y, kornia_reference(x, sigma, anchors), atol=1e-6)


def test_blur_matrix_rows_sum_to_one_and_anchor_rules():
    W = tb.blur_matrix(9, 0.9, anchors=(0, 4), dtype=torch.float64)
    assert torch.allclose(W.sum(1), torch.ones(9, dtype=torch.float64), atol=1e-15)
    for p in (0, 4):
        assert torch.equal(W[p], torch.eye(9, dtype=torch.float64)[p])  # keeps its own value
        others = [t for t in range(9) if t != p]
        assert torch.all(W[others, p] == 0)  # nobody reads the anchor
    # the runs 1-3 and 5-8 do not mix
    assert torch.all(W[1:4, 5:] == 0) and torch.all(W[5:, 1:4] == 0)
    # replicate boundary: the first free frame after an anchor collects the taps that fall outside
    taps = tb.gaussian_taps(0.9)
    r = (taps.numel() - 1) // 2
    assert float(W[1, 1]) == pytest.approx(float(taps[:r + 1].sum()), abs=1e-15)


def test_constant_sequence_is_unchanged_low_precision():
    for dtype in (torch.bfloat16, torch.float16):
        W = tb.blur_matrix(21, 0.6, (0,), dtype=dtype)
        assert (W.double().sum(1) - 1).abs().max() < 1e-3
        x = torch.full((1, 21, 8), 3.0, dtype=dtype)
        y = tb.blur_frames(x, 0.6, (0,))
        assert (y.double() - 3.0).abs().max() < 3 * 2 ** -7


def test_identity_cases():
    assert tb.is_identity(tb.blur_matrix(5, 0.0))
    assert tb.is_identity(tb.blur_matrix(1, 0.6))
    assert tb.is_identity(tb.blur_matrix(3, 0.6, anchors=(0, 1, 2)))
    assert tb.is_identity(tb.blur_matrix(3, 0.6, anchors=(0, 2)))  # a one-frame run stays itself
    assert not tb.is_identity(tb.blur_matrix(2, 0.6))


def _grid_tensor(B, H, T, S, D, prefix=0, tail=0, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, H, prefix + T * S + tail, D, generator=g)


def _expected_heads(x, grid, sigma, anchors=()):
    vid = rearrange(x[:, :, grid.prefix:grid.n_video], "b h (t s) d -> b t s (h d)", t=grid.frames)
    ref = rearrange(loop_blur(vid, sigma, anchors), "b t s (h d) -> b h (t s) d", h=x.shape[1])
    out = x.clone()
    out[:, :, grid.prefix:grid.n_video] = ref
    return out


@pytest.mark.parametrize("layout", ["contiguous", "token_major", "qkv_strided"])
@pytest.mark.parametrize("prefix,tail", [(0, 0), (6, 0), (0, 5), (4, 3)])
def test_blur_heads_layouts(layout, prefix, tail):
    B, H, T, S, D = 2, 3, 6, 4, 8
    grid = tb.TokenGrid(prefix, T, S)
    L = prefix + T * S + tail
    base = _grid_tensor(B, H, T, S, D, prefix, tail)
    if layout == "contiguous":
        x = base
    elif layout == "token_major":
        x = base.transpose(1, 2).contiguous().transpose(1, 2)
    else:  # V inside a fused [B, L, 3, H, D] qkv buffer, as HunyuanVideo's blocks hold it
        buf = torch.randn(B, L, 3, H, D)
        buf[:, :, 2] = base.transpose(1, 2)
        x = buf.permute(2, 0, 3, 1, 4)[2]
    W = tb.blur_matrix(T, 0.7, anchors=(0,))
    want = _expected_heads(x, grid, 0.7, anchors=(0,))
    y = tb.blur_heads(x, W, grid)
    assert torch.allclose(y, want, atol=1e-5)
    assert torch.equal(y[:, :, :prefix], x[:, :, :prefix]) and torch.equal(y[:, :, grid.n_video:], x[:, :, grid.n_video:])
    before = x.clone()
    qk_before = buf[:, :, :2].clone() if layout == "qkv_strided" else None
    tb.blur_heads_(x, W, grid)  # in place
    assert torch.allclose(x, want, atol=1e-5) and torch.equal(x[:, :, grid.n_video:], before[:, :, grid.n_video:])
    assert torch.equal(x[:, :, :prefix], before[:, :, :prefix])
    if layout == "qkv_strided":  # q and k parts of the fused buffer untouched by the in-place V blur
        assert torch.equal(buf[:, :, :2], qk_before)


def test_blur_tokens_wan_layout_and_anchor_exact():
    B, T, S, C = 2, 5, 4, 16
    x = torch.randn(B, T * S, C)
    W = tb.blur_matrix(T, 0.6, anchors=(0,))
    y = tb.blur_tokens(x, W, tb.TokenGrid(0, T, S))
    assert y.is_contiguous() and y.shape == x.shape
    want = rearrange(loop_blur(rearrange(x, "b (t s) c -> b t s c", t=T), 0.6, (0,)), "b t s c -> b (t s) c")
    assert torch.allclose(y, want, atol=1e-6)
    assert torch.equal(y[:, :S], x[:, :S])  # the anchor frame's tokens are bit-identical
    with pytest.raises(ValueError):
        tb.blur_tokens(x[:, :-1], W, tb.TokenGrid(0, T, S))


def test_bf16_matches_fp32_reference():
    B, T, S, C = 2, 21, 6, 32
    x = torch.randn(B, T * S, C)
    grid = tb.TokenGrid(0, T, S)
    y = tb.blur_tokens(x.bfloat16(), tb.blur_matrix(T, 0.6, dtype=torch.bfloat16), grid)
    assert y.dtype == torch.bfloat16
    ref = tb.blur_tokens(x.double(), tb.blur_matrix(T, 0.6, dtype=torch.float64), grid)
    assert (y.double() - ref).abs().max() < 0.02 * ref.abs().max()


def test_blur_frames_equals_kornia_on_btsc():
    x = torch.randn(1, 8, 5, 3, dtype=torch.float64)
    assert torch.allclose(tb.blur_frames(x, 0.6), kornia_reference(x, 0.6), atol=1e-6)


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf"), -float("inf")])
def test_bad_sigma(bad):
    with pytest.raises(InertiaInputError, match="sigma_blur"):
        tb.gaussian_taps(bad)


def test_parse_blocks():
    assert parse.parse_block_list("all", 4) == (0, 1, 2, 3)
    assert parse.parse_block_list(" ALL ", 2) == (0, 1)
    assert parse.parse_block_list("0-9,15", 30) == tuple(range(10)) + (15,)
    assert parse.parse_block_list("3, 1,1-2", 4) == (1, 2, 3)
    assert tb.format_blocks((0, 1, 2, 5, 7, 8)) == "0-2,5,7-8"
    for bad, what in [("", "selects no block"), (" , ", "selects no block"), ("abc", "neither"),
                      ("0-30", "has 30"), ("30", "has 30"), ("5-2", "reversed"), ("-1", "neither")]:
        with pytest.raises(InertiaInputError, match=what) as e:
            parse.parse_block_list(bad, 30)
        assert "'blocks'" in str(e.value) and "0-29" in str(e.value)


def test_check_window():
    assert tb.check_window(0.0, 1.0) == (0.0, 1.0)
    assert tb.check_window(0.3, 0.3) == (0.3, 0.3)
    with pytest.raises(InertiaInputError, match="start_percent.*after end_percent"):
        tb.check_window(0.6, 0.4)
    with pytest.raises(InertiaInputError, match="end_percent"):
        tb.check_window(0.0, 1.5)
    with pytest.raises(InertiaInputError, match="start_percent"):
        tb.check_window(float("nan"), 1.0)
