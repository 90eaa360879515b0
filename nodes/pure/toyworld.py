"""The Inertia testbed's toy world: seeded synthetic videos with ground truth, and its text encoder.

Each video is ``frames`` RGB frames (default 17 at 128×128, i.e. 5 latent frames at 16×16 after the Wan 2.1
VAE's stride 4 in time and 8 in space) of a **static textured background** with **one coloured object**.
What the object does is the video's *scenario*:

* ``stays``: it does not move (the static majority of the training data);
* ``moves_left`` / ``moves_right``: a large horizontal motion (36–56 px over the clip);
* ``disappears``: it fades out or shrinks away, starting at pixel frame 1–2 and gone from frame 4–5 on
  (within the first third of the clip, so from latent frame 2 on it is absent);
* ``appears``: the reverse (absent in the start image, fully there from frame 4–5 on).

The training mix is static-biased and is a parameter (:data:`DEFAULT_MIX`). Captions are paraphrased per
scenario (several templates, synonyms, phrases). ``caption_precision`` models captions that promise a change
the clip does not show: a share of the static clips gets a change phrase, so that a change caption is followed
by that change in only ``caption_precision`` of the clips that carry it (1.0 = clean captions).

Ground truth per video: the object's coverage per frame (``alpha`` ``[B, T, H, W]``, 0…1, opacity included),
the clean background ``[B, H, W, 3]``, the object's unfaded appearance, its position and presence per frame.

Everything random is drawn on a CPU ``torch.Generator`` from the seed (so a seed gives the same scene on every
device); rendering is plain tensor math on the device asked for. ``torch`` only, no ComfyUI.

The text encoder (:func:`encode_prompts`) is the testbed's own: a deterministic bag of words. Each lower-case
word gets a fixed pseudo-random vector in 4096 dimensions (seeded by the word's CRC-32), so the output has the
layout of Wan's umt5-xxl conditioning, ``[B, L, 4096]``; an empty prompt gives zeros (what the DiT saw in
training for dropped text).
"""

from __future__ import annotations

import math
import re
import zlib
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from .errors import InertiaInputError

SCENARIOS = ("stays", "moves_left", "moves_right", "disappears", "appears")
CHANGE_SCENARIOS = SCENARIOS[1:]

#: Default training mix: static-biased (a stock model should cling to the start image).
DEFAULT_MIX = {"stays": 0.93, "moves_left": 0.015, "moves_right": 0.015, "disappears": 0.03, "appears": 0.01}

FRAMES, HEIGHT, WIDTH = 17, 128, 128
TEXT_LENGTH, TEXT_DIM = 32, 4096
#: Vector norm of one word's embedding (RMS ≈ 0.125 per element, the order of umt5-xxl outputs).
WORD_NORM = 8.0

COLORS = {  # object colours: saturated, so they stand out from the muted backgrounds
    "red": (0.90, 0.12, 0.10), "green": (0.15, 0.80, 0.20), "blue": (0.15, 0.30, 0.95),
    "yellow": (0.95, 0.85, 0.10), "purple": (0.60, 0.15, 0.80), "orange": (0.98, 0.50, 0.05),
    "white": (0.95, 0.95, 0.95), "cyan": (0.10, 0.85, 0.90), "pink": (0.98, 0.45, 0.70),
}
TINTS = {  # background base colours: muted, mid-dark
    "grey": (0.42, 0.42, 0.42), "sand": (0.55, 0.48, 0.34), "teal": (0.20, 0.40, 0.40),
    "brown": (0.38, 0.27, 0.18), "navy": (0.16, 0.20, 0.38), "olive": (0.38, 0.40, 0.20),
    "slate": (0.30, 0.34, 0.40),
}
SHAPES = ("ball", "box", "diamond")
SHAPE_WORDS = {"ball": ("ball", "disk", "circle"), "box": ("box", "square", "block"),
               "diamond": ("diamond", "rhombus", "gem")}
