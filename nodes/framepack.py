"""FramePack, native in ComfyUI: the packed HunyuanVideo model class.

FramePack (lllyasviel/FramePack, arXiv 2504.12626) is HunyuanVideo 13B
fine-tuned to predict a window of ``ws`` latent frames from a *packed* history: the newest
frame at full resolution (1×), the next 2 frames at 2× and the next 16 at 4× compression,
plus the start frame and SigLIP image tokens. Its users run it through wrappers that keep the
model as a plain dict and copy the sampling loop, out of reach of every ComfyUI model patch.
Here it is a ComfyUI model:

* :class:`FramePackHunyuanVideo` **subclasses core's** ``comfy.ldm.hunyuan_video.model.HunyuanVideo``
  and adds only FramePack's parts: the clean-latent embedders ``clean_x_embedder.proj/proj_2x/proj_4x``
  (Conv3d kernels (1,2,2)/(2,4,4)/(4,8,8)), the SigLIP projection ``image_projection`` and the
  RoPE of packed tokens. All of the forward pass is core's ``forward_orig``:

  - clean-latent tokens enter through core's ``ref_latent`` path (prepended to the video tokens,
    cut off again before the final layer) as a :class:`_PackedPrefix`; core's ``img_in`` and
    ``img_ids`` hand such a prefix through unchanged (two-line subclasses below);
  - their RoPE rides in the ids: every id row carries, per axis, the ``4`` positions a token
    covers; core's ``pe_embedder`` (subclassed, :class:`_PackedEmbedND`) averages the rotations,
    which is exactly FramePack's ``avg_pool3d`` of the cos/sin grids for 2×/4× tokens;
  - SigLIP tokens enter the text stream through core's own extra-text-token path (``txt_byt5`` →
    ``byt5_in``, here an alias of ``image_projection``), after the token refiner like the original.
    The original puts them before the text, core after it: without a text mask (masked text is
    dropped first, as the original does for batch 1) attention is order-free, so this is the same.

  So ModelPatcher weight patches (LoRA), object patches, ``DIFFUSION_MODEL``/``APPLY_MODEL``
  wrappers, ``patches_replace["dit"]`` and ``optimized_attention_override`` all reach it.
* :class:`FramePackModel` (``comfy.model_base.HunyuanVideo``) turns the conditioning key
  ``"framepack"`` into model conds (clean latents through ``process_latent_in``, indices,
  image embeddings), so they batch, move and reach wrappers like any cond.
The loader node is in ``nodes/framepack_loader.py``, the section sampler in ``nodes/framepack_sampler.py``,
timed prompts and the start-image bucket in ``nodes/framepack_inputs.py``.
Layouts: latents ``[B, 16, T, H, W]`` in ComfyUI LATENT space (VAE output, unscaled); H, W in
latent cells (8 px). Section arithmetic: ``nodes/pure/framepack_schedule.py``.
"""

from __future__ import annotations

import logging

import comfy.conds
import comfy.ldm.hunyuan_video.model as hv
import comfy.model_base
import comfy.model_detection
import comfy.model_patcher
import comfy.supported_models
import comfy.utils
import torch
import torch.nn.functional as F
from comfy.ldm.flux.layers import EmbedND
from comfy.ldm.modules.diffusionmodules.mmdit import PatchEmbed

from . import keys
from .pure import framepack_schedule as fs

log = logging.getLogger("ComfyUI-Inertia")

#: Pack-specific key (conditioning dict key carrying a section's packed context).
COND_KEY = keys.FRAMEPACK_COND
#: Model-cond / forward-kwarg names (the original's argument names).
LATENT_KEYS = ("clean_latents", "clean_latents_2x", "clean_latents_4x")
INDEX_KEYS = ("latent_indices", "clean_latent_indices", "clean_latent_2x_indices", "clean_latent_4x_indices")
IMAGE_KEY = "image_embeddings"
PACK_KEYS = LATENT_KEYS + INDEX_KEYS + (IMAGE_KEY,)
#: Id columns of packed RoPE: (t, h, w) as core expects, then 3 axes × ROPE_SUB positions.
PACKED_ID_COLS = 3 + 3 * fs.ROPE_SUB


# ====================================================================================== model

