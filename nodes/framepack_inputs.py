"""FramePack's inputs in ComfyUI: timed prompts and the start image's resolution bucket.

* :class:`FramePackTimestampedTextEncode` and :class:`FramePackConditioningAt` tag prompts with
  start (and end) times in seconds; :func:`prompt_groups` reads them back per section for the section
  sampler (``nodes/framepack_sampler.py``). The timing rules are in ``nodes/pure/timed_prompts.py``.
* :class:`FramePackImageToBucket` resizes and centre-crops the start/end image to the nearest of
  FramePack's resolution buckets (lllyasviel/FramePack, arXiv 2504.12626), as the original app does
  before VAE and SigLIP encoding, with ComfyUI's ``comfy.utils.common_upscale``.

Images are ComfyUI IMAGE ``[B, H, W, C]`` floats in [0, 1]; times are seconds of video.
"""

from __future__ import annotations

import logging

import comfy.utils
import torch
from comfy_api.latest import io, ui

from . import keys
from .pure import framepack_schedule as fs
from .pure import timed_prompts as tp
from .pure.errors import InertiaInputError, require_range, short

log = logging.getLogger("ComfyUI-Inertia")

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
            node_id="InertiaFramePackTimestampedTextEncode",
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
    def validate_inputs(cls, text=None):
        """Parse the stamps when the prompt is queued (a linked ``text`` is checked at execution)."""
        if text is None:
            return True
        try:
            tp.parse_timestamped_prompts(text)
        except InertiaInputError as e:
            return str(e)
        return True

    @classmethod
    def execute(cls, clip, text) -> io.NodeOutput:
        spans = tp.parse_timestamped_prompts(text)
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
            node_id="InertiaFramePackConditioningAt",
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
    def validate_inputs(cls, start_seconds=None, end_seconds=None):
        """Check the times when the prompt is queued (linked values are checked at execution)."""
        try:
            _check_times(start_seconds, end_seconds)
        except InertiaInputError as e:
            return str(e)
        return True

    @classmethod
    def execute(cls, conditioning, start_seconds, end_seconds=0.0) -> io.NodeOutput:
        start, end = _check_times(start_seconds, 0.0 if end_seconds is None else end_seconds)
        return io.NodeOutput(_stamp(conditioning, start, end))


#: Largest time (seconds) a prompt can be placed at (the widgets' maximum).
MAX_PROMPT_SECONDS = 1200.0


def _check_times(start_seconds, end_seconds):
    """``(start, end or None)`` in seconds; ``None`` inputs (links at validation time) are skipped.

    Raises:
        InertiaInputError: a time that is not a finite number in [0, 1200] s, or an end at/before the start.
    """
    start = end = None
    if start_seconds is not None:
        start = require_range("start_seconds", start_seconds, 0.0, MAX_PROMPT_SECONDS,
                              "enter the second of the video where the prompt starts, 0 to 1200")
    if end_seconds is not None:
        end = require_range("end_seconds", end_seconds, 0.0, MAX_PROMPT_SECONDS,
                            "enter the second where the prompt ends, 0 to 1200 (0 = until the next prompt)")
        end = None if end <= 0 else end
    if start is not None and end is not None:
        tp.check_span_order([tp.PromptSpan(start, end, "")], "end_seconds")
    return start, end


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


# ---------------------------------------------------------------------------------- start image

#: Resampling filters offered for the bucket resize (core ``comfy.utils.common_upscale``); lanczos is
#: what the original app uses (PIL ``Image.LANCZOS``).
UPSCALE_METHODS = ("lanczos", "bicubic", "bilinear", "area", "nearest-exact")


class FramePackImageToBucket(io.ComfyNode):
    """Resize and centre-crop an image to the nearest FramePack resolution bucket (as the original app does
    before VAE and SigLIP encoding); see :func:`framepack_schedule.nearest_bucket`."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InertiaFramePackImageToBucket",
            display_name="FramePack Image To Bucket",
            category="Inertia/FramePack",
            description=(
                "Resizes and centre-crops the start (or end) image to the nearest of FramePack's 14 resolution "
                "buckets (about 640x640 px, sides multiples of 32, e.g. 832x480 for 16:9 or 608x640 for a square), "
                "exactly as the FramePack app does before encoding. Feed the result to VAE Encode and CLIP Vision "
                "Encode; an image already at a bucket passes through unchanged."),
            inputs=[
                io.Image.Input("image", tooltip="The image [B,H,W,C], any size."),
                io.Combo.Input("upscale_method", options=list(UPSCALE_METHODS), default="lanczos",
                               tooltip="Resampling filter; lanczos as the original."),
            ],
            outputs=[
                io.Image.Output(display_name="image", tooltip="The image at the bucket size [B,h,w,C]."),
                io.Int.Output(display_name="width", tooltip="Bucket width in pixels."),
                io.Int.Output(display_name="height", tooltip="Bucket height in pixels."),
            ],
        )

    @classmethod
    def execute(cls, image, upscale_method="lanczos") -> io.NodeOutput:
        out, (bh, bw), text = image_to_bucket(image, upscale_method)
        return io.NodeOutput(out, bw, bh, ui=ui.PreviewText(text))


def image_to_bucket(image, upscale_method="lanczos"):
    """``image [B,H,W,C]`` in [0, 1] → ``(image [B,h,w,C], (h, w), message)`` at the nearest FramePack bucket.

    Scale to cover the bucket and centre-crop (core ``comfy.utils.common_upscale`` with ``crop="center"``),
    values clamped to [0, 1]. The input is never changed; at a bucket size it is returned as is.

    Raises:
        InertiaInputError: ``image`` not a ``[B,H,W,C]`` tensor, ``upscale_method`` not in :data:`UPSCALE_METHODS`.
    """
    if not torch.is_tensor(image) or image.ndim != 4 or image.shape[0] < 1:
        raise InertiaInputError("image", short(tuple(image.shape) if torch.is_tensor(image) else type(image).__name__),
                                "connect an IMAGE (Load Image)", "is not an image batch [B,H,W,C]")
    if upscale_method not in UPSCALE_METHODS:
        raise InertiaInputError("upscale_method", short(upscale_method), f"use one of {UPSCALE_METHODS}")
    h, w = int(image.shape[1]), int(image.shape[2])
    bh, bw = fs.nearest_bucket(h, w)
    if (h, w) == (bh, bw):
        return image, (bh, bw), f"FramePack bucket: {w}x{h} px is already a bucket, unchanged"
    samples = image.movedim(-1, 1)
    out = comfy.utils.common_upscale(samples, bw, bh, upscale_method, "center").movedim(1, -1).clamp(0.0, 1.0)
    text = (f"FramePack bucket: resized and centre-cropped {w}x{h} px to the nearest bucket {bw}x{bh} px "
            f"(width x height), as the FramePack app does")
    log.info(text)
    return out.contiguous(), (bh, bw), text




NODES = [FramePackTimestampedTextEncode, FramePackConditioningAt, FramePackImageToBucket]
