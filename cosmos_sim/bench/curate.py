"""Curation on real and synthetic footage: cut precision/recall, filter decisions, throughput, Ray scaling.

Four tables:

* Cut detection: every shot detector of ``SplitConfig.detector`` (fed split's decode pass, via
  ``evaluate.scan``), the pipeline's own cuts ("pipeline"), and PySceneDetect's defaults on its own
  decoding (``scenedetect.detect`` with ``ContentDetector()`` / ``AdaptiveDetector()``), on the labelled
  real footage of ``benchmarks/curate_real`` and on the synthetic throughput footage.
* Filter decisions: each labelled real shot, the fate it should get and the fate the pipeline gave it.
* Issue 23's street video: where it split, and the HSV content spike at the cut against the median.
* Throughput: synthetic 720p30 H.264 footage (pans over scikit-image photos, a hard cut every 4 s,
  made before timing starts) through the full pipeline, on the local executor and on Ray (when
  installed), with 1 and 2 workers. Per-stage figures are video seconds per CPU second of that stage,
  summed over workers ("x real time per core"); wall figures are end to end.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cosmos_sim.bench.common import BenchResult, check_at_least, config_error
from cosmos_sim.curate import CurateConfig, curate, evaluate, synth
from cosmos_sim.curate.detect import DETECTORS
from cosmos_sim.curate.pipeline import VideoTask, process_video
from cosmos_sim.curate.split import SplitConfig

SIZE = (1280, 720)
FPS = 30
SHOT_S = 4.0
PER_VIDEO_STAGES = ("decode", "transcode", "motion", "quality", "text", "caption", "embed")
TARGET_X_REALTIME = 5.0
PYSCENEDETECT = ("content", "adaptive")


@dataclass(frozen=True)
class Config:
    """Options of ``cosmos-sim bench curate`` (``--quick``: at most 2 synthetic videos of 8 s, 2 workers only,
    and only the pipeline's cuts scored on them)."""

    videos: int = 4
    """Synthetic 720p videos for the throughput runs."""
    seconds: float = 20.0
    """Length of each synthetic video (a hard cut every 4 s)."""
    executors: tuple[str, ...] = ()
    """Executors timed, "local" and/or "ray" (empty: local, and Ray when installed)."""
    workers: tuple[int, ...] = (1, 2)
    """Worker counts timed on each executor (the scaling figure compares 2 with 1)."""
    real_set: str = ""
    """Folder of the labelled real footage ("": benchmarks/curate_real of this checkout)."""
    real_videos: tuple[str, ...] = ()
    """Labelled videos to use (empty: all of them)."""

    def __post_init__(self) -> None:
        check_at_least("curate", self, 1, "videos")
        if self.seconds <= 0:
            raise config_error("curate", "seconds", self.seconds, "a length > 0")
        unknown = [e for e in self.executors if e not in ("local", "ray")]
        if unknown:
            raise config_error("curate", "executors", self.executors, "local and/or ray")
        if not self.workers or min(self.workers) < 1:
            raise config_error("curate", "workers", self.workers, "worker counts >= 1")


def make_footage(root: Path, n_videos: int, seconds: float, shot_s: float = SHOT_S) -> float:
    """``n_videos`` 720p videos of ``seconds`` each with a cut every ``shot_s``; returns total seconds."""
    shot = round(shot_s * FPS)
    for v in range(n_videos):
        shots, left = [], round(seconds * FPS)
        k = v
        while left > 0:
            n = min(shot, left)
            name = synth.PHOTOS[k % len(synth.PHOTOS)]
            shots.append(synth.pan_photo(name, n, SIZE, (3.0 * (-1) ** k, 0.5)))
            left -= n
            k += 1
        frames, _ = synth.cut_video(shots)
        synth.write_video(root / f"video{v:02d}.mp4", frames, FPS)
    return n_videos * seconds


def synthetic_labels(n_videos: int, seconds: float) -> dict[str, Any]:
    """The labels of ``make_footage``'s videos (a cut every ``SHOT_S``)."""
    n, shot = round(seconds * FPS), round(SHOT_S * FPS)
    cuts = [{"type": "cut", "frame": f} for f in range(shot, n, shot)]
    return {f"video{v:02d}.mp4": {"transitions": cuts, "shots": []} for v in range(n_videos)}


def run_once(raw: Path, out: Path, executor: str, workers: int) -> dict:
    t0 = time.perf_counter()
    summary = curate(raw, out, CurateConfig(executor=executor, workers=workers, progress=False))
    summary["wall"] = time.perf_counter() - t0
    return summary


def pipeline_results(out: Path) -> dict[str, dict[str, Any]]:
    """Each video's ``result.json`` of a finished pipeline run, by video name."""
    results = {}
    for p in (out / "work").glob("*/result.json"):
        r = json.loads(p.read_text())
        results[r["video"]] = r
    return results


def score_detectors(
    root: Path, videos: dict[str, Any], pipeline: dict[str, dict[str, Any]], others: bool = True
) -> tuple[dict[str, evaluate.CutScore], dict[str, list[float]]]:
    """name -> CutScore over ``videos`` for the pipeline and (``others``) every detector and PySceneDetect's
    defaults; and each video's HSV content scores (when ``others``)."""
    configs = {d: SplitConfig(detector=d) for d in DETECTORS} if others else {}
    kinds = PYSCENEDETECT if others else ()
    scores = {k: evaluate.CutScore() for k in ("pipeline", *configs, *(f"pyscenedetect {k}" for k in kinds))}
    content_scores = {}
    for name, labels in videos.items():
        t = labels["transitions"]
        if configs:
            found = evaluate.scan(root / name, configs)
            for k, (cuts, _) in found.items():
                scores[k] += evaluate.score_cuts(cuts, t, name)
            content_scores[name] = found["adaptive"][1]
        for k in kinds:
            scores[f"pyscenedetect {k}"] += evaluate.score_cuts(
                evaluate.pyscenedetect_defaults(root / name, k), t, name
            )
        if name in pipeline:
            scores["pipeline"] += evaluate.score_cuts(pipeline[name].get("cuts", []), t, name)
    return scores, content_scores


def cut_rows(set_name: str, scores: dict[str, evaluate.CutScore]) -> list[dict[str, Any]]:
    rows = []
    for k, s in scores.items():
        if not s.transitions:
            continue
        rows.append(
            {
                "case": "Cut detection",
                "footage": set_name,
                "detector": k,
                "transitions": s.transitions,
                "found": s.found,
                "detections": s.detections,
                "correct": s.correct,
                "precision": round(s.precision, 3),
                "recall": round(s.recall, 3),
                "by kind (found/labelled)": " ".join(
                    f"{t} {f}/{n}" for t, (f, n) in sorted(s.by_kind.items())
                ),
                "missed": " ".join(s.missed[:6]) + (" ..." if len(s.missed) > 6 else ""),
                "false cuts": " ".join(s.false[:6]) + (" ..." if len(s.false) > 6 else ""),
            }
        )
    return rows


def key(name: str) -> str:
    return name.replace("+", "_").replace(" ", "_")


def real_footage(cfg: Config, tmp: Path, rows: list, figures: dict) -> str:
    """Cut scores, filter decisions and the street case on the labelled real set; returns a note."""
    root = Path(cfg.real_set) if cfg.real_set else evaluate.REAL_SET
    labels = evaluate.load_labels(root)
    videos = {k: v for k, v in labels["videos"].items() if not cfg.real_videos or k in cfg.real_videos}
    missing = sorted(set(cfg.real_videos) - set(videos))
    if missing:
        raise config_error("curate", "real_videos", cfg.real_videos, f"names from {sorted(labels['videos'])}")
    # the per-video stages of the pipeline (split, filters, caption, embed) with its default config, in this
    # process: cuts and filter decisions are theirs (dedup, sharding and the report add nothing to them)
    pipeline_cfg = CurateConfig(progress=False)
    pipeline = {}
    for name in videos:
        task = VideoTask(str(root / name), name, str(tmp / "real_out"), "", pipeline_cfg)
        pipeline[name] = process_video(task)
        if pipeline[name]["status"] != "done":
            raise RuntimeError(f"the pipeline could not process {root / name}: {pipeline[name]['reason']}")
    scores, content_scores = score_detectors(root, videos, pipeline)
    rows += cut_rows("real (labelled)", scores)
    for k, s in scores.items():
        figures[f"real_cut_precision_{key(k)}"] = round(s.precision, 3)
        figures[f"real_cut_recall_{key(k)}"] = round(s.recall, 3)
    figures["real_transitions"] = scores["pipeline"].transitions

    correct = total = 0
    for name, v in videos.items():
        for d in evaluate.filter_decisions(pipeline[name]["clips"], v["shots"]):
            ok = d["expect"] == d["got"]
            correct, total = correct + ok, total + 1
            m = d["metrics"]
            rows.append(
                {
                    "case": "Filter decisions on real footage",
                    "video": name,
                    "frames": f"{d['start']}-{d['end']}",
                    "source": d["source"] + (f" ({d['effect']})" if d["effect"] else ""),
                    "expect": d["expect"],
                    "got": d["got"],
                    "ok": "yes" if ok else "NO",
                    "motion": round(m["motion"], 4) if "motion" in m else None,
                    "sharpness": round(m["sharpness"], 1) if "sharpness" in m else None,
                    "brightness": round(m["brightness"], 3) if "brightness" in m else None,
                    "text_words": m.get("text_words"),
                }
            )
    figures["real_filter_decisions_correct"] = correct
    figures["real_filter_decisions"] = total

    if "street_cut.mp4" in videos:
        sc = np.asarray(content_scores["street_cut.mp4"])
        cut = videos["street_cut.mp4"]["transitions"][0]["frame"]
        got = pipeline["street_cut.mp4"].get("cuts", [])
        figures["street_cut_split_at_labelled_cut"] = int(
            any(abs(c - cut) <= evaluate.TOLERANCE for c in got)
        )
        figures["street_cut_hsv_spike"] = round(float(sc[cut]), 1)
        figures["street_cut_hsv_median"] = round(float(np.median(sc)), 2)
        rows.append(
            {
                "case": "Issue 23: street video, 720p 25 fps 7.6 s, one hard cut at 4.6 s",
                "labelled cut": cut,
                "pipeline cuts": " ".join(map(str, got)) or "none",
                "HSV score at the cut": round(float(sc[cut]), 1),
                "median HSV score": round(float(np.median(sc)), 2),
                "spike / median": round(float(sc[cut] / np.median(sc)), 1),
                "clips kept": sum(c["status"] == "kept" for c in pipeline["street_cut.mp4"]["clips"]),
            }
        )
    return (
        f"Real footage: {len(videos)} labelled videos from Debian's opencv-doc ({root.name}/labels.json; "
        f"cuts and fades checked by eye), {scores['pipeline'].transitions} transitions; a detection counts when "
        f"within {evaluate.TOLERANCE} frames of a labelled cut or inside a fade/dissolve. 'pipeline' is "
        "cosmos-sim curate with its defaults; the detector rows feed split's decode pass to each "
        "SplitConfig.detector; 'pyscenedetect ...' is scenedetect.detect() with that detector's defaults "
        "on its own decoder. "
    )


def throughput(
    cfg: Config, executors: tuple[str, ...], tmp: Path, rows: list, figures: dict, quick: bool = False
) -> float:
    raw = tmp / "raw"
    raw.mkdir()
    video_s = make_footage(raw, cfg.videos, cfg.seconds)
    synthetic = synthetic_labels(cfg.videos, cfg.seconds)
    walls: dict[tuple[str, int], float] = {}
    for ex in executors:
        for workers in sorted(cfg.workers, reverse=True):  # the most workers first: their table leads
            s = run_once(raw, tmp / f"out_{ex}_{workers}", ex, workers=workers)
            walls[ex, workers] = s["timings"]["videos_wall"]
            w_key = f"{workers}_worker" + ("s" if workers > 1 else "")
            if workers != max(cfg.workers):
                rows.append(
                    {
                        "case": "Throughput",
                        "executor": ex,
                        "stage": f"per-video stages, {workers} worker{'s' * (workers > 1)} (wall)",
                        "wall_s": round(walls[ex, workers], 2),
                        "x_realtime_wall": round(video_s / walls[ex, workers], 2),
                    }
                )
                figures[f"{ex}_per_video_stages_x_realtime_wall_{w_key}"] = round(
                    video_s / walls[ex, workers], 2
                )
                continue
            st = s["stage_seconds"]
            for stage in PER_VIDEO_STAGES:
                x = video_s / st[stage] if st.get(stage) else float("inf")
                rows.append(
                    {
                        "case": "Throughput",
                        "executor": ex,
                        "stage": stage,
                        "cpu_s": round(st.get(stage, 0.0), 2),
                        "x_realtime_per_core": round(x, 1),
                    }
                )
                figures[f"{ex}_{stage}_x_realtime_per_core"] = round(x, 1)
            cpu = sum(st.get(k, 0.0) for k in PER_VIDEO_STAGES)
            no_tx = cpu - st.get("transcode", 0.0)
            for stage, secs in (("all per-video stages", cpu), ("per-video stages without transcode", no_tx)):
                rows.append(
                    {
                        "case": "Throughput",
                        "executor": ex,
                        "stage": stage,
                        "cpu_s": round(secs, 2),
                        "x_realtime_per_core": round(video_s / secs, 1),
                    }
                )
            wall = {
                f"per-video stages, {w_key.replace('_', ' ')}": s["timings"]["videos_wall"],
                "dedup": s["timings"]["dedup"],
                "shard (kept clips only)": s["timings"]["shard"],
                f"end to end, {w_key.replace('_', ' ')}": s["wall"],
            }
            for stage, secs in wall.items():
                rows.append(
                    {
                        "case": "Throughput",
                        "executor": ex,
                        "stage": f"{stage} (wall)",
                        "wall_s": round(secs, 2),
                        "x_realtime_wall": round(video_s / max(secs, 1e-9), 1),
                    }
                )
            figures[f"{ex}_per_video_stages_x_realtime_wall_{w_key}"] = round(
                video_s / s["timings"]["videos_wall"], 2
            )
            figures[f"{ex}_per_video_stages_x_realtime_per_core"] = round(video_s / cpu, 2)
            figures[f"{ex}_end_to_end_x_realtime_wall_{w_key}"] = round(video_s / s["wall"], 2)
            figures[f"{ex}_clips_kept"] = s["clips_kept"]
            if ex == executors[0]:
                out = tmp / f"out_{ex}_{workers}"
                scores, _ = score_detectors(raw, synthetic, pipeline_results(out), others=not quick)
                rows[:0] = cut_rows("synthetic (throughput footage)", scores)
                for k, sc in scores.items():
                    figures[f"synthetic_cut_precision_{key(k)}"] = round(sc.precision, 3)
                    figures[f"synthetic_cut_recall_{key(k)}"] = round(sc.recall, 3)
        if len(cfg.workers) > 1:
            lo, hi = min(cfg.workers), max(cfg.workers)
            figures[f"{ex}_speedup_{hi}_vs_{lo}_workers"] = round(walls[ex, lo] / walls[ex, hi], 2)
    return video_s


def run(config: Config, out_dir: str, quick: bool = False) -> BenchResult:
    """Score the detectors and filters on the labelled footage, then time the pipeline on each executor
    (default: local, and Ray when installed); nothing is written into ``out_dir`` but the result."""
    cfg = config
    if quick:
        cfg = dataclasses.replace(
            cfg, videos=min(cfg.videos, 2), seconds=min(cfg.seconds, 8.0), workers=(max(cfg.workers),)
        )
    executors = cfg.executors
    if not executors:
        executors = ("local", "ray") if importlib.util.find_spec("ray") else ("local",)
    rows: list[dict[str, Any]] = []
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        real_note = real_footage(cfg, Path(tmp), rows, figures)
        video_s = throughput(cfg, executors, Path(tmp), rows, figures, quick)
    ex = executors[0]
    x = figures[f"{ex}_per_video_stages_x_realtime_per_core"]
    speedups = ", ".join(f"{k.split('_')[0]} {v:g}x" for k, v in figures.items() if "_speedup_" in k)
    scaling = (
        f"Scaling, per-video stages' wall time with {max(cfg.workers)} workers against {min(cfg.workers)}: "
        f"{speedups} (on a machine whose other jobs also want its cores, see the load average). "
        if speedups
        else ""
    )
    notes = (
        real_note
        + f"Throughput: {cfg.videos} synthetic {SIZE[0]}x{SIZE[1]} {FPS} fps H.264 videos of {cfg.seconds:g} s "
        f"({video_s:g} s in all), a hard cut every {SHOT_S:g} s, workers {list(cfg.workers)} on {os.cpu_count()} "
        "cores. x_realtime_per_core = video seconds / CPU seconds spent in the stage (summed over workers); "
        f"'all per-video stages' is the end-to-end per-core figure (decode once, detect, transcode, filters, "
        f"caption, embed): {x:g}x on {ex}, target {TARGET_X_REALTIME:g}x. Transcode is x264 ultrafast crf 23 at "
        "the zarr shard height (256 rows; clips_at_shard_height). Wall rows are elapsed time, x_realtime_wall = "
        "input video seconds / those seconds (per-video stages include worker or Ray start-up; end to end adds "
        "dedup, sharding of the kept clips into zarr and the report). The machine is shared with other jobs, so "
        "absolute figures are noisy and pessimistic. "
        + scaling
        + (
            ""
            if "ray" in executors
            else "Ray: not run" + ("." if importlib.util.find_spec("ray") else " (not installed).")
        )
    )
    return BenchResult(name="curate", figures=figures, rows=rows, notes=notes.strip())
