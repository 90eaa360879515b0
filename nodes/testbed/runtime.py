"""Start ComfyUI in-process for the testbed's command-line programs (standard library only at import).

The pack's folder holds a package called ``nodes``, and so does ComfyUI (``nodes.py``). A program started as
``python -m nodes.testbed.train`` from the pack's folder owns the name ``nodes``, so the ComfyUI graph nodes
cannot be imported next to it. :func:`reexec_as_pack` restarts the program with ComfyUI first on
``sys.path`` and the pack imported as ``comfyui_inertia`` (what the test-suite does too).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..headless import comfy_env

PACK_DIR = Path(__file__).resolve().parents[2]
PACK_NAME = "comfyui_inertia"


def find_comfyui(explicit: str | None = None) -> Path:
    """ComfyUI's folder by the pack's one lookup (``nodes/headless/comfy_env.py``: ``explicit``, ``$COMFYUI_PATH``,
    the ``custom_nodes`` parent, ``~/comfy/ComfyUI``).

    Raises:
        FileNotFoundError: none of them holds ComfyUI.
    """
    found, where = comfy_env.locate_comfyui(explicit)
    if found is None:
        raise FileNotFoundError(f"ComfyUI not found (looked at {where}); set COMFYUI_PATH")
    return found


def setup_comfy_path(comfy_dir: Path, cpu: bool | None = None) -> None:
    """:func:`comfy_env.import_comfyui`, with ``cpu`` None meaning: the CPU when there is no CUDA."""
    if cpu is None:
        import torch

        cpu = not torch.cuda.is_available()
    comfy_env.import_comfyui(comfy_dir, cpu=bool(cpu))


def load_pack(name: str = PACK_NAME):
    """The pack imported as the package ``name`` (:func:`comfy_env.load_pack`)."""
    return comfy_env.load_pack(name)


def init_comfy_nodes() -> object:
    """Import ComfyUI's graph nodes in-process (core, comfy_extras and this pack's); return ComfyUI's ``nodes``."""
    return comfy_env.register_pack_nodes(load_pack())  # idempotent


def reexec_as_pack(module: str, argv: list[str], comfy_path: str | None = None) -> None:
    """Replace this process by ``python -c`` that imports the pack as ``comfyui_inertia`` and runs
    ``comfyui_inertia.<module>.main(argv)`` with ComfyUI first on ``sys.path`` (does not return)."""
    comfy_dir = find_comfyui(comfy_path)
    code = (f"import sys; sys.path.insert(0, {str(comfy_dir)!r}); "
            f"sys.path = [p for p in sys.path if p not in ('', {str(PACK_DIR)!r})]; "
            "import importlib.util as u; "
            f"s = u.spec_from_file_location({PACK_NAME!r}, {str(PACK_DIR / '__init__.py')!r}, "
            f"submodule_search_locations=[{str(PACK_DIR)!r}]); m = u.module_from_spec(s); "
            f"sys.modules[{PACK_NAME!r}] = m; s.loader.exec_module(m); import importlib; "
            f"raise SystemExit(importlib.import_module({PACK_NAME + '.' + module!r}).main(sys.argv[1:]))")
    env = dict(os.environ, COMFYUI_PATH=str(comfy_dir))
    os.execve(sys.executable, [sys.executable, "-c", code, *argv], env)


def running_as_pack() -> bool:
    """True when this process imported the pack as ``comfyui_inertia`` (not as top-level ``nodes``)."""
    return PACK_NAME in sys.modules
