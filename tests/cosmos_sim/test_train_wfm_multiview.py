"""train-wfm --family multiview on driving stores: the recorded store, waypoints, a tiny run; tokenizer fine-tune."""

import json

import numpy as np
import pytest

from cosmos_sim.data.generate import record_noisy_expert
from cosmos_sim.train.latents import future_waypoints
from cosmos_sim.train.tokenizer import Args as TokArgs
from cosmos_sim.train.tokenizer import train as train_tokenizer
from cosmos_sim.train.wfm import Args, store_env_info, train
from cosmos_sim.world_models.tokenizer import Tokenizer
from cosmos_sim.world_models.wfm import WorldModel, tiny_world_model

CAMS = ["front", "front_left", "front_right", "rear", "rear_left", "rear_right"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("mvtrain")
    kw = dict(env_id="cosmos_sim/Driving-GT-v0", max_steps=6)
    record_noisy_expert(str(d / "train.zarr"), episodes=2, seed=0, **kw)
    record_noisy_expert(str(d / "val.zarr"), episodes=1, seed=100000, max_noise=0.0, **kw)
    tiny_world_model("multiview").tokenizer.save_pretrained(d / "tok", dtype=None)
    return d


def test_noisy_expert_records_every_camera_and_the_ego_state(setup):
    from cosmos_sim.data.store import TrajectoryStore

    s = TrajectoryStore.open(setup / "train.zarr")
    assert set(CAMS) | {"ego", "action", "reward", "terminated"} <= set(s.keys()) and "rgb" not in s.keys()
    assert s.attrs["image_keys"] == CAMS and s.attrs["camera_grid"][0] == [
        "front_left",
        "front",
        "front_right",
    ]
    ep = s.episode(0)
    assert ep["front"].shape == (7, 64, 64, 3) and ep["ego"].shape == (7, 6) and ep["action"].shape == (7, 2)
    info = store_env_info(str(setup / "train.zarr"), multiview=True)
    assert info["views"] == CAMS and info["action_layout"] == ["steering", "acceleration"]
    with pytest.raises(ValueError, match="no 'rgb' key"):
        store_env_info(str(setup / "train.zarr"))


def test_future_waypoints_are_in_the_current_ego_frame_and_stop_at_the_episode_end():
    # one episode of 4 rows: the car drives along +y (yaw 90 deg) 1 m per row
    pose = np.array([[0, 0, np.pi / 2], [0, 1, np.pi / 2], [0, 2, np.pi / 2], [0, 3, np.pi / 2]], np.float32)
    last = np.array([0, 0, 0, 1], bool)
    wp = future_waypoints(pose, last, np.array([0, 2]), 3)
    assert wp.shape == (2, 3, 2)
    np.testing.assert_allclose(
        wp[0], [[1, 0], [2, 0], [3, 0]], atol=1e-6
    )  # straight ahead = +x in the ego frame
    np.testing.assert_allclose(wp[1], [[1, 0], [1, 0], [1, 0]], atol=1e-6)  # held at the last row


def test_tiny_multiview_run_ships_a_six_view_bundle(setup):
    out = setup / "run"
    args = Args(
        data=(str(setup / "train.zarr"),),
        val_data=(str(setup / "val.zarr"),),
        tokenizer=str(setup / "tok"),
        family="multiview",
        out=str(out),
        dim=32,
        depth=1,
        heads=2,
        patch=2,
        context_frames=2,
        batch_size=4,
        steps=2,
        eval_every=2,
        eval_episodes=1,
        rollout_steps=4,
        warmup=1,
        waypoints=2,
        progress=False,
    )
    figures = train(args)
    assert figures["step"] == 2 and np.isfinite(figures["val_psnr"]) and figures["copy_psnr"] > 5
    wm = WorldModel.from_pretrained(out / "best", device="cpu")
    cfg = wm.config
    assert cfg.family == "multiview" and cfg.views == tuple(CAMS) and cfg.env_id == "cosmos_sim/Driving-GT-v0"
    assert cfg.dynamics.waypoints == 2 and cfg.head.latent_channels == 6 * 4
    assert len(cfg.latent_mean) == 4  # per latent channel, pooled over the views


def test_tokenizer_fine_tune_starts_from_the_given_checkpoint_on_all_cameras(setup):
    out = setup / "tok_ft"
    args = TokArgs(
        data=(str(setup / "train.zarr"),),
        val_data=(str(setup / "val.zarr"),),
        key=",".join(CAMS),
        init_from=str(setup / "tok"),
        clip_frames=1,
        batch_size=2,
        steps=1,
        lr=1e-9,
        warmup=1,
        eval_every=1,
        eval_clips=6,
        out=str(out),
        progress=False,
        amp=False,
    )
    before = Tokenizer.from_pretrained(setup / "tok", device="cpu")
    train_tokenizer(args)
    after = Tokenizer.from_pretrained(out / "last", device="cpu")
    assert after.config == before.config  # the architecture comes from the checkpoint, not the size flags
    for a, b in zip(after.state_dict().values(), before.state_dict().values(), strict=True):
        assert np.allclose(a.numpy(), b.numpy(), atol=1e-6)  # lr ~0: the fine-tune starts from its weights
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] == 1 and np.isfinite(rows[-1]["val_psnr"])
