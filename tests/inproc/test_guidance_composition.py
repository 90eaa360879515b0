"""Relaxation CFG composed with core's guidance nodes, in both node orders (real ComfyUI, tiny Wan stand-in).

Each core node reads the scale from ``args["cond_scale"]``: RescaleCFG (``sampler_cfg_function``,
``comfy_extras/nodes_model_advanced.py``), APG and TCFG (``sampler_pre_cfg_function``, ``nodes_apg.py``,
``nodes_tcfg.py``), CFG-Zero* (``sampler_post_cfg_function``, ``nodes_cfg.py``). A probe wrapping the function the
node installed records the scale it received per step; it must be s(σ) of eq. 2 whether Relaxation CFG comes before
or after the node. The sampled latent must equal the node's own math run at s(σ): a reference guider (a
``CFGGuider`` subclass whose ``predict_noise`` passes s(σ) of the independent eq. 2 transcription straight to
``comfy.samplers.sampling_function``), with the node alone on the model.
"""

from __future__ import annotations

import pytest
import torch

from comfyui_inertia.nodes import standins
from comfyui_inertia.nodes.relaxation_cfg import RelaxationCFG

from .helpers import latent, reference_scale

PAPER = dict(beta=0.75, decay_power=0.7, s_min=1.0, s_base=0.0)
CFG = 6.0
STEPS = 6


def _rescale(m):
    from comfy_extras.nodes_model_advanced import RescaleCFG
    return RescaleCFG().patch(m, 0.7)[0]


def _apg(m):
    from comfy_extras.nodes_apg import APG
    return APG.execute(m, eta=0.5, norm_threshold=0.0, momentum=-0.5).args[0]


def _cfg_zero_star(m):
    from comfy_extras.nodes_cfg import CFGZeroStar
    return CFGZeroStar.execute(m).args[0]


def _tcfg(m):
    from comfy_extras.nodes_tcfg import TCFG
    return TCFG.execute(m).args[0]


#: node name → (apply, the model_options slot its function lives in)
NODES = {
    "RescaleCFG": (_rescale, "sampler_cfg_function"),
    "APG": (_apg, "sampler_pre_cfg_function"),
    "CFGZeroStar": (_cfg_zero_star, "sampler_post_cfg_function"),
    "TCFG": (_tcfg, "sampler_pre_cfg_function"),
}


def probed(model, slot, seen):
    """A clone whose function in ``slot`` (the last one in a list slot: the node's) records (σ, cond_scale)."""
    m = model.clone()
    fns = m.model_options[slot]
    fn = fns[-1] if isinstance(fns, list) else fns

    def probe(args):
        seen.append((float(args["sigma"].flatten()[0]), float(args["cond_scale"])))
        return fn(args)

    if isinstance(fns, list):
        m.model_options[slot] = fns[:-1] + [probe]
    else:
        m.model_options[slot] = probe
    return m


def relax(model):
    return RelaxationCFG.execute(model=model, guidance="auto", **PAPER).args[0]


def sample(model, guider=None):
    from comfy_extras import nodes_custom_sampler as cs
    pos, neg = standins.wan_text_conditioning(1), standins.wan_text_conditioning(2)
    if guider is None:
        guider = cs.CFGGuider().get_guider(model, pos, neg, CFG)[0]
    else:
        guider.set_conds(pos, neg)
        guider.set_cfg(CFG)
    sigmas = cs.BasicScheduler().get_sigmas(model, "simple", STEPS, 1.0)[0]
    sampler = cs.KSamplerSelect().get_sampler("euler")[0]
    noise = cs.RandomNoise().get_noise(7)[0]
    return cs.SamplerCustomAdvanced().sample(noise, guider, sampler, sigmas, latent())[0]["samples"]


def eq2(model):
    ms = model.get_model_object("model_sampling")
    lo, hi = float(ms.sigma_min), float(ms.sigma_max)
    return lambda sigma: reference_scale(sigma, lo, hi, 0.75, 0.7, 1.0, CFG)


def reference_guider(model):
    """CFGGuider running the sampler's mix at s(σ) of the independent eq. 2, with no Relaxation CFG patch."""
    import comfy.samplers
    s_of = eq2(model)

    class ScheduledGuider(comfy.samplers.CFGGuider):
        def predict_noise(self, x, timestep, model_options={}, seed=None):  # noqa: B006 (core's signature)
            return comfy.samplers.sampling_function(
                self.inner_model, x, timestep, self.conds.get("negative"), self.conds.get("positive"),
                s_of(float(timestep.flatten()[0])), model_options=model_options, seed=seed)

    return ScheduledGuider(model)


@pytest.mark.parametrize("order", ["relax_before", "relax_after"])
@pytest.mark.parametrize("node", list(NODES))
def test_guidance_node_receives_s_sigma_in_any_order(comfy, load_standin, node, order):
    apply, slot = NODES[node]
    base = load_standin("wan21_t2v")
    s_of = eq2(base)
    seen = []
    if order == "relax_before":  # RelaxationCFG → node → sampler
        model = probed(apply(relax(base)), slot, seen)
    else:  # node → RelaxationCFG → sampler
        model = relax(probed(apply(base), slot, seen))
    out = sample(model)
    assert len(seen) == STEPS, seen
    got = [s for _, s in seen]
    want = [s_of(sigma) for sigma, _ in seen]
    print(f"\n{node} ({order}): received " + ", ".join(f"σ={sg:.4f}→{s:.5f}" for sg, s in seen))
    assert got == pytest.approx(want, rel=1e-5)
    assert got[0] < 2.5 and all(a < b < CFG for a, b in zip(got, got[1:]))  # relaxed early, rising: not a flat 6

    ref_seen = []
    ref_model = probed(apply(base), slot, ref_seen)
    ref = sample(ref_model, guider=reference_guider(ref_model))
    assert [s for _, s in ref_seen] == pytest.approx(want, rel=1e-5)  # the reference really ran at s(σ)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)
    stock = sample(apply(base))  # and s(σ) makes a difference for this node (the test can fail)
    assert (out - stock).abs().max() > 1e-3
