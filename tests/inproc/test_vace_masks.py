"""VACE mask builders → the real ``WanVaceToVideo`` (comfy_extras.nodes_wan) in-process.

What is checked, for every builder mode and every length 4n+1 from 5 to 161:

* the ``vace_mask`` WanVaceToVideo puts in the positive conditioning equals the *intended*
  latent mask, written here independently of the builders (keyframe → latent ⌈f/4⌉, first
  clip of 1+4m frames → latents 0..m, static mask → that mask on every latent, …) and
  8×8-unshuffled the way the node does;
* the known pixels (keyframes, clips, unmasked source pixels) reach the *inactive* stream
  WanVaceToVideo encodes unchanged (to float32 rounding of its ``(x − ½)·(1 − m) + ½``), and
  nothing the intent generates leaks into it;
* control_masks and vace_mask are binary.

VAE: the full length sweep runs with a duck-typed VAE (``helpers.DuckVAE``: ``encode(pixels[T,H,W,C])``
records the pixels and returns zeros ``[1,16,1+(T−1)//4,H/8,W/8]``; WanVaceToVideo only calls
``encode``), because the random full-size Wan VAE takes ~0.1-0.5 s per frame even at 16×16 px on
2 CPU cores.
``test_real_vae_subset`` repeats the checks with the real random ``comfy.sd.VAE`` wrapped in a
thin recording proxy for lengths 5 and 9 (and 17 for keyframes) on one case of each builder.

The builder cases (``CASES``: each builder call with its intended latent mask and known pixels) and
the VAEs live in ``tests/inproc/helpers.py``, shared with ``test_vace_aligned_encode.py``; the
preview node is tested in ``test_vace_preview.py``.
"""

from __future__ import annotations

import os
import time

import pytest
import torch

from comfyui_inertia.nodes import standins
from comfyui_inertia.nodes.pure.errors import InertiaInputError
from comfyui_inertia.nodes.pure.vace import grid
from comfyui_inertia.nodes.vace_masks import VACEExtensionBuilder, VACEKeyframeBuilder
from comfyui_inertia.nodes.vace_space import VACEOutpaintBuilder, VACEReferenceCrops, VACERepaintBuilder

from .helpers import (
    CASES,
    EPS,
    LENGTHS,
    Case,
    DuckVAE,
    RecordingVAE,
    binary,
    conds,
    latent_of,
    rand_images,
    reads,
    sample_vace,
    unshuffle,
)

# ------------------------------------------------------------------------------- helpers

def run_wan_vace(vae, out, reference=None):
    from comfy_extras.nodes_wan import WanVaceToVideo
    video, masks, W, H, L = out.args
    pos, neg = conds()
    res = WanVaceToVideo.execute(positive=pos, negative=neg, vae=vae, width=W, height=H, length=L, batch_size=1,
                                 strength=1.0, control_video=video, control_masks=masks, reference_image=reference)
    return res, res.args[0][0][1]["vace_mask"][-1]


