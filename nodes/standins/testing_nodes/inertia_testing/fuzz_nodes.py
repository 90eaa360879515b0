"""Test-only nodes for the input fuzz test (``tests/e2e/test_fuzz.py``) and ``tests/inproc/test_validation.py``.

* ``InertiaTestValue``: one text → INT / FLOAT / STRING outputs, to link values core's primitive nodes cannot
  carry (NaN, ±inf, integers beyond 2⁶³, any string) into a pack node's input.
* ``InertiaTestBadValue``: malformed values of every linked kind (NaN tensors, wrong dims, empty, integer dtype,
  None, a plain int) under the socket types the pack's inputs declare, so they pass core's link-type check.
* ``InertiaTestClip``: a real ``comfy.sd.CLIP`` (CLIP-L architecture and tokenizer, shrunk to 1 layer of width
  64, seeded random weights): a text encoder for nodes that take a CLIP, without the real weights.
* ``InertiaTestProbe``: an output node that accepts anything and reports in its UI output how many NaN / ±inf
  values the tensors in it hold (``inertia_probe``).
"""

from __future__ import annotations

import math
import types

import torch
from comfy_api.latest import io

#: kinds of malformed values of InertiaTestBadValue
BAD_KINDS = ("nan", "inf", "wrong_dims", "empty", "int_dtype", "none", "int", "text")
#: the socket types InertiaTestBadValue has an output for, in output order
BAD_TYPES = ("IMAGE", "MASK", "LATENT", "CONDITIONING", "SIGMAS", "CLIP_VISION_OUTPUT", "VAE", "MODEL", "CLIP",
             "SAMPLER")


def _clip_vision(fill: float | None, tokens=729, width=1152):
    import comfy.clip_vision

    out = comfy.clip_vision.Output()
    t = torch.zeros(1, tokens, width)
    if fill is not None:
        t[0, 0, :4] = fill
    out["last_hidden_state"] = t
    out["penultimate_hidden_states"] = t.clone()
    out["image_embeds"] = t[:, 0].clone()
    return out


