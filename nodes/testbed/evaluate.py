"""Evaluate testbed DiTs through real ComfyUI graph nodes, with ground-truth metrics, as JSON.

The graph per setting is the testbed workflow's: ``UNETLoader`` → (patch nodes, e.g. ``RelaxationCFG``) →
``KSampler`` ← ``WanImageToVideo`` (start image, ``Inertia Testbed VAE Loader``, ``Inertia Testbed Text Encode``
positive, empty negative) → ``VAEDecode``. The held-out scenes of several scenarios go through one ``KSampler``
call as one batch (their conditionings stacked), so a whole table cell is one sampling run.

Settings are patch chains, so any node that takes and returns a MODEL can be swept::

    stock                                   no patch
    relax=RelaxationCFG                     the node's defaults (β 0.75, p 0.7)
    boost=RelaxationCFG:beta=-1
    tu=TemporalUnlearning:sigma_blur=0.6;RelaxationCFG

Command line (from the pack's folder; restarts itself with the pack imported as ``comfyui_inertia``)::

    python -m nodes.testbed.evaluate --dits weights/diffusion_models/inertia_testbed_dit.safetensors \\
        --vae inertia_testbed_vae.safetensors --setting stock --setting relax=RelaxationCFG --cfg 5 --n 64 --out eval

In-process (ComfyUI already imported, e.g. from a test or a sweep)::

    from comfyui_inertia.nodes.testbed.evaluate import evaluate, Setting
    report = evaluate([dit_path], vae_path, [Setting("stock"), Setting.parse("relax=RelaxationCFG")])

Metrics: ``nodes/pure/testbed_metrics.py`` (background error against the clean background, presence, collapse
threshold from the same model's stock ``stays`` runs, Wilson 95 % intervals). The change meter's region measure
is read through :func:`meter_remaining` (the change meter's own math, nodes/pure/motion_metrics.py).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..pure import testbed_metrics as tm
from ..pure import toyworld as tw
from . import DEFAULT_VAE, runtime

log = logging.getLogger("ComfyUI-Inertia.testbed")

DEFAULT_CFG = 5.0
DEFAULT_STEPS = 20
DEFAULT_SAMPLER = "euler"
DEFAULT_SCHEDULER = "simple"


def meter_remaining(video: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``InertiaChangeMeter``'s region measure (share of the first frame's content remaining, per frame ``[T]``)
    for one video ``[T, H, W, 3]`` and a first-frame MASK ``[H, W]``."""
    from ..pure import motion_metrics as meter_math  # the change meter's math (nodes/change_meter.py)

    region = meter_math.region_from_mask(mask, video.shape[1], video.shape[2])
    return meter_math.region_series(video, region)["remaining"]


@dataclass
class Setting:
    """A named chain of MODEL → MODEL nodes: ``patches`` = ``[(node_id, inputs), …]`` (inputs not given take the
    node's defaults; the MODEL input is filled in)."""

    name: str
    patches: list = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> "Setting":
        """``NAME`` (no patch) or ``NAME=NODE[:k=v,…][;NODE…]``; values are read as JSON where they parse."""
        name, _, chain = text.partition("=")
        patches = []
        for part in filter(None, (x.strip() for x in chain.split(";"))):
            node, _, kv = part.partition(":")
            inputs = {}
            for item in filter(None, (x.strip() for x in kv.split(","))):
                k, _, v = item.partition("=")
                try:
                    inputs[k.strip()] = json.loads(v)
                except json.JSONDecodeError:
                    inputs[k.strip()] = v.strip()
            patches.append((node.strip(), inputs))
        return cls(name.strip(), patches)


def _node_class(comfy_nodes, node_id: str):
    """A registered node class by id; the pack's own nodes also by their name without the ``Inertia`` prefix."""
    cls = comfy_nodes.NODE_CLASS_MAPPINGS.get(node_id) or comfy_nodes.NODE_CLASS_MAPPINGS.get("Inertia" + node_id)
    if cls is None:
        raise KeyError(f"no ComfyUI node {node_id!r} is registered")
    return cls


def call_node(comfy_nodes, node_id: str, **inputs) -> tuple:
    """Run one registered ComfyUI node (V1 or V3) in-process with ``inputs`` plus its defaults; its outputs."""
    cls = _node_class(comfy_nodes, node_id)
    if hasattr(cls, "GET_SCHEMA"):                                   # V3 (comfy_api io.ComfyNode)
        for inp in cls.GET_SCHEMA().inputs:
            if inp.id not in inputs and getattr(inp, "default", None) is not None:
                inputs[inp.id] = inp.default
        return tuple(cls.execute(**inputs).args)
    spec = cls.INPUT_TYPES()
    for group in ("required", "optional"):
        for k, v in spec.get(group, {}).items():
            if k not in inputs and len(v) > 1 and isinstance(v[1], dict) and "default" in v[1]:
                inputs[k] = v[1]["default"]
    return tuple(getattr(cls(), cls.FUNCTION)(**inputs))


