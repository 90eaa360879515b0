"""Find a ComfyUI checkout and import this pack from outside ComfyUI: the one copy that the headless
client, the test-suite (``tests/conftest.py``), the workflow builder (``workflows/build.py``) and the
benchmarks (``tests/bench/bench_common.py``) all use.

The pack's folder (``ComfyUI-Inertia``) is not an importable name, and its ``nodes`` package would clash
with ComfyUI's own ``nodes`` module, so the pack is imported as the package ``comfyui_inertia``.

Standard library only, and no relative imports: a caller that has not imported the pack yet loads this
file by its path::

    spec = importlib.util.spec_from_file_location("inertia_comfy_env", PACK / "nodes/headless/comfy_env.py")
    comfy_env = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(comfy_env)
    pack = comfy_env.load_pack()

The functions that import ComfyUI (:func:`import_comfyui`, :func:`register_pack_nodes`) do so when called.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import sys
from pathlib import Path

#: the pack's folder (the one that holds ``__init__.py``, ``nodes/``, ``workflows/``)
PACK_DIR = Path(__file__).resolve().parents[2]
#: the package name the pack is imported under outside ComfyUI
PACK_NAME = "comfyui_inertia"


def comfyui_candidates(explicit: str | os.PathLike | None = None, extra=()) -> list[tuple[str, Path]]:
    """``[(label, path)]`` in the order they are tried: ``explicit``, ``$COMFYUI_PATH``, the ComfyUI that holds
    this pack in its ``custom_nodes``, the ``extra`` paths, then ``~/comfy/ComfyUI`` (comfy-cli's default)."""
    cands = []
    if explicit:
        cands.append(("--comfyui", Path(explicit)))
    if os.environ.get("COMFYUI_PATH"):
        cands.append(("$COMFYUI_PATH", Path(os.environ["COMFYUI_PATH"])))
    if PACK_DIR.parent.name == "custom_nodes":
        cands.append(("custom_nodes parent", PACK_DIR.parent.parent))
    cands += [(str(p), Path(p)) for p in extra]
    cands.append(("~/comfy/ComfyUI", Path.home() / "comfy" / "ComfyUI"))
    return cands


def is_comfyui(path: Path) -> bool:
    """True when ``path`` is a ComfyUI checkout (``main.py`` and the ``comfy`` package)."""
    return (path / "main.py").is_file() and (path / "comfy").is_dir()


def locate_comfyui(explicit: str | os.PathLike | None = None, extra=()) -> tuple[Path | None, str]:
    """``(ComfyUI dir or None, where it was found or, when none, where it looked)``; see :func:`comfyui_candidates`."""
    tried = []
    for label, path in comfyui_candidates(explicit, extra):
        if is_comfyui(path):
            return path.resolve(), label
        tried.append(f"{label}={path}")
    return None, ", ".join(tried)


def find_comfyui(explicit: str | os.PathLike | None = None, extra=()) -> Path | None:
    """The first ComfyUI checkout of :func:`comfyui_candidates`, or None."""
    return locate_comfyui(explicit, extra)[0]


def load_pack(name: str = PACK_NAME):
    """Import the pack as the package ``name`` (once per process; imports no ComfyUI) and return it."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, PACK_DIR / "__init__.py",
                                                  submodule_search_locations=[str(PACK_DIR)])
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def import_comfyui(comfy_dir: Path, cpu: bool = True) -> None:
    """Put ComfyUI on ``sys.path`` and set its arguments as a headless in-process run needs them
    (``--cpu`` when ``cpu``, API nodes off). Call before anything imports ``comfy.model_management``."""
    if str(comfy_dir) not in sys.path:
        sys.path.insert(0, str(comfy_dir))
    from comfy.cli_args import args

    if cpu:
        args.cpu = True
    args.disable_api_nodes = True


def register_pack_nodes(pack) -> object:
    """Load core's extra nodes and ``pack``'s nodes into ComfyUI in-process, as ``main.py`` would.

    Returns ComfyUI's ``nodes`` module, whose ``NODE_CLASS_MAPPINGS`` then holds them. Needs
    :func:`import_comfyui` first.
    """
    import comfy.model_management  # noqa: F401, I001  (initialises the device; the order below matters)
    import utils.extra_config  # noqa: F401  (as main.py does: `nodes` later puts comfy/ first on sys.path)
    import nodes

    if "WanImageToVideo" not in nodes.NODE_CLASS_MAPPINGS:  # core's comfy_extras nodes are not loaded yet
        asyncio.run(nodes.init_extra_nodes(init_custom_nodes=False, init_api_nodes=False))
    ext = asyncio.run(pack.comfy_entrypoint())
    for cls in asyncio.run(ext.get_node_list()):  # the same classes again on a second call: idempotent
        nodes.NODE_CLASS_MAPPINGS[cls.GET_SCHEMA().node_id] = cls
    return nodes
