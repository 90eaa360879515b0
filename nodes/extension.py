"""The pack's ComfyExtension: the list of every node, collected from each capability module."""

from __future__ import annotations

from comfy_api.latest import ComfyExtension, io

from . import (
    alg,
    change_meter,
    framepack_cache,
    framepack_controls,
    framepack_inputs,
    framepack_loader,
    framepack_sampler,
    relaxation_cfg,
    samplers,
    temporal_unlearning,
    vace_encode,
    vace_masks,
    vace_preview,
    vace_space,
    validation,
)
from .testbed import comfy_nodes as testbed

#: Capability modules, in menu order; each exposes ``NODES``.
MODULES = (
    relaxation_cfg,
    temporal_unlearning,
    alg,
    vace_masks,
    vace_space,
    vace_preview,
    vace_encode,
    framepack_loader,
    framepack_inputs,
    framepack_sampler,
    framepack_controls,
    framepack_cache,
    samplers,
    change_meter,
    testbed,
)


#: Per-input rules of nodes whose modules do not derive from ``validation.InertiaNode`` yet, by node id: the
#: nodes' own wording for values below the schema minimum.
PENDING_RULES = {
    "InertiaFramePackHistoryControls": {
        name: validation.InputRule(below_min="is negative (α < 0 would sharpen older history)",
                                   fix="enter α ≥ 0 (growth per latent frame of age; 0 = the same for every age)")
        for name in ("lowpass_age_slope", "decay_age_slope")},
}


class InertiaExtension(ComfyExtension):
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        """Every node of :data:`MODULES`, each with the pack's input validation (``nodes/validation.py``)
        applied: nodes derived from ``InertiaNode`` have it already, :func:`validation.checked` adds it to the
        others in place."""
        return [validation.checked(node, PENDING_RULES.get(node.GET_SCHEMA().node_id))
                for module in MODULES for node in module.NODES]
