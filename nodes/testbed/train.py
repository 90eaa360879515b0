"""Train the testbed: the VAE, its latent pool, and the DiTs (seeded; loss curves as JSON lines and CSV).

Run from the pack's folder with the Python that runs ComfyUI (the program restarts itself with the pack imported
as ``comfyui_inertia``, see :mod:`.runtime`)::

    python -m nodes.testbed.train vae     --out runs/vae  --seconds 150
    python -m nodes.testbed.train latents --vae runs/vae/inertia_testbed_vae.safetensors --out runs/pool.pt
    python -m nodes.testbed.train dit     --pool runs/pool.pt --out runs/dit_s0 --seed 0 --seconds 200
    python -m nodes.testbed.train all     --out runs --runs clean:0,hallucinated:0-2   # all of it + evaluation

Conventions (what ComfyUI does at sampling time, read from ``comfy/model_base.py`` ``WAN21``,
``comfy/model_sampling.py`` and ``comfy_extras/nodes_wan.py``):

* latents are in the space ComfyUI samples in: the VAE's latents after the Wan 2.1 latent format's
  ``process_latent_in`` ((z − mean) / std);
* the DiT input is ``cat(x_t, mask, image)``: 16 noisy channels, then ComfyUI's concat condition, 4 mask
  channels (1 on latent frame 0, 0 elsewhere: ``1 − concat_mask``) and the 16-channel latent of
  ``WanImageToVideo``'s conditioning video (the start image followed by 0.5-gray frames), process_in'd;
* flow matching as ComfyUI's CONST / ``ModelSamplingDiscreteFlow``: x_t = σ·noise + (1 − σ)·x0, the model
  predicts ``noise − x0``, timestep = σ·1000; σ is drawn with the Wan shift 8 (ComfyUI's default for Wan) for
  60 % of the samples and uniformly for the rest;
* ~10 % text dropout to the conditioning of the empty prompt (zeros), which is what the testbed text encoder gives
  for the empty negative prompt at sampling time.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from . import DEFAULT_DIT, DEFAULT_VAE, runtime

log = logging.getLogger("ComfyUI-Inertia.testbed")

WAN_SHIFT = 8.0
TEXT_DROPOUT = 0.1

#: Training-data designs (mix and caption model) compared for Static Death.
DESIGNS = {
    "clean": {"mix": {"stays": 0.93, "moves_left": 0.015, "moves_right": 0.015, "disappears": 0.03, "appears": 0.01},
              "caption_precision": 1.0},
    "hallucinated": {"mix": {"stays": 0.93, "moves_left": 0.015, "moves_right": 0.015, "disappears": 0.03,
                             "appears": 0.01}, "caption_precision": 0.35},
    "hallucinated_strong": {"mix": {"stays": 0.93, "moves_left": 0.015, "moves_right": 0.015, "disappears": 0.03,
                                    "appears": 0.01}, "caption_precision": 0.15},
}
#: How many videos of each scenario the latent pool holds (designs draw from it with their own mix).
POOL = {"stays": 11000, "moves_left": 1200, "moves_right": 1200, "disappears": 2500, "appears": 1100}


def log_line(path: Path, row: dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")


def write_csv(jsonl: Path, out: Path) -> None:
    rows = [json.loads(x) for x in open(jsonl)] if jsonl.is_file() else []
    if not rows:
        return
    keys = list(rows[0].keys())
    with open(out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)


class LossLog:
    """Mean training loss every ``every`` steps as JSON lines in ``path`` (and a log line every ``say_every``)."""

    def __init__(self, path: Path, tag: str, every: int = 50, say_every: int = 200, digits: int = 4):
        self.path, self.tag, self.every, self.say_every, self.digits = path, tag, every, say_every, digits
        self.t0, self.acc, self.n = time.time(), 0.0, 0
        path.unlink(missing_ok=True)

    def add(self, loss: torch.Tensor, step: int, lr: float) -> None:
        """Add one step's loss (a tensor: no host sync until a row is written); ``step`` counts from 1."""
        self.acc, self.n = self.acc + loss.detach(), self.n + 1
        if step % self.every == 0:
            self._row(step, lr)

    def _row(self, step: int, lr: float) -> None:
        row = {"step": step, "seconds": round(time.time() - self.t0, 2), "loss": float(self.acc) / self.n, "lr": lr}
        log_line(self.path, row)
        if step % self.say_every == 0:
            log.info(f"[{self.tag}] step {step} {row['seconds']:.0f}s loss {row['loss']:.{self.digits}f}")
        self.acc, self.n = 0.0, 0

    def close(self, step: int, lr: float) -> list[float]:
        """Write the last partial row; return the last five logged losses."""
        if self.n:
            self._row(step, lr)
        return [json.loads(x)["loss"] for x in open(self.path)][-5:] if self.path.is_file() else []


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _autocast(device: torch.device):
    """Float32 everywhere (TF32 matmuls and convolutions on CUDA): ComfyUI's Wan classes mix dtypes under autocast."""
    import contextlib

    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    return contextlib.nullcontext()


