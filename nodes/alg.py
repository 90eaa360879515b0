"""ALG: Adaptive Low-Pass Guidance for image-to-video (Choi et al. 2025, arXiv 2506.08456).

Early in sampling the model is shown a low-pass filtered copy of its image condition, so coarse
motion can form before the sharp image "locks" the video; later it gets the sharp image back.
Filters, schedules, the schedule clock and the three-pass formula: ``nodes/pure/lowpass.py``;
pixel-space re-encoding: ``nodes/alg_pixel.py``.

**Where the image condition is** (filtered in latent space, no re-encode, unless space is pixel):

* Wan 2.1/2.2 I2V and FLF: the 16 image-latent channels of ``c_concat`` ``[B, 20, T, h, w]``, all
  latent frames; the 4 mask channels stay exactly 0/1 (both filters preserve a constant, so this
  equals the paper's filtering of the whole condition).
* Wan VACE: the 32 latent channels of ``vace_context`` ``[B, N, 96, T, h, w]`` in latent frames
  whose mask keeps content (reference image, kept keyframes); control-video frames stay.
* HunyuanVideo I2V: "v1 (concat)" the image channels of ``c_concat`` (layout from the model's
  ``concat_keys``); "v2 (replace)" the first latent frame of ``x``; "custom" ``ref_latent``.
* FramePack: the start latent ``clean_latents[:, :, :1]`` of every section, single-pass form.

**Schedule.** By σ (default): the window is a percent of the noise schedule, turned into σ bounds
with the live ``model_sampling.percent_to_sigma`` per run. By step: the paper's ``i / (N − 1)``
over the sigmas this sampler call received.

**Guidance forms.** ``single_pass``: a ``CALC_COND_BATCH`` wrapper swaps every cond entry for its
filtered copy inside the window (the only form for guidance-distilled models). ``paper``: three
passes while the filter is on, ``v = u_sharp + w·(c_lp − u_lp)``, two after, as ComfyUI's
``sampler_calc_cond_batch_function`` (chaining one already there); it returns the pair
``(u_sharp + c_lp − u_lp, u_sharp)``, so the ordinary CFG mix, or any cfg function downstream (e.g.
Relaxation CFG's scheduled w), yields the paper's formula. At cfg 1 it filters the cond only. A node
applied after ALG that replaces that slot without chaining (core ``SkipLayerGuidanceDiTSimple``) is wrapped
at the start of each run, with a warning naming its function; a run in which the function was never called
(a guider that does not sample through ``sampling_function``) gets a warning naming the guider.

**Space.** ``latent`` (default, the paper's recommendation) filters the stored image latent. ``pixel``
(Wan I2V/FLF only) low-passes the start/end image and VAE-encodes it once per distinct strength before
sampling (``nodes/alg_pixel.py``).

Per-run state (``nodes/alg_run.py``: filter caches, the step log) is made in an ``OUTER_SAMPLE`` wrapper
and reset in its ``finally`` (``nodes/patching.py``); a second ALG replaces the first. Tests and benchmarks read
each run's step log and totals through :func:`add_run_listener`.
"""

from __future__ import annotations

import logging

from comfy_api.latest import io, ui

from . import keys, patching
from .alg_pixel import SPACES, PixelSource, resolve_pixel
from .alg_run import SUPPORTED, ALGConfig, make_outer_sample_wrapper, make_paper_calc_function, make_single_pass_wrapper
from .model_info import has_guidance_input, is_wan22_ti2v, model_family
from .pure.errors import InertiaInputError
from .pure.lowpass import DEFAULT_BLUR_SIGMA, FAMILY_DEFAULTS, FILTERS, SCHEDULE_BY, SCHEDULES, ALGParams

log = logging.getLogger("ComfyUI-Inertia")

#: Pack-specific key for wrappers, the paper-form function and run reports.
KEY = keys.ALG
FORMS = ("auto", "paper", "single_pass")
PRESETS = ("paper defaults for the model family", "custom")


def add_run_listener(model, listener):
    """A clone of ``model`` (ALG applied) whose ALG runs call ``listener(report)`` once at the end of each run.

    ``report`` is a :class:`patching.RunReport`: ``log`` has one dict per filtered-or-not model call (``step``,
    ``sigma``, ``kappa``, ``r``, ``blur_sigma``, ``filtered``, ``passes``, ``form``); ``totals`` has ``form``,
    ``space``, ``filter_computations``, ``vae_encodes`` and ``pixel_strengths`` (strongest first). For
    diagnostics, tests and benchmarks.
    """
    return patching.add_listener(model, KEY, listener)