def apply_setting(comfy_nodes, model, setting: Setting):
    """The MODEL after ``setting``'s patch chain (the input is not changed: the pack's nodes clone)."""
    for node_id, inputs in setting.patches:
        model = call_node(comfy_nodes, node_id, model=model, **dict(inputs))[0]
    return model


def _register_file(folder: str, path: str) -> str:
    """Make ``path`` loadable by name from ComfyUI's ``folder`` list; return that name.

    A file whose name another file of ``folder`` already has (every trained DiT is called
    ``inertia_testbed_dit.safetensors``, and so is the shipped one, which is found first) is linked under a name
    of its own (``<its folder>__<name>``) in a per-process folder, so the name resolves to exactly ``path``.
    """
    import atexit
    import shutil
    import tempfile

    import folder_paths

    p = Path(path).resolve()
    found = folder_paths.get_full_path(folder, p.name)
    if found is not None and Path(found).resolve() == p:
        return p.name
    if found is None:
        folder_paths.add_model_folder_path(folder, str(p.parent))
        found = folder_paths.get_full_path(folder, p.name)
        if found is not None and Path(found).resolve() == p:
            return p.name
    global _LINK_DIR
    if _LINK_DIR is None:
        _LINK_DIR = tempfile.mkdtemp(prefix="inertia_testbed_eval_")
        atexit.register(shutil.rmtree, _LINK_DIR, True)  # the links only; the files they name stay
        folder_paths.add_model_folder_path(folder, _LINK_DIR, is_default=True)
    name = f"{p.parent.name}__{p.name}"
    link = Path(_LINK_DIR) / name
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(p)
    folder_paths.filename_list_cache.pop(folder, None)  # the folder changed within its mtime's resolution
    return name


_LINK_DIR = None


def load_dit(comfy_nodes, dit: str):
    """The DiT through the stock ``UNETLoader`` (a path is made loadable by a name that resolves to it first)."""
    name = _register_file("diffusion_models", dit) if os.path.sep in dit or os.path.isfile(dit) else dit
    return call_node(comfy_nodes, "UNETLoader", unet_name=name, weight_dtype="default")[0]


def load_vae(comfy_nodes, vae: str):
    """The VAE through ``Inertia Testbed VAE Loader`` (a path is passed as is)."""
    from . import comfy_nodes as testbed_nodes

    name = str(Path(vae).resolve()) if os.path.isfile(vae) else vae
    if not os.path.isabs(name):
        return call_node(comfy_nodes, "InertiaTestbedVAELoader", vae_name=name)[0]
    return testbed_nodes.load_testbed_vae(name)


@dataclass
class SceneSet:
    """Held-out scenes of several scenarios, their ground truth and stacked conditionings."""

    scenarios: list
    n: int
    specs: list
    rendered: list
    prompts: list
    positive: list = None
    negative: list = None
    latent: dict = None
    gt_latents: dict = None


def build_scene_set(comfy_nodes, vae, scenarios, n: int, first: int = 0, frames: int = tw.FRAMES) -> SceneSet:
    """Render the held-out scenes and run ``Inertia Testbed Text Encode`` + ``WanImageToVideo`` for each;
    stack their conditionings into one batch (scenario-major)."""
    ss = SceneSet(list(scenarios), n, [], [], [])
    cross, concat, mask = [], [], None
    empty = call_node(comfy_nodes, "InertiaTestbedTextEncode", text="")[0]
    for scen in scenarios:
        specs, r, prompts = tw.heldout_scenes(n, scen, first=first)
        ss.specs.append(specs)
        ss.rendered.append(r)
        ss.prompts.append(prompts)
        H, W = r["video"].shape[2:4]
        for i in range(n):
            pos = call_node(comfy_nodes, "InertiaTestbedTextEncode", text=prompts[i])[0]
            p, _neg, lat = call_node(comfy_nodes, "WanImageToVideo", positive=pos, negative=empty, vae=vae, width=W,
                                     height=H, length=frames, batch_size=1,
                                     start_image=r["video"][i, :1].float().cpu())
            cross.append(p[0][0])
            concat.append(p[0][1]["concat_latent_image"])
            mask = p[0][1]["concat_mask"]
    c = torch.cat(concat)
    ss.positive = [[torch.cat(cross), {"concat_latent_image": c, "concat_mask": mask}]]
    ss.negative = [[empty[0][0].expand(c.shape[0], -1, -1).contiguous(), {"concat_latent_image": c,
                                                                            "concat_mask": mask}]]
    ss.latent = {"samples": torch.zeros((c.shape[0],) + tuple(c.shape[1:]))}
    return ss


