"""The antialiased resize engine (nodes/pure/resize.py). No ComfyUI import."""

import torch
import torch.nn.functional as F

from comfyui_inertia.nodes.pure import resize


def test_fast_resize_matches_the_antialiased_kernel():
    """resize_frames_into (banded products with the kernel's own weights) = F.interpolate(antialias=True)
    within float32 rounding, on non-flat frames, written only into the given box of a canvas."""
    g = torch.Generator().manual_seed(5)
    for (n, H, W, h, w, chunk) in ((3, 96, 160, 80, 128, 2), (2, 48, 64, 32, 48, 1), (5, 64, 48, 48, 32, None)):
        v = torch.rand(n, H, W, 3, generator=g)
        ref = F.interpolate(v.movedim(-1, 1), size=(h, w), mode="bilinear", align_corners=False,
                            antialias=True).movedim(1, -1)
        canvas = torch.full((n, h + 5, w + 7, 3), -1.0)
        resize.resize_frames_into(v, canvas[:, 2:2 + h, 3:3 + w], chunk, min_pixels=0)
        assert float((canvas[:, 2:2 + h, 3:3 + w] - ref).abs().max()) < 1e-6, (H, W, h, w)
        box = torch.zeros(h + 5, w + 7, dtype=torch.bool)
        box[2:2 + h, 3:3 + w] = True
        assert bool((canvas[:, ~box] == -1).all()), "wrote outside the box"
    v = torch.rand(2, 48, 48, 3, generator=g)  # 37 wide: no block size of 4..32 divides it → the plain kernel
    assert torch.equal(resize.resize_frames_into(v, torch.empty(2, 30, 37, 3), min_pixels=0), resize.resize_frames(v, 30, 37))
    v = torch.rand(2, 64, 64, 3, generator=g)  # below min_pixels: the plain kernel, bit for bit
    assert torch.equal(resize.resize_frames_into(v, torch.empty(2, 32, 48, 3)), resize.resize_frames(v, 32, 48))

