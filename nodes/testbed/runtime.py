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

PACK_DIR = Path(__file__).resolve().parents[2]
PACK_NAME = "comfyui_inertia"


def find_comfyui(explicit: str | None = None) -> Path:
    """ComfyUI's folder: ``explicit``, ``$COMFYUI_PATH``, the ``custom_nodes`` parent, or ``~/comfy/ComfyUI``.

    Raises:
        FileNotFoundError: none of them holds ComfyUI (``main.py`` and ``comfy/``).
    """
    cands = [explicit, os.environ.get("COMFYUI_PATH")]
    if PACK_DIR.parent.name == "custom_nodes":
        cands.append(str(PACK_DIR.parent.parent))
    cands.append(str(Path.home() / "comfy" / "ComfyUI"))
    for c in cands:
        if c and (Path(c) / "main.py").is_file() and (Path(c) / "comfy").is_dir():
            return Path(c).resolve()
    raise FileNotFoundError(f"ComfyUI not found (tried {[c for c in cands if c]}); set COMFYUI_PATH")


def setup_comfy_path(comfy_dir: Path, cpu: bool | None = None) -> None:
    """Put ComfyUI's folder first on ``sys.path`` and choose the device (``cpu`` None: CPU without CUDA)."""
    if str(comfy_dir) not in sys.path:
        sys.path.insert(0, str(comfy_dir))
    from comfy.cli_args import args

    if cpu is None:
        import torch

        cpu = not torch.cuda.is_available()
    args.cpu = bool(cpu) or args.cpu
    args.disable_api_nodes = True


def load_pack(name: str = PACK_NAME):
    """Import the pack's folder as the package ``name`` (returns the module)."""
    import importlib.util

    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, PACK_DIR / "__init__.py",
                                                  submodule_search_locations=[str(PACK_DIR)])
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def init_comfy_nodes() -> object:
    """Import ComfyUI's graph nodes in-process (core, comfy_extras and this pack's); return ComfyUI's ``nodes``."""
    import asyncio  # noqa: I001  (the order below matters)

    import comfy.model_management  # noqa: F401, I001  (initialises the device first; the order matters)
    import utils.extra_config  # noqa: F401
    import nodes

    if "WanImageToVideo" not in nodes.NODE_CLASS_MAPPINGS:
        asyncio.run(nodes.init_extra_nodes(init_custom_nodes=False, init_api_nodes=False))
    if "InertiaRelaxationCFG" not in nodes.NODE_CLASS_MAPPINGS:
        ext = asyncio.run(load_pack().comfy_entrypoint())
        for cls in asyncio.run(ext.get_node_list()):
            nodes.NODE_CLASS_MAPPINGS[cls.GET_SCHEMA().node_id] = cls
    return nodes


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
