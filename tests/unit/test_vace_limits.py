"""Size bounds of the VACE nodes (nodes/pure/vace/limits.py). No ComfyUI import."""

import pytest

from comfyui_inertia.nodes.pure.errors import InertiaInputError
from comfyui_inertia.nodes.pure.vace import limits, tasks_space


def test_whole_numbers_and_their_bounds():
    assert limits.whole("length", 81, 1, 4097) == 81 and limits.whole("length", 81.0, 1, 4097) == 81
    assert isinstance(limits.whole("length", 81.0), int)
    cases = [(2**62, "'length' = 4611686018427387904 is above the limit of 4097"),
             (-5, "'length' = -5 is below 1"), (0, "'length' = 0 is below 1"),
             (10**5000, "'length' = 'an integer of about 5001 digits' is above the limit of 4097"),
             (-(10**30), "'length' = 'a negative integer of about 31 digits' is below 1"),
             (2.5, "'length' = 2.5 is not a whole number"), (float("nan"), "'length' = nan is not a whole number"),
             (True, "'length' = True is a bool, not a whole number"), ("81", "'length' = '81' is a str")]
    for value, message in cases:
        with pytest.raises(InertiaInputError) as e:
            limits.whole("length", value, 1, 4097, "use 1 to 4097 pixel frames")
        assert e.value.name == "length" and message in str(e.value), str(e.value)
        assert "Fix: use 1 to 4097 pixel frames" in str(e.value) and len(str(e.value)) < 300
    with pytest.raises(InertiaInputError, match="'dilate_px' = -1 is negative"):
        limits.whole("dilate_px", -1, 0)
    assert limits.whole("dilate_px", 10**30, 0) == 10**30  # no upper bound asked for


def test_pixel_cap():
    assert limits.check_pixels("length", 81, 480, 832, "length × height × width", "fix") == 81 * 480 * 832
    assert limits.check_pixels("length", 1, 1, limits.MAX_PIXELS, "w", "fix") == limits.MAX_PIXELS
    with pytest.raises(InertiaInputError) as e:
        limits.check_pixels("length", 4097, 16384, 16384, "length × the height × width of 'images'",
                            "use a shorter length or smaller images")
    msg = str(e.value)
    assert e.value.name == "length" and "'4097 × 16384 × 16384'" in msg
    assert "(length × the height × width of 'images') gives 1.1e+12 pixels over all frames" in msg
    assert "over the limit of 1,073,741,824" in msg and "12.3 GiB" not in msg and "1.23e+04 GiB" in msg
    assert msg.endswith("Fix: use a shorter length or smaller images")


def test_reference_crop_count_is_capped_before_any_list_is_built():
    assert len(tasks_space.reference_crop_boxes(64, 64, limits.MAX_REFERENCE_CROPS, 0.3, "grid")) == 64
    with pytest.raises(InertiaInputError, match="'count' = 4611686018427387904 is above the limit of 64"):
        tasks_space.reference_crop_boxes(64, 64, 2**62, 0.3, "edges")
