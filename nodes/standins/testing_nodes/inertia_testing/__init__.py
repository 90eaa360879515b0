"""Stand-in encoder nodes for ComfyUI-Inertia's headless demo mode and server tests.

Real text encoders (umt5-xxl, llava-llama-3) cannot be shrunk, so tests and the demo
replace the encoder nodes of a bundled workflow with ``InertiaTestConditioning``, which
emits CONDITIONING tensors of the real shapes (and ``InertiaTestClipVision`` for CLIP vision).
This folder is a custom-node folder of its own: the headless client links it into a temporary
``custom_nodes`` in demo mode; ComfyUI never loads it with the pack (``nodes/extension.py``).
"""

import torch
from comfy_api.latest import ComfyExtension, io


class InertiaTestConditioning(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InertiaTestConditioning",
            display_name="Inertia Test Conditioning (stand-in text encoder)",
            category="Inertia/testing",
            description="Seeded random CONDITIONING with the real shapes, standing in for a text encoder.",
            inputs=[
                io.Combo.Input("kind", options=["wan", "hunyuan"], tooltip="wan: [1,512,4096]; hunyuan: [1,L,4096] + pooled_output [1,768]."),
                io.Int.Input("seed", default=0, min=0, max=2**31 - 1, tooltip="Seed of the random tensors."),
                io.String.Input("text", default="", multiline=True, tooltip="The prompt it replaces (ignored)."),
            ],
            outputs=[io.Conditioning.Output(tooltip="Stand-in conditioning.")],
        )

    @classmethod
    def execute(cls, kind, seed, text) -> io.NodeOutput:
        g = torch.Generator().manual_seed(seed)
        if kind == "wan":
            return io.NodeOutput([[torch.randn(1, 512, 4096, generator=g) * 0.1, {}]])
        cond = torch.randn(1, 32, 4096, generator=g) * 0.1
        return io.NodeOutput([[cond, {"pooled_output": torch.randn(1, 768, generator=g) * 0.1}]])


class InertiaTestClipVision(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InertiaTestClipVision",
            display_name="Inertia Test CLIP Vision Output (stand-in image encoder)",
            category="Inertia/testing",
            description="Seeded random CLIP_VISION_OUTPUT with CLIP ViT-H's real shapes, standing in for CLIPVisionEncode.",
            inputs=[
                io.Image.Input("image", tooltip="The image it replaces the encoding of (only its presence matters)."),
                io.Int.Input("seed", default=0, min=0, max=2**31 - 1, tooltip="Seed of the random tensors."),
                io.Combo.Input("kind", options=["clip_h", "siglip"], default="clip_h",
                               tooltip="clip_h: CLIP ViT-H (Wan I2V), 257 tokens x 1280; siglip: SigLIP-384 (FramePack), 729 x 1152."),
            ],
            outputs=[io.ClipVisionOutput.Output(tooltip="Stand-in image encoder output with the real shapes.")],
        )

    @classmethod
    def execute(cls, image, seed, kind="clip_h") -> io.NodeOutput:
        import comfy.clip_vision

        g = torch.Generator().manual_seed(seed)
        tokens, width, embed = (257, 1280, 1024) if kind == "clip_h" else (729, 1152, 1152)
        out = comfy.clip_vision.Output()
        out["penultimate_hidden_states"] = torch.randn(1, tokens, width, generator=g) * 0.1
        out["last_hidden_state"] = torch.randn(1, tokens, width, generator=g) * 0.1
        out["image_embeds"] = torch.randn(1, embed, generator=g) * 0.1
        return io.NodeOutput(out)


class _Ext(ComfyExtension):
    async def get_node_list(self):
        from .fuzz_nodes import InertiaTestBadValue, InertiaTestClip, InertiaTestProbe, InertiaTestValue

        return [InertiaTestConditioning, InertiaTestClipVision, InertiaTestValue, InertiaTestBadValue,
                InertiaTestClip, InertiaTestProbe]


async def comfy_entrypoint():
    return _Ext()
