"""Temporal Unlearning and ALG where consumer-GPU users run Wan, inside real ComfyUI (CPU, tiny stand-ins).

* fp8 weights: the stand-in loaded by core ``UNETLoader`` with ``weight_dtype`` fp8_e4m3fn (manual cast);
* GGUF: a Q8_0 GGUF of the stand-in, written here with the ``gguf`` package and loaded by city96/ComfyUI-GGUF's
  ``UnetLoaderGGUF`` (its layers are ``GGMLOps``). The pack is never committed: it is copied at test time from
  ``$INERTIA_GGUF_PACK`` (a checkout of https://github.com/city96/ComfyUI-GGUF), else from ComfyUI's own
  ``custom_nodes/ComfyUI-GGUF`` (where users install it), else the tests skip;
* core ``TorchCompileModel`` (``comfy_extras/nodes_torch_compile.py``);
* an attention override installed the way KJNodes' Sage patch does (a function in
  ``transformer_options["optimized_attention_override"]`` that replaces the attention kernel), here plain SDPA;
* Wan 2.2 TI2V-5B (``comfy.model_base.WAN22``, 48-channel latent, start image through the denoise mask of core
  ``Wan22ImageToVideoLatent``).

Temporal Unlearning's effect is checked at the patched sub-layers: forward hooks record each ``norm_k`` / ``v``
call's input and (patched) output; the expected output is the layer class's own ``forward`` (the fp8 manual
cast, the GGUF dequantising op) on that input, blurred along latent time by the loop reference
(``tests/references.py``). ALG's effect is checked on the condition the model receives (``APPLY_MODEL`` probe).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys

import pytest
import torch
import torch.nn.functional as F

from comfyui_inertia.nodes import standins

from .test_alg import CFG, STEPS, alg, classify, flow_sigma, probed, sharp_reference, wan_i2v  # noqa: F401
from .test_temporal_unlearning import blur_tokens_ref, sample, tu

FRAMES = 5  # latent frames of the T2V runs (8x8 latent)


# ----------------------------------------------------------------------------- sub-layer probe
class LayerProbe:
    """Forward hooks on every block's ``self_attn.norm_k`` and ``self_attn.v``: (block, layer, input, output)."""

    def __init__(self, dm):
        self.calls, self.handles, self.dm = [], [], dm
        for i, b in enumerate(dm.blocks):
            for name in ("norm_k", "v"):
                mod = getattr(b.self_attn, name)
                self.handles.append(mod.register_forward_hook(self._hook(i, name, mod)))

    def _hook(self, i, name, mod):
        def hook(module, args, out):
            self.calls.append((i, name, mod, args[0].detach().clone(), out.detach().clone()))
        return hook

    def close(self):
        for h in self.handles:
            h.remove()

    def check(self, frames, anchors, sigma=0.6, atol=2e-5):
        """Every recorded output equals the class forward of its input, blurred; returns the max blur change."""
        assert self.calls, "no norm_k / v call recorded"
        moved = 0.0
        for i, name, mod, inp, out in self.calls:
            with torch.no_grad():
                stock = type(mod).forward(mod, inp).float()
            want = blur_tokens_ref(stock, frames, sigma, anchors)
            err = (out.float() - want).abs().max().item()
            assert err <= atol * max(1.0, want.abs().max().item()), (i, name, err)
            moved = max(moved, (want - stock).abs().max().item())
        assert moved > 1e-3, "the blur must change the layer outputs, or the check proves nothing"
        return moved


def probe_run(comfy, model, patched, **kw):
    dm = model.get_model_object("diffusion_model")
    p = LayerProbe(dm)
    try:
        out = sample(comfy, patched, **kw)
    finally:
        p.close()
    return p, out


@pytest.fixture(scope="module")
def unet_dir(comfy, tmp_path_factory):
    """A diffusion_models folder (registered with ComfyUI) with the Wan 2.1 T2V stand-in."""
    import folder_paths

    d = tmp_path_factory.mktemp("where_unet")
    standins.write_diffusion_model("wan21_t2v", str(d), filename="wan_where_t2v.safetensors", seed=1)
    folder_paths.add_model_folder_path("diffusion_models", str(d))
    return d


