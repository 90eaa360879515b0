"""The pack-wide input validation (``nodes/validation.py``) on every node of ``InertiaExtension``, in real ComfyUI.

* every node class the extension returns goes through the layer, also as the locked clone ComfyUI executes;
* valid inputs (stand-in models, real VAE, a real tiny CLIP, tensors of the documented kinds) pass and the node
  runs through ComfyUI's own call path (``PREPARE_CLASS_CLONE`` + ``make_locked_method_func``);
* invalid inputs built from each node's schema (wrong Python types, literals where links belong, NaN / inf / empty
  / wrong-dim / integer tensors, out-of-range, NaN and huge numbers, over-long strings, unknown combo values,
  None for required inputs) are refused before the node's execute runs, with an ``InertiaInputError`` naming the
  input: by the node's own checks, which answer first, or by the layer (always for what the nodes do not check:
  non-tensors where a link belongs, NaN / inf, integer dtypes, wrong dimensions);
* literal values are refused at validation by ComfyUI's own ``validate_prompt`` (the HTTP 400 path), linked ones
  reach ``validate_inputs`` as None and pass to execution;
* ``InertiaNode`` subclasses: rules, size caps, the ``check_inputs`` hook, a node's own ``validate_inputs``,
  async ``execute`` and positional calls.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import math
import sys
from pathlib import Path

import pytest
import torch

from comfyui_inertia.nodes import standins
from comfyui_inertia.nodes.pure import input_checks as ic
from comfyui_inertia.nodes.pure.errors import InertiaInputError
from comfyui_inertia.nodes.standins import framepack as framepack_standin

TESTING_PKG = Path(__file__).resolve().parents[2] / "nodes" / "standins" / "testing_nodes" / "inertia_testing"
LAYER_FILES = {"validation.py", "input_checks.py", "errors.py"}


@pytest.fixture(scope="module")
def V(comfy):
    from comfyui_inertia.nodes import validation
    return validation


@pytest.fixture(scope="module")
def pack_nodes(comfy, pack):
    ext = asyncio.run(pack.comfy_entrypoint())
    return {cls.GET_SCHEMA().node_id: cls for cls in asyncio.run(ext.get_node_list())}


@pytest.fixture(scope="module")
def tnodes(comfy):
    """The test-only nodes package (stand-in conditioning, bad values, tiny CLIP), registered with ComfyUI."""
    name = "inertia_testing_inproc"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, TESTING_PKG / "__init__.py",
                                                      submodule_search_locations=[str(TESTING_PKG)])
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    mod = sys.modules[name]
    added = []
    for cls in asyncio.run(asyncio.run(mod.comfy_entrypoint()).get_node_list()):
        nid = cls.GET_SCHEMA().node_id
        if nid not in comfy.NODE_CLASS_MAPPINGS:
            comfy.NODE_CLASS_MAPPINGS[nid] = cls
            added.append(nid)
    yield importlib.import_module(f"{name}.fuzz_nodes")
    for nid in added:
        comfy.NODE_CLASS_MAPPINGS.pop(nid, None)


def comfy_call(cls, **kwargs):
    """Run ``execute`` the way ComfyUI's executor does: on a locked clone, through ``EXECUTE_NORMALIZED(_ASYNC)``."""
    from comfy_api.internal import make_locked_method_func

    return make_locked_method_func(cls, cls.FUNCTION, cls.PREPARE_CLASS_CLONE({}))(**kwargs)


# ------------------------------------------------------------------------------------- valid inputs

def _vision():
    import comfy.clip_vision

    out = comfy.clip_vision.Output()
    out["last_hidden_state"] = torch.randn(1, 8, 1152, generator=torch.Generator().manual_seed(0)) * 0.5
    return out


