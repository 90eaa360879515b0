"""CONDITIONING list logic of ``nodes/pure/conditioning.py`` (prompt blending, the zero negative). No ComfyUI import."""

from __future__ import annotations

import pytest
import torch

from comfyui_inertia.nodes.pure.conditioning import blend_conditioning, zero_conditioning
from comfyui_inertia.nodes.pure.errors import InertiaInputError


def test_blend_refuses_multi_entry_prompts_and_unions_masks():
    a = [[torch.ones(1, 4, 8), {"attention_mask": torch.tensor([[1, 1, 0, 0]])}]]
    b = [[torch.ones(1, 6, 8), {"attention_mask": torch.tensor([[1, 1, 1, 0, 0, 0]])}]]
    out = blend_conditioning(a, b, 0.25)
    assert out[0][0].shape == (1, 6, 8) and out[0][1]["attention_mask"].tolist() == [[1, 1, 1, 0, 0, 0]]
    with pytest.raises(InertiaInputError, match="'positive'.*2 entries"):
        blend_conditioning(a + a, b, 0.5)


def test_blend_lerps_pooled_output_and_keeps_the_nearer_prompts_keys():
    a = [[torch.zeros(1, 2, 4), {"pooled_output": torch.zeros(1, 3, dtype=torch.float16), "tag": "a"}]]
    b = [[torch.full((1, 2, 4), 2.0), {"pooled_output": torch.full((1, 3), 4.0, dtype=torch.float16), "tag": "b"}]]
    near_a, near_b = blend_conditioning(a, b, 0.25), blend_conditioning(a, b, 0.5)
    assert near_a[0][1]["tag"] == "a" and near_b[0][1]["tag"] == "b"
    assert near_a[0][1]["pooled_output"].dtype == torch.float16
    assert near_a[0][1]["pooled_output"].tolist() == [[1.0, 1.0, 1.0]]
    assert near_a[0][0].flatten().tolist() == [0.5] * 8
    assert "attention_mask" not in near_a[0][1]
    assert a[0][1]["tag"] == "a" and float(a[0][1]["pooled_output"].sum()) == 0.0  # inputs untouched


def test_zero_conditioning_zeros_tokens_and_pooled_and_drops_other_keys():
    cond = [[torch.ones(1, 3, 4), {"pooled_output": torch.ones(1, 2), "attention_mask": torch.ones(1, 3)}],
            [torch.full((1, 5, 4), 2.0), {"guidance": 3.0}]]
    out = zero_conditioning(cond)
    assert [tuple(t.shape) for t, _ in out] == [(1, 3, 4), (1, 5, 4)]
    assert all(float(t.abs().sum()) == 0.0 for t, _ in out)
    assert list(out[0][1]) == ["pooled_output"] and out[0][1]["pooled_output"].tolist() == [[0.0, 0.0]]
    assert out[1][1] == {}
    assert float(cond[0][0].sum()) == 12.0  # input untouched


def test_wan_text_is_refused_with_the_hunyuan_encoders_named():
    from comfyui_inertia.nodes.pure.conditioning import check_hunyuan_text

    hunyuan = [[torch.zeros(1, 7, 4096), {"pooled_output": torch.zeros(1, 768)}]]
    check_hunyuan_text("positive", hunyuan)
    with pytest.raises(InertiaInputError, match=r"'positive' = 'tokens \(1, 512, 4096\), no pooled_output' comes from "
                                                r"another text encoder \(e.g. Wan's umt5-xxl\).*DualCLIPLoader type "
                                                r"hunyuan_video"):
        check_hunyuan_text("positive", [[torch.zeros(1, 512, 4096), {}]])
    with pytest.raises(InertiaInputError, match=r"'negative' = 'tokens of shape \(1, 77, 768\)' is not HunyuanVideo text"):
        check_hunyuan_text("negative", [[torch.zeros(1, 77, 768), {"pooled_output": torch.zeros(1, 768)}]])
    with pytest.raises(InertiaInputError, match=r"'positive' = 'pooled_output \(1, 1280\)'"):
        check_hunyuan_text("positive", [[torch.zeros(1, 7, 4096), {"pooled_output": torch.zeros(1, 1280)}]])
    with pytest.raises(InertiaInputError, match="'positive' = '\\[\\]' is not a CONDITIONING"):
        check_hunyuan_text("positive", [])


def test_clip_h_image_tokens_are_refused_with_siglip_named():
    from comfyui_inertia.nodes.pure.conditioning import check_siglip_tokens

    siglip = torch.zeros(1, 729, 1152)
    assert check_siglip_tokens("clip_vision_output", siglip) is siglip
    with pytest.raises(InertiaInputError, match=r"'clip_vision_output' = 'last_hidden_state \(1, 257, 1280\)' has image "
                                                r"tokens 1280 wide from CLIP-H.*Fix: encode the image with SigLIP: Load "
                                                r"CLIP Vision sigclip_vision_patch14_384"):
        check_siglip_tokens("clip_vision_output", torch.zeros(1, 257, 1280))
    with pytest.raises(InertiaInputError, match="contains NaN or inf"):
        check_siglip_tokens("clip_vision_output", torch.full((1, 4, 1152), float("nan")))
    with pytest.raises(InertiaInputError, match=r"'clip_vision_output' = 'shape \(1, 1024\)' is not a sequence"):
        check_siglip_tokens("clip_vision_output", torch.zeros(1, 1024))
