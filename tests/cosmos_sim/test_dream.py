"""cosmos-sim dream: stores the Dataset reads, provenance, determinism, sources, policies, filter, workers."""

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from gymnasium import spaces

import cosmos_sim  # noqa: F401
from cosmos_sim.cli import main
from cosmos_sim.data.dataset import TrajectoryWindowDataset
from cosmos_sim.data.dream import DreamConfig, dream
from cosmos_sim.data.store import TrajectoryStore
from cosmos_sim.errors import ConfigError
from cosmos_sim.policies.networks import make_network, save_policy
from cosmos_sim.world_models.wfm import file_sha

GT_ID = "cosmos_sim/Manipulation-GT-v0"


def _cfg(tiny_wfm, out, **kw) -> DreamConfig:
    base = dict(
        model=tiny_wfm,
        source=GT_ID,
        policy="random",
        episodes=3,
        out=str(out),
        max_steps=4,
        workers=1,
        block=2,
        progress=False,
    )
    return DreamConfig(**{**base, **kw})


def test_dream_writes_a_store_the_dataset_reads_with_provenance(tiny_wfm, tmp_path):
    s = dream(_cfg(tiny_wfm, tmp_path / "d.zarr"), command="cosmos-sim dream ...")
    assert s["episodes"] == s["kept"] == 3 and s["model_frames"] == 12
    assert s["frames_per_s"] > 0 and s["trajectories_per_hour"] > 0
    store = TrajectoryStore.open(tmp_path / "d.zarr")
    assert store.n_episodes == 3 and list(store.episode_seeds) == [0, 1, 2]
    assert {"rgb", "action", "reward", "success_prob", "is_success", "terminated", "truncated"} <= set(
        store.keys()
    )
    ep = store.episode(0)
    assert ep["rgb"].shape == (5, 64, 64, 3) and ep["action"].shape == (5, 7)
    assert np.all(ep["action"][-1] == 0) and np.all(np.abs(ep["action"][:-1]) <= 1) and ep["truncated"][-1]
    import gymnasium as gym

    assert np.array_equal(ep["rgb"][0], gym.make(GT_ID).reset(seed=0)[0])  # the GT scene's first frame
    prov = store.attrs["dream"]
    assert prov["model_sha"] == file_sha(f"{tiny_wfm}/model.safetensors") and prov["source"] == GT_ID
    assert prov["policy"] == "random" and store.attrs["command"] == "cosmos-sim dream ..."
    assert store.attrs["env_id"] == GT_ID
    ds = TrajectoryWindowDataset(tmp_path / "d.zarr", context=2, horizon=1, keys=["rgb", "action", "reward"])
    item = ds[0]
    assert len(ds) == 3 * 3 and item["rgb"].shape == (3, 3, 64, 64) and item["reward"].dtype == torch.float32


def test_dream_is_deterministic_per_seed_and_whatever_the_workers(tiny_wfm, tmp_path):
    dream(_cfg(tiny_wfm, tmp_path / "a.zarr"))
    dream(_cfg(tiny_wfm, tmp_path / "b.zarr", workers=2))
    dream(_cfg(tiny_wfm, tmp_path / "c.zarr", seed=5))
    a, b, c = (TrajectoryStore.open(tmp_path / f"{n}.zarr") for n in "abc")
    for i in range(3):
        assert np.array_equal(a.episode(i)["rgb"], b.episode(i)["rgb"])
        assert np.array_equal(a.episode(i)["reward"], b.episode(i)["reward"])
    assert not np.array_equal(a.episode(0)["rgb"], c.episode(0)["rgb"])


def test_min_return_keeps_only_good_rollouts(tiny_wfm, tmp_path):
    everything = dream(_cfg(tiny_wfm, tmp_path / "all.zarr", episodes=6))
    store = TrajectoryStore.open(tmp_path / "all.zarr")
    returns = np.array([store.episode(i)["reward"].sum() for i in range(6)])
    threshold = float(np.median(returns))
    kept = dream(_cfg(tiny_wfm, tmp_path / "kept.zarr", episodes=6, min_return=threshold))
    filtered = TrajectoryStore.open(tmp_path / "kept.zarr")
    assert everything["kept"] == 6 and kept["kept"] == int((returns >= threshold).sum()) < 6
    assert list(filtered.episode_seeds) == [i for i in range(6) if returns[i] >= threshold]
    assert filtered.attrs["dream"]["min_return"] == threshold


