"""Tiny random-weight Wan 2.1, Wan 2.2 TI2V-5B and HunyuanVideo stand-in checkpoints with the real key layouts.

Used by the test-suite and by the headless demo mode on machines without model weights.
Each stand-in is built from ComfyUI's own model class (so the key names and shapes are
exactly those ComfyUI's loader detects) with a small width and depth, filled with
seeded random weights, and written as ``.safetensors`` to be loaded back through
``comfy.sd.load_diffusion_model`` like a real file.

Fixed by ComfyUI's detection, so kept at full size: head_dim 128 (``num_heads = dim // 128``),
text_dim 4096 (umt5-xxl), Hunyuan ``axes_dim [16, 56, 56]`` and ``pooled_output`` 768.
The frames such models produce are noise: they prove the plumbing, not the quality.

Requires ComfyUI on ``sys.path`` (imported lazily).
"""

from __future__ import annotations

import os

import torch

#: name → (official file name the stand-in replaces, builder kwargs)
WAN_COMMON = dict(patch_size=(1, 2, 2), text_len=512, dim=128, ffn_dim=256, freq_dim=256, text_dim=4096,
                  out_dim=16, num_heads=1, num_layers=2)
HUNYUAN_COMMON = dict(out_channels=16, vec_in_dim=768, context_in_dim=4096, hidden_size=128, mlp_ratio=4.0,
                      num_heads=1, depth=1, depth_single_blocks=1, axes_dim=[16, 56, 56], theta=256,
                      patch_size=[1, 2, 2], qkv_bias=True, guidance_embed=True, byt5=False, meanflow=False)

STANDINS = {
    "wan21_t2v": ("wan2.1_t2v_1.3B_fp16.safetensors", "wan", dict(model_type="t2v", in_dim=16)),
    "wan21_i2v": ("wan2.1_i2v_480p_14B_fp16.safetensors", "wan", dict(model_type="i2v", in_dim=36)),
    "wan21_flf": ("wan2.1_flf2v_720p_14B_fp16.safetensors", "wan",
                  dict(model_type="i2v", in_dim=36, flf_pos_embed_token_number=514)),
    # Wan 2.2 TI2V-5B: 48-channel latent (Wan 2.2 VAE, stride 16), detected by ComfyUI as WAN22_T2V (out_dim 48)
    "wan22_ti2v": ("wan2.2_ti2v_5B_fp16.safetensors", "wan", dict(model_type="t2v", in_dim=48, out_dim=48)),
    "wan21_vace": ("wan2.1_vace_1.3B_fp16.safetensors", "vace", dict(vace_layers=1, vace_in_dim=96, in_dim=16)),
    "hunyuan_t2v": ("hunyuan_video_t2v_720p_bf16.safetensors", "hunyuan", dict(in_channels=16)),
    "hunyuan_i2v": ("hunyuan_video_image_to_video_720p_bf16.safetensors", "hunyuan", dict(in_channels=33)),
}


def _build_module(kind: str, kwargs: dict):
    import comfy.ops

    ops = comfy.ops.disable_weight_init
    if kind == "wan":
        from comfy.ldm.wan.model import WanModel
        return WanModel(**{**WAN_COMMON, **kwargs}, operations=ops)
    if kind == "vace":
        from comfy.ldm.wan.model import VaceWanModel
        return VaceWanModel(**{**WAN_COMMON, **kwargs}, operations=ops)
    if kind == "hunyuan":
        from comfy.ldm.hunyuan_video.model import HunyuanVideo
        return HunyuanVideo(**{**HUNYUAN_COMMON, **kwargs}, operations=ops)
    raise ValueError(f"unknown stand-in kind {kind!r}")


