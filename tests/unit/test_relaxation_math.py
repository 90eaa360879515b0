"""Pure math of Relaxation CFG (eq. 2) and σ normalisation. No ComfyUI import."""

import json
import math
import sys

import pytest
import torch

from comfyui_inertia.nodes.pure.errors import InertiaInputError
from comfyui_inertia.nodes.pure.relaxation import RelaxationParams, normalized_sigma, relaxation_scale, schedule_table


def test_pure_package_does_not_import_comfyui():
    """Import every nodes/pure module, subpackages included (walk_packages), in a fresh interpreter: no
    ComfyUI module may be loaded. The modules imported are listed, so a discovery that stops finding
    the subpackages fails too."""
    import subprocess
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    code = ("import importlib, importlib.util, json, pkgutil, sys; "
            f"s = importlib.util.spec_from_file_location('pk', {str(repo / '__init__.py')!r}, "
            f"submodule_search_locations=[{str(repo)!r}]); m = importlib.util.module_from_spec(s); "
            "sys.modules['pk'] = m; s.loader.exec_module(m); import pk.nodes.pure as p; "
            "names = [i.name for i in pkgutil.walk_packages(p.__path__, 'pk.nodes.pure.')]; "
            "[importlib.import_module(n) for n in names]; "
            "bad = [n for n in sys.modules if n.split('.')[0] in ('comfy', 'comfy_api', 'nodes', 'folder_paths')]; "
            "print(json.dumps({'bad': bad, 'names': names})); sys.exit(1 if bad else 0)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    names = set(json.loads(res.stdout.splitlines()[-1])["names"])
    pure = repo / "nodes" / "pure"
    on_disk = {"pk.nodes.pure." + ".".join(f.relative_to(pure).with_suffix("").parts)
               for f in pure.rglob("*.py") if f.name != "__init__.py"}
    assert on_disk <= names and "pk.nodes.pure.vace.grid" in names, sorted(on_disk - names)


@pytest.mark.parametrize("sigma_hat,expected", [(0.0, 6.0), (1.0, 1.0 + 5.0 * 0.25), (0.5, 1.0 + 5.0 * (1 - 0.75 * 0.5 ** 0.7))])
def test_eq2_values(sigma_hat, expected):
    p = RelaxationParams(beta=0.75, decay_power=0.7, s_min=1.0)
    assert float(relaxation_scale(torch.tensor(sigma_hat), 6.0, p)) == pytest.approx(expected, rel=1e-6)


def test_beta_zero_is_constant_and_negative_beta_boosts():
    sh = torch.linspace(0, 1, 11)
    assert torch.allclose(relaxation_scale(sh, 6.0, RelaxationParams(beta=0.0)), torch.full((11,), 6.0))
    boost = relaxation_scale(sh, 6.0, RelaxationParams(beta=-0.5))
    assert float(boost[0]) == pytest.approx(6.0) and float(boost[-1]) == pytest.approx(1 + 5 * 1.5)
    assert bool((boost[1:] > boost[:-1]).all())


def test_flow_normalisation_is_affine_in_sigma():
    sig = torch.tensor([1.0, 0.5, 0.00794])
    sh = normalized_sigma(sig, 0.00794, 1.0, "flow")
    assert sh.tolist() == pytest.approx([1.0, (0.5 - 0.00794) / (1 - 0.00794), 0.0], abs=1e-6)


def test_eps_normalisation_uses_vp_noise_fraction():
    smin, smax = 0.0292, 14.6146
    g = lambda s: s / math.sqrt(1 + s * s)  # noqa: E731
    sh = normalized_sigma(torch.tensor([smax, 1.0, smin]), smin, smax, "eps")
    assert sh.tolist() == pytest.approx([1.0, (g(1.0) - g(smin)) / (g(smax) - g(smin)), 0.0], abs=1e-6)


def test_normalisation_clamps_and_rejects_unknown():
    assert normalized_sigma(torch.tensor([2.0, -1.0]), 0.0, 1.0, "flow").tolist() == [1.0, 0.0]
    with pytest.raises(InertiaInputError, match="parameterization"):
        normalized_sigma(1.0, 0.0, 1.0, "x0")
    with pytest.raises(InertiaInputError, match="model_sampling"):
        normalized_sigma(1.0, 1.0, 1.0, "flow")


@pytest.mark.parametrize("kwargs,name", [
    (dict(decay_power=0.0), "decay_power"), (dict(decay_power=-1.0), "decay_power"),
    (dict(beta=1.5), "beta"), (dict(beta=float("nan")), "beta"), (dict(s_min=float("inf")), "s_min"),
    (dict(s_min=7.0, s_base=6.0), "s_min"), (dict(s_base=-2.0), "s_base"),
])
def test_bad_parameters_name_input_value_and_fix(kwargs, name):
    with pytest.raises(InertiaInputError) as e:
        RelaxationParams(**kwargs)
    msg = str(e.value)
    assert f"'{name}'" in msg and "Fix:" in msg and repr(kwargs[name]) in msg


def test_schedule_table_one_row_per_step():
    sigmas = torch.tensor([1.0, 0.75, 0.5, 0.25, 0.0])
    rows = schedule_table(sigmas, 0.0, 1.0, "flow", 5.0, RelaxationParams())
    assert [r["step"] for r in rows] == [0, 1, 2, 3]
    assert rows[0]["scale"] == pytest.approx(1 + 4 * 0.25)
    assert rows[-1]["sigma"] == pytest.approx(0.25)
