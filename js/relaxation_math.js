// Relaxation CFG schedule, eq. 2 of "Adaptive Control of Temporal Inertia in Large-Scale Video Generation Models" — a literal port of
// nodes/pure/relaxation.py (tests/unit/test_js_formula.py checks the two agree).
//   s(σ̂) = s_min + (s_base − s_min) · (1 − β · σ̂^p),  σ̂ ∈ [0, 1]

export function normalizedSigma(sigma, sigmaMin, sigmaMax, parameterization = "flow") {
  const g = (s) => (parameterization === "flow" ? s : s / Math.sqrt(1 + s * s));
  const lo = g(sigmaMin), hi = g(sigmaMax);
  if (!(hi > lo)) throw new Error("sigma_max must exceed sigma_min");
  return Math.min(1, Math.max(0, (g(sigma) - lo) / (hi - lo)));
}

export function relaxationScale(sigmaHat, sBase, { beta, decay_power, s_min }) {
  return s_min + (sBase - s_min) * (1 - beta * Math.pow(sigmaHat, decay_power));
}

// Flow-matching sigma of a timestep fraction t under ComfyUI's shift (ModelSamplingSD3).
export function shiftedSigma(t, shift) {
  return (shift * t) / (1 + (shift - 1) * t);
}
