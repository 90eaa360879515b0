"""Repaint region, outpaint geometry and reference crops (nodes/pure/vace/tasks_space.py). No ComfyUI import."""

import pytest
import torch

from comfyui_inertia.nodes.pure import parse
from comfyui_inertia.nodes.pure.errors import InertiaInputError
from comfyui_inertia.nodes.pure.vace import tasks_space


def group(k):
    return [0] if k == 0 else list(range(4 * k - 3, 4 * k + 1))


def region(mask=None, bbox="", L=9, H=16, W=16, L0=None, dy=0, dx=0, dilate_px=0, shape="as drawn",
           dtype=torch.float32):
    return tasks_space.repaint_region(mask, parse.parse_boxes(bbox), L, H, W, L if L0 is None else L0, dy, dx,
                                      dilate_px, shape, dtype)


def test_repaint_region_is_the_union_of_mask_and_boxes_binarised():
    m = torch.zeros(1, 16, 16)
    m[0, 4:12, 0:8] = 0.9   # kept: > 0.5
    m[0, 14, 14] = 0.5      # dropped: VACE's m > 0.5
    r, static, notes = region(m, "8,0,16,8")
    assert static and notes == [] and tuple(r.shape) == (1, 16, 16) and r.dtype == torch.float32
    want = torch.zeros(16, 16)
    want[4:12, 0:8] = 1
    want[0:8, 8:16] = 1
    assert torch.equal(r[0], want) and float(r.sum()) == 128
    r16, _, _ = region(m, "8,0,16,8", dtype=torch.float16)
    assert r16.dtype == torch.float16 and torch.equal(r16[0].float(), want)


def test_repaint_region_holds_the_last_mask_and_merges_each_vae_group_by_max():
    g = torch.Generator().manual_seed(2)
    m = (torch.rand(3, 16, 16, generator=g) > 0.8).float()
    r, static, notes = region(m)
    assert not static and notes == ["mask has 3 frames for 9: the last mask is held"]
    frames = torch.cat([m, m[2:].expand(6, 16, 16)]) > 0.5  # what the builder means: frames 3..8 hold mask 2
    assert tuple(r.shape) == (3, 16, 16)
    for k in range(3):
        assert torch.equal(r[k] > 0.5, frames[group(k)].amax(dim=0)), k
    assert torch.equal(r[1], torch.maximum(m[1], m[2])) and torch.equal(r[2], m[2])


def test_repaint_region_per_frame_boxes_and_collapse_to_static():
    # a keyframed box moving 8 px over 9 frames, merged per VAE group
    r, static, _ = region(None, "0: 0,0,8,8; 8: 8,0,16,8")
    assert not static and tuple(r.shape) == (3, 16, 16)
    assert [int(r[k, 0].nonzero().min()) for k in range(3)] == [0, 1, 5]
    assert [int(r[k, 0].nonzero().max()) for k in range(3)] == [7, 11, 15]
    # the same mask on every frame is one static mask
    m = torch.zeros(9, 16, 16)
    m[:, 2:10, 2:10] = 1
    r, static, _ = region(m)
    assert static and tuple(r.shape) == (1, 16, 16) and float(r.sum()) == 64


def test_repaint_region_dilation_boxes_and_crop_offset():
    m = torch.zeros(1, 16, 16)
    m[0, 8, 8] = 1
    assert float(region(m, dilate_px=2)[0].sum()) == 25
    m2 = torch.zeros(9, 16, 16)
    m2[0, 1, 2] = 1
    m2[8, 10, 12] = 1
    per, static, _ = region(m2, shape="box per frame")
    assert not static and [float(x) for x in per.flatten(1).sum(1)] == [1.0, 0.0, 1.0]
    clip, static, _ = region(m2, shape="box over clip")
    assert static and tuple(clip.shape) == (1, 16, 16) and float(clip.sum()) == 10 * 11
    # a box in source pixels lands shifted by the centre crop (dy, dx) = (1, 2) of an 18x20 video
    r, _, _ = region(None, "2,1,6,5", H=16, W=16, dy=1, dx=2)
    assert r[0].nonzero().min(0).values.tolist() == [0, 0] and r[0].nonzero().max(0).values.tolist() == [3, 3]
    src = torch.zeros(1, 18, 20)
    src[0, 1:5, 2:6] = 1  # the same box as a mask of the uncropped video
    assert torch.equal(region(src)[0], r)


