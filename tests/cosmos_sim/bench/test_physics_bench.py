"""`cosmos-sim bench physics`: config checks, outputs, baselines in one table, resuming finished parts.

(Named test_physics_bench.py: tests/envs/test_physics.py already owns the basename.)
"""

import dataclasses
import json

import numpy as np
import pytest

from cosmos_sim.bench import BENCHMARKS, run_benchmark
from cosmos_sim.bench import physics as pb
from cosmos_sim.envs import PHYSICS_SCENARIOS
from cosmos_sim.world_models.checkpoint import CheckpointError
from cosmos_sim.world_models.wfm import WorldModel, tiny_world_model


def save_noop_model(path, frame_size=(64, 64)):
    """The tiny test world model with the physics scenes' 1-D no-op action, saved to ``path``."""
    wm = tiny_world_model("diffusion", context_frames=2, frame_size=frame_size)
    c = wm.config
    cfg = dataclasses.replace(
        c,
        dynamics={**c.dynamics, "action_dim": 1},
        head={**c.head, "action_dim": 1},
        action_layout=("noop",),
        env_id="cosmos_sim/Physics-Bounce-GT-v0",
    )
    WorldModel(cfg, wm.tokenizer).save_pretrained(path, dtype=None)
    return str(path)


def tiny_config(model: str, **kw) -> pb.Config:
    return pb.Config(
        **{
            "model": model,
            "scenarios": ("Bounce",),
            "horizon": 4,
            "seeds": 1,
            "device": "cpu",
            "consistency": False,
            **kw,
        }
    )


def test_registered_and_defaults_follow_the_protocol():
    assert BENCHMARKS["physics"] == "cosmos_sim.bench.physics"
    cfg = pb.Config()
    assert cfg.context == 9 and cfg.horizon == 24 and cfg.seeds == 8 and cfg.first_seed == 100000
    assert cfg.baselines == ("copy-last", "flow", "physical-variance")
    assert len(cfg.scenarios) == 8 and "CameraOrbit" not in cfg.scenarios
    assert set(cfg.scenarios) <= set(PHYSICS_SCENARIOS)


def test_bad_configs_are_refused_with_what_to_change():
    with pytest.raises(ValueError, match=r"unknown physics scenario 'Bounse'; valid: \['FreeFall'"):
        pb.check_config(pb.Config(scenarios=("Bounse",)))
    assert pb.check_config(pb.Config(scenarios=("bounce", "Bounce", "free_fall"))).scenarios == (
        "Bounce",
        "FreeFall",
    )
    with pytest.raises(ValueError, match="do not fit the 49-frame episodes"):
        pb.check_config(pb.Config(context=9, horizon=41))
    with pytest.raises(ValueError, match="must both be >= 1"):
        pb.check_config(pb.Config(horizon=0))
    with pytest.raises(ValueError, match=r"unknown baseline\(s\) \['copy'\]"):
        pb.check_config(pb.Config(baselines=("copy",)))
    with pytest.raises(ValueError, match="with --predictions drop it from --baselines"):
        pb.check_config(pb.Config(baselines=("one-step",), predictions="somewhere"))


def test_model_errors_come_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="unknown physics scenario"):
        pb.evaluate(tiny_config("copy-last", scenarios=("Nope",)), tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="config.json"):
        pb.evaluate(tiny_config(str(tmp_path / "empty")), tmp_path / "out")
    small = save_noop_model(tmp_path / "tiny32", frame_size=(32, 32))
    with pytest.raises(ValueError, match=r"works on 32x32 \(HxW\) frames but the scenario renders 64x64"):
        pb.evaluate(tiny_config(small, baselines=("none",)), tmp_path / "out32")


