"""Every string key the pack shares between modules: wrapper keys and the FramePack channels.

ComfyUI-free (no imports). One place, so two modules never agree on a key by copying a string.

Wrapper keys (``ModelPatcher.add_wrapper_with_key`` / ``add_callback_with_key``; one key per node kind,
so a second application of the same node can find and replace or chain the first):

* :data:`RELAXATION` -- Relaxation CFG: the embedded-guidance ``APPLY_MODEL`` wrapper (with optional
  per-section betas) and the ``PREDICT_NOISE`` wrapper that sets the guider's cfg to s(σ) per call (cfg mode).
* :data:`ALG` -- ALG: ``OUTER_SAMPLE`` holder plus ``CALC_COND_BATCH`` (single_pass) or the chained
  ``sampler_calc_cond_batch_function`` (paper form).
* :data:`TEMPORAL_UNLEARNING` -- Temporal Unlearning: ``OUTER_SAMPLE`` holder (σ window, grid) and the
  ``DIFFUSION_MODEL`` wrapper that publishes the latent grid to the patched K/V sub-layers.
* :data:`FRAMEPACK_HISTORY` -- FramePack history controls: ``OUTER_SAMPLE`` holder, ``APPLY_MODEL`` (history
  low-pass) and the chained ``optimized_attention_override`` (history decay).
* :data:`FRAMEPACK_TEACACHE` -- FramePack TeaCache: ``OUTER_SAMPLE`` holder, ``DIFFUSION_MODEL`` wrapper,
  and the ``transformer_options`` entry of the same name carrying one model call's cache record to the
  ``patches_replace["dit"]`` block patches.

FramePack channels:

* :data:`FRAMEPACK_COND` -- conditioning dict key (and model-cond name) carrying one section's packed
  context: a dict with the original's argument names ``clean_latents``, ``clean_latents_2x``,
  ``clean_latents_4x``, their ``*_indices``, ``latent_indices`` and ``image_embeddings``.
* :data:`FRAMEPACK_SECTION` -- ``transformer_options`` entry set by the section sampler for each section:
  a dict with ``index`` (time order, 0 = first after the start image), ``step`` (generation order),
  ``count`` (sections), ``mode``, ``latent_window_size``, ``total_seconds`` and ``clean_roles`` (the
  role of each 1x clean latent: ``"start"``, ``"history"`` or ``"end"``).
* :data:`FRAMEPACK_LAYOUT` -- ``transformer_options`` entry the FramePack model sets per forward call:
  ``{"prefix_tokens": int}``, the number of packed history tokens in front of the noisy window.
* :data:`FRAMEPACK_DECAY` -- ``transformer_options`` entry ``{id(state): DecayPlan}``: the history decay plan
  each FramePackHistoryControls application computed for this call.
* :data:`FRAMEPACK_START_S` / :data:`FRAMEPACK_END_S` -- conditioning keys set by the timed-prompt nodes
  (seconds of video).

Run reports (``nodes/patching.py``):

* :data:`REPORT_LISTENERS` -- ``transformer_options`` entry ``{wrapper key: (listener, …)}``: functions called
  with a ``RunReport`` at the end of every run of that patch (``patching.add_listener``).
"""

RELAXATION = "inertia_relaxation_cfg"
ALG = "inertia_alg"
TEMPORAL_UNLEARNING = "inertia_temporal_unlearning"
FRAMEPACK_HISTORY = "inertia_framepack_history"
FRAMEPACK_TEACACHE = "inertia_framepack_teacache"

FRAMEPACK_COND = "framepack"
FRAMEPACK_SECTION = "inertia_framepack_section"
FRAMEPACK_LAYOUT = "inertia_framepack_layout"
FRAMEPACK_DECAY = "inertia_framepack_decay"
FRAMEPACK_START_S = "framepack_start_s"
FRAMEPACK_END_S = "framepack_end_s"

REPORT_LISTENERS = "inertia_report_listeners"
