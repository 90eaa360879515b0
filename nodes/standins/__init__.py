"""Stand-ins: tiny random-weight checkpoints with the real key layouts, and stand-in encoder nodes.

Not nodes of the pack: ComfyUI never imports this package (``nodes/extension.py`` does not list it).
The test-suite and the headless demo mode (``python -m nodes.headless run`` where the official model
files are absent) use it on machines without model weights. The frames such models produce are noise:
they prove the plumbing, not the quality.

* ``wan_hunyuan.py``: Wan 2.1 (T2V, I2V, FLF, VACE), Wan 2.2 TI2V-5B and HunyuanVideo diffusion models built from ComfyUI's
  own model classes, the Wan 2.1 and HunyuanVideo VAEs, and seeded text CONDITIONING of the real shapes.
  Its names are re-exported here (``standins.write_diffusion_model``, ``standins.wan_text_conditioning``…).
* ``framepack.py``: a FramePack transformer in the released diffusers key layout (torch only).
* ``testing_nodes/inertia_testing/``: a custom-node folder with ``InertiaTestConditioning`` and
  ``InertiaTestClipVision``, which stand in for the text and image encoders (real umt5-xxl, llava-llama-3
  and CLIP vision cannot be shrunk). The headless client links it into a temporary ``custom_nodes``
  (``nodes/headless/demo.py`` ``TESTING_NODES``); ComfyUI never loads it with the pack.
"""

from . import framepack
from .wan_hunyuan import (
    HUNYUAN_COMMON,
    STANDINS,
    VAE_STANDINS,
    WAN_COMMON,
    diffusion_state_dict,
    hunyuan_text_conditioning,
    random_state_dict,
    wan_text_conditioning,
    write_diffusion_model,
    write_hunyuan_video_vae,
    write_wan21_vae,
)

__all__ = ["HUNYUAN_COMMON", "STANDINS", "VAE_STANDINS", "WAN_COMMON", "diffusion_state_dict",
           "framepack", "hunyuan_text_conditioning", "random_state_dict", "wan_text_conditioning",
           "write_diffusion_model", "write_hunyuan_video_vae", "write_wan21_vae"]
