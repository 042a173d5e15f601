"""generate/export with the project's own GT envs: maps, cameras and multi-view grids reach the store."""

import gymnasium as gym
import numpy as np

import cosmos_sim  # noqa: F401
from cosmos_sim.data.export import episode_frames
from cosmos_sim.data.generate import GenerateConfig, generate
from cosmos_sim.data.store import TrajectoryStore


def test_manipulation_with_maps(tmp_path):
    out = tmp_path / "m.zarr"
    s = generate(
        GenerateConfig(
            env_id="cosmos_sim/Manipulation-GT-v0",
            episodes=2,
            out=str(out),
            policy="expert",
            resolution=(32, 32),
            maps=("depth", "seg"),
            max_steps=6,
            progress=False,
        )
    )
    assert s["episodes"] == 2 and s["frames"] == 14
    store = TrajectoryStore.open(out)
    keys = set(store.keys())
    assert {"rgb", "action", "reward", "maps/front/depth", "maps/front/seg", "maps/top/depth"} <= keys
    ep = store.episode(1)
    assert ep["rgb"].shape == (7, 32, 32, 3) and ep["action"].shape == (7, 7)
    assert ep["maps/front/depth"].dtype == np.float32 and ep["maps/front/seg"].dtype == np.int32
    assert list(store.attrs["action_layout"])[:3] == ["dx", "dy", "dz"]
    assert np.asarray(store.attrs["cameras"]["front"]["intrinsics"]).shape == (3, 3)
    # The stored frames are the env's frames for that seed.
    env = gym.make("cosmos_sim/Manipulation-GT-v0", width=32, height=32)
    obs, _ = env.reset(seed=int(store.episode_seeds[1]))
    assert np.array_equal(obs, ep["rgb"][0])
    env.close()


def test_driving_grid_matches_render_layout(tmp_path):
    out = tmp_path / "d.zarr"
    generate(
        GenerateConfig(
            env_id="cosmos_sim/Driving-GT-v0",
            episodes=1,
            out=str(out),
            policy="expert",
            resolution=(16, 16),
            max_steps=1,
            progress=False,
        )
    )
    store = TrajectoryStore.open(out)
    assert store.attrs["camera_grid"] == [
        ["front_left", "front", "front_right"],
        ["rear_left", "rear", "rear_right"],
    ]
    grid = episode_frames(store, 0)[0]
    env = gym.make("cosmos_sim/Driving-GT-v0", width=16, height=16)
    env.reset(seed=0)
    rendered = env.render()  # 2 x 3 views without gaps
    env.close()
    views = [grid[r * 18 : r * 18 + 16, c * 18 : c * 18 + 16] for r in range(2) for c in range(3)]
    expected = [rendered[r * 16 : (r + 1) * 16, c * 16 : (c + 1) * 16] for r in range(2) for c in range(3)]
    for v, e in zip(views, expected, strict=True):
        assert np.array_equal(v, e)
