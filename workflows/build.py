"""Build the bundled workflows from one spec each: UI format, API format and the Templates-browser metadata.

    python workflows/build.py               # (re)write workflows/*.json, workflows/api/*.json, workflows/meta/index.json
    python workflows/build.py --check       # exit 1 if the files on disk differ from the specs
    python workflows/build.py --thumbnails  # (re)render every workflows/<name>.jpg (or only NAME…, globs allowed)
    python workflows/build.py --thumbnails 'testbed_*'  # only the testbed cards: a real CPU run, no browser
    python workflows/build.py --stage-media DIR  # put every media file the workflows load into DIR (ComfyUI/input)

UI format (``workflows/<name>.json``) is what ComfyUI's Templates browser lists and the graph editor loads;
API format (``workflows/api/<name>.json``) is what ``/prompt`` takes (``python -m nodes.headless``). Both come
from the same spec, so they cannot drift apart.

Templates browser (ComfyUI frontend 1.27.10, the one v0.3.64 pins): a custom-node template is a file name, shown
as both its title and its description, with ``<name>.jpg`` next to it as the thumbnail, in the server's directory
order. ``workflows/meta/index.json`` (written here, in the shape of ComfyUI's own ``templates/index.json``) holds
the titles, one-line descriptions and the order; ``js/templates.js`` hands it to the browser. Without that script
the browser falls back to file names.

Thumbnails: a ``testbed_*`` workflow runs on the weights the pack ships, so its card is made from its own frames:
``--thumbnails`` runs its API graph with ComfyUI's executor in this process on the CPU (about a minute) and lays out
the videos it saves (ground truth, stock, Relaxation CFG) as labelled strips, read back from the mp4 files; re-run it
after the weights in ``nodes/testbed/weights/`` change. The other workflows need official weights: their card is a
picture of their graph in the real frontend.

Layout: every node belongs to a stage (:data:`STAGES`, from its class or the spec's ``stages``); each stage is a
labelled group, the groups run left to right (load → condition → patch → sample → decode/save) and nodes are
sized from their widgets so that nothing overlaps, image previews included (checked in the real frontend by
``tests/e2e/test_browser.py``).

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


def _comfy_env():
    """The pack's one ComfyUI lookup and pack loader (``nodes/headless/comfy_env.py``), loaded by path (stdlib only)."""
    if "inertia_comfy_env" in sys.modules:
        return sys.modules["inertia_comfy_env"]
    spec = importlib.util.spec_from_file_location("inertia_comfy_env", PACK / "nodes" / "headless" / "comfy_env.py")
    comfy_env = importlib.util.module_from_spec(spec)
    sys.modules["inertia_comfy_env"] = comfy_env
    spec.loader.exec_module(comfy_env)
    return comfy_env


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

# --------------------------------------------------------------------------- media

MEDIA_VIDEO_PACKAGE = "comfyui-workflow-templates-media-video"  # PyPI; installed with ComfyUI (its requirements.txt)

#: Every media file a workflow loads, by its name in ComfyUI/input: (PyPI package, file in the package's
#: ``templates/`` folder, what it shows). The files are the preview media of ComfyUI's official templates. Load
#: Video reads video files only, and the package holds animated WebP: a ``<stem>.mp4`` here is the MP4 of
#: ``<stem>.webp`` (same frames and frame rate), made by :func:`stage_media`.
MEDIA = {
    "video_wan2_2_14B_i2v-2.webp": (MEDIA_VIDEO_PACKAGE, "video_wan2_2_14B_i2v-2.webp",
                                    "a still, the input of ComfyUI's Wan 2.2 image-to-video template"),
    "video_wan2_2_14B_flf2v-2.webp": (MEDIA_VIDEO_PACKAGE, "video_wan2_2_14B_flf2v-2.webp",
                                      "a still, the end frame of ComfyUI's Wan 2.2 first-last-frame template"),
    "video_wan_vace_14B_v2v-1.mp4": (MEDIA_VIDEO_PACKAGE, "video_wan_vace_14B_v2v-1.webp",
                                     "a 3 s clip of a dancer (90 frames, 30 fps, 350×350), the preview of ComfyUI's "
                                     "Wan VACE video-to-video template"),
    "video_wan_vace_outpainting-1.mp4": (MEDIA_VIDEO_PACKAGE, "video_wan_vace_outpainting-1.webp",
                                         "a 3 s portrait clip (45 frames, 15 fps, 350×350), the preview of ComfyUI's "
                                         "Wan VACE outpainting template"),
    "video_wan_vace_inpainting-2.mp4": (MEDIA_VIDEO_PACKAGE, "video_wan_vace_inpainting-2.webp",
                                        "a 3 s clip of a boy and a dog on a path (90 frames, 30 fps, 350×350), the "
                                        "preview of ComfyUI's Wan VACE inpainting template"),
}
EXAMPLE_IMAGE = "video_wan2_2_14B_i2v-2.webp"
EXAMPLE_END_IMAGE = "video_wan2_2_14B_flf2v-2.webp"


def media_source(name: str) -> Path | None:
    """The file in the installed template media package that ``name`` (a :data:`MEDIA` key) comes from."""
    package, file, _what = MEDIA[name]
    spec = importlib.util.find_spec(package.replace("-", "_"))
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "templates" / file
    return path if path.is_file() else None


def webp_to_mp4(src: Path, dst: Path) -> tuple[int, float]:
    """The pack's conversion (``nodes/headless/media.py``): animated WebP ``src`` → H.264 MP4 ``dst``."""
    _comfy_env().load_pack()
    from comfyui_inertia.nodes.headless import media

    return media.webp_to_mp4(src, dst)


def stage_media(input_dir: Path, names=None) -> list[Path]:
    """Put each media file ``names`` (default: all of :data:`MEDIA`) into ``input_dir`` (ComfyUI/input), from
    the template media package: copied, or converted to MP4 where the name says so. Existing files are kept.

    Raises:
        FileNotFoundError: the media package is not installed (``pip install comfyui-workflow-templates-media-video``).
    """
    import shutil

    done = []
    for name in sorted(names if names is not None else MEDIA):
        dst = Path(input_dir) / name
        if not dst.is_file():
            src = media_source(name)
            if src is None:
                raise FileNotFoundError(f"{name}: {MEDIA[name][1]} not found; install the PyPI package {MEDIA[name][0]}")
            if dst.suffix == ".mp4" and src.suffix == ".webp":
                webp_to_mp4(src, dst)
            else:
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dst)
        done.append(dst)
    return done


WAN_NEGATIVE = ("色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，最差质量，低质量，JPEG压缩残留，丑陋的，"
                "残缺的，多余的手指，画得不好的手部，画得不好的脸部，畸形的，毁容的，形态畸形的肢体，手指融合，静止不动的画面，杂乱的背景，三条腿，背景人很多，倒着走")


def L(node: str, slot: int = 0):
    """A link to output ``slot`` of node ``node`` (by spec key)."""
    return ("link", node, slot)


# --------------------------------------------------------------------------- graphs

