"""The change / disappearance meter node inside real ComfyUI: its schema as ComfyUI registers it, and its
outputs (plot, report, floats) on a synthetic video with known motion and a known vanishing frame."""

from __future__ import annotations

import pytest
import torch

from comfyui_inertia.nodes.pure.errors import InertiaInputError


@pytest.fixture(scope="module")
def cm(comfy):
    from comfyui_inertia.nodes import change_meter
    return change_meter


def test_node_schema(comfy, cm):
    for cls in cm.NODES:
        schema = cls.GET_SCHEMA()
        assert comfy.NODE_CLASS_MAPPINGS[schema.node_id] is cls and schema.description
        assert all(i.tooltip for i in schema.inputs) and all(o.tooltip for o in schema.outputs)
    assert cm.InertiaChangeMeter.GET_SCHEMA().category == "Inertia/measure"


def test_change_meter_node(cm):
    v = torch.full((12, 48, 64, 3), 0.1)
    for t in range(12):
        if t < 6:
            v[t, 10:22, 6:18] = 0.9          # a still square in the region, gone from frame 6
        if t < 9:
            v[t, 30:40, 30 + t:40 + t] = 0.6  # another square moving 1 px/frame outside it until frame 8
    mask = torch.zeros(1, 48, 64)
    mask[0, 4:28, 2:24] = 1.0
    out = cm.InertiaChangeMeter.execute(images=v, mask=mask, fps=30.0, motion_threshold=0.04, dynamic_threshold=0.01)
    plot, report, energy, dyn, remaining = out.args
    assert plot.shape == (1, 540, 960, 3) and plot.dtype == torch.float32 and 0 <= float(plot.min()) <= float(plot.max()) <= 1
    assert report.splitlines()[0].startswith("InertiaChangeMeter: 12 frames")
    assert "below 0.5 from: frame 6 (0.20 s)" in report
    table = [line.split("\t") for line in report.splitlines() if line[:1].isdigit()]
    assert len(table) == 12 and float(table[6][2]) > float(table[5][2]) > 0  # vanishing is the biggest change
    assert [float(r[5]) for r in table[:6]] == [1.0] * 6 and max(float(r[5]) for r in table[6:]) < 0.05
    assert float(table[10][2]) == 0.0  # everything gone or still
    assert energy > 0 and dyn == pytest.approx(9 / 11) and remaining < 0.05
    assert out.ui is not None
    no_mask = cm.InertiaChangeMeter.execute(images=v).args
    assert no_mask[4] == -1.0 and "region" not in no_mask[1]
    with pytest.raises(InertiaInputError, match="fewer than 2 frames"):
        cm.InertiaChangeMeter.execute(images=v[:1])
