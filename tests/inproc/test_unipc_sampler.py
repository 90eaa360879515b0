"""FramePack's flow-matching UniPC as a ComfyUI SAMPLER, inside real ComfyUI.

The tiny FramePack stand-in (released key layout, loaded by the pack's loader) is sampled by the real
FramePackSectionSampler / CFGGuider / KSAMPLER path, once with the pack's SAMPLER and once with the
independent float64 transcription (``tests/unit/unipc_reference.py``) wrapped in a KSAMPLER, so both
drive the same ComfyUI model calls. ComfyUI's ``uni_pc`` on the same case is shown to be a different solver.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from comfyui_inertia.nodes import standins
from comfyui_inertia.nodes.standins import framepack as framepack_standin

from .helpers import framepack_start_latent as lat
from .helpers import framepack_vision as vision

_spec = importlib.util.spec_from_file_location(
    "unipc_reference", Path(__file__).resolve().parents[1] / "unit" / "unipc_reference.py")
ref = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ref)

STEPS, WS, SECONDS = 25, 2, 0.2  # 0.2 s · 30 / (2·4) → one section of 2 latent frames


def rel(a, b):
    return float((a.double() - b.double()).norm() / b.double().norm())


def probe(model):
    """Clone with an APPLY_MODEL wrapper recording the sigma of every model call."""
    import comfy.patcher_extension as pe

    sigmas = []

    def wrapper(executor, x, t, *args, **kwargs):
        sigmas.append(float(t.flatten()[0]))
        return executor(x, t, *args, **kwargs)

    m = model.clone()
    m.add_wrapper_with_key(pe.WrappersMP.APPLY_MODEL, "test_unipc_probe", wrapper)
    return m, sigmas


@pytest.fixture(scope="module")
def framepack_model(fp, fpl):
    """The tiny FramePack stand-in (released layout, the pack's loader) with ``proj_out`` scaled ×10, so the
    velocity is O(1) as a trained model's (at the stand-in's std 0.02 it is ~0.02 and x0 ≈ x, where every
    sampler agrees to ~1e-3)."""
    sd = framepack_standin.framepack_state_dict(seed=3)
    sd["proj_out.weight"] *= 10.0
    sd["proj_out.bias"] *= 10.0
    return fpl.load_framepack_state_dict(sd, {"dtype": torch.float32})


@pytest.fixture(scope="module")
def samplers(comfy):
    from comfyui_inertia.nodes import samplers
    return samplers


def section(comfy, model, **kw):
    """One FramePack section (the node looked up by id, wherever the module split puts it); the generated frames."""
    node = comfy.NODE_CLASS_MAPPINGS["InertiaFramePackSectionSampler"]
    args = dict(model=model, positive=standins.hunyuan_text_conditioning(1, length=8), clip_vision_output=vision(),
                start_latent=lat(10), total_seconds=SECONDS, latent_window_size=WS, steps=STEPS,
                distilled_guidance=10.0, cfg=1.0, shift=0.0, seed=7, sampler_name="euler", mode="inverted")
    args.update(kw)
    video = node.execute(**args).args[0]["samples"]
    assert video.shape == (1, 16, 1 + WS, 8, 8)
    return video[:, :, 1:]


def reference_sampler(variant="bh1"):
    """The transcription as a ComfyUI KSAMPLER: it calls ComfyUI's wrapped model (float32) from float64 states."""
    import comfy.samplers

    def fn(model, x, sigmas, extra_args=None, callback=None, disable=None):
        extra_args = extra_args or {}

        def model_fn(xi, s):
            sigma = torch.full((xi.shape[0],), s, dtype=torch.float32, device=x.device)
            return model(xi.to(x.dtype), sigma, **extra_args)

        return ref.reference_unipc(model_fn, x, sigmas, variant).to(x.dtype)

    return comfy.samplers.KSAMPLER(fn)


