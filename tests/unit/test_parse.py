"""Parsing of the text inputs (nodes/pure/parse.py). No ComfyUI import.

Three kinds of checks:

* examples with their exact results and error messages;
* equivalence on valid inputs: the block list and section β parsers against the implementations the
  nodes used before (regex versions kept in ``tests/references.py``), and the index / bbox parsers against their regex versions before the
  hardening (``OLD_*`` below, as they were at commit 77c3676), on seeded random inputs: equal results, and an
  InertiaInputError wherever the old parser raised anything;
* a property test: seeded random strings of up to 10⁶ characters and adversarial ones (``"1"*10**6 + "x"``,
  ``"[" * 10**6``, floods of commas and spaces, 5000-digit numbers, ...) parse or fail with
  InertiaInputError in ≤ 50 ms each (the best of 3 runs, so that a busy machine does not fail it).
"""

from __future__ import annotations

import math
import random
import re
import time

import pytest

from comfyui_inertia.nodes.pure import parse
from comfyui_inertia.nodes.pure.errors import InertiaInputError
from tests import references

BUDGET_S = 0.050


#: The regex parsers the nodes used before (tests/references.py), for the equivalence checks.
CURRENT_BLOCKS = references.regex_parse_blocks
CURRENT_BETAS = references.regex_parse_section_betas


# ------------------------------------------------------------------------------- the parsers before hardening

def OLD_parse_int_list(text):
    text = (text or "").strip()
    if not text:
        return []
    return [int(tok) for tok in re.split(r"[,\s;]+", text) if tok]


def OLD_parse_boxes(text):
    text = (text or "").strip()
    if not text:
        return []
    out = []
    for part in [p.strip() for p in re.split(r"[;\n]+", text) if p.strip()]:
        frame = None
        if ":" in part:
            f_txt, part = part.split(":", 1)
            frame = int(f_txt.strip())
        nums = [t for t in re.split(r"[,\s]+", part.strip()) if t]
        try:
            vals = tuple(float(v) for v in nums)
        except ValueError:
            vals = ()
        if len(vals) != 4 or vals[2] <= vals[0] or vals[3] <= vals[1]:
            raise ValueError("invalid box")
        out.append((frame, vals))
    framed = [f is not None for f, _ in out]
    if (any(framed) and not all(framed)) or (not any(framed) and len(out) > 1):
        raise ValueError("mixed")
    return out


# ------------------------------------------------------------------------------- examples

def test_parse_int_list():
    assert parse.parse_int_list("indices", "0, 40, -1") == [0, 40, -1]
    assert parse.parse_int_list("indices", " 0 40;80 ") == [0, 40, 80]
    assert parse.parse_int_list("indices", "") == [] and parse.parse_int_list("indices", None) == []
    with pytest.raises(InertiaInputError) as e:
        parse.parse_int_list("indices", "0, 4.5")
    assert e.value.name == "indices" and "'4.5'" in str(e.value) and "Fix:" in str(e.value)
    with pytest.raises(InertiaInputError) as e:
        parse.parse_int_list("indices", "0, " + "9" * 5000)
    assert "contains a 5,000-character number" in str(e.value) and len(str(e.value)) < 400
    with pytest.raises(InertiaInputError) as e:
        parse.parse_int_list("indices", "1," * 10**5)
    assert str(e.value).startswith("ComfyUI-Inertia: input 'indices' = '1,1,1,")
    assert "is 200,000 characters long, over the limit of 20,000" in str(e.value) and len(str(e.value)) < 400


