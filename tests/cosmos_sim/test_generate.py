"""generate(): recording convention, keys per observation kind, seeds, workers, append, errors."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from cosmos_sim.data.generate import GenerateConfig, generate, rollout
from cosmos_sim.data.store import TrajectoryStore
from cosmos_sim.errors import ConfigError, StoreError


class TinyVecEnv(gym.Env):
    """1-D walker: state += action; renders its state as an 8x8 image; success at |x| > 1."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, render_mode=None, horizon=None):
        self.render_mode = render_mode
        self.observation_space = spaces.Box(-10, 10, (2,), np.float32)
        self.action_space = spaces.Box(-0.5, 0.5, (1,), np.float32)
        self.horizon = horizon

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.x = float(self.np_random.uniform(-0.5, 0.5))
        self.t = 0
        self.length = int(self.np_random.integers(3, 9)) if self.horizon is None else self.horizon
        return self._obs(), {}

    def _obs(self):
        return np.array([self.x, self.t], np.float32)

    def step(self, action):
        self.x += float(action[0])
        self.t += 1
        info = {"is_success": abs(self.x) > 1.0}
        return self._obs(), self.x, self.t >= self.length, False, info

    def render(self):
        img = np.zeros((8, 8, 3), np.uint8)
        img[..., 0] = self.t
        img[..., 1] = np.uint8(int((self.x + 10) * 10))
        return img


