"""Pure math of the change / disappearance meter (``nodes/pure/motion_metrics.py``). No ComfyUI import.

Checked on synthetic videos with known motion (a square moving a known number of pixels per frame,
vanishing at a known frame) and on a real clip from ComfyUI's template media.
"""

from pathlib import Path

import pytest
import torch

from comfyui_inertia.nodes.pure import motion_metrics as mm
from comfyui_inertia.nodes.pure.errors import InertiaInputError

# ------------------------------------------------------------------------------ meter (synthetic)

def square_video(T=8, size=48, side=12, speed=1, color=0.9, bg=0.1, gone_from=None):
    """A bright square on a dark background moving ``speed`` px/frame to the right; vanishes at ``gone_from``."""
    v = torch.full((T, size, size, 3), bg)
    for t in range(T):
        if gone_from is not None and t >= gone_from:
            continue
        x0 = 6 + speed * t
        v[t, 18:18 + side, x0:x0 + side] = color
    return v


def test_static_video_has_zero_motion():
    g = torch.Generator().manual_seed(3)
    frame = torch.rand(1, 32, 40, 3, generator=g)
    s = mm.motion_series(frame.expand(6, -1, -1, -1).contiguous())
    assert torch.equal(s["energy"], torch.zeros(6, dtype=torch.float64))
    assert torch.equal(s["moving"], torch.zeros(6, dtype=torch.float64))
    assert torch.equal(s["flow_px"], torch.zeros(6, dtype=torch.float64))
    assert mm.dynamic_degree(s["moving"]) == 0.0


def test_moving_square_motion_where_and_how_fast():
    v = square_video(T=8, speed=1)
    s = mm.motion_series(v, threshold=0.04)
    # two vertical edges of a 12-px square move; contrast 0.8 → the change sits on those edges only
    assert (s["energy"][1:] > 0).all() and s["energy"][0] == 0
    assert torch.allclose(s["energy"][1:], s["energy"][1:2].expand(7), rtol=1e-4)  # uniform motion
    assert 0.005 < float(s["moving"][1]) < 0.1   # a thin band at 2 edges of 48×48
    assert float(s["flow_px"][1:].mean()) == pytest.approx(1.0, rel=0.25)  # 1 px/frame
    fast = mm.motion_series(square_video(T=8, speed=2), threshold=0.04)
    assert float(fast["energy"][1:].mean()) > 1.5 * float(s["energy"][1:].mean())
    assert float(fast["flow_px"][1:].mean()) > float(s["flow_px"][1:].mean())
    assert mm.dynamic_degree(s["moving"], 0.005) == 1.0
    # where: the change lies on the square's left/right edges, not above or below it
    y = mm.luminance(v)
    d = (y[1] - y[0]).abs()[0]
    assert float(d[:14].max()) == 0.0 and float(d[34:].max()) == 0.0
    # burst: still, then motion → dynamic degree counts only the moving pairs
    burst = torch.cat([v[:1].expand(6, -1, -1, -1), v[1:4]], 0).contiguous()  # still 6 frames, then 3 moves
    sb = mm.motion_series(burst)
    assert mm.dynamic_degree(sb["moving"], 0.005) == pytest.approx(3 / 8)
    assert int(sb["energy"].argmax()) >= 6


def test_disappearing_square_remaining_drops():
    v = square_video(T=10, speed=0, gone_from=5)
    region = torch.zeros(48, 48, dtype=torch.bool)
    region[14:34, 2:22] = True  # the square and a border of background
    r = mm.region_series(v, region)
    assert torch.allclose(r["remaining"][:5], torch.ones(5, dtype=torch.float64))
    assert (r["remaining"][5:] < 0.05).all()
    assert mm.first_below(r["remaining"], 0.5) == 5
    assert float(r["region_change"][5]) > 0.2 and float(r["region_change"][4]) == 0.0
    # fading out: remaining stays 1 (structure kept) while the change grows; gain-invariant by design
    fade = torch.stack([0.1 + (v[0] - 0.1) * (1 - t / 12) for t in range(6)])
    assert (mm.region_series(fade, region)["remaining"] > 0.999).all()
    # a flat region has nothing to correlate
    flat = torch.full((4, 48, 48, 3), 0.5)
    assert torch.isnan(mm.region_series(flat, region)["remaining"]).all()


