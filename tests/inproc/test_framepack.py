"""FramePack model and loader inside real ComfyUI: tiny packed stand-in in the released key layout,
real loader, forward against an independent plain-torch reference."""

from __future__ import annotations

import pytest
import torch

from comfyui_inertia.nodes.pure import framepack_keys as fk
from comfyui_inertia.nodes.pure import framepack_schedule as fs
from comfyui_inertia.nodes.pure.errors import InertiaInputError
from comfyui_inertia.nodes.standins import framepack as framepack_standin

from .framepack_reference import packed_forward

WS = 2  # latent window of the forward test's section plan


def test_forward_matches_independent_reference(fp, fpl):
    """Our model (core HunyuanVideo + FramePack parts) == a plain-torch FramePack forward on the same weights."""
    sd = framepack_standin.framepack_state_dict(seed=5, std=0.05)
    model = fpl.load_framepack_state_dict({k: v.clone() for k, v in sd.items()}, {"dtype": torch.float32})
    dm = model.get_model_object("diffusion_model")
    assert isinstance(dm, fp.FramePackHunyuanVideo) and dm.params.guidance_embed
    g = torch.Generator().manual_seed(0)
    h = w = 12  # 4×: 12 → padded to 16 latent, RoPE grid 6 → 8 (replicate edges)
    plan = fs.plan_sections(3, WS, "inverted")[1]
    rnd = lambda *s: torch.randn(*s, generator=g)  # noqa: E731
    x, text, pooled, image = rnd(1, 16, WS, h, w), rnd(1, 7, 4096) * 0.5, rnd(1, 768), rnd(1, 5, 1152)
    pack = {"latent_indices": torch.tensor([plan.latent_indices]),
            "clean_latents": rnd(1, 16, 2, h, w), "clean_latent_indices": torch.tensor([plan.clean_indices]),
            "clean_latents_2x": rnd(1, 16, 2, h, w), "clean_latent_2x_indices": torch.tensor([plan.clean_2x_indices]),
            "clean_latents_4x": rnd(1, 16, 16, h, w), "clean_latent_4x_indices": torch.tensor([plan.clean_4x_indices]),
            "image_embeddings": image}
    t = torch.tensor([700.0])
    with torch.no_grad():
        ours = dm(x, t, text, y=pooled, guidance=torch.tensor([10.0]), transformer_options={}, **pack)
        ref = packed_forward(sd, x, t, text, pooled, torch.tensor([10000.0]), **pack)
        other = packed_forward(sd, x, t, text, pooled, torch.tensor([10000.0]),
                               **{**pack, "clean_latents_4x": torch.zeros_like(pack["clean_latents_4x"])})
    err = float((ours - ref).norm() / ref.norm())
    sensitivity = float((other - ref).norm() / ref.norm())
    print(f"\nrelative error vs reference {err:.2e}; 4x-context sensitivity {sensitivity:.2e}")
    assert err < 1e-4
    assert sensitivity > 100 * max(err, 1e-6)
    # without FramePack kwargs it is core's HunyuanVideo forward (no prefix, no image tokens)
    with torch.no_grad():
        plain = dm(x, t, text, y=pooled, guidance=torch.tensor([10.0]), transformer_options={})
    assert plain.shape == x.shape and not torch.allclose(plain, ours)


def test_loader_node_real_layout_and_rejects_other_checkpoints(fp, load_fp, fpl):
    from comfyui_inertia.nodes.model_info import has_guidance_input

    model = load_fp()
    assert fp.is_framepack_model(model) and has_guidance_input(model)
    assert model.model.framepack_variant == "i2v" and load_fp("framepack_f1").model.framepack_variant == "f1"
    keys = set(model.model.diffusion_model.state_dict())
    assert {"clean_x_embedder.proj_4x.weight", "image_projection.up.weight", "double_blocks.0.img_attn.qkv.weight",
            "single_blocks.0.linear1.weight"} <= keys
    assert not any(k.startswith("byt5_in") for k in keys)
    with pytest.raises(InertiaInputError, match="plain HunyuanVideo"):
        fpl.FramePackModelLoader.execute(model_name="hunyuan_plain.safetensors")
    with pytest.raises(InertiaInputError, match="not a FramePack checkpoint"):
        fpl.FramePackModelLoader.execute(model_name="wan_plain.safetensors")
    # the ComfyUI layout (e.g. a re-saved file) loads too
    sd = fk.diffusers_to_comfy(framepack_standin.framepack_state_dict(seed=2))
    assert fp.is_framepack_model(fpl.load_framepack_state_dict({"model.diffusion_model." + k: v for k, v in sd.items()}))


def test_node_schemas(comfy, fpl, fps, fpi):
    for cls in [*fpl.NODES, *fps.NODES, *fpi.NODES]:
        schema = cls.GET_SCHEMA()
        assert comfy.NODE_CLASS_MAPPINGS[schema.node_id] is cls
        assert schema.category == "Inertia/FramePack" and schema.description
        assert all(i.tooltip for i in schema.inputs) and all(o.tooltip for o in schema.outputs)
    ids = {cls.GET_SCHEMA().node_id for cls in [*fpl.NODES, *fps.NODES, *fpi.NODES]}
    assert {"InertiaFramePackModelLoader", "InertiaFramePackSectionSampler"} <= ids



