"""Test harness shared by every ComfyUI-Inertia test.

* The pack is imported as the package ``comfyui_inertia`` (no ComfyUI needed for that).
* ComfyUI is found through ``$COMFYUI_PATH``, then the pack's own ``custom_nodes``
  parent, then ``~/comfy/ComfyUI``. Tests under ``tests/inproc`` and ``tests/e2e``
  need it and are skipped with a one-line reason when none exists; ``tests/unit`` never
  imports ComfyUI.
* Fixtures build tiny random-weight checkpoints with the real key layouts and load them
  through ComfyUI's own ``load_diffusion_model`` (see ``nodes/standins.py``).
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACK_NAME = "comfyui_inertia"


def _load_pack():
    if PACK_NAME in sys.modules:
        return sys.modules[PACK_NAME]
    spec = importlib.util.spec_from_file_location(PACK_NAME, REPO / "__init__.py",
                                                  submodule_search_locations=[str(REPO)])
    mod = importlib.util.module_from_spec(spec)
    sys.modules[PACK_NAME] = mod
    spec.loader.exec_module(mod)
    return mod


_load_pack()


def find_comfyui() -> tuple[Path | None, str]:
    """Return (ComfyUI dir or None, where it looked)."""
    tried = []
    env = os.environ.get("COMFYUI_PATH")
    candidates = []
    if env:
        candidates.append(("$COMFYUI_PATH", Path(env)))
    if REPO.parent.name == "custom_nodes":
        candidates.append(("custom_nodes parent", REPO.parent.parent))
    candidates.append(("~/comfy/ComfyUI", Path.home() / "comfy" / "ComfyUI"))
    for label, path in candidates:
        if (path / "main.py").is_file() and (path / "comfy").is_dir():
            return path.resolve(), label
        tried.append(f"{label}={path}")
    return None, ", ".join(tried)


COMFYUI, COMFYUI_WHERE = find_comfyui()


def _prepare_comfyui_imports():
    """Put ComfyUI on sys.path (so test modules can import it) and select the CPU device."""
    if COMFYUI is None:
        return
    if str(COMFYUI) not in sys.path:
        sys.path.insert(0, str(COMFYUI))
    from comfy.cli_args import args

    args.cpu = True
    args.disable_api_nodes = True


_prepare_comfyui_imports()
NEEDS_COMFY_DIRS = ("inproc", "e2e")


def pytest_report_header(config):
    if COMFYUI:
        snap = (COMFYUI / ".snapshot")
        ver = snap.read_text().strip() if snap.is_file() else "unknown snapshot"
        return f"ComfyUI: {COMFYUI} (found via {COMFYUI_WHERE}; {ver})"
    return f"ComfyUI: not found (looked at {COMFYUI_WHERE}); ComfyUI tests will be skipped"


def pytest_ignore_collect(collection_path, config):
    """Without ComfyUI, tests/inproc and tests/e2e are not even imported (their modules import ComfyUI);
    ``tests/test_comfyui_present.py`` then reports the one-line skip reason."""
    if COMFYUI:
        return None
    rel = Path(str(collection_path)).resolve()
    for d in NEEDS_COMFY_DIRS:
        if rel == REPO / "tests" / d or (REPO / "tests" / d) in rel.parents:
            return True
    return None


@pytest.fixture(scope="session")
def comfyui_location():
    """``(ComfyUI dir or None, where it was looked for)``."""
    return COMFYUI, COMFYUI_WHERE


@pytest.fixture(scope="session")
def pack():
    """The pack's top-level module, imported as ``comfyui_inertia``."""
    return _load_pack()


@pytest.fixture(scope="session")
def comfy():
    """Import real ComfyUI in-process on CPU and register the pack's and core's nodes.

    Returns ComfyUI's ``nodes`` module (with ``NODE_CLASS_MAPPINGS`` filled).
    """
    if COMFYUI is None:
        pytest.skip(f"needs ComfyUI: none at {COMFYUI_WHERE}")
    import comfy.model_management  # noqa: F401, I001  (initialises the CPU device; the order below matters)
    import utils.extra_config  # noqa: F401  (as main.py does: `nodes` later puts comfy/ first on sys.path)
    import nodes

    if "RelaxationCFG" not in nodes.NODE_CLASS_MAPPINGS:
        asyncio.run(nodes.init_extra_nodes(init_custom_nodes=False, init_api_nodes=False))
        ext = asyncio.run(_load_pack().comfy_entrypoint())
        for cls in asyncio.run(ext.get_node_list()):
            nodes.NODE_CLASS_MAPPINGS[cls.GET_SCHEMA().node_id] = cls
    return nodes


@pytest.fixture(scope="session")
def standin_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("standins")


@pytest.fixture(scope="session")
def load_standin(comfy, standin_dir):
    """``load_standin(name)`` → a fresh ComfyUI MODEL (ModelPatcher) for stand-in ``name``.

    The safetensors file is written once per session; every call loads it again through
    ``comfy.sd.load_diffusion_model``, so tests never share a ModelPatcher by accident.
    """
    import comfy.sd

    from comfyui_inertia.nodes import standins

    paths = {}

    def load(name: str):
        if name not in paths:
            paths[name] = standins.write_diffusion_model(name, str(standin_dir / name), seed=1)
        return comfy.sd.load_diffusion_model(paths[name])

    return load


@pytest.fixture(scope="session")
def wan_vae(comfy, tmp_path_factory):
    """A full-size random Wan 2.1 VAE loaded through ComfyUI's ``VAELoader`` path (cached per session)."""
    import comfy.sd
    import comfy.utils

    from comfyui_inertia.nodes import standins

    path = standins.write_wan21_vae(str(tmp_path_factory.mktemp("vae")))
    return comfy.sd.VAE(sd=comfy.utils.load_torch_file(path))
