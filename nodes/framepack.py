"""FramePack, native in ComfyUI: the packed HunyuanVideo model as a MODEL, sampled section by section.

FramePack (lllyasviel/FramePack, arXiv 2504.12626; ``anchors.md`` §5) is HunyuanVideo 13B
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
* :class:`FramePackSectionSampler` samples each section with ComfyUI's ``CFGGuider`` and a
  sampler object, sigmas from the model's ``model_sampling`` at the chosen shift.

Layouts: latents ``[B, 16, T, H, W]`` in ComfyUI LATENT space (VAE output, unscaled); H, W in
latent cells (8 px). Section arithmetic: ``nodes/pure/framepack_schedule.py``.
"""

from __future__ import annotations

import logging
import re

import comfy.conds
import comfy.ldm.hunyuan_video.model as hv
import comfy.model_base
import comfy.model_detection
import comfy.model_management as mm
import comfy.model_patcher
import comfy.model_sampling
import comfy.samplers
import comfy.supported_models
import comfy.utils
import torch
import torch.nn.functional as F
from comfy.ldm.flux.layers import EmbedND
from comfy.ldm.modules.diffusionmodules.mmdit import PatchEmbed
from comfy_api.latest import io, ui

from . import keys
from .pure import framepack_schedule as fs
from .pure.errors import InertiaInputError

log = logging.getLogger("ComfyUI-Inertia")

#: Pack-specific key (conditioning dict key carrying a section's packed context).
COND_KEY = keys.FRAMEPACK_COND
#: transformer_options key the section sampler sets for each section, a dict: "index" (time order,
#: 0 = first after the start image), "step" (generation order), "count" (sections), "mode",
#: "latent_window_size", "total_seconds", "clean_roles" (role of each 1× clean latent: "start",
#: "history" or "end"). Read by FramePackHistoryControls (nodes/framepack_controls.py).
SECTION_KEY = keys.FRAMEPACK_SECTION
#: Conditioning keys set by the timestamp nodes (seconds).
START_KEY, END_KEY = keys.FRAMEPACK_START_S, keys.FRAMEPACK_END_S
#: Model-cond / forward-kwarg names (the original's argument names).
LATENT_KEYS = ("clean_latents", "clean_latents_2x", "clean_latents_4x")
INDEX_KEYS = ("latent_indices", "clean_latent_indices", "clean_latent_2x_indices", "clean_latent_4x_indices")
IMAGE_KEY = "image_embeddings"
PACK_KEYS = LATENT_KEYS + INDEX_KEYS + (IMAGE_KEY,)
#: Id columns of packed RoPE: (t, h, w) as core expects, then 3 axes × ROPE_SUB positions.
PACKED_ID_COLS = 3 + 3 * fs.ROPE_SUB
#: Keys that only a FramePack checkpoint has (diffusers and ComfyUI layouts alike).
FRAMEPACK_MARKERS = ("clean_x_embedder.proj.weight", "clean_x_embedder.proj_2x.weight",
                     "clean_x_embedder.proj_4x.weight", "image_projection.up.weight")


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
    """Drop padded text tokens (as FramePack does for batch 1) so no text mask reaches core."""
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


# ====================================================================================== checkpoint

