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

The node's own checks answer first, at both stages: its ``validate_inputs`` when the prompt is queued, and at
execution its ``validate_inputs`` (with the values it runs with) and ``check_inputs``; their messages know the
node (the reason for a bound, the frames × pixels product, the fix). At execution only the presence and kind of
the inputs are checked before them (a non-tensor where a link belongs, a 2-D IMAGE: the socket type says what
belongs there); the layer's checks of values come after, and the content scans of tensors (NaN / ±inf) last,
once every size is bounded, reading only the distinct memory cells of a broadcast view (:func:`check_execution`).

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
import re
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


def check_value(cls, inp, value, scans: list | None = None) -> None:
    """Check one present, non-``None`` input value of node ``cls`` against its schema input ``inp``.

    ``scans``: a list that collects the finiteness scans of tensors instead of running them (see
    :func:`~.pure.input_checks.check_finite_tensor`); ``None`` scans at once.

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
        ic.KIND_CHECKS[kind](name, value, scans=scans)


class NodeCheckError(InertiaInputError):
    """A node's own ``validate_inputs`` refusing a value at execution: its message, raised as it wrote it.

    ``validate_inputs`` returns text, not an exception; ``name`` is the input that text names (``input 'x'``, the
    form :class:`InertiaInputError` writes), else the first input it was given whose name the text contains, else
    the first input it was given.
    """

    def __init__(self, message: str, name: str):
        ValueError.__init__(self, message)
        self.name, self.value = name, None
        self.fix = message.split("Fix: ", 1)[1] if "Fix: " in message else None


def _own_validate(cls):
    """The node's own ``validate_inputs`` function (the one :func:`checked` chained the layer to), or ``None``."""
    vi = inspect.getattr_static(cls, "validate_inputs", None)
    return getattr(getattr(vi, "__func__", None), "__inertia_own__", None)


def check_own(cls, values: dict) -> None:
    """The node's own checks with the values it will run with: its ``validate_inputs`` (given the inputs its
    signature names; ComfyUI gives it only the literal ones when the prompt is queued), then its
    ``check_inputs(**values)`` hook.

    Raises:
        InertiaInputError: what the node's own check raised, or :class:`NodeCheckError` with the text its
            ``validate_inputs`` returned.
        Exception: anything else an own check raised (a value it cannot read), for the caller to weigh.
    """
    own = _own_validate(cls)
    if own is not None:
        spec = inspect.getfullargspec(own)
        given = values if spec.varkw else {k: v for k, v in values.items() if k in spec.args}
        r = own(cls, **given)
        if r is not True:
            text = str(r)
            named = re.search(r"input '([^']+)'", text)
            words = [k for k in given if re.search(rf"(?<![A-Za-z0-9_]){re.escape(k)}(?![A-Za-z0-9_])", text)]
            raise NodeCheckError(text, named.group(1) if named else (words or list(given) or [""])[0])
    hook = getattr(cls, "check_inputs", None)
    if hook is not None:
        hook(**values)


def check_execution(cls, provided: dict, values: dict | None = None) -> None:
    """Every check of node ``cls`` before its ``execute`` runs, in this order:

    1. presence and kind of the inputs: a required input that is ``None``, and for linked kinds (IMAGE, MASK,
       LATENT, MODEL, …) the type, dimensions, dtype and emptiness, which the layer knows from the socket type
       (so the node's own checks can read shapes safely);
    2. the node's own checks (:func:`check_own`): its messages know the node (the reason for a bound, the
       product of frames and pixels, the fix), so they answer before the layer's checks of values. An own check
       that breaks on a value it cannot read (not an :class:`InertiaInputError`) leaves the answer to the layer;
       if the layer finds nothing, that error is raised after all;
    3. the widget values (range, finiteness, length, options) and the :class:`SizeCap` products;
    4. only then the content scans of the linked tensors (NaN / ±inf), once every size is known to be bounded;
       a broadcast view is scanned over its distinct memory cells only.

    Args:
        provided: the inputs ComfyUI (or a caller) passed, name → value.
        values: the same plus the defaults of ``execute``'s signature (for the own checks and :class:`SizeCap`);
            default ``provided``.

    Raises:
        InertiaInputError: the first input that fails.
    """
    schema = cls.FINALIZE_SCHEMA()
    values = provided if values is None else values
    scans: list = []
    widgets = []
    if not schema.is_input_list:
        for inp in schema.inputs:
            if inp.id not in provided:
                continue
            v, kind = provided[inp.id], _io_type(inp)
            if v is None:
                if inp.optional or inp.lazy or kind in ANY_TYPES:
                    continue
                raise InertiaInputError(inp.id, None, f"connect a {kind} output to '{inp.id}'"
                                        if kind not in WIDGET_TYPES else f"give '{inp.id}' a value",
                                        "is missing (None)")
            if kind in WIDGET_TYPES:
                widgets.append((inp, v))
            else:
                check_value(cls, inp, v, scans)
    broke = None
    try:
        check_own(cls, values)
    except InertiaInputError:
        raise
    except Exception as e:  # noqa: BLE001  (a malformed value the layer names below)
        broke = e
    for inp, v in widgets:
        check_value(cls, inp, v)
    for cap in getattr(cls, "SIZE_CAPS", None) or ():
        ic.check_product(cap.inputs, values, cap.max_product, cap.fix, cap.what)
    ic.run_scans(scans)
    if broke is not None:
        raise broke


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
    layer's literal checks; an own check that breaks on a malformed value leaves the answer to the layer. The own
    function stays reachable as ``__inertia_own__``: :func:`check_own` runs it again at execution."""
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
    validate_inputs.__inertia_own__ = func
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
    :class:`SizeCap`) and a classmethod ``check_inputs(cls, **values)`` with the node's own checks (e.g. rules
    across inputs, sizes before allocating), run at execution before the layer's checks (:func:`check_execution`).
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "execute" in cls.__dict__ or "validate_inputs" in cls.__dict__:
            checked(cls)  # ComfyUI's clones copy an already checked dict: nothing to do there

    @classmethod
    def validate_inputs(cls, **kwargs):
        return _validate_inputs(cls, **kwargs)


setattr(InertiaNode.__dict__["validate_inputs"].__func__, _MARK, True)