@pytest.fixture(scope="module")
def objects(comfy, load_standin, fp_dir, wan_vae, tnodes):
    """One real object per linked kind, and the models each family needs."""
    from comfy.samplers import sampler_object
    from comfy_extras import nodes_custom_sampler as cs

    wan = load_standin("wan21_t2v")
    fp_model = comfy.NODE_CLASS_MAPPINGS["InertiaFramePackModelLoader"].execute(
        model_name=framepack_standin.FRAMEPACK_STANDINS["framepack_i2v"]).args[0]
    return {
        "wan": wan, "wan_i2v": load_standin("wan21_i2v"), "fp": fp_model, "vae": wan_vae,
        "video": torch.rand(5, 32, 32, 3, generator=torch.Generator().manual_seed(1)),
        "image": torch.rand(1, 32, 32, 3, generator=torch.Generator().manual_seed(2)),
        "masks": torch.ones(5, 32, 32),
        "cond_wan": standins.wan_text_conditioning(1, length=16),
        "cond_hy": standins.hunyuan_text_conditioning(1, length=8),
        "vision": _vision(), "start": {"samples": torch.randn(1, 16, 1, 4, 4)},
        "sigmas": cs.BasicScheduler().get_sigmas(wan, "simple", 4, 1.0)[0],
        "clip": tnodes.tiny_clip(), "sampler": sampler_object("euler"),
    }


def valid_inputs(node_id: str, o: dict) -> dict:
    """Inputs every node runs with (CPU-sized); linked values are real objects of their kinds."""
    fp_sampler = dict(model=o["fp"], positive=o["cond_hy"], clip_vision_output=o["vision"], start_latent=o["start"],
                      total_seconds=0.1, latent_window_size=1, steps=1, distilled_guidance=10.0, cfg=1.0, shift=0.0,
                      seed=0, sampler_name="euler", mode="inverted", sampler=o["sampler"], prompt_blend_sections=0)
    return {
        "InertiaRelaxationCFG": dict(model=o["wan"], beta=0.75, decay_power=0.7, s_min=1.0, s_base=0.0, guidance="auto"),
        "InertiaRelaxationCFGPreview": dict(sigmas=o["sigmas"], cfg=6.0, model=o["wan"]),
        "InertiaTemporalUnlearning": dict(model=o["wan"], sigma_blur=0.6, apply_to="kv", start_percent=0.0, end_percent=1.0,
                                   blocks="all", protect_anchor_frames=True, blur_vace_control=False),
        "InertiaALG": dict(model=o["wan_i2v"], preset="custom", guidance_form="single_pass", schedule_by="sigma",
                    filter="gaussian", resize_factor=0.4, blur_sigma=1.0, schedule="interval", window_start=0.0,
                    window_end=0.2, decay_rate=10.0, space="pixel", vae=o["vae"], start_image=o["image"]),
        "InertiaVACEKeyframeBuilder": dict(images=o["image"], length=9, indices="0", anchor_edge="top", anchor_px=16,
                                    guide_video=o["video"], mask_layout="latent-aligned"),
        "InertiaVACEExtensionBuilder": dict(mode="firstlastframe", generate=4, first=o["image"], last=o["image"],
                                     mask_layout="for WanVaceToVideo"),
        "InertiaVACERepaintBuilder": dict(video=o["video"], mask=o["masks"][:1] * 0, bbox="4,4,28,28", dilate_px=2,
                                   shape="box per frame", fill="source", mask_layout="for WanVaceToVideo"),
        "InertiaVACEOutpaintBuilder": dict(video=o["video"], mode="expand", direction="left,right", expand_ratio=0.25,
                                    scale=0.8, mask_layout="for WanVaceToVideo"),
        "InertiaVACEReferenceCrops": dict(video=o["video"], count=2, crop_size=0.5, placement="grid", direction="left,right",
                                   frame=-1),
        "InertiaVACELatentMaskPreview": dict(control_masks=o["masks"], control_video=o["video"], length=5,
                                      mask_layout="for WanVaceToVideo"),
        "InertiaVACELatentAlignedEncode": dict(positive=o["cond_wan"], negative=o["cond_wan"], vae=o["vae"], width=32,
                                        height=32, length=5, batch_size=1, strength=1.0, control_video=o["video"],
                                        control_masks=o["masks"], reference_image=o["image"]),
        "InertiaFramePackModelLoader": dict(model_name=framepack_standin.FRAMEPACK_STANDINS["framepack_i2v"],
                                     weight_dtype="default"),
        "InertiaFramePackSectionSampler": fp_sampler,
        "InertiaFramePackTimestampedTextEncode": dict(clip=o["clip"], text="[0s: a cat walks] [1s: it jumps]"),
        "InertiaFramePackConditioningAt": dict(conditioning=o["cond_hy"], start_seconds=1.0, end_seconds=2.0),
        "InertiaFramePackHistoryControls": dict(model=o["fp"], lowpass_sigma=1.0, lowpass_age_slope=0.1, decay_strength=0.7,
                                         decay_age_slope=0.1, decay_mode="v_scale", decay_start_percent=0.0,
                                         decay_end_percent=1.0, include_1x=True, include_anchors=False,
                                         section_betas=""),
        "InertiaChangeMeter": dict(images=o["video"], mask=o["masks"][:1], fps=30.0, motion_threshold=0.04,
                                   dynamic_threshold=0.01),
        "InertiaFramePackImageToBucket": dict(image=o["image"], upscale_method="bilinear"),
        "InertiaFramePackTeaCache": dict(model=o["fp"], rel_l1_thresh=0.15),
        "InertiaFlowUniPCSampler": dict(variant="bh1"),
        "InertiaTestbedVAELoader": dict(vae_name="inertia_testbed_vae.safetensors"),
        "InertiaTestbedTextEncode": dict(text="a red ball on a grey striped background, it stays"),
        "InertiaTestbedScene": dict(scene=0, scenario="stays"),
    }[node_id]


