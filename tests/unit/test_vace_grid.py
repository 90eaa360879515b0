"""The Wan latent time grid and the mask layouts (nodes/pure/vace/grid.py). No ComfyUI import.

WanVaceToVideo's temporal step is reproduced here with the same PyTorch call it makes
(``F.interpolate(..., mode="nearest-exact")`` on a float32 ``[1, 64, L, h, w]`` tensor), so
p(k) is checked against PyTorch itself, not against a copy of the formula.
"""

import importlib
import json
import pkgutil
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from comfyui_inertia.nodes import pure
from comfyui_inertia.nodes.pure.errors import InertiaInputError
from comfyui_inertia.nodes.pure.vace import aligned, grid

LENGTHS = list(range(5, 162, 4))


def torch_reads(L, T=None, dtype=torch.float32):
    T = (L - 1) // 4 + 1 if T is None else T
    x = torch.arange(L, dtype=dtype).view(1, 1, L, 1, 1)
    return F.interpolate(x, size=(T, 1, 1), mode="nearest-exact").flatten().long().tolist()


def seen_by_wan(masks, L):
    """WanVaceToVideo's mask path for a mask already at size: unshuffle 8×8 + nearest-exact in time."""
    H, W = masks.shape[1:]
    m = masks.view(L, H // 8, 8, W // 8, 8).permute(2, 4, 0, 1, 3).reshape(64, L, H // 8, W // 8)
    out = F.interpolate(m.unsqueeze(0), size=((L - 1) // 4 + 1, H // 8, W // 8), mode="nearest-exact").squeeze(0)
    T = out.shape[1]
    return out.reshape(8, 8, T, H // 8, W // 8).permute(2, 3, 0, 4, 1).reshape(T, H, W)



def test_pure_vace_modules_do_not_import_comfyui():
    """Source check of every module of nodes/pure/vace and of parse / resize (the fresh-interpreter guard
    is test_relaxation_math.test_pure_package_does_not_import_comfyui)."""
    names = [f"comfyui_inertia.nodes.pure.vace.{m.name}" for m in pkgutil.iter_modules(pure.vace.__path__)]
    assert {"grid", "regions", "tasks_time", "tasks_space", "aligned", "reports"} <= {n.rsplit(".", 1)[1] for n in names}
    for name in names + ["comfyui_inertia.nodes.pure.vace", "comfyui_inertia.nodes.pure.parse",
                         "comfyui_inertia.nodes.pure.resize"]:
        src = open(importlib.import_module(name).__file__).read()
        assert "import comfy" not in src and "from comfy" not in src, name


def test_read_frames_for_81_and_49():
    assert grid.pixel_frames_read(81) == [1, 5, 9, 13, 17, 21, 25, 28, 32, 36, 40, 44, 48, 52, 55, 59, 63, 67, 71, 75, 79]
    assert grid.pixel_frames_read(49) == [1, 5, 9, 13, 16, 20, 24, 28, 32, 35, 39, 43, 47]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
def test_read_frames_match_pytorch_nearest_exact_for_wan_lengths(dtype):
    for L in range(1, 402, 4):
        if dtype == torch.float16 and L > 2048:
            continue
        assert grid.pixel_frames_read(L, dtype=dtype) == torch_reads(L, dtype=dtype), L


def test_read_frames_match_pytorch_for_any_length_pair():
    """Also off the 4n+1 grid (masks cut or padded by WanVaceToVideo), where float32 rounding matters."""
    mismatch_exact = 0
    for L in range(1, 200):
        for T in range(1, L + 8):
            ref = torch_reads(L, T)
            assert grid.pixel_frames_read(L, T) == ref, (L, T)
            assert grid.pixel_frames_read(L, T, dtype=torch.float64) == torch_reads(L, T, torch.float64), (L, T)
            mismatch_exact += [min((2 * k + 1) * L // (2 * T), L - 1) for k in range(T)] != ref
    assert mismatch_exact > 0  # the exact rational rule differs from float32 PyTorch off the grid: emulation needed


def test_read_frame_structure_on_the_wan_grid():
    for L in range(5, 1002, 4):
        p = grid.pixel_frames_read(L)
        assert p[0] == 1
        assert all(pk - 4 * k in (-1, 0, 1) for k, pk in enumerate(p))
        assert 0 not in p and L - 1 not in p  # first and last frames are never read
        n = (L - 1) // 4
        # p(k) = 4k+1 exactly in the first third (3(2k+1) <= 2n+2)
        assert [k for k in range(len(p)) if p[k] == 4 * k + 1] == [k for k in range(len(p)) if 3 * (2 * k + 1) <= 2 * n + 2]


def test_groups_and_latent_of_frame():
    assert grid.latent_of_frame(13).tolist() == [0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]
    assert list(grid.vae_group(0, 81)) == [0] and list(grid.vae_group(10, 81)) == [37, 38, 39, 40]
    assert list(grid.vae_group(20, 81)) == [77, 78, 79, 80]
    assert grid.latent_length(81) == 21 and grid.latent_length(5) == 2 and grid.latent_length(1) == 1
    # latent_of: the one ⌈f/4⌉ rule, on ints and int tensors; the inverse of vae_group
    assert [grid.latent_of(f) for f in (0, 1, 4, 5, 40, 41, 80)] == [0, 1, 1, 2, 10, 11, 20]
    assert torch.equal(grid.latent_of(torch.arange(81)), grid.latent_of_frame(81))
    assert all(grid.latent_of(f) == k for k in range(21) for f in grid.vae_group(k, 81))


def test_widening_rule_makes_the_seen_latent_mask_equal_any_intent():
    g = torch.Generator().manual_seed(0)
    for L in LENGTHS:
        T = grid.latent_length(L)
        intent = (torch.rand(T, 16, 16, generator=g) > 0.5).float()
        masks = grid.expand_latent_masks(intent, L)
        assert torch.equal(seen_by_wan(masks, L), intent), L
        assert torch.equal(grid.latent_masks_seen(masks), intent)
        # every frame of a group carries the group's mask unless another latent reads it
        reads = set(grid.pixel_frames_read(L))
        for f in range(L):
            k = int(grid.latent_of_frame(L)[f])
            if f not in reads or grid.pixel_frames_read(L)[k] == f:
                assert torch.equal(masks[f], intent[k])


def test_latent_aligned_layout_is_group_uniform_and_exact_for_the_group_minimum():
    """mask_layout 'latent-aligned': every frame carries its own group's mask; the group minimum (what
    VACELatentAlignedEncode reads) is then exactly the intent, while the stock read of the same masks is
    not in general. The stock layout is expand_latent_masks, unchanged."""
    g = torch.Generator().manual_seed(1)
    stock_wrong = 0
    for L in LENGTHS:
        T = grid.latent_length(L)
        intent = (torch.rand(T, 16, 16, generator=g) > 0.5).float()
        masks = grid.layout_masks(intent, L, grid.ALIGNED_LAYOUT)
        own = grid.latent_of_frame(L)
        for f in range(L):
            assert torch.equal(masks[f], intent[int(own[f])]), (L, f)
        assert torch.equal(aligned.latent_masks_aligned(masks), intent) and torch.equal(aligned.group_min_masks(masks), intent)
        stock_wrong += not torch.equal(seen_by_wan(masks, L), intent)
        assert torch.equal(grid.layout_masks(intent, L), grid.expand_latent_masks(intent, L))
        assert torch.equal(grid.layout_masks(intent, L, grid.STOCK_LAYOUT), grid.expand_latent_masks(intent, L))
        assert grid.latent_sources(L) == [(p, p) for p in grid.pixel_frames_read(L)]
        assert grid.latent_sources(L, grid.ALIGNED_LAYOUT) == [(0, 0)] + [(4 * k - 3, 4 * k) for k in range(1, T)]
    assert stock_wrong == len(LENGTHS)
    # padding with "generate" and cutting, as the encode node does
    assert aligned.latent_masks_aligned(torch.zeros(3, 8, 8), 9)[:, 0, 0].tolist() == [0.0, 0.0, 1.0]
    assert aligned.latent_masks_aligned(torch.zeros(20, 8, 8), 9).shape == (3, 8, 8)
    with pytest.raises(InertiaInputError) as e:
        grid.layout_masks(intent, L, "nearest")
    assert e.value.name == "mask_layout"


def test_naive_keyframes_are_lost_without_widening():
    for L in LENGTHS:
        m = torch.ones(L, 8, 8)
        m[0] = 0
        m[L - 1] = 0
        assert bool((seen_by_wan(m, L) == 1).all())  # silently ignored by the stock node


def test_latent_masks_seen_pads_with_generate_and_cuts():
    m = torch.zeros(3, 8, 8)
    seen = grid.latent_masks_seen(m, 9)  # reads 1, 4, 7: frames 4 and 7 are padding (1)
    assert seen[:, 0, 0].tolist() == [0.0, 1.0, 1.0]
    assert grid.latent_masks_seen(torch.zeros(20, 8, 8), 9).shape == (3, 8, 8)


def test_group_reduce_and_conflicts():
    m = torch.zeros(9, 1, 2)
    m[2, 0, 0] = 1  # group 1
    m[8, 0, 1] = 1  # group 2
    assert grid.group_reduce(m, 9, "max")[:, 0].tolist() == [[0, 0], [1, 0], [0, 1]]
    assert grid.group_reduce(1 - m, 9, "min")[:, 0].tolist() == [[1, 1], [0, 1], [1, 0]]
    lat = torch.tensor([1.0, 0.0, 1.0]).view(3, 1, 1)  # generated, kept, generated; L=9 reads 1, 4, 7
    assert grid.read_conflicts(lat, 9) == [(1, 0)]  # frame 1 (group 1, kept) carries latent 0's "generate"
    assert grid.read_conflicts(torch.ones(3, 1, 1), 9) == []


def test_conflicts_off_the_4n_plus_1_grid():
    """A length off 4n + 1 (a mask of 3 or 7 frames in the preview): a frame read past the last VAE
    group belongs to no latent frame (the VAE drops it), so it is no conflict (an IndexError before)."""
    assert torch_reads(3) == [1] and torch_reads(7) == [1, 5]  # frame 1 / 5: groups 1 / 2 do not exist
    assert grid.read_conflicts(torch.tensor([1.0]).view(1, 1, 1), 3) == []
    lat = torch.tensor([1.0, 0.0]).view(2, 1, 1)  # L = 7: latent 0 generated, latent 1 (frames 1-4) kept
    assert grid.read_conflicts(lat, 7) == [(1, 0)]




def test_snapping_lengths():
    assert [grid.snap_length(n) for n in (1, 2, 5, 6, 79, 81, 82)] == [1, 5, 5, 9, 81, 81, 85]
    assert [grid.snap_length_down(n) for n in (1, 4, 5, 10, 84)] == [1, 1, 5, 9, 81]


def test_broadcast_fast_paths_equal_the_plain_definitions():
    """One row broadcast over T (stride 0) and [T,1,1] values broadcast over H, W: same code and conflicts."""
    g = torch.Generator().manual_seed(7)
    row = (torch.rand(16, 16, generator=g) > 0.5).float()
    assert grid.latent_code(row.expand(6, 16, 16)) == grid.latent_code(row.expand(6, 16, 16).contiguous()) == "mmmmmm"
    vals = torch.tensor([0.0, 1, 0, 0, 1, 1]).view(6, 1, 1).expand(6, 16, 16)
    assert grid.latent_code(vals) == "010011"
    # L = 21: latent 1 reads frame 5, the first frame of latent 2's group, which keeps
    assert grid.read_conflicts(vals, 21) == grid.read_conflicts(vals.contiguous(), 21) == [(5, 1)]
    masks = grid.layout_masks(vals.contiguous(), 21)
    assert grid.latent_code_seen(masks, 21) == grid.latent_code(grid.latent_masks_seen(masks, 21))
    for layout in grid.MASK_LAYOUTS:
        assert torch.equal(grid.layout_masks(vals.contiguous(), 21, layout), vals[grid.layout_index(21, layout)])


def test_js_latent_sources_agree(tmp_path):
    """js/vace_math.js latentSources (the timeline's read frames / group brackets) = grid.latent_sources."""
    if shutil.which("node") is None:
        pytest.skip("needs node to run the frontend's formula")
    shutil.copy(Path(__file__).resolve().parents[2] / "js" / "vace_math.js", tmp_path / "vace_math.mjs")
    script = tmp_path / "run.mjs"
    script.write_text("import { latentSources, ALIGNED_LAYOUT, STOCK_LAYOUT } from './vace_math.mjs';\n"
                      f"const ls = {json.dumps(LENGTHS)};\n"
                      "console.log(JSON.stringify([[STOCK_LAYOUT, ALIGNED_LAYOUT], ls.map(L => [latentSources(L), "
                      "latentSources(L, ALIGNED_LAYOUT)])]));\n")
    names, res = json.loads(subprocess.run(["node", str(script)], capture_output=True, text=True, check=True).stdout)
    assert tuple(names) == grid.MASK_LAYOUTS
    for L, (stock, group_sources) in zip(LENGTHS, res):
        assert [tuple(x) for x in stock] == grid.latent_sources(L), L
        assert [tuple(x) for x in group_sources] == grid.latent_sources(L, grid.ALIGNED_LAYOUT), L



def test_new_buffer_is_an_ordinary_tensor():
    t = grid.new_buffer((3, 1024, 1024), torch.float32, "cpu")
    assert t.shape == (3, 1024, 1024) and t.dtype == torch.float32 and t.is_contiguous()
    t.fill_(0.25)
    assert float(t.sum()) == 0.25 * t.numel()
