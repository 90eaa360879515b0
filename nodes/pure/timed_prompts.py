"""Timed prompts for FramePack: ``"[0s: a cat sits] [2s: the cat jumps] [4s-5s: it lands]"`` → spans.

A *stamp* is ``[`` time ``:`` prompt ``]``: the time holds no ``]`` or ``:``, the prompt no ``]``
(so ``[4s: it lands: softly]`` is the time ``4s`` and the prompt ``it lands: softly``). Stamps are
found left to right, leftmost first, without overlap: exactly the matches of the pattern
``\\[[^\\]:]*:[^\\]]*\\]`` scanned from the start. The scanner (:func:`find_stamps`) does that with
``str.find`` and no regular expression, in time linear in the text (each character is looked at a
bounded number of times), and the text is capped at :data:`MAX_TEXT_CHARS`, so no input can hold
the server (a backtracking pattern takes seconds on 16,000 ``[`` characters).

Used by the FramePack Timestamped Prompt node (``nodes/framepack_sampler.py``); the timing rules
(which prompt is active when) follow the FramePack Studio / kijai ComfyUI-FramePackWrapper convention
of ``[Xs: prompt]`` sections. Times are in seconds of the output video.

No ComfyUI imports: standard library only.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .errors import InertiaInputError

#: Longest timed-prompt text accepted, in characters (about 4,000 words; a prompt per section of a
#: 120-s video fits many times over). Longer texts are refused before any parsing.
MAX_TEXT_CHARS = 20_000
#: Characters of an offending stamp or text quoted in an error message.
QUOTE_CHARS = 60
#: A time: digits with an optional fraction, optionally followed by ``s`` (anchored, no nesting).
_TIME = re.compile(r"(\d+(?:\.\d+)?)\s*s?")


@dataclass(frozen=True)
class PromptSpan:
    """A prompt active from ``start`` seconds (until ``end`` or the next prompt)."""

    start: float
    end: float | None
    text: str


def _quote(s: str) -> str:
    return s if len(s) <= QUOTE_CHARS else s[:QUOTE_CHARS] + f"… ({len(s)} characters)"


def find_stamps(text: str):
    """Yield ``(open, colon, close)`` character indices of each stamp in ``text``, left to right.

    The stamp runs from ``text[open] == "["`` to ``text[close] == "]"``; ``text[colon]`` is the
    first ``:`` after ``open``. Same matches as ``re.finditer(r"\\[[^\\]:]*:[^\\]]*\\]", text)``,
    in linear time:

    * a ``[`` starts a stamp iff its first ``:`` comes before the next ``]`` and some ``]`` follows
      that ``:``; the stamp closes at that ``]``, scanning resumes after it;
    * a ``]`` before the ``:`` ends every candidate ``[`` before it, so scanning resumes after the
      last ``]`` before that ``:`` (``str.rfind``);
    * the position of the next ``:`` is kept while it lies ahead, so no stretch is searched twice.
    """
    pos, colon = 0, -1
    while True:
        i = text.find("[", pos)
        if i < 0:
            return
        if colon <= i:
            colon = text.find(":", i + 1)
            if colon < 0:
                return  # no ':' ahead: no further stamp
        close = text.find("]", i + 1)
        if close < 0:
            return  # no ']' ahead: no further stamp
        if close > colon:
            yield i, colon, close
            pos = close + 1
        else:
            pos = text.rfind("]", i + 1, colon) + 1


def _seconds(raw: str, stamp: str) -> float:
    m = _TIME.fullmatch(raw.strip())
    if not m:
        raise InertiaInputError("text", _quote(stamp), "write times as [2s: prompt] or [1.5s-3s: prompt]",
                                f"has a time '{_quote(raw)}' that is not a number of seconds")
    v = float(m.group(1))
    if not math.isfinite(v):
        raise InertiaInputError("text", _quote(stamp), "write times as a plain number of seconds, e.g. [2s: prompt]",
                                "has a time that is not a finite number of seconds")
    return v


def parse_timestamped_prompts(text: str) -> list[PromptSpan]:
    """Parse ``"[0s: a cat sits] [2s: the cat jumps] [4.5s-6s: it lands]"`` into :class:`PromptSpan` s.

    Text outside brackets before the first stamp starts at 0 s; plain text with no stamp is one
    prompt for the whole video. A range ``[Xs-Ys: …]`` is an insert (see :func:`active_span`).
    Time: O(len(text)); texts over :data:`MAX_TEXT_CHARS` characters are refused before parsing.

    Raises:
        InertiaInputError (input ``text``): not a string, empty, longer than :data:`MAX_TEXT_CHARS`,
            an unparsable or non-finite time, text between two stamps or after the last one,
            starts not strictly increasing, or ``end ≤ start``.
    """
    if not isinstance(text, str):
        raise InertiaInputError("text", _quote(repr(text)), "enter the prompts as text", "is not a string")
    if len(text) > MAX_TEXT_CHARS:
        raise InertiaInputError("text", f"{len(text)} characters",
                                f"shorten the prompts to at most {MAX_TEXT_CHARS} characters", "is too long")
    text = text.strip()
    spans: list[PromptSpan] = []
    prev_close = None
    for i, colon, close in find_stamps(text):
        if prev_close is None:
            lead = text[:i].strip()
            if lead:
                spans.append(PromptSpan(0.0, None, lead))
        else:
            between = text[prev_close + 1:i].strip()
            if between:
                raise InertiaInputError("text", between[:40], "put every prompt after the first inside a [Xs: …] stamp",
                                        "is text between two timestamps")
        stamp, when, prompt = text[i:close + 1], text[i + 1:colon].strip(), text[colon + 1:close].strip()
        if "-" in when:
            a, b = when.split("-", 1)
            start, end = _seconds(a, stamp), _seconds(b, stamp)
        else:
            start, end = _seconds(when, stamp), None
        spans.append(PromptSpan(start, end, prompt))
        prev_close = close
    if prev_close is None:
        if not text:
            raise InertiaInputError("text", text, "enter a prompt", "is empty")
        return [PromptSpan(0.0, None, text)]
    tail = text[prev_close + 1:].strip()
    if tail:
        raise InertiaInputError("text", tail[:40], "put the text inside a [Xs: …] stamp", "follows the last timestamp")
    check_span_order(spans, "text")
    return spans


def check_span_order(spans, name: str = "text") -> None:
    """Raise unless every time is finite and ≥ 0, starts strictly increase and every explicit end lies
    after its start.

    Raises:
        InertiaInputError (input ``name``): a NaN/inf or negative time, starts out of order, ``end ≤ start``.
    """
    for s in spans:
        for t in (s.start, s.end):
            if t is not None and not math.isfinite(t):
                raise InertiaInputError(name, f"{t}", "use finite times in seconds", "has a time that is not finite")
    for a, b in zip(spans, spans[1:]):
        if b.start <= a.start:
            raise InertiaInputError(name, f"{a.start:g}s then {b.start:g}s",
                                    "list the prompts in time order, each starting later than the one before",
                                    "has timestamps out of order")
    for s in spans:
        if s.start < 0:
            raise InertiaInputError(name, f"{s.start:g}s", "use times ≥ 0 s", "has a negative time")
        if s.end is not None and s.end <= s.start:
            raise InertiaInputError(name, f"{s.start:g}s-{s.end:g}s", "make each end time later than its start",
                                    "has a range that ends before it starts")


def active_span(spans, t: float, eps: float = 1e-6) -> int:
    """Index of the prompt active at ``t`` seconds.

    The last span with ``start ≤ t`` that is still open at ``t`` (no end, or end after ``t``):
    a ``[Xs-Ys: …]`` range is an insert, after it the prompt before it resumes. If every started
    span has ended, the last one continues; before the first start, the first prompt.
    """
    started = [i for i, s in enumerate(spans) if s.start <= t + eps]
    if not started:
        return 0
    for i in reversed(started):
        if spans[i].end is None or t < spans[i].end - eps:
            return i
    return started[-1]
