"""Synthetic test footage with known ground truth, made from scikit-image's bundled photos.

Used by the tests and by ``cosmos-sim bench curate``: camera pans over real photos with hard
cuts at known frames, static shots, burned-in text, blur, over-exposure and camera shake.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

#: scikit-image photos that look clearly different from each other (colour and layout).
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry")


def photo(name: str, size: tuple[int, int], margin: float = 1.6) -> np.ndarray:
    """The scikit-image photo ``name`` as RGB uint8, resized to cover ``margin`` x the frame size (w, h)."""
    import skimage.data

    img = getattr(skimage.data, name)()
    if img.ndim == 2:
        img = np.stack([img] * 3, -1)
    img = img[..., :3]
    w, h = size
    scale = max(margin * w / img.shape[1], margin * h / img.shape[0])
    return cv2.resize(
        img, (round(img.shape[1] * scale), round(img.shape[0] * scale)), interpolation=cv2.INTER_AREA
    )


def pan(
    image: np.ndarray,
    n: int,
    size: tuple[int, int],
    velocity: tuple[float, float] = (2.0, 0.0),
    shake: float = 0.0,
    seed: int = 0,
) -> list[np.ndarray]:
    """``n`` crops of ``size`` (w, h) whose window moves ``velocity`` px/frame (content moves the other way).

    ``shake`` adds a random per-frame offset of up to that many pixels (an erratic hand-held camera).
    """
    w, h = size
    rng = np.random.default_rng(seed)
    frames = []
    x0, y0 = (image.shape[1] - w) / 2 - velocity[0] * n / 2, (image.shape[0] - h) / 2 - velocity[1] * n / 2
    for i in range(n):
        dx, dy = rng.uniform(-shake, shake, 2) if shake else (0.0, 0.0)
        x = int(np.clip(round(x0 + velocity[0] * i + dx), 0, image.shape[1] - w))
        y = int(np.clip(round(y0 + velocity[1] * i + dy), 0, image.shape[0] - h))
        frames.append(np.ascontiguousarray(image[y : y + h, x : x + w]))
    return frames


def pan_photo(
    name: str, n: int, size: tuple[int, int], velocity: tuple[float, float] = (2.0, 0.0), **kw
) -> list[np.ndarray]:
    """``pan`` over the scikit-image photo ``name``."""
    return pan(photo(name, size), n, size, velocity, **kw)


def zoom(image: np.ndarray, n: int, size: tuple[int, int], rate: float = 0.01) -> list[np.ndarray]:
    """``n`` frames zooming in on the centre of ``image`` by ``rate`` (relative) per frame."""
    w, h = size
    cy, cx = image.shape[0] / 2, image.shape[1] / 2
    frames = []
    for i in range(n):
        s = 1.0 / (1.0 + rate) ** i
        cw, ch = min(image.shape[1], 1.5 * w * s), min(image.shape[0], 1.5 * h * s)
        crop = image[int(cy - ch / 2) : int(cy + ch / 2), int(cx - cw / 2) : int(cx + cw / 2)]
        frames.append(cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA))
    return frames


def burn_text(frames: Iterable[np.ndarray], text: str = "BREAKING NEWS TODAY") -> list[np.ndarray]:
    """Frames with a subtitle-like caption burned in (white on a dark band, bottom of the frame)."""
    out = []
    for f in frames:
        f = f.copy()
        h, w = f.shape[:2]
        scale = w / 420
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 2)
        x, y = (w - tw) // 2, h - int(0.12 * h)
        cv2.rectangle(f, (x - 6, y - th - 8), (x + tw + 6, y + 10), (0, 0, 0), -1)
        cv2.putText(f, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 2, cv2.LINE_AA)
        out.append(f)
    return out


def blur(frames: Iterable[np.ndarray], sigma: float = 4.0) -> list[np.ndarray]:
    """Gaussian-blurred frames (an out-of-focus camera)."""
    return [cv2.GaussianBlur(f, (0, 0), sigma) for f in frames]


def expose(frames: Iterable[np.ndarray], gain: float = 4.0) -> list[np.ndarray]:
    """Over-exposed frames (``gain`` > 1) or under-exposed ones (``gain`` < 1)."""
    return [np.clip(f.astype(np.float32) * gain, 0, 255).astype(np.uint8) for f in frames]


def write_video(
    path: str | Path,
    frames: Sequence[np.ndarray],
    fps: int = 30,
    codec: str = "libx264",
    faststart: bool = False,
) -> Path:
    """Encode RGB frames as an MP4 (H.264 by default) at ``fps``; ``faststart`` puts the index first."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w", options={"movflags": "faststart"} if faststart else {}) as c:
        s = c.add_stream(codec, rate=Fraction(fps))
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        if codec == "libx264":
            s.options = {"preset": "ultrafast", "crf": "18"}
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def cut_video(shots: Sequence[Sequence[np.ndarray]]) -> tuple[list[np.ndarray], list[int]]:
    """Concatenate shots; returns the frames and the frame indices where shots 2.. start."""
    frames, cuts = [], []
    for shot in shots:
        if frames:
            cuts.append(len(frames))
        frames.extend(shot)
    return frames, cuts
