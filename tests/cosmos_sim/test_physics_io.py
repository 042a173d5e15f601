"""The physics benchmark for any model: ``--export`` writes the held-out clips, masks and manifest, and
``--predictions`` scores videos written elsewhere; round trip: the GT continuations score the ceiling, and
copy-last or physical-variance videos score exactly their in-process rows."""

import json
import shutil

import numpy as np
import pytest

from cosmos_sim.bench import physics as pb
from cosmos_sim.bench import run_benchmark
from cosmos_sim.errors import ConfigError
from cosmos_sim.eval.physics_io import (
    FilePredictor,
    episode_id,
    read_frames,
    read_manifest,
    write_predictions,
)
from cosmos_sim.eval.predictors import Episode, PhysicalVariance
from cosmos_sim.eval.rollouts import gt_episode

CONTEXT, HORIZON, SEED = 2, 3, 100000


def config(**kw) -> pb.Config:
    base = dict(
        scenarios=("Bounce",),
        context=CONTEXT,
        horizon=HORIZON,
        seeds=1,
        baselines=("copy-last", "physical-variance"),
        device="cpu",
        consistency=False,
        video=False,
    )
    return pb.Config(**{**base, **kw})


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    d = tmp_path_factory.mktemp("physics_io")
    result = run_benchmark("physics", str(d / "out_export"), config=config(export=str(d / "export")))
    return d, result, gt_episode("Bounce", SEED, CONTEXT + HORIZON)


def test_export_writes_the_clips_the_masks_and_the_manifest(exported):
    d, result, gt = exported
    export = d / "export"
    assert result.figures["exported_episodes"] == 1
    manifest = read_manifest(export)
    eid = episode_id("Bounce", SEED)
    assert manifest["context"] == CONTEXT and manifest["horizon"] == HORIZON and manifest["seeds"] == [SEED]
    (entry,) = manifest["episodes"]
    assert entry["id"] == eid and entry["env_id"] == "cosmos_sim/Physics-Bounce-GT-v0"
    assert np.array_equal(read_frames(export / entry["context_png"]), gt.frames[:CONTEXT])  # lossless
    mp4 = read_frames(export / entry["context_mp4"])
    assert mp4.shape == (CONTEXT, 64, 64, 3) and np.abs(mp4.astype(int) - gt.frames[:CONTEXT]).mean() < 8
    masks = np.load(export / entry["masks"])
    assert np.array_equal(masks["seg"], gt.segs[CONTEXT:])  # the continuation's, not the context's
    assert list(masks["names"]) == [gt.labels[i] for i in masks["ids"]] and set(masks["names"]) == set(
        gt.objects
    )
    assert (export / "predictions").is_dir() and json.loads((d / "out_export" / "physics.json").read_text())


def score(d, name, videos, mp4=False):
    """Copy the export, write ``videos`` as its predictions and run the benchmark on them (shared parts dir)."""
    target = d / f"export_{name}"
    shutil.copytree(d / "export", target, dirs_exist_ok=True)
    write_predictions(target, videos, mp4=mp4)
    result = pb.evaluate(config(predictions=str(target), model="ignored"), d / "scores", write=False)
    rows = {r["predictor"]: r for r in result.rows if r["case"].startswith("Overall")}
    return rows[target.name], rows


def test_gt_continuations_scored_as_predictions_give_the_ceiling(exported):
    d, _, gt = exported
    whole = score(d, "gt_whole", {episode_id("Bounce", SEED): gt.frames})[
        0
    ]  # context + horizon: context dropped
    row, _ = score(d, "gt", {episode_id("Bounce", SEED): gt.frames[CONTEXT:]})
    assert row["psnr_db"] == pb.PSNR_CAP_DB and row["ssim"] == pytest.approx(1.0) and row["mse"] == 0
    part = next((d / "scores" / pb.PARTS_DIR).glob("export_gt__Bounce__*.json"))
    means = json.loads(part.read_text())["means"]
    assert means["object_iou"] == means["object_iou_ceiling"] and row["object_iou"] == means["object_iou"]
    assert {k: whole[k] for k in pb.METRICS} == {k: row[k] for k in pb.METRICS}


