"""FramePack checkpoint key conversion of ``nodes/pure/framepack_keys.py`` on the stand-in weights in the
released diffusers layout (``nodes/standins/framepack.py``, written from the original's module definitions).
No ComfyUI import."""

from __future__ import annotations

import pytest
import torch

from comfyui_inertia.nodes.pure import framepack_keys as fk
from comfyui_inertia.nodes.standins import framepack as framepack_standin


@pytest.fixture(scope="module")
def released():
    return framepack_standin.framepack_state_dict(seed=2)


def test_layout_and_markers(released):
    assert fk.is_framepack(released) and fk.framepack_layout(released) == "diffusers"
    comfy = fk.diffusers_to_comfy(released)
    assert fk.is_framepack(comfy) and fk.framepack_layout(comfy) == "comfy"
    for marker in fk.FRAMEPACK_MARKERS:
        assert not fk.is_framepack({k: v for k, v in released.items() if k != marker})


def test_conversion_fuses_renames_and_swaps_exactly(released):
    sd = fk.diffusers_to_comfy(released)
    assert sum(v.numel() for v in sd.values()) == sum(v.numel() for v in released.values())
    # weight + bias of each fusion: double img q/k/v and txt q/k/v, single q/k/v/mlp, q/k/v of 2 refiner blocks
    assert len(sd) == len(released) - 2 * ((3 - 1) + (3 - 1) + (4 - 1) + 2 * (3 - 1))
    cat = lambda *names: torch.cat([released[n] for n in names], dim=0)  # noqa: E731
    tb, sb, rb = "transformer_blocks.0.attn.", "single_transformer_blocks.0.", "context_embedder.token_refiner.refiner_blocks.1."
    for p in ("weight", "bias"):
        assert torch.equal(sd[f"double_blocks.0.img_attn.qkv.{p}"], cat(*(f"{tb}{q}.{p}" for q in ("to_q", "to_k", "to_v"))))
        assert torch.equal(sd[f"double_blocks.0.txt_attn.qkv.{p}"],
                           cat(*(f"{tb}{q}.{p}" for q in ("add_q_proj", "add_k_proj", "add_v_proj"))))
        assert torch.equal(sd[f"single_blocks.0.linear1.{p}"],
                           cat(*(f"{sb}{q}.{p}" for q in ("attn.to_q", "attn.to_k", "attn.to_v", "proj_mlp"))))
        assert torch.equal(sd[f"txt_in.individual_token_refiner.blocks.1.self_attn.qkv.{p}"],
                           cat(*(f"{rb}attn.{q}.{p}" for q in ("to_q", "to_k", "to_v"))))
        scale, shift = released[f"norm_out.linear.{p}"].chunk(2, dim=0)  # diffusers: scale, shift; ComfyUI: shift, scale
        assert torch.equal(sd[f"final_layer.adaLN_modulation.1.{p}"], torch.cat([shift, scale]))
    assert sd["img_in.proj.weight"] is released["x_embedder.proj.weight"]
    assert sd["double_blocks.0.img_attn.norm.key_norm.scale"] is released[f"{tb}norm_k.weight"]
    assert sd["single_blocks.0.linear2.bias"] is released[f"{sb}proj_out.bias"]
    assert sd["clean_x_embedder.proj_4x.weight"] is released["clean_x_embedder.proj_4x.weight"]
    assert "transformer_blocks.0.attn.to_q.weight" in released  # the input dict is not changed


def test_conversion_rejects_unknown_and_incomplete_keys(released):
    with pytest.raises(ValueError, match=r"unknown keys \['not_a_framepack.key'\]"):
        fk.diffusers_to_comfy({**released, "not_a_framepack.key": torch.zeros(1)})
    partial = {k: v for k, v in released.items() if k != "transformer_blocks.0.attn.to_k.bias"}
    with pytest.raises(ValueError, match="block 0 lacks some of"):
        fk.diffusers_to_comfy(partial)


def test_checkpoint_prefix_needs_a_majority():
    z = torch.zeros(1)
    assert fk.checkpoint_prefix({"model.diffusion_model.a": z, "model.diffusion_model.b": z, "c": z}) \
        == "model.diffusion_model."
    assert fk.checkpoint_prefix({"diffusion_model.a": z, "diffusion_model.b": z}) == "diffusion_model."
    assert fk.checkpoint_prefix({"transformer.a": z, "b": z}) is None  # half is not most
    assert fk.checkpoint_prefix({"a": z}) is None
