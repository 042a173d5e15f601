"""``cosmos-sim bench curate`` on small footage: every stage timed, figures consistent."""

from __future__ import annotations

import shutil

import pytest

from cosmos_sim.bench import curate as bench

pytestmark = pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract-ocr not installed")


def test_bench_rows_and_figures(monkeypatch):
    monkeypatch.setattr(bench, "SIZE", (320, 180))  # 720p is for the real run; the structure is the same
    result = bench.run(bench.Config(executors=("local",)), "unused", quick=True)
    stages = [r["stage"] for r in result.rows]
    assert stages[:7] == list(bench.PER_VIDEO_STAGES)
    assert "end to end, 2 workers (wall)" in stages and "shard (kept clips only) (wall)" in stages
    f = result.figures
    assert all(f[f"local_{s}_x_realtime_per_core"] > 0 for s in bench.PER_VIDEO_STAGES)
    assert f["local_per_video_stages_x_realtime_per_core"] < min(
        f[f"local_{s}_x_realtime_per_core"] for s in bench.PER_VIDEO_STAGES
    )
    # 2 videos x 2 shots, one shot appears in both videos: 3 kept
    assert f["local_clips_kept"] == 3 and "Ray: not run" in result.notes
