"""Temporal Unlearning: Gaussian blur of self-attention K and V along latent time (Static Death, eq. 3).

K̃_τ = Σ_j G(j − τ; σ_blur)·K_j, and the same for V, in the chosen self-attention blocks, so a
prompt can overwrite the state earlier frames carry. Math: ``nodes/pure/temporal_blur.py``.

Where the blur happens (pre-RoPE, no core forward code copied)
    ComfyUI rotates K with RoPE before the attention-override slot sees it, and blurring
    rotated keys mixes the phases of different frames. So instead of the override, the node
    object-patches the ``forward`` of the small sub-layers whose output *is* the pre-RoPE key or
    the value, on a clone (undone when another clone of the model is loaded):

    * Wan 2.1/2.2 (T2V, I2V, FLF, VACE, TI2V-5B): ``blocks.i.self_attn.norm_k`` (K = norm_k(k(x)), RoPE is
      applied to its output right after) and ``blocks.i.self_attn.v`` (V). Cross-attention
      (text and CLIP-image tokens) uses other modules and is untouched. VACE control blocks
      (``vace_blocks.j``) are separate modules: untouched unless ``blur_vace_control``.
    * HunyuanVideo: ``double_blocks.i.img_attn.norm`` (QK-norm of the *image* stream: its K is
      image-only and pre-RoPE; V is blurred in place in the fused qkv buffer) and
      ``single_blocks.j.norm`` (joint ``[img; txt]`` sequence: only the first ``L_img`` tokens
      are blurred). The text stream, text tokens and the token refiner are untouched.
      FramePack (``nodes/framepack.py``, a HunyuanVideo subclass): the packed clean-latent tokens
      ``[4×, 2×, 1×]`` before the noisy window count as prefix, so only the window is blurred.

    The sub-layers are found by name, so fp8 weights (``UNETLoader`` weight_dtype, manual cast) and
    GGUF layers (city96/ComfyUI-GGUF ``GGMLOps``) are patched alike; core ``TorchCompileModel``
    compiles the patched model (its wrapper swaps the compiled module in at ``apply_model`` time).
    The attention-override slot is left alone, so an override installed earlier (Sage
    attention nodes, a test recorder) keeps running and computes with the blurred K/V.
    The blur costs one extra read+write of K and of V per patched block (a banded ``[T, T]``
    GEMM), no RoPE un-rotate/re-rotate and no padding copies.

Per call (never cached across calls)
    A ``DIFFUSION_MODEL`` wrapper reads the latent grid from ``x.shape`` and ``patch_size``
    (so context windows and core's patch padding keep working), adds Wan ``time_dim_concat``
    frames and counts Wan ``ref_conv`` / Hunyuan ``ref_latent`` prefix tokens, finds anchor
    frames, checks the σ window, and publishes the blur matrix for the patched layers.

Anchor frames (``protect_anchor_frames``): latent frames that carry a given image keep their K/V
and are not read by the other frames (``nodes/pure/temporal_blur.py`` explains the choice):
Wan 2.2 TI2V-5B frames whose per-frame timestep is 0 (fixed by the denoise mask of core
``Wan22ImageToVideoLatent``: the start image), Wan I2V/FLF frames whose concat mask marks any of their 4 sub-frames as fully given (the
first latent; FLF also the last), VACE frames whose VACE mask keeps the whole frame (reference
latents; also fully kept keyframes), Wan ``time_dim_concat`` frames (Phantom references),
HunyuanVideo I2V "v1 (concat)" frames whose mask marks them given and frame 0 for "v2
(replace)". Reference *prefix tokens* (Wan ``reference_latent``, Hunyuan ``ref_latent``) are
never blurred.

σ window: ``start_percent``/``end_percent`` are fractions of the schedule (0.0–1.0, as in
ComfyUI's other ``*_percent`` inputs), converted to σ at sampling time with the live
``model_sampling.percent_to_sigma`` in an ``OUTER_SAMPLE`` wrapper; a call is blurred when
σ_end ≤ σ ≤ σ_start (``nodes/pure/sigma_window.py``, one tolerance for every patch), so
ModelSamplingSD3 shift and KSamplerAdvanced splits stay correct.

Applying the node twice stacks: both blurs act where both select a block (``nodes/patching.py``).
"""

