"""ALG in pixel space: re-encode the low-passed start/end image of Wan I2V/FLF (``space = "pixel"`` of the ALG node).

Source: Choi et al., "Improving Motion in Image-to-Video Models via Adaptive Low-Pass Guidance" (ALG),
arXiv 2506.08456, which also filters in pixel space; the rebuild follows core ``comfy_extras/nodes_wan.py``
(``WanImageToVideo``, ``WanFirstLastFrameToVideo``) and ``comfy/model_base.py`` (``WAN21.concat_cond``).

The node gets the VAE and the start/end images the user gave ``WanImageToVideo`` / ``WanFirstLastFrameToVideo``.
At strength κ the images are resized as core does (``common_upscale``, bilinear, center), low-passed in image
pixels (down_up at r(κ); gaussian σ(κ) × the VAE's spatial compression, 8, since ``blur_sigma`` is in latent
pixels), put into core's gray (0.5) video of ``4·(T − 1) + 1`` frames, VAE-encoded, and transformed as
``WAN21.concat_cond`` transforms ``concat_latent_image`` (resize to the noise size, ``process_latent_in``, batch)
into the 16 image channels of ``c_concat``; the mask channels stay. The strength is taken per step, so every
strength is known before sampling: :class:`PixelEncoder` encodes once per distinct strength (interval schedule:
once per run) in the ``OUTER_SAMPLE`` wrapper, before ``prepare_sampling`` loads the diffusion model, so the VAE
never pushes it out of VRAM mid-run. VACE, HunyuanVideo and FramePack are refused at node time (use latent).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import comfy.utils
import torch

from .pure.errors import InertiaInputError
from .pure.lowpass import ALGParams, wan_i2v_video

log = logging.getLogger("ComfyUI-Inertia")

SPACES = ("latent", "pixel")
#: Pixel frames per latent frame after the first, as core's Wan I2V/FLF nodes count them
#: (``latent frames = (length − 1) // 4 + 1``).
WAN_TIME_COMPRESSION = 4
PIXEL_ONLY = ("pixel space rebuilds the Wan I2V/FLF image condition (WanImageToVideo, WanFirstLastFrameToVideo); "
              "use space 'latent' for VACE, HunyuanVideo and FramePack")


@dataclass(frozen=True, eq=False)
class PixelSource:
    """What pixel space re-encodes: the VAE and the images given to WanImageToVideo / WanFirstLastFrameToVideo.

    ``start_image`` / ``end_image`` are ComfyUI IMAGEs ``[N, H, W, C]`` in [0, 1] (either may be None).
    """

    vae: object
    start_image: torch.Tensor | None
    end_image: torch.Tensor | None

    def video(self, params: ALGParams, kappa: float, length: int, height: int, width: int) -> torch.Tensor:
        """The I2V/FLF pixel video ``[length, height, width, 3]`` with its images low-passed at strength κ.

        Like core: the start images (first ``length``) and end images (last ``length``) are resized to
        ``width × height`` with ``comfy.utils.common_upscale`` (bilinear, center crop); then filtered per
        frame at κ in image pixels (gaussian σ times the VAE's spatial compression); then placed into a
        gray (0.5) video (:func:`wan_i2v_video`).
        """
        scale = float(self.vae.spacial_compression_encode())

        def prep(img, take):
            if img is None:
                return None
            img = comfy.utils.common_upscale(take(img).movedim(-1, 1).float(), width, height, "bilinear", "center")
            return params.apply(img, kappa, sigma_scale=scale).movedim(1, -1)

        return wan_i2v_video(length, height, width, prep(self.start_image, lambda t: t[:length]),
                             prep(self.end_image, lambda t: t[-length:]))


def resolve_pixel(family: str, space: str, vae, start_image, end_image) -> PixelSource | None:
    """Validate the space inputs; return the :class:`PixelSource` for ``space == "pixel"``, else None.

    Raises:
        InertiaInputError: unknown space; pixel space on a model other than Wan (I2V/FLF); pixel
        space without a VAE or without any image; an image that is not ``[N, H, W, C≥3]``.
    """
    if space not in SPACES:
        raise InertiaInputError("space", space, f"use one of {SPACES}")
    if space == "latent":
        return None
    if family != "wan":
        raise InertiaInputError("space", space, PIXEL_ONLY, f"is not available for this model family ({family})")
    if vae is None:
        raise InertiaInputError("vae", None, "connect the VAE you gave WanImageToVideo / WanFirstLastFrameToVideo, "
                                "or use space 'latent'", "is required with space 'pixel' (it re-encodes the image)")
    if start_image is None and end_image is None:
        raise InertiaInputError("start_image", None, "connect the start_image you gave WanImageToVideo / "
                                "WanFirstLastFrameToVideo (and its end_image for FLF), or use space 'latent'",
                                "is required with space 'pixel' (the image that is low-passed and re-encoded)")
    for name, img in (("start_image", start_image), ("end_image", end_image)):
        if img is not None and (not torch.is_tensor(img) or img.ndim != 4 or img.shape[-1] < 3 or img.shape[0] < 1):
            raise InertiaInputError(name, tuple(getattr(img, "shape", ())) or type(img).__name__,
                                    "connect a ComfyUI IMAGE [N, H, W, 3]", "is not an image batch")
    return PixelSource(vae, start_image, end_image)


class PixelEncoder:
    """Per sampling run: the VAE latents ``[1, C, T, h, w]`` of the pixel video low-passed at each strength κ,
    keyed by ``(κ, (T, h, w))`` and encoded once per run; ``encodes`` counts the VAE calls."""

    def __init__(self, source: PixelSource, params: ALGParams):
        self.source, self.params = source, params
        self.latents: dict = {}
        self.encodes = 0
        self.planned = False

    def prepare(self, conds: dict, kappas) -> None:
        """Before the model loads: check the raw conditioning against the images and encode every planned κ.

        ``conds`` is the guider's ``{name: [cond dict, …]}`` (``convert_cond`` output, which keeps core's
        ``concat_latent_image`` / ``concat_mask``); ``kappas`` the strengths the schedule's steps use.

        Raises:
            InertiaInputError: no Wan I2V/FLF image latent in the conditioning; start_image / end_image not
            matching the frames the conditioning marks as known; a VAE whose latent does not match the
            conditioning's.
        """
        entries = [c for group in (conds or {}).values() for c in (group or []) if isinstance(c, dict)]
        geoms = {}
        for c in entries:
            img = c.get("concat_latent_image")
            if img is not None:
                geoms[tuple(img.shape[-3:])] = c.get("concat_mask")
        if not geoms:
            raise InertiaInputError(
                "space", "pixel", "connect the positive/negative from WanImageToVideo or WanFirstLastFrameToVideo "
                "(with the same start/end image as this node), or use space 'latent'",
                f"finds no Wan I2V/FLF image latent (concat_latent_image) in the conditioning; {PIXEL_ONLY}")
        for geom, mask in geoms.items():
            self._check_known_frames(geom, mask)
        for kappa in kappas:
            for geom in geoms:
                self.latent(kappa, geom)
        self.planned = True

    def _check_known_frames(self, geom, mask) -> None:
        """The images must sit where the conditioning's mask says an image is (0 = known)."""
        if mask is None:
            return
        known = mask.reshape(-1, *mask.shape[-3:]).amin(dim=(0, 2, 3)) < 0.5    # [T] per latent frame
        src, t = self.source, geom[0]
        length = WAN_TIME_COMPRESSION * (t - 1) + 1
        if src.start_image is not None and not bool(known[0]):
            raise InertiaInputError("start_image", tuple(src.start_image.shape),
                                    "disconnect start_image, or use the conditioning made with it",
                                    "is connected, but the conditioning's first frame is not an image")
        if src.end_image is not None and not bool(known[-1]):
            raise InertiaInputError("end_image", tuple(src.end_image.shape),
                                    "disconnect end_image (WanImageToVideo has none), or use the conditioning of "
                                    "WanFirstLastFrameToVideo made with it",
                                    "is connected, but the conditioning's last frame is not an image")
        # start frames cover at most latent frames 0 … (n + 2) // 4 (FLF marks n + 3 pixel frames known)
        n = 0 if src.start_image is None else min(src.start_image.shape[0], length)
        covered = (n + 2) // WAN_TIME_COMPRESSION if n else -1
        if src.end_image is None and t - 1 > covered and bool(known[-1]):
            raise InertiaInputError("end_image", None, "connect the end_image you gave WanFirstLastFrameToVideo",
                                    "is missing, but the conditioning's last frame is an image")

    def latent(self, kappa: float, geom: tuple) -> torch.Tensor:
        """The VAE latent ``[1, C, T, h, w]`` of the pixel video low-passed at κ (encoded once per run)."""
        key = (kappa, geom)
        hit = self.latents.get(key)
        if hit is not None:
            return hit
        if self.planned:  # a strength the schedule did not predict (should not happen): still once per strength
            log.warning("ALG: pixel space encodes an unplanned strength %.4g during sampling", kappa)
        t, h, w = geom
        vae = self.source.vae
        scale = int(vae.spacial_compression_encode())
        video = self.source.video(self.params, kappa, WAN_TIME_COMPRESSION * (t - 1) + 1, h * scale, w * scale)
        lat = vae.encode(video)
        self.encodes += 1
        if tuple(lat.shape[-3:]) != tuple(geom):
            raise InertiaInputError("vae", type(vae).__name__, "connect the VAE you gave WanImageToVideo / "
                                    "WanFirstLastFrameToVideo", f"encodes the rebuilt video to {tuple(lat.shape)}, "
                                    f"but the conditioning's image latent has frames × height × width {geom}")
        self.latents[key] = lat
        return lat

    def concat(self, model, cond: dict, key: str, span, tensor: torch.Tensor, kappa: float) -> torch.Tensor:
        """The Wan c_concat ``tensor`` ``[B, 20, T, h, w]`` with its image channels ``span`` replaced by the latent
        at κ, transformed as core's ``WAN21.concat_cond`` transforms ``concat_latent_image``: resize to the noise
        size (bilinear, center), ``process_latent_in``, repeat to the batch.

        Raises:
            InertiaInputError: a slot other than ``c_concat``, or a latent whose channels do not fit ``span``.
        """
        src = cond.get("concat_latent_image")
        if key != "c_concat" or src is None:
            raise InertiaInputError("space", "pixel", PIXEL_ONLY, f"cannot rebuild the '{key}' image condition")
        lat = self.latent(kappa, tuple(src.shape[-3:]))
        img = comfy.utils.common_upscale(lat.to(tensor.device), tensor.shape[-1], tensor.shape[-2], "bilinear",
                                         "center")
        img = comfy.utils.resize_to_batch_size(model.process_latent_in(img), tensor.shape[0])
        if img.shape[1] != span[1] - span[0]:
            raise InertiaInputError("space", "pixel", PIXEL_ONLY,
                                    f"gets a {img.shape[1]}-channel latent for {span[1] - span[0]} image channels")
        out = tensor.clone()
        out[:, span[0]:span[1]] = img.to(tensor.dtype)
        return out

    def strengths(self) -> list[float]:
        """The strengths encoded this run, strongest first."""
        return sorted({k for k, _ in self.latents}, reverse=True)

    def clear(self) -> None:
        self.latents.clear()
