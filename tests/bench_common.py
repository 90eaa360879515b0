"""Shared set-up of the GPU benchmark scripts (``tests/bench_*.py``; not a test module).

Finds ComfyUI (``$COMFYUI_PATH``, then ``./.gpu/ComfyUI`` as ``../shared/tools/gpu-bundle`` builds it,
then ``~/comfy/ComfyUI``), imports it with its own argument parser on the right device, and imports
this pack as ``comfyui_inertia``.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def find_comfyui() -> Path:
    """The ComfyUI checkout to benchmark; exits with a message when there is none."""
    for c in (os.environ.get("COMFYUI_PATH"), Path.cwd() / ".gpu" / "ComfyUI", REPO / ".gpu" / "ComfyUI",
              Path.home() / "comfy" / "ComfyUI"):
        if c and (Path(c) / "main.py").is_file():
            return Path(c).resolve()
    sys.exit("no ComfyUI found: set COMFYUI_PATH")


def load_pack():
    """Import the pack as ``comfyui_inertia`` (as the tests do)."""
    if "comfyui_inertia" in sys.modules:
        return sys.modules["comfyui_inertia"]
    spec = importlib.util.spec_from_file_location("comfyui_inertia", REPO / "__init__.py",
                                                  submodule_search_locations=[str(REPO)])
    mod = importlib.util.module_from_spec(spec)
    sys.modules["comfyui_inertia"] = mod
    spec.loader.exec_module(mod)
    return mod


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
