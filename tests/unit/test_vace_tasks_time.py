"""Keyframes and extension (nodes/pure/vace/tasks_time.py). No ComfyUI import."""

import pytest
import torch
import torch.nn.functional as F

from comfyui_inertia.nodes.pure.errors import InertiaInputError
from comfyui_inertia.nodes.pure.vace import grid, tasks_time


def seen_by_wan(masks, L):
    """WanVaceToVideo's mask path for a mask already at size: unshuffle 8×8 + nearest-exact in time
    (as test_vace_grid.seen_by_wan)."""
    H, W = masks.shape[1:]
    m = masks.view(L, H // 8, 8, W // 8, 8).permute(2, 4, 0, 1, 3).reshape(64, L, H // 8, W // 8)
    out = F.interpolate(m.unsqueeze(0), size=((L - 1) // 4 + 1, H // 8, W // 8), mode="nearest-exact").squeeze(0)
    T = out.shape[1]
    return out.reshape(8, 8, T, H // 8, W // 8).permute(2, 3, 0, 4, 1).reshape(T, H, W)


def test_plan_keyframes_spread_and_indices():
    p = tasks_time.plan_keyframes(3, 81, [])
    assert p.latents == [0, 10, 20] and p.frames == [0, 40, 80] and p.length == 81
    p = tasks_time.plan_keyframes(4, 79, [0, 1, 30, -1])
    assert p.length == 81 and p.latents == [0, 1, 8, 20] and "79 → 81" in p.notes[0]
    assert tasks_time.plan_keyframes(1, 9, []).latents == [0]


@pytest.mark.parametrize("n,length,idx,name,text", [
    (0, 81, [], "images", "empty batch"),
    (2, 81, [0, 81], "indices", "out of range"),
    (2, 81, [0, -82], "indices", "out of range"),
    (2, 81, [40, 40], "indices", "duplicate"),
    (2, 81, [41, 44], "indices", "same VAE group 41..44"),
    (3, 81, [0, 40], "indices", "3 images"),
    (22, 81, [], "images", "latent frames"),
])
def test_plan_keyframes_errors(n, length, idx, name, text):
    with pytest.raises(InertiaInputError, match=text) as e:
        tasks_time.plan_keyframes(n, length, idx)
    assert e.value.name == name


def test_build_keyframes_content_masks_anchor_and_dtype():
    imgs = torch.rand(2, 32, 16, 3).to(torch.float16)
    plan = tasks_time.plan_keyframes(2, 9, [0, 8])
    video, masks, lat = tasks_time.build_keyframes(imgs, plan, anchor_edge="top", anchor_px=16)
    assert video.dtype == masks.dtype == torch.float16
    assert torch.equal(video[0], imgs[0]) and all(torch.equal(video[f], imgs[1]) for f in (5, 6, 7, 8))
    # latent 1 (frames 1-4) is as far from latent 0 as from latent 2: the tie goes to the earlier keyframe
    assert all(torch.equal(video[f, :16], imgs[0, :16]) for f in (1, 2, 3, 4))
    assert bool((video[2, 16:] == 0.5).all())
    assert grid.latent_code(lat) == "0m0" and torch.equal(seen_by_wan(masks.float(), 9), lat.float())
    assert masks[1].max() == 0  # p(0) = 1 marked kept


def test_plan_extension_modes():
    cases = {
        "firstframe": (81, 80, [0], []),
        "lastframe": (85, 81, [], [21]),
        "firstlastframe": (85, 80, [0], [21]),
        "firstclip": (89, 80, [0, 1, 2], []),
        "lastclip": (89, 81, [], [21, 22]),
        "firstlastclip": (97, 80, [0, 1, 2], [23, 24]),
    }
    for mode, (L, g, fl, ll) in cases.items():
        p = tasks_time.plan_extension(mode, 80, 10, 10)
        assert (p.length, p.generate, p.first_latents, p.last_latents) == (L, g, fl, ll), mode
        assert (p.length - 1) % 4 == 0
    with pytest.raises(InertiaInputError, match="one VAE group"):
        tasks_time.plan_extension("lastclip", 80, 0, 3)
    with pytest.raises(InertiaInputError) as e:
        tasks_time.plan_extension("firstclip", 80, 0, 0)
    assert e.value.name == "first"
    with pytest.raises(InertiaInputError):
        tasks_time.plan_extension("middle", 80, 1, 1)


def test_build_extension_uses_the_right_clip_frames():
    first = torch.rand(7, 16, 16, 3)
    last = torch.rand(6, 16, 16, 3)
    plan = tasks_time.plan_extension("firstlastclip", 8, 7, 6)
    video, masks, lat = tasks_time.build_extension(plan, first, last)
    assert plan.length == 17 and torch.equal(video[:5], first[2:]) and torch.equal(video[13:], last[:4])
    assert grid.latent_code(lat) == "00110" and torch.equal(seen_by_wan(masks, 17), lat)



def test_anchor_px_is_at_least_16_and_whole_vae_cells():
    assert tasks_time.snap_anchor_px("top", 16) == (16, [])
    assert tasks_time.snap_anchor_px("left", 48) == (48, [])
    assert tasks_time.snap_anchor_px("bottom", 8) == (16, ["anchor_px 8 → 16 (thinner bands are lost by the VAE)"])
    assert tasks_time.snap_anchor_px("right", 20) == (24, ["anchor_px 20 → 24 (whole 8 px VAE cells)"])
    assert tasks_time.snap_anchor_px("top", 31.0) == (32, ["anchor_px 31 → 32 (whole 8 px VAE cells)"])
    assert tasks_time.snap_anchor_px("none", 3) == (3, [])  # no band: nothing to snap
    for bad in ("middle", "", None):
        with pytest.raises(InertiaInputError) as e:
            tasks_time.snap_anchor_px(bad, 16)
        assert e.value.name == "anchor_edge" and "Fix:" in str(e.value)
    assert tasks_time.check_anchor_edge("none") == "none"


def test_anchor_band_and_rest_split_the_frame():
    for edge, band, rest in (("top", (slice(0, 16), slice(0, 32)), (slice(16, 48), slice(0, 32))),
                             ("bottom", (slice(32, 48), slice(0, 32)), (slice(0, 32), slice(0, 32))),
                             ("left", (slice(0, 48), slice(0, 16)), (slice(0, 48), slice(16, 32))),
                             ("right", (slice(0, 48), slice(16, 32)), (slice(0, 48), slice(0, 16)))):
        assert tasks_time.anchor_band(48, 32, edge, 16) == band and tasks_time.anchor_rest(48, 32, edge, 16) == rest
    for edge, px, name in (("none", 16, "anchor_edge"), ("up", 16, "anchor_edge"), ("left", 32, "anchor_px")):
        with pytest.raises(InertiaInputError) as e:
            tasks_time.anchor_band(48, 32, edge, px)
        assert e.value.name == name


def test_extension_sides():
    sides = {m: tasks_time.extension_sides(m) for m in tasks_time.EXTENSION_MODES}
    assert sides == {"firstframe": (True, False), "lastframe": (False, True), "firstlastframe": (True, True),
                     "firstclip": (True, False), "lastclip": (False, True), "firstlastclip": (True, True)}
    with pytest.raises(InertiaInputError) as e:
        tasks_time.extension_sides("middle")
    assert e.value.name == "mode"