def test_every_node_goes_through_the_layer(V, pack_nodes):
    import inspect

    from comfy_api.internal import first_real_override

    assert len(pack_nodes) >= 17
    for node_id, cls in pack_nodes.items():
        assert V.is_checked(cls), node_id
        clone = cls.PREPARE_CLASS_CLONE({})
        assert V.is_checked(clone), f"{node_id}: ComfyUI's clone lost the checks"
        assert cls.FUNCTION == "EXECUTE_NORMALIZED"
        spec = inspect.getfullargspec(first_real_override(cls, "validate_inputs"))
        assert spec.varkw and "input_types" not in spec.args, node_id  # ComfyUI passes every input, types checked
        assert V.checked(cls) is cls and V.is_checked(cls)  # idempotent


def test_valid_inputs_pass_and_every_node_runs(V, pack_nodes, objects):
    """The layer accepts the inputs every node is meant to get, and calls the node's own execute."""
    from comfy_api.latest import io

    for node_id, cls in pack_nodes.items():
        kw = valid_inputs(node_id, objects)
        schema = cls.GET_SCHEMA()
        names = {i.id for i in schema.inputs}
        assert {i.id for i in schema.inputs if not i.optional} <= set(kw) <= names, node_id
        V.check_execution(cls, kw)
        literals = {k: (v if V._io_type(i) in V.WIDGET_TYPES else None)
                    for i in schema.inputs for k, v in kw.items() if k == i.id}
        assert cls.validate_inputs(**literals) is True, node_id
        out = comfy_call(cls, **kw)
        assert isinstance(out, io.NodeOutput) and len(out.args) == len(schema.outputs), node_id


# ------------------------------------------------------------------------------------- invalid inputs