def gt_latents(vae, ss: SceneSet) -> dict:
    """Latents of the static clean-background and static start-image videos (for latent presence), via ``vae.encode``."""
    bgs, objs = [], []
    for r in ss.rendered:
        T = r["video"].shape[1]
        for i in range(r["video"].shape[0]):
            bgs.append(vae.encode(r["background"][i:i + 1].float().cpu().expand(T, -1, -1, -1)))
            objs.append(vae.encode(r["video"][i, :1].float().cpu().expand(T, -1, -1, -1)))
    return {"background": torch.cat(bgs), "object": torch.cat(objs)}


def sample(comfy_nodes, model, ss: SceneSet, cfg: float, seed: int, steps: int = DEFAULT_STEPS,
           sampler: str = DEFAULT_SAMPLER, scheduler: str = DEFAULT_SCHEDULER) -> torch.Tensor:
    """One ``KSampler`` run on the whole scene set; the raw output latent ``[N, 16, T, h, w]``."""
    out = call_node(comfy_nodes, "KSampler", model=model, seed=seed, steps=steps, cfg=cfg, sampler_name=sampler,
                    scheduler=scheduler, positive=ss.positive, negative=ss.negative, latent_image=ss.latent,
                    denoise=1.0)[0]
    return out["samples"]


def decode(comfy_nodes, vae, samples: torch.Tensor, frames: int) -> torch.Tensor:
    """``VAEDecode`` → videos ``[N, T, H, W, 3]``."""
    images = call_node(comfy_nodes, "VAEDecode", vae=vae, samples={"samples": samples})[0]
    return images.reshape(samples.shape[0], frames, images.shape[-3], images.shape[-2], images.shape[-1])


def score(ss: SceneSet, videos: torch.Tensor, samples: torch.Tensor, meter: bool = True) -> dict:
    """Per-video ground-truth metrics for each scenario (lists, JSON-ready)."""
    out = {}
    gl = ss.gt_latents
    for si, scen in enumerate(ss.scenarios):
        r = ss.rendered[si]
        sl = slice(si * ss.n, (si + 1) * ss.n)
        v = videos[sl].float().cpu()
        core, guard = tm.object_regions(r["full_alpha"].cpu(), r["alpha"].cpu())
        bg_err = tm.background_error(v, r["background"].cpu(), guard)
        pres = tm.presence_series(v, r["background"].cpu(), r["reference"].cpu(), core)
        late = tm.late_mean(pres)
        d = {"bg_error": bg_err.tolist(), "late_presence": late.tolist(), "presence": pres.tolist(),
             "prompts": ss.prompts[si]}
        if gl is not None:
            lreg = tm.latent_region(core)
            lp = tm.latent_presence(samples[sl].float().cpu(), gl["background"][sl], gl["object"][sl], lreg)
            d["latent_presence"] = lp.tolist()
        if meter:
            rem = []
            for i in range(v.shape[0]):
                try:
                    rem.append(meter_remaining(v[i], core[i].float()).tolist())
                except Exception as e:  # noqa: BLE001 - a region the meter rejects is recorded, not fatal
                    rem.append([float("nan")] * v.shape[1])
                    d.setdefault("meter_errors", []).append(str(e))
            d["meter_remaining"] = rem
        out[scen] = d
    return out


def summarize(scenarios: dict, threshold: float) -> dict:
    """Rates with 95 % CIs per scenario from :func:`score`'s output and a collapse threshold."""
    out = {}
    for scen, d in scenarios.items():
        f = tm.classify(torch.tensor(d["bg_error"]), torch.tensor(d["late_presence"]), threshold)
        s = {k: tm.rate(v) for k, v in f.items()}
        s["bg_error"] = tm.mean_ci(torch.tensor(d["bg_error"]))
        s["late_presence"] = tm.mean_ci(torch.tensor(d["late_presence"]))
        out[scen] = s
    return out


