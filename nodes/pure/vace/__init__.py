"""Pure math of the VACE nodes (no ComfyUI imports), one module per layer:

* ``grid``: the Wan latent time grid, the nearest-exact mask read p(k) and the two mask layouts
  (what ``js/vace_math.js`` ports);
* ``regions``: space operations on masks (sizes, crops, dilation, boxes, thin regions);
* ``tasks_time``: keyframes and extension; ``tasks_space``: repaint, outpaint, reference crops;
* ``aligned``: the latent-aligned encode (mask by VAE group, held pixels, streams, unshuffle);
* ``reports``: the builders' text and timeline payload, the preview's per-latent-frame rows.

The antialiased resize is ``nodes/pure/resize.py`` and the text parsing ``nodes/pure/parse.py``.
"""
