"""Space operations on masks (nodes/pure/vace/regions.py). No ComfyUI import."""

import pytest
import torch
import torch.nn.functional as F

from comfyui_inertia.nodes.pure import parse
from comfyui_inertia.nodes.pure.errors import InertiaInputError
from comfyui_inertia.nodes.pure.vace import regions


def test_snapping_sizes_and_centre_crop():
    assert regions.snap_size(480, 832) == (480, 832) and regions.snap_size(1080, 1920) == (1072, 1920)
    assert regions.snap_size(350, 350) == (336, 336)
    with pytest.raises(InertiaInputError, match="'height'"):
        regions.snap_size(8, 64)
    x = torch.arange(20 * 20).view(1, 20, 20, 1).float()
    assert torch.equal(regions.center_crop(x, 16, 16), x[:, 2:18, 2:18])


def test_binarize_dilate_boxify():
    m = torch.tensor([[0.2, 0.5, 0.51, 1.0]])
    assert regions.binarize(m).tolist() == [[0.0, 0.0, 1.0, 1.0]]
    d = torch.zeros(1, 9, 9)
    d[0, 4, 4] = 1
    assert float(regions.dilate(d, 2).sum()) == 25 and float(regions.dilate(d, 0).sum()) == 1
    r = (torch.rand(2, 17, 23, generator=torch.Generator().manual_seed(3)) > 0.9).float()
    for px in (1, 3, 6):  # same as a (2px+1)² max filter with zero padding
        ref = F.max_pool2d(r.unsqueeze(1), 2 * px + 1, stride=1, padding=px).squeeze(1)
        assert torch.equal(regions.dilate(r, px), ref), px
    b = torch.zeros(2, 10, 10)
    b[0, 1, 2] = b[0, 5, 7] = 1
    b[1, 8, 8] = 1
    per = regions.boxify(b, "frame")
    assert float(per[0].sum()) == 5 * 6 and float(per[1].sum()) == 1
    clip = regions.boxify(b, "clip")
    assert float(clip[1].sum()) == 8 * 7 and torch.equal(clip[0], clip[1])
    assert regions.bbox_of(torch.zeros(4, 4)) is None


def test_thin_pixels_are_the_parts_under_8px():
    m = torch.zeros(1, 40, 40)
    m[0, 2:10, 2:30] = 1     # 8 px tall: survives
    m[0, 20:27, 2:30] = 1    # 7 px tall: thin
    m[0, 30:40, 30:34] = 1   # 4 px wide at the border: thin
    thin = regions.thin_pixels(m)
    assert int(thin[0, 2:10].sum()) == 0
    assert int(thin[0, 20:27].sum()) == 7 * 28 and int(thin[0, 30:40, 30:34].sum()) == 40
    frames, frac = regions.thin_report(m)
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
        assert torch.equal(regions.thin_pixels(m, k), want), k



def test_bool_fast_paths_equal_the_plain_definitions():
    g = torch.Generator().manual_seed(7)
    m = torch.zeros(5, 40, 56, dtype=torch.bool)
    m[1:3, 10:30, 20:40] = torch.rand(2, 20, 20, generator=g) > 0.3
    m[4, 2:5, 50:56] = True  # thin, at the edge
    for px in (0, 1, 4, 9):
        ref = F.max_pool2d(m.float().unsqueeze(1), 2 * px + 1, stride=1, padding=px).squeeze(1) > 0.5
        assert torch.equal(regions.dilate_bool(m, px), ref), px
    assert not regions.dilate_bool(torch.zeros(2, 8, 8, dtype=torch.bool), 3).any()
    thin = regions.thin_pixels(m.float())  # whole-frame definition
    frames, frac = regions.thin_report(m.float())  # computed on the bounding box
    assert frames == int(thin.flatten(1).any(dim=1).sum()) and frac == float(thin.sum()) / float(m.sum())


def test_keyframed_boxes_and_rasterisation():
    boxes = parse.parse_boxes("0: 0,0,10,10; 10: 10,0,20,10")
    per = regions.boxes_per_frame(boxes, 12, 12)
    assert per[5].tolist() == [5.0, 0.0, 15.0, 10.0] and per[11].tolist() == [10.0, 0.0, 20.0, 10.0]
    r = regions.rasterize_boxes(torch.tensor([[2.0, 1.0, 5.5, 3.0]]), 8, 8)
    assert r[0].nonzero().min(0).values.tolist() == [1, 2] and r[0].nonzero().max(0).values.tolist() == [2, 5]
    # negative frame numbers count from the end; out-of-range and duplicate frames name 'bbox'
    per = regions.boxes_per_frame(parse.parse_boxes("0: 0,0,4,4; -1: 8,0,12,4"), 5, 5)
    assert per[2].tolist() == [4.0, 0.0, 8.0, 4.0]
    for text in ("0: 0,0,4,4; 5: 1,1,2,2", "0: 0,0,4,4; -5: 1,1,2,2"):
        with pytest.raises(InertiaInputError) as e:
            regions.boxes_per_frame(parse.parse_boxes(text), 5, 5)
        assert e.value.name == "bbox"
