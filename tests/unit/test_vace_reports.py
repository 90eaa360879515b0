"""What the VACE nodes report (nodes/pure/vace/reports.py). No ComfyUI import; the nodes' text and
preview are checked in-process in tests/inproc/test_vace_masks.py and test_vace_preview.py."""

import torch

from comfyui_inertia.nodes.pure.vace import grid, reports

ALIGNED = grid.ALIGNED_LAYOUT


def naive_keyframes(L=81, frames=(0, 40, 80)):
    """Keyframes marked on single pixel frames only (0 there, 1 elsewhere)."""
    m = torch.ones(L, 8, 8)
    m[list(frames)] = 0
    return m


def test_latent_report_flags_the_groups_the_read_frame_disagrees_with():
    rows = reports.latent_report(naive_keyframes(), 81)
    assert len(rows) == 21 and [r["read"] for r in rows] == grid.pixel_frames_read(81)
    assert [r["k"] for r in rows if r["ignored_keep"]] == [0, 20]  # frames 0 and 80: kept, but frames 1 and 79 read
    assert [r["k"] for r in rows if r["extra_keep"]] == [10]        # frame 40 read: group 37-40 kept whole
    assert rows[10]["group"] == (37, 40) and rows[10]["generated"] == 0.0 and rows[0]["generated"] == 1.0
    # shorter masks are padded with 1 (generate), as WanVaceToVideo does
    short = reports.latent_report(torch.zeros(3, 8, 8), 9)
    assert [r["generated"] for r in short] == [0.0, 1.0, 1.0] and [r["read"] for r in short] == [1, 4, 7]


def test_aligned_latent_report_groups_held_frames_and_gray_kept():
    m = naive_keyframes()
    video = torch.full((81, 8, 8, 3), 0.5)
    video[[0, 40, 80]] = 0.8
    rows = reports.aligned_latent_report(m, 81, video)
    assert [r["k"] for r in rows if r["generated"] == 0.0] == [0, 10, 20]
    assert [r["k"] for r in rows if r["held"]] == [10, 20] and all(r["gray_kept"] == 0.0 for r in rows)
    assert rows[0]["group"] == (0, 0) and rows[10]["group"] == (37, 40)
    # a mask laid out for the stock node (frame 1 carries latent 0's keep): latent 1 is kept from gray
    stock = torch.ones(9, 8, 8)
    stock[[0, 1, 5, 6, 7, 8]] = 0
    v = torch.full((9, 8, 8, 3), 0.5)
    v[0], v[5:] = 0.2, 0.7
    rows = reports.aligned_latent_report(stock, 9, v)
    assert [r["gray_kept"] for r in rows] == [0.0, 1.0, 0.0] and [r["held"] for r in rows] == [False, True, False]
    assert [r["gray_kept"] for r in reports.aligned_latent_report(stock, 9)] == [0.0, 0.0, 0.0]  # no video: no check


def test_timeline_payload_per_layout():
    lat = torch.tensor([1.0, 0.0, 1.0]).view(3, 1, 1).expand(3, 8, 8)
    assert reports.timeline_payload(lat, 9) == {"length": 9, "layout": grid.STOCK_LAYOUT, "latent": "101",
                                                "reads": [1, 4, 7], "conflicts": [1]}
    assert reports.timeline_payload(lat, 9, ALIGNED) == {"length": 9, "layout": ALIGNED, "latent": "101",
                                                         "reads": [[0, 0], [1, 4], [5, 8]], "conflicts": []}


def test_builder_report_text_warnings_and_payload():
    video = torch.full((9, 16, 16, 3), 0.5)
    lat = torch.tensor([1.0, 0.0, 1.0]).view(3, 1, 1).expand(3, 16, 16)
    thin = torch.zeros(1, 16, 16)
    thin[0, :, 4:8] = 1  # 4 px wide
    text, warn, payload = reports.builder_report("Node", video, lat, ["length 7 → 9"], ["extra line"], thin_masks=thin)
    lines = text.splitlines()
    assert lines[:4] == ["Node: 16x16, length 9 → 3 latent frames", "latent mask (0 kept, 1 generated, m mixed): 101",
                         "set WanVaceToVideo width=16 height=16 length=9 (or wire the width/height/length outputs)",
                         "extra line"]
    assert lines[4].startswith("note: WanVaceToVideo reads latent k's mask") and lines[4].endswith("frame 1 (read by latent 0)")
    assert warn == ["length 7 → 9", "WARNING: 100% of the generated area (1 latent frame(s)) is thinner than 8 px; the "
                                    "VAE's 8 px stride loses it. Dilate the mask or use a box."]
    assert lines[5:] == ["snapped/warning: " + w for w in warn]
    assert payload == reports.timeline_payload(lat, 9)
    # latent-aligned masks: no read conflicts, and the text says what the stock node would see instead
    intent = torch.tensor([0.0, 1.0, 0.0]).view(3, 1, 1).expand(3, 16, 16)
    masks = grid.layout_masks(intent.contiguous(), 9, ALIGNED)
    text, warn, payload = reports.builder_report("Node", video, intent, [], masks=masks, layout=ALIGNED)
    assert "set WanVaceToVideo (latent-aligned) width=16 height=16 length=9" in text and warn == []
    assert "the stock WanVaceToVideo would see 110 from these masks" in text and "note:" not in text
    assert payload["conflicts"] == [] and payload["latent"] == "010"