class _PackedPrefix:
    """Clean-latent tokens ``[B, L, hidden]`` and their packed RoPE ids ``[B, L, PACKED_ID_COLS]``.

    Passed to core's ``forward_orig`` as ``ref_latent``: core asks ``img_ids()`` and ``img_in()``
    for its ids and tokens, prepends them to the video tokens and removes them before the final layer.
    """

    __slots__ = ("tokens", "ids")

    def __init__(self, tokens: torch.Tensor, ids: torch.Tensor):
        self.tokens, self.ids = tokens, ids


class _PackedPatchEmbed(PatchEmbed):
    """Core's ``img_in``; a :class:`_PackedPrefix` (already embedded) passes through."""

    def forward(self, x):
        if isinstance(x, _PackedPrefix):
            return x.tokens
        return super().forward(x)


class _PackedEmbedND(EmbedND):
    """Core's ``pe_embedder``; ids with :data:`PACKED_ID_COLS` columns get averaged rotations.

    Columns ``3 + 4a + k`` hold sub-position ``k`` of axis ``a``. The pairwise mean keeps ids
    whose sub-positions are equal (1× tokens, video tokens, text) bit-identical to core.
    """

    def forward(self, ids):
        if ids.shape[-1] != PACKED_ID_COLS:
            return super().forward(ids)
        subs = ids[..., 3:].unflatten(-1, (3, fs.ROPE_SUB))
        e = [super(_PackedEmbedND, self).forward(subs[..., k]) for k in range(fs.ROPE_SUB)]
        return ((e[0] + e[1]) / 2 + (e[2] + e[3]) / 2) / 2


def _adopt(module: torch.nn.Module, cls: type) -> torch.nn.Module:
    """Re-type a core submodule to a subclass that adds behaviour only (no state, same weights)."""
    assert issubclass(cls, type(module)) and all(k == "forward" or k.startswith("__") for k in vars(cls))
    module.__class__ = cls
    return module


class CleanLatentEmbedder(torch.nn.Module):
    """FramePack's ``clean_x_embedder``: 1×/2×/4× patch embedders, kernels (1,2,2)/(2,4,4)/(4,8,8)."""

    def __init__(self, in_channels, hidden_size, dtype=None, device=None, operations=None):
        super().__init__()
        for name, k in (("proj", 1), ("proj_2x", 2), ("proj_4x", 4)):
            setattr(self, name, operations.Conv3d(in_channels, hidden_size, kernel_size=(k, 2 * k, 2 * k),
                                                  stride=(k, 2 * k, 2 * k), dtype=dtype, device=device))


class ImageProjection(torch.nn.Module):
    """FramePack's ``image_projection``: SigLIP features → tokens, ``down(silu(up(x)))``."""

    def __init__(self, in_dim, hidden_size, dtype=None, device=None, operations=None):
        super().__init__()
        self.up = operations.Linear(in_dim, hidden_size * 3, dtype=dtype, device=device)
        self.down = operations.Linear(hidden_size * 3, hidden_size, dtype=dtype, device=device)

    def forward(self, x):
        return self.down(F.silu(self.up(x)))


def _ids(sub: torch.Tensor) -> torch.Tensor:
    """``[B, L, 3, S]`` sub-positions → packed ids ``[B, L, 3 + 3S]`` (first sub-position up front)."""
    return torch.cat([sub[..., 0], sub.flatten(-2)], dim=-1)