# --------------------------------------------------------------------------- patch

def resolve_params(model, preset: str, filter: str, resize_factor: float, blur_sigma: float, schedule: str,
                   schedule_by: str, window_start: float, window_end: float, decay_rate: float):
    """Return ``(family, ALGParams)``; the preset fills r* and the window from the paper's configs.

    Raises:
        InertiaInputError: unsupported model family, unknown preset, or bad custom values
        (r outside (0, 1], window start > end, non-finite or negative blur sigma …).
    """
    family = model_family(model)
    if family == "other":
        name = type(model.get_model_object("diffusion_model")).__name__
        raise InertiaInputError("model", name, f"use ALG with one of: {SUPPORTED}",
                                "is not a model family ALG knows an image condition for")
    if preset not in PRESETS:
        raise InertiaInputError("preset", preset, f"use one of {PRESETS}")
    if schedule_by not in SCHEDULE_BY:
        raise InertiaInputError("schedule_by", schedule_by, f"use one of {SCHEDULE_BY}")
    if preset == PRESETS[0]:
        d = FAMILY_DEFAULTS["hunyuan" if family == "hunyuan" else "wan"]
        return family, ALGParams(filter="down_up", resize_factor=d["resize_factor"], schedule="interval",
                                 window_start=0.0, window_end=d["window_end"], schedule_by=schedule_by)
    return family, ALGParams(filter=filter, resize_factor=resize_factor, blur_sigma=blur_sigma, schedule=schedule,
                             window_start=window_start, window_end=window_end, decay_rate=decay_rate,
                             schedule_by=schedule_by)


def resolve_form(model, form: str) -> str:
    """``auto`` → ``single_pass`` for guidance-distilled models and for Wan 2.2 TI2V-5B, else ``paper``.

    TI2V-5B carries its start image in the model input (the denoise mask fixes latent frame 0), not in a
    conditioning: the paper form filters only conditionings, so it would change nothing there.

    Raises:
        InertiaInputError: an unknown form; ``paper`` on a guidance-distilled model or on TI2V-5B.
    """
    if form not in FORMS:
        raise InertiaInputError("guidance_form", form, f"use one of {FORMS}")
    distilled = has_guidance_input(model)
    ti2v = is_wan22_ti2v(model)
    if form == "auto":
        return "single_pass" if distilled or ti2v else "paper"
    if form == "paper" and ti2v:
        raise InertiaInputError(
            "guidance_form", form, "use 'single_pass' (or 'auto') for Wan 2.2 TI2V-5B",
            "filters only conditionings, and Wan 2.2 TI2V-5B carries its start image in the model input")
    if form == "paper" and distilled:
        raise InertiaInputError(
            "guidance_form", form, "use 'single_pass' (or 'auto') for guidance-distilled models such as HunyuanVideo",
            "needs real CFG (an uncond pass), and this model is guidance-distilled")
    return form


def apply_alg(model, params: ALGParams, form: str, family: str, pixel: PixelSource | None = None):
    """Return the patched clone. The input ModelPatcher is never modified.

    Installs under :data:`KEY`: an ``OUTER_SAMPLE`` wrapper (per-run holder) and either a
    ``CALC_COND_BATCH`` wrapper (single_pass) or the ``sampler_calc_cond_batch_function`` (paper,
    chaining one already set). An ALG already on the model is replaced, not stacked.
    """
    wp = patching.WRAPPERS
    m = model.clone()
    for kind in (wp.OUTER_SAMPLE, wp.CALC_COND_BATCH):
        patching.uninstall(m, kind, KEY)
    if patching.uninstall(m, patching.CALC_COND_BATCH_FUNCTION, KEY):
        log.info("ALG: replacing an earlier ALG on this model")
    state = patching.PatchState("ALG", patching.RunWindow(params.window_start, params.window_end))
    if form == "paper":
        patching.install(m, patching.CALC_COND_BATCH_FUNCTION, KEY, lambda prev: make_paper_calc_function(state, prev),
                         replace=True, name="ALG")
    else:
        patching.install(m, wp.CALC_COND_BATCH, KEY, make_single_pass_wrapper(state), replace=True)
    config = ALGConfig(params, form, family, "latent" if pixel is None else "pixel", pixel)
    patching.install(m, wp.OUTER_SAMPLE, KEY, make_outer_sample_wrapper(state, config), replace=True)
    return m


