"""``nodes/headless/grid.py``: ``--set`` parsing, node lookup by id / title / class (with and without the
pack's ``Inertia`` prefix), type conversion, grid expansion. Standard library only: no ComfyUI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from comfyui_inertia.nodes.headless import grid
from comfyui_inertia.nodes.headless.client import UsageError

REPO = Path(__file__).resolve().parents[2]
#: a fixed API graph with the node ids as they were before the pack prefix (the lookup accepts both spellings)
WAN = json.loads((REPO / "tests" / "unit" / "data" / "wan21_t2v_graph_unprefixed.json").read_text())


@pytest.mark.parametrize("raw,values", [
    ("0..7", [0, 1, 2, 3, 4, 5, 6, 7]),
    ("-1,-0.5,0,0.5,0.75,1", [-1, -0.5, 0, 0.5, 0.75, 1]),
    ("0..1:0.25", [0.0, 0.25, 0.5, 0.75, 1.0]),
    ("3..1", [3, 2, 1]),
    ("0..4:2,10", [0, 2, 4, 10]),
    ("-1..1", [-1, 0, 1]),
    ("uni_pc,euler", ["uni_pc", "euler"]),
    ('["a, b", "c"]', ["a, b", "c"]),
    ("true,false", [True, False]),
])
def test_parse_values(raw, values):
    got = grid.parse_values("X.y=" + raw, raw)
    assert got == values and [type(v) for v in got] == [type(v) for v in values]


def test_float_ranges_are_exact_decimals():
    assert grid.parse_values("s", "0..0.3:0.1") == [0.0, 0.1, 0.2, 0.3]  # not 0.30000000000000004


@pytest.mark.parametrize("spec,message", [
    ("RelaxationCFG.beta", "expected NODE.INPUT=V1,V2,..."),
    (".beta=1", "expected NODE.INPUT=V1,V2,..."),
    ("RelaxationCFG.beta=", "no values after '='"),
    ("RelaxationCFG.beta=1,,2", "an empty value between commas"),
    ("KSampler.seed=0..9:0", "the step of '0..9:0' must be > 0"),
    ("KSampler.seed=0..99999", "expands to 100000 values"),
    ("RelaxationCFG.beta=[1,", "the JSON list does not parse"),
    ("RelaxationCFG.beta=[]", "non-empty list"),
])
def test_bad_specs(spec, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(".", r"\.").replace("[", r"\[")):
        grid.build_axes(WAN, [spec])


def test_nodes_by_id_title_class_and_prefix():
    assert grid.resolve_nodes(WAN, "7") == ["7"]
    assert grid.resolve_nodes(WAN, "RelaxationCFG") == ["7"]
    assert grid.resolve_nodes(WAN, "InertiaRelaxationCFG") == ["7"]  # the prefixed id, before the rename
    assert grid.resolve_nodes(WAN, "Positive prompt") == ["4"]
    assert grid.resolve_nodes(WAN, "CLIPTextEncode") == ["4", "5"]
    renamed = json.loads(json.dumps(WAN).replace('"RelaxationCFG"', '"InertiaRelaxationCFG"'))
    assert renamed["7"]["class_type"] == "InertiaRelaxationCFG"
    for ref in ("RelaxationCFG", "InertiaRelaxationCFG"):  # after the rename both still work
        assert grid.resolve_nodes(renamed, ref) == ["7"]
    assert grid.resolve_nodes(WAN, "Relaxation") == []


def test_build_axes_types_labels_and_apply():
    axes = grid.build_axes(WAN, ["InertiaRelaxationCFG.beta=-1,0,1", "KSampler.cfg=4,6", "KSampler.seed=0..2"])
    beta, cfg, seed = axes
    assert beta.node_ids == ["7"] and beta.values == [-1.0, 0.0, 1.0] and type(beta.values[0]) is float
    assert cfg.values == [4.0, 6.0] and type(cfg.values[0]) is float  # cfg is a float input
    assert seed.values == [0, 1, 2] and seed.replicate and not beta.replicate
    assert [a.label for a in axes] == ["beta", "cfg", "seed"]
    settings = grid.expand(axes)
    assert len(settings) == 18 and settings[0] == {"beta": -1.0, "cfg": 4.0, "seed": 0}
    assert settings[1] == {"beta": -1.0, "cfg": 4.0, "seed": 1}  # the last axis varies fastest
    g = grid.apply(WAN, axes, settings[-1])
    assert (g["7"]["inputs"]["beta"], g["9"]["inputs"]["cfg"], g["9"]["inputs"]["seed"]) == (1.0, 6.0, 2)
    assert WAN["7"]["inputs"]["beta"] == 0.75 and WAN["9"]["inputs"]["seed"] == 42  # the input is not mutated
    assert grid.setting_text(settings[-1]) == "beta=1.0 cfg=6.0 seed=2"


def test_same_input_name_on_two_nodes_gets_a_qualified_label():
    axes = grid.build_axes(WAN, ["RelaxationCFG.beta=0,1", "RelaxationCFGPreview.beta=0,1"])
    assert [a.label for a in axes] == ["RelaxationCFG.beta", "RelaxationCFGPreview.beta"]


@pytest.mark.parametrize("spec,message", [
    ("Relaxation.beta=0,1", "no node 'Relaxation' in the workflow"),
    ("RelaxationCFG.betta=0,1", "node 7 (RelaxationCFG) has no input 'betta' (its inputs: beta, decay_power"),
    ("KSampler.model=1", "input 'model' of node 9 (KSampler) is a link from node 7"),
    ("KSampler.seed=0.5", "0.5 is not an integer"),
    ("KSampler.seed=abc", "'abc' is not an integer"),
    ("RelaxationCFG.beta=high", "'high' is not a number"),
    ("RelaxationCFG.beta=0,0", "a value is listed twice"),
])
def test_resolution_errors(spec, message):
    with pytest.raises(UsageError) as e:
        grid.build_axes(WAN, [spec])
    assert message in str(e.value) and "\n" not in str(e.value)


def test_same_input_twice_is_refused():
    with pytest.raises(UsageError, match="already set by --set 'RelaxationCFG.beta=0,1'"):
        grid.build_axes(WAN, ["RelaxationCFG.beta=0,1", "7.beta=0.5"])
