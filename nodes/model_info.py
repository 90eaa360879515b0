"""Read facts about a ComfyUI MODEL (ModelPatcher): sampling type, family, guidance input.

Thin glue shared by every patch node. Imports ComfyUI lazily so the pack's pure math
stays importable without it.
"""

from __future__ import annotations

from .pure.errors import InertiaInputError

#: Families the pack's patch nodes understand, by ComfyUI model class name.
SUPPORTED_FAMILIES = "Wan 2.1/2.2 (T2V, I2V, FLF, VACE) and HunyuanVideo (T2V, I2V)"


def sampling_parameterization(model_sampling) -> str:
    """Return ``"flow"`` or ``"eps"`` for a live ``model_sampling`` object.

    Flow = ComfyUI's ``CONST`` (rectified flow: Wan, HunyuanVideo). ``eps`` covers EPS and
    V prediction (and EDM, a V variant). Anything else (X0, Cosmos RFlow, …) raises.

    Raises:
        InertiaInputError: the model's sampling is neither flow nor EPS/V.
    """
    import comfy.model_sampling as ms

    if isinstance(model_sampling, ms.CONST):
        return "flow"
    x0_like = tuple(c for c in (getattr(ms, "X0", None), getattr(ms, "COSMOS_RFLOW", None)) if c)
    if isinstance(model_sampling, ms.EPS) and not isinstance(model_sampling, x0_like):
        return "eps"
    raise InertiaInputError(
        "model", type(model_sampling).__name__,
        "use a flow-matching model (Wan, HunyuanVideo) or an EPS/V-prediction model",
        "has a sampling type that is neither flow nor EPS/V")


def unwrap_compiled(module):
    """The module under ``torch.compile``'s ``OptimizedModule`` wrapper (``_orig_mod``), else ``module``."""
    while getattr(module, "_orig_mod", None) is not None and module is not module._orig_mod:
        module = module._orig_mod
    return module


def diffusion_model(model_patcher):
    """The ``nn.Module`` a ModelPatcher wraps (``model.model.diffusion_model``), seen through a
    ``torch.compile`` wrapper (an ``OptimizedModule`` object-patched in place of it)."""
    return unwrap_compiled(model_patcher.get_model_object("diffusion_model"))


def is_wan22_ti2v(model_patcher) -> bool:
    """True for Wan 2.2 TI2V-5B: ComfyUI's ``comfy.model_base.WAN22`` (48-channel latent), whose start
    image enters through the denoise mask (core ``Wan22ImageToVideoLatent``), not a concat condition."""
    import comfy.model_base as mb

    return isinstance(getattr(model_patcher, "model", None), mb.WAN22)


def has_guidance_input(model_patcher) -> bool:
    """True for guidance-distilled models with an embedded guidance input (HunyuanVideo, Flux)."""
    import torch.nn as nn

    dm = diffusion_model(model_patcher)
    params = getattr(dm, "params", None)
    if params is not None and hasattr(params, "guidance_embed"):
        return bool(params.guidance_embed)
    g = getattr(dm, "guidance_in", None)
    return g is not None and not isinstance(g, nn.Identity)


def model_family(model_patcher) -> str:
    """Classify a MODEL as ``wan``, ``wan_vace``, ``hunyuan`` or ``other``.

    Decided by the ComfyUI diffusion-model class (``comfy.ldm.wan.model.WanModel`` and
    subclasses, ``comfy.ldm.hunyuan_video.model.HunyuanVideo``), never by tensor shapes; a
    ``torch.compile`` wrapper is seen through (:func:`unwrap_compiled`). Weight formats (fp8,
    GGUF ``GGMLOps`` layers) do not change the class.
    """
    import comfy.ldm.hunyuan_video.model as hy
    import comfy.ldm.wan.model as wan

    dm = diffusion_model(model_patcher)
    if isinstance(dm, wan.VaceWanModel):
        return "wan_vace"
    if isinstance(dm, wan.WanModel):
        return "wan"
    if isinstance(dm, hy.HunyuanVideo):
        return "hunyuan"
    return "other"
