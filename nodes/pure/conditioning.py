"""Tensor logic on ComfyUI CONDITIONING lists: blending two prompts, the all-zero negative.

A CONDITIONING is a list of ``[tokens, dict]`` entries: ``tokens [B, L, C]`` (HunyuanVideo text:
``C = 4096``) and a dict with optional ``pooled_output [B, 768]`` and ``attention_mask [B, L]`` (the
layout core ComfyUI's ``CLIP.encode_from_tokens_scheduled`` returns). Used by the FramePack section
sampler (``nodes/framepack_sampler.py``) for timed prompts and the default negative of
lllyasviel/FramePack (zeros when cfg = 1).

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

