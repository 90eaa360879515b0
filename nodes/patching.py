"""One patch runtime for the sampling patches: keyed install, per-run holder, σ window, run reports.

Relaxation CFG, ALG, Temporal Unlearning and FramePack History Controls patch a ModelPatcher *clone*:

* :func:`install` puts a hook under the node's key (``nodes/keys.py``): a ``WrappersMP`` wrapper, or a function in
  a single-function slot (:data:`SLOTS`), where the new function chains the one already there. :func:`tag` marks
  the pack's functions (``inertia_key``, ``inertia_previous`` = what they chain, facts such as
  ``inertia_relaxation``), so a later application of the same node finds and replaces its own.
* :class:`PatchState` (one per node application, shared with later clones) has ``warn_once`` and ``run``: a
  :class:`RunHolder` made afresh at every ``guider.sample`` by the ``OUTER_SAMPLE`` wrapper :func:`run_wrapper`
  and reset in its ``finally``, as ComfyUI's ``comfy_extras/nodes_easycache.py`` does. The holder has the run's
  σ bounds from the live ``model_sampling`` (:class:`RunWindow`, one tolerance) and its caches.
* :func:`add_listener`: tests and benchmarks get a :class:`RunReport` at the end of each run (no module globals).

Applied twice to one model (deliberate, and tested):

* **Temporal Unlearning stacks**: where both applications select a block, both blurs act in turn.
* **FramePack History Controls stacks**: both low-passes and both attention decays act (each override chains the
  one before); a later ``section_betas`` list replaces an earlier one.
* **ALG replaces**; a non-ALG ``sampler_calc_cond_batch_function`` the earlier one chained stays chained (one a
  later node put in the slot is wrapped at run time, ``nodes/alg_run.py``).
* **Relaxation CFG replaces**; the per-section β list stays. Its cfg mode owns no slot (a ``PREDICT_NOISE``
  wrapper sets the guider's cfg per call), so other nodes' cfg functions compose in either order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import comfy.patcher_extension

from . import keys
from .pure.sigma_window import RunWindow

log = logging.getLogger("ComfyUI-Inertia")

WRAPPERS = comfy.patcher_extension.WrappersMP
CFG_FUNCTION = "sampler_cfg_function"
CALC_COND_BATCH_FUNCTION = "sampler_calc_cond_batch_function"
ATTENTION_OVERRIDE = "optimized_attention_override"  # in model_options["transformer_options"]
#: Single-function ``model_options`` slots: a second function there replaces the first, so it must chain it.
SLOTS = (CFG_FUNCTION, CALC_COND_BATCH_FUNCTION, ATTENTION_OVERRIDE)


def tag(fn, key: str, previous=None, **facts):
    """Mark ``fn`` as the pack's hook under ``key`` chaining ``previous``; ``facts`` become ``inertia_<name>``."""
    fn.inertia_key, fn.inertia_previous = key, previous
    for name, value in facts.items():
        setattr(fn, f"inertia_{name}", value)
    return fn


def fact(fn, name: str, default=None):
    """A fact :func:`tag` put on ``fn`` (``inertia_<name>``), else ``default``."""
    return getattr(fn, f"inertia_{name}", default)


def _own(fn, key: str) -> bool:
    return fn is not None and fact(fn, "key") == key


def _slots_dict(m, kind: str) -> dict:
    return m.model_options.setdefault("transformer_options", {}) if kind == ATTENTION_OVERRIDE else m.model_options


def _set_slot(m, kind: str, fn, **options) -> None:
    if fn is None:
        _slots_dict(m, kind).pop(kind, None)
    elif kind == CFG_FUNCTION:
        m.set_model_sampler_cfg_function(fn, **options)
    elif kind == CALC_COND_BATCH_FUNCTION:
        m.set_model_sampler_calc_cond_batch_function(fn)
    else:
        _slots_dict(m, kind)[kind] = fn


def install(m, kind: str, key: str, fn, *, replace: bool, name: str | None = None, **options):
    """Install a hook on ModelPatcher ``m`` (a clone, changed in place) under the pack key ``key``.

    ``kind`` a ``WrappersMP`` type: ``fn`` is the wrapper; ``replace=True`` first drops that type's wrappers under
    ``key``, ``replace=False`` adds one more (stacks). ``kind`` in :data:`SLOTS`: ``fn(previous)`` makes the hook,
    ``previous`` being the slot's function or, when ``replace`` and it is this key's own, what that one chained;
    ``options`` go to ``set_model_sampler_cfg_function``. ``name`` logs what was replaced or chained.
    Returns the chained ``previous`` (slots) or None.
    """
    if kind not in SLOTS:
        if replace:
            m.remove_wrappers_with_key(kind, key)
        m.add_wrapper_with_key(kind, key, fn)
        return None
    previous = _slots_dict(m, kind).get(kind)
    if replace and _own(previous, key):
        if name:
            log.info("%s: replacing an earlier %s on this model", name, name)
        previous = fact(previous, "previous")
    elif previous is not None and name:
        log.info("%s: chaining the existing %s %r", name, kind, getattr(previous, "__name__", previous))
    _set_slot(m, kind, fn(previous), **options)
    return previous


