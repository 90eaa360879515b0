"""The grid of a sweep: ``--set NODE.INPUT=V1,V2,...`` parsed, resolved against an API graph and expanded.

``NODE`` is an API node id (``"7"``), a node title (``_meta.title``, e.g. ``"Positive prompt"``) or a class
type. A class type matches with or without the pack's ``Inertia`` prefix, so ``RelaxationCFG.beta`` and
``InertiaRelaxationCFG.beta`` address the same node before and after the pack's ids took the prefix. Every
node that matches and has the input is set. Values: a comma-separated list, integer or decimal ranges
``A..B`` / ``A..B:STEP`` (inclusive), or a JSON list (for strings with commas). Each value is converted to
the type of the value it replaces (an int input stays int).

Standard library only.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from .client import UsageError

#: the pack's node-id prefix (``RelaxationCFG`` ↔ ``InertiaRelaxationCFG``)
PACK_PREFIX = "Inertia"
#: inputs whose axis is a replicate (aggregated over in the table), not a setting
REPLICATE_INPUTS = ("seed", "noise_seed")

_SET = re.compile(r"^(?P<node>.+)\.(?P<input>[A-Za-z_][A-Za-z0-9_]*)=(?P<values>.*)$", re.S)
_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_RANGE = re.compile(rf"^(?P<a>{_NUM})\.\.(?P<b>{_NUM})(?::(?P<step>{_NUM}))?$")
#: most values one ``--set`` may expand to
MAX_VALUES = 10000


@dataclass
class Axis:
    """One ``--set``: the nodes it sets, the input, its values, and the label used in tables and file names."""

    spec: str
    node_ref: str
    input: str
    node_ids: list[str]
    values: list
    label: str = ""
    replicate: bool = field(default=False)


def _bad(spec: str, why: str) -> UsageError:
    return UsageError(f"bad --set {spec!r}: {why}")


def parse_spec(spec: str) -> tuple[str, str, str]:
    """``"KSampler.seed=0..7"`` → ``("KSampler", "seed", "0..7")``.

    Raises:
        UsageError: no ``=``, no ``NODE.INPUT`` before it, or nothing after it.
    """
    m = _SET.match(spec.strip())
    if not m or not m["node"].strip():
        raise _bad(spec, "expected NODE.INPUT=V1,V2,... (e.g. KSampler.seed=0..7 or RelaxationCFG.beta=0,0.5,1)")
    if not m["values"].strip():
        raise _bad(spec, "no values after '='")
    return m["node"].strip(), m["input"], m["values"].strip()


def _range(spec: str, m) -> list:
    try:
        a, b = Decimal(m["a"]), Decimal(m["b"])
        step = Decimal(m["step"]) if m["step"] else Decimal(1)
    except InvalidOperation:
        raise _bad(spec, f"{m.group(0)!r} is not a range A..B[:STEP]") from None
    if step <= 0:
        raise _bad(spec, f"the step of {m.group(0)!r} must be > 0")
    count = int((abs(b - a) / step).to_integral_value(rounding="ROUND_FLOOR")) + 1
    if count > MAX_VALUES:
        raise _bad(spec, f"{m.group(0)!r} expands to {count} values (at most {MAX_VALUES})")
    sign = 1 if b >= a else -1
    vals = [a + sign * i * step for i in range(count)]
    integral = not any(c in (m[k] or "") for k in ("a", "b", "step") for c in ".eE")
    return [int(v) if integral else float(v) for v in vals]


def _literal(text: str):
    t = text.strip()
    if re.fullmatch(r"[-+]?\d+", t):
        return int(t)
    if re.fullmatch(_NUM, t) or t.lower() in ("nan", "inf", "-inf"):
        return float(t)
    if t.lower() in ("true", "false"):
        return t.lower() == "true"
    return t


def parse_values(spec: str, raw: str) -> list:
    """The values of one ``--set``: ``"0..7"``, ``"-1,-0.5,0"``, ``"0..1:0.25"``, ``'["a, b", "c"]'``.

    Raises:
        UsageError: an empty item, a bad range, a JSON list that does not parse, or more than
            :data:`MAX_VALUES` values.
    """
    if raw.startswith("["):
        try:
            vals = json.loads(raw)
        except ValueError as e:
            raise _bad(spec, f"the JSON list does not parse ({e.msg} at column {e.colno})") from None
        if not isinstance(vals, list) or not vals or any(isinstance(v, (list, dict)) for v in vals):
            raise _bad(spec, "a JSON list of values must be a non-empty list of numbers, strings or booleans")
    else:
        vals = []
        for item in raw.split(","):
            if not item.strip():
                raise _bad(spec, "an empty value between commas")
            m = _RANGE.match(item.strip())
            vals += _range(spec, m) if m else [_literal(item)]
    if len(vals) > MAX_VALUES:
        raise _bad(spec, f"{len(vals)} values (at most {MAX_VALUES})")
    return vals


def _class_names(cls: str) -> set[str]:
    names = {cls}
    names.add(cls[len(PACK_PREFIX):] if cls.startswith(PACK_PREFIX) else PACK_PREFIX + cls)
    return names


def resolve_nodes(graph: dict, ref: str) -> list[str]:
    """Node ids that ``ref`` names: the node with that id, else every node with that title or class type
    (with or without the ``Inertia`` prefix). Sorted numerically where ids are numbers."""
    if ref in graph:
        return [ref]
    hits = [nid for nid, n in graph.items()
            if ref == (n.get("_meta") or {}).get("title") or ref in _class_names(n.get("class_type", ""))]
    return sorted(hits, key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k))


def coerce(spec: str, value, current):
    """``value`` converted to the type of ``current`` (the value in the workflow it replaces).

    Raises:
        UsageError: the conversion loses meaning (``"abc"`` for an int, ``0.5`` for an int, ``2`` for a bool).
    """
    if isinstance(current, bool):
        if isinstance(value, bool):
            return value
        raise _bad(spec, f"{value!r} is not true/false")
    if isinstance(current, int):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
            raise _bad(spec, f"{value!r} is not an integer")
        return int(value)
    if isinstance(current, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _bad(spec, f"{value!r} is not a number")
        return float(value)
    if isinstance(current, str):
        return value if isinstance(value, str) else json.dumps(value)
    return value


def build_axes(graph: dict, specs: list[str], workflow: str = "the workflow") -> list[Axis]:
    """Parse and resolve every ``--set`` against ``graph``.

    Raises:
        UsageError: bad syntax, a node that is not in the graph, an input none of the matched nodes has,
            an input that is a link, a value of the wrong type, the same input set twice.
    """
    axes: list[Axis] = []
    seen = {}
    for spec in specs:
        node_ref, inp, raw = parse_spec(spec)
        ids = resolve_nodes(graph, node_ref)
        if not ids:
            classes = sorted({n.get("class_type", "?") for n in graph.values()})
            shown = ", ".join(classes[:12]) + (", …" if len(classes) > 12 else "")
            raise _bad(spec, f"no node {node_ref!r} in {workflow} (give a node id, title or class type; "
                             f"classes there: {shown})")
        having = [nid for nid in ids if inp in graph[nid].get("inputs", {})]
        if not having:
            nid = ids[0]
            names = ", ".join(sorted(graph[nid].get("inputs", {}))) or "none"
            raise _bad(spec, f"node {nid} ({graph[nid]['class_type']}) has no input {inp!r} (its inputs: {names})")
        for nid in having:
            cur = graph[nid]["inputs"][inp]
            if isinstance(cur, list):
                raise _bad(spec, f"input {inp!r} of node {nid} ({graph[nid]['class_type']}) is a link from node "
                                 f"{cur[0]}; set a value on that node instead")
            key = (nid, inp)
            if key in seen:
                raise _bad(spec, f"node {nid}.{inp} is already set by --set {seen[key]!r}")
            seen[key] = spec
        values = parse_values(spec, raw)
        first = graph[having[0]]["inputs"][inp]
        values = [coerce(spec, v, first) for v in values]
        if len(set(map(json.dumps, values))) != len(values):
            raise _bad(spec, "a value is listed twice")
        axes.append(Axis(spec, node_ref, inp, having, values, replicate=inp in REPLICATE_INPUTS))
    counts = {}
    for ax in axes:
        counts[ax.input] = counts.get(ax.input, 0) + 1
    for ax in axes:
        ax.label = ax.input if counts[ax.input] == 1 else f"{ax.node_ref}.{ax.input}"
    return axes


def expand(axes: list[Axis]) -> list[dict]:
    """Every combination of the axes' values, as ``{label: value}``, the last axis varying fastest."""
    return [dict(zip((a.label for a in axes), combo)) for combo in itertools.product(*(a.values for a in axes))]


def apply(graph: dict, axes: list[Axis], setting: dict) -> dict:
    """A copy of ``graph`` with ``setting`` (from :func:`expand`) written into the nodes of each axis."""
    g = copy.deepcopy(graph)
    for ax in axes:
        for nid in ax.node_ids:
            if nid in g and ax.input in g[nid].get("inputs", {}):
                g[nid]["inputs"][ax.input] = setting[ax.label]
    return g


def setting_text(setting: dict) -> str:
    """``beta=0.5 seed=3``: a setting for people (tables, the progress line)."""
    return " ".join(f"{k}={_fmt(v)}" for k, v in setting.items())


def _fmt(v) -> str:
    return repr(v) if isinstance(v, float) else str(v)
