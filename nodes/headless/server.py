"""Start a local headless ComfyUI (``main.py`` on loopback) with this pack, and stage what it needs: the
model folders a graph names and the input media (images, masks, videos) it loads.

Standard library only. The models-folder names are ComfyUI's (``folder_paths.py``); the example media come
from ComfyUI's input folder or the official template media packages (``comfyui-workflow-templates-media-*``).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.resources
import importlib.util
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .. import testbed
from .client import ServerError, WorkflowError, file_on_server, server_alive, upload_input
from .comfy_env import PACK_DIR

#: models folder kind → the folder names ComfyUI accepts for it (legacy names second)
MODEL_FOLDERS = {"diffusion_models": ("diffusion_models", "unet"), "vae": ("vae",),
                 "text_encoders": ("text_encoders", "clip"), "clip_vision": ("clip_vision",), "loras": ("loras",)}


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalComfyUI:
    """A ``main.py`` process on loopback with this pack in a temporary ``custom_nodes``.

    :meth:`start` launches it and returns at once (so several can start side by side), :meth:`wait_ready`
    blocks until it answers, :meth:`stop` terminates it. :func:`local_comfyui` is the one-server context manager.

    Args:
        comfy_dir: the ComfyUI checkout.
        workdir: base directory for custom_nodes, input, output, temp and user folders.
        model_root: a folder with ``diffusion_models/``, ``vae/``… passed through ``--extra-model-paths-config``.
        extra_nodes: more custom-node folders to link in (the test conditioning node).
        input_dir: the input folder the server reads (default ``workdir/input``), e.g. ComfyUI's own.
    """

    def __init__(self, comfy_dir: Path, workdir: Path, model_root: Path | None = None, extra_nodes=(),
                 cpu: bool = True, python: str | None = None, input_dir: Path | None = None):
        self.comfy_dir, self.workdir, self.model_root = Path(comfy_dir), Path(workdir), model_root
        self.extra_nodes, self.cpu, self.python, self.input_dir = extra_nodes, cpu, python, input_dir
        self.proc = None
        self.server = ""
        self.log_path = self.workdir / "comfyui.log"
        self._log = None

    def start(self) -> str:
        """Launch ``main.py``; return the address it will answer on (``127.0.0.1:PORT``)."""
        workdir = self.workdir
        custom = workdir / "custom_nodes"
        custom.mkdir(parents=True, exist_ok=True)
        for src in (PACK_DIR, *self.extra_nodes):
            link = custom / ("ComfyUI-Inertia" if Path(src) == PACK_DIR else Path(src).name)
            if not link.exists():
                link.symlink_to(Path(src).resolve(), target_is_directory=True)
        cfg = workdir / "extra_model_paths.yaml"
        lines = ["inertia:", f"  base_path: {self.model_root or workdir}"]
        for folder, aliases in MODEL_FOLDERS.items():
            lines.append(f"  {folder}: |")
            lines += [f"    {a}" for a in aliases]
        cfg.write_text("\n".join(lines) + "\n")
        configs = [str(cfg)]
        user_cfg = self.comfy_dir / "extra_model_paths.yaml"  # main.py reads it by itself only with its own base dir
        if user_cfg.is_file():
            configs.append(str(user_cfg))
        port = free_port()
        cmd = [self.python or sys.executable, "main.py", "--listen", "127.0.0.1", "--port", str(port),
               "--base-directory", str(workdir), "--extra-model-paths-config", *configs,
               "--disable-api-nodes", "--database-url", "sqlite:///:memory:", "--disable-auto-launch"]
        if self.input_dir is not None:
            cmd += ["--input-directory", str(self.input_dir)]
        if self.cpu:
            cmd.append("--cpu")
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, cwd=self.comfy_dir, stdout=self._log, stderr=subprocess.STDOUT)
        self.server = f"127.0.0.1:{port}"
        return self.server

    def wait_ready(self, startup_timeout: float = 180) -> str:
        """Block until the server answers ``/system_stats``; return its address.

        Raises:
            ServerError: the process exited or did not answer within ``startup_timeout`` s (the message
                names the log file and quotes its last line).
        """
        deadline = time.monotonic() + startup_timeout
        while not server_alive(self.server):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = [ln for ln in self.log_path.read_text(errors="replace").splitlines() if ln.strip()][-1:]
                raise ServerError(f"ComfyUI did not start (exit {self.proc.poll()}); log {self.log_path}"
                                  + (f": {tail[0][:200]}" if tail else ""))
            time.sleep(0.5)
        return self.server

    def stop(self) -> None:
        """Terminate the process (kill after 20 s) and close its log."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._log:
            self._log.close()
            self._log = None


@contextlib.contextmanager
def local_comfyui(comfy_dir: Path, workdir: Path, model_root: Path | None = None, extra_nodes=(),
                  cpu: bool = True, python: str | None = None, startup_timeout: float = 180,
                  input_dir: Path | None = None):
    """Start ``main.py`` on loopback with the pack in a temporary ``custom_nodes``; yield the server address.
    Arguments as :class:`LocalComfyUI`. The server is shut down (terminate, then kill) when the block exits."""
    srv = LocalComfyUI(comfy_dir, workdir, model_root, extra_nodes, cpu, python, input_dir)
    try:
        srv.start()
        yield srv.wait_ready(startup_timeout)
    finally:
        srv.stop()


