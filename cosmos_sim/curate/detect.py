"""Shot-change detectors for split's one decode pass: PySceneDetect's, fed frame by frame, or our causal one.

Split shrinks every decoded frame once to a small BGR image (``SplitConfig.detect_width`` wide, 256 by
default: the width PySceneDetect's own ``SceneManager`` downscales to) and pushes it here. Choices
(``SplitConfig.detector``):

``"adaptive+fade"`` (default)
    PySceneDetect's ``AdaptiveDetector`` for hard cuts (the HSV content score of a frame must be
    ``adaptive_ratio`` times the mean score of the ``adaptive_window`` frames either side, and at least
    ``adaptive_min_score``), plus its ``ThresholdDetector`` for fades through black: a cut where the
    picture goes dark (mean 8-bit intensity below ``fade_threshold``) and another where it comes back,
    so the black stretch becomes a clip of its own that the length and exposure rules drop.
``"adaptive"``, ``"content"``, ``"threshold"``
    One PySceneDetect detector alone (``content``: a fixed ``content_threshold`` on the HSV score).
``"causal"``
    The detector this pipeline shipped first: mean absolute YUV difference of 64x36 thumbnails against a
    fixed ``threshold`` and ``ratio`` x the mean of the previous ``window`` frames. Calibrated on
    synthetic footage only; it misses real cuts between similar-looking shots (issue 23).

Which is best, and why the defaults are what they are, is measured on the labelled real footage in
``benchmarks/curate_real`` by ``cosmos-sim bench curate`` (see ``evaluate.py``).

Some detectors report a cut a few frames after it happened (AdaptiveDetector looks
``adaptive_window`` frames ahead; ContentDetector's flash filter may merge cuts over
``min_shot_frames``): ``CutDetector.lag`` says how many frames split must hold back.
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING, NamedTuple

import av
import cv2
import numpy as np

if TYPE_CHECKING:
    from cosmos_sim.curate.split import SplitConfig

DETECTORS = ("adaptive+fade", "adaptive", "content", "threshold", "causal")
THUMB = (64, 36)  # causal detector thumbnail (w, h): cuts are global changes, details do not matter


def _scenedetect():
    """The ``scenedetect`` module, or an ImportError that says how to install it or do without it."""
    try:
        import scenedetect
    except ImportError:
        raise ImportError(
            "shot detection with PySceneDetect needs the scenedetect package, which is not installed: "
            "pip install --no-deps 'scenedetect>=0.7,<0.8' (--no-deps: it asks for opencv-python, which "
            'would clash with opencv-python-headless), or set [split] detector = "causal"'
        ) from None
    return scenedetect


class _Frame(NamedTuple):
    """A frame position for the causal detector (PySceneDetect's FrameTimecode for the others)."""

    frame_num: int


def check_detector(name: str) -> None:
    """A ValueError naming the valid detectors unless ``name`` is one."""
    if name not in DETECTORS:
        raise ValueError(
            f"split detector must be one of {list(DETECTORS)}, got {name!r}; set [split] detector"
        )


def detect_size(width: int, height: int, detect_width: int) -> tuple[int, int]:
    """(w, h) of the detector's frames: ``detect_width`` wide (never upscaled), even sizes, aspect kept."""
    w = min(detect_width, width)
    w -= w % 2
    h = max(2, round(height * w / width))
    return max(2, w), h + h % 2


def plane_view(frame: av.VideoFrame, index: int) -> np.ndarray:
    """Plane ``index`` of an 8-bit planar frame as a (rows, width) uint8 view of the decoder's buffer (no copy)."""
    p = frame.planes[index]
    return np.frombuffer(p, np.uint8).reshape(p.height, p.line_size)[:, : p.width]


def detector_frame(frame: av.VideoFrame, size: tuple[int, int]) -> np.ndarray:
    """``frame`` shrunk to ``size`` (w, h) as BGR uint8; planar 4:2:0 frames take a fast OpenCV path.

    Bilinear, as PySceneDetect's ``SceneManager`` downscales (its default interpolation).
    """
    w, h = frame.width, frame.height
    sw, sh = size
    if frame.format.name == "yuv420p" and w % 2 == 0 and h % 2 == 0:
        small = [
            cv2.resize(
                plane_view(frame, i),
                (sw, sh) if i == 0 else (sw // 2, sh // 2),
                interpolation=cv2.INTER_LINEAR,
            )
            for i in range(3)
        ]
        i420 = np.concatenate([p.ravel() for p in small]).reshape(sh * 3 // 2, sw)
        return cv2.cvtColor(i420, cv2.COLOR_YUV2BGR_I420)
    return frame.reformat(width=sw, height=sh, format="bgr24").to_ndarray()


def content_score(prev: np.ndarray, cur: np.ndarray) -> float:
    """Mean absolute difference of two thumbnails (0..255): the causal detector's score."""
    return float(np.mean(np.abs(cur - prev)))


class ShotDetector:
    """The causal detector: feed YUV thumbnails one by one, get True at the first frame of a shot."""

    def __init__(self, cfg: SplitConfig):
        self.cfg = cfg
        self.prev: np.ndarray | None = None
        self.history: list[float] = []
        self.since_cut = 0

    def push(self, thumb: np.ndarray) -> bool:
        cut = False
        if self.prev is not None:
            score = content_score(self.prev, thumb)
            recent = self.history[-self.cfg.window :]
            baseline = float(np.mean(recent)) if recent else 0.0
            cut = (
                score >= self.cfg.threshold
                and score >= self.cfg.ratio * baseline
                and self.since_cut >= self.cfg.min_shot_frames
            )
            self.history.append(score)
        self.prev = thumb
        self.since_cut = 0 if cut else self.since_cut + 1
        return cut


class _Fades:
    """PySceneDetect's ThresholdDetector, cutting both where the picture goes dark and where it returns."""

    def __init__(self, cfg: SplitConfig):
        ThresholdDetector = _scenedetect().detectors.ThresholdDetector  # noqa: N806

        # fade_bias=+1: the fade-in cut is the first frame back above the threshold, so it comes without lag
        self.det = ThresholdDetector(threshold=cfg.fade_threshold, min_scene_len=0, fade_bias=1.0)
        self.lag = 0

    def push(self, tc, bgr: np.ndarray) -> list[int]:
        was = self.det.last_fade["type"]
        cuts = [t.frame_num for t in self.det.process_frame(tc, bgr)]
        if was == "in" and self.det.last_fade["type"] == "out":  # just went dark: end the shot here
            cuts.append(tc.frame_num)
        return cuts


class _PySceneDetect:
    """A PySceneDetect content detector (adaptive or fixed threshold); keeps each frame's content score."""

    def __init__(self, kind: str, cfg: SplitConfig):
        detectors = _scenedetect().detectors
        if kind == "adaptive":
            self.det = detectors.AdaptiveDetector(
                adaptive_threshold=cfg.adaptive_ratio,
                min_scene_len=cfg.min_shot_frames,
                window_width=cfg.adaptive_window,
                min_content_val=cfg.adaptive_min_score,
            )
        else:
            self.det = detectors.ContentDetector(
                threshold=cfg.content_threshold, min_scene_len=cfg.min_shot_frames
            )
        self.lag = self.det.event_buffer_length

    def push(self, tc, bgr: np.ndarray) -> list[int]:
        return [t.frame_num for t in self.det.process_frame(tc, bgr)]


class _Causal:
    def __init__(self, cfg: SplitConfig):
        self.det = ShotDetector(cfg)
        self.lag = 0

    def push(self, tc, bgr: np.ndarray) -> list[int]:
        yuv = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV)
        thumb = cv2.resize(yuv, THUMB, interpolation=cv2.INTER_AREA).astype(np.float32)
        return [tc.frame_num] if self.det.push(thumb) else []


class CutDetector:
    """The configured detector: ``push(i, bgr)`` every frame in order, then ``finish()``; both return cuts.

    A cut is the index of the first frame of a new shot. Cuts come at most ``lag`` frames late; cuts
    less than ``min_gap`` frames after the previous one (two parts firing at the same change) are merged.
    ``scores`` holds each frame's HSV content score (PySceneDetect's ``content_val``, 0 for frame 0)
    when a content detector runs, for diagnostics.
    """

    min_gap = 3

    def __init__(self, cfg: SplitConfig, fps: Fraction):
        check_detector(cfg.detector)
        self._tc = _Frame if cfg.detector == "causal" else _scenedetect().FrameTimecode
        self.fps = Fraction(fps)
        kinds = {"adaptive+fade": ("adaptive", "fade")}.get(cfg.detector, (cfg.detector,))
        self.parts = [
            _Fades(cfg)
            if k in ("fade", "threshold")
            else _Causal(cfg)
            if k == "causal"
            else _PySceneDetect(k, cfg)
            for k in kinds
        ]
        self.lag = max(p.lag for p in self.parts) + 1
        self.scores: list[float] = []
        self._accepted: list[int] = []
        self._n = 0

    def push(self, index: int, bgr: np.ndarray) -> list[int]:
        tc = self._tc(index, fps=self.fps) if self._tc is not _Frame else _Frame(index)
        found = sorted({c for p in self.parts for c in p.push(tc, bgr)})
        for p in self.parts:
            if isinstance(p, _PySceneDetect):
                self.scores.append(float(p.det._frame_score or 0.0))
                break
        self._n = index + 1
        return self._accept(found)

    def finish(self) -> list[int]:
        if not self._n:
            return []
        if self._tc is _Frame:
            return []
        tc = self._tc(self._n - 1, fps=self.fps)
        found = []
        for p in self.parts:
            if isinstance(p, _Fades | _PySceneDetect):
                found += [t.frame_num for t in p.det.post_process(tc)]
        return self._accept(sorted(set(found)))

    def _accept(self, found: list[int]) -> list[int]:
        out = []
        for c in found:
            if c > 0 and all(abs(c - a) >= self.min_gap for a in self._accepted[-4:]):
                out.append(c)
                self._accepted.append(c)
        return out
