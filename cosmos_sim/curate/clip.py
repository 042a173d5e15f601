"""The record every stage reads and annotates: one clip of one source video, and its fate."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

KEPT = "kept"
DROPPED = "dropped"


@dataclass
class Clip:
    """One clip cut from a source video; stages add metrics and tags or drop it (first drop wins)."""

    video: str
    """Source video path, relative to the input directory."""
    clip_id: str
    """Unique id ``<video_id>_<index>``; also the stem of the clip's MP4."""
    index: int
    """Position of the clip within its video."""
    start_frame: int
    """First source frame (inclusive)."""
    end_frame: int
    """Last source frame + 1."""
    fps: float
    """Frames per second of the source (and of the transcoded clip)."""
    width: int
    """Frame width of the source in pixels (even; the transcoded MP4 may be smaller: ``SplitConfig.height``)."""
    height: int
    """Frame height of the source in pixels (even)."""
    path: str | None = None
    """Transcoded H.264 MP4, relative to the output directory (None when never written or removed)."""
    frames: list[np.ndarray] = field(default_factory=list, repr=False)
    """Analysis frames (RGB uint8, at most ``analysis_width`` wide), sampled at ``analysis_fps``; not saved."""
    flow_pairs: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list, repr=False)
    """(gray frame, gray next frame) pairs at the analysis samples, for optical flow; not saved."""
    metrics: dict[str, float] = field(default_factory=dict)
    """Measured values by name (``motion``, ``sharpness``, ``text_words``, ...)."""
    tags: list[str] = field(default_factory=list)
    """Descriptive tags (``pan_right``, ``zoom_in``, ``static_camera``...)."""
    caption: str = ""
    """Text caption (set by the caption stage)."""
    status: str = KEPT
    """``"kept"`` or ``"dropped"``."""
    stage: str | None = None
    """The stage that dropped the clip (None while kept)."""
    reason: str = ""
    """Why it was dropped, in words."""
    value: float | None = None
    """The measured value that failed the stage's rule."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Stage-specific details worth keeping (e.g. the clip a duplicate duplicates)."""

    @property
    def n_frames(self) -> int:
        return self.end_frame - self.start_frame

    @property
    def duration(self) -> float:
        return self.n_frames / self.fps

    @property
    def kept(self) -> bool:
        return self.status == KEPT

    def drop(self, stage: str, reason: str, value: float | None) -> None:
        """Mark the clip dropped by ``stage`` (the first drop is the one recorded)."""
        if self.kept:
            self.status, self.stage, self.reason = DROPPED, stage, reason
            self.value = None if value is None else float(value)

    def record(self) -> dict[str, Any]:
        """JSON-able summary (no frames)."""
        return {
            "clip_id": self.clip_id,
            "video": self.video,
            "index": self.index,
            "start_frame": self.start_frame,
            "end_frame": self.end_frame,
            "start_s": round(self.start_frame / self.fps, 3),
            "duration_s": round(self.duration, 3),
            "fps": self.fps,
            "width": self.width,
            "height": self.height,
            "path": self.path,
            "status": self.status,
            "stage": self.stage,
            "reason": self.reason,
            "value": self.value,
            "metrics": {k: float(v) for k, v in self.metrics.items()},
            "tags": list(self.tags),
            "caption": self.caption,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> Clip:
        """Rebuild a clip (without frames) from ``record()``."""
        keys = (
            "video",
            "clip_id",
            "index",
            "start_frame",
            "end_frame",
            "fps",
            "width",
            "height",
            "path",
            "metrics",
            "tags",
            "caption",
            "status",
            "stage",
            "reason",
            "value",
            "extra",
        )
        return cls(**{k: rec[k] for k in keys})


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (Tesseract runs), for per-stage timings.

    CPU time, not wall time, so stage figures mean "per core" even on a machine busy with other work.
    """
    t = os.times()  # children's CPU (1/100 s ticks) plus this process's, at high resolution
    return time.process_time() + t.children_user + t.children_system
