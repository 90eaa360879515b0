"""Test harness shared by every ComfyUI-Inertia test.

* The pack is imported as the package ``comfyui_inertia`` (no ComfyUI needed for that).
* ComfyUI is found through ``$COMFYUI_PATH``, then the pack's own ``custom_nodes``
  parent, then ``~/comfy/ComfyUI``. Tests under ``tests/inproc`` and ``tests/e2e``
  need it and are skipped with a one-line reason when none exists; ``tests/unit`` never
  imports ComfyUI. Lookup and pack import are ``nodes/headless/comfy_env.py``, the copy the
  headless client and ``workflows/build.py`` use too.
* Fixtures build tiny random-weight checkpoints with the real key layouts and load them
  through ComfyUI's own ``load_diffusion_model`` (see ``nodes/standins/``).
* Every test has a time limit (``tests/hang_guard.py``: 900 s, ``$INERTIA_TEST_TIMEOUT``): a hang fails that
  test with a traceback instead of stalling the run.
* Where to add a test: ``tests/README.md``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


# nodes/headless/comfy_env.py (ComfyUI lookup and pack import) is loaded by its path: it is what imports the pack
_spec = importlib.util.spec_from_file_location("inertia_comfy_env", REPO / "nodes" / "headless" / "comfy_env.py")
comfy_env = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(comfy_env)
PACK = comfy_env.load_pack()  # as ``comfyui_inertia``
COMFYUI, COMFYUI_WHERE = comfy_env.locate_comfyui()
if COMFYUI is not None:
    comfy_env.import_comfyui(COMFYUI, cpu=True)  # test modules import ComfyUI; the CPU device is selected
NEEDS_COMFY_DIRS = ("inproc", "e2e")


def pytest_configure(config):
    """The per-test hang guard (``tests/hang_guard.py``): a test past ``$INERTIA_TEST_TIMEOUT`` (default 900 s)
    fails with the traceback of where it hung, and the run goes on."""
    from tests import hang_guard

    config.pluginmanager.register(hang_guard, "inertia-hang-guard")


def pytest_report_header(config):
    if COMFYUI:
        snap = (COMFYUI / ".snapshot")
        ver = snap.read_text().strip() if snap.is_file() else "unknown snapshot"
        return f"ComfyUI: {COMFYUI} (found via {COMFYUI_WHERE}; {ver})"
    return f"ComfyUI: not found (looked at {COMFYUI_WHERE}); ComfyUI tests will be skipped"


def pytest_ignore_collect(collection_path, config):
    """Without ComfyUI, tests/inproc and tests/e2e are not even imported (their modules import ComfyUI);
    ``tests/test_skip_reporter.py`` then reports the one-line skip reason."""
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
    return PACK


@pytest.fixture(scope="session")
def comfy():
    """Import real ComfyUI in-process on CPU and register the pack's and core's nodes.

    Returns ComfyUI's ``nodes`` module (with ``NODE_CLASS_MAPPINGS`` filled).
    """
    if COMFYUI is None:
        pytest.skip(f"needs ComfyUI: none at {COMFYUI_WHERE}")
    return comfy_env.register_pack_nodes(PACK)


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