def test_section_sampler_with_flow_unipc_matches_transcription(comfy, framepack_model, capsys):
    """25 steps, one section: the pack's SAMPLER (bh1) == the transcription (≤ 1e-4 relative; measured
    ~2e-7, float32 model calls), same model calls at the same sigmas; ComfyUI's uni_pc differs (printed)."""
    node = comfy.NODE_CLASS_MAPPINGS["InertiaFlowUniPCSampler"]
    m, calls = probe(framepack_model)
    ours = section(comfy, m, sampler=node.execute(variant="bh1").args[0])
    ours_sigmas = list(calls)
    calls.clear()
    expected = section(comfy, m, sampler=reference_sampler("bh1"))
    ref_sigmas = list(calls)
    uni_pc = section(comfy, m, sampler_name="uni_pc")
    euler = section(comfy, m, sampler_name="euler")

    assert len(ours_sigmas) == STEPS and ours_sigmas == pytest.approx(ref_sigmas, abs=1e-7)
    assert ours_sigmas[0] == 1.0 and ours_sigmas[-1] > 0
    err, d_uni_pc, d_euler = rel(ours, expected), rel(uni_pc, expected), rel(euler, expected)
    with capsys.disabled():
        print(f"\n[FramePack stand-in, {STEPS} steps] flow UniPC vs transcription {err:.2e}; "
              f"ComfyUI uni_pc vs transcription {d_uni_pc:.2e}; euler vs transcription {d_euler:.2e}")
    assert err <= 1e-4
    assert d_uni_pc > 100 * max(err, 1e-7) and d_euler > 100 * max(err, 1e-7)


@pytest.mark.parametrize("steps", [25, 4])
def test_comfyui_uni_pc_is_another_solver(comfy, samplers, steps, capsys):
    """On the exact data prediction of a Gaussian mixture (float32, FramePack's schedule, shift 7) the pack's
    sampler matches the transcription and ComfyUI's ``uni_pc`` (comfy/extra_samplers/uni_pc.py) does not."""
    from comfy.extra_samplers import uni_pc

    mixture = ref.GaussianMixtureFlow([-1.0, 0.5, 2.0], [0.3, 0.2, 0.5], [0.3, 0.5, 0.2])
    model = lambda x, s, **kw: mixture(x, s).float()  # noqa: E731  (a k-diffusion denoiser)
    noise = torch.randn(1, 4, 2, 8, 8, generator=torch.Generator().manual_seed(0))
    sig = ref.flow_sigmas(steps, 7.0).float()
    expected = ref.reference_unipc(mixture, noise, sig)
    ours = samplers.sample_flow_unipc(model, noise.clone(), sig, disable=True)
    theirs = uni_pc.sample_unipc(model, noise.clone(), sig.clone(), extra_args={}, disable=True)
    err, diff = rel(ours, expected), rel(theirs, expected)
    with capsys.disabled():
        print(f"\n[Gaussian mixture, {steps} steps] flow UniPC vs transcription {err:.2e}; "
              f"ComfyUI uni_pc vs transcription {diff:.2e}")
    assert err < 1e-5 and diff > 100 * err


def test_sampler_by_name_and_defaults(comfy, samplers):
    """The pack's names resolve to its KSAMPLER, every ComfyUI name to ComfyUI's own sampler object."""
    import comfy.samplers

    assert samplers.SAMPLER_NAMES[:2] == ["uni_pc_flow", "uni_pc_flow_bh2"]
    assert set(comfy.samplers.SAMPLER_NAMES) <= set(samplers.SAMPLER_NAMES)
    s = samplers.sampler_by_name("uni_pc_flow_bh2")
    assert isinstance(s, comfy.samplers.KSAMPLER) and s.sampler_function is samplers.sample_flow_unipc
    assert s.extra_options == {"variant": "bh2"}
    assert samplers.sampler_by_name("uni_pc").sampler_function is comfy.samplers.sampler_object("uni_pc").sampler_function
    from comfyui_inertia.nodes.pure.errors import InertiaInputError
    with pytest.raises(InertiaInputError, match="input 'variant'"):
        samplers.flow_unipc_sampler("bh3")


def test_node_schema(comfy, samplers):
    for cls in samplers.NODES:
        schema = cls.GET_SCHEMA()
        assert comfy.NODE_CLASS_MAPPINGS[schema.node_id] is cls
        assert schema.category == "Inertia/sampling" and schema.description
        assert all(i.tooltip for i in schema.inputs) and all(o.tooltip for o in schema.outputs)
    schema = samplers.InertiaFlowUniPCSampler.GET_SCHEMA()
    assert schema.display_name == "UniPC (flow matching, FramePack)"
    assert schema.inputs[0].options == ["bh1", "bh2"] and schema.inputs[0].default == "bh1"