# ============================================================================= fp8 weight_dtype
def test_fp8_weight_dtype_unet_loader_blur_applied(comfy, unet_dir):
    from nodes import UNETLoader

    model = UNETLoader().load_unet("wan_where_t2v.safetensors", "fp8_e4m3fn")[0]
    dm = model.get_model_object("diffusion_model")
    assert dm.blocks[0].self_attn.v.weight.dtype == torch.float8_e4m3fn
    assert dm.blocks[0].self_attn.k.weight.dtype == torch.float8_e4m3fn
    p, out = probe_run(comfy, model, tu(model))
    assert len(p.calls) == 2 * 2 * 2  # 2 steps x 2 blocks x (norm_k, v), cond+uncond batched
    # fp8 weights, activations in the manual-cast compute dtype (float32 on this CPU)
    assert all(o.dtype == torch.float32 for *_, o in p.calls)
    moved = p.check(FRAMES, ())
    stock = sample(comfy, model)
    assert torch.isfinite(out).all() and not torch.equal(out, stock)
    print(f"\nfp8_e4m3fn: {len(p.calls)} patched layer calls match the reference blur; "  # noqa: T201
          f"max blur change {moved:.4f}; |out - stock| max {(out - stock).abs().max():.4f}")


# ============================================================================= GGUF (city96/ComfyUI-GGUF)
def _write_gguf(sd: dict, path: str):
    """Write ``sd`` as a ComfyUI-GGUF file: arch "wan", 2-D weights Q8_0, the rest F32 (5-D ones flattened with
    their shape in ``comfy.gguf.orig_shape.<key>``, as ComfyUI-GGUF's tools/convert.py does)."""
    gguf = pytest.importorskip("gguf", reason="needs the gguf package (tests/requirements.txt)")
    w = gguf.GGUFWriter(path=None, arch="wan")
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)
    for key, t in sd.items():
        data = t.float().numpy()
        q = gguf.GGMLQuantizationType.F32
        if data.ndim == 2 and data.shape[-1] % 32 == 0 and data.size >= 1024:
            q = gguf.GGMLQuantizationType.Q8_0
        elif data.ndim > 4:
            w.add_array(f"comfy.gguf.orig_shape.{key}", [int(d) for d in data.shape])
            data = data.reshape(data.shape[0], -1)
        w.add_tensor(key, gguf.quants.quantize(data, q), raw_dtype=q)
    w.write_header_to_file(path=path)
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def _find_gguf_pack(comfy) -> str | None:
    """A city96/ComfyUI-GGUF checkout: ``$INERTIA_GGUF_PACK``, else where a user installs it, in the custom_nodes
    folder of the ComfyUI under test (as ComfyUI-GGUF, or comfyui-gguf as comfy-cli names it)."""
    import folder_paths

    places = [os.environ.get("INERTIA_GGUF_PACK", "")]
    for custom in folder_paths.get_folder_paths("custom_nodes"):
        places += [os.path.join(custom, "ComfyUI-GGUF"), os.path.join(custom, "comfyui-gguf")]
    return next((p for p in places if p and os.path.isfile(os.path.join(p, "nodes.py"))
                 and os.path.isfile(os.path.join(p, "ops.py"))), None)


@pytest.fixture(scope="module")
def gguf_pack(comfy, tmp_path_factory):
    """city96/ComfyUI-GGUF imported as a custom node from a temporary custom_nodes copy of the checkout
    :func:`_find_gguf_pack` finds ($INERTIA_GGUF_PACK, else ComfyUI's own custom_nodes)."""
    src = _find_gguf_pack(comfy)
    if src is None:
        pytest.skip("needs city96/ComfyUI-GGUF: install it in ComfyUI's custom_nodes, or set INERTIA_GGUF_PACK "
                    "to a checkout of it")
    pytest.importorskip("gguf", reason="needs the gguf package (tests/requirements.txt)")
    dst = tmp_path_factory.mktemp("custom_nodes") / "ComfyUI-GGUF"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".git"))
    name = "inertia_test_comfyui_gguf"
    spec = importlib.util.spec_from_file_location(name, dst / "__init__.py", submodule_search_locations=[str(dst)])
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def gguf_dir(gguf_pack, tmp_path_factory):
    import folder_paths

    d = tmp_path_factory.mktemp("where_gguf")
    for name in ("wan21_t2v", "wan21_i2v"):
        _write_gguf(standins.diffusion_state_dict(name, seed=1), str(d / f"{name}-Q8_0.gguf"))
    folder_paths.add_model_folder_path("diffusion_models", str(d))
    return d


