"""Pure tensor math for ComfyUI-Inertia.

Nothing in this package imports ComfyUI: every function here takes and returns plain
``torch`` tensors or Python numbers, so it can be unit-tested without a ComfyUI checkout
(``tests/unit``). The node modules one level up are the thin glue that reads ComfyUI
objects (ModelPatcher, model_sampling, transformer_options) and calls into this package.
"""
