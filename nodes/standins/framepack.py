"""Tiny random-weight FramePack transformer in the released key layout (diffusers names).

The names and shapes follow ``HunyuanVideoTransformer3DModelPacked`` of lllyasviel/FramePack
(``diffusers_helper/models/hunyuan_video_packed.py``) with ``has_image_proj`` and
``has_clean_x_embedder``: ``x_embedder``, ``clean_x_embedder.proj/proj_2x/proj_4x``,
``image_projection.up/down``, ``context_embedder`` (token refiner, 2 layers),
``time_text_embed`` (timestep, guidance, pooled text), ``transformer_blocks.N``,
``single_transformer_blocks.N``, ``norm_out``, ``proj_out``. The list is written out here from
the original's module definitions, independently of the loader's converter, so loading it
checks that converter. Full-size files have hidden 3072 (24 heads of 128), 20 double and
40 single blocks; the stand-in keeps head_dim 128, text_dim 4096, pooled 768 and SigLIP 1152
(fixed by ComfyUI's detection and the conditioning) and shrinks the rest.

No ComfyUI import: torch and safetensors only.
"""

from __future__ import annotations

import os

import torch

#: official file name → (stand-in file name, description)
FRAMEPACK_STANDINS = {
    "framepack_i2v": "FramePackI2V_HY_bf16.safetensors",
    "framepack_f1": "FramePack_F1_I2V_HY_20250503_bf16.safetensors",
}


def framepack_key_shapes(hidden: int = 128, double_blocks: int = 1, single_blocks: int = 1, text_dim: int = 4096,
                         pooled_dim: int = 768, image_dim: int = 1152, refiner_layers: int = 2, mlp_ratio: float = 4.0,
                         in_channels: int = 16, out_channels: int = 16, patch: int = 2, patch_t: int = 1,
                         head_dim: int = 128) -> dict[str, tuple[int, ...]]:
    """Every tensor name → shape of a FramePack transformer (diffusers layout, as released)."""
    h, mlp = hidden, int(hidden * mlp_ratio)
    s: dict[str, tuple[int, ...]] = {}

    def linear(name, n_in, n_out, bias=True):
        s[f"{name}.weight"] = (n_out, n_in)
        if bias:
            s[f"{name}.bias"] = (n_out,)

    def conv(name, n_in, kernel):
        s[f"{name}.weight"] = (h, n_in, *kernel)
        s[f"{name}.bias"] = (h,)

    conv("x_embedder.proj", in_channels, (patch_t, patch, patch))
    conv("clean_x_embedder.proj", 16, (1, 2, 2))
    conv("clean_x_embedder.proj_2x", 16, (2, 4, 4))
    conv("clean_x_embedder.proj_4x", 16, (4, 8, 8))
    linear("image_projection.up", image_dim, 3 * h)
    linear("image_projection.down", 3 * h, h)

    ce = "context_embedder"
    linear(f"{ce}.time_text_embed.timestep_embedder.linear_1", 256, h)
    linear(f"{ce}.time_text_embed.timestep_embedder.linear_2", h, h)
    linear(f"{ce}.time_text_embed.text_embedder.linear_1", text_dim, h)
    linear(f"{ce}.time_text_embed.text_embedder.linear_2", h, h)
    linear(f"{ce}.proj_in", text_dim, h)
    for i in range(refiner_layers):
        rb = f"{ce}.token_refiner.refiner_blocks.{i}"
        for norm in ("norm1", "norm2"):
            s[f"{rb}.{norm}.weight"] = (h,)
            s[f"{rb}.{norm}.bias"] = (h,)
        for proj in ("to_q", "to_k", "to_v"):
            linear(f"{rb}.attn.{proj}", h, h)
        linear(f"{rb}.attn.to_out.0", h, h)
        linear(f"{rb}.ff.net.0.proj", h, mlp)
        linear(f"{rb}.ff.net.2", mlp, h)
        linear(f"{rb}.norm_out.linear", h, 2 * h)

    for emb, n_in in (("timestep_embedder", 256), ("guidance_embedder", 256), ("text_embedder", pooled_dim)):
        linear(f"time_text_embed.{emb}.linear_1", n_in, h)
        linear(f"time_text_embed.{emb}.linear_2", h, h)

    for i in range(double_blocks):
        tb = f"transformer_blocks.{i}"
        linear(f"{tb}.norm1.linear", h, 6 * h)
        linear(f"{tb}.norm1_context.linear", h, 6 * h)
        for proj in ("to_q", "to_k", "to_v", "add_q_proj", "add_k_proj", "add_v_proj"):
            linear(f"{tb}.attn.{proj}", h, h)
        for norm in ("norm_q", "norm_k", "norm_added_q", "norm_added_k"):
            s[f"{tb}.attn.{norm}.weight"] = (head_dim,)
        linear(f"{tb}.attn.to_out.0", h, h)
        linear(f"{tb}.attn.to_add_out", h, h)
        for ff in ("ff", "ff_context"):
            linear(f"{tb}.{ff}.net.0.proj", h, mlp)
            linear(f"{tb}.{ff}.net.2", mlp, h)

    for i in range(single_blocks):
        sb = f"single_transformer_blocks.{i}"
        for proj in ("to_q", "to_k", "to_v"):
            linear(f"{sb}.attn.{proj}", h, h)
        for norm in ("norm_q", "norm_k"):
            s[f"{sb}.attn.{norm}.weight"] = (head_dim,)
        linear(f"{sb}.norm.linear", h, 3 * h)
        linear(f"{sb}.proj_mlp", h, mlp)
        linear(f"{sb}.proj_out", h + mlp, h)

    linear("norm_out.linear", h, 2 * h)
    linear("proj_out", h, patch_t * patch * patch * out_channels)
    return s


def framepack_state_dict(seed: int = 0, std: float = 0.02, dtype: torch.dtype = torch.float32,
                         **shape_kwargs) -> dict[str, torch.Tensor]:
    """Seeded random FramePack weights (diffusers names): matrices N(0, std²), biases N(0, std²), norm
    weights 1 + 0.2·N(0, 1). Biases and norm weights are random (not 0 / 1) so a converter that swaps a
    fused-qkv bias, the ``norm_out`` halves or query/key norms changes the output and tests see it."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for name, shape in framepack_key_shapes(**shape_kwargs).items():
        if name.endswith(".bias"):
            t = torch.randn(shape, generator=g) * std
        elif len(shape) == 1:  # RMSNorm / LayerNorm weights
            t = 1.0 + 0.2 * torch.randn(shape, generator=g)
        else:
            t = torch.randn(shape, generator=g) * std
        out[name] = t.to(dtype).contiguous()
    return out


def write_framepack_model(directory: str, filename: str = FRAMEPACK_STANDINS["framepack_i2v"], seed: int = 0,
                          dtype: torch.dtype = torch.float32, **shape_kwargs) -> str:
    """Write a tiny FramePack stand-in (hidden 128, 1 double + 1 single block) to ``directory``; return its path."""
    from safetensors.torch import save_file

    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, filename)
    save_file(framepack_state_dict(seed=seed, dtype=dtype, **shape_kwargs), path)
    return path
