"""Headless client: queue the bundled workflows on ComfyUI from the command line, with a demo mode
without model weights (``python -m nodes.headless run|queue …``, see ``cli.py``).

Not nodes of the pack: ComfyUI never imports this package (``nodes/extension.py`` does not list it).
Standard library only (``aiohttp`` for the progress bar where importable). One module per concern:

* ``cli.py``: the command line: subcommands ``queue`` and ``run`` (the main job).
* ``client.py``: HTTP/websocket client of a running ComfyUI (``/prompt``, ``/ws``, ``/history``, ``/view``).
* ``server.py``: start a local headless ComfyUI on loopback; stage model folders and input images.
* ``demo.py``: demo mode: stand-in encoder nodes, CPU sizes, stand-in checkpoints (``nodes/standins``).
* ``comfy_env.py``: find ComfyUI and import the pack from outside ComfyUI; the one copy the tests
  (``tests/conftest.py``), the workflow builder (``workflows/build.py``) and the benchmarks use too.
"""

from .cli import COMMANDS, main, run
from .client import (
    WorkflowError,
    _get_json,
    download_outputs,
    format_validation_error,
    load_graph,
    queue_workflow,
    server_alive,
    submit,
    wait_for,
)
from .comfy_env import PACK_DIR, find_comfyui, locate_comfyui
from .demo import (
    DEMO_BANNER,
    DEMO_CAPS,
    DEMO_SIZES,
    TESTING_NODES,
    prepare_demo_models,
    standin_graph,
    write_standin_models,
)
from .server import (
    MEDIA_PACKAGES,
    MODEL_FOLDERS,
    free_port,
    input_images,
    local_comfyui,
    missing_model_files,
    required_model_files,
    stage_input_images,
)

__all__ = ["COMMANDS", "DEMO_BANNER", "DEMO_CAPS", "DEMO_SIZES", "MEDIA_PACKAGES", "MODEL_FOLDERS", "PACK_DIR",
           "TESTING_NODES", "WorkflowError", "_get_json", "download_outputs", "find_comfyui", "format_validation_error",
           "free_port", "input_images", "load_graph", "local_comfyui", "locate_comfyui", "main", "missing_model_files",
           "prepare_demo_models", "queue_workflow", "required_model_files", "run", "server_alive", "stage_input_images",
           "standin_graph", "submit", "wait_for", "write_standin_models"]
