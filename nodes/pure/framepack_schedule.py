"""FramePack section arithmetic: sections, padding order, context packing, resolution buckets, prompt timing.

Source: lllyasviel/FramePack ``demo_gradio.py`` (inverted anti-drifting sampling) and
``demo_gradio_f1.py`` (FramePack-F1, forward), ``diffusers_helper/models/hunyuan_video_packed.py``
(RoPE of packed latents), ``diffusers_helper/bucket_tools.py`` (resolution buckets); paper
Zhang & Agrawala, "Packing Input Frame Context in Next-Frame Prediction Models for Video Generation",
arXiv 2504.12626. Timed-prompt parsing: ``timed_prompts.py``.

Facts implemented (all lengths in **latent** frames unless a name says ``px``/``seconds``):

* **Sections.** ``N = max(1, round(seconds·30 / (ws·4)))`` (Python ``round``, as the original);
  each section samples ``ws`` latent frames (``ws·4 − 3`` pixel frames). The video latent has
  ``1 + N·ws`` frames: frame 0 is the start image, then the sections in time order.
* **Inverted anti-drifting order** (``mode="inverted"``). Sections are generated last-to-first
  with latent paddings ``reversed(range(N))``; for ``N > 4`` the original uses
  ``[3] + [2]·(N−3) + [1, 0]``. RoPE time indices come from ``arange`` split as
  ``[1, pad·ws, ws, 1, 2, 16]`` = start, blank, noisy window, 1× post frame, 2× (2), 4× (16).
  ``clean_latents`` = [start, post]; post, 2× and 4× are the 19 history frames right *after*
  the window (zero where the video ends). With an end frame, the first generated section's post
  frame is the end latent (lllyasviel/FramePack PR #167, kijai/ComfyUI-FramePackWrapper).
* **F1 forward order** (``mode="f1"``). Split ``[1, 16, 2, 1, ws]`` = start, 4× (16), 2× (2),
  1× (1), noisy window; the context is the 19 frames right *before* the window (zero before the
  start frame), ``clean_latents`` = [start, newest]. End frame (this pack's extension; the
  original F1 has none): the last section gets the end latent as a third 1× frame at the RoPE
  index right after its window.
* **Packed RoPE.** 2×/4× clean latents get the average of the RoPE rotations over the
  (2,2,2)/(4,4,4) block of positions they cover (replicate-padded at the edges, exactly
  ``pad_for_3d_conv`` + ``avg_pool3d`` of the original). :func:`rope_subpositions` lists those
  positions per token; averaging rotations over them equals averaging the cos/sin grids.
* **Resolution buckets.** The original app resizes the input image, before VAE and SigLIP encoding,
  to one of 14 buckets of about 640² px (:data:`BUCKETS_640`, height × width, all multiples of
  32 px): the bucket whose aspect ratio is nearest, compared cross-multiplied,
  ``|H·w_b − W·h_b|`` minimal, a tie going to the later bucket of the list (so a square image gets
  640 high × 608 wide); the image is scaled to cover the bucket and centre-cropped.
* **Shift.** Sigmas ``σ(t) = s·t / (1 + (s−1)·t)``, ``t = linspace(1, 0, steps+1)``; with no
  shift given the original picks ``s = exp(μ)``, μ linear in the token count, capped at ln 7.

No ComfyUI imports: torch only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .errors import InertiaInputError, require_finite

# the timed-prompt parser lives in timed_prompts.py; its names stay importable from here
from .timed_prompts import PromptSpan, active_span, check_span_order, parse_timestamped_prompts  # noqa: F401

#: Frames per second of FramePack's videos.
FPS = 30
#: Pixel frames per latent frame (HunyuanVideo VAE).
TIME_STRIDE = 4
#: Pixels per latent cell (HunyuanVideo VAE).
SPACE_STRIDE = 8
#: FramePack's resolution buckets (``bucket_tools.py``) are all multiples of 32 px = 4 latent cells.
BUCKET_PX = 32
#: FramePack's resolution buckets for its 640 resolution, ``(height, width)`` in pixels, in the
#: original's order (lllyasviel/FramePack ``diffusers_helper/bucket_tools.py``, Apache-2.0).
BUCKETS_640 = ((416, 960), (448, 864), (480, 832), (512, 768), (544, 704), (576, 672), (608, 640),
               (640, 608), (672, 576), (704, 544), (768, 512), (832, 480), (864, 448), (960, 416))
#: History split of the packed context: newest frame 1×, next 2 at 2×, next 16 at 4×.
CONTEXT_SPLIT = (1, 2, 16)
#: Source code for a zero latent (history padding beyond the video).
ZERO = -1
#: Source code for the end-frame latent.
END = -2
MODES = ("inverted", "f1")
#: Sub-positions kept per axis for packed RoPE (the 4× kernel is the largest).
ROPE_SUB = 4


# ------------------------------------------------------------------------------------------ sections

def section_count(total_seconds: float, latent_window_size: int) -> int:
    """Number of sections for ``total_seconds`` of video: ``max(1, round(s·30 / (ws·4)))``.

    Raises:
        InertiaInputError: ``total_seconds`` ≤ 0 or not finite; ``latent_window_size`` < 1.
    """
    ws = check_window(latent_window_size)
    s = require_finite("total_seconds", total_seconds)
    if s <= 0:
        raise InertiaInputError("total_seconds", total_seconds, "enter a video length above 0 seconds (e.g. 5)",
                                "is not a positive length")
    return int(max(round((s * FPS) / (ws * TIME_STRIDE)), 1))


def check_window(latent_window_size) -> int:
    """Validate ``latent_window_size`` (latent frames per section, ≥ 1); return it as ``int``.

    Raises:
        InertiaInputError: not finite, not a whole number, or below 1.
    """
    fix = "use a whole number of latent frames ≥ 1 (FramePack uses 9)"
    v = require_finite("latent_window_size", latent_window_size, fix)
    if v != int(v):
        raise InertiaInputError("latent_window_size", latent_window_size, fix, "is not a whole number")
    if v < 1:
        raise InertiaInputError("latent_window_size", latent_window_size, fix, "is below 1")
    return int(v)


def section_seconds(latent_window_size: int) -> float:
    """Duration of one section in seconds: ``ws·4 / 30`` (1.2 s for ws 9)."""
    return check_window(latent_window_size) * TIME_STRIDE / FPS


def video_latent_frames(n_sections: int, latent_window_size: int) -> int:
    """Latent frames of the whole video: start frame + ``N·ws`` (pixel frames: ``4·(T−1) + 1``)."""
    return 1 + n_sections * latent_window_size


def inverted_paddings(n_sections: int) -> list[int]:
    """Latent paddings (in windows) in generation order, last video section first.

    ``reversed(range(N))``; for ``N > 4`` the original's ``[3] + [2]·(N−3) + [1, 0]``.
    """
    if n_sections > 4:
        return [3] + [2] * (n_sections - 3) + [1, 0]
    return list(reversed(range(n_sections)))


def index_split(mode: str, latent_window_size: int, padding: int = 0) -> list[int]:
    """The ``arange`` split of one section's RoPE time indices.

    inverted: ``[1, pad·ws, ws, 1, 2, 16]`` (start, blank, window, post, 2×, 4×);
    f1: ``[1, 16, 2, 1, ws]`` (start, 4×, 2×, 1×, window).
    """
    ws = check_window(latent_window_size)
    if mode == "inverted":
        return [1, padding * ws, ws, 1, 2, 16]
    if mode == "f1":
        return [1, 16, 2, 1, ws]
    raise InertiaInputError("mode", mode, f"use one of {MODES}")


@dataclass(frozen=True)
class SectionPlan:
    """One section: its RoPE indices, where its context comes from, where its output goes.

    Sources are video latent frame indices (0 = start frame), :data:`ZERO` or :data:`END`.
    """

    step: int                       # generation order, 0-based
    index: int                      # time order, 0-based (0 = right after the start frame)
    padding: int                    # inverted: latent padding in windows; f1: 0
    latent_indices: tuple
    clean_indices: tuple            # 1× clean latents (start first)
    clean_2x_indices: tuple
    clean_4x_indices: tuple
    clean_sources: tuple
    clean_2x_sources: tuple
    clean_4x_sources: tuple
    out_start: int                  # first video latent frame this section writes
    out_len: int

    @property
    def out_stop(self) -> int:
        return self.out_start + self.out_len


def _in_video(f: int, total: int) -> int:
    return f if 0 <= f < total else ZERO


def plan_sections(n_sections: int, latent_window_size: int, mode: str = "inverted",
                  has_end: bool = False) -> list[SectionPlan]:
    """Every section of a run, in generation order (see module docstring for the rules)."""
    ws = check_window(latent_window_size)
    if mode not in MODES:
        raise InertiaInputError("mode", mode, f"use one of {MODES}")
    n = int(n_sections)
    total = video_latent_frames(n, ws)
    plans = []
    if mode == "inverted":
        for k, pad in enumerate(inverted_paddings(n)):
            split = index_split(mode, ws, pad)
            idx = list(range(sum(split)))
            bounds = [sum(split[:i]) for i in range(len(split) + 1)]
            part = [tuple(idx[bounds[i]:bounds[i + 1]]) for i in range(len(split))]
            out_start = 1 + (n - 1 - k) * ws
            after = out_start + ws                  # first frame after the window
            post = END if (has_end and k == 0) else _in_video(after, total)
            plans.append(SectionPlan(
                step=k, index=n - 1 - k, padding=pad, latent_indices=part[2],
                clean_indices=part[0] + part[3], clean_2x_indices=part[4], clean_4x_indices=part[5],
                clean_sources=(0, post),
                clean_2x_sources=tuple(_in_video(after + 1 + j, total) for j in range(2)),
                clean_4x_sources=tuple(_in_video(after + 3 + j, total) for j in range(16)),
                out_start=out_start, out_len=ws))
    else:
        split = index_split(mode, ws)
        idx = list(range(sum(split)))
        start_i, x4, x2, x1, lat = (tuple(idx[sum(split[:i]):sum(split[:i + 1])]) for i in range(5))
        for k in range(n):
            now = 1 + k * ws                        # frames that exist before this section
            clean_idx, clean_src = start_i + x1, (0, _in_video(now - 1, total))
            if has_end and k == n - 1:
                clean_idx, clean_src = clean_idx + (lat[-1] + 1,), clean_src + (END,)
            plans.append(SectionPlan(
                step=k, index=k, padding=0, latent_indices=lat,
                clean_indices=clean_idx, clean_2x_indices=x2, clean_4x_indices=x4,
                clean_sources=clean_src,
                clean_2x_sources=tuple(_in_video(now - 3 + j, total) for j in range(2)),
                clean_4x_sources=tuple(_in_video(now - 19 + j, total) for j in range(16)),
                out_start=now, out_len=ws))
    return plans


def gather_frames(video: torch.Tensor, sources, end_latent: torch.Tensor | None = None) -> torch.Tensor:
    """Stack the latent frames named by ``sources`` from ``video`` ``[B, C, T, H, W]``.

    :data:`ZERO` gives zeros, :data:`END` gives ``end_latent[:, :, :1]``. Returns ``[B, C, len, H, W]``.
    """
    frames = []
    for s in sources:
        if s == ZERO:
            frames.append(torch.zeros_like(video[:, :, :1]))
        elif s == END:
            if end_latent is None:
                raise ValueError("plan asks for the end latent, but none was given")
            frames.append(end_latent[:, :, :1].to(video))
        else:
            frames.append(video[:, :, s:s + 1])
    return torch.cat(frames, dim=2)


def check_latent_size(name: str, latent: torch.Tensor) -> tuple[int, int]:
    """Check a FramePack latent ``[B, 16, T, H, W]`` sits on the 32-px bucket grid; return ``(H, W)``.

    Raises:
        InertiaInputError: wrong rank/channels, or H/W not multiples of ``BUCKET_PX / 8`` latent cells.
    """
    if latent.ndim != 5 or latent.shape[1] != 16:
        raise InertiaInputError(name, f"shape {tuple(latent.shape)}",
                                "encode the image with the HunyuanVideo VAE (16 channels, [B,16,T,H,W])",
                                "is not a HunyuanVideo video latent")
    h, w = int(latent.shape[-2]), int(latent.shape[-1])
    cell = BUCKET_PX // SPACE_STRIDE
    if h % cell or w % cell:
        bh, bw = nearest_bucket(h * SPACE_STRIDE, w * SPACE_STRIDE)
        raise InertiaInputError(
            name, f"{w * SPACE_STRIDE}x{h * SPACE_STRIDE} px ({w}x{h} latent)",
            "put the image through FramePack Image To Bucket before VAE Encode and CLIP Vision Encode, as the "
            f"original app does (the nearest FramePack bucket is {bw}x{bh} px, width x height)",
            f"is not a multiple of FramePack's {BUCKET_PX}-px bucket grid")
    return h, w


def nearest_bucket(height: int, width: int, buckets=BUCKETS_640) -> tuple[int, int]:
    """The FramePack bucket ``(height, width)`` px for an image of ``height × width`` px.

    Nearest aspect ratio, compared without division: minimal ``|height·w_b − width·h_b|``; among
    equal distances the bucket listed last wins (the original's rule). Sizes are pixel sizes.

    Raises:
        InertiaInputError (input ``image``): a size below 1 px.
    """
    h, w = int(height), int(width)
    if h < 1 or w < 1:
        raise InertiaInputError("image", f"{w}x{h} px", "give an image of at least 1x1 pixel", "is empty")
    best = min(range(len(buckets)), key=lambda k: (abs(h * buckets[k][1] - w * buckets[k][0]), -k))
    return tuple(buckets[best])


# ------------------------------------------------------------------------------------------ sigmas

def auto_shift(latent_window_size: int, height: int, width: int) -> float:
    """FramePack's shift when none is given: ``exp(μ)``, μ linear in ``T·H·W/4`` tokens, μ ≤ ln 7.

    ``height``/``width`` in latent cells. ``calculate_flux_mu(x1=256, y1=0.5, x2=4096, y2=1.15, exp_max=7)``.
    """
    tokens = latent_window_size * height * width // 4
    k = (1.15 - 0.5) / (4096 - 256)
    mu = min(k * tokens + (0.5 - k * 256), math.log(7.0))
    return math.exp(mu)


def flow_sigmas(steps: int, shift: float) -> torch.Tensor:
    """``[steps+1]`` flow-matching sigmas ``s·t / (1 + (s−1)·t)`` on ``t = linspace(1, 0, steps+1)``."""
    t = torch.linspace(1, 0, steps + 1, dtype=torch.float64)
    return (shift * t / (1 + (shift - 1) * t)).float()


# ------------------------------------------------------------------------------------------ RoPE

def _axis_groups(positions: torch.Tensor, kernel: int) -> torch.Tensor:
    """``[..., n]`` positions → ``[..., ⌈n/k⌉, ROPE_SUB]``: replicate-pad to a multiple of k, group."""
    n = positions.shape[-1]
    pad = (-n) % kernel
    if pad:
        positions = torch.cat([positions, positions[..., -1:].expand(*positions.shape[:-1], pad)], dim=-1)
    groups = positions.unflatten(-1, (-1, kernel))
    return groups.repeat_interleave(ROPE_SUB // kernel, dim=-1)


def rope_subpositions(t_indices: torch.Tensor, height: int, width: int, kernel: int) -> torch.Tensor:
    """RoPE positions covered by each packed token, ``[B, L, 3, ROPE_SUB]`` (axes t, h, w).

    ``t_indices`` ``[B, n]``: RoPE time indices of the latents; ``height``/``width``: the token
    grid of the *noisy* latent (latent / patch 2). ``kernel`` 1 (1×), 2 (2×) or 4 (4×): tokens
    cover ``kernel³`` positions; the grid is replicate-padded to a multiple of ``kernel`` (the
    original's ``pad_for_3d_conv``). Token order is t-major, then h, then w (conv output
    flattened), ``L = ⌈n/k⌉·⌈height/k⌉·⌈width/k⌉``. Averaging the rotations of the
    ``ROPE_SUB`` sub-positions per axis equals the original's ``avg_pool3d`` of the cos/sin grids
    (each axis' frequencies depend on that axis only; slots repeat ``ROPE_SUB / kernel`` times).
    """
    if kernel not in (1, 2, 4):
        raise ValueError(f"kernel must be 1, 2 or 4, got {kernel}")
    t_indices = torch.as_tensor(t_indices, dtype=torch.float32)
    if t_indices.ndim == 1:
        t_indices = t_indices[None]
    b = t_indices.shape[0]
    gt = _axis_groups(t_indices, kernel)                                       # [B, Tg, S]
    gh = _axis_groups(torch.arange(height, dtype=torch.float32), kernel)      # [Hg, S]
    gw = _axis_groups(torch.arange(width, dtype=torch.float32), kernel)       # [Wg, S]
    tg, hg, wg = gt.shape[1], gh.shape[0], gw.shape[0]
    t = gt[:, :, None, None, :].expand(b, tg, hg, wg, ROPE_SUB)
    h = gh[None, None, :, None, :].expand(b, tg, hg, wg, ROPE_SUB)
    w = gw[None, None, None, :, :].expand(b, tg, hg, wg, ROPE_SUB)
    return torch.stack([t, h, w], dim=-2).reshape(b, tg * hg * wg, 3, ROPE_SUB)


# ------------------------------------------------------------------------------------------ prompts

def section_prompt_weights(spans, n_sections: int, latent_window_size: int,
                           blend_sections: int = 0) -> list[tuple[tuple[int, float], ...]]:
    """Per section (time order) the prompts to use: ``((span_index, weight), …)``, weights sum to 1.

    Section ``i`` starts at ``i·ws·4/30`` s and takes the prompt active then. With
    ``blend_sections = b > 0`` the ``b`` sections before a change ramp from the old to the new
    prompt (weights ``j/(b+1)``, j = 1…b), so the new prompt is fully on at its own time; a ramp
    never reaches back past the previous change.
    """
    sec = section_seconds(latent_window_size)
    active = [active_span(spans, i * sec) for i in range(n_sections)]
    out = [((a, 1.0),) for a in active]
    b = int(blend_sections)
    last_change = 0
    for c in range(1, n_sections):
        if active[c] == active[c - 1]:
            continue
        old, new = active[c - 1], active[c]
        for s in range(max(last_change, c - b), c):
            alpha = (s - (c - b) + 1) / (b + 1)
            out[s] = ((old, 1.0 - alpha), (new, alpha))
        last_change = c
    return out


def end_embed_weights(n_sections: int) -> list[float]:
    """Weight of the end image's embedding per section (time order): linear 0 → 1."""
    if n_sections <= 1:
        return [0.0] * n_sections
    return [i / (n_sections - 1) for i in range(n_sections)]


def blend_tokens(a: torch.Tensor, b: torch.Tensor, alpha: float) -> torch.Tensor:
    """``(1−α)·a + α·b`` for token sequences ``[B, L, D]`` of different length (shorter zero-padded)."""
    la, lb = a.shape[1], b.shape[1]
    if la < lb:
        a = F.pad(a, (0, 0, 0, lb - la))
    elif lb < la:
        b = F.pad(b, (0, 0, 0, la - lb))
    return torch.lerp(a.float(), b.float(), float(alpha)).to(a.dtype)
