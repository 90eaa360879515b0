"""The testbed workflows as specs for ``workflows/build.py`` (same format: ``{"name", "note", "nodes"}``, nodes as
``(key, class, inputs[, title])`` with links ``("link", key, slot)``). ComfyUI-free.

``testbed_specs()`` gives the A/B workflow the main job runs by default: one held-out scene, the same seed, stock
vs ``RelaxationCFG`` defaults (and optionally other patches), each decoded, saved as mp4 and measured by the change
meter with the object's first-frame mask; the ground-truth video is saved next to them.
"""

from __future__ import annotations

from . import DEFAULT_DIT, DEFAULT_VAE


def _link(node: str, slot: int = 0):
    return ("link", node, slot)




def ab_nodes(scene: int = 0, scenario: str = "disappears", seed: int = 42, steps: int = 20, cfg: float = 5.0,
             patches=(("relax", "InertiaRelaxationCFG", {"beta": 0.75, "decay_power": 0.7, "s_min": 1.0, "s_base": 0.0,
                                                  "guidance": "auto"}),),
             prefix: str = "testbed") -> list:
    """Nodes of the A/B graph: stock and each patch chain in ``patches`` (applied in order, one branch)."""
    nodes = [
        ("scene", "InertiaTestbedScene", {"scene": scene, "scenario": scenario}, "Held-out scene"),
        ("unet", "UNETLoader", {"unet_name": DEFAULT_DIT, "weight_dtype": "default"}),
        ("vae", "InertiaTestbedVAELoader", {"vae_name": DEFAULT_VAE}),
        ("pos", "InertiaTestbedTextEncode", {"text": _link("scene", 2)}, "Prompt (from the scene)"),
        ("neg", "InertiaTestbedTextEncode", {"text": ""}, "Negative prompt (empty)"),
        ("i2v", "WanImageToVideo", {"positive": _link("pos"), "negative": _link("neg"), "vae": _link("vae"),
                                    "width": 128, "height": 128, "length": 17, "batch_size": 1,
                                    "start_image": _link("scene", 0)}),
        ("gt_video", "CreateVideo", {"images": _link("scene", 3), "fps": 8.0}),
        ("gt_save", "SaveVideo", {"video": _link("gt_video"), "filename_prefix": f"inertia/{prefix}_ground_truth",
                                  "format": "mp4", "codec": "auto"}),
    ]
    branches = [("stock", "unet")]
    last = "unet"
    for key, cls, inputs in patches:
        nodes.append((key, cls, {"model": _link(last), **inputs}))
        last = key
        branches.append((key, key))
    for name, model in branches:
        nodes += [
            (f"ks_{name}", "KSampler", {"model": _link(model), "seed": seed, "steps": steps, "cfg": cfg,
                                        "sampler_name": "euler", "scheduler": "simple", "positive": _link("i2v", 0),
                                        "negative": _link("i2v", 1), "latent_image": _link("i2v", 2),
                                        "denoise": 1.0}, f"KSampler ({name})"),
            (f"dec_{name}", "VAEDecode", {"samples": _link(f"ks_{name}"), "vae": _link("vae")}),
            (f"vid_{name}", "CreateVideo", {"images": _link(f"dec_{name}"), "fps": 8.0}),
            (f"save_{name}", "SaveVideo", {"video": _link(f"vid_{name}"), "filename_prefix": f"inertia/{prefix}_{name}",
                                           "format": "mp4", "codec": "auto"}),
            (f"meter_{name}", "InertiaChangeMeter", {"images": _link(f"dec_{name}"), "mask": _link("scene", 1),
                                                     "fps": 8.0}, f"Change meter ({name})"),
            (f"plot_{name}", "PreviewImage", {"images": _link(f"meter_{name}")}),
        ]
    return nodes


def testbed_specs() -> list[dict]:
    """The testbed workflow specs (for ``workflows/build.py``'s ``SPECS``)."""
    return [{"name": "testbed_disappear_ab", "title": "Testbed: stock vs Relaxation CFG (no downloads)",
             "description": "The pack's small trained Wan testbed on a held out scene: the same start image and seed, "
                            "stock and with Relaxation CFG, with the change meter. Runs on a CPU.",
             "what": "A held out scene of the pack's 128×128, 17-frame toy world (a static textured background, one "
                     "coloured object) through the small Wan-architecture testbed model that ships with the pack: "
                     "the same start image and seed, stock and with **Relaxation CFG**, each measured by the "
                     "**Inertia Change Meter**. No downloads; runs on a CPU.",
             "change": ["**Inertia Testbed Scene → scenario**: disappears, stays, moves left / right, appears.",
                        "**Inertia Testbed Scene → scene**: another held out start image.",
                        "**Relaxation CFG → beta**: 0.75 relaxes (the paper's best), negative values boost."],
             "expect": "Three videos (ground truth, stock, Relaxation CFG) and the meter's plot for each. The shipped "
                       "weights are preliminary (see nodes/testbed/README.md): the model does not yet tell a "
                       "'stays' prompt from a 'disappears' one, so this workflow shows the plumbing and the measurement, "
                       "not yet Static Death.",
             "nodes": ab_nodes()}]
