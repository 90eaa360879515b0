"""Relaxation CFG: guidance as a function of noise level.

Source: "Adaptive Control of Temporal Inertia in Large-Scale Video Generation Models", eq. 2.

Two routes, one schedule (``nodes/pure/relaxation.py``):

* ``cfg`` (real-CFG models: Wan 2.1/2.2, VACE): a ``PREDICT_NOISE`` wrapper under :data:`KEY` sets the
  guider's ``cfg`` to s(σ) for each model call, so whatever consumes the scale (core's CFG mix, any
  ``sampler_cfg_function`` such as RescaleCFG / APG / CFG-Zero* / TCFG, post-CFG functions) receives s(σ)
  in any node order; no slot is owned, so nothing replaces it. No extra model evaluations; the uncond
  pass runs wherever s(σ) ≠ 1, also on a cfg-1 sampler.
* ``embedded`` (guidance-distilled models: HunyuanVideo, FramePack): an
  ``APPLY_MODEL`` wrapper under the key :data:`KEY` rewrites the ``guidance`` value the
  model receives to s(σ). For FramePack it can take one β per section (the paper's
  "directorial control"): :func:`install_section_betas`, used by FramePack History Controls;
  the running section comes from ``transformer_options[keys.FRAMEPACK_SECTION]``.

This module owns both wrappers; a later RelaxationCFG replaces an earlier one (``nodes/patching.py``
lists which nodes stack and which replace).

σ is read per call from the sampler and normalised with the model's *live*
``model_sampling`` (ModelSamplingSD3 shift and KSamplerAdvanced splits stay correct:
the schedule is a function of σ, never of the step index).
"""

from __future__ import annotations

import dataclasses
import logging
import weakref

import torch
from comfy_api.latest import io, ui

from . import keys, patching
from .model_info import has_guidance_input, sampling_parameterization
from .pure import framepack_history as fh
from .pure.errors import InertiaInputError
from .pure.relaxation import (
    PAPER_BETA,
    PAPER_DECAY_POWER,
    RelaxationParams,
    check_s_min,
    normalized_sigma,
    relaxation_scale,
    schedule_table,
)

log = logging.getLogger("ComfyUI-Inertia")

#: Pack-specific key for wrappers installed by this module.
KEY = keys.RELAXATION
GUIDANCE_MODES = ("auto", "cfg", "embedded")


_RANGES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _sampling_range(ms) -> tuple[float, float, str]:
    """``(sigma_min, sigma_max, parameterization)`` of a live model_sampling, read once per object
    (shift patches replace the object, e.g. ModelSamplingSD3, so a new object is read anew)."""
    hit = _RANGES.get(ms)
    if hit is None:
        hit = _RANGES[ms] = (float(ms.sigma_min), float(ms.sigma_max), sampling_parameterization(ms))
    return hit


def _scales(params: RelaxationParams, sigma: torch.Tensor, model, s_base) -> torch.Tensor:
    """s(σ) per batch entry, ``[B]`` float32, using the model's live model_sampling."""
    lo, hi, kind = _sampling_range(model.model_sampling)
    sigma_hat = normalized_sigma(sigma.detach().float().cpu(), lo, hi, kind)
    return relaxation_scale(sigma_hat.flatten(), s_base, params)


def _noise_fraction(sigma: float, kind: str) -> float:
    return sigma if kind == "flow" else sigma / (1.0 + sigma * sigma) ** 0.5


def scale_at(params: RelaxationParams, sigma: float, ms, s_base: float) -> float:
    """s(σ) of eq. 2 for one model σ (a float), with the live ``model_sampling`` ``ms``: pure float arithmetic
    (no tensor ops, so the per-call cost is a dict lookup after the first call at each σ). Same rule as
    :func:`nodes.pure.relaxation.normalized_sigma` and :func:`nodes.pure.relaxation.relaxation_scale`."""
    lo, hi, kind = _sampling_range(ms)
    g_lo, g_hi = _noise_fraction(lo, kind), _noise_fraction(hi, kind)
    if not g_hi > g_lo:
        normalized_sigma(sigma, lo, hi, kind)  # raises the named error
    sh = min(1.0, max(0.0, (_noise_fraction(sigma, kind) - g_lo) / (g_hi - g_lo)))
    return params.s_min + (s_base - params.s_min) * (1.0 - params.beta * sh ** params.decay_power)