def test_parse_directions_and_boxes():
    assert parse.parse_directions("Right, left") == ("left", "right")
    assert parse.parse_directions("all") == parse.DIRECTIONS
    for bad in ("left,sideways", "", "north", "x" * 2000):
        with pytest.raises(InertiaInputError) as e:
            parse.parse_directions(bad)
        assert e.value.name == "direction" and len(str(e.value)) < 400
    assert parse.parse_boxes("1,2,3,4") == [(None, (1.0, 2.0, 3.0, 4.0))]
    assert parse.parse_boxes("0: 0,0,10,10; 10: 10,0,20,10") == [(0, (0.0, 0.0, 10.0, 10.0)), (10, (10.0, 0.0, 20.0, 10.0))]
    assert parse.parse_boxes("; 0: 0 0 10 10\n\n-1: 1e1,0, 2e1 ,10;") == [(0, (0.0, 0.0, 10.0, 10.0)),
                                                                        (-1, (10.0, 0.0, 20.0, 10.0))]
    for bad in ("1,2,3", "3,0,1,4", "0: 1,1,2,2; 3,3,4,4", "1,1,2,2; 3,3,4,4"):
        with pytest.raises(InertiaInputError):
            parse.parse_boxes(bad)


def test_boxes_refuse_nonfinite_coordinates_long_frames_and_floods():
    for bad in ("0,0,nan,10", "0,0,inf,inf", "-inf,0,10,10", "5: 0,0,10,NaN", "0,0," + "9" * 400 + ",10"):
        with pytest.raises(InertiaInputError) as e:
            parse.parse_boxes(bad)
        assert e.value.name == "bbox" and "with a coordinate that is not a finite number" in str(e.value)
        assert "four finite pixel coordinates" in str(e.value)
    with pytest.raises(InertiaInputError, match=r"has frame '99999999.*\(5000 characters\)'"):
        parse.parse_boxes("9" * 5000 + ": 0,0,1,1")
    assert len(parse.parse_boxes("; ".join(f"{i}: 0,0,1,1" for i in range(1025)))) == 1025
    with pytest.raises(InertiaInputError, match="has 1,026 boxes.*at most 1025 boxes"):
        parse.parse_boxes("; ".join(f"{i}: 0,0,1,1" for i in range(1026)))
    with pytest.raises(InertiaInputError, match="is 100,001 characters long, over the limit of 100,000"):
        parse.parse_boxes(" " * 100_001)


def test_block_list_examples_and_messages():
    assert parse.parse_block_list("all", 4) == (0, 1, 2, 3)
    assert parse.parse_block_list(" ALL ", 2) == (0, 1)
    assert parse.parse_block_list("0-9,15", 30) == tuple(range(10)) + (15,)
    assert parse.parse_block_list("3, 1,1-2", 4) == (1, 2, 3)
    assert parse.parse_block_list(" 007 - 0009 ,,", 40) == (7, 8, 9)
    assert parse.parse_block_list("٣", 4) == (3,)  # \d matches any decimal digit, as int() reads them
    for bad, what in [("", "selects no block"), (" , ", "selects no block"), ("abc", "neither"),
                      ("0-30", "has 30"), ("30", "has 30"), ("5-2", "reversed"), ("-1", "neither"),
                      ("1-2-3", "neither"), ("1.5", "neither")]:
        with pytest.raises(InertiaInputError, match=what) as e:
            parse.parse_block_list(bad, 30)
        assert "'blocks'" in str(e.value) and "0-29" in str(e.value)
    with pytest.raises(InertiaInputError) as e:  # Python's 4300-digit int() limit error before
        parse.parse_block_list("9" * 5000, 40)
    assert "is 5,000 characters long, over the limit of 2,000" in str(e.value) and len(str(e.value)) < 400
    with pytest.raises(InertiaInputError) as e:  # numbers are compared as digit strings, never converted
        parse.parse_block_list("9" * 1990, 40)
    assert "names block 99999999… (1990 digits), but this model has 40 (0-39)" in str(e.value)
    assert len(str(e.value)) < 400
    with pytest.raises(InertiaInputError, match=r"reversed range 99999999… \(1990 digits\)-5"):
        parse.parse_block_list("9" * 1990 + "-5", 40)
    with pytest.raises(InertiaInputError, match="names block 1000000000000000000, but this model has 40"):
        parse.parse_block_list("0000" + "1" + "0" * 18, 40)
    with pytest.raises(InertiaInputError, match="over the limit of 2,000"):
        parse.parse_block_list("0," * 1001, 40)
    with pytest.raises(InertiaInputError, match="is an int, not text"):
        parse.parse_block_list(5, 40)