def test_sources_image_and_store_and_a_policy_directory(tiny_wfm, tmp_path):
    img = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    iio.imwrite(tmp_path / "start.png", img)
    net = make_network(
        spaces.Box(0, 255, (64, 64, 3), np.uint8),
        spaces.Box(-1.0, 1.0, (7,), np.float32),
        channels=(4, 8),
        hidden=16,
    )
    save_policy(
        tmp_path / "pol",
        net,
        spaces.Box(0, 255, (64, 64, 3), np.uint8),
        spaces.Box(-1.0, 1.0, (7,), np.float32),
    )
    dream(
        _cfg(
            tiny_wfm,
            tmp_path / "img.zarr",
            source=str(tmp_path / "start.png"),
            policy=str(tmp_path / "pol"),
            episodes=2,
        )
    )
    s = TrajectoryStore.open(tmp_path / "img.zarr")
    assert all(np.array_equal(s.episode(i)["rgb"][0], img) for i in range(2))
    first = s.episode(0)["action"][:-1]
    assert np.allclose(first, first[0], atol=0.5)  # the policy's (deterministic) mean actions
    dream(_cfg(tiny_wfm, tmp_path / "from_store.zarr", source=str(tmp_path / "img.zarr"), episodes=2, seed=1))
    assert np.array_equal(TrajectoryStore.open(tmp_path / "from_store.zarr").episode(0)["rgb"][0], img)


def test_expert_runs_the_gt_scene_in_lockstep_and_needs_a_gt_source(tiny_wfm, tmp_path):
    import gymnasium as gym

    dream(_cfg(tiny_wfm, tmp_path / "e.zarr", policy="expert", episodes=1))
    env = gym.make(GT_ID).unwrapped
    env.reset(seed=0)
    expected = env.expert_action()
    assert np.allclose(TrajectoryStore.open(tmp_path / "e.zarr").episode(0)["action"][0], expected)
    iio.imwrite(tmp_path / "start.png", np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(ConfigError, match="privileged"):
        dream(_cfg(tiny_wfm, tmp_path / "x.zarr", policy="expert", source=str(tmp_path / "start.png")))


def test_bad_input_is_a_clear_error(tiny_wfm, tmp_path):
    iio.imwrite(tmp_path / "big.png", np.zeros((32, 48, 3), np.uint8))
    with pytest.raises(ConfigError, match="resize"):
        dream(_cfg(tiny_wfm, tmp_path / "a.zarr", source=str(tmp_path / "big.png")))
    with pytest.raises(ConfigError, match="neither a registered"):
        dream(_cfg(tiny_wfm, tmp_path / "b.zarr", source="no/such-thing"))
    with pytest.raises(ConfigError, match="policy directory"):
        dream(_cfg(tiny_wfm, tmp_path / "c.zarr", policy="greedy"))
    with pytest.raises(ConfigError, match="executor"):
        _cfg(tiny_wfm, tmp_path / "d.zarr", executor="slurm")


def test_cli_dream(tiny_wfm, tmp_path, capsys):
    out = tmp_path / "cli.zarr"
    assert (
        main(
            [
                "dream",
                "--model",
                tiny_wfm,
                "--from",
                GT_ID,
                "--episodes",
                "2",
                "--max-steps",
                "2",
                "--workers",
                "1",
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    assert "2/2 dreamed episodes" in capsys.readouterr().out
    store = TrajectoryStore.open(out)
    assert store.n_episodes == 2 and store.attrs["command"].startswith("cosmos-sim dream --model")


@pytest.mark.xdist_group("two_processes")  # one at a time under `pytest -n 2`: each starts 2 workers
def test_ray_executor_gives_the_same_store(tiny_wfm, tmp_path):
    """Blocks as Ray tasks (a local Ray the executor starts with 2 CPUs and stops): the same episodes, in seed order."""
    import ray  # in the test extra: the Ray executor is tested, never skipped

    local = dream(_cfg(tiny_wfm, tmp_path / "local.zarr", episodes=5))
    on_ray = dream(_cfg(tiny_wfm, tmp_path / "ray.zarr", episodes=5, executor="ray", workers=2))
    assert not ray.is_initialized()  # the Ray it started is shut down again
    assert on_ray["episodes"] == on_ray["kept"] == local["kept"] == 5
    assert on_ray["model_frames"] == local["model_frames"] == 20
    a, b = TrajectoryStore.open(tmp_path / "local.zarr"), TrajectoryStore.open(tmp_path / "ray.zarr")
    assert list(b.episode_seeds) == list(a.episode_seeds) == [0, 1, 2, 3, 4]
    for i in range(5):
        ea, eb = a.episode(i), b.episode(i)
        assert ea.keys() == eb.keys()
        for k in ea:
            assert np.array_equal(ea[k], eb[k]), (i, k)