from __future__ import annotations

import inspect
import logging

import torch
from comfy_api.latest import io, ui

from . import keys, patching
from .model_info import SUPPORTED_FAMILIES, diffusion_model, is_wan22_ti2v, model_family
from .pure.errors import InertiaInputError
from .pure.framepack_history import prefix_tokens as framepack_prefix_tokens
from .pure.parse import parse_block_list
from .pure.temporal_blur import (
    BOUNDARY,
    PAPER_SIGMA_BLUR,
    TokenGrid,
    blur_heads,
    blur_heads_,
    blur_matrix,
    blur_tokens,
    check_sigma_blur,
    check_window,
    format_blocks,
    gaussian_taps,
    is_identity,
)

log = logging.getLogger("ComfyUI-Inertia")

#: Pack-specific key for the wrappers installed by this module.
KEY = keys.TEMPORAL_UNLEARNING
APPLY_TO = ("kv", "k", "v")


# --------------------------------------------------------------------------- per-call context
class _Call:
    """What the patched layers need during one diffusion-model call."""

    __slots__ = ("grid", "anchors", "sigma", "cache")

    def __init__(self, grid: TokenGrid, anchors: tuple[int, ...], sigma: float, cache: dict):
        self.grid, self.anchors, self.sigma, self.cache = grid, anchors, sigma, cache

    def _get(self, dtype, device):
        key = (self.grid.frames, self.anchors, self.sigma, dtype, str(device))
        W = self.cache.get(key)
        if W is None:
            W = self.cache[key] = blur_matrix(self.grid.frames, self.sigma, self.anchors, dtype=dtype, device=device)
        return W

    def matrix(self, t):
        """The ``[T, T]`` blur matrix in ``t``'s dtype and device (built once per run)."""
        return self._get(t.dtype, t.device)

    def is_identity(self) -> bool:
        return self.grid.per_frame == 0 or is_identity(self._get(torch.float64, "cpu"))


class _State(patching.PatchState):
    """Per node application: settings, the per-run σ window and the per-call context.

    Shared by reference between the clone's wrappers and object patches (and its later clones,
    which carry the same settings). ``run`` is set by the OUTER_SAMPLE wrapper and reset in
    ``finally`` (``nodes/patching.py``); ``call`` by the DIFFUSION_MODEL wrapper, likewise.
    """

    def __init__(self, family, sigma_blur, start, end, protect, fallback_sampling):
        super().__init__("TemporalUnlearning", patching.RunWindow(start, end), fallback_sampling)
        self.family, self.sigma_blur, self.protect = family, sigma_blur, protect
        self.call = None

    def active_at(self, transformer_options) -> bool:
        """Whether this call's σ (the largest of ``transformer_options["sigmas"]``) lies in the window."""
        if self.window.full:
            return True
        sig = (transformer_options or {}).get("sigmas")
        if sig is None:
            self.warn_once("no 'sigmas' in transformer_options; the σ window cannot be checked, blurring every call")
            return True
        return self.in_window(float(sig.detach().flatten().max()))


# --------------------------------------------------------------------------- grid and anchors
_SIGNATURES = {}


def _named_args(dm, args, kwargs) -> dict:
    """The DIFFUSION_MODEL call's arguments by name (``**kwargs`` merged), from ``_forward``'s signature."""
    fn = type(dm)._forward
    sig = _SIGNATURES.get(fn)
    if sig is None:
        sig = _SIGNATURES[fn] = inspect.signature(fn)
    bound = sig.bind_partial(dm, *args, **kwargs)
    out = {}
    for name, val in bound.arguments.items():
        if sig.parameters[name].kind is inspect.Parameter.VAR_KEYWORD:
            out.update(val)
        else:
            out[name] = val
    return out


