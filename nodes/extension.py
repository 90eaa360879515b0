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


class InertiaExtension(ComfyExtension):
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return [node for module in MODULES for node in module.NODES]