def invalid_values(inp, V, tnodes) -> list[tuple[str, object]]:
    """(label, value) pairs the layer must refuse for schema input ``inp``."""
    kind, required = V._io_type(inp), not inp.optional
    out = [("None", None)] if required else []
    lo, hi = getattr(inp, "min", None), getattr(inp, "max", None)
    if kind == "INT":
        out += [("text", "5"), ("float", 1.5), ("bool", True), ("list", [1, 2])]
        out += [("min-1", lo - 1)] if lo is not None else []
        out += [("max+1", hi + 1), ("2**62", 2 ** 62 if hi < 2 ** 62 else -(2 ** 62))] if hi is not None else []
    elif kind == "FLOAT":
        out += [("nan", math.nan), ("inf", math.inf), ("-inf", -math.inf), ("text", "0.5"), ("bool", False),
                ("int 10**400", 10 ** 400)]
        out += [("min-1", lo - 1)] if lo is not None else []
        out += [("max+1", hi + 1), ("1e18", 1e18)] if hi is not None else []
    elif kind == "STRING":
        out += [("too long", "x" * (ic.DEFAULT_MAX_STRING + 1)), ("int", 5), ("list", ["a"])]
    elif kind == "BOOLEAN":
        out += [("text", "yes"), ("int 2", 2), ("float", 0.5)]
    elif kind == "COMBO":
        out += [("unknown", "NOPE"), ("int", 0), ("tensor", torch.zeros(1)), ("upper", str(inp.options[0]).upper())
                if inp.options and str(inp.options[0]).upper() != inp.options[0] else ("bool", True)]
    else:
        out += [("int", 5), ("text", "x"), ("float", 1.5), ("dict", {})]
        if kind in tnodes.BAD_TYPES:
            out += [(f"bad {k}", tnodes.bad_value(k, kind)) for k in tnodes.BAD_KINDS if k != "none"]
    return out