def hunyuan_t2v_nodes(prompt: str, patches: list[tuple], prefix: str, preview: bool = False):
    """HunyuanVideo T2V graph (as ComfyUI's template: FluxGuidance 6, shift 7, SamplerCustomAdvanced) with
    ``patches`` chained after the shift; ``preview`` adds the Relaxation CFG Preview of the patched model."""
    nodes = [
        ("unet", "UNETLoader", {"unet_name": "hunyuan_video_t2v_720p_bf16.safetensors", "weight_dtype": "default"}),
        ("clip", "DualCLIPLoader", {"clip_name1": "clip_l.safetensors", "clip_name2": "llava_llama3_fp8_scaled.safetensors",
                                    "type": "hunyuan_video", "device": "default"}),
        ("vae", "VAELoader", {"vae_name": "hunyuan_video_vae_bf16.safetensors"}),
        ("pos", "CLIPTextEncode", {"clip": L("clip"), "text": prompt}, "Prompt"),
        ("guidance", "FluxGuidance", {"conditioning": L("pos"), "guidance": 6.0}),
        ("latent", "EmptyHunyuanLatentVideo", {"width": 848, "height": 480, "length": 73, "batch_size": 1}),
        ("shift", "ModelSamplingSD3", {"model": L("unet"), "shift": 7.0}),
    ]
    last = "shift"
    for key, cls, inputs in patches:
        nodes.append((key, cls, {"model": L(last), **inputs}))
        last = key
    nodes += [
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
    if preview:
        nodes.append(("preview", "InertiaRelaxationCFGPreview", {"model": L(last), "sigmas": L("sigmas"), "cfg": 6.0}))
    return nodes


def wan_i2v_nodes(prompt: str, patches: list[tuple], cfg: float = 5.0, steps: int = 30, prefix: str = "wan21_i2v"):
    """Wan 2.1 I2V 480p graph (as ComfyUI's template) with ``patches`` chained between the shift and the sampler."""
    nodes = [
        ("unet", "UNETLoader", {"unet_name": "wan2.1_i2v_480p_14B_fp16.safetensors", "weight_dtype": "default"}),
        ("clip", "CLIPLoader", {"clip_name": "umt5_xxl_fp8_e4m3fn_scaled.safetensors", "type": "wan", "device": "default"}),
        ("vae", "VAELoader", {"vae_name": "wan_2.1_vae.safetensors"}),
        ("clip_vision", "CLIPVisionLoader", {"clip_name": "clip_vision_h.safetensors"}),
        ("image", "LoadImage", {"image": EXAMPLE_IMAGE}, "Start image"),
        ("pos", "CLIPTextEncode", {"clip": L("clip"), "text": prompt}, "Positive prompt"),
        ("neg", "CLIPTextEncode", {"clip": L("clip"), "text": WAN_NEGATIVE}, "Negative prompt"),
        ("vision", "CLIPVisionEncode", {"clip_vision": L("clip_vision"), "image": L("image"), "crop": "none"}),
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


RELAX = ("relax", "InertiaRelaxationCFG", {"beta": 0.75, "decay_power": 0.7, "s_min": 1.0, "s_base": 0.0, "guidance": "auto"})
UNLEARN = ("unlearn", "InertiaTemporalUnlearning", {"sigma_blur": 0.6, "apply_to": "kv", "start_percent": 0.0,
                                             "end_percent": 1.0, "blocks": "all", "protect_anchor_frames": True,
                                             "blur_vace_control": False})
ALG_PAPER = ("alg", "InertiaALG", {"preset": "paper defaults for the model family", "guidance_form": "paper",
                            "schedule_by": "sigma", "filter": "down_up", "resize_factor": 0.4, "blur_sigma": 1.0,
                            "schedule": "interval", "window_start": 0.0, "window_end": 0.2, "decay_rate": 10.0})


def framepack_nodes(mode: str, model_file: str, prompt: str, seconds: float = 5.0, patches: list[tuple] = (),
                    end_frame: bool = True, prefix: str | None = None, meter: bool = False):
    """FramePack I2V (optionally with an end image), native ComfyUI nodes around the section sampler;
    ``patches`` (MODEL → MODEL) are chained between the loader and the sampler; ``meter`` adds the change
    meter on the decoded frames with a centred subject box. The start image goes to the nearest FramePack
    resolution bucket (``InertiaFramePackImageToBucket``) and the end image to the same size, as the FramePack
    app does; the subject box is drawn on 640×640 and the meter resizes it to the frames."""
    nodes = [
        ("model", "InertiaFramePackModelLoader", {"model_name": model_file, "weight_dtype": "default"}),
        ("clip", "DualCLIPLoader", {"clip_name1": "clip_l.safetensors", "clip_name2": "llava_llama3_fp16.safetensors",
                                    "type": "hunyuan_video", "device": "default"}),
        ("vae", "VAELoader", {"vae_name": "hunyuan_video_vae_bf16.safetensors"}),
        ("siglip", "CLIPVisionLoader", {"clip_name": "sigclip_vision_patch14_384.safetensors"}),
        ("start_image", "LoadImage", {"image": EXAMPLE_IMAGE}, "Start image"),
        ("end_image", "LoadImage", {"image": EXAMPLE_END_IMAGE}, "End image"),
        ("start_px", "InertiaFramePackImageToBucket", {"image": L("start_image"), "upscale_method": "lanczos"},
         "Start image to the nearest bucket"),
        ("end_px", "ImageScale", {"image": L("end_image"), "upscale_method": "lanczos", "width": L("start_px", 1),
                                  "height": L("start_px", 2), "crop": "center"}, "End image at the start's size"),
        ("prompt", "CLIPTextEncode", {"clip": L("clip"), "text": prompt}, "Prompt"),
        ("start_vision", "CLIPVisionEncode", {"clip_vision": L("siglip"), "image": L("start_px"), "crop": "center"}),
        ("end_vision", "CLIPVisionEncode", {"clip_vision": L("siglip"), "image": L("end_px"), "crop": "center"}),
        ("start_latent", "VAEEncode", {"pixels": L("start_px"), "vae": L("vae")}),
        ("end_latent", "VAEEncode", {"pixels": L("end_px"), "vae": L("vae")}),
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
        ("sampler", "InertiaFramePackSectionSampler", sampler),
        ("decode", "VAEDecodeTiled", {"samples": L("sampler"), "vae": L("vae"), "tile_size": 256, "overlap": 64,
                                      "temporal_size": 64, "temporal_overlap": 8}),
        ("video", "CreateVideo", {"images": L("decode"), "fps": 30.0}),
        ("save", "SaveVideo", {"video": L("video"), "filename_prefix": f"inertia/{prefix or 'framepack_' + mode}",
                               "format": "auto", "codec": "auto"}),
    ]
    if meter:
        nodes += [
            ("frame_mask", "SolidMask", {"value": 0.0, "width": 640, "height": 640}, "Whole frame"),
            ("subject_box", "SolidMask", {"value": 1.0, "width": 320, "height": 480}, "Subject box"),
            ("subject", "MaskComposite", {"destination": L("frame_mask"), "source": L("subject_box"), "x": 160,
                                          "y": 80, "operation": "add"}, "Subject region"),
            ("meter", "InertiaChangeMeter", {"images": L("decode"), "fps": 30.0, "motion_threshold": 0.04,
                                             "dynamic_threshold": 0.01, "mask": L("subject")}),
        ]
    return nodes


def vace_nodes(source: list[tuple], builder: tuple, prompt: str, negative: str = WAN_NEGATIVE,
               reference: str | None = None, prefix: str = "vace", fps=16.0):
    """Wan 2.1 VACE 1.3B graph: ``source`` nodes, a mask ``builder`` (outputs control_video, control_masks,
    width, height, length) feeding core's WanVaceToVideo, the latent-mask preview, sampling and decoding.
    ``reference``: key of a node whose IMAGE output 0 is the reference image (prepended, trimmed after);
    ``fps``: the output frame rate, a number or a link (the source clip's rate)."""
    vace_inputs = {"positive": L("pos"), "negative": L("neg"), "vae": L("vae"), "width": L(builder[0], 2),
                   "height": L(builder[0], 3), "length": L(builder[0], 4), "batch_size": 1, "strength": 1.0,
                   "control_video": L(builder[0], 0), "control_masks": L(builder[0], 1)}
    if reference:
        vace_inputs["reference_image"] = L(reference)
    return [
        ("unet", "UNETLoader", {"unet_name": "wan2.1_vace_1.3B_fp16.safetensors", "weight_dtype": "default"}),
        ("clip", "CLIPLoader", {"clip_name": "umt5_xxl_fp8_e4m3fn_scaled.safetensors", "type": "wan", "device": "default"}),
        ("vae", "VAELoader", {"vae_name": "wan_2.1_vae.safetensors"}),
        *source,
        ("pos", "CLIPTextEncode", {"clip": L("clip"), "text": prompt}, "Positive prompt"),
        ("neg", "CLIPTextEncode", {"clip": L("clip"), "text": negative}, "Negative prompt"),
        builder,
        ("mask_view", "InertiaVACELatentMaskPreview", {"control_masks": L(builder[0], 1), "length": 0,
                                                "control_video": L(builder[0], 0)}, "What the model sees (latent mask)"),
        ("vace", "WanVaceToVideo", vace_inputs),
        ("shift", "ModelSamplingSD3", {"model": L("unet"), "shift": 8.0}),
        ("ksampler", "KSampler", {"model": L("shift"), "seed": 42, "steps": 30, "cfg": 6.0, "sampler_name": "uni_pc",
                                  "scheduler": "simple", "positive": L("vace", 0), "negative": L("vace", 1),
                                  "latent_image": L("vace", 2), "denoise": 1.0}),
        ("trim", "TrimVideoLatent", {"samples": L("ksampler"), "trim_amount": L("vace", 3)}),
        ("decode", "VAEDecode", {"samples": L("trim"), "vae": L("vae")}),
        ("video", "CreateVideo", {"images": L("decode"), "fps": fps}),
        ("save", "SaveVideo", {"video": L("video"), "filename_prefix": f"inertia/{prefix}", "format": "auto",
                               "codec": "auto"}),
    ]


def video_source(key: str, file: str, frames: int, width: int, height: int, title: str = "Source clip"):
    """Core's video loading: Load Video → Get Video Components (frames, audio, fps) → the first ``frames``
    frames (a frame cap) → resized to the working size. ``L(f"{key}_clip", 2)`` is the clip's frame rate."""
    return [
        (f"{key}_file", "LoadVideo", {"file": file}, title),
        (f"{key}_clip", "GetVideoComponents", {"video": L(f"{key}_file")}),
        (f"{key}_frames", "ImageFromBatch", {"image": L(f"{key}_clip"), "batch_index": 0, "length": frames},
         f"First {frames} frames"),
        (key, "ImageScale", {"image": L(f"{key}_frames"), "upscale_method": "bilinear", "width": width,
                             "height": height, "crop": "center"}, f"Resize to {width}×{height}"),
    ]


def still(key: str, file: str, title: str, width: int = 832, height: int = 480):
    return [(f"{key}_file", "LoadImage", {"image": file}, title),
            (key, "ImageScale", {"image": L(f"{key}_file"), "upscale_method": "bilinear", "width": width,
                                 "height": height, "crop": "center"}, f"{title} at {width}×{height}")]


# --------------------------------------------------------------------------- specs
# Each spec: name (file name), title + description (Templates browser; no "-" or "_" in descriptions: the
# frontend shows them as spaces), what / change / expect (the note), nodes = [(key, class_type, inputs, title?)],
# optional stages = {key: stage} (overrides the stage of a node's class) and labels = {stage: group label}.

SPECS = [
    {
        "name": "wan21_t2v_relaxation_cfg",
        "title": "Wan 2.1 T2V · Relaxation CFG",
        "description": "Text to video with more motion: guidance eases off while the scene is laid out and comes "
                       "back for detail. Wan 2.1 1.3B.",
        "what": "Wan 2.1 text-to-video with **Relaxation CFG**: the sampler's guidance is lowered in the first, "
                "noisiest steps, where the layout and motion of the video are decided, and rises back to the "
                "sampler's cfg for the detail steps. Prompts that ask for change are followed more often.",
        "change": ["**Relaxation CFG → beta**: 0.75 relaxes (the paper's best); 0 is stock; negative values boost "
                   "guidance early instead.",
                   "**KSampler → cfg** stays your usual value: the curve in the Relaxation CFG node ends there.",
                   "The prompt, as in any Wan workflow."],
        "expect": "More motion and scene change than the same seed without the node, with similar detail. The "
                  "**Relaxation CFG Preview** draws the guidance used at each of the 30 steps.",
        "nodes": [
            ("unet", "UNETLoader", {"unet_name": "wan2.1_t2v_1.3B_fp16.safetensors", "weight_dtype": "default"}),
            ("clip", "CLIPLoader", {"clip_name": "umt5_xxl_fp8_e4m3fn_scaled.safetensors", "type": "wan", "device": "default"}),
            ("vae", "VAELoader", {"vae_name": "wan_2.1_vae.safetensors"}),
            ("pos", "CLIPTextEncode", {"clip": L("clip"), "text": "a red fox runs across a snowy meadow, then leaps "
                                       "into the air and disappears behind a tree, tracking camera"}, "Positive prompt"),
            ("neg", "CLIPTextEncode", {"clip": L("clip"), "text": WAN_NEGATIVE}, "Negative prompt"),
            ("latent", "EmptyHunyuanLatentVideo", {"width": 832, "height": 480, "length": 81, "batch_size": 1}),
            ("shift", "ModelSamplingSD3", {"model": L("unet"), "shift": 8.0}),
            ("relax", "InertiaRelaxationCFG", {"model": L("shift"), "beta": 0.75, "decay_power": 0.7, "s_min": 1.0,
                                        "s_base": 0.0, "guidance": "cfg"}),
            ("ksampler", "KSampler", {"model": L("relax"), "seed": 42, "steps": 30, "cfg": 6.0,
                                      "sampler_name": "uni_pc", "scheduler": "simple", "positive": L("pos"),
                                      "negative": L("neg"), "latent_image": L("latent"), "denoise": 1.0}),
            ("decode", "VAEDecode", {"samples": L("ksampler"), "vae": L("vae")}),
            ("video", "CreateVideo", {"images": L("decode"), "fps": 16.0}),
            ("save", "SaveVideo", {"video": L("video"), "filename_prefix": "inertia/wan21_t2v_relaxation",
                                   "format": "auto", "codec": "auto"}),
            ("sigmas", "BasicScheduler", {"model": L("relax"), "scheduler": "simple", "steps": 30, "denoise": 1.0},
             "Same schedule as the KSampler"),
            ("preview", "InertiaRelaxationCFGPreview", {"model": L("relax"), "sigmas": L("sigmas"), "cfg": 6.0}),
        ],
        "stages": {"sigmas": "check"},
    },
    {
        "name": "hunyuan_t2v_relaxation_embedded",
        "title": "HunyuanVideo T2V · Relaxation CFG (embedded guidance)",
        "description": "Relaxation CFG on a guidance distilled model: the guidance value is scheduled per step, "
                       "with no extra model passes.",
        "what": "HunyuanVideo text-to-video. HunyuanVideo takes its guidance as an input (the **FluxGuidance** "
                "node, 6) instead of mixing two predictions. **Relaxation CFG** in *embedded* mode lowers that "
                "input in the noisy first steps and brings it back to 6 for the detail steps.",
        "change": ["**FluxGuidance → guidance**: the value the schedule returns to (6 as in ComfyUI's template).",
                   "**Relaxation CFG → beta**: 0.75 relaxes, 0 is stock.",
                   "Keep the sampler at cfg 1 (BasicGuider): there is nothing to mix."],
        "expect": "More motion and change than ComfyUI's HunyuanVideo template at the same seed, at the same speed.",
        "nodes": hunyuan_t2v_nodes(
            "a magician in a dark theatre raises his cape, spins once and vanishes in a puff of smoke",
            [("relax", "InertiaRelaxationCFG", {"beta": 0.75, "decay_power": 0.7, "s_min": 1.0, "s_base": 0.0,
                                         "guidance": "embedded"})],
            prefix="hunyuan_t2v_relaxation", preview=True),
    },
    {
        "name": "hunyuan_t2v_relaxation_unlearning",
        "title": "HunyuanVideo T2V · Relaxation CFG + Temporal Unlearning",
        "description": "Both of the paper's remedies on HunyuanVideo, for prompts where something melts, vanishes "
                       "or transforms.",
        "what": "HunyuanVideo text-to-video with both remedies of the Static Death paper: **Relaxation CFG** "
                "(embedded guidance, lowered early) and **Temporal Unlearning**, which softly blurs what each "
                "frame's attention remembers of its neighbours so the state of early frames can be overwritten.",
        "change": ["**Temporal Unlearning → sigma_blur**: 0.6 latent frames (the paper); 0 turns it off, more "
                   "than 1.5 starts to smear motion.",
                   "**Relaxation CFG → beta**: 0.75 relaxes, 0 is stock."],
        "expect": "More change over time where the prompt asks for it, at about 3% more sampling time.",
        "nodes": hunyuan_t2v_nodes(
            "a snowman in a sunny garden slowly melts away until only a carrot and a scarf remain on the grass",
            [("relax", "InertiaRelaxationCFG", {**RELAX[2], "guidance": "embedded"}), UNLEARN],
            prefix="hunyuan_t2v_relaxation_unlearning"),
    },
    {
        "name": "wan21_i2v_alg",
        "title": "Wan 2.1 I2V · ALG (low-pass image guidance)",
        "description": "Image to video that moves more: the first steps see a blurred start image, so motion "
                       "forms before detail locks in. Wan 2.1 I2V 14B.",
        "what": "Wan 2.1 image-to-video with **ALG** (Adaptive Low-Pass Guidance). Image-to-video models copy the "
                "start image's fine detail so early that little motion forms. ALG shows the model a blurred copy "
                "of the start image during the first fifth of the steps and the sharp image after that.",
        "change": ["**ALG → window_end**: how long the image stays blurred (0.2 = the first 20% of the noise "
                   "schedule). Longer gives more motion and a looser first frame.",
                   "**ALG → resize_factor**: the blur strength (0.4; smaller is blurrier).",
                   "**ALG → guidance_form**: `paper` (three model passes while blurring, best motion) or "
                   "`single_pass` (no extra cost)."],
        "expect": "Clearly more motion than ComfyUI's Wan I2V template at the same seed, with the first frame "
                  "still matching the image, at about 15% more sampling time.",
        "nodes": wan_i2v_nodes("the woman turns around, walks towards the camera and waves, her hair moving in the "
                               "wind", [ALG_PAPER], prefix="wan21_i2v_alg"),
    },
    {
        "name": "wan21_i2v_alg_relaxation_cfg",
        "title": "Wan 2.1 I2V · ALG + Relaxation CFG",
        "description": "Both motion aids together, for prompts that ask the scene to change. Wan 2.1 I2V 14B.",
        "what": "Wan 2.1 image-to-video with two aids that work on different things: **ALG** loosens the grip "
                "of the start image's detail in the first steps, and **Relaxation CFG** lowers guidance in the "
                "same noisy steps so the prompt's change can start. Relaxation CFG also schedules ALG's guidance.",
        "change": ["**Relaxation CFG → beta** and **ALG → window_end**: raise either for more change, lower "
                   "either if the result drifts from the start image."],
        "expect": "More motion and more of the change the prompt asks for than either node alone.",
        "nodes": wan_i2v_nodes("the woman turns around, walks away and disappears into the crowd",
                               [ALG_PAPER, RELAX], prefix="wan21_i2v_alg_relaxation"),
    },
    {
        "name": "wan21_i2v_relaxation_unlearning",
        "title": "Wan 2.1 I2V · Relaxation CFG + Temporal Unlearning",
        "description": "Image to video that lets the subject change or leave: relaxed guidance plus a soft blur "
                       "of what each frame remembers of the others. Wan 2.1 I2V 14B.",
        "what": "Wan 2.1 image-to-video with the Static Death paper's two remedies: **Relaxation CFG** lowers "
                "guidance in the noisy first steps, and **Temporal Unlearning** softly blurs what each frame's "
                "attention remembers of its neighbours, so the start image's state can be overwritten. The frame "
                "that carries the start image is protected.",
        "change": ["**Temporal Unlearning → sigma_blur**: 0.6 latent frames (the paper); 0 turns it off.",
                   "**Relaxation CFG → beta**: 0.75 relaxes, 0 is stock."],
        "expect": "Prompts that ask for change (disappears, turns into) are followed more often, at about 2% "
                  "more sampling time.",
        "nodes": wan_i2v_nodes("the woman turns into a flock of birds that fly away", [RELAX, UNLEARN],
                               prefix="wan21_i2v_relaxation_unlearning"),
    },
]

SPECS += [
    {
        "name": "framepack_i2v_end_frame",
        "title": "FramePack I2V · Start and end image",
        "description": "FramePack inside ComfyUI's own sampler: a 5 second video from a start image towards an "
                       "end image.",
        "what": "**FramePack** (image-to-video on HunyuanVideo, by lllyasviel) as a normal ComfyUI model: the "
                "loader gives a MODEL, and the **FramePack Section Sampler** samples the video section by section "
                "with ComfyUI's own samplers, so LoRAs and model patches apply. Sections are made from the end "
                "backwards; the end image is the context of the first one made.",
        "change": ["**FramePack Section Sampler → total_seconds** (5) and **steps** (25).",
                   "The start and end images: any picture. The start image is resized and centre-cropped to "
                   "the nearest FramePack bucket (about 640×640 px; the node says which), the end image to the "
                   "same size."],
        "expect": "A 5 s video at 30 fps that starts on the start image and ends near the end image.",
        "nodes": framepack_nodes("inverted", "FramePackI2V_HY_bf16.safetensors",
                                 "the woman turns around and walks towards the camera"),
    },
    {
        "name": "framepack_f1_end_frame",
        "title": "FramePack F1 · Start and end image",
        "description": "The forward FramePack F1 model, with the end image as extra context for the last section.",
        "what": "**FramePack-F1** makes its sections forward in time, each one looking back at a compressed "
                "history of the frames before it. The end image is given to the last section as extra context "
                "(an addition of this pack: the original F1 has no end frame).",
        "change": ["**FramePack Section Sampler → total_seconds** and **steps**.",
                   "Remove the end image nodes for plain F1."],
        "expect": "More motion than the inverted model, with the last section pulled towards the end image.",
        "nodes": framepack_nodes("f1", "FramePack_F1_I2V_HY_20250503_bf16.safetensors",
                                 "the woman turns around and walks towards the camera"),
    },
]

DISAPPEAR_PROMPT = "the woman walks out of the frame and disappears, leaving an empty background"
DISAPPEAR_EXPECT = ("With the controls the subject should leave or fade instead of lingering. The **Inertia Change "
                    "Meter** on the output reports motion per frame and how much of the first frame's subject box "
                    "remains: compare its numbers between the two workflows at the same seed.")

SPECS += [
    {
        "name": "framepack_disappear_controls",
        "title": "FramePack · Make the subject leave (controls on)",
        "description": "History controls that let FramePack follow a prompt where the subject walks away; "
                       "compare with the controls off twin.",
        "what": "FramePack tends to keep the subject of the start image, even when the prompt says it leaves. "
                "Three patches loosen that hold: **Relaxation CFG** with a stricter start and a relaxed end "
                "(one beta per section), **FramePack History Controls** (older history is blurred more and "
                "listened to less) and **Temporal Unlearning** on the frames being made.",
        "change": ["**FramePack History Controls → section_betas**: `0*2, 0.75*2` keeps the first two "
                   "sections strict and relaxes the last two.",
                   "**decay_strength** (0.7): how much less the new frames listen to old history."],
        "expect": DISAPPEAR_EXPECT,
        "nodes": framepack_nodes("inverted", "FramePackI2V_HY_bf16.safetensors", DISAPPEAR_PROMPT, end_frame=False,
                                 prefix="framepack_disappear_controls", meter=True, patches=[
                                     ("relax", "InertiaRelaxationCFG", {**RELAX[2], "guidance": "embedded"}),
                                     ("controls", "InertiaFramePackHistoryControls", {
                                         "lowpass_sigma": 1.0, "lowpass_age_slope": 0.1, "decay_strength": 0.7,
                                         "decay_age_slope": 0.1, "decay_mode": "v_scale", "decay_start_percent": 0.0,
                                         "decay_end_percent": 1.0, "include_1x": False, "include_anchors": False,
                                         "section_betas": "0*2, 0.75*2"}),
                                     UNLEARN]),
        "labels": {"check": "Measure the change"},
    },
    {
        "name": "framepack_disappear_stock",
        "title": "FramePack · Make the subject leave (controls off)",
        "description": "The same graph, prompt and seed without any control: the A side of the comparison.",
        "what": "The graph of *FramePack · Make the subject leave (controls on)* with every control removed: "
                "stock FramePack sampling on ComfyUI's sampler, as the A side of an A/B comparison.",
        "change": ["Nothing, to keep the comparison fair; change the prompt or seed in both workflows."],
        "expect": DISAPPEAR_EXPECT,
        "nodes": framepack_nodes("inverted", "FramePackI2V_HY_bf16.safetensors", DISAPPEAR_PROMPT, end_frame=False,
                                 prefix="framepack_disappear_stock", meter=True),
        "labels": {"check": "Measure the change"},
    },
]

VACE_MASKS_EXPECT = ("The **latent mask** preview shows, per latent frame, what WanVaceToVideo hands the model "
                     "(kept or generated) and which source frame each mask frame is read from.")

SPECS += [
    {
        "name": "vace_keyframes_anchor",
        "title": "Wan VACE · Keyframe interpolation",
        "description": "Three keyframes taken from a clip, the video generated between them; every keyframe "
                       "is kept, at any length.",
        "what": "Wan VACE generates a video through keyframes (here frames 0, 40 and 80 of a clip). The Wan VAE "
                "packs four frames into one latent frame, so a keyframe marked on a single frame is often "
                "dropped; the **VACE Keyframe Builder** marks each keyframe so the model keeps it. A 16 px band "
                "at the top of the generated frames is kept from the nearest keyframe as a spatial anchor.",
        "change": ["**Source clip**: any video (Load Video's upload button); **First 81 frames** caps its length.",
                   "**VACE Keyframe Builder → length** and the three frame picks (ImageFromBatch batch_index).",
                   "**anchor_edge** `none` to generate the whole frame."],
        "expect": "A video that passes through the three keyframes, at the source clip's frame rate. "
                  + VACE_MASKS_EXPECT,
        "nodes": vace_nodes(
            [*video_source("src", "video_wan_vace_14B_v2v-1.mp4", 81, 480, 480),
             ("kf0", "ImageFromBatch", {"image": L("src"), "batch_index": 0, "length": 1}, "Keyframe: frame 0"),
             ("kf1", "ImageFromBatch", {"image": L("src"), "batch_index": 40, "length": 1}, "Keyframe: frame 40"),
             ("kf2", "ImageFromBatch", {"image": L("src"), "batch_index": 80, "length": 1}, "Keyframe: frame 80"),
             ("kf01", "ImageBatch", {"image1": L("kf0"), "image2": L("kf1")}),
             ("keyframes", "ImageBatch", {"image1": L("kf01"), "image2": L("kf2")}, "Keyframes in order")],
            ("builder", "InertiaVACEKeyframeBuilder", {"images": L("keyframes"), "length": 81, "indices": "",
                                                "anchor_edge": "top", "anchor_px": 16}),
            "a woman in a white coat dances in a windy field of tall grass, smooth natural motion",
            prefix="vace_keyframes", fps=L("src_clip", 2)),
        "stages": {"kf0": "masks", "kf1": "masks", "kf2": "masks", "kf01": "masks", "keyframes": "masks"},
    },
    {
        "name": "vace_first_last_frame",
        "title": "Wan VACE · First and last frame",
        "description": "A start and an end image, 79 frames generated between them.",
        "what": "VACE's first-last-frame task: two images, and the frames between them generated. The **VACE "
                "Extension Builder** holds each image over its whole VAE frame group, so both are kept exactly.",
        "change": ["**First frame** and **Last frame**: any two pictures of one scene.",
                   "**VACE Extension Builder → generate**: frames between them (79 gives 81 in all, 5 s at 16 fps)."],
        "expect": "A transition from the first image to the last. " + VACE_MASKS_EXPECT,
        "nodes": vace_nodes(
            [*still("first", EXAMPLE_IMAGE, "First frame"), *still("last", EXAMPLE_END_IMAGE, "Last frame")],
            ("builder", "InertiaVACEExtensionBuilder", {"mode": "firstlastframe", "generate": 79, "first": L("first"),
                                                 "last": L("last")}),
            "a smooth transition from the first image to the last image", prefix="vace_first_last"),
    },
    {
        "name": "vace_outpaint_refcrops",
        "title": "Wan VACE · Video outpainting with reference crops",
        "description": "Widens a clip by a quarter on each side; crops of the clip guide what the new borders show.",
        "what": "VACE outpainting: the clip is widened by 25% on the left and right, and the new borders are "
                "generated. Three crops from the clip's edges go in as the reference image, which helps the "
                "new borders continue the scene rather than invent another.",
        "change": ["**Source clip**: any video; **First 45 frames** caps its length.",
                   "**VACE Outpaint Builder → direction** and **expand_ratio**.",
                   "**VACE Reference Crops → count / crop_size**, or connect a picture of your own as reference."],
        "expect": "A wider video whose new borders continue the scene, at the source clip's frame rate. "
                  + VACE_MASKS_EXPECT,
        "nodes": vace_nodes(
            [*video_source("src", "video_wan_vace_outpainting-1.mp4", 45, 480, 480),
             ("crops", "InertiaVACEReferenceCrops", {"video": L("src"), "count": 3, "crop_size": 0.4, "placement": "edges",
                                              "direction": "left,right", "frame": -1}),
             ("ref_collage", "ImageScale", {"image": L("crops", 2), "upscale_method": "bilinear", "width": 832,
                                            "height": 480, "crop": "disabled"}, "Reference (collage of crops)")],
            ("builder", "InertiaVACEOutpaintBuilder", {"video": L("src"), "mode": "expand", "direction": "left,right",
                                                "expand_ratio": 0.25, "scale": 0.8}),
            "a young woman with a crown of white flowers smiles, soft light, the scene continues to both sides",
            reference="ref_collage", prefix="vace_outpaint", fps=L("src_clip", 2)),
        "stages": {"crops": "masks", "ref_collage": "masks"},
    },
    {
        "name": "vace_object_removal",
        "title": "Wan VACE · Object removal",
        "description": "Removes an object inside a box from every frame and fills in the background.",
        "what": "VACE repainting: a box around the object (the dog) is filled gray and regenerated with a prompt "
                "that describes the scene without it, and a negative prompt that names it. A box works better "
                "than a tight outline, which leaves tinted edges.",
        "change": ["**VACE Repaint Builder → bbox**: x0,y0,x1,y1 in pixels of the resized clip (480×480).",
                   "The prompts: describe the scene without the object; name the object in the negative prompt."],
        "expect": "The boxed region becomes path and grass in every frame; the rest of the video is kept, at the "
                  "source clip's frame rate. " + VACE_MASKS_EXPECT,
        "nodes": vace_nodes(
            video_source("src", "video_wan_vace_inpainting-2.mp4", 81, 480, 480),
            ("builder", "InertiaVACERepaintBuilder", {"video": L("src"), "bbox": "312,296,448,472", "dilate_px": 8,
                                               "shape": "box over clip", "fill": "gray"}),
            "a boy in a knitted sweater with a backpack walks along a sunny autumn path, grass and trees",
            negative=WAN_NEGATIVE + "，狗，小狗，动物, dog, puppy, animal", prefix="vace_object_removal",
            fps=L("src_clip", 2)),
    },
]

# --------------------------------------------------------------------------- the testbed (no downloads)

#: The testbed's shipped weights (``nodes/testbed/weights/<folder>/<file>``), registered as ComfyUI model folders
#: by the pack itself: ``{file name: folder}``. Retrained weights under the same names are picked up as they are.
TESTBED_WEIGHTS = PACK / "nodes" / "testbed" / "weights"


def pack_model_files() -> dict[str, str]:
    """``{file name: weights sub-folder}`` of every model file the pack ships (the testbed's DiT and VAE)."""
    return {f.name: f.parent.name for f in sorted(TESTBED_WEIGHTS.glob("*/*.safetensors"))}


def _testbed_nodes():
    """The testbed A/B graph (``nodes/testbed/workflow_spec.py``, imported with the pack; no ComfyUI)."""
    _comfy_env().load_pack()
    from comfyui_inertia.nodes.testbed import workflow_spec

    # scene 2 (a cyan ball on a brown checkered background) was chosen by its start image alone, before any
    # sampling: a large object on a textured background reads well in a small card
    return workflow_spec.ab_nodes(scene=2, prefix="testbed_disappear_ab")


SPECS += [
    {
        "name": "testbed_disappear_ab",
        "title": "Testbed · Stock vs Relaxation CFG (no downloads)",
        "description": "Runs right after install, on a CPU: the pack's small trained Wan testbed on a held out "
                       "scene, stock and with Relaxation CFG, same start image and seed.",
        "what": "A small Wan-architecture image-to-video model and VAE that ship with the pack, trained on a toy "
                "world: 128×128 px, 17 frames, a still textured background and one coloured object that stays, "
                "moves or disappears. A held-out scene gives the start image and the prompt; the same seed is "
                "sampled **stock** and with **Relaxation CFG**, each saved as an mp4 next to the scene's ground "
                "truth and measured by the **Change Meter** in the object's first-frame region. Nothing to "
                "download, no GPU needed.",
        "change": ["**Held-out scene → scenario**: disappears, stays, moves left / right or appears (the prompt and "
                   "the ground truth follow it); **scene**: another start image.",
                   "**Relaxation CFG → beta**: 0.75 relaxes (the paper's best), 0 is stock, negative values "
                   "boost guidance early.",
                   "**KSampler → seed, cfg, steps**: change both KSamplers alike, so the comparison stays fair."],
        "expect": "Three 17-frame videos (ground truth, stock, Relaxation CFG) and a Change Meter plot per branch; "
                  "its *remaining* curve (bottom panel) falls towards 0 when the object leaves its first-frame place. "
                  "**The shipped testbed weights are preliminary**: they load and sample through ComfyUI's own "
                  "nodes, but the model does not yet tell a 'stays' prompt from a 'disappears' one, so it does not "
                  "show Static Death robustly, and stock and Relaxation CFG need not differ as the paper reports. "
                  "Today the workflow shows the plumbing and the measurement; retrained weights under the same "
                  "file names drop in unchanged.",
        "nodes": _testbed_nodes(),
        "labels": {"media": "Held-out scene", "check": "Measure the change",
                   "output": "Decode and save (ground truth, stock, Relaxation CFG)"},
    },
]

#: Templates-browser order. ``testbed_*`` stands for every spec whose name starts with ``testbed_`` (the
#: workflows that run without downloads), in SPECS order; they come first. Every spec must be placed here.
TEMPLATE_ORDER = [
    "testbed_*",
    "wan21_t2v_relaxation_cfg",
    "wan21_i2v_relaxation_unlearning",
    "wan21_i2v_alg",
    "wan21_i2v_alg_relaxation_cfg",
    "hunyuan_t2v_relaxation_embedded",
    "hunyuan_t2v_relaxation_unlearning",
    "vace_keyframes_anchor",
    "vace_first_last_frame",
    "vace_outpaint_refcrops",
    "vace_object_removal",
    "framepack_i2v_end_frame",
    "framepack_f1_end_frame",
    "framepack_disappear_controls",
    "framepack_disappear_stock",
]


def ordered_specs(specs=None) -> list[dict]:
    """``specs`` (default :data:`SPECS`) in :data:`TEMPLATE_ORDER`; raises SystemExit for an unplaced spec."""
    specs = list(SPECS if specs is None else specs)
    out = []
    for entry in TEMPLATE_ORDER:
        if entry.endswith("*"):
            out += [s for s in specs if s["name"].startswith(entry[:-1]) and s not in out]
        else:
            out += [s for s in specs if s["name"] == entry]
    missing = [s["name"] for s in specs if s not in out]
    if missing:
        raise SystemExit(f"add {missing} to TEMPLATE_ORDER in workflows/build.py")
    return out


# --------------------------------------------------------------------------- notes

HELP_LINE = ("Every Inertia node has a help page with the details and the sources: select the node and open its "
             "info panel.")


def note_text(spec: dict) -> str:
    """The workflow's note: what it does, what to change, what to expect, model files (with links), media."""
    parts = [f"## {spec['title']}", spec["what"], "**What to change**\n" + "\n".join(f"- {c}" for c in spec["change"]),
             f"**What to expect.** {spec['expect']}"]
    models = []
    for _key, _cls, inputs, *_t in spec["nodes"]:
        models += [v for v in inputs.values() if isinstance(v, str) and v in MODEL_URLS and v not in models]
    shipped = pack_model_files()
    ours = []
    for _key, _cls, inputs, *_t in spec["nodes"]:
        ours += [v for v in inputs.values() if isinstance(v, str) and v in shipped and v not in ours]
    if models:
        parts.append("**Model files** (each into ComfyUI/models/…)\n" + "\n".join(
            f"- [{m}]({MODEL_URLS[m][0]}?download=true) → `{MODEL_URLS[m][1]}/`" for m in models))
    if ours:
        parts.append("**Model files**: nothing to download. " + " and ".join(f"`{m}`" for m in ours)
                     + " ship with the pack (its `nodes/testbed/weights/` folders, which it registers as ComfyUI "
                       "model folders).")
    media = []
    for _key, cls, inputs, *_t in spec["nodes"]:
        media += [v for k, v in inputs.items() if k in ("image", "file") and isinstance(v, str) and v in MEDIA
                  and v not in media]
    if media:
        lines = []
        for m in media:
            package, file, what = MEDIA[m]
            made = (", converted to MP4 (Load Video reads video files only; `python workflows/build.py "
                    "--stage-media ComfyUI/input` does it)") if m != file else ""
            lines.append(f"- `{m}`: {what}. From `{file}` in the PyPI package `{package}`, installed with "
                         f"ComfyUI{made}.")
        parts.append("**Media** (into ComfyUI/input, or load your own)\n" + "\n".join(lines))
    parts.append(HELP_LINE)
    return "\n\n".join(parts) + "\n"


# --------------------------------------------------------------------------- node definitions

def load_definitions() -> dict:
    """``{class_type: INPUT_TYPES-like info}`` from a real ComfyUI with this pack's nodes.

    ComfyUI is found and the pack imported by ``nodes/headless/comfy_env.py`` (``$COMFYUI_PATH``, the
    custom_nodes parent, ``~/comfy/ComfyUI``), the copy the headless client and the tests use.
    """
    comfy_env = _comfy_env()
    comfy, where = comfy_env.locate_comfyui()
    if comfy is None:
        raise SystemExit(f"build.py needs ComfyUI: set COMFYUI_PATH (looked at {where})")
    comfy_env.import_comfyui(comfy, cpu=True)
    return comfy_env.register_pack_nodes(comfy_env.load_pack()).NODE_CLASS_MAPPINGS


WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}


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


# --------------------------------------------------------------------------- layout

#: (stage, group label, group colour): the groups of a workflow, left to right. Empty stages are left out.
STAGES = [
    ("models", "Load models", "#3f789e"),
    ("media", "Load the source media", "#8A8"),
    ("prompt", "Prompt", "#b58b2a"),
    ("masks", "Build the VACE masks", "#a1309b"),
    ("condition", "Condition", "#88A"),
    ("patch", "Patch the model", "#a1309b"),
    ("sample", "Sample", "#3f789e"),
    ("output", "Decode and save", "#8A8"),
    ("check", "Check the schedule", "#444"),
]
#: The stage of each node class (a spec's ``stages`` overrides it per node).
STAGE_OF = {
    **dict.fromkeys(("UNETLoader", "CLIPLoader", "DualCLIPLoader", "VAELoader", "CLIPVisionLoader",
                     "InertiaFramePackModelLoader", "InertiaTestbedVAELoader"), "models"),
    "InertiaTestbedScene": "media",
    "InertiaTestbedTextEncode": "prompt",
    "PreviewImage": "check",
    **dict.fromkeys(("LoadImage", "LoadVideo", "GetVideoComponents", "ImageFromBatch", "ImageBatch", "ImageScale",
                     "InertiaFramePackImageToBucket"), "media"),
    **dict.fromkeys(("CLIPTextEncode", "FluxGuidance"), "prompt"),
    **dict.fromkeys(("InertiaVACEKeyframeBuilder", "InertiaVACEExtensionBuilder", "InertiaVACERepaintBuilder", "InertiaVACEOutpaintBuilder",
                     "InertiaVACEReferenceCrops", "InertiaVACELatentMaskPreview"), "masks"),
    **dict.fromkeys(("CLIPVisionEncode", "VAEEncode", "WanImageToVideo", "WanVaceToVideo", "EmptyHunyuanLatentVideo"),
                    "condition"),
    **dict.fromkeys(("ModelSamplingSD3", "InertiaRelaxationCFG", "InertiaTemporalUnlearning", "InertiaALG", "InertiaFramePackHistoryControls"),
                    "patch"),
    **dict.fromkeys(("KSampler", "RandomNoise", "KSamplerSelect", "BasicScheduler", "BasicGuider",
                     "SamplerCustomAdvanced", "InertiaFramePackSectionSampler", "TrimVideoLatent"), "sample"),
    **dict.fromkeys(("VAEDecode", "VAEDecodeTiled", "CreateVideo", "SaveVideo"), "output"),
    **dict.fromkeys(("InertiaRelaxationCFGPreview", "InertiaChangeMeter", "SolidMask", "MaskComposite"), "check"),
}
#: Node widths (canvas px; default :data:`NODE_W`).
WIDTH_OF = {"CLIPTextEncode": 380, "LoadImage": 320, "LoadVideo": 400, "InertiaRelaxationCFG": 340,
            "InertiaRelaxationCFGPreview": 340, "InertiaVACELatentMaskPreview": 360, "WanVaceToVideo": 320}
NODE_W = 300
#: Height the frontend adds below the widgets of a node (canvas px): in-node drawings of js/ (DOM widgets), the
#: image/video preview of the loaders, and room for what a node shows after a run (output images and videos), so
#: that nothing spills onto the node below.
EXTRA_HEIGHT = {"InertiaRelaxationCFG": 150, "InertiaRelaxationCFGPreview": 150 + 170, "InertiaVACEKeyframeBuilder": 130,
                "InertiaVACEExtensionBuilder": 130, "InertiaVACERepaintBuilder": 130, "InertiaVACEOutpaintBuilder": 130,
                "InertiaVACELatentMaskPreview": 130 + 260, "LoadImage": 260, "LoadVideo": 430, "SaveVideo": 300,
                "InertiaChangeMeter": 240, "InertiaFramePackImageToBucket": 60, "InertiaTestbedScene": 60}
#: Fixed heights (the prompt text boxes are DOM textareas that take what they are given).
HEIGHT_OF = {"CLIPTextEncode": 150}
NOTE_W = 480
SLOT_H, WIDGET_H, BODY_PAD = 20, 24, 14  # LiteGraph's slot row, widget row and body padding
NODE_TITLE_H, GROUP_TITLE_H, GROUP_PAD = 30, 40, 20
NODE_GAP, COL_GAP, GROUP_GAP, MAX_COL_H = 30, 30, 50, 1100
#: The view the frontend opens a workflow with (``extra.ds``): the note's text (the frontend's textarea font,
#: 10 px) at 11.5 px, with the note and the first groups in view.
VIEW = {"scale": 1.15, "offset": [20, 30]}


def note_height(text: str) -> int:
    """Canvas height that shows the whole note without scrolling (10 px text, line height 1.6, 480 px wide)."""
    import math

    h = 40
    for block in text.split("\n\n"):
        for line in block.splitlines():
            if line.startswith("## "):
                h += 40
            else:
                plain = line.replace("**", "").replace("`", "")
                if "](" in plain:  # a markdown link shows its text only
                    plain = plain.split("](")[0] + plain.split(")", 1)[-1]
                h += 16 * math.ceil(max(1, len(plain)) / 78) + (8 if line.startswith("- ") else 0)
        h += 8
    return int(math.ceil(h / 10) * 10)


def node_height(cls_type: str, n_slots: int, n_widgets: int) -> int:
    """Body height (without the title bar) that holds the node's slots, widgets and previews."""
    if cls_type in HEIGHT_OF:
        return HEIGHT_OF[cls_type]
    return BODY_PAD + SLOT_H * n_slots + WIDGET_H * n_widgets + EXTRA_HEIGHT.get(cls_type, 0)


def _stage_order(spec: dict) -> list[tuple[str, str, str]]:
    labels = spec.get("labels", {})
    return [(s, labels.get(s, label), color) for s, label, color in STAGES]


def layout(spec: dict, boxes: dict) -> tuple[dict, list[dict]]:
    """Positions for ``boxes`` ({key: (w, h)} in spec order) and the groups around them.

    Each stage is a group; inside it nodes stand in columns by their depth within the group (a node right of
    the nodes of its group that feed it), stacked in spec order, a new column where one would pass
    :data:`MAX_COL_H`. Groups run left to right after the note. Returns ({key: [x, y]}, [group dicts]).
    """
    stage = {key: spec.get("stages", {}).get(key) or STAGE_OF.get(cls) for key, cls, *_r in spec["nodes"]}
    unknown = [cls for key, cls, *_r in spec["nodes"] if stage[key] is None]
    if unknown:
        raise SystemExit(f"{spec['name']}: give {sorted(set(unknown))} a stage in STAGE_OF")
    srcs = {key: [v[1] for v in inputs.values() if isinstance(v, tuple)] for key, _c, inputs, *_r in spec["nodes"]}
    depth = {}
    for key, *_r in spec["nodes"]:  # spec order is a topological order
        depth[key] = 1 + max((depth[s] for s in srcs[key] if stage[s] == stage[key]), default=-1)
    pos, groups = {}, []
    x = NOTE_W + GROUP_GAP
    top = 0
    for gid, (st, label, color) in enumerate(_stage_order(spec), start=1):
        keys = [k for k in boxes if stage[k] == st]
        if not keys:
            continue
        columns: list[list[str]] = []
        for d in sorted({depth[k] for k in keys}):
            col: list[str] = []
            h = 0
            for k in (k for k in keys if depth[k] == d):
                need = boxes[k][1] + NODE_TITLE_H
                if col and h + need > MAX_COL_H:
                    columns.append(col)
                    col, h = [], 0
                col.append(k)
                h += need + NODE_GAP
            columns.append(col)
        cx = x + GROUP_PAD
        bottom = 0
        for col in columns:
            w = max(boxes[k][0] for k in col)
            y = top + GROUP_TITLE_H + NODE_TITLE_H + GROUP_PAD // 2
            for k in col:
                boxes[k] = (w, boxes[k][1])
                pos[k] = [cx, y]
                y += boxes[k][1] + NODE_TITLE_H + NODE_GAP
            bottom = max(bottom, y - NODE_GAP)
            cx += w + COL_GAP
        width = cx - COL_GAP + GROUP_PAD - x
        groups.append({"id": len(groups) + 1, "title": f"{len(groups) + 1}  {label}",
                       "bounding": [x, top, width, bottom + GROUP_PAD - top], "color": color, "font_size": 24,
                       "flags": {}})
        x += width + GROUP_GAP
    return pos, groups


def build(spec: dict, defs: dict) -> tuple[dict, dict]:
    """Return (ui_workflow, api_workflow) for one spec."""
    for field in ("title", "description", "what", "change", "expect"):
        if not spec.get(field):
            raise SystemExit(f"{spec['name']}: the spec needs a {field!r} (Templates browser and note)")
    if "-" in spec["description"] or "_" in spec["description"]:
        raise SystemExit(f"{spec['name']}: the frontend shows '-' and '_' in a description as spaces; reword it")
    ids = {key: i + 1 for i, (key, *_rest) in enumerate(spec["nodes"])}
    if len(ids) != len(spec["nodes"]):
        raise SystemExit(f"{spec['name']}: duplicate node keys")
    classes = {k: c for k, c, *_ in spec["nodes"]}
    api, ui_nodes, links, boxes = {}, [], [], {}
    out_links = {key: {} for key in ids}
    for order, (key, cls_type, inputs, *title) in enumerate(spec["nodes"]):
        cls = defs[cls_type]
        nid = ids[key]
        api_inputs, ui_inputs, widgets = {}, [], []
        known = {name for name, *_ in _inputs(cls)}
        unknown = set(inputs) - known
        if unknown:
            raise SystemExit(f"{spec['name']}: {cls_type} has no input(s) {sorted(unknown)}")
        rows = 0
        for name, typ, opts, optional in _inputs(cls):
            value = inputs.get(name)
            if isinstance(value, tuple):
                _, src, slot = value
                link_id = len(links) + 1
                src_type = _outputs(defs[classes[src]])[slot][1]
                links.append([link_id, ids[src], slot, nid, len(ui_inputs), src_type])
                out_links[src].setdefault(slot, []).append(link_id)
                entry = {"name": name, "type": src_type, "link": link_id}
                if _is_widget(typ):
                    entry["widget"] = {"name": name}
                    rows += 1
                    # the frontend fills its widgets from widgets_values in order, linked ones included: keep the
                    # place of a linked widget with its default, or the values after it land on the wrong widgets
                    options = typ if isinstance(typ, (list, tuple)) else opts.get("options")
                    widgets.append(opts.get("default", options[0] if options else None))
                    if opts.get("control_after_generate") or (typ == "INT" and name in ("seed", "noise_seed")):
                        widgets.append("fixed")
                ui_inputs.append(entry)
                api_inputs[name] = [str(ids[src]), slot]
            elif _is_widget(typ):
                if value is None:  # the frontend makes a widget for optional inputs too: give it its default
                    options = typ if isinstance(typ, (list, tuple)) else opts.get("options")
                    value = opts.get("default", options[0] if options else None)
                api_inputs[name] = value
                widgets.append(value)
                rows += 1
                if opts.get("control_after_generate") or (typ == "INT" and name in ("seed", "noise_seed")):
                    widgets.append("fixed")
                    rows += 1
                if opts.get("image_upload") or opts.get("video_upload") or (
                        isinstance(typ, str) and typ == "COMBO" and opts.get("upload")):
                    rows += 1  # the "choose file to upload" button
            elif not optional:
                raise SystemExit(f"{spec['name']}: {cls_type}.{name} ({typ}) must be linked")
            else:
                ui_inputs.append({"name": name, "type": typ, "link": None})
        api[str(nid)] = {"inputs": api_inputs, "class_type": cls_type,
                         "_meta": {"title": title[0] if title else cls_type}}
        slots = max(sum(1 for e in ui_inputs if "widget" not in e), len(_outputs(cls)))
        boxes[key] = (WIDTH_OF.get(cls_type, NODE_W), node_height(cls_type, slots, rows))
        node = {"id": nid, "type": cls_type, "pos": None, "size": None, "flags": {}, "order": order, "mode": 0,
                "inputs": ui_inputs, "outputs": [], "properties": {"Node name for S&R": cls_type},
                "widgets_values": widgets}
        if title:
            node["title"] = title[0]
        models = [v for v in inputs.values() if isinstance(v, str) and v in MODEL_URLS]
        if models:
            node["properties"]["models"] = [{"name": m, "url": MODEL_URLS[m][0] + "?download=true",
                                             "directory": MODEL_URLS[m][1]} for m in models]
        ui_nodes.append((key, node, cls))
    pos, groups = layout(spec, boxes)
    for key, node, cls in ui_nodes:
        node["pos"], node["size"] = pos[key], list(boxes[key])
        node["outputs"] = [{"name": n, "type": t, "links": out_links[key].get(i, []), "slot_index": i}
                           for i, (n, t) in enumerate(_outputs(cls))]
    nodes_out = [n for _k, n, _c in ui_nodes]
    note_id = len(nodes_out) + 1
    note = note_text(spec)
    nodes_out.append({"id": note_id, "type": "MarkdownNote", "pos": [0, NODE_TITLE_H], "size": [NOTE_W, note_height(note)],
                      "flags": {}, "order": len(nodes_out), "mode": 0, "inputs": [], "outputs": [],
                      "properties": {}, "widgets_values": [note], "title": "About this workflow",
                      "color": "#432", "bgcolor": "#653"})
    ui = {"last_node_id": note_id, "last_link_id": len(links), "nodes": nodes_out, "links": links, "groups": groups,
          "config": {}, "extra": {"ds": {"scale": VIEW["scale"], "offset": list(VIEW["offset"])}}, "version": 0.4}
    return ui, api


def template_index(specs=None) -> list[dict]:
    """The Templates-browser metadata, one category in the shape of ComfyUI's ``templates/index.json``."""
    return [{"moduleName": "ComfyUI-Inertia", "title": "ComfyUI-Inertia", "type": "video",
             "templates": [{"name": s["name"], "title": s["title"], "description": s["description"],
                            "mediaType": "image", "mediaSubtype": "jpg"} for s in ordered_specs(specs)]}]


def dumps(obj) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"


def outputs(defs) -> dict[Path, str]:
    """Every generated file and its text."""
    files = {}
    for spec in ordered_specs():
        ui, api = build(spec, defs)
        files[HERE / f"{spec['name']}.json"] = dumps(ui)
        files[HERE / "api" / f"{spec['name']}.json"] = dumps(api)
    files[HERE / "meta" / "index.json"] = dumps(template_index())
    return files


# --------------------------------------------------------------------------- thumbnails

THUMB_SIZE = (480, 360)  # the Templates browser shows a 4:3 card image
THUMB_VIEWPORT = {"width": 1100, "height": 900}
THUMB_CLIP = {"x": 70, "y": 90, "width": 960, "height": 720}  # below the menu, right of the side bar, above the zoom bar


def render_thumbnails(names: list[str] | None = None) -> list[Path]:
    """Write ``workflows/<name>.jpg``: the workflow opened in the real frontend (a local ComfyUI and headless
    Chromium, as the browser test uses), framed on the group of the workflow's main pack node, with the example media
    staged so the loaders show their pictures. Default: every spec except ``testbed_*`` (those show their own
    frames). Needs the ``playwright`` package and Debian's ``chromium``."""
    import io
    import shutil
    import tempfile

    from PIL import Image
    from playwright.sync_api import sync_playwright

    comfy_env = _comfy_env()
    comfy_env.load_pack()
    from comfyui_inertia.nodes import headless  # the pack as comfy_env loads it

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("--thumbnails needs Debian's chromium (apt-get install chromium)")
    specs = [s for s in ordered_specs() if (s["name"] in names if names else not s["name"].startswith("testbed_"))]
    comfy = comfy_env.find_comfyui()
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        settings = work / "user" / "default" / "comfy.settings.json"
        settings.parent.mkdir(parents=True)
        settings.write_text(json.dumps({"Comfy.TutorialCompleted": True, "Comfy.Workflow.ShowMissingModelsWarning": False,
                                        "Comfy.Minimap.Visible": False, "Comfy.Graph.CanvasInfo": False}))
        stage_media(work / "input")
        with headless.local_comfyui(comfy, work) as srv, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True,
                                        args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
            page = browser.new_page(viewport=THUMB_VIEWPORT)
            page.goto(f"http://{srv}/")
            page.wait_for_function("window.app && window.app.graph && window.app.extensionManager", timeout=90_000)
            page.wait_for_timeout(1000)
            for spec in specs:
                wf = json.loads((HERE / f"{spec['name']}.json").read_text())
                page.evaluate("wf => window.app.loadGraphData(wf)", wf)
                page.wait_for_timeout(2500)
                page.evaluate(_FRAME_JS, THUMB_CLIP)
                page.wait_for_timeout(1200)
                png = page.screenshot(clip=THUMB_CLIP)
                img = Image.open(io.BytesIO(png)).convert("RGB").resize(THUMB_SIZE, Image.LANCZOS)
                path = HERE / f"{spec['name']}.jpg"
                img.save(path, "JPEG", quality=82, optimize=True, progressive=True)
                written.append(path)
            browser.close()
    return written


def is_testbed(spec: dict) -> bool:
    """A ``testbed_*`` workflow: it runs on the pack's own weights, so its thumbnail shows its own frames."""
    return spec["name"].startswith("testbed_")


class _NoServer:
    """What ``execution.PromptExecutor`` needs of ComfyUI's PromptServer when nobody listens (no client id)."""

    client_id = None
    last_node_id = None

    def send_sync(self, *_args, **_kwargs):
        pass

    def queue_updated(self):
        pass


def run_in_process(api: dict, output_dir: Path, input_dir: Path | None = None) -> dict:
    """Validate and run the API graph ``api`` with ComfyUI's own executor (``execution.validate_prompt``,
    ``execution.PromptExecutor``) in this process, on the CPU, saving into ``output_dir`` (temporary files into
    ``output_dir/temp``) and reading media from ``input_dir`` when given; ComfyUI's folders are set back after.
    Returns ``{node id: ui output}`` (``SaveVideo``'s and ``PreviewImage``'s items name the files they wrote).

    Raises:
        SystemExit: the graph does not validate, or a node failed (the message names it).
    """
    import asyncio

    load_definitions()  # ComfyUI imported on the CPU, with the pack's nodes (and its model folders) registered
    import execution
    import folder_paths

    before = (folder_paths.get_output_directory(), folder_paths.get_temp_directory(),
              folder_paths.get_input_directory())
    folder_paths.set_output_directory(str(output_dir))
    folder_paths.set_temp_directory(str(Path(output_dir) / "temp"))
    if input_dir is not None:
        folder_paths.set_input_directory(str(input_dir))
    try:
        ok, err, outputs, node_errors = asyncio.run(execution.validate_prompt("in-process", api, None))
        if not ok:
            raise SystemExit(f"the workflow does not validate: {err.get('message')} {node_errors}")
        executor = execution.PromptExecutor(_NoServer())
        executor.execute(api, "in-process", {}, outputs)
        if not executor.success:
            errors = [m for m in executor.status_messages if m[0] == "execution_error"]
            detail = errors[0][1] if errors else executor.status_messages[-1:]
            raise SystemExit(f"the workflow failed: {detail}")
        return executor.history_result["outputs"]
    finally:
        folder_paths.set_output_directory(before[0])
        folder_paths.set_temp_directory(before[1])
        folder_paths.set_input_directory(before[2])


def _video_frames(path: Path):
    """The RGB frames of a video file as PIL images (the pack's ``nodes/headless/media.video_frames``)."""
    from comfyui_inertia.nodes.headless import media

    return media.video_frames(path)


def testbed_thumbnail(spec: dict, output_dir: Path, frames_per_row: int = 5):
    """The Templates-browser card of a testbed workflow, from a real run: the workflow is run in-process
    (:func:`run_in_process`) and every video it saves (ground truth, stock, Relaxation CFG, in graph order)
    becomes a labelled row of ``frames_per_row`` frames spread over the clip, read back from the mp4 files.
    Returns a PIL image of :data:`THUMB_SIZE`."""
    from PIL import Image, ImageDraw, ImageFont

    _ui, api = build(spec, load_definitions())
    results = run_in_process(api, output_dir)
    rows = []
    for nid, node in api.items():  # graph order: spec order
        if node["class_type"] != "SaveVideo":
            continue
        items = [i for i in (results.get(nid) or {}).get("images", []) if str(i.get("filename", "")).endswith(".mp4")]
        if not items:
            raise SystemExit(f"{spec['name']}: SaveVideo node {nid} saved no mp4 ({results.get(nid)})")
        item = items[0]
        path = Path(output_dir) / item.get("subfolder", "") / item["filename"]
        rows.append((node["_meta"]["title"], _video_frames(path)))
    if not rows:
        raise SystemExit(f"{spec['name']}: the workflow saves no video to make a thumbnail from")
    width, height = THUMB_SIZE
    label_h, gap = 20, 4
    row_h = height // len(rows)
    cell = min(width // frames_per_row, row_h - label_h - gap)
    card = Image.new("RGB", THUMB_SIZE, (24, 24, 28))
    draw = ImageDraw.Draw(card)
    font = ImageFont.load_default(size=14)
    x0 = (width - cell * frames_per_row) // 2
    for r, (title, frames) in enumerate(rows):
        y = r * row_h + (height - row_h * len(rows)) // 2
        picks = [round(i * (len(frames) - 1) / max(1, frames_per_row - 1)) for i in range(frames_per_row)]
        draw.text((x0 + 2, y + 2), f"{title}  (frames {', '.join(map(str, picks))})", fill=(235, 235, 235), font=font)
        for i, k in enumerate(picks):
            card.paste(frames[k].convert("RGB").resize((cell, cell), Image.LANCZOS), (x0 + i * cell, y + label_h))
    return card


def render_testbed_thumbnails(specs: list[dict]) -> list[Path]:
    """Write ``workflows/<name>.jpg`` for the testbed ``specs`` from their own frames (:func:`testbed_thumbnail`):
    with whatever weights are in ``nodes/testbed/weights/`` now, on the CPU, no browser needed."""
    import tempfile

    written = []
    for spec in specs:
        with tempfile.TemporaryDirectory(prefix="inertia-thumbnail-") as tmp:
            card = testbed_thumbnail(spec, Path(tmp))
        path = HERE / f"{spec['name']}.jpg"
        card.save(path, "JPEG", quality=85, optimize=True, progressive=True)
        written.append(path)
    return written


#: Frame the view on the group of the first pack node (ids from /object_info's python_module) outside the
#: model-loading, source-media and checking groups: the patch, the mask builder or the FramePack sampler, at up to 100%.
_FRAME_JS = """async clip => {
  const info = await (await fetch('/object_info')).json();
  const ours = new Set(Object.keys(info).filter(k => (info[k].python_module || '').includes('ComfyUI-Inertia')));
  const g = window.app.graph, c = window.app.canvas;
  const box = gr => [...(gr._bounding || gr.bounding)];
  const inside = (n, b) => n.pos[0] >= b[0] && n.pos[0] < b[0] + b[2] && n.pos[1] >= b[1] && n.pos[1] < b[1] + b[3];
  const groupOf = n => g._groups.find(gr => inside(n, box(gr)));
  const nodes = [...g._nodes].sort((a, b) => a.id - b.id).filter(n => ours.has(n.type) && groupOf(n));
  const main = nodes.find(n => !/Load models|source media|Check|Measure/.test(groupOf(n).title)) || nodes[0];
  const b = main ? box(groupOf(main)) : [0, 0, 1000, 750];
  const x0 = b[0] - 30, y0 = b[1] - 30, x1 = b[0] + b[2] + 30, y1 = b[1] + b[3] + 30;
  const rect = c.canvas.getBoundingClientRect();
  let s = Math.min(1.0, clip.width / (x1 - x0), clip.height / (y1 - y0));
  let mx = (x0 + x1) / 2, my = (y0 + y1) / 2;
  if (s < 0.65 && main) {  // below ~0.6 LiteGraph draws nodes without text: centre on the main node instead
    s = 0.65;
    mx = main.pos[0] + main.size[0] / 2;
    my = Math.max(y0 + clip.height / s / 2, Math.min(main.pos[1] + main.size[1] / 2, y1 - clip.height / s / 2));
  }
  const cx = clip.x - rect.left + clip.width / 2, cy = clip.y - rect.top + clip.height / 2;
  c.ds.scale = s;
  c.ds.offset = [cx / s - mx, cy / s - my];
  c.setDirty(true, true);
}"""


# --------------------------------------------------------------------------- main

def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--stage-media" in argv:
        i = argv.index("--stage-media")
        for path in stage_media(Path(argv[i + 1])):
            print(path)
        return 0
    if "--thumbnails" in argv:
        import fnmatch

        names = [a for a in argv if not a.startswith("--")]
        specs = [s for s in ordered_specs() if not names or any(fnmatch.fnmatch(s["name"], n) for n in names)]
        if names and not specs:
            raise SystemExit(f"no workflow matches {names}")
        others = [s["name"] for s in specs if not is_testbed(s)]
        paths = render_testbed_thumbnails([s for s in specs if is_testbed(s)])
        paths += render_thumbnails(others) if others else []
        for path in paths:
            print(f"{path}  {path.stat().st_size // 1024} KB")
        return 0
    check = "--check" in argv
    files = outputs(load_definitions())
    stale = []
    for path, text in files.items():
        if check:
            if not path.is_file() or path.read_text() != text:
                stale.append(str(path))
        else:
            path.parent.mkdir(exist_ok=True)
            path.write_text(text)
    if stale:
        print("out of date (run python workflows/build.py):\n  " + "\n  ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
