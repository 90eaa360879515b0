"""The testbed's training script on CPU, in seconds: a tiny VAE, its decoder-only fine-tune, a latent pool and
two DiT steps (real ComfyUI classes: ``WanVAE``, ``WanModel``). Checks what the trained files must hold, not
quality (the shipped weights' quality is measured by ``nodes.testbed.evaluate`` / ``diagnose``)."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from comfyui_inertia.nodes.testbed import train_dit, train_vae


@pytest.fixture(scope="module")
def tiny_vae(comfy, tmp_path_factory):
    out = tmp_path_factory.mktemp("vae")
    res = train_vae.train_vae(train_vae.VAETrainArgs(out=str(out), steps=2, batch=1, frames=5, dim=4, crop=16,
                                                     eval_videos=1, calib_videos=2, warmup=1, device="cpu"))
    return out, res


def test_vae_training_writes_a_calibrated_loadable_vae_and_loss_log(tiny_vae, comfy):
    from comfyui_inertia.nodes.testbed.models import testbed_vae

    out, res = tiny_vae
    assert res["steps"] == 2 and (out / "vae_loss.jsonl").is_file() and (out / "vae_loss.csv").is_file()
    rows = [json.loads(x) for x in open(out / "vae_loss.jsonl")]
    assert rows[-1]["step"] == 2 and all(torch.isfinite(torch.tensor(r["loss"])) for r in rows)
    vae = testbed_vae(load_file(res["vae"]))              # the loader node's path: a ComfyUI VAE
    assert vae.latent_channels == 16 and 0 < res["heldout"]["psnr_mean"] < 60


def test_freeze_encoder_keeps_every_latent_and_trains_the_decoder(tiny_vae, tmp_path):
    out, res = tiny_vae
    res2 = train_vae.train_vae(train_vae.VAETrainArgs(out=str(tmp_path), steps=2, batch=1, frames=5, dim=4, crop=16,
                                                      eval_videos=1, calib_videos=2, warmup=1, device="cpu",
                                                      init=res["vae"], freeze_encoder=1, lr=1e-2))
    a, b = load_file(res["vae"]), load_file(res2["vae"])
    enc = [k for k in a if k.startswith(("encoder.", "conv1."))]
    dec = [k for k in a if k not in enc]
    assert enc and dec
    assert all(torch.equal(a[k], b[k]) for k in enc), "the frozen encoder (or its calibration) moved"
    assert any(not torch.equal(a[k], b[k]) for k in dec), "the decoder did not train"
    with pytest.raises(SystemExit, match="--freeze-encoder needs --init"):
        train_vae.train_vae(train_vae.VAETrainArgs(out=str(tmp_path / "x"), steps=1, dim=4, freeze_encoder=1,
                                                   device="cpu"))


def test_pool_and_two_dit_steps(tiny_vae, tmp_path, comfy):
    from comfyui_inertia.nodes.pure import toyworld as tw

    _, res = tiny_vae
    pool = tmp_path / "pool.pt"
    stats = train_dit.build_pool(res["vae"], str(pool), {s: 1 for s in tw.SCENARIOS}, device="cpu", batch=8)
    p = torch.load(pool, weights_only=False)
    assert stats["videos"] == len(tw.SCENARIOS) and tuple(p["z"].shape[1:]) == (16, 5, 16, 16)
    assert p["c"].shape == p["z"].shape and torch.equal(p["z"][:, :, 0], p["c"][:, :, 0]), \
        "latent frame 0 of a video and of its WanImageToVideo conditioning video must be the same latent"
    r = train_dit.train_dit(train_dit.DiTTrainArgs(pool=str(pool), out=str(tmp_path / "dit"), steps=2, batch=2,
                                                   num_layers=1, warmup=1, device="cpu"))
    sd = load_file(r["dit"])
    assert r["steps"] == 2 and sd["patch_embedding.weight"].shape[1] == 36
    assert all(v.dtype == torch.float16 for v in sd.values())
