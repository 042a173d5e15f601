"""Score shot detection and filter decisions against labelled footage (``benchmarks/curate_real``).

The labelled set (``labels.json`` beside the videos; see ``make_set.py`` there) lists, per video,
its transitions (a hard ``cut`` at the first frame of the new shot; a ``fade`` through black or a
``dissolve`` over frames ``[start, end)``) and its shots with the fate the per-video stages should
give them (``keep``, ``static``, ``text``, ``blurry``, or ``short``: under ``min_clip_s``).

Cut scoring: a detected cut is correct when it lies within ``tolerance`` frames of a transition
(of a cut's frame, or of a gradual transition's span); precision = correct detections / detections,
recall = transitions with at least one detection / transitions. Two detections inside one fade
(where it goes dark and where it comes back) are both correct: neither splits a shot.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av

from cosmos_sim.curate import detect
from cosmos_sim.curate.split import SplitConfig

#: Where the labelled real footage lives in a source checkout.
REAL_SET = Path(__file__).resolve().parents[2] / "benchmarks" / "curate_real"
TOLERANCE = 2
"""Frames a detected cut may be off a labelled one (PySceneDetect's detectors are exact on hard cuts)."""


def load_labels(root: str | Path = REAL_SET) -> dict[str, Any]:
    """``labels.json`` of a labelled set, or a FileNotFoundError that says where it was looked for."""
    path = Path(root) / "labels.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"labelled footage not found: {path} does not exist. It ships in the source repository "
            "(benchmarks/curate_real/); run from a checkout, or pass the folder that holds labels.json"
        )
    return json.loads(path.read_text())


@dataclass
class CutScore:
    """Detections against labelled transitions; ``+`` adds up videos."""

    detections: int = 0
    """Cuts detected."""
    correct: int = 0
    """Detections within the tolerance of a labelled transition."""
    transitions: int = 0
    """Labelled transitions."""
    found: int = 0
    """Labelled transitions with at least one detection."""
    by_kind: dict[str, list[int]] = field(default_factory=dict)
    """Per transition kind: [found, labelled]."""
    missed: list[str] = field(default_factory=list)
    """Labelled transitions nobody found, as ``video@frame (kind)``."""
    false: list[str] = field(default_factory=list)
    """Detections that match no transition, as ``video@frame``."""

    @property
    def precision(self) -> float:
        return self.correct / self.detections if self.detections else 1.0

    @property
    def recall(self) -> float:
        return self.found / self.transitions if self.transitions else 1.0

    def __add__(self, other: CutScore) -> CutScore:
        kinds = {k: [0, 0] for k in {*self.by_kind, *other.by_kind}}
        for d in (self.by_kind, other.by_kind):
            for k, (f, n) in d.items():
                kinds[k][0] += f
                kinds[k][1] += n
        return CutScore(
            self.detections + other.detections,
            self.correct + other.correct,
            self.transitions + other.transitions,
            self.found + other.found,
            kinds,
            self.missed + other.missed,
            self.false + other.false,
        )


def span(t: dict[str, Any]) -> tuple[int, int]:
    """First and last frame of a labelled transition (a cut: its frame twice)."""
    return (t["frame"], t["frame"]) if t["type"] == "cut" else (t["start"], t["end"] - 1)


def score_cuts(
    detected: list[int], transitions: list[dict[str, Any]], video: str = "", tolerance: int = TOLERANCE
) -> CutScore:
    """Score one video's detected cuts against its labelled transitions (see the module docstring)."""
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0 frames, got {tolerance}")
    spans = [span(t) for t in transitions]
    hit = [any(a - tolerance <= d <= b + tolerance for a, b in spans) for d in detected]
    s = CutScore(detections=len(detected), correct=sum(hit), transitions=len(transitions))
    for t, (a, b) in zip(transitions, spans, strict=True):
        ok = any(a - tolerance <= d <= b + tolerance for d in detected)
        s.found += ok
        s.by_kind.setdefault(t["type"], [0, 0])
        s.by_kind[t["type"]][0] += ok
        s.by_kind[t["type"]][1] += 1
        if not ok:
            s.missed.append(f"{video}@{a} ({t['type']})")
    s.false = [f"{video}@{d}" for d, h in zip(detected, hit, strict=True) if not h]
    return s


def scan(path: str | Path, configs: dict[str, SplitConfig]) -> dict[str, tuple[list[int], list[float]]]:
    """Decode ``path`` once and run every configured detector on it: name -> (cuts, content scores).

    The same frames and the same code as ``split_video`` (without writing clips), so several detectors
    can be compared for the cost of one decode.
    """
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        dets = {k: detect.CutDetector(c, rate) for k, c in configs.items()}
        found: dict[str, list[int]] = {k: [] for k in configs}
        sizes: dict[int, tuple[int, int]] = {}
        frames: dict[tuple[int, int], Any] = {}
        for n, frame in enumerate(container.decode(stream)):
            frames.clear()
            for k, d in dets.items():
                w = configs[k].detect_width
                if w not in sizes:
                    sizes[w] = detect.detect_size(frame.width, frame.height, w)
                if sizes[w] not in frames:
                    frames[sizes[w]] = detect.detector_frame(frame, sizes[w])
                found[k] += d.push(n, frames[sizes[w]])
        for k, d in dets.items():
            found[k] += d.finish()
    return {k: (sorted(found[k]), dets[k].scores) for k in configs}


def pyscenedetect_defaults(path: str | Path, kind: str = "content") -> list[int]:
    """Cuts PySceneDetect finds on its own (its decoder, its downscaling, default settings of ``kind``)."""
    import scenedetect

    detectors = {"content": scenedetect.ContentDetector, "adaptive": scenedetect.AdaptiveDetector}
    if kind not in detectors:
        raise ValueError(f"kind must be one of {sorted(detectors)}, got {kind!r}")
    scenes = scenedetect.detect(str(path), detectors[kind]())
    return [start.frame_num for start, _ in scenes[1:]]


#: How a clip's recorded fate reads as a labelled expectation.
def fate(clip: dict[str, Any]) -> str:
    """``keep`` / ``short`` / ``static`` / ``erratic`` / ``blurry`` / ``exposure`` / ``text`` for a report clip.

    A clip dropped only as a near-duplicate (dedup) passed every per-video filter: ``keep``.
    """
    stage, reason = clip.get("stage"), clip.get("reason", "")
    if clip["status"] == "kept" or stage == "dedup":
        return "keep"
    if stage == "split":
        return "short"
    if stage == "motion":
        return "static" if reason.startswith("static") else "erratic"
    if stage == "quality":
        return "blurry" if reason.startswith("blurry") else "exposure"
    return stage or "?"


def filter_decisions(clips: list[dict[str, Any]], shots: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each labelled shot with the fate of the clip that covers most of it (None if no clip does)."""
    rows = []
    for s in shots:
        best, overlap = None, 0
        for c in clips:
            o = min(s["end"], c["end_frame"]) - max(s["start"], c["start_frame"])
            if o > overlap:
                best, overlap = c, o
        rows.append(
            {
                "start": s["start"],
                "end": s["end"],
                "source": s["source"],
                "effect": s.get("effect", ""),
                "expect": s["expect"],
                "got": fate(best) if best else None,
                "clip": (best["start_frame"], best["end_frame"]) if best else None,
                "reason": best.get("reason", "") if best else "",
                "metrics": best.get("metrics", {}) if best else {},
            }
        )
    return rows