_RENAMES = [(re.compile(p), r) for p, r in (
    (r"^x_embedder\.proj\.", "img_in.proj."),
    (r"^time_text_embed\.timestep_embedder\.linear_1\.", "time_in.in_layer."),
    (r"^time_text_embed\.timestep_embedder\.linear_2\.", "time_in.out_layer."),
    (r"^time_text_embed\.guidance_embedder\.linear_1\.", "guidance_in.in_layer."),
    (r"^time_text_embed\.guidance_embedder\.linear_2\.", "guidance_in.out_layer."),
    (r"^time_text_embed\.text_embedder\.linear_1\.", "vector_in.in_layer."),
    (r"^time_text_embed\.text_embedder\.linear_2\.", "vector_in.out_layer."),
    (r"^context_embedder\.proj_in\.", "txt_in.input_embedder."),
    (r"^context_embedder\.time_text_embed\.timestep_embedder\.linear_1\.", "txt_in.t_embedder.in_layer."),
    (r"^context_embedder\.time_text_embed\.timestep_embedder\.linear_2\.", "txt_in.t_embedder.out_layer."),
    (r"^context_embedder\.time_text_embed\.text_embedder\.linear_1\.", "txt_in.c_embedder.in_layer."),
    (r"^context_embedder\.time_text_embed\.text_embedder\.linear_2\.", "txt_in.c_embedder.out_layer."),
    (r"^context_embedder\.token_refiner\.refiner_blocks\.(\d+)\.norm([12])\.", r"txt_in.individual_token_refiner.blocks.\1.norm\2."),
    (r"^context_embedder\.token_refiner\.refiner_blocks\.(\d+)\.attn\.to_out\.0\.", r"txt_in.individual_token_refiner.blocks.\1.self_attn.proj."),
    (r"^context_embedder\.token_refiner\.refiner_blocks\.(\d+)\.ff\.net\.0\.proj\.", r"txt_in.individual_token_refiner.blocks.\1.mlp.0."),
    (r"^context_embedder\.token_refiner\.refiner_blocks\.(\d+)\.ff\.net\.2\.", r"txt_in.individual_token_refiner.blocks.\1.mlp.2."),
    (r"^context_embedder\.token_refiner\.refiner_blocks\.(\d+)\.norm_out\.linear\.", r"txt_in.individual_token_refiner.blocks.\1.adaLN_modulation.1."),
    (r"^transformer_blocks\.(\d+)\.norm1\.linear\.", r"double_blocks.\1.img_mod.lin."),
    (r"^transformer_blocks\.(\d+)\.norm1_context\.linear\.", r"double_blocks.\1.txt_mod.lin."),
    (r"^transformer_blocks\.(\d+)\.attn\.norm_q\.weight$", r"double_blocks.\1.img_attn.norm.query_norm.scale"),
    (r"^transformer_blocks\.(\d+)\.attn\.norm_k\.weight$", r"double_blocks.\1.img_attn.norm.key_norm.scale"),
    (r"^transformer_blocks\.(\d+)\.attn\.norm_added_q\.weight$", r"double_blocks.\1.txt_attn.norm.query_norm.scale"),
    (r"^transformer_blocks\.(\d+)\.attn\.norm_added_k\.weight$", r"double_blocks.\1.txt_attn.norm.key_norm.scale"),
    (r"^transformer_blocks\.(\d+)\.attn\.to_out\.0\.", r"double_blocks.\1.img_attn.proj."),
    (r"^transformer_blocks\.(\d+)\.attn\.to_add_out\.", r"double_blocks.\1.txt_attn.proj."),
    (r"^transformer_blocks\.(\d+)\.ff\.net\.0\.proj\.", r"double_blocks.\1.img_mlp.0."),
    (r"^transformer_blocks\.(\d+)\.ff\.net\.2\.", r"double_blocks.\1.img_mlp.2."),
    (r"^transformer_blocks\.(\d+)\.ff_context\.net\.0\.proj\.", r"double_blocks.\1.txt_mlp.0."),
    (r"^transformer_blocks\.(\d+)\.ff_context\.net\.2\.", r"double_blocks.\1.txt_mlp.2."),
    (r"^single_transformer_blocks\.(\d+)\.attn\.norm_q\.weight$", r"single_blocks.\1.norm.query_norm.scale"),
    (r"^single_transformer_blocks\.(\d+)\.attn\.norm_k\.weight$", r"single_blocks.\1.norm.key_norm.scale"),
    (r"^single_transformer_blocks\.(\d+)\.norm\.linear\.", r"single_blocks.\1.modulation.lin."),
    (r"^single_transformer_blocks\.(\d+)\.proj_out\.", r"single_blocks.\1.linear2."),
    (r"^proj_out\.", "final_layer.linear."),
    (r"^(clean_x_embedder|image_projection)\.", r"\1."),
)]

#: Diffusers projections that ComfyUI stores fused (concatenated on the output dim, in this order).
_FUSED = [(re.compile(p), parts, target) for p, parts, target in (
    (r"^context_embedder\.token_refiner\.refiner_blocks\.(\d+)\.", ("attn.to_q", "attn.to_k", "attn.to_v"),
     "txt_in.individual_token_refiner.blocks.{}.self_attn.qkv"),
    (r"^transformer_blocks\.(\d+)\.", ("attn.to_q", "attn.to_k", "attn.to_v"), "double_blocks.{}.img_attn.qkv"),
    (r"^transformer_blocks\.(\d+)\.", ("attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj"), "double_blocks.{}.txt_attn.qkv"),
    (r"^single_transformer_blocks\.(\d+)\.", ("attn.to_q", "attn.to_k", "attn.to_v", "proj_mlp"), "single_blocks.{}.linear1"),
)]


