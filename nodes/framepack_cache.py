"""FramePack TeaCache: skip the transformer blocks of steps whose input barely changed.

The FramePack app (lllyasviel/FramePack) samples with TeaCache on by default (threshold 0.15, "Use
TeaCache"); TeaCache is Liu et al., "Timestep Embedding Tells: It's Time to Cache for Video Diffusion
Model", arXiv 2411.19108. :class:`InertiaFramePackTeaCache` gives the pack's native FramePack model
(``nodes/framepack.py``) the same rule (``nodes/pure/teacache.py``) through ComfyUI's own hooks, on a
clone of the MODEL:

* ``patches_replace["dit"]`` entries on every double and single block of core's HunyuanVideo
  ``forward_orig`` (``comfy/ldm/hunyuan_video/model.py``; FramePack runs it unchanged). The first
  double block measures the modulated input (its own ``img_mod`` and ``img_norm1``) and decides; on
  a skipped call every block hands its input through, and the last single block adds the cached
  residual (image tokens leaving the block stack minus those entering it, packed history prefix
  included, as the original) to the image tokens. Embedders, token refiner and final layer always
  run, with the current timestep. A dit patch already on a block is chained (it runs on computed
  calls); a block patch installed later, by a node downstream or per call (core's
  SkipLayerGuidanceDiT does this for its extra pass), makes that call run uncached.
* A ``DIFFUSION_MODEL`` wrapper hands the blocks the per-call record
  (``transformer_options[keys.FRAMEPACK_TEACACHE]``).
* An ``OUTER_SAMPLE`` wrapper re-makes the run state per ``guider.sample`` call, i.e. per FramePack
  section (the section sampler, ``nodes/framepack_sampler.py``, samples each section with its own
  ``guider.sample``), and resets it in ``finally``. Streams of calls are keyed by the batch's cond
  uuids, so a cond and an uncond that run in separate calls (cfg > 1, low memory) keep separate
  accumulators and residuals.

Core's EasyCache / LazyCache (``comfy_extras/nodes_easycache.py``) act on this model too, with their state
re-made per section (they also key on ``OUTER_SAMPLE``). They cache whole model outputs with their own
criterion, not the original's TeaCache, so their thresholds do not compare with the app's 0.15. EasyCache's
skipped steps are wrong when the model computes in float32 (CPU, ``--force-fp32``): it adds its cached
difference to the model input in place, and for flow-matching models in float32 that tensor is the very
``x`` that ``calculate_denoised`` reads. In bf16 / fp16 compute (GPUs) the input is a cast copy and it is right.
"""

from __future__ import annotations

import logging
import math

import comfy.patcher_extension as pe
import torch
from comfy.ldm.flux.layers import apply_mod
from comfy_api.latest import io, ui

from . import framepack as fpm
from . import keys
from .pure import teacache as tc
from .pure.errors import InertiaInputError, require_range

log = logging.getLogger("ComfyUI-Inertia")

#: Pack-specific key of this module's wrappers and of its per-call transformer_options entry.
KEY = keys.FRAMEPACK_TEACACHE
#: The ``patches_replace`` group of core's DiT block patches (``comfy/ldm/hunyuan_video/model.py``).
DIT = "dit"


class _State:
    """Per node application: the threshold, the block keys it patched, the per-run holder."""

    def __init__(self, rel_l1_thresh: float, blocks: list):
        self.rel_l1_thresh = rel_l1_thresh
        self.blocks = blocks  # [("double_block", 0), ..., ("single_block", n - 1)]
        self.run: _Run | None = None


class _Stream:
    """One stream of model calls (a batch of conds) within a run: accumulator, last input, residual."""

    __slots__ = ("rule", "previous", "residual")

    def __init__(self, rel_l1_thresh):
        self.rule = tc.TeaCacheRule(rel_l1_thresh)
        self.previous: torch.Tensor | None = None
        self.residual: torch.Tensor | None = None


