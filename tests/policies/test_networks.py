"""The actor-critic network: shapes, clipping, running observation statistics, checkpoint round trip."""

import numpy as np
import pytest
import torch
from gymnasium import spaces

from cosmos_sim.policies.networks import (
    check_spaces,
    load_policy,
    make_network,
    save_policy,
    space_from_json,
    space_to_json,
)
from cosmos_sim.world_models.checkpoint import CheckpointError

PIXELS = spaces.Box(0, 255, (64, 64, 3), np.uint8)
ACTIONS = spaces.Box(-1.0, 1.0, (7,), np.float32)


def test_pixel_network_shapes_and_clipped_actions():
    net = make_network(PIXELS, ACTIONS, channels=(4, 8), hidden=16)
    obs = np.random.default_rng(0).integers(0, 256, (5, 64, 64, 3), dtype=np.uint8)
    dist, value = net(torch.as_tensor(obs))
    assert dist.mean.shape == (5, 7) and value.shape == (5,)
    with torch.no_grad():
        net.actor_mean.bias.fill_(3.0)  # a mean outside the space is clipped when acting
    a = net.act(obs, ACTIONS)
    assert a.dtype == np.float32 and np.all(a == 1.0)
    flipped = obs[:, ::-1]  # negative strides, as MuJoCo's render() returns frames
    assert np.array_equal(net.act(flipped, ACTIONS), net.act(np.ascontiguousarray(flipped), ACTIONS))


def test_running_observation_statistics_match_numpy():
    space = spaces.Box(-np.inf, np.inf, (3,), np.float32)
    net = make_network(space, ACTIONS, hidden=8)
    x = np.random.default_rng(0).normal([1, -2, 5], [1, 2, 3], (200, 3)).astype(np.float32)
    for part in np.split(x, 4):
        net.update_obs_stats(torch.as_tensor(part))
    assert np.allclose(net.obs_mean.numpy(), x.mean(0), atol=1e-4)
    assert np.allclose(net.obs_var.numpy(), x.var(0), rtol=1e-3)


def test_space_json_round_trip():
    box = spaces.Box(np.array([-1, -2], np.float32), np.array([1, 2], np.float32))
    assert space_from_json(space_to_json(box)) == box
    assert space_from_json(space_to_json(PIXELS)) == PIXELS
    with pytest.raises(ValueError, match="Box"):
        space_to_json(spaces.Discrete(3))


def test_checkpoint_round_trip_and_space_check(tmp_path):
    net = make_network(PIXELS, ACTIONS, channels=(4, 8), hidden=16)
    save_policy(tmp_path / "p", net, PIXELS, ACTIONS, extra={"algo": "test"})
    pol = load_policy(tmp_path / "p")
    obs = torch.zeros(2, 64, 64, 3, dtype=torch.uint8)
    assert torch.equal(pol.net(obs)[0].mean, net(obs)[0].mean) and pol.extra["algo"] == "test"
    check_spaces(pol, PIXELS, ACTIONS)
    small = spaces.Box(0, 255, (32, 32, 3), np.uint8)
    with pytest.raises(
        ValueError, match=r"Box\(0, 255, \(64, 64, 3\), uint8\).*Box\(0, 255, \(32, 32, 3\), uint8\)"
    ):
        check_spaces(pol, small, ACTIONS)
    with pytest.raises(CheckpointError, match="tokenizer"):
        from cosmos_sim.world_models.checkpoint import load_checkpoint

        load_checkpoint(tmp_path / "p", "tokenizer")
