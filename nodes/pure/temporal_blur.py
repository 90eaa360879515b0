"""Temporal Unlearning math: a Gaussian blur of attention keys/values along latent time.

"Adaptive Control of Temporal Inertia in Large-Scale Video Generation Models", eq. 3: K̃_τ = Σ_j G(j − τ; σ_blur)·K_j (and the same for V), applied to the
self-attention keys and values of a video DiT *before* RoPE. This module has no ComfyUI import.

How the blur is computed
    Any linear mixing of frames is a ``[T, T]`` matrix ``W`` applied along the time axis:
    ``y[t] = Σ_u W[t, u]·x[u]``. :func:`blur_matrix` builds ``W`` once (Gaussian taps, the
    boundary rule and the protected frames all live in it) and :func:`mix_frames` applies it
    with **one** batched matrix multiply over a ``[G, T, N]`` view of the tokens: one read and
    one write of the tensor, no padding copy, no per-tap temporaries, dtype kept (bf16 on GPU,
    fp32 accumulation inside the GEMM). A 5-tap convolution written as shifted adds reads the
    tensor ~10 times; a ``kornia.filters.filter2d`` call would first need T moved innermost (a
    full transpose copy).

Conventions
    * Token layout is T-major, as ComfyUI's Wan and HunyuanVideo patchify it: token
      ``n = prefix + t·S + s`` with ``S = H'·W'`` tokens per latent frame (see :class:`TokenGrid`).
    * ``sigma`` is in **latent frames** (token frames when the temporal patch size is 1, as for
      Wan and HunyuanVideo). ``sigma = 0`` gives the identity.
    * The kernel is truncated at ``radius = ceil(3σ)`` (σ = 0.6 → radius 2, 5 taps) and
      normalised to sum 1.

Boundary choice: **replicate**. A tap that falls before the first (after the last) frame of a
run reads that first (last) frame, so every row of ``W`` sums to 1 and a constant sequence is
unchanged. (Reflect is undefined for a run of one frame, which protected frames can create.)

Protected (anchor) frames
    An anchor frame keeps its own K/V exactly (its row of ``W`` is the identity row), and the
    other frames **do not read from it**: anchors act as walls that split the sequence into runs
    of free frames, and each run is blurred on its own with the replicate rule at its ends.
    Reason: the blur exists to loosen the hold of given/past frames; smearing an anchor (the
    I2V start image, a VACE reference) into its neighbours' keys would copy the strongest state
    into more positions, the opposite of un-learning it. The anchor itself stays sharp and
    attendable at its own position.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import kornia
import torch
from einops import rearrange

from .errors import InertiaInputError, require_finite, require_window

#: Boundary rule at the ends of the sequence and of each run between anchor frames.
BOUNDARY = "replicate"
#: Kernel truncation, in σ.
TRUNCATE = 3.0
#: Paper default, latent frames.
PAPER_SIGMA_BLUR = 0.6


# --------------------------------------------------------------------------- kernel / matrix
def gaussian_taps(sigma: float, truncate: float = TRUNCATE) -> torch.Tensor:
    """Normalised Gaussian taps ``[2r+1]`` (float64), ``r = max(1, ceil(truncate·σ))``.

    ``sigma`` in latent frames; ``sigma == 0`` returns ``[1.0]`` (identity).

    Raises:
        InertiaInputError: ``sigma`` negative or not finite.
    """
    s = check_sigma_blur(sigma)
    if s == 0:
        return torch.ones(1, dtype=torch.float64)
    r = max(1, math.ceil(truncate * s))
    return kornia.filters.get_gaussian_kernel1d(2 * r + 1, s, dtype=torch.float64)[0]


def check_sigma_blur(sigma) -> float:
    """Return ``float(sigma)``; raise :class:`InertiaInputError` if it is negative or not finite."""
    s = require_finite("sigma_blur", sigma, "enter a number ≥ 0 (latent frames; 0.6 is the paper's, 0 = off)")
    if s < 0:
        raise InertiaInputError("sigma_blur", sigma, "enter a number ≥ 0 (latent frames; 0.6 is the paper's, 0 = off)",
                                "is negative")
    return s


def free_runs(n_frames: int, anchors: Iterable[int] = ()) -> list[tuple[int, int]]:
    """Maximal runs ``[start, stop)`` of non-anchor frames in ``range(n_frames)``."""
    a = {int(i) for i in anchors if 0 <= int(i) < n_frames}
    runs, start = [], None
    for t in range(n_frames):
        if t in a:
            if start is not None:
                runs.append((start, t))
                start = None
        elif start is None:
            start = t
    if start is not None:
        runs.append((start, n_frames))
    return runs


def blur_matrix(n_frames: int, sigma: float, anchors: Iterable[int] = (), dtype: torch.dtype = torch.float32,
                device=None) -> torch.Tensor:
    """The ``[T, T]`` temporal blur operator: ``y = W @ x`` along time.

    Args:
        n_frames: T, latent (token) frames.
        sigma: Gaussian σ in latent frames (0 → identity).
        anchors: protected frame indices (identity rows, never read by other frames; see module doc).
        dtype, device: of the returned matrix. Built in float64; for low-precision dtypes the
            diagonal is re-rounded so each row sums to 1 as closely as the dtype allows.

    Boundary: replicate, per run of free frames (module doc).
    """
    taps = gaussian_taps(sigma)
    r = (taps.numel() - 1) // 2
    W = torch.zeros(n_frames, n_frames, dtype=torch.float64)
    for a, b in free_runs(n_frames, anchors):
        for t in range(a, b):
            for j in range(-r, r + 1):
                u = min(max(t + j, a), b - 1)
                W[t, u] += taps[j + r]
    for p in {int(i) for i in anchors if 0 <= int(i) < n_frames}:
        W[p, p] = 1.0
    Wc = W.to(dtype)
    if dtype != torch.float64:
        w64 = Wc.to(torch.float64)
        off = w64.sum(1) - w64.diagonal()
        Wc.diagonal().copy_((1.0 - off).to(dtype))
    return Wc.to(device) if device is not None else Wc


def is_identity(W: torch.Tensor) -> bool:
    """True when ``W`` is exactly the identity (nothing to blur: σ = 0, T = 1, all anchors, …)."""
    return bool(torch.equal(W, torch.eye(W.shape[0], dtype=W.dtype, device=W.device)))


# --------------------------------------------------------------------------- layouts
@dataclass(frozen=True)
class TokenGrid:
    """Where the video tokens sit in a sequence of length ``L``.

    ``prefix`` tokens come first and are never blurred (Wan ``ref_conv`` reference tokens,
    HunyuanVideo ``ref_latent`` tokens); then ``frames × per_frame`` video tokens, T-major;
    anything after ``n_video`` (HunyuanVideo text tokens) is never blurred either.
    """

    prefix: int
    frames: int
    per_frame: int

    @property
    def n_video(self) -> int:
        """``prefix + frames·per_frame``: index of the first token after the video tokens."""
        return self.prefix + self.frames * self.per_frame


def _bmm(W: torch.Tensor, src: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """``out[g] = W @ src[g]`` for ``src [G, T, N]`` (``out`` may be a strided view)."""
    Wg = W.expand(src.shape[0], W.shape[0], W.shape[1])
    if out is None:
        return torch.bmm(Wg, src)
    return torch.bmm(Wg, src, out=out)


def _flat_view(t: torch.Tensor):
    """View ``[B, H, T, S, D]`` as ``([G, T, N], mode)`` without copying, or ``(None, None)``.

    mode ``"bh"``: per-head contiguous memory (G = B·H, N = S·D); mode ``"b"``: token-major
    memory ``[B, L, H, D]`` (G = B, N = S·H·D).
    """
    B, H, T, S, D = t.shape
    try:
        return t.view(B * H, T, S * D), "bh"
    except RuntimeError:
        pass
    try:
        return rearrange(t, "b h t s d -> b t s h d").view(B, T, S * H * D), "b"
    except RuntimeError:
        return None, None


def _mode_view(t: torch.Tensor, mode: str):
    B, H, T, S, D = t.shape
    try:
        if mode == "bh":
            return t.view(B * H, T, S * D)
        return rearrange(t, "b h t s d -> b t s h d").view(B, T, S * H * D)
    except RuntimeError:
        return None


def mix_frames(W: torch.Tensor, src: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """Apply ``W`` along time to ``src [B, H, T, S, D]``; return ``[B, H, T, S, D]``.

    Uses a single batched GEMM when the memory layout allows a ``[G, T, N]`` view (outputs of
    Linear/RMSNorm layers, per-head or token-major); tokens strided inside a fused qkv buffer
    take one GEMM per batch entry over ``[S, T, H·D]`` matrices; anything else is made
    contiguous first. ``out`` (same shape, must not overlap ``src``) receives the result when
    given. ``W`` must already have ``src``'s dtype and device.
    """
    B, H, T, S, D = src.shape
    if W.shape != (T, T):
        raise ValueError(f"blur matrix {tuple(W.shape)} does not match {T} frames")
    flat, mode = _flat_view(src)
    if flat is not None:
        if out is not None:
            o = _mode_view(out, mode)
            if o is not None:
                _bmm(W, flat, o)
                return out
        res = _bmm(W, flat)
        res = res.view(B, H, T, S, D) if mode == "bh" else rearrange(
            res.view(B, T, S, H, D), "b t s h d -> b h t s d")
        if out is not None:
            out.copy_(res)
            return out
        return res
    # token-major but strided (V inside a fused qkv buffer): [S, T, H·D] matrices per batch entry
    tm = rearrange(src, "b h t s d -> b s t h d")
    try:
        per_b = [tm[b].view(S, T, H * D) for b in range(B)]
    except RuntimeError:
        per_b = None
    if per_b is not None:
        dst = out if out is not None else torch.empty((B, T, S, H, D), dtype=src.dtype, device=src.device).permute(0, 3, 1, 2, 4)
        dtm = rearrange(dst, "b h t s d -> b s t h d")
        for b in range(B):
            try:
                o = dtm[b].view(S, T, H * D)
                _bmm(W, per_b[b], o)
            except RuntimeError:
                dtm[b].copy_(_bmm(W, per_b[b]).view(S, T, H, D))
        return dst
    res = mix_frames(W, src.contiguous())
    if out is not None:
        out.copy_(res)
        return out
    return res


def _video_part(x_heads: torch.Tensor, grid: TokenGrid) -> torch.Tensor:
    """``[B, H, L, D]`` → the video tokens as a ``[B, H, T, S, D]`` view."""
    return x_heads[:, :, grid.prefix:grid.n_video].unflatten(2, (grid.frames, grid.per_frame))


def _check_len(L: int, grid: TokenGrid, exact: bool):
    if (L != grid.n_video) if exact else (L < grid.n_video):
        raise ValueError(f"sequence of {L} tokens does not fit the grid {grid} ({grid.n_video} video tokens)")


def blur_heads(x: torch.Tensor, W: torch.Tensor, grid: TokenGrid, exact: bool = False) -> torch.Tensor:
    """Blur the video tokens of ``x [B, H, L, D]`` along time; return a new tensor, same shape.

    Prefix and trailing tokens (text) are copied unchanged. ``exact``: require ``L == n_video``.
    Raises ``ValueError`` when ``L`` does not fit ``grid``.
    """
    _check_len(x.shape[2], grid, exact)
    if grid.prefix == 0 and x.shape[2] == grid.n_video:
        return mix_frames(W, _video_part(x, grid)).flatten(2, 3)
    out = torch.empty_like(x)
    out[:, :, :grid.prefix] = x[:, :, :grid.prefix]
    out[:, :, grid.n_video:] = x[:, :, grid.n_video:]
    mix_frames(W, _video_part(x, grid), out=_video_part(out, grid))
    return out


def blur_heads_(x: torch.Tensor, W: torch.Tensor, grid: TokenGrid, exact: bool = False) -> torch.Tensor:
    """In-place version of :func:`blur_heads` (through one temporary of the video part)."""
    _check_len(x.shape[2], grid, exact)
    part = _video_part(x, grid)
    part.copy_(mix_frames(W, part))
    return x


def blur_tokens(x: torch.Tensor, W: torch.Tensor, grid: TokenGrid, exact: bool = True) -> torch.Tensor:
    """Blur ``x [B, L, C]`` (Wan's token layout, channels = heads·head_dim) along time; new tensor."""
    return blur_heads(x.unsqueeze(1), W, grid, exact).squeeze(1)


def blur_frames(x: torch.Tensor, sigma: float, anchors: Iterable[int] = (), frame_dim: int = 1) -> torch.Tensor:
    """Convenience: blur any tensor along ``frame_dim`` (e.g. ``[B, T, S, C]``) with :func:`blur_matrix`."""
    xt = x.movedim(frame_dim, 0)
    T = xt.shape[0]
    W = blur_matrix(T, sigma, anchors, dtype=x.dtype, device=x.device)
    y = (W @ xt.reshape(T, -1)).reshape(xt.shape)
    return y.movedim(0, frame_dim)


# --------------------------------------------------------------------------- inputs
def format_blocks(sel: Sequence[int]) -> str:
    """Compact text of a sorted index list: ``(0,1,2,5)`` → ``"0-2,5"``."""
    sel = list(sel)
    if not sel:
        return "none"
    runs, start, prev = [], sel[0], sel[0]
    for i in sel[1:] + [None]:
        if i is not None and i == prev + 1:
            prev = i
            continue
        runs.append(f"{start}" if start == prev else f"{start}-{prev}")
        if i is not None:
            start = prev = i
    return ",".join(runs)


def check_window(start_percent: float, end_percent: float) -> tuple[float, float]:
    """Validate a schedule window given as fractions of the schedule (0.0 = first step, 1.0 = end).

    Raises:
        InertiaInputError: a bound outside [0, 1] or not finite, or start > end.
    """
    return require_window("start_percent", start_percent, "end_percent", end_percent)
