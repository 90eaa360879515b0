"""TeaCache's skip rule: when a diffusion transformer's blocks may be skipped for a sampling step.

Source: Liu et al., "Timestep Embedding Tells: It's Time to Cache for Video Diffusion Model"
(TeaCache), arXiv 2411.19108, as the FramePack app (lllyasviel/FramePack) applies it to its packed
HunyuanVideo transformer. Glue (ComfyUI block patches): ``nodes/framepack_cache.py``.
No ComfyUI imports: torch only.

The rule, per model call of one sampling run (one FramePack section):

1. The *modulated input* ``m`` of the first transformer block, i.e. the block's normalised image
   tokens after its timestep modulation (``norm(img)·(1 + scale) + shift``), is compared with the
   one of the previous call: relative L1 change ``r = mean|m − m_prev| / mean|m_prev|``
   (:func:`relative_l1`).
2. ``r`` is mapped through a polynomial fitted between input change and output change for the
   model family (:func:`rescale`; :data:`HUNYUAN_VIDEO_COEFFICIENTS`, the HunyuanVideo fit that TeaCache
   publishes and FramePack uses) and accumulated.
3. While the accumulated value stays below ``rel_l1_thresh`` the blocks are skipped: the image
   tokens leaving the last block are the tokens entering the first block plus the *residual*
   (output − input of the block stack) of the last computed call. Reaching the threshold computes
   the blocks and resets the accumulator to 0.
4. The first call of a run and the call at the last sampling σ are always computed (accumulator
   reset): the original computes step 0 and step ``num_steps − 1`` of every section.

The rescaled change of this polynomial is at least 0.0521 for every ``r ≥ 0`` (its minimum, at
``r ≈ 0.0314``), so thresholds below that never skip, and at the original's 0.15 at most two calls
in a row are skipped.
"""

from __future__ import annotations

import dataclasses

import torch

#: Rescale polynomial of HunyuanVideo, highest power first (TeaCache's fit for HunyuanVideo; the
#: FramePack app uses it for FramePack, a HunyuanVideo fine-tune): change ``r`` → estimated output change.
HUNYUAN_VIDEO_COEFFICIENTS = (7.33226126e+02, -4.01131952e+02, 6.75869174e+01, -3.14987800e+00, 9.61237896e-02)
#: The FramePack app's default threshold ("0.15 for 2.1x speedup").
DEFAULT_REL_L1_THRESH = 0.15
#: Minimum of the HunyuanVideo rescale polynomial over r ≥ 0 (at r ≈ 0.0314): thresholds below never skip.
MIN_RESCALED_CHANGE = 0.05214


def rescale(rel_l1: float, coefficients=HUNYUAN_VIDEO_COEFFICIENTS) -> float:
    """The polynomial ``coefficients`` (highest power first) at ``rel_l1`` (Horner's scheme)."""
    acc = 0.0
    for c in coefficients:
        acc = acc * rel_l1 + c
    return acc


def relative_l1(current: torch.Tensor, previous: torch.Tensor) -> float:
    """``mean|current − previous| / mean|previous|``, accumulated in float32; ``inf`` when previous is all 0.

    Both tensors of the same shape (any layout, e.g. image tokens ``[B, N, hidden]``).
    """
    num = (current - previous).abs().mean(dtype=torch.float32)
    den = previous.abs().mean(dtype=torch.float32)
    d = float(den)
    return float("inf") if d == 0.0 else float(num) / d


@dataclasses.dataclass
class TeaCacheRule:
    """The accumulator of one stream of model calls (one sampling run of one batch of conds).

    ``rel_l1_thresh`` ≥ 0 (0 = compute always). :meth:`step` returns True when the blocks must be
    computed, False when the cached residual may be reused.
    """

    rel_l1_thresh: float
    coefficients: tuple = HUNYUAN_VIDEO_COEFFICIENTS
    accumulated: float = 0.0

    def step(self, rel_l1: float | None, force: bool = False) -> bool:
        """Account one call with input change ``rel_l1`` (None: nothing to compare with).

        ``force`` (first call, last σ) or ``rel_l1`` None computes and resets the accumulator.
        """
        if force or rel_l1 is None:
            self.accumulated = 0.0
            return True
        self.accumulated += rescale(rel_l1, self.coefficients)
        if self.accumulated >= self.rel_l1_thresh:
            self.accumulated = 0.0
            return True
        return False
