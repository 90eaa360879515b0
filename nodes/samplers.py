"""Samplers: FramePack's flow-matching UniPC as a ComfyUI ``SAMPLER``.

FramePack (lllyasviel/FramePack) samples with a multistep UniPC written for flow matching
(Zhao et al., "UniPC", arXiv 2302.04867; B(h) = h "bh1" by default, order 3, the data prediction
returned at the last step). ComfyUI's ``uni_pc`` is a different solver (VP-scaled, the last zero
sigma replaced by 0.001, lower orders at the final steps), so the same weights and seed give other
videos. The math lives in ``nodes/pure/unipc_flow.py``; this module wraps it in ComfyUI's
``KSAMPLER`` (``comfy/samplers.py``), the sampler object every ComfyUI sampling path accepts
(SamplerCustom, SamplerCustomAdvanced, FramePackSectionSampler's ``sampler`` input).

:data:`SAMPLER_NAMES` and :func:`sampler_by_name` let a node offer these samplers by name next to
ComfyUI's own (``comfy.samplers.SAMPLER_NAMES`` / ``sampler_object``), without changing ComfyUI's lists.
"""

from __future__ import annotations

import comfy.samplers
from comfy.k_diffusion.sampling import tqdm  # the progress bar core's k-diffusion samplers draw
from comfy_api.latest import io

from .pure import unipc_flow
from .pure.errors import InertiaInputError

#: Sampler names this pack adds, mapped to the UniPC variant: FramePack's default first.
FLOW_UNIPC_NAMES = {"uni_pc_flow": "bh1", "uni_pc_flow_bh2": "bh2"}
#: The pack's names followed by every ComfyUI sampler name, for a node's sampler combo.
SAMPLER_NAMES = [*FLOW_UNIPC_NAMES, *comfy.samplers.SAMPLER_NAMES]


def sample_flow_unipc(model, x, sigmas, extra_args=None, callback=None, disable=None, variant="bh1",
                      order=unipc_flow.DEFAULT_ORDER):
    """k-diffusion sampler function (the contract of ``comfy/k_diffusion/sampling.py``) for FramePack's UniPC.

    ``model(x, sigma[B], **extra_args) → denoised`` is ComfyUI's wrapped model (for flow models the
    data prediction ``x − σ·v``); ``x`` ``[B,C,...]`` at ``sigmas[0]``; ``sigmas`` ``[N+1]`` model σ.
    Returns the sample at ``sigmas[-1]``. N model calls; ``callback`` receives the k-diffusion step dict,
    ``disable`` hides the progress bar. Raises ``InertiaInputError`` for a bad variant, order or schedule.
    """
    extra_args = {} if extra_args is None else extra_args
    with tqdm(total=max(len(sigmas) - 1, 0), disable=disable) as bar:
        def step(info):
            bar.update(1)
            if callback is not None:
                callback(info)

        return unipc_flow.sample_unipc_flow(lambda xi, s: model(xi, s, **extra_args), x, sigmas,
                                            variant=variant, order=order, callback=step)


def flow_unipc_sampler(variant: str = "bh1") -> comfy.samplers.KSAMPLER:
    """A ComfyUI ``SAMPLER`` running FramePack's flow-matching UniPC with ``variant`` "bh1" or "bh2"."""
    if variant not in unipc_flow.VARIANTS:
        raise InertiaInputError("variant", variant, f"use one of {unipc_flow.VARIANTS}")
    return comfy.samplers.KSAMPLER(sample_flow_unipc, extra_options={"variant": variant})


def sampler_by_name(name: str) -> comfy.samplers.Sampler:
    """The ``SAMPLER`` for a name of :data:`SAMPLER_NAMES`: the pack's UniPC, else ``comfy.samplers.sampler_object``."""
    if name in FLOW_UNIPC_NAMES:
        return flow_unipc_sampler(FLOW_UNIPC_NAMES[name])
    return comfy.samplers.sampler_object(name)


class InertiaFlowUniPCSampler(io.ComfyNode):
    """SAMPLER node: FramePack's flow-matching UniPC (bh1 or bh2)."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InertiaFlowUniPCSampler",
            display_name="UniPC (flow matching, FramePack)",
            category="Inertia/sampling",
            description=(
                "The sampler FramePack (lllyasviel/FramePack) uses: multistep UniPC for flow matching "
                "(Zhao et al., arXiv 2302.04867), order 3 with the UniC corrector, one model call per step, "
                "the last step returns the denoised latent. ComfyUI's uni_pc is a different solver and gives "
                "other results. Connect to FramePack Section Sampler's sampler input or to SamplerCustom."),
            inputs=[
                io.Combo.Input("variant", options=list(unipc_flow.VARIANTS), default="bh1",
                               tooltip="UniPC's B(h): bh1 = h (FramePack's default), bh2 = 1 − e^(−h). They "
                                       "differ only in the first two steps at order 3."),
            ],
            outputs=[io.Sampler.Output(display_name="sampler",
                                       tooltip="A SAMPLER for FramePack Section Sampler, SamplerCustom or "
                                               "SamplerCustomAdvanced.")],
        )

    @classmethod
    def execute(cls, variant="bh1") -> io.NodeOutput:
        return io.NodeOutput(flow_unipc_sampler(variant))


NODES = [InertiaFlowUniPCSampler]
