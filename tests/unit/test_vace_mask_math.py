"""Pure math of the VACE mask builders (nodes/pure/vace_mask.py). No ComfyUI import.

WanVaceToVideo's temporal step is reproduced here with the same PyTorch call it makes
(``F.interpolate(..., mode="nearest-exact")`` on a float32 ``[1, 64, L, h, w]`` tensor), so
p(k) is checked against PyTorch itself, not against a copy of the formula.
"""

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from comfyui_inertia.nodes.pure import vace_mask as vm
from comfyui_inertia.nodes.pure.errors import InertiaInputError

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


def test_pure_module_does_not_import_comfyui():
    import comfyui_inertia.nodes.pure.vace_mask as mod
    src = open(mod.__file__).read()
    assert "import comfy" not in src and "from comfy" not in src


def test_read_frames_for_81_and_49_match_the_issue():
    assert vm.pixel_frames_read(81) == [1, 5, 9, 13, 17, 21, 25, 28, 32, 36, 40, 44, 48, 52, 55, 59, 63, 67, 71, 75, 79]
    assert vm.pixel_frames_read(49) == [1, 5, 9, 13, 16, 20, 24, 28, 32, 35, 39, 43, 47]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
def test_read_frames_match_pytorch_nearest_exact_for_wan_lengths(dtype):
    for L in range(1, 402, 4):
        if dtype == torch.float16 and L > 2048:
            continue
        assert vm.pixel_frames_read(L, dtype=dtype) == torch_reads(L, dtype=dtype), L


