"""Start a local headless ComfyUI (``main.py`` on loopback) with this pack, and stage what it needs: the
model folders a graph names and the input images it loads.

Standard library only. The models-folder names are ComfyUI's (``folder_paths.py``); the example images come
from ComfyUI's input folder or the official template media packages.
"""

from __future__ import annotations

import contextlib
import importlib.util
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from .client import WorkflowError, server_alive
from .comfy_env import PACK_DIR

#: models folder kind → the folder names ComfyUI accepts for it (legacy names second)
MODEL_FOLDERS = {"diffusion_models": ("diffusion_models", "unet"), "vae": ("vae",),
                 "text_encoders": ("text_encoders", "clip"), "clip_vision": ("clip_vision",), "loras": ("loras",)}


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def local_comfyui(comfy_dir: Path, workdir: Path, model_root: Path | None = None, extra_nodes=(),
                  cpu: bool = True, python: str | None = None, startup_timeout: float = 180):
    """Start ``main.py`` on loopback with the pack in a temporary ``custom_nodes``; yield the server address.

    Args:
        comfy_dir: the ComfyUI checkout.
        workdir: base directory for custom_nodes, input, output, temp and user folders.
        model_root: a folder with ``diffusion_models/``, ``vae/``… passed through
            ``--extra-model-paths-config``.
        extra_nodes: more custom-node folders to link in (the test conditioning node).
    The server is shut down (terminate, then kill) when the block exits.
    """
    custom = workdir / "custom_nodes"
    custom.mkdir(parents=True, exist_ok=True)
    for src in (PACK_DIR, *extra_nodes):
        link = custom / ("ComfyUI-Inertia" if Path(src) == PACK_DIR else Path(src).name)
        if not link.exists():
            link.symlink_to(Path(src).resolve(), target_is_directory=True)
    cfg = workdir / "extra_model_paths.yaml"
    lines = ["inertia:", f"  base_path: {model_root or workdir}"]
    for folder, aliases in MODEL_FOLDERS.items():
        lines.append(f"  {folder}: |")
        lines += [f"    {a}" for a in aliases]
    cfg.write_text("\n".join(lines) + "\n")
    configs = [str(cfg)]
    user_cfg = Path(comfy_dir) / "extra_model_paths.yaml"  # main.py reads it by itself only with its own base dir
    if user_cfg.is_file():
        configs.append(str(user_cfg))
    port = free_port()
    cmd = [python or sys.executable, "main.py", "--listen", "127.0.0.1", "--port", str(port),
           "--base-directory", str(workdir), "--extra-model-paths-config", *configs,
           "--disable-api-nodes", "--database-url", "sqlite:///:memory:", "--disable-auto-launch"]
    if cpu:
        cmd.append("--cpu")
    log_path = workdir / "comfyui.log"
    log = open(log_path, "w")
    proc = subprocess.Popen(cmd, cwd=comfy_dir, stdout=log, stderr=subprocess.STDOUT)
    server = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_timeout
        while not server_alive(server):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ComfyUI did not start (exit {proc.poll()}); log: {log_path}\n"
                                   + log_path.read_text()[-3000:])
            time.sleep(0.5)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


#: packages whose templates/ folders hold the real example media the bundled workflows name
MEDIA_PACKAGES = ("comfyui_workflow_templates_media_video", "comfyui_workflow_templates_media_image")


def required_model_files(graph: dict) -> dict[str, str]:
    """``{file name: models folder}`` for the model files an API graph loads."""
    found = {}
    for node in graph.values():
        ins = node.get("inputs", {})
        for key, folder in (("unet_name", "diffusion_models"), ("model_name", "diffusion_models"), ("vae_name", "vae"),
                            ("clip_name", "text_encoders"),
                            ("clip_name1", "text_encoders"), ("clip_name2", "text_encoders")):
            if key == "model_name" and node["class_type"] != "InertiaFramePackModelLoader":
                continue
            if isinstance(ins.get(key), str):
                found[ins[key]] = "clip_vision" if node["class_type"] == "CLIPVisionLoader" else folder
    return found


def missing_model_files(graph: dict, comfy_dir: Path) -> list[str]:
    """Model files the graph names that are in none of ComfyUI's ``models/`` folders for their kind.

    (Files reachable only through the user's own ``extra_model_paths.yaml`` count as missing here; the
    server started by :func:`local_comfyui` still loads that yaml, so a real run finds them.)
    """
    models = comfy_dir / "models"
    missing = []
    for name, folder in required_model_files(graph).items():
        if not any((models / d / name).is_file() for d in MODEL_FOLDERS.get(folder, (folder,))):
            missing.append(name)
    return missing


def input_images(graph: dict) -> list[str]:
    """File names the graph's ``LoadImage`` nodes read from ComfyUI's input folder."""
    return sorted({n["inputs"]["image"] for n in graph.values()
                   if n["class_type"] == "LoadImage" and isinstance(n["inputs"].get("image"), str)})


def stage_input_images(graph: dict, input_dir: Path, comfy_dir: Path | None = None) -> list[Path]:
    """Copy every image the graph loads into ``input_dir``, from ComfyUI's input folder or the
    official template media packages (real images, e.g. ``video_wan2_2_14B_i2v-2.webp``).

    Raises:
        WorkflowError: an image is in none of those places.
    """
    roots = [comfy_dir / "input"] if comfy_dir else []
    for pkg in MEDIA_PACKAGES:
        spec = importlib.util.find_spec(pkg)
        if spec and spec.submodule_search_locations:
            roots.append(Path(list(spec.submodule_search_locations)[0]) / "templates")
    input_dir.mkdir(parents=True, exist_ok=True)
    staged = []
    for name in input_images(graph):
        src = next((r / name for r in roots if (r / name).is_file()), None)
        if src is None:
            raise WorkflowError(f"input image {name!r} is in neither ComfyUI's input folder nor the template "
                                f"media packages ({', '.join(MEDIA_PACKAGES)}); put it in ComfyUI/input")
        shutil.copyfile(src, input_dir / name)
        staged.append(input_dir / name)
    return staged


def has_cuda() -> bool:
    """True when this Python has torch with a CUDA device (the local server then runs without ``--cpu``)."""
    try:
        import torch
        return torch.cuda.is_available()
    except ImportError:
        return False
