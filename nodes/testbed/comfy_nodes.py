"""Graph nodes of the Inertia testbed, and its model folders.

Importing this module registers the shipped weights with ComfyUI's ``folder_paths``:

* ``weights/diffusion_models`` is added to ``diffusion_models``, so the stock **UNETLoader** lists the testbed
  DiT (``inertia_testbed_dit.safetensors``) with zero downloads;
* ``weights/vae`` (and ``models/inertia_testbed_vae``) form the folder ``inertia_testbed_vae``, listed by
  **Inertia Testbed VAE Loader** only (core's ``VAELoader`` builds the full-width Wan VAE and cannot load it).

Nodes: the VAE loader (returns a normal ComfyUI ``VAE``), the testbed's text encoder (CONDITIONING
``[1, 32, 4096]`` from a bag-of-words table: the toy world's own text model, not umt5), and a scene source
(held-out start image, object mask, prompt and ground-truth video from the toy world's generator).
"""

from __future__ import annotations

import logging
import os

import comfy.utils
import folder_paths
from comfy_api.latest import io, ui

from ..pure import toyworld as tw
from ..pure.errors import InertiaInputError
from . import DIT_DIR, VAE_DIR, VAE_FOLDER
from .models import testbed_vae

log = logging.getLogger("ComfyUI-Inertia")
CATEGORY = "Inertia/testbed"


def register_model_folders() -> None:
    """Add the shipped weights to ComfyUI's model folders (idempotent)."""
    folder_paths.add_model_folder_path("diffusion_models", str(DIT_DIR))
    folder_paths.add_model_folder_path(VAE_FOLDER, str(VAE_DIR))
    folder_paths.add_model_folder_path(VAE_FOLDER, os.path.join(folder_paths.models_dir, VAE_FOLDER))
    folder_paths.folder_names_and_paths[VAE_FOLDER][1].update({".safetensors"})


register_model_folders()


def load_testbed_vae(vae_name: str):
    """A ComfyUI VAE from a file of the ``inertia_testbed_vae`` folder (or an absolute path).

    Raises:
        InertiaInputError: the file is missing or is not a testbed (Wan 2.1-layout) VAE.
    """
    path = vae_name if os.path.isabs(vae_name) else folder_paths.get_full_path(VAE_FOLDER, vae_name)
    if not path or not os.path.isfile(path):
        raise InertiaInputError("vae_name", vae_name, f"put the file in {VAE_DIR} or models/{VAE_FOLDER}",
                                "was not found")
    sd = comfy.utils.load_torch_file(path, safe_load=True)
    try:
        return testbed_vae(sd)
    except (ValueError, RuntimeError) as e:
        raise InertiaInputError("vae_name", vae_name, "choose a testbed VAE written by nodes.testbed.train",
                                f"is not a testbed VAE ({str(e).splitlines()[0]})") from e


class InertiaTestbedVAELoader(io.ComfyNode):
    """File → VAE: the testbed's small Wan 2.1-architecture VAE as a normal ComfyUI VAE."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InertiaTestbedVAELoader",
            display_name="Inertia Testbed VAE Loader",
            category=CATEGORY,
            description=("Loads the testbed's VAE: ComfyUI's own Wan 2.1 VAE class (comfy.ldm.wan.vae.WanVAE, "
                         "temporal stride 4, spatial stride 8, 16 latent channels) at a small width, trained on the "
                         "toy world. Returns a normal VAE, so WanImageToVideo, VAEEncode, VAEDecode and SaveVideo "
                         "work unchanged. Core's VAELoader cannot load it (it builds the full-width Wan VAE)."),
            inputs=[io.Combo.Input("vae_name", options=folder_paths.get_filename_list(VAE_FOLDER) or [""],
                                   tooltip="A testbed VAE from the pack's weights/vae folder or "
                                           f"models/{VAE_FOLDER}.")],
            outputs=[io.Vae.Output(display_name="vae", tooltip="The VAE (latents [B, 16, (T-1)/4+1, H/8, W/8]).")],
        )

    @classmethod
    def execute(cls, vae_name) -> io.NodeOutput:
        return io.NodeOutput(load_testbed_vae(vae_name))


def encode_text(text: str) -> list:
    """CONDITIONING ``[[tensor [1, 32, 4096], {}]]`` of the testbed's text encoder (deterministic)."""
    return [[tw.encode_prompts([text]), {}]]


