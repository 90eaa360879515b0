"""FramePack history-context controls against Static Death (videos that ignore prompts asking for change).

Why FramePack ignores "disappear"-style prompts, as its users report (lllyasviel/FramePack issues #429,
#458, #551, #552): the compressed packed history keeps the subject's low-frequency presence,
anti-drifting corrects the asked-for change away, and attention over past keys dominates the prompt. :class:`FramePackHistoryControls` patches a FramePack MODEL
(``nodes/framepack.py``) with four switchable controls; math and definitions (age ``k``, the
packed prefix) in ``nodes/pure/framepack_history.py``:

1. **History low-pass by age** — an ``APPLY_MODEL`` wrapper replaces the ``clean_latents_2x`` /
   ``clean_latents_4x`` (optionally the 1× history frame, the anchors only on request) the model
   receives by a per-frame spatial Gaussian blur of σ(k) = σ0·(1 + α·k) (kornia). Every step of
   every section (the history differs per section; its ages do not).
2. **History attention decay** — the same wrapper publishes a per-token weight
   ``w = exp(−d·(1 + α_d·k))`` for the prefix tokens in ``transformer_options`` while σ is inside
   the decay window; an ``optimized_attention_override`` (chaining any override already there)
   applies it in every joint attention: ``logit_bias`` (exact reweighting of the noisy window's
   attention to history) or ``v_scale`` (history values scaled, fast). The start anchor and the
   end frame keep ``w = 1`` unless ``include_anchors``.
3. **Per-section β of Relaxation CFG** (embedded mode, the paper's "directorial control") —
   ``relaxation_cfg.install_section_betas``: Relaxation CFG's schedule (an upstream one's p, s_min,
   s_base, else the paper's p 0.7, s_min 1) with β of the current section. The section index and
   count reach the model through ``transformer_options[keys.FRAMEPACK_SECTION]``, set per section by
   ``FramePackSectionSampler``; the list length is checked against the section count when sampling
   starts (the count depends on the sampler's total_seconds and latent_window_size).
4. **Temporal Unlearning on the noisy window** — the existing ``TemporalUnlearning`` node: it
   counts FramePack's packed clean tokens as prefix, so only the noisy window's K/V are blurred.

Per-run state (σ window from the live ``model_sampling``, the section facts) lives in a holder made
by an ``OUTER_SAMPLE`` wrapper (one per section: the section sampler calls ``guider.sample`` per
section) and reset in ``finally`` (``nodes/patching.py``; applied twice, the controls stack). All
hooks sit under :data:`KEY` on a clone; the input MODEL is never changed. Everything off (σ0 = 0,
d = 0, no β list) returns the input model itself.
"""

from __future__ import annotations

import dataclasses
import logging

import torch
from comfy_api.latest import io, ui

from . import framepack as fpm
from . import keys, patching, relaxation_cfg
from .pure import framepack_history as fh
from .pure.errors import InertiaInputError
from .pure.parse import parse_section_betas

log = logging.getLogger("ComfyUI-Inertia")

#: Pack-specific key of this module's wrappers.
KEY = keys.FRAMEPACK_HISTORY
#: Per-call transformer_options entry: ``{id(state): DecayPlan}``, the plan each node's attention override applies.
DECAY_KEY = keys.FRAMEPACK_DECAY


# ====================================================================================== settings

#: Smallest non-zero history low-pass σ0 (latent cells); below it the Gaussian kernel underflows.
MIN_LOWPASS_SIGMA = 1e-3


