"""FramePack history-context controls against Static Death.

Pure math of FramePack History Controls (glue: ``nodes/framepack_controls.py``). Sources: FramePack's
packing (Zhang & Agrawala, "Packing Input Frame Context in Next-Frame Prediction Models for Video
Generation", arXiv 2504.12626; lllyasviel/FramePack ``hunyuan_video_packed.py``;
``nodes/pure/framepack_schedule.py``), whose compressed history keeps a subject's low-frequency presence;
the rule here low-passes older history more strongly, ``σ(k) = σ0·(1 + α·k)`` by history distance; and
DyMoS (arXiv 2605.19398: non-reference frames over-attend to reference keys; rebalance that attention).
No ComfyUI imports: torch, einops and kornia only.

The packed prefix
    The image part of FramePack's joint attention is ``L`` clean tokens, then the noisy window,
    then text and SigLIP tokens. The clean tokens are the groups ``[4×, 2×, 1×]`` in this order
    (:data:`GROUPS`), each the conv-patchified latents of the group, t-major: a group of ``n``
    latent frames ``H×W`` packed with kernel ``k`` (1, 2, 4; time kernel ``k·pt``, space ``k·ph``,
    ``k·pw`` with HunyuanVideo's patch ``(1, 2, 2)``) gives ``⌈n/kt⌉·⌈H/kh⌉·⌈W/kw⌉`` tokens (the
    latents are replicate-padded to whole kernels first).

Age ``k`` of a history frame (both controls)
    ``k = min_w |i − w|``: the distance, in **latent frames**, between the frame's RoPE time
    index ``i`` (``clean_latent_indices``, ``clean_latent_2x_indices``, ``clean_latent_4x_indices``)
    and the nearest RoPE time index ``w`` of the noisy window (``latent_indices``). One latent frame
    is 4 pixel frames (0.133 s at 30 fps). With the original's index splits this gives, in both modes,

    * inverted (window ``[a, a+ws)``, history after it): 1× post frame ``k = 1``, 2× frames
      ``k = 2, 3``, 4× frames ``k = 4 … 19``;
    * F1 (window ``[20, 20+ws)``, history before it): 1× newest frame 19 → ``k = 1``, 2× frames
      17, 18 → ``k = 3, 2``, 4× frames 1 … 16 → ``k = 19 … 4``.

    The start image (index 0) has ``k = 1 + pad·ws`` (inverted) or ``k = 20`` (F1); an end frame
    ``k = 1``. The low-pass acts per latent frame (each frame gets its own σ before packing). The
    decay acts per packed token: a 2×/4× token covers ``kt`` frames (replicate-padded like the
    packing) and gets the mean of their ages (2× tokens: 2.5; 4× tokens: 5.5, 9.5, 13.5, 17.5).

Control 1, history low-pass by age
    Frame ``j`` of the 2× and 4× groups (and of the 1× group on request) is blurred in space
    with a Gaussian of σ_j = σ0·(1 + α·k_j) latent cells (1 cell = 8 px), frame by frame,
    ``kornia.filters.gaussian_blur2d`` (reflect border, one kernel size ``2·⌈3·σmax⌉ + 1`` for the
    group, capped at ``2·min(H, W) − 1`` as in ``lowpass.gaussian_kernel_size``). σ0 = 0 is off.

Control 2, history attention decay by age
    Each history token gets a weight ``w = exp(−d·(1 + α_d·k))`` (``d ≥ 0`` in logit units
    (nats); ``d = 0`` is off):

    * ``logit_bias`` — exact softmax reweighting: the noisy-window queries' logits to history key
      ``j`` get ``+ log w_j``, so their attention weights become ``p'_ij = w_j·p_ij / Σ_l w_l·p_il``.
      Other queries (clean tokens, text) are unchanged. Needs an additive mask on the window's
      query rows (slower attention kernels on GPU).
    * ``v_scale`` — the values of history token ``j`` are multiplied by ``w_j`` for every query:
      the part of each output read from history shrinks by ``w`` without renormalising the
      softmax. Costs one multiply of the prefix rows of V (no mask: fast kernels stay).

    The start anchor and the end frame keep ``w = 1`` unless asked (``include_anchors``).

Per-section β (directorial control of Relaxation CFG's embedded mode)
    A list with one β per section in **video time order** (section 0 = right after the start
    image), e.g. ``"0.2, 0.2, 0.75, 0.75"`` or with repeats ``"0.2*2, 0.75*2"``. The count must
    equal the number of sections, ``N = max(1, round(seconds·30 / (ws·4)))``
    (``framepack_schedule.section_count``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
from einops import rearrange

from .errors import InertiaInputError, require_finite, require_window
from .lowpass import gaussian_kernel_size

#: Packed prefix groups in token order: (name, latent kwarg, RoPE index kwarg, kernel).
GROUPS = (("4x", "clean_latents_4x", "clean_latent_4x_indices", 4),
          ("2x", "clean_latents_2x", "clean_latent_2x_indices", 2),
          ("1x", "clean_latents", "clean_latent_indices", 1))
#: Roles of 1× slots.
START, HISTORY, END = "start", "history", "end"
ROLES = (START, HISTORY, END)
DECAY_MODES = ("v_scale", "logit_bias")


# ------------------------------------------------------------------------------------------ validation

def check_strength(name: str, value, fix: str) -> float:
    """A strength must be finite and ≥ 0 (0 = off). Raises :class:`InertiaInputError`."""
    v = require_finite(name, value, fix)
    if v < 0:
        raise InertiaInputError(name, value, fix, "is negative")
    return v


def check_age_slope(name: str, value) -> float:
    """α (growth per latent frame of age) must be finite and ≥ 0."""
    v = require_finite(name, value, "enter α ≥ 0 (growth per latent frame of age; 0 = the same for every age)")
    if v < 0:
        raise InertiaInputError(name, value, "enter α ≥ 0 (growth per latent frame of age; 0 = the same for "
                                             "every age)", "is negative (α < 0 would sharpen older history)")
    return v


def check_window(start_percent, end_percent, name: str = "decay") -> tuple[float, float]:
    """A σ window as schedule fractions, ``0 ≤ start ≤ end ≤ 1``. Raises :class:`InertiaInputError`."""
    return require_window(f"{name}_start_percent", start_percent, f"{name}_end_percent", end_percent)


# ------------------------------------------------------------------------------------------ ages

def _row(indices) -> list[float]:
    t = torch.as_tensor(indices)
    if t.ndim == 2:
        t = t[0]
    return [float(v) for v in t.flatten().tolist()]


def frame_ages(indices, window_indices) -> torch.Tensor:
    """Age ``k`` of each history frame: ``min_w |i − w|`` (latent frames), ``[n]`` float64.

    ``indices`` ``[n]`` or ``[B, n]`` RoPE time indices of a group (row 0 is used: the section
    sampler gives every batch row the same indices); ``window_indices`` those of the noisy window.
    """
    idx, win = _row(indices), _row(window_indices)
    if not win:
        raise ValueError("the noisy window has no RoPE time indices")
    return torch.tensor([min(abs(i - w) for w in win) for i in idx], dtype=torch.float64)


def token_frame_ages(ages: torch.Tensor, kernel_t: int) -> torch.Tensor:
    """Mean age of the frames each packed token-frame covers (replicate-padded to whole kernels)."""
    n = ages.numel()
    if n == 0:
        return ages.clone()
    pad = (-n) % kernel_t
    if pad:
        ages = torch.cat([ages, ages[-1:].expand(pad)])
    return ages.view(-1, kernel_t).mean(dim=1)


def lowpass_sigmas(ages: torch.Tensor, sigma0: float, alpha: float) -> torch.Tensor:
    """σ(k) = σ0·(1 + α·k) per frame (latent cells)."""
    return float(sigma0) * (1.0 + float(alpha) * ages.double())


def decay_weights(ages: torch.Tensor, strength: float, alpha: float) -> torch.Tensor:
    """w(k) = exp(−d·(1 + α·k)) per token-frame; 1 where ``d = 0``."""
    return torch.exp(-float(strength) * (1.0 + float(alpha) * ages.double()))


def default_roles(n_slots: int) -> tuple[str, ...]:
    """1× roles when the sampler gives none: slot 0 = start image, the others history."""
    return tuple(START if i == 0 else HISTORY for i in range(n_slots))


# ------------------------------------------------------------------------------------------ prefix layout

@dataclass(frozen=True)
class Segment:
    """A run of prefix tokens from one token-frame of one group."""

    group: str          # "4x", "2x", "1x"
    slot: int           # token-frame index inside the group
    role: str           # START / HISTORY / END (2×, 4×: HISTORY)
    age: float          # mean age of the covered frames (latent frames)
    start: int          # first token (within the prefix)
    stop: int


def group_token_grid(shape, kernel: int, patch=(1, 2, 2)) -> tuple[int, int, int]:
    """Packed token grid ``(Tg, Hg, Wg)`` of a ``[..., n, H, W]`` group with kernel 1/2/4."""
    n, h, w = (int(v) for v in shape[-3:])
    kt, kh, kw = kernel * patch[0], kernel * patch[1], kernel * patch[2]
    return -(-n // kt), -(-h // kh), -(-w // kw)


def prefix_layout(pack: dict, patch=(1, 2, 2), roles_1x: Sequence[str] | None = None) -> list[Segment]:
    """The packed prefix of one call as segments in token order ``[4×, 2×, 1×]``.

    ``pack``: the model call's kwargs (``clean_latents*`` ``[B,C,n,H,W]`` and their ``*_indices``,
    ``latent_indices``); a group counts when both its latents and indices are present (as
    FramePack's packing does). ``roles_1x``: role of each 1× slot (default :func:`default_roles`).
    """
    win = pack.get("latent_indices")
    segs, pos = [], 0
    for name, lat_key, idx_key, k in GROUPS:
        lat, idx = pack.get(lat_key), pack.get(idx_key)
        if lat is None or idx is None:
            continue
        tg, hg, wg = group_token_grid(lat.shape, k, patch)
        per = hg * wg
        ages = frame_ages(idx, win) if win is not None else torch.zeros(lat.shape[-3], dtype=torch.float64)
        tf_ages = token_frame_ages(ages, k * patch[0])
        if name == "1x":
            roles = tuple(roles_1x) if roles_1x is not None else default_roles(lat.shape[-3])
            if len(roles) != tg:
                roles = default_roles(tg)
        else:
            roles = (HISTORY,) * tg
        for j in range(tg):
            segs.append(Segment(name, j, roles[j], float(tf_ages[j]), pos, pos + per))
            pos += per
    return segs


def prefix_tokens(pack: dict, patch=(1, 2, 2)) -> int:
    """Number of clean (prefix) tokens FramePack prepends for this call's kwargs (0 without any)."""
    total = 0
    for _, lat_key, idx_key, k in GROUPS:
        lat, idx = pack.get(lat_key), pack.get(idx_key)
        if lat is not None and idx is not None:
            tg, hg, wg = group_token_grid(lat.shape, k, patch)
            total += tg * hg * wg
    return total


def segment_selected(seg: Segment, include_1x: bool, include_anchors: bool) -> bool:
    """Whether a control acts on a segment: 2×/4× always; 1× history on request; anchors on request."""
    if seg.role in (START, END):
        return include_anchors
    if seg.group == "1x":
        return include_1x
    return True


def prefix_decay_weights(segments: Sequence[Segment], strength: float, alpha: float, include_1x: bool,
                         include_anchors: bool) -> torch.Tensor:
    """Per prefix token weight ``w`` ``[L]`` float64 (1 where the decay does not act)."""
    L = segments[-1].stop if segments else 0
    w = torch.ones(L, dtype=torch.float64)
    for s in segments:
        if segment_selected(s, include_1x, include_anchors):
            w[s.start:s.stop] = math.exp(-float(strength) * (1.0 + float(alpha) * s.age))
    return w


# ------------------------------------------------------------------------------------------ low-pass

def blur_frames_by_sigma(latent: torch.Tensor, sigmas: Sequence[float]) -> torch.Tensor:
    """Spatial Gaussian blur of each frame of ``latent`` ``[B, C, n, H, W]`` with its own σ (latent cells).

    Frames with σ = 0 are copied unchanged; with no σ > 0 the input itself is returned. One
    ``kornia.filters.gaussian_blur2d`` call with per-frame σ (reflect border, kernel from the
    largest σ, :func:`kernel_size`), float32 inside, input dtype kept. Never modifies ``latent``.
    """
    import kornia

    sig = [float(s) for s in sigmas]
    if len(sig) != latent.shape[2]:
        raise ValueError(f"{len(sig)} sigmas for {latent.shape[2]} frames")
    sel = [j for j, s in enumerate(sig) if s > 0]
    if not sel:
        return latent
    b, h, w = latent.shape[0], latent.shape[-2], latent.shape[-1]
    k = gaussian_kernel_size(max(sig[j] for j in sel), h, w)
    if k == 1:
        return latent
    frames = rearrange(latent[:, :, sel].float(), "b c m h w -> (b m) c h w")
    s = torch.tensor([sig[j] for j in sel], dtype=torch.float32, device=latent.device).repeat(b)
    blurred = kornia.filters.gaussian_blur2d(frames, (k, k), torch.stack([s, s], dim=1), border_type="reflect")
    out = latent.clone()
    out[:, :, sel] = rearrange(blurred, "(b m) c h w -> b c m h w", b=b).to(latent.dtype)
    return out


def group_lowpass_sigmas(pack: dict, group: str, sigma0: float, alpha: float, include_1x: bool,
                         include_anchors: bool, roles_1x: Sequence[str] | None = None) -> list[float]:
    """σ per latent frame of one group (0 where the low-pass does not act)."""
    _, lat_key, idx_key, _ = next(g for g in GROUPS if g[0] == group)
    lat, idx = pack.get(lat_key), pack.get(idx_key)
    if lat is None or idx is None or sigma0 <= 0:
        return [0.0] * (0 if lat is None else lat.shape[2])
    ages = frame_ages(idx, pack["latent_indices"])
    sig = lowpass_sigmas(ages, sigma0, alpha).tolist()
    if group == "1x":
        roles = tuple(roles_1x) if roles_1x is not None and len(roles_1x) == len(sig) else default_roles(len(sig))
        for j, r in enumerate(roles):
            seg = Segment("1x", j, r, float(ages[j]), 0, 0)
            if not segment_selected(seg, include_1x, include_anchors):
                sig[j] = 0.0
    return sig


# ------------------------------------------------------------------------------------------ attention

def v_scale(v: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``v`` ``[B, H, N, D]`` with rows ``0 … L−1`` multiplied by ``weights`` ``[L]``; a new tensor."""
    return v_scale_(v.clone(), weights)


def v_scale_(v: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """In-place :func:`v_scale`: only the ``L`` history rows are read and written (returns ``v``).

    For the attention path, where ``v`` is a temporary made for this one attention call (the
    joint ``cat`` of image and text values, or a view of the block's fused qkv output that is
    not read again): copying all ``N`` rows would cost ~10x the memory traffic of the scaling.
    """
    L = weights.numel()
    v[:, :, :L].mul_(weights.to(device=v.device, dtype=v.dtype).view(1, 1, L, 1))
    return v


def key_bias(log_weights: torch.Tensor, n_keys: int, dtype, device) -> torch.Tensor:
    """Additive attention bias ``[1, 1, 1, N]``: ``log w`` on the first ``L`` keys, 0 elsewhere.

    The storage's last dimension is padded to a multiple of 16 (then sliced) so fused attention
    kernels that want aligned bias strides do not copy it.
    """
    pad = -(-n_keys // 16) * 16
    buf = torch.zeros((1, 1, 1, pad), dtype=dtype, device=device)
    L = log_weights.numel()
    buf[..., :L] = log_weights.to(device=device, dtype=dtype)
    return buf[..., :n_keys]


# ------------------------------------------------------------------------------------------ per-section β

def check_section_betas(betas: Sequence[float], n_sections: int, detail: str = "") -> tuple[float, ...]:
    """Raise unless ``len(betas) == n_sections``; the message says how many sections there are."""
    if len(betas) != n_sections:
        raise InertiaInputError(
            "section_betas", ", ".join(f"{b:g}" for b in betas),
            f"give exactly {n_sections} β value{'s' if n_sections != 1 else ''}, one per section in time order "
            f"(repeats allowed: '0.2*{max(1, n_sections - 1)}, 0.75'), or leave it empty",
            f"has {len(betas)} value{'s' if len(betas) != 1 else ''} but this video has {n_sections} "
            f"section{'s' if n_sections != 1 else ''}{detail}")
    return tuple(float(b) for b in betas)
