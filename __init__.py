"""ComfyUI-Inertia: control temporal inertia ("Static Death") in video diffusion models.

ComfyUI loads this file as a custom node pack. It registers the V3 nodes through
``comfy_entrypoint`` and serves the frontend extension from ``js/``. Importing it does
not import ComfyUI; the node modules are imported when ComfyUI calls the entrypoint.
"""

WEB_DIRECTORY = "./js"


async def comfy_entrypoint():
    """Return the pack's ``ComfyExtension`` (see ``nodes/extension.py``)."""
    from .nodes.extension import InertiaExtension

    return InertiaExtension()