def test_section_betas_examples_and_messages():
    assert parse.parse_section_betas("") == () and parse.parse_section_betas(None) == ()
    assert parse.parse_section_betas(" 0.2, 0.2 ,0.75") == (0.2, 0.2, 0.75)
    assert parse.parse_section_betas("0.2*2; 0.75 * 2 -0.5") == (0.2, 0.2, 0.75, 0.75, -0.5)
    assert parse.parse_section_betas("0*2, 0.75*2") == (0.0, 0.0, 0.75, 0.75)
    assert parse.parse_section_betas(".5 5e-1*1 +1. -1E0") == (0.5, 0.5, 1.0, -1.0)
    assert parse.parse_section_betas("0.5*" + "0" * 5000 + "3") == (0.5,) * 3
    assert parse.parse_section_betas("0.5*2000") == (0.5,) * 2_000
    with pytest.raises(InertiaInputError, match="section_betas.*not a number"):
        parse.parse_section_betas("0.2, x")
    with pytest.raises(InertiaInputError, match="outside"):
        parse.parse_section_betas("0.2, 1.5")
    with pytest.raises(InertiaInputError, match="zero times"):
        parse.parse_section_betas("0.2*0")
    for bad, what in [("0.5 *, 2", "'0.5\\*' that is not a number"), ("nan", "not a number"),
                      ("inf", "not a number"), ("1e999", "β = inf outside"), ("0.5**2", "not a number"),
                      ("1_0", "not a number"), ("*2", "not a number"), (".", "not a number")]:
        with pytest.raises(InertiaInputError, match=what):
            parse.parse_section_betas(bad)
    with pytest.raises(InertiaInputError) as e:  # OverflowError before: [v] * 10**20
        parse.parse_section_betas("0*99999999999999999999")
    msg = str(e.value)
    assert "has more than 2,000 values (item '0*99999999999999999999' repeats 99999999999999999999 times)" in msg
    assert "give at most 2,000 values in all (one per section)" in msg
    with pytest.raises(InertiaInputError, match="has more than 2,000 values"):
        parse.parse_section_betas("0.5*1999, 0.5, 0.5")
    with pytest.raises(InertiaInputError, match="has 2,001 items"):
        parse.parse_section_betas("0," * 2_001)
    with pytest.raises(InertiaInputError) as e:  # 6.3 s for 16,000 digits with the backtracking pattern
        parse.parse_section_betas("1" * 10**6 + "x")
    assert "is 1,000,001 characters long, over the limit of 40,000" in str(e.value) and len(str(e.value)) < 400
    with pytest.raises(InertiaInputError, match="that is not a number"):
        parse.parse_section_betas("1" * 39_999 + "x")


# ------------------------------------------------------------------------------- equivalence

def _outcome(f, text):
    try:
        return f(text)
    except InertiaInputError:
        return "error"


def _old_outcome(f, text):
    try:
        return f(text)
    except (ValueError, OverflowError):  # InertiaInputError is a ValueError; also int()'s digit limit
        return "error"


SPACES = [" ", "  ", "\t", "\n", "\u00a0", "\u2003"]


def _spaced(rng, s, spaces=tuple(SPACES)):
    return rng.choice(["", "", " ", *spaces]) + s + rng.choice(["", "", " ", *spaces])


