"""The timed-prompt parser of ``nodes/pure/timed_prompts.py``: same stamps and spans as the former
regular-expression parser, linear time, a length cap. No ComfyUI import."""

from __future__ import annotations

import random
import re
import time

import pytest

from comfyui_inertia.nodes.pure import framepack_schedule as fs
from comfyui_inertia.nodes.pure import timed_prompts as tp
from comfyui_inertia.nodes.pure.errors import InertiaInputError

#: The former parser's patterns, kept here as the reference behaviour (quadratic on runs of '[').
OLD_STAMP = re.compile(r"\[\s*([^\]:]*?)\s*:\s*([^\]]*?)\s*\]", re.S)
OLD_TIME = re.compile(r"^(\d+(?:\.\d+)?)\s*s?$")
BUDGET_S = 0.050


def old_parse(text):
    """The pre-hardening parser, verbatim in behaviour (only its error values are not truncated)."""
    def seconds(raw, stamp):
        m = OLD_TIME.match(raw.strip())
        if not m:
            raise InertiaInputError("text", stamp, "write times as [2s: prompt] or [1.5s-3s: prompt]",
                                    f"has a time '{raw}' that is not a number of seconds")
        return float(m.group(1))

    text = text.strip()
    matches = list(OLD_STAMP.finditer(text))
    if not matches:
        if not text:
            raise InertiaInputError("text", text, "enter a prompt", "is empty")
        return [tp.PromptSpan(0.0, None, text)]
    spans = []
    lead = text[:matches[0].start()].strip()
    if lead:
        spans.append(tp.PromptSpan(0.0, None, lead))
    for i, m in enumerate(matches):
        between = text[matches[i - 1].end():m.start()].strip() if i else ""
        if between:
            raise InertiaInputError("text", between[:40], "put every prompt after the first inside a [Xs: …] stamp",
                                    "is text between two timestamps")
        when, prompt = m.group(1), m.group(2).strip()
        if "-" in when:
            a, b = when.split("-", 1)
            start, end = seconds(a, m.group(0)), seconds(b, m.group(0))
        else:
            start, end = seconds(when, m.group(0)), None
        spans.append(tp.PromptSpan(start, end, prompt))
    tail = text[matches[-1].end():].strip()
    if tail:
        raise InertiaInputError("text", tail[:40], "put the text inside a [Xs: …] stamp", "follows the last timestamp")
    tp.check_span_order(spans, "text")
    return spans


def outcome(parse, text):
    try:
        return ("ok", parse(text))
    except InertiaInputError as e:
        return ("error", e.name, e.fix)


def random_text(rng, n, alphabet="[]::  s0123.-a\n\t"):
    return "".join(rng.choices(alphabet, k=n))


def stamped(rng, k):
    """A plausible timed prompt with k stamps, random spacing, ranges and colons in prompts."""
    parts, t = [], 0.0
    for _ in range(k):
        t += rng.choice([0.5, 1, 1.2, 2.5])
        rng_end = f"-{t + 0.4:g}s" if rng.random() < 0.3 else ""
        parts.append(f"{' ' * rng.randint(0, 2)}[ {t:g}{rng.choice(['s', ' s', ''])}{rng_end} :"
                     f" a cat{rng.choice(['', ': softly', ' [big'])} ]")
    return ("lead text " if rng.random() < 0.3 else "") + "".join(parts)


def test_scanner_finds_exactly_the_former_patterns_stamps():
    rng = random.Random(0)
    pattern = re.compile(r"\[[^\]:]*:[^\]]*\]")
    for _ in range(3000):
        text = random_text(rng, rng.randint(0, 60), "[]:a ")
        want = [(m.start(), m.end() - 1) for m in pattern.finditer(text)]
        got = [(i, close) for i, _colon, close in tp.find_stamps(text)]
        assert got == want, text
        for i, colon, close in tp.find_stamps(text):
            assert text[i] == "[" and text[close] == "]" and colon == text.index(":", i)


def test_same_spans_and_errors_as_the_former_parser():
    rng = random.Random(1)
    texts = [random_text(rng, rng.randint(0, 80)) for _ in range(2000)] + [stamped(rng, rng.randint(1, 6))
                                                                        for _ in range(500)]
    texts += ["a cat [2s: the cat jumps] [4.5s-6s: it lands: softly]", "just one prompt", "[0s: a [b] c]",
              "[[2s: a]", "[0s: a][1s:b]", "  [ 1 s - 2 s : x ]  ", "", "   ", "[3s: b] [1s: a]", "[2s-1s: a]"]
    ok = 0
    for text in texts:
        new, old = outcome(tp.parse_timestamped_prompts, text), outcome(old_parse, text)
        assert new == old, text
        ok += new[0] == "ok"
    assert ok > 500  # the comparison covers many valid inputs, not only errors


