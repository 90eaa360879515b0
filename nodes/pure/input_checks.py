"""Checks of node input values by kind, for the pack-wide input validation (``nodes/validation.py``).

The kinds are ComfyUI's data types as plain Python / torch objects (as documented in ComfyUI's
``comfy_api/latest/_io.py`` and its "Datatypes" page):

* IMAGE: float tensor ``[B, H, W, C]``, channels last, C = 1, 3 or 4;
* MASK: float tensor ``[H, W]`` or ``[B, H, W]``;
* LATENT: dict with ``"samples"``, a float tensor ``[B, C, H, W]`` or ``[B, C, T, H, W]`` (T in latent frames);
* CONDITIONING: non-empty list of ``[tensor [B, tokens, dim], dict]`` pairs;
* SIGMAS: 1-D float tensor of at least 2 noise levels σ (one step), ≥ 0;
* CLIP_VISION_OUTPUT: an object with ``image_embeds`` / ``last_hidden_state`` / ``penultimate_hidden_states``;
* VAE, CLIP, SAMPLER: objects with ``encode`` or ``decode``, ``tokenize``/``encode_from_tokens``, ``sample``;
* INT, FLOAT, BOOLEAN, STRING and combo values, with ranges, finiteness and length caps.

Every failure raises :class:`~.errors.InertiaInputError` naming the input, the value (shortened) and the fix.
Tensors are checked for NaN / ±inf with one reduction over their distinct memory cells (a broadcast view of
10¹² entries costs what its base costs; the exact count only when that reduction is not finite); a caller may
defer these content scans until every size and shape check has passed (``scans``, :func:`run_scans`).
No ComfyUI import.
"""

from __future__ import annotations

import difflib
import math
import numbers

import torch

from .errors import InertiaInputError, short_repr

#: Default cap on STRING inputs, in characters (a node may raise it per input).
DEFAULT_MAX_STRING = 100_000
#: How many combo options an error message lists.
OPTIONS_SHOWN = 12


def a_type(value) -> str:
    """``"a float"`` / ``"an int"``: the article and type name of ``value``."""
    t = type(value).__name__
    return f"{'an' if t[:1].lower() in 'aeiou' else 'a'} {t}"