@dataclasses.dataclass(frozen=True)
class HistorySettings:
    """Validated settings (plain values: safe to deep-copy with a MODEL). See the node's tooltips."""

    lowpass_sigma: float = 0.0
    lowpass_age_slope: float = 0.1
    decay_strength: float = 0.0
    decay_age_slope: float = 0.1
    decay_mode: str = "v_scale"
    decay_start_percent: float = 0.0
    decay_end_percent: float = 1.0
    include_1x: bool = False
    include_anchors: bool = False
    section_betas: tuple = ()

    def __post_init__(self):
        fh.check_strength("lowpass_sigma", self.lowpass_sigma,
                          "enter σ0 ≥ 0 in latent cells (1 cell = 8 px); 0 = low-pass off")
        if 0 < self.lowpass_sigma < MIN_LOWPASS_SIGMA:  # a denormal σ makes a zero Gaussian kernel mid-sampling
            raise InertiaInputError("lowpass_sigma", self.lowpass_sigma,
                                    f"enter 0 (off) or σ0 ≥ {MIN_LOWPASS_SIGMA:g} latent cells",
                                    "is too small to blur anything")
        fh.check_strength("decay_strength", self.decay_strength,
                          "enter d ≥ 0 in logit units (weight exp(-d·(1+α·k))); 0 = decay off")
        fh.check_age_slope("lowpass_age_slope", self.lowpass_age_slope)
        fh.check_age_slope("decay_age_slope", self.decay_age_slope)
        if self.decay_mode not in fh.DECAY_MODES:
            raise InertiaInputError("decay_mode", self.decay_mode, f"use one of {fh.DECAY_MODES}")
        fh.check_window(self.decay_start_percent, self.decay_end_percent, "decay")

    @property
    def lowpass_on(self) -> bool:
        return self.lowpass_sigma > 0

    @property
    def decay_on(self) -> bool:
        return self.decay_strength > 0

    @property
    def betas_on(self) -> bool:
        return len(self.section_betas) > 0


class _State(patching.PatchState):
    """Per node application: settings, the decay's σ window and the per-run holder (``nodes/patching.py``)."""

    def __init__(self, settings: HistorySettings, fallback_sampling):
        super().__init__("FramePackHistoryControls",
                         patching.RunWindow(settings.decay_start_percent, settings.decay_end_percent),
                         fallback_sampling)
        self.settings = settings

    def decay_active(self, sigma) -> bool:
        """Whether the call at ``sigma`` (model σ, ``[B]``; its largest entry) lies in the decay window."""
        return self.window.full or self.in_window(float(torch.as_tensor(sigma).detach().flatten().max()))


def _section(transformer_options) -> dict | None:
    return (transformer_options or {}).get(keys.FRAMEPACK_SECTION)


# ====================================================================================== wrappers

def make_outer_sample_wrapper(state: _State):
    """``OUTER_SAMPLE``: σ window from the live model_sampling, section facts, β count check; reset after."""

    def framepack_history_run(guider, model_sampling, sigmas):
        sec = _section((guider.model_options or {}).get("transformer_options"))
        if state.settings.betas_on:
            relaxation_cfg.check_section_count(state.settings.section_betas, sec)
        return patching.RunHolder(state.window.bounds(model_sampling.percent_to_sigma), section=sec)

    return patching.run_wrapper(state, framepack_history_run)


class DecayPlan:
    """What the attention override needs for one model call: prefix/window token counts and weights."""

    __slots__ = ("prefix", "window", "weights", "mode", "_dev")

    def __init__(self, prefix: int, window: int, weights: torch.Tensor, mode: str):
        self.prefix, self.window, self.weights, self.mode = prefix, window, weights, mode
        self._dev = {}

    def w(self, dtype, device) -> torch.Tensor:
        key = ("w", dtype, str(device))
        if key not in self._dev:
            self._dev[key] = self.weights.to(device=device, dtype=dtype)
        return self._dev[key]

    def bias(self, n_keys, dtype, device) -> torch.Tensor:
        key = ("b", n_keys, dtype, str(device))
        if key not in self._dev:
            self._dev[key] = fh.key_bias(torch.log(self.weights), n_keys, dtype, device)
        return self._dev[key]