def _load_gguf(gguf_pack, name):
    return gguf_pack.NODE_CLASS_MAPPINGS["UnetLoaderGGUF"]().load_unet(f"{name}-Q8_0.gguf")[0]


def _assert_ggml(gguf_pack, dm):
    ops = sys.modules[gguf_pack.__name__ + ".ops"]
    v = dm.blocks[0].self_attn.v
    assert isinstance(v, ops.GGMLOps.Linear) and isinstance(dm.blocks[0].self_attn.norm_k, ops.GGMLOps.RMSNorm)
    assert v.weight.tensor_type.name == "Q8_0"


def test_gguf_q8_temporal_unlearning_blur_applied(comfy, gguf_pack, gguf_dir):
    model = _load_gguf(gguf_pack, "wan21_t2v")
    from comfyui_inertia.nodes.model_info import model_family
    assert model_family(model) == "wan"
    p, out = probe_run(comfy, model, tu(model))
    # the patched sub-layers are GGMLOps modules, and every one of them was hit with the blur
    _assert_ggml(gguf_pack, model.get_model_object("diffusion_model"))
    assert len(p.calls) == 8
    moved = p.check(FRAMES, ())
    stock = sample(comfy, model)
    assert not torch.equal(out, stock)
    print(f"\nGGUF Q8_0: {len(p.calls)} GGMLOps norm_k/v calls match the reference blur; "  # noqa: T201
          f"max blur change {moved:.4f}; |out - stock| max {(out - stock).abs().max():.4f}")


def test_gguf_q8_alg_filters_concat_image(comfy, gguf_pack, gguf_dir, wan_i2v):  # noqa: F811 (fixture)
    base = _load_gguf(gguf_pack, "wan21_i2v")
    _assert_ggml(gguf_pack, base.get_model_object("diffusion_model"))
    sharp, _ = sharp_reference(comfy, base, wan_i2v, "c_concat_wan")
    patched, text = alg(base, guidance_form="single_pass")
    m, rec = probed(patched, "c_concat_wan")
    sample_alg(comfy, m, wan_i2v)
    steps = classify(rec, "c_concat_wan", sharp, 0.4)
    assert [s["step"] for s in steps if "lp" in s["status"].values()] == [0, 1]
    assert all(s["status"] == {0: "sharp", 1: "sharp"} for s in steps[2:])


def sample_alg(comfy, model, conds, steps=STEPS, cfg=CFG):
    pos, neg, latent = conds
    return comfy.common_ksampler(model, 0, steps, cfg, "euler", "simple", pos, neg, latent)[0]["samples"]


# ============================================================================= TorchCompileModel
def _compile(model, backend):
    """Core TorchCompileModel for its own backends; other torch.compile backends (``eager``: dynamo tracing
    without inductor's C++ codegen, feasible on a shared CPU) through the core helper that node calls."""
    from comfy_api.torch_helpers import set_torch_compile_wrapper
    from comfy_extras.nodes_torch_compile import TorchCompileModel

    if backend == "inductor":
        return TorchCompileModel.execute(model, backend).args[0]
    m = model.clone()
    set_torch_compile_wrapper(model=m, backend=backend)
    return m


@pytest.mark.parametrize("backend", [pytest.param("inductor", marks=pytest.mark.slow), "eager"])
def test_torch_compile_model_family_and_blur(comfy, load_standin, backend):
    """The family is read through the compile wrapper, the compiled run equals the eager patched run (the
    patched layers are hit and blur by the reference) and differs from stock, in either node order.
    inductor on this 2-core CPU: ~4 min of compile for the first step, hence slow."""
    from comfyui_inertia.nodes.model_info import model_family

    base = load_standin("wan21_t2v")
    compiled = _compile(base, backend)
    assert compiled.get_wrappers("apply_model", "torch.compile")
    assert model_family(compiled) == "wan"
    # a compiled module object-patched in place of the diffusion model is seen through as well
    kj = base.clone()
    kj.add_object_patch("diffusion_model", torch.compile(base.get_model_object("diffusion_model"), backend="eager"))
    assert model_family(kj) == "wan"

    eager_tu = sample(comfy, tu(base))
    stock = sample(comfy, base)
    for order, m in (("TU after compile", tu(compiled)), ("compile after TU", _compile(tu(base), backend))):
        from torch._dynamo.utils import counters

        torch._dynamo.reset()
        graphs = counters["stats"]["unique_graphs"]
        p, out = probe_run(comfy, base, m)
        assert counters["stats"]["unique_graphs"] > graphs, "torch.compile never traced the model"
        torch._dynamo.reset()
        assert torch.allclose(out, eager_tu, atol=1e-4), (order, (out - eager_tu).abs().max())
        assert (out - stock).abs().max() > 1e-3, order
        if backend == "eager":  # hooks traced by dynamo still record each patched layer call
            assert len(p.calls) == 8
            p.check(FRAMES, ())
        print(f"\n{backend}, {order}: |compiled - eager patched| max {(out - eager_tu).abs().max():.2e}, "  # noqa: T201
              f"|compiled - stock| max {(out - stock).abs().max():.4f}")