def random_state_dict(module: torch.nn.Module, seed: int = 0, std: float = 0.02,
                      dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """Seeded N(0, std²) weights for every tensor of ``module``; norm scales are 1, biases 0."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for name, t in module.state_dict().items():
        leaf = name.rsplit(".", 1)[-1]
        if t.ndim <= 1 and ("norm" in name or leaf in ("scale", "gamma")):
            v = torch.ones(t.shape)
        elif t.ndim <= 1 and leaf == "bias":
            v = torch.zeros(t.shape)
        else:
            v = torch.randn(t.shape, generator=g) * std
        out[name] = v.to(dtype).contiguous()
    return out


def diffusion_state_dict(name: str, seed: int = 0) -> dict[str, torch.Tensor]:
    """The state dict of stand-in ``name`` (a key of :data:`STANDINS`)."""
    _file, kind, kwargs = STANDINS[name]
    return random_state_dict(_build_module(kind, kwargs), seed=seed)


def write_diffusion_model(name: str, directory: str, filename: str | None = None, seed: int = 0) -> str:
    """Write stand-in ``name`` to ``directory`` (default: under its official file name); return the path."""
    from safetensors.torch import save_file

    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, filename or STANDINS[name][0])
    save_file(diffusion_state_dict(name, seed), path)
    return path


def _random_vae_state_dict(module: torch.nn.Module, seed: int, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """He-style random weights (std 1/√fan_in) so activations stay finite through deep conv stacks."""
    g = torch.Generator().manual_seed(seed)
    sd = {}
    for key, t in module.state_dict().items():
        if t.ndim >= 2:
            v = torch.randn(t.shape, generator=g) * (1.0 / max(1, t[0].numel())) ** 0.5
        elif key.endswith(("gamma", "norm.weight")) or ".norm" in key and key.endswith("weight"):
            v = torch.ones(t.shape)
        else:
            v = torch.zeros(t.shape)
        sd[key] = v.to(dtype).contiguous()
    return sd


def write_wan21_vae(directory: str, filename: str = "wan_2.1_vae.safetensors", seed: int = 0,
                    dtype: torch.dtype = torch.float16) -> str:
    """Write a full-size random Wan 2.1 VAE (127 M parameters, real key layout); return the path.

    Full size because ComfyUI hard-codes the Wan VAE's width (``comfy/sd.py``).
    """
    from comfy.ldm.wan.vae import WanVAE
    from safetensors.torch import save_file

    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, filename)
    module = WanVAE(dim=96, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2, attn_scales=[],
                    temperal_downsample=[False, True, True], dropout=0.0)
    save_file(_random_vae_state_dict(module, seed, dtype), path)
    return path


def write_hunyuan_video_vae(directory: str, filename: str = "hunyuan_video_vae_bf16.safetensors", seed: int = 0,
                            dtype: torch.dtype = torch.float16) -> str:
    """Write a full-size random HunyuanVideo VAE (3D AutoencoderKL, z 16, real key layout); return the path."""
    from comfy.ldm.models.autoencoder import AutoencoderKL
    from safetensors.torch import save_file

    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, filename)
    ddconfig = {"double_z": True, "z_channels": 16, "resolution": 256, "in_channels": 3, "out_ch": 3, "ch": 128,
                "ch_mult": [1, 2, 4, 4], "num_res_blocks": 2, "attn_resolutions": [], "dropout": 0.0,
                "conv3d": True, "time_compress": 4}
    module = AutoencoderKL(ddconfig=ddconfig, embed_dim=16)
    save_file(_random_vae_state_dict(module, seed, dtype), path)
    return path


#: official VAE file name → stand-in writer
VAE_STANDINS = {
    "wan_2.1_vae.safetensors": write_wan21_vae,
    "hunyuan_video_vae_bf16.safetensors": write_hunyuan_video_vae,
}


def wan_text_conditioning(seed: int = 0, length: int = 512) -> list:
    """Wan CONDITIONING with umt5-xxl's real shape ``[1, 512, 4096]`` (seeded, scaled 0.1)."""
    g = torch.Generator().manual_seed(seed)
    return [[torch.randn(1, length, 4096, generator=g) * 0.1, {}]]


def hunyuan_text_conditioning(seed: int = 0, length: int = 32, guidance: float | None = None) -> list:
    """HunyuanVideo CONDITIONING: llava tokens ``[1, L, 4096]`` plus CLIP-L ``pooled_output [1, 768]``."""
    g = torch.Generator().manual_seed(seed)
    extra = {"pooled_output": torch.randn(1, 768, generator=g) * 0.1}
    if guidance is not None:
        extra["guidance"] = guidance
    return [[torch.randn(1, length, 4096, generator=g) * 0.1, extra]]