class InertiaTestbedTextEncode(io.ComfyNode):
    """Text → CONDITIONING with the testbed's own bag-of-words text encoder."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InertiaTestbedTextEncode",
            display_name="Inertia Testbed Text Encode",
            category=CATEGORY,
            description=("The testbed DiT's text encoder (not umt5): each lower-case word becomes a fixed "
                         "pseudo-random 4096-d vector (seeded by the word), one row per word, zero rows after the "
                         "prompt, 32 rows in all: CONDITIONING [1, 32, 4096], the layout of Wan's text "
                         "conditioning. Deterministic. An empty text gives zeros, which is what the DiT saw for "
                         "dropped text in training: use it as the negative prompt. The DiT knows the toy world's "
                         "words (colours, shapes, backgrounds, stays / moves left / moves right / disappears / "
                         "appears and their paraphrases); other words are unknown to it."),
            inputs=[io.String.Input("text", multiline=True, default=tw.scene_prompt("red", "ball", "grey", "stripes")
                                    + tw.PHRASES["disappears"][0],
                                    tooltip="The prompt, e.g. 'a red ball on a grey striped background, it "
                                            "disappears'. Empty = the unconditional (negative) prompt.")],
            outputs=[io.Conditioning.Output(display_name="conditioning",
                                            tooltip="CONDITIONING [1, 32, 4096] for WanImageToVideo / KSampler.")],
        )

    @classmethod
    def execute(cls, text) -> io.NodeOutput:
        words = tw.tokenize(text)
        unknown = sorted(set(words) - set(tw.vocabulary()))
        if unknown:
            log.info("Inertia Testbed Text Encode: words the testbed DiT never saw: %s", ", ".join(unknown))
        return io.NodeOutput(encode_text(text))


def scene_outputs(scene: int, scenario: str) -> dict:
    """Held-out scene ``scene`` as ``scenario``: start image ``[1,H,W,3]``, object mask ``[1,H,W]`` (first frame,
    or where it will be for ``appears``), prompt, ground-truth video ``[T,H,W,3]`` and clean background
    ``[1,H,W,3]``, all in [0, 1]."""
    specs, r, prompts = tw.heldout_scenes(1, scenario, first=scene)
    return {"start_image": tw.start_image(r).float(), "mask": (r["full_alpha"] > 0.5).float(),
            "prompt": prompts[0], "video": r["video"][0].float(), "background": r["background"].float()}


class InertiaTestbedScene(io.ComfyNode):
    """Scene number → start image, object mask, prompt and ground truth from the toy world's generator."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InertiaTestbedScene",
            display_name="Inertia Testbed Scene",
            category=CATEGORY,
            description=("A held-out scene of the testbed's toy world (never seen in training): a static textured "
                         "background with one coloured object, 128x128, 17 frames. Gives the start image for "
                         "WanImageToVideo, the object's first-frame mask (for the change meter), the canonical "
                         "prompt of the chosen scenario, and the ground-truth video and clean background."),
            inputs=[
                io.Int.Input("scene", default=0, min=0, max=1_000_000,
                             tooltip="Held-out scene number (scene k is drawn from a fixed seed + k)."),
                io.Combo.Input("scenario", options=list(tw.SCENARIOS), default="disappears",
                               tooltip="What the prompt asks for (and what the ground-truth video shows)."),
            ],
            outputs=[
                io.Image.Output(display_name="start_image", tooltip="IMAGE [1, 128, 128, 3]: the first frame."),
                io.Mask.Output(display_name="object_mask", tooltip="MASK [1, 128, 128]: the object in the first "
                                                                     "frame (for 'appears': where it will be)."),
                io.String.Output(display_name="prompt", tooltip="The scenario's canonical prompt for this scene."),
                io.Image.Output(display_name="ground_truth", tooltip="IMAGE [17, 128, 128, 3]: the true video."),
                io.Image.Output(display_name="background", tooltip="IMAGE [1, 128, 128, 3]: the clean background."),
            ],
        )

    @classmethod
    def execute(cls, scene, scenario) -> io.NodeOutput:
        if scenario not in tw.SCENARIOS:
            raise InertiaInputError("scenario", scenario, f"use one of {tw.SCENARIOS}")
        o = scene_outputs(int(scene), scenario)
        return io.NodeOutput(o["start_image"], o["mask"], o["prompt"], o["video"], o["background"],
                             ui=ui.PreviewText(o["prompt"]))


def list_dits() -> list[str]:
    """Testbed DiT files in the pack's ``weights/diffusion_models``."""
    return sorted(f for f in os.listdir(DIT_DIR) if f.endswith(".safetensors")) if DIT_DIR.is_dir() else []


NODES = [InertiaTestbedVAELoader, InertiaTestbedTextEncode, InertiaTestbedScene]

