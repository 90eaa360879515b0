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
