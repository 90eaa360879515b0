"""Parsing of the text inputs (nodes/pure/parse.py). No ComfyUI import."""

import pytest

from comfyui_inertia.nodes.pure import parse
from comfyui_inertia.nodes.pure.errors import InertiaInputError


def test_parse_int_list():
    assert parse.parse_int_list("indices", "0, 40, -1") == [0, 40, -1]
    assert parse.parse_int_list("indices", " 0 40;80 ") == [0, 40, 80]
    assert parse.parse_int_list("indices", "") == [] and parse.parse_int_list("indices", None) == []
    with pytest.raises(InertiaInputError) as e:
        parse.parse_int_list("indices", "0, 4.5")
    assert e.value.name == "indices" and "'4.5'" in str(e.value) and "Fix:" in str(e.value)


def test_parse_directions_and_boxes():
    assert parse.parse_directions("Right, left") == ("left", "right")
    assert parse.parse_directions("all") == parse.DIRECTIONS
    for bad in ("left,sideways", "", "north"):
        with pytest.raises(InertiaInputError) as e:
            parse.parse_directions(bad)
        assert e.value.name == "direction"
    assert parse.parse_boxes("1,2,3,4") == [(None, (1.0, 2.0, 3.0, 4.0))]
    assert parse.parse_boxes("0: 0,0,10,10; 10: 10,0,20,10") == [(0, (0.0, 0.0, 10.0, 10.0)), (10, (10.0, 0.0, 20.0, 10.0))]
    for bad in ("1,2,3", "3,0,1,4", "0: 1,1,2,2; 3,3,4,4", "1,1,2,2; 3,3,4,4"):
        with pytest.raises(InertiaInputError):
            parse.parse_boxes(bad)
