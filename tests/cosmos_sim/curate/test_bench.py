"""``cosmos-sim bench curate`` on small footage: cut scores, filter decisions, street case, throughput rows."""

from __future__ import annotations

import shutil

import pytest

from cosmos_sim.bench import curate as bench
from cosmos_sim.curate.detect import DETECTORS

pytestmark = pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract-ocr not installed")


def test_bench_rows_and_figures(monkeypatch):
    monkeypatch.setattr(bench, "SIZE", (320, 180))  # 720p is for the real run; the structure is the same
    # one worker: in this process (no worker start-up); the real footage: the street video only
    cfg = bench.Config(executors=("local",), workers=(1,), real_videos=("street_cut.mp4",))
    result = bench.run(cfg, "unused", quick=True)
    f, rows = result.figures, result.rows
    cases = list(dict.fromkeys(r["case"] for r in rows))
    assert cases == [
        "Cut detection",
        "Filter decisions on real footage",
        "Issue 23: street video, 720p 25 fps 7.6 s, one hard cut at 4.6 s",
        "Throughput",
    ]
    # cut scores: the street cut is found by the pipeline, PySceneDetect, and not the causal detector
    assert (
        f["real_transitions"] == 1
        and f["real_cut_precision_pipeline"] == f["real_cut_recall_pipeline"] == 1.0
    )
    assert f["real_cut_recall_pyscenedetect_content"] == f["real_cut_recall_adaptive_fade"] == 1.0
    assert f["real_cut_recall_causal"] == 0.0 and f["real_cut_precision_causal"] == 1.0  # no detection at all
    assert (
        f["street_cut_split_at_labelled_cut"] == 1
        and 6 < f["street_cut_hsv_spike"] / f["street_cut_hsv_median"]
    )
    # 2 synthetic videos of 8 s, a cut every 4 s: one cut each
    assert f["synthetic_cut_recall_pipeline"] == f["synthetic_cut_precision_pipeline"] == 1.0
    cut_rows = [r for r in rows if r["case"] == "Cut detection"]
    real = {r["detector"] for r in cut_rows if r["footage"] == "real (labelled)"}
    assert real == {"pipeline", *DETECTORS, "pyscenedetect content", "pyscenedetect adaptive"}
    synthetic = [r["detector"] for r in cut_rows if r["footage"] == "synthetic (throughput footage)"]
    assert synthetic == ["pipeline"]  # --quick: the other detectors are scored on the real footage only
    # filter decisions: both shots of the street video are kept
    decisions = [r for r in rows if r["case"] == "Filter decisions on real footage"]
    assert [(r["expect"], r["got"], r["ok"]) for r in decisions] == [("keep", "keep", "yes")] * 2
    assert f["real_filter_decisions_correct"] == f["real_filter_decisions"] == 2
    # throughput: every stage timed; 2 videos x 2 shots, one shot appears in both videos: 3 kept
    stages = [r["stage"] for r in rows if r["case"] == "Throughput"]
    assert stages[:7] == list(bench.PER_VIDEO_STAGES)
    assert "end to end, 1 worker (wall)" in stages and "shard (kept clips only) (wall)" in stages
    assert all(f[f"local_{s}_x_realtime_per_core"] > 0 for s in bench.PER_VIDEO_STAGES)
    assert f["local_per_video_stages_x_realtime_per_core"] < min(
        f[f"local_{s}_x_realtime_per_core"] for s in bench.PER_VIDEO_STAGES
    )
    assert f["local_clips_kept"] == 3 and "Ray: not run" in result.notes
    assert f["local_per_video_stages_x_realtime_wall_1_worker"] > 0 and not any("speedup" in k for k in f)


def test_bench_config_errors_name_the_value_and_the_fix(tmp_path):
    with pytest.raises(ValueError, match=r"workers = \(0,\), expected worker counts >= 1; pass --workers"):
        bench.Config(workers=(0,))
    with pytest.raises(
        ValueError, match=r"real_videos = \('nope.mp4',\), expected names from \['filters.mp4'"
    ):
        bench.run(bench.Config(real_videos=("nope.mp4",)), "unused", quick=True)
    with pytest.raises(FileNotFoundError, match="labels.json does not exist"):
        bench.run(bench.Config(real_set=str(tmp_path)), "unused", quick=True)
