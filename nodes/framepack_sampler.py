"""FramePack sampling in ComfyUI: the section sampler.

FramePack (lllyasviel/FramePack, arXiv 2504.12626) samples a video section by section, each
section a window of ``ws`` latent frames conditioned on the packed history (the model and its
loader: ``nodes/framepack.py``; section arithmetic: ``nodes/pure/framepack_schedule.py``).

* :class:`FramePackSectionSampler` samples each section with ComfyUI's ``CFGGuider`` and a
  sampler object, sigmas from the model's ``model_sampling`` at the chosen shift. A section's
  packed context rides in the conditioning key :data:`COND_KEY`, its facts in
  ``transformer_options[SECTION_KEY]``, so model patches and wrappers see every section.
* Timed prompts and the start image's bucket resize are in ``nodes/framepack_inputs.py``; the sampler
  reads the prompts' times back per section (:func:`framepack_inputs.prompt_groups`) and refuses latents
  off the 32-px grid, pointing to FramePack Image To Bucket.

Layouts: latents ``[B, 16, T, H, W]`` in ComfyUI LATENT space (VAE output, unscaled); H, W in
latent cells (8 px).
"""

from __future__ import annotations

import logging

import comfy.model_management as mm
import comfy.model_sampling
import comfy.samplers
import comfy.utils
import torch
from comfy_api.latest import io, ui

from . import keys, samplers
from .framepack import COND_KEY, IMAGE_KEY, is_framepack_model
from .framepack_inputs import prompt_groups
from .pure import framepack_schedule as fs
from .pure.conditioning import blend_conditioning, check_hunyuan_text, check_siglip_tokens, zero_conditioning
from .pure.errors import InertiaInputError, require_range, short

log = logging.getLogger("ComfyUI-Inertia")

#: transformer_options key the section sampler sets for each section, a dict: "index" (time order,
#: 0 = first after the start image), "step" (generation order), "count" (sections), "mode",
#: "latent_window_size", "total_seconds", "clean_roles" (role of each 1× clean latent: "start",
#: "history" or "end"). Read by FramePackHistoryControls (nodes/framepack_controls.py).
SECTION_KEY = keys.FRAMEPACK_SECTION


# ---------------------------------------------------------------------------------- sampler

class _FlowSampling(comfy.model_sampling.ModelSamplingDiscreteFlow, comfy.model_sampling.CONST):
    """Flow-matching model sampling at a chosen shift (what ModelSamplingSD3 installs)."""


def _check_start(start_latent):
    start = start_latent["samples"] if isinstance(start_latent, dict) else start_latent
    fs.check_latent_size("start_latent", start)
    if start.shape[2] != 1:
        raise InertiaInputError("start_latent", f"{start.shape[2]} latent frames",
                                "VAE-encode a single image (one latent frame) as the start frame",
                                "has more than one frame")
    return start


def _image_embeds(clip_vision_output, name, width):
    """SigLIP ``last_hidden_state [B, N, width]`` of a CLIP_VISION_OUTPUT (``None`` passes through)."""
    if clip_vision_output is None:
        return None
    emb = getattr(clip_vision_output, "last_hidden_state", None)
    if emb is None:
        raise InertiaInputError(name, type(clip_vision_output).__name__,
                                "connect CLIP Vision Encode with the SigLIP model (sigclip_vision_patch14_384)",
                                "has no last_hidden_state")
    return check_siglip_tokens(name, emb, width)


#: Sampler names the ``sampler_name`` combo offers: FramePack's flow-matching UniPC first, then ComfyUI's own list.
SAMPLER_CHOICES = tuple(samplers.SAMPLER_NAMES)
#: Bounds of the number settings checked by :func:`check_sampler_settings` (the widgets' bounds).
MAX_STEPS = 200
MAX_GUIDANCE = 100.0
MAX_SHIFT = 100.0
#: Smallest flow shift accepted (0 = automatic); below it σ(t) = s·t / (1 + (s−1)·t) loses all precision
#: (a denormal shift divides by zero at t = 1).
MIN_SHIFT = 0.01