def test_meter_inputs():
    with pytest.raises(InertiaInputError, match="fewer than 2 frames"):
        mm.motion_series(torch.zeros(1, 8, 8, 3))
    with pytest.raises(InertiaInputError, match="not an IMAGE"):
        mm.motion_series(torch.zeros(4, 8, 8))
    with pytest.raises(InertiaInputError, match="motion_threshold.*negative"):
        mm.motion_series(torch.zeros(3, 8, 8, 3), threshold=-0.1)
    with pytest.raises(InertiaInputError, match="selects no pixel"):
        mm.region_from_mask(torch.zeros(1, 8, 8), 8, 8)
    m = torch.zeros(1, 4, 4)
    m[0, :2, :2] = 1.0
    assert mm.region_from_mask(m, 8, 8).sum() == 16  # nearest resize to the frame size


# ------------------------------------------------------------------------------ meter (real video)

def template_video(name):
    import comfyui_workflow_templates_media_video as media
    from PIL import Image, ImageSequence

    path = Path(media.__file__).parent / "templates" / name
    if not path.is_file():
        pytest.skip(f"{name} not in the template media package")
    frames = [torch.from_numpy(__import__("numpy").asarray(f.convert("RGB"), dtype="float32") / 255.0)
              for f in ImageSequence.Iterator(Image.open(path))]
    return torch.stack(frames)


def test_real_video_motion_and_disappearance():
    """video_wan_vace_inpainting-2.webp (ComfyUI template media): a boy walks with a dog, the camera tracks."""
    pytest.importorskip("comfyui_workflow_templates_media_video")
    v = template_video("video_wan_vace_inpainting-2.webp")[:24]  # 24 frames (0.8 s), 350×350
    s = mm.motion_series(v)
    frozen = mm.motion_series(v[:1].expand(8, -1, -1, -1).contiguous())
    assert float(frozen["energy"].max()) == 0.0
    print(  # noqa: T201
        f"\nreal video: energy mean {float(s['energy'][1:].mean()):.4f}, moving {float(s['moving'][1:].mean()):.3f}, "
        f"flow {float(s['flow_px'][1:].mean()):.2f} px/frame, dynamic degree {mm.dynamic_degree(s['moving']):.2f}")
    assert float(s["energy"][1:].min()) > 0.002 and mm.dynamic_degree(s["moving"]) > 0.5
    # the dog (lower middle-right) stays: its region keeps most of its content
    region = torch.zeros(350, 350, dtype=torch.bool)
    region[235:335, 225:320] = True
    kept = mm.region_series(v, region)["remaining"]
    # ...then the same clip with the dog removed from frame 12 on: the region is filled from its surroundings
    # (normalised convolution: a wide blur of the frame outside the region / the same blur of the outside mask)
    import kornia

    gone = v.clone()
    outside = (~region).float()[None, None]
    for t in range(12, gone.shape[0]):
        img = gone[t].permute(2, 0, 1)[None]
        num = kornia.filters.gaussian_blur2d(img * outside, (121, 121), (30.0, 30.0))
        den = kornia.filters.gaussian_blur2d(outside, (121, 121), (30.0, 30.0))
        gone[t][region] = (num / den)[0].permute(1, 2, 0)[region]
    lost = mm.region_series(gone, region)["remaining"]
    print(  # noqa: T201
        f"dog region remaining: kept last {float(kept[-1]):.3f} min {float(kept.min()):.3f}; "
        f"removed at frame 12 → {float(lost[12]):.3f}, last {float(lost[-1]):.3f}")
    assert float(kept.min()) > 0.5
    assert torch.equal(lost[:12], kept[:12])
    assert float(lost[12:].max()) < 0.1
    assert mm.first_below(lost, 0.5) == 12