class _Run:
    """One sampling run (one ``guider.sample``, i.e. one FramePack section)."""

    def __init__(self, last_sigma: float | None):
        self.last_sigma = last_sigma
        self.streams: dict = {}
        self.calls = self.computed = self.uncached = 0
        self.warned = False


class _Call:
    """What one model call's blocks share: the decision, the token count, the block stack's input."""

    __slots__ = ("run", "state", "model", "stream", "sigma", "skip", "n_img", "entry")

    def __init__(self, run, state, model, stream, sigma):
        self.run, self.state, self.model, self.stream, self.sigma = run, state, model, stream, sigma
        self.skip, self.n_img, self.entry = False, 0, None


def _last_model_sigma(sigmas) -> float | None:
    """The last σ a sampler evaluates the model at: the last one, or the one before a final 0."""
    if sigmas is None or len(sigmas) == 0:
        return None
    s = [float(v) for v in sigmas.flatten().tolist()]
    if len(s) >= 2 and s[-1] == 0.0:
        return s[-2]
    return s[-1]


def _call_of(transformer_options) -> _Call | None:
    return (transformer_options or {}).get(KEY)


def _ours(fn, state) -> bool:
    return getattr(fn, "inertia_teacache", None) is state


# ====================================================================================== wrappers

def make_outer_sample_wrapper(state: _State):
    """``OUTER_SAMPLE``: a fresh run state per sampling run (FramePack section); reset in ``finally``."""

    def framepack_teacache_run(executor, *args, **kwargs):
        sigmas = args[3] if len(args) > 3 else kwargs.get("sigmas")
        prev = state.run
        run = state.run = _Run(_last_model_sigma(sigmas))
        try:
            return executor(*args, **kwargs)
        finally:
            state.run = prev
            if run.calls:
                log.info("FramePack TeaCache (rel_l1_thresh %g): computed %d of %d model calls (%.2fx fewer)%s",
                         state.rel_l1_thresh, run.computed, run.calls, run.calls / max(1, run.computed),
                         f", {run.uncached} uncached (block patches replaced)" if run.uncached else "")
            run.streams.clear()

    return framepack_teacache_run


def make_diffusion_wrapper(state: _State):
    """``DIFFUSION_MODEL``: hand the blocks this call's record, or run uncached when our block patches
    are not the ones in place."""

    def framepack_teacache_call(executor, *args, **kwargs):
        run = state.run
        pos = 11  # forward(x, timestep, context, y, txt_byt5, guidance, attention_mask, guiding_frame_index,
        #                    ref_latent, disable_time_r, control, transformer_options, **kwargs)
        to = args[pos] if len(args) > pos else kwargs.get("transformer_options")
        if run is None or not isinstance(to, dict):
            return executor(*args, **kwargs)
        replaced = to.get("patches_replace", {}).get(DIT, {})
        foreign = [b for b in state.blocks if not _ours(replaced.get(b), state)]
        run.calls += 1
        if foreign:
            run.uncached += 1
            run.computed += 1
            if not run.warned:
                run.warned = True
                log.warning("FramePack TeaCache: block patches %s were replaced by another patch for this call; "
                            "it runs uncached (put FramePack TeaCache after nodes that patch DiT blocks)",
                            foreign[:3])
            return executor(*args, **kwargs)
        uuids = to.get("uuids")
        stream_key = tuple(uuids) if uuids else None
        stream = run.streams.get(stream_key)
        if stream is None:
            stream = run.streams[stream_key] = _Stream(state.rel_l1_thresh)
        sig = to.get("sigmas")
        sigma = float(sig.flatten()[0]) if torch.is_tensor(sig) and sig.numel() else None
        to = dict(to)
        to[KEY] = _Call(run, state, executor.class_obj, stream, sigma)
        if len(args) > pos:
            args = (*args[:pos], to, *args[pos + 1:])
        else:
            kwargs["transformer_options"] = to
        return executor(*args, **kwargs)

    return framepack_teacache_call


def _modulated_input(block, img, vec, modulation_dims):
    """The first block's modulated image tokens ``norm1(img)·(1 + scale) + shift``, with its own modules."""
    mod1, _ = block.img_mod(vec)
    return apply_mod(block.img_norm1(img), 1 + mod1.scale, mod1.shift, modulation_dims)


