"""Testbed metrics against the toy world's ground truth: success that collapse cannot fake. No ComfyUI."""

import pytest
import torch

from comfyui_inertia.nodes.pure import testbed_metrics as tm
from comfyui_inertia.nodes.pure import toyworld as tw


@pytest.fixture(scope="module")
def scenes():
    out = {}
    for scen in ("stays", "disappears"):
        specs, r, _ = tw.heldout_scenes(4, scen)
        core, guard = tm.object_regions(r["full_alpha"], r["alpha"])
        out[scen] = (specs, r, core, guard)
    return out


def test_ground_truth_videos_score_as_their_scenario(scenes):
    _, r, core, guard = scenes["stays"]
    assert float(tm.background_error(r["video"], r["background"], guard).max()) < 1e-6
    p = tm.presence_series(r["video"], r["background"], r["reference"], core)
    assert torch.allclose(p, torch.ones_like(p), atol=1e-4)
    _, r, core, guard = scenes["disappears"]
    p = tm.presence_series(r["video"], r["background"], r["reference"], core)
    assert torch.allclose(p[:, 0], torch.ones(4), atol=1e-4)
    assert float(tm.late_mean(p).abs().max()) < 1e-3
    f = tm.classify(tm.background_error(r["video"], r["background"], guard), tm.late_mean(p), 0.01)
    assert bool(f["success"].all()) and not bool(f["collapse"].any())


def test_presence_is_the_opacity_of_a_fade(scenes):
    _, r, core, _ = scenes["stays"]
    a = torch.tensor([1.0, 0.6, 0.25, 0.0])
    # per-video opacity a[i] on every frame
    faded = r["background"][:, None] + (r["video"] - r["background"][:, None]) * a.view(4, 1, 1, 1, 1)
    p = tm.presence_series(faded, r["background"], r["reference"], core)
    assert torch.allclose(p, a.view(4, 1).expand(4, 17), atol=1e-4)


def test_a_wrecked_scene_is_collapse_not_success(scenes):
    """The naive 'object no longer there' reading calls a wrecked scene a disappearance; the metric does not."""
    _, r, core, guard = scenes["stays"]
    g = torch.Generator().manual_seed(0)
    wrecked = r["video"].clone()
    wrecked[:, 1:] = torch.rand(wrecked[:, 1:].shape, generator=g)          # noise everywhere after frame 0
    err = tm.background_error(wrecked, r["background"], guard)
    late = tm.late_mean(tm.presence_series(wrecked, r["background"], r["reference"], core))
    thr = tm.collapse_threshold(tm.background_error(r["video"], r["background"], guard))
    assert thr == tm.COLLAPSE_FLOOR
    f = tm.classify(err, late, thr)
    assert bool(f["collapse"].all()) and not bool(f["success"].any())
    # errors only inside the guard band (the object's region) do not count as collapse
    inside = r["video"].clone()
    inside[:, 1:][guard[:, None].expand(-1, 16, -1, -1)] = 0.0
    assert float(tm.background_error(inside, r["background"], guard).max()) == 0.0


def test_collapse_threshold_is_factor_times_quantile():
    e = torch.linspace(0.0, 0.1, 101)
    assert tm.collapse_threshold(e) == pytest.approx(2.0 * 0.095)
    assert tm.collapse_threshold(torch.zeros(5)) == tm.COLLAPSE_FLOOR
    assert tm.collapse_threshold(e, factor=3.0, quantile=0.5, floor=0.0) == pytest.approx(0.15)


def test_wilson_intervals_match_known_values():
    p, lo, hi = tm.wilson(32, 64)
    assert (p, round(lo, 3), round(hi, 3)) == (0.5, 0.381, 0.619)   # 0.5 ± 1.96·√(1/256 + 1.96²/16384)/1.06
    p, lo, hi = tm.wilson(0, 64)
    assert p == 0 and lo == 0 and hi == pytest.approx(0.0565, abs=2e-4)
    r = tm.rate(torch.tensor([True, False, True, True]))
    assert r["k"] == 3 and r["n"] == 4 and r["rate"] == 0.75


def test_latent_presence_is_the_mixing_coefficient():
    g = torch.Generator().manual_seed(1)
    bg, obj = torch.randn(2, 16, 5, 16, 16, generator=g), torch.randn(2, 16, 5, 16, 16, generator=g)
    region = torch.zeros(2, 16, 16, dtype=torch.bool)
    region[:, 4:8, 4:8] = True
    a = torch.tensor([0.0, 0.3, 0.6, 1.0, 1.2]).view(1, 1, 5, 1, 1)
    lat = bg + a * (obj - bg)
    lp = tm.latent_presence(lat, bg, obj, region)
    assert torch.allclose(lp, a.view(1, 5).expand(2, 5), atol=1e-5)
    core = torch.zeros(1, 128, 128, dtype=torch.bool)
    core[:, 32:64, 40:72] = True
    lr = tm.latent_region(core)
    assert lr.shape == (1, 16, 16) and int(lr.sum()) == 16


def test_correlations():
    x = torch.arange(10.0)
    assert tm.pearson(x, 2 * x + 1) == pytest.approx(1.0)
    assert tm.spearman(x, x ** 3) == pytest.approx(1.0)
    assert tm.pearson(x, -x) == pytest.approx(-1.0)
    m = tm.mean_ci(torch.tensor([1.0, 1.0, 1.0]))
    assert m["mean"] == 1.0 and m["low"] == 1.0


def test_change_meter_agrees_with_ground_truth_on_ground_truth_videos():
    """The change meter's region measure (read through the evaluation's thin import) against the generator's
    presence on true 'stays' / 'disappears' videos: the baseline of the meter-agreement check."""
    from comfyui_inertia.nodes.testbed.evaluate import meter_remaining

    meter, truth = [], []
    for scen in ("stays", "disappears"):
        _, r, _ = tw.heldout_scenes(12, scen)
        core, _ = tm.object_regions(r["full_alpha"], r["alpha"])
        for i in range(12):
            meter.append(float(meter_remaining(r["video"][i], core[i].float())[-1]))
            truth.append(float(r["presence"][i, -1]))
    assert min(meter[:12]) > 0.99 and sum(meter[12:]) / 12 < 0.15
    assert tm.pearson(torch.tensor(meter), torch.tensor(truth)) > 0.95