PATTERNS = ("stripes", "checks", "clouds", "waves", "gradient")
PATTERN_WORDS = {"stripes": ("striped", "stripes"), "checks": ("checkered", "checks"),
                 "clouds": ("cloudy", "clouds"), "waves": ("wavy", "waves"), "gradient": ("shaded", "gradient")}
SCENE_TEMPLATES = (
    "a {color} {shape} on a {tint} {pattern_adj} background",
    "a {color} {shape} in front of a {tint} {pattern_adj} wall",
    "{tint} {pattern_noun} behind a {color} {shape}",
)
#: Scenario phrases appended to the scene (paraphrases; index 0 is the canonical one used for evaluation).
PHRASES = {
    "stays": (", it stays still", "", ", it does not move", ", it remains in place", ", motionless",
              ", it sits there"),
    "moves_left": (", it moves to the left", ", it slides left", ", it rolls to the left", ", moving left",
                   ", it travels leftwards"),
    "moves_right": (", it moves to the right", ", it slides right", ", it rolls to the right", ", moving right",
                    ", it travels rightwards"),
    "disappears": (", it disappears", ", it fades away", ", it vanishes", ", it shrinks away to nothing",
                   ", then it is gone", ", it fades out"),
    "appears": (", it appears", ", it fades in", ", it pops into view", ", it shows up", ", it grows from nothing"),
}

HELDOUT_SEED = 7_000_003
"""Base seed of the held-out evaluation scenes (training streams use :func:`training_seed`)."""


def training_seed(run_seed: int, chunk: int) -> int:
    """Seed of training-data chunk ``chunk`` of training run ``run_seed`` (disjoint from :data:`HELDOUT_SEED`)."""
    return 1_000_000_007 * (int(run_seed) + 1) + 7919 * int(chunk) + 11


@dataclass(frozen=True)
class WorldConfig:
    """Size, mix and caption model of the toy world.

    ``mix``: scenario → weight (normalised; missing scenarios get 0). ``caption_precision`` ∈ (0, 1]: share of
    the clips carrying a change phrase that show that change (the rest are static clips with a hallucinated
    caption). ``radius``: object radius range in pixels. ``displacement``: range of the total horizontal motion
    of ``moves_*`` clips, pixels.
    """

    frames: int = FRAMES
    height: int = HEIGHT
    width: int = WIDTH
    mix: dict = field(default_factory=lambda: dict(DEFAULT_MIX))
    caption_precision: float = 1.0
    radius: tuple = (11.0, 20.0)
    displacement: tuple = (36.0, 56.0)

    def weights(self) -> torch.Tensor:
        """The normalised mix as ``[len(SCENARIOS)]`` float64."""
        unknown = sorted(set(self.mix) - set(SCENARIOS))
        if unknown:
            raise InertiaInputError("mix", unknown, f"use scenario names from {SCENARIOS}", "names unknown scenarios")
        w = torch.tensor([float(self.mix.get(s, 0.0)) for s in SCENARIOS], dtype=torch.float64)
        if bool((w < 0).any()) or float(w.sum()) <= 0:
            raise InertiaInputError("mix", dict(self.mix), "give non-negative weights with a positive sum")
        return w / w.sum()

    def hallucination_rate(self) -> float:
        """Share of static clips that get a change phrase, from ``caption_precision`` and the mix."""
        p = float(self.caption_precision)
        if not 0.0 < p <= 1.0:
            raise InertiaInputError("caption_precision", p, "choose a value in (0, 1]; 1 = clean captions")
        w = self.weights()
        change, static = float(w[1:].sum()), float(w[0])
        if p == 1.0 or change == 0.0:
            return 0.0
        h = change / max(static, 1e-12) * (1.0 / p - 1.0)
        if h > 1.0:
            raise InertiaInputError("caption_precision", p, f"raise it to at least {change / (change + static):.3f} "
                                    "or make the mix more static", "needs more static clips than the mix has")
        return h


