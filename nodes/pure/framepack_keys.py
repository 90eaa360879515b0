"""FramePack checkpoint keys: the released diffusers layout → ComfyUI's HunyuanVideo layout.

FramePack's transformers (lllyasviel/FramePack ``HunyuanVideoTransformer3DModelPacked``, released as
FramePackI2V_HY and FramePack_F1_I2V_HY in the diffusers key layout) are HunyuanVideo plus the
clean-latent embedders ``clean_x_embedder.proj/proj_2x/proj_4x`` and the SigLIP projection
``image_projection``. :func:`diffusers_to_comfy` renames the HunyuanVideo part to the key names of
core ComfyUI's ``comfy/ldm/hunyuan_video/model.py`` and fuses the projections ComfyUI stores fused;
:func:`is_framepack`, :func:`framepack_layout` and :func:`checkpoint_prefix` tell a loader what it
was given. The loading itself (dtype choice, ModelPatcher) is ComfyUI glue in ``nodes/framepack.py``.

No ComfyUI imports: torch only.
"""

from __future__ import annotations

import re

import torch

#: Keys that only a FramePack checkpoint has (diffusers and ComfyUI layouts alike).
FRAMEPACK_MARKERS = ("clean_x_embedder.proj.weight", "clean_x_embedder.proj_2x.weight",
                     "clean_x_embedder.proj_4x.weight", "image_projection.up.weight")
#: Checkpoint-wide key prefixes a loader strips (ComfyUI full checkpoints, bare diffusion models, diffusers).
CHECKPOINT_PREFIXES = ("model.diffusion_model.", "diffusion_model.", "transformer.")

#: Diffusers key patterns → ComfyUI names (first match wins).
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


def checkpoint_prefix(sd: dict) -> str | None:
    """The checkpoint-wide key prefix (one of :data:`CHECKPOINT_PREFIXES`, first match) that more than half
    of the keys carry, or ``None``. A loader then keeps only the keys with it, prefix dropped."""
    for prefix in CHECKPOINT_PREFIXES:
        if sum(k.startswith(prefix) for k in sd) > len(sd) // 2:
            return prefix
    return None


def framepack_layout(sd: dict) -> str:
    """``"diffusers"`` or ``"comfy"`` for a FramePack state dict (prefix already stripped)."""
    if "x_embedder.proj.weight" in sd or any(k.startswith("transformer_blocks.") for k in sd):
        return "diffusers"
    return "comfy"


def is_framepack(sd: dict) -> bool:
    """True when a state dict (prefix stripped, either layout) has FramePack's own keys (clean-latent
    embedders and the image projection), which plain HunyuanVideo checkpoints lack."""
    return all(k in sd for k in FRAMEPACK_MARKERS)
