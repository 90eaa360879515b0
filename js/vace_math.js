// Which pixel frame each latent frame's VACE mask is read from — a literal port of
// nodes/pure/vace/grid.py (tests/unit/test_js_formula.py checks the two agree for every 4n+1 length).
// WanVaceToVideo shrinks the mask in time with PyTorch's nearest-exact rule in float32:
//   p(k) = min(floor((k + 0.5) · fl32(L / T)), L − 1),  T = (L − 1) // 4 + 1.

// Smallest 4n + 1 ≥ length (at least 1): the length a builder snaps to (grid.snap_length).
export function snapLength(length) {
  const L = Math.max(1, Math.floor(length));
  return 4 * Math.ceil((L - 1) / 4) + 1;
}

export function latentLength(length) {
  return Math.floor((length - 1) / 4) + 1;
}

export function pixelFramesRead(length, latentFrames = latentLength(length)) {
  const f = Math.fround;
  const scale = f(f(length) / f(latentFrames));
  const out = [];
  for (let k = 0; k < latentFrames; k++) {
    out.push(Math.min(Math.floor(f((k + 0.5) * scale)), length - 1));
  }
  return out;
}

// The Wan VAE's frame groups: latent 0 ← pixel frame 0; latent k ≥ 1 ← pixel frames 4k−3 … 4k.
export function vaeGroup(k) {
  return k === 0 ? [0, 0] : [4 * k - 3, 4 * k];
}

// The builders' mask layouts (grid.MASK_LAYOUTS): for the stock WanVaceToVideo, or whole VAE groups for
// the "WanVaceToVideo (latent-aligned)" node.
export const STOCK_LAYOUT = "for WanVaceToVideo";
export const ALIGNED_LAYOUT = "latent-aligned";

// Per latent frame, [first, last] pixel frame its mask comes from (grid.latent_sources):
// [p(k), p(k)] for the stock node, the VAE group for the latent-aligned one.
export function latentSources(length, layout = STOCK_LAYOUT) {
  if (layout === ALIGNED_LAYOUT) {
    return Array.from({ length: latentLength(length) }, (_, k) => vaeGroup(k));
  }
  return pixelFramesRead(length).map((p) => [p, p]);
}