def uninstall(m, kind: str, key: str) -> bool:
    """Drop ``key``'s hooks of one ``kind`` from ``m``; a slot gets back what this key's hook chained.
    Returns whether a slot hook was removed."""
    if kind not in SLOTS:
        m.remove_wrappers_with_key(kind, key)
        return False
    current = _slots_dict(m, kind).get(kind)
    if _own(current, key):
        _set_slot(m, kind, fact(current, "previous"))
        return True
    return False


class RunHolder:
    """One sampling run: the window's ``(σ_hi, σ_lo)``, a ``cache`` and ``facts``. ``begin`` runs before the
    sampler (the model is not loaded yet), ``reset`` in ``finally``; subclasses extend both."""

    def __init__(self, bounds: tuple[float, float] | None = None, **facts):
        self.bounds, self.facts, self.cache = bounds, facts, {}

    def begin(self, guider) -> None:
        pass

    def reset(self) -> None:
        self.cache.clear()


class PatchState:
    """Per node application: ``name`` (for warnings), the σ :class:`RunWindow`, the node-time ``model_sampling``
    (read only for a call outside a run) and ``run``, the current :class:`RunHolder` or None."""

    def __init__(self, name: str, window: RunWindow = RunWindow(), fallback_sampling=None):
        self.name, self.window, self.fallback_sampling = name, window, fallback_sampling
        self.run: RunHolder | None = None
        self._warned: set = set()

    def warn_once(self, msg: str) -> None:
        if msg not in self._warned:
            self._warned.add(msg)
            log.warning("%s: %s", self.name, msg)

    def in_window(self, sigma: float) -> bool:
        """Whether a model σ (float) lies in the window, with this run's bounds (:meth:`RunWindow.contains`)."""
        if self.window.full:
            return True
        bounds = self.run.bounds if self.run is not None and self.run.bounds is not None else \
            self.window.bounds(self.fallback_sampling.percent_to_sigma)
        return self.window.contains(sigma, bounds)

    def cache(self) -> dict:
        """The run's cache (a throw-away dict outside a run)."""
        return self.run.cache if self.run is not None else {}


def run_wrapper(state: PatchState, make_run=None):
    """``OUTER_SAMPLE`` wrapper: ``state.run`` = a fresh holder for this ``guider.sample``, restored in finally.
    ``make_run(guider, model_sampling, sigmas)`` builds it (and may raise); default: a :class:`RunHolder` with
    the window bounds from the live ``model_sampling``."""

    def inertia_run(executor, *args, **kwargs):
        guider = executor.class_obj
        ms = guider.model_patcher.get_model_object("model_sampling")
        prev, run = state.run, None
        try:
            run = RunHolder(state.window.bounds(ms.percent_to_sigma)) if make_run is None else \
                make_run(guider, ms, args[3] if len(args) > 3 else kwargs["sigmas"])
            state.run = run
            run.begin(guider)
            return executor(*args, **kwargs)
        finally:
            state.run = prev
            if run is not None:
                run.reset()

    return inertia_run


@dataclass(frozen=True)
class RunReport:
    """What one run of a patch tells its listeners: the patch ``key``, a per-step ``log`` and ``totals``."""

    key: str
    log: list = field(default_factory=list)
    totals: dict = field(default_factory=dict)


def add_listener(model, key: str, listener):
    """A clone of ``model`` whose runs of the patch under ``key`` call ``listener(report)`` at the end of each run,
    via ``transformer_options[keys.REPORT_LISTENERS] = {key: (fn, …)}``. The listener is wrapped in a plain
    function: ``ModelPatcher.clone`` deep-copies ``model_options``, which would copy a bound method's object."""
    m = model.clone()
    to = m.model_options.setdefault("transformer_options", {})
    registry = dict(to.get(keys.REPORT_LISTENERS) or {})

    def call(report):
        listener(report)

    registry[key] = tuple(registry.get(key, ())) + (call,)
    to[keys.REPORT_LISTENERS] = registry
    return m


def listeners_of(guider, key: str) -> tuple:
    """The listeners registered for ``key`` on the model a guider samples."""
    to = (getattr(guider, "model_options", None) or {}).get("transformer_options", {})
    return tuple((to.get(keys.REPORT_LISTENERS) or {}).get(key, ()))
