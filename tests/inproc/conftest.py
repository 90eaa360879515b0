"""Fixtures shared by the FramePack tests: the tiny packed stand-ins in a models folder ComfyUI knows."""

import pytest

from comfyui_inertia.nodes import standins
from comfyui_inertia.nodes.standins import framepack as framepack_standin


@pytest.fixture(scope="session")
def fp(comfy):
    """The pack's ``nodes.framepack`` module: the model class (imported once ComfyUI is set up)."""
    from comfyui_inertia.nodes import framepack
    return framepack


@pytest.fixture(scope="session")
def fps(comfy):
    """The pack's ``nodes.framepack_sampler`` module: the section sampler."""
    from comfyui_inertia.nodes import framepack_sampler
    return framepack_sampler


@pytest.fixture(scope="session")
def fp_dir(comfy, tmp_path_factory):
    """A diffusion_models folder with the FramePack I2V and F1 stand-ins (released key layout) and two
    non-FramePack checkpoints, registered with ComfyUI's folder_paths."""
    import folder_paths

    d = tmp_path_factory.mktemp("fp_diffusion_models")
    framepack_standin.write_framepack_model(str(d), seed=3)
    framepack_standin.write_framepack_model(str(d), framepack_standin.FRAMEPACK_STANDINS["framepack_f1"], seed=4)
    standins.write_diffusion_model("hunyuan_t2v", str(d), filename="hunyuan_plain.safetensors")
    standins.write_diffusion_model("wan21_t2v", str(d), filename="wan_plain.safetensors")
    folder_paths.add_model_folder_path("diffusion_models", str(d))
    return d


@pytest.fixture()
def load_fp(fpl, fp_dir):
    """``load_fp(name)`` → a fresh FramePack MODEL through the pack's loader node."""
    def load(name="framepack_i2v"):
        return fpl.FramePackModelLoader.execute(model_name=framepack_standin.FRAMEPACK_STANDINS[name]).args[0]
    return load


@pytest.fixture(scope="session")
def fpl(comfy):
    """The pack's ``nodes.framepack_loader`` module: the state-dict loader and the Load FramePack Model node."""
    from comfyui_inertia.nodes import framepack_loader
    return framepack_loader


@pytest.fixture(scope="session")
def fpi(comfy):
    """The pack's ``nodes.framepack_inputs`` module: the timed-prompt nodes and the start-image bucket."""
    from comfyui_inertia.nodes import framepack_inputs
    return framepack_inputs