def _check_size(cfg: WorldConfig) -> None:
    if (cfg.frames - 1) % 4 or cfg.frames < 5:
        raise InertiaInputError("frames", cfg.frames, "use 4n+1 frames (≥ 5), e.g. 17", "is not 4n+1 (Wan VAE stride 4)")
    if cfg.height % 16 or cfg.width % 16 or min(cfg.height, cfg.width) < 64:
        raise InertiaInputError("size", (cfg.height, cfg.width), "use multiples of 16, at least 64, e.g. 128×128")


def sample_specs(n: int, seed: int, config: WorldConfig | None = None, scenario: str | None = None) -> dict:
    """Draw the parameters of ``n`` videos from ``seed``: a dict of CPU tensors ``[n, …]`` plus ``prompts``.

    ``scenario`` forces every video to one scenario (evaluation); the scene parameters drawn from a seed do
    not depend on it, so the same seed gives the same start image for ``stays`` and ``disappears``
    (``moves_*`` shift the object inwards where the motion would leave the frame).
    """
    cfg = config or WorldConfig()
    _check_size(cfg)
    if n < 1:
        raise InertiaInputError("n", n, "ask for at least one video")
    if scenario is not None and scenario not in SCENARIOS:
        raise InertiaInputError("scenario", scenario, f"use one of {SCENARIOS}")
    g = torch.Generator().manual_seed(int(seed))
    u = lambda *shape: torch.rand(*shape, generator=g, dtype=torch.float64)  # noqa: E731
    ri = lambda hi, *shape: torch.randint(0, hi, shape, generator=g)  # noqa: E731
    H, W = cfg.height, cfg.width
    s = {}
    # scene
    s["color"] = ri(len(COLORS), n)
    s["tint"] = ri(len(TINTS), n)
    s["shape"] = ri(len(SHAPES), n)
    s["pattern"] = ri(len(PATTERNS), n)
    s["radius"] = cfg.radius[0] + (cfg.radius[1] - cfg.radius[0]) * u(n)
    margin = s["radius"] + 6
    s["x0"] = margin + (W - 2 * margin) * u(n)
    s["y0"] = margin + (H - 2 * margin) * u(n)
    s["freq"] = 1.5 + 2.5 * u(n)                        # cycles per image (stripes, checks, waves)
    s["angle"] = math.pi * u(n)
    s["phase"] = 2 * math.pi * u(n, 2)
    s["amp"] = 0.08 + 0.08 * u(n)
    s["contrast"] = u(n, 3) * 2 - 1                     # colour direction of the pattern
    s["clouds"] = torch.randn(n, 3, 5, 5, generator=g, dtype=torch.float64)
    s["highlight"] = (u(n, 2) - 0.5) * 0.8              # highlight offset, in radii
    # motion (drawn for every video so forcing a scenario does not change the scene)
    s["displacement"] = cfg.displacement[0] + (cfg.displacement[1] - cfg.displacement[0]) * u(n)
    s["change_start"] = 1 + ri(2, n)                     # pixel frame where fading / shrinking starts (1..2)
    s["change_end"] = 4 + ri(2, n)                       # first frame fully gone / fully there (4..5)
    s["shrink"] = u(n) < 0.5                             # disappear/appear by shrinking (else fading)
    # scenario and caption
    if scenario is None:
        s["scenario"] = torch.multinomial(cfg.weights(), n, replacement=True, generator=g)
    else:
        s["scenario"] = torch.full((n,), SCENARIOS.index(scenario), dtype=torch.long)
    caption = s["scenario"].clone()
    h = cfg.hallucination_rate() if scenario is None else 0.0
    w_change = cfg.weights()[1:]
    hallucinate = (u(n) < h) & (s["scenario"] == 0)
    if float(w_change.sum()) > 0:
        fake = 1 + torch.multinomial(w_change / w_change.sum(), n, replacement=True, generator=g)
        caption = torch.where(hallucinate, fake, caption)
    s["caption_scenario"] = caption
    s["template"] = ri(len(SCENE_TEMPLATES), n)
    s["synonym"] = ri(3, n)
    s["pattern_word"] = ri(2, n)
    s["phrase"] = ri(64, n)
    _fit_motion(s, cfg)
    s["prompts"] = [_prompt(s, i) for i in range(n)]
    s["config"] = cfg
    return s


