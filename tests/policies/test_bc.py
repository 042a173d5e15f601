"""Behaviour cloning: it learns a frame -> action map from a store, and its policy directory round-trips."""

import numpy as np
import pytest
import torch

import cosmos_sim  # noqa: F401
from cosmos_sim.data.store import TrajectoryStore
from cosmos_sim.policies.bc import Args, load_pairs, train
from cosmos_sim.policies.networks import load_policy

GT_ID = "cosmos_sim/Manipulation-GT-v0"


def colour_store(path, episodes: int = 8, rows: int = 13, seed: int = 0, success=None) -> str:
    """Flat-coloured 64x64 frames whose colour (in [-1, 1]) is the first 3 action dims; the rest 0
    (``success``: one flag per episode, written as ``is_success`` on its last row)."""
    rng = np.random.default_rng(seed)
    store = TrajectoryStore.create(path, attrs={"env_id": GT_ID})
    for e in range(episodes):
        colour = rng.uniform(0, 1, (rows, 3))
        rgb = np.broadcast_to((colour * 255).astype(np.uint8)[:, None, None], (rows, 64, 64, 3)).copy()
        action = np.zeros((rows, 7), np.float32)
        action[:, :3] = colour * 2 - 1
        action[-1] = 0.0  # the padding row
        row = {"rgb": rgb, "action": action}
        if success is not None:
            row["is_success"] = np.arange(rows) == (rows - 1 if success[e] else rows)
        store.add_episode(row, seed=e)
    store.close()
    return str(path)


def test_load_pairs_drops_each_episodes_padding_row(tmp_path):
    path = colour_store(tmp_path / "s.zarr", episodes=3, rows=5)
    obs, act, ep = load_pairs((path,))
    assert (
        obs.shape == (12, 64, 64, 3) and act.shape == (12, 7) and np.array_equal(np.bincount(ep), [4, 4, 4])
    )
    with pytest.raises(ValueError, match="'missing'"):
        load_pairs((path,), obs_key="missing")


def test_load_pairs_success_only_keeps_the_episodes_that_end_in_success(tmp_path):
    path = colour_store(tmp_path / "s.zarr", episodes=4, rows=5, success=[True, False, True, False])
    every, _, _ = load_pairs((path,))
    obs, _, ep = load_pairs((path,), success_only=True)
    assert len(obs) == 8 and np.array_equal(obs[:4], every[:4]) and np.array_equal(obs[4:], every[8:12])
    assert np.array_equal(np.bincount(ep), [4, 4])
    failed = colour_store(tmp_path / "f.zarr", episodes=2, rows=5, success=[False, False])
    with pytest.raises(ValueError, match="of successful episodes"):
        load_pairs((failed,), success_only=True)
    with pytest.raises(ValueError, match="'is_success'"):  # a store without the flag cannot be filtered
        load_pairs((colour_store(tmp_path / "n.zarr", episodes=1),), success_only=True)


def test_bc_reduces_the_action_error_and_round_trips(tmp_path):
    path = colour_store(tmp_path / "s.zarr")
    out = tmp_path / "bc"
    r = train(
        Args(
            data=(path,),
            out=str(out),
            epochs=30,
            batch_size=16,
            learning_rate=3e-3,
            channels=(8, 8),
            hidden=32,
            val_fraction=0.25,
            augment=False,
            device="cpu",
        )
    )
    assert r["val_mse"] < 0.3 * r["val_mse_initial"]
    assert r["train_mse"] < 0.02
    pol = load_policy(out)
    assert pol.extra["algo"] == "bc" and pol.extra["env_id"] == GT_ID
    assert pol.observation_space.shape == (64, 64, 3) and pol.action_space.shape == (7,)
    assert torch.allclose(pol.net.log_std, torch.full((7,), -1.0))  # set for PPO fine-tuning
    obs, act, _ = load_pairs((path,))
    pred = pol.net.act(obs[:20], pol.action_space)
    assert np.abs(pred - act[:20]).mean() < 0.15
    again = load_policy(out).net.act(obs[:20], pol.action_space)
    assert np.array_equal(pred, again)


def test_bc_refuses_stores_that_do_not_fit_the_env(tmp_path):
    path = colour_store(tmp_path / "s.zarr", episodes=2)
    with pytest.raises(ValueError, match="do not match"):
        train(Args(data=(path,), env_id="Pendulum-v1", out=str(tmp_path / "bc"), epochs=1))
    with pytest.raises(ValueError, match="loss"):
        Args(loss="l1")