# ============================================================================= Sage-style attention override
def sdpa_override(records):
    """An attention override like KJNodes' Sage patch: replaces ComfyUI's attention function outright."""

    def attention_override_sdpa(func, q, k, v, heads, mask=None, attn_precision=None, skip_reshape=False,
                                skip_output_reshape=False, **kwargs):
        records.append((k.clone(), v.clone()))
        if not skip_reshape:
            b, L, _ = q.shape
            q, k, v = (t.view(b, -1, heads, t.shape[-1] // heads).transpose(1, 2) for t in (q, k, v))
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        if not skip_output_reshape:
            out = out.transpose(1, 2).reshape(out.shape[0], -1, out.shape[1] * out.shape[-1])
        return out

    return attention_override_sdpa


@pytest.mark.parametrize("order", ["override_then_tu", "tu_then_override"])
def test_sage_style_attention_override_sees_blurred_kv(comfy, load_standin, order):
    base = load_standin("wan21_t2v")
    records = []

    def with_override(m):
        m = m.clone()
        m.model_options.setdefault("transformer_options", {})["optimized_attention_override"] = sdpa_override(records)
        return m

    patched = tu(with_override(base)) if order == "override_then_tu" else with_override(tu(base))
    p, out = probe_run(comfy, base, patched)
    moved = p.check(FRAMES, ())
    # the override ran for every attention (2 steps x 2 blocks x self+cross) and computed the result
    assert len(records) == 8
    # the K/V the override received are the blurred sub-layer outputs (post-RoPE K: compare V directly)
    v_out = [o for i, name, _, _, o in p.calls if name == "v"]
    self_kv = [r for r in records if r[0].shape[1] == FRAMES * 16]
    assert len(self_kv) == len(v_out) == 4
    for (_, v), vo in zip(self_kv, v_out):
        assert torch.equal(v, vo)
    stock = sample(comfy, with_override(base))
    assert (out - stock).abs().max() > 1e-3
    print(f"\n{order}: override saw the blurred V in 4/4 self-attention calls; max blur change "  # noqa: T201
          f"{moved:.4f}")


# ============================================================================= Wan 2.2 TI2V-5B
class LatentVAE:
    """Stands in for the Wan 2.2 VAE (48 channels, stride 16) for core Wan22ImageToVideoLatent: seeded latent."""

    def encode(self, img):
        g = torch.Generator().manual_seed(7)
        t = (img.shape[0] - 1) // 4 + 1
        return torch.randn(1, 48, t, img.shape[1] // 16, img.shape[2] // 16, generator=g)


@pytest.fixture(scope="module")
def ti2v_latent(comfy):
    from comfy_extras.nodes_wan import Wan22ImageToVideoLatent

    img = torch.rand(1, 64, 64, 3, generator=torch.Generator().manual_seed(0))
    return Wan22ImageToVideoLatent.execute(LatentVAE(), 64, 64, 9, 1, start_image=img).args[0]


def test_wan22_ti2v_standin_detected(comfy, load_standin):
    import comfy.model_base as mb

    from comfyui_inertia.nodes.model_info import is_wan22_ti2v, model_family

    m = load_standin("wan22_ti2v")
    assert isinstance(m.model, mb.WAN22) and is_wan22_ti2v(m) and model_family(m) == "wan"
    assert not is_wan22_ti2v(load_standin("wan21_t2v"))


@pytest.mark.parametrize("protect", [True, False])
def test_wan22_ti2v_anchor_from_denoise_mask(comfy, load_standin, ti2v_latent, protect):
    base = load_standin("wan22_ti2v")
    assert ti2v_latent["samples"].shape == (1, 48, 3, 4, 4)
    assert ti2v_latent["noise_mask"][:, :, 0].max() == 0 and ti2v_latent["noise_mask"][:, :, 1:].min() == 1
    patched = tu(base, protect_anchor_frames=protect)
    p, out = probe_run(comfy, base, patched, latent=ti2v_latent)
    anchors = (0,) if protect else ()
    p.check(3, anchors)
    if protect:  # the start-image frame's K/V are those of stock
        for i, name, mod, inp, o in p.calls:
            with torch.no_grad():
                stock = type(mod).forward(mod, inp)
            assert torch.equal(o[:, :4], stock[:, :4])  # 4x4 latent, 2x2 patches: 4 tokens per frame
            assert not torch.equal(o[:, 4:], stock[:, 4:])
    text = TU_text(base, protect)
    assert ("TI2V-5B" in text) and ("anchor" in text)
    # the denoise mask keeps the start frame in the output
    assert torch.allclose(out[:, :, :1], ti2v_latent["samples"][:, :, :1], atol=1e-5)  # latent-format round trip


def TU_text(model, protect):
    from comfyui_inertia.nodes.temporal_unlearning import TemporalUnlearning
    out = TemporalUnlearning.execute(model=model, sigma_blur=0.6, apply_to="kv", start_percent=0.0, end_percent=1.0,
                                     blocks="all", protect_anchor_frames=protect, blur_vace_control=False)
    return out.ui.as_dict()["text"][0]


def test_wan22_ti2v_alg_filters_start_image_latent(comfy, load_standin, ti2v_latent):
    base = load_standin("wan22_ti2v")
    conds = (standins.wan_text_conditioning(1), standins.wan_text_conditioning(2), ti2v_latent)
    sharp, _ = sharp_reference(comfy, base, conds, "guiding_frame")
    assert sharp.shape == (1, 48, 1, 4, 4)
    patched, text = alg(base, guidance_form="single_pass")
    m, rec = probed(patched, "guiding_frame")
    out = sample_alg(comfy, m, conds)
    steps = classify(rec, "guiding_frame", sharp, 0.4)
    sigma_end = flow_sigma(base, 0.20)
    for s in steps:
        want = "lp" if s["sigma"] >= sigma_end * (1 - 1e-4) else "sharp"
        assert s["status"] == {0: want, 1: want}, s
    assert [s["step"] for s in steps if "lp" in s["status"].values()] == [0, 1]
    # the frames the model generates are not filtered: only latent frame 0 of its input changed
    for r in rec:
        assert r["x"].shape[2] == 3
    assert torch.allclose(out[:, :, :1], ti2v_latent["samples"][:, :, :1], atol=1e-5)  # latent-format round trip


def test_wan22_ti2v_t2v_without_start_image_alg_says_so(comfy, load_standin):
    from comfy_extras.nodes_wan import Wan22ImageToVideoLatent

    from comfyui_inertia.nodes.pure.errors import InertiaInputError

    latent = Wan22ImageToVideoLatent.execute(LatentVAE(), 64, 64, 9, 1).args[0]
    patched, _ = alg(load_standin("wan22_ti2v"), guidance_form="single_pass")
    conds = (standins.wan_text_conditioning(1), standins.wan_text_conditioning(2), latent)
    with pytest.raises(InertiaInputError, match="image"):
        sample_alg(comfy, patched, conds, steps=2)




def test_wan22_ti2v_alg_form_auto_is_single_pass_and_paper_is_refused(comfy, load_standin):
    """The paper form filters conditionings only; TI2V-5B's start image is in the model input, so 'auto' picks
    single_pass (the form that acts, see the test above) and 'paper' is refused at patch time with the reason."""
    from comfyui_inertia.nodes import alg
    from comfyui_inertia.nodes.pure.errors import InertiaInputError

    model = load_standin("wan22_ti2v")
    assert alg.resolve_form(model, "auto") == "single_pass"
    with pytest.raises(InertiaInputError, match="'guidance_form'.*TI2V-5B carries its start image in the model input"):
        alg.resolve_form(model, "paper")
    assert alg.resolve_form(load_standin("wan21_i2v"), "auto") == "paper"