def diffusers_to_comfy(sd: dict) -> dict:
    """Convert FramePack's diffusers key names (the released files) to ComfyUI's HunyuanVideo layout.

    Renames, fuses q/k/v (and the single blocks' MLP input) into ComfyUI's ``qkv``/``linear1``,
    and swaps the halves of ``norm_out.linear`` (diffusers ``scale, shift`` → ComfyUI ``shift, scale``).
    Raises ``ValueError`` for keys it does not know.
    """
    sd = dict(sd)
    out = {}
    for pattern, parts, target in _FUSED:
        groups = {}
        for key in list(sd):
            m = pattern.match(key)
            if not m:
                continue
            rest = key[m.end():]
            for i, part in enumerate(parts):
                if rest in (part + ".weight", part + ".bias"):
                    groups.setdefault((m.group(1), rest.rsplit(".", 1)[1]), {})[i] = sd.pop(key)
        for (block, param), pieces in groups.items():
            if len(pieces) != len(parts):
                raise ValueError(f"FramePack checkpoint: block {block} lacks some of {parts} ({param})")
            out[f"{target.format(block)}.{param}"] = torch.cat([pieces[i] for i in range(len(parts))], dim=0)
    for param in ("weight", "bias"):
        t = sd.pop(f"norm_out.linear.{param}", None)
        if t is not None:
            scale, shift = t.chunk(2, dim=0)
            out[f"final_layer.adaLN_modulation.1.{param}"] = torch.cat([shift, scale], dim=0)
    unknown = []
    for key, value in sd.items():
        for pattern, repl in _RENAMES:
            if pattern.match(key):
                out[pattern.sub(repl, key)] = value
                break
        else:
            unknown.append(key)
    if unknown:
        raise ValueError(f"FramePack checkpoint: unknown keys {unknown[:8]}{' …' if len(unknown) > 8 else ''}")
    return out


def _strip_prefix(sd: dict) -> dict:
    """Drop a checkpoint-wide key prefix (``model.diffusion_model.``, ``diffusion_model.``, ``transformer.``)
    when most keys carry it, keeping only those keys (``comfy.utils.state_dict_prefix_replace``)."""
    for prefix in ("model.diffusion_model.", "diffusion_model.", "transformer."):
        if sum(k.startswith(prefix) for k in sd) > len(sd) // 2:
            return comfy.utils.state_dict_prefix_replace(sd, {prefix: ""}, filter_keys=True)
    return sd


def framepack_layout(sd: dict) -> str:
    """``"diffusers"`` or ``"comfy"`` for a FramePack state dict (prefix already stripped)."""
    if "x_embedder.proj.weight" in sd or any(k.startswith("transformer_blocks.") for k in sd):
        return "diffusers"
    return "comfy"


def is_framepack(sd: dict) -> bool:
    """True when a state dict (prefix stripped, either layout) has FramePack's own keys (clean-latent
    embedders and the image projection), which plain HunyuanVideo checkpoints lack."""
    return all(k in sd for k in FRAMEPACK_MARKERS)


def load_framepack_state_dict(sd: dict, model_options: dict | None = None, name: str = "model"):
    """Build a FramePack MODEL (ModelPatcher) from a state dict in the diffusers or ComfyUI layout.

    Dtype handling follows core's ``load_diffusion_model_state_dict`` (``model_options``: ``dtype``,
    ``custom_operations``, ``fp8_optimizations``). Raises :class:`InertiaInputError` when the file is
    not a FramePack checkpoint, and ``ValueError`` when FramePack weights are missing.
    """
    model_options = model_options or {}
    sd = _strip_prefix(sd)
    if not is_framepack(sd):
        plain_hy = "txt_in.individual_token_refiner.blocks.0.norm1.weight" in sd or "context_embedder.proj_in.weight" in sd
        raise InertiaInputError(
            "model_name", name,
            "pick a FramePack transformer (FramePackI2V_HY or FramePack_F1_I2V_HY, e.g. FramePackI2V_HY_bf16.safetensors) "
            "from models/diffusion_models; load other models with Load Diffusion Model",
            "is a plain HunyuanVideo checkpoint, not FramePack (no clean_x_embedder / image_projection weights)"
            if plain_hy else "is not a FramePack checkpoint (no clean_x_embedder / image_projection weights)")
    if framepack_layout(sd) == "diffusers":
        sd = diffusers_to_comfy(sd)
    scaled_fp8 = sd.pop("scaled_fp8", None)
    unet_config = comfy.model_detection.detect_unet_config(sd, "")
    if not unet_config or unet_config.get("image_model") != "hunyuan_video":
        raise InertiaInputError("model_name", name, "pick a FramePack HunyuanVideo transformer",
                                "has FramePack keys but no HunyuanVideo transformer")
    unet_config["image_proj_dim"] = int(sd["image_projection.up.weight"].shape[1])
    model_config = FramePackConfig(unet_config)
    if scaled_fp8 is not None:
        model_config.scaled_fp8 = torch.float8_e4m3fn if scaled_fp8.dtype == torch.float32 else scaled_fp8.dtype
        model_config.optimizations["fp8"] = scaled_fp8.nelement() != 2

    load_device = mm.get_torch_device()
    offload_device = mm.unet_offload_device()
    weight_dtype = None if model_config.scaled_fp8 is not None else comfy.utils.weight_dtype(sd)
    unet_dtype = model_options.get("dtype") or mm.unet_dtype(
        model_params=comfy.utils.calculate_parameters(sd), supported_dtypes=list(model_config.supported_inference_dtypes),
        weight_dtype=weight_dtype)
    manual_cast = mm.unet_manual_cast(unet_dtype, load_device, model_config.supported_inference_dtypes)
    model_config.set_inference_dtype(unet_dtype, manual_cast)
    model_config.custom_operations = model_options.get("custom_operations", model_config.custom_operations)
    if model_options.get("fp8_optimizations", False):
        model_config.optimizations["fp8"] = True

    model = model_config.get_model(sd, "")
    expected = set(model.diffusion_model.state_dict().keys())
    missing = sorted(k for k in expected - set(sd) if not k.endswith(("scale_weight", "scale_input")))
    if missing:
        raise ValueError(f"FramePack checkpoint {name}: missing weights {missing[:8]}{' …' if len(missing) > 8 else ''}")
    extra = sorted(set(sd) - expected)
    if extra:
        log.warning("FramePack: %s has unused keys %s", name, extra[:8])
    model.framepack_variant = "f1" if re.search(r"(^|[^a-z0-9])f1([^a-z0-9]|$)", name, re.I) else "i2v"
    model = model.to(offload_device)
    model.load_model_weights(sd, "")
    return comfy.model_patcher.ModelPatcher(model, load_device=load_device, offload_device=offload_device)


