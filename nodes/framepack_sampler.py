"""FramePack sampling in ComfyUI: timed prompts and the section sampler.

FramePack (lllyasviel/FramePack, arXiv 2504.12626) samples a video section by section, each
section a window of ``ws`` latent frames conditioned on the packed history (the model and its
loader: ``nodes/framepack.py``; section arithmetic: ``nodes/pure/framepack_schedule.py``).

* :class:`FramePackSectionSampler` samples each section with ComfyUI's ``CFGGuider`` and a
  sampler object, sigmas from the model's ``model_sampling`` at the chosen shift. A section's
  packed context rides in the conditioning key :data:`COND_KEY`, its facts in
  ``transformer_options[SECTION_KEY]``, so model patches and wrappers see every section.
* :class:`FramePackTimestampedTextEncode` and :class:`FramePackConditioningAt` tag prompts with
  start (and end) times in seconds; :func:`prompt_groups` reads them back per section.

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

from . import keys
from .framepack import COND_KEY, IMAGE_KEY, is_framepack_model
from .pure import framepack_schedule as fs
from .pure.conditioning import blend_conditioning, zero_conditioning
from .pure.errors import InertiaInputError

log = logging.getLogger("ComfyUI-Inertia")

#: transformer_options key the section sampler sets for each section, a dict: "index" (time order,
#: 0 = first after the start image), "step" (generation order), "count" (sections), "mode",
#: "latent_window_size", "total_seconds", "clean_roles" (role of each 1× clean latent: "start",
#: "history" or "end"). Read by FramePackHistoryControls (nodes/framepack_controls.py).
SECTION_KEY = keys.FRAMEPACK_SECTION
#: Conditioning keys set by the timestamp nodes (seconds).
START_KEY, END_KEY = keys.FRAMEPACK_START_S, keys.FRAMEPACK_END_S


# ---------------------------------------------------------------------------------- conditioning

def _stamp(conditioning, start: float, end: float | None):
    import node_helpers

    values = {START_KEY: float(start)}
    if end is not None:
        values[END_KEY] = float(end)
    return node_helpers.conditioning_set_values(conditioning, values)


class FramePackTimestampedTextEncode(io.ComfyNode):
    """Text with ``[Xs: prompt]`` stamps → CONDITIONING whose entries carry their start times."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="FramePackTimestampedTextEncode",
            display_name="FramePack Timestamped Prompt",
            category="Inertia/FramePack",
            description=(
                "Encodes a prompt per time range for the FramePack Section Sampler: "
                "'[0s: a cat walks] [2s: the cat jumps] [4s-5s: it rolls]'. A prompt runs from its time until "
                "the next one; a range [Xs-Ys: …] is an insert, after it the prompt before it resumes. Text before "
                "the first stamp starts at 0 s; text with no stamp is one prompt. Times must increase."),
            inputs=[
                io.Clip.Input("clip", tooltip="HunyuanVideo text encoders (DualCLIPLoader, type hunyuan_video)."),
                io.String.Input("text", multiline=True, default="[0s: ]",
                                tooltip="Prompts with [Xs: …] or [Xs-Ys: …] stamps, in seconds of the output video."),
            ],
            outputs=[io.Conditioning.Output(display_name="conditioning",
                                            tooltip="One entry per prompt, tagged with its time range.")],
        )

    @classmethod
    def execute(cls, clip, text) -> io.NodeOutput:
        spans = fs.parse_timestamped_prompts(text)
        out = []
        for span in spans:
            out += _stamp(clip.encode_from_tokens_scheduled(clip.tokenize(span.text)), span.start, span.end)
        summary = "; ".join(f"{s.start:g}s{'' if s.end is None else f'-{s.end:g}s'}: {s.text[:40]}" for s in spans)
        return io.NodeOutput(out, ui=ui.PreviewText(summary))


