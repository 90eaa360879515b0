"""Headless client: queue the bundled workflows on ComfyUI from the command line, sweep parameters over one or
several servers, with a demo mode without model weights (``python -m nodes.headless run|queue|sweep …``,
see ``cli.py``).

Not nodes of the pack: ComfyUI never imports this package (``nodes/extension.py`` does not list it).
Standard library only (``aiohttp`` for the progress bar where importable; Pillow, imported lazily, for the
sweep's contact sheet and plot). One module per concern:

* ``cli.py``: the command line: subcommands ``queue``, ``run`` (the main job) and ``sweep``.
* ``client.py``: HTTP/websocket client of a running ComfyUI (``/prompt``, ``/ws``, ``/history``, ``/view``,
  ``/upload/image``), with one-line errors (:class:`HeadlessError`).
* ``server.py``: start a local headless ComfyUI on loopback; stage model folders and input media.
* ``grid.py``: a sweep's ``--set`` values, resolved against the graph and expanded.
* ``sweep.py``: the sweep: the work queue over servers, progress, the entry point.
* ``sweep_jobs.py``: what a sweep queues: each job's graph with the change meter attached, the results manifest.
* ``sweep_report.py``: the sweep's per-cell table with 95 % intervals, contact sheet and plots.
* ``figures.py``: the sweep's contact sheet and plot (Pillow).
* ``demo.py``: demo mode: stand-in encoder nodes, CPU sizes, stand-in checkpoints (``nodes/standins``); never
  for a graph on the pack's own testbed weights (``server.runs_on_pack_weights``), which ``run`` queues by default.
* ``comfy_env.py``: find ComfyUI and import the pack from outside ComfyUI; the one copy the tests
  (``tests/conftest.py``), the workflow builder (``workflows/build.py``) and the benchmarks use too.
"""

from .cli import COMMANDS, all_workflows, default_workflows, main, output_root, run
from .client import (
    HeadlessError,
    ServerError,
    UsageError,
    WorkflowError,
    _get_json,
    check_server,
    download_outputs,
    format_validation_error,
    load_graph,
    queue_workflow,
    server_alive,
    server_problem,
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
    MEDIA_INPUTS,
    MEDIA_PACKAGES,
    MODEL_FOLDERS,
    LocalComfyUI,
    find_media,
    free_port,
    input_images,
    local_comfyui,
    media_sources,
    missing_model_files,
    pack_model_dirs,
    pack_model_file,
    required_model_files,
    runs_on_pack_weights,
    stage_input_images,
    upload_media,
)

__all__ = ["COMMANDS", "DEMO_BANNER", "DEMO_CAPS", "DEMO_SIZES", "MEDIA_INPUTS", "MEDIA_PACKAGES", "MODEL_FOLDERS",
           "PACK_DIR", "TESTING_NODES", "HeadlessError", "LocalComfyUI", "ServerError", "UsageError", "WorkflowError",
           "_get_json", "all_workflows", "check_server", "default_workflows", "download_outputs", "find_comfyui",
           "find_media", "format_validation_error", "free_port", "input_images", "load_graph", "local_comfyui",
           "locate_comfyui", "main", "media_sources", "missing_model_files", "output_root", "pack_model_dirs",
           "pack_model_file", "prepare_demo_models", "queue_workflow", "required_model_files", "run",
           "runs_on_pack_weights", "server_alive", "server_problem", "stage_input_images", "standin_graph", "submit",
           "upload_media", "wait_for", "write_standin_models"]