def meter_agreement(runs: dict) -> dict:
    """Correlation over every scored video of the meter's last-frame ``remaining`` with the GT latent presence
    of the last latent frame and with the GT pixel presence of the last frame."""
    meter, lat, pix = [], [], []
    for run in runs.values():
        for d in run["scenarios"].values():
            if "meter_remaining" not in d or "latent_presence" not in d:
                continue
            meter += [m[-1] for m in d["meter_remaining"]]
            lat += [x[-1] for x in d["latent_presence"]]
            pix += [x[-1] for x in d["presence"]]
    m, la, pi = torch.tensor(meter), torch.tensor(lat), torch.tensor(pix)
    ok = torch.isfinite(m)
    return {"n": int(ok.sum()), "n_nan_meter": int((~ok).sum()),
            "pearson_latent": tm.pearson(m, la), "spearman_latent": tm.spearman(m, la),
            "pearson_pixel": tm.pearson(m, pi), "spearman_pixel": tm.spearman(m, pi)}


def evaluate(dits, vae: str, settings, cfgs=(DEFAULT_CFG,), seeds=(0,), scenarios=("disappears", "stays"),
             n: int = 64, first: int = 0, steps: int = DEFAULT_STEPS, sampler: str = DEFAULT_SAMPLER,
             scheduler: str = DEFAULT_SCHEDULER, meter: bool = True, threshold: float | None = None,
             out_json: str | None = None, deadline: float | None = None, progress=None,
             meter_cfgs=None) -> dict:
    """Sample every (DiT, setting, cfg, seed) on the held-out scenes and score them; return (and write) the report.

    The collapse threshold is per DiT from its ``stock`` setting's ``stays`` runs at the first cfg (the first
    setting named ``stock``; give ``threshold`` to fix it instead). ``deadline`` (``time.time()`` value) skips
    the remaining runs once passed; the report says which ran. Partial reports are written after every run.
    ``meter_cfgs``: the cfgs whose runs the change meter scores (None: all). Runs under ``torch.inference_mode``
    (as ComfyUI's executor runs nodes).
    """
    with torch.inference_mode():
        return _evaluate(dits, vae, settings, cfgs, seeds, scenarios, n, first, steps, sampler, scheduler, meter,
                         threshold, out_json, deadline, progress, meter_cfgs)


def _evaluate(dits, vae, settings, cfgs, seeds, scenarios, n, first, steps, sampler, scheduler, meter, threshold,
              out_json, deadline, progress, meter_cfgs) -> dict:
    say = progress or log.info
    comfy_nodes = runtime.init_comfy_nodes()
    settings = [s if isinstance(s, Setting) else Setting.parse(s) for s in settings]
    t0 = time.time()
    vae_obj = load_vae(comfy_nodes, vae)
    ss = build_scene_set(comfy_nodes, vae_obj, scenarios, n, first)
    ss.gt_latents = gt_latents(vae_obj, ss)
    report = {"meta": {"vae": vae, "scenarios": list(scenarios), "n": n, "first_scene": first, "steps": steps,
                       "sampler": sampler, "scheduler": scheduler, "cfgs": list(cfgs), "seeds": list(seeds),
                       "settings": [{"name": s.name, "patches": s.patches} for s in settings],
                       "heldout_seed": tw.HELDOUT_SEED, "device": str(vae_obj.device),
                       "scene_seconds": round(time.time() - t0, 2)},
              "models": {}}
    say(f"[eval] scenes ready: {len(scenarios)}×{n} in {time.time() - t0:.1f}s")

    def write():
        if out_json:
            Path(out_json).parent.mkdir(parents=True, exist_ok=True)
            tmp = out_json + ".tmp"
            with open(tmp, "w") as f:
                json.dump(report, f)
            os.replace(tmp, out_json)

    for dit in dits:
        model = load_dit(comfy_nodes, dit)
        entry = {"dit": dit, "runs": {}, "summary": {}, "threshold": threshold, "skipped": []}
        report["models"][Path(dit).parent.name + "/" + Path(dit).name] = entry
        for cfg in cfgs:
            for s in settings:
                patched = apply_setting(comfy_nodes, model, s)
                for seed in seeds:
                    key = f"{s.name}@cfg{cfg:g}#seed{seed}"
                    if deadline is not None and time.time() > deadline:
                        entry["skipped"].append(key)
                        continue
                    t1 = time.time()
                    lat = sample(comfy_nodes, patched, ss, cfg, seed, steps, sampler, scheduler)
                    t2 = time.time()
                    vids = decode(comfy_nodes, vae_obj, lat, ss.rendered[0]["video"].shape[1])
                    t3 = time.time()
                    entry["runs"][key] = {"setting": s.name, "cfg": cfg, "seed": seed,
                                          "sample_seconds": round(t2 - t1, 3), "decode_seconds": round(t3 - t2, 3),
                                          "scenarios": score(ss, vids, lat, meter and (
                                              meter_cfgs is None or cfg in meter_cfgs))}
                    say(f"[eval] {Path(dit).parent.name} {key}: sample {t2 - t1:.1f}s decode {t3 - t2:.1f}s")
                    write()
        stock = [k for k, r in entry["runs"].items() if r["setting"] == "stock" and r["cfg"] == cfgs[0]]
        if entry["threshold"] is None and stock and "stays" in scenarios:
            errs = torch.tensor([e for k in stock for e in entry["runs"][k]["scenarios"]["stays"]["bg_error"]])
            entry["threshold"] = tm.collapse_threshold(errs)
        if entry["threshold"] is not None:
            for k, r in entry["runs"].items():
                entry["summary"][k] = summarize(r["scenarios"], entry["threshold"])
        if meter:
            entry["meter_agreement"] = meter_agreement(entry["runs"])
        write()
    report["meta"]["seconds"] = round(time.time() - t0, 1)
    write()
    return report


