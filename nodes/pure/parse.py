"""Parsing of the pack's text inputs: whole-number lists (keyframe indices), side names, bounding
boxes, transformer block lists and per-section β lists.

Every parser runs in linear time: it first refuses text longer than its cap, then works with
``str`` methods, splits on single character classes and anchored patterns without nested
quantifiers (no pattern here can backtrack more than linearly), and bounds every number's digits
before converting it, so no input can hold the server (Python's regular expressions and
``int()`` hold the interpreter lock). Every parser raises :class:`InertiaInputError` naming the
input, the text (shortened to :data:`SHOWN_CHARS` characters) and the fix.
No ComfyUI imports.
"""

from __future__ import annotations

import math
import re
import unicodedata

from .errors import InertiaInputError
from .input_checks import a_type

#: Frame sides, in this order wherever a set of them is returned.
DIRECTIONS = ("left", "right", "up", "down")

#: Caps on the text of each input, in characters (checked before anything else).
MAX_INT_LIST_CHARS = 20_000     # keyframe indices: at most 1025 keyframes of up to 6 characters each
MAX_DIRECTIONS_CHARS = 1_000
MAX_BOXES_CHARS = 100_000       # 1025 boxes of up to ~90 characters
MAX_BLOCKS_CHARS = 2_000        # Wan has 30-40 blocks, HunyuanVideo 60: "0,1,…,59" is 170 characters
MAX_SECTION_BETAS_CHARS = 40_000  # 2000 values of up to 19 characters
#: Most boxes ``parse_boxes`` returns: one per latent frame of the builders' longest clip (4097 pixel
#: frames; the region is merged per 4-frame VAE group, and boxes between keyframes are interpolated).
MAX_BOXES = 1025
#: Most β values ``parse_section_betas`` returns (repeats included): FramePack's longest video
#: (120 s at latent_window_size 1) has 900 sections.
MAX_SECTIONS = 2_000
#: Longest whole-number token (sign included) that a list or frame number may have.
MAX_INT_CHARS = 24
#: How much of a long text an error message shows.
SHOWN_CHARS = 60