def test_memory_estimate_counts_the_packed_context(fp, load_fp):
    """calc_cond_batch sizes cond/uncond batches with model.memory_required(shape, cond_shapes): the clean
    latents must add to it (1x a token per patch, 2x 1/8, 4x 1/64), per step and per run."""
    model = load_fp().model
    x = [2, 16, 9, 80, 80]
    shapes = {"clean_latents": [[1, 16, 2, 80, 80]] * 2, "clean_latents_2x": [[1, 16, 2, 80, 80]] * 2,
              "clean_latents_4x": [[1, 16, 16, 80, 80]] * 2}
    bare, packed = model.memory_required(x), model.memory_required(x, cond_shapes=shapes)
    assert packed > bare
    only_1x = model.memory_required(x, cond_shapes={"clean_latents": shapes["clean_latents"]})
    # 2x and 4x add (2/8 + 16/64) frames per entry, the 1x 2 frames: the increments are in that ratio
    assert (packed - only_1x) / (only_1x - bare) == pytest.approx((2 / 8 + 16 / 64) / 2, rel=1e-3)
    pack = {"clean_latents": torch.zeros(1, 16, 2, 8, 8), "clean_latents_4x": torch.zeros(1, 16, 16, 8, 8)}
    assert model.extra_conds_shapes(framepack=pack) == {"clean_latents": [1, 16, 2, 8, 8],
                                                         "clean_latents_4x": [1, 16, 16, 8, 8]}


@pytest.mark.parametrize("name,problem", [
    (0, "is not a file name"), ("", "is not a file name"), ("../../../../etc/passwd", "is not a file in the diffusion_models folders"),
    ("/etc/passwd", "is not a file in the diffusion_models folders"), ("no_such_framepack.safetensors", "is not a file in the diffusion_models folders"),
])
def test_loader_refuses_unknown_names_at_validation_and_execution(fp, fp_dir, name, problem, fpl):
    msg = fpl.FramePackModelLoader.validate_inputs(model_name=name)
    shown = name if isinstance(name, str) else repr(name)  # the value as text, quoted
    # the loader's own check (paths never leave the model folders) answers first, when queued and at execution
    assert isinstance(msg, str) and f"input 'model_name' = {shown!r} {problem}" in msg and "models/diffusion_models" in msg
    with pytest.raises(InertiaInputError, match=f"'model_name'.*{problem}"):
        fpl.FramePackModelLoader.execute(model_name=name)
    with pytest.raises(InertiaInputError, match=f"'model_name'.*{problem}"):
        fpl.model_path(name)


def test_unknown_name_lists_the_framepack_files_that_are_there(fp, fp_dir, fpl):
    """The refusal names the FramePack files the folders hold (the fixture's stand-in), not a count of every
    diffusion model (the testbed's DiT is one too)."""
    import folder_paths

    listed = [n for n in folder_paths.get_filename_list("diffusion_models") if "framepack" in n.lower()]
    assert listed, "the fixture puts a FramePack stand-in into diffusion_models"
    msg = fpl.FramePackModelLoader.validate_inputs(model_name="no_such_framepack.safetensors")
    assert f"(the FramePack files there: {listed[0]}" in msg and "files there)" not in msg, msg


def test_loader_validation_through_core_answers_like_a_stock_loader(comfy, fp, fp_dir, fpl):
    """ComfyUI's own prompt validation calls validate_inputs: a bad name is a node error before anything runs,
    a listed FramePack file passes; a linked name (None at validation) is left to execution, where None fails."""
    import asyncio

    import execution

    from comfyui_inertia.nodes.standins import framepack as framepack_standin

    def errors(name):
        prompt = {"1": {"class_type": "InertiaFramePackModelLoader", "inputs": {"model_name": name, "weight_dtype": "default"}}}
        ok, errs, _ = asyncio.run(execution.validate_inputs("t", prompt, "1", {}))
        return ok, errs

    ok, errs = errors("../../../../etc/passwd")
    assert not ok and errs[0]["type"] == "custom_validation_failed" and errs[0]["extra_info"]["input_name"] == "model_name"
    assert "'model_name' = '../../../../etc/passwd' is not a file in the diffusion_models folders" in errs[0]["details"]
    assert errors(framepack_standin.FRAMEPACK_STANDINS["framepack_i2v"]) == (True, [])
    assert fpl.FramePackModelLoader.validate_inputs(model_name=None) is True
    with pytest.raises(InertiaInputError, match="'model_name' = None is missing"):
        fpl.FramePackModelLoader.execute(model_name=None)
    with pytest.raises(InertiaInputError, match="'model_name' = 'None' is not a file name"):
        fpl.model_path(None)
    with pytest.raises(InertiaInputError, match="'weight_dtype' = 'fp4'"):
        fpl.FramePackModelLoader.execute(model_name=framepack_standin.FRAMEPACK_STANDINS["framepack_i2v"],
                                        weight_dtype="fp4")


def test_loader_path_never_leaves_the_model_folders(fp, fp_dir, monkeypatch, fpl):
    """Defence in depth: even a listed name that core resolves outside every diffusion_models root is refused."""
    import folder_paths

    from comfyui_inertia.nodes.standins import framepack as framepack_standin

    name = framepack_standin.FRAMEPACK_STANDINS["framepack_i2v"]
    inside = fpl.model_path(name)
    assert inside == str(fp_dir / name)
    monkeypatch.setattr(folder_paths, "get_full_path", lambda folder, filename: "/etc/passwd")
    with pytest.raises(InertiaInputError, match="does not resolve to a file inside the model folders"):
        fpl.model_path(name)