def _run_block(previous, args, extra):
    return previous(args, extra) if previous is not None else extra["original_block"](args)


def _decide(call: _Call, img, vec, modulation_dims) -> bool:
    """TeaCache's decision for this call (True = skip); updates the stream's last modulated input."""
    stream = call.stream
    cur = _modulated_input(call.model.double_blocks[0], img, vec, modulation_dims)
    prev = stream.previous
    comparable = prev is not None and prev.shape == cur.shape and stream.residual is not None \
        and stream.residual.shape == img.shape
    rel = tc.relative_l1(cur, prev) if comparable else None
    force = call.sigma is not None and call.run.last_sigma is not None and \
        math.isclose(call.sigma, call.run.last_sigma, rel_tol=1e-5, abs_tol=1e-8)
    stream.previous = cur
    return not stream.rule.step(rel, force=force)


def make_block_patch(state: _State, kind: str, index: int, first: bool, last: bool, previous=None):
    """A ``patches_replace["dit"][(kind, index)]`` entry: decide (first block), hand through (skipped
    call), add the residual (last block), else run the block (or the ``previous`` patch of that block)."""

    def framepack_teacache_block(args, extra):
        call = _call_of(args.get("transformer_options"))
        if call is None:
            return _run_block(previous, args, extra)
        if first:
            call.skip = _decide(call, args["img"], args["vec"], args.get("modulation_dims_img"))
            call.n_img = args["img"].shape[1]
            if not call.skip:
                call.run.computed += 1
                call.entry = args["img"].clone()
        if call.skip:
            img = args["img"]
            if last:
                n = call.n_img
                return {"img": torch.cat((img[:, :n] + call.stream.residual, img[:, n:]), dim=1)}
            return {"img": img, "txt": args["txt"]} if kind == "double_block" else {"img": img}
        out = _run_block(previous, args, extra)
        if last:
            call.stream.residual = out["img"][:, :call.n_img] - call.entry
            call.entry = None
        return out

    framepack_teacache_block.inertia_teacache = state
    framepack_teacache_block.inertia_previous = previous
    return framepack_teacache_block


# ====================================================================================== patch

def _remove_previous_application(m):
    """Undo an earlier FramePack TeaCache on the clone ``m`` (its wrappers; its block patches → what they chained)."""
    m.remove_wrappers_with_key(pe.WrappersMP.OUTER_SAMPLE, KEY)
    m.remove_wrappers_with_key(pe.WrappersMP.DIFFUSION_MODEL, KEY)
    dit = m.model_options.get("transformer_options", {}).get("patches_replace", {}).get(DIT)
    if not dit:
        return
    dit = dict(dit)
    for b, fn in list(dit.items()):
        if getattr(fn, "inertia_teacache", None) is not None:
            prev = fn.inertia_previous
            if prev is None:
                del dit[b]
            else:
                dit[b] = prev
    m.model_options["transformer_options"]["patches_replace"] = {
        **m.model_options["transformer_options"]["patches_replace"], DIT: dit}