def _valid_blocks(rng, n):
    if rng.random() < 0.1:
        return _spaced(rng, rng.choice(["all", "ALL", "All"]))
    items = []
    for _ in range(rng.randint(1, 8)):
        a = rng.randrange(n)
        digits = rng.choice([str, str, str, lambda v: "0" * rng.randint(1, 3) + str(v),
                             lambda v: "".join(chr(0x0660 + int(c)) for c in str(v))])
        if rng.random() < 0.5:
            b = rng.randrange(a, n)
            items.append(_spaced(rng, digits(a)) + "-" + _spaced(rng, digits(b)))
        else:
            items.append(_spaced(rng, digits(a)))
    return ",".join(items) + rng.choice(["", ",", ", ,"])


def _random_short(rng, alphabet, n_max=30):
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, n_max)))


def test_block_list_equals_the_current_parser():
    rng = random.Random(11)
    for _ in range(3000):
        n = rng.choice([1, 4, 30, 40, 60])
        text = _valid_blocks(rng, n)
        assert parse.parse_block_list(text, n) == CURRENT_BLOCKS(text, n), text
    alphabet = list("0123456789--,, ") + ["٣", "\t", "\n", "a", "l", "A", "L", "x", ".", "+", "99"]
    for _ in range(5000):
        text = _random_short(rng, alphabet)
        n = rng.choice([1, 30, 60])
        assert _outcome(lambda t: parse.parse_block_list(t, n), text) == _old_outcome(
            lambda t: CURRENT_BLOCKS(t, n), text), repr(text)


def _valid_betas(rng):
    def beta():
        v = rng.uniform(-1, 1)
        form = rng.choice(["{:.3f}", "{:.1f}", "{:g}", "{:.2e}", "{:.3E}", "{:+.2f}"])
        s = form.format(v)
        if rng.random() < 0.1:
            s = s.replace("0.", ".", 1) if s.startswith("0.") else s
        if rng.random() < 0.05:
            s = "".join(chr(0x0660 + int(c)) if c.isdigit() else c for c in s)
        return s

    items = []
    for _ in range(rng.randint(1, 10)):
        s = beta()
        if rng.random() < 0.4:
            s += rng.choice(["", " ", "  "]) + "*" + rng.choice(["", " ", "\t"]) + str(rng.randint(1, 30))
        items.append(s)
    seps = [", ", ",", ";", " ", " ; ", ",\n", "\t", ",,"]
    return rng.choice(["", " "]) + "".join(i + rng.choice(seps) for i in items[:-1]) + items[-1]


def test_section_betas_equal_the_current_parser():
    rng = random.Random(12)
    for _ in range(3000):
        text = _valid_betas(rng)
        assert parse.parse_section_betas(text) == CURRENT_BETAS(text), text
    alphabet = list("0123456789.*-+eE,; ") + ["\t", "\n", "\u00a0", "٥", "x", "_", "**", " * ", "nan", "inf"]
    many = re.compile(r"\*\s*\d{5}")  # the old parser would build a list of ≥ 10⁴ values (up to 10²⁹)
    compared = 0
    for _ in range(6000):
        text = _random_short(rng, alphabet)
        if many.search(text):
            continue
        compared += 1
        want = _old_outcome(CURRENT_BETAS, text)
        if want != "error" and len(want) > parse.MAX_SECTIONS:  # refused now: more values than sections
            want = "error"
        assert _outcome(parse.parse_section_betas, text) == want, repr(text)
    assert compared > 5000


def _valid_boxes(rng):
    def num():
        return rng.choice(["{:d}", "{:.1f}", "{:.3f}", "{:g}", "{:.2e}"]).format(
            *([rng.randint(0, 2000)] if rng.random() < 0.5 else [rng.uniform(0, 2000)]))

    def box():
        x0, y0 = rng.randint(0, 900), rng.randint(0, 900)
        xs = [x0, y0, x0 + rng.randint(1, 500), y0 + rng.randint(1, 500)]
        forms = [str, lambda v: f"{v:.2f}", lambda v: f"{v:.5e}"]
        sep = rng.choice([",", ", ", " ", " , ", "\t"])
        return sep.join(rng.choice(forms)(v) for v in xs)

    inline = [c for c in SPACES if c != "\n"]  # a new line separates boxes
    if rng.random() < 0.3:
        return _spaced(rng, box())
    frames = rng.sample(range(-5, 300), rng.randint(1, 6))
    seps = ["; ", ";", "\n", " ;\n", ";;"]
    return "".join(f"{_spaced(rng, str(f), inline)}:{_spaced(rng, box(), inline)}" + rng.choice(seps)
                   for f in frames)