def _window_tokens(dm, x) -> int:
    pt, ph, pw = dm.patch_size
    return -(-x.shape[2] // pt) * -(-x.shape[3] // ph) * -(-x.shape[4] // pw)


def make_apply_model_wrapper(state: _State):
    """``APPLY_MODEL``: low-pass the history the model receives; publish the decay plan per call."""

    def framepack_history_call(executor, x, t, c_concat=None, c_crossattn=None, control=None,
                               transformer_options=None, **kwargs):
        s = state.settings
        to = transformer_options if transformer_options is not None else {}
        if kwargs.get("latent_indices") is None or all(kwargs.get(g[1]) is None for g in fh.GROUPS):
            return executor(x, t, c_concat, c_crossattn, control, to, **kwargs)  # not a packed FramePack call
        sec = _section(to) or (state.run.facts["section"] if state.run is not None else None)
        roles = tuple(sec["clean_roles"]) if sec and sec.get("clean_roles") is not None else None
        dm = executor.class_obj.diffusion_model
        patch = tuple(dm.patch_size)
        if s.decay_on and state.decay_active(t):
            segs = fh.prefix_layout(kwargs, patch, roles)
            key = ("decay", tuple((g.group, g.role, g.age, g.start, g.stop) for g in segs), tuple(x.shape))
            cache = state.cache()
            plan = cache.get(key)
            if plan is None:
                w = fh.prefix_decay_weights(segs, s.decay_strength, s.decay_age_slope, s.include_1x, s.include_anchors)
                plan = DecayPlan(segs[-1].stop if segs else 0, _window_tokens(dm, x), w.float(), s.decay_mode)
                cache[key] = plan
            to = dict(to)
            to[DECAY_KEY] = {**(to.get(DECAY_KEY) or {}), id(state): plan}  # per node application
        if s.lowpass_on:
            kwargs = dict(kwargs)
            for name, lat_key, _, _ in fh.GROUPS:
                if kwargs.get(lat_key) is None:
                    continue
                sig = fh.group_lowpass_sigmas(kwargs, name, s.lowpass_sigma, s.lowpass_age_slope, s.include_1x,
                                              s.include_anchors, roles)
                src = kwargs[lat_key]
                # the history is constant within a section (one run): blur once, reuse while the input is equal
                key, cache = ("lowpass", lat_key, tuple(sig), tuple(src.shape), src.dtype, src.device), state.cache()
                hit = cache.get(key)
                if hit is None or not torch.equal(hit[0], src):
                    hit = cache[key] = (src, fh.blur_frames_by_sigma(src, sig))
                kwargs[lat_key] = hit[1]
        return executor(x, t, c_concat, c_crossattn, control, to, **kwargs)

    return framepack_history_call


def make_attention_override(state: _State, previous=None):
    """``optimized_attention_override`` applying the decay plan to FramePack's joint attention.

    Acts only where the call carries a plan and the sequence is the joint one (``N ≥ prefix +
    window``; the text token refiner's calls are shorter); everything else goes straight on to
    ``previous`` (an override installed before this node) or the backend.
    """

    def inner(func, *args, **kwargs):
        if previous is not None:
            return previous(func, *args, **kwargs)
        return func(*args, **kwargs)

    def framepack_history_attention(func, *args, **kwargs):
        to = kwargs.get("transformer_options") or {}
        plan = (to.get(DECAY_KEY) or {}).get(id(state))
        if plan is None or len(args) < 3 or not kwargs.get("skip_reshape", False):
            return inner(func, *args, **kwargs)
        q, k, v = args[:3]
        L, Nw = plan.prefix, plan.window
        n = k.shape[2] if k.ndim == 4 else -1
        if q.ndim != 4 or n < L + Nw or q.shape[2] != n or L == 0:
            return inner(func, *args, **kwargs)
        layout = to.get(keys.FRAMEPACK_LAYOUT)
        if layout is not None and int(layout.get("prefix_tokens", L)) != L:
            state.warn_once(f"prefix of {layout.get('prefix_tokens')} tokens differs from the plan's {L}; "
                            "attention left unchanged")
            return inner(func, *args, **kwargs)
        rest = args[3:]
        if plan.mode == "v_scale":
            # in place: v is this attention call's own temporary (see fh.v_scale_)
            return inner(func, q, k, fh.v_scale_(v, plan.w(v.dtype, v.device)), *rest, **kwargs)
        # logit_bias: the window's query rows get + log w on the history keys; the other rows run as stock
        mask = kwargs.get("mask")
        bias = plan.bias(n, q.dtype, q.device)
        if mask is not None:
            m = mask
            rows = m.ndim >= 2 and m.shape[-2] == n
            mw = (m[..., L:L + Nw, :] if rows else m) + bias
            mr = torch.cat([m[..., :L, :], m[..., L + Nw:, :]], dim=-2) if rows else m
        else:
            mw, mr = bias, None
        qw = q[:, :, L:L + Nw]
        qr = torch.cat([q[:, :, :L], q[:, :, L + Nw:]], dim=2)
        ow = inner(func, qw, k, v, *rest, **{**kwargs, "mask": mw})
        orr = inner(func, qr, k, v, *rest, **{**kwargs, "mask": mr})
        d = 2 if kwargs.get("skip_output_reshape", False) else 1
        return torch.cat([orr.narrow(d, 0, L), ow, orr.narrow(d, L, n - L - Nw)], dim=d)

    return patching.tag(framepack_history_attention, KEY, previous)


def apply_history_controls(model, settings: HistorySettings):
    """Validate, then return ``(patched clone or the input when all is off, summary text)``.

    Raises:
        InertiaInputError: a model that is not FramePack; bad settings (see :class:`HistorySettings`).
    """
    if not fpm.is_framepack_model(model):
        raise InertiaInputError("model", type(model.get_model_object("diffusion_model")).__name__,
                                "connect a FramePack MODEL (Load FramePack Model)", "is not a FramePack model")
    s = settings
    if not (s.lowpass_on or s.decay_on or s.betas_on):
        return model, "FramePackHistoryControls: every control off - model returned unchanged (stock sampling)"
    m = model.clone()
    state = _State(s, m.get_model_object("model_sampling"))
    parts = []
    patching.install(m, patching.WRAPPERS.OUTER_SAMPLE, KEY, make_outer_sample_wrapper(state), replace=False)
    if s.lowpass_on or s.decay_on:
        patching.install(m, patching.WRAPPERS.APPLY_MODEL, KEY, make_apply_model_wrapper(state), replace=False)
    scope = "2x, 4x" + (", 1x history" if s.include_1x else "") + (", anchors" if s.include_anchors else "")
    if s.lowpass_on:
        parts.append(f"low-pass σ(k) = {s.lowpass_sigma:g}·(1 + {s.lowpass_age_slope:g}·k) latent cells on {scope}")
    if s.decay_on:  # stacks: chains any override already there, an earlier FramePackHistoryControls' included
        previous = patching.install(m, patching.ATTENTION_OVERRIDE, KEY,
                                    lambda prev: make_attention_override(state, prev), replace=False)
        parts.append(f"attention decay w(k) = exp(-{s.decay_strength:g}·(1 + {s.decay_age_slope:g}·k)) "
                     f"({s.decay_mode}) on {scope}, window {s.decay_start_percent:g}-{s.decay_end_percent:g}"
                     + (" (chained to an earlier attention override)" if previous is not None else ""))
    if s.betas_on:
        base, upstream = relaxation_cfg.install_section_betas(m, s.section_betas)
        source = ("the upstream Relaxation CFG's p, s_min, s_base" if upstream else
                  f"no upstream Relaxation CFG: paper schedule p {base.decay_power:g}, s_min 1, "
                  "s_base = the distilled guidance")
        parts.append(f"section β {', '.join(f'{b:g}' for b in s.section_betas)} (time order; {source})")
    return m, "FramePackHistoryControls: " + "; ".join(parts)


class FramePackHistoryControls(io.ComfyNode):
    """MODEL → MODEL: FramePack history low-pass by age, history attention decay, per-section β."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InertiaFramePackHistoryControls",
            is_experimental=True,  # research node: its inputs may still change
            display_name="FramePack History Controls",
            category="Inertia/FramePack",
            description=(
                "Loosens FramePack's packed history so prompts that ask for change (\"the subject disappears\") "
                "can act (Static Death). Low-pass: blurs the 2x/4x history latents more the older they "
                "are, σ(k) = σ0·(1 + α·k). Decay: the noisy window attends less to history tokens, "
                "w(k) = exp(−d·(1 + α·k)), inside a σ window. Section β: one Relaxation CFG β per section "
                "(calm sections strict, action sections relaxed). k = distance of a history frame from the "
                "sampled window, in latent frames. The start image and end frame stay untouched unless "
                "asked. All at 0 / empty = stock sampling. For Temporal Unlearning on the noisy window use "
                "the Temporal Unlearning node on the same model. Sample with FramePack Section Sampler."),
            inputs=[
                io.Model.Input("model",
                               tooltip="A FramePack MODEL (Load FramePack Model). It is cloned, never changed."),
                io.Float.Input("lowpass_sigma", default=0.0, min=0.0, max=16.0, step=0.05,
                               tooltip="σ0 of the history low-pass, latent cells (1 cell = 8 px). Frame j of the "
                                       "2x/4x history gets a spatial Gaussian of σ0·(1 + α·k_j). 0 = off."),
                io.Float.Input("lowpass_age_slope", default=0.1, min=0.0, max=10.0, step=0.01,
                               tooltip="α of the low-pass: σ grows by σ0·α per latent frame of age k (k = 1 for "
                                       "the frame next to the window, 4…19 for the 4x group). 0 = same σ for all."),
                io.Float.Input("decay_strength", default=0.0, min=0.0, max=20.0, step=0.05,
                               tooltip="d of the history attention decay, logit units: history tokens get weight "
                                       "exp(−d·(1 + α·k)) (d 0.7 ≈ half). 0 = off."),
                io.Float.Input("decay_age_slope", default=0.1, min=0.0, max=10.0, step=0.01,
                               tooltip="α of the decay: older history tokens are weighted down more. 0 = the same "
                                       "weight for every history token."),
                io.Combo.Input("decay_mode", options=list(fh.DECAY_MODES), default="v_scale",
                               tooltip="v_scale: history values × w for every query (fast, no mask). logit_bias: "
                                       "exact softmax reweighting of the noisy window's attention to history "
                                       "(+log w on those logits; needs a mask: slower attention kernels)."),
                io.Float.Input("decay_start_percent", default=0.0, min=0.0, max=1.0, step=0.01,
                               tooltip="Start of the decay's σ window, fraction of the schedule (0.0 = first step), "
                                       "converted with the model's own sampling (FramePack's shift included)."),
                io.Float.Input("decay_end_percent", default=1.0, min=0.0, max=1.0, step=0.01,
                               tooltip="End of the decay's σ window (1.0 = last step). A step decays when its σ "
                                       "lies inside the window."),
                io.Boolean.Input("include_1x", default=False,
                                 tooltip="Also act on the 1x history frame (the frame right next to the window, "
                                         "k = 1). Off keeps the seam between sections sharp."),
                io.Boolean.Input("include_anchors", default=False,
                                 tooltip="Also act on the start image and the end frame (their age: distance of "
                                         "their RoPE index from the window). Off = anchors untouched."),
                io.String.Input("section_betas", default="",
                                tooltip="Optional Relaxation CFG β per section in video time order, e.g. "
                                        "'0, 0, 0.75, 0.75' or '0*2, 0.75*2'; the count must equal the sections "
                                        "(round(seconds·30/(ws·4)), e.g. 5 s at ws 9 = 4). Uses an upstream "
                                        "Relaxation CFG's p, s_min, s_base (else p 0.7, s_min 1). Empty = off."),
            ],
            outputs=[io.Model.Output(display_name="model",
                                     tooltip="The patched clone (the input itself when every control is off).")],
        )

    @classmethod
    def execute(cls, model, lowpass_sigma=0.0, lowpass_age_slope=0.1, decay_strength=0.0, decay_age_slope=0.1,
                decay_mode="v_scale", decay_start_percent=0.0, decay_end_percent=1.0, include_1x=False,
                include_anchors=False, section_betas="") -> io.NodeOutput:
        settings = HistorySettings(
            lowpass_sigma=lowpass_sigma, lowpass_age_slope=lowpass_age_slope, decay_strength=decay_strength,
            decay_age_slope=decay_age_slope, decay_mode=decay_mode, decay_start_percent=decay_start_percent,
            decay_end_percent=decay_end_percent, include_1x=bool(include_1x), include_anchors=bool(include_anchors),
            section_betas=parse_section_betas(section_betas))
        m, text = apply_history_controls(model, settings)
        log.info(text)
        return io.NodeOutput(m, ui=ui.PreviewText(text))


NODES = [FramePackHistoryControls]