def test_copy_last_and_physical_variance_files_score_their_in_process_rows(exported):
    d, _, gt = exported
    eid = episode_id("Bounce", SEED)
    copy_last = np.repeat(read_frames(d / "export" / "context" / eid)[-1:], HORIZON, axis=0)
    row, rows = score(d, "copy", {eid: copy_last})
    assert {k: row[k] for k in pb.METRICS} == {k: rows["copy-last"][k] for k in pb.METRICS}
    ep = Episode(gt.frames[:CONTEXT], env_id=gt.env_id, seed=SEED)
    row, rows = score(d, "variance", {eid: PhysicalVariance().predict(ep, HORIZON)})
    assert {k: row[k] for k in pb.METRICS} == {k: rows["physical-variance"][k] for k in pb.METRICS}
    assert rows["physical-variance"]["psnr_db"] != rows["copy-last"]["psnr_db"]
    # MP4 (lossy) predictions are read too, and score near their lossless twin
    mp4_row, _ = score(d, "copy_mp4", {eid: copy_last}, mp4=True)
    assert abs(mp4_row["psnr_db"] - rows["copy-last"]["psnr_db"]) < 3


def test_predictions_of_another_size_are_resized_and_missing_ones_refused(exported, tmp_path):
    d, _, gt = exported
    target = tmp_path / "export"
    shutil.copytree(d / "export", target)
    with pytest.raises(ConfigError, match=r"1 of 1 predictions are missing .* \['Bounce_100000'\]"):
        pb.evaluate(config(predictions=str(target)), tmp_path / "out")
    big = np.repeat(np.repeat(gt.frames[CONTEXT:], 2, axis=1), 2, axis=2)  # 128x128
    write_predictions(target, {episode_id("Bounce", SEED): big})
    files = FilePredictor(target)
    pred = files.predict(Episode(gt.frames[:CONTEXT], env_id=gt.env_id, seed=SEED), HORIZON)
    assert pred.shape == (HORIZON, 64, 64, 3) and np.abs(pred.astype(int) - gt.frames[CONTEXT:]).max() <= 1
    with pytest.raises(ConfigError, match="has no episode of cosmos_sim/Physics-Bounce-GT-v0 with seed 7"):
        files.predict(Episode(gt.frames[:CONTEXT], env_id=gt.env_id, seed=7), HORIZON)
    with pytest.raises(ConfigError, match="is not a physics export: no manifest.json"):
        FilePredictor(tmp_path)
    with pytest.raises(ValueError, match="pass one"):
        config(export="a", predictions="b")


def test_with_3d_consistency_the_orbit_scene_is_exported_and_scored_back(tmp_path):
    pb.evaluate(config(consistency=True, export=str(tmp_path / "export")), tmp_path / "out")
    manifest = read_manifest(tmp_path / "export")
    assert manifest["scenarios"] == ["Bounce"] and manifest["extra_scenarios"] == ["CameraOrbit"]
    assert [e["scenario"] for e in manifest["episodes"]] == ["Bounce", "CameraOrbit"]
    assert pb.predictions_config(manifest) == {
        "scenarios": ("Bounce",),
        "context": CONTEXT,
        "horizon": HORIZON,
        "seeds": 1,
        "first_seed": SEED,
        "consistency": True,
    }


def test_a_diffusers_video2world_checkpoint_is_scored_through_the_export(exported, tmp_path):
    pytest.importorskip("diffusers")
    from cosmos_sim.eval.physics_io import video2world_predictions
    from cosmos_sim.world_models.cosmos_tiny import tiny_cosmos_checkpoint
    from cosmos_sim.world_models.cosmos_video2world import Video2World, Video2WorldConfig

    d, _, _ = exported
    target = tmp_path / "export"
    shutil.copytree(d / "export", target)
    seen = []

    class Checker:
        def check_text_safety(self, prompt):
            seen.append(prompt)
            return True

        def check_video_safety(self, frames):
            return frames

    small = Video2WorldConfig(
        height=64, width=64, num_frames=9, steps=2, guidance_scale=1.0, max_sequence_length=8
    )
    v2w = Video2World(
        tiny_cosmos_checkpoint(tmp_path / "pipe", pipeline=True), Checker(), "cpu", config=small
    )
    assert video2world_predictions(target, v2w, prompt={"Bounce": "a ball bounces"}) == 1
    assert seen == ["a ball bounces"] and len(read_frames(target / "predictions" / "Bounce_100000")) == 9
    result = pb.evaluate(config(predictions=str(target), baselines=("none",)), tmp_path / "out", write=False)
    (row,) = [r for r in result.rows if r["case"].startswith("Overall")]
    assert row["predictor"] == "export" and 0 < row["psnr_db"] < pb.PSNR_CAP_DB


