"""The guardrail as one object: ``SafetyChecker``, duck-typed for diffusers' Cosmos pipelines, and the
helper every writer of generated video calls.

    checker = SafetyChecker()                         # GuardrailConfig() defaults: all offline
    checker.check_text_safety("a robot arm stacks cubes")   # True
    checker.check_video_safety(frames)                # frames with faces pixelated and a watermark, or None
    checker.last_report.reasons()                     # what fired and why

    pipe = CosmosTextToWorldPipeline.from_pretrained(..., safety_checker=SafetyChecker())

diffusers' Cosmos pipelines refuse to run without a safety checker and call exactly these:
``check_text_safety(prompt) -> bool``, ``check_video_safety(uint8 (T, H, W, 3)) -> frames or None``
and ``to(device)`` (a no-op here: everything runs on the CPU).

``write_guarded_video(paths, frames, fps, metadata, checker)`` is how cosmos-sim writes a generated
video: the post-guard (content check, faces, watermark), then the files with the provenance and the
guardrail's findings in their metadata. ``checker=None`` is the explicit opt-out (``--no-guardrail``):
the frames are written as they are, the metadata says so and a warning is logged.
"""

from __future__ import annotations

import functools
import importlib
import logging
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cosmos_sim.errors import ConfigError
from cosmos_sim.guardrail.runner import CheckResult, GuardReport, TextRunner, VideoRunner

log = logging.getLogger(__name__)
DISABLED = "disabled (--no-guardrail)"


@dataclass(frozen=True)
class GuardrailConfig:
    """What the guardrail checks and changes (every part offline; models only from local paths)."""

    text: bool = True
    """Check prompts against the word lists (exact, partial, whitelist)."""
    profanity: bool = True
    """Add better-profanity's bundled word list when that package is installed."""
    blocklist: tuple[str, ...] = ()
    """Extra blocklist files ([category] headers, one word or phrase a line), matched like the shipped one."""
    whitelist: tuple[str, ...] = ()
    """Extra whitelist files ([phrases] and [words] sections)."""
    wordnet: str = "auto"
    """Lemmas from WordNet: 'auto' (NLTK's data or Debian's wordnet-base), 'off' (suffix rules) or a directory."""
    lm_guard: str = ""
    """A local language-model guard run after the lists: a transformers model directory or 'file.py:function'."""
    block_negative: bool = False
    """Block negative prompts that hit the lists too (by default they are reported: they steer content away)."""
    faces: bool = True
    """Pixelate faces in generated frames."""
    face_model: str = "auto"
    """'auto' (BlazeFace if installed, else LBP), 'blazeface', 'lbp' or a BlazeFace .tflite path."""
    face_threshold: float = 0.7
    """Face detector score threshold (our GT scenes score up to ~0.62 on BlazeFace, real faces ~0.9)."""
    face_cells: int = 8
    """Mosaic cells across a pixelated face."""
    face_tiles: bool = True
    """Also search 2x2 tiles of frames of 256+ pixels (small faces; ~4x the detector's time)."""
    classifier: str = ""
    """A per-frame content classifier from a local path: 'file.py:function' or 'module:function' ('': none)."""
    classifier_threshold: float = 0.5
    """Unsafe-probability at which the classifier blocks a video."""
    watermark: bool = True
    """Add the invisible watermark to every generated frame."""
    watermark_step: float = 36.0
    """Quantisation step of the watermark (larger: more robust, more visible)."""

    def __post_init__(self) -> None:
        for name in ("blocklist", "whitelist"):
            for path in getattr(self, name):
                if not Path(path).is_file():
                    raise ConfigError(
                        f"guardrail {name} file {path} does not exist; pass existing list files"
                    )


