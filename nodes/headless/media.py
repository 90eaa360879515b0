"""Media files for workflows: the template media packages hold animated WebP, Load Video reads video files.

:func:`video_frames` reads a video file's frames back; :func:`webp_to_mp4` writes a ``<stem>.mp4`` from the ``<stem>.webp`` of an official template media package
(PyPI ``comfyui-workflow-templates-media-video``), same frames and frame rate. It needs Pillow and PyAV, which
ComfyUI's own Python has (its video nodes use PyAV); they are imported only when a conversion runs, so the
headless client stays importable with the standard library alone.
"""

from __future__ import annotations

from pathlib import Path


def video_frames(path: Path) -> list:
    """Every frame of a video file (mp4, webm, …) as an RGB PIL image, decoded with PyAV (which ComfyUI's video
    nodes use). Raises ``av.error.FFmpegError`` for a file PyAV cannot read."""
    import av

    with av.open(str(path)) as container:
        return [f.to_image() for f in container.decode(video=0)]


def webp_to_mp4(src: Path, dst: Path) -> tuple[int, float]:
    """Write the frames of animated WebP ``src`` to H.264 MP4 ``dst`` at the WebP's own frame rate.

    Pillow decodes the WebP (PyAV's FFmpeg cannot); PyAV, which ComfyUI's video nodes use, encodes.
    Returns ``(frames, fps)``.
    """
    from fractions import Fraction

    import av
    from PIL import Image

    im = Image.open(src)
    frames, durations = [], []
    for i in range(getattr(im, "n_frames", 1)):
        im.seek(i)
        im.load()
        frames.append(im.convert("RGB").copy())
        durations.append(im.info.get("duration") or 0)
    mean = sum(durations) / len(durations) if any(durations) else 0
    fps = round(1000.0 / mean) if mean else 16
    w, h = (frames[0].width // 2) * 2, (frames[0].height // 2) * 2
    dst.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(dst), mode="w") as out:
        stream = out.add_stream("h264", rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"crf": "18"}
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_image(f.crop((0, 0, w, h)))):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return len(frames), float(fps)