def check_sampler_settings(sampler_name=None, steps=None, distilled_guidance=None, cfg=None, shift=None):
    """Check the sampler's settings; ``None`` skips one (a link, at validation time). Returns nothing.

    ``sampler_name`` in :data:`SAMPLER_CHOICES`; ``steps`` a whole number in [1, 200];
    ``distilled_guidance`` and ``cfg`` finite in [0, 100]; ``shift`` 0 (automatic) or finite in [0.01, 100].

    Raises:
        InertiaInputError: the first setting that fails, with its value and the accepted range or list.
    """
    if sampler_name is not None and (not isinstance(sampler_name, str) or sampler_name not in SAMPLER_CHOICES):
        near = [n for n in SAMPLER_CHOICES if isinstance(sampler_name, str) and n.lower() == sampler_name.lower()]
        hint = f"did you mean '{near[0]}'? " if near else ""
        raise InertiaInputError("sampler_name", short(sampler_name),
                                f"{hint}pick one of ComfyUI's samplers ({', '.join(SAMPLER_CHOICES[:6])}, …); "
                                "FramePack's own sampler goes into the sampler input", "is not a ComfyUI sampler")
    if steps is not None:
        fix = f"use a whole number of steps from 1 to {MAX_STEPS} (FramePack uses 25)"
        if isinstance(steps, bool) or not isinstance(steps, (int, float)):
            raise InertiaInputError("steps", short(steps), fix, "is not a number")
        v = require_range("steps", steps, 1, MAX_STEPS, fix)
        if v != int(v):
            raise InertiaInputError("steps", steps, fix, "is not a whole number")
    if distilled_guidance is not None:
        require_range("distilled_guidance", distilled_guidance, 0.0, MAX_GUIDANCE,
                      "enter a finite guidance from 0 to 100 (FramePack uses 10)")
    if cfg is not None:
        require_range("cfg", cfg, 0.0, MAX_GUIDANCE, "enter a finite CFG from 0 to 100 (1 = off, FramePack's default)")
    if shift is not None:
        v = require_range("shift", shift, 0.0, MAX_SHIFT, "enter 0 (automatic) or a shift from 0.01 to 100")
        if 0 < v < MIN_SHIFT:
            raise InertiaInputError("shift", shift, f"enter 0 (automatic) or a shift from {MIN_SHIFT:g} to 100",
                                    f"is above 0 but below {MIN_SHIFT:g}, where the sigma schedule breaks down")


def _model_dims(model) -> tuple[int, int, int]:
    """``(text width, pooled width, SigLIP width)`` the FramePack model expects (4096, 768, 1152 released)."""
    dm = model.get_model_object("diffusion_model")
    return int(dm.params.context_in_dim), int(dm.params.vec_in_dim), int(dm.image_projection.up.in_features)


class _FiniteWatch:
    """Per-step finiteness flags of one section, recorded from the sampler callback without a device sync;
    read only when the section's output is not finite, to name the first bad step."""

    def __init__(self):
        self.flags = []

    def record(self, step, x0, x):
        self.flags.append((step, torch.isfinite(x0).all() & torch.isfinite(x).all()))

    def first_bad_step(self):
        for step, ok in self.flags:
            if not bool(ok):
                return step
        return None