class SafetyChecker:
    """Text and video guardrail runners behind the safety-checker interface diffusers' Cosmos pipelines use."""

    def __init__(self, config: GuardrailConfig | None = None):
        self.config = config or GuardrailConfig()
        self.last_report: GuardReport | None = None

    @functools.cached_property
    def text_runner(self) -> TextRunner:
        from cosmos_sim.guardrail.blocklist import EXACT, PARTIAL, WHITELIST, Blocklist, BlocklistCheck
        from cosmos_sim.guardrail.lemmas import Lemmatizer

        c = self.config
        checks: list[Any] = []
        if c.text:
            lists = Blocklist(
                Lemmatizer(c.wordnet),
                exact=(EXACT, *c.blocklist),
                partial=(PARTIAL,),
                whitelist=(WHITELIST, *c.whitelist),
                profanity=c.profanity,
            )
            checks.append(BlocklistCheck(lists))
        if c.lm_guard:
            from cosmos_sim.guardrail.plugins import LMGuardCheck

            checks.append(LMGuardCheck(c.lm_guard))
        return TextRunner(checks)

    @functools.cached_property
    def video_runner(self) -> VideoRunner:
        c = self.config
        checks: list[Any] = []
        post: list[Any] = []
        if c.classifier:
            from cosmos_sim.guardrail.plugins import ContentClassifierCheck

            checks.append(ContentClassifierCheck(c.classifier, c.classifier_threshold))
        if c.faces:
            from cosmos_sim.guardrail.faces import FaceDetector, FacePixelation

            post.append(
                FacePixelation(FaceDetector(c.face_model, c.face_threshold, c.face_tiles), cells=c.face_cells)
            )
        if c.watermark:
            from cosmos_sim.guardrail.watermark import Watermarker

            post.append(Watermarker(c.watermark_step))  # last: pixelation would damage the mark
        return VideoRunner(checks, post)

    # ---- reports ------------------------------------------------------------------------------------
    def check_text(self, prompt: str, negative: bool = False) -> GuardReport:
        """Run the text checks. A negative prompt (what to keep out of a video) that hits the lists is
        reported but not blocked, unless ``block_negative``."""
        report = self.text_runner.run(prompt)
        if negative and not report.safe and not self.config.block_negative:
            results = tuple(
                CheckResult(
                    **{**asdict(r), "blocks": False, "reason": f"negative prompt, not blocked: {r.reason}"}
                )
                if r.blocks
                else r
                for r in report.results
            )
            report = GuardReport(True, results)
        self.last_report = report
        return report

    def check_video(self, frames: Any) -> GuardReport:
        """Run the video checks and post-processors on (T, H, W, 3) frames."""
        self.last_report = self.video_runner.run(frames)
        return self.last_report

    # ---- the diffusers interface ----------------------------------------------------------------------
    def check_text_safety(self, prompt: str) -> bool:
        """True when the prompt passes; ``last_report`` says what fired."""
        return self.check_text(prompt).safe

    def check_video_safety(self, frames: Any) -> np.ndarray | None:
        """The frames to keep (faces pixelated, watermarked), or None when a check blocked the video."""
        return self.check_video(frames).frames

    def to(self, *args: Any, **kwargs: Any) -> SafetyChecker:
        """Device moves (``pipe.safety_checker.to(device)``): everything here runs on the CPU."""
        return self

    def describe(self) -> dict[str, Any]:
        """The configuration as recorded in outputs' metadata."""
        return {"enabled": True, **asdict(self.config)}


def guardrail_metadata(report: GuardReport | None, checker: SafetyChecker | None) -> dict[str, Any]:
    """What an output records about its guardrail: the settings and what fired, or that it was disabled."""
    if checker is None:
        return {"guardrail": DISABLED}
    fired = {r.name: r.reason for r in report.results if r.fired} if report is not None else {}
    return {"guardrail": checker.describe(), "guardrail_fired": fired}


def guard_frames(
    frames: np.ndarray, checker: SafetyChecker | None, what: str = "video"
) -> tuple[np.ndarray, dict]:
    """Run the post-guard on frames: (frames to write, metadata about it). A blocked video raises a ConfigError
    with the reason; ``checker=None`` (the opt-out) passes the frames through and logs a warning."""
    if checker is None:
        log.warning("guardrail %s for %s: no face pixelation, no watermark", DISABLED, what)
        return frames, guardrail_metadata(None, None)
    report = checker.check_video(frames)
    if report.frames is None:
        raise ConfigError(f"the guardrail blocked {what}: {'; '.join(report.reasons())}")
    return report.frames, guardrail_metadata(report, checker)


def write_guarded_video(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    frames: np.ndarray,
    fps: float,
    metadata: dict[str, Any],
    checker: SafetyChecker | None,
) -> list[Path]:
    """Guard ``frames`` once and write them to every path (MP4/GIF/PNG) with ``metadata`` and the guardrail's
    record (see ``provenance.write_video``); returns the paths."""
    from cosmos_sim.guardrail.provenance import write_videos

    paths = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    frames, record = guard_frames(frames, checker, what=", ".join(str(p) for p in paths))
    return write_videos(paths, frames, fps, {**metadata, **record})


def load_safety_checker(spec: str):
    """``MODULE:NAME`` -> a safety checker: the object itself when it has ``check_text_safety``, else what calling
    it with no arguments returns (a class or a factory); a ConfigError naming the spec when it cannot."""
    module, _, attr = spec.partition(":")
    if not module or not attr:
        raise ConfigError(f"--safety-checker {spec!r} must be MODULE:CALLABLE, e.g. my_guard:make_checker")
    try:
        obj = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as e:
        raise ConfigError(f"--safety-checker {spec!r} cannot be loaded: {e}") from None
    return obj if hasattr(obj, "check_text_safety") and not isinstance(obj, type) else obj()


__all__ = [
    "load_safety_checker",
    "DISABLED",
    "GuardrailConfig",
    "SafetyChecker",
    "guard_frames",
    "guardrail_metadata",
    "write_guarded_video",
]
