"""Encode the latent pool and train a testbed DiT (ComfyUI's ``WanModel``); run through
``python -m nodes.testbed.train latents`` / ``dit``.

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

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from . import DEFAULT_DIT
from .train_common import (
    AMP,
    TEXT_DROPOUT,
    WAN_SHIFT,
    LossLog,
    autocast,
    lr_at,
    pick_device,
    save_safetensors,
    write_csv,
)

log = logging.getLogger("ComfyUI-Inertia.testbed")

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

    dev = pick_device(device)
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
            with torch.no_grad(), autocast(dev):
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

    device = pick_device(a.device)
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
    amp = AMP(device, a.amp and device.type == "cuda")
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
        lr = lr_at(step, frac, a.lr, a.warmup)
        for pg in opt.param_groups:
            pg["lr"] = lr
        opt.zero_grad(set_to_none=True)
        try:
            with autocast(device), amp.ctx():
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
