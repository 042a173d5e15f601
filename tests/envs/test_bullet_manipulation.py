"""The PyBullet Kuka pushing scene: API, observation modes, determinism, maps, expert."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import cosmos_sim  # noqa: F401  (registers the ids)
from cosmos_sim.envs.base import project
from cosmos_sim.envs.bullet_manipulation import BLOCK_HALF, TABLE_Z, BulletManipulationGTEnv

ENV_ID = "cosmos_sim/Manipulation-Bullet-GT-v0"


def _label_id(env, name: str) -> int:
    return {n: i for i, n in env.segmentation_labels.items()}[name]


def test_check_env_and_observation_modes():
    env = gym.make(ENV_ID, width=32, height=24)
    check_env(env.unwrapped)
    obs, info = env.reset(seed=0)
    assert obs.shape == (24, 32, 3) and obs.dtype == np.uint8
    assert info["is_success"] is False and info["ee_pos"].shape == (3,)
    assert len(env.unwrapped.action_layout) == 7
    env.close()
    check_env(gym.make(ENV_ID, width=16, height=16))

    env = BulletManipulationGTEnv(obs_mode="state", n_objects=3, width=16, height=16)
    state, _ = env.reset(seed=0)
    assert state.shape == (len(env.state_layout),) == (17,) and state.dtype == np.float32
    assert np.allclose(state[:3], env.ee_pos(), atol=1e-6)
    assert np.allclose(state[8:11], env.block_pos(0), atol=1e-6)  # red block
    env.close()
    env = BulletManipulationGTEnv(obs_mode="pixels+state", width=16, height=16)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs) and set(obs) == {"pixels", "state"}
    env.close()


def test_bad_input_raises_value_error():
    env = BulletManipulationGTEnv(width=16, height=16)
    env.reset(seed=0)
    for bad in (np.zeros(6), np.full(7, np.nan), np.full(7, 2.0)):
        with pytest.raises(ValueError, match="shape|NaN|outside"):
            env.step(bad.astype(np.float32))
    env.close()
    with pytest.raises(ValueError, match="obs_mode"):
        BulletManipulationGTEnv(obs_mode="video")
    with pytest.raises(ValueError, match="n_objects"):
        BulletManipulationGTEnv(n_objects=4)


def test_seeded_episodes_are_deterministic():
    def rollout(seed):
        env = BulletManipulationGTEnv(width=16, height=16, obs_mode="pixels+state", n_objects=2)
        obs, _ = env.reset(seed=seed)
        out = [obs["pixels"].copy()]
        states = [obs["state"]]
        for _ in range(8):
            obs, *_ = env.step(env.expert_action())
            out.append(obs["pixels"].copy())
            states.append(obs["state"])
        env.close()
        return np.stack(out), np.stack(states)

    (p1, s1), (p2, s2) = rollout(11), rollout(11)
    assert np.array_equal(p1, p2) and np.array_equal(s1, s2)
    assert not np.array_equal(rollout(12)[1][0], s1[0])


def test_translation_moves_the_tip_and_rotation_gripper_are_ignored():
    env = BulletManipulationGTEnv(width=16, height=16, obs_mode="state")
    env.reset(seed=2)
    z0 = env.ee_pos()[2]
    for _ in range(5):
        env.step(np.array([0, 0, 1, 0, 0, 0, 0], dtype=np.float32))
    assert env.ee_pos()[2] - z0 == pytest.approx(5 * env.config.max_translation, abs=0.01)

    def after(action):
        env.reset(seed=3)
        for _ in range(3):
            state, *_ = env.step(np.asarray(action, dtype=np.float32))
        return state

    base = after([0.5, -0.5, 0, 0, 0, 0, 0])
    assert np.array_equal(base, after([0.5, -0.5, 0, 1, -1, 0.5, 1]))
    env.close()


def test_maps_match_known_geometry():
    """Top camera (straight down, 1 m above the table): the red block's top face and the table
    are planes parallel to the image, so their z-depth is known exactly; front camera: the red
    block is under its projected centre."""
    env = BulletManipulationGTEnv(width=64, height=64, maps="depth,seg", n_objects=2)
    env.reset(seed=0)
    for _ in range(12):  # park the tip up in the workspace corner next to the base: nothing hidden
        _, _, _, _, info = env.step(np.array([-1, -1, 1, 0, 0, 0, 0], dtype=np.float32))
    block = info["objects"]["red_block"]["pos"]
    assert block[2] == pytest.approx(TABLE_Z + BLOCK_HALF, abs=1e-3)
    red = _label_id(env, "red_block")
    for cam in ("front", "top"):
        k, e = info["cameras"][cam]["intrinsics"], info["cameras"][cam]["extrinsics"]
        u, v, z = project(block + [0, 0, BLOCK_HALF * 0.5], k, e)[0]
        assert info["maps"][cam]["seg"][int(v), int(u)] == red, cam
    top_height = e[2, 3]  # world-to-camera z offset: camera height above the world origin
    u, v, _ = project(block, k, e)[0]
    assert info["maps"]["top"]["depth"][int(v), int(u)] == pytest.approx(
        top_height - TABLE_Z - 2 * BLOCK_HALF, abs=2e-3
    )
    assert top_height - TABLE_Z == pytest.approx(1.0)
    seg, depth = info["maps"]["top"]["seg"], info["maps"]["top"]["depth"]
    table = seg == _label_id(env, "table")
    assert table.sum() > 0.5 * seg.size
    assert np.allclose(depth[table], 1.0, atol=2e-3)
    goal = env.goal_pos()
    u, v, _ = project(goal, k, e)[0]
    assert env.segmentation_labels[int(seg[int(v), int(u)])] == "goal"
    env.close()


@pytest.mark.parametrize("seed", [0, 1])
def test_expert_pushes_the_red_block_into_the_goal(seed):
    env = BulletManipulationGTEnv(width=8, height=8, obs_mode="state", n_objects=2)
    _, info = env.reset(seed=seed)
    start = info["block_goal_distance"]
    assert start >= env.config.min_goal_distance - 1e-6
    for _ in range(100):
        _, reward, terminated, _, info = env.step(env.expert_action())
        if terminated:
            break
    assert terminated and info["is_success"] and info["block_goal_distance"] <= env.config.goal_radius
    assert reward > 0  # the success bonus outweighs the remaining distances
    env.close()


def test_two_envs_in_one_process_are_independent():
    a, b = BulletManipulationGTEnv(width=16, height=16), BulletManipulationGTEnv(width=16, height=16)
    obs_b, _ = b.reset(seed=4)
    a.reset(seed=5)
    for _ in range(3):
        a.step(np.array([1, 1, -1, 0, 0, 0, 0], dtype=np.float32))
    b._views = {}
    assert np.array_equal(b.rgb(), obs_b)
    a.close()
    b.close()