def _fit_motion(s: dict, cfg: WorldConfig) -> None:
    """Shift ``moves_*`` objects inwards so the whole motion stays in the frame."""
    left = s["scenario"] == SCENARIOS.index("moves_left")
    right = s["scenario"] == SCENARIOS.index("moves_right")
    lo = s["radius"] + 4
    hi = cfg.width - s["radius"] - 4
    d = torch.minimum(s["displacement"], hi - lo)
    s["displacement"] = d
    s["x0"] = torch.where(left, torch.maximum(s["x0"], lo + d), s["x0"])
    s["x0"] = torch.where(right, torch.minimum(s["x0"], hi - d), s["x0"])


def scene_prompt(color: str, shape: str, tint: str, pattern: str, template: int = 0, synonym: int = 0,
                 pattern_word: int = 0) -> str:
    """The scene part of a caption, e.g. ``"a red ball on a grey striped background"``."""
    return SCENE_TEMPLATES[template % len(SCENE_TEMPLATES)].format(
        color=color, shape=SHAPE_WORDS[shape][synonym % 3], tint=tint,
        pattern_adj=PATTERN_WORDS[pattern][0], pattern_noun=PATTERN_WORDS[pattern][1])


def _prompt(s: dict, i: int, canonical: bool = False) -> str:
    color = list(COLORS)[int(s["color"][i])]
    tint = list(TINTS)[int(s["tint"][i])]
    shape = SHAPES[int(s["shape"][i])]
    pattern = PATTERNS[int(s["pattern"][i])]
    scen = SCENARIOS[int(s["caption_scenario"][i])]
    if canonical:
        return scene_prompt(color, shape, tint, pattern) + PHRASES[scen][0]
    phrases = PHRASES[scen]
    return scene_prompt(color, shape, tint, pattern, int(s["template"][i]), int(s["synonym"][i]),
                        int(s["pattern_word"][i])) + phrases[int(s["phrase"][i]) % len(phrases)]


def canonical_prompts(specs: dict, scenario: str | None = None) -> list[str]:
    """Evaluation prompts: the first template, canonical synonyms and each scenario's phrase 0.

    ``scenario`` overrides the clips' own (e.g. ask for ``disappears`` on start images drawn as ``stays``).
    """
    if scenario is not None and scenario not in SCENARIOS:
        raise InertiaInputError("scenario", scenario, f"use one of {SCENARIOS}")
    n = len(specs["prompts"])
    tmp = dict(specs)
    if scenario is not None:
        tmp["caption_scenario"] = torch.full((n,), SCENARIOS.index(scenario), dtype=torch.long)
    return [_prompt(tmp, i, canonical=True) for i in range(n)]


# --------------------------------------------------------------------------------------- rendering