#: packages whose templates/ folders hold the real example media the bundled workflows name (any other installed
#: ``comfyui-workflow-templates*`` distribution is searched too, see :func:`media_sources`)
MEDIA_PACKAGES = ("comfyui_workflow_templates_media_video", "comfyui_workflow_templates_media_image",
                  "comfyui_workflow_templates_media_other", "comfyui_workflow_templates")

#: (node class, input) that name a file in ComfyUI's input folder: core's image, mask and video loaders
MEDIA_INPUTS = (("LoadImage", "image"), ("LoadImageMask", "image"), ("LoadVideo", "file"),
                ("VHS_LoadVideo", "video"), ("LoadAudio", "audio"))


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
                if node["class_type"] == "CLIPVisionLoader":
                    folder = "clip_vision"
                elif node["class_type"] == "InertiaTestbedVAELoader":
                    folder = testbed.VAE_FOLDER
                found[ins[key]] = folder
    return found


def pack_model_dirs() -> dict[str, tuple[Path, ...]]:
    """``{models folder kind: folders}`` that the pack registers with ComfyUI itself when it loads
    (``nodes/testbed/comfy_nodes.py``): the testbed's shipped DiT is in ``diffusion_models``, its VAE in
    ``inertia_testbed_vae``."""
    return {"diffusion_models": (testbed.DIT_DIR,), testbed.VAE_FOLDER: (testbed.VAE_DIR,)}


def pack_model_file(name: str, folder: str) -> Path | None:
    """The file ``name`` of models folder kind ``folder`` where the pack ships it (the testbed's weights), or None."""
    for d in pack_model_dirs().get(folder, ()):
        if (Path(d) / name).is_file():
            return Path(d) / name
    return None


def missing_model_files(graph: dict, comfy_dir: Path) -> list[str]:
    """Model files the graph names that are in none of ComfyUI's ``models/`` folders for their kind, nor in the
    folders the pack registers itself (:func:`pack_model_dirs`: the testbed's weights count as present).

    (Files reachable only through the user's own ``extra_model_paths.yaml`` count as missing here; the
    server started by :func:`local_comfyui` still loads that yaml, so a real run finds them.)
    """
    models = comfy_dir / "models"
    missing = []
    for name, folder in required_model_files(graph).items():
        if pack_model_file(name, folder) is not None:
            continue
        if not any((models / d / name).is_file() for d in MODEL_FOLDERS.get(folder, (folder,))):
            missing.append(name)
    return missing


def runs_on_pack_weights(graph: dict) -> bool:
    """True when every model file ``graph`` loads ships with the pack (a testbed workflow): it needs no download
    and no stand-in, and is CPU-sized as it is."""
    files = required_model_files(graph)
    return bool(files) and all(pack_model_file(n, f) is not None for n, f in files.items())


def media_inputs(graph: dict) -> list[tuple[str, str, str]]:
    """``[(node id, input, file name)]`` for every file in ComfyUI's input folder the graph loads
    (:data:`MEDIA_INPUTS`; a name may carry a subfolder, ``sub/clip.mp4``, and ComfyUI's `` [input]`` tag)."""
    found = []
    for nid, node in graph.items():
        for cls, key in MEDIA_INPUTS:
            value = node.get("inputs", {}).get(key)
            if node.get("class_type") == cls and isinstance(value, str) and value.strip():
                found.append((nid, key, value))
    return found


def _media_name(value: str) -> str:
    name = value.strip()
    return name[: -len(" [input]")] if name.endswith(" [input]") else name


def input_images(graph: dict) -> list[str]:
    """File names the graph's image, mask and video loaders read from ComfyUI's input folder."""
    return sorted({_media_name(v) for _nid, _key, v in media_inputs(graph)})


def media_sources(comfy_dir: Path | None = None) -> list[tuple[str, Path]]:
    """``[(label, folder)]`` searched for input media, in order: ComfyUI's input folder, then the ``templates/``
    folder of every installed official template media package (``comfyui-workflow-templates-media-*``, found
    through ``importlib.metadata`` and ``importlib.resources``)."""
    roots = [("ComfyUI's input folder", Path(comfy_dir) / "input")] if comfy_dir else []
    dists = {}
    for dist in importlib.metadata.distributions():
        name = (dist.metadata["Name"] or "").lower().replace("-", "_")
        if name.startswith("comfyui_workflow_templates"):
            dists[name] = dist.version
    for pkg in sorted(set(MEDIA_PACKAGES) | set(dists), key=lambda n: (MEDIA_PACKAGES.index(n) if n in MEDIA_PACKAGES else len(MEDIA_PACKAGES), n)):
        if importlib.util.find_spec(pkg) is None:
            continue
        try:
            folder = Path(str(importlib.resources.files(pkg) / "templates"))
        except (ModuleNotFoundError, TypeError):
            continue
        if folder.is_dir():
            label = f"template media package {pkg.replace('_', '-')}" + (f" {dists[pkg]}" if pkg in dists else "")
            roots.append((label, folder))
    return roots


