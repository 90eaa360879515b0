"""Shared pieces of the testbed training stages: loss logs (JSON lines, CSV), device and mixed precision,
the learning-rate schedule, safetensors writing."""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import time
from pathlib import Path

import torch

log = logging.getLogger("ComfyUI-Inertia.testbed")

WAN_SHIFT = 8.0
TEXT_DROPOUT = 0.1


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


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def autocast(device: torch.device):
    """Float32 everywhere (TF32 matmuls and convolutions on CUDA): ComfyUI's Wan classes mix dtypes under autocast."""
    import contextlib

    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    return contextlib.nullcontext()


class AMP:
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


def lr_at(step: int, frac: float, base: float, warmup: int) -> float:
    w = min(1.0, (step + 1) / max(1, warmup))
    return base * w * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, frac))))


def save_safetensors(sd: dict, path: Path, metadata: dict, dtype=None) -> None:
    from safetensors.torch import save_file

    out = {k: (v.detach().to("cpu", dtype or v.dtype)).contiguous() for k, v in sd.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_file(out, str(tmp), metadata=metadata)
    os.replace(tmp, path)
