"""Evaluation: held-out seeds, success and return, the GIF, and the space-mismatch error (API and CLI)."""

import gymnasium as gym
import numpy as np
import pytest
import torch

import cosmos_sim  # noqa: F401
from cosmos_sim.cli import main
from cosmos_sim.policies.evaluate import HELD_OUT_SEED, evaluate
from cosmos_sim.policies.networks import make_network, save_policy

TARGET_ID = "cosmos_sim_test/Target-v0"  # registered by conftest.py


@pytest.fixture()
def identity_policy(tmp_path):
    """A state policy that outputs its observation: the best policy of the target task."""
    env = gym.make(TARGET_ID)
    net = make_network(env.observation_space, env.action_space, hidden=2)
    with torch.no_grad():  # mean = W2 tanh(W1 x); small inputs: tanh ~ identity
        net.encoder[0].weight.copy_(torch.eye(2) * 0.01)
        net.encoder[0].bias.zero_()
        net.encoder[2].weight.copy_(torch.eye(2))
        net.encoder[2].bias.zero_()
        net.actor_mean.weight.copy_(torch.eye(2) * 100.0)
        net.actor_mean.bias.zero_()
    save_policy(tmp_path / "id", net, env.observation_space, env.action_space)
    return tmp_path / "id"


def test_evaluate_measures_return_success_and_writes_a_gif(identity_policy, tmp_path):
    r = evaluate(identity_policy, TARGET_ID, episodes=5, gif=tmp_path / "e.gif", gif_episodes=2)
    assert r.seeds == tuple(range(HELD_OUT_SEED, HELD_OUT_SEED + 5))
    assert r.mean_length == 4 and r.success_rate == 1.0 and -0.01 < r.mean_return <= 0
    frames = __import__("imageio.v3", fromlist=["imread"]).imread(tmp_path / "e.gif")
    assert frames.shape[0] == 5  # the first frame and 4 steps
    again = evaluate(identity_policy, TARGET_ID, episodes=5)
    assert again.returns == r.returns


def test_a_worse_policy_scores_lower(tmp_path):
    env = gym.make(TARGET_ID)
    net = make_network(env.observation_space, env.action_space, hidden=4)
    with torch.no_grad():
        net.actor_mean.weight.zero_()
        net.actor_mean.bias.fill_(1.0)  # always (1, 1): squared error (1-x)^2 + (1-y)^2
    save_policy(tmp_path / "p", net, env.observation_space, env.action_space)
    r = evaluate(tmp_path / "p", TARGET_ID, episodes=8)
    assert r.success_rate < 0.2 and r.mean_return < -4 * 1.5  # E[(1-U)^2] = 4/3 per dim


def test_space_mismatch_names_both_spaces(identity_policy, capsys):
    with pytest.raises(ValueError) as e:
        evaluate(identity_policy, "Pendulum-v1", episodes=1)
    assert "Box(-1.0, 1.0, (2,), float32)" in str(e.value) and "(3,)" in str(e.value)
    assert (
        main(
            [
                "eval-policy",
                "--policy",
                str(identity_policy),
                "--env",
                "cosmos_sim/Manipulation-GT-v0",
                "--episodes",
                "1",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "(2,)" in err and "(64, 64, 3)" in err


def test_cli_eval_policy_prints_the_success_rate(identity_policy, capsys):
    assert main(["eval-policy", "--policy", str(identity_policy), "--env", TARGET_ID, "--episodes", "3"]) == 0
    out = capsys.readouterr().out
    assert "success rate 1.000" in out and (identity_policy / "eval.gif").is_file()
    assert np.isfinite(float(out.split("mean return ")[1].split(",")[0]))


def test_eval_policy_reports_a_bad_policy_directory_in_one_line(tmp_path, capsys):
    """evaluate raises cosmos_sim.errors classes itself: the CLI needs no pre-check to print them as one line."""
    (tmp_path / "empty").mkdir()
    assert (
        main(["eval-policy", "--policy", str(tmp_path / "empty"), "--env", TARGET_ID, "--episodes", "1"]) == 2
    )
    err = capsys.readouterr().err
    assert (
        err.startswith("cosmos-sim eval-policy: error: checkpoint file") and "config.json is missing" in err
    )
    assert len(err.splitlines()) == 1
