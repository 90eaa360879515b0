"""Shared set-up of the GPU benchmark scripts (``tests/bench/bench_*.py``; not a test module).

Finds ComfyUI with ``nodes/headless/comfy_env.py`` (``$COMFYUI_PATH``, the custom_nodes parent, then
``./.gpu/ComfyUI``, then ``~/comfy/ComfyUI``), imports it with its own argument parser on the right device, and imports
this pack as ``comfyui_inertia``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


# nodes/headless/comfy_env.py (ComfyUI lookup and pack import) is loaded by its path: it is what imports the pack
_spec = importlib.util.spec_from_file_location("inertia_comfy_env", REPO / "nodes" / "headless" / "comfy_env.py")
comfy_env = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(comfy_env)


def find_comfyui() -> Path:
    """The ComfyUI checkout to benchmark; exits with a message when there is none."""
    found, where = comfy_env.locate_comfyui(extra=(Path.cwd() / ".gpu" / "ComfyUI", REPO / ".gpu" / "ComfyUI"))
    if found is None:
        sys.exit(f"no ComfyUI found: set COMFYUI_PATH (looked at {where})")
    return found


def load_pack():
    """Import the pack as ``comfyui_inertia`` (as the tests do)."""
    return comfy_env.load_pack()


def setup(cpu: bool | None = None, comfy_args=()) -> Path:
    """Import ComfyUI from :func:`find_comfyui` with ``comfy_args`` (plus ``--cpu`` when ``cpu``, or when
    no CUDA device exists and ``cpu`` is None), select the device, import the pack; return ComfyUI's path."""
    comfy_dir = find_comfyui()
    sys.path.insert(0, str(comfy_dir))
    import torch

    if cpu is None:
        cpu = not torch.cuda.is_available()
    argv, sys.argv = sys.argv, [sys.argv[0], *comfy_args, *(["--cpu"] if cpu else [])]
    import comfy.options

    comfy.options.enable_args_parsing()
    import comfy.cli_args  # noqa: F401  (parses the arguments above)

    sys.argv = argv
    import comfy.model_management  # noqa: F401  (device selection happens here)

    load_pack()
    return comfy_dir
