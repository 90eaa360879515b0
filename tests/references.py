"""Independent references shared by the test tiers (``tests/unit`` and ``tests/inproc``); not a test module.

Each is written from its definition in plain torch / Python loops, sharing no code with the pack's
``nodes/pure`` modules it checks. No ComfyUI import, so ``tests/unit`` can use them. Import them with
``from tests.references import …`` (pytest, in its importlib mode, imports ``tests/conftest.py`` as
``tests.conftest``, so ``tests`` names this folder in every test run).
"""

from __future__ import annotations

import math
import re

import torch
import torch.nn.functional as F

from comfyui_inertia.nodes.pure.errors import InertiaInputError


def loop_blur(x, sigma, anchors=()):
    """The temporal Gaussian blur of Temporal Unlearning (the paper's eq. 3): K̃_t = Σ_j G(j)·K_clamp(t+j).

    ``x`` ``[B, T, ...]`` blurred along T by a float64 loop over frames: taps exp(−j²/2σ²) normalised, radius
    max(1, ceil(3σ)); the ``anchors`` (frame indices) are walls that stay unchanged, and each run of free
    frames between them is replicated at its ends. ``sigma == 0`` returns a copy. Same dtype as ``x``.
    """
    T = x.shape[1]
    if sigma == 0:
        return x.clone()
    r = max(1, math.ceil(3 * sigma))
    w = [math.exp(-j * j / (2 * sigma * sigma)) for j in range(-r, r + 1)]
    w = [v / sum(w) for v in w]
    anchors = set(anchors)
    xd, y = x.double(), x.double().clone()
    for t in range(T):
        if t in anchors:
            continue
        a, b = t, t
        while a - 1 >= 0 and a - 1 not in anchors:
            a -= 1
        while b + 1 < T and b + 1 not in anchors:
            b += 1
        y[:, t] = sum(w[j + r] * xd[:, min(max(t + j, a), b)] for j in range(-r, r + 1))
    return y.to(x.dtype)


def rope_grid(frame_indices, height, width, dims=(16, 56, 56), theta=256.0):
    """FramePack's ``HunyuanVideoRotaryPosEmbed`` (lllyasviel/FramePack, ``hunyuan_video_packed.py``) written out.

    ``frame_indices`` ``[T]`` → ``[C, T, H, W]`` with C = cos(t, y, x frequencies) ++ sin(…), each frequency
    repeated twice; ``dims`` are the per-axis rotary dimensions (HunyuanVideo's ``[16, 56, 56]`` by default).
    """
    gt, gy, gx = torch.meshgrid(frame_indices.float(), torch.arange(height).float(), torch.arange(width).float(),
                                indexing="ij")
    cos, sin = [], []
    for d, pos in zip(dims, (gt, gy, gx)):
        f = 1.0 / (theta ** (torch.arange(0, d, 2).float()[: d // 2] / d))
        ang = torch.outer(f, pos.reshape(-1)).unflatten(-1, pos.shape).repeat_interleave(2, dim=0)
        cos.append(ang.cos())
        sin.append(ang.sin())
    return torch.cat(cos + sin, dim=0)


def gauss_blur(frame, sigma, k=None):
    """Separable 2-D Gaussian of one frame ``[C, H, W]`` (float64 inside, float32 out), reflect border.

    ``k`` taps exp(−j²/2σ²) normalised; ``k=None``: 2·ceil(3σ)+1, capped at 2·min(H, W) − 1 (the widest
    kernel a reflect pad of that frame allows).
    """
    if k is None:
        h, w = frame.shape[-2:]
        k = 2 * math.ceil(3 * sigma) + 1
        cap = 2 * min(h, w) - 1
        k = min(k, cap if cap % 2 else cap - 1)
    r = k // 2
    taps = torch.tensor([math.exp(-(j * j) / (2 * sigma * sigma)) for j in range(-r, r + 1)], dtype=torch.float64)
    taps /= taps.sum()
    x = frame.double()[:, None]
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="reflect"), taps.view(1, 1, 1, -1))
    x = F.conv2d(F.pad(x, (0, 0, r, r), mode="reflect"), taps.view(1, 1, -1, 1))
    return x[:, 0].float()


# ------------------------------------------------------------------ the text parsers before they were made linear
# The regex parsers the nodes used before ``nodes/pure/parse.py`` (same accepted inputs and messages; quadratic on
# adversarial text, fine on the short valid inputs the equivalence tests feed them).

_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


def regex_parse_blocks(spec: str, n_blocks: int, what: str = "blocks") -> tuple[int, ...]:
    """Parse a block selection: ``"all"`` or a comma list of indices and inclusive ranges (``"0-9,15"``).

    Returns sorted unique indices in ``[0, n_blocks)``.

    Raises:
        InertiaInputError: empty list, bad syntax, reversed range or an index ≥ ``n_blocks``.
    """
    fix = f"write 'all' or indices/ranges in 0-{n_blocks - 1}, e.g. '0-9,15'"
    text = (spec or "").strip()
    if text.lower() == "all":
        return tuple(range(n_blocks))
    parts = [p for p in text.split(",") if p.strip()]
    if not parts:
        raise InertiaInputError(what, spec, fix, "selects no block")
    out = set()
    for p in parts:
        m = _RANGE.match(p)
        if not m:
            raise InertiaInputError(what, spec, fix, f"has an item {p.strip()!r} that is neither an index nor a range")
        a = int(m.group(1))
        b = int(m.group(2)) if m.group(2) is not None else a
        if b < a:
            raise InertiaInputError(what, spec, fix, f"has a reversed range {a}-{b}")
        if b >= n_blocks:
            raise InertiaInputError(what, spec, fix, f"names block {b}, but this model has {n_blocks} (0-{n_blocks - 1})")
        out.update(range(a, b + 1))
    return tuple(sorted(out))


_ITEM = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(?:\*\s*(\d+)\s*)?$")


def regex_parse_section_betas(text: str) -> tuple[float, ...]:
    """Parse ``"0.2, 0.2, 0.75"`` or ``"0.2*2, 0.75"`` (value*count) into β per section (time order).

    Empty text → ``()`` (off). Separators: commas, semicolons or whitespace. Each β in [−1, 1].
    Raises :class:`InertiaInputError` naming ``section_betas``.
    """
    raw = (text or "").strip()
    if not raw:
        return ()
    fix = "write one β in [-1, 1] per section in time order, e.g. '0.2, 0.2, 0.75' or '0.2*2, 0.75'"
    items = [p for p in re.split(r"[,;\s]+", re.sub(r"\s*\*\s*", "*", raw)) if p.strip()]
    out: list[float] = []
    for p in items:
        m = _ITEM.match(p)
        if not m:
            raise InertiaInputError("section_betas", text, fix, f"has an item {p.strip()!r} that is not a number")
        v = float(m.group(1))
        if not math.isfinite(v) or v < -1.0 or v > 1.0:
            raise InertiaInputError("section_betas", text, fix, f"has β = {v:g} outside [-1, 1]")
        n = int(m.group(2)) if m.group(2) is not None else 1
        if n < 1:
            raise InertiaInputError("section_betas", text, fix, f"repeats {p.strip()!r} zero times")
        out.extend([v] * n)
    return tuple(out)
