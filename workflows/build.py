"""Build the bundled workflows from one spec each, in UI format and API format.

    python workflows/build.py          # (re)write workflows/*.json and workflows/api/*.json
    python workflows/build.py --check  # exit 1 if the files on disk differ from the specs

UI format (``workflows/<name>.json``) is what ComfyUI's Templates browser lists and the
graph editor loads; API format (``workflows/api/<name>.json``) is what ``/prompt`` takes
(``python -m nodes.headless``). Both come from the same spec, so they cannot drift apart.

Widget order and defaults are read from the real node definitions of a ComfyUI
(``$COMFYUI_PATH``, the custom_nodes parent, or ``~/comfy/ComfyUI``: ``nodes/headless/comfy_env.py``)
with this pack loaded.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACK = HERE.parent

HF_WAN = "https://huggingface.co/Comfy-Org/Wan_2.1_ComfyUI_repackaged/resolve/main/split_files"
HF_HY = "https://huggingface.co/Comfy-Org/HunyuanVideo_repackaged/resolve/main/split_files"
MODEL_URLS = {
    "wan2.1_t2v_1.3B_fp16.safetensors": (f"{HF_WAN}/diffusion_models/wan2.1_t2v_1.3B_fp16.safetensors", "diffusion_models"),
    "umt5_xxl_fp8_e4m3fn_scaled.safetensors": (f"{HF_WAN}/text_encoders/umt5_xxl_fp8_e4m3fn_scaled.safetensors", "text_encoders"),
    "wan_2.1_vae.safetensors": (f"{HF_WAN}/vae/wan_2.1_vae.safetensors", "vae"),
    "hunyuan_video_t2v_720p_bf16.safetensors": (f"{HF_HY}/diffusion_models/hunyuan_video_t2v_720p_bf16.safetensors", "diffusion_models"),
    "llava_llama3_fp8_scaled.safetensors": (f"{HF_HY}/text_encoders/llava_llama3_fp8_scaled.safetensors", "text_encoders"),
    "clip_l.safetensors": ("https://huggingface.co/comfyanonymous/flux_text_encoders/resolve/main/clip_l.safetensors", "text_encoders"),
    "hunyuan_video_vae_bf16.safetensors": (f"{HF_HY}/vae/hunyuan_video_vae_bf16.safetensors", "vae"),
    "wan2.1_i2v_480p_14B_fp16.safetensors": (f"{HF_WAN}/diffusion_models/wan2.1_i2v_480p_14B_fp16.safetensors", "diffusion_models"),
    "clip_vision_h.safetensors": (f"{HF_WAN}/clip_vision/clip_vision_h.safetensors", "clip_vision"),
    "FramePackI2V_HY_bf16.safetensors": ("https://huggingface.co/Kijai/HunyuanVideo_comfy/resolve/main/FramePackI2V_HY_bf16.safetensors", "diffusion_models"),
    "FramePack_F1_I2V_HY_20250503_bf16.safetensors": ("https://huggingface.co/Kijai/HunyuanVideo_comfy/resolve/main/FramePack_F1_I2V_HY_20250503_bf16.safetensors", "diffusion_models"),
    "sigclip_vision_patch14_384.safetensors": ("https://huggingface.co/Comfy-Org/sigclip_vision_384/resolve/main/sigclip_vision_patch14_384.safetensors", "clip_vision"),
    "llava_llama3_fp16.safetensors": (f"{HF_HY}/text_encoders/llava_llama3_fp16.safetensors", "text_encoders"),
    "wan2.1_vace_1.3B_fp16.safetensors": (f"{HF_WAN}/diffusion_models/wan2.1_vace_1.3B_fp16.safetensors", "diffusion_models"),
}

#: Real start/end images for FramePack (the input and a frame of ComfyUI's Wan 2.2 FLF template).
EXAMPLE_END_IMAGE = "video_wan2_2_14B_flf2v-2.webp"

#: A real image from the official template media package comfyui-workflow-templates-media-video
#: (the input of ComfyUI's Wan 2.2 I2V template). Copy it into ComfyUI/input, or pick your own.
EXAMPLE_IMAGE = "video_wan2_2_14B_i2v-2.webp"

WAN_NEGATIVE = ("色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，最差质量，低质量，JPEG压缩残留，丑陋的，"
                "残缺的，多余的手指，画得不好的手部，画得不好的脸部，畸形的，毁容的，形态畸形的肢体，手指融合，静止不动的画面，杂乱的背景，三条腿，背景人很多，倒着走")


def L(node: str, slot: int = 0):
    """A link to output ``slot`` of node ``node`` (by spec key)."""
    return ("link", node, slot)


def hunyuan_t2v_nodes(prompt: str, patches: list[tuple], prefix: str, extra: list[tuple] = ()):
    """HunyuanVideo T2V graph (as ComfyUI's template: FluxGuidance 6, shift 7, SamplerCustomAdvanced) with
    ``patches`` chained after the shift; ``extra`` nodes are appended (they may link to "shift" or "sigmas")."""
    nodes = [
        ("unet", "UNETLoader", {"unet_name": "hunyuan_video_t2v_720p_bf16.safetensors", "weight_dtype": "default"}),
        ("clip", "DualCLIPLoader", {"clip_name1": "clip_l.safetensors", "clip_name2": "llava_llama3_fp8_scaled.safetensors",
                                    "type": "hunyuan_video", "device": "default"}),
        ("vae", "VAELoader", {"vae_name": "hunyuan_video_vae_bf16.safetensors"}),
        ("pos", "CLIPTextEncode", {"clip": L("clip"), "text": prompt}, "Prompt"),
        ("guidance", "FluxGuidance", {"conditioning": L("pos"), "guidance": 6.0}),
        ("shift", "ModelSamplingSD3", {"model": L("unet"), "shift": 7.0}),
    ]
    last = "shift"
    for key, cls, inputs in patches:
        nodes.append((key, cls, {"model": L(last), **inputs}))
        last = key
    nodes += [
        ("latent", "EmptyHunyuanLatentVideo", {"width": 848, "height": 480, "length": 73, "batch_size": 1}),
        ("noise", "RandomNoise", {"noise_seed": 42}),
        ("sampler", "KSamplerSelect", {"sampler_name": "euler"}),
        ("sigmas", "BasicScheduler", {"model": L(last), "scheduler": "simple", "steps": 20, "denoise": 1.0}),
        ("guider", "BasicGuider", {"model": L(last), "conditioning": L("guidance")}),
        ("sample", "SamplerCustomAdvanced", {"noise": L("noise"), "guider": L("guider"), "sampler": L("sampler"),
                                             "sigmas": L("sigmas"), "latent_image": L("latent")}),
        ("decode", "VAEDecodeTiled", {"samples": L("sample"), "vae": L("vae"), "tile_size": 256, "overlap": 64,
                                      "temporal_size": 64, "temporal_overlap": 8}),
        ("video", "CreateVideo", {"images": L("decode"), "fps": 24.0}),
        ("save", "SaveVideo", {"video": L("video"), "filename_prefix": f"inertia/{prefix}", "format": "auto",
                               "codec": "auto"}),
    ]
    return nodes + list(extra)


def wan_i2v_nodes(prompt: str, patches: list[tuple], cfg: float = 5.0, steps: int = 30, prefix: str = "wan21_i2v"):
    """Wan 2.1 I2V 480p graph (as ComfyUI's template) with ``patches`` chained between the shift and the sampler."""
    nodes = [
        ("unet", "UNETLoader", {"unet_name": "wan2.1_i2v_480p_14B_fp16.safetensors", "weight_dtype": "default"}),
        ("clip", "CLIPLoader", {"clip_name": "umt5_xxl_fp8_e4m3fn_scaled.safetensors", "type": "wan", "device": "default"}),
        ("vae", "VAELoader", {"vae_name": "wan_2.1_vae.safetensors"}),
        ("clip_vision", "CLIPVisionLoader", {"clip_name": "clip_vision_h.safetensors"}),
        ("image", "LoadImage", {"image": EXAMPLE_IMAGE}, "Start image"),
        ("vision", "CLIPVisionEncode", {"clip_vision": L("clip_vision"), "image": L("image"), "crop": "none"}),
        ("pos", "CLIPTextEncode", {"clip": L("clip"), "text": prompt}, "Positive prompt"),
        ("neg", "CLIPTextEncode", {"clip": L("clip"), "text": WAN_NEGATIVE}, "Negative prompt"),
        ("i2v", "WanImageToVideo", {"positive": L("pos"), "negative": L("neg"), "vae": L("vae"), "width": 832,
                                    "height": 480, "length": 81, "batch_size": 1, "clip_vision_output": L("vision"),
                                    "start_image": L("image")}),
        ("shift", "ModelSamplingSD3", {"model": L("unet"), "shift": 8.0}),
    ]
    last = "shift"
    for key, cls, inputs in patches:
        nodes.append((key, cls, {"model": L(last), **inputs}))
        last = key
    nodes += [
        ("ksampler", "KSampler", {"model": L(last), "seed": 42, "steps": steps, "cfg": cfg, "sampler_name": "uni_pc",
                                  "scheduler": "simple", "positive": L("i2v", 0), "negative": L("i2v", 1),
                                  "latent_image": L("i2v", 2), "denoise": 1.0}),
        ("decode", "VAEDecode", {"samples": L("ksampler"), "vae": L("vae")}),
        ("video", "CreateVideo", {"images": L("decode"), "fps": 16.0}),
        ("save", "SaveVideo", {"video": L("video"), "filename_prefix": f"inertia/{prefix}", "format": "auto",
                               "codec": "auto"}),
    ]
    return nodes


WAN_I2V_FILES = """**Model files** (ComfyUI/models/…):
- diffusion_models/wan2.1_i2v_480p_14B_fp16.safetensors
- text_encoders/umt5_xxl_fp8_e4m3fn_scaled.safetensors
- clip_vision/clip_vision_h.safetensors
- vae/wan_2.1_vae.safetensors

**Start image**: `video_wan2_2_14B_i2v-2.webp` from the official template media package
(`comfyui-workflow-templates-media-video`, installed with ComfyUI); copy it into ComfyUI/input or load your own.
"""

RELAX = ("relax", "RelaxationCFG", {"beta": 0.75, "decay_power": 0.7, "s_min": 1.0, "s_base": 0.0, "guidance": "auto"})
UNLEARN = ("unlearn", "TemporalUnlearning", {"sigma_blur": 0.6, "apply_to": "kv", "start_percent": 0.0,
                                             "end_percent": 1.0, "blocks": "all", "protect_anchor_frames": True,
                                             "blur_vace_control": False})
ALG_PAPER = ("alg", "ALG", {"preset": "paper defaults for the model family", "guidance_form": "paper",
                            "schedule_by": "sigma", "filter": "down_up", "resize_factor": 0.4, "blur_sigma": 1.0,
                            "schedule": "interval", "window_start": 0.0, "window_end": 0.2, "decay_rate": 10.0})

# Each spec: name, note (MarkdownNote text), nodes = [(key, class_type, inputs, title?)]
SPECS = [
    {
        "name": "wan21_t2v_relaxation_cfg",
        "note": """## Wan 2.1 T2V 1.3B + Relaxation CFG

**What it shows.** Relaxation CFG (Static Death paper, eq. 2, Table 1's best row β = 0.75, p = 0.7):
guidance is relaxed at high noise, s(σ) = s_min + (cfg − s_min)(1 − β·σ̂^p), so the first steps are free
to lay out motion the prompt asks for, and full cfg returns as σ → 0.

**What to expect.** Compared with the same seed without the node: more motion and change, similar detail.
The Relaxation CFG Preview node plots the scale applied at every step of this schedule.

**Model files** (ComfyUI/models/…):
- diffusion_models/wan2.1_t2v_1.3B_fp16.safetensors
- text_encoders/umt5_xxl_fp8_e4m3fn_scaled.safetensors
- vae/wan_2.1_vae.safetensors
""",
        "nodes": [
            ("unet", "UNETLoader", {"unet_name": "wan2.1_t2v_1.3B_fp16.safetensors", "weight_dtype": "default"}),
            ("clip", "CLIPLoader", {"clip_name": "umt5_xxl_fp8_e4m3fn_scaled.safetensors", "type": "wan", "device": "default"}),
            ("vae", "VAELoader", {"vae_name": "wan_2.1_vae.safetensors"}),
            ("pos", "CLIPTextEncode", {"clip": L("clip"), "text": "a red fox runs across a snowy meadow, then leaps "
                                       "into the air and disappears behind a tree, tracking camera"}, "Positive prompt"),
            ("neg", "CLIPTextEncode", {"clip": L("clip"), "text": WAN_NEGATIVE}, "Negative prompt"),
            ("shift", "ModelSamplingSD3", {"model": L("unet"), "shift": 8.0}),
            ("relax", "RelaxationCFG", {"model": L("shift"), "beta": 0.75, "decay_power": 0.7, "s_min": 1.0,
                                        "s_base": 0.0, "guidance": "cfg"}),
            ("latent", "EmptyHunyuanLatentVideo", {"width": 832, "height": 480, "length": 81, "batch_size": 1}),
            ("ksampler", "KSampler", {"model": L("relax"), "seed": 42, "steps": 30, "cfg": 6.0,
                                      "sampler_name": "uni_pc", "scheduler": "simple", "positive": L("pos"),
                                      "negative": L("neg"), "latent_image": L("latent"), "denoise": 1.0}),
            ("decode", "VAEDecode", {"samples": L("ksampler"), "vae": L("vae")}),
            ("video", "CreateVideo", {"images": L("decode"), "fps": 16.0}),
            ("save", "SaveVideo", {"video": L("video"), "filename_prefix": "inertia/wan21_t2v_relaxation",
                                   "format": "auto", "codec": "auto"}),
            ("sigmas", "BasicScheduler", {"model": L("shift"), "scheduler": "simple", "steps": 30, "denoise": 1.0},
             "Schedule to preview"),
            ("preview", "RelaxationCFGPreview", {"sigmas": L("sigmas"), "beta": 0.75, "decay_power": 0.7, "s_min": 1.0,
                                                 "s_base": 0.0, "cfg": 6.0, "model": L("shift")}),
        ],
    },
    {
        "name": "hunyuan_t2v_relaxation_embedded",
        "note": """## HunyuanVideo T2V + Relaxation CFG (embedded guidance)

**What it shows.** HunyuanVideo is guidance-distilled: guidance is an input of the model (FluxGuidance, 6),
not a CFG mix. Relaxation CFG in *embedded* mode rewrites that input per step to
s(σ) = s_min + (6 − s_min)(1 − β·σ̂^p) (β = 0.75, p = 0.7), so early steps are less bound to the prompt's
static reading and later steps get the full guidance back. The sampler's cfg stays 1: no extra passes.

**What to expect.** More motion and change than the stock template at the same seed.

**Model files** (ComfyUI/models/…):
- diffusion_models/hunyuan_video_t2v_720p_bf16.safetensors
- text_encoders/clip_l.safetensors and text_encoders/llava_llama3_fp8_scaled.safetensors
- vae/hunyuan_video_vae_bf16.safetensors
""",
        "nodes": hunyuan_t2v_nodes(
            "a magician in a dark theatre raises his cape, spins once and vanishes in a puff of smoke",
            [("relax", "RelaxationCFG", {"beta": 0.75, "decay_power": 0.7, "s_min": 1.0, "s_base": 0.0,
                                         "guidance": "embedded"})],
            prefix="hunyuan_t2v_relaxation",
            extra=[("preview", "RelaxationCFGPreview", {"sigmas": L("sigmas"), "beta": 0.75, "decay_power": 0.7,
                                                        "s_min": 1.0, "s_base": 0.0, "cfg": 6.0, "model": L("shift")})]),
    },
]


def framepack_nodes(mode: str, model_file: str, prompt: str, seconds: float = 5.0, patches: list[tuple] = (),
                    end_frame: bool = True, prefix: str | None = None, meter: bool = False):
    """FramePack I2V (optionally with an end image), native ComfyUI nodes around the section sampler;
    ``patches`` (MODEL → MODEL) are chained between the loader and the sampler; ``meter`` adds the change
    meter on the decoded frames with a centred subject box."""
    nodes = [
        ("model", "FramePackModelLoader", {"model_name": model_file, "weight_dtype": "default"}),
        ("clip", "DualCLIPLoader", {"clip_name1": "clip_l.safetensors", "clip_name2": "llava_llama3_fp16.safetensors",
                                    "type": "hunyuan_video", "device": "default"}),
        ("vae", "VAELoader", {"vae_name": "hunyuan_video_vae_bf16.safetensors"}),
        ("siglip", "CLIPVisionLoader", {"clip_name": "sigclip_vision_patch14_384.safetensors"}),
        ("start_image", "LoadImage", {"image": EXAMPLE_IMAGE}, "Start image"),
        ("end_image", "LoadImage", {"image": EXAMPLE_END_IMAGE}, "End image"),
        ("start_px", "ImageScale", {"image": L("start_image"), "upscale_method": "bilinear", "width": 640,
                                    "height": 640, "crop": "center"}, "Start image at the 640 bucket"),
        ("end_px", "ImageScale", {"image": L("end_image"), "upscale_method": "bilinear", "width": 640,
                                  "height": 640, "crop": "center"}, "End image at the 640 bucket"),
        ("start_vision", "CLIPVisionEncode", {"clip_vision": L("siglip"), "image": L("start_px"), "crop": "center"}),
        ("end_vision", "CLIPVisionEncode", {"clip_vision": L("siglip"), "image": L("end_px"), "crop": "center"}),
        ("start_latent", "VAEEncode", {"pixels": L("start_px"), "vae": L("vae")}),
        ("end_latent", "VAEEncode", {"pixels": L("end_px"), "vae": L("vae")}),
        ("prompt", "CLIPTextEncode", {"clip": L("clip"), "text": prompt}, "Prompt"),
    ]
    last = "model"
    for key, cls, inputs in patches:
        nodes.append((key, cls, {"model": L(last), **inputs}))
        last = key
    sampler = {"model": L(last), "positive": L("prompt"), "clip_vision_output": L("start_vision"),
               "start_latent": L("start_latent"), "total_seconds": seconds, "latent_window_size": 9, "steps": 25,
               "distilled_guidance": 10.0, "cfg": 1.0, "shift": 0.0, "seed": 31337, "sampler_name": "uni_pc_flow",
               "mode": mode}
    if end_frame:
        sampler.update(end_latent=L("end_latent"), end_clip_vision_output=L("end_vision"))
    else:
        nodes = [n for n in nodes if n[0] not in ("end_image", "end_px", "end_vision", "end_latent")]
    nodes += [
        ("sampler", "FramePackSectionSampler", sampler),
        ("decode", "VAEDecodeTiled", {"samples": L("sampler"), "vae": L("vae"), "tile_size": 256, "overlap": 64,
                                      "temporal_size": 64, "temporal_overlap": 8}),
        ("video", "CreateVideo", {"images": L("decode"), "fps": 30.0}),
        ("save", "SaveVideo", {"video": L("video"), "filename_prefix": f"inertia/{prefix or 'framepack_' + mode}",
                               "format": "auto", "codec": "auto"}),
    ]
    if meter:
        nodes += [
            ("frame_mask", "SolidMask", {"value": 0.0, "width": 640, "height": 640}, "Whole frame (keep)"),
            ("subject_box", "SolidMask", {"value": 1.0, "width": 320, "height": 480}, "Subject box"),
            ("subject", "MaskComposite", {"destination": L("frame_mask"), "source": L("subject_box"), "x": 160,
                                          "y": 80, "operation": "add"}, "Subject region"),
            ("meter", "InertiaChangeMeter", {"images": L("decode"), "fps": 30.0, "motion_threshold": 0.04,
                                             "dynamic_threshold": 0.01, "mask": L("subject")}),
        ]
    return nodes


FRAMEPACK_FILES = """**Model files** (ComfyUI/models/…):
- diffusion_models/{model}
- text_encoders/clip_l.safetensors and text_encoders/llava_llama3_fp16.safetensors
- clip_vision/sigclip_vision_patch14_384.safetensors
- vae/hunyuan_video_vae_bf16.safetensors

**Images**: `video_wan2_2_14B_i2v-2.webp` (start) and `video_wan2_2_14B_flf2v-2.webp` (end) from the official
template media package `comfyui-workflow-templates-media-video`; copy them into ComfyUI/input or load your own.
"""

SPECS += [
    {
        "name": "framepack_i2v_end_frame",
        "note": """## FramePack I2V (inverted anti-drifting) with an end frame, native in ComfyUI

**What it shows.** FramePack (lllyasviel, arXiv 2504.12626) as a first-class ComfyUI MODEL: the packed
HunyuanVideo transformer loads through a ModelPatcher, and every section is sampled by ComfyUI's own
guider and sampler, so LoRAs, model patches (this pack's Relaxation CFG, Temporal Unlearning, ALG) and
previews apply. Sections are generated last-to-first (the original's padding order); the end image is
the context of the first generated section.

**What to expect.** A 5 s video at 30 fps that starts on the start image and ends near the end image.

""" + FRAMEPACK_FILES.format(model="FramePackI2V_HY_bf16.safetensors"),
        "nodes": framepack_nodes("inverted", "FramePackI2V_HY_bf16.safetensors",
                                 "the woman turns around and walks towards the camera"),
    },
    {
        "name": "framepack_f1_end_frame",
        "note": """## FramePack-F1 (forward) with an end frame, native in ComfyUI

**What it shows.** FramePack-F1 samples sections forward in time, each conditioned on the packed history
(1×, 2×, 4× compression). The end image is given to the last section as extra clean context (an
extension: the original F1 has no end frame). Model patches compose as with any ComfyUI MODEL.

**What to expect.** More motion than the inverted model, with the last section pulled towards the end image.

""" + FRAMEPACK_FILES.format(model="FramePack_F1_I2V_HY_20250503_bf16.safetensors"),
        "nodes": framepack_nodes("f1", "FramePack_F1_I2V_HY_20250503_bf16.safetensors",
                                 "the woman turns around and walks towards the camera"),
    },
]

DISAPPEAR_PROMPT = "the woman walks out of the frame and disappears, leaving an empty background"
DISAPPEAR_NOTE = """**What to expect.** Random and real seeds differ; with the controls the subject should leave or fade
instead of lingering (seed 004's "Static Death"). The **Inertia Change Meter** on the output reports motion
per frame, a dynamic-degree proxy and, for the subject box, how much of the first frame's content remains:
compare its numbers between this workflow and its A/B twin.

""" + FRAMEPACK_FILES.format(model="FramePackI2V_HY_bf16.safetensors")

SPECS += [
    {
        "name": "framepack_disappear_controls",
        "note": """## FramePack I2V "the subject disappears": history controls on

**What it shows.** Seed 004's remedies for FramePack ignoring "disappear" prompts, all on ComfyUI's own
sampler through MODEL patches:
- **Relaxation CFG** (embedded) with **per-section β** (`section_betas` "0*2, 0.75*2": the first two
  sections strict, the last two relaxed — the paper's directorial control);
- **history low-pass by age** σ(k) = σ0·(1 + α·k) on the 2×/4× clean latents (σ0 1.0, α 0.1);
- **history attention decay** (v_scale, strength 0.7): the noisy window listens less to old history;
- **Temporal Unlearning** (σ_blur 0.6) on the noisy window only.

""" + DISAPPEAR_NOTE,
        "nodes": framepack_nodes("inverted", "FramePackI2V_HY_bf16.safetensors", DISAPPEAR_PROMPT, end_frame=False,
                                 prefix="framepack_disappear_controls", meter=True, patches=[
                                     ("relax", "RelaxationCFG", {**RELAX[2], "guidance": "embedded"}),
                                     ("controls", "FramePackHistoryControls", {
                                         "lowpass_sigma": 1.0, "lowpass_age_slope": 0.1, "decay_strength": 0.7,
                                         "decay_age_slope": 0.1, "decay_mode": "v_scale", "decay_start_percent": 0.0,
                                         "decay_end_percent": 1.0, "include_1x": False, "include_anchors": False,
                                         "section_betas": "0*2, 0.75*2"}),
                                     UNLEARN]),
    },
    {
        "name": "framepack_disappear_stock",
        "note": """## FramePack I2V "the subject disappears": controls off (A/B twin)

**What it shows.** The same graph, prompt and seed as `framepack_disappear_controls` with every control
removed: stock FramePack sampling on ComfyUI's sampler. Use it as the A side of an A/B comparison.

""" + DISAPPEAR_NOTE,
        "nodes": framepack_nodes("inverted", "FramePackI2V_HY_bf16.safetensors", DISAPPEAR_PROMPT, end_frame=False,
                                 prefix="framepack_disappear_stock", meter=True),
    },
]

SPECS += [
    {
        "name": "wan21_i2v_alg",
        "note": """## Wan 2.1 I2V + ALG (Adaptive Low-Pass Guidance)

**What it shows.** Image-to-video models lock onto the start image's fine detail in the first steps, so
coarse motion never forms (Choi et al. 2025, arXiv 2506.08456). ALG shows the model a low-pass filtered
copy of the image condition during the first 20% of the noise schedule (down/up resize 0.4, in latent
space) and the sharp image afterwards. Guidance form `paper`: three passes while filtering,
v = u_sharp + w·(c_lp − u_lp); two after.

**What to expect.** Noticeably more motion than the stock I2V template at the same seed (the paper
reports +36% VBench dynamic degree), with the first frame still matching the image. Costs about +15%
sampling time at these defaults.

""" + WAN_I2V_FILES,
        "nodes": wan_i2v_nodes("the woman turns around, walks towards the camera and waves, her hair moving in the "
                               "wind", [ALG_PAPER], prefix="wan21_i2v_alg"),
    },
    {
        "name": "wan21_i2v_alg_relaxation_cfg",
        "note": """## Wan 2.1 I2V: ALG + Relaxation CFG

**What it shows.** The pairing seed 001 suggests: ALG removes the start image's high-frequency grip in the
first steps, and Relaxation CFG (β 0.75, p 0.7) relaxes guidance at high noise so a prompt that asks for
change can act. Relaxation CFG schedules the scale of ALG's three-pass guidance
(v = u_sharp + s(σ)·(c_lp − u_lp)).

**What to expect.** More motion and more prompt-driven change than either node alone.

""" + WAN_I2V_FILES,
        "nodes": wan_i2v_nodes("the woman turns around, walks away and disappears into the crowd",
                               [ALG_PAPER, RELAX], prefix="wan21_i2v_alg_relaxation"),
    },
    {
        "name": "wan21_i2v_relaxation_unlearning",
        "note": """## Wan 2.1 I2V: Relaxation CFG + Temporal Unlearning (the paper's combination)

**What it shows.** The Static Death paper's two interventions together: Relaxation CFG (eq. 2, β 0.75,
p 0.7) and Temporal Unlearning (eq. 3): self-attention keys (before RoPE) and values are blurred along
latent time with a Gaussian of σ_blur = 0.6 latent frames, which weakens the hold of the frames that
carry the start image's state so the prompt can overwrite it. The start-image latent is protected.

**What to expect.** Prompts that ask for change ("disappears", "turns into") are followed more often;
motion is larger. Temporal Unlearning costs about +2% sampling time.

""" + WAN_I2V_FILES,
        "nodes": wan_i2v_nodes("the woman turns into a flock of birds that fly away", [RELAX, UNLEARN],
                               prefix="wan21_i2v_relaxation_unlearning"),
    },
    {
        "name": "hunyuan_t2v_relaxation_unlearning",
        "note": """## HunyuanVideo T2V: Relaxation CFG (embedded) + Temporal Unlearning

**What it shows.** The paper's combination on a guidance-distilled model: Relaxation CFG rewrites
HunyuanVideo's embedded guidance per step (6 → s(σ), β 0.75, p 0.7) and Temporal Unlearning blurs the
image tokens' K (before RoPE) and V along latent time (σ_blur 0.6) in its joint image+text attention;
text tokens and the token refiner are untouched.

**What to expect.** More change over time where the prompt asks for it; about +3% sampling time.

**Model files** (ComfyUI/models/…):
- diffusion_models/hunyuan_video_t2v_720p_bf16.safetensors
- text_encoders/clip_l.safetensors and text_encoders/llava_llama3_fp8_scaled.safetensors
- vae/hunyuan_video_vae_bf16.safetensors
""",
        "nodes": hunyuan_t2v_nodes(
            "a snowman in a sunny garden slowly melts away until only a carrot and a scarf remain on the grass",
            [("relax", "RelaxationCFG", {**RELAX[2], "guidance": "embedded"}), UNLEARN],
            prefix="hunyuan_t2v_relaxation_unlearning"),
    },
]


def vace_nodes(source: list[tuple], builder: tuple, prompt: str, negative: str = WAN_NEGATIVE,
               reference: str | None = None, prefix: str = "vace"):
    """Wan 2.1 VACE 1.3B graph: ``source`` nodes, a mask ``builder`` (outputs control_video, control_masks,
    width, height, length) feeding core's WanVaceToVideo, the latent-mask preview, sampling and decoding.
    ``reference``: key of a node whose IMAGE output 0 is the reference image (prepended, trimmed after)."""
    vace_inputs = {"positive": L("pos"), "negative": L("neg"), "vae": L("vae"), "width": L(builder[0], 2),
                   "height": L(builder[0], 3), "length": L(builder[0], 4), "batch_size": 1, "strength": 1.0,
                   "control_video": L(builder[0], 0), "control_masks": L(builder[0], 1)}
    if reference:
        vace_inputs["reference_image"] = L(reference)
    return [
        ("unet", "UNETLoader", {"unet_name": "wan2.1_vace_1.3B_fp16.safetensors", "weight_dtype": "default"}),
        ("clip", "CLIPLoader", {"clip_name": "umt5_xxl_fp8_e4m3fn_scaled.safetensors", "type": "wan", "device": "default"}),
        ("vae", "VAELoader", {"vae_name": "wan_2.1_vae.safetensors"}),
        ("pos", "CLIPTextEncode", {"clip": L("clip"), "text": prompt}, "Positive prompt"),
        ("neg", "CLIPTextEncode", {"clip": L("clip"), "text": negative}, "Negative prompt"),
        *source,
        builder,
        ("mask_view", "VACELatentMaskPreview", {"control_masks": L(builder[0], 1), "length": 0,
                                                "control_video": L(builder[0], 0)}, "What the model sees (latent mask)"),
        ("vace", "WanVaceToVideo", vace_inputs),
        ("shift", "ModelSamplingSD3", {"model": L("unet"), "shift": 8.0}),
        ("ksampler", "KSampler", {"model": L("shift"), "seed": 42, "steps": 30, "cfg": 6.0, "sampler_name": "uni_pc",
                                  "scheduler": "simple", "positive": L("vace", 0), "negative": L("vace", 1),
                                  "latent_image": L("vace", 2), "denoise": 1.0}),
        ("trim", "TrimVideoLatent", {"samples": L("ksampler"), "trim_amount": L("vace", 3)}),
        ("decode", "VAEDecode", {"samples": L("trim"), "vae": L("vae")}),
        ("video", "CreateVideo", {"images": L("decode"), "fps": 16.0}),
        ("save", "SaveVideo", {"video": L("video"), "filename_prefix": f"inertia/{prefix}", "format": "auto",
                               "codec": "auto"}),
    ]


def video_source(key: str, file: str, frames: int, width: int = 832, height: int = 480, title: str = "Source video"):
    """Load a video (an animated WebP loads as a frame batch), take ``frames`` frames, resize to the working size."""
    return [
        (f"{key}_file", "LoadImage", {"image": file}, title),
        (f"{key}_frames", "ImageFromBatch", {"image": L(f"{key}_file"), "batch_index": 0, "length": frames}),
        (key, "ImageScale", {"image": L(f"{key}_frames"), "upscale_method": "bilinear", "width": width,
                             "height": height, "crop": "center"}),
    ]


def still(key: str, file: str, title: str, width: int = 832, height: int = 480):
    return [(f"{key}_file", "LoadImage", {"image": file}, title),
            (key, "ImageScale", {"image": L(f"{key}_file"), "upscale_method": "bilinear", "width": width,
                                 "height": height, "crop": "center"})]


VACE_FILES = """**Model files** (ComfyUI/models/…):
- diffusion_models/wan2.1_vace_1.3B_fp16.safetensors
- text_encoders/umt5_xxl_fp8_e4m3fn_scaled.safetensors
- vae/wan_2.1_vae.safetensors

**Media**: real clips and frames from the official template media package `comfyui-workflow-templates-media-video`
(animated WebP load as frame batches); copy them into ComfyUI/input, or load your own.
The **Latent Mask Preview** node shows, per latent frame, what WanVaceToVideo will hand the model
(kept / generated, and which pixel frame each latent mask frame is read from).
"""

SPECS += [
    {
        "name": "vace_keyframes_anchor",
        "note": """## Wan VACE: keyframe interpolation (3 keyframes + spatial anchor)

**What it shows.** The Wan VAE groups pixel frames {0}, {1..4}, {5..8}…, and WanVaceToVideo reads the
mask of latent frame k from pixel frame ⌊(k + 0.5)·L/T⌋, so a keyframe marked on a single frame (frame 0,
the last frame, most others) is silently ignored. The keyframe builder widens each keyframe to its whole
VAE group and the frame the downsampler reads, so the latent mask equals the intent for every length.
A 16-px band at the top stays known in generated frames (taken from the nearest keyframe): seed 000
found that a partly known frame reconstructs far better than an all-generated one.

**What to expect.** The video passes through the three keyframes (frames 0, 40, 80).

""" + VACE_FILES,
        "nodes": vace_nodes(
            [*video_source("src", "video_wan_vace_14B_v2v-1.webp", 81, title="Keyframe source"),
             ("kf0", "ImageFromBatch", {"image": L("src"), "batch_index": 0, "length": 1}),
             ("kf1", "ImageFromBatch", {"image": L("src"), "batch_index": 40, "length": 1}),
             ("kf2", "ImageFromBatch", {"image": L("src"), "batch_index": 80, "length": 1}),
             ("kf01", "ImageBatch", {"image1": L("kf0"), "image2": L("kf1")}),
             ("keyframes", "ImageBatch", {"image1": L("kf01"), "image2": L("kf2")})],
            ("builder", "VACEKeyframeBuilder", {"images": L("keyframes"), "length": 81, "indices": "",
                                                "anchor_edge": "top", "anchor_px": 16}),
            "a cinematic shot, smooth natural motion between the keyframes", prefix="vace_keyframes"),
    },
    {
        "name": "vace_outpaint_refcrops",
        "note": """## Wan VACE: video outpainting with reference crops

**What it shows.** VACE's official outpainting semantics (direction ⊂ {left, right, up, down},
expand_ratio, gray fill): the video is widened by 25% on the left and right and the border is generated.
A few crops from the source frames go in as the reference image: seed 000 found that crops which
"feel like" the outside work better than the whole frame.

**What to expect.** A wider video whose new borders continue the scene.

""" + VACE_FILES,
        "nodes": vace_nodes(
            video_source("src", "video_wan_vace_outpainting-1.webp", 45, width=640, height=480),
            ("builder", "VACEOutpaintBuilder", {"video": L("src"), "mode": "expand", "direction": "left,right",
                                                "expand_ratio": 0.25, "scale": 0.8}),
            "the camera slowly pans across a wide scene, consistent lighting",
            reference="ref_collage", prefix="vace_outpaint") + [],
    },
    {
        "name": "vace_first_last_frame",
        "note": """## Wan VACE: first-last frame

**What it shows.** VACE's `firstlastframe` extension task: a start and an end image, 79 frames
generated between them. Each given frame is held over its whole VAE group, so the latent mask keeps
latent frames 0 and 20 exactly (a single marked pixel frame would be ignored).

**What to expect.** A transition from the first image to the last.

""" + VACE_FILES,
        "nodes": vace_nodes(
            [*still("first", EXAMPLE_IMAGE, "First frame"), *still("last", EXAMPLE_END_IMAGE, "Last frame")],
            ("builder", "VACEExtensionBuilder", {"mode": "firstlastframe", "generate": 79, "first": L("first"),
                                                 "last": L("last")}),
            "a smooth transition from the first image to the last image", prefix="vace_first_last"),
    },
    {
        "name": "vace_object_removal",
        "note": """## Wan VACE: object removal (repaint a box, negative prompt)

**What it shows.** The seed's gun-removal recipe: the object's region is marked with a box (box-shaped
masks avoid the tinted edges tight masks give), filled gray, and regenerated with a prompt that
describes the scene without the object and a negative prompt that names it. Regions thinner than the
VAE's 8-px stride would vanish in the latent mask; the builder warns about them.

**What to expect.** The boxed region is filled with background; the rest of the video is unchanged.

""" + VACE_FILES,
        "nodes": vace_nodes(
            video_source("src", "video_wan_vace_inpainting-1.webp", 45, width=640, height=480),
            ("builder", "VACERepaintBuilder", {"video": L("src"), "bbox": "400,120,600,400", "dilate_px": 8,
                                               "shape": "box over clip", "fill": "gray"}),
            "an empty street scene, natural background, no objects in the foreground",
            negative=WAN_NEGATIVE + "，枪，武器, gun, weapon, object", prefix="vace_object_removal"),
    },
]

# outpaint: the reference-crops collage is built from the source clip
_outpaint = next(sp for sp in SPECS if sp["name"] == "vace_outpaint_refcrops")
_i = next(i for i, n in enumerate(_outpaint["nodes"]) if n[0] == "builder")
_outpaint["nodes"].insert(_i + 1, ("crops", "VACEReferenceCrops", {"video": L("src"), "count": 3, "crop_size": 0.4,
                                                                    "placement": "edges", "direction": "left,right",
                                                                    "frame": -1}))
_outpaint["nodes"].insert(_i + 2, ("ref_collage", "ImageScale", {"image": L("crops", 2), "upscale_method": "bilinear",
                                                                  "width": 832, "height": 480, "crop": "disabled"},
                                   "Reference (collage of crops)"))


# --------------------------------------------------------------------------- node definitions

def load_definitions() -> dict:
    """``{class_type: INPUT_TYPES-like info}`` from a real ComfyUI with this pack's nodes.

    ComfyUI is found and the pack imported by ``nodes/headless/comfy_env.py`` (``$COMFYUI_PATH``, the
    custom_nodes parent, ``~/comfy/ComfyUI``), the copy the headless client and the tests use.
    """
    spec = importlib.util.spec_from_file_location("inertia_comfy_env", PACK / "nodes" / "headless" / "comfy_env.py")
    comfy_env = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(comfy_env)
    comfy, where = comfy_env.locate_comfyui()
    if comfy is None:
        raise SystemExit(f"build.py needs ComfyUI: set COMFYUI_PATH (looked at {where})")
    comfy_env.import_comfyui(comfy, cpu=True)
    return comfy_env.register_pack_nodes(comfy_env.load_pack()).NODE_CLASS_MAPPINGS


WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
#: extra node height for in-node previews drawn by js/ (DOM widgets)
PREVIEW_HEIGHT = {"RelaxationCFG": 170, "RelaxationCFGPreview": 170, "VACEKeyframeBuilder": 120,
                  "VACEExtensionBuilder": 120, "VACERepaintBuilder": 120, "VACEOutpaintBuilder": 120,
                  "VACELatentMaskPreview": 120, "InertiaChangeMeter": 60}


def _inputs(cls) -> list[tuple[str, object, dict, bool]]:
    """[(name, type, options, optional)] in the order the frontend lays widgets out."""
    it = cls.INPUT_TYPES()
    out = []
    for section, optional in (("required", False), ("optional", True)):
        for name, spec in (it.get(section) or {}).items():
            typ = spec[0]
            opts = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
            out.append((name, typ, opts, optional))
    return out


def _is_widget(typ) -> bool:
    return isinstance(typ, (list, tuple)) or typ in WIDGET_TYPES


def _outputs(cls) -> list[tuple[str, str]]:
    types = list(cls.RETURN_TYPES)
    names = list(getattr(cls, "RETURN_NAMES", None) or types)
    return list(zip(names, types))


def build(spec: dict, defs: dict) -> tuple[dict, dict]:
    """Return (ui_workflow, api_workflow) for one spec."""
    ids = {key: i + 1 for i, (key, *_rest) in enumerate(spec["nodes"])}
    if len(ids) != len(spec["nodes"]):
        raise SystemExit(f"{spec['name']}: duplicate node keys")
    api, ui_nodes, links = {}, [], []
    depth = {}
    for key, cls_type, inputs, *title in spec["nodes"]:
        srcs = [v[1] for v in inputs.values() if isinstance(v, tuple)]
        depth[key] = 1 + max((depth[s] for s in srcs), default=-1)
    out_links = {key: {} for key in ids}
    rows = {}
    for order, (key, cls_type, inputs, *title) in enumerate(spec["nodes"]):
        cls = defs[cls_type]
        nid = ids[key]
        api_inputs, ui_inputs, widgets = {}, [], []
        known = {name for name, *_ in _inputs(cls)}
        unknown = set(inputs) - known
        if unknown:
            raise SystemExit(f"{spec['name']}: {cls_type} has no input(s) {sorted(unknown)}")
        for name, typ, opts, optional in _inputs(cls):
            value = inputs.get(name)
            if isinstance(value, tuple):
                _, src, slot = value
                link_id = len(links) + 1
                src_type = _outputs(defs[dict((k, c) for k, c, *_ in spec["nodes"])[src]])[slot][1]
                links.append([link_id, ids[src], slot, nid, len(ui_inputs), src_type])
                out_links[src].setdefault(slot, []).append(link_id)
                entry = {"name": name, "type": src_type, "link": link_id}
                if _is_widget(typ):
                    entry["widget"] = {"name": name}
                ui_inputs.append(entry)
                api_inputs[name] = [str(ids[src]), slot]
            elif _is_widget(typ):
                if value is None:  # the frontend makes a widget for optional inputs too: give it its default
                    options = typ if isinstance(typ, (list, tuple)) else opts.get("options")
                    value = opts.get("default", options[0] if options else None)
                api_inputs[name] = value
                widgets.append(value)
                if opts.get("control_after_generate") or (typ == "INT" and name in ("seed", "noise_seed")):
                    widgets.append("fixed")
            elif not optional:
                raise SystemExit(f"{spec['name']}: {cls_type}.{name} ({typ}) must be linked")
            else:
                ui_inputs.append({"name": name, "type": typ, "link": None})
        api[str(nid)] = {"inputs": api_inputs, "class_type": cls_type,
                         "_meta": {"title": title[0] if title else cls_type}}
        col = depth[key]
        row = rows.get(col, 0)
        height = 60 + 26 * (len(widgets) + max(len(ui_inputs), len(_outputs(cls)))) + PREVIEW_HEIGHT.get(cls_type, 0)
        rows[col] = row + height + 40
        node = {"id": nid, "type": cls_type, "pos": [40 + 360 * col, 140 + row], "size": [320, height],
                "flags": {}, "order": order, "mode": 0, "inputs": ui_inputs, "outputs": [],
                "properties": {"Node name for S&R": cls_type}, "widgets_values": widgets}
        if title:
            node["title"] = title[0]
        models = [v for v in inputs.values() if isinstance(v, str) and v in MODEL_URLS]
        if models:
            node["properties"]["models"] = [{"name": m, "url": MODEL_URLS[m][0] + "?download=true",
                                             "directory": MODEL_URLS[m][1]} for m in models]
        ui_nodes.append((key, node, cls))
    for key, node, cls in ui_nodes:
        node["outputs"] = [{"name": n, "type": t, "links": out_links[key].get(i, []), "slot_index": i}
                           for i, (n, t) in enumerate(_outputs(cls))]
    nodes_out = [n for _k, n, _c in ui_nodes]
    note_id = len(nodes_out) + 1
    nodes_out.append({"id": note_id, "type": "MarkdownNote", "pos": [40, -260], "size": [720, 360], "flags": {},
                      "order": len(nodes_out), "mode": 0, "inputs": [], "outputs": [],
                      "properties": {}, "widgets_values": [spec["note"]], "title": "About this workflow",
                      "color": "#432", "bgcolor": "#653"})
    ui = {"last_node_id": note_id, "last_link_id": len(links), "nodes": nodes_out, "links": links, "groups": [],
          "config": {}, "extra": {"ds": {"scale": 0.7, "offset": [100, 300]}}, "version": 0.4}
    return ui, api


def dumps(obj) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"


def main(argv=None) -> int:
    check = "--check" in (argv if argv is not None else sys.argv[1:])
    defs = load_definitions()
    (HERE / "api").mkdir(exist_ok=True)
    stale = []
    for spec in SPECS:
        ui, api = build(spec, defs)
        for path, obj in ((HERE / f"{spec['name']}.json", ui), (HERE / "api" / f"{spec['name']}.json", api)):
            text = dumps(obj)
            if check:
                if not path.is_file() or path.read_text() != text:
                    stale.append(str(path))
            else:
                path.write_text(text)
    if stale:
        print("out of date (run python workflows/build.py):\n  " + "\n  ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
