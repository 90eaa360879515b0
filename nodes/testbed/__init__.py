"""The Inertia testbed: a small trained Wan world (toy videos, a Wan-architecture VAE and I2V DiT) that shows
Static Death, so the pack's nodes can be measured on CPU with zero downloads.

* ``nodes/pure/toyworld.py``: the seeded world (videos, ground truth, captions, text encoder); pure torch.
* ``nodes/pure/testbed_metrics.py``: success that collapse cannot fake; pure torch.
* :mod:`.models`: the VAE (ComfyUI's ``comfy.ldm.wan.vae.WanVAE`` at a small width, wrapped as a normal
  ``comfy.sd.VAE``) and the DiT (``comfy.ldm.wan.model.WanModel``, in_dim 36) builders.
* :mod:`.comfy_nodes`: the graph nodes (VAE loader, text encoder, scene source) and the model folders.
* :mod:`.train`: ``python -m nodes.testbed.train`` (VAE, latents, DiTs; loss logs), the command line and pipeline over
  :mod:`.train_vae`, :mod:`.train_dit` (latent pool, DiT, the training conventions) and :mod:`.train_common`.
* :mod:`.evaluate`: sampling through real ComfyUI graph nodes and the metrics, as JSON.
* ``weights/``: the shipped safetensors (``weights/vae``, ``weights/diffusion_models``).

Importing this package imports nothing from ComfyUI.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
WEIGHTS_DIR = PACKAGE_DIR / "weights"
DIT_DIR = WEIGHTS_DIR / "diffusion_models"
VAE_DIR = WEIGHTS_DIR / "vae"

#: ComfyUI model-folder name of the testbed VAEs (listed by the testbed's VAE loader only: core's
#: ``VAELoader`` builds the full-width Wan VAE and cannot load them).
VAE_FOLDER = "inertia_testbed_vae"
DEFAULT_VAE = "inertia_testbed_vae.safetensors"
DEFAULT_DIT = "inertia_testbed_dit.safetensors"
