"""The guardrail runners, in Cosmos's shape: a text runner (checks) and a video runner (checks, then
post-processors), each check reporting whether it fired and why.

    report = TextRunner([BlocklistCheck()]).run("a robot arm stacks cubes")
    report.safe, report.reasons()          # True, []
    report = VideoRunner([], [FacePixelation(), Watermarker()]).run(frames)
    report.frames                          # the frames to write (None when a check blocked the video)

A check is any object with a ``name`` and ``check(x) -> CheckResult``; a post-processor has a
``name`` and ``process(frames) -> (frames, CheckResult)``. The runners stop at the first check that
blocks (as Cosmos does: the later checks, such as a language model, are the expensive ones).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from cosmos_sim.errors import ConfigError


@dataclass(frozen=True)
class CheckResult:
    """What one check or post-processor found."""

    name: str
    """The check's name (``"blocklist"``, ``"faces"``, ...)."""
    fired: bool
    """It found something (a blocked word, a face, an unsafe frame)."""
    blocks: bool = False
    """What it found makes the input unsafe (a face that was pixelated does not)."""
    reason: str = ""
    """Why it fired, for a person; empty when it did not."""
    details: dict[str, Any] = field(default_factory=dict)
    """Machine-readable findings (matches, boxes per frame, scores)."""
    seconds: float = 0.0
    """Time the check took."""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "fired": self.fired,
            "blocks": self.blocks,
            "reason": self.reason,
            "details": self.details,
            "seconds": round(self.seconds, 6),
        }


@dataclass(frozen=True)
class GuardReport:
    """The outcome of a runner: safe or not, and every check's result in the order they ran."""

    safe: bool
    """No check blocked."""
    results: tuple[CheckResult, ...]
    """The checks and post-processors that ran."""
    frames: np.ndarray | None = None
    """Video runner only: the post-processed frames, or None when a check blocked the video."""

    def reasons(self) -> list[str]:
        """``"name: reason"`` of every check that fired."""
        return [f"{r.name}: {r.reason}" for r in self.results if r.fired]

    def to_json(self) -> dict[str, Any]:
        return {"safe": self.safe, "results": [r.to_json() for r in self.results]}


class TextCheck(Protocol):
    """A check of a prompt."""

    name: str

    def check(self, text: str) -> CheckResult: ...


class VideoCheck(Protocol):
    """A check of a video: (T, H, W, 3) uint8 RGB frames."""

    name: str

    def check(self, frames: np.ndarray) -> CheckResult: ...


class PostProcessor(Protocol):
    """A change to every frame of a video (pixelate faces, add a watermark)."""

    name: str

    def process(self, frames: np.ndarray) -> tuple[np.ndarray, CheckResult]: ...


def _timed(result: CheckResult, t0: float) -> CheckResult:
    return CheckResult(**{**result.__dict__, "seconds": time.perf_counter() - t0})


def as_video(frames: Any) -> np.ndarray:
    """(T, H, W, 3) uint8 RGB from frames of that shape, one (H, W, 3) image, or floats in [0, 1]."""
    a = np.asarray(frames)
    if a.ndim == 3:
        a = a[None]
    if a.ndim != 4 or a.shape[-1] != 3 or min(a.shape[1:3]) < 1:
        raise ConfigError(
            f"frames of shape {a.shape} are not a video; expected (T, H, W, 3) RGB (or one (H, W, 3) image)"
        )
    if a.dtype != np.uint8:
        if a.dtype.kind != "f":
            raise ConfigError(f"frames of dtype {a.dtype}; expected uint8 0..255 or floats in [0, 1]")
        a = np.clip(np.rint(a * 255.0), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(a)


class TextRunner:
    """Runs text checks in order; the first that blocks ends the run."""

    def __init__(self, checks: Sequence[TextCheck]):
        self.checks = list(checks)

    def run(self, text: str) -> GuardReport:
        if not isinstance(text, str):
            raise ConfigError(f"a prompt must be a str, got {type(text).__name__}; pass the prompt text")
        results = []
        for c in self.checks:
            t0 = time.perf_counter()
            results.append(_timed(c.check(text), t0))
            if results[-1].blocks:
                return GuardReport(False, tuple(results))
        return GuardReport(True, tuple(results))


class VideoRunner:
    """Runs video checks (the first that blocks ends the run: no frames), then post-processors in order."""

    def __init__(self, checks: Sequence[VideoCheck], postprocessors: Sequence[PostProcessor]):
        self.checks = list(checks)
        self.postprocessors = list(postprocessors)

    def run(self, frames: Any) -> GuardReport:
        video = as_video(frames)
        results = []
        for c in self.checks:
            t0 = time.perf_counter()
            results.append(_timed(c.check(video), t0))
            if results[-1].blocks:
                return GuardReport(False, tuple(results), None)
        for p in self.postprocessors:
            t0 = time.perf_counter()
            video, r = p.process(video)
            results.append(_timed(r, t0))
        return GuardReport(True, tuple(results), video)


__all__ = [
    "CheckResult",
    "GuardReport",
    "PostProcessor",
    "TextCheck",
    "TextRunner",
    "VideoCheck",
    "VideoRunner",
    "as_video",
]