def is_framepack_model(model) -> bool:
    """True when a MODEL (ModelPatcher) wraps :class:`FramePackHunyuanVideo`."""
    return isinstance(model.get_model_object("diffusion_model"), FramePackHunyuanVideo)


# ====================================================================================== nodes

WEIGHT_DTYPES = ("default", "fp8_e4m3fn", "fp8_e4m3fn_fast", "fp8_e5m2")


class FramePackModelLoader(io.ComfyNode):
    """Load FramePackI2V_HY / FramePack_F1_I2V_HY from models/diffusion_models as a ComfyUI MODEL."""

    @classmethod
    def define_schema(cls):
        import folder_paths

        return io.Schema(
            node_id="FramePackModelLoader",
            display_name="Load FramePack Model",
            category="Inertia/FramePack",
            description=(
                "Loads a FramePack transformer (FramePackI2V_HY, FramePack_F1_I2V_HY; diffusers or ComfyUI key "
                "names, bf16 or fp8) from models/diffusion_models as a native ComfyUI MODEL. LoRAs, model "
                "patches and wrappers apply to it like to any model. Text: HunyuanVideo text encoders "
                "(DualCLIPLoader type hunyuan_video); image: SigLIP via CLIPVisionLoader; VAE: HunyuanVideo VAE."),
            inputs=[
                io.Combo.Input("model_name", options=folder_paths.get_filename_list("diffusion_models"),
                               tooltip="A FramePack transformer in models/diffusion_models. Any other model is rejected."),
                io.Combo.Input("weight_dtype", options=list(WEIGHT_DTYPES), default="default",
                               tooltip="Weight storage dtype, as in core's Load Diffusion Model. fp8 halves memory."),
            ],
            outputs=[io.Model.Output(display_name="model", tooltip="The FramePack model (ModelPatcher).")],
        )

    @classmethod
    def execute(cls, model_name, weight_dtype="default") -> io.NodeOutput:
        import folder_paths

        options = {}
        if weight_dtype in ("fp8_e4m3fn", "fp8_e4m3fn_fast"):
            options["dtype"] = torch.float8_e4m3fn
            options["fp8_optimizations"] = weight_dtype.endswith("fast")
        elif weight_dtype == "fp8_e5m2":
            options["dtype"] = torch.float8_e5m2
        path = folder_paths.get_full_path_or_raise("diffusion_models", model_name)
        sd = comfy.utils.load_torch_file(path)
        return io.NodeOutput(load_framepack_state_dict(sd, options, name=model_name))


# ---------------------------------------------------------------------------------- conditioning

def _stamp(conditioning, start: float, end: float | None):
    import node_helpers

    values = {START_KEY: float(start)}
    if end is not None:
        values[END_KEY] = float(end)
    return node_helpers.conditioning_set_values(conditioning, values)