def test_repaint_region_errors_name_the_input():
    for kw, name in ((dict(mask=torch.ones(1, 16, 16), shape="blob"), "shape"), (dict(), "mask"),
                     (dict(bbox="0: 0,0,4,4; 12: 4,4,8,8"), "bbox")):
        with pytest.raises(InertiaInputError) as e:
            region(**kw)
        assert e.value.name == name and "Fix:" in str(e.value)


def test_expand_source_size_crops_only_the_sides_not_extended():
    assert tasks_space.expand_source_size(336, 350, ("left", "right"), 0.25) == (336, 350)
    assert tasks_space.expand_source_size(350, 350, ("left", "right"), 0.25) == (336, 350)
    assert tasks_space.expand_source_size(350, 350, ("up",), 0.25) == (350, 336)
    assert tasks_space.expand_source_size(350, 350, parse.DIRECTIONS, 0.25) == (350, 350)
    assert tasks_space.expand_source_size(350, 350, parse.DIRECTIONS, 0.0) == (336, 336)
    with pytest.raises(InertiaInputError) as e:
        tasks_space.expand_source_size(8, 350, ("up",), 0.25)
    assert e.value.name == "height"


def test_outpaint_expand_matches_the_official_rule():
    g = tasks_space.outpaint_expand_geometry(480, 832, ("left", "right"), 0.25)
    assert (g.canvas_h, g.canvas_w, g.left, g.top) == (480, 1248, 208, 0)
    g = tasks_space.outpaint_expand_geometry(480, 832, ("left", "right", "up", "down"), 0.3)
    # official: pads int(0.3*832)=249 each → 1330 → ceil16 1344, left = 249*(1344-832)//498 = 256
    assert (g.canvas_w, g.left, g.canvas_h, g.top) == (1344, 256, 768, 144)
    g = tasks_space.outpaint_expand_geometry(336, 350, ("right",), 0.25)
    assert g.left == 0 and g.canvas_w == 448 and g.keep == (0, 0, 336, 350)
    for bad in (-0.01, 1.01, float("nan")):
        with pytest.raises(InertiaInputError) as e:
            tasks_space.outpaint_expand_geometry(480, 832, ("left",), bad)
        assert e.value.name == "expand_ratio"


def test_outpaint_inner_and_scale_geometry():
    g = tasks_space.outpaint_inner_geometry(480, 832, ("up", "left"), 0.25)
    assert g.keep == (120, 208, 480, 832) and g.canvas_w == 832
    with pytest.raises(InertiaInputError):
        tasks_space.outpaint_inner_geometry(480, 832, ("left", "right"), 0.5)
    g = tasks_space.centred_scale_geometry(480, 832, 0.8)
    assert (g.src_h, g.src_w, g.top, g.left) == (384, 672, 48, 80)
    assert g.top % 8 == 0 and g.left % 8 == 0



def test_reference_crop_boxes():
    boxes = tasks_space.reference_crop_boxes(480, 832, 4, 0.3, "edges", ("left", "right"))
    assert len(boxes) == 4 and {b[1] for b in boxes} == {0, 832 - 144}
    for y0, x0, y1, x1 in tasks_space.reference_crop_boxes(480, 832, 7, 0.25, "grid"):
        assert 0 <= y0 < y1 <= 480 and 0 <= x0 < x1 <= 832 and y1 - y0 == 120
    assert tasks_space.spread_frames(3, 81) == [0, 40, 80]
    with pytest.raises(InertiaInputError):
        tasks_space.reference_crop_boxes(480, 832, 0, 0.3, "edges")
    canvas = tasks_space.fit_on_canvas(torch.zeros(10, 20, 3), 40, 40)
    assert float(canvas[:10].min()) == 1.0 and float(canvas[20, 20].max()) == 0.0

