"""Tensor logic on ComfyUI CONDITIONING lists: blending two prompts, the all-zero negative.

A CONDITIONING is a list of ``[tokens, dict]`` entries: ``tokens [B, L, C]`` (HunyuanVideo text:
``C = 4096``) and a dict with optional ``pooled_output [B, 768]`` and ``attention_mask [B, L]`` (the
layout core ComfyUI's ``CLIP.encode_from_tokens_scheduled`` returns). Used by the FramePack section
sampler (``nodes/framepack_sampler.py``) for timed prompts and the default negative of
lllyasviel/FramePack (zeros when cfg = 1), and to refuse conditioning from the wrong encoder family
(FramePack is HunyuanVideo: LLaVA-LLaMA-3 tokens + CLIP-L pooled text, SigLIP so400m image tokens).

No ComfyUI imports: torch only.
"""

from __future__ import annotations

import torch

from .errors import InertiaInputError
from .framepack_schedule import blend_tokens


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
    tokens = blend_tokens(ta, tb, alpha)
    ma, mb = da.get("attention_mask"), db.get("attention_mask")
    if ma is not None or mb is not None:
        n = tokens.shape[1]
        pad = lambda m, t: (torch.ones(t.shape[:2], dtype=torch.long) if m is None else m).reshape(1, -1)  # noqa: E731
        ma, mb = pad(ma, ta), pad(mb, tb)
        d["attention_mask"] = torch.maximum(torch.nn.functional.pad(ma, (0, n - ma.shape[1])),
                                            torch.nn.functional.pad(mb, (0, n - mb.shape[1]))).to(ma.dtype)
    return [[tokens, d]]


def zero_conditioning(cond: list) -> list:
    """An all-zero copy of a CONDITIONING: per entry ``zeros_like(tokens)`` and, when the entry has one,
    a zero ``pooled_output``; every other key is dropped (the negative lllyasviel/FramePack uses at cfg 1)."""
    out = []
    for t, d in cond:
        extra = {"pooled_output": torch.zeros_like(d["pooled_output"])} if d.get("pooled_output") is not None else {}
        out.append([torch.zeros_like(t), extra])
    return out



#: Which text encoders FramePack needs, for messages.
HUNYUAN_TEXT_FIX = ("encode the prompt with the HunyuanVideo text encoders: DualCLIPLoader type hunyuan_video "
                    "(clip_l.safetensors + llava_llama3_fp16.safetensors) into CLIP Text Encode")
#: Which image encoder FramePack needs, for messages.
SIGLIP_FIX = ("encode the image with SigLIP: Load CLIP Vision sigclip_vision_patch14_384.safetensors into "
              "CLIP Vision Encode")
#: Token widths of other image encoders users connect by mistake (name shown in the message).
OTHER_VISION_WIDTHS = {1280: "CLIP-H (e.g. clip_vision_h, the Wan / SD image encoder)", 1024: "CLIP-L",
                       768: "CLIP-B / CLIP-L projection"}


def check_hunyuan_text(name: str, cond, context_dim: int = 4096, pooled_dim: int = 768) -> None:
    """Refuse a CONDITIONING that is not HunyuanVideo text (what FramePack was trained on).

    Every entry must be ``[tokens [B, L, context_dim], {"pooled_output": [B, pooled_dim], …}]``:
    LLaVA-LLaMA-3 hidden states plus the CLIP-L pooled vector (core ``comfy/text_encoders/hunyuan_video.py``).
    Wan's umt5-xxl text has the same token width but no ``pooled_output``.

    Raises:
        InertiaInputError (input ``name``): not a list of entries, empty, tokens of another shape,
            or no / a differently sized ``pooled_output``; the fix names the HunyuanVideo encoders.
    """
    if not isinstance(cond, (list, tuple)) or not cond:
        raise InertiaInputError(name, type(cond).__name__ if not isinstance(cond, (list, tuple)) else "[]",
                                HUNYUAN_TEXT_FIX, "is not a CONDITIONING with at least one prompt")
    for k, entry in enumerate(cond):
        if not (isinstance(entry, (list, tuple)) and len(entry) == 2 and torch.is_tensor(entry[0])
                and isinstance(entry[1], dict)):
            raise InertiaInputError(name, f"entry {k}: {type(entry).__name__}", HUNYUAN_TEXT_FIX,
                                    "is not a CONDITIONING entry [tokens, options]")
        tokens, extra = entry
        if tokens.ndim != 3 or tokens.shape[-1] != context_dim:
            raise InertiaInputError(name, f"tokens of shape {tuple(tokens.shape)}", HUNYUAN_TEXT_FIX,
                                    f"is not HunyuanVideo text (tokens [B, L, {context_dim}])")
        pooled = extra.get("pooled_output")
        if pooled is None:
            raise InertiaInputError(name, f"tokens {tuple(tokens.shape)}, no pooled_output", HUNYUAN_TEXT_FIX,
                                    "comes from another text encoder (e.g. Wan's umt5-xxl): it has no CLIP-L "
                                    "pooled_output, which FramePack needs")
        if not torch.is_tensor(pooled) or pooled.shape[-1] != pooled_dim:
            shape = tuple(pooled.shape) if torch.is_tensor(pooled) else type(pooled).__name__
            raise InertiaInputError(name, f"pooled_output {shape}", HUNYUAN_TEXT_FIX,
                                    f"is not HunyuanVideo text (CLIP-L pooled_output [B, {pooled_dim}])")


def check_siglip_tokens(name: str, tokens, width: int = 1152):
    """Check SigLIP image tokens ``[B, N, width]`` (``last_hidden_state`` of sigclip_vision_patch14_384,
    ``width`` 1152) and return them; CLIP-H (1280) and other encoders are refused by name.

    Raises:
        InertiaInputError (input ``name``): not a ``[B, N, C]`` tensor, ``C ≠ width``, or not finite.
    """
    if not torch.is_tensor(tokens) or tokens.ndim != 3:
        what = f"shape {tuple(tokens.shape)}" if torch.is_tensor(tokens) else type(tokens).__name__
        raise InertiaInputError(name, what, SIGLIP_FIX, "is not a sequence of image tokens [B, N, C]")
    c = int(tokens.shape[-1])
    if c != width:
        other = OTHER_VISION_WIDTHS.get(c)
        problem = (f"has image tokens {c} wide from {other}, but FramePack needs SigLIP's {width}" if other
                   else f"has image tokens {c} wide, but FramePack needs SigLIP's {width}")
        raise InertiaInputError(name, f"last_hidden_state {tuple(tokens.shape)}", SIGLIP_FIX, problem)
    if not bool(torch.isfinite(tokens).all()):
        raise InertiaInputError(name, f"last_hidden_state {tuple(tokens.shape)}", SIGLIP_FIX + " (check the image)",
                                "contains NaN or inf")
    return tokens
