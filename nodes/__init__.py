"""ComfyUI-Inertia node modules: one module per capability, pure math in ``nodes/pure``.

This package file imports nothing, so ``nodes.pure`` (and the headless client) can be
used without ComfyUI; ``nodes/extension.py`` collects the nodes when ComfyUI loads the pack.
"""