def make_predict_noise_wrapper(params: RelaxationParams):
    """Build the ``PREDICT_NOISE`` wrapper of cfg mode: it sets the guider's ``cfg`` to s(σ) for one call.

    ``executor.class_obj`` is the guider (ComfyUI ``comfy/samplers.py`` ``CFGGuider.outer_predict_noise``);
    its ``cfg`` is what ``sampling_function`` passes on as ``cond_scale``, so core's default mix, every
    ``sampler_cfg_function`` (RescaleCFG, APG, CFG-Zero*, TCFG, …) and every post-CFG function receive
    s(σ), whatever the node order. The guider's own value is restored in ``finally``. Since
    ``sampling_function`` skips the uncond pass only when ``cond_scale`` is 1, an ``s_base`` above 1 on a
    cfg-1 sampler runs the uncond pass wherever s(σ) ≠ 1 (at s(σ) = 1 the mix is the cond prediction).

    σ: one read of the ``[B]`` timestep per model call (B floats to the host; the guider needs a Python
    float); s(σ) is cached per (σ, base) for the live ``model_sampling``.

    Raises (at sampling time):
        InertiaInputError: ``s_base`` 0 and the sampler's cfg below ``s_min``.
    """
    cache: dict = {}
    warned: set = set()

    def warn_once(msg):
        if msg not in warned:
            warned.add(msg)
            log.warning("RelaxationCFG: %s", msg)

    def relaxation_predict_noise(executor, x, timestep, *args, **kwargs):
        guider = executor.class_obj
        sampler_cfg = getattr(guider, "cfg", None)
        if not isinstance(sampler_cfg, (int, float)):
            warn_once(f"the guider {type(guider).__name__} has no single cfg value, so the schedule is not "
                      "applied with it; use CFGGuider, KSampler or KSamplerAdvanced")
            return executor(x, timestep, *args, **kwargs)
        if getattr(guider, "conds", {}).get("negative") is None:
            warn_once(f"the guider {type(guider).__name__} has no negative conditioning, so there is no CFG "
                      "mix to schedule")
            return executor(x, timestep, *args, **kwargs)
        base = params.base(sampler_cfg)
        sigmas = timestep.detach().flatten().tolist()  # the one host read per call
        sigma = sigmas[0]
        if any(v != sigma for v in sigmas[1:]):
            warn_once(f"the batch carries different sigmas {sigmas}; the guider takes one scale, so s(σ) of the "
                      "first entry is used for all")
        ms = guider.inner_model.model_sampling if hasattr(guider, "inner_model") else \
            guider.model_patcher.get_model_object("model_sampling")
        hit = (sigma, base, id(ms))
        s = cache.get(hit)
        if s is None:
            if params.s_base == 0:
                check_s_min(params.s_min, base, "the sampler's cfg")
            if len(cache) > 4096:
                cache.clear()
            s = cache[hit] = scale_at(params, sigma, ms, base)
        guider.cfg = s
        try:
            return executor(x, timestep, *args, **kwargs)
        finally:
            guider.cfg = sampler_cfg

    return patching.tag(relaxation_predict_noise, KEY, relaxation=params)


def _guidance_wrapper(params: RelaxationParams):
    """The ``APPLY_MODEL`` wrapper setting the model's ``guidance`` input (``[B]``) to s(σ) of ``params``."""

    def relaxation_guidance_wrapper(executor, x, t, *args, **kwargs):
        received = kwargs.get("guidance")
        if received is None and params.s_base == 0:
            raise InertiaInputError(
                "s_base", 0, "set s_base to the distilled guidance you want (HunyuanVideo uses 6)",
                "asks for the model's own guidance value, but this model received none")
        if params.s_base == 0:
            base = received.detach().float().cpu().flatten()
            check_s_min(params.s_min, float(base.min()), "the conditioning's guidance")
        else:
            base = params.s_base
        s = _scales(params, t, executor.class_obj, base)
        if received is not None:
            s = s.to(device=received.device, dtype=received.dtype).expand_as(received)
        kwargs["guidance"] = s
        return executor(x, t, *args, **kwargs)

    return relaxation_guidance_wrapper


def _section_detail(sec: dict) -> str:
    try:
        return (f" ({sec['total_seconds']:g} s at latent_window_size {sec['latent_window_size']}: "
                f"round({sec['total_seconds']:g}·30 / ({sec['latent_window_size']}·4)) = {sec['count']})")
    except (KeyError, TypeError, ValueError):
        return ""


def check_section_count(betas: tuple, section: dict | None) -> None:
    """Raise unless ``section`` (the ``keys.FRAMEPACK_SECTION`` dict of a run) exists and counts ``len(betas)``
    sections.

    Raises:
        InertiaInputError: no section facts (a sampler other than FramePackSectionSampler), or a β count that
            differs from the section count (the message shows the count's arithmetic).
    """
    if section is None:
        raise InertiaInputError("section_betas", ", ".join(f"{b:g}" for b in betas),
                                "sample with FramePack Section Sampler (it tells the model which section runs), "
                                "or leave section_betas empty",
                                "needs the section index, and this sampler gives none")
    fh.check_section_betas(betas, int(section["count"]), _section_detail(section))