def apply_framepack_teacache(model, rel_l1_thresh: float = tc.DEFAULT_REL_L1_THRESH):
    """Return ``(patched clone, or the input itself at rel_l1_thresh 0; summary text)``.

    ``model``: a FramePack MODEL (Load FramePack Model). ``rel_l1_thresh``: TeaCache's threshold on the
    accumulated rescaled relative L1 change of the first block's modulated input (unitless; 0 = off,
    below 0.052 nothing is skipped, the FramePack app uses 0.15). A second application replaces the first.

    Raises:
        InertiaInputError: not a FramePack model; a threshold outside [0, 10]; a model that already
            carries core's EasyCache or LazyCache (use one cache).
    """
    if not fpm.is_framepack_model(model):
        raise InertiaInputError("model", type(model.get_model_object("diffusion_model")).__name__,
                                "connect a FramePack MODEL (Load FramePack Model)", "is not a FramePack model")
    thr = require_range("rel_l1_thresh", rel_l1_thresh, 0.0, 10.0,
                        "enter a threshold ≥ 0 (0.15 as the FramePack app; 0 = off)")
    if "easycache" in model.model_options.get("transformer_options", {}):
        raise InertiaInputError("model", "a MODEL with EasyCache/LazyCache",
                                "use one cache: remove core's EasyCache / LazyCache node, or this one",
                                "already has core's EasyCache or LazyCache")
    if thr == 0.0:
        return model, "FramePack TeaCache: rel_l1_thresh 0 - off, model returned unchanged"
    m = model.clone()
    _remove_previous_application(m)
    dm = m.get_model_object("diffusion_model")
    n_double, n_single = len(dm.double_blocks), len(dm.single_blocks)
    blocks = [("double_block", i) for i in range(n_double)] + [("single_block", i) for i in range(n_single)]
    state = _State(thr, blocks)
    dit = m.model_options.get("transformer_options", {}).get("patches_replace", {}).get(DIT, {})
    chained = 0
    for j, (kind, i) in enumerate(blocks):
        previous = dit.get((kind, i))
        chained += previous is not None
        m.set_model_patch_replace(make_block_patch(state, kind, i, first=j == 0, last=j == len(blocks) - 1,
                                                   previous=previous), DIT, kind, i)
    m.add_wrapper_with_key(pe.WrappersMP.OUTER_SAMPLE, KEY, make_outer_sample_wrapper(state))
    m.add_wrapper_with_key(pe.WrappersMP.DIFFUSION_MODEL, KEY, make_diffusion_wrapper(state))
    text = (f"FramePack TeaCache: rel_l1_thresh {thr:g} on {n_double} double + {n_single} single blocks"
            + (f" (chained to {chained} earlier block patches)" if chained else "")
            + ("; below 0.052 nothing is skipped" if thr < tc.MIN_RESCALED_CHANGE else ""))
    return m, text


class InertiaFramePackTeaCache(io.ComfyNode):
    """MODEL → MODEL: TeaCache for the native FramePack model, as the FramePack app uses it."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InertiaFramePackTeaCache",
            display_name="FramePack TeaCache",
            category="Inertia/FramePack",
            description=(
                "TeaCache for FramePack (Liu et al., \"Timestep Embedding Tells: It's Time to Cache for Video "
                "Diffusion Model\", arXiv 2411.19108), the rule the FramePack app enables by default: when the "
                "first block's timestep-modulated input changed little since the last computed step (relative L1, "
                "rescaled with HunyuanVideo's polynomial, accumulated), the transformer blocks are skipped and "
                "their last residual reused. The first and last step of every section are always computed. "
                "0.15 = the app's default (its notes: 0.1 ≈ 1.6x, 0.15 ≈ 2.1x faster; it can soften hands and fine "
                "detail), 0 = off. Use with FramePack Section Sampler; do not stack with EasyCache / LazyCache."),
            inputs=[
                io.Model.Input("model", tooltip="A FramePack MODEL (Load FramePack Model). It is cloned, never changed."),
                io.Float.Input("rel_l1_thresh", default=tc.DEFAULT_REL_L1_THRESH, min=0.0, max=10.0, step=0.01,
                               tooltip="Skip threshold on the accumulated, rescaled relative L1 change of the first "
                                       "block's modulated input (unitless). 0.15 = the FramePack app's default. "
                                       "Each step adds at least 0.052, so below that nothing is skipped and at 0.15 "
                                       "at most 2 steps in a row are. 0 = off."),
            ],
            outputs=[io.Model.Output(display_name="model",
                                     tooltip="The patched clone (the input itself at rel_l1_thresh 0).")],
        )

    @classmethod
    def execute(cls, model, rel_l1_thresh=tc.DEFAULT_REL_L1_THRESH) -> io.NodeOutput:
        m, text = apply_framepack_teacache(model, rel_l1_thresh)
        log.info(text)
        return io.NodeOutput(m, ui=ui.PreviewText(text))


NODES = [InertiaFramePackTeaCache]
