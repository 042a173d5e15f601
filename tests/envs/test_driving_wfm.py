"""Driving-WFM-v0: the six-camera world-model env (single and batched) on a tiny random multiview checkpoint."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

import cosmos_sim  # noqa: F401  (registers the ids)
from cosmos_sim.envs import wfm_ids
from cosmos_sim.envs.driving import GRID, DrivingConfig
from cosmos_sim.envs.driving_wfm import DrivingWorldModelEnv, DrivingWorldModelVectorEnv
from cosmos_sim.world_models.wfm import tiny_world_model

ENV_ID = "cosmos_sim/Driving-WFM-v0"
CAMS = ("front", "front_left", "front_right", "rear", "rear_left", "rear_right")


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    path = tmp_path_factory.mktemp("dwfm") / "tiny"
    wm = tiny_world_model("multiview")
    with torch.no_grad():
        wm.head.mlp[-1].bias[1] = -20.0  # never predicts a crash: episodes run on
    wm.save_pretrained(path, dtype=None)
    return str(path)


def test_registered_with_a_vector_entry_point():
    assert ENV_ID in wfm_ids()
    spec = gym.spec(ENV_ID)
    assert spec.vector_entry_point.endswith("DrivingWorldModelVectorEnv") and spec.max_episode_steps == 200


def test_passes_the_env_checker_with_the_gt_envs_views_and_action(ckpt):
    env = gym.make(ENV_ID, checkpoint=ckpt)
    check_env(env.unwrapped)
    check_env(env)
    gt = gym.make("cosmos_sim/Driving-GT-v0")
    assert env.action_space == gt.action_space
    for cam in CAMS:
        assert env.observation_space[cam] == gt.observation_space[cam]
    assert env.observation_space["ego"].shape == (1,)


def test_reset_from_the_gt_scene_render_grid_and_determinism(ckpt):
    env = DrivingWorldModelEnv(checkpoint=ckpt)
    gt = gym.make("cosmos_sim/Driving-GT-v0")
    obs, info = env.reset(seed=100000)
    gt_obs, _ = gt.reset(seed=100000)
    for cam in CAMS:
        assert np.array_equal(obs[cam], gt_obs[cam])
    assert obs["ego"][0] == pytest.approx(gt_obs["ego"][3]) and info["step"] == 0
    grid = env.render()
    assert grid.shape == (128, 192, 3)
    for r, row in enumerate(
        GRID
    ):  # front row front_left | front | front_right, back row rear_left | rear | rear_right
        for c, cam in enumerate(row):
            assert np.array_equal(grid[64 * r : 64 * (r + 1), 64 * c : 64 * (c + 1)], obs[cam])
    actions = np.random.default_rng(0).uniform(-1, 1, (4, 2)).astype(np.float32)

    def run(seed):
        env.reset(seed=seed)
        return [env.step(a)[0] for a in actions]

    a, b = run(3), run(3)
    for oa, ob in zip(a, b, strict=True):
        assert all(np.array_equal(oa[k], ob[k]) for k in oa)
    assert not all(np.array_equal(x["front"], y["front"]) for x, y in zip(a, run(4), strict=True))


def test_speed_is_dead_reckoned_with_the_gt_cars_longitudinal_model(ckpt):
    env = DrivingWorldModelEnv(checkpoint=ckpt)
    frames = {c: np.full((64, 64, 3), 100, np.uint8) for c in CAMS}
    obs, _ = env.reset(options={"views": frames, "speed": 10.0})
    assert obs["ego"].tolist() == [10.0] and np.array_equal(obs["rear"], frames["rear"])
    cfg = DrivingConfig()
    obs = env.step(np.array([0.3, 0.5], np.float32))[0]
    assert obs["ego"][0] == pytest.approx(10.0 + 0.5 * cfg.max_accel * cfg.dt)
    for _ in range(30):
        obs = env.step(np.array([0.0, -1.0], np.float32))[0]
    assert obs["ego"][0] == 0.0  # clipped at standstill, as the GT car


def test_bad_input_is_a_clear_error(ckpt):
    env = DrivingWorldModelEnv(checkpoint=ckpt)
    views = {c: np.zeros((64, 64, 3), np.uint8) for c in CAMS}
    with pytest.raises(ValueError, match=r"missing \['rear'\]"):
        env.reset(options={"views": {c: v for c, v in views.items() if c != "rear"}})
    with pytest.raises(ValueError, match="one shape"):
        env.reset(options={"views": {**views, "front": np.zeros((32, 32, 3), np.uint8)}})
    with pytest.raises(ValueError, match=r"\(64, 64, 3\)"):
        env.reset(options={"views": {c: np.zeros((32, 32, 3), np.uint8) for c in CAMS}})
    with pytest.raises(ValueError, match="unknown reset option"):
        env.reset(options={"frames": views["front"]})
    env.reset(seed=0)
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="multiview world model"):
        d = tiny_world_model("diffusion")
        d.save_pretrained(f"{ckpt}_manip", dtype=None)
        DrivingWorldModelEnv(checkpoint=f"{ckpt}_manip")


def test_vector_env_is_batched_matches_single_envs_and_pairs_with_gt(ckpt):
    venv = gym.make_vec(ENV_ID, num_envs=3, checkpoint=ckpt)
    assert isinstance(venv.unwrapped, DrivingWorldModelVectorEnv)
    obs, _ = venv.reset(seed=10)
    assert obs["front"].shape == (3, 64, 64, 3) and obs["ego"].shape == (3, 1)
    actions = np.random.default_rng(1).uniform(-1, 1, (3, 3, 2)).astype(np.float32)
    for a in actions:
        obs, reward, term, trunc, info = venv.step(a)
    assert (
        reward.shape == (3,) and info["crash_prob"].shape == (3,) and venv.render().shape == (3, 128, 192, 3)
    )
    single = DrivingWorldModelEnv(checkpoint=ckpt)
    single.reset(seed=11)  # row 1 of the vector env
    for a in actions:
        o = single.step(a[1])[0]
    assert (
        np.abs(o["front"].astype(int) - obs["front"][1]).max() <= 1
    )  # batched bf16/fp32 kernels may differ by 1
    paired = DrivingWorldModelEnv(checkpoint=ckpt, paired=True)
    paired.reset(seed=5)
    _, _, _, _, info = paired.step(np.zeros(2, np.float32))
    assert info["gt_views"].shape == (6, 64, 64, 3) and isinstance(info["gt_reward"], np.floating)


def test_default_checkpoint_is_the_shipped_multiview_nano_model():
    env = gym.make(ENV_ID)  # assets/wfm/drive-mv-nano, device="auto"
    cfg = env.unwrapped.model.config
    assert (
        cfg.family == "multiview" and cfg.views == CAMS and cfg.tokenizer_dir.endswith("cv4x8x8-drive-nano")
    )
    obs, _ = env.reset(seed=100000)
    obs, reward, term, trunc, info = env.step(np.zeros(2, np.float32))
    assert obs["front"].shape == (64, 64, 3) and 0 <= info["crash_prob"] <= 1 and np.isfinite(reward)
