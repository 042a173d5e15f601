"""Curation throughput: seconds of 720p video processed per wall second, per stage, local vs Ray.

Synthetic 720p30 H.264 footage (pans over scikit-image photos with a hard cut every few seconds,
made before timing starts) goes through the full pipeline with 2 workers, once on the local
executor and once on Ray (when installed). Per-stage figures are video seconds per CPU second of
that stage, summed over workers (so "x real time per core"); the wall figures are end to end,
including worker start-up, dedup, sharding (frames resized to 256 rows into zarr) and the report.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from cosmos_sim.bench.common import BenchResult, check_at_least, config_error
from cosmos_sim.curate import CurateConfig, curate, synth

SIZE = (1280, 720)
FPS = 30
PER_VIDEO_STAGES = ("decode", "transcode", "motion", "quality", "text", "caption", "embed")


@dataclass(frozen=True)
class Config:
    """Options of ``cosmos-sim bench curate`` (``--quick``: at most 2 videos of 8 s)."""

    videos: int = 4
    """Synthetic 720p videos."""
    seconds: float = 20.0
    """Length of each video (a hard cut every 4 s)."""
    executors: tuple[str, ...] = ()
    """Executors timed, "local" and/or "ray" (empty: local, and Ray when installed)."""

    def __post_init__(self) -> None:
        check_at_least("curate", self, 1, "videos")
        if self.seconds <= 0:
            raise config_error("curate", "seconds", self.seconds, "a length > 0")
        unknown = [e for e in self.executors if e not in ("local", "ray")]
        if unknown:
            raise config_error("curate", "executors", self.executors, "local and/or ray")


def make_footage(root: Path, n_videos: int, seconds: float, shot_s: float = 4.0) -> float:
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


def run_once(raw: Path, out: Path, executor: str, workers: int) -> dict:
    t0 = time.perf_counter()
    summary = curate(raw, out, CurateConfig(executor=executor, workers=workers, progress=False))
    summary["wall"] = time.perf_counter() - t0
    return summary


def run(config: Config, out_dir: str, quick: bool = False) -> BenchResult:
    """Time the pipeline on each executor (default: local, and Ray when installed); nothing is written into
    ``out_dir`` but the result."""
    cfg = config
    if quick:
        cfg = dataclasses.replace(cfg, videos=min(cfg.videos, 2), seconds=min(cfg.seconds, 8.0))
    n_videos, seconds = cfg.videos, cfg.seconds
    executors = cfg.executors
    if not executors:
        executors = ("local", "ray") if importlib.util.find_spec("ray") else ("local",)
    rows, figures = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw"
        raw.mkdir()
        video_s = make_footage(raw, n_videos, seconds)
        for ex in executors:
            s = run_once(raw, Path(tmp) / f"out_{ex}", ex, workers=2)
            st = s["stage_seconds"]
            for stage in PER_VIDEO_STAGES:
                x = video_s / st[stage] if st.get(stage) else float("inf")
                rows.append(
                    {
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
                        "executor": ex,
                        "stage": stage,
                        "cpu_s": round(secs, 2),
                        "x_realtime_per_core": round(video_s / secs, 1),
                    }
                )
            wall = {
                "per-video stages, 2 workers": s["timings"]["videos_wall"],
                "dedup": s["timings"]["dedup"],
                "shard (kept clips only)": s["timings"]["shard"],
                "end to end, 2 workers": s["wall"],
            }
            for stage, secs in wall.items():
                rows.append(
                    {
                        "executor": ex,
                        "stage": f"{stage} (wall)",
                        "wall_s": round(secs, 2),
                        "x_realtime_wall": round(video_s / max(secs, 1e-9), 1),
                    }
                )
            figures[f"{ex}_per_video_stages_x_realtime_wall_2_workers"] = round(
                video_s / wall["per-video stages, 2 workers"], 2
            )
            figures[f"{ex}_per_video_stages_x_realtime_per_core"] = round(video_s / cpu, 2)
            figures[f"{ex}_end_to_end_x_realtime_wall_2_workers"] = round(video_s / s["wall"], 2)
            figures[f"{ex}_clips_kept"] = s["clips_kept"]
    notes = (
        f"{n_videos} synthetic {SIZE[0]}x{SIZE[1]} {FPS} fps H.264 videos of {seconds:g} s ({video_s:g} s in all), "
        f"a hard cut every 4 s, 2 workers on {os.cpu_count()} cores. x_realtime_per_core = video seconds / CPU "
        "seconds spent in the stage (summed over workers); wall rows are elapsed time, x_realtime_wall = input "
        "video seconds / those seconds (per-video stages include worker or Ray start-up; end to end adds "
        "dedup, sharding of the kept clips into zarr at 256 rows, and the report). Transcode is x264 "
        "ultrafast at full resolution. The machine is shared with other jobs, so absolute figures are noisy "
        "and pessimistic."
        + (
            ""
            if "ray" in executors
            else " Ray: not run" + ("." if importlib.util.find_spec("ray") else " (not installed).")
        )
    )
    return BenchResult(name="curate", figures=figures, rows=rows, notes=notes)
