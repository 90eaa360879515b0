"""Train the testbed: the VAE, its latent pool, and the DiTs (seeded; loss curves as JSON lines and CSV).

Run from the pack's folder with the Python that runs ComfyUI (the program restarts itself with the pack imported
as ``comfyui_inertia``, see :mod:`.runtime`)::

    python -m nodes.testbed.train vae     --out runs/vae  --seconds 150
    python -m nodes.testbed.train latents --vae runs/vae/inertia_testbed_vae.safetensors --out runs/pool.pt
    python -m nodes.testbed.train dit     --pool runs/pool.pt --out runs/dit_s0 --seed 0 --seconds 200
    python -m nodes.testbed.train all     --out runs --runs clean:0,hallucinated:0-2   # all of it + evaluation

The stages live in :mod:`.train_vae`, :mod:`.train_dit` (with the latent pool and the training conventions)
and :mod:`.train_common`; this module runs them from the command line and as one pipeline.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

from . import DEFAULT_DIT, runtime
from .train_dit import DESIGNS, DiTTrainArgs, build_pool, train_dit
from .train_vae import VAETrainArgs, train_vae

log = logging.getLogger("ComfyUI-Inertia.testbed")

# ------------------------------------------------------------------------------------------- pipeline

def _spawn(module: str, args: list[str], log: Path, threads: int = 2) -> subprocess.Popen:
    cmd = [sys.executable, "-m", module, *args]
    f = open(log, "w")
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    return subprocess.Popen(cmd, cwd=str(runtime.PACK_DIR), stdout=f, stderr=subprocess.STDOUT, env=env)


def parse_runs(text: str) -> list[tuple[str, int]]:
    """``"clean:0,hallucinated:0-2"`` → ``[("clean", 0), ("hallucinated", 0), …]``."""
    out = []
    for item in filter(None, (x.strip() for x in text.split(","))):
        d, _, seeds = item.partition(":")
        if d not in DESIGNS:
            raise SystemExit(f"unknown design {d!r}; known: {sorted(DESIGNS)}")
        lo, _, hi = (seeds or "0").partition("-")
        out += [(d, s) for s in range(int(lo), int(hi or lo) + 1)]
    return out


def train_dits(pool: Path, runs: list[tuple[str, int]], out: Path, seconds: float, device: str,
               dit_kw: dict | None = None) -> dict:
    """One DiT per (design, seed), each in its own process, all at once; returns their results."""
    procs = []
    for d, s in runs:
        run_dir = out / f"dit_{d}_s{s}"
        run_dir.mkdir(parents=True, exist_ok=True)
        extra = [f"--{k.replace('_', '-')}={v}" for k, v in (dit_kw or {}).items()]
        procs.append((d, s, run_dir, _spawn("nodes.testbed.train", [
            "dit", "--pool", str(pool), "--out", str(run_dir), "--design", d, "--seed", str(s), "--seconds",
            str(seconds), "--device", device, *extra], run_dir / "train.log")))
    res = {}
    for d, s, run_dir, p in procs:
        p.wait()
        tail = open(run_dir / "train.log").read()[-400:]
        log.info(f"[all] dit {d} s{s}: exit {p.returncode}\n{tail}")
        f = run_dir / "dit_result.json"
        res[f"{d}_s{s}"] = json.load(open(f)) if f.is_file() else None
    return res


def evaluate_dits(vae: str, dits: list[Path], out: Path, eval_args: list[str], seconds: float | None) -> dict:
    """One evaluation process per DiT, all at once (``nodes.testbed.evaluate``); returns the exit codes."""
    procs = []
    for dit in dits:
        d = out / dit.parent.name
        d.mkdir(parents=True, exist_ok=True)
        extra = ["--seconds", str(seconds)] if seconds else []
        procs.append((dit, d, _spawn("nodes.testbed.evaluate", ["--vae", vae, "--out", str(d), *eval_args, *extra,
                                                                 "--dits", str(dit)], d / "eval.log")))
    codes = {}
    for dit, d, p in procs:
        p.wait()
        codes[dit.parent.name] = p.returncode
        log.info(f"[all] eval {dit.parent.name}: exit {p.returncode}\n" + open(d / "eval.log").read()[-1500:])
    return codes


def pipeline(out: str, runs: list[tuple[str, int]], vae_seconds: float, dit_seconds: float,
             eval_args: list[str] | None, device: str = "auto", vae_kw: dict | None = None,
             dit_kw: dict | None = None, pool_counts: dict | None = None, total_seconds: float | None = None,
             eval_seconds: float = 90.0, vae_finetune_seconds: float = 0.0) -> dict:
    """VAE → latent pool → one DiT per (design, seed) in parallel processes → one evaluation per DiT in parallel.

    ``vae_finetune_seconds`` > 0: while the DiTs train, a further process trains the VAE's *decoder* on (its
    encoder frozen, so the latents the DiTs learn and WanImageToVideo gives stay exactly the same); the evaluation
    and the shipped VAE are that fine-tuned one. With ``total_seconds`` the DiTs (and the fine-tune) get what is
    left after the VAE and the pool, less ``eval_seconds`` + 30 s."""
    o = Path(out)
    o.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    res = {"vae": train_vae(VAETrainArgs(out=str(o / "vae"), seconds=vae_seconds, device=device, **(vae_kw or {})))}
    pool = o / "pool.pt"
    res["pool"] = build_pool(res["vae"]["vae"], str(pool), pool_counts, device=device)
    if total_seconds:
        left = total_seconds - (time.time() - t0) - eval_seconds - 30
        dit_seconds = max(30.0, min(dit_seconds, left))
    res["dit_seconds"] = dit_seconds
    log.info(f"[all] DiTs: {len(runs)} runs, {dit_seconds:.0f}s each ({time.time() - t0:.0f}s so far)")
    ft = None
    if vae_finetune_seconds > 0:
        kw = vae_kw or {}
        ft_dir = o / "vae_decoder"
        ft_dir.mkdir(parents=True, exist_ok=True)
        ft_args = ["vae", "--out", str(ft_dir), "--init", res["vae"]["vae"], "--freeze-encoder", "1",
                   "--seconds", str(min(vae_finetune_seconds, dit_seconds)), "--device", device, "--warmup", "50",
                   "--lr", "3e-4"]
        for k in ("batch", "crop", "dim", "eval_videos"):
            if k in kw and kw[k]:
                ft_args += [f"--{k.replace('_', '-')}", str(kw[k])]
        ft = _spawn("nodes.testbed.train", ft_args, ft_dir / "train.log")
    res["dits"] = train_dits(pool, runs, o, dit_seconds, device, dit_kw)
    vae_final = res["vae"]["vae"]
    if ft is not None:
        ft.wait()
        f = o / "vae_decoder" / "vae_result.json"
        log.info(f"[all] VAE decoder fine-tune: exit {ft.returncode}\n" + open(o / "vae_decoder" / "train.log").read()[-600:])
        if ft.returncode == 0 and f.is_file():
            res["vae_decoder"] = json.load(open(f))
            vae_final = res["vae_decoder"]["vae"]
    res["vae_final"] = vae_final
    json.dump(res, open(o / "train_summary.json", "w"), indent=1)
    if eval_args is not None:
        dits = [o / f"dit_{d}_s{s}" / DEFAULT_DIT for d, s in runs if (o / f"dit_{d}_s{s}" / DEFAULT_DIT).is_file()]
        if total_seconds:
            eval_seconds = max(10.0, total_seconds - (time.time() - t0) - 25)
        res["eval_exit"] = evaluate_dits(vae_final, dits, o / "eval", eval_args, eval_seconds)
    res["seconds"] = round(time.time() - t0, 1)
    json.dump(res, open(o / "train_summary.json", "w"), indent=1)
    return res


def _parse_counts(text: str | None) -> dict | None:
    if not text:
        return None
    return {k: int(v) for k, v in (x.split(":") for x in text.split(","))}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m nodes.testbed.train", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("vae", help="train the VAE")
    v.add_argument("--out", required=True)
    for k in ("seconds", "lr", "latent_noise"):
        v.add_argument(f"--{k.replace('_', '-')}", type=float, default=getattr(VAETrainArgs, k))
    for k in ("steps", "batch", "frames", "dim", "num_res_blocks", "seed", "eval_videos", "calib_videos", "warmup",
              "amp", "crop", "freeze_encoder"):
        v.add_argument(f"--{k.replace('_', '-')}", type=int, default=getattr(VAETrainArgs, k))
    v.add_argument("--init", default="", help="continue from this testbed VAE file")
    v.add_argument("--device", default="auto")
    lp = sub.add_parser("latents", help="encode the latent pool")
    lp.add_argument("--vae", required=True)
    lp.add_argument("--out", required=True)
    lp.add_argument("--counts", help="scenario:count,... (default: the POOL table)")
    lp.add_argument("--seed", type=int, default=0)
    lp.add_argument("--device", default="auto")
    d = sub.add_parser("dit", help="train one DiT")
    d.add_argument("--pool", required=True)
    d.add_argument("--out", required=True)
    d.add_argument("--design", default="hallucinated", choices=sorted(DESIGNS))
    for k in ("seconds", "lr", "ema", "text_dropout", "shift"):
        d.add_argument(f"--{k.replace('_', '-')}", type=float, default=getattr(DiTTrainArgs, k))
    for k in ("seed", "steps", "batch", "dim", "ffn_dim", "num_layers", "warmup", "amp"):
        d.add_argument(f"--{k.replace('_', '-')}", type=int, default=getattr(DiTTrainArgs, k))
    d.add_argument("--init", default="", help="continue from this testbed DiT file")
    d.add_argument("--device", default="auto")
    a = sub.add_parser("all", help="VAE, pool, DiTs in parallel, evaluation")
    a.add_argument("--out", required=True)
    a.add_argument("--runs", default="hallucinated:0-2", help="design:seed[-seed],... e.g. clean:0,hallucinated:0-2")
    a.add_argument("--total-seconds", type=float, help="whole-pipeline budget (the DiTs get what is left)")
    a.add_argument("--eval-seconds", type=float, default=90)
    a.add_argument("--vae-seconds", type=float, default=150)
    a.add_argument("--dit-seconds", type=float, default=200)
    a.add_argument("--device", default="auto")
    a.add_argument("--vae-dim", type=int, default=VAETrainArgs.dim)
    a.add_argument("--vae-batch", type=int, default=VAETrainArgs.batch)
    a.add_argument("--vae-steps", type=int, default=0)
    a.add_argument("--vae-eval-videos", type=int, default=VAETrainArgs.eval_videos)
    a.add_argument("--vae-calib-videos", type=int, default=VAETrainArgs.calib_videos)
    a.add_argument("--vae-crop", type=int, default=0, help="train the VAE on crop×crop windows (e.g. 64)")
    a.add_argument("--dit-steps", type=int, default=0)
    a.add_argument("--dit-batch", type=int, default=DiTTrainArgs.batch)
    a.add_argument("--dit-dim", type=int, default=DiTTrainArgs.dim)
    a.add_argument("--dit-layers", type=int, default=DiTTrainArgs.num_layers)
    a.add_argument("--dit-lr", type=float, default=DiTTrainArgs.lr)
    a.add_argument("--dit-warmup", type=int, default=DiTTrainArgs.warmup)
    a.add_argument("--vae-lr", type=float, default=VAETrainArgs.lr)
    a.add_argument("--vae-finetune-seconds", type=float, default=0.0,
                   help="train the VAE decoder (encoder frozen) this long while the DiTs train")
    a.add_argument("--pool-counts", help="scenario:count,... (default: the POOL table)")
    a.add_argument("--no-eval", action="store_true")
    a.add_argument("--eval-args", default="", help="extra arguments for nodes.testbed.evaluate, one string")
    ns = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout, force=True)
    runtime.setup_comfy_path(runtime.find_comfyui(), cpu=(ns.device == "cpu") or None)
    if ns.cmd == "vae":
        train_vae(VAETrainArgs(**{k: getattr(ns, k) for k in VAETrainArgs.__dataclass_fields__}))
    elif ns.cmd == "latents":
        build_pool(ns.vae, ns.out, _parse_counts(ns.counts), ns.seed, ns.device)
    elif ns.cmd == "dit":
        train_dit(DiTTrainArgs(**{k: getattr(ns, k) for k in DiTTrainArgs.__dataclass_fields__
                                  if k != "design_overrides"}))
    else:
        pipeline(ns.out, parse_runs(ns.runs), ns.vae_seconds, ns.dit_seconds,
                 None if ns.no_eval else ns.eval_args.split(), ns.device,
                 vae_kw={"dim": ns.vae_dim, "batch": ns.vae_batch, "steps": ns.vae_steps, "lr": ns.vae_lr,
                         "eval_videos": ns.vae_eval_videos, "calib_videos": ns.vae_calib_videos, "crop": ns.vae_crop},
                 dit_kw={"steps": ns.dit_steps, "batch": ns.dit_batch, "dim": ns.dit_dim, "num_layers": ns.dit_layers,
                         "lr": ns.dit_lr, "warmup": ns.dit_warmup},
                 pool_counts=_parse_counts(ns.pool_counts), total_seconds=ns.total_seconds,
                 eval_seconds=ns.eval_seconds, vae_finetune_seconds=ns.vae_finetune_seconds)
    return 0


if __name__ == "__main__":
    if not runtime.running_as_pack():
        runtime.reexec_as_pack("nodes.testbed.train", sys.argv[1:])
    raise SystemExit(main())