def _ceil_div(a, b):
    return -(-int(a) // int(b))


def _frames_given(mask) -> set[int]:
    """Frames t of ``mask [B, C, T, H, W]`` (1 = given) where, for some batch entry and channel,
    the whole ``H×W`` plane is given (≥ 0.5)."""
    g = (mask >= 0.5).all(dim=4).all(dim=3)  # [B, C, T]
    return {int(i) for i in g.flatten(0, 1).any(0).nonzero().flatten().tolist()}


def wan_grid(dm, a: dict, protect: bool) -> tuple[TokenGrid, set[int]]:
    """Wan/VACE token grid and anchor frames for one call (``a``: the call's named arguments).

    Returns ``(TokenGrid(prefix tokens, latent frames T', tokens per frame H'·W'), anchor latent-frame
    indices)``; ``x`` is ``[B, C, T, H, W]`` in latent units, patches are ``dm.patch_size``.
    """
    x = a["x"]
    pt, ph, pw = dm.patch_size
    frames = _ceil_div(x.shape[2], pt)
    per_frame = _ceil_div(x.shape[3], ph) * _ceil_div(x.shape[4], pw)
    anchors = set()
    od = getattr(dm, "out_dim", 16)
    if protect and getattr(dm, "model_type", None) == "i2v" and x.shape[1] == 2 * od + 4:
        # concat mask (ComfyUI inverts concat_mask: 1 = given), 4 temporal sub-frames per latent frame
        anchors |= {t // pt for t in _frames_given(x[:, od:od + 4])}
    ts = a.get("timestep")
    if protect and ts is not None and ts.ndim == 2 and ts.shape[1] == x.shape[2]:
        # Wan 2.2 TI2V-5B (comfy.model_base.WAN22.process_timestep): one timestep per latent frame, the
        # denoise-mask mean times t; 0 = the frame is given (the start image of Wan22ImageToVideoLatent)
        anchors |= {int(t) // pt for t in (ts == 0).any(0).nonzero().flatten().tolist()}
    vc = a.get("vace_context")
    if protect and vc is not None and vc.ndim == 6 and vc.shape[3] == x.shape[2] and vc.shape[2] >= 64:
        # VACE mask: 64 channels (8x8 pixel sub-positions), 0 = keep; [B, n, 64, T, H, W]
        m = vc[:, :, -64:]
        kept = (m < 0.5).all(dim=5).all(dim=4).all(dim=2)  # [B, n, T]
        anchors |= {int(t) // pt for t in kept.flatten(0, 1).any(0).nonzero().flatten().tolist()}
    tdc = a.get("time_dim_concat")
    if tdc is not None:
        extra = _ceil_div(tdc.shape[2], pt)
        if protect:
            anchors |= set(range(frames, frames + extra))
        frames += extra
    prefix = 0
    ref = a.get("reference_latent")
    if getattr(dm, "ref_conv", None) is not None and ref is not None:
        prefix = (ref.shape[-2] // ph) * (ref.shape[-1] // pw)
    return TokenGrid(prefix, frames, per_frame), anchors


def hunyuan_grid(dm, a: dict, protect: bool) -> tuple[TokenGrid, set[int]]:
    """HunyuanVideo image-token grid and anchor frames for one call: ``(TokenGrid, anchor latent frames)``;
    the prefix counts ``ref_latent`` tokens and FramePack's packed clean-latent tokens (never blurred)."""
    x = a["x"]
    if x.ndim != 5 or len(dm.patch_size) != 3:
        return TokenGrid(0, 1, 0), set()
    pt, ph, pw = dm.patch_size
    frames = _ceil_div(x.shape[2], pt)
    per_frame = _ceil_div(x.shape[3], ph) * _ceil_div(x.shape[4], pw)
    anchors = set()
    oc = dm.out_channels
    if protect and x.shape[1] == 2 * oc + 1:
        # HunyuanVideo I2V "v1 (concat)": [noise | image latent | mask_inverted (1 = given)]
        anchors |= {t // pt for t in _frames_given(x[:, 2 * oc:2 * oc + 1])}
    if protect and a.get("guiding_frame_index") is not None:
        anchors.add(0)  # "v2 (replace)": the first latent frame is the given image
    prefix = 0
    ref = a.get("ref_latent")
    if ref is not None:
        prefix = _ceil_div(ref.shape[2], pt) * _ceil_div(ref.shape[3], ph) * _ceil_div(ref.shape[4], pw)
    # FramePack: the packed clean latents [4x, 2x, 1x] come first; only the noisy window is blurred
    prefix += framepack_prefix_tokens(a, dm.patch_size)
    return TokenGrid(prefix, frames, per_frame), anchors


def make_diffusion_wrapper(state: _State):
    """``DIFFUSION_MODEL`` wrapper: publish the per-call blur context, run, clear it."""
    grid_fn = hunyuan_grid if state.family == "hunyuan" else wan_grid

    def temporal_unlearning_call(executor, *args, **kwargs):
        prev = state.call
        call = None
        try:
            dm = executor.class_obj
            a = _named_args(dm, args, kwargs)
            if state.active_at(a.get("transformer_options")):
                grid, anchors = grid_fn(dm, a, state.protect)
                pt = dm.patch_size[0]
                sigma = state.sigma_blur / pt  # σ in latent frames → token frames
                call = _Call(grid, tuple(sorted(f for f in anchors if 0 <= f < grid.frames)), sigma, state.cache())
                if call.is_identity():
                    call = None
        except Exception as e:  # never break sampling over the blur's bookkeeping
            state.warn_once(f"could not read the latent grid ({type(e).__name__}: {e}); this call runs unblurred")
            call = None
        state.call = call
        try:
            return executor(*args, **kwargs)
        finally:
            state.call = prev

    return temporal_unlearning_call


def make_outer_sample_wrapper(state: _State):
    """``OUTER_SAMPLE`` wrapper: σ window from the live model_sampling for this run; reset after."""
    return patching.run_wrapper(state)


# --------------------------------------------------------------------------- layer patches
def _token_patch(orig, state: _State, where: str):
    """Wrap a Wan ``norm_k``/``v`` forward: blur its ``[B, L, C]`` output along time."""

    def temporal_unlearning_forward(*args, **kwargs):
        out = orig(*args, **kwargs)
        call = state.call
        if call is None:
            return out
        if out.shape[1] != call.grid.n_video:
            state.warn_once(f"{where}: {out.shape[1]} tokens do not fit the latent grid {call.grid}; left unblurred")
            return out
        return blur_tokens(out, call.matrix(out), call.grid)

    temporal_unlearning_forward.inertia_orig = orig
    return temporal_unlearning_forward


def _qknorm_patch(orig, state: _State, do_k: bool, do_v: bool, exact: bool, where: str):
    """Wrap a HunyuanVideo ``QKNorm.forward(q, k, v)``: blur K (returned) and V (in place), image tokens only."""

    def temporal_unlearning_qknorm(q, k, v, *args, **kwargs):
        q2, k2 = orig(q, k, v, *args, **kwargs)
        call = state.call
        if call is None:
            return q2, k2
        L, n = k2.shape[2], call.grid.n_video
        if (L != n) if exact else (L < n):
            state.warn_once(f"{where}: {L} tokens do not fit the latent grid {call.grid}; left unblurred")
            return q2, k2
        if do_v:
            blur_heads_(v, call.matrix(v), call.grid)
        if do_k:
            k2 = blur_heads(k2, call.matrix(k2), call.grid)
        return q2, k2

    temporal_unlearning_qknorm.inertia_orig = orig
    return temporal_unlearning_qknorm


def patch_targets(model, family: str, blocks: tuple[int, ...], do_k: bool, do_v: bool, vace_control: bool):
    """``[(object_patch_name, kind, exact)]`` for the chosen blocks; kind ``tokens`` or ``qknorm``."""
    dm = diffusion_model(model)
    out = []
    if family in ("wan", "wan_vace"):
        prefixes = [f"diffusion_model.blocks.{i}.self_attn" for i in blocks]
        if vace_control and family == "wan_vace":
            prefixes += [f"diffusion_model.vace_blocks.{j}.self_attn" for j in range(len(dm.vace_blocks))]
        for p in prefixes:
            if do_k:
                out.append((f"{p}.norm_k.forward", "tokens", True))
            if do_v:
                out.append((f"{p}.v.forward", "tokens", True))
    else:
        nd = len(dm.double_blocks)
        for i in blocks:
            if i < nd:
                out.append((f"diffusion_model.double_blocks.{i}.img_attn.norm.forward", "qknorm", True))
            else:
                out.append((f"diffusion_model.single_blocks.{i - nd}.norm.forward", "qknorm", False))
    return out


def block_count(model, family: str) -> int:
    """Blocks the ``blocks`` input numbers: Wan main blocks; HunyuanVideo double then single blocks."""
    dm = diffusion_model(model)
    if family == "hunyuan":
        return len(dm.double_blocks) + len(dm.single_blocks)
    return len(dm.blocks)


def apply_temporal_unlearning(model, sigma_blur: float, apply_to: str = "kv", start_percent: float = 0.0,
                              end_percent: float = 1.0, blocks: str = "all", protect_anchor_frames: bool = True,
                              blur_vace_control: bool = False):
    """Validate, then return ``(patched_clone, summary_text)``. The input MODEL is never modified.

    ``sigma_blur`` in latent frames; ``start_percent``/``end_percent`` fractions of the schedule.
    ``sigma_blur == 0`` returns the input model itself (bit-identical to stock).

    Raises:
        InertiaInputError: unsupported model family, negative/non-finite ``sigma_blur``, unknown
            ``apply_to``, a window outside [0, 1] or with start > end, an empty, malformed or
            out-of-range block list.
    """
    family = model_family(model)
    if family == "other":
        raise InertiaInputError("model", type(diffusion_model(model)).__name__,
                                f"connect a supported video model: {SUPPORTED_FAMILIES}",
                                "is a model family TemporalUnlearning does not support")
    sigma = check_sigma_blur(sigma_blur)
    if apply_to not in APPLY_TO:
        raise InertiaInputError("apply_to", apply_to, f"use one of {APPLY_TO}")
    start, end = check_window(start_percent, end_percent)
    n = block_count(model, family)
    sel = parse_block_list(blocks, n)
    where = "Hunyuan double 0-{0}, single {1}-{2}".format(
        len(diffusion_model(model).double_blocks) - 1, len(diffusion_model(model).double_blocks), n - 1) \
        if family == "hunyuan" else f"{n} blocks"
    if sigma == 0:
        return model, "TemporalUnlearning: sigma_blur 0 - off, model returned unpatched"
    do_k, do_v = "k" in apply_to, "v" in apply_to
    m = model.clone()
    state = _State(family, sigma, start, end, protect_anchor_frames, m.get_model_object("model_sampling"))
    for name, kind, exact in patch_targets(m, family, sel, do_k, do_v, blur_vace_control):
        orig = m.get_model_object(name)
        fn = _token_patch(orig, state, name) if kind == "tokens" else _qknorm_patch(orig, state, do_k, do_v, exact, name)
        m.add_object_patch(name, fn)
    patching.install(m, patching.WRAPPERS.OUTER_SAMPLE, KEY, make_outer_sample_wrapper(state), replace=False)
    patching.install(m, patching.WRAPPERS.DIFFUSION_MODEL, KEY, make_diffusion_wrapper(state), replace=False)
    r = (gaussian_taps(sigma).numel() - 1) // 2
    vace = ""
    if is_wan22_ti2v(m):
        vace = ", Wan 2.2 TI2V-5B: anchor = latent frames the denoise mask fixes (start image)"
    if family == "wan_vace":
        vace = ", VACE control blocks too" if blur_vace_control else ", VACE control blocks untouched"
    text = (f"TemporalUnlearning: sigma_blur={sigma:g} latent frames (radius {r}, {BOUNDARY} boundary), "
            f"{apply_to.upper()} on {family} blocks {format_blocks(sel)} of {where}{vace}; "
            f"window {start:g}-{end:g} of the schedule; anchor frames "
            f"{'protected' if protect_anchor_frames else 'blurred like the others'}")
    return m, text


class TemporalUnlearning(io.ComfyNode):
    """MODEL → MODEL: Gaussian blur of self-attention K/V along latent time (Static Death, eq. 3)."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InertiaTemporalUnlearning",
            display_name="Temporal Unlearning (K/V blur)",
            category="Inertia/attention",
            description=(
                "Blurs the keys and values of self-attention along latent time with a Gaussian, "
                "K̃_τ = Σ_j G(j − τ; σ)·K_j (\"Adaptive Control of Temporal Inertia\", eq. 3), so the model's hold on earlier "
                "frames weakens and a prompt can overwrite their state. K is blurred before RoPE. Wan "
                "2.1/2.2 (T2V, I2V, FLF, VACE main blocks) and HunyuanVideo (image tokens of the joint "
                "attention); cross-attention and text tokens are untouched. Frames that carry a given image "
                "(I2V/FLF start/end, VACE references) can stay sharp. Pairs with Relaxation CFG."),
            inputs=[
                io.Model.Input("model", tooltip="The model to patch. It is cloned; the input is never changed."),
                io.Float.Input("sigma_blur", default=PAPER_SIGMA_BLUR, min=0.0, max=16.0, step=0.05,
                               tooltip="Gaussian σ in latent frames (1 latent frame = 4 video frames for Wan and "
                                       "HunyuanVideo). 0.6 = the paper's; 0 = off (model returned unchanged). "
                                       "The kernel reaches ceil(3σ) frames each side."),
                io.Combo.Input("apply_to", options=list(APPLY_TO), default="kv",
                               tooltip="Which of keys (k) and values (v) to blur. K is blurred before RoPE."),
                io.Float.Input("start_percent", default=0.0, min=0.0, max=1.0, step=0.01,
                               tooltip="Start of the blur window, as a fraction of the schedule (0.0 = first "
                                       "step), converted to σ with the model's own sampling when sampling starts."),
                io.Float.Input("end_percent", default=1.0, min=0.0, max=1.0, step=0.01,
                               tooltip="End of the blur window, as a fraction of the schedule (1.0 = last step). "
                                       "A step is blurred when its σ lies inside the window."),
                io.String.Input("blocks", default="all",
                                tooltip="Transformer blocks to blur: 'all', or indices and inclusive ranges such "
                                        "as '0-9,15'. Wan: 0..N-1 (30 for 1.3B, 40 for 14B). HunyuanVideo: double "
                                        "blocks first (0-19), then single blocks (20-59)."),
                io.Boolean.Input("protect_anchor_frames", default=True,
                                 tooltip="Keep latent frames that carry a given image out of the blur (they keep "
                                         "their K/V and the other frames do not read them): Wan I2V/FLF first "
                                         "(and last) latent, VACE reference latents and fully kept frames, "
                                         "Wan 2.2 TI2V-5B start-image frames (fixed by the denoise mask), "
                                         "HunyuanVideo I2V image frame."),
                io.Boolean.Input("blur_vace_control", default=False,
                                 tooltip="VACE only: also blur the self-attention of the VACE control blocks. "
                                         "Off = main blocks only (the control stream stays as encoded)."),
            ],
            outputs=[io.Model.Output(display_name="model", tooltip="The patched clone (or the input when "
                                                                   "sigma_blur is 0).")],
        )

    @classmethod
    def execute(cls, model, sigma_blur, apply_to, start_percent, end_percent, blocks, protect_anchor_frames,
                blur_vace_control=False) -> io.NodeOutput:
        m, text = apply_temporal_unlearning(model, sigma_blur, apply_to, start_percent, end_percent, blocks,
                                            protect_anchor_frames, blur_vace_control)
        log.info(text)
        return io.NodeOutput(m, ui=ui.PreviewText(text))


NODES = [TemporalUnlearning]
