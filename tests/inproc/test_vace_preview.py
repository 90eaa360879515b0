"""``VACELatentMaskPreview`` (nodes/vace_preview.py) in-process: what it says and draws for a naive
keyframe mask and for a builder's masks. The latent-aligned layout's preview is checked in
``test_vace_aligned_encode.py``; the report rows themselves in ``tests/unit/test_vace_reports.py``."""

from __future__ import annotations

import re
import time

import pytest
import torch

from comfyui_inertia.nodes.pure.errors import InertiaInputError
from comfyui_inertia.nodes.vace_masks import VACEKeyframeBuilder
from comfyui_inertia.nodes.vace_preview import VACELatentMaskPreview

from .helpers import rand_images


def test_preview_flags_ignored_keyframes_and_passes_builder_masks(comfy):
    L = 81
    naive = torch.ones(L, 16, 16)
    naive[0] = 0
    naive[40] = 0
    naive[80] = 0
    img, summary = VACELatentMaskPreview.execute(control_masks=naive).args
    assert img.ndim == 4 and img.shape[0] == 1 and img.shape[-1] == 3
    assert "latent 0: frames 0-0 have kept pixels" in summary and "latent 20: frames 77-80" in summary
    # frame 40 is read by latent 10 (p(10) = 40): the model keeps all of frames 37-40, which only partly meant that
    assert "latent 10: the model keeps pixels (from frame 40) that frames 37-40 mark as generated" in summary
    assert "latent 10: frames" not in summary
    assert "p(k) = 1, 5, 9, 13, 17, 21, 25, 28, 32" in summary
    out = VACEKeyframeBuilder.execute(images=rand_images(3), length=L, indices="0,40,80")
    img2, summary2 = VACELatentMaskPreview.execute(control_masks=out.args[1], control_video=out.args[0]).args
    assert "have kept pixels" not in summary2 and "the model keeps" not in summary2
    assert "011111111101111111110" in summary2


def test_preview_length_must_match_the_mask_and_fails_fast(comfy):
    """length = 100000 (the old schema maximum) with a 5-frame mask ran for minutes and ended in an IndexError."""
    m = torch.ones(5, 16, 16)
    m[0] = 0
    t0 = time.perf_counter()
    with pytest.raises(InertiaInputError) as e:
        VACELatentMaskPreview.execute(control_masks=m, length=100000)
    assert time.perf_counter() - t0 < 1.0
    assert e.value.name == "length" and str(e.value) == (
        "ComfyUI-Inertia: input 'length' = 100000 differs from the frame count of 'control_masks' (5 frames). "
        "Fix: set length to 0 or to 5, or connect the control_masks of a 100000-frame clip (a builder's "
        "control_masks and length outputs match)")
    for bad, what in ((9, "differs from the frame count of 'control_masks' (5 frames)"), (-1, "is negative"),
                      (2**62, "differs from the frame count"), (2.5, "is not a whole number")):
        with pytest.raises(InertiaInputError, match=re.escape(what)) as e:
            VACELatentMaskPreview.execute(control_masks=m, length=bad)
        assert e.value.name == "length"
    same = VACELatentMaskPreview.execute(control_masks=m, length=5).args[1]
    assert same == VACELatentMaskPreview.execute(control_masks=m).args[1] and same.startswith("L=5 -> T=2")


def test_preview_of_masks_off_the_grid_and_too_large(comfy):
    # 3 and 7 frames (not 4n+1): frames past the last VAE group are dropped by the VAE (an IndexError before)
    for n, head in ((3, "L=3 -> T=1; latent mask (0 kept, 1 generated, m mixed): 0"), (7, "L=7 -> T=2")):
        m = torch.zeros(n, 16, 16)
        for layout in ("for WanVaceToVideo", "latent-aligned"):
            out = VACELatentMaskPreview.execute(control_masks=m, mask_layout=layout)
            assert out.ui["inertia_timeline"][0]["length"] == n
        assert VACELatentMaskPreview.execute(control_masks=m).args[1].startswith(head)
    with pytest.raises(InertiaInputError) as e:
        VACELatentMaskPreview.execute(control_masks=torch.ones(4098, 8, 8))
    assert e.value.name == "control_masks" and "'4098 frames' has more frames than the preview draws" in str(e.value)
    assert "(4097 pixel frames, 1025 latent frames)" in str(e.value)
    huge = torch.ones(1, 1, 1).expand(4097, 16384, 16384)  # a view: nothing allocated unless copied
    t0 = time.perf_counter()
    with pytest.raises(InertiaInputError) as e:
        VACELatentMaskPreview.execute(control_masks=huge)
    assert time.perf_counter() - t0 < 1.0 and e.value.name == "control_masks"
    assert "gives 1.1e+12 pixels over all frames, over the limit of 1,073,741,824" in str(e.value)
    # a very tall mask: tiles are at most 4x as tall as wide, so the preview stays small
    img = VACELatentMaskPreview.execute(control_masks=torch.ones(5, 4096, 16)).args[0]
    tw = (1024 - 2 * 16 - 6) // 2
    assert img.shape[1] == 150 + (4 * tw + 40) + 20 and img.shape[2] == 1024
