"""The testbed's A/B graph as nodes for ``workflows/build.py`` (its spec format: nodes as
``(key, class, inputs[, title])``, links ``("link", key, slot)``). ComfyUI-free.

:func:`ab_nodes` gives the graph of the ``testbed_*`` workflow that the headless main job runs by default: one
held-out scene, the same start image and seed, stock and with ``InertiaRelaxationCFG`` defaults (and optionally
further patches), each decoded, saved as mp4 and measured by the change meter with the object's first-frame mask;
the ground-truth video of the scene is saved next to them. It loads the files of the pack's ``weights/`` folders
by name (:data:`~nodes.testbed.DEFAULT_DIT`, :data:`~nodes.testbed.DEFAULT_VAE`), so retrained weights written under
the same names are picked up without a change here.
"""

from __future__ import annotations

from . import DEFAULT_DIT, DEFAULT_VAE

#: The default patch chain: ``InertiaRelaxationCFG`` at the defaults of "Adaptive Control of Temporal Inertia in
#: Large-Scale Video Generation Models" (β 0.75, p 0.7).
RELAXATION = ("relax", "InertiaRelaxationCFG", {"beta": 0.75, "decay_power": 0.7, "s_min": 1.0, "s_base": 0.0,
                                               "guidance": "auto"})
#: Human names of the branches (titles of their nodes, and so the names of the files the headless client saves).
BRANCH_LABELS = {"stock": "Stock", "relax": "Relaxation CFG"}
FPS = 8.0


def _link(node: str, slot: int = 0):
    return ("link", node, slot)


def ab_nodes(scene: int = 0, scenario: str = "disappears", seed: int = 42, steps: int = 20, cfg: float = 5.0,
             patches=(RELAXATION,), prefix: str = "testbed", labels: dict | None = None) -> list:
    """Nodes of the A/B graph: the stock branch and one branch per patch of ``patches`` (each patch applied on top
    of the previous one), in that order; ``labels`` maps a branch key (``stock``, a patch key) to its name.

    Every branch: KSampler (``seed``, ``steps``, ``cfg``, euler / simple) → VAEDecode (IMAGE ``[17, 128, 128, 3]``)
    → CreateVideo → SaveVideo (mp4, ``inertia/<prefix>_<branch>``) and InertiaChangeMeter with the object's
    first-frame mask (its plot is the node's preview).
    """
    labels = {**BRANCH_LABELS, **(labels or {})}
    nodes = [
        ("unet", "UNETLoader", {"unet_name": DEFAULT_DIT, "weight_dtype": "default"}, "Load the testbed DiT"),
        ("vae", "InertiaTestbedVAELoader", {"vae_name": DEFAULT_VAE}),
        ("scene", "InertiaTestbedScene", {"scene": scene, "scenario": scenario}, "Held-out scene"),
        ("pos", "InertiaTestbedTextEncode", {"text": _link("scene", 2)}, "Prompt (from the scene)"),
        ("neg", "InertiaTestbedTextEncode", {"text": ""}, "Negative prompt (empty)"),
        ("i2v", "WanImageToVideo", {"positive": _link("pos"), "negative": _link("neg"), "vae": _link("vae"),
                                    "width": 128, "height": 128, "length": 17, "batch_size": 1,
                                    "start_image": _link("scene", 0)}),
    ]
    branches = [("stock", "unet")]
    last = "unet"
    for key, cls, inputs in patches:
        nodes.append((key, cls, {"model": _link(last), **inputs}))
        last = key
        branches.append((key, key))
    saves = [("gt_video", "CreateVideo", {"images": _link("scene", 3), "fps": FPS}),
             ("gt_save", "SaveVideo", {"video": _link("gt_video"), "filename_prefix": f"inertia/{prefix}_ground_truth",
                                       "format": "mp4", "codec": "auto"}, "Ground truth")]
    samplers, meters = [], []
    for name, model in branches:
        label = labels.get(name, name)
        samplers.append((f"ks_{name}", "KSampler", {
            "model": _link(model), "seed": seed, "steps": steps, "cfg": cfg, "sampler_name": "euler",
            "scheduler": "simple", "positive": _link("i2v", 0), "negative": _link("i2v", 1),
            "latent_image": _link("i2v", 2), "denoise": 1.0}, f"KSampler ({label})"))
        saves += [
            (f"dec_{name}", "VAEDecode", {"samples": _link(f"ks_{name}"), "vae": _link("vae")}),
            (f"vid_{name}", "CreateVideo", {"images": _link(f"dec_{name}"), "fps": FPS}),
            (f"save_{name}", "SaveVideo", {"video": _link(f"vid_{name}"), "filename_prefix": f"inertia/{prefix}_{name}",
                                           "format": "mp4", "codec": "auto"}, label),
        ]
        meters.append((f"meter_{name}", "InertiaChangeMeter", {"images": _link(f"dec_{name}"), "mask": _link("scene", 1),
                                                               "fps": FPS}, f"Change meter ({label})"))
    return nodes + samplers + saves + meters