def _safe_rel(name: str) -> Path | None:
    rel = Path(name)
    if rel.is_absolute() or any(p in ("..", "") for p in rel.parts):
        return None
    return rel


def find_media(name: str, comfy_dir: Path | None = None) -> tuple[Path, str] | None:
    """``(file, where it was found)`` for an input-media name (see :func:`media_sources`), or None."""
    rel = _safe_rel(_media_name(name))
    if rel is None:
        return None
    for label, root in media_sources(comfy_dir):
        for cand in (root / rel, root / rel.name):
            if cand.is_file():
                return cand, label
    return None


def find_or_convert_media(name: str, comfy_dir: Path | None, work_dir: Path) -> tuple[Path, str] | None:
    """Like :func:`find_media`; a ``<stem>.mp4`` found nowhere is made from the ``<stem>.webp`` of the template media
    packages (:func:`media.webp_to_mp4`, written under ``work_dir``). ``(file, where it came from)`` or None."""
    found = find_media(name, comfy_dir)
    if found is not None or not name.lower().endswith(".mp4"):
        return found
    webp = find_media(name[:-4] + ".webp", comfy_dir)
    if webp is None:
        return None
    from . import media

    rel = _safe_rel(_media_name(name))
    dst = Path(work_dir) / rel
    if not dst.is_file():
        media.webp_to_mp4(webp[0], dst)
    return dst, f"{webp[1]}, converted from {webp[0].name} to MP4"


def _missing_media(name: str, graph: dict) -> WorkflowError:
    where = ", ".join(f"{graph[nid]['class_type']} node {nid}" for nid, _k, v in media_inputs(graph)
                      if _media_name(v) == name)
    return WorkflowError(f"input media {name!r} ({where}) is in neither ComfyUI's input folder nor the template "
                         "media packages (pip install comfyui-workflow-templates-media-video); put it in "
                         "ComfyUI/input")


def stage_input_images(graph: dict, input_dir: Path, comfy_dir: Path | None = None, log=None) -> list[Path]:
    """Copy every media file the graph loads (:data:`MEDIA_INPUTS`: images, masks, videos) into ``input_dir``,
    from ComfyUI's input folder or the official template media packages (real files, e.g.
    ``video_wan2_2_14B_i2v-2.webp``). A file already in ``input_dir`` is kept. ``log(line)``, when given, is
    told where each file came from.

    Raises:
        WorkflowError: a file is in none of those places, or its name leaves the input folder.
    """
    input_dir = Path(input_dir)
    input_dir.mkdir(parents=True, exist_ok=True)
    staged = []
    for name in input_images(graph):
        rel = _safe_rel(name)
        if rel is None:
            raise WorkflowError(f"input media name {name!r} leaves ComfyUI's input folder")
        target = input_dir / rel
        if target.is_file():
            if log:
                log(f"  media {name}: already in {input_dir}")
            staged.append(target)
            continue
        found = find_or_convert_media(name, comfy_dir, input_dir)
        if found is None:
            raise _missing_media(name, graph)
        src, label = found
        target.parent.mkdir(parents=True, exist_ok=True)
        if src != target:
            shutil.copyfile(src, target)
        if log:
            log(f"  media {name}: copied from {label} ({src}) into {input_dir}")
        staged.append(target)
    return staged


def upload_media(server: str, graph: dict, comfy_dir: Path | None = None, log=None) -> dict:
    """Make every media file the graph loads present in ``server``'s input folder: a file already there is
    used as is, any other is uploaded (``/upload/image``) from ComfyUI's input folder or the template media
    packages. ``log(line)`` is told where each came from. Returns the graph with the names the server
    stored the files under (a copy when one changed).

    Raises:
        WorkflowError: a file is on the server and in none of those places. ServerError: see ``client.request``.
    """
    renamed = {}
    for name in input_images(graph):
        if file_on_server(server, name):
            if log:
                log(f"  media {name}: already in the input folder of {server}")
            continue
        with tempfile.TemporaryDirectory() as tmp:
            found = find_or_convert_media(name, comfy_dir, Path(tmp))
            if found is None:
                raise _missing_media(name, graph)
            src, label = found
            stored = upload_input(server, name, src.read_bytes())
        if log:
            log(f"  media {name}: uploaded to {server} from {label} ({src})"
                + (f" as {stored!r}" if stored != name else ""))
        if stored != name:
            renamed[name] = stored
    if not renamed:
        return graph
    g = json.loads(json.dumps(graph))
    for nid, key, value in media_inputs(g):
        if _media_name(value) in renamed:
            g[nid]["inputs"][key] = renamed[_media_name(value)]
    return g


def has_cuda() -> bool:
    """True when this Python has torch with a CUDA device (the local server then runs without ``--cpu``)."""
    try:
        import torch
        return torch.cuda.is_available()
    except ImportError:
        return False
