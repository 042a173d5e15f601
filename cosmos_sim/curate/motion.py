"""Stage 2: optical-flow motion filter. Drops static and erratic clips; tags camera pans, tilts and zooms.

Dense Farneback flow (OpenCV) between each analysis frame and the frame right after it, at
``flow_width`` pixels wide. Velocities are in frame widths per second, so thresholds do not
depend on resolution or frame rate:

* ``motion``: mean per-pixel flow speed. Below ``min_motion`` the clip is static (nothing moves).
* ``jitter``: standard deviation over time of the global (median) flow vector. A steady pan has
  a constant global vector (jitter ~ 0); a shaking camera has one that jumps around. Above
  ``max_jitter`` or with ``motion`` above ``max_motion`` the clip is erratic.
* Tags from an affine fit ``v = t + A x`` of the mean flow field (x centred, in widths;
  weighted by image gradient, as flat regions carry no flow): the
  translation ``t`` gives ``pan_left/right`` and ``tilt_up/down`` (the camera turns opposite to
  the content's motion), the divergence ``(A_xx + A_yy) / 2`` gives ``zoom_in/out``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from cosmos_sim.curate.clip import Clip

STAGE = "motion"


@dataclass(frozen=True)
class MotionConfig:
    """Thresholds of the motion filter and tagger (velocities in frame widths per second)."""

    enabled: bool = True
    """Run the filter (tags are only set when it runs)."""
    flow_width: int = 160
    """Width the frames are shrunk to for optical flow."""
    max_pairs: int = 16
    """At most this many frame pairs per clip (evenly spread)."""
    min_motion: float = 0.003
    """Mean flow speed below which a clip is static. Real footage (benchmarks/curate_real): frozen frames
    0.0000-0.0002; the stillest real shots that should stay, a hand holding a box almost still 0.0072 and
    a fixed street camera with small walkers 0.015-0.018 (0.01, the first value, dropped the former)."""
    max_motion: float = 2.0
    """Mean flow speed above which a clip is erratic. Real shots reach 0.11 (a hand swinging a cup)."""
    max_jitter: float = 0.3
    """Std over time of the global flow vector above which a clip is erratic (shake). Real steady or
    hand-held shots reach 0.097; synthetic 12-pixel shake measures 0.5 and more."""
    pan_threshold: float = 0.03
    """Global translation speed that earns a pan/tilt tag."""
    zoom_threshold: float = 0.05
    """Divergence (relative scale change per second) that earns a zoom tag."""


def flow_stats(pairs: list[tuple[np.ndarray, np.ndarray]], fps: float, cfg: MotionConfig) -> dict[str, float]:
    """Motion metrics of a clip from its (gray, next gray) pairs; see the module docstring."""
    if not pairs:
        raise ValueError("no frame pairs to measure motion on (clip shorter than two frames?)")
    idx = np.linspace(0, len(pairs) - 1, min(cfg.max_pairs, len(pairs))).round().astype(int)
    h0, w0 = pairs[0][0].shape
    fw = min(cfg.flow_width, w0)
    fh = max(8, round(h0 * fw / w0))
    to_speed = fps / fw  # px/frame at flow size -> widths/s
    speeds, globals_, fields, texture = [], [], [], []
    for i in idx:
        a, b = (cv2.resize(p, (fw, fh), interpolation=cv2.INTER_AREA) for p in pairs[i])
        flow = cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0) * to_speed
        speeds.append(float(np.mean(np.linalg.norm(flow, axis=-1))))
        globals_.append(np.median(flow.reshape(-1, 2), axis=0))
        fields.append(flow)
        gx, gy = cv2.Sobel(a, cv2.CV_32F, 1, 0), cv2.Sobel(a, cv2.CV_32F, 0, 1)
        texture.append(np.hypot(gx, gy))
    g = np.array(globals_)
    tx, ty, div = _affine(np.mean(fields, axis=0), np.mean(texture, axis=0), fw)
    return {
        "motion": float(np.mean(speeds)),
        "jitter": float(np.sqrt(np.sum(np.var(g, axis=0)))),
        "pan_x": tx,
        "pan_y": ty,
        "zoom": div,
    }


def _affine(flow: np.ndarray, texture: np.ndarray, width: int) -> tuple[float, float, float]:
    """Least-squares ``v = t + A x`` over a grid of the field, weighted by image texture (flow in
    flat regions such as sky is unreliable, mostly zero); returns (t_x, t_y, divergence)."""
    h, w = flow.shape[:2]
    ys, xs = np.mgrid[2 : h - 2 : 3, 2 : w - 2 : 3]
    x = (xs - (w - 1) / 2).ravel() / width
    y = (ys - (h - 1) / 2).ravel() / width
    t = texture[ys, xs].ravel()
    sw = np.sqrt(np.minimum(t, np.percentile(t, 95)) + 1e-3)[:, None]  # cap: edges must not dominate
    design = np.stack([np.ones_like(x), x, y], 1) * sw
    v = flow[ys, xs].reshape(-1, 2) * sw
    (cx, ax, bx), *_ = np.linalg.lstsq(design, v[:, 0], rcond=None)
    (cy, ay, by), *_ = np.linalg.lstsq(design, v[:, 1], rcond=None)
    return float(cx), float(cy), float((ax + by) / 2)


def camera_tags(m: dict[str, float], cfg: MotionConfig) -> list[str]:
    """Pan / tilt / zoom tags from the metrics (the camera moves opposite to the image content)."""
    tags = []
    if abs(m["pan_x"]) >= cfg.pan_threshold and abs(m["pan_x"]) >= abs(m["pan_y"]) / 2:
        tags.append("pan_right" if m["pan_x"] < 0 else "pan_left")
    if abs(m["pan_y"]) >= cfg.pan_threshold and abs(m["pan_y"]) >= abs(m["pan_x"]) / 2:
        tags.append("tilt_down" if m["pan_y"] < 0 else "tilt_up")
    if abs(m["zoom"]) >= cfg.zoom_threshold:
        tags.append("zoom_in" if m["zoom"] > 0 else "zoom_out")
    return tags


def apply(clip: Clip, cfg: MotionConfig) -> None:
    """Measure, tag, and drop the clip if it is static or erratic."""
    if not cfg.enabled:
        return
    m = flow_stats(clip.flow_pairs, clip.fps, cfg)
    clip.metrics.update(m)
    if m["motion"] < cfg.min_motion:
        clip.drop(
            STAGE,
            f"static: mean motion {m['motion']:.4f} < min_motion {cfg.min_motion:g} widths/s",
            m["motion"],
        )
    elif m["motion"] > cfg.max_motion:
        clip.drop(
            STAGE,
            f"erratic: mean motion {m['motion']:.3f} > max_motion {cfg.max_motion:g} widths/s",
            m["motion"],
        )
    elif m["jitter"] > cfg.max_jitter:
        clip.drop(
            STAGE,
            f"erratic: camera jitter {m['jitter']:.3f} > max_jitter {cfg.max_jitter:g} widths/s",
            m["jitter"],
        )
    clip.tags.extend(camera_tags(m, cfg))