def bad_value(kind: str, typ: str):
    """The malformed value of ``kind`` for socket type ``typ`` (both from :data:`BAD_KINDS` / :data:`BAD_TYPES`)."""
    if kind == "none":
        return None
    if kind == "int":
        return 5
    if kind == "text":
        return "not a tensor"
    objects = ("VAE", "MODEL", "CLIP", "SAMPLER")
    if typ in objects:  # no tensor form: a tensor where an object belongs, or an object of the wrong class
        return {"nan": torch.full((2, 2), math.nan), "inf": types.SimpleNamespace(),
                "wrong_dims": {"model": None}, "empty": [], "int_dtype": torch.zeros(2, dtype=torch.int64)}[kind]
    if kind in ("nan", "inf"):
        fill = math.nan if kind == "nan" else math.inf
        if typ == "CLIP_VISION_OUTPUT":
            return _clip_vision(fill)
        t = {"IMAGE": (2, 16, 16, 3), "MASK": (2, 16, 16), "LATENT": (1, 16, 1, 4, 4), "CONDITIONING": (1, 8, 4096),
             "SIGMAS": (3,)}[typ]
        x = torch.rand(t) * 0.5
        x.view(-1)[: max(1, x.numel() // 7)] = fill
        if typ == "SIGMAS":
            x = torch.tensor([1.0, fill, 0.0])
        return {"LATENT": {"samples": x}, "CONDITIONING": [[x, {"pooled_output": torch.zeros(1, 768)}]]}.get(typ, x)
    if kind == "wrong_dims":
        return {"IMAGE": torch.rand(16, 16), "MASK": torch.rand(1, 2, 16, 16), "LATENT": {"samples": torch.rand(16)},
                "CONDITIONING": [torch.rand(1, 8, 4096)], "SIGMAS": torch.rand(2, 2),
                "CLIP_VISION_OUTPUT": torch.rand(1, 729, 1152)}[typ]
    if kind == "empty":
        return {"IMAGE": torch.zeros(0, 16, 16, 3), "MASK": torch.zeros(0, 16, 16),
                "LATENT": {"samples": torch.zeros(0, 16, 1, 4, 4)}, "CONDITIONING": [], "SIGMAS": torch.zeros(0),
                "CLIP_VISION_OUTPUT": types.SimpleNamespace()}[typ]
    if kind == "int_dtype":
        return {"IMAGE": torch.zeros(2, 16, 16, 3, dtype=torch.uint8), "MASK": torch.zeros(2, 16, 16, dtype=torch.int64),
                "LATENT": {"samples": torch.zeros(1, 16, 1, 4, 4, dtype=torch.int32)},
                "CONDITIONING": [[torch.zeros(1, 8, 4096, dtype=torch.int64), {}]],
                "SIGMAS": torch.tensor([2, 1, 0]), "CLIP_VISION_OUTPUT": {"last_hidden_state": 1}}[typ]
    raise ValueError(f"unknown bad kind {kind!r}")


def _out(typ: str):
    return {"IMAGE": io.Image, "MASK": io.Mask, "LATENT": io.Latent, "CONDITIONING": io.Conditioning,
            "SIGMAS": io.Sigmas, "CLIP_VISION_OUTPUT": io.ClipVisionOutput, "VAE": io.Vae, "MODEL": io.Model,
            "CLIP": io.Clip, "SAMPLER": io.Sampler}[typ].Output(display_name=typ.lower(), tooltip=f"A bad {typ}.")


class InertiaTestValue(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InertiaTestValue",
            display_name="Inertia Test Value (any number or text)",
            category="Inertia/testing",
            description="Parses one text as an INT (Python int), a FLOAT (float(), so nan / inf) and passes it as a STRING.",
            inputs=[io.String.Input("value", default="0", tooltip="The value as text: 5, 1e18, nan, inf, any text.")],
            outputs=[io.Int.Output(display_name="int", tooltip="int(value), or 0."),
                     io.Float.Output(display_name="float", tooltip="float(value), or 0.0."),
                     io.String.Output(display_name="string", tooltip="The text itself.")],
        )

    @classmethod
    def execute(cls, value) -> io.NodeOutput:
        try:
            i = int(value)
        except ValueError:
            i = 0
        try:
            f = float(value)
        except ValueError:
            f = 0.0
        return io.NodeOutput(i, f, value)


class InertiaTestBadValue(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InertiaTestBadValue",
            display_name="Inertia Test Bad Value (malformed inputs)",
            category="Inertia/testing",
            description="Malformed values of every linked kind, for input-validation tests.",
            inputs=[io.Combo.Input("kind", options=list(BAD_KINDS), tooltip="Which malformation.")],
            outputs=[_out(t) for t in BAD_TYPES],
        )

    @classmethod
    def execute(cls, kind) -> io.NodeOutput:
        return io.NodeOutput(*(bad_value(kind, t) for t in BAD_TYPES))


def tiny_clip(seed: int = 0):
    """A real ``comfy.sd.CLIP``: CLIP-L's tokenizer and text model class, 1 layer of width 64, random weights."""
    import comfy.sd
    import comfy.sd1_clip

    target = types.SimpleNamespace(params={}, clip=comfy.sd1_clip.SD1ClipModel, tokenizer=comfy.sd1_clip.SD1Tokenizer)
    config = {"hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 2, "num_hidden_layers": 1,
              "projection_dim": 64}
    clip = comfy.sd.CLIP(target=target, model_options={"clip_l_model_config": config, "dtype": torch.float32})
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in clip.cond_stage_model.named_parameters():
            p.copy_(torch.ones_like(p) if "layer_norm" in name and name.endswith("weight")
                    else torch.randn(p.shape, generator=g) * 0.02)
    return clip


class InertiaTestClip(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InertiaTestClip",
            display_name="Inertia Test CLIP (tiny random text encoder)",
            category="Inertia/testing",
            description="A real ComfyUI CLIP object (CLIP-L tokenizer, 1-layer width-64 random text model).",
            inputs=[io.Int.Input("seed", default=0, min=0, max=2**31 - 1, tooltip="Seed of the random weights.")],
            outputs=[io.Clip.Output(tooltip="The tiny text encoder.")],
        )

    @classmethod
    def execute(cls, seed) -> io.NodeOutput:
        return io.NodeOutput(tiny_clip(seed))


def probe_report(value) -> dict:
    """Type, tensor count, NaN/inf count and the first shapes of every tensor in ``value`` (recursively)."""
    seen, shapes, bad = [0], [], [0]

    def walk(v, depth=0):
        if depth > 6:
            return
        if isinstance(v, torch.Tensor):
            seen[0] += 1
            if len(shapes) < 4:
                shapes.append(list(v.shape))
            if v.is_floating_point():
                bad[0] += int((~torch.isfinite(v)).sum())
        elif isinstance(v, dict):
            for x in v.values():
                walk(x, depth + 1)
        elif isinstance(v, (list, tuple)):
            for x in v[:64]:
                walk(x, depth + 1)
        elif hasattr(v, "__dict__") and type(v).__module__.startswith("comfy.clip_vision"):
            walk(vars(v), depth + 1)

    walk(value)
    return {"type": type(value).__name__, "tensors": seen[0], "nonfinite": bad[0], "shapes": shapes}


class InertiaTestProbe(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InertiaTestProbe",
            display_name="Inertia Test Probe (NaN report)",
            category="Inertia/testing",
            description="Accepts any value; its UI output 'inertia_probe' counts the NaN / inf values in its tensors.",
            is_output_node=True,
            inputs=[io.AnyType.Input("value", tooltip="Anything.")],
            outputs=[],
        )

    @classmethod
    def execute(cls, value) -> io.NodeOutput:
        return io.NodeOutput(ui={"inertia_probe": [probe_report(value)]})
