"""``VACELatentMaskPreview`` (nodes/vace_preview.py) in-process: what it says and draws for a naive
keyframe mask and for a builder's masks. The latent-aligned layout's preview is checked in
``test_vace_aligned_encode.py``; the report rows themselves in ``tests/unit/test_vace_reports.py``."""

from __future__ import annotations

import torch

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
