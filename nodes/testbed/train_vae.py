"""Train the testbed VAE (ComfyUI's ``WanVAE`` at a small width) on toy-world clips, with its held-out PSNR and
latent calibration; run through ``python -m nodes.testbed.train vae``."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from . import DEFAULT_VAE
from .train_common import AMP, LossLog, autocast, lr_at, pick_device, save_safetensors, write_csv

log = logging.getLogger("ComfyUI-Inertia.testbed")

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
            with autocast(device):
                y = vae_module.decode(vae_module.encode(x))
            y = ((y.float().clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 4, 1)
            mse = (y - r["video"]).pow(2).flatten(1).mean(1)
            vals.append(10 * torch.log10(1 / mse.clamp_min(1e-10)))
    p = torch.cat(vals).double()
    return {"psnr_mean": float(p.mean()), "psnr_min": float(p.min()), "psnr_median": float(p.median()), "n": len(p)}


def train_vae(a: VAETrainArgs) -> dict:
    from .models import VAEConfig, build_vae_module, calibrate_vae_latents, config_metadata, wan21_latent_stats

    device = pick_device(a.device)
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
    amp = AMP(device, a.amp and device.type == "cuda")
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
        lr = lr_at(step, frac, a.lr, a.warmup)
        for pg in opt.param_groups:
            pg["lr"] = lr
        noise = torch.randn((x.shape[0], cfg.z_dim, (x.shape[2] - 1) // 4 + 1, x.shape[3] // 8, x.shape[4] // 8),
                            generator=g).to(device)
        opt.zero_grad(set_to_none=True)
        try:
            with autocast(device), amp.ctx():
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
        with torch.no_grad(), autocast(device):
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
