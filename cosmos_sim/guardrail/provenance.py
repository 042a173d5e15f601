"""Provenance of generated videos: which model (weights SHA), prompt and seed made them, and whether the
guardrail ran, in the file's own metadata and in a sidecar JSON.

    meta = provenance(model_dir, prompt=None, seed=100000)
    write_video("out/wfm.mp4", frames, fps=10, metadata=meta)   # + out/wfm.mp4.json
    read_metadata("out/wfm.mp4")                                # the same dict

Where it goes: MP4, the container's ``comment`` tag (``ffprobe``/PyAV show it); GIF, its comment
extension; PNG, a ``cosmos-sim`` text chunk; and always ``FILE.json`` beside the file, because
re-encoding a video drops its tags (the invisible watermark is what survives that).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from cosmos_sim.errors import ConfigError

VIDEO_SUFFIXES = (".mp4", ".gif", ".png")
PNG_KEY = "cosmos-sim"


def weights_sha(model_dir: str | os.PathLike) -> str:
    """First 16 hex digits of the SHA-256 of a bundle's ``model.safetensors`` (a file: of that file)."""
    path = Path(model_dir)
    if path.is_dir():
        path = path / "model.safetensors"
    if not path.is_file():
        raise ConfigError(f"no weights at {path}; pass a model directory with model.safetensors, or the file")
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def provenance(
    model_dir: str | os.PathLike | None = None,
    prompt: str | None = None,
    seed: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """What made a video: the model (its directory and weights SHA), prompt, seed, and ``extra`` fields."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        ours = version("cosmos-sim")
    except PackageNotFoundError:
        ours = "unknown"
    meta: dict[str, Any] = {
        "generator": f"cosmos-sim {ours}",
        "model": str(model_dir) if model_dir is not None else None,
        "model_sha": weights_sha(model_dir) if model_dir is not None else None,
        "prompt": prompt,
        "seed": seed,
        "created_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    meta.update(extra)
    return meta


def sidecar(path: str | os.PathLike) -> Path:
    """The provenance JSON beside a file: ``FILE.json``."""
    return Path(f"{path}.json")


def write_video(
    path: str | os.PathLike, frames: np.ndarray, fps: float, metadata: dict[str, Any], quality: int = 8
) -> Path:
    """Write (T, H, W, 3) uint8 frames as MP4 (H.264, yuv420p), GIF, or PNG (the first frame), with
    ``metadata`` in the file and in ``FILE.json``; returns ``path``.

    ``quality``: imageio-ffmpeg's 0-10 scale; 8 is what ``cosmos-sim export`` writes. At imageio's default
    5 the watermark of textured, moving frames loses bits in some frames (``cosmos-sim bench guardrail``).
    """
    import imageio.v2 as iio2
    import imageio.v3 as iio3

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise ConfigError(f"output {path} must end in one of {', '.join(VIDEO_SUFFIXES)}")
    text = json.dumps(metadata, sort_keys=True, default=str)
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".mp4":
        h, w = frames.shape[1:3]  # yuv420p needs even sizes
        frames = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        iio2.mimwrite(
            path,
            list(frames),
            fps=fps,
            codec="libx264",
            pixelformat="yuv420p",
            macro_block_size=1,
            quality=quality,
            output_params=["-metadata", f"comment={text}"],
        )
    elif suffix == ".gif":
        iio3.imwrite(path, frames, extension=".gif", duration=1000.0 / fps, loop=0, comment=text.encode())
    else:
        from PIL import Image, PngImagePlugin

        info = PngImagePlugin.PngInfo()
        info.add_text(PNG_KEY, text)
        Image.fromarray(frames[0]).save(path, pnginfo=info)
    sidecar(path).write_text(json.dumps(metadata, indent=2, sort_keys=True, default=str) + "\n")
    return path


def read_metadata(path: str | os.PathLike) -> dict[str, Any] | None:
    """A file's provenance: from its sidecar JSON, else from its own tags; None when it has none."""
    path = Path(path)
    if sidecar(path).is_file():
        return json.loads(sidecar(path).read_text())
    text = None
    suffix = path.suffix.lower()
    if suffix in (".mp4", ".mov", ".mkv", ".webm"):
        import av

        with av.open(str(path)) as container:
            text = container.metadata.get("comment")
    elif suffix in (".gif", ".png"):
        from PIL import Image

        with Image.open(path) as im:
            raw = im.info.get("comment") if suffix == ".gif" else getattr(im, "text", {}).get(PNG_KEY)
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    if not text:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return {"comment": text}
    return value if isinstance(value, dict) else {"comment": value}


def write_videos(
    paths: Sequence[str | os.PathLike], frames: np.ndarray, fps: float, metadata: dict[str, Any]
) -> list[Path]:
    """``write_video`` for each path (one video as MP4 and GIF, say)."""
    return [write_video(p, frames, fps, metadata) for p in paths]


__all__ = ["provenance", "read_metadata", "sidecar", "weights_sha", "write_video", "write_videos"]
