"""Antialiased bilinear resize of IMAGE batches, with a fast banded engine for large CPU inputs.

:func:`resize_frames` is PyTorch's ``F.interpolate(mode="bilinear", antialias=True,
align_corners=False)`` in chunks of frames; :func:`resize_frames_into` gives the same result
(to float32 rounding) written straight into a given output view, with the kernel's own weights
applied as banded matrix products on the CPU.

Shapes: IMAGE ``[N, H, W, C]`` float. No ComfyUI imports: torch only.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
import torch.nn.functional as F


def resize_frames(video: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """IMAGE ``[N, H, W, C]`` → ``[N, h, w, C]``: bilinear with antialiasing, in chunks to
    bound memory."""
    if video.shape[1] == h and video.shape[2] == w:
        return video
    out = torch.empty((video.shape[0], h, w, video.shape[3]), dtype=video.dtype, device=video.device)
    for i in range(0, video.shape[0], 16):
        x = video[i:i + 16].movedim(-1, 1).float()
        y = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False, antialias=True)
        out[i:i + 16] = y.movedim(1, -1).to(video.dtype)  # non-negative weights: stays in [0, 1]
    return out


# Fast antialiased resize for the CPU (outpaint "scale" on 81 × 832 × 480 frames). PyTorch's
# antialiased bilinear kernel is exactly separable: out = A_h · frame · A_wᵀ per channel, with
# sparse banded weight matrices. Its weights are read back from the kernel itself (resizing an
# identity matrix) and applied as batched matrix products on bands of Bo outputs that read a
# window of S inputs. The products differ from the kernel only in float rounding order (a few
# 1e-8), and work on chunks of frames that stay in cache, writing straight into the output.

@dataclass(frozen=True)
class _Band:
    """One axis of :func:`resize_frames_into`: ``blocks`` blocks of ``bo`` outputs; block ``b`` of
    group ``(b0, b1, off)`` (blocks ``b0 ≤ b < b1``) reads the ``span`` inputs from ``b·step + off``
    with weights ``weights[b]`` ``[bo, span]`` (zero outside the kernel's taps)."""

    bo: int
    blocks: int
    step: int
    span: int
    groups: tuple[tuple[int, int, int], ...]
    weights: torch.Tensor


def _aa_weights(n_in: int, n_out: int) -> torch.Tensor:
    """``[n_out, n_in]``: the weights PyTorch's antialiased bilinear resize (align_corners False)
    gives input ``j`` in output ``i`` along one axis, read off the kernel by resizing an identity."""
    eye = torch.eye(n_in, dtype=torch.float32).view(1, 1, n_in, n_in)
    return F.interpolate(eye, size=(n_out, n_in), mode="bilinear", align_corners=False, antialias=True)[0, 0]


@functools.lru_cache(maxsize=16)
def _band(n_in: int, n_out: int, lanes: int, max_groups: int) -> _Band | None:
    """Block the weights of one axis. ``lanes``: 1 when a block's product combines whole rows
    (its width is the row length), else the channels interleaved in the block's product (its
    width is ``bo · lanes``, slow below ~24). Up to ``max_groups`` groups of blocks, each with its
    own offset, absorb the drift of an integer ``step`` against the true ``bo · n_in / n_out`` (each
    group is one more batched product). ``None`` when no block size of 4 to 32 divides ``n_out``."""
    w = _aa_weights(n_in, n_out)
    nz = w != 0
    idx = torch.arange(n_in).expand(n_out, n_in)
    lo = torch.where(nz, idx, n_in).amin(dim=1)
    hi = torch.where(nz, idx + 1, 0).amax(dim=1)
    best = None
    for bo in range(4, 33):
        if n_out % bo:
            continue
        nb = n_out // bo
        step = max(1, round(bo * n_in / n_out))
        base = torch.arange(nb) * step
        blo = (lo.view(nb, bo).amin(dim=1) - base).tolist()  # window needed by each block, relative to b·step
        bhi = (hi.view(nb, bo).amax(dim=1) - base).tolist()
        for g in range(1, min(max_groups, nb) + 1):
            cuts = [round(i * nb / g) for i in range(g + 1)]
            groups = tuple((a, z, min(blo[a:z])) for a, z in zip(cuts, cuts[1:]))
            span = max(max(bhi[a:z]) - off for a, z, off in groups)
            cost = span * (max(1.0, 24 / (bo * lanes)) if lanes > 1 else 1.0) * (1 + 0.02 * g)  # MACs per output
            if best is None or cost < best[0]:
                best = (cost, bo, nb, step, span, groups)
    if best is None:
        return None
    _, bo, nb, step, span, groups = best
    blocks = torch.zeros(nb, bo, span)
    for a, z, off in groups:
        for b in range(a, z):
            s0 = b * step + off
            lo_b, hi_b = max(s0, 0), min(s0 + span, n_in)
            blocks[b, :, lo_b - s0:hi_b - s0] = w[b * bo:(b + 1) * bo, lo_b:hi_b]
    return _Band(bo, nb, step, span, groups, blocks)


def resize_frames_into(video: torch.Tensor, out: torch.Tensor, chunk: int | None = None,
                       min_pixels: int = 1 << 21) -> torch.Tensor:
    """Antialiased bilinear resize of IMAGE ``[N, H, W, C]`` into ``out`` ``[N, h, w, C]`` (any
    strides, e.g. the box of a bigger canvas), as :func:`resize_frames`.

    On the CPU, for float inputs of at least ``min_pixels`` input pixels (all frames) and sizes that
    a block size of 4 to 32 divides (multiples of 16 do), the kernel's exact weights (:func:`_aa_weights`) are applied as batched products over
    bands of outputs: first the rows (vertical), then the interleaved pixels (horizontal), on
    ``chunk`` frames at a time in cache, written straight into ``out``. The result is within
    ~2e-7 of :func:`resize_frames` (float32 rounding order; a non-finite pixel also reaches the
    zero-weight neighbours of its band). Elsewhere it is :func:`resize_frames`. Extra memory: a
    few buffers of ``chunk`` frames (default: 1 frame per 4 threads, 1 to 4, and at least 4 MB
    of input). Returns ``out``.
    """
    N, H, W, C = video.shape
    h, w = out.shape[1], out.shape[2]
    if (h, w) == (H, W):
        return out.copy_(video)
    fast = video.device.type == "cpu" and video.is_floating_point() and N * H * W >= min_pixels
    bv = _band(H, h, 1, 1) if fast else None
    bw = _band(W, w, C, 8) if bv is not None else None
    if bv is None or bw is None:
        for i in range(0, N, 16):
            out[i:i + 16] = resize_frames(video[i:i + 16], h, w)
        return out
    # Padded float32 copy of `chunk` frames: frame after frame, `rows_in` = blocks2 · step rows each,
    # so every vertical window of every frame is one strided view; margins stay zero.
    off_v = bv.groups[0][2]
    pad_t = max(0, -off_v)
    start_v = off_v + pad_t
    blocks2 = -(-max(pad_t + H, start_v + (bv.blocks - 1) * bv.step + bv.span) // bv.step)
    rows_in = blocks2 * bv.step
    pad_l = max(0, -min(off for _, _, off in bw.groups))
    width_in = max([pad_l + W] + [pad_l + off + (z - 1) * bw.step + bw.span for _, z, off in bw.groups])
    row = width_in * C
    n = min(chunk or max(1, min(4, torch.get_num_threads() // 4), -(-(1 << 20) // (H * W * C))), N)
    pad = torch.zeros((n * rows_in + start_v + bv.span + bv.step, row), dtype=torch.float32)  # tail: spare windows
    data = pad[:n * rows_in].view(n, rows_in, width_in, C)[:, pad_t:pad_t + H, pad_l:pad_l + W]
    wv = torch.zeros(blocks2, bv.bo, bv.span)
    wv[:bv.blocks] = bv.weights  # a frame's spare blocks: zero weights, results dropped
    wv = wv.repeat(n, 1, 1)
    rows_out = blocks2 * bv.bo
    vert = torch.empty((n * rows_out, row), dtype=torch.float32)  # written before read
    horiz = torch.empty((bw.blocks, n * rows_out, bw.bo * C), dtype=torch.float32)
    # interleaved channels: a block's product maps (input pixel, channel) → (output pixel, channel)
    kron = torch.einsum("bjs,cd->bscjd", bw.weights, torch.eye(C)).reshape(bw.blocks, bw.span * C, bw.bo * C)

    def steps(k, res):  # the products for k frames: views of the reused buffers
        items, r = k * blocks2, k * rows_out
        ops = [(wv[:items], pad.as_strided((items, bv.span, row), (bv.step * row, row, 1), start_v * row),
                vert[:r].view(items, bv.bo, row))]
        ops += [(vert.as_strided((z - a, r, bw.span * C), (bw.step * C, row, 1), (pad_l + off + a * bw.step) * C),
                 kron[a:z], res[a:z]) for a, z, off in bw.groups]
        return ops, res.view(bw.blocks, k, rows_out, bw.bo * C)[:, :, :h].permute(1, 2, 0, 3)

    full = steps(n, horiz)
    for f0 in range(0, N, n):
        k = min(n, N - f0)
        ops, src = full if k == n else steps(k, torch.empty(bw.blocks, k * rows_out, bw.bo * C))
        data[:k].copy_(video[f0:f0 + k])
        for a, b, res in ops:
            torch.bmm(a, b, out=res)
        out[f0:f0 + k].view(k, h, bw.blocks, bw.bo * C).copy_(src)
    return out