def describe(params: ALGParams, form: str, family: str, model_sampling=None, space: str = "latent") -> str:
    """One-paragraph summary of what the patched model will do (shown in the node)."""
    filt = (f"down_up r*={params.resize_factor:g}" if params.filter == "down_up"
            else f"gaussian sigma*={params.blur_sigma:g} latent px")
    window = f"[{params.window_start:g}, {params.window_end:g}]"
    if params.schedule_by == "sigma":
        where = f"percent of the noise schedule {window}"
        if model_sampling is not None:
            hi = float(model_sampling.percent_to_sigma(params.window_start))
            lo = float(model_sampling.percent_to_sigma(params.window_end))
            where += f" = sigma in [{lo:.4g}, {min(hi, 1e9):.4g}] (current model_sampling)"
    else:
        where = f"step fraction i/(N-1) in {window}"
    cost = {"paper": "3 passes per filtered step, 2 after",
            "single_pass": "no extra passes"}[form]
    room = ("latent space (no re-encode)." if space == "latent" else
            "pixel space: the start/end image is low-passed in image pixels (gaussian sigma x8) and VAE-encoded "
            "once per distinct strength, before sampling; one strength per step.")
    return f"ALG ({family}): {form} form ({cost}); {filt}; {params.schedule} schedule over {where}; {room}"


