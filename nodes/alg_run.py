"""ALG at sampling time: where the image condition is, the per-run holder and the sampler hooks.

The node, its inputs and the install are in ``nodes/alg.py``; the math in ``nodes/pure/lowpass.py``
(Choi et al., "Improving Motion in Image-to-Video Models via Adaptive Low-Pass Guidance", arXiv 2506.08456);
pixel-space re-encoding in ``nodes/alg_pixel.py``.

* :func:`make_outer_sample_wrapper`: an ``OUTER_SAMPLE`` wrapper that makes a fresh :class:`ALGRun` per
  ``guider.sample`` (schedule clock from the live ``model_sampling``, caches, pixel encodes before the model
  loads) and resets it in ``finally`` (``nodes/patching.py``), sending the run's report to listeners.
* :func:`make_single_pass_wrapper`: a ``CALC_COND_BATCH`` wrapper swapping every cond entry for its filtered
  copy inside the window.
* :func:`make_paper_calc_function`: the ``sampler_calc_cond_batch_function`` of the paper form (three passes
  while the filter is on, returned as a cond/uncond pair whose CFG mix is the paper's formula).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass

import comfy.model_base as mb
import comfy.samplers
import torch

from . import keys, patching
from .alg_pixel import PixelEncoder, PixelSource
from .pure.errors import InertiaInputError
from .pure.lowpass import (
    ALGParams,
    ScheduleClock,
    StepState,
    lowpass_channels,
    lowpass_vace,
    paper_as_cfg_pair,
    vace_image_frames,
)

log = logging.getLogger("ComfyUI-Inertia")

#: Pack-specific key: wrappers, the paper-form function and run reports.
KEY = keys.ALG

SUPPORTED = ("Wan 2.1/2.2 I2V and FLF (WanImageToVideo, WanFirstLastFrameToVideo), Wan VACE with a reference "
             "image or kept frames (WanVaceToVideo), HunyuanVideo I2V (HunyuanImageToVideo: v1 concat, "
             "v2 replace, custom), FramePack (the start latent of FramePackSectionSampler)")


@dataclass(frozen=True)
class ALGConfig:
    """What the node resolved: parameters, guidance form and model family (plain values); for
    ``space == "pixel"`` also the :class:`PixelSource`."""

    params: ALGParams
    form: str
    family: str
    space: str = "latent"
    pixel: PixelSource | None = None


# --------------------------------------------------------------------------- locating the image

def _find_slots(model, cond: dict) -> list[tuple]:
    """The image-condition slots of one processed cond entry: ``[(key, span_or_None), …]``.

    ``model`` is the ComfyUI ``BaseModel`` (``args["model"]`` in a sampler hook).
    """
    mc = cond.get("model_conds", {})
    slots = []
    cc = mc.get("c_concat")
    if cc is not None and getattr(cc, "cond", None) is not None:
        t = cc.cond
        keys = tuple(getattr(model, "concat_keys", ()) or ())
        if keys:  # BaseModel.concat_cond layout (HunyuanVideo I2V: concat_image, mask_inverted)
            lat = model.latent_format.latent_channels
            offset, spans = 0, []
            for k in keys:
                n = 1 if k in ("mask", "mask_inverted") else lat
                if k in ("concat_image", "masked_image"):
                    spans.append((offset, offset + n))
                offset += n
            if offset == t.shape[1]:
                slots += [("c_concat", s) for s in spans if bool(t[:, s[0]:s[1]].any())]
        elif isinstance(model, mb.WAN21) and cond.get("concat_mask_index", 0) == 0 \
                and t.shape[1] >= 20 and (t.shape[1] - 4) % 16 == 0:
            if bool(t[:, 4:].any()):  # 4 mask channels, then the image latent
                slots.append(("c_concat", (4, t.shape[1])))
    vc = mc.get("vace_context")
    if vc is not None and getattr(vc, "cond", None) is not None and bool(vace_image_frames(vc.cond).any()):
        slots.append(("vace_context", None))
    if mc.get("ref_latent") is not None:
        slots.append(("ref_latent", None))
    if mc.get("clean_latents") is not None:  # FramePack: clean_latents[:, :, :1] is the start latent
        slots.append(("clean_latents", (0, 1)))
    if "guiding_frame_index" in mc or _wan22_start_image(model, mc):
        slots.append(("guiding_frame", None))
    return slots


def _wan22_start_image(model, mc: dict) -> bool:
    """Wan 2.2 TI2V-5B (``comfy.model_base.WAN22``): the start image is latent frame 0 of ``x``, fixed by
    the denoise mask of core ``Wan22ImageToVideoLatent`` (``denoise_mask [B, 1, T, h, w]``, 0 = given), so it
    is filtered like the HunyuanVideo v2 guiding frame (the first latent frame of the model input)."""
    dm = mc.get("denoise_mask")
    t = getattr(dm, "cond", None)
    if not isinstance(model, mb.WAN22) or t is None or t.ndim != 5:
        return False
    return bool((t[:, :, :1] < 0.5).all())


def _filter_slot(key: str, span, tensor: torch.Tensor, lp) -> torch.Tensor:
    if key == "c_concat":
        return lowpass_channels(tensor, span[0], span[1], lp)
    if key == "vace_context":
        return lowpass_vace(tensor, lp)
    if key == "clean_latents":  # FramePack [B, 16, n1, h, w]: only the start latent (frame span[0]:span[1])
        out = tensor.clone()
        out[:, :, span[0]:span[1]] = lp(tensor[:, :, span[0]:span[1]])
        return out
    return lp(tensor)  # ref_latent [B, 16, T_ref, h, w]


# --------------------------------------------------------------------------- per-run state

class ALGRun(patching.RunHolder):
    """Per-run holder: schedule clock, slot and filter caches, pixel encoder and the step log.

    Made in OUTER_SAMPLE (``make_outer_sample_wrapper``), reset in its finally; ``listeners`` get a
    :class:`patching.RunReport` then.
    """

    MAX_BUCKET = 16  # cond entries cached per strength (context windows make new ones per window)

    def __init__(self, config: ALGConfig, model_sampling, sigmas, listeners=(), guider_name: str = "the guider"):
        pixel = config.pixel if config.space == "pixel" else None
        self.clock = ScheduleClock(config.params, sigmas, model_sampling.percent_to_sigma, per_step=pixel is not None)
        super().__init__(self.clock.bounds)
        self.config, self.params = config, config.params
        self.pixel = None if pixel is None else PixelEncoder(pixel, config.params)
        self.listeners = tuple(listeners)
        self._buckets: OrderedDict = OrderedDict()   # kappa -> OrderedDict(id(cond) -> (cond, filtered))
        self._slots: dict = {}                       # id(cond) -> (cond, slots)
        self._x_cache = None                         # (kappa, source frame, filtered frame)
        self.checked = False
        self.guider_name = guider_name
        self.in_paper = False                        # inside ALG's paper function (a chained copy passes through)
        self.filter_computations = 0
        self.calls = 0
        self.log: list[dict] = []

    def begin(self, guider) -> None:
        """Pixel space: VAE-encode every planned strength before prepare_sampling loads the diffusion model."""
        if self.pixel is not None:
            self.pixel.prepare(getattr(guider, "conds", None), self.clock.planned_strengths())

    def state(self, sigma, model_options) -> StepState:
        """Strength and filter parameters for the model call at ``sigma`` (``[B]`` tensor; entry 0 used)."""
        return self.clock.at(sigma, (model_options or {}).get("transformer_options", {}).get("sample_sigmas"))

    # ---- locating and filtering
    def slots(self, model, cond: dict) -> list[tuple]:
        hit = self._slots.get(id(cond))
        if hit is not None and hit[0] is cond:
            return hit[1]
        found = _find_slots(model, cond)
        self._slots[id(cond)] = (cond, found)
        return found

    def check(self, model, conds) -> None:
        """On the first call of the run: raise when no cond entry carries any image condition."""
        if self.checked:
            return
        entries = [c for group in conds if group is not None for c in group]
        if entries and not any(self.slots(model, c) for c in entries):
            name = type(getattr(model, "diffusion_model", model)).__name__
            raise InertiaInputError(
                "model", name,
                f"ALG needs an image-to-video conditioning. Supported: {SUPPORTED}. Connect the positive/"
                "negative from one of those nodes with a start image (or remove ALG)",
                "receives no image condition at sampling time (no I2V/FLF concat image, no VACE reference "
                "or kept frame, no HunyuanVideo image latent)")
        self.checked = True

    def _bucket(self, kappa: float) -> OrderedDict:
        b = self._buckets.get(kappa)
        if b is None:
            b = self._buckets[kappa] = OrderedDict()
            while len(self._buckets) > 2:  # schedules move on; keep the current and the previous strength
                self._buckets.popitem(last=False)
        return b

    def filtered_cond(self, model, cond: dict, kappa: float) -> dict:
        """A copy of one processed cond entry with its image condition filtered at strength κ (cached).

        Latent space low-passes the stored latent; pixel space puts in the re-encoded low-passed image.
        """
        targets = [s for s in self.slots(model, cond) if s[0] != "guiding_frame"]
        if not targets:
            return cond
        bucket = self._bucket(kappa)
        hit = bucket.get(id(cond))
        if hit is not None and hit[0] is cond:
            return hit[1]
        lp = lambda t: self.params.apply(t, kappa)  # noqa: E731
        new = dict(cond)
        mc = dict(cond["model_conds"])
        for key, span in targets:
            if self.pixel is not None:
                mc[key] = mc[key]._copy_with(self.pixel.concat(model, cond, key, span, mc[key].cond, kappa))
                continue
            mc[key] = mc[key]._copy_with(_filter_slot(key, span, mc[key].cond, lp))
        new["model_conds"] = mc
        self.filter_computations += 1
        bucket[id(cond)] = (cond, new)
        while len(bucket) > self.MAX_BUCKET:
            bucket.popitem(last=False)
        return new

    def filtered_group(self, model, group, kappa: float):
        return None if group is None else [self.filtered_cond(model, c, kappa) for c in group]

    def filtered_x(self, model, conds, x: torch.Tensor, kappa: float) -> torch.Tensor:
        """HunyuanVideo v2 (replace): low-pass the guiding (first) latent frame of the model input."""
        if self.pixel is not None or not any(s[0] == "guiding_frame" for g in conds if g is not None for c in g
                                             for s in self.slots(model, c)):
            return x
        src = x[:, :, :1]
        c = self._x_cache
        if c is not None and c[0] == kappa and c[1].shape == src.shape and torch.equal(c[1], src):
            lp = c[2]
        else:
            lp = self.params.apply(src, kappa)
            self._x_cache = (kappa, src.clone(), lp)
            self.filter_computations += 1
        out = x.clone()
        out[:, :, :1] = lp
        return out

    # ---- bookkeeping
    def note(self, st: StepState, passes: int, form: str) -> None:
        self.calls += 1
        self.log.append({"step": st.step, "sigma": st.sigma, "kappa": st.kappa, "r": st.r,
                         "blur_sigma": st.blur_sigma, "filtered": st.active, "passes": passes, "form": form})

    def reset(self) -> None:
        """End of the run: log a summary, drop the caches, send the report to the listeners."""
        pixel = self.pixel
        report = patching.RunReport(KEY, list(self.log), {
            "form": self.config.form, "space": self.config.space, "filter_computations": self.filter_computations,
            "vae_encodes": pixel.encodes if pixel else 0, "pixel_strengths": pixel.strengths() if pixel else []})
        on = sorted({e["step"] for e in self.log if e["filtered"]})
        if self.calls == 0:
            where = ("ComfyUI's sampler_calc_cond_batch_function" if self.config.form == "paper" else
                     "ComfyUI's calc_cond_batch")
            log.warning("ALG: the %s form was never called in this run: %s did not sample through %s, so ALG "
                        "did not act. Sample with CFGGuider, KSampler or KSamplerAdvanced%s.", self.config.form,
                        self.guider_name, where,
                        ", or use guidance_form single_pass" if self.config.form == "paper" else "")
        else:
            log.info("ALG %s, %s space: filtered steps %s of %d (filters computed %d times, VAE encodes %d)",
                     self.config.form, self.config.space, _ranges(on) or "none", len(self.clock.sigmas) - 1,
                     self.filter_computations, report.totals["vae_encodes"])
        super().reset()
        self._buckets.clear()
        self._slots.clear()
        self._x_cache = None
        if pixel is not None:
            pixel.clear()
        for listener in self.listeners:
            listener(report)


def _ranges(steps: list[int]) -> str:
    out, start, prev = [], None, None
    for s in steps + [None]:
        if start is None:
            start = prev = s
        elif s is not None and s == prev + 1:
            prev = s
        else:
            out.append(f"{start}" if start == prev else f"{start}-{prev}")
            start = prev = s
    return ", ".join(out)


# --------------------------------------------------------------------------- hooks

def _describe_fn(fn) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', type(fn).__name__)}"


def ensure_paper_function(state: patching.PatchState, guider) -> None:
    """At the start of a paper-form run: make sure ALG's function is in the guider's
    ``sampler_calc_cond_batch_function`` slot (the run's copy of ``model_options``; the ModelPatcher is not
    changed). A node applied after ALG that set the slot without chaining (e.g. core
    ``SkipLayerGuidanceDiTSimple``, ``comfy_extras/nodes_slg.py``) replaced ALG's function there; ALG then
    wraps that function for this run (its cond/uncond passes go through it) and says so once, naming it."""
    opts = guider.model_options
    current = opts.get(patching.CALC_COND_BATCH_FUNCTION)
    if current is not None and patching.fact(current, "key") == KEY:
        return
    if current is not None:
        state.warn_once(f"a node applied after ALG replaced sampler_calc_cond_batch_function with "
                        f"{_describe_fn(current)}; ALG's paper form wraps it (its passes get ALG's filtered "
                        "condition)")
    opts[patching.CALC_COND_BATCH_FUNCTION] = make_paper_calc_function(state, current)


def make_outer_sample_wrapper(state: patching.PatchState, config: ALGConfig):
    """``OUTER_SAMPLE`` wrapper: a fresh :class:`ALGRun` per sampling run in ``state.run``, reset in ``finally``.
    Paper form: :func:`ensure_paper_function` first."""

    def alg_run(guider, model_sampling, sigmas):
        run = ALGRun(config, model_sampling, sigmas, patching.listeners_of(guider, KEY), type(guider).__name__)
        if config.form == "paper":
            ensure_paper_function(state, guider)
        return run

    return patching.run_wrapper(state, alg_run)


def make_single_pass_wrapper(state: patching.PatchState):
    """``CALC_COND_BATCH`` wrapper (single_pass): inside the window every cond entry is swapped for
    its filtered copy (and the Hunyuan v2 guiding frame of ``x`` is filtered)."""

    def alg_single_pass_wrapper(executor, *args, **kwargs):
        model, conds, x_in, timestep, model_options = args[:5]
        run = state.run
        if run is None:
            return executor(*args, **kwargs)
        run.check(model, conds)
        st = run.state(timestep, model_options)
        run.note(st, sum(g is not None for g in conds), "single_pass")
        if not st.active:
            return executor(*args, **kwargs)
        new_conds = [run.filtered_group(model, g, st.kappa) for g in conds]
        x_new = run.filtered_x(model, conds, x_in, st.kappa)
        return executor(model, new_conds, x_new, timestep, model_options, *args[5:], **kwargs)

    return alg_single_pass_wrapper


def make_paper_calc_function(state: patching.PatchState, previous=None):
    """``sampler_calc_cond_batch_function`` for the paper form, chaining ``previous`` if given.

    Re-entrant: a function ALG wrapped that itself chains an ALG paper function (a node that chains the slot)
    makes the inner one pass through, so the filter is applied once."""

    def inner(args):
        if previous is None:
            return comfy.samplers.calc_cond_batch(args["model"], args["conds"], args["input"], args["sigma"],
                                                  args["model_options"])
        run = state.run
        if run is None:
            return previous(args)
        outer, run.in_paper = run.in_paper, True
        try:
            return previous(args)
        finally:
            run.in_paper = outer

    def alg_paper_calc_cond_batch(args):
        model, conds, x, sigma, model_options = (args["model"], args["conds"], args["input"], args["sigma"],
                                                 args["model_options"])
        run = state.run
        if run is None or run.in_paper or len(conds) != 2:
            return inner(args)
        run.check(model, conds)
        st = run.state(sigma, model_options)
        cond, uncond = conds
        if not st.active:
            run.note(st, sum(g is not None for g in conds), "paper")
            return inner(args)
        cond_lp = run.filtered_group(model, cond, st.kappa)
        if uncond is None:  # cfg 1: ComfyUI skips the uncond pass; filter the cond only
            run.note(st, 1, "paper")
            return inner({**args, "conds": [cond_lp, None]})
        uncond_lp = run.filtered_group(model, uncond, st.kappa)
        run.note(st, 3, "paper")
        if previous is None:  # one batched call, as the paper's pipeline does
            c_lp, u_lp, u_sharp = comfy.samplers.calc_cond_batch(model, [cond_lp, uncond_lp, uncond], x, sigma,
                                                                 model_options)
        else:  # keep the [cond, uncond] contract of the chained function
            c_lp, u_lp = inner({**args, "conds": [cond_lp, uncond_lp]})
            u_sharp = inner({**args, "conds": [None, uncond]})[1]
        return list(paper_as_cfg_pair(u_sharp, c_lp, u_lp))

    return patching.tag(alg_paper_calc_cond_batch, KEY, previous)
