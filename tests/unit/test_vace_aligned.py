"""The latent-aligned encode's math (nodes/pure/vace/aligned.py). No ComfyUI import; the node itself
against the real WanVaceToVideo is tests/inproc/test_vace_aligned_encode.py."""

import pytest
import torch

from comfyui_inertia.nodes.pure.errors import InertiaInputError
from comfyui_inertia.nodes.pure.vace import aligned, grid


def unshuffle(lat):
    """[T,H,W] → [1,64,T,H/8,W/8], written as WanVaceToVideo lays the 8×8 cells out
    (comfy_extras/nodes_wan.py: view(L, H/8, 8, W/8, 8), permute(2, 4, 0, 1, 3))."""
    T, H, W = lat.shape
    return lat.reshape(T, H // 8, 8, W // 8, 8).permute(2, 4, 0, 1, 3).reshape(64, T, H // 8, W // 8).unsqueeze(0)


def test_partial_keyframes_hold_per_pixel_nearest_frame():
    """hold_known: per pixel, the nearest known frame of the group; ties go to the earlier frame."""
    L = 9
    video = torch.arange(L, dtype=torch.float32).view(L, 1, 1, 1).expand(L, 2, 2, 3).clone() / 10
    masks = torch.ones(L, 2, 2)
    masks[6, 0, :] = 0   # group 2 = frames 5..8: top row known on frame 6
    masks[8, 1, :] = 0   # bottom row known on frame 8
    masks[2, :, :] = 0   # group 1 = frames 1..4: known on frames 2 and 4 -> frame 3 is a tie
    masks[4, :, :] = 0
    held = aligned.hold_known(video, masks)
    src = (held[..., 0] * 10).round().long()
    assert src[5:9, 0, 0].tolist() == [6, 6, 6, 6] and src[5:9, 1, 0].tolist() == [8, 8, 8, 8]
    assert src[1:5, 0, 0].tolist() == [2, 2, 2, 4]  # frame 3: 2 and 4 are equally near, the earlier wins
    assert src[0].unique().tolist() == [0]
    gm = aligned.group_min_masks(masks)
    assert gm.flatten(1).amax(1).tolist() == [1.0, 0.0, 0.0]
    assert aligned.hold_known(video, torch.ones(L, 2, 2)) is video  # nothing known: untouched, no copy
    # frames past 1+4(T-1) (dropped by the VAE) are ignored
    assert torch.equal(aligned.group_min_masks(torch.cat([masks, torch.zeros(2, 2, 2)])), gm)


def test_unshuffle_is_wan_vace_to_videos_layout():
    m = torch.rand(3, 16, 24)
    assert torch.equal(aligned.unshuffle_mask(m).unsqueeze(0), unshuffle(m))
    with pytest.raises(InertiaInputError):
        aligned.unshuffle_mask(torch.rand(2, 12, 16))



def test_split_streams_and_frame_group_masks():
    v = torch.tensor([0.2, 0.9]).view(2, 1, 1, 1).expand(2, 1, 1, 3)
    m = torch.tensor([0.0, 1.0]).view(2, 1, 1)
    inactive, reactive = aligned.split_streams(v, m)
    assert inactive[:, 0, 0, 0].tolist() == pytest.approx([0.2, 0.5]) and reactive[:, 0, 0, 0].tolist() == pytest.approx([0.5, 0.9])
    per_frame = grid.frame_group_masks(torch.tensor([0.0, 1.0, 0.0]).view(3, 1, 1), 11)  # frames 9, 10: past the last group
    assert per_frame.flatten().tolist() == [0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    assert aligned.grouped_length(11) == 9 and aligned.grouped_length(9) == 9 and aligned.grouped_length(1) == 1


def test_gray_kept_is_the_share_of_kept_pixels_gray_on_the_whole_group():
    video = torch.full((9, 2, 2, 3), 0.5)
    video[5:9, 0] = 0.7       # group 2 shows content on its top row
    video[3, :, 0] = 0.5005   # within GRAY_TOL of the gray fill
    masks = torch.zeros(3, 2, 2)  # everything kept
    assert aligned.gray_kept(video, masks) == [1.0, 1.0, 0.5]
    masks[0] = 1
    assert aligned.gray_kept(video, masks)[0] == 0.0