class FramePackSectionSampler(io.ComfyNode):
    """Sample a FramePack video section by section with ComfyUI's guider and samplers."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InertiaFramePackSectionSampler",
            display_name="FramePack Section Sampler",
            category="Inertia/FramePack",
            description=(
                "FramePack image-to-video (lllyasviel/FramePack) on ComfyUI's own sampling: every section is "
                "sampled by a CFGGuider with a ComfyUI sampler, so LoRAs, model patches (Relaxation CFG, "
                "attention patches), wrappers and previews apply. inverted: the original anti-drifting order "
                "(last section first, start image as the anchor, optional end frame). f1: FramePack-F1 forward "
                "order (use the F1 checkpoint). Output: the whole video latent, decode with VAE Decode (Tiled)."),
            inputs=[
                io.Model.Input("model", tooltip="A FramePack MODEL (Load FramePack Model). It is cloned, never changed."),
                io.Conditioning.Input("positive", tooltip="The prompt; several timed prompts from FramePack "
                                      "Timestamped Prompt or Prompt At Time + Conditioning (Combine)."),
                io.ClipVisionOutput.Input("clip_vision_output", tooltip="SigLIP image embeddings of the start image "
                                          "(CLIPVisionLoader sigclip_vision_patch14_384 + CLIP Vision Encode)."),
                io.Latent.Input("start_latent", tooltip="The start image, VAE-encoded (HunyuanVideo VAE), one latent "
                                "frame; width and height multiples of 32 px (FramePack Image To Bucket makes them so)."),
                io.Float.Input("total_seconds", default=5.0, min=0.1, max=120.0, step=0.1,
                               tooltip="Video length in seconds at 30 fps; rounded to whole sections of ws·4/30 s."),
                io.Int.Input("latent_window_size", default=9, min=1, max=33,
                             tooltip="Latent frames per section (9 = 33 pixel frames, what FramePack was trained with)."),
                io.Int.Input("steps", default=25, min=1, max=MAX_STEPS, tooltip="Sampling steps per section."),
                io.Float.Input("distilled_guidance", default=10.0, min=0.0, max=100.0, step=0.1,
                               tooltip="FramePack's distilled (embedded) guidance, 'gs' in the original (10)."),
                io.Float.Input("cfg", default=1.0, min=0.0, max=100.0, step=0.1,
                               tooltip="Real CFG; 1 = off (the original's default, one model call per step)."),
                io.Float.Input("shift", default=0.0, min=0.0, max=100.0, step=0.01,
                               tooltip="Flow shift of the sigma schedule; 0 = keep a ModelSamplingSD3 patched upstream, else "
                                       "FramePack's automatic rule (≈7 at 640 px). > 0 overrides both."),
                io.Int.Input("seed", default=31337, min=0, max=0xFFFFFFFFFFFFFFFF, control_after_generate=True,
                             tooltip="Noise seed; one CPU generator for all sections, as the original."),
                io.Combo.Input("sampler_name", options=list(SAMPLER_CHOICES), default="uni_pc_flow",
                               tooltip="Sampler. uni_pc_flow = FramePack's own flow-matching UniPC (bh1, order 3), the original app's default; uni_pc_flow_bh2 its bh2 variant. ComfyUI's uni_pc is a different solver "
                                       "(other videos from the same seed); every ComfyUI sampler is listed too."),
                io.Combo.Input("mode", options=list(fs.MODES), default="inverted",
                               tooltip="inverted: anti-drifting, sections last-to-first (FramePackI2V_HY). "
                                       "f1: forward sections (FramePack_F1_I2V_HY)."),
                io.Conditioning.Input("negative", optional=True,
                                      tooltip="Negative prompt, used when cfg ≠ 1. Default: zeros, as the original."),
                io.Latent.Input("end_latent", optional=True,
                                tooltip="Optional end image, VAE-encoded like the start. inverted: the context after the "
                                        "last section; f1: an extra clean frame after the last section (extension)."),
                io.ClipVisionOutput.Input("end_clip_vision_output", optional=True,
                                          tooltip="Optional SigLIP embeddings of the end image; the image tokens then "
                                                  "move linearly from start to end image across the sections."),
                io.Sampler.Input("sampler", optional=True, tooltip="Optional SAMPLER (UniPC (flow matching, FramePack), KSamplerSelect…); overrides sampler_name."),
                io.Int.Input("prompt_blend_sections", default=0, min=0, max=10, optional=True,
                             tooltip="With timed prompts: number of sections before each change that blend from the "
                                     "old prompt to the new one."),
            ],
            outputs=[io.Latent.Output(display_name="samples",
                                      tooltip="The whole video latent [B,16,1+N·ws,H,W] (start frame first).")],
        )

    @classmethod
    def validate_inputs(cls, sampler_name=None, steps=None, distilled_guidance=None, cfg=None, shift=None):
        """Check sampler name and number settings when the prompt is queued (so the server answers 400);
        linked values arrive as ``None`` here and are checked at execution."""
        try:
            check_sampler_settings(sampler_name, steps, distilled_guidance, cfg, shift)
        except InertiaInputError as e:
            return str(e)
        return True

    @classmethod
    def execute(cls, model, positive, clip_vision_output, start_latent, total_seconds, latent_window_size, steps,
                distilled_guidance, cfg, shift, seed, sampler_name="uni_pc_flow", mode="inverted", negative=None,
                end_latent=None, end_clip_vision_output=None, sampler=None, prompt_blend_sections=0) -> io.NodeOutput:
        video, text = sample_framepack(
            model, positive, clip_vision_output, start_latent, total_seconds, latent_window_size, steps,
            distilled_guidance, cfg, shift, seed, sampler_name, mode, negative, end_latent, end_clip_vision_output,
            sampler, prompt_blend_sections)
        return io.NodeOutput({"samples": video}, ui=ui.PreviewText(text))


@torch.no_grad()
def sample_framepack(model, positive, clip_vision_output, start_latent, total_seconds, latent_window_size, steps,
                     distilled_guidance, cfg, shift, seed, sampler_name="uni_pc_flow", mode="inverted", negative=None,
                     end_latent=None, end_clip_vision_output=None, sampler=None, prompt_blend_sections=0):
    """The section loop. Returns ``(video [B,16,1+N·ws,H,W] float32 LATENT space, summary text)``.

    Raises:
        InertiaInputError: a non-FramePack model; a bad setting (:func:`check_sampler_settings`); a start/end
            latent off the 32-px bucket grid; ``latent_window_size`` < 1; ``total_seconds`` ≤ 0; timestamps out
            of order; text conditioning that is not HunyuanVideo's (e.g. Wan's: no ``pooled_output``) or image
            tokens that are not SigLIP's (e.g. CLIP-H, 1280 wide); a section whose sampled latent is not finite
            (the message names the section and the first non-finite step).
    """
    import latent_preview
    import node_helpers

    if not is_framepack_model(model):
        raise InertiaInputError("model", type(model.get_model_object("diffusion_model")).__name__,
                                "load the model with Load FramePack Model", "is not a FramePack model")
    if mode not in fs.MODES:
        raise InertiaInputError("mode", short(mode), f"use one of {fs.MODES}")
    for name, value in (("sampler_name", sampler_name), ("steps", steps), ("distilled_guidance", distilled_guidance),
                        ("cfg", cfg), ("shift", shift)):
        if value is None:
            raise InertiaInputError(name, None, "connect or enter a value", "is missing")
    check_sampler_settings(sampler_name, steps, distilled_guidance, cfg, shift)
    steps = int(steps)
    text_dim, pooled_dim, image_dim = _model_dims(model)
    check_hunyuan_text("positive", positive, text_dim, pooled_dim)
    if negative is not None:
        check_hunyuan_text("negative", negative, text_dim, pooled_dim)
    ws = fs.check_window(latent_window_size)
    n = fs.section_count(total_seconds, ws)
    start = _check_start(start_latent).float().cpu()
    b, _, _, h, w = start.shape
    end = None
    if end_latent is not None:
        end = (end_latent["samples"] if isinstance(end_latent, dict) else end_latent).float().cpu()
        if tuple(fs.check_latent_size("end_latent", end)) != (h, w):
            raise InertiaInputError("end_latent", f"{end.shape[-1] * 8}x{end.shape[-2] * 8} px",
                                    f"encode the end image at the start image's size ({w * 8}x{h * 8} px)",
                                    "differs in size from start_latent")
    if clip_vision_output is None:
        raise InertiaInputError("clip_vision_output", None, "connect CLIP Vision Encode with the SigLIP model "
                                "(sigclip_vision_patch14_384)", "is missing")
    start_emb = _image_embeds(clip_vision_output, "clip_vision_output", image_dim)
    end_emb = _image_embeds(end_clip_vision_output, "end_clip_vision_output", image_dim)
    spans, groups = prompt_groups(positive)
    prompt_w = fs.section_prompt_weights(spans, n, ws, prompt_blend_sections or 0)
    end_w = fs.end_embed_weights(n) if end_emb is not None else [0.0] * n

    variant = getattr(model.model, "framepack_variant", "unknown")
    if (variant == "f1") != (mode == "f1") and variant != "unknown":
        log.warning("FramePack: mode '%s' with a %s checkpoint; FramePack-F1 wants mode f1, FramePackI2V inverted",
                    mode, variant)

    m = model.clone()
    if shift and shift > 0:
        shift_used = float(shift)
        if "model_sampling" in model.object_patches:
            log.warning("FramePack: shift %g overrides the model_sampling patched upstream (e.g. ModelSamplingSD3)", shift_used)
    elif "model_sampling" in model.object_patches and isinstance(model.get_model_object("model_sampling"),
                                                                 comfy.model_sampling.CONST):
        shift_used = float(model.get_model_object("model_sampling").shift)  # shift 0: keep the upstream patch
        log.info("FramePack: shift 0 keeps the upstream model_sampling (shift %g)", shift_used)
    else:
        shift_used = fs.auto_shift(ws, h, w)
    ms = _FlowSampling(m.model.model_config)
    ms.set_parameters(shift=shift_used, multiplier=1000)
    m.add_object_patch("model_sampling", ms)
    sigmas = ms.sigma(torch.linspace(1.0, 0.0, steps + 1) * 1000.0).float()
    if not bool(torch.isfinite(sigmas).all()):
        raise InertiaInputError("shift", shift_used, "enter 0 (automatic) or a shift from 0.01 to 100",
                                "gives a sigma schedule that is not finite")
    smp = sampler if sampler is not None else samplers.sampler_by_name(sampler_name)
    guider = comfy.samplers.CFGGuider(m)
    guider.set_cfg(cfg)

    plans = fs.plan_sections(n, ws, mode, has_end=end is not None)
    total = fs.video_latent_frames(n, ws)
    video = torch.zeros((b, 16, total, h, w), dtype=torch.float32)
    video[:, :, :1] = start
    generator = torch.Generator("cpu").manual_seed(int(seed))
    progress = latent_preview.prepare_callback(m, n * steps)
    disable_pbar = not comfy.utils.PROGRESS_BAR_ENABLED

    def long_rows(ix):
        return torch.tensor([list(ix)], dtype=torch.long).expand(b, -1).contiguous()

    for plan in plans:
        mm.throw_exception_if_processing_interrupted()
        emb = start_emb
        if end_emb is not None and end_w[plan.index] > 0:
            emb = fs.blend_tokens(start_emb, end_emb, end_w[plan.index])
        pack = {
            "clean_latents": fs.gather_frames(video, plan.clean_sources, end),
            "clean_latents_2x": fs.gather_frames(video, plan.clean_2x_sources, end),
            "clean_latents_4x": fs.gather_frames(video, plan.clean_4x_sources, end),
            "latent_indices": long_rows(plan.latent_indices),
            "clean_latent_indices": long_rows(plan.clean_indices),
            "clean_latent_2x_indices": long_rows(plan.clean_2x_indices),
            "clean_latent_4x_indices": long_rows(plan.clean_4x_indices),
            IMAGE_KEY: emb,
        }
        weights = prompt_w[plan.index]
        pos = groups[weights[0][0]] if len(weights) == 1 else blend_conditioning(groups[weights[0][0]], groups[weights[1][0]], weights[1][1])
        neg = negative if negative is not None else zero_conditioning(pos)
        values = {COND_KEY: pack, "guidance": float(distilled_guidance)}
        guider.set_conds(node_helpers.conditioning_set_values(pos, values),
                         node_helpers.conditioning_set_values(neg, values))
        noise = torch.randn((b, 16, ws, h, w), generator=generator, dtype=torch.float32)
        offset = plan.step * steps

        watch = _FiniteWatch()

        def callback(step, x0, x, total_steps, offset=offset, watch=watch):
            watch.record(step, x0, x)
            progress(offset + step, x0, x, n * steps)

        # Section facts for model patches (FramePackHistoryControls): in transformer_options, so every
        # wrapper / attention override of this guider.sample call sees them (``SECTION_KEY`` doc).
        guider.model_options.setdefault("transformer_options", {})[SECTION_KEY] = {
            "index": plan.index, "step": plan.step, "count": n, "mode": mode, "latent_window_size": ws,
            "total_seconds": float(total_seconds),
            "clean_roles": tuple("start" if i == 0 else "end" if s == fs.END else "history"
                                 for i, s in enumerate(plan.clean_sources))}
        log.info("FramePack %s: section %d/%d (video latent frames %d-%d, padding %d)", mode, plan.step + 1, n,
                 plan.out_start, plan.out_stop - 1, plan.padding)
        out = guider.sample(noise, torch.zeros_like(noise), smp, sigmas, callback=callback, disable_pbar=disable_pbar,
                            seed=int(seed))
        out = out.float().cpu()
        if not bool(torch.isfinite(out).all()):
            _raise_non_finite(plan, n, steps, watch, mode, distilled_guidance, cfg, shift_used)
        video[:, :, plan.out_start:plan.out_stop] = out

    px = 4 * (total - 1) + 1
    text = (f"FramePack {mode}: {n} section(s) x {ws} latent frames = {total} latent / {px} pixel frames "
            f"({px / fs.FPS:.2f} s at {fs.FPS} fps); shift {shift_used:.3g}{'' if shift else ' (upstream or auto)'}, "
            f"{steps} steps, distilled guidance {distilled_guidance:g}, cfg {cfg:g}")
    log.info(text)
    return video, text

def _raise_non_finite(plan, n, steps, watch, mode, distilled_guidance, cfg, shift):
    """Fail loudly on a NaN/inf section (its settings were finite, so the model or a patch made it)."""
    bad = watch.first_bad_step()
    step = (f"step {bad + 1} of {steps}" if bad is not None
            else "a step the sampler did not report (it calls no callback)")
    where = (f"section {plan.step + 1} of {n} in generation order ({mode}; video latent frames "
             f"{plan.out_start}-{plan.out_stop - 1}), {step}")
    raise InertiaInputError(
        "model", "the sampled model",
        "check the model and its patches: weight_dtype (try default instead of fp8), LoRA strengths, attention "
        f"patches; the settings were finite (distilled_guidance {distilled_guidance:g}, cfg {cfg:g}, shift {shift:.3g})",
        f"produced a latent with NaN or inf values in {where}")


NODES = [FramePackSectionSampler]
