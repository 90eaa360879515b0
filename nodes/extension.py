"""The pack's ComfyExtension: the list of every node, collected from each capability module."""

from __future__ import annotations

from comfy_api.latest import ComfyExtension, io

from . import (
    alg,
    change_meter,
    framepack,
    framepack_controls,
    framepack_sampler,
    relaxation_cfg,
    temporal_unlearning,
    vace_masks,
    validation,
)

#: Capability modules, in menu order; each exposes ``NODES``.
MODULES = (
    relaxation_cfg,
    temporal_unlearning,
    alg,
    vace_masks,
    framepack,
    framepack_sampler,
    framepack_controls,
    change_meter,
)


#: Per-input rules of nodes whose modules do not derive from ``validation.InertiaNode`` yet, by node id: the
#: nodes' own wording for values below the schema minimum. Move each into its class as ``INPUT_RULES`` when its
#: module switches to ``InertiaNode``.
PENDING_RULES = {
    "FramePackHistoryControls": {
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