_INT_SEPS = re.compile(r"[,\s;]+")
_DIR_SEPS = re.compile(r"[,\s;+|]+")
_BOX_PARTS = re.compile(r"[;\n]+")
_BETA_SEPS = re.compile(r"[,;\s]+")
_BETA_OTHER = re.compile(r"[^0-9.eE+\-*,;\s]")
#: One block item: an index or an inclusive range (each quantifier is followed by a different class).
_RANGE = re.compile(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?")


def shown(text) -> str:
    """``text`` for an error message: itself up to :data:`SHOWN_CHARS` characters, else its start
    and its length."""
    text = "" if text is None else str(text)
    if len(text) <= SHOWN_CHARS:
        return text
    return f"{text[:SHOWN_CHARS - 20]}… ({len(text)} characters)"


def _check_length(name: str, text, cap: int, fix: str) -> str:
    """``text`` (``None`` → ``""``) if it is a string of at most ``cap`` characters."""
    if text is None:
        return ""
    if not isinstance(text, str):
        raise InertiaInputError(name, shown(repr(text)), fix, f"is {a_type(text)}, not text")
    if len(text) > cap:
        raise InertiaInputError(name, shown(text), f"shorten it to at most {cap:,} characters; {fix}",
                                f"is {len(text):,} characters long, over the limit of {cap:,}")
    return text


def _decimal(digits: str) -> str:
    """A run of decimal digits (any script, as ``\\d`` matches them) as ASCII, without leading zeros
    (``"0"`` for zero)."""
    if not digits.isascii():
        digits = "".join(str(unicodedata.decimal(c)) for c in digits)
    return digits.lstrip("0") or "0"


def _short_number(digits: str) -> str:
    return digits if len(digits) <= 20 else f"{digits[:8]}… ({len(digits)} digits)"


# ------------------------------------------------------------------------------- lists, sides, boxes

def parse_int_list(name: str, text: str, max_chars: int = MAX_INT_LIST_CHARS) -> list[int]:
    """``"0, 40, -1"`` → ``[0, 40, -1]``; blank → ``[]``. Separators: commas, semicolons, whitespace.

    Each token is a Python ``int`` literal of at most :data:`MAX_INT_CHARS` characters.

    Raises:
        InertiaInputError: text over ``max_chars`` characters, or a token that is not a whole number.
    """
    fix = "write whole frame numbers separated by commas, e.g. '0, 40, 80'"
    text = _check_length(name, text, max_chars, fix).strip()
    if not text:
        return []
    out = []
    for tok in _INT_SEPS.split(text):
        if not tok:
            continue
        if len(tok) > MAX_INT_CHARS:
            raise InertiaInputError(name, shown(text), fix,
                                    f"contains a {len(tok):,}-character number {shown(tok)!r}, far beyond any frame")
        try:
            out.append(int(tok))
        except ValueError:
            raise InertiaInputError(name, shown(text), fix,
                                    f"contains {shown(tok)!r}, which is not a whole number") from None
    return out


def parse_directions(text: str) -> tuple[str, ...]:
    """``"left,right"`` → ``("left", "right")``; ``"all"`` → all four. Raises on unknown names."""
    fix = "use a comma list of left, right, up, down (or 'all')"
    text = _check_length("direction", text, MAX_DIRECTIONS_CHARS, fix)
    toks = [t for t in _DIR_SEPS.split(text.strip().lower()) if t]
    if toks == ["all"]:
        return DIRECTIONS
    bad = [t for t in toks if t not in DIRECTIONS]
    if bad:
        names = ", ".join(repr(shown(t)) for t in bad[:5]) + (f", … ({len(bad)} in all)" if len(bad) > 5 else "")
        raise InertiaInputError("direction", shown(text), fix, f"names unknown direction(s) {names}")
    if not toks:
        raise InertiaInputError("direction", shown(text), "name at least one of left, right, up, down", "is empty")
    return tuple(d for d in DIRECTIONS if d in toks)


def parse_boxes(text: str) -> list[tuple[int | None, tuple[float, float, float, float]]]:
    """Boxes ``"x0,y0,x1,y1"`` (static) or ``"f: x0,y0,x1,y1; f: …"`` (per frame, keyframed).

    Pixel coordinates of the source video, end-exclusive; boxes are separated by ``;`` or new
    lines, numbers by commas or whitespace. Returns ``[(frame or None, box)]``.

    Raises:
        InertiaInputError (input ``bbox``): text over :data:`MAX_BOXES_CHARS` characters or more
        than :data:`MAX_BOXES` boxes; a frame
        that is not a whole number; a box without 4 numbers; a coordinate that is NaN or ±inf;
        ``x1 ≤ x0`` or ``y1 ≤ y0``; static and per-frame boxes mixed; several static boxes.
    """
    text = _check_length("bbox", text, MAX_BOXES_CHARS, "write 'x0,y0,x1,y1' or 'frame: x0,y0,x1,y1; …'").strip()
    if not text:
        return []
    parts = [p for p in _BOX_PARTS.split(text) if p and not p.isspace()]
    if len(parts) > MAX_BOXES:
        raise InertiaInputError("bbox", shown(text), f"give at most {MAX_BOXES} boxes: key frames are enough, the box "
                                "moves linearly between them", f"has {len(parts):,} boxes")
    out = []
    for part in parts:
        part = part.strip()
        frame = None
        if ":" in part:
            f_txt, part = part.split(":", 1)
            f_txt = f_txt.strip()
            try:
                if len(f_txt) > MAX_INT_CHARS:
                    raise ValueError
                frame = int(f_txt)
            except ValueError:
                raise InertiaInputError("bbox", shown(text), "write 'frame: x0,y0,x1,y1; …' with whole frame numbers",
                                        f"has frame {shown(f_txt)!r}") from None
        part = part.strip()
        nums = part.replace(",", " ").split()  # = the non-empty pieces between runs of commas and whitespace
        vals: tuple[float, ...] = ()
        if len(nums) == 4:
            try:
                vals = tuple(map(float, nums))
            except ValueError:
                vals = ()
        if len(vals) == 4 and not all(map(math.isfinite, vals)):
            raise InertiaInputError("bbox", shown(text), "write each box as four finite pixel coordinates x0,y0,x1,y1",
                                    f"has a box {shown(part)!r} with a coordinate that is not a finite number")
        if len(vals) != 4 or vals[2] <= vals[0] or vals[3] <= vals[1]:
            raise InertiaInputError("bbox", shown(text), "write each box as x0,y0,x1,y1 with x1 > x0 and y1 > y0",
                                    f"has an invalid box {shown(part)!r}")
        out.append((frame, vals))
    framed = [f is not None for f, _ in out]
    if any(framed) and not all(framed):
        raise InertiaInputError("bbox", shown(text), "either one static box, or 'frame: box' for every box",
                                "mixes static and per-frame boxes")
    if not any(framed) and len(out) > 1:
        raise InertiaInputError("bbox", shown(text),
                                "give one static box, or prefix each box with its frame ('0: …; 40: …')",
                                "has several boxes without frame numbers")
    return out


# ------------------------------------------------------------------------------- transformer blocks

def parse_block_list(text: str, n_blocks: int, name: str = "blocks") -> tuple[int, ...]:
    """A block selection: ``"all"`` (any case) or a comma list of indices and inclusive ranges
    (``"0-9,15"``; spaces allowed around numbers and dashes; empty items skipped).

    The semantics of Temporal Unlearning's ``blocks`` input (its transformer blocks are numbered
    from 0; HunyuanVideo double blocks first, then single blocks).

    Returns:
        sorted unique indices in ``[0, n_blocks)``.

    Raises:
        InertiaInputError (input ``name``): text over :data:`MAX_BLOCKS_CHARS` characters; an empty
        list; an item that is neither an index nor a range; a reversed range; an index ≥ ``n_blocks``
        (also for numbers of any length: they are compared as digit strings, never converted).
    """
    fix = f"write 'all' or indices/ranges in 0-{n_blocks - 1}, e.g. '0-9,15'"
    spec = _check_length(name, text, MAX_BLOCKS_CHARS, fix)
    text = spec.strip()
    if text.lower() == "all":
        return tuple(range(n_blocks))
    parts = [p for p in text.split(",") if p.strip()]
    if not parts:
        raise InertiaInputError(name, shown(spec), fix, "selects no block")
    limit = len(str(max(n_blocks, 0)))  # an index with more significant digits is out of range
    out: set[int] = set()
    for p in parts:
        m = _RANGE.fullmatch(p)
        if not m:
            raise InertiaInputError(name, shown(spec), fix,
                                    f"has an item {shown(p.strip())!r} that is neither an index nor a range")
        a = _decimal(m.group(1))
        b = _decimal(m.group(2)) if m.group(2) is not None else a
        if (len(b), b) < (len(a), a):  # digit strings without leading zeros: numeric order
            raise InertiaInputError(name, shown(spec), fix,
                                    f"has a reversed range {_short_number(a)}-{_short_number(b)}")
        if len(b) > limit or int(b) >= n_blocks:
            raise InertiaInputError(name, shown(spec), fix,
                                    f"names block {_short_number(b)}, but this model has {n_blocks} (0-{n_blocks - 1})")
        out.update(range(int(a), int(b) + 1))
    return tuple(sorted(out))


# ------------------------------------------------------------------------------- per-section β

def _join_stars(raw: str) -> str:
    """``raw`` with the whitespace next to every ``*`` removed: ``"0.2 * 2 0.5"`` → ``"0.2*2 0.5"``
    (what ``re.sub(r"\\s*\\*\\s*", "*", raw)`` gives, without that pattern's quadratic backtracking
    on long runs of whitespace)."""
    if "*" not in raw:
        return raw
    pieces = raw.split("*")
    inner = [p.strip() for p in pieces[1:-1]]
    return "*".join([pieces[0].rstrip(), *inner, pieces[-1].lstrip()])


def _is_decimal_number(s: str) -> bool:
    r"""Whether ``s`` is ``[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?`` (``\d``: any decimal digit, as
    ``str.isdecimal``), checked with string methods: linear, no backtracking."""
    if s[:1] in ("+", "-"):
        s = s[1:]
    mant, e, exp = s.replace("E", "e").partition("e")
    if e:
        if exp[:1] in ("+", "-"):
            exp = exp[1:]
        if not exp.isdecimal():
            return False
    whole_part, _dot, frac = mant.partition(".")
    return bool(whole_part or frac) and (not whole_part or whole_part.isdecimal()) and (not frac or frac.isdecimal())


def parse_section_betas(text: str, name: str = "section_betas") -> tuple[float, ...]:
    """Parse ``"0.2, 0.2, 0.75"`` or ``"0.2*2, 0.75"`` (value*count) into β per section (time order).

    The semantics of FramePack History Controls' ``section_betas`` (Relaxation CFG's β per
    FramePack section): empty text → ``()`` (off); separators: commas, semicolons or whitespace;
    whitespace around ``*`` is ignored; each β a decimal number in [−1, 1]; a count is a whole
    number ≥ 1.

    Raises:
        InertiaInputError (input ``name``): text over :data:`MAX_SECTION_BETAS_CHARS` characters; an
        item that is not a number; β outside [−1, 1]; a zero count; more than :data:`MAX_SECTIONS`
        values in all.
    """
    fix = "write one β in [-1, 1] per section in time order, e.g. '0.2, 0.2, 0.75' or '0.2*2, 0.75'"
    text = _check_length(name, text, MAX_SECTION_BETAS_CHARS, fix)
    raw = text.strip()
    if not raw:
        return ()
    items = [p for p in _BETA_SEPS.split(_join_stars(raw)) if p]
    if len(items) > MAX_SECTIONS:  # every item is at least one value
        raise InertiaInputError(name, shown(text), f"give at most {MAX_SECTIONS:,} values in all (one per section)",
                                f"has {len(items):,} items")
    # ASCII digits, '.', 'e', 'E', signs and '*' only: float() then accepts exactly the β grammar
    # (no 'inf', 'nan', '_' or spaces can reach it), so it is the check; otherwise each β is checked first
    plain = _BETA_OTHER.search(raw) is None
    count_digits = len(str(MAX_SECTIONS))
    out: list[float] = []
    total = 0
    for p in items:
        num, star, count = p.partition("*")
        try:
            if not plain and not _is_decimal_number(num):
                raise ValueError(num)
            v = float(num)
            if star and not count.isdecimal():
                raise ValueError(count)
        except ValueError:
            raise InertiaInputError(name, shown(text), fix, f"has an item {shown(p)!r} that is not a number") from None
        if not -1.0 <= v <= 1.0:  # also refuses inf (1e999)
            raise InertiaInputError(name, shown(text), fix, f"has β = {v:g} outside [-1, 1]")
        n = 1
        if star:
            digits = _decimal(count)
            n = int(digits) if len(digits) <= count_digits else MAX_SECTIONS + 1
            if n < 1:
                raise InertiaInputError(name, shown(text), fix, f"repeats {shown(p)!r} zero times")
        total += n
        if total > MAX_SECTIONS:
            raise InertiaInputError(name, shown(text), f"give at most {MAX_SECTIONS:,} values in all (one per section)",
                                    f"has more than {MAX_SECTIONS:,} values" + (
                                        f" (item {shown(p)!r} repeats {_short_number(_decimal(count))} times)"
                                        if star else ""))
        if n == 1:
            out.append(v)
        else:
            out.extend([v] * n)
    return tuple(out)