def test_boxes_and_int_list_equal_the_parsers_before_hardening():
    rng = random.Random(13)
    for _ in range(2000):
        text = _valid_boxes(rng)
        assert parse.parse_boxes(text) == OLD_parse_boxes(text), text
        ints = rng.choice([", ", ",", " ", ";", " ;\t"]).join(str(rng.randint(-90, 4096))
                                                               for _ in range(rng.randint(0, 12)))
        assert parse.parse_int_list("indices", ints) == OLD_parse_int_list(ints), ints
    box_alphabet = list("0123456789.,,;:- e\n") + ["\t", "nan", "inf", "x", "+", "1e3", "_"]
    int_alphabet = list("0123456789,;- +") + ["\t", "\n", "x", "_", "٣", "."]
    nonfinite = re.compile(r"nan|inf|\d{300}", re.I)  # refused now, passed before (NaN compares false)
    for _ in range(5000):
        text = _random_short(rng, box_alphabet)
        want = _old_outcome(OLD_parse_boxes, text)
        if nonfinite.search(text) and want != "error" and any(
                not all(map(math.isfinite, b)) for _, b in want):
            assert _outcome(parse.parse_boxes, text) == "error", repr(text)
        else:
            assert _outcome(parse.parse_boxes, text) == want, repr(text)
        text = _random_short(rng, int_alphabet)
        assert _outcome(lambda t: parse.parse_int_list("indices", t), text) == _old_outcome(
            OLD_parse_int_list, text), repr(text)


# ------------------------------------------------------------------------------- property: linear time

PARSERS = {
    "indices (parse_int_list)": (lambda s: parse.parse_int_list("indices", s), parse.MAX_INT_LIST_CHARS,
                                 "0123456789,; -+"),
    "bbox (parse_boxes)": (parse.parse_boxes, parse.MAX_BOXES_CHARS, "0123456789.,;: \n-e"),
    "direction (parse_directions)": (parse.parse_directions, parse.MAX_DIRECTIONS_CHARS, "leftrightupdown,; |+"),
    "blocks (parse_block_list)": (lambda s: parse.parse_block_list(s, 40), parse.MAX_BLOCKS_CHARS,
                                  "0123456789-, all"),
    "section_betas (parse_section_betas)": (parse.parse_section_betas, parse.MAX_SECTION_BETAS_CHARS,
                                            "0123456789.*-+eE,; "),
}