class _AMP:
    """bf16 autocast for training steps, with a fall-back to float32 if an op of ComfyUI's classes refuses it."""

    def __init__(self, device: torch.device, enabled: bool):
        self.device, self.on = device, bool(enabled)

    def ctx(self):
        import contextlib

        return torch.autocast(self.device.type, dtype=torch.bfloat16) if self.on else contextlib.nullcontext()

    def fail(self, err: Exception) -> None:
        if not self.on:
            raise err
        log.info(f"[amp] bf16 autocast failed ({str(err).splitlines()[0][:200]}); continuing in float32")
        self.on = False


def _lr(step: int, frac: float, base: float, warmup: int) -> float:
    w = min(1.0, (step + 1) / max(1, warmup))
    return base * w * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, frac))))


def save_safetensors(sd: dict, path: Path, metadata: dict, dtype=None) -> None:
    from safetensors.torch import save_file

    out = {k: (v.detach().to("cpu", dtype or v.dtype)).contiguous() for k, v in sd.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_file(out, str(tmp), metadata=metadata)
    os.replace(tmp, path)


# ------------------------------------------------------------------------------------------------ VAE

@dataclass
class VAETrainArgs:
    out: str
    seconds: float = 150.0
    steps: int = 0                      # 0: until `seconds`
    batch: int = 16
    frames: int = 17                    # the clip length used at sampling time: the causal cache must be trained on it
    dim: int = 12
    num_res_blocks: int = 1
    lr: float = 1e-3
    seed: int = 0
    device: str = "auto"
    latent_noise: float = 0.1
    eval_videos: int = 64
    calib_videos: int = 64
    warmup: int = 200
    crop: int = 0                       # train on random crop×crop windows (0: whole 128×128 frames)
    init: str = ""                      # continue from these weights (a testbed VAE file)
    amp: int = 1                        # bf16 autocast on CUDA (falls back to float32)
    freeze_encoder: int = 0             # train the decoder only (with --init): the latent space stays exactly as it is


def _vae_batch(n: int, seed: int, frames: int, device, crop: int = 0) -> torch.Tensor:
    """Training clips ``[n, 3, frames, H, W]`` in [-1, 1]: a change-rich mix, 1 in 8 a WanImageToVideo-style
    conditioning clip (start frame then 0.5 gray). ``crop`` > 0: one random ``crop``×``crop`` window per batch
    (offsets on the 8-px latent grid; the VAE is convolutional, so crops train it ~(128/crop)² times cheaper)."""
    from ..pure import toyworld as tw

    cfg = tw.WorldConfig(mix={"stays": 0.4, "moves_left": 0.15, "moves_right": 0.15, "disappears": 0.2, "appears": 0.1})
    _, r = tw.make_videos(n, seed, cfg, device=device)
    v = r["video"][:, :frames]
    if crop and crop < v.shape[2]:
        gen = torch.Generator().manual_seed(seed + 2)
        oy, ox = (int(torch.randint(0, (v.shape[k] - crop) // 8 + 1, (1,), generator=gen)) * 8 for k in (2, 3))
        v = v[:, :, oy:oy + crop, ox:ox + crop]
    gray = torch.rand(n, generator=torch.Generator().manual_seed(seed + 1)) < 0.125
    if bool(gray.any()):
        cond = torch.full_like(v, 0.5)
        cond[:, 0] = v[:, 0]
        v = torch.where(gray.to(device)[:, None, None, None, None], cond, v)
    return (v * 2 - 1).permute(0, 4, 1, 2, 3).contiguous()


def vae_psnr(vae_module, n: int, device, seed: int = 4242, batch: int = 8, dtype=torch.float32) -> dict:
    """PSNR (dB, RGB in [0, 1]) of encode → decode on ``n`` held-out 17-frame toy videos (training-like mix),
    with the VAE's weights and inputs in ``dtype``."""
    from ..pure import toyworld as tw

    cfg = tw.WorldConfig(mix={"stays": 0.5, "moves_left": 0.125, "moves_right": 0.125, "disappears": 0.15,
                              "appears": 0.1})
    vals = []
    with torch.no_grad():
        for i in range(0, n, batch):
            k = min(batch, n - i)
            _, r = tw.make_videos(k, tw.HELDOUT_SEED + 900_000 + i, cfg, device=device)
            x = (r["video"] * 2 - 1).permute(0, 4, 1, 2, 3).to(dtype)
            with _autocast(device):
                y = vae_module.decode(vae_module.encode(x))
            y = ((y.float().clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 4, 1)
            mse = (y - r["video"]).pow(2).flatten(1).mean(1)
            vals.append(10 * torch.log10(1 / mse.clamp_min(1e-10)))
    p = torch.cat(vals).double()
    return {"psnr_mean": float(p.mean()), "psnr_min": float(p.min()), "psnr_median": float(p.median()), "n": len(p)}


def train_vae(a: VAETrainArgs) -> dict:
    from .models import VAEConfig, build_vae_module, calibrate_vae_latents, config_metadata, wan21_latent_stats

    device = _device(a.device)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    logf = out / "vae_loss.jsonl"
    cfg = VAEConfig(dim=a.dim, num_res_blocks=a.num_res_blocks)
    model = build_vae_module(cfg, seed=a.seed)
    if a.init:
        from safetensors.torch import load_file

        model.load_state_dict(load_file(a.init))
        log.info(f"[vae] continuing from {a.init}")
    model = model.to(device).train()
    amp = _AMP(device, a.amp and device.type == "cuda")
    if a.freeze_encoder:
        if not a.init:
            raise SystemExit("--freeze-encoder needs --init: a trained, calibrated VAE whose latent space to keep")
        # encoder and conv1 fixed: every latent (the DiTs' training pool, WanImageToVideo's) stays bit-identical
        model.encoder.requires_grad_(False)
        model.conv1.requires_grad_(False)
    train_params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(train_params, lr=a.lr, betas=(0.9, 0.99), weight_decay=1e-4)
    n_params = sum(p.numel() for p in model.parameters())
    log.info(f"[vae] {n_params / 1e6:.2f}M params ({sum(p.numel() for p in train_params) / 1e6:.2f}M trained), "
             f"device {device}")
    t0 = time.time()
    step, lr = 0, 0.0
    losses = LossLog(logf, "vae", say_every=200, digits=5)
    g = torch.Generator(device="cpu").manual_seed(a.seed)
    while True:
        el = time.time() - t0
        frac = step / a.steps if a.steps else el / a.seconds
        if frac >= 1.0:
            break
        x = _vae_batch(a.batch, 10_000_019 * (a.seed + 1) + step, a.frames, device, a.crop)
        lr = _lr(step, frac, a.lr, a.warmup)
        for pg in opt.param_groups:
            pg["lr"] = lr
        noise = torch.randn((x.shape[0], cfg.z_dim, (x.shape[2] - 1) // 4 + 1, x.shape[3] // 8, x.shape[4] // 8),
                            generator=g).to(device)
        opt.zero_grad(set_to_none=True)
        try:
            with _autocast(device), amp.ctx():
                with torch.set_grad_enabled(not a.freeze_encoder):
                    mu = model.encode(x)
                z = mu + a.latent_noise * mu.detach().float().std() * noise
                y = model.decode(z)
            y = y.float()
            loss = (y - x).pow(2).mean() + 0.1 * (y - x).abs().mean() + 1e-5 * mu.float().pow(2).mean()
            loss.backward()
        except RuntimeError as e:
            amp.fail(e)
            continue
        torch.nn.utils.clip_grad_norm_(train_params, 1.0)
        opt.step()
        step += 1
        losses.add(loss, step, lr)
    train_s = time.time() - t0
    final = losses.close(step, lr)
    model.eval()
    if not a.freeze_encoder:  # a frozen encoder is already calibrated; recalibrating would move its latents
        # calibrate the latent space to the Wan 2.1 latent format's statistics (exact; decoding unchanged)
        with torch.no_grad(), _autocast(device):
            mus = [model.encode(_vae_batch(min(8, a.calib_videos - i), 77_000 + i, 17, device)).float()
                   for i in range(0, a.calib_videos, 8)]
        mu = torch.cat(mus).transpose(0, 1).flatten(1)                    # [16, N]
        tm, ts = wan21_latent_stats()
        calibrate_vae_latents(model, mu.mean(1).cpu(), mu.std(1).cpu().clamp_min(1e-6), tm, ts)
    psnr = vae_psnr(model, a.eval_videos, device)
    if device.type == "cuda":  # ComfyUI runs the VAE in bf16 on CUDA
        import copy

        psnr["bf16"] = vae_psnr(copy.deepcopy(model).to(torch.bfloat16), a.eval_videos, device, dtype=torch.bfloat16)
    path = out / DEFAULT_VAE
    save_safetensors(model.state_dict(), path, config_metadata(cfg), dtype=torch.float32)
    write_csv(logf, out / "vae_loss.csv")
    res = {"vae": str(path), "params": n_params, "steps": step, "train_seconds": round(train_s, 1),
           "final_loss": sum(final) / max(1, len(final)), "config": asdict(cfg), "heldout": psnr,
           "args": asdict(a)}
    json.dump(res, open(out / "vae_result.json", "w"), indent=1)
    log.info(f"[vae] done: {step} steps in {train_s:.0f}s, PSNR {psnr['psnr_mean']:.2f} dB "
          f"(min {psnr['psnr_min']:.2f}) on {psnr['n']} held-out videos")
    return res


# ------------------------------------------------------------------------------------------- latent pool

def _scene_token_ids(specs: dict, vocab_index: dict) -> list[list[int]]:
    from ..pure import toyworld as tw

    ids = []
    for i in range(len(specs["prompts"])):
        text = tw.scene_prompt(list(tw.COLORS)[int(specs["color"][i])], tw.SHAPES[int(specs["shape"][i])],
                               list(tw.TINTS)[int(specs["tint"][i])], tw.PATTERNS[int(specs["pattern"][i])],
                               int(specs["template"][i]), int(specs["synonym"][i]), int(specs["pattern_word"][i]))
        ids.append([vocab_index[w] for w in tw.tokenize(text)])
    return ids


def build_pool(vae_path: str, out: str, counts: dict | None = None, seed: int = 0, device: str = "auto",
               batch: int = 64) -> dict:
    """Render the pool's videos, encode them and their WanImageToVideo conditioning videos with the VAE, and
    save process_in'd latents (fp16) with labels and scene token ids to ``out`` (a ``torch.save`` file)."""
    from safetensors.torch import load_file

    from ..pure import toyworld as tw
    from .models import build_vae_module, vae_config_from_state_dict, wan21_latent_stats

    dev = _device(device)
    sd = load_file(vae_path)
    vae = build_vae_module(vae_config_from_state_dict(sd)).eval()
    vae.load_state_dict(sd)
    # the dtype ComfyUI's VAE runs in on this device (bf16 on CUDA, float32 on CPU), so the pool's latents are the
    # ones WanImageToVideo will give at sampling time
    import comfy.model_management as mm

    vdtype = mm.vae_dtype(dev, [torch.bfloat16, torch.float16, torch.float32])
    vae = vae.to(dev, vdtype)
    mean, std = (t.view(1, -1, 1, 1, 1).to(dev) for t in wan21_latent_stats())
    vocab = tw.vocabulary()
    vindex = {w: i for i, w in enumerate(vocab)}
    counts = counts or POOL
    z_all, c_all, lab, ids = [], [], [], []
    t0 = time.time()
    for si, scen in enumerate(tw.SCENARIOS):
        n = int(counts.get(scen, 0))
        for j in range(0, n, batch):
            k = min(batch, n - j)
            specs = tw.sample_specs(k, tw.training_seed(seed, 100_000 * si + j), tw.WorldConfig(), scen)
            r = tw.render(specs, dev)
            v = r["video"]
            cond = torch.full_like(v, 0.5)
            cond[:, 0] = v[:, 0]
            with torch.no_grad(), _autocast(dev):
                x = torch.cat([v, cond]) * 2 - 1
                mu = vae.encode(x.permute(0, 4, 1, 2, 3).contiguous().to(vdtype)).float()
            mu = (mu - mean) / std
            z_all.append(mu[:k].half().cpu())
            c_all.append(mu[k:].half().cpu())
            lab.append(torch.full((k,), si, dtype=torch.long))
            ids.extend(_scene_token_ids(specs, vindex))
        log.info(f"[pool] {scen}: {n} videos, {time.time() - t0:.0f}s")
    L = max(len(x) for x in ids)
    tok = torch.full((len(ids), L), len(vocab), dtype=torch.long)
    for i, x in enumerate(ids):
        tok[i, :len(x)] = torch.tensor(x)
    pool = {"z": torch.cat(z_all), "c": torch.cat(c_all), "scenario": torch.cat(lab), "scene_ids": tok,
            "vocab": vocab, "vae": str(vae_path), "seed": seed}
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    torch.save(pool, out)
    stats = {"videos": int(pool["z"].shape[0]), "seconds": round(time.time() - t0, 1),
             "latent_mean": float(pool["z"].float().mean()), "latent_std": float(pool["z"].float().std())}
    log.info(f"[pool] saved {out}: {stats}")
    return stats


# ------------------------------------------------------------------------------------------------ DiT

@dataclass
class DiTTrainArgs:
    pool: str
    out: str
    design: str = "hallucinated"
    seed: int = 0
    seconds: float = 200.0
    steps: int = 0
    batch: int = 256
    lr: float = 6e-4
    dim: int = 128
    ffn_dim: int = 512
    num_layers: int = 6
    device: str = "auto"
    ema: float = 0.999
    text_dropout: float = TEXT_DROPOUT
    shift: float = WAN_SHIFT
    warmup: int = 300
    init: str = ""                      # continue from these weights (a testbed DiT file)
    amp: int = 1                        # bf16 autocast on CUDA (falls back to float32)
    design_overrides: dict = field(default_factory=dict)


def _phrase_table(vocab_index: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids of every scenario phrase ``[S, P, Lp]`` (pad = len(vocab)) and the phrase counts ``[S]``."""
    from ..pure import toyworld as tw

    S = len(tw.SCENARIOS)
    P = max(len(v) for v in tw.PHRASES.values())
    Lp = max(len(tw.tokenize(p)) for v in tw.PHRASES.values() for p in v)
    pad = len(vocab_index)
    t = torch.full((S, P, Lp), pad, dtype=torch.long)
    n = torch.zeros(S, dtype=torch.long)
    for si, s in enumerate(tw.SCENARIOS):
        n[si] = len(tw.PHRASES[s])
        for pi, p in enumerate(tw.PHRASES[s]):
            w = tw.tokenize(p)
            if w:
                t[si, pi, :len(w)] = torch.tensor([vocab_index[x] for x in w])
    return t, n


def _compact(ids: torch.Tensor, pad: int, length: int) -> torch.Tensor:
    """Move non-pad ids of each row to the front (stable), pad to ``length``."""
    is_pad = ids == pad
    order = torch.argsort(is_pad.to(torch.int8), dim=1, stable=True)
    out = torch.gather(ids, 1, order)[:, :length]
    if out.shape[1] < length:
        out = torch.cat([out, torch.full((ids.shape[0], length - out.shape[1]), pad, device=ids.device,
                                         dtype=ids.dtype)], 1)
    return out


def dit_input(xt: torch.Tensor, cond: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """The DiT's input in ComfyUI's Wan I2V convention: ``cat(x_t, mask, image)`` ``[B, 36, T, h, w]``.

    ``x_t``: the noisy latents ``[B, 16, T, h, w]``; ``cond``: the process_in'd latent of WanImageToVideo's
    conditioning video (start image, then 0.5 gray) ``[B, 16, T, h, w]``; the 4 mask channels are 1 on latent
    frame 0 (the start image's) and 0 elsewhere, i.e. ``1 − concat_mask`` as ``comfy/model_base.py``
    ``WAN21.concat_cond`` builds it (:func:`i2v_mask`; pass ``mask`` to build it once per run, not per step).
    """
    if mask is None:
        mask = i2v_mask(xt.shape[0], xt.shape[2:], xt.device)
    return torch.cat([xt, mask.to(xt.dtype), cond.to(xt.dtype)], dim=1)


def i2v_mask(batch: int, thw, device=None) -> torch.Tensor:
    """The 4 mask channels of :func:`dit_input` for ``batch`` latents of ``thw`` = (latent frames, h, w):
    ``[batch, 4, T, h, w]`` float32, 1 on latent frame 0 and 0 elsewhere."""
    mask = torch.zeros(batch, 4, *thw, device=device)
    mask[:, :, 0] = 1.0
    return mask


def train_dit(a: DiTTrainArgs) -> dict:
    from ..pure import toyworld as tw
    from .models import DiTConfig, build_dit_module, config_metadata

    device = _device(a.device)
    torch.manual_seed(a.seed)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    logf = out / "dit_loss.jsonl"
    design = {**DESIGNS[a.design], **a.design_overrides}
    world = tw.WorldConfig(mix=design["mix"], caption_precision=design["caption_precision"])
    mix = world.weights().float()
    h = world.hallucination_rate()
    pool = torch.load(a.pool, map_location="cpu", weights_only=False)
    vocab = pool["vocab"]
    if vocab != tw.vocabulary():
        raise RuntimeError("the pool's vocabulary differs from the toy world's: rebuild the pool")
    vindex = {w: i for i, w in enumerate(vocab)}
    pad = len(vocab)
    table = torch.cat([torch.stack([tw.word_vector(w) for w in vocab]), torch.zeros(1, tw.TEXT_DIM)]).to(device)
    phrases, n_phr = _phrase_table(vindex)
    phrases, n_phr = phrases.to(device), n_phr.to(device)
    z, c = pool["z"].to(device), pool["c"].to(device)
    scen = pool["scenario"].to(device)
    scene_ids = pool["scene_ids"].to(device)
    by_class = [torch.nonzero(scen == i).flatten() for i in range(len(tw.SCENARIOS))]
    for i, idx in enumerate(by_class):
        if mix[i] > 0 and idx.numel() == 0:
            raise RuntimeError(f"the pool has no {tw.SCENARIOS[i]} videos but the design's mix asks for them")
    by_class = [idx if idx.numel() else torch.zeros(1, dtype=torch.long, device=device) for idx in by_class]
    change_mix = mix[1:] / mix[1:].sum()
    mix_d = mix.to(device)
    cfg = DiTConfig(dim=a.dim, ffn_dim=a.ffn_dim, num_layers=a.num_layers)
    model = build_dit_module(cfg, seed=a.seed)
    if a.init:
        from safetensors.torch import load_file

        model.load_state_dict({k: v.float() for k, v in load_file(a.init).items()})
        log.info(f"[dit {a.design} s{a.seed}] continuing from {a.init}")
    model = model.to(device).train()
    amp = _AMP(device, a.amp and device.type == "cuda")
    ema = {k: v.detach().clone().float() for k, v in model.state_dict().items()}
    model_vals = list(model.state_dict().values())                  # live views of the parameters
    ema_vals = list(ema.values())
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(0.9, 0.99), weight_decay=0.01)
    g = torch.Generator(device=device).manual_seed(a.seed)
    B = a.batch
    log.info(f"[dit {a.design} s{a.seed}] {n_params / 1e6:.2f}M params, pool {z.shape[0]}, hallucination rate "
          f"{h:.3f}, device {device}")
    mask = i2v_mask(B, z.shape[2:], device)  # the same every step
    t0 = time.time()
    step, lr = 0, 0.0
    losses = LossLog(logf, f"dit {a.design} s{a.seed}", say_every=500)
    while True:
        el = time.time() - t0
        frac = step / a.steps if a.steps else el / a.seconds
        if frac >= 1.0:
            break
        # --- a batch: scenario by the design's mix, a pool video of it, its caption
        cls = torch.multinomial(mix_d, B, replacement=True, generator=g)
        cand = torch.stack([idx[torch.randint(0, idx.numel(), (B,), device=device, generator=g)] for idx in by_class])
        pick = cand[cls, torch.arange(B, device=device)]                       # no host sync
        cap = cls.clone()
        halluc = (cls == 0) & (torch.rand(B, device=device, generator=g) < h)
        fake = 1 + torch.multinomial(change_mix.to(device), B, replacement=True, generator=g)
        cap = torch.where(halluc, fake, cap)
        ph = (torch.rand(B, device=device, generator=g) * n_phr[cap]).long()
        ids = torch.cat([scene_ids[pick], phrases[cap, ph]], dim=1)
        drop = torch.rand(B, device=device, generator=g) < a.text_dropout
        ids = torch.where(drop[:, None], torch.full_like(ids, pad), ids)
        ids = _compact(ids, pad, tw.TEXT_LENGTH)
        context = table[ids]                                                   # [B, 32, 4096]
        x0 = z[pick].float()
        cond = c[pick].float()
        noise = torch.randn(x0.shape, device=device, generator=g)
        u = torch.rand(B, device=device, generator=g)
        shifted = torch.rand(B, device=device, generator=g) < 0.6
        sigma = torch.where(shifted, a.shift * u / (1 + (a.shift - 1) * u), u).clamp(1e-4, 1.0)
        s = sigma.view(B, 1, 1, 1, 1)
        xt = s * noise + (1 - s) * x0
        inp = dit_input(xt, cond, mask)
        lr = _lr(step, frac, a.lr, a.warmup)
        for pg in opt.param_groups:
            pg["lr"] = lr
        opt.zero_grad(set_to_none=True)
        try:
            with _autocast(device), amp.ctx():
                pred = model(inp, sigma * 1000.0, context)
            loss = (pred.float() - (noise - x0)).pow(2).mean()
            loss.backward()
        except RuntimeError as e:
            amp.fail(e)
            continue
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        d = min(a.ema, (1 + step) / (10 + step))
        with torch.no_grad():
            torch._foreach_lerp_(ema_vals, [v.float() for v in model_vals], 1 - d)
        step += 1
        losses.add(loss, step, lr)
    train_s = time.time() - t0
    final = losses.close(step, lr)
    path = out / DEFAULT_DIT
    save_safetensors(ema, path, config_metadata(cfg), dtype=torch.float16)
    write_csv(logf, out / "dit_loss.csv")
    res = {"dit": str(path), "params": n_params, "steps": step, "train_seconds": round(train_s, 1),
           "final_loss": sum(final) / max(1, len(final)), "design": design, "hallucination_rate": h,
           "config": asdict(cfg), "args": asdict(a)}
    json.dump(res, open(out / "dit_result.json", "w"), indent=1)
    log.info(f"[dit {a.design} s{a.seed}] done: {step} steps in {train_s:.0f}s, final loss {res['final_loss']:.4f}")
    return res


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
