"""Every registered cosmos_sim id follows the shared env contract (check_env, seeding, maps, errors)."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import cosmos_sim  # noqa: F401
from cosmos_sim.envs import registered_ids
from cosmos_sim.envs.control_maps import MAP_NAMES

IDS = registered_ids()


def test_all_ids_are_registered_on_import():
    assert len(IDS) >= 11
    for env_id in IDS:
        assert env_id in gym.registry, env_id
    assert sum(i.startswith("cosmos_sim/Physics-") for i in IDS) >= 8


@pytest.mark.parametrize("env_id", IDS)
def test_check_env(env_id):
    env = gym.make(env_id)
    try:
        check_env(env.unwrapped, skip_render_check=False)
        assert "rgb_array" in env.metadata["render_modes"] and env.metadata["render_fps"] > 0
    finally:
        env.close()


def _first_obs_bytes(obs) -> bytes:
    if isinstance(obs, dict):
        return b"".join(np.asarray(obs[k]).tobytes() for k in sorted(obs))
    return np.asarray(obs).tobytes()


@pytest.mark.parametrize("env_id", IDS)
def test_seeded_rollouts_are_deterministic(env_id):
    def rollout(seed: int) -> list[bytes]:
        env = gym.make(env_id)
        env.action_space.seed(123)
        obs, _ = env.reset(seed=seed)
        out = [_first_obs_bytes(obs)]
        for _ in range(5):
            obs, *_ = env.step(env.action_space.sample())
            out.append(_first_obs_bytes(obs))
        env.close()
        return out

    a, b = rollout(7), rollout(7)
    assert a == b
    assert rollout(8)[0] != a[0], "a different seed should give a different initial scene"


@pytest.mark.parametrize("env_id", IDS)
def test_bad_actions_raise_value_error(env_id):
    env = gym.make(env_id)
    env.reset(seed=0)
    shape = env.action_space.shape
    low = env.action_space.low.astype(np.float32)
    bad = {
        "shape": np.zeros((shape[0] + 1,), dtype=np.float32),
        "NaN": np.full(shape, np.nan, dtype=np.float32),
        "outside": np.full(shape, 5.0, dtype=np.float32),
        "outside the action space: element 0": np.concatenate([low[:1] - 1, low[1:]]),  # below low
    }
    for expected, action in bad.items():
        with pytest.raises(ValueError, match=expected):
            env.step(action)
    env.close()


@pytest.mark.parametrize("env_id", IDS)
def test_control_maps_and_cameras_in_info(env_id):
    env = gym.make(env_id, width=48, height=32, maps=",".join(MAP_NAMES))
    _, info = env.reset(seed=1)
    _, _, _, _, info = env.step(env.action_space.sample() * 0)
    labels = env.unwrapped.segmentation_labels
    assert labels[0] == "background"
    assert set(info["maps"]) == set(info["cameras"]) and info["maps"]
    for cam, maps in info["maps"].items():
        assert set(maps) == set(MAP_NAMES), cam
        assert maps["depth"].shape == (32, 48) and maps["depth"].dtype == np.float32
        assert np.all(maps["depth"] > 0) and np.all(np.isfinite(maps["depth"]))
        assert maps["seg"].shape == (32, 48) and maps["seg"].dtype == np.int32
        assert set(np.unique(maps["seg"])) <= set(labels)
        assert len(np.unique(maps["seg"])) >= 2, f"{cam}: segmentation sees only one instance"
        assert maps["edges"].shape == (32, 48) and maps["edges"].dtype == np.uint8
        assert maps["blur"].shape == (32, 48, 3) and maps["blur"].dtype == np.uint8
        k, e = info["cameras"][cam]["intrinsics"], info["cameras"][cam]["extrinsics"]
        assert k.shape == (3, 3) and e.shape == (4, 4)
        assert np.allclose(e[:3, :3] @ e[:3, :3].T, np.eye(3), atol=1e-6), (
            "extrinsic rotation not orthonormal"
        )
    for name, state in info["objects"].items():
        assert state["pos"].shape == (3,) and state["quat"].shape == (4,), name
    env.close()


def test_unknown_map_name_is_refused():
    with pytest.raises(ValueError, match="unknown control map"):
        gym.make("cosmos_sim/Physics-FreeFall-GT-v0", maps="depth,normals")