def table(report: dict) -> str:
    """A Markdown table per model and run: *disappears* success (gone and intact), collapse and gone; *stays* kept,
    kept and intact, false change (gone) and collapse; with Wilson 95 % intervals."""
    def cell(s):
        return f"{s['rate'] * 100:.0f}% [{s['low'] * 100:.0f}–{s['high'] * 100:.0f}]"

    lines = ["| model | run | disappears success | disappears collapse | disappears gone | stays kept | "
             "stays kept & intact | stays gone (false change) | stays collapse |", "|---|---|---|---|---|---|---|---|---|"]
    for name, m in report["models"].items():
        for k, s in m.get("summary", {}).items():
            d, st = s.get("disappears"), s.get("stays")
            lines.append(f"| {name} | {k} | " + (f"{cell(d['success'])} | {cell(d['collapse'])} | {cell(d['gone'])}"
                                                  if d else "– | – | –") + " | " +
                         (f"{cell(st['kept'])} | {cell(st['kept_intact'])} | {cell(st['gone'])} | {cell(st['collapse'])}"
                          if st else "– | – | – | –") + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m nodes.testbed.evaluate", description=__doc__.split("\n")[0])
    p.add_argument("--dits", nargs="+", required=True, help="DiT files (paths or names in diffusion_models)")
    p.add_argument("--vae", default=DEFAULT_VAE, help="testbed VAE (path or name in inertia_testbed_vae)")
    p.add_argument("--setting", action="append", help="NAME or NAME=NODE[:k=v,...][;NODE...] (repeatable); "
                                                      "default: stock and relax=RelaxationCFG")
    p.add_argument("--cfg", type=float, nargs="+", default=[DEFAULT_CFG])
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--scenarios", nargs="+", default=["disappears", "stays"])
    p.add_argument("--n", type=int, default=64)
    p.add_argument("--first", type=int, default=0)
    p.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    p.add_argument("--sampler", default=DEFAULT_SAMPLER)
    p.add_argument("--scheduler", default=DEFAULT_SCHEDULER)
    p.add_argument("--no-meter", action="store_true")
    p.add_argument("--meter-cfg", type=float, nargs="+", help="score the meter only on runs at these cfgs")
    p.add_argument("--threshold", type=float)
    p.add_argument("--seconds", type=float, help="skip runs that would start after this many seconds")
    p.add_argument("--out", default="testbed_eval")
    p.add_argument("--cpu", action="store_true")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout, force=True)
    runtime.setup_comfy_path(runtime.find_comfyui(), cpu=a.cpu or None)
    deadline = time.time() + a.seconds if a.seconds else None
    out_json = str(Path(a.out) / "eval.json")
    rep = evaluate(a.dits, a.vae, a.setting or ["stock", "relax=RelaxationCFG"], a.cfg, a.seeds, a.scenarios, a.n,
                   a.first, a.steps, a.sampler, a.scheduler, not a.no_meter, a.threshold, out_json, deadline,
                   meter_cfgs=a.meter_cfg)
    md = table(rep)
    (Path(a.out) / "table.md").write_text(md + "\n")
    log.info(md)
    for name, m in rep["models"].items():
        if "meter_agreement" in m:
            log.info(f"meter agreement {name}: {m['meter_agreement']}")
    return 0


if __name__ == "__main__":
    if not runtime.running_as_pack():
        runtime.reexec_as_pack("nodes.testbed.evaluate", sys.argv[1:])
    raise SystemExit(main())