def _grid(h: int, w: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    yy, xx = torch.meshgrid(torch.arange(h, device=device, dtype=torch.float32) + 0.5,
                            torch.arange(w, device=device, dtype=torch.float32) + 0.5, indexing="ij")
    return yy, xx


def render_background(specs: dict, device="cpu") -> torch.Tensor:
    """Clean background ``[B, H, W, 3]`` in [0, 1] (static: the same in every frame)."""
    cfg = specs["config"]
    H, W = cfg.height, cfg.width
    f = lambda k: specs[k].to(device=device, dtype=torch.float32)  # noqa: E731
    n = specs["color"].shape[0]
    yy, xx = _grid(H, W, device)
    yy, xx = yy / H, xx / W                                              # [H, W] in (0, 1)
    ang, fr, ph = f("angle")[:, None, None], f("freq")[:, None, None], f("phase")
    u = xx * torch.cos(ang) + yy * torch.sin(ang)
    v = -xx * torch.sin(ang) + yy * torch.cos(ang)
    two_pi = 2 * math.pi
    stripes = torch.sin(two_pi * fr * u + ph[:, 0, None, None])
    checks = torch.tanh(2.5 * torch.sin(two_pi * fr * u + ph[:, 0, None, None]) *
                        torch.sin(two_pi * fr * v + ph[:, 1, None, None]))
    waves = 0.6 * torch.sin(two_pi * fr * u + ph[:, 0, None, None]) + \
        0.6 * torch.sin(two_pi * 0.7 * fr * v + 1.3 * torch.sin(two_pi * u) + ph[:, 1, None, None])
    gradient = 2 * u - u.mean(dim=(1, 2), keepdim=True) * 2
    clouds = F.interpolate(f("clouds"), size=(H, W), mode="bicubic", align_corners=False)  # [B, 3, H, W]
    cloud_lum = clouds.mean(dim=1)
    pat = torch.stack([stripes, checks, cloud_lum * 1.5, waves, gradient], dim=1)          # [B, P, H, W]
    idx = specs["pattern"].to(device)
    pattern = pat[torch.arange(n, device=device), idx]                                     # [B, H, W]
    tint = torch.tensor(list(TINTS.values()), device=device)[specs["tint"].to(device)]     # [B, 3]
    direction = 0.6 + 0.4 * f("contrast")                                                 # [B, 3]
    bg = tint[:, None, None, :] + f("amp")[:, None, None, None] * pattern[..., None] * direction[:, None, None, :]
    bg = bg + 0.025 * clouds.movedim(1, -1)
    return bg.clamp(0.02, 0.98)


def _shape_sdf(shape_idx: torch.Tensor, dx: torch.Tensor, dy: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Signed distance (px, negative inside) of each video's shape; ``dx, dy`` ``[B, T, H, W]``, ``r`` ``[B, T]``."""
    rr = r[..., None, None]
    disk = torch.sqrt(dx * dx + dy * dy) - rr
    box = torch.maximum(dx.abs(), dy.abs()) - rr * 0.85
    diamond = (dx.abs() + dy.abs()) / math.sqrt(2) - rr * 0.8
    sel = shape_idx[:, None, None, None]
    return torch.where(sel == 0, disk, torch.where(sel == 1, box, diamond))


def _coverage(sdf: torch.Tensor) -> torch.Tensor:
    """Antialiased coverage from a signed distance (px): a 0.8-px logistic edge, exactly 0 beyond 6 px."""
    return torch.where(sdf > 6.0, torch.zeros_like(sdf), torch.sigmoid(-sdf / 0.8))


def motion(specs: dict, device="cpu") -> dict:
    """Per-frame object state: ``x``, ``y``, ``radius`` and ``opacity`` ``[B, T]`` (pixels; opacity 0…1)."""
    cfg = specs["config"]
    T = cfg.frames
    f = lambda k: specs[k].to(device=device, dtype=torch.float32)  # noqa: E731
    t = torch.arange(T, device=device, dtype=torch.float32)[None]                 # [1, T]
    scen = specs["scenario"].to(device)[:, None]
    frac = t / (T - 1)
    direction = torch.where(scen == SCENARIOS.index("moves_left"), -1.0,
                            torch.where(scen == SCENARIOS.index("moves_right"), 1.0, 0.0))
    x = f("x0")[:, None] + direction * f("displacement")[:, None] * frac
    y = f("y0")[:, None].expand(-1, T)
    s0, s1 = f("change_start")[:, None], f("change_end")[:, None]
    k_out = ((s1 - t) / (s1 - s0)).clamp(0, 1)                                    # 1 → 0 between s0 and s1
    k = torch.where(scen == SCENARIOS.index("disappears"), k_out,
                    torch.where(scen == SCENARIOS.index("appears"), 1 - k_out, torch.ones_like(k_out)))
    shrink = specs["shrink"].to(device)[:, None]
    radius = f("radius")[:, None] * torch.where(shrink, k, torch.ones_like(k))
    opacity = torch.where(shrink, (k * 4).clamp(0, 1), k)
    return {"x": x, "y": y, "radius": radius, "opacity": opacity}


def render(specs: dict, device="cpu") -> dict:
    """Render the videos of ``specs`` on ``device``.

    Returns a dict:
        ``video`` ``[B, T, H, W, 3]`` in [0, 1]; ``background`` ``[B, H, W, 3]``; ``alpha`` ``[B, T, H, W]``
        (object coverage × opacity); ``full_alpha`` ``[B, H, W]`` (the object's unfaded coverage at its
        start position; for ``appears`` at its position once it is there); ``reference`` ``[B, H, W, 3]``
        (the frame with the unfaded object there: the start image, for ``appears`` the last frame); ``presence`` ``[B, T]`` (object coverage relative to full);
        ``x``, ``y`` ``[B, T]`` positions in pixels.
    """
    cfg = specs["config"]
    H, W = cfg.height, cfg.width
    bg = render_background(specs, device)
    m = motion(specs, device)
    yy, xx = _grid(H, W, device)
    dx = xx[None, None] - m["x"][..., None, None]
    dy = yy[None, None] - m["y"][..., None, None]
    shape_idx = specs["shape"].to(device)
    sdf = _shape_sdf(shape_idx, dx, dy, m["radius"])
    cover = _coverage(sdf) * (m["radius"][..., None, None] > 0.25)
    alpha = cover * m["opacity"][..., None, None]                                   # [B, T, H, W]
    color = torch.tensor(list(COLORS.values()), device=device)[specs["color"].to(device)]  # [B, 3]
    hl = specs["highlight"].to(device=device, dtype=torch.float32)
    r0 = specs["radius"].to(device=device, dtype=torch.float32)[:, None, None, None]
    d2 = ((dx - hl[:, 0, None, None, None] * r0) ** 2 + (dy - hl[:, 1, None, None, None] * r0) ** 2) / r0 ** 2
    shade = (1.05 - 0.4 * d2.clamp(0, 2.0)).clamp(0.45, 1.05)                       # [B, T, H, W]
    obj = (color[:, None, None, None, :] * shade[..., None]).clamp(0, 1)            # [B, T, H, W, 3]
    video = bg[:, None] * (1 - alpha[..., None]) + obj * alpha[..., None]
    # the unfaded object at the reference frame (start; for `appears` the last frame)
    ref = torch.where(specs["scenario"].to(device) == SCENARIOS.index("appears"), cfg.frames - 1, 0)
    b = torch.arange(bg.shape[0], device=device)
    full_cover = _coverage(_shape_sdf(shape_idx, dx[b, ref][:, None], dy[b, ref][:, None], r0[:, 0, 0]))[:, 0]
    full_area = full_cover.flatten(1).sum(1).clamp_min(1e-6)
    presence = alpha.flatten(2).sum(2) / full_area[:, None]
    reference = bg * (1 - full_cover[..., None]) + obj[b, ref] * full_cover[..., None]
    return {"video": video.clamp(0, 1), "background": bg, "alpha": alpha, "full_alpha": full_cover,
            "reference": reference.clamp(0, 1), "presence": presence, "x": m["x"], "y": m["y"]}


def make_videos(n: int, seed: int, config: WorldConfig | None = None, device="cpu", scenario: str | None = None):
    """``(specs, rendered)`` for ``n`` videos from ``seed`` (see :func:`sample_specs`, :func:`render`)."""
    specs = sample_specs(n, seed, config, scenario)
    return specs, render(specs, device)


def concat_specs(parts: list[dict]) -> dict:
    """Concatenate the specs of several :func:`sample_specs` calls (same config) along the batch."""
    if not parts:
        raise InertiaInputError("parts", 0, "pass at least one specs dict")
    out = {}
    for k, v in parts[0].items():
        if k == "config":
            out[k] = v
        elif k == "prompts":
            out[k] = [p for part in parts for p in part[k]]
        else:
            out[k] = torch.cat([part[k] for part in parts])
    return out


def heldout_specs(indices, scenario: str, config: WorldConfig | None = None) -> dict:
    """Specs of held-out scenes ``indices`` (scene ``k`` is drawn from seed ``HELDOUT_SEED + k``) as
    ``scenario``, with the canonical prompts. The start image of scene ``k`` is the same for every scenario
    except ``moves_*`` (shifted inwards when needed) and ``appears`` (no object in the start image)."""
    specs = concat_specs([sample_specs(1, HELDOUT_SEED + int(k), config, scenario) for k in indices])
    specs["prompts"] = canonical_prompts(specs)
    return specs


def heldout_scenes(n: int, scenario: str, first: int = 0, config: WorldConfig | None = None, device="cpu"):
    """Held-out scenes ``first … first+n−1`` as ``scenario``: ``(specs, rendered, prompts)`` (canonical prompts)."""
    specs = heldout_specs(range(first, first + n), scenario, config)
    return specs, render(specs, device), list(specs["prompts"])


def start_image(rendered: dict) -> torch.Tensor:
    """First frames ``[B, H, W, 3]`` of rendered videos (the I2V start images)."""
    return rendered["video"][:, 0]


# -------------------------------------------------------------------------------------- text encoder

_WORD = re.compile(r"[a-z]+")
_CACHE: dict[str, torch.Tensor] = {}


def tokenize(prompt: str) -> list[str]:
    """Lower-case words of ``prompt`` (letters only)."""
    return _WORD.findall(str(prompt).lower())


def word_vector(word: str, dim: int = TEXT_DIM) -> torch.Tensor:
    """The fixed embedding ``[dim]`` float32 of ``word`` (seeded by CRC-32 of the word; norm :data:`WORD_NORM`)."""
    key = f"{word}/{dim}"
    v = _CACHE.get(key)
    if v is None:
        g = torch.Generator().manual_seed(zlib.crc32(word.encode("utf-8")))
        v = torch.randn(dim, generator=g)
        v = v / v.norm() * WORD_NORM
        _CACHE[key] = v
    return v


def encode_prompts(prompts, length: int = TEXT_LENGTH, dim: int = TEXT_DIM) -> torch.Tensor:
    """Text conditioning ``[B, length, dim]`` float32 for a prompt or a list of prompts.

    Word ``i`` of a prompt fills row ``i``; rows past the prompt (and every row of an empty prompt) are zero.
    Words past ``length`` are dropped.

    Raises:
        InertiaInputError: ``length`` < 1.
    """
    if length < 1:
        raise InertiaInputError("length", length, "use at least 1 token row, e.g. 32")
    if isinstance(prompts, str):
        prompts = [prompts]
    out = torch.zeros(len(prompts), length, dim)
    for b, p in enumerate(prompts):
        for i, w in enumerate(tokenize(p)[:length]):
            out[b, i] = word_vector(w, dim)
    return out


def vocabulary() -> list[str]:
    """Every word the toy world's captions use (sorted)."""
    words = set()
    for t in SCENE_TEMPLATES:
        words.update(tokenize(re.sub(r"\{\w+\}", " ", t)))
    for d in (COLORS, TINTS):
        words.update(d)
    for v in list(SHAPE_WORDS.values()) + list(PATTERN_WORDS.values()):
        words.update(v)
    for ph in PHRASES.values():
        for p in ph:
            words.update(tokenize(p))
    return sorted(words)


def latent_frames(frames: int) -> int:
    """Latent frames of a ``frames``-frame video under the Wan 2.1 VAE's temporal stride 4 (``(frames-1)//4+1``)."""
    return (int(frames) - 1) // 4 + 1