class FramePackConditioningAt(io.ComfyNode):
    """Tag a CONDITIONING with the time it starts (combine several with Conditioning (Combine))."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="FramePackConditioningAt",
            display_name="FramePack Prompt At Time",
            category="Inertia/FramePack",
            description=("Marks a prompt to start at a time of the FramePack video. Chain several with "
                         "Conditioning (Combine), in time order, into the sampler's positive input."),
            inputs=[
                io.Conditioning.Input("conditioning", tooltip="The prompt (CLIPTextEncode output)."),
                io.Float.Input("start_seconds", default=0.0, min=0.0, max=1200.0, step=0.1,
                               tooltip="Second of the output video where this prompt takes over."),
                io.Float.Input("end_seconds", default=0.0, min=0.0, max=1200.0, step=0.1,
                               tooltip="Optional end (seconds); 0 = until the next prompt."),
            ],
            outputs=[io.Conditioning.Output(display_name="conditioning", tooltip="The tagged conditioning.")],
        )

    @classmethod
    def execute(cls, conditioning, start_seconds, end_seconds=0.0) -> io.NodeOutput:
        end = None if end_seconds <= 0 else end_seconds
        fs.check_span_order([fs.PromptSpan(start_seconds, end, "")], "end_seconds")
        return io.NodeOutput(_stamp(conditioning, start_seconds, end))


def prompt_groups(positive) -> tuple[list[fs.PromptSpan], list[list]]:
    """Split a CONDITIONING into timed prompts: entries with equal stamps form one prompt.

    Entries without a stamp start at 0 s. No stamps at all: one prompt, the whole conditioning.
    Raises :class:`InertiaInputError` when stamps are out of order.
    """
    if not any(START_KEY in e[1] for e in positive):
        return [fs.PromptSpan(0.0, None, "")], [list(positive)]
    spans, groups = [], []
    for entry in positive:
        key = (float(entry[1].get(START_KEY, 0.0)), entry[1].get(END_KEY))
        if spans and (spans[-1].start, spans[-1].end) == key:
            groups[-1].append(entry)
        else:
            spans.append(fs.PromptSpan(key[0], key[1], ""))
            groups.append([entry])
    fs.check_span_order(spans, "positive")
    return spans, groups


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


def _image_embeds(clip_vision_output, name):
    if clip_vision_output is None:
        return None
    emb = getattr(clip_vision_output, "last_hidden_state", None)
    if emb is None:
        raise InertiaInputError(name, type(clip_vision_output).__name__,
                                "connect CLIP Vision Encode with the SigLIP model (sigclip_vision_patch14_384)",
                                "has no last_hidden_state")
    return emb


class FramePackSectionSampler(io.ComfyNode):
    """Sample a FramePack video section by section with ComfyUI's guider and samplers."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="FramePackSectionSampler",
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
                                "frame; width and height multiples of 32 px (FramePack buckets)."),
                io.Float.Input("total_seconds", default=5.0, min=0.1, max=120.0, step=0.1,
                               tooltip="Video length in seconds at 30 fps; rounded to whole sections of ws·4/30 s."),
                io.Int.Input("latent_window_size", default=9, min=1, max=33,
                             tooltip="Latent frames per section (9 = 33 pixel frames, what FramePack was trained with)."),
                io.Int.Input("steps", default=25, min=1, max=200, tooltip="Sampling steps per section."),
                io.Float.Input("distilled_guidance", default=10.0, min=0.0, max=100.0, step=0.1,
                               tooltip="FramePack's distilled (embedded) guidance, 'gs' in the original (10)."),
                io.Float.Input("cfg", default=1.0, min=0.0, max=100.0, step=0.1,
                               tooltip="Real CFG; 1 = off (the original's default, one model call per step)."),
                io.Float.Input("shift", default=0.0, min=0.0, max=100.0, step=0.01,
                               tooltip="Flow shift of the sigma schedule; 0 = keep a ModelSamplingSD3 patched upstream, else "
                                       "FramePack's automatic rule (≈7 at 640 px). > 0 overrides both."),
                io.Int.Input("seed", default=31337, min=0, max=0xFFFFFFFFFFFFFFFF, control_after_generate=True,
                             tooltip="Noise seed; one CPU generator for all sections, as the original."),
                io.Combo.Input("sampler_name", options=list(comfy.samplers.SAMPLER_NAMES), default="uni_pc",
                               tooltip="ComfyUI sampler (FramePack uses UniPC = uni_pc)."),
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
                io.Sampler.Input("sampler", optional=True, tooltip="Optional SAMPLER (KSamplerSelect…); overrides sampler_name."),
                io.Int.Input("prompt_blend_sections", default=0, min=0, max=10, optional=True,
                             tooltip="With timed prompts: number of sections before each change that blend from the "
                                     "old prompt to the new one."),
            ],
            outputs=[io.Latent.Output(display_name="samples",
                                      tooltip="The whole video latent [B,16,1+N·ws,H,W] (start frame first).")],
        )

    @classmethod
    def execute(cls, model, positive, clip_vision_output, start_latent, total_seconds, latent_window_size, steps,
                distilled_guidance, cfg, shift, seed, sampler_name="uni_pc", mode="inverted", negative=None,
                end_latent=None, end_clip_vision_output=None, sampler=None, prompt_blend_sections=0) -> io.NodeOutput:
        video, text = sample_framepack(
            model, positive, clip_vision_output, start_latent, total_seconds, latent_window_size, steps,
            distilled_guidance, cfg, shift, seed, sampler_name, mode, negative, end_latent, end_clip_vision_output,
            sampler, prompt_blend_sections)
        return io.NodeOutput({"samples": video}, ui=ui.PreviewText(text))


@torch.no_grad()
def sample_framepack(model, positive, clip_vision_output, start_latent, total_seconds, latent_window_size, steps,
                     distilled_guidance, cfg, shift, seed, sampler_name="uni_pc", mode="inverted", negative=None,
                     end_latent=None, end_clip_vision_output=None, sampler=None, prompt_blend_sections=0):
    """The section loop. Returns ``(video [B,16,1+N·ws,H,W] float32 LATENT space, summary text)``.

    Raises :class:`InertiaInputError` for: a non-FramePack model, a start/end latent off the 32-px
    bucket grid, ``latent_window_size`` < 1, ``total_seconds`` ≤ 0, timestamps out of order.
    """
    import latent_preview
    import node_helpers

    if not is_framepack_model(model):
        raise InertiaInputError("model", type(model.get_model_object("diffusion_model")).__name__,
                                "load the model with Load FramePack Model", "is not a FramePack model")
    if mode not in fs.MODES:
        raise InertiaInputError("mode", mode, f"use one of {fs.MODES}")
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
    start_emb = _image_embeds(clip_vision_output, "clip_vision_output")
    end_emb = _image_embeds(end_clip_vision_output, "end_clip_vision_output")
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
    smp = sampler if sampler is not None else comfy.samplers.sampler_object(sampler_name)
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

        def callback(step, x0, x, total_steps, offset=offset):
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
        video[:, :, plan.out_start:plan.out_stop] = out.float().cpu()

    px = 4 * (total - 1) + 1
    text = (f"FramePack {mode}: {n} section(s) x {ws} latent frames = {total} latent / {px} pixel frames "
            f"({px / fs.FPS:.2f} s at {fs.FPS} fps); shift {shift_used:.3g}{'' if shift else ' (upstream or auto)'}, "
            f"{steps} steps, distilled guidance {distilled_guidance:g}, cfg {cfg:g}")
    log.info(text)
    return video, text

NODES = [FramePackSectionSampler, FramePackTimestampedTextEncode, FramePackConditioningAt]
