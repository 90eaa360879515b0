"""FramePack checkpoints in ComfyUI: the state-dict loader and the Load FramePack Model node.

``FramePackI2V_HY`` / ``FramePack_F1_I2V_HY`` files (lllyasviel/FramePack, arXiv 2504.12626; released in
diffusers key names, also read in ComfyUI names; the key conversion is ComfyUI-free in
``nodes/pure/framepack_keys.py``) become a normal ComfyUI MODEL of the model class in ``nodes/framepack.py``.
Model names come from ComfyUI's ``diffusion_models`` folder list, as stock ``UNETLoader`` does, and are
checked at validation time; a path can never leave the model folders.
"""

from __future__ import annotations

import logging
import os
import re

import comfy.model_detection
import comfy.model_management as mm
import comfy.model_patcher
import comfy.utils
import torch
from comfy_api.latest import io

from .framepack import FramePackConfig
from .pure import framepack_keys as fk
from .pure.errors import InertiaInputError, short

log = logging.getLogger("ComfyUI-Inertia")

# ====================================================================================== checkpoint

def _strip_prefix(sd: dict) -> dict:
    """Drop a checkpoint-wide key prefix (:func:`framepack_keys.checkpoint_prefix`) when most keys carry it,
    keeping only those keys, with core's ``comfy.utils.state_dict_prefix_replace``."""
    prefix = fk.checkpoint_prefix(sd)
    if prefix is None:
        return sd
    return comfy.utils.state_dict_prefix_replace(sd, {prefix: ""}, filter_keys=True)


def load_framepack_state_dict(sd: dict, model_options: dict | None = None, name: str = "model"):
    """Build a FramePack MODEL (ModelPatcher) from a state dict in the diffusers or ComfyUI layout.

    Dtype handling follows core's ``comfy.sd.load_diffusion_model_state_dict`` (``model_options``: ``dtype``,
    ``custom_operations``, ``fp8_optimizations``). Raises :class:`InertiaInputError` when the file is
    not a FramePack checkpoint, and ``ValueError`` when FramePack weights are missing.
    """
    model_options = model_options or {}
    sd = _strip_prefix(sd)
    if not fk.is_framepack(sd):
        plain_hy = "txt_in.individual_token_refiner.blocks.0.norm1.weight" in sd or "context_embedder.proj_in.weight" in sd
        raise InertiaInputError(
            "model_name", name,
            "pick a FramePack transformer (FramePackI2V_HY or FramePack_F1_I2V_HY, e.g. FramePackI2V_HY_bf16.safetensors) "
            "from models/diffusion_models; load other models with Load Diffusion Model",
            "is a plain HunyuanVideo checkpoint, not FramePack (no clean_x_embedder / image_projection weights)"
            if plain_hy else "is not a FramePack checkpoint (no clean_x_embedder / image_projection weights)")
    if fk.framepack_layout(sd) == "diffusers":
        sd = fk.diffusers_to_comfy(sd)
    scaled_fp8 = sd.pop("scaled_fp8", None)
    unet_config = comfy.model_detection.detect_unet_config(sd, "")
    if not unet_config or unet_config.get("image_model") != "hunyuan_video":
        raise InertiaInputError("model_name", name, "pick a FramePack HunyuanVideo transformer",
                                "has FramePack keys but no HunyuanVideo transformer")
    unet_config["image_proj_dim"] = int(sd["image_projection.up.weight"].shape[1])
    model_config = FramePackConfig(unet_config)
    if scaled_fp8 is not None:  # as core's model_config_from_unet (comfy/model_detection.py)
        model_config.scaled_fp8 = torch.float8_e4m3fn if scaled_fp8.dtype == torch.float32 else scaled_fp8.dtype
        model_config.optimizations["fp8"] = scaled_fp8.nelement() != 2

    # Devices and dtype choice mirror core's comfy.sd.load_diffusion_model_state_dict (comfy/sd.py): keep the
    # two in step when core changes its rules (weight dtype ignored for scaled fp8, model_options override).
    load_device = mm.get_torch_device()
    offload_device = mm.unet_offload_device()
    weight_dtype = None if model_config.scaled_fp8 is not None else comfy.utils.weight_dtype(sd)
    unet_dtype = model_options.get("dtype") or mm.unet_dtype(
        model_params=comfy.utils.calculate_parameters(sd), supported_dtypes=list(model_config.supported_inference_dtypes),
        weight_dtype=weight_dtype)
    manual_cast = mm.unet_manual_cast(unet_dtype, load_device, model_config.supported_inference_dtypes)
    model_config.set_inference_dtype(unet_dtype, manual_cast)
    model_config.custom_operations = model_options.get("custom_operations", model_config.custom_operations)
    if model_options.get("fp8_optimizations", False):
        model_config.optimizations["fp8"] = True

    model = model_config.get_model(sd, "")
    expected = set(model.diffusion_model.state_dict().keys())
    missing = sorted(k for k in expected - set(sd) if not k.endswith(("scale_weight", "scale_input")))
    if missing:
        raise ValueError(f"FramePack checkpoint {name}: missing weights {missing[:8]}{' …' if len(missing) > 8 else ''}")
    extra = sorted(set(sd) - expected)
    if extra:
        log.warning("FramePack: %s has unused keys %s", name, extra[:8])
    model.framepack_variant = "f1" if re.search(r"(^|[^a-z0-9])f1([^a-z0-9]|$)", name, re.I) else "i2v"
    model = model.to(offload_device)
    model.load_model_weights(sd, "")
    return comfy.model_patcher.ModelPatcher(model, load_device=load_device, offload_device=offload_device)