def test_read_frames_match_pytorch_for_any_length_pair():
    """Also off the 4n+1 grid (masks cut or padded by WanVaceToVideo), where float32 rounding matters."""
    mismatch_exact = 0
    for L in range(1, 200):
        for T in range(1, L + 8):
            ref = torch_reads(L, T)
            assert vm.pixel_frames_read(L, T) == ref, (L, T)
            assert vm.pixel_frames_read(L, T, dtype=torch.float64) == torch_reads(L, T, torch.float64), (L, T)
            mismatch_exact += [min((2 * k + 1) * L // (2 * T), L - 1) for k in range(T)] != ref
    assert mismatch_exact > 0  # the exact rational rule differs from float32 PyTorch off the grid: emulation needed


def test_read_frame_structure_on_the_wan_grid():
    for L in range(5, 1002, 4):
        p = vm.pixel_frames_read(L)
        assert p[0] == 1
        assert all(pk - 4 * k in (-1, 0, 1) for k, pk in enumerate(p))
        assert 0 not in p and L - 1 not in p  # first and last frames are never read
        n = (L - 1) // 4
        # p(k) = 4k+1 exactly in the first third (3(2k+1) <= 2n+2)
        assert [k for k in range(len(p)) if p[k] == 4 * k + 1] == [k for k in range(len(p)) if 3 * (2 * k + 1) <= 2 * n + 2]


def test_groups_and_latent_of_frame():
    assert vm.latent_of_frame(13).tolist() == [0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]
    assert list(vm.vae_group(0, 81)) == [0] and list(vm.vae_group(10, 81)) == [37, 38, 39, 40]
    assert list(vm.vae_group(20, 81)) == [77, 78, 79, 80]
    assert vm.latent_length(81) == 21 and vm.latent_length(5) == 2 and vm.latent_length(1) == 1


def test_widening_rule_makes_the_seen_latent_mask_equal_any_intent():
    g = torch.Generator().manual_seed(0)
    for L in LENGTHS:
        T = vm.latent_length(L)
        intent = (torch.rand(T, 16, 16, generator=g) > 0.5).float()
        masks = vm.expand_latent_masks(intent, L)
        assert torch.equal(seen_by_wan(masks, L), intent), L
        assert torch.equal(vm.latent_masks_seen(masks), intent)
        # every frame of a group carries the group's mask unless another latent reads it
        reads = set(vm.pixel_frames_read(L))
        for f in range(L):
            k = int(vm.latent_of_frame(L)[f])
            if f not in reads or vm.pixel_frames_read(L)[k] == f:
                assert torch.equal(masks[f], intent[k])


def test_latent_aligned_layout_is_group_uniform_and_exact_for_the_group_minimum():
    """mask_layout 'latent-aligned': every frame carries its own group's mask; the group minimum (what
    VACELatentAlignedEncode reads) is then exactly the intent, while the stock read of the same masks is
    not in general. The stock layout is expand_latent_masks, unchanged."""
    g = torch.Generator().manual_seed(1)
    stock_wrong = 0
    for L in LENGTHS:
        T = vm.latent_length(L)
        intent = (torch.rand(T, 16, 16, generator=g) > 0.5).float()
        masks = vm.layout_masks(intent, L, vm.ALIGNED_LAYOUT)
        own = vm.latent_of_frame(L)
        for f in range(L):
            assert torch.equal(masks[f], intent[int(own[f])]), (L, f)
        assert torch.equal(vm.latent_masks_aligned(masks), intent) and torch.equal(vm.group_min_masks(masks), intent)
        stock_wrong += not torch.equal(seen_by_wan(masks, L), intent)
        assert torch.equal(vm.layout_masks(intent, L), vm.expand_latent_masks(intent, L))
        assert torch.equal(vm.layout_masks(intent, L, vm.STOCK_LAYOUT), vm.expand_latent_masks(intent, L))
        assert vm.latent_sources(L) == [(p, p) for p in vm.pixel_frames_read(L)]
        assert vm.latent_sources(L, vm.ALIGNED_LAYOUT) == [(0, 0)] + [(4 * k - 3, 4 * k) for k in range(1, T)]
    assert stock_wrong == len(LENGTHS)
    # padding with "generate" and cutting, as the encode node does
    assert vm.latent_masks_aligned(torch.zeros(3, 8, 8), 9)[:, 0, 0].tolist() == [0.0, 0.0, 1.0]
    assert vm.latent_masks_aligned(torch.zeros(20, 8, 8), 9).shape == (3, 8, 8)
    with pytest.raises(InertiaInputError) as e:
        vm.layout_masks(intent, L, "nearest")
    assert e.value.name == "mask_layout"


def test_naive_keyframes_are_lost_without_widening():
    for L in LENGTHS:
        m = torch.ones(L, 8, 8)
        m[0] = 0
        m[L - 1] = 0
        assert bool((seen_by_wan(m, L) == 1).all())  # the issue's "silently ignored"


def test_latent_masks_seen_pads_with_generate_and_cuts():
    m = torch.zeros(3, 8, 8)
    seen = vm.latent_masks_seen(m, 9)  # reads 1, 4, 7: frames 4 and 7 are padding (1)
    assert seen[:, 0, 0].tolist() == [0.0, 1.0, 1.0]
    assert vm.latent_masks_seen(torch.zeros(20, 8, 8), 9).shape == (3, 8, 8)


def test_group_reduce_and_conflicts():
    m = torch.zeros(9, 1, 2)
    m[2, 0, 0] = 1  # group 1
    m[8, 0, 1] = 1  # group 2
    assert vm.group_reduce(m, 9, "max")[:, 0].tolist() == [[0, 0], [1, 0], [0, 1]]
    assert vm.group_reduce(1 - m, 9, "min")[:, 0].tolist() == [[1, 1], [0, 1], [1, 0]]
    lat = torch.tensor([1.0, 0.0, 1.0]).view(3, 1, 1)  # generated, kept, generated; L=9 reads 1, 4, 7
    assert vm.read_conflicts(lat, 9) == [(1, 0)]  # frame 1 (group 1, kept) carries latent 0's "generate"
    assert vm.read_conflicts(torch.ones(3, 1, 1), 9) == []


def test_snapping():
    assert [vm.snap_length(n) for n in (1, 2, 5, 6, 79, 81, 82)] == [1, 5, 5, 9, 81, 81, 85]
    assert [vm.snap_length_down(n) for n in (1, 4, 5, 10, 84)] == [1, 1, 5, 9, 81]
    assert vm.snap_size(480, 832) == (480, 832) and vm.snap_size(1080, 1920) == (1072, 1920)
    assert vm.snap_size(350, 350) == (336, 336)
    with pytest.raises(InertiaInputError, match="'height'"):
        vm.snap_size(8, 64)
    x = torch.arange(20 * 20).view(1, 20, 20, 1).float()
    assert torch.equal(vm.center_crop(x, 16, 16), x[:, 2:18, 2:18])


def test_binarize_dilate_boxify():
    m = torch.tensor([[0.2, 0.5, 0.51, 1.0]])
    assert vm.binarize(m).tolist() == [[0.0, 0.0, 1.0, 1.0]]
    d = torch.zeros(1, 9, 9)
    d[0, 4, 4] = 1
    assert float(vm.dilate(d, 2).sum()) == 25 and float(vm.dilate(d, 0).sum()) == 1
    r = (torch.rand(2, 17, 23, generator=torch.Generator().manual_seed(3)) > 0.9).float()
    for px in (1, 3, 6):  # same as a (2px+1)² max filter with zero padding
        ref = F.max_pool2d(r.unsqueeze(1), 2 * px + 1, stride=1, padding=px).squeeze(1)
        assert torch.equal(vm.dilate(r, px), ref), px
    b = torch.zeros(2, 10, 10)
    b[0, 1, 2] = b[0, 5, 7] = 1
    b[1, 8, 8] = 1
    per = vm.boxify(b, "frame")
    assert float(per[0].sum()) == 5 * 6 and float(per[1].sum()) == 1
    clip = vm.boxify(b, "clip")
    assert float(clip[1].sum()) == 8 * 7 and torch.equal(clip[0], clip[1])
    assert vm.bbox_of(torch.zeros(4, 4)) is None


def test_thin_pixels_are_the_parts_under_8px():
    m = torch.zeros(1, 40, 40)
    m[0, 2:10, 2:30] = 1     # 8 px tall: survives
    m[0, 20:27, 2:30] = 1    # 7 px tall: thin
    m[0, 30:40, 30:34] = 1   # 4 px wide at the border: thin
    thin = vm.thin_pixels(m)
    assert int(thin[0, 2:10].sum()) == 0
    assert int(thin[0, 20:27].sum()) == 7 * 28 and int(thin[0, 30:40, 30:34].sum()) == 40
    frames, frac = vm.thin_report(m)
    assert frames == 1 and frac == pytest.approx((7 * 28 + 40) / (8 * 28 + 7 * 28 + 40))


def test_thin_pixels_match_the_definition():
    """Brute force: a masked pixel is kept iff some k×k all-masked square inside the frame covers it."""
    g = torch.Generator().manual_seed(1)
    for k in (2, 3, 5, 8):
        m = (torch.rand(3, 14, 13, generator=g) > 0.3).float()
        H, W = m.shape[1:]
        want = torch.zeros(3, H, W, dtype=torch.bool)
        for n in range(3):
            covered = torch.zeros(H, W, dtype=torch.bool)
            for y in range(H - k + 1):
                for x in range(W - k + 1):
                    if bool((m[n, y:y + k, x:x + k] > 0.5).all()):
                        covered[y:y + k, x:x + k] = True
            want[n] = (m[n] > 0.5) & ~covered
        assert torch.equal(vm.thin_pixels(m, k), want), k


def test_plan_keyframes_spread_and_indices():
    p = vm.plan_keyframes(3, 81, [])
    assert p.latents == [0, 10, 20] and p.frames == [0, 40, 80] and p.length == 81
    p = vm.plan_keyframes(4, 79, [0, 1, 30, -1])
    assert p.length == 81 and p.latents == [0, 1, 8, 20] and "79 → 81" in p.notes[0]
    assert vm.plan_keyframes(1, 9, []).latents == [0]


@pytest.mark.parametrize("n,length,idx,name,text", [
    (0, 81, [], "images", "empty batch"),
    (2, 81, [0, 81], "indices", "out of range"),
    (2, 81, [0, -82], "indices", "out of range"),
    (2, 81, [40, 40], "indices", "duplicate"),
    (2, 81, [41, 44], "indices", "same VAE group 41..44"),
    (3, 81, [0, 40], "indices", "3 images"),
    (22, 81, [], "images", "latent frames"),
])
def test_plan_keyframes_errors(n, length, idx, name, text):
    with pytest.raises(InertiaInputError, match=text) as e:
        vm.plan_keyframes(n, length, idx)
    assert e.value.name == name


def test_build_keyframes_content_masks_anchor_and_dtype():
    imgs = torch.rand(2, 32, 16, 3).to(torch.float16)
    plan = vm.plan_keyframes(2, 9, [0, 8])
    video, masks, lat = vm.build_keyframes(imgs, plan, anchor_edge="top", anchor_px=16)
    assert video.dtype == masks.dtype == torch.float16
    assert torch.equal(video[0], imgs[0]) and all(torch.equal(video[f], imgs[1]) for f in (5, 6, 7, 8))
    # latent 1 (frames 1-4) is as far from latent 0 as from latent 2: the tie goes to the earlier keyframe
    assert all(torch.equal(video[f, :16], imgs[0, :16]) for f in (1, 2, 3, 4))
    assert bool((video[2, 16:] == 0.5).all())
    assert vm.latent_code(lat) == "0m0" and torch.equal(seen_by_wan(masks.float(), 9), lat.float())
    assert masks[1].max() == 0  # p(0) = 1 marked kept


def test_plan_extension_modes():
    cases = {
        "firstframe": (81, 80, [0], []),
        "lastframe": (85, 81, [], [21]),
        "firstlastframe": (85, 80, [0], [21]),
        "firstclip": (89, 80, [0, 1, 2], []),
        "lastclip": (89, 81, [], [21, 22]),
        "firstlastclip": (97, 80, [0, 1, 2], [23, 24]),
    }
    for mode, (L, g, fl, ll) in cases.items():
        p = vm.plan_extension(mode, 80, 10, 10)
        assert (p.length, p.generate, p.first_latents, p.last_latents) == (L, g, fl, ll), mode
        assert (p.length - 1) % 4 == 0
    with pytest.raises(InertiaInputError, match="one VAE group"):
        vm.plan_extension("lastclip", 80, 0, 3)
    with pytest.raises(InertiaInputError) as e:
        vm.plan_extension("firstclip", 80, 0, 0)
    assert e.value.name == "first"
    with pytest.raises(InertiaInputError):
        vm.plan_extension("middle", 80, 1, 1)


def test_build_extension_uses_the_right_clip_frames():
    first = torch.rand(7, 16, 16, 3)
    last = torch.rand(6, 16, 16, 3)
    plan = vm.plan_extension("firstlastclip", 8, 7, 6)
    video, masks, lat = vm.build_extension(plan, first, last)
    assert plan.length == 17 and torch.equal(video[:5], first[2:]) and torch.equal(video[13:], last[:4])
    assert vm.latent_code(lat) == "00110" and torch.equal(seen_by_wan(masks, 17), lat)


def test_outpaint_expand_matches_the_official_rule():
    g = vm.outpaint_expand_geometry(480, 832, ("left", "right"), 0.25)
    assert (g.canvas_h, g.canvas_w, g.left, g.top) == (480, 1248, 208, 0)
    g = vm.outpaint_expand_geometry(480, 832, ("left", "right", "up", "down"), 0.3)
    # official: pads int(0.3*832)=249 each → 1330 → ceil16 1344, left = 249*(1344-832)//498 = 256
    assert (g.canvas_w, g.left, g.canvas_h, g.top) == (1344, 256, 768, 144)
    g = vm.outpaint_expand_geometry(336, 350, ("right",), 0.25)
    assert g.left == 0 and g.canvas_w == 448 and g.keep == (0, 0, 336, 350)
    for bad in (-0.01, 1.01, float("nan")):
        with pytest.raises(InertiaInputError) as e:
            vm.outpaint_expand_geometry(480, 832, ("left",), bad)
        assert e.value.name == "expand_ratio"


def test_outpaint_inner_and_scale_geometry():
    g = vm.outpaint_inner_geometry(480, 832, ("up", "left"), 0.25)
    assert g.keep == (120, 208, 480, 832) and g.canvas_w == 832
    with pytest.raises(InertiaInputError):
        vm.outpaint_inner_geometry(480, 832, ("left", "right"), 0.5)
    g = vm.centred_scale_geometry(480, 832, 0.8)
    assert (g.src_h, g.src_w, g.top, g.left) == (384, 672, 48, 80)
    assert g.top % 8 == 0 and g.left % 8 == 0


def test_parse_directions_and_boxes():
    assert vm.parse_directions("Right, left") == ("left", "right")
    assert vm.parse_directions("all") == vm.DIRECTIONS
    for bad in ("left,sideways", "", "north"):
        with pytest.raises(InertiaInputError) as e:
            vm.parse_directions(bad)
        assert e.value.name == "direction"
    assert vm.parse_boxes("1,2,3,4") == [(None, (1.0, 2.0, 3.0, 4.0))]
    boxes = vm.parse_boxes("0: 0,0,10,10; 10: 10,0,20,10")
    per = vm.boxes_per_frame(boxes, 12, 12)
    assert per[5].tolist() == [5.0, 0.0, 15.0, 10.0] and per[11].tolist() == [10.0, 0.0, 20.0, 10.0]
    for bad in ("1,2,3", "3,0,1,4", "0: 1,1,2,2; 3,3,4,4", "1,1,2,2; 3,3,4,4"):
        with pytest.raises(InertiaInputError):
            vm.parse_boxes(bad)
    r = vm.rasterize_boxes(torch.tensor([[2.0, 1.0, 5.5, 3.0]]), 8, 8)
    assert r[0].nonzero().min(0).values.tolist() == [1, 2] and r[0].nonzero().max(0).values.tolist() == [2, 5]


def test_reference_crop_boxes():
    boxes = vm.reference_crop_boxes(480, 832, 4, 0.3, "edges", ("left", "right"))
    assert len(boxes) == 4 and {b[1] for b in boxes} == {0, 832 - 144}
    for y0, x0, y1, x1 in vm.reference_crop_boxes(480, 832, 7, 0.25, "grid"):
        assert 0 <= y0 < y1 <= 480 and 0 <= x0 < x1 <= 832 and y1 - y0 == 120
    assert vm.spread_frames(3, 81) == [0, 40, 80]
    with pytest.raises(InertiaInputError):
        vm.reference_crop_boxes(480, 832, 0, 0.3, "edges")
    canvas = vm.fit_on_canvas(torch.zeros(10, 20, 3), 40, 40)
    assert float(canvas[:10].min()) == 1.0 and float(canvas[20, 20].max()) == 0.0


def test_js_latent_sources_agree(tmp_path):
    """js/vace_math.js latentSources (the timeline's read frames / group brackets) = vace_mask.latent_sources."""
    if shutil.which("node") is None:
        pytest.skip("needs node to run the frontend's formula")
    shutil.copy(Path(__file__).resolve().parents[2] / "js" / "vace_math.js", tmp_path / "vace_math.mjs")
    script = tmp_path / "run.mjs"
    script.write_text("import { latentSources, ALIGNED_LAYOUT, STOCK_LAYOUT } from './vace_math.mjs';\n"
                      f"const ls = {json.dumps(LENGTHS)};\n"
                      "console.log(JSON.stringify([[STOCK_LAYOUT, ALIGNED_LAYOUT], ls.map(L => [latentSources(L), "
                      "latentSources(L, ALIGNED_LAYOUT)])]));\n")
    names, res = json.loads(subprocess.run(["node", str(script)], capture_output=True, text=True, check=True).stdout)
    assert tuple(names) == vm.MASK_LAYOUTS
    for L, (stock, aligned) in zip(LENGTHS, res):
        assert [tuple(x) for x in stock] == vm.latent_sources(L), L
        assert [tuple(x) for x in aligned] == vm.latent_sources(L, vm.ALIGNED_LAYOUT), L


def test_fast_resize_matches_the_antialiased_kernel():
    """resize_frames_into (banded products with the kernel's own weights) = F.interpolate(antialias=True)
    within float32 rounding, on non-flat frames, written only into the given box of a canvas."""
    g = torch.Generator().manual_seed(5)
    for (n, H, W, h, w, chunk) in ((3, 96, 160, 80, 128, 2), (2, 48, 64, 32, 48, 1), (5, 64, 48, 48, 32, None)):
        v = torch.rand(n, H, W, 3, generator=g)
        ref = F.interpolate(v.movedim(-1, 1), size=(h, w), mode="bilinear", align_corners=False,
                            antialias=True).movedim(1, -1)
        canvas = torch.full((n, h + 5, w + 7, 3), -1.0)
        vm.resize_frames_into(v, canvas[:, 2:2 + h, 3:3 + w], chunk, min_pixels=0)
        assert float((canvas[:, 2:2 + h, 3:3 + w] - ref).abs().max()) < 1e-6, (H, W, h, w)
        box = torch.zeros(h + 5, w + 7, dtype=torch.bool)
        box[2:2 + h, 3:3 + w] = True
        assert bool((canvas[:, ~box] == -1).all()), "wrote outside the box"
    v = torch.rand(2, 48, 48, 3, generator=g)  # 37 wide: no block size of 4..32 divides it → the plain kernel
    assert torch.equal(vm.resize_frames_into(v, torch.empty(2, 30, 37, 3), min_pixels=0), vm.resize_frames(v, 30, 37))
    v = torch.rand(2, 64, 64, 3, generator=g)  # below min_pixels: the plain kernel, bit for bit
    assert torch.equal(vm.resize_frames_into(v, torch.empty(2, 32, 48, 3)), vm.resize_frames(v, 32, 48))


def test_bool_fast_paths_equal_the_plain_definitions():
    g = torch.Generator().manual_seed(7)
    m = torch.zeros(5, 40, 56, dtype=torch.bool)
    m[1:3, 10:30, 20:40] = torch.rand(2, 20, 20, generator=g) > 0.3
    m[4, 2:5, 50:56] = True  # thin, at the edge
    for px in (0, 1, 4, 9):
        ref = F.max_pool2d(m.float().unsqueeze(1), 2 * px + 1, stride=1, padding=px).squeeze(1) > 0.5
        assert torch.equal(vm.dilate_bool(m, px), ref), px
    assert not vm.dilate_bool(torch.zeros(2, 8, 8, dtype=torch.bool), 3).any()
    thin = vm.thin_pixels(m.float())  # whole-frame definition
    frames, frac = vm.thin_report(m.float())  # computed on the bounding box
    assert frames == int(thin.flatten(1).any(dim=1).sum()) and frac == float(thin.sum()) / float(m.sum())
    # one row broadcast over T (stride 0) and [T,1,1] values broadcast over H, W: same code and conflicts
    row = (torch.rand(16, 16, generator=g) > 0.5).float()
    assert vm.latent_code(row.expand(6, 16, 16)) == vm.latent_code(row.expand(6, 16, 16).contiguous()) == "mmmmmm"
    vals = torch.tensor([0.0, 1, 0, 0, 1, 1]).view(6, 1, 1).expand(6, 16, 16)
    assert vm.latent_code(vals) == "010011"
    # L = 21: latent 1 reads frame 5, the first frame of latent 2's group, which keeps
    assert vm.read_conflicts(vals, 21) == vm.read_conflicts(vals.contiguous(), 21) == [(5, 1)]
    masks = vm.layout_masks(vals.contiguous(), 21)
    assert vm.latent_code_seen(masks, 21) == vm.latent_code(vm.latent_masks_seen(masks, 21))
    for layout in vm.MASK_LAYOUTS:
        assert torch.equal(vm.layout_masks(vals.contiguous(), 21, layout), vals[vm.layout_index(21, layout)])


def test_new_buffer_is_an_ordinary_tensor():
    t = vm.new_buffer((3, 1024, 1024), torch.float32, "cpu")
    assert t.shape == (3, 1024, 1024) and t.dtype == torch.float32 and t.is_contiguous()
    t.fill_(0.25)
    assert float(t.sum()) == 0.25 * t.numel()
