"""FramePack section arithmetic against an independent re-run of the original demos' loops.

The references below replay ``demo_gradio.py`` (inverted, + the end-frame rule of
lllyasviel/FramePack PR #167 / kijai's wrapper) and ``demo_gradio_f1.py`` on *tagged* latents:
every frame carries a unique number, history is prepended/appended with ``torch.cat`` and
split with ``Tensor.split`` exactly as the demos do, so what each section is fed can be read off
the tags and compared with the plan of ``nodes/pure/framepack_schedule.py``. No ComfyUI import.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from comfyui_inertia.nodes.pure import framepack_schedule as fs
from comfyui_inertia.nodes.pure.errors import InertiaInputError
from tests.references import rope_grid

START_TAG, END_TAG = 1000.0, 2000.0


def tag(v, frames=1):
    return torch.full((1, 1, frames, 1, 1), float(v))


def generated(k, ws):
    return torch.tensor([10000.0 * (k + 1) + j for j in range(ws)]).view(1, 1, ws, 1, 1)


def tags(t):
    return [float(x) for x in t.flatten()]


def reference_inverted(seconds, ws, has_end):
    n = int(max(round((seconds * 30) / (ws * 4)), 1))
    start, end = tag(START_TAG), tag(END_TAG)
    history = torch.zeros(1, 1, 1 + 2 + 16, 1, 1)
    paddings = reversed(range(n))
    if n > 4:
        paddings = [3] + [2] * (n - 3) + [1, 0]
    paddings = list(paddings)
    total = 0
    records = []
    for k, pad in enumerate(paddings):
        is_last = pad == 0
        is_first = pad == paddings[0]
        indices = torch.arange(0, sum([1, pad * ws, ws, 1, 2, 16])).unsqueeze(0)
        pre, _blank, lat, post, i2x, i4x = indices.split([1, pad * ws, ws, 1, 2, 16], dim=1)
        post_l, l2x, l4x = history[:, :, :1 + 2 + 16].split([1, 2, 16], dim=2)
        if has_end and is_first:
            post_l = end
        clean = torch.cat([start, post_l], dim=2)
        gen = generated(k, ws)
        records.append(dict(lat=lat.flatten().tolist(), clean_idx=torch.cat([pre, post], 1).flatten().tolist(),
                            i2x=i2x.flatten().tolist(), i4x=i4x.flatten().tolist(),
                            clean=tags(clean), l2x=tags(l2x), l4x=tags(l4x), gen=tags(gen), pad=pad))
        if is_last:
            gen = torch.cat([start, gen], dim=2)
        total += int(gen.shape[2])
        history = torch.cat([gen, history], dim=2)
    return n, records, history[:, :, :total]


def reference_f1(seconds, ws):
    n = int(max(round((seconds * 30) / (ws * 4)), 1))
    start = tag(START_TAG)
    history = torch.cat([torch.zeros(1, 1, 16 + 2 + 1, 1, 1), start], dim=2)
    total = 1
    records = []
    for k in range(n):
        indices = torch.arange(0, sum([1, 16, 2, 1, ws])).unsqueeze(0)
        i_start, i4x, i2x, i1x, lat = indices.split([1, 16, 2, 1, ws], dim=1)
        l4x, l2x, l1x = history[:, :, -sum([16, 2, 1]):].split([16, 2, 1], dim=2)
        clean = torch.cat([start, l1x], dim=2)
        gen = generated(k, ws)
        records.append(dict(lat=lat.flatten().tolist(), clean_idx=torch.cat([i_start, i1x], 1).flatten().tolist(),
                            i2x=i2x.flatten().tolist(), i4x=i4x.flatten().tolist(),
                            clean=tags(clean), l2x=tags(l2x), l4x=tags(l4x), gen=tags(gen)))
        total += int(gen.shape[2])
        history = torch.cat([history, gen], dim=2)
    return n, records, history[:, :, -total:]


def resolve(sources, flat):
    return [0.0 if s == fs.ZERO else END_TAG if s == fs.END else flat[s] for s in sources]


ALL_SECONDS = list(range(1, 121)) + [0.5, 1.3, 2.5, 7.7, 59.9]
#: every length 1–120 s for the shipped window (9); a spread for other windows (ws 1 → up to 900 sections)
CASES = [(9, ALL_SECONDS), (5, ALL_SECONDS[::3]), (18, ALL_SECONDS[::3]), (1, [1, 2, 3, 5, 8, 13, 30])]


@pytest.mark.parametrize("ws,seconds_list", CASES)
@pytest.mark.parametrize("has_end", [False, True])
def test_inverted_plan_matches_original_loop(ws, seconds_list, has_end):
    for seconds in seconds_list:
        n, records, video = reference_inverted(seconds, ws, has_end)
        flat = tags(video)
        assert n == fs.section_count(seconds, ws)
        assert video.shape[2] == fs.video_latent_frames(n, ws)
        plans = fs.plan_sections(n, ws, "inverted", has_end=has_end)
        assert [p.padding for p in plans] == [r["pad"] for r in records] == fs.inverted_paddings(n)
        for p, r in zip(plans, records):
            assert list(p.latent_indices) == r["lat"], (seconds, p.step)
            assert list(p.clean_indices) == r["clean_idx"]
            assert list(p.clean_2x_indices) == r["i2x"] and list(p.clean_4x_indices) == r["i4x"]
            assert resolve(p.clean_sources, flat) == r["clean"], (seconds, p.step)
            assert resolve(p.clean_2x_sources, flat) == r["l2x"], (seconds, p.step)
            assert resolve(p.clean_4x_sources, flat) == r["l4x"], (seconds, p.step)
            assert flat[p.out_start:p.out_stop] == r["gen"], (seconds, p.step)
            assert p.index == n - 1 - p.step
        assert tags(video[:, :, :1]) == [START_TAG]


@pytest.mark.parametrize("ws,seconds_list", CASES)
def test_f1_plan_matches_original_loop(ws, seconds_list):
    for seconds in seconds_list:
        n, records, video = reference_f1(seconds, ws)
        flat = tags(video)
        plans = fs.plan_sections(n, ws, "f1")
        assert len(plans) == n and video.shape[2] == fs.video_latent_frames(n, ws)
        for p, r in zip(plans, records):
            assert list(p.latent_indices) == r["lat"] and list(p.clean_indices) == r["clean_idx"]
            assert list(p.clean_2x_indices) == r["i2x"] and list(p.clean_4x_indices) == r["i4x"]
            assert resolve(p.clean_sources, flat) == r["clean"], (seconds, p.step)
            assert resolve(p.clean_2x_sources, flat) == r["l2x"], (seconds, p.step)
            assert resolve(p.clean_4x_sources, flat) == r["l4x"], (seconds, p.step)
            assert flat[p.out_start:p.out_stop] == r["gen"]
            assert p.index == p.step


def test_padding_order_and_split_examples():
    assert fs.inverted_paddings(1) == [0]
    assert fs.inverted_paddings(4) == [3, 2, 1, 0]
    assert fs.inverted_paddings(5) == [3, 2, 2, 1, 0]
    assert fs.inverted_paddings(8) == [3, 2, 2, 2, 2, 2, 1, 0]
    assert fs.index_split("inverted", 9, 2) == [1, 18, 9, 1, 2, 16]
    assert fs.index_split("f1", 9) == [1, 16, 2, 1, 9]
    assert fs.section_count(5, 9) == 4 and fs.section_count(120, 9) == 100  # 150/36 → 4; 3600/36
    first = fs.plan_sections(4, 9, "inverted")[0]
    assert first.latent_indices == tuple(range(28, 37)) and first.clean_indices == (0, 37)
    assert first.clean_2x_indices == (38, 39) and first.clean_4x_indices == tuple(range(40, 56))
    assert first.clean_2x_sources == (fs.ZERO, fs.ZERO) and first.out_start == 28


def test_f1_end_frame_extension():
    plans = fs.plan_sections(3, 9, "f1", has_end=True)
    assert all(p.clean_sources[-1] != fs.END for p in plans[:-1])
    last = plans[-1]
    assert last.clean_sources == (0, 18, fs.END)
    assert last.clean_indices == (0, 19, last.latent_indices[-1] + 1)


def test_gather_frames_zero_and_end():
    video = torch.arange(5, dtype=torch.float32).view(1, 1, 5, 1, 1).expand(2, 3, 5, 2, 2).contiguous()
    end = torch.full((2, 3, 1, 2, 2), 9.0)
    got = fs.gather_frames(video, (4, fs.ZERO, fs.END, 0), end)
    assert got.shape == (2, 3, 4, 2, 2)
    assert got[0, 0, :, 0, 0].tolist() == [4.0, 0.0, 9.0, 0.0]


def test_bad_inputs():
    with pytest.raises(InertiaInputError, match="total_seconds"):
        fs.section_count(0, 9)
    with pytest.raises(InertiaInputError, match="total_seconds"):
        fs.section_count(-1, 9)
    with pytest.raises(InertiaInputError, match="latent_window_size"):
        fs.section_count(5, 0)
    with pytest.raises(InertiaInputError, match="32-px bucket"):
        fs.check_latent_size("start_latent", torch.zeros(1, 16, 1, 6, 8))
    with pytest.raises(InertiaInputError, match="HunyuanVideo"):
        fs.check_latent_size("start_latent", torch.zeros(1, 4, 1, 8, 8))
    assert fs.check_latent_size("start_latent", torch.zeros(1, 16, 1, 80, 76)) == (80, 76)


# ------------------------------------------------------------------------------------------ RoPE

def original_packed_rope(frame_indices, height, width, kernel, dims=(4, 6, 6)):
    g = rope_grid(frame_indices, height, width, dims)[None]
    if kernel > 1:
        _, _, t, h, w = g.shape
        pads = [(kernel - (s % kernel)) % kernel for s in (t, h, w)]
        g = F.pad(g, (0, pads[2], 0, pads[1], 0, pads[0]), mode="replicate")
        g = F.avg_pool3d(g, kernel, stride=kernel)
    return g.flatten(2).transpose(1, 2)[0]  # [L, C]


def packed_rope_from_subpositions(sub, dims=(4, 6, 6), theta=256.0):
    cos, sin = [], []
    for a, d in enumerate(dims):
        f = 1.0 / (theta ** (torch.arange(0, d, 2).float()[: d // 2] / d))
        ang = sub[0, :, a, :, None] * f  # [L, S, d/2]
        cos.append(ang.cos().mean(1).repeat_interleave(2, dim=-1))
        sin.append(ang.sin().mean(1).repeat_interleave(2, dim=-1))
    return torch.cat(cos + sin, dim=-1)


@pytest.mark.parametrize("kernel,indices,h,w", [
    (1, [0, 37], 5, 4), (2, [38, 39], 6, 4), (2, [17, 18], 5, 3), (4, list(range(40, 56)), 6, 7),
    (4, list(range(1, 17)), 8, 8), (2, [3, 4, 9], 3, 5),
])
def test_rope_subpositions_equal_original_avg_pool(kernel, indices, h, w):
    idx = torch.tensor([indices])
    sub = fs.rope_subpositions(idx, h, w, kernel)
    ref = original_packed_rope(idx[0], h, w, kernel)
    assert sub.shape[:3] == (1, ref.shape[0], 3)
    assert torch.allclose(packed_rope_from_subpositions(sub), ref, atol=1e-6)


# ------------------------------------------------------------------------------------------ sigmas

def test_auto_shift_and_sigmas_match_original_formulas():
    def mu_ref(ctx, x1=256, y1=0.5, x2=4096, y2=1.15, exp_max=7.0):
        k = (y2 - y1) / (x2 - x1)
        return min(k * ctx + y1 - k * x1, math.log(exp_max))

    for ws, h, w in ((9, 80, 76), (9, 8, 8), (3, 16, 16), (1, 24, 24)):
        assert fs.auto_shift(ws, h, w) == pytest.approx(math.exp(mu_ref(ws * h * w // 4)))
    assert fs.auto_shift(9, 80, 76) == pytest.approx(7.0)
    for shift in (3.0, 7.0, 1.0):
        mu = math.log(shift)
        t = torch.linspace(1, 0, 26)[:-1]
        ref = math.exp(mu) / (math.exp(mu) + (1 / t - 1))
        got = fs.flow_sigmas(25, shift)
        assert torch.allclose(got[:-1], ref.float(), atol=1e-6) and got[-1] == 0


# ------------------------------------------------------------------------------------------ prompts

def test_parse_timestamped_prompts():
    spans = fs.parse_timestamped_prompts("a cat [2s: the cat jumps] [4.5s-6s: it lands: softly]")
    assert spans == [fs.PromptSpan(0.0, None, "a cat"), fs.PromptSpan(2.0, None, "the cat jumps"),
                     fs.PromptSpan(4.5, 6.0, "it lands: softly")]
    assert fs.parse_timestamped_prompts("just one prompt") == [fs.PromptSpan(0.0, None, "just one prompt")]


@pytest.mark.parametrize("text,what", [
    ("[3s: b] [1s: a]", "out of order"), ("[1s: a] [1s: b]", "out of order"),
    ("[2s-1s: a]", "ends before"), ("[soon: a]", "not a number"), ("[0s: a] trailing", "follows"),
])
def test_parse_errors(text, what):
    with pytest.raises(InertiaInputError, match=what):
        fs.parse_timestamped_prompts(text)


def test_section_prompt_weights_and_blending():
    spans = [fs.PromptSpan(0, None, "a"), fs.PromptSpan(2.4, None, "b"), fs.PromptSpan(4.8, 5.0, "c")]
    # ws 9 → 1.2 s per section: starts 0, 1.2, 2.4, 3.6, 4.8, 6.0
    plain = fs.section_prompt_weights(spans, 6, 9, 0)
    assert [w[0][0] for w in plain] == [0, 0, 1, 1, 2, 1]  # c is an insert: b resumes after c's end
    blended = fs.section_prompt_weights(spans, 6, 9, 1)
    assert blended[1] == ((0, 0.5), (1, 0.5)) and blended[2] == ((1, 1.0),)
    assert blended[3] == ((1, 0.5), (2, 0.5)) and blended[4] == ((2, 0.5), (1, 0.5))
    assert blended[5] == ((1, 1.0),)
    two = fs.section_prompt_weights(spans, 6, 9, 2)
    assert two[0] == ((0, pytest.approx(2 / 3)), (1, pytest.approx(1 / 3)))
    assert two[2] == ((1, pytest.approx(2 / 3)), (2, pytest.approx(1 / 3)))
    # the ramp back to b (change at section 5) does not reach back past c's change at section 4
    assert two[3] == ((1, pytest.approx(1 / 3)), (2, pytest.approx(2 / 3)))
    assert two[4] == ((2, pytest.approx(1 / 3)), (1, pytest.approx(2 / 3)))
    for row in two:
        assert sum(wt for _, wt in row) == pytest.approx(1.0)
    gap = [fs.PromptSpan(0, 1.0, "a"), fs.PromptSpan(3.0, None, "b")]
    assert [w[0][0] for w in fs.section_prompt_weights(gap, 4, 9, 0)] == [0, 0, 0, 1]


def test_blend_tokens_pads_shorter_with_zeros():
    a, b = torch.ones(1, 2, 3), torch.full((1, 4, 3), 3.0)
    out = fs.blend_tokens(a, b, 0.25)
    assert out.shape == (1, 4, 3)
    assert out[0, :, 0].tolist() == [1.5, 1.5, 0.75, 0.75]


@pytest.mark.parametrize("bad,problem", [(2.5, "not a whole number"), (0, "below 1"), (float("nan"), "not a finite")])
def test_window_size_errors(bad, problem):
    with pytest.raises(InertiaInputError, match=f"'latent_window_size'.*{problem}"):
        fs.check_window(bad)

# ------------------------------------------------------------------------------------------ buckets

def test_buckets_are_the_originals_640_set():
    assert len(fs.BUCKETS_640) == 14
    assert all(h % 32 == 0 and w % 32 == 0 for h, w in fs.BUCKETS_640)
    assert all(abs(h * w - 640 * 640) / (640 * 640) < 0.07 for h, w in fs.BUCKETS_640)  # 383k-399k px, about 640²
    assert fs.BUCKETS_640 == tuple((w, h) for h, w in reversed(fs.BUCKETS_640))  # transposed pairs, mirrored order


@pytest.mark.parametrize("seed", range(3))
def test_nearest_bucket_follows_the_original_rule(seed):
    """The original scans the list and keeps a bucket when |h·bw − w·bh| ≤ the best so far (a tie goes to the
    later bucket); written out here as that loop."""
    import random

    rng = random.Random(seed)

    def original_rule(h, w):
        best, best_metric = None, float("inf")
        for bh, bw in fs.BUCKETS_640:
            metric = abs(h * bw - w * bh)
            if metric <= best_metric:
                best, best_metric = (bh, bw), metric
        return best

    for _ in range(2000):
        h, w = rng.randint(1, 4000), rng.randint(1, 4000)
        assert fs.nearest_bucket(h, w) == original_rule(h, w)
    assert fs.nearest_bucket(1080, 1920) == (480, 832) and fs.nearest_bucket(512, 512) == (640, 608)
    assert fs.nearest_bucket(10, 4000) == (416, 960)
    with pytest.raises(InertiaInputError, match="'image' = '0x5 px' is empty"):
        fs.nearest_bucket(5, 0)