class FramePackHunyuanVideo(hv.HunyuanVideo):
    """FramePack's packed transformer (``HunyuanVideoTransformer3DModelPacked``) on core's HunyuanVideo.

    Extra forward kwargs (the original's names; all optional — without them it is core's model):
    ``clean_latents [B,16,n1,H,W]``, ``clean_latents_2x [B,16,2,H,W]``, ``clean_latents_4x [B,16,16,H,W]``
    (model space, i.e. after ``process_latent_in``), ``latent_indices [B,T]``, ``clean_latent_indices
    [B,n1]``, ``clean_latent_2x_indices [B,2]``, ``clean_latent_4x_indices [B,16]`` (RoPE time
    indices) and ``image_embeddings [B, N, image_proj_dim]`` (SigLIP ``last_hidden_state``).
    """

    def __init__(self, image_model=None, final_layer=True, dtype=None, device=None, operations=None,
                 image_proj_dim=1152, **kwargs):
        super().__init__(image_model=image_model, final_layer=final_layer, dtype=dtype, device=device,
                         operations=operations, **kwargs)
        _adopt(self.img_in, _PackedPatchEmbed)
        _adopt(self.pe_embedder, _PackedEmbedND)
        self.clean_x_embedder = CleanLatentEmbedder(self.in_channels, self.hidden_size, dtype, device, operations)
        self.image_projection = ImageProjection(image_proj_dim, self.hidden_size, dtype, device, operations)

    # Core appends ``byt5_in(txt_byt5)`` to the refined text tokens: FramePack's image tokens use
    # that path. A property (not a registered submodule), so state-dict keys stay FramePack's.
    @property
    def byt5_in(self):
        return self.image_projection

    @byt5_in.setter
    def byt5_in(self, value):
        if value is not None:
            raise ValueError("FramePack has no ByT5 mapper")

    def img_ids(self, x):
        if isinstance(x, _PackedPrefix):
            return x.ids.clone()  # core then sets column 0 to -1 and shifts column 2: unused by packed RoPE
        return super().img_ids(x)

    def _pack_clean_latents(self, pack, dtype, hp, wp) -> _PackedPrefix | None:
        """Embed the clean latents in the original's token order [4×, 2×, 1×] with their RoPE ids."""
        ps = self.patch_size
        tokens, ids = [], []
        for lat_key, idx_key, conv, k in (("clean_latents_4x", "clean_latent_4x_indices", self.clean_x_embedder.proj_4x, 4),
                                          ("clean_latents_2x", "clean_latent_2x_indices", self.clean_x_embedder.proj_2x, 2),
                                          ("clean_latents", "clean_latent_indices", self.clean_x_embedder.proj, 1)):
            lat, idx = pack.get(lat_key), pack.get(idx_key)
            if lat is None or idx is None:
                continue
            kt, kh, kw = k * ps[0], k * ps[1], k * ps[2]
            t, h, w = lat.shape[-3:]
            lat = F.pad(lat.to(dtype), (0, (-w) % kw, 0, (-h) % kh, 0, (-t) % kt), mode="replicate")
            tok = conv(lat).flatten(2).transpose(1, 2)
            sub = fs.rope_subpositions(idx.to("cpu"), hp, wp, k).to(device=tok.device)
            if sub.shape[0] != tok.shape[0]:
                sub = sub.expand(tok.shape[0], -1, -1, -1)
            if sub.shape[1] != tok.shape[1]:
                raise ValueError(f"FramePack: {lat_key} gives {tok.shape[1]} tokens but {sub.shape[1]} RoPE positions; "
                                 "clean latents must have the noisy latent's height and width")
            tokens.append(tok)
            ids.append(_ids(sub))
        if not tokens:
            return None
        return _PackedPrefix(torch.cat(tokens, dim=1), torch.cat(ids, dim=1))

    def _forward(self, x, timestep, context, y=None, txt_byt5=None, guidance=None, attention_mask=None,
                 guiding_frame_index=None, ref_latent=None, disable_time_r=False, control=None,
                 transformer_options={}, **kwargs):
        """Build the packed inputs and run core's ``forward_orig`` (the inner call of DIFFUSION_MODEL)."""
        pack = {k: kwargs.pop(k, None) for k in PACK_KEYS}
        if all(v is None for v in pack.values()):
            return super()._forward(x, timestep, context, y, txt_byt5, guidance, attention_mask, guiding_frame_index,
                                    ref_latent, disable_time_r, control, transformer_options, **kwargs)
        if ref_latent is not None or txt_byt5 is not None or guiding_frame_index is not None:
            raise ValueError("FramePack: ref_latent / txt_byt5 / guiding_frame_index conds are not supported together "
                             "with FramePack's packed context")
        context, attention_mask = _drop_masked_text(context, attention_mask)
        b, _, t, h, w = x.shape
        hp, wp = h // self.patch_size[1], w // self.patch_size[2]
        idx = pack["latent_indices"]
        if idx is None:
            idx = torch.arange(t).unsqueeze(0).expand(b, -1)
        img_ids = _ids(fs.rope_subpositions(idx.to("cpu"), hp, wp, 1)).to(x.device)
        if img_ids.shape[0] != b:
            img_ids = img_ids.expand(b, -1, -1)
        prefix = self._pack_clean_latents(pack, x.dtype, hp, wp)
        txt_ids = torch.zeros((b, context.shape[1], PACKED_ID_COLS), device=x.device, dtype=img_ids.dtype)
        opts = dict(transformer_options)
        opts[keys.FRAMEPACK_LAYOUT] = {"prefix_tokens": 0 if prefix is None else prefix.tokens.shape[1],
                             "grid": (t // self.patch_size[0], hp, wp)}
        return self.forward_orig(x, img_ids, context, txt_ids, attention_mask, timestep, y, pack[IMAGE_KEY], guidance,
                                 None, prefix, disable_time_r=disable_time_r, control=control, transformer_options=opts)


def _drop_masked_text(context, mask):
    """Drop padded text tokens (as FramePack does for batch 1) so no text mask reaches core.

    ``mask [B, L]``: integer or boolean (1/True = keep, core's ``CLIP`` attention_mask), or an additive
    float mask (0 = keep, −inf/−max = drop, core ``hunyuan_video`` convention). Boolean masks are made
    integer in :meth:`FramePackModel.extra_conds`, before core casts float-like conds to the model dtype.
    """
    if mask is None:
        return context, None
    keep = mask.bool() if not torch.is_floating_point(mask) else mask > -1
    if bool(keep.all()):
        return context, None
    if not bool((keep == keep[:1]).all()):
        raise ValueError("FramePack: text attention masks that differ within a batch are not supported")
    return context[:, keep[0].to(context.device)], None


class FramePackModel(comfy.model_base.HunyuanVideo):
    """The BaseModel of FramePack: core's HunyuanVideo conds plus the packed context.

    The conditioning key ``"framepack"`` (a dict with :data:`PACK_KEYS`) becomes model conds:
    latents go through ``process_latent_in``, so LATENT-space tensors can be passed as they are.
    """

    def __init__(self, model_config, model_type=comfy.model_base.ModelType.FLOW, device=None):
        comfy.model_base.BaseModel.__init__(self, model_config, model_type, device=device,
                                            unet_model=FramePackHunyuanVideo)
        # the packed clean latents add tokens to every model call: count them where ComfyUI sizes batches
        # (per step in calc_cond_batch, and once per run): 1x a token per patch, 2x 1/8, 4x 1/64
        self.memory_usage_factor_conds = ("clean_latents", "clean_latents_2x", "clean_latents_4x")
        self.memory_usage_shape_process = {
            "clean_latents_2x": lambda s: [s[0], s[1], s[2] / 8, s[-2], s[-1]],
            "clean_latents_4x": lambda s: [s[0], s[1], s[2] / 64, s[-2], s[-1]],
        }
        self.framepack_variant = "unknown"

    def extra_conds(self, **kwargs):
        mask = kwargs.get("attention_mask")
        if torch.is_tensor(mask) and mask.dtype == torch.bool:
            # core's apply_model casts every cond that is not int/long to the model dtype, which turns a boolean
            # mask into 1.0/0.0, read downstream as an additive mask (padding kept): keep it an integer mask
            kwargs["attention_mask"] = mask.long()
        out = super().extra_conds(**kwargs)
        pack = kwargs.get(COND_KEY)
        if pack:
            for k in LATENT_KEYS:
                if pack.get(k) is not None:
                    out[k] = comfy.conds.CONDRegular(self.process_latent_in(pack[k]))
            for k in INDEX_KEYS + (IMAGE_KEY,):
                if pack.get(k) is not None:
                    out[k] = comfy.conds.CONDRegular(pack[k])
        return out

    def extra_conds_shapes(self, **kwargs):
        """Shapes of the clean latents (same keys as the model conds), for the once-per-run memory estimate."""
        pack = kwargs.get(COND_KEY) or {}
        return {k: list(pack[k].shape) for k in self.memory_usage_factor_conds if pack.get(k) is not None}


class FramePackConfig(comfy.supported_models.HunyuanVideo):
    """Model config for FramePack checkpoints (HunyuanVideo latent format and dtypes)."""

    unet_config = {"image_model": "hunyuan_video"}

    def get_model(self, state_dict, prefix="", device=None):
        """The :class:`FramePackModel` BaseModel for this config (as core's ``get_model``)."""
        return FramePackModel(self, device=device)


def is_framepack_model(model) -> bool:
    """True when a MODEL (ModelPatcher) wraps :class:`FramePackHunyuanVideo`."""
    return isinstance(model.get_model_object("diffusion_model"), FramePackHunyuanVideo)


NODES: list = []  # the model class only; the loader node is in framepack_loader.py
