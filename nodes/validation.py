"""One input-validation layer for every node of the pack, read from each node's V3 schema.

Every pack node's ``execute`` is checked before it runs, and its literal widget values already when the
prompt is queued. The checks come from the node's ``io.Schema`` (``comfy_api/latest/_io.py``), plus optional
per-node rules:

* linked values have the kind their socket declares (IMAGE ``[B,H,W,C]`` float, MASK ``[H,W]``/``[B,H,W]``,
  LATENT dict with ``samples``, CONDITIONING ``[[tensor, dict], …]``, SIGMAS 1-D, VAE, CLIP, CLIP_VISION_OUTPUT,
  MODEL = ModelPatcher, SAMPLER; definitions in ``nodes/pure/input_checks.py``), and their tensors are finite;
* a literal where a link belongs (``images = 5``) is refused;
* INT / FLOAT inside the schema's min/max and finite, BOOLEAN a bool, STRING at most
  :data:`~.pure.input_checks.DEFAULT_MAX_STRING` characters, combo values among the options;
* per node: :class:`InputRule` overrides (``INPUT_RULES``), :class:`SizeCap` bounds on products of size inputs
  (``SIZE_CAPS``, checked before anything is allocated) and a ``check_inputs(cls, **values)`` hook.

Each failure is an :class:`~.pure.errors.InertiaInputError` naming the input, the value (shortened) and the fix.

How it hooks into ComfyUI 0.3.64 (``execution.py``, ``comfy_api/internal``):

* Execution: ComfyUI runs ``EXECUTE_NORMALIZED`` on a locked shallow clone of the node class
  (``PREPARE_CLASS_CLONE``, ``make_locked_method_func``), which calls ``cls.execute(**inputs)``. The layer puts a
  checking wrapper in the class's own ``execute`` slot; the clones copy the class dict, so they run it too.
  ComfyUI itself skips min/max for linked values and never checks V3 combo values: this is where they are checked.
* Validation (``POST /prompt``): ComfyUI calls the V3 ``validate_inputs`` with the literal values of the
  prompt, and ``None`` for every linked input (``get_input_data`` without outputs). The layer checks the
  literals there, so a bad widget value is answered with HTTP 400 and ``node_errors`` like a stock node's.
  Because ``validate_inputs`` takes ``**kwargs``, ComfyUI then skips its own min/max for that node; the layer
  applies the schema's min/max itself.

Use: derive nodes from :class:`InertiaNode` instead of ``io.ComfyNode`` (every subclass is checked when it is
defined), or apply :func:`checked` to an existing ``io.ComfyNode`` subclass (in place; idempotent).
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass

from comfy_api.latest import io

from .pure import input_checks as ic
from .pure.errors import InertiaInputError

#: io types that are widgets (a literal value is their normal form).
WIDGET_TYPES = frozenset({"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"})
#: io types that accept anything, literal or linked.
ANY_TYPES = frozenset({"*"})
_MARK = "__inertia_checked__"


@dataclass(frozen=True)
class InputRule:
    """Per-input overrides of what the schema implies (``INPUT_RULES = {"text": InputRule(max_length=…)}``).

    Attributes:
        max_length: STRING cap in characters (default :data:`~.pure.input_checks.DEFAULT_MAX_STRING`).
        allow_nonfinite: FLOAT accepts NaN / ±inf (they are refused otherwise).
        min, max: bounds that replace the schema's min/max for the check (e.g. a tighter bound for linked values).
        fix: the fix text of a range failure.
        below_min, above_max: the problem text of a range failure, e.g. ``"is negative (α < 0 would sharpen …)"``.
    """

    max_length: int | None = None
    allow_nonfinite: bool = False
    min: float | None = None
    max: float | None = None
    fix: str | None = None
    below_min: str | None = None
    above_max: str | None = None


@dataclass(frozen=True)
class SizeCap:
    """Bound the product of whole-number inputs (``SIZE_CAPS = (SizeCap(("width", "height", "length"), …),)``).

    Checked at validation with the literal values (a lower bound when some are linked) and at execution with all
    values, before the node allocates anything.
    """

    inputs: tuple[str, ...]
    max_product: int
    fix: str
    what: str = "elements"


def _rule(cls, name: str) -> InputRule:
    return (getattr(cls, "INPUT_RULES", None) or {}).get(name) or InputRule()


def _io_type(inp) -> str:
    return str(inp.get_io_type())


def _check_model(name: str, value):
    import comfy.model_patcher

    if not isinstance(value, comfy.model_patcher.ModelPatcher):
        raise InertiaInputError(name, value, f"connect a MODEL output (Load Diffusion Model, a checkpoint loader, a "
                                             f"model patch node) to '{name}'",
                                f"is {ic.a_type(value)}, not a MODEL (ModelPatcher)")
    return value


def check_value(cls, inp, value) -> None:
    """Check one present, non-``None`` input value of node ``cls`` against its schema input ``inp``.

    Raises:
        InertiaInputError: the value does not fit the input (kind, range, finiteness, length, options).
    """
    name, kind, rule = inp.id, _io_type(inp), _rule(cls, inp.id)
    lo = rule.min if rule.min is not None else getattr(inp, "min", None)
    hi = rule.max if rule.max is not None else getattr(inp, "max", None)
    texts = dict(below_min=rule.below_min, above_max=rule.above_max)
    if kind == "INT":
        ic.check_int(name, value, lo, hi, rule.fix, **texts)
    elif kind == "FLOAT":
        ic.check_float(name, value, lo, hi, rule.allow_nonfinite, rule.fix, **texts)
    elif kind == "BOOLEAN":
        ic.check_bool(name, value)
    elif kind == "STRING":
        ic.check_string(name, value, rule.max_length or ic.DEFAULT_MAX_STRING)
    elif kind == "COMBO":
        if getattr(inp, "remote", None) is not None:
            return  # options fetched by the frontend: not known here
        if getattr(inp, "multiselect", False) and isinstance(value, (list, tuple)):
            for v in value:
                ic.check_choice(name, v, inp.options or [])
        else:
            ic.check_choice(name, value, inp.options or [])
    elif kind == "MODEL":
        _check_model(name, value)
    elif kind in ic.KIND_CHECKS:
        ic.KIND_CHECKS[kind](name, value)


def check_execution(cls, provided: dict, values: dict | None = None) -> None:
    """Every check of node ``cls`` before its ``execute`` runs.

    Args:
        provided: the inputs ComfyUI (or a caller) passed, name → value.
        values: the same plus the defaults of ``execute``'s signature (for :class:`SizeCap` and ``check_inputs``);
            default ``provided``.

    Raises:
        InertiaInputError: the first input that fails, in schema order.
    """
    schema = cls.FINALIZE_SCHEMA()
    values = provided if values is None else values
    if not schema.is_input_list:
        for inp in schema.inputs:
            if inp.id not in provided:
                continue
            v = provided[inp.id]
            if v is None:
                if inp.optional or inp.lazy or _io_type(inp) in ANY_TYPES:
                    continue
                kind = _io_type(inp)
                raise InertiaInputError(inp.id, None, f"connect a {kind} output to '{inp.id}'"
                                        if kind not in WIDGET_TYPES else f"give '{inp.id}' a value",
                                        "is missing (None)")
            check_value(cls, inp, v)
    for cap in getattr(cls, "SIZE_CAPS", None) or ():
        ic.check_product(cap.inputs, values, cap.max_product, cap.fix, cap.what)
    hook = getattr(cls, "check_inputs", None)
    if hook is not None:
        hook(**values)


def check_literals(cls, values: dict) -> None:
    """The checks that can run when a prompt is queued: ``values`` are the prompt's literal inputs, ``None`` for
    linked ones (what ComfyUI passes to ``validate_inputs``).

    Raises:
        InertiaInputError: a literal where a link belongs, or a widget value that fails :func:`check_value`.
    """
    schema = cls.FINALIZE_SCHEMA()
    if schema.is_input_list:
        return
    for inp in schema.inputs:
        v = values.get(inp.id)
        if v is None:
            continue  # linked (ComfyUI passes None), or an explicit null: checked at execution
        kind = _io_type(inp)
        if kind not in WIDGET_TYPES and kind not in ANY_TYPES:
            raise InertiaInputError(inp.id, v, f"connect a {kind} output to '{inp.id}'",
                                    f"is a literal {type(v).__name__} value, but '{inp.id}' takes a {kind} from a link")
        check_value(cls, inp, v)
    literal = {k: v for k, v in values.items() if v is not None}
    for cap in getattr(cls, "SIZE_CAPS", None) or ():
        ic.check_product(cap.inputs, literal, cap.max_product, cap.fix, cap.what)


def _validate_inputs(cls, **kwargs):
    """V3 ``validate_inputs``: ``True``, or the :class:`InertiaInputError` message (ComfyUI answers 400)."""
    try:
        check_literals(cls, kwargs)
    except InertiaInputError as e:
        return str(e)
    return True


def _checking_execute(func):
    """Wrap an ``execute(cls, …)`` function so :func:`check_execution` runs first (sync or async)."""
    sig = inspect.signature(func)

    def bind(cls, args, kwargs):
        try:
            bound = sig.bind_partial(cls, *args, **kwargs)
        except TypeError:
            return None  # let the call itself raise Python's own message
        provided = dict(bound.arguments)
        bound.apply_defaults()
        values = dict(bound.arguments)
        for d in (provided, values):
            d.pop(next(iter(sig.parameters)), None)  # cls
            for p in sig.parameters.values():
                if p.kind is inspect.Parameter.VAR_KEYWORD and p.name in d:
                    d.update(d.pop(p.name))
        return provided, values

    if inspect.iscoroutinefunction(func):
        async def run(cls, *args, **kwargs):
            b = bind(cls, args, kwargs)
            if b is not None:
                check_execution(cls, *b)
            return await func(cls, *args, **kwargs)
    else:
        def run(cls, *args, **kwargs):
            b = bind(cls, args, kwargs)
            if b is not None:
                check_execution(cls, *b)
            return func(cls, *args, **kwargs)
    functools.update_wrapper(run, func)
    setattr(run, _MARK, True)
    return run


def _chain_validate(func):
    """A node's own ``validate_inputs`` runs first (its messages know the node: "did you mean 'euler'?"), then the
    layer's literal checks; an own check that breaks on a malformed value leaves the answer to the layer."""
    spec = inspect.getfullargspec(func)

    def validate_inputs(cls, **kwargs):
        own = kwargs if spec.varkw else {k: v for k, v in kwargs.items() if k in spec.args}
        try:
            r = func(cls, **own)
        except Exception:  # noqa: BLE001  (a malformed literal the layer names below)
            r = True
        if r is not True:
            return r
        return _validate_inputs(cls, **kwargs)
    setattr(validate_inputs, _MARK, True)
    return validate_inputs


