"""The guardrail where cosmos-sim writes generated video: ``dream`` stores, the demo's world-model videos,
``--no-guardrail`` recorded in the output, and ``cosmos-sim watermark detect``."""

import json

import gymnasium as gym
import numpy as np
import pytest

import cosmos_sim  # noqa: F401  (registers the ids)
from cosmos_sim.cli import main
from cosmos_sim.data.dream import DreamConfig, dream
from cosmos_sim.data.store import TrajectoryStore
from cosmos_sim.demo import DemoConfig, _physics_model, _world_model
from cosmos_sim.envs.wfm_env import DEFAULT_CHECKPOINT
from cosmos_sim.guardrail import DISABLED, provenance, read_metadata, write_video
from cosmos_sim.guardrail.watermark import Watermarker, detect_video

GT_ID = "cosmos_sim/Manipulation-GT-v0"


def _dream(tiny_wfm, out, **kw):
    cfg = DreamConfig(
        model=tiny_wfm,
        source=GT_ID,
        episodes=2,
        out=str(out),
        max_steps=4,
        workers=1,
        block=2,
        progress=False,
        **kw,
    )
    dream(cfg, command="test")
    return TrajectoryStore.open(out)


def test_dreamed_frames_are_watermarked_and_the_store_says_how(tiny_wfm, tmp_path, capsys):
    store = _dream(tiny_wfm, tmp_path / "on.zarr")
    assert store.attrs["guardrail"]["enabled"] and store.attrs["guardrail"]["watermark"]
    rgb = store.episode(0)["rgb"]
    assert np.array_equal(rgb[0], gym.make(GT_ID).reset(seed=0)[0])  # the given start frame is left alone
    assert detect_video(rgb[1:]).fraction == 1.0 and not detect_video(rgb[:1]).detected
    capsys.readouterr()
    assert main(["watermark", "detect", str(tmp_path / "on.zarr")]) == 0
    assert f'"model": "{tiny_wfm}"' in capsys.readouterr().out.replace("\\", "/")


def test_no_guardrail_leaves_the_dream_as_the_model_made_it_and_says_so(tiny_wfm, tmp_path, capsys):
    on = _dream(tiny_wfm, tmp_path / "on.zarr")
    off = _dream(tiny_wfm, tmp_path / "off.zarr", guardrail=False)
    assert off.attrs["guardrail"] == DISABLED and "guardrail disabled" in capsys.readouterr().out
    a, b = on.episode(0)["rgb"], off.episode(0)["rgb"]
    assert not detect_video(b[1:]).detected and np.abs(a.astype(int) - b).max() <= 20  # only the mark differs
    assert main(["watermark", "detect", str(tmp_path / "off.zarr")]) == 1


@pytest.mark.parametrize("guardrail", [True, False])
def test_the_demo_world_model_videos_are_guarded_and_carry_provenance(tmp_path, guardrail):
    cfg = DemoConfig(out=str(tmp_path), wfm_steps=3, guardrail=guardrail)
    _world_model(cfg, tmp_path)
    _physics_model(cfg, tmp_path)
    for name, model in (
        ("wfm_vs_gt.mp4", DEFAULT_CHECKPOINT),
        ("wfm_vs_gt.gif", DEFAULT_CHECKPOINT),
        ("physics_wfm_vs_gt.gif", cfg.physics_model),
    ):
        meta = read_metadata(tmp_path / name)
        assert meta["model"].endswith(model) and len(meta["model_sha"]) == 16 and meta["seed"] == 100000
        assert meta == json.loads((tmp_path / f"{name}.json").read_text())
        if guardrail:
            assert meta["guardrail"]["enabled"] and "watermark" in meta["guardrail_fired"], name
            assert main(["watermark", "detect", str(tmp_path / name)]) == 0, name
        else:
            assert meta["guardrail"] == DISABLED
            assert main(["watermark", "detect", str(tmp_path / name)]) == 1, name


def test_the_flags_are_there(capsys):
    for cmd in ("demo", "dream"):
        with pytest.raises(SystemExit):
            main([cmd, "--help"])
        assert "--no-guardrail" in capsys.readouterr().out


def test_watermark_detect_reports_provenance_and_exit_status(tmp_path, capsys):
    from skimage import data

    frames = np.stack([np.roll(data.coffee()[::3, ::3], 4 * i, axis=1) for i in range(4)])  # 200x134
    marked, _ = Watermarker().process(frames)
    write_video(tmp_path / "ours.mp4", marked, 10, provenance(prompt="coffee", seed=5))
    write_video(tmp_path / "theirs.mp4", frames, 10, {})
    assert main(["watermark", "detect", str(tmp_path / "ours.mp4")]) == 0
    out = capsys.readouterr().out
    assert "watermark found in 4 of 4 frames" in out and '"seed": 5' in out
    assert main(["watermark", "detect", str(tmp_path / "theirs.mp4"), "--json"]) == 1
    r = json.loads(capsys.readouterr().out)
    assert r["frames_with_watermark"] == 0 and r["payload"] == "c05a17e7"
    (tmp_path / "ours.mp4.json").unlink()
    assert read_metadata(tmp_path / "ours.mp4")["prompt"] == "coffee"  # from the MP4's own comment tag
    assert main(["watermark", "detect", str(tmp_path / "nothing.mp4")]) == 2
    assert "does not exist" in capsys.readouterr().err