def test_run_writes_every_output_and_resumes_finished_parts(tmp_path, monkeypatch):
    model = save_noop_model(tmp_path / "tiny-noop")
    out = tmp_path / "out"
    cfg = tiny_config(model, context=1)
    res = run_benchmark("physics", str(out), config=cfg, command="cosmos-sim bench physics ...")
    data = json.loads((out / "physics.json").read_text())
    assert data["command"] == "cosmos-sim bench physics ..." and data["machine"]["cpu_count"] >= 1
    for name in ("physics.md", "physics_per_frame.png", "physics_Bounce.gif"):
        assert (out / name).stat().st_size > 0, name
    parts = sorted((out / pb.PARTS_DIR).glob("*.json"))
    assert [p.name.split("__")[0] for p in parts] == ["copy_last", "flow", "physical_variance", "tiny_noop"]
    overall = {r["predictor"]: r for r in res.rows if r["case"] == "Overall (mean over scenarios)"}
    assert set(overall) == {"tiny-noop", "copy-last", "flow", "physical-variance"}
    f = res.figures
    # 1-frame context: flow has nothing to measure and equals copy-last; copy-last predicts no motion at all.
    assert f["psnr_db_flow"] == f["psnr_db_copy_last"] and f["spatial_iou_copy_last"] == 0.0
    assert overall["flow"]["note"].startswith("= copy-last")
    assert (
        f["object_iou_physical_variance"] > 0.8 > f["object_iou_copy_last"]
    )  # "as good as physics" vs frozen
    assert f["psnr_db_physical_variance"] > f["psnr_db_copy_last"]
    assert 0.8 < f["object_iou_ceiling"] <= 1.0 and 0.0 <= f["object_iou_tiny_noop"] <= 1.0
    part = json.loads(parts[0].read_text())
    assert len(part["per_frame"]["psnr_db"]) == 4 and part["episodes"] == 1 and part["seeds"] == [100000]
    md = (out / "physics.md").read_text()
    assert "## Overall (mean over scenarios)" in md and "| tiny-noop | model |" in md and "Cosmos paper" in md

    # Rerun: nothing is simulated or predicted again, the figures are the same.
    def no_gt(*a, **k):
        raise AssertionError("a finished part was recomputed")

    monkeypatch.setattr(pb, "gt_episode", no_gt)
    again = pb.evaluate(cfg, out)
    assert again.figures == {**f, "seconds_total": again.figures["seconds_total"]}
    assert (out / "physics.json").is_file()
    # A lost part is the only one recomputed; another config (horizon) gets parts of its own.
    calls = []
    monkeypatch.setattr(pb, "gt_episode", lambda *a: calls.append(a) or _real_gt(*a))
    parts[1].unlink()
    pb.evaluate(cfg, out)
    assert calls == [("Bounce", 100000, 5)] and parts[1].is_file()
    assert np.isclose(
        json.loads(parts[1].read_text())["means"]["psnr_db"], f["psnr_db_flow_Bounce"], atol=1e-4
    )
    pb.evaluate(dataclasses.replace(cfg, horizon=3, baselines=("none",)), out)
    assert len(list((out / pb.PARTS_DIR).glob("*.json"))) == 5


def test_one_step_row_shows_the_model_without_drift(tmp_path):
    model = save_noop_model(tmp_path / "tiny-noop")
    res = pb.evaluate(tiny_config(model, baselines=("one-step", "copy-last"), video=False), tmp_path / "out")
    overall = {r["predictor"]: r for r in res.rows if r["case"] == "Overall (mean over scenarios)"}
    assert overall["tiny-noop one-step"]["kind"] == "one-step" and overall["tiny-noop"]["kind"] == "model"
    assert "object_iou_tiny_noop_one_step" in res.figures and "one-step: the model" in res.notes


_real_gt = pb.gt_episode


def test_3d_consistency_table_ranks_gt_above_a_frozen_video_and_resumes(tmp_path, monkeypatch):
    cfg = pb.Config(
        model="copy-last",
        scenarios=("Bounce",),
        context=1,
        horizon=8,
        seeds=1,
        baselines=("none",),
        device="cpu",
        video=False,
    )
    res = pb.evaluate(cfg, tmp_path)
    rows = {r["predictor"]: r for r in res.rows if r["case"].startswith("3D consistency (")}
    assert list(rows) == ["GT", "copy-last"]
    rec = [r for r in res.rows if r["case"].startswith("3D consistency by reconstruction")]
    assert {r["predictor"] for r in rec} == {"GT", "copy-last"}  # the reconstruction table beside it
    gt, frozen = rows["GT"], rows["copy-last"]
    # The simulator's own orbit frames: matches agree with one epipolar geometry and poses are recovered;
    # a frozen video has no camera motion, so no pose can pass the rotation test.
    assert gt["sampson_error_px"] < 0.5 and gt["pose_success_rate"] > 0.2 and gt["psnr_db"] == pb.PSNR_CAP_DB
    assert frozen["pose_success_rate"] == 0.0 and frozen["psnr_db"] < 30
    assert res.figures["consistency_pose_success_rate_gt"] == gt["pose_success_rate"]
    assert "## 3D consistency" in (tmp_path / "physics.md").read_text()
    monkeypatch.setattr(pb, "gt_episode", lambda *a: (_ for _ in ()).throw(AssertionError("recomputed")))
    assert pb.evaluate(cfg, tmp_path).figures == {
        **res.figures,
        "seconds_total": res.figures["seconds_total"],
    }


def test_change_gain_overrides_the_bundles_and_keys_its_own_parts(tmp_path):
    model = save_noop_model(tmp_path / "tiny-noop")
    out = tmp_path / "out"
    plain = pb.evaluate(tiny_config(model, baselines=("one-step",), video=False), out)
    gained = pb.evaluate(tiny_config(model, baselines=("one-step",), video=False, change_gain=0.5), out)
    assert len(list((out / pb.PARTS_DIR).glob("*.json"))) == 4  # two more parts, nothing reused
    assert plain.figures["psnr_db_tiny_noop"] != gained.figures["psnr_db_tiny_noop"]
    with pytest.raises(
        ValueError, match="--change-gain is for cosmos-sim world models; 'copy-last' is not one"
    ):
        pb.evaluate(tiny_config("copy-last", change_gain=0.5), tmp_path / "x")
