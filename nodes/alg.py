"""ALG: Adaptive Low-Pass Guidance for image-to-video (Choi et al. 2025, arXiv 2506.08456).

Early in sampling the model is shown a low-pass filtered copy of its image condition, so coarse
motion can form before the sharp image "locks" the video; later it gets the sharp image back.
Math (filters, schedules, the three-pass formula) lives in ``nodes/pure/lowpass.py``.

**Where the image condition is** (what ALG filters; in latent space, with no re-encode, unless space is pixel):

* Wan 2.1/2.2 I2V and FLF (``WanImageToVideo``, ``WanFirstLastFrameToVideo``): the processed
  ``c_concat`` ``[B, 20, T, h, w]`` = 4 mask channels + 16 image-latent channels. Only the 16
  latent channels are filtered, over all latent frames. The paper's Wan code runs the whole
  condition (mask included) through the filter; ComfyUI's I2V/FLF masks are constant over space
  within each latent frame, and both filters preserve a constant, so leaving the mask alone gives
  the paper's values while keeping the mask exactly 0/1 (a blurred spatial mask would change
  which pixels count as known).
* Wan VACE (``WanVaceToVideo``): ``vace_context`` ``[B, N, 96, T, h, w]``. Latent frames whose
  64-channel mask has a "keep" value (< 0.5) — the reference image, a first frame, any kept
  keyframe — get their 32 latent channels (inactive + reactive) filtered. Control-video frames
  (mask all 1) and the mask channels are untouched.
* HunyuanVideo I2V (``HunyuanImageToVideo``): "v1 (concat)" — the 16 image channels of the
  17-channel ``c_concat`` (layout from the model's ``concat_keys``: image, then inverted mask);
  "v2 (replace)" — the first latent frame of the model input ``x`` (the guiding frame the
  sampler pins to the image; the model's output for that frame is replaced by the image again by
  ComfyUI's inpainting step); "custom" — ``ref_latent``.
* FramePack (``FramePackSectionSampler``): the start latent, ``clean_latents[:, :, :1]`` of every
  section (model space); the history latents are left to ``FramePackHistoryControls``. FramePack is
  guidance-distilled, so it gets the single-pass form, with the HunyuanVideo defaults.

**Schedule.** By σ (default): the window is given in percent of the noise schedule and turned
into σ bounds with the model's live ``model_sampling.percent_to_sigma`` at sampling time, so
shift and split samplers stay correct. By step: ``i / (N − 1)`` over the sigmas this sampler
call received (the paper's ``step_norm``; with KSamplerAdvanced splits that is the sub-schedule).

**Guidance forms.**

* ``single_pass``: a ``CALC_COND_BATCH`` wrapper swaps every cond entry for a copy whose image
  condition is filtered, inside the window; every pass (cond and uncond, any guider) sees it.
  The only form for guidance-distilled models (HunyuanVideo), as in the paper's Hunyuan code.
* ``paper``: three passes while the filter is on, ``v = u_sharp + w·(c_lp − u_lp)``; two after.
  Installed as ComfyUI's ``sampler_calc_cond_batch_function`` (chaining one that was already
  there). Why this route: it is the one hook that receives exactly ``[cond, uncond]`` from
  ``sampling_function`` and may run extra passes; it batches the three passes into one model
  call as the paper does (no previous function) and returns the pair
  ``(u_sharp + c_lp − u_lp, u_sharp)``, so the ordinary CFG mix — or any cfg / post-cfg function
  downstream, e.g. RelaxationCFG's scheduled w — yields the paper's formula without ALG knowing w.
  A pre-cfg function would have to run its own, unbatched extra pass and still needs a swap in
  every main pass. At cfg 1 (ComfyUI skips the uncond pass) the paper form filters the cond only.
  The paper form acts through ``sampling_function`` (KSampler, SamplerCustom with CFGGuider);
  a guider that bypasses it (DualCFGGuider …) gets a warning at the end of the run.

Filters are computed once per run and distinct strength, cached in a holder made per run in an
``OUTER_SAMPLE`` wrapper and dropped in its ``finally``.

**Space.** ``latent`` (default, the paper's recommendation): the stored image latent is filtered,
no VAE. ``pixel`` (Wan I2V/FLF only): the node gets the VAE and the start/end images the user gave
``WanImageToVideo`` / ``WanFirstLastFrameToVideo``; at strength κ the images are resized as core
does (``common_upscale``, bilinear, center), low-passed in image pixels (down_up at r(κ); gaussian
σ(κ) × the VAE's spatial compression, 8, since ``blur_sigma`` is in latent pixels), put into core's
gray (0.5) video of ``4·(T − 1) + 1`` frames, VAE-encoded, and transformed as ``WAN21.concat_cond``
transforms ``concat_latent_image`` (resize to the noise size, ``process_latent_in``, batch) into the
16 image channels of ``c_concat``; the mask channels stay. The strength is taken per step (at the
step's σ), so every strength is known before sampling: the OUTER_SAMPLE wrapper encodes once per
distinct strength (interval: once per run) before ``prepare_sampling`` loads the diffusion model,
so the VAE never pushes it out of VRAM mid-run. Encodes are counted in :data:`LAST_RUN_INFO`.
The raw conditioning's ``concat_mask`` is checked against the images (start/end present where the
condition has known frames). VACE, HunyuanVideo and FramePack are refused in pixel space at node
time (use latent).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass

import comfy.model_patcher
import comfy.patcher_extension
import comfy.utils
import torch
from comfy_api.latest import io, ui

from . import keys
from .model_info import has_guidance_input, model_family
from .pure.errors import InertiaInputError
from .pure.lowpass import (
    DEFAULT_BLUR_SIGMA,
    FAMILY_DEFAULTS,
    FILTERS,
    SCHEDULE_BY,
    SCHEDULES,
    SIGMA_RTOL,
    ALGParams,
    lowpass_channels,
    lowpass_vace,
    paper_as_cfg_pair,
    sigma_to_percent,
    step_index,
    step_progress,
    strength,
    vace_image_frames,
    wan_i2v_video,
)

log = logging.getLogger("ComfyUI-Inertia")

#: Pack-specific key for wrappers and the per-run holder in ``transformer_options``.
KEY = keys.ALG
FORMS = ("auto", "paper", "single_pass")
SPACES = ("latent", "pixel")
#: Pixel frames per latent frame after the first, as core's Wan I2V/FLF nodes count them
#: (``latent frames = (length − 1) // 4 + 1``).
WAN_TIME_COMPRESSION = 4
PIXEL_ONLY = ("pixel space rebuilds the Wan I2V/FLF image condition (WanImageToVideo, WanFirstLastFrameToVideo); "
              "use space 'latent' for VACE, HunyuanVideo and FramePack")
PRESETS = ("paper defaults for the model family", "custom")

SUPPORTED = ("Wan 2.1/2.2 I2V and FLF (WanImageToVideo, WanFirstLastFrameToVideo), Wan VACE with a reference "
             "image or kept frames (WanVaceToVideo), HunyuanVideo I2V (HunyuanImageToVideo: v1 concat, "
             "v2 replace, custom), FramePack (the start latent of FramePackSectionSampler)")

#: The per-step log of the most recent ALG run (list of dicts), for diagnostics and benchmarks.
LAST_RUN_LOG: list[dict] = []
#: Totals of the most recent ALG run: form, space, filter_computations, vae_encodes, pixel_strengths.
LAST_RUN_INFO: dict = {}


@dataclass(frozen=True, eq=False)
class PixelSource:
    """What pixel space re-encodes: the VAE and the images given to WanImageToVideo / WanFirstLastFrameToVideo.

    ``start_image`` / ``end_image`` are ComfyUI IMAGEs ``[N, H, W, C]`` in [0, 1] (either may be None).
    """

    vae: object
    start_image: torch.Tensor | None
    end_image: torch.Tensor | None

    def video(self, params: ALGParams, kappa: float, length: int, height: int, width: int) -> torch.Tensor:
        """The I2V/FLF pixel video ``[length, height, width, 3]`` with its images low-passed at strength κ.

        Like core: the start images (first ``length``) and end images (last ``length``) are resized to
        ``width × height`` with ``comfy.utils.common_upscale`` (bilinear, center crop); then filtered per
        frame at κ in image pixels (gaussian σ times the VAE's spatial compression); then placed into a
        gray (0.5) video (:func:`wan_i2v_video`).
        """
        scale = float(self.vae.spacial_compression_encode())

        def prep(img, take):
            if img is None:
                return None
            img = comfy.utils.common_upscale(take(img).movedim(-1, 1).float(), width, height, "bilinear", "center")
            return params.apply(img, kappa, sigma_scale=scale).movedim(1, -1)

        return wan_i2v_video(length, height, width, prep(self.start_image, lambda t: t[:length]),
                             prep(self.end_image, lambda t: t[-length:]))


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
    import comfy.model_base as mb

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
    if "guiding_frame_index" in mc:
        slots.append(("guiding_frame", None))
    return slots


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

@dataclass
class StepState:
    step: int
    sigma: float
    progress: float | None
    kappa: float
    r: float
    blur_sigma: float
    active: bool


class ALGRun:
    """Per-run holder: σ window, filter caches and the step log. Made in OUTER_SAMPLE, reset in finally."""

    MAX_BUCKET = 16  # cond entries cached per strength (context windows make new ones per window)

    def __init__(self, config: ALGConfig, model_sampling, sigmas):
        self.config, self.params = config, config.params
        self.model_sampling = model_sampling
        self.sigmas = [float(s) for s in torch.as_tensor(sigmas).flatten().tolist()]
        p = self.params
        self.sigma_hi = float(model_sampling.percent_to_sigma(p.window_start))
        self.sigma_lo = float(model_sampling.percent_to_sigma(p.window_end))
        self._buckets: OrderedDict = OrderedDict()   # kappa -> OrderedDict(id(cond) -> (cond, filtered))
        self._slots: dict = {}                       # id(cond) -> (cond, slots)
        self._x_cache = None                         # (kappa, source frame, filtered frame)
        self._sample_sigmas = None                   # (tensor, list)
        self._progress: dict = {}                    # σ -> schedule fraction (linear/exponential by σ)
        self.pixel = config.pixel if config.space == "pixel" else None
        self._pixel_latents: dict = {}               # (kappa, (T, h, w)) -> encoded latent [1, C, T, h, w]
        self.encodes = 0
        self.checked = False
        self.filter_computations = 0
        self.calls = 0
        self.log: list[dict] = []

    # ---- schedule
    def _schedule_sigmas(self, model_options) -> list[float]:
        t = (model_options or {}).get("transformer_options", {}).get("sample_sigmas")
        if t is None:
            return self.sigmas
        if self._sample_sigmas is None or self._sample_sigmas[0] is not t:
            self._sample_sigmas = (t, [float(s) for s in t.flatten().tolist()])
        return self._sample_sigmas[1]

    def state(self, sigma, model_options) -> StepState:
        """Strength and filter parameters for the model call at ``sigma`` (``[B]`` tensor; entry 0 used)."""
        p = self.params
        s = float(torch.as_tensor(sigma).flatten()[0])
        sched = self._schedule_sigmas(model_options)
        i = step_index(s, sched)
        # pixel space: one strength per step (at the step's σ), so every strength is known (and encoded) up front
        sk = sched[i] if self.pixel is not None and i < len(sched) else s
        if p.schedule_by == "step":
            prog = step_progress(i, len(sched) - 1)
            k = strength(prog, p.schedule, p.window_start, p.window_end, p.decay_rate)
        else:
            inside = self.sigma_lo * (1.0 - SIGMA_RTOL) <= sk <= self.sigma_hi * (1.0 + SIGMA_RTOL)
            prog = None
            if not inside:
                k = 0.0
            elif p.schedule == "interval":
                k = 1.0
            else:
                prog = self._progress.get(sk)
                if prog is None:  # bisection: once per distinct σ of the run (cond/uncond and solver stages reuse it)
                    prog = self._progress[sk] = sigma_to_percent(sk, self.model_sampling.percent_to_sigma)
                prog = min(max(prog, p.window_start), p.window_end)
                k = strength(prog, p.schedule, p.window_start, p.window_end, p.decay_rate)
        r, bs = p.at(k)
        return StepState(i, s, prog, k, r, bs, p.is_active(k))

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

    # ---- pixel space
    def prepare_pixel(self, conds: dict) -> None:
        """Pixel space, before the model loads: check the raw conditioning against the images and
        VAE-encode the rebuilt video once per distinct strength of the schedule's steps.

        ``conds`` is the guider's ``{name: [cond dict, …]}`` (``convert_cond`` output, which keeps
        core's ``concat_latent_image`` / ``concat_mask``). Encoding here, not mid-sampling, keeps
        the VAE from pushing the diffusion model out of VRAM while it samples.

        Raises:
            InertiaInputError: no Wan I2V/FLF image latent in the conditioning; start_image /
            end_image not matching the frames the conditioning marks as known; a VAE whose latent
            does not match the conditioning's.
        """
        entries = [c for group in (conds or {}).values() for c in (group or []) if isinstance(c, dict)]
        geoms = {}
        for c in entries:
            img = c.get("concat_latent_image")
            if img is not None:
                geoms[tuple(img.shape[-3:])] = c.get("concat_mask")
        if not geoms:
            raise InertiaInputError(
                "space", "pixel", "connect the positive/negative from WanImageToVideo or WanFirstLastFrameToVideo "
                "(with the same start/end image as this node), or use space 'latent'",
                f"finds no Wan I2V/FLF image latent (concat_latent_image) in the conditioning; {PIXEL_ONLY}")
        for geom, mask in geoms.items():
            self._check_known_frames(geom, mask)
        steps = range(len(self.sigmas) - 1)
        kappas = sorted({st.kappa for st in (self.state(self.sigmas[i], None) for i in steps) if st.active},
                        reverse=True)
        for kappa in kappas:
            for geom in geoms:
                self.pixel_latent(kappa, geom)

    def _check_known_frames(self, geom, mask) -> None:
        """The images must sit where the conditioning's mask says an image is (0 = known)."""
        if mask is None:
            return
        known = mask.reshape(-1, *mask.shape[-3:]).amin(dim=(0, 2, 3)) < 0.5    # [T] per latent frame
        src, t = self.pixel, geom[0]
        length = WAN_TIME_COMPRESSION * (t - 1) + 1
        if src.start_image is not None and not bool(known[0]):
            raise InertiaInputError("start_image", tuple(src.start_image.shape),
                                    "disconnect start_image, or use the conditioning made with it",
                                    "is connected, but the conditioning's first frame is not an image")
        if src.end_image is not None and not bool(known[-1]):
            raise InertiaInputError("end_image", tuple(src.end_image.shape),
                                    "disconnect end_image (WanImageToVideo has none), or use the conditioning of "
                                    "WanFirstLastFrameToVideo made with it",
                                    "is connected, but the conditioning's last frame is not an image")
        # start frames cover at most latent frames 0 … (n + 2) // 4 (FLF marks n + 3 pixel frames known)
        n = 0 if src.start_image is None else min(src.start_image.shape[0], length)
        covered = (n + 2) // WAN_TIME_COMPRESSION if n else -1
        if src.end_image is None and t - 1 > covered and bool(known[-1]):
            raise InertiaInputError("end_image", None, "connect the end_image you gave WanFirstLastFrameToVideo",
                                    "is missing, but the conditioning's last frame is an image")

    def pixel_latent(self, kappa: float, geom: tuple) -> torch.Tensor:
        """The VAE latent ``[1, C, T, h, w]`` of the pixel video low-passed at κ (encoded once per run)."""
        key = (kappa, geom)
        hit = self._pixel_latents.get(key)
        if hit is not None:
            return hit
        if self.checked:  # a strength the schedule did not predict (should not happen): still once per strength
            log.warning("ALG: pixel space encodes an unplanned strength %.4g during sampling", kappa)
        t, h, w = geom
        vae = self.pixel.vae
        scale = int(vae.spacial_compression_encode())
        video = self.pixel.video(self.params, kappa, WAN_TIME_COMPRESSION * (t - 1) + 1, h * scale, w * scale)
        lat = vae.encode(video)
        self.encodes += 1
        if tuple(lat.shape[-3:]) != tuple(geom):
            raise InertiaInputError("vae", type(vae).__name__, "connect the VAE you gave WanImageToVideo / "
                                    "WanFirstLastFrameToVideo", f"encodes the rebuilt video to {tuple(lat.shape)}, "
                                    f"but the conditioning's image latent has frames × height × width {geom}")
        self._pixel_latents[key] = lat
        return lat

    def _pixel_concat(self, model, cond: dict, key: str, span, tensor: torch.Tensor, kappa: float) -> torch.Tensor:
        """The Wan c_concat with its image channels replaced by the pixel-space latent at κ, transformed as
        core's ``WAN21.concat_cond`` transforms ``concat_latent_image``: resize to the noise size (bilinear,
        center), ``process_latent_in``, repeat to the batch."""
        src = cond.get("concat_latent_image")
        if key != "c_concat" or src is None:
            raise InertiaInputError("space", "pixel", PIXEL_ONLY, f"cannot rebuild the '{key}' image condition")
        lat = self.pixel_latent(kappa, tuple(src.shape[-3:]))
        img = comfy.utils.common_upscale(lat.to(tensor.device), tensor.shape[-1], tensor.shape[-2], "bilinear",
                                         "center")
        img = comfy.utils.resize_to_batch_size(model.process_latent_in(img), tensor.shape[0])
        if img.shape[1] != span[1] - span[0]:
            raise InertiaInputError("space", "pixel", PIXEL_ONLY,
                                    f"gets a {img.shape[1]}-channel latent for {span[1] - span[0]} image channels")
        out = tensor.clone()
        out[:, span[0]:span[1]] = img.to(tensor.dtype)
        return out

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
                mc[key] = mc[key]._copy_with(self._pixel_concat(model, cond, key, span, mc[key].cond, kappa))
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

    def finish(self) -> None:
        global LAST_RUN_LOG, LAST_RUN_INFO
        LAST_RUN_LOG = list(self.log)
        LAST_RUN_INFO = {"form": self.config.form, "space": self.config.space,
                         "filter_computations": self.filter_computations, "vae_encodes": self.encodes,
                         "pixel_strengths": sorted({k for k, _ in self._pixel_latents}, reverse=True)}
        on = sorted({e["step"] for e in self.log if e["filtered"]})
        steps = len(self.sigmas) - 1
        if self.calls == 0:
            log.warning("ALG: the %s form was never called in this run (a guider that bypasses ComfyUI's "
                        "sampling_function?). Use guidance_form single_pass with such guiders.", self.config.form)
        else:
            log.info("ALG %s, %s space: filtered steps %s of %d (filters computed %d times, VAE encodes %d)",
                     self.config.form, self.config.space, _ranges(on) or "none", steps, self.filter_computations,
                     self.encodes)
        self._buckets.clear()
        self._pixel_latents.clear()
        self._slots.clear()
        self._x_cache = None
        self._sample_sigmas = None


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


def _run_of(model_options) -> ALGRun | None:
    return (model_options or {}).get("transformer_options", {}).get(KEY)


# --------------------------------------------------------------------------- hooks

def make_outer_sample_wrapper(config: ALGConfig):
    """``OUTER_SAMPLE`` wrapper: a fresh :class:`ALGRun` per sampling run, dropped in ``finally``."""

    def alg_outer_sample_wrapper(executor, *args, **kwargs):
        guider = executor.class_obj
        original = guider.model_options
        run = None
        try:
            sigmas = args[3] if len(args) > 3 else kwargs["sigmas"]
            ms = guider.model_patcher.get_model_object("model_sampling")
            run = ALGRun(config, ms, sigmas)
            if run.pixel is not None:  # VAE encodes before prepare_sampling loads the diffusion model
                run.prepare_pixel(getattr(guider, "conds", None))
            guider.model_options = comfy.model_patcher.create_model_options_clone(original)
            guider.model_options.setdefault("transformer_options", {})[KEY] = run
            return executor(*args, **kwargs)
        finally:
            guider.model_options = original
            if run is not None:
                run.finish()

    return alg_outer_sample_wrapper


def alg_single_pass_wrapper(executor, *args, **kwargs):
    """``CALC_COND_BATCH`` wrapper (single_pass): inside the window every cond entry is swapped for
    its filtered copy (and the Hunyuan v2 guiding frame of ``x`` is filtered)."""
    model, conds, x_in, timestep, model_options = args[:5]
    run = _run_of(model_options)
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


def make_paper_calc_function(previous=None):
    """``sampler_calc_cond_batch_function`` for the paper form, chaining ``previous`` if given."""
    import comfy.samplers

    def inner(args):
        if previous is not None:
            return previous(args)
        return comfy.samplers.calc_cond_batch(args["model"], args["conds"], args["input"], args["sigma"],
                                              args["model_options"])

    def alg_paper_calc_cond_batch(args):
        model, conds, x, sigma, model_options = (args["model"], args["conds"], args["input"], args["sigma"],
                                                 args["model_options"])
        run = _run_of(model_options)
        if run is None or len(conds) != 2:
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
            c_lp, u_lp = previous({**args, "conds": [cond_lp, uncond_lp]})
            u_sharp = previous({**args, "conds": [None, uncond]})[1]
        return list(paper_as_cfg_pair(u_sharp, c_lp, u_lp))

    alg_paper_calc_cond_batch.inertia_alg_previous = previous
    return alg_paper_calc_cond_batch


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
    """``auto`` → ``single_pass`` for guidance-distilled models, else ``paper``; validates the choice."""
    if form not in FORMS:
        raise InertiaInputError("guidance_form", form, f"use one of {FORMS}")
    distilled = has_guidance_input(model)
    if form == "auto":
        return "single_pass" if distilled else "paper"
    if form == "paper" and distilled:
        raise InertiaInputError(
            "guidance_form", form, "use 'single_pass' (or 'auto') for guidance-distilled models such as HunyuanVideo",
            "needs real CFG (an uncond pass), and this model is guidance-distilled")
    return form


def resolve_pixel(family: str, space: str, vae, start_image, end_image) -> PixelSource | None:
    """Validate the space inputs; return the :class:`PixelSource` for ``space == "pixel"``, else None.

    Raises:
        InertiaInputError: unknown space; pixel space on a model other than Wan (I2V/FLF); pixel
        space without a VAE or without any image; an image that is not ``[N, H, W, C≥3]``.
    """
    if space not in SPACES:
        raise InertiaInputError("space", space, f"use one of {SPACES}")
    if space == "latent":
        return None
    if family != "wan":
        raise InertiaInputError("space", space, PIXEL_ONLY, f"is not available for this model family ({family})")
    if vae is None:
        raise InertiaInputError("vae", None, "connect the VAE you gave WanImageToVideo / WanFirstLastFrameToVideo, "
                                "or use space 'latent'", "is required with space 'pixel' (it re-encodes the image)")
    if start_image is None and end_image is None:
        raise InertiaInputError("start_image", None, "connect the start_image you gave WanImageToVideo / "
                                "WanFirstLastFrameToVideo (and its end_image for FLF), or use space 'latent'",
                                "is required with space 'pixel' (the image that is low-passed and re-encoded)")
    for name, img in (("start_image", start_image), ("end_image", end_image)):
        if img is not None and (not torch.is_tensor(img) or img.ndim != 4 or img.shape[-1] < 3 or img.shape[0] < 1):
            raise InertiaInputError(name, tuple(getattr(img, "shape", ())) or type(img).__name__,
                                    "connect a ComfyUI IMAGE [N, H, W, 3]", "is not an image batch")
    return PixelSource(vae, start_image, end_image)


def apply_alg(model, params: ALGParams, form: str, family: str, pixel: PixelSource | None = None):
    """Return the patched clone. The input ModelPatcher is never modified.

    Installs under :data:`KEY`: an ``OUTER_SAMPLE`` wrapper (per-run holder) and either a
    ``CALC_COND_BATCH`` wrapper (single_pass) or the ``sampler_calc_cond_batch_function`` (paper,
    chaining one already set). An ALG already on the model is replaced, not stacked.
    """
    wp = comfy.patcher_extension.WrappersMP
    m = model.clone()
    for kind in (wp.OUTER_SAMPLE, wp.CALC_COND_BATCH):
        m.remove_wrappers_with_key(kind, KEY)
    previous = m.model_options.get("sampler_calc_cond_batch_function")
    if previous is not None and hasattr(previous, "inertia_alg_previous"):
        log.info("ALG: replacing an earlier ALG on this model")
        previous = previous.inertia_alg_previous
        m.model_options.pop("sampler_calc_cond_batch_function", None)
        if previous is not None:
            m.set_model_sampler_calc_cond_batch_function(previous)
    if form == "paper":
        if previous is not None:
            log.info("ALG: chaining the existing calc_cond_batch function %r", getattr(previous, "__name__", previous))
        m.set_model_sampler_calc_cond_batch_function(make_paper_calc_function(previous))
    else:
        m.add_wrapper_with_key(wp.CALC_COND_BATCH, KEY, alg_single_pass_wrapper)
    config = ALGConfig(params, form, family, "latent" if pixel is None else "pixel", pixel)
    m.add_wrapper_with_key(wp.OUTER_SAMPLE, KEY, make_outer_sample_wrapper(config))
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
            node_id="ALG",
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