def _one_fault(label: str, bad, like):
    """A NaN / inf / integer-dtype tensor in the shape of the valid tensor ``like`` it replaces, so the malformation
    is the case's only fault (a node's own checks across inputs, which answer first, compare sizes)."""
    if label not in ("bad nan", "bad inf", "bad int_dtype") or not isinstance(bad, torch.Tensor) \
            or not isinstance(like, torch.Tensor) or bad.shape == like.shape:
        return bad
    if label == "bad int_dtype":
        return torch.zeros(like.shape, dtype=bad.dtype)
    x = like.clone()
    x.view(-1)[: max(1, x.numel() // 7)] = math.nan if label == "bad nan" else math.inf
    return x


def test_invalid_inputs_are_refused_by_the_layer_naming_the_input(V, pack_nodes, objects, tnodes):
    """Refused before the node's execute runs, naming the input: by the node's own checks (answered first) or by
    the layer; what the nodes' own checks do not look at (non-tensors where a link belongs, NaN / inf, integer
    dtypes) by the layer."""
    counted = layer_counted = 0
    kind_of = V._io_type
    for node_id, cls in pack_nodes.items():
        base = valid_inputs(node_id, objects)
        for inp in cls.GET_SCHEMA().inputs:
            for label, bad in invalid_values(inp, V, tnodes):
                bad = _one_fault(label, bad, base.get(inp.id))
                with pytest.raises(InertiaInputError) as e:
                    comfy_call(cls, **{**base, inp.id: bad})
                where = f"{node_id}.{inp.id} = {label}"
                assert inp.id in e.value.name.split(" × ") or e.value.name.startswith(f"{inp.id}"), \
                    f"{where}: the error names {e.value.name!r}: {e.value}"
                msg = str(e.value)
                assert f"input '{e.value.name}'" in msg and "Fix:" in msg, f"{where}: {msg}"
                assert len(msg) < 900, f"{where}: message not shortened ({len(msg)} characters)"
                # refused before the node's execute ran: by the node's own checks (which the layer runs first at
                # execution) or by the layer's
                assert any(t.name == "check_execution" and Path(t.path).name == "validation.py" for t in e.traceback), \
                    f"{where}: raised by {e.traceback[-1].path} outside the checks that run before execute: {msg}"
                by_layer = Path(e.traceback[-1].path).name in LAYER_FILES and not isinstance(e.value, V.NodeCheckError)
                if kind_of(inp) not in V.WIDGET_TYPES and label in ("int", "text", "float", "dict", "bad nan",
                                                                   "bad inf", "bad int_dtype", "bad wrong_dims"):
                    assert by_layer, f"{where}: raised by {e.traceback[-1].path}, not by the validation layer: {msg}"
                counted += 1
                layer_counted += by_layer
    assert counted > 500 and layer_counted > 400, (counted, layer_counted)


def test_messages_name_value_and_fix(V, pack_nodes, objects):
    cls = pack_nodes["InertiaChangeMeter"]
    base = valid_inputs("InertiaChangeMeter", objects)
    cases = {
        "images": (5, "'images' = 5 is an int, not an IMAGE"),
        "fps": (math.nan, "'fps' = nan is not a finite number"),
        "motion_threshold": (1.5, "'motion_threshold' = 1.5 is above the maximum 1; the range is [0, 1]"),
        "dynamic_threshold": (-0.5, "'dynamic_threshold' = -0.5 is negative; the range is [0, 1]"),
        "mask": (torch.zeros(2, 3, 32, 32), "'mask' = tensor[2, 3, 32, 32] float32 is 4-D"),
    }
    for name, (value, text) in cases.items():
        with pytest.raises(InertiaInputError, match="Fix: ") as e:
            comfy_call(cls, **{**base, name: value})
        assert text in str(e.value), str(e.value)
    nan_video = base["images"].clone()
    nan_video[2, 3, 4, 0] = math.nan
    with pytest.raises(InertiaInputError, match=r"'images' = tensor\[5, 32, 32, 3\] float32 contains 1 NaN or "
                                                r"infinite values \(of 15360\)"):
        comfy_call(cls, **{**base, "images": nan_video})
    combo = pack_nodes["InertiaFramePackSectionSampler"]
    with pytest.raises(InertiaInputError, match=r"'sampler_name' = 'EULER' is not one of the options.*did you mean "
                                                r"'euler'\?"):
        V.check_literals(combo, {"sampler_name": "EULER"})
    with pytest.raises(InertiaInputError, match=r"'text' = 'xxxxx.*… \(100001 characters\) is 100001 characters "
                                                r"long, over the limit of 100000"):
        V.check_literals(pack_nodes["InertiaFramePackTimestampedTextEncode"], {"text": "x" * 100_001})


# ------------------------------------------------------------------------------------- ComfyUI validation

def _prompt(node_id, cls, inputs: dict) -> dict:
    """A prompt with the node as ``t`` (links to InertiaTestBadValue outputs of each linked kind, which validation
    never runs) and a PreviewAny on its first output when it is no output node."""
    from comfyui_inertia.nodes import validation as V

    slots = {"IMAGE": 0, "MASK": 1, "LATENT": 2, "CONDITIONING": 3, "SIGMAS": 4, "CLIP_VISION_OUTPUT": 5, "VAE": 6,
             "MODEL": 7, "CLIP": 8, "SAMPLER": 9}
    ins = {}
    for inp in cls.GET_SCHEMA().inputs:
        kind = V._io_type(inp)
        if inp.id in inputs:
            ins[inp.id] = inputs[inp.id]
        elif kind not in V.WIDGET_TYPES:
            ins[inp.id] = ["src", slots[kind]]
    prompt = {"src": {"class_type": "InertiaTestBadValue", "inputs": {"kind": "int"}},
              "t": {"class_type": node_id, "inputs": ins}}
    if not cls.GET_SCHEMA().is_output_node:
        prompt["out"] = {"class_type": "PreviewAny", "inputs": {"source": ["t", 0]}}
    return prompt


def _validate(comfy, prompt):
    import execution

    return asyncio.run(execution.validate_prompt("test", prompt, None))


def test_literal_values_are_refused_at_validation_linked_ones_pass(comfy, V, pack_nodes, objects, tnodes):
    """ComfyUI's own validate_prompt (what POST /prompt runs): the layer's literal checks give node_errors, as
    stock min/max and combo checks would; links reach validate_inputs as None and pass."""
    for node_id, cls in pack_nodes.items():
        base = {k: v for k, v in valid_inputs(node_id, objects).items()
                if V._io_type(next(i for i in cls.GET_SCHEMA().inputs if i.id == k)) in V.WIDGET_TYPES}
        ok = _validate(comfy, _prompt(node_id, cls, base))
        assert ok[0] is True, f"{node_id}: valid literals refused: {ok[1]} {ok[3]}"
        for inp in cls.GET_SCHEMA().inputs:
            kind = V._io_type(inp)
            if kind == "INT":
                bad = (inp.max + 1) if inp.max is not None else inp.min - 1
            elif kind == "FLOAT":
                bad = math.nan
            elif kind == "STRING":
                bad = "x" * (ic.DEFAULT_MAX_STRING + 1)
            elif kind == "COMBO":
                bad = "NOPE"
            elif kind == "BOOLEAN":
                continue  # ComfyUI converts any literal with bool()
            else:
                bad = 5  # a literal where a link belongs
            valid, error, _outputs, node_errors = _validate(comfy, _prompt(node_id, cls, {**base, inp.id: bad}))
            assert valid is False, f"{node_id}.{inp.id} = {bad!r} passed validation"
            errs = node_errors["t"]["errors"]
            assert errs[0]["type"] == "custom_validation_failed", errs
            assert any(f"ComfyUI-Inertia: input '{inp.id}'" in e["details"] for e in errs), errs


def test_validate_inputs_sees_literals_and_none_for_links(comfy, V, tnodes):
    """What ComfyUI 0.3.64 passes to a V3 validate_inputs: literal values, None for every linked input; a node's own
    validate_inputs runs before the layer's checks (its messages know the node), and again at execution with the
    values the node runs with."""
    from comfy_api.latest import io

    seen = []

    class Probe(V.InertiaNode):
        @classmethod
        def define_schema(cls):
            return io.Schema(node_id="InertiaValidationProbe", category="Inertia/testing", is_output_node=True,
                             inputs=[io.Image.Input("images"), io.Int.Input("count", min=1, max=4),
                                     io.Float.Input("strength", optional=True)], outputs=[])

        @classmethod
        def validate_inputs(cls, **kwargs):
            seen.append(dict(kwargs))
            return True if kwargs.get("count") != 3 else "count 3 is reserved"

        @classmethod
        def execute(cls, images, count, strength=1.0):
            return io.NodeOutput()

    comfy.NODE_CLASS_MAPPINGS["InertiaValidationProbe"] = Probe
    try:
        src = {"class_type": "InertiaTestBadValue", "inputs": {"kind": "int"}}
        good = {"src": src, "t": {"class_type": "InertiaValidationProbe", "inputs": {"images": ["src", 0], "count": 2}}}
        assert _validate(comfy, good)[0] is True
        assert seen == [{"images": None, "count": 2}]
        for count, text in ((9, "is above the maximum 4"), (3, "count 3 is reserved")):
            bad = {"src": src, "t": {"class_type": "InertiaValidationProbe",
                                     "inputs": {"images": ["src", 0], "count": count}}}
            res = _validate(comfy, bad)
            assert res[0] is False and text in res[3]["t"]["errors"][0]["details"]
        assert len(seen) == 3  # the node's own check ran first each time, also for count 9 (the layer refused it)
        # the linked value is checked when the node runs
        with pytest.raises(InertiaInputError, match="'images' = 5 is an int"):
            comfy_call(Probe, images=5, count=2)
        # at execution the node's own validate_inputs answers first, with the linked value too, in its own words
        with pytest.raises(V.NodeCheckError, match="^count 3 is reserved$") as e:
            comfy_call(Probe, images=torch.rand(1, 8, 8, 3), count=3)
        assert e.value.name == "count" and seen[-1]["count"] == 3
    finally:
        del comfy.NODE_CLASS_MAPPINGS["InertiaValidationProbe"]


# ------------------------------------------------------------------------------------- InertiaNode

def test_inertia_node_rules_caps_hook_async_and_positional(V):
    from comfy_api.latest import io

    calls = []

    class Sized(V.InertiaNode):
        INPUT_RULES = {"label": V.InputRule(max_length=8), "gain": V.InputRule(allow_nonfinite=True),
                       "count": V.InputRule(max=10, fix="use at most 10")}
        SIZE_CAPS = (V.SizeCap(("width", "height", "frames"), 10 ** 6, "make the video smaller", "pixels"),)

        @classmethod
        def define_schema(cls):
            return io.Schema(node_id="InertiaSizedProbe", category="Inertia/testing", outputs=[io.Int.Output()],
                             inputs=[io.Int.Input("width", default=64, min=1, max=8192),
                                     io.Int.Input("height", default=64, min=1, max=8192),
                                     io.Int.Input("frames", default=1, min=1, max=8192),
                                     io.Int.Input("count", default=1, min=0, max=100),
                                     io.String.Input("label", default=""), io.Float.Input("gain", default=1.0)])

        @classmethod
        def check_inputs(cls, width, height, frames, count, label, gain):
            if label == "odd" and width % 2:
                raise InertiaInputError("width", width, "use an even width with label 'odd'")

        @classmethod
        def execute(cls, width=64, height=64, frames=1, count=1, label="", gain=1.0):
            calls.append((width, height, frames))
            return io.NodeOutput(width * height * frames)

    class Later(V.InertiaNode):
        @classmethod
        def define_schema(cls):
            return io.Schema(node_id="InertiaAsyncProbe", category="Inertia/testing",
                             inputs=[io.Float.Input("x", min=0.0, max=1.0)], outputs=[io.Float.Output()])

        @classmethod
        async def execute(cls, x):
            return io.NodeOutput(x)

    assert V.is_checked(Sized) and V.is_checked(Later)
    assert comfy_call(Sized, width=100, height=100, frames=100).args == (10 ** 6,)
    with pytest.raises(InertiaInputError, match=r"'width × height × frames' = '1000 × 1000 × 2' is 2e\+06 pixels, "
                                                r"over the limit of 1e\+06"):
        comfy_call(Sized, width=1000, height=1000, frames=2)
    assert "over the limit" in Sized.validate_inputs(width=1000, height=1000, frames=2)
    assert Sized.validate_inputs(width=1000, height=None, frames=2) is True  # height linked: checked at execution
    with pytest.raises(InertiaInputError, match="'label'.*over the limit of 8"):
        comfy_call(Sized, label="123456789")
    with pytest.raises(InertiaInputError, match="'count' = 11 .*Fix: use at most 10"):
        comfy_call(Sized, count=11)
    assert comfy_call(Sized, gain=math.inf).args == (64 * 64,)  # allowed by its rule
    with pytest.raises(InertiaInputError, match="even width"):
        comfy_call(Sized, width=63, label="odd")
    with pytest.raises(InertiaInputError, match="'height' = 0 is below the minimum 1"):
        Sized.execute(64, 0)  # positional arguments are checked too
    assert len(calls) == 2  # only the two valid calls reached execute
    assert Later.FUNCTION == "EXECUTE_NORMALIZED_ASYNC"
    assert asyncio.run(comfy_call(Later, x=0.5)).args == (0.5,)
    with pytest.raises(InertiaInputError, match="'x' = nan"):
        asyncio.run(comfy_call(Later, x=math.nan))