def make_embedded_wrapper(params: RelaxationParams, section_betas: tuple = ()):
    """Build an ``APPLY_MODEL`` wrapper that sets the model's ``guidance`` input (``[B]``) to s(σ).

    With ``section_betas`` (one β per FramePack section, video time order) the schedule of ``params`` runs with
    β of the running section, read per call from ``transformer_options[keys.FRAMEPACK_SECTION]["index"]``.

    Raises (at sampling time):
        InertiaInputError: ``s_base`` 0 and the model received no guidance, or a guidance below ``s_min``;
            section betas without section facts or with a count other than the section count.
    """
    betas = tuple(section_betas)
    if not betas:
        return patching.tag(_guidance_wrapper(params), KEY, relaxation=params, section_betas=())
    per_beta = {}

    def relaxation_section_guidance(executor, x, t, *args, **kwargs):
        to = kwargs.get("transformer_options")
        if to is None and len(args) >= 4:
            to = args[3]  # (c_concat, c_crossattn, control, transformer_options)
        sec = (to or {}).get(keys.FRAMEPACK_SECTION)
        if sec is None or len(betas) != int(sec["count"]) or not 0 <= int(sec["index"]) < len(betas):
            check_section_count(betas, sec)
        beta = betas[int(sec["index"])]
        wrapper = per_beta.get(beta)
        if wrapper is None:
            wrapper = per_beta[beta] = _guidance_wrapper(dataclasses.replace(params, beta=beta))
        return wrapper(executor, x, t, *args, **kwargs)

    return patching.tag(relaxation_section_guidance, KEY, relaxation=params, section_betas=betas)


def _embedded_on(m) -> tuple[RelaxationParams | None, tuple]:
    """``(params, section betas)`` of this module's embedded wrapper on ``m``; ``(None, ())`` without one."""
    for w in m.get_wrappers(patching.WRAPPERS.APPLY_MODEL, KEY):
        params = patching.fact(w, "relaxation")
        if isinstance(params, RelaxationParams):
            return params, tuple(patching.fact(w, "section_betas", ()))
    return None, ()


def install_section_betas(m, betas: tuple) -> tuple[RelaxationParams, bool]:
    """Put the per-section embedded schedule on ModelPatcher ``m`` (a clone; changed in place).

    p, s_min and s_base come from a Relaxation CFG already on ``m`` (its β gives way to ``betas``); without one,
    the paper's schedule (p 0.7, s_min 1, s_base = the sampler's distilled guidance). Returns ``(the schedule
    used, whether it came from an upstream Relaxation CFG)``.
    """
    base, _ = _embedded_on(m)
    upstream = base is not None
    if base is None:
        base = RelaxationParams(beta=0.0, decay_power=PAPER_DECAY_POWER, s_min=1.0, s_base=0.0)
    patching.install(m, patching.WRAPPERS.APPLY_MODEL, KEY, make_embedded_wrapper(base, betas), replace=True)
    return base, upstream


def resolve_mode(model, guidance: str) -> str:
    """``auto`` → ``embedded`` for models with a guidance input, else ``cfg``; validates the choice."""
    if guidance not in GUIDANCE_MODES:
        raise InertiaInputError("guidance", guidance, f"use one of {GUIDANCE_MODES}")
    embedded_ok = has_guidance_input(model)
    if guidance == "auto":
        return "embedded" if embedded_ok else "cfg"
    if guidance == "embedded" and not embedded_ok:
        raise InertiaInputError(
            "guidance", guidance,
            "use 'cfg' (or 'auto') for real-CFG models such as Wan; 'embedded' needs a "
            "guidance-distilled model such as HunyuanVideo",
            "needs a model with an embedded guidance input, and this model has none")
    return guidance