class FramePackTimestampedTextEncode(io.ComfyNode):
    """Text with ``[Xs: prompt]`` stamps → CONDITIONING whose entries carry their start times."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="FramePackTimestampedTextEncode",
            display_name="FramePack Timestamped Prompt",
            category="Inertia/FramePack",
            description=(
                "Encodes a prompt per time range for the FramePack Section Sampler: "
                "'[0s: a cat walks] [2s: the cat jumps] [4s-5s: it rolls]'. A prompt runs from its time until "
                "the next one; a range [Xs-Ys: …] is an insert, after it the prompt before it resumes. Text before "
                "the first stamp starts at 0 s; text with no stamp is one prompt. Times must increase."),
            inputs=[
                io.Clip.Input("clip", tooltip="HunyuanVideo text encoders (DualCLIPLoader, type hunyuan_video)."),
                io.String.Input("text", multiline=True, default="[0s: ]",
                                tooltip="Prompts with [Xs: …] or [Xs-Ys: …] stamps, in seconds of the output video."),
            ],
            outputs=[io.Conditioning.Output(display_name="conditioning",
                                            tooltip="One entry per prompt, tagged with its time range.")],
        )

    @classmethod
    def execute(cls, clip, text) -> io.NodeOutput:
        spans = fs.parse_timestamped_prompts(text)
        out = []
        for span in spans:
            out += _stamp(clip.encode_from_tokens_scheduled(clip.tokenize(span.text)), span.start, span.end)
        summary = "; ".join(f"{s.start:g}s{'' if s.end is None else f'-{s.end:g}s'}: {s.text[:40]}" for s in spans)
        return io.NodeOutput(out, ui=ui.PreviewText(summary))


class FramePackConditioningAt(io.ComfyNode):
    """Tag a CONDITIONING with the time it starts (combine several with Conditioning (Combine))."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="FramePackConditioningAt",
            display_name="FramePack Prompt At Time",
            category="Inertia/FramePack",
            description=("Marks a prompt to start at a time of the FramePack video. Chain several with "
                         "Conditioning (Combine), in time order, into the sampler's positive input."),
            inputs=[
                io.Conditioning.Input("conditioning", tooltip="The prompt (CLIPTextEncode output)."),
                io.Float.Input("start_seconds", default=0.0, min=0.0, max=1200.0, step=0.1,
                               tooltip="Second of the output video where this prompt takes over."),
                io.Float.Input("end_seconds", default=0.0, min=0.0, max=1200.0, step=0.1,
                               tooltip="Optional end (seconds); 0 = until the next prompt."),
            ],
            outputs=[io.Conditioning.Output(display_name="conditioning", tooltip="The tagged conditioning.")],
        )

    @classmethod
    def execute(cls, conditioning, start_seconds, end_seconds=0.0) -> io.NodeOutput:
        end = None if end_seconds <= 0 else end_seconds
        fs.check_span_order([fs.PromptSpan(start_seconds, end, "")], "end_seconds")
        return io.NodeOutput(_stamp(conditioning, start_seconds, end))


def prompt_groups(positive) -> tuple[list[fs.PromptSpan], list[list]]:
    """Split a CONDITIONING into timed prompts: entries with equal stamps form one prompt.

    Entries without a stamp start at 0 s. No stamps at all: one prompt, the whole conditioning.
    Raises :class:`InertiaInputError` when stamps are out of order.
    """
    if not any(START_KEY in e[1] for e in positive):
        return [fs.PromptSpan(0.0, None, "")], [list(positive)]
    spans, groups = [], []
    for entry in positive:
        key = (float(entry[1].get(START_KEY, 0.0)), entry[1].get(END_KEY))
        if spans and (spans[-1].start, spans[-1].end) == key:
            groups[-1].append(entry)
        else:
            spans.append(fs.PromptSpan(key[0], key[1], ""))
            groups.append([entry])
    fs.check_span_order(spans, "positive")
    return spans, groups


def blend_conditioning(a: list, b: list, alpha: float) -> list:
    """Mix two one-entry prompts, ``(1−α)a + αb``: tokens ``[1, L, 4096]`` (shorter zero-padded), and
    ``pooled_output`` ``[1, 768]``; a text ``attention_mask`` ``[1, L]`` becomes the union of both (padded
    positions masked). Other keys come from the nearer prompt.

    Raises:
        InertiaInputError: a prompt group with more than one entry (Conditioning Combine): blend one-entry prompts.
    """
    for name, group in (("positive", a), ("positive", b)):
        if len(group) != 1:
            raise InertiaInputError(name, f"{len(group)} entries at one time", "blend one-entry prompts: give each "
                                    "timed prompt its own text encode instead of Conditioning (Combine)",
                                    "cannot be blended between sections")
    (ta, da), (tb, db) = a[0], b[0]
    d = dict(db if alpha >= 0.5 else da)
    if da.get("pooled_output") is not None and db.get("pooled_output") is not None:
        d["pooled_output"] = torch.lerp(da["pooled_output"].float(), db["pooled_output"].float(), alpha).to(da["pooled_output"].dtype)
    tokens = fs.blend_tokens(ta, tb, alpha)
    ma, mb = da.get("attention_mask"), db.get("attention_mask")
    if ma is not None or mb is not None:
        n = tokens.shape[1]
        pad = lambda m, t: (torch.ones(t.shape[:2], dtype=torch.long) if m is None else m).reshape(1, -1)  # noqa: E731
        ma, mb = pad(ma, ta), pad(mb, tb)
        d["attention_mask"] = torch.maximum(torch.nn.functional.pad(ma, (0, n - ma.shape[1])),
                                            torch.nn.functional.pad(mb, (0, n - mb.shape[1]))).to(ma.dtype)
    return [[tokens, d]]