def _num(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _span(lo, hi) -> str:
    return f"[{'-inf' if lo is None else _num(lo)}, {'+inf' if hi is None else _num(hi)}]"


def check_range(name: str, value, lo=None, hi=None, fix: str | None = None, below_min: str | None = None,
                above_max: str | None = None):
    """``lo ≤ value ≤ hi`` (either bound ``None`` = open); return ``value``.

    ``below_min`` / ``above_max`` replace the problem text of the message (e.g. why a negative value is refused).
    """
    span = _span(lo, hi)
    if lo is not None and value < lo:
        problem = below_min or (f"is negative; the range is {span}" if lo == 0
                                else f"is below the minimum {_num(lo)}; the range is {span}")
        raise InertiaInputError(name, value, fix or f"choose a value in {span}", problem)
    if hi is not None and value > hi:
        problem = above_max or f"is above the maximum {_num(hi)}; the range is {span}"
        raise InertiaInputError(name, value, fix or f"choose a value in {span}", problem)
    return value


def check_int(name: str, value, lo=None, hi=None, fix: str | None = None, **texts) -> int:
    """An INT: a whole number (not a bool), in ``[lo, hi]`` (``texts``: see :func:`check_range`). Returns an int."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InertiaInputError(name, value, fix or "enter a whole number or connect an INT output",
                                f"is {a_type(value)}, not an integer")
    return check_range(name, int(value), lo, hi, fix, **texts)


def check_float(name: str, value, lo=None, hi=None, allow_nonfinite: bool = False, fix: str | None = None,
                **texts) -> float:
    """A FLOAT: a real number (not a bool), finite unless ``allow_nonfinite``, in ``[lo, hi]`` (``texts``: see
    :func:`check_range`)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InertiaInputError(name, value, fix or "enter a number or connect a FLOAT output",
                                f"is {a_type(value)}, not a number")
    try:
        v = float(value)
    except OverflowError:  # an integer beyond float range
        raise InertiaInputError(name, value, fix or f"choose a value in {_span(lo, hi)}",
                                f"is far outside the range {_span(lo, hi)}") from None
    if not math.isfinite(v):
        if allow_nonfinite:
            return v
        raise InertiaInputError(name, value, fix or f"enter a finite number in {_span(lo, hi)}",
                                "is not a finite number")
    return check_range(name, v, lo, hi, fix, **texts)


def check_bool(name: str, value) -> bool:
    """A BOOLEAN: ``True``/``False`` (numpy bools and the integers 0 / 1 are accepted)."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return bool(value)
    if isinstance(value, numbers.Integral) and int(value) in (0, 1):
        return bool(value)
    raise InertiaInputError(name, value, "use true or false, or connect a BOOLEAN output",
                            f"is {a_type(value)}, not a boolean")


def check_string(name: str, value, max_length: int = DEFAULT_MAX_STRING) -> str:
    """A STRING of at most ``max_length`` characters."""
    if not isinstance(value, str):
        raise InertiaInputError(name, value, "enter text or connect a STRING output",
                                f"is {a_type(value)}, not text")
    if len(value) > max_length:
        raise InertiaInputError(name, value, f"shorten it to at most {max_length} characters",
                                f"is {len(value)} characters long, over the limit of {max_length}")
    return value


def check_choice(name: str, value, options) -> object:
    """A combo value: one of ``options`` (compared as ComfyUI does, by equality)."""
    options = list(options)
    if isinstance(value, (str, int, float)) and not isinstance(value, bool) and value in options:
        return value
    if not options:
        raise InertiaInputError(name, value, "add a file to the folder this list is read from, then refresh",
                                "is not available: the list of options is empty")
    shown = ", ".join(repr(o) for o in options[:OPTIONS_SHOWN])
    more = f", … ({len(options)} in all)" if len(options) > OPTIONS_SHOWN else ""
    hint = ""
    if isinstance(value, str):
        by_case = [o for o in options if isinstance(o, str) and o.lower() == value.lower()]
        close = by_case or difflib.get_close_matches(value[:200], [o for o in options if isinstance(o, str)], n=3)
        if close:
            hint = f" (did you mean {', '.join(repr(c) for c in close)}?)"
    raise InertiaInputError(name, value, f"choose one of {shown}{more}{hint}", "is not one of the options")


def check_product(names: tuple[str, ...], values: dict, cap: int, fix: str, what: str = "elements") -> int:
    """Bound the product of the whole-number inputs ``names`` (e.g. width × height × length × batch) by ``cap``,
    before anything of that size is allocated. Inputs missing from ``values`` are skipped. Returns the product."""
    present = [n for n in names if isinstance(values.get(n), numbers.Integral)]
    prod = 1
    for n in present:
        prod *= max(0, int(values[n]))
    if prod > cap:
        label = " × ".join(present)
        shown = " × ".join(short_repr(int(values[n])) for n in present)
        raise InertiaInputError(label, shown, fix, f"is {prod:.3g} {what}, over the limit of {cap:.3g}")
    return prod


# ----------------------------------------------------------------------------- tensors

def unique_elements(t: torch.Tensor) -> tuple[torch.Tensor, int]:
    """``(u, k)``: the view ``u`` of ``t``'s distinct memory cells along its broadcast dimensions, and how many
    entries of ``t`` each entry of ``u`` stands for.

    A dimension of stride 0 (``expand``, broadcasting) repeats one cell, so ``u`` keeps size 1 there
    (``torch.as_strided``, no copy): ``t`` holds ``k × u.numel()`` entries, each value of ``u`` exactly ``k``
    times. A ``[1, 1, 1, 3]`` tensor expanded to ``[4097, 16384, 16384, 3]`` (1.1e12 entries) gives ``u`` of
    3 entries and ``k = 4097 · 16384²``. Tensors without stride-0 dimensions (or not strided) come back as they
    are, with ``k = 1``.
    """
    if t.layout != torch.strided or t.numel() == 0:
        return t, 1
    strides = t.stride()
    sizes = [1 if st == 0 else n for n, st in zip(t.shape, strides)]
    if sizes == list(t.shape):
        return t, 1
    u = t.as_strided(sizes, strides, t.storage_offset())
    return u, t.numel() // u.numel()


def _nonfinite_count(t: torch.Tensor) -> int:
    """Number of NaN / ±inf entries of a floating tensor (0 for other dtypes), counted over its distinct
    memory cells only (:func:`unique_elements`): exact, and as cheap for a broadcast view as for its base."""
    if not (t.is_floating_point() or t.is_complex()) or t.numel() == 0:
        return 0
    u, k = unique_elements(t)
    if bool(torch.isfinite(u.sum())):  # one reduction; overflow of finite values falls through to the count
        return 0
    return k * int((~torch.isfinite(u)).sum())


def check_finite_tensor(name: str, t: torch.Tensor, fix: str | None = None, value=None,
                        scans: list | None = None) -> torch.Tensor:
    """Refuse a tensor with NaN or ±inf entries.

    With ``scans`` (a list), the scan is not done here but appended as ``(name, t, fix, value)`` for
    :func:`run_scans`, so a caller can finish every size and shape check before any content is read.
    """
    if scans is not None:
        scans.append((name, t, fix, value))
        return t
    bad = _nonfinite_count(t)
    if bad:
        raise InertiaInputError(name, t if value is None else value,
                                fix or "check the node that produced it: a NaN or infinite parameter upstream, or "
                                       "a sampler that diverged",
                                f"contains {bad} NaN or infinite values (of {t.numel()})")
    return t


def run_scans(scans: list) -> None:
    """The finiteness scans :func:`check_finite_tensor` deferred into ``scans``, in order.

    Raises:
        InertiaInputError: the first tensor with NaN or ±inf entries, naming its input.
    """
    for name, t, fix, value in scans:
        check_finite_tensor(name, t, fix, value)


def _need_tensor(name: str, value, kind: str, layout: str, fix: str) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise InertiaInputError(name, value, fix, f"is {a_type(value)}, not {kind} ({layout})")
    return value


def _float_nonempty(name: str, t: torch.Tensor, kind: str, fix: str, value=None, allow_bool=False,
                    scans: list | None = None) -> torch.Tensor:
    v = t if value is None else value
    if not (t.is_floating_point() or (allow_bool and t.dtype == torch.bool)):
        raise InertiaInputError(name, v, fix, f"has dtype {str(t.dtype).replace('torch.', '')}; {kind} is a "
                                              "floating-point tensor")
    if t.numel() == 0:
        raise InertiaInputError(name, v, fix, f"is an empty {kind} (a dimension is 0)")
    return check_finite_tensor(name, t, value=value, scans=scans)


def check_image(name: str, value, scans: list | None = None) -> torch.Tensor:
    """IMAGE: float ``[B, H, W, C]``, C ∈ {1, 3, 4}, non-empty, finite (the scan deferred into ``scans`` when
    given: :func:`check_finite_tensor`)."""
    fix = f"connect an IMAGE output (Load Image, VAE Decode, …) to '{name}'"
    t = _need_tensor(name, value, "an IMAGE", "a float tensor [batch, height, width, channels]", fix)
    if t.ndim != 4:
        hint = {2: "; a MASK? convert it with Convert Mask to Image", 3: "; a MASK? convert it with Convert Mask to "
                "Image", 5: "; a video latent? decode it with VAE Decode"}.get(t.ndim, "")
        raise InertiaInputError(name, t, fix, f"is {t.ndim}-D; an IMAGE is 4-D [batch, height, width, channels]{hint}")
    if t.shape[-1] not in (1, 3, 4):
        raise InertiaInputError(name, t, fix, f"has {t.shape[-1]} channels in its last dimension; an IMAGE is "
                                              "channels-last with 3 (RGB) or 4 (RGBA)")
    return _float_nonempty(name, t, "IMAGE", fix, scans=scans)


def check_mask(name: str, value, scans: list | None = None) -> torch.Tensor:
    """MASK: float (or bool) ``[H, W]`` or ``[B, H, W]``, non-empty, finite (``scans``: see :func:`check_image`)."""
    fix = f"connect a MASK output (Load Image's mask, Solid Mask, Convert Image to Mask, …) to '{name}'"
    t = _need_tensor(name, value, "a MASK", "a float tensor [height, width] or [batch, height, width]", fix)
    if t.ndim not in (2, 3):
        hint = "; an IMAGE? convert it with Convert Image to Mask" if t.ndim == 4 else ""
        raise InertiaInputError(name, t, fix, f"is {t.ndim}-D; a MASK is [height, width] or "
                                              f"[batch, height, width]{hint}")
    return _float_nonempty(name, t, "MASK", fix, allow_bool=True, scans=scans)


def check_latent(name: str, value, scans: list | None = None) -> dict:
    """LATENT: a dict whose ``"samples"`` is a float tensor of ≥ 3 dims (``[B, C, H, W]``, ``[B, C, T, H, W]``),
    finite, and a finite ``noise_mask`` if any (``scans``: see :func:`check_image`)."""
    fix = f"connect a LATENT output (VAE Encode, Empty Latent, a sampler, …) to '{name}'"
    if not isinstance(value, dict) or not isinstance(value.get("samples"), torch.Tensor):
        problem = ("is a dict without a 'samples' tensor" if isinstance(value, dict)
                   else f"is {a_type(value)}, not a LATENT (a dict with a 'samples' tensor)")
        raise InertiaInputError(name, value, fix, problem)
    t = value["samples"]
    if t.ndim < 3:
        raise InertiaInputError(name, t, fix, f"has {t.ndim}-D samples; a LATENT is [batch, channels, (frames,) "
                                              "height, width]")
    _float_nonempty(name, t, "LATENT", fix, scans=scans)
    mask = value.get("noise_mask")
    if isinstance(mask, torch.Tensor):
        check_finite_tensor(f"{name}.noise_mask", mask, scans=scans)
    return value


def check_conditioning(name: str, value, scans: list | None = None) -> list:
    """CONDITIONING: non-empty list of ``[tensor [B, tokens, dim], dict]``; every tensor in it finite (``scans``:
    see :func:`check_image`)."""
    fix = f"connect a CONDITIONING output (CLIP Text Encode, …) to '{name}'"
    if not isinstance(value, (list, tuple)):
        raise InertiaInputError(name, value, fix, f"is {a_type(value)}, not CONDITIONING (a list of "
                                                  "[tensor, dict] pairs)")
    if not value:
        raise InertiaInputError(name, value, fix, "is an empty CONDITIONING list")
    for i, entry in enumerate(value):
        ok = isinstance(entry, (list, tuple)) and len(entry) == 2 and isinstance(entry[0], torch.Tensor) \
            and isinstance(entry[1], dict)
        if not ok:
            raise InertiaInputError(name, entry, fix, f"has entry {i} that is not a [tensor, dict] pair")
        t = entry[0]
        if t.ndim != 3:
            raise InertiaInputError(name, t, fix, f"has a {t.ndim}-D tensor in entry {i}; CONDITIONING tensors "
                                                  "are [batch, tokens, dim]")
        _float_nonempty(name, t, "CONDITIONING", fix, scans=scans)
        for key, extra in entry[1].items():
            if isinstance(extra, torch.Tensor):
                check_finite_tensor(f"{name}[{i}].{key}", extra, scans=scans)
    return value


def check_sigmas(name: str, value, scans: list | None = None) -> torch.Tensor:
    """SIGMAS: 1-D float tensor of ≥ 2 finite noise levels σ ≥ 0 (at least one step). A schedule is short: it is
    scanned at once (``scans`` is not used), so NaN is named before a negative level."""
    fix = f"connect a SIGMAS output (BasicScheduler, …) with steps ≥ 1 and denoise > 0 to '{name}'"
    t = _need_tensor(name, value, "SIGMAS", "a 1-D float tensor of noise levels", fix)
    if t.ndim != 1:
        raise InertiaInputError(name, t, fix, f"is {t.ndim}-D; SIGMAS is a 1-D schedule")
    if t.numel() < 2:
        raise InertiaInputError(name, t, fix, f"has {t.numel()} noise level(s), so no sampling step")
    _float_nonempty(name, t, "SIGMAS", fix)
    if bool((t < 0).any()):
        raise InertiaInputError(name, t, fix, "has a negative noise level")
    return t


CLIP_VISION_FIELDS = ("image_embeds", "last_hidden_state", "penultimate_hidden_states")


def check_clip_vision_output(name: str, value, scans: list | None = None):
    """CLIP_VISION_OUTPUT: an object with at least one of :data:`CLIP_VISION_FIELDS` as a finite tensor
    (``scans``: see :func:`check_image`)."""
    fix = f"connect a CLIP_VISION_OUTPUT (CLIP Vision Encode) to '{name}'"
    found = [getattr(value, f, None) for f in CLIP_VISION_FIELDS]
    tensors = [t for t in found if isinstance(t, torch.Tensor)]
    if not tensors or isinstance(value, (torch.Tensor, dict, list, str, numbers.Number)):
        raise InertiaInputError(name, value, fix, f"is {a_type(value)}, not a CLIP_VISION_OUTPUT "
                                                  "(no image_embeds / last_hidden_state)")
    for f, t in zip(CLIP_VISION_FIELDS, found):
        if isinstance(t, torch.Tensor):
            check_finite_tensor(f"{name}.{f}", t, scans=scans)
    return value


def _has_methods(value, methods) -> bool:
    return all(callable(getattr(value, m, None)) for m in methods)


def check_vae(name: str, value, scans: list | None = None):
    """VAE: an object with ``encode`` or ``decode`` (ComfyUI's ``comfy.sd.VAE``; an encode-only stand-in passes)."""
    usable = _has_methods(value, ("encode",)) or _has_methods(value, ("decode",))
    if not usable or isinstance(value, (torch.Tensor, str, numbers.Number)):
        raise InertiaInputError(name, value, f"connect a VAE output (Load VAE, a checkpoint loader) to '{name}'",
                                f"is {a_type(value)}, not a VAE (no encode / decode)")
    return value


def check_clip(name: str, value, scans: list | None = None):
    """CLIP: a text encoder with ``tokenize`` and ``encode_from_tokens`` (ComfyUI's ``comfy.sd.CLIP``)."""
    if not _has_methods(value, ("tokenize", "encode_from_tokens")):
        raise InertiaInputError(name, value, f"connect a CLIP output (Load CLIP, DualCLIPLoader) to '{name}'",
                                f"is {a_type(value)}, not a CLIP text encoder")
    return value


def check_sampler(name: str, value, scans: list | None = None):
    """SAMPLER: an object with ``sample`` (ComfyUI's ``KSAMPLER``, e.g. from KSamplerSelect)."""
    if not _has_methods(value, ("sample",)) or isinstance(value, (torch.Tensor, str, numbers.Number)):
        raise InertiaInputError(name, value, f"connect a SAMPLER output (KSamplerSelect, …) to '{name}'",
                                f"is {a_type(value)}, not a SAMPLER")
    return value


#: io type → check(name, value, scans=None) for the linked (non-widget) kinds that need no ComfyUI import
#: (``scans``: the finiteness scans deferred, see :func:`check_finite_tensor`; kinds without tensors ignore it).
KIND_CHECKS = {
    "IMAGE": check_image,
    "MASK": check_mask,
    "LATENT": check_latent,
    "CONDITIONING": check_conditioning,
    "SIGMAS": check_sigmas,
    "CLIP_VISION_OUTPUT": check_clip_vision_output,
    "VAE": check_vae,
    "CLIP": check_clip,
    "SAMPLER": check_sampler,
}
