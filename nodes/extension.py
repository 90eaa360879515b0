"""The pack's ComfyExtension: the list of every node, collected from each capability module."""

from __future__ import annotations

from comfy_api.latest import ComfyExtension, io

from . import alg, framepack, framepack_controls, relaxation_cfg, temporal_unlearning, vace_masks
from .testbed import comfy_nodes as testbed


class InertiaExtension(ComfyExtension):
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return [*relaxation_cfg.NODES, *temporal_unlearning.NODES, *alg.NODES, *vace_masks.NODES, *framepack.NODES,
                *framepack_controls.NODES, *testbed.NODES]
