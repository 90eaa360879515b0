"""The testbed's two networks, built from ComfyUI's own classes (needs ComfyUI on ``sys.path``).

* VAE: ``comfy.ldm.wan.vae.WanVAE`` (the Wan 2.1 VAE: temporal stride 4, spatial stride 8, 16 latent
  channels, ``dim_mult [1, 2, 4, 4]``, temporal downsampling ``[False, True, True]``) at a small width.
  :class:`TestbedVAE` is a ``comfy.sd.VAE`` around it with the Wan 2.1 branch's ratios and formulas
  (``comfy/sd.py``), so ``VAEEncode``, ``VAEDecode``, ``WanImageToVideo`` and ``SaveVideo`` work unchanged.
  Core's ``VAELoader`` cannot load it: it builds the Wan VAE at its full width (96) from the key names.
* DiT: ``comfy.ldm.wan.model.WanModel``, Wan 2.2-I2V style (``in_dim`` 36 = 16 noise + 4 mask + 16 image
  latent channels, no CLIP vision, ``text_dim`` 4096). Its key layout is what ``comfy.model_detection``
  reads as Wan 2.1 (``head.modulation``), so the stock ``UNETLoader`` loads it (as ``WAN21_T2V`` with the
  concat condition, exactly how ComfyUI loads the Wan 2.2 I2V models).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

#: Wan 2.1 VAE layout (comfy/sd.py builds it with dim 96).
VAE_DIM_MULT = [1, 2, 4, 4]
VAE_TEMPORAL_DOWNSAMPLE = [False, True, True]
VAE_Z_DIM = 16


@dataclass(frozen=True)
class VAEConfig:
    """Width (``dim``), residual blocks per level and latent channels of a testbed WanVAE."""

    dim: int = 8
    num_res_blocks: int = 1
    z_dim: int = VAE_Z_DIM

    def module_kwargs(self) -> dict:
        return dict(dim=self.dim, z_dim=self.z_dim, dim_mult=list(VAE_DIM_MULT), num_res_blocks=self.num_res_blocks,
                    attn_scales=[], temperal_downsample=list(VAE_TEMPORAL_DOWNSAMPLE), dropout=0.0)


@dataclass(frozen=True)
class DiTConfig:
    """``WanModel`` arguments of the testbed DiT (the fixed ones are what ComfyUI's detection assumes)."""

    dim: int = 128
    ffn_dim: int = 512
    num_layers: int = 6
    in_dim: int = 36
    out_dim: int = 16
    text_dim: int = 4096
    freq_dim: int = 256

    def module_kwargs(self) -> dict:
        # num_heads = dim // 128, patch (1, 2, 2), qk_norm, cross_attn_norm, eps 1e-6: as comfy/model_detection.py
        return dict(model_type="t2v", patch_size=(1, 2, 2), text_len=512, in_dim=self.in_dim, dim=self.dim,
                    ffn_dim=self.ffn_dim, freq_dim=self.freq_dim, text_dim=self.text_dim, out_dim=self.out_dim,
                    num_heads=max(1, self.dim // 128), num_layers=self.num_layers, window_size=(-1, -1),
                    qk_norm=True, cross_attn_norm=True, eps=1e-6)


def vae_config_from_state_dict(sd: dict) -> VAEConfig:
    """Read width, residual blocks and latent channels from a WanVAE state dict's shapes.

    Raises:
        ValueError: the keys are not a Wan 2.1 VAE's.
    """
    if "encoder.conv1.weight" not in sd or "conv2.weight" not in sd or "decoder.middle.0.residual.0.gamma" not in sd:
        raise ValueError("not a Wan 2.1-layout VAE state dict (missing encoder.conv1 / conv2 / decoder.middle keys)")
    dim = int(sd["encoder.conv1.weight"].shape[0])
    z_dim = int(sd["conv2.weight"].shape[0])
    blocks = {int(k.split(".")[2]) for k in sd if k.startswith("encoder.downsamples.")}
    n_levels = len(VAE_DIM_MULT)
    nrb = (len(blocks) - (n_levels - 1)) // n_levels
    return VAEConfig(dim=dim, num_res_blocks=max(1, nrb), z_dim=z_dim)


def _reset_torch_defaults(module: torch.nn.Module) -> None:
    """PyTorch's default initialisation for every layer (ComfyUI's ``disable_weight_init`` ops skip it)."""
    for m in module.modules():
        if isinstance(m, (torch.nn.Linear,)):
            torch.nn.Linear.reset_parameters(m)
        elif isinstance(m, torch.nn.modules.conv._ConvNd):
            torch.nn.modules.conv._ConvNd.reset_parameters(m)
        elif isinstance(m, (torch.nn.LayerNorm, torch.nn.GroupNorm)):
            if getattr(m, "weight", None) is not None:
                torch.nn.init.ones_(m.weight)
            if getattr(m, "bias", None) is not None:
                torch.nn.init.zeros_(m.bias)
        elif type(m).__name__ == "RMSNorm" and getattr(m, "weight", None) is not None:
            torch.nn.init.ones_(m.weight)


def build_vae_module(config: VAEConfig = VAEConfig(), seed: int | None = None):
    """A ``comfy.ldm.wan.vae.WanVAE`` of ``config``; initialised (PyTorch defaults) when ``seed`` is given."""
    from comfy.ldm.wan.vae import WanVAE

    if seed is not None:
        torch.manual_seed(seed)
    m = WanVAE(**config.module_kwargs())
    if seed is not None:
        _reset_torch_defaults(m)
    return m


def build_dit_module(config: DiTConfig = DiTConfig(), seed: int | None = None, device=None):
    """A ``comfy.ldm.wan.model.WanModel`` of ``config`` (float32); initialised as Wan's own ``init_weights``
    (Xavier linears, N(0, 0.02) text/time embeddings, zero output head, modulation N(0, 1/dim)) when ``seed``
    is given, else left as allocated (for loading)."""
    import comfy.ops
    from comfy.ldm.wan.model import WanModel

    m = WanModel(**config.module_kwargs(), operations=comfy.ops.disable_weight_init, device=device)
    if seed is None:
        return m
    g = torch.Generator(device="cpu").manual_seed(seed)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name.endswith("modulation"):
                v = torch.randn(p.shape, generator=g) / math.sqrt(config.dim)
            elif p.ndim == 1:
                v = torch.ones(p.shape) if ("norm" in name and name.endswith("weight")) else torch.zeros(p.shape)
            elif name.startswith(("text_embedding", "time_embedding")):
                v = torch.randn(p.shape, generator=g) * 0.02
            elif name.startswith("head.head"):
                v = torch.zeros(p.shape)
            else:
                fan_out, fan_in = p.shape[0], p[0].numel()
                bound = math.sqrt(6.0 / (fan_in + fan_out))
                v = (torch.rand(p.shape, generator=g) * 2 - 1) * bound
            p.copy_(v.to(p.dtype))
    return m


def calibrate_vae_latents(vae_module, mean: torch.Tensor, std: torch.Tensor, target_mean: torch.Tensor,
                          target_std: torch.Tensor) -> None:
    """Rescale the VAE's latent space in place, exactly, so its latents have ``target_mean``/``target_std``.

    With ``mean``/``std`` ``[z]`` the measured per-channel statistics of the encoder's ``mu``, the encoder's
    last 1×1 convolution (``conv1``, mean half) is mapped to ``z' = t_mean + t_std·(mu − mean)/std`` and the
    decoder's first 1×1 convolution (``conv2``) to undo it, so decoding is unchanged. The targets are the Wan 2.1
    latent format's ``latents_mean``/``latents_std`` (``comfy/latent_formats.py``), so that ComfyUI's
    ``process_latent_in`` gives the DiT unit-scale latents.
    """
    dev = vae_module.conv1.weight.device
    mean, std = mean.to(dev).double(), std.to(dev).double()
    target_mean, target_std = target_mean.to(dev).double(), target_std.to(dev).double()
    a = target_std / std                                  # [z]
    b = target_mean - mean * target_std / std             # z' = a·mu + b
    z = a.shape[0]
    with torch.no_grad():
        c1 = vae_module.conv1                             # CausalConv3d(2z, 2z, 1): first z outputs are mu
        w, bias = c1.weight.double(), c1.bias.double()
        w[:z] = w[:z] * a.view(z, 1, 1, 1, 1)
        bias[:z] = bias[:z] * a + b
        c1.weight.copy_(w.to(c1.weight.dtype))
        c1.bias.copy_(bias.to(c1.bias.dtype))
        c2 = vae_module.conv2                             # CausalConv3d(z, z, 1) on z' = a·mu + b
        w2, b2 = c2.weight.double(), c2.bias.double()
        b2 = b2 - (w2[:, :, 0, 0, 0] * (b / a)[None, :]).sum(1)
        w2 = w2 / a.view(1, z, 1, 1, 1)
        c2.weight.copy_(w2.to(c2.weight.dtype))
        c2.bias.copy_(b2.to(c2.bias.dtype))


def wan21_latent_stats() -> tuple[torch.Tensor, torch.Tensor]:
    """``(latents_mean, latents_std)`` ``[16]`` of ComfyUI's Wan 2.1 latent format."""
    from comfy.latent_formats import Wan21

    f = Wan21()
    return f.latents_mean.flatten().clone(), f.latents_std.flatten().clone()


def _make_testbed_vae_class():
    import comfy.model_management as mm
    import comfy.model_patcher
    import comfy.sd

    class TestbedVAE(comfy.sd.VAE):
        """A ``comfy.sd.VAE`` whose ``first_stage_model`` is a small ``WanVAE``.

        Core's constructor is not called: it would pick the full-width Wan VAE from the key names. This sets the
        same attributes as its Wan 2.1 branch (``comfy/sd.py``): ratios (4, 8, 8), index formulas, 16 latent
        channels, 3 latent dims, working dtypes; memory estimates scaled by width / 96; then the same device,
        dtype and ModelPatcher set-up as the end of core's constructor.
        """

        def __init__(self, sd: dict, device=None, dtype=None, metadata=None):
            cfg = vae_config_from_state_dict(sd)
            self.testbed_config = cfg
            width = cfg.dim / 96.0
            self.memory_used_encode = lambda shape, dt: 6000 * width * shape[3] * shape[4] * mm.dtype_size(dt)
            self.memory_used_decode = lambda shape, dt: 7000 * width * shape[3] * shape[4] * (8 * 8) * mm.dtype_size(dt)
            self.upscale_ratio = (lambda a: max(0, a * 4 - 3), 8, 8)
            self.upscale_index_formula = (4, 8, 8)
            self.downscale_ratio = (lambda a: max(0, math.floor((a + 3) / 4)), 8, 8)
            self.downscale_index_formula = (4, 8, 8)
            self.latent_channels = cfg.z_dim
            self.latent_dim = 3
            self.output_channels = 3
            self.process_input = lambda image: image * 2.0 - 1.0
            self.process_output = lambda image: torch.clamp((image + 1.0) / 2.0, min=0.0, max=1.0)
            self.working_dtypes = [torch.bfloat16, torch.float16, torch.float32]
            self.disable_offload = False
            self.not_video = False
            self.extra_1d_channel = None
            self.crop_input = True
            self.first_stage_model = build_vae_module(cfg).eval().requires_grad_(False)
            self.first_stage_model.load_state_dict(sd, strict=True)
            if device is None:
                device = mm.vae_device()
            self.device = device
            if dtype is None:
                dtype = mm.vae_dtype(self.device, self.working_dtypes)
            self.vae_dtype = dtype
            self.first_stage_model.to(self.vae_dtype)
            self.output_device = mm.intermediate_device()
            self.patcher = comfy.model_patcher.ModelPatcher(self.first_stage_model, load_device=self.device,
                                                            offload_device=mm.vae_offload_device())

    return TestbedVAE


_VAE_CLASS = None


def testbed_vae(sd: dict, device=None, dtype=None):
    """A ComfyUI ``VAE`` (``comfy.sd.VAE`` subclass) from a testbed WanVAE state dict.

    Raises:
        ValueError: not a Wan 2.1-layout VAE state dict; RuntimeError: keys or shapes that do not fit.
    """
    global _VAE_CLASS
    if _VAE_CLASS is None:
        _VAE_CLASS = _make_testbed_vae_class()
    return _VAE_CLASS(sd, device=device, dtype=dtype)


def config_metadata(config) -> dict[str, str]:
    """safetensors metadata (strings) describing a VAE/DiT config."""
    import json

    return {"inertia_testbed": json.dumps({type(config).__name__: asdict(config)})}
