"""ProprioModel's relative inputs: the MLP reads the named differences (and their norm), and bad pairs are refused."""

import numpy as np
import pytest
import torch

from cosmos_sim.errors import ConfigError
from cosmos_sim.world_models.proprio import ProprioConfig, ProprioModel

NAMES = ("ee_x", "ee_y", "red_block_x", "red_block_y")


def _config(**kw) -> ProprioConfig:
    return ProprioConfig(NAMES, 2, (0.0,) * 4, (0.1,) * 4, (0.01,) * 4, hidden=8, **kw)


def test_relative_pairs_are_read_as_differences_and_their_norm():
    model = ProprioModel(_config(relative=(("ee_x", "red_block_x"), ("ee_y", "red_block_y"))))
    first = model.mlp[0]
    assert (
        first.in_features == 2 * 4 + 2 * 2 + 2 + 1
    )  # state, change, two actions, two differences, their norm
    with torch.no_grad():  # only the relative inputs reach the output
        first.weight[:, :-3] = 0
    p = np.array([[0.1, 0.2, 0.15, 0.25]], np.float32)
    a = np.zeros((1, 2), np.float32)

    def out(state):
        return model.step(state, state, a, a) - state

    both = p + np.array([[0.3, -0.2, 0.3, -0.2]], np.float32)  # hand and block moved together
    np.testing.assert_allclose(out(both), out(p), atol=1e-6)
    block = p + np.array([[0.0, 0.0, 0.04, 0.0]], np.float32)  # the block alone moved
    assert np.abs(out(block) - out(p)).max() > 1e-4


def test_no_relative_pairs_is_the_plain_model():
    assert ProprioModel(_config()).mlp[0].in_features == 2 * 4 + 2 * 2


@pytest.mark.parametrize("pair", [("ee_x", "goal_x"), ("ee_x",), ("ee_x", "ee_y", "red_block_x")])
def test_relative_pairs_must_be_two_of_the_names(pair):
    with pytest.raises(ConfigError, match="relative pairs must be two of the names"):
        _config(relative=(pair,))


def test_relative_scale_must_be_positive():
    with pytest.raises(ConfigError, match="relative_scale must be > 0"):
        _config(relative=(("ee_x", "red_block_x"),), relative_scale=0.0)
