"""Pure value checks of the input-validation layer (``nodes/pure/input_checks.py``, ``nodes/pure/errors.py``).
No ComfyUI import."""

import math
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest
import torch

from comfyui_inertia.nodes.pure import input_checks as ic
from comfyui_inertia.nodes.pure.errors import InertiaInputError, short_repr


def test_module_does_not_import_comfyui():
    pure = Path(ic.__file__).parent
    code = ("import importlib.util, sys, types\n"
            "pkg = types.ModuleType('p'); pkg.__path__ = []; sys.modules['p'] = pkg\n"
            "for n in ('errors', 'input_checks'):\n"
            f"    spec = importlib.util.spec_from_file_location('p.' + n, {str(pure)!r} + '/' + n + '.py')\n"
            "    m = importlib.util.module_from_spec(spec); sys.modules['p.' + n] = m; spec.loader.exec_module(m)\n"
            "m.check_image('x', __import__('torch').zeros(1, 2, 2, 3))\n"
            "bad = [k for k in sys.modules if k == 'comfy' or k.startswith('comfy.')]\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_short_repr_keeps_messages_short():
    assert short_repr(8.0) == "8.0" and short_repr("abc") == "'abc'" and short_repr(None) == "None"
    s = short_repr("[" * 10 ** 6)
    assert s.endswith("… (1000000 characters)") and len(s) < 120
    assert short_repr(torch.zeros(1, 64, 64, 3)) == "tensor[1, 64, 64, 3] float32"
    assert short_repr(10 ** 5000) == "an integer of about 5001 digits"  # str() would refuse > 4300 digits
    assert short_repr(-(2 ** 62)) == str(-(2 ** 62))
    assert short_repr({"samples": 1, "noise_mask": 2}) == "dict with keys ['samples', 'noise_mask']"
    assert short_repr(list(range(10))) == "list of 10: [0, 1, 2, …]"

    class Bad:
        def __repr__(self):
            raise RuntimeError("no repr")
    assert short_repr(Bad()) == "<Bad>"
    msg = str(InertiaInputError("text", "x" * 200_000, "shorten it", "is too long"))
    assert len(msg) < 200 and "(200000 characters)" in msg


def test_numbers():
    assert ic.check_int("n", 5, 0, 10) == 5
    assert ic.check_float("f", 3, 0.0, 10.0) == 3.0
    for bad, text in [(True, "is a bool, not an integer"), (1.5, "is a float, not an integer"),
                      ("5", "is a str, not an integer"), (11, "is above the maximum 10; the range is [0, 10]"),
                      (-1, "is negative; the range is [0, 10]")]:
        with pytest.raises(InertiaInputError, match="Fix:") as e:
            ic.check_int("n", bad, 0, 10)
        assert text in str(e.value) and e.value.name == "n"
    with pytest.raises(InertiaInputError, match="is below the minimum 1; the range is"):
        ic.check_int("n", 0, 1, None)
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(InertiaInputError, match="is not a finite number"):
            ic.check_float("f", bad, 0.0, 1.0)
    assert math.isinf(ic.check_float("f", math.inf, 0.0, 1.0, allow_nonfinite=True))
    with pytest.raises(InertiaInputError, match="far outside the range"):
        ic.check_float("f", 10 ** 400, 0.0, 1.0)  # float() would overflow
    with pytest.raises(InertiaInputError, match="is a bool, not a number"):
        ic.check_float("f", False)
    with pytest.raises(InertiaInputError, match="α < 0"):
        ic.check_float("a", -0.1, 0.0, 1.0, below_min="is negative (α < 0 sharpens)")
    assert ic.check_bool("b", 1) is True and ic.check_bool("b", False) is False
    with pytest.raises(InertiaInputError, match="not a boolean"):
        ic.check_bool("b", 2)


def test_strings_choices_products():
    assert ic.check_string("s", "x" * ic.DEFAULT_MAX_STRING) and ic.check_string("s", "", 0) == ""
    with pytest.raises(InertiaInputError, match="is 11 characters long, over the limit of 10"):
        ic.check_string("s", "x" * 11, 10)
    with pytest.raises(InertiaInputError, match="is an int, not text"):
        ic.check_string("s", 5)
    assert ic.check_choice("c", "euler", ["euler", "uni_pc"]) == "euler"
    with pytest.raises(InertiaInputError, match=r"not one of the options.*choose one of 'euler', 'uni_pc' \(did you "
                                                r"mean 'euler'\?\)"):
        ic.check_choice("c", "EULER", ["euler", "uni_pc"])
    many = [f"opt{i}" for i in range(40)]
    with pytest.raises(InertiaInputError, match=r"'opt11', … \(40 in all\)") as e:
        ic.check_choice("c", "zzz", many)
    assert "opt12" not in str(e.value)
    for bad in (0, None, True, torch.zeros(1), ["euler"]):
        with pytest.raises(InertiaInputError, match="not one of the options"):
            ic.check_choice("c", bad, ["euler", "0"])
    with pytest.raises(InertiaInputError, match="the list of options is empty"):
        ic.check_choice("model_name", "a.safetensors", [])
    assert ic.check_product(("w", "h"), {"w": 10, "h": 10}, 100, "smaller") == 100
    assert ic.check_product(("w", "h"), {"w": 10 ** 9, "h": None}, 10 ** 9, "smaller") == 10 ** 9  # h unknown
    with pytest.raises(InertiaInputError, match=r"input 'w × h' = '11 × 10' is 110 pixels, over the limit of 100"):
        ic.check_product(("w", "h"), {"w": 11, "h": 10}, 100, "smaller", "pixels")


def test_tensor_kinds():
    ic.check_image("i", torch.rand(2, 8, 8, 3))
    ic.check_mask("m", torch.rand(8, 8))
    ic.check_mask("m", torch.ones(2, 8, 8, dtype=torch.bool))
    ic.check_latent("l", {"samples": torch.zeros(1, 16, 2, 4, 4)})
    ic.check_conditioning("c", [[torch.zeros(1, 4, 8), {"pooled_output": torch.zeros(1, 8)}]])
    ic.check_sigmas("s", torch.tensor([1.0, 0.5, 0.0]))
    nan = torch.zeros(2, 8, 8, 3)
    nan[1, 2, 3, 0] = math.nan
    bad = [
        (ic.check_image, torch.rand(8, 8), "is 2-D; an IMAGE is 4-D"),
        (ic.check_image, torch.rand(1, 8, 8, 5), "has 5 channels"),
        (ic.check_image, torch.zeros(0, 8, 8, 3), "is an empty IMAGE"),
        (ic.check_image, torch.zeros(1, 8, 8, 3, dtype=torch.uint8), "has dtype uint8"),
        (ic.check_image, torch.ones(1, 8, 8, 3, dtype=torch.bool), "has dtype bool"),
        (ic.check_image, nan, "contains 1 NaN or infinite values (of 384)"),
        (ic.check_image, 5, "is an int, not an IMAGE"),
        (ic.check_mask, torch.rand(1, 1, 8, 8), "is 4-D; a MASK is"),
        (ic.check_latent, torch.zeros(1, 16, 4, 4), "is a Tensor, not a LATENT"),
        (ic.check_latent, {"noise_mask": 1}, "without a 'samples' tensor"),
        (ic.check_latent, {"samples": torch.zeros(16)}, "has 1-D samples"),
        (ic.check_latent, {"samples": torch.zeros(1, 4, 2, 2), "noise_mask": torch.full((1, 2, 2), math.inf)},
         "contains 4 NaN or infinite"),
        (ic.check_conditioning, [], "is an empty CONDITIONING list"),
        (ic.check_conditioning, [torch.zeros(1, 4, 8)], "is not a [tensor, dict] pair"),
        (ic.check_conditioning, [[torch.zeros(4, 8), {}]], "has a 2-D tensor in entry 0"),
        (ic.check_conditioning, [[torch.zeros(1, 4, 8), {"pooled_output": torch.full((1, 8), math.nan)}]], "NaN"),
        (ic.check_sigmas, torch.zeros(0), "has 0 noise level(s), so no sampling step"),
        (ic.check_sigmas, torch.tensor([1.0, -1.0]), "has a negative noise level"),
        (ic.check_sigmas, torch.zeros(2, 2), "is 2-D"),
        (ic.check_clip_vision_output, torch.zeros(1, 8), "not a CLIP_VISION_OUTPUT"),
        (ic.check_clip_vision_output, types.SimpleNamespace(image_embeds=torch.full((1, 4), math.nan)), "NaN"),
        (ic.check_vae, "vae", "is a str, not a VAE"),
        (ic.check_clip, object(), "not a CLIP text encoder"),
        (ic.check_sampler, torch.zeros(1), "not a SAMPLER"),
    ]
    for check, value, text in bad:
        with pytest.raises(InertiaInputError) as e:
            check("x", value)
        assert text in str(e.value) and "Fix:" in str(e.value), (check.__name__, str(e.value))
    ic.check_vae("v", types.SimpleNamespace(encode=lambda p: p))  # an encode-only stand-in is a VAE


def test_finiteness_uses_one_reduction_and_counts_exactly_on_overflow():
    big = torch.full((4, 8, 8, 3), 60000.0, dtype=torch.float16)  # finite, but its fp16 sum overflows
    assert not torch.isfinite(big.sum())
    ic.check_image("i", big)
    big[0, 0, 0, 0] = math.inf
    with pytest.raises(InertiaInputError, match="contains 1 NaN or infinite values"):
        ic.check_image("i", big)


def _broadcast(base: torch.Tensor, *shape: int) -> torch.Tensor:
    """``base`` expanded to ``shape`` (stride 0 on the broadcast dimensions): nothing is allocated."""
    return base.expand(*shape)


def test_broadcast_views_are_scanned_over_their_distinct_cells_exactly_and_fast():
    """An IMAGE view of 1.1e12 entries over a 3-value base (what a node may get from an ``expand``): the scan reads
    the 3 cells, not 1.1e12 entries (a full ``sum`` took over 20 minutes), and the count stays exact."""
    n, h, w = 4097, 16384, 16384
    clean = _broadcast(torch.full((1, 1, 1, 3), 0.5), n, h, w, 3)
    assert clean.numel() > 10 ** 12
    u, k = ic.unique_elements(clean)
    assert tuple(u.shape) == (1, 1, 1, 3) and k == n * h * w and u.data_ptr() == clean.data_ptr()
    t0 = time.perf_counter()
    assert ic.check_image("images", clean) is clean
    assert time.perf_counter() - t0 < 1.0
    base = torch.full((1, 1, 1, 3), 0.5)
    base[0, 0, 0, 1] = math.nan
    t0 = time.perf_counter()
    with pytest.raises(InertiaInputError) as e:
        ic.check_image("images", _broadcast(base, n, h, w, 3))
    assert time.perf_counter() - t0 < 1.0
    assert e.value.name == "images"
    assert str(e.value).startswith(f"ComfyUI-Inertia: input 'images' = tensor[{n}, {h}, {w}, 3] float32 contains "
                                   f"{n * h * w} NaN or infinite values (of {n * h * w * 3})"), str(e.value)
    # a partly broadcast view (a real time axis, one frame broadcast over space rows) counts each copy
    frames = torch.rand(5, 1, 8, 3)
    frames[2, 0, 4, 1] = math.inf
    view = frames.expand(5, 6, 8, 3)
    assert ic.unique_elements(view)[1] == 6
    assert ic.unique_elements(view.contiguous())[1] == 1  # a real copy: every entry is its own cell
    for t in (view, view.contiguous()):  # the same exact count on the view as on the copy
        with pytest.raises(InertiaInputError, match=r"'images' = tensor\[5, 6, 8, 3\] float32 contains 6 NaN or "
                                                    r"infinite values \(of 720\)"):
            ic.check_image("images", t)


def test_finiteness_scans_can_wait_for_the_size_checks():
    """With ``scans``, a kind check keeps its shape checks and defers the content scan to :func:`run_scans`."""
    nan = torch.full((1, 4, 4, 3), math.nan)
    scans = []
    assert ic.check_image("images", nan, scans=scans) is nan and len(scans) == 1
    ic.check_latent("l", {"samples": torch.zeros(1, 4, 2, 2), "noise_mask": torch.full((1, 2, 2), math.inf)},
                    scans=scans)
    assert [s[0] for s in scans] == ["images", "l", "l.noise_mask"]
    with pytest.raises(InertiaInputError, match="'images' = tensor.* is 2-D"):
        ic.check_image("images", torch.zeros(4, 4), scans=scans)  # shape failures are not deferred
    with pytest.raises(InertiaInputError, match=r"'images' = tensor\[1, 4, 4, 3\] float32 contains 48 NaN"):
        ic.run_scans(scans)
    ic.run_scans(scans[1:2])  # the finite latent passes