# ====================================================================================== nodes

WEIGHT_DTYPES = ("default", "fp8_e4m3fn", "fp8_e4m3fn_fast", "fp8_e5m2")
#: ComfyUI model folder the loader lists (models/diffusion_models, plus the legacy models/unet).
MODEL_FOLDER = "diffusion_models"



def _inside(path: str, root: str) -> bool:
    try:
        return path != root and os.path.commonpath([path, root]) == root
    except ValueError:  # different drives (Windows)
        return False


def model_path(model_name) -> str:
    """The absolute path of ``model_name``, a file listed in ComfyUI's diffusion_models folders.

    The name must be one of ``folder_paths.get_filename_list("diffusion_models")`` (what the combo
    offers, as core's ``UNETLoader``); it is resolved with ``folder_paths.get_full_path`` and the result
    must lie inside one of the folder's roots, so no name (``../../etc/passwd``, an absolute path)
    reaches a file outside the model folders.

    Raises:
        InertiaInputError (input ``model_name``): not a non-empty string, not a listed file, or a path
            that resolves outside the model folders.
    """
    import folder_paths

    fix_pick = ("pick a FramePack transformer listed under models/diffusion_models (e.g. FramePackI2V_HY_bf16.safetensors); "
                "put downloaded files there and refresh the browser")
    if not isinstance(model_name, str) or not model_name.strip():
        raise InertiaInputError("model_name", short(model_name), fix_pick, "is not a file name")
    names = folder_paths.get_filename_list(MODEL_FOLDER)
    if model_name not in names:
        listed = [n for n in names if "framepack" in n.lower()]
        there = (f"the FramePack files there: {', '.join(listed[:4])}{' …' if len(listed) > 4 else ''}" if listed
                 else "no file there has 'FramePack' in its name")
        raise InertiaInputError("model_name", short(model_name), fix_pick,
                                f"is not a file in the diffusion_models folders ({there})")
    path = folder_paths.get_full_path(MODEL_FOLDER, model_name)
    roots = [os.path.abspath(r) for r in folder_paths.get_folder_paths(MODEL_FOLDER)]
    full = os.path.abspath(path) if path else None
    if full is None or not any(_inside(full, r) for r in roots):
        raise InertiaInputError("model_name", short(model_name), fix_pick, "does not resolve to a file inside "
                                "the model folders")
    return full


class FramePackModelLoader(io.ComfyNode):
    """Load FramePackI2V_HY / FramePack_F1_I2V_HY from models/diffusion_models as a ComfyUI MODEL."""

    @classmethod
    def define_schema(cls):
        import folder_paths

        return io.Schema(
            node_id="InertiaFramePackModelLoader",
            display_name="Load FramePack Model",
            category="Inertia/FramePack",
            description=(
                "Loads a FramePack transformer (FramePackI2V_HY, FramePack_F1_I2V_HY; diffusers or ComfyUI key "
                "names, bf16 or fp8) from models/diffusion_models as a native ComfyUI MODEL. LoRAs, model "
                "patches and wrappers apply to it like to any model. Text: HunyuanVideo text encoders "
                "(DualCLIPLoader type hunyuan_video); image: SigLIP via CLIPVisionLoader; VAE: HunyuanVideo VAE."),
            inputs=[
                io.Combo.Input("model_name", options=folder_paths.get_filename_list(MODEL_FOLDER),
                               tooltip="A FramePack transformer in models/diffusion_models. Any other model is rejected."),
                io.Combo.Input("weight_dtype", options=list(WEIGHT_DTYPES), default="default",
                               tooltip="Weight storage dtype, as in core's Load Diffusion Model. fp8 halves memory."),
            ],
            outputs=[io.Model.Output(display_name="model", tooltip="The FramePack model (ModelPatcher).")],
        )

    @classmethod
    def validate_inputs(cls, model_name=None):
        """Refuse a model name that is not a file in models/diffusion_models when the prompt is queued, as core's
        UNETLoader does (a linked name arrives as ``None`` and is checked at execution)."""
        if model_name is None:
            return True
        try:
            model_path(model_name)
        except InertiaInputError as e:
            return str(e)
        return True

    @classmethod
    def execute(cls, model_name, weight_dtype="default") -> io.NodeOutput:
        if weight_dtype not in WEIGHT_DTYPES:
            raise InertiaInputError("weight_dtype", short(weight_dtype), f"use one of {WEIGHT_DTYPES}")
        options = {}
        if weight_dtype in ("fp8_e4m3fn", "fp8_e4m3fn_fast"):
            options["dtype"] = torch.float8_e4m3fn
            options["fp8_optimizations"] = weight_dtype.endswith("fast")
        elif weight_dtype == "fp8_e5m2":
            options["dtype"] = torch.float8_e5m2
        sd = comfy.utils.load_torch_file(model_path(model_name))
        return io.NodeOutput(load_framepack_state_dict(sd, options, name=model_name))


NODES = [FramePackModelLoader]