def apply_relaxation(model, params: RelaxationParams, guidance: str = "auto"):
    """Return ``(patched_clone, mode)``. The input ModelPatcher is never modified.

    Neutral settings (β = 0 and s_base = 0: s(σ) is the sampler's own value at every σ)
    return the input model itself, so sampling is bit-identical to stock. cfg mode owns no slot: cfg
    functions of other nodes (before or after) receive s(σ); an earlier RelaxationCFG is replaced, and
    FramePackHistoryControls' per-section β list is kept.

    Raises:
        InertiaInputError: a model whose sampling is neither flow nor EPS/V; an unknown ``guidance``;
            ``embedded`` on a model without a guidance input.
    """
    sampling_parameterization(model.get_model_object("model_sampling"))  # raises for X0 etc.
    mode = resolve_mode(model, guidance)
    if params.beta == 0 and params.s_base == 0:
        return model, mode
    m = model.clone()
    if mode == "cfg":
        if patching.uninstall(m, patching.CFG_FUNCTION, KEY):  # a cfg function of an older pack version
            log.info("RelaxationCFG: dropped an older Relaxation CFG cfg function; the scale is now set per call")
        patching.install(m, patching.WRAPPERS.PREDICT_NOISE, KEY, make_predict_noise_wrapper(params), replace=True)
    else:
        _, betas = _embedded_on(m)
        if betas:  # FramePackHistoryControls' per-section β stays; it now varies β around these settings
            log.info("RelaxationCFG: keeping the per-section betas %s set upstream", betas)
        patching.install(m, patching.WRAPPERS.APPLY_MODEL, KEY, make_embedded_wrapper(params, betas), replace=True)
    return m, mode


_SCHEDULE_INPUTS = lambda: [  # noqa: E731
    io.Float.Input("beta", default=PAPER_BETA, min=-1.0, max=1.0, step=0.01,
                   tooltip="β in s(σ) = s_min + (s_base − s_min)(1 − β·σ̂^p). 0.75 = paper's best (relaxes "
                           "guidance at high noise); 0 = stock CFG; negative = the paper's 'Boost'."),
    io.Float.Input("decay_power", default=PAPER_DECAY_POWER, min=0.01, max=10.0, step=0.01,
                   tooltip="p, the power on the normalised noise level σ̂ ∈ [0,1]. Must be > 0; paper's best 0.7."),
    io.Float.Input("s_min", default=1.0, min=0.0, max=100.0, step=0.1,
                   tooltip="Floor of the schedule (a guidance scale). Must not exceed s_base."),
    io.Float.Input("s_base", default=0.0, min=0.0, max=100.0, step=0.1,
                   tooltip="Guidance at σ̂ = 0. 0 = use the sampler's cfg (cfg mode) or the conditioning's "
                           "guidance value (embedded mode); any other value overrides it."),
]