def check_case(case: Case, vae, L):
    video, masks, W, H, Lout = case.out.args
    assert Lout == L and tuple(video.shape) == (L, H, W, 3) and tuple(masks.shape) == (L, H, W)
    assert binary(masks), "control_masks not binary"
    res, vace_mask = run_wan_vace(vae, case.out)
    T = (L - 1) // 4 + 1
    assert tuple(vace_mask.shape) == (1, 64, T, H // 8, W // 8)
    assert binary(vace_mask), "vace_mask not binary"
    assert torch.equal(vace_mask, unshuffle(case.lat)), (
        f"L={L}: latent mask seen {grid.latent_code(grid.latent_masks_seen(masks))} != intended {grid.latent_code(case.lat)}")
    inactive, reactive = vae.calls[-2], vae.calls[-1]
    assert tuple(inactive.shape) == (L, H, W, 3)
    read_by = {p: k for k, p in enumerate(reads(L))}
    traded = 0
    for f, (px, keep) in case.known.items():
        # the pixel mask of frame f must be the mask of the latent that reads it (exact latent mask) ...
        seen = case.lat[read_by.get(f, latent_of(f))] < 0.5
        diff = (inactive[f] - px).abs()[keep & seen]
        assert diff.numel() == 0 or float(diff.max()) <= EPS, f"L={L} frame {f}: kept pixels changed by {float(diff.max())}"
        # ... so where that latent generates what the frame's group keeps (only the p(k) = 4k+1 frame of a
        # kept group after a generated latent), the known pixels reach the model through the reactive stream
        swap = keep & ~seen
        if swap.any():
            traded += 1
            assert f in read_by and read_by[f] != latent_of(f) and f == 4 * read_by[f] + 1
            assert float((reactive[f] - px).abs()[swap].max()) <= EPS
    # nothing leaks: where a frame's own latent group generates, the inactive stream is gray
    own = case.lat.index_select(0, torch.tensor([latent_of(f) for f in range(L)]))
    gen = own > 0.5
    assert float((inactive - 0.5).abs()[gen].max() if gen.any() else 0.0) <= EPS
    assert traded == len(grid.read_conflicts(case.lat, L))
    return res


# ------------------------------------------------------------------------------- the sweep

@pytest.mark.parametrize("mode", list(CASES))
def test_every_length_latent_mask_is_the_intent(comfy, mode):
    for L in LENGTHS:
        vae = DuckVAE()
        check_case(CASES[mode](L), vae, L)
        assert len(vae.calls) == 2  # inactive, reactive


def test_naive_masks_fail_the_same_check(comfy):
    """The check above can fail: a keyframe marked on its pixel frame only (no widening) is lost."""
    lost = 0
    for L in LENGTHS:
        T = (L - 1) // 4 + 1
        masks = torch.ones(L, 16, 16)
        video = torch.full((L, 16, 16, 3), 0.5)
        for f in (0, L - 1):
            masks[f] = 0
            video[f] = 0.2
        from comfy_api.latest import io
        out = io.NodeOutput(video, masks, 16, 16, L)
        _, vace_mask = run_wan_vace(DuckVAE(), out)
        want = torch.ones(T, 16, 16)
        want[0] = 0
        want[T - 1] = 0
        lost += not torch.equal(vace_mask, unshuffle(want))
        assert bool((vace_mask == 1).all()), f"L={L}: first/last-frame-only keyframes should be invisible"
    assert lost == len(LENGTHS)


def test_latent_masks_for_81_are_reported(comfy, capsys):
    """Prints the latent mask every mode produces for L = 81 (a reference table for the docs)."""
    lines = []
    for mode, make in CASES.items():
        case = make(81)
        res, vace_mask = run_wan_vace(DuckVAE(), case.out)
        seen = vace_mask[0].amax(dim=(0, 2, 3)), vace_mask[0].amin(dim=(0, 2, 3))
        code = "".join("1" if lo == 1 else "0" if hi == 0 else "m" for hi, lo in zip(*seen))
        assert code == grid.latent_code(case.lat)
        lines.append(f"{mode:26s} {code}")
    with capsys.disabled():
        print("\nL=81 latent masks (0 kept, 1 generated, m mixed):\n" + "\n".join(lines))  # noqa: T201
    assert lines[0].split()[1] == "0" + "1" * 9 + "0" + "1" * 9 + "0"


# ------------------------------------------------------------------------------- real VAE

REAL_CASES = ["keyframes_first_mid_last", "firstlastframe", "lastclip", "repaint_per_frame_mask", "outpaint_expand"]


def test_real_vae_subset(comfy, wan_vae):
    """Same checks with the real random Wan VAE (recording proxy) on L = 5 and 9 (and 17 for keyframes)."""
    for mode in REAL_CASES:
        for L in ((5, 9, 17) if mode.startswith("keyframes") else (5, 9)):
            vae = RecordingVAE(wan_vae)
            res = check_case(CASES[mode](L), vae, L)
            frames = res.args[0][0][1]["vace_frames"][-1]
            video = CASES[mode](L).out.args[0]
            assert tuple(frames.shape) == (1, 32, (L - 1) // 4 + 1, video.shape[1] // 8, video.shape[2] // 8)
            assert bool(torch.isfinite(frames).all())


# ------------------------------------------------------------------------------- node behaviour

def test_snapping_is_reported_and_binary(comfy):
    imgs = rand_images(2, 40, 37)  # → 32x32 crop
    out = VACEKeyframeBuilder.execute(images=imgs, length=79, indices="0,-1")
    video, masks, W, H, L = out.args
    text = out.ui["text"][0]
    assert (W, H, L) == (32, 32, 81)
    assert "79 → 81" in text and "37x40 → 32x32" in text
    assert torch.equal(video[0], imgs[0, 4:36, 2:34])  # centre crop, no resampling
    rp = VACERepaintBuilder.execute(video=rand_images(10, 16, 16), mask=torch.rand(1, 16, 16), bbox="")
    assert rp.args[4] == 9 and "10 frames → 9" in rp.ui["text"][0]
    assert set(torch.unique(rp.args[1]).tolist()) <= {0.0, 1.0}
    ext = VACEExtensionBuilder.execute(mode="lastframe", generate=80, last=rand_images(1))
    assert ext.args[4] == 85 and "generate 80 → 81" in ext.ui["text"][0]


def test_thin_region_warning_and_dilation(comfy):
    video = rand_images(5, 32, 32)
    thin = torch.zeros(1, 32, 32)
    thin[0, 8:24, 10:14] = 1  # 4 px wide
    text = VACERepaintBuilder.execute(video=video, mask=thin, bbox="").ui["text"][0]
    assert "thinner than 8 px" in text
    text2 = VACERepaintBuilder.execute(video=video, mask=thin, bbox="", dilate_px=2).ui["text"][0]
    assert "thinner" not in text2
    boxed = VACERepaintBuilder.execute(video=video, mask=thin, bbox="", shape="box per frame")
    assert float(boxed.args[1][0].sum()) == 16 * 4
    wide = torch.zeros(1, 32, 32)
    wide[0, 8:24, 8:24] = 1
    assert "thinner" not in VACERepaintBuilder.execute(video=video, mask=wide, bbox="").ui["text"][0]


def test_dtype_is_kept(comfy):
    imgs = rand_images(2, 16, 16).half()
    video, masks, *_ = VACEKeyframeBuilder.execute(images=imgs, length=9).args
    assert video.dtype == torch.float16 and masks.dtype == torch.float16


@pytest.mark.parametrize("call,name", [
    (lambda: VACEKeyframeBuilder.execute(images=rand_images(2), length=9, indices="0, 9"), "indices"),
    (lambda: VACEKeyframeBuilder.execute(images=rand_images(2), length=9, indices="0, -10"), "indices"),
    (lambda: VACEKeyframeBuilder.execute(images=rand_images(2), length=9, indices="4, 4"), "indices"),
    (lambda: VACEKeyframeBuilder.execute(images=rand_images(2), length=9, indices="5, 7"), "indices"),
    (lambda: VACEKeyframeBuilder.execute(images=torch.zeros(0, 16, 16, 3), length=9), "images"),
    (lambda: VACEKeyframeBuilder.execute(images=rand_images(1), length=9, guide_video=rand_images(9, 32, 32)), "guide_video"),
    (lambda: VACEExtensionBuilder.execute(mode="firstlastframe", generate=8, first=rand_images(1), last=rand_images(1, 32, 16)), "last"),
    (lambda: VACEExtensionBuilder.execute(mode="firstframe", generate=8, first=torch.zeros(0, 16, 16, 3)), "first"),
    (lambda: VACEExtensionBuilder.execute(mode="lastclip", generate=8, last=rand_images(3)), "last"),
    (lambda: VACEExtensionBuilder.execute(mode="firstlastframe", generate=8, first=rand_images(1)), "last"),
    (lambda: VACERepaintBuilder.execute(video=rand_images(5), mask=torch.ones(6, 16, 16)), "mask"),
    (lambda: VACERepaintBuilder.execute(video=rand_images(5), mask=torch.ones(1, 32, 16)), "mask"),
    (lambda: VACERepaintBuilder.execute(video=torch.zeros(0, 16, 16, 3), mask=torch.ones(1, 16, 16)), "video"),
    (lambda: VACEOutpaintBuilder.execute(video=rand_images(5), expand_ratio=1.5), "expand_ratio"),
    (lambda: VACEOutpaintBuilder.execute(video=rand_images(5), expand_ratio=-0.1), "expand_ratio"),
    (lambda: VACEOutpaintBuilder.execute(video=rand_images(5), direction="left,sideways"), "direction"),
])
def test_bad_input_errors_name_the_input(comfy, call, name):
    with pytest.raises(InertiaInputError) as e:
        call()
    assert e.value.name == name and f"'{name}'" in str(e.value) and "Fix:" in str(e.value)


def _big(n, h, w):
    """An IMAGE batch ``[n, h, w, 3]`` as a broadcast view: nothing is allocated unless a node copies it."""
    return torch.full((1, 1, 1, 3), 0.5).expand(n, h, w, 3)


CAP = "over the limit of 1,073,741,824"


@pytest.mark.parametrize("call,name,message", [
    (lambda: VACEKeyframeBuilder.execute(images=rand_images(1), length=2**62), "length",
     "'length' = 4611686018427387904 is above the limit of 4097. Fix: use 1 to 4097 pixel frames"),
    (lambda: VACEKeyframeBuilder.execute(images=rand_images(1), length=-5), "length", "'length' = -5 is below 1"),
    (lambda: VACEKeyframeBuilder.execute(images=_big(1, 16384, 16384), length=4097), "length",
     "'length' = '4097 × 16384 × 16384' (length × the height × width of 'images') gives 1.1e+12 pixels over all "
     f"frames, {CAP}"),
    (lambda: VACEExtensionBuilder.execute(mode="firstframe", generate=2**62, first=rand_images(1)), "generate",
     "'generate' = 4611686018427387904 is above the limit of 16384"),
    (lambda: VACEExtensionBuilder.execute(mode="firstframe", generate=-1, first=rand_images(1)), "generate",
     "'generate' = -1 is negative"),
    (lambda: VACEExtensionBuilder.execute(mode="firstclip", generate=4096, first=_big(16001, 16, 16)), "generate",
     "'generate' = 4096 makes a clip of 20097 frames (16001 known from 'first'/'last' + 4096 generated), over "
     "WanVaceToVideo's limit of 16384"),
    (lambda: VACEExtensionBuilder.execute(mode="firstframe", generate=4096, first=_big(1, 16384, 16384)), "generate",
     f"'generate' = '4097 × 16384 × 16384' ((known + generated frames) × the height × width of 'first'/'last') "
     f"gives 1.1e+12 pixels over all frames, {CAP}"),
    (lambda: VACERepaintBuilder.execute(video=_big(4097, 16384, 16384), bbox="0,0,8,8"), "video",
     "'video' = '4097 × 16384 × 16384' (the frames × height × width of 'video') gives 1.1e+12 pixels"),
    (lambda: VACERepaintBuilder.execute(video=rand_images(5), bbox="0,0,nan,8"), "bbox",
     "'bbox' = '0,0,nan,8' has a box '0,0,nan,8' with a coordinate that is not a finite number"),
    (lambda: VACERepaintBuilder.execute(video=rand_images(5), bbox="0: 0,0,8,8; 4: 0,0,inf,8"), "bbox",
     "has a box '0,0,inf,8' with a coordinate that is not a finite number"),
    (lambda: VACERepaintBuilder.execute(video=rand_images(5), bbox="0,0,8,8", dilate_px=-3), "dilate_px",
     "'dilate_px' = -3 is negative"),
    (lambda: VACEOutpaintBuilder.execute(video=_big(401, 1024, 1024), expand_ratio=1.0, direction="all"), "video",
     f"'video' = '401 × 3072 × 3072' (the frames of 'video' × the height × width of the outpainted canvas) "
     f"gives 3.78e+09 pixels over all frames, {CAP}"),
    (lambda: VACEReferenceCrops.execute(video=rand_images(5), count=2**62), "count",
     "'count' = 4611686018427387904 is above the limit of 64. Fix: ask for 1 to 64 crops"),
    (lambda: VACEReferenceCrops.execute(video=rand_images(5), count=3, frame=-5), "frame",
     "'frame' = -5 is below -1. Fix: use a frame in [0, 4] or -1"),
    (lambda: VACEReferenceCrops.execute(video=rand_images(5), count=3, frame=5), "frame",
     "'frame' = 5 is out of range for the 5 frames of 'video'"),
    (lambda: VACEReferenceCrops.execute(video=_big(1, 16384, 16384), count=64), "count",
     "'count' = '64 × 16384 × 16384' (count × the height × width of 'video' (one reference image each)) "
     "gives 1.72e+10 pixels"),
])
def test_linked_sizes_fail_fast_before_allocating(comfy, call, name, message):
    """Linked values skip ComfyUI's min/max: huge or negative sizes are refused with the input, the value and
    the bound, before anything is allocated (broadcast views stand for inputs of terabytes)."""
    t0 = time.perf_counter()
    with pytest.raises(InertiaInputError) as e:
        call()
    assert time.perf_counter() - t0 < 1.0
    assert e.value.name == name and message in str(e.value) and "Fix:" in str(e.value), str(e.value)


def test_reference_crops(comfy):
    video = rand_images(9, 32, 48)
    crops, refs, col, boxes = VACEReferenceCrops.execute(video=video, count=4, crop_size=0.5, placement="edges",
                                                         direction="left,right", frame=-1).args
    assert tuple(crops.shape) == (4, 16, 16, 3) and tuple(refs.shape) == (4, 32, 48, 3) and tuple(col.shape) == (1, 32, 48, 3)
    rows = [tuple(int(v) for v in line.split(",")) for line in boxes.splitlines()]
    assert [r[0] for r in rows] == [0, 3, 5, 8]
    assert {r[2] for r in rows} == {0, 32}  # touching the left and right edges
    for (f, y0, x0, y1, x1), c in zip(rows, crops):
        assert torch.equal(c, video[f, y0:y1, x0:x1])


# ------------------------------------------------------------------------------- real video

def _template_video_frames():
    """Frames of the VACE outpainting template preview (an animated WebP of real video) from the
    official ``comfyui-workflow-templates-media-video`` PyPI package. PyAV cannot decode animated
    WebP (FFmpeg's webp decoder has no animation support), so Pillow decodes it."""
    pkg = pytest.importorskip("comfyui_workflow_templates_media_video",
                              reason="pip install comfyui-workflow-templates-media-video")
    import numpy as np
    from PIL import Image, ImageSequence
    path = os.path.join(os.path.dirname(pkg.__file__), "templates", "video_wan_vace_outpainting-2.webp")
    if not os.path.isfile(path):
        pytest.skip(f"{path} not in this version of the package")
    with Image.open(path) as im:
        frames = [np.asarray(fr.convert("RGB"), dtype=np.float32) / 255.0 for fr in ImageSequence.Iterator(im)]
    return torch.from_numpy(np.stack(frames))


def test_builders_on_a_real_template_video(comfy):
    frames = _template_video_frames()  # [45, 350, 350, 3]
    assert frames.shape[0] >= 41 and float(frames.std()) > 0.05
    vae = DuckVAE()
    # keyframes taken from the real video at 0, 20, 40 → 336x336 (crop), L = 41
    kf = VACEKeyframeBuilder.execute(images=frames[[0, 20, 40]], length=41, indices="0,20,40", anchor_edge="bottom",
                                     anchor_px=64)
    _, vmask = run_wan_vace(vae, kf)
    assert kf.args[2:] == (336, 336, 41)
    seen = vmask[0].amax(dim=(0, 2, 3))  # 0: the whole latent frame kept; generated ones keep the band
    assert seen.tolist() == [0.0 if k in (0, 5, 10) else 1.0 for k in range(11)] and "350x350 → 336x336" in kf.ui["text"][0]
    crop = frames[:, 7:343, 7:343]
    assert torch.equal(vae.calls[-2][17:21].sub(crop[20]).abs().amax(dim=(1, 2, 3)) <= EPS, torch.ones(4, dtype=torch.bool))
    # outpaint (official expand) on the real clip: 45 frames (4n+1), 350 → 336 tall (not extended)
    op = VACEOutpaintBuilder.execute(video=frames, mode="expand", direction="left,right", expand_ratio=0.25)
    video, masks, W, H, L = op.args
    assert (H, L) == (336, 45) and W % 16 == 0 and W > 350
    _, vmask = run_wan_vace(vae, op)
    left = (W - 350) * 87 // 174
    assert float(vmask.min()) == 0 and torch.equal(masks[0, :, left:left + 350], torch.zeros(336, 350))
    assert float((vae.calls[-2][:, :, left:left + 350] - frames[:, 7:343]).abs().max()) <= EPS
    # repaint a moving box, extension from the clip, and reference crops of the same clip
    rp = VACERepaintBuilder.execute(video=frames, bbox="0: 40,40,120,120; 40: 200,200,300,300", dilate_px=4)
    run_wan_vace(vae, rp)
    assert 0 < float(rp.args[1].mean()) < 0.3
    ext = VACEExtensionBuilder.execute(mode="firstclip", generate=32, first=frames[:9])
    _, vmask = run_wan_vace(vae, ext)
    assert vmask[0].amin(dim=(0, 2, 3)).tolist() == [0.0, 0.0, 0.0] + [1.0] * 8
    crops, refs, col, _ = VACEReferenceCrops.execute(video=frames, count=3, crop_size=0.3).args
    assert crops.shape[0] == 3 and col.shape[0] == 1


# ------------------------------------------------------------------------------- end to end

def test_sample_tiny_vace_with_builder_outputs(comfy, load_standin, wan_vae):
    """Keyframes + anchor → WanVaceToVideo (real VAE, reference = crops collage) → KSampler on the tiny
    VACE stand-in → TrimVideoLatent. An APPLY_MODEL probe checks the model got the builder's mask."""
    from comfy_extras.nodes_wan import WanVaceToVideo

    imgs = rand_images(2, 32, 32, seed=7)
    out = VACEKeyframeBuilder.execute(images=imgs, length=9, indices="0,-1", anchor_edge="top", anchor_px=16)
    video, masks, W, H, L = out.args
    col = VACEReferenceCrops.execute(video=imgs, count=2, crop_size=0.5).args[2]
    pos, neg = standins.wan_text_conditioning(1), standins.wan_text_conditioning(2)
    pos, neg, latent, trim = WanVaceToVideo.execute(pos, neg, wan_vae, W, H, L, 1, 1.0, control_video=video,
                                                    control_masks=masks, reference_image=col).args
    assert trim == 1 and tuple(latent["samples"].shape) == (1, 16, 4, 4, 4)
    model = load_standin("wan21_vace").clone()
    trimmed, seen = sample_vace(comfy, model, pos, neg, latent, trim)
    assert tuple(trimmed.shape) == (1, 16, 3, 4, 4) and bool(torch.isfinite(trimmed).all())
    assert len(seen) == 2
    ctx = seen[0]  # [B, 1, 96, T+1, 4, 4]: channels 32..95 are the mask, frame 0 the reference (mask 0)
    assert tuple(ctx.shape[2:]) == (96, 4, 4, 4)
    lat = torch.ones(3, 32, 32)
    lat[0] = 0
    lat[2] = 0
    lat[1, :16] = 0
    assert torch.equal(ctx[0, 0, 32:, 1:].float(), unshuffle(lat)[0])
    assert bool((ctx[0, 0, 32:, 0] == 0).all())


def test_builders_send_the_timeline_the_frontend_draws(comfy):
    """ui["inertia_timeline"]: the latent mask code, p(k) and misread frames for js/vace_timeline.js."""
    from comfyui_inertia.nodes.pure.vace.grid import pixel_frames_read

    img = torch.rand(1, 64, 64, 3)
    out = VACEExtensionBuilder.execute(mode="firstlastframe", generate=79, first=img, last=img)
    payload = out.ui["inertia_timeline"][0]
    L = out.args[4]
    T = (L - 1) // 4 + 1
    assert payload["length"] == L and payload["layout"] == "for WanVaceToVideo"
    assert payload["latent"] == "0" + "1" * (T - 2) + "0"
    assert payload["reads"] == pixel_frames_read(L) and payload["conflicts"] == []