class ALG(io.ComfyNode):
    """MODEL → MODEL: Adaptive Low-Pass Guidance for image-to-video."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InertiaALG",
            display_name="ALG (Adaptive Low-Pass Guidance)",
            category="Inertia/guidance",
            description=(
                "Adaptive Low-Pass Guidance (Choi et al. 2025): early in sampling the model sees a low-pass "
                "filtered copy of its image condition, so coarse motion forms before the sharp image locks the "
                "video (+36% VBench-I2V dynamic degree in the paper); later the sharp image returns. Acts on the "
                "Wan 2.1/2.2 I2V/FLF concat image, the VACE reference/kept frames and the HunyuanVideo I2V "
                "image latent, in latent space (no re-encode); for Wan I2V/FLF optionally in pixel space (the "
                "start/end image low-passed and re-encoded with the VAE). Connect the conditioning from "
                "WanImageToVideo, WanFirstLastFrameToVideo, WanVaceToVideo or HunyuanImageToVideo."),
            inputs=[
                io.Model.Input("model", tooltip="The I2V model to patch (Wan I2V/FLF/VACE, HunyuanVideo I2V). It is "
                                                "cloned; the input is never changed."),
                io.Combo.Input("preset", options=list(PRESETS), default=PRESETS[0],
                               tooltip="paper defaults: the paper's configs for the model family — Wan: down_up "
                                       "r*=0.40 over the first 20%; HunyuanVideo: r*=0.625 over the first 4% "
                                       "(interval schedule). The filter/schedule inputs below are then ignored. "
                                       "custom: use the inputs below."),
                io.Combo.Input("guidance_form", options=list(FORMS), default="auto",
                               tooltip="paper: three passes while the filter is on (uncond with the sharp image, "
                                       "uncond and cond with the filtered one; v = u_sharp + w·(c_lp − u_lp)), two "
                                       "after — for real-CFG models (Wan, VACE); costs +50% during the window. "
                                       "single_pass: every pass sees the filtered image during the window, no extra "
                                       "cost — the only form for guidance-distilled models (HunyuanVideo), and a "
                                       "cheaper option for Wan. auto: paper for Wan, single_pass for HunyuanVideo."),
                io.Combo.Input("schedule_by", options=list(SCHEDULE_BY), default="sigma",
                               tooltip="sigma: the window is a percent of the noise schedule (converted with the "
                                       "model's percent_to_sigma; robust to step count, shift and split samplers). "
                                       "step: the paper's step fraction i/(N−1) of this sampler's steps, to "
                                       "reproduce its numbers (Wan: 10 of 50 steps)."),
                io.Combo.Input("filter", options=list(FILTERS), default="down_up",
                               tooltip="custom only. down_up: bilinear downsample by resize_factor with antialias, "
                                       "then back (the paper's recommended filter). gaussian: Gaussian blur of "
                                       "blur_sigma latent pixels."),
                io.Float.Input("resize_factor", default=0.40, min=0.01, max=1.0, step=0.005,
                               tooltip="custom only. r* in (0, 1] for down_up at full strength; 0.4 = the paper's "
                                       "Wan value, 0.625 its HunyuanVideo value, 1 = no filtering. At strength κ "
                                       "the factor is 1 − (1 − r*)·κ."),
                io.Float.Input("blur_sigma", default=DEFAULT_BLUR_SIGMA, min=0.0, max=64.0, step=0.05,
                               tooltip="custom only. σ* of the gaussian filter at full strength, in latent pixels "
                                       "(1 latent pixel = 8 image pixels; space pixel blurs the image by 8·σ image "
                                       "pixels, the same physical blur); σ = σ*·κ. 0 = no blur."),
                io.Combo.Input("schedule", options=list(SCHEDULES), default="interval",
                               tooltip="custom only. interval: full strength inside the window (the paper's "
                                       "default). linear: strength falls from 1 at window_start to 0 at window_end. "
                                       "exponential: exp(−decay_rate·(p − window_start)) inside the window."),
                io.Float.Input("window_start", default=0.0, min=0.0, max=1.0, step=0.01,
                               tooltip="custom only. Start of the filtered window, fraction of the schedule "
                                       "(0 = first step / pure noise). Must not exceed window_end."),
                io.Float.Input("window_end", default=0.20, min=0.0, max=1.0, step=0.01,
                               tooltip="custom only. End of the filtered window (inclusive), fraction of the "
                                       "schedule; 0.20 = the paper's Wan value. The filter is off after it."),
                io.Float.Input("decay_rate", default=10.0, min=0.0, max=100.0, step=0.5,
                               tooltip="custom only, exponential schedule: decay rate (paper default 10)."),
                io.Combo.Input("space", options=list(SPACES), default="latent",
                               tooltip="latent: filter the image latent the conditioning already holds (the paper's "
                                       "recommendation; no VAE, no re-encode; every supported model). pixel: Wan "
                                       "I2V/FLF only — low-pass start_image/end_image in image pixels, rebuild the "
                                       "video as WanImageToVideo / WanFirstLastFrameToVideo do and VAE-encode it once "
                                       "per distinct strength (interval schedule: once per run), before sampling. "
                                       "Needs vae and start_image (and end_image for FLF)."),
                io.Vae.Input("vae", optional=True,
                             tooltip="space pixel only: the VAE you gave WanImageToVideo / WanFirstLastFrameToVideo."),
                io.Image.Input("start_image", optional=True,
                               tooltip="space pixel only: the start_image you gave WanImageToVideo / "
                                       "WanFirstLastFrameToVideo (same image, any size: it is resized like there)."),
                io.Image.Input("end_image", optional=True,
                               tooltip="space pixel only: the end_image you gave WanFirstLastFrameToVideo (leave "
                                       "empty for WanImageToVideo)."),
            ],
            outputs=[io.Model.Output(display_name="model",
                                     tooltip="The patched clone: sample it with the I2V conditioning as usual.")],
        )

    @classmethod
    def execute(cls, model, preset=PRESETS[0], guidance_form="auto", schedule_by="sigma", filter="down_up",
                resize_factor=0.40, blur_sigma=DEFAULT_BLUR_SIGMA, schedule="interval", window_start=0.0,
                window_end=0.20, decay_rate=10.0, space="latent", vae=None, start_image=None,
                end_image=None) -> io.NodeOutput:
        family, params = resolve_params(model, preset, filter, resize_factor, blur_sigma, schedule, schedule_by,
                                        window_start, window_end, decay_rate)
        form = resolve_form(model, guidance_form)
        pixel = resolve_pixel(family, space, vae, start_image, end_image)
        m = apply_alg(model, params, form, family, pixel)
        text = describe(params, form, family, model.get_model_object("model_sampling"), space)
        log.info(text)
        return io.NodeOutput(m, ui=ui.PreviewText(text))


NODES = [ALG]