def test_a_cosmos_diffusers_bundle_is_scored_in_process_like_any_bundle(tmp_path):
    pytest.importorskip("diffusers")
    from cosmos_sim.world_models.cosmos_diffusers import new_world_model
    from cosmos_sim.world_models.cosmos_tiny import tiny_cosmos_checkpoint

    wm = new_world_model(
        tiny_cosmos_checkpoint(tmp_path / "ckpt"),
        action_layout=("noop",),
        frame_size=(64, 64),
        env_id="cosmos_sim/Physics-Bounce-GT-v0",
        context_frames=2,
        sampler_steps=2,
        prompt_tokens=4,
    )
    bundle = wm.save_pretrained(tmp_path / "bundle")
    result = pb.evaluate(config(model=str(bundle), baselines=("none",)), tmp_path / "out", write=False)
    (row,) = [r for r in result.rows if r["case"].startswith("Overall")]
    assert row["predictor"] == "bundle" and row["kind"] == "model" and np.isfinite(row["psnr_db"])


def test_a_diffusers_video2world_checkpoint_is_scored_directly_with_model(exported, tmp_path):
    """``--model PIPELINE_DIR``: the context is resized to the checkpoint's resolution, the predicted frames
    cut out of the generated video and resized back, every prompt goes through the safety checker, and the
    scores equal those of the same videos written through --export/--predictions."""
    pytest.importorskip("diffusers")
    import cosmos_sim.eval.predictors as predictors
    from cosmos_sim.eval.physics_io import video2world_predictions
    from cosmos_sim.world_models.cosmos_tiny import tiny_cosmos_checkpoint
    from cosmos_sim.world_models.cosmos_video2world import Video2World, Video2WorldConfig

    pipe = tiny_cosmos_checkpoint(tmp_path / "pipe", pipeline=True)
    options = '{"height": 32, "width": 32, "steps": 2, "guidance_scale": 1.0, "max_sequence_length": 8}'
    model = predictors.make_predictor(str(pipe), device="cpu", options=options)
    assert isinstance(model, predictors.Video2WorldPredictor)
    d, _, gt = exported
    ep = Episode(gt.frames[:CONTEXT], env_id=gt.env_id, seed=SEED)
    pred = model.predict(ep, HORIZON, seed=SEED)
    assert pred.shape == (HORIZON, *gt.frames.shape[1:]) and pred.dtype == np.uint8
    assert np.array_equal(model.predict(ep, HORIZON, seed=SEED), pred)  # seeded
    assert not np.array_equal(model.predict(ep, HORIZON, seed=SEED + 1), pred)
    prompt = predictors.episode_prompt(ep)
    assert "Bounce" in prompt or "ball" in prompt.lower()

    result = pb.evaluate(
        config(model=str(pipe), model_options=options, baselines=("none",)), tmp_path / "direct", write=False
    )
    (direct,) = [r for r in result.rows if r["case"].startswith("Overall")]
    assert direct["predictor"] == "pipe" and direct["kind"] == "model"

    # the same checkpoint, settings and prompt through the export round trip score the same
    target = tmp_path / "export"
    shutil.copytree(d / "export", target)
    small = Video2WorldConfig(
        height=32, width=32, num_frames=5, steps=2, guidance_scale=1.0, max_sequence_length=8, seed=SEED
    )
    v2w = Video2World(pipe, model._v2w.checker.checker, "cpu", config=small)
    video2world_predictions(target, v2w, prompt=prompt)
    files = pb.evaluate(config(predictions=str(target), baselines=("none",)), tmp_path / "files", write=False)
    (via_files,) = [r for r in files.rows if r["case"].startswith("Overall")]
    assert direct["psnr_db"] == pytest.approx(via_files["psnr_db"], abs=0.3)


def test_model_options_are_refused_for_models_that_are_not_diffusers_pipelines():
    from cosmos_sim.eval.predictors import Video2WorldOptions, make_predictor

    with pytest.raises(ConfigError, match="not one"):
        make_predictor("copy-last", options='{"steps": 2}')
    with pytest.raises(ConfigError, match="unknown \\['stepz'\\]"):
        Video2WorldOptions.from_json('{"stepz": 2}')
