"""The testbed's toy world: seeded determinism, ground truth consistent with the frames, the mix, captions and
the text encoder. No ComfyUI."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from comfyui_inertia.nodes.pure import toyworld as tw
from comfyui_inertia.nodes.pure.errors import InertiaInputError

ALL = tw.WorldConfig(mix={s: 1.0 for s in tw.SCENARIOS})


def test_pure_module_does_not_import_comfyui():
    pure_dir = Path(tw.__file__).parent
    src = (pure_dir / "toyworld.py").read_text()
    assert "import comfy" not in src and "from comfy" not in src
    code = ("import importlib.util, sys, types\n"
            "pkg = types.ModuleType('p'); pkg.__path__ = []; sys.modules['p'] = pkg\n"
            f"for name in ('errors', 'toyworld'):\n"
            f"    spec = importlib.util.spec_from_file_location('p.' + name, {str(pure_dir)!r} + '/' + name + '.py')\n"
            "    m = importlib.util.module_from_spec(spec); sys.modules['p.' + name] = m; spec.loader.exec_module(m)\n"
            "m.render(m.sample_specs(1, 0))\n"
            "assert not [k for k in sys.modules if k == 'comfy' or k.startswith('comfy.')]\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_same_seed_same_videos_other_seed_other_videos():
    a = tw.make_videos(3, 11, ALL)[1]["video"]
    b = tw.make_videos(3, 11, ALL)[1]["video"]
    c = tw.make_videos(3, 12, ALL)[1]["video"]
    assert a.shape == (3, 17, 128, 128, 3)
    assert torch.equal(a, b)
    assert (a - c).abs().mean() > 0.02


def test_ground_truth_composes_the_frames():
    specs, r = tw.make_videos(6, 3, ALL)
    comp = r["background"][:, None] * (1 - r["alpha"][..., None])
    # where the object is absent the frame is exactly the clean background
    outside = r["alpha"] == 0
    assert torch.equal(r["video"][outside], comp[outside].clamp(0, 1))
    # the frames are static wherever the object never is
    never = (r["alpha"] == 0).all(dim=1)
    v = r["video"]
    assert (v[:, 1:] - v[:, :1]).abs().amax(dim=(1, 4))[never].max() == 0
    assert float(r["video"].min()) >= 0 and float(r["video"].max()) <= 1


@pytest.mark.parametrize("scenario", tw.SCENARIOS)
def test_presence_and_motion_follow_the_scenario(scenario):
    specs, r = tw.make_videos(4, 5, ALL, scenario=scenario)
    pres, x = r["presence"], r["x"]
    end = specs["change_end"]
    if scenario == "stays":
        assert torch.allclose(pres, torch.ones_like(pres), atol=1e-3)
        assert torch.equal(x, x[:, :1].expand_as(x))
    elif scenario == "disappears":
        assert torch.allclose(pres[:, 0], torch.ones(4), atol=1e-3)
        for i in range(4):
            assert float(pres[i, int(end[i]):].max()) < 1e-3   # gone from frame 4-5 on (first third of 17)
            assert int(end[i]) <= 17 // 3
    elif scenario == "appears":
        assert float(pres[:, 0].max()) < 1e-3
        assert torch.allclose(pres[:, -1], torch.ones(4), atol=1e-3)
    else:
        d = x[:, -1] - x[:, 0]
        sign = -1 if scenario == "moves_left" else 1
        assert bool((d * sign >= 36 - 1e-3).all()) and bool((d * sign <= 56 + 1e-3).all())
        R = specs["radius"].float()
        assert bool((x.min(1).values >= R).all()) and bool((x.max(1).values <= 128 - R).all())


def test_forced_scenarios_share_the_start_image():
    st = tw.heldout_scenes(3, "stays")[1]["video"][:, 0]
    di = tw.heldout_scenes(3, "disappears")[1]["video"][:, 0]
    assert torch.equal(st, di)
    one = tw.heldout_scenes(1, "stays", first=2)[1]["video"][0, 0]
    assert torch.equal(one, st[2])


def test_mix_is_followed():
    cfg = tw.WorldConfig(mix={"stays": 0.8, "disappears": 0.15, "moves_left": 0.05})
    s = tw.sample_specs(6000, 1, cfg)
    freq = torch.bincount(s["scenario"], minlength=5).double() / 6000
    want = torch.tensor([0.8, 0.05, 0.0, 0.15, 0.0], dtype=torch.float64)
    sd = (want * (1 - want) / 6000).sqrt()
    assert bool(((freq - want).abs() <= 4 * sd + 1e-12).all()), freq


def test_caption_precision_sets_how_often_a_change_caption_comes_true():
    cfg = tw.WorldConfig(mix={"stays": 0.9, "disappears": 0.1}, caption_precision=0.4)
    assert cfg.hallucination_rate() == pytest.approx(0.1 / 0.9 * (1 / 0.4 - 1))
    s = tw.sample_specs(20000, 2, cfg)
    dis = tw.SCENARIOS.index("disappears")
    captioned = s["caption_scenario"] == dis
    true = (s["scenario"][captioned] == dis).double().mean()
    assert float(true) == pytest.approx(0.4, abs=0.03)
    clean = tw.sample_specs(2000, 2, tw.WorldConfig(mix={"stays": 0.9, "disappears": 0.1}))
    assert torch.equal(clean["caption_scenario"], clean["scenario"])
    with pytest.raises(InertiaInputError, match="caption_precision"):
        tw.WorldConfig(mix={"stays": 0.5, "disappears": 0.5}, caption_precision=0.2).hallucination_rate()


def test_prompts_paraphrase_and_use_the_vocabulary():
    s = tw.sample_specs(300, 4, ALL)
    vocab = set(tw.vocabulary())
    assert len(set(s["prompts"])) > 200
    for p in s["prompts"]:
        assert set(tw.tokenize(p)) <= vocab, p
    canon = tw.canonical_prompts(s, "disappears")
    assert all(p.endswith(", it disappears") for p in canon)
    assert tw.heldout_scenes(1, "stays")[2][0].endswith(", it stays still")


def test_text_encoder_is_a_deterministic_bag_of_words():
    a = tw.encode_prompts(["a red ball, it disappears", ""])
    assert a.shape == (2, 32, 4096)
    assert torch.equal(a, tw.encode_prompts(["a red ball, it disappears", ""]))
    assert torch.count_nonzero(a[1]) == 0
    assert torch.count_nonzero(a[0, 5:]) == 0 and torch.count_nonzero(a[0, :5].abs().sum(-1)) == 5
    assert torch.equal(a[0, 1], tw.word_vector("red"))
    assert float(a[0, 1].norm()) == pytest.approx(tw.WORD_NORM, rel=1e-5)
    assert float(torch.nn.functional.cosine_similarity(a[0, 1], a[0, 2], dim=0).abs()) < 0.1
    assert tw.encode_prompts("x " * 40).shape == (1, 32, 4096)


def test_bad_inputs_name_the_input():
    with pytest.raises(InertiaInputError, match="frames"):
        tw.sample_specs(1, 0, tw.WorldConfig(frames=16))
    with pytest.raises(InertiaInputError, match="mix"):
        tw.sample_specs(1, 0, tw.WorldConfig(mix={"jumps": 1.0}))
    with pytest.raises(InertiaInputError, match="scenario"):
        tw.sample_specs(1, 0, scenario="explodes")
    assert tw.latent_frames(17) == 5 and tw.latent_frames(81) == 21