def _zero_conditioning(cond: list) -> list:
    out = []
    for t, d in cond:
        extra = {"pooled_output": torch.zeros_like(d["pooled_output"])} if d.get("pooled_output") is not None else {}
        out.append([torch.zeros_like(t), extra])
    return out


# ---------------------------------------------------------------------------------- sampler

class _FlowSampling(comfy.model_sampling.ModelSamplingDiscreteFlow, comfy.model_sampling.CONST):
    """Flow-matching model sampling at a chosen shift (what ModelSamplingSD3 installs)."""


def _check_start(start_latent):
    start = start_latent["samples"] if isinstance(start_latent, dict) else start_latent
    fs.check_latent_size("start_latent", start)
    if start.shape[2] != 1:
        raise InertiaInputError("start_latent", f"{start.shape[2]} latent frames",
                                "VAE-encode a single image (one latent frame) as the start frame",
                                "has more than one frame")
    return start


def _image_embeds(clip_vision_output, name):
    if clip_vision_output is None:
        return None
    emb = getattr(clip_vision_output, "last_hidden_state", None)
    if emb is None:
        raise InertiaInputError(name, type(clip_vision_output).__name__,
                                "connect CLIP Vision Encode with the SigLIP model (sigclip_vision_patch14_384)",
                                "has no last_hidden_state")
    return emb