def is_checked(cls) -> bool:
    """Whether ``cls.execute`` and ``cls.validate_inputs`` go through this layer."""
    ex = getattr(cls, "execute", None)
    vi = getattr(cls, "validate_inputs", None)
    return bool(getattr(getattr(ex, "__func__", None), _MARK, False)) and \
        bool(getattr(getattr(vi, "__func__", None), _MARK, False))


def _own_validate_inputs(cls):
    """The function of the first ``validate_inputs`` above ComfyUI's placeholder in ``cls``'s MRO, or ``None``."""
    for c in cls.__mro__:
        if c is io.ComfyNode or c.__module__.startswith("comfy_api."):
            return None
        f = c.__dict__.get("validate_inputs")
        if f is not None:
            return getattr(f, "__func__", None)
    return None


def checked(cls, rules: dict[str, InputRule] | None = None):
    """Apply the layer to the node class ``cls`` in place (idempotent) and return it.

    Its ``execute`` (own or inherited) is replaced by a checking wrapper; ``validate_inputs`` by the literal checks,
    followed by the node's own ``validate_inputs`` when it has one. ``rules`` (input name → :class:`InputRule`) are
    added to the class's ``INPUT_RULES``; the class's own entries win.
    """
    if rules:
        setattr(cls, "INPUT_RULES", {**rules, **(getattr(cls, "INPUT_RULES", None) or {})})
    ex = inspect.getattr_static(cls, "execute", None)
    func = getattr(ex, "__func__", None)
    if isinstance(ex, classmethod) and not getattr(func, _MARK, False):
        setattr(cls, "execute", classmethod(_checking_execute(func)))
    vfunc = _own_validate_inputs(cls)
    if not getattr(vfunc, _MARK, False):
        setattr(cls, "validate_inputs", classmethod(_chain_validate(vfunc) if vfunc else _validate_inputs_marked))
    return cls


def _validate_inputs_marked(cls, **kwargs):
    return _validate_inputs(cls, **kwargs)


setattr(_validate_inputs_marked, _MARK, True)


class InertiaNode(io.ComfyNode):
    """Base class of the pack's nodes: ``io.ComfyNode`` whose subclasses are :func:`checked` when defined.

    Optional class attributes: ``INPUT_RULES`` (name → :class:`InputRule`), ``SIZE_CAPS`` (tuple of
    :class:`SizeCap`) and a classmethod ``check_inputs(cls, **values)`` for rules across inputs, run at execution
    after the schema checks.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "execute" in cls.__dict__ or "validate_inputs" in cls.__dict__:
            checked(cls)  # ComfyUI's clones copy an already checked dict: nothing to do there

    @classmethod
    def validate_inputs(cls, **kwargs):
        return _validate_inputs(cls, **kwargs)


setattr(InertiaNode.__dict__["validate_inputs"].__func__, _MARK, True)