class RelaxationCFG(io.ComfyNode):
    """MODEL → MODEL: schedule CFG or embedded guidance by noise level (eq. 2)."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InertiaRelaxationCFG",
            display_name="Relaxation CFG",
            category="Inertia/guidance",
            description=(
                "Guidance as a function of noise level, s(σ) = s_min + (s_base − s_min)(1 − β·σ̂^p) "
                "(\"Adaptive Control of Temporal Inertia in Large-Scale Video Generation Models\", eq. 2). Relaxes the pull towards the first frame at high noise so "
                "prompts that ask for change can act. Real CFG for Wan/VACE; the embedded guidance input "
                "for HunyuanVideo. Scheduled by σ, so shift and split (two-expert) samplers stay correct."),
            inputs=[
                io.Model.Input("model", tooltip="The model to patch. It is cloned; the input is never changed."),
                *_SCHEDULE_INPUTS(),
                io.Combo.Input("guidance", options=list(GUIDANCE_MODES), default="auto",
                               tooltip="cfg: schedule the real CFG scale (Wan, VACE); other guidance nodes "
                                       "(RescaleCFG, APG, CFG-Zero*, TCFG) receive s(σ) in any order, and the "
                                       "uncond pass runs wherever s(σ) ≠ 1, even on a cfg-1 sampler. embedded: schedule a guidance-distilled model's guidance "
                                       "input (HunyuanVideo). auto: embedded if the model has a guidance input."),
            ],
            outputs=[io.Model.Output(display_name="model", tooltip="The patched clone.")],
        )

    @classmethod
    def execute(cls, model, beta, decay_power, s_min, s_base, guidance) -> io.NodeOutput:
        params = RelaxationParams(beta=beta, decay_power=decay_power, s_min=s_min, s_base=s_base)
        m, mode = apply_relaxation(model, params, guidance)
        neutral = " - neutral settings (beta 0, s_base 0): model returned unpatched" if m is model else ""
        text = (f"RelaxationCFG: {mode} mode ({'picked by auto' if guidance == 'auto' else 'as chosen'}); "
                f"beta={beta:g} p={decay_power:g} s_min={s_min:g} s_base={'sampler' if s_base == 0 else f'{s_base:g}'}{neutral}")
        log.info(text)
        return io.NodeOutput(m, ui=ui.PreviewText(text))


def relaxation_on(model) -> tuple[RelaxationParams, str, tuple] | None:
    """The Relaxation CFG schedule a ModelPatcher carries, as the sampler will apply it.

    Returns ``(params, mode, section_betas)``: ``mode`` ``"cfg"`` (read from the
    ``PREDICT_NOISE`` wrapper under :data:`KEY`) or ``"embedded"`` (the ``APPLY_MODEL`` wrapper under :data:`KEY`);
    ``section_betas`` is FramePack History Controls' per-section β list (empty if none). ``None`` when the
    model carries no Relaxation CFG: none was applied, or its settings were neutral.
    """
    for w in model.get_wrappers(patching.WRAPPERS.PREDICT_NOISE, KEY):
        params = patching.fact(w, "relaxation")
        if isinstance(params, RelaxationParams):
            return params, "cfg", ()
    params, betas = _embedded_on(model)
    if params is not None:
        return params, "embedded", betas
    return None


class RelaxationCFGPreview(io.ComfyNode):
    """MODEL + SIGMAS → plot + per-step table of the Relaxation CFG schedule the model carries."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InertiaRelaxationCFGPreview",
            display_name="Relaxation CFG Preview",
            category="Inertia/guidance",
            is_output_node=True,
            description=("Shows the guidance scale the patched model applies at each step of a sigma schedule "
                         "(from BasicScheduler or any scheduler node): a plot of s against step and against σ, "
                         "and a per-step table. The schedule is read from the Relaxation CFG patch on the model, "
                         "so it always matches what the sampler will do."),
            inputs=[
                io.Model.Input("model", tooltip="The model out of Relaxation CFG (or any node after it). Its "
                                                "schedule and its own model_sampling (shift included) are used."),
                io.Sigmas.Input("sigmas", tooltip="The schedule to preview, [steps+1] sigmas of this model "
                                                  "(e.g. BasicScheduler on the same model)."),
                io.Float.Input("cfg", default=6.0, min=0.0, max=100.0, step=0.1,
                               tooltip="The sampler's cfg (cfg mode) or the distilled guidance, e.g. FluxGuidance "
                                       "(embedded mode). Used only where the patch's s_base is 0, which means "
                                       "'the sampler's own value'; set it to the value your sampler uses."),
            ],
            outputs=[
                io.Image.Output(display_name="plot", tooltip="[1,H,W,3] plot of s vs step and s vs σ."),
                io.String.Output(display_name="table", tooltip="step, σ, σ̂, s per step, one line each."),
            ],
        )

    @classmethod
    def execute(cls, model, sigmas, cfg) -> io.NodeOutput:
        """Raises InertiaInputError: ``sigmas`` above the model's sigma_max (a schedule of another model),
        or ``cfg`` below the patch's ``s_min`` where ``s_base`` is 0."""
        from .plot import schedule_plot

        ms = model.get_model_object("model_sampling")
        lo, hi, kind = float(ms.sigma_min), float(ms.sigma_max), sampling_parameterization(ms)
        top = float(torch.as_tensor(sigmas).max())
        if top > hi * (1 + 1e-3) + 1e-6:
            raise InertiaInputError("sigmas", f"max {top:.4g}",
                                    "make the sigmas from this model (BasicScheduler with the same MODEL)",
                                    f"is above this model's sigma_max {hi:.4g}, so it is another model's schedule")
        found = relaxation_on(model)
        if found is None:  # stock guidance: the sampler's value at every step
            params, mode, betas = RelaxationParams(beta=0.0, decay_power=1.0, s_min=0.0, s_base=0.0), None, ()
        else:
            params, mode, betas = found
        base = params.base(cfg)
        if found is not None:
            check_s_min(params.s_min, base, "cfg" if params.s_base == 0 else "s_base")
        rows = schedule_table(sigmas, lo, hi, kind, base, params)
        table = "step\tsigma\tsigma_hat\tscale\n" + "\n".join(
            f"{r['step']}\t{r['sigma']:.5f}\t{r['sigma_hat']:.5f}\t{r['scale']:.5f}" for r in rows)
        curve = lambda sh: relaxation_scale(sh, base, params)  # noqa: E731
        if found is None:
            title = f"No Relaxation CFG on this model: guidance {base:g} at every step"
        else:
            title = (f"Relaxation CFG ({mode})  beta={params.beta:g}  p={params.decay_power:g}  "
                     f"s_min={params.s_min:g}  s_base={base:g}" + ("  (per-section betas: base shown)" if betas else ""))
        image = schedule_plot(rows, curve, title=title)
        return io.NodeOutput(image, table, ui=ui.PreviewImage(image, cls=cls))


NODES = [RelaxationCFG, RelaxationCFGPreview]