def adversarial(n: int) -> dict[str, str]:
    """Inputs of about ``n`` characters that make backtracking patterns, ``int()`` or list repeats slow."""
    return {
        "'1'*n+'x'": "1" * (n - 1) + "x", "'['*n": "[" * n, "'[:'*(n/2)": "[:" * (n // 2), "'9'*n": "9" * n,
        "'0*9…9'": "0*" + "9" * (n - 2), "commas": "," * n, "spaces": " " * n, "spaces+'x'": " " * (n - 1) + "x",
        "'1,'*(n/2)": "1," * (n // 2), "'1 '*(n/2)": "1 " * (n // 2), "boxes '0:0,0,1,1;'": "0:0,0,1,1;" * (n // 10),
        "'0.5*1,'": "0.5*1," * (n // 6), "'0.25,'": "0.25," * (n // 5), "'0-39,'": "0-39," * (n // 5),
        "'1.'+'1'*n+'x'": "1." + "1" * (n - 3) + "x", "'1e'+'1'*n+'x'": "1e" + "1" * (n - 3) + "x",
        "' * '*(n/3)": " * " * (n // 3), "'1 - '+spaces+'x'": "1 - " + " " * (n - 5) + "x",
        "'left,'": "left," * (n // 5), "'0:'+'9'*n": "0:" + "9" * (n - 2), "newlines": "\n" * n,
        "'1*'+'1'*n": "1*" + "1" * (n - 2), "'0'*n+'5'": "0" * (n - 1) + "5",
    }


#: The largest inputs some parser accepts (each refuses more): 2000 distinct β, 1025 per-frame
#: boxes of long numbers, 1025 keyframe indices, 330 ranges of blocks.
LARGEST_VALID = {
    "2000 distinct β": ",".join(f"0.{i:08d}" for i in range(2000)),
    "1025 boxes": ";".join(f"{i}:{i % 900}.12345678,{i % 700}.1234567,{i % 900 + 9}.1234567,{i % 700 + 7}.1234567"
                           for i in range(1025)),
    "1025 indices": ", ".join(str(4 * i) for i in range(1025)),
    "330 block ranges": ",".join(f"{i % 40}-39" for i in range(330)),
}


def _timed(f, text, runs: int = 3, stop_under: float | None = BUDGET_S) -> float:
    """The best of ``runs`` timings of ``f(text)`` in seconds (stopping at the first one under
    ``stop_under``); InertiaInputError counts as an answer, any other exception fails the test."""
    best = math.inf
    for _ in range(runs):
        t0 = time.perf_counter()
        try:
            f(text)
        except InertiaInputError:
            pass
        best = min(best, time.perf_counter() - t0)
        if stop_under is not None and best <= stop_under:
            break
    return best


def _cases(cap: int, alphabet: str, seed: int):
    rng = random.Random(seed)
    for n in (cap, cap + 1, 10**6):
        for name, text in adversarial(n).items():
            yield f"{name} n={n}", text
    yield from LARGEST_VALID.items()
    for i in range(40):  # random strings, lengths log-uniform in [1, 10⁶], half of them under the cap
        hi = cap if i % 2 else 10**6
        n = int(math.exp(rng.uniform(0, math.log(hi))))
        if i % 4 == 3:  # runs of one character: the worst case for backtracking patterns
            text = "".join(rng.choice(alphabet) * rng.randint(1, n) for _ in range(3))[:n]
        else:
            text = "".join(rng.choices(alphabet, k=n))
        yield f"random #{i} n={len(text)}", text


@pytest.mark.parametrize("which", list(PARSERS))
def test_every_input_parses_or_fails_in_linear_time(which):
    f, cap, alphabet = PARSERS[which]
    slow = []
    for label, text in _cases(cap, alphabet, seed=len(which)):
        t = _timed(f, text)
        if t > BUDGET_S:
            slow.append(f"{label}: {t * 1e3:.1f} ms")
    assert not slow, f"{which} over {BUDGET_S * 1e3:.0f} ms: {slow}"


def test_worst_case_parse_times(capsys):
    """Prints, per parser, the slowest of the adversarial inputs at 10⁶ characters, at the parser's cap,
    and of the largest valid inputs (best of 5 runs each)."""
    lines = []
    for which, (f, cap, _alphabet) in PARSERS.items():
        for what, inputs in ((f"{10**6:,} chars", adversarial(10**6)), (f"cap {cap:,} chars", adversarial(cap)),
                             ("largest valid", LARGEST_VALID)):
            t, label = max((_timed(f, text, runs=5, stop_under=None), label) for label, text in inputs.items())
            lines.append(f"{which:38s} {what:>18s}: worst {t * 1e3:6.2f} ms ({label}, {len(inputs[label]):,} chars)")
            assert t <= BUDGET_S, lines[-1]
    with capsys.disabled():
        print("\n" + "\n".join(lines))