def test_existing_names_still_import_from_framepack_schedule():
    assert fs.parse_timestamped_prompts is tp.parse_timestamped_prompts and fs.PromptSpan is tp.PromptSpan
    assert fs.check_span_order is tp.check_span_order


def test_length_cap_and_types():
    tp.parse_timestamped_prompts("a" * tp.MAX_TEXT_CHARS)
    with pytest.raises(InertiaInputError, match=rf"'text' = '{tp.MAX_TEXT_CHARS + 1} characters' is too long.*"
                                                rf"at most {tp.MAX_TEXT_CHARS} characters"):
        tp.parse_timestamped_prompts("a" * (tp.MAX_TEXT_CHARS + 1))
    with pytest.raises(InertiaInputError, match="'text' = 'None' is not a string"):
        tp.parse_timestamped_prompts(None)


def test_non_finite_times_are_refused():
    with pytest.raises(InertiaInputError, match="'text'.*not a finite number of seconds"):
        tp.parse_timestamped_prompts("[0s: a] [" + "9" * 400 + "s: b]")
    with pytest.raises(InertiaInputError, match="'positive' = 'nan' has a time that is not finite"):
        tp.check_span_order([tp.PromptSpan(0.0, None, ""), tp.PromptSpan(float("nan"), None, "")], "positive")
    with pytest.raises(InertiaInputError, match="'end_seconds' = 'inf'"):
        tp.check_span_order([tp.PromptSpan(1.0, float("inf"), "")], "end_seconds")


def test_long_stamp_in_a_message_is_truncated():
    with pytest.raises(InertiaInputError) as e:
        tp.parse_timestamped_prompts("[" + "x" * 5000 + ": a]")
    assert "not a number of seconds" in str(e.value) and len(str(e.value)) < 400


def _timed(text):
    """Best of three wall times (a busy shared CPU can stall one run; a slow parser is slow every time)."""
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        try:
            tp.parse_timestamped_prompts(text)
        except InertiaInputError:
            pass
        best = min(best, time.perf_counter() - t0)
        if best <= BUDGET_S:
            break
    return best


def adversarial(n):
    """Inputs that made the former pattern backtrack, and long valid ones, ``n`` characters long."""
    valid, t, length = [], 0, 0
    while length < n - 16:
        valid.append(f"[{t}s: a]")
        length += len(valid[-1])
        t += 1
    return {
        "open brackets": "[" * n, "open colon": "[:" * (n // 2), "empty stamps": "[:]" * (n // 3),
        "closed before colon": "[]:" * (n // 3), "digits": "1" * (n - 1) + "x", "unclosed": "[0s: " + "a" * (n - 5),
        "valid stamps": "".join(valid), "colons": ":" * n, "close brackets": "]" * n,
    }


def test_every_input_up_to_a_million_characters_parses_or_fails_within_50_ms():
    """Seeded property test: 300 random strings up to 10^6 characters plus the adversarial families at 10^6
    and at the length cap (where the scanner really runs)."""
    rng = random.Random(2024)
    cases = list(adversarial(10**6).values()) + list(adversarial(tp.MAX_TEXT_CHARS).values())
    for _ in range(300):
        n = rng.choice([rng.randint(0, 200), rng.randint(0, tp.MAX_TEXT_CHARS), rng.randint(0, 10**6)])
        unit = random_text(rng, rng.randint(1, 8), rng.choice(["[]: s0.a-", "[:", "[]:", "[0s: a]", "[ 1"]))
        cases.append(random_text(rng, n) if rng.random() < 0.5 else (unit * (n // len(unit) + 1))[:n])
    worst = max((_timed(text), len(text)) for text in cases)
    print(f"\nworst parse time {worst[0] * 1e3:.2f} ms (a {worst[1]}-character input), {len(cases)} cases")
    assert worst[0] <= BUDGET_S


def test_scanner_is_linear_without_the_cap():
    """The stamp scanner alone on 10^6-character adversarial inputs: far from the hours a quadratic scan takes,
    and ~10x the time of 10^5 characters."""
    for name, text in adversarial(10**6).items():
        small = text[:10**5]
        t0 = time.perf_counter()
        n_big = sum(1 for _ in tp.find_stamps(text))
        big_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        n_small = sum(1 for _ in tp.find_stamps(small))
        small_s = time.perf_counter() - t0
        assert big_s < 3.0, name
        assert big_s < 40 * small_s + 0.05, (name, big_s, small_s)
        assert n_big >= n_small