class TinyDictEnv(gym.Env):
    """Dict observation (a camera and a vector) and a Discrete action."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 5}

    def __init__(self, render_mode=None):
        self.render_mode = render_mode
        self.observation_space = spaces.Dict(
            {"front": spaces.Box(0, 255, (6, 6, 3), np.uint8), "ego": spaces.Box(-1, 1, (3,), np.float32)}
        )
        self.action_space = spaces.Discrete(3)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def _obs(self):
        return {"front": np.full((6, 6, 3), self.t, np.uint8), "ego": np.full(3, self.t / 10, np.float32)}

    def step(self, action):
        self.t += 1
        return self._obs(), float(action), self.t >= 4, False, {}

    def render(self):
        return self._obs()["front"]


class TinyMapsEnv(TinyVecEnv):
    """A cosmos_sim-style env: width/height/maps kwargs, camera params, maps and objects in info."""

    def __init__(self, render_mode=None, width=8, height=8, maps=None):
        super().__init__(render_mode=render_mode, horizon=3)
        self.width, self.height = width, height
        self.maps = tuple(m for m in (maps or "").split(",") if m)
        self.cameras = ("front", "top")
        self.action_layout = ("dx",)

    def camera_params(self, camera=None):
        from cosmos_sim.envs.base import CameraParams

        k = np.array([[10.0, 0, self.width / 2], [0, 10.0, self.height / 2], [0, 0, 1]])
        e = np.eye(4)
        e[0, 3] = self.x + (camera == "top")
        return CameraParams(camera or "front", k, e)

    def _info(self):
        info = {"objects": {"ball": {"pos": np.array([self.x, 0, 0]), "quat": np.array([1.0, 0, 0, 0])}}}
        if self.maps:
            info["cameras"] = {c: self.camera_params(c).as_dict() for c in self.cameras}
            info["maps"] = {
                c: {"depth": np.full((self.height, self.width), self.x + 2, np.float32)} for c in self.cameras
            }
        return info

    def reset(self, *, seed=None, options=None):
        obs, _ = super().reset(seed=seed)
        return obs, self._info()

    def step(self, action):
        obs, r, term, trunc, info = super().step(action)
        return obs, r, term, trunc, {**info, **self._info()}

    def render(self):
        return np.zeros((self.height, self.width, 3), np.uint8)


@pytest.fixture(scope="module", autouse=True)
def tiny_envs():
    for env_id, cls, steps in [
        ("TinyVec-v0", TinyVecEnv, 50),
        ("TinyDict-v0", TinyDictEnv, 50),
        ("TinyMaps-v0", TinyMapsEnv, 50),
        ("TinyNoLimit-v0", TinyVecEnv, None),
    ]:
        if env_id not in gym.registry:
            gym.register(env_id, entry_point=cls, max_episode_steps=steps)


def cfg(tmp_path, env_id="TinyVec-v0", name="s.zarr", **kw) -> GenerateConfig:
    return GenerateConfig(env_id=env_id, out=str(tmp_path / name), progress=False, **{"episodes": 3, **kw})


def test_recording_convention_rows_actions_rewards(tmp_path):
    summary = generate(cfg(tmp_path, episodes=4, seed=7))
    s = TrajectoryStore.open(tmp_path / "s.zarr")
    assert s.keys() == ["action", "is_success", "reward", "rgb", "state", "terminated", "truncated"]
    np.testing.assert_array_equal(s.episode_seeds, [7, 8, 9, 10])
    for i in range(4):
        ep = s.episode(i)
        n = len(ep["state"])
        env = TinyVecEnv()
        obs, _ = env.reset(seed=7 + i)
        assert n == env.length + 1  # T steps -> T+1 rows
        np.testing.assert_array_equal(ep["state"][0], obs)  # row 0: the reset observation
        # row t + action[t] -> row t+1 (the env adds the action to x); the reward is the new x
        np.testing.assert_allclose(ep["state"][1:, 0], ep["state"][:-1, 0] + ep["action"][:-1, 0], rtol=1e-6)
        np.testing.assert_allclose(ep["reward"][:-1], ep["state"][1:, 0], rtol=1e-6)
        assert ep["action"][-1] == 0 and ep["reward"][-1] == 0
        np.testing.assert_array_equal(ep["rgb"][:, 0, 0, 0], np.arange(n))  # render of row t shows step t
        assert ep["terminated"].tolist() == [False] * (n - 1) + [True] and not ep["truncated"].any()
        np.testing.assert_array_equal(ep["is_success"][1:], np.abs(ep["state"][1:, 0]) > 1.0)
    assert summary["frames"] == s.n_steps and summary["env_steps"] == s.n_steps - 4
    assert summary["bytes_per_frame"] > 0 and summary["bytes_on_disk"] > 0
    assert summary["frames_per_s"] > 0
    assert summary["success_rate"] == np.mean([s.episode(i)["is_success"].any() for i in range(4)])
    assert summary["mean_return"] == pytest.approx(np.mean([s.episode(i)["reward"].sum() for i in range(4)]))
    assert s.attrs["env_id"] == "TinyVec-v0" and s.attrs["fps"] == 10
    assert s.attrs["config"]["seed"] == 7 and s.attrs["runs"][0]["seeds"] == [7, 10]


def test_max_steps_truncates(tmp_path):
    generate(cfg(tmp_path, env_kwargs={"horizon": 20}, max_steps=5))
    ep = TrajectoryStore.open(tmp_path / "s.zarr").episode(0)
    assert len(ep["state"]) == 6 and ep["truncated"][-1] and not ep["terminated"].any()


def test_dict_observation_one_key_per_entry(tmp_path):
    generate(cfg(tmp_path, env_id="TinyDict-v0", episodes=2))
    s = TrajectoryStore.open(tmp_path / "s.zarr")
    assert s.keys() == ["action", "ego", "front", "reward", "terminated", "truncated"]  # no extra rgb
    ep = s.episode(1)
    np.testing.assert_array_equal(ep["front"][:, 0, 0, 0], np.arange(5))
    assert ep["action"].dtype == np.int64 and s.attrs["image_keys"] == ["front"]


def test_maps_cameras_objects_and_resolution(tmp_path):
    generate(cfg(tmp_path, env_id="TinyMaps-v0", episodes=2, maps=("depth",), resolution=(12, 10)))
    s = TrajectoryStore.open(tmp_path / "s.zarr")
    info = s.key_info()
    assert info["maps/front/depth"] == ((10, 12), np.dtype(np.float32))
    assert info["cameras/top/extrinsics"] == ((4, 4), np.dtype(np.float64))
    ep = s.episode(0)
    np.testing.assert_allclose(ep["maps/front/depth"][:, 0, 0], ep["state"][:, 0] + 2, rtol=1e-6)
    np.testing.assert_allclose(ep["cameras/top/extrinsics"][:, 0, 3], ep["state"][:, 0] + 1, rtol=1e-6)
    np.testing.assert_allclose(ep["objects/ball/pos"][:, 0], ep["state"][:, 0], rtol=1e-6)
    assert s.attrs["cameras"]["front"]["intrinsics"][0][2] == 6.0  # width 12 / 2
    assert s.attrs["env_kwargs"]["maps"] == "depth" and s.attrs["action_layout"] == ["dx"]


def test_append_continues_seeds_and_equals_one_run(tmp_path):
    generate(cfg(tmp_path, name="a.zarr", episodes=3))
    summary = generate(cfg(tmp_path, name="a.zarr", episodes=2))
    assert summary["first_seed"] == 3 and summary["store_episodes"] == 5
    generate(cfg(tmp_path, name="b.zarr", episodes=5))
    a, b = TrajectoryStore.open(tmp_path / "a.zarr"), TrajectoryStore.open(tmp_path / "b.zarr")
    np.testing.assert_array_equal(a.episode_seeds, np.arange(5))
    for i in range(5):
        ea, eb = a.episode(i), b.episode(i)
        assert all(np.array_equal(ea[k], eb[k]) for k in eb)
    generate(cfg(tmp_path, name="a.zarr", episodes=1, seed=100))  # an explicit seed above the store's
    assert TrajectoryStore.open(tmp_path / "a.zarr").episode_seeds[-1] == 100
    assert len(TrajectoryStore.open(tmp_path / "a.zarr").attrs["runs"]) == 3


def test_one_and_two_workers_give_identical_stores(tmp_path):
    """A MuJoCo env from gymnasium (its tracking camera depends on history: blocks keep it reproducible)."""
    kw = dict(env_id="InvertedPendulum-v5", episodes=6, resolution=(32, 32), max_steps=8)
    one = generate(cfg(tmp_path, name="w1.zarr", **kw))
    two = generate(cfg(tmp_path, name="w2.zarr", workers=2, **kw))
    a, b = TrajectoryStore.open(tmp_path / "w1.zarr"), TrajectoryStore.open(tmp_path / "w2.zarr")
    # qpos/qvel: the MuJoCo state of a Gymnasium MuJoCo env, what a renderer of state learns from
    keys = ["action", "qpos", "qvel", "reward", "rgb", "state", "terminated", "truncated"]
    assert a.keys() == b.keys() == keys
    np.testing.assert_array_equal(a.episode_ends, b.episode_ends)
    for i in range(a.n_episodes):
        ea, eb = a.episode(i), b.episode(i)
        for k in ea:
            np.testing.assert_array_equal(ea[k], eb[k], err_msg=f"episode {i} key {k}")
    assert a.episode(0)["rgb"].shape[1:] == (32, 32, 3) and a.episode(0)["rgb"].std() > 0
    assert one["frames"] == two["frames"]
    # the pendulum observes [cart position, pole angle, their velocities]: the recorded state is the same
    ep = a.episode(0)
    np.testing.assert_allclose(ep["qpos"], ep["state"][:, :2], atol=1e-6)
    np.testing.assert_allclose(ep["qvel"], ep["state"][:, 2:], atol=1e-6)


def test_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not accept width=/height="):
        generate(cfg(tmp_path, resolution=(64, 64)))
    with pytest.raises(ConfigError, match="does not accept a `maps` kwarg"):
        generate(cfg(tmp_path, maps=("depth",)))
    with pytest.raises(ValueError, match="unknown control map"):
        generate(cfg(tmp_path, env_id="TinyMaps-v0", maps=("normals",)))
    with pytest.raises(ConfigError, match="unknown env id 'Nope-v0'"):
        generate(cfg(tmp_path, env_id="Nope-v0"))
    with pytest.raises(ValueError, match="no scripted expert"):
        generate(cfg(tmp_path, policy="expert"))
    with pytest.raises(ConfigError, match="no time limit; set max_steps"):
        generate(cfg(tmp_path, env_id="TinyNoLimit-v0"))
    with pytest.raises(ConfigError, match="episodes must be >= 1"):
        generate(cfg(tmp_path, episodes=0))
    with pytest.raises(ConfigError, match=r"refused the options .*map_cameras \['side'\] not in this scene"):
        generate(
            cfg(
                tmp_path,
                env_id="cosmos_sim/Manipulation-GT-v0",
                maps=("seg",),
                env_kwargs={"map_cameras": "side"},
            )
        )
    assert not (tmp_path / "s.zarr").exists()  # nothing written by a failed config
    generate(cfg(tmp_path, episodes=1))
    with pytest.raises(StoreError, match="holds episodes of 'TinyVec-v0', not 'TinyDict-v0'"):
        generate(cfg(tmp_path, env_id="TinyDict-v0"))


def test_rollout_alone_matches_store(tmp_path):
    generate(cfg(tmp_path, episodes=2, seed=3))
    env = gym.make("TinyVec-v0", render_mode="rgb_array")
    ep = rollout(env, "random", 4)
    stored = TrajectoryStore.open(tmp_path / "s.zarr").episode(1)
    for k in stored:
        np.testing.assert_array_equal(ep[k], stored[k])


@pytest.mark.skipif(importlib.util.find_spec("pygame") is None, reason="CartPole rendering needs pygame")
def test_cartpole_with_render(tmp_path):
    summary = generate(cfg(tmp_path, env_id="CartPole-v1", episodes=2, max_steps=10))
    s = TrajectoryStore.open(tmp_path / "s.zarr")
    assert s.key_info()["rgb"] == ((400, 600, 3), np.dtype(np.uint8))
    assert s.key_info()["state"] == ((4,), np.dtype(np.float32))
    assert summary["frames"] == s.n_steps


def test_generating_a_cosmos_scene_loads_no_glfw_viewer():
    # Recording qpos checks for Gymnasium's MuJoCo envs without importing them (their viewer imports GLFW, whose
    # library probe starts subprocesses): a fresh process that records a cosmos scene never imports either.
    code = (
        "import sys, gymnasium as gym, cosmos_sim\n"
        "from cosmos_sim.data.generate import rollout\n"
        "rollout(gym.make('cosmos_sim/Physics-FreeFall-GT-v0', width=16, height=16), 'random', 0, max_steps=2)\n"
        "print(sorted(m for m in ('glfw', 'gymnasium.envs.mujoco.mujoco_env') if m in sys.modules))"
    )
    env = {**os.environ, "MUJOCO_GL": "egl"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "[]"
