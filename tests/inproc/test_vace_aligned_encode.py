"""``VACELatentAlignedEncode`` (WanVaceToVideo with the mask mapped by VAE group) against the real
``WanVaceToVideo`` (comfy_extras.nodes_wan), in-process.

* Masks uniform on every VAE group that WanVaceToVideo reads consistently: the outputs are
  bit-equal to the stock node's (pixel streams given to the VAE, vace_frames, vace_mask, latent,
  trim) for every length 4n+1 from 5 to 161, with a content-dependent duck VAE, and with the real
  random Wan VAE at 16x16. Group-uniform masks it reads inconsistently differ exactly at the latent
  frames whose read frame p(k) lies in the next group.
* The single-frame keyframe failure case (keyframes marked on single pixel frames: 0, 40, 80 at
  L = 81, or every 4 frames): which latent frames each node keeps, and how many kept pixel frames
  the model receives as 0.5 gray.
* Keyframe pixels reach the inactive stream on every frame of a kept group.
* The Inertia builders' outputs (laid out for the stock node) through this node.
* The builders with ``mask_layout = "latent-aligned"`` (whole VAE groups) through this node, for every
  mode and every length 4n+1 from 5 to 161: the intended latent mask, every known pixel in the
  inactive stream on every frame of kept groups, nothing kept from gray, binary outputs; the hints in
  generated regions (guide video, repaint fill 'source') kept; the timeline payload and the preview
  describe the layout.
* Sampling the tiny VACE stand-in with the node's outputs, end to end.

The builder cases and VAEs are shared with ``test_vace_masks.py`` through ``helpers.py``; the pure
math (``hold_known``, ``unshuffle_mask``, ...) is tested in ``tests/unit/test_vace_aligned.py``.
"""

from __future__ import annotations

import time

import pytest
import torch
import torch.nn.functional as F

from comfyui_inertia.nodes.pure.errors import InertiaInputError
from comfyui_inertia.nodes.pure.vace import aligned, grid
from comfyui_inertia.nodes.vace_encode import VACELatentAlignedEncode
from comfyui_inertia.nodes.vace_masks import VACEExtensionBuilder, VACEKeyframeBuilder
from comfyui_inertia.nodes.vace_preview import VACELatentMaskPreview
from comfyui_inertia.nodes.vace_space import VACERepaintBuilder

from .helpers import (
    CASES,
    EPS,
    LENGTHS,
    DuckVAE,
    RecordingVAE,
    binary,
    conds,
    group,
    latent_of,
    layout_kw,
    rand_images,
    reads,
    sample_vace,
    unshuffle,
)