class FramePackSectionSampler(io.ComfyNode):
    """Sample a FramePack video section by section with ComfyUI's guider and samplers."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="FramePackSectionSampler",
            display_name="FramePack Section Sampler",
            category="Inertia/FramePack",
            description=(
                "FramePack image-to-video (lllyasviel/FramePack) on ComfyUI's own sampling: every section is "
                "sampled by a CFGGuider with a ComfyUI sampler, so LoRAs, model patches (Relaxation CFG, "
                "attention patches), wrappers and previews apply. inverted: the original anti-drifting order "
                "(last section first, start image as the anchor, optional end frame). f1: FramePack-F1 forward "
                "order (use the F1 checkpoint). Output: the whole video latent, decode with VAE Decode (Tiled)."),
            inputs=[
                io.Model.Input("model", tooltip="A FramePack MODEL (Load FramePack Model). It is cloned, never changed."),
                io.Conditioning.Input("positive", tooltip="The prompt; several timed prompts from FramePack "
                                      "Timestamped Prompt or Prompt At Time + Conditioning (Combine)."),
                io.ClipVisionOutput.Input("clip_vision_output", tooltip="SigLIP image embeddings of the start image "
                                          "(CLIPVisionLoader sigclip_vision_patch14_384 + CLIP Vision Encode)."),
                io.Latent.Input("start_latent", tooltip="The start image, VAE-encoded (HunyuanVideo VAE), one latent "
                                "frame; width and height multiples of 32 px (FramePack buckets)."),
                io.Float.Input("total_seconds", default=5.0, min=0.1, max=120.0, step=0.1,
                               tooltip="Video length in seconds at 30 fps; rounded to whole sections of ws·4/30 s."),
                io.Int.Input("latent_window_size", default=9, min=1, max=33,
                             tooltip="Latent frames per section (9 = 33 pixel frames, what FramePack was trained with)."),
                io.Int.Input("steps", default=25, min=1, max=200, tooltip="Sampling steps per section."),
                io.Float.Input("distilled_guidance", default=10.0, min=0.0, max=100.0, step=0.1,
                               tooltip="FramePack's distilled (embedded) guidance, 'gs' in the original (10)."),
                io.Float.Input("cfg", default=1.0, min=0.0, max=100.0, step=0.1,
                               tooltip="Real CFG; 1 = off (the original's default, one model call per step)."),
                io.Float.Input("shift", default=0.0, min=0.0, max=100.0, step=0.01,
                               tooltip="Flow shift of the sigma schedule; 0 = keep a ModelSamplingSD3 patched upstream, else "
                                       "FramePack's automatic rule (≈7 at 640 px). > 0 overrides both."),
                io.Int.Input("seed", default=31337, min=0, max=0xFFFFFFFFFFFFFFFF, control_after_generate=True,
                             tooltip="Noise seed; one CPU generator for all sections, as the original."),
                io.Combo.Input("sampler_name", options=list(comfy.samplers.SAMPLER_NAMES), default="uni_pc",
                               tooltip="ComfyUI sampler (FramePack uses UniPC = uni_pc)."),
                io.Combo.Input("mode", options=list(fs.MODES), default="inverted",
                               tooltip="inverted: anti-drifting, sections last-to-first (FramePackI2V_HY). "
                                       "f1: forward sections (FramePack_F1_I2V_HY)."),
                io.Conditioning.Input("negative", optional=True,
                                      tooltip="Negative prompt, used when cfg ≠ 1. Default: zeros, as the original."),
                io.Latent.Input("end_latent", optional=True,
                                tooltip="Optional end image, VAE-encoded like the start. inverted: the context after the "
                                        "last section; f1: an extra clean frame after the last section (extension)."),
                io.ClipVisionOutput.Input("end_clip_vision_output", optional=True,
                                          tooltip="Optional SigLIP embeddings of the end image; the image tokens then "
                                                  "move linearly from start to end image across the sections."),
                io.Sampler.Input("sampler", optional=True, tooltip="Optional SAMPLER (KSamplerSelect…); overrides sampler_name."),
                io.Int.Input("prompt_blend_sections", default=0, min=0, max=10, optional=True,
                             tooltip="With timed prompts: number of sections before each change that blend from the "
                                     "old prompt to the new one."),
            ],
            outputs=[io.Latent.Output(display_name="samples",
                                      tooltip="The whole video latent [B,16,1+N·ws,H,W] (start frame first).")],
        )

    @classmethod
    def execute(cls, model, positive, clip_vision_output, start_latent, total_seconds, latent_window_size, steps,
                distilled_guidance, cfg, shift, seed, sampler_name="uni_pc", mode="inverted", negative=None,
                end_latent=None, end_clip_vision_output=None, sampler=None, prompt_blend_sections=0) -> io.NodeOutput:
        video, text = sample_framepack(
            model, positive, clip_vision_output, start_latent, total_seconds, latent_window_size, steps,
            distilled_guidance, cfg, shift, seed, sampler_name, mode, negative, end_latent, end_clip_vision_output,
            sampler, prompt_blend_sections)
        return io.NodeOutput({"samples": video}, ui=ui.PreviewText(text))


@torch.no_grad()
def sample_framepack(model, positive, clip_vision_output, start_latent, total_seconds, latent_window_size, steps,
                     distilled_guidance, cfg, shift, seed, sampler_name="uni_pc", mode="inverted", negative=None,
                     end_latent=None, end_clip_vision_output=None, sampler=None, prompt_blend_sections=0):
    """The section loop. Returns ``(video [B,16,1+N·ws,H,W] float32 LATENT space, summary text)``.

    Raises :class:`InertiaInputError` for: a non-FramePack model, a start/end latent off the 32-px
    bucket grid, ``latent_window_size`` < 1, ``total_seconds`` ≤ 0, timestamps out of order.
    """
    import latent_preview
    import node_helpers

    if not is_framepack_model(model):
        raise InertiaInputError("model", type(model.get_model_object("diffusion_model")).__name__,
                                "load the model with Load FramePack Model", "is not a FramePack model")
    if mode not in fs.MODES:
        raise InertiaInputError("mode", mode, f"use one of {fs.MODES}")
    ws = fs.check_window(latent_window_size)
    n = fs.section_count(total_seconds, ws)
    start = _check_start(start_latent).float().cpu()
    b, _, _, h, w = start.shape
    end = None
    if end_latent is not None:
        end = (end_latent["samples"] if isinstance(end_latent, dict) else end_latent).float().cpu()
        if tuple(fs.check_latent_size("end_latent", end)) != (h, w):
            raise InertiaInputError("end_latent", f"{end.shape[-1] * 8}x{end.shape[-2] * 8} px",
                                    f"encode the end image at the start image's size ({w * 8}x{h * 8} px)",
                                    "differs in size from start_latent")
    start_emb = _image_embeds(clip_vision_output, "clip_vision_output")
    end_emb = _image_embeds(end_clip_vision_output, "end_clip_vision_output")
    spans, groups = prompt_groups(positive)
    prompt_w = fs.section_prompt_weights(spans, n, ws, prompt_blend_sections or 0)
    end_w = fs.end_embed_weights(n) if end_emb is not None else [0.0] * n

    variant = getattr(model.model, "framepack_variant", "unknown")
    if (variant == "f1") != (mode == "f1") and variant != "unknown":
        log.warning("FramePack: mode '%s' with a %s checkpoint; FramePack-F1 wants mode f1, FramePackI2V inverted",
                    mode, variant)

    m = model.clone()
    if shift and shift > 0:
        shift_used = float(shift)
        if "model_sampling" in model.object_patches:
            log.warning("FramePack: shift %g overrides the model_sampling patched upstream (e.g. ModelSamplingSD3)", shift_used)
    elif "model_sampling" in model.object_patches and isinstance(model.get_model_object("model_sampling"),
                                                                 comfy.model_sampling.CONST):
        shift_used = float(model.get_model_object("model_sampling").shift)  # shift 0: keep the upstream patch
        log.info("FramePack: shift 0 keeps the upstream model_sampling (shift %g)", shift_used)
    else:
        shift_used = fs.auto_shift(ws, h, w)
    ms = _FlowSampling(m.model.model_config)
    ms.set_parameters(shift=shift_used, multiplier=1000)
    m.add_object_patch("model_sampling", ms)
    sigmas = ms.sigma(torch.linspace(1.0, 0.0, steps + 1) * 1000.0).float()
    smp = sampler if sampler is not None else comfy.samplers.sampler_object(sampler_name)
    guider = comfy.samplers.CFGGuider(m)
    guider.set_cfg(cfg)

    plans = fs.plan_sections(n, ws, mode, has_end=end is not None)
    total = fs.video_latent_frames(n, ws)
    video = torch.zeros((b, 16, total, h, w), dtype=torch.float32)
    video[:, :, :1] = start
    generator = torch.Generator("cpu").manual_seed(int(seed))
    progress = latent_preview.prepare_callback(m, n * steps)
    disable_pbar = not comfy.utils.PROGRESS_BAR_ENABLED

    def long_rows(ix):
        return torch.tensor([list(ix)], dtype=torch.long).expand(b, -1).contiguous()

    for plan in plans:
        mm.throw_exception_if_processing_interrupted()
        emb = start_emb
        if end_emb is not None and end_w[plan.index] > 0:
            emb = fs.blend_tokens(start_emb, end_emb, end_w[plan.index])
        pack = {
            "clean_latents": fs.gather_frames(video, plan.clean_sources, end),
            "clean_latents_2x": fs.gather_frames(video, plan.clean_2x_sources, end),
            "clean_latents_4x": fs.gather_frames(video, plan.clean_4x_sources, end),
            "latent_indices": long_rows(plan.latent_indices),
            "clean_latent_indices": long_rows(plan.clean_indices),
            "clean_latent_2x_indices": long_rows(plan.clean_2x_indices),
            "clean_latent_4x_indices": long_rows(plan.clean_4x_indices),
            IMAGE_KEY: emb,
        }
        weights = prompt_w[plan.index]
        pos = groups[weights[0][0]] if len(weights) == 1 else blend_conditioning(groups[weights[0][0]], groups[weights[1][0]], weights[1][1])
        neg = negative if negative is not None else _zero_conditioning(pos)
        values = {COND_KEY: pack, "guidance": float(distilled_guidance)}
        guider.set_conds(node_helpers.conditioning_set_values(pos, values),
                         node_helpers.conditioning_set_values(neg, values))
        noise = torch.randn((b, 16, ws, h, w), generator=generator, dtype=torch.float32)
        offset = plan.step * steps

        def callback(step, x0, x, total_steps, offset=offset):
            progress(offset + step, x0, x, n * steps)

        # Section facts for model patches (FramePackHistoryControls): in transformer_options, so every
        # wrapper / attention override of this guider.sample call sees them (``SECTION_KEY`` doc).
        guider.model_options.setdefault("transformer_options", {})[SECTION_KEY] = {
            "index": plan.index, "step": plan.step, "count": n, "mode": mode, "latent_window_size": ws,
            "total_seconds": float(total_seconds),
            "clean_roles": tuple("start" if i == 0 else "end" if s == fs.END else "history"
                                 for i, s in enumerate(plan.clean_sources))}
        log.info("FramePack %s: section %d/%d (video latent frames %d-%d, padding %d)", mode, plan.step + 1, n,
                 plan.out_start, plan.out_stop - 1, plan.padding)
        out = guider.sample(noise, torch.zeros_like(noise), smp, sigmas, callback=callback, disable_pbar=disable_pbar,
                            seed=int(seed))
        video[:, :, plan.out_start:plan.out_stop] = out.float().cpu()

    px = 4 * (total - 1) + 1
    text = (f"FramePack {mode}: {n} section(s) x {ws} latent frames = {total} latent / {px} pixel frames "
            f"({px / fs.FPS:.2f} s at {fs.FPS} fps); shift {shift_used:.3g}{'' if shift else ' (upstream or auto)'}, "
            f"{steps} steps, distilled guidance {distilled_guidance:g}, cfg {cfg:g}")
    log.info(text)
    return video, text


NODES = [FramePackModelLoader, FramePackSectionSampler, FramePackTimestampedTextEncode, FramePackConditioningAt]
