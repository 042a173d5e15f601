"""The whole pipeline on the synthetic footage: every clip's fate, bad inputs, shards, resume, CLI, Ray."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

from cosmos_sim.cli import main
from cosmos_sim.curate import CurateConfig, config_from_dict, curate, load_config
from cosmos_sim.curate.shard import iter_webdataset
from cosmos_sim.data.dataset import TrajectoryWindowDataset
from cosmos_sim.data.store import TrajectoryStore

pytestmark = pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract-ocr not installed")


def fates(report: dict) -> dict[str, list[tuple[str | None, str]]]:
    """video -> [(stage or None, reason)] in clip order."""
    out: dict[str, list] = {}
    for c in report["clips"]:
        out.setdefault(c["video"], []).append((c["stage"], c["reason"]))
    return out


def test_every_clip_gets_the_fate_its_footage_calls_for(curated):
    out, summary, report = curated
    f = fates(report)
    assert [s for s, _ in f["cuts.mp4"]] == [None, "split", None, None]
    assert [s for s, _ in f["static.mp4"]] == ["motion"] and "static" in f["static.mp4"][0][1]
    assert [s for s, _ in f["shake.mp4"]] == ["motion"] and "erratic" in f["shake.mp4"][0][1]
    assert [s for s, _ in f["blur.mp4"]] == ["quality"] and "blurry" in f["blur.mp4"][0][1]
    assert [s for s, _ in f["text.mp4"]] == ["text"]
    assert [s for s, _ in f["sub/zoom.mp4"]] == [None]
    assert [s for s, _ in f["dup_a.mp4"]] == [None]  # the sharper copy stays
    assert [s for s, _ in f["dup_b.mp4"]] == ["dedup"]
    dup = next(c for c in report["clips"] if c["video"] == "dup_b.mp4")
    assert dup["extra"]["duplicate_of"].startswith("dup_a-") and dup["value"] >= 0.95
    zoom = next(c for c in report["clips"] if c["video"] == "sub/zoom.mp4")
    assert "zoom_in" in zoom["tags"] and "zooms in" in zoom["caption"]
    assert summary["clips_kept"] == 5 and summary["dropped_by_stage"] == {
        "split": 1,
        "motion": 2,
        "quality": 1,
        "text": 1,
        "dedup": 1,
    }
    for c in report["clips"]:  # kept clips have their MP4; filter-dropped ones were removed
        assert (c["path"] is not None and (out / c["path"]).is_file()) == (c["stage"] in (None, "dedup"))
        if c["stage"] is not None and c["stage"] != "split":
            assert c["value"] is not None and c["reason"]


def test_bad_inputs_are_skipped_with_the_reason(curated, footage):
    out, summary, report = curated
    skipped = {s["video"]: s["reason"] for s in summary["skipped"]}
    assert set(skipped) == set(footage.bad)
    assert "empty file" in skipped["empty.mp4"]
    assert "no decoder" in skipped["badcodec.mp4"]
    assert all("InvalidDataError" in skipped[v] for v in ("truncated.mp4", "cut_short.mp4", "notes.txt"))
    assert str(footage.root) not in json.dumps(skipped)  # reasons name the file relative to the input
    assert not list((out / "clips").glob("cut_short-*/*"))  # its first clips were written, then removed


def test_report_files_and_contact_sheet(curated):
    out, summary, report = curated
    assert len(report["clips"]) == 11 and report["summary"]["videos"] == 13
    assert (out / "contact_sheet.png").stat().st_size > 1000
    html = (out / "contact_sheet.html").read_text()
    assert html.count("<tr class='kept'>") == 5 and html.count("<tr class='dropped'>") == 6
    assert "dropped by" in (out / "summary.txt").read_text() or "dropped" in summary["text"]
    import pyarrow.parquet as pq  # in the test extra: the Parquet report is tested, never skipped

    table = pq.read_table(out / "report.parquet")
    assert table.num_rows == 11 and set(table.column("status").to_pylist()) == {"kept", "dropped"}
    assert table.column("clip_id").to_pylist() == [c["clip_id"] for c in report["clips"]]
    assert table.column("stage").to_pylist() == [c["stage"] for c in report["clips"]]


def test_shards_are_trajectory_stores_the_dataset_reads(curated):
    out, summary, report = curated
    manifest = json.loads((out / "shards" / "manifest.json").read_text())
    kept = {c["clip_id"]: c for c in report["clips"] if c["status"] == "kept"}
    assert set(manifest["clips"]) == set(kept)
    for name, bucket in manifest["buckets"].items():
        assert name.startswith("320x180_16x9_")
        store = TrajectoryStore.open(out / "shards" / name)
        assert store.n_episodes == len(bucket["clips"]) and store.attrs["fps"] == 30.0
        for i, cid in enumerate(bucket["clips"]):
            ep = store.episode(i)["rgb"]
            assert ep.shape == (kept[cid]["end_frame"] - kept[cid]["start_frame"], 256, 456, 3)
            assert store.attrs["clips"][i]["clip_id"] == cid
    name = next(iter(manifest["buckets"]))
    ds = TrajectoryWindowDataset(out / "shards" / name, context=4, horizon=4, keys=["rgb"])
    item = ds[0]
    assert item["rgb"].shape == (8, 3, 256, 456) and item["rgb"].float().std() > 10


def test_rerun_resumes_and_new_videos_are_processed(curated, footage, tmp_path):
    out, summary, report = curated
    out2 = tmp_path / "out"
    shutil.copytree(out, out2)
    stores = sorted((out2 / "shards").glob("*/zarr.json"))
    stamps = [p.stat().st_mtime_ns for p in stores]
    again = curate(footage.root, out2, CurateConfig(workers=1, progress=False))
    assert again["videos_resumed"] == 13 and again["stage_seconds"] == summary["stage_seconds"]
    assert json.loads((out2 / "report.json").read_text())["clips"] == report["clips"]
    # a new copy of the sharper duplicate: processed, then dropped as a duplicate of dup_a
    raw = tmp_path / "raw"
    shutil.copytree(footage.root, raw)
    shutil.copy(raw / "dup_a.mp4", raw / "zz_copy.mp4")
    third = curate(raw, out2, CurateConfig(workers=1, progress=False))
    assert third["videos_resumed"] == 13 and third["videos_done"] == 9
    assert third["dropped_by_stage"]["dedup"] == 2 and third["clips_kept"] == 5
    assert stores and [p.stat().st_mtime_ns for p in stores] == stamps  # same clips: shards not rewritten


def test_a_failing_stage_is_reported_and_retried(footage, tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(footage.root / "cuts.mp4", raw / "cuts.mp4")
    cfg = config_from_dict({"text": {"tesseract": shutil.which("false")}}, workers=1, progress=False)
    first = curate(raw, tmp_path / "out", cfg)
    assert first["videos_failed"] == 1 and first["skipped"][0]["status"] == "failed"
    assert first["skipped"][0]["reason"].startswith("text stage: RuntimeError: tesseract failed")
    assert not list((tmp_path / "out" / "clips").rglob("*.mp4"))
    again = curate(raw, tmp_path / "out", cfg)
    assert again["videos_resumed"] == 0 and again["videos_failed"] == 1  # tried again, not resumed


def test_webdataset_shards(footage, tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    for name in ("cuts.mp4", "sub/zoom.mp4"):
        shutil.copy(footage.root / name, raw / os.path.basename(name))
    cfg = config_from_dict(
        {"shard": {"format": "webdataset"}, "text": {"enabled": False}}, workers=1, progress=False
    )
    summary = curate(raw, tmp_path / "out", cfg)
    manifest = json.loads((tmp_path / "out" / "shards" / "manifest.json").read_text())
    tars = sorted((tmp_path / "out" / "shards").rglob("*.tar"))
    samples = [s for t in tars for s in iter_webdataset(t)]
    assert len(samples) == summary["clips_kept"] == 4 == len(manifest["clips"])
    for s in samples:
        assert s["frames"].shape[1:] == (180, 320, 3)
        assert (
            s["frames"].shape[0] == s["meta"]["end_frame"] - s["meta"]["start_frame"] and s["meta"]["caption"]
        )


def test_config_files_and_errors(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("workers = 3\n[motion]\nmin_motion = 0.05\n[shard]\nlength_edges_s = [4, 8]\n")
    cfg = load_config(p, executor="local")
    assert cfg.workers == 3 and cfg.motion.min_motion == 0.05 and cfg.shard.length_edges_s == (4, 8)
    p.write_text("[motion]\nmin_movement = 1\n")
    with pytest.raises(ValueError, match=r"unknown keys \['min_movement'\] in config section \[motion\]"):
        load_config(p)
    with pytest.raises(ValueError, match="executor must be 'local' or 'ray'"):
        CurateConfig(executor="spark")
    with pytest.raises(ValueError, match="does not exist"):
        curate(tmp_path / "nope", tmp_path / "out")


def test_cli(footage, tmp_path, capsys):
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(footage.root / "static.mp4", raw / "static.mp4")
    (raw / "empty.mp4").write_bytes(b"")
    assert main(["curate", str(raw), str(tmp_path / "out"), "--workers", "1", "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert (
        "curated 1 of 2 input files" in text and "dropped by motion" in text and "skipped empty.mp4" in text
    )
    assert main(["curate", str(tmp_path / "missing"), str(tmp_path / "out")]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.xdist_group("two_processes")  # one at a time under `pytest -n 2`: each starts 2 workers
def test_ray_executor_gives_the_same_output(curated, footage, tmp_path):
    """All the footage on Ray (a local Ray the executor starts with 2 CPUs and stops): the same summary,
    report and shards as the local worker processes of the ``curated`` run."""
    import ray  # in the test extra: the Ray executor is tested, never skipped

    out, summary, report = curated
    on_ray = curate(footage.root, tmp_path / "ray", CurateConfig(workers=2, executor="ray", progress=False))
    assert not ray.is_initialized()  # the Ray it started is shut down again
    strip = ("timings", "stage_seconds", "text")
    assert {k: v for k, v in on_ray.items() if k not in strip} == {
        k: v for k, v in summary.items() if k not in strip
    }
    assert json.loads((tmp_path / "ray" / "report.json").read_text())["clips"] == report["clips"]
    manifest = json.loads((out / "shards" / "manifest.json").read_text())
    assert json.loads((tmp_path / "ray" / "shards" / "manifest.json").read_text()) == manifest
    for name, bucket in manifest["buckets"].items():
        a, b = (TrajectoryStore.open(d / "shards" / name) for d in (out, tmp_path / "ray"))
        assert a.n_episodes == b.n_episodes == len(bucket["clips"])
        for i in range(a.n_episodes):
            assert np.array_equal(a.episode(i)["rgb"], b.episode(i)["rgb"]), (name, i)


def test_clips_are_transcoded_at_the_shard_height_unless_told_otherwise():
    from cosmos_sim.curate import shard, split

    cfg = CurateConfig()
    assert cfg.video_split().height == cfg.shard.height == 256
    assert (
        CurateConfig(shard=shard.ShardConfig(format="webdataset")).video_split().height == 0
    )  # tars hold MP4s
    assert CurateConfig(clips_at_shard_height=False).video_split().height == 0
    assert CurateConfig(split=split.SplitConfig(height=480)).video_split().height == 480
    assert (
        CurateConfig(clips_at_shard_height=False).video_hash() != cfg.video_hash()
    )  # re-processed on change