class PoolVAE(DuckVAE):
    """The existing tests' recording duck VAE, but returning a latent that depends on the pixels:
    per latent frame, the 8x8-pooled RGB of each of its group's 4 frames (frame 0 repeated) on 12
    of the 16 channels. Equal vace_frames then mean equal group contents."""

    def encode(self, pixels):
        self.calls.append(pixels.detach().clone())
        T, H, W, C = pixels.shape
        Tl = 1 + (T - 1) // 4
        p = F.avg_pool2d(pixels[: 1 + 4 * (Tl - 1)].movedim(-1, 1).float(), 8)  # [Lg, 3, h, w]
        grp = torch.cat([p[:1].unsqueeze(1).expand(1, 4, *p.shape[1:]), p[1:].reshape(Tl - 1, 4, *p.shape[1:])])
        lat = grp.reshape(Tl, 4 * C, H // 8, W // 8).movedim(0, 1)
        return torch.cat([lat, torch.zeros(16 - 4 * C, Tl, H // 8, W // 8)]).unsqueeze(0)


def run_both(make_vae, W, H, L, video=None, masks=None, reference=None, strength=1.0):
    """(core result, core VAE, aligned result, aligned VAE) for the same inputs."""
    from comfy_extras.nodes_wan import WanVaceToVideo
    pos, neg = conds()
    kw = dict(positive=pos, negative=neg, width=W, height=H, length=L, batch_size=1, strength=strength,
              control_video=video, control_masks=masks, reference_image=reference)
    cv, av = make_vae(), make_vae()
    core = WanVaceToVideo.execute(vae=cv, **kw)
    ours = VACELatentAlignedEncode.execute(vae=av, **kw)
    return core, cv, ours, av


def cond_values(res, which=0):
    return res.args[which][0][1]


def assert_same_outputs(core, ours):
    for which in (0, 1):
        c, o = cond_values(core, which), cond_values(ours, which)
        assert len(o["vace_frames"]) == len(c["vace_frames"]) == 1
        assert torch.equal(o["vace_frames"][-1], c["vace_frames"][-1])
        assert torch.equal(o["vace_mask"][-1], c["vace_mask"][-1])
        assert o["vace_strength"] == c["vace_strength"]
        assert set(o) == set(c)
    assert torch.equal(ours.args[2]["samples"], core.args[2]["samples"])
    assert ours.args[3] == core.args[3]


def latent_kept(res):
    """Per latent frame (reference frames dropped): True where vace_mask keeps every pixel."""
    m = cond_values(res)["vace_mask"][-1][0, :, res.args[3]:]
    return (m.amax(dim=(0, 2, 3)) == 0).tolist()


def code(res):
    """0 kept, 1 generated, m mixed, per latent frame, read from the vace_mask in the conditioning."""
    m = cond_values(res)["vace_mask"][-1][0, :, res.args[3]:]
    hi, lo = m.amax(dim=(0, 2, 3)).tolist(), m.amin(dim=(0, 2, 3)).tolist()
    return "".join("1" if mn >= 0.5 else "0" if mx < 0.5 else "m" for mx, mn in zip(hi, lo))


def group_uniform_masks(L, H, W, gen, consistent, soft=False):
    """Per-latent random masks M [T,H,W] spread over each VAE group; ``consistent`` also makes
    M[k] equal to the mask of the group WanVaceToVideo reads for latent k."""
    T = grid.latent_length(L)
    if soft:
        M = torch.randint(0, 5, (T, H, W), generator=gen).float() / 4
    else:
        M = (torch.rand(T, H, W, generator=gen) > 0.5).float()
    M[torch.randint(0, T, (2,), generator=gen)] = torch.tensor([0.0, 1.0]).view(2, 1, 1)  # whole kept/generated latents
    if consistent:
        own = [latent_of(p) for p in reads(L)]
        for k in reversed(range(T)):
            if own[k] != k:
                M[k] = M[own[k]]
    return M, M[[latent_of(f) for f in range(L)]]


def rand_video(L, H, W, seed):
    return torch.rand(L, H, W, 3, generator=torch.Generator().manual_seed(seed)) * 0.8 + 0.1


# ------------------------------------------------------------------------------- (1) equals core

def test_schema_is_wan_vace_to_videos(comfy):
    from comfy_extras.nodes_wan import WanVaceToVideo

    def spec(s):
        ins = [(i.id, i.get_io_type(), i.optional, getattr(i, "default", None), getattr(i, "min", None),
                getattr(i, "max", None), getattr(i, "step", None)) for i in s.inputs]
        return ins, [(o.display_name, o.get_io_type()) for o in s.outputs]

    ours, core = VACELatentAlignedEncode.GET_SCHEMA(), WanVaceToVideo.GET_SCHEMA()
    assert spec(ours) == spec(core)
    assert comfy.NODE_CLASS_MAPPINGS["InertiaVACELatentAlignedEncode"] is VACELatentAlignedEncode
    assert ours.display_name == "WanVaceToVideo (latent-aligned)" and ours.category == "Inertia/VACE"
    assert ours.description and all(i.tooltip for i in ours.inputs) and all(o.tooltip for o in ours.outputs)


def test_group_uniform_consistent_masks_equal_core_every_length(comfy):
    """Random group-uniform masks (binary and soft) that WanVaceToVideo reads consistently: bit-equal
    streams, vace_frames, vace_mask, latent and trim, with resizing, padding and a reference."""
    gen = torch.Generator().manual_seed(0)
    for n, L in enumerate([1] + LENGTHS):
        M, masks = group_uniform_masks(L, 16, 16, gen, consistent=True, soft=n % 2 == 1)
        # every other length: controls at 32x32 (resized by common_upscale), video 3 frames short (gray pad)
        if n % 2:
            masks = masks.repeat_interleave(2, 1).repeat_interleave(2, 2)
            video = rand_video(max(1, L - 3), 32, 32, L)
        else:
            video = rand_video(L, 16, 16, L)
        ref = rand_video(1, 24, 16, 1) if n % 3 == 0 else None
        core, cv, ours, av = run_both(PoolVAE, 16, 16, L, video, masks, ref)
        assert len(av.calls) == len(cv.calls) == (3 if ref is not None else 2)
        for a, c in zip(av.calls, cv.calls):  # reference, inactive, reactive pixels given to the VAE
            assert torch.equal(a, c), f"L={L}: encoded pixels differ"
        assert_same_outputs(core, ours)
        assert code(ours) == grid.latent_code(M)  # the 2x downscale of 2x-repeated masks is exact
    # no control at all: everything generated, as the stock node
    core, _, ours, _ = run_both(PoolVAE, 16, 16, 9)
    assert_same_outputs(core, ours)
    assert code(ours) == "111"


def test_group_uniform_masks_differ_exactly_where_core_reads_the_next_group(comfy):
    """Group-uniform masks in general: the pixel streams are still bit-equal to the stock node's; the
    latent mask row k equals core's unless p(k) lies in group k+1 and M[k+1] != M[k]."""
    gen = torch.Generator().manual_seed(1)
    differing = 0
    for L in LENGTHS:
        M, masks = group_uniform_masks(L, 16, 16, gen, consistent=False)
        core, cv, ours, av = run_both(PoolVAE, 16, 16, L, rand_video(L, 16, 16, L), masks)
        for a, c in zip(av.calls, cv.calls):
            assert torch.equal(a, c)
        assert torch.equal(cond_values(ours)["vace_mask"][-1], unshuffle(M))
        cm, om = cond_values(core)["vace_mask"][-1][0], cond_values(ours)["vace_mask"][-1][0]
        for k, p in enumerate(reads(L)):
            same = torch.equal(cm[:, k], om[:, k])
            assert same == torch.equal(M[k], M[latent_of(p)]), f"L={L} k={k}"
            differing += not same
    assert differing > 0


def test_real_vae_equals_core(comfy, wan_vae):
    """Real random Wan VAE, 16x16, L = 9: a consistent group-uniform mask (latents 0-1 keep the left
    half, latent 2 generates) with a reference image; vace_frames / vace_mask / latent are bit-equal."""
    L = 9
    masks = torch.ones(L, 16, 16)
    masks[:5, :, :8] = 0
    video = rand_video(L, 16, 16, 3)
    core, cv, ours, av = run_both(lambda: RecordingVAE(wan_vae), 16, 16, L, video, masks, rand_video(1, 16, 16, 4))
    assert_same_outputs(core, ours)
    assert tuple(cond_values(ours)["vace_frames"][-1].shape) == (1, 32, 4, 2, 2)
    assert bool(torch.isfinite(cond_values(ours)["vace_frames"][-1]).all())
    assert code(ours) == "mm1" and ours.args[3] == 1


# ------------------------------------------------------------------------------- builders' outputs

def test_builder_outputs(comfy):
    """The builders lay masks out for the stock node. Where such a mask is uniform on every VAE group,
    this node's outputs equal the stock node's; where it is not (the builder's p(k) marks), this node
    keeps the intent plus, at most, latent frames the gray warning names (kept from 0.5 gray)."""
    uniform = marked = over = 0
    for mode, make in CASES.items():
        for L in LENGTHS[::4] + [81]:
            case = make(L)
            video, masks, W, H, Lout = case.out.args
            core, cv, ours, av = run_both(PoolVAE, W, H, Lout, video, masks)
            grouped = torch.stack([masks[group(k)].amax(0) - masks[group(k)].amin(0) for k in range(len(reads(L)))])
            if bool((grouped == 0).all()):
                uniform += 1
                assert_same_outputs(core, ours)
                continue
            marked += 1
            ours_m, want = cond_values(ours)["vace_mask"][-1][0], unshuffle(case.lat)[0]
            assert bool((ours_m <= want).all()), f"{mode} L={L}: a kept pixel of the intent is generated"
            extra = [k for k in range(want.shape[1]) if not torch.equal(ours_m[:, k], want[:, k])]
            gray = aligned.gray_kept(aligned.hold_known(video, masks), aligned.group_min_masks(masks))
            text = ours.ui.as_dict()["text"][0]
            for k in extra:  # every latent frame kept beyond the intent is kept from gray, and flagged
                assert gray[k] > 0 and "WARNING: latent frame(s)" in text, f"{mode} L={L}: extra keep at {k}"
                assert "set the builder's mask_layout to 'latent-aligned'" in text
            if extra:
                over += 1
    assert uniform and marked
    print(f"\nbuilder outputs: {uniform} group-uniform (bit-equal to WanVaceToVideo), {marked} with p(k) marks, "
          f"{over} of which keep extra (gray) latent frames here")


def test_builder_intent_laid_out_by_group_is_exact_without_the_trade(comfy):
    """The builders' intended latent masks spread over whole VAE groups (no p(k) marks) and their
    control videos: this node gives exactly the intended latent mask, and every known pixel reaches
    the inactive stream, including the frames the stock layout must send through the reactive one."""
    traded = 0
    for mode, make in CASES.items():
        for L in LENGTHS[::4] + [81]:
            case = make(L)
            video, _, W, H, _ = case.out.args
            vae = DuckVAE()
            ours = VACELatentAlignedEncode.execute(*conds(), vae, W, H, L, 1, 1.0, control_video=video,
                                                   control_masks=grid.frame_group_masks(case.lat, L))
            assert torch.equal(cond_values(ours)["vace_mask"][-1], unshuffle(case.lat)), f"{mode} L={L}"
            inactive, reactive = vae.calls
            for f, (px, keep) in case.known.items():
                assert float((inactive[f] - px).abs()[keep].max()) <= EPS, f"{mode} L={L} frame {f}"
                assert bool((reactive[f][keep] == 0.5).all())
            gen = case.lat[[latent_of(f) for f in range(L)]] > 0.5
            assert bool(((inactive - 0.5).abs()[gen] <= EPS).all())
            traded += len(grid.read_conflicts(case.lat, L))
    assert traded > 0
    print(f"\nframes whose known pixels the stock layout sends through the reactive stream: {traded}; here: 0")


# ------------------------------------------------------------------------------- builders, mask_layout latent-aligned

ALIGNED = "latent-aligned"


def all_gray_groups(inactive, L):
    """[T,H,W] bool: pixels that are 0.5 gray (to the node's 1e-3) on every frame of the latent's VAE group
    in the inactive stream the node encoded."""
    gray = ((inactive - 0.5).abs() <= 1e-3).all(dim=-1)
    return torch.stack([gray[group(k)].all(dim=0) for k in range(grid.latent_length(L))])


@pytest.mark.parametrize("mode", list(CASES))
def test_latent_aligned_layout_every_length(comfy, mode):
    """builder(mask_layout='latent-aligned') -> VACELatentAlignedEncode, L = 5..161 (4n+1), duck VAE:

    * control_masks: binary, every pixel frame carries its own VAE group's intended latent mask (the
      intent is written independently in helpers.CASES); control_video equal to the default
      layout's (same content semantics); the default layout's masks differ exactly where WanVaceToVideo
      reads a frame of a group with another mask;
    * vace_mask equals the intended latent mask, binary;
    * the known pixels (keyframes, clips, unmasked source) reach the inactive stream on every frame,
      every frame of a kept group included, with the reactive stream gray there; nothing the intent
      generates leaks into the inactive stream;
    * no kept pixel is 0.5 gray on every frame of its group, and the node's text has no warning."""
    consistent_lengths = 0
    for L in LENGTHS:
        case, stock = CASES[mode](L, layout=ALIGNED), CASES[mode](L)
        video, masks, W, H, Lout = case.out.args
        T = grid.latent_length(L)
        own = case.lat[[latent_of(f) for f in range(L)]]                     # [L,H,W]: each frame its group's intent
        assert Lout == L and binary(masks) and torch.equal(masks, own), f"{mode} L={L}: masks not group-uniform intent"
        assert torch.equal(video, stock.out.args[0]) and case.out.args[2:] == stock.out.args[2:]
        consistent = all(torch.equal(case.lat[k], case.lat[latent_of(p)]) for k, p in enumerate(reads(L)))
        assert torch.equal(stock.out.args[1], masks) == consistent, f"{mode} L={L}"
        consistent_lengths += consistent
        assert case.out.ui["inertia_timeline"][0]["layout"] == ALIGNED

        vae = DuckVAE()
        res = VACELatentAlignedEncode.execute(*conds(), vae, W, H, L, 1, 1.0, control_video=video, control_masks=masks)
        vmask = cond_values(res)["vace_mask"][-1]
        assert binary(vmask), f"{mode} L={L}: vace_mask not binary"
        assert torch.equal(vmask, unshuffle(case.lat)), f"{mode} L={L}: {code(res)} != {grid.latent_code(case.lat)}"
        inactive, reactive = vae.calls
        frames = sorted(case.known)
        px = torch.stack([case.known[f][0] for f in frames])
        keep = torch.stack([case.known[f][1] for f in frames])
        for k in range(T):  # the known pixels checked below cover every frame of every (partly) kept group
            kept = case.lat[k] < 0.5
            for f in group(k) if bool(kept.any()) else []:
                assert f in case.known and bool((case.known[f][1] | ~kept).all()), f"{mode} L={L}: frame {f}"
        diff = (inactive[frames] - px).abs()[keep]
        assert float(diff.max()) <= EPS, f"{mode} L={L}: known pixels changed by {float(diff.max())}"
        assert bool((reactive[frames][keep] == 0.5).all())
        gen = own > 0.5
        if gen.any():
            assert float((inactive - 0.5).abs()[gen].max()) <= EPS
            assert float((reactive - video).abs()[gen].max()) <= EPS
        assert not bool((all_gray_groups(inactive, L) & (case.lat < 0.5)).any()), f"{mode} L={L}: kept from gray"
        text = res.ui.as_dict()["text"][0]
        assert "WARNING" not in text, f"{mode} L={L}: {text}"
    temporal = mode.startswith(("keyframes", "first", "last")) or mode == "repaint_per_frame_mask"
    if temporal:  # the layouts differ somewhere (the check above can tell them apart)
        assert consistent_lengths < len(LENGTHS), mode
    else:         # static masks are uniform on every group: the two layouts are the same
        assert consistent_lengths == len(LENGTHS), mode


def test_latent_aligned_layout_keeps_the_hints_in_generated_regions(comfy):
    """Guide video (keyframes) and fill='source' (repaint) pass pixels as hints where the model generates:
    in the latent-aligned layout they stay there (same control_video as the default layout) and reach the
    reactive stream, while the inactive stream is gray there and carries the kept pixels."""
    for L in (9, 33, 81):
        imgs, guide = rand_images(2, 16, 16, seed=L), rand_images(L, 16, 16, seed=L + 1)
        builders = {
            "keyframes+guide": lambda lay: VACEKeyframeBuilder.execute(images=imgs, length=L, indices="0,-1",
                                                                       guide_video=guide, **layout_kw(lay)),
            "repaint fill=source": lambda lay: VACERepaintBuilder.execute(
                video=guide, bbox="0: 0,0,8,8; -1: 8,8,16,16", fill="source", **layout_kw(lay)),
        }
        for name, make in builders.items():
            stock, ours = make(None), make(ALIGNED)
            video, masks = ours.args[:2]
            assert torch.equal(video, stock.args[0]), f"{name} L={L}"
            gen = masks > 0.5
            assert bool(gen.any()) and bool((~gen).any())
            assert torch.equal(video[gen], guide[gen])  # the hint is where the model generates
            vae = DuckVAE()
            res = VACELatentAlignedEncode.execute(*conds(), vae, 16, 16, L, 1, 1.0, control_video=video,
                                                  control_masks=masks)
            inactive, reactive = vae.calls
            assert float((reactive - guide).abs()[gen].max()) <= EPS
            assert float((inactive - 0.5).abs()[gen].max()) <= EPS
            assert float((inactive - video).abs()[~gen].max()) <= EPS
            # the same latent mask the default layout gives the stock node
            want = grid.latent_masks_seen(stock.args[1], L)
            assert torch.equal(cond_values(res)["vace_mask"][-1], unshuffle(want)), f"{name} L={L}"
            assert "WARNING" not in res.ui.as_dict()["text"][0]


def test_latent_aligned_layout_latent_masks_for_81_are_reported(comfy, capsys):
    """Prints, per mode, the latent mask VACELatentAlignedEncode derives from the latent-aligned layout at
    L = 81 (read from vace_mask in the conditioning) and the stock WanVaceToVideo's from the default layout."""
    from comfy_extras.nodes_wan import WanVaceToVideo
    lines = []
    for mode, make in CASES.items():
        case, stock = make(81, layout=ALIGNED), make(81)
        res = VACELatentAlignedEncode.execute(*conds(), DuckVAE(), *case.out.args[2:4], 81, 1, 1.0,
                                              control_video=case.out.args[0], control_masks=case.out.args[1])
        core = WanVaceToVideo.execute(*conds(), DuckVAE(), *stock.out.args[2:4], 81, 1, 1.0,
                                      control_video=stock.out.args[0], control_masks=stock.out.args[1])
        assert code(res) == code(core) == grid.latent_code(case.lat), mode
        lines.append(f"{mode:26s} {code(res)}  (stock layout + WanVaceToVideo: {code(core)})")
    with capsys.disabled():
        print("\nL=81, mask_layout latent-aligned -> VACELatentAlignedEncode latent masks (0 kept, 1 generated, "
              "m mixed):\n" + "\n".join(lines))
    assert lines[0].split()[1] == "0" + "1" * 9 + "0" + "1" * 9 + "0"


def test_timeline_payload_and_preview_describe_the_layout(comfy):
    """ui['inertia_timeline'] carries the layout; for latent-aligned, reads are the VAE groups and there are no
    misread frames. VACELatentMaskPreview with mask_layout latent-aligned shows the group minimum, and flags
    a default-layout mask there (kept from gray) but not a latent-aligned one."""
    img = rand_images(1, 64, 64)
    out = VACEExtensionBuilder.execute(mode="firstlastframe", generate=79, first=img, last=img, mask_layout=ALIGNED)
    payload, L = out.ui["inertia_timeline"][0], out.args[4]
    T = grid.latent_length(L)
    assert payload["layout"] == ALIGNED and payload["length"] == L == 85
    assert payload["reads"] == [[0, 0]] + [[4 * k - 3, 4 * k] for k in range(1, T)]
    assert payload["latent"] == "0" + "1" * (T - 2) + "0" and payload["conflicts"] == []
    text = out.ui["text"][0]
    assert "set WanVaceToVideo (latent-aligned) width=64" in text
    assert "the stock WanVaceToVideo would see 1" in text  # frame 0 alone keeps latent 0: the stock node misses it
    stock = VACEExtensionBuilder.execute(mode="firstlastframe", generate=79, first=img, last=img)
    assert stock.ui["inertia_timeline"][0]["layout"] == "for WanVaceToVideo"

    imgs = rand_images(3, 16, 16)
    kf = {lay: VACEKeyframeBuilder.execute(images=imgs, length=81, **layout_kw(lay)) for lay in (None, ALIGNED)}
    want = "0" + "1" * 9 + "0" + "1" * 9 + "0"
    for lay, o in kf.items():
        video, masks = o.args[:2]
        # the preview in the layout the masks were built for: no flags, the intended latent mask
        pv = VACELatentMaskPreview.execute(control_masks=masks, control_video=video, **layout_kw(lay))
        image, summary = pv.args
        assert image.ndim == 4 and image.shape[-1] == 3 and want in summary
        assert "0.5 gray" not in summary and "the model keeps" not in summary and "have kept pixels" not in summary
        p = pv.ui["inertia_timeline"][0]
        assert p["layout"] == (lay or "for WanVaceToVideo") and p["latent"] == want
        assert p["reads"] == ([[a, b] for a, b in grid.latent_sources(81, ALIGNED)] if lay else reads(81))
    # the default layout's masks shown for the latent-aligned node: latent 1 is kept from gray (frame 1 carries
    # latent 0's keep), which the preview flags
    video, masks = kf[None].args[:2]
    summary = VACELatentMaskPreview.execute(control_masks=masks, control_video=video, mask_layout=ALIGNED).args[1]
    assert "latent mask by VAE group" in summary and "0" * 2 + "1" * 8 + "0" in summary
    assert "latent 1: keeps 100% of the frame that is 0.5 gray on every frame of 1-4" in summary
    with pytest.raises(InertiaInputError) as e:
        VACEKeyframeBuilder.execute(images=imgs, length=9, mask_layout="nearest")
    assert e.value.name == "mask_layout"


# ------------------------------------------------------------------------------- (2) the single-frame keyframe failure case

def keyframe_video(L, frames, H=16, W=16, seed=0):
    """Keyframes marked on single pixel frames only (mask 0 there, 1 elsewhere; gray elsewhere)."""
    masks = torch.ones(L, H, W)
    video = torch.full((L, H, W, 3), 0.5)
    imgs = rand_video(len(frames), H, W, seed)
    for i, f in enumerate(frames):
        masks[f] = 0
        video[f] = imgs[i]
    return video, masks, imgs


def gray_kept_frames(res, vae):
    """Pixel frames of fully kept latent frames whose inactive stream is all 0.5 gray: what the model is
    told to keep is nothing (the degradation of single-frame keyframes)."""
    inactive = vae.calls[-2]
    out = []
    for k, kept in enumerate(latent_kept(res)):
        if kept:
            out += [f for f in group(k) if float((inactive[f] - 0.5).abs().max()) <= EPS]
    return out


def test_seed_failure_case_l81(comfy, capsys):
    L = 81
    rows = []
    for name, frames in (("keyframes 0, 40, 80", [0, 40, 80]), ("keyframes every 4 frames", list(range(0, 81, 4)))):
        video, masks, _ = keyframe_video(L, frames)
        core, cv, ours, av = run_both(DuckVAE, 16, 16, L, video, masks)
        want = sorted({latent_of(f) for f in frames})
        kept_core = [k for k, v in enumerate(latent_kept(core)) if v]
        kept_ours = [k for k, v in enumerate(latent_kept(ours)) if v]
        assert kept_ours == want
        gc, go = gray_kept_frames(core, cv), gray_kept_frames(ours, av)
        assert go == []
        text = ours.ui.as_dict()["text"][0]
        rows.append((name, code(core), code(ours), kept_core, kept_ours, gc))
        if frames == [0, 40, 80]:
            assert code(core) == "1" * 10 + "0" + "1" * 10  # frames 0 and 80 ignored
            assert code(ours) == "0" + "1" * 9 + "0" + "1" * 9 + "0"
            assert gc == [37, 38, 39]  # latent 10 kept, 3 of its 4 frames gray
            assert "differs at latent frame(s) 0, 20" in text and "held: pixel frame(s) 37-39, 77-79" in text
        else:
            assert code(core) == "1" * 7 + "0" * 7 + "1" * 7  # kept only where p(k) = 4k: frames 25-52
            assert code(ours) == "0" * 21
            assert gc == [f for k in range(7, 14) for f in group(k)[:3]]  # 21 kept frames are gray
            assert "differs at latent frame(s) 0-6, 14-20" in text
        assert "WARNING" not in text
    with capsys.disabled():
        print("\nsingle-frame keyframe failure case, L=81 (latent mask: 0 kept, 1 generated):")
        for name, c, o, kc, ko, gc in rows:
            print(f"  {name}\n    WanVaceToVideo : {c}  kept {kc}; kept-but-gray pixel frames {len(gc)}: {gc}"
                  f"\n    latent-aligned : {o}  kept {ko}; kept-but-gray pixel frames 0")


def test_single_frame_keyframes_every_length(comfy):
    """Keyframes marked only on frames 0, L//2 and L-1: the stock node never keeps latent 0 or the last
    one (it reads frames 1 and L-2); this node keeps exactly the groups holding the keyframes."""
    for L in LENGTHS:
        T = grid.latent_length(L)
        frames = sorted({0, L // 2, L - 1})
        video, masks, _ = keyframe_video(L, frames)
        core, _, ours, _ = run_both(DuckVAE, 16, 16, L, video, masks)
        kc, ko = latent_kept(core), latent_kept(ours)
        assert not kc[0] and not kc[T - 1], f"L={L}"
        assert [k for k in range(T) if ko[k]] == sorted({latent_of(f) for f in frames}), f"L={L}"


# ------------------------------------------------------------------------------- (3) inactive stream

def test_keyframe_pixels_reach_the_inactive_stream_on_every_frame_of_a_kept_group(comfy):
    for L, frames in ((81, [0, 40, 80]), (81, list(range(0, 81, 4))), (33, [2, 17, 31]), (161, [0, 63, 101, 160])):
        video, masks, imgs = keyframe_video(L, frames, seed=L)
        vae = DuckVAE()
        ours = VACELatentAlignedEncode.execute(*conds(), vae, 16, 16, L, 1, 1.0, control_video=video,
                                               control_masks=masks)
        inactive, reactive = vae.calls
        key_of = {latent_of(f): i for i, f in enumerate(frames)}
        kept = latent_kept(ours)
        for k in range(grid.latent_length(L)):
            for f in group(k):
                if k in key_of:
                    assert kept[k]
                    assert float((inactive[f] - imgs[key_of[k]]).abs().max()) <= EPS, f"L={L} frame {f}"
                    assert bool((reactive[f] == 0.5).all())
                else:
                    assert not kept[k] and bool((inactive[f] == 0.5).all())
                    assert torch.equal(reactive[f], video[f])


# ------------------------------------------------------------------------------- node behaviour

def test_appends_and_leaves_inputs_alone(comfy):
    pos, neg = conds()
    before = [dict(c[1]) for c in pos]
    video, masks, _ = keyframe_video(9, [0, 8])
    o1 = VACELatentAlignedEncode.execute(pos, neg, DuckVAE(), 16, 16, 9, 2, 0.7, control_video=video,
                                         control_masks=masks)
    o2 = VACELatentAlignedEncode.execute(o1.args[0], o1.args[1], DuckVAE(), 16, 16, 9, 2, 0.5)
    assert [dict(c[1]) for c in pos] == before and "vace_frames" not in pos[0][1]
    c = o2.args[0][0][1]
    assert len(c["vace_frames"]) == len(c["vace_mask"]) == 2 and c["vace_strength"] == [0.7, 0.5]
    assert tuple(o2.args[2]["samples"].shape) == (2, 16, 3, 2, 2)


@pytest.mark.parametrize("kw,name", [
    (dict(width=20), "width"),
    (dict(height=12), "height"),
    (dict(control_masks=torch.zeros(0, 16, 16)), "control_masks"),
    (dict(control_video=torch.zeros(0, 16, 16, 3)), "control_video"),
])
def test_bad_input_errors_name_the_input(comfy, kw, name):
    args = dict(positive=conds()[0], negative=conds()[1], vae=DuckVAE(), width=16, height=16, length=9,
                batch_size=1, strength=1.0)
    args.update(kw)
    with pytest.raises(InertiaInputError) as e:
        VACELatentAlignedEncode.execute(**args)
    assert e.value.name == name and "Fix:" in str(e.value)


@pytest.mark.parametrize("kw,name,message", [
    (dict(width=2**62), "width", "'width' = 4611686018427387904 is above the limit of 16384"),
    (dict(width=-16), "width", "'width' = -16 is below 16"),
    (dict(height=0), "height", "'height' = 0 is below 16"),
    (dict(width=8), "width", "'width' = 8 is below 16"),  # the schema's minimum (core WanVaceToVideo's), linked
    (dict(length=2**62), "length", "'length' = 4611686018427387904 is above the limit of 16384"),
    (dict(length=-3), "length", "'length' = -3 is below 1"),
    (dict(batch_size=-1), "batch_size", "'batch_size' = -1 is below 1"),
    (dict(batch_size=2**62), "batch_size", "'batch_size' = 4611686018427387904 is above the limit of 4096"),
    (dict(width=16384, height=16384, length=16384), "length",
     "'length' = '16384 × 16384 × 16384' (length × height × width) gives 4.4e+12 pixels over all frames, over the "
     "limit of 1,073,741,824"),
    (dict(width=832, height=480, length=81, batch_size=4096), "batch_size",
     "'batch_size' = 4096 makes an empty latent [4096, 16, 21, 60, 104] of 8.59e+09 values, over the limit of "
     "2,147,483,648 (32 GiB in float32)"),
])
def test_linked_sizes_fail_before_allocating(comfy, kw, name, message):
    """Linked sizes skip ComfyUI's min/max: refused before the control video, masks or latent are made and
    before the VAE is called."""
    vae = DuckVAE()
    args = dict(positive=conds()[0], negative=conds()[1], vae=vae, width=16, height=16, length=9,
                batch_size=1, strength=1.0, control_video=rand_images(9))
    args.update(kw)
    t0 = time.perf_counter()
    with pytest.raises(InertiaInputError) as e:
        VACELatentAlignedEncode.execute(**args)
    assert time.perf_counter() - t0 < 1.0 and vae.calls == []
    assert e.value.name == name and message in str(e.value) and "Fix:" in str(e.value), str(e.value)


# ------------------------------------------------------------------------------- (4) end to end

def test_sample_tiny_vace_with_aligned_outputs(comfy, load_standin, wan_vae):
    """Keyframes on single frames 0 and 8 (L = 9, 16x16) + reference → VACELatentAlignedEncode (real VAE)
    → KSampler on the tiny VACE stand-in (2 steps) → TrimVideoLatent. An APPLY_MODEL probe checks the
    model received this node's mask (latents 0 and 2 kept, which the stock node would generate)."""
    video, masks, _ = keyframe_video(9, [0, 8], seed=5)
    pos, neg, latent, trim = VACELatentAlignedEncode.execute(*conds(), wan_vae, 16, 16, 9, 1, 1.0, control_video=video,
                                                             control_masks=masks,
                                                             reference_image=rand_video(1, 16, 16, 6)).args
    assert trim == 1 and tuple(latent["samples"].shape) == (1, 16, 4, 2, 2)
    model = load_standin("wan21_vace").clone()
    out, seen = sample_vace(comfy, model, pos, neg, latent, trim)
    assert tuple(out.shape) == (1, 16, 3, 2, 2) and bool(torch.isfinite(out).all())
    assert len(seen) == 2
    ctx = seen[0]  # [B, 1, 96, 1+3, 2, 2]: channels 32..95 the mask; frame 0 the reference
    want = torch.ones(3, 16, 16)
    want[0] = 0
    want[2] = 0
    assert torch.equal(ctx[0, 0, 32:, 1:].float(), unshuffle(want)[0])
    assert bool((ctx[0, 0, 32:, 0] == 0).all())
