"""Scripted policies: the noisy expert's per-episode noise, its recording paths agree, the CLI's choices."""

import gymnasium as gym
import numpy as np
import pytest

import cosmos_sim  # noqa: F401  (registers the ids)
from cosmos_sim.cli import GENERATE_POLICIES
from cosmos_sim.data.generate import GenerateConfig, generate, record_noisy_expert
from cosmos_sim.data.store import TrajectoryStore
from cosmos_sim.policies import POLICIES, NoisyExpertPolicy, make_policy

MANIP = "cosmos_sim/Manipulation-GT-v0"


def test_noisy_expert_is_the_expert_plus_seeded_noise():
    env = gym.make(MANIP, width=32, height=32)
    env.reset(seed=5)
    calm = NoisyExpertPolicy(env.action_space, seed=5, max_noise=0.0, max_random=0.0)
    assert np.allclose(calm(None, env), np.clip(env.unwrapped.expert_action(), -1, 1))
    a = [NoisyExpertPolicy(env.action_space, seed=5)(None, env) for _ in range(2)]
    b = NoisyExpertPolicy(env.action_space, seed=6)(None, env)
    assert np.array_equal(a[0], a[1]) and not np.array_equal(a[0], b)  # the seed decides the noise
    assert a[0].dtype == np.float32 and np.abs(a[0]).max() <= 1
    with pytest.raises(ValueError, match="has no scripted expert.*--policy noisy-expert"):
        make_policy("noisy-expert", gym.make("CartPole-v1"))
    with pytest.raises(ValueError, match="random, expert, noisy-expert"):
        make_policy("expert-ish", env)


def test_generate_records_the_noisy_expert_with_its_options(tmp_path):
    generate(
        GenerateConfig(
            env_id=MANIP,
            episodes=2,
            out=str(tmp_path / "gen.zarr"),
            policy="noisy-expert",
            seed=7,
            max_steps=12,
            progress=False,
        )
    )
    calm = record_noisy_expert(
        str(tmp_path / "calm.zarr"), episodes=2, seed=7, max_steps=12, max_noise=0.0, max_random=0.0
    )
    expert = tmp_path / "expert.zarr"
    generate(
        GenerateConfig(
            env_id=MANIP, episodes=2, out=str(expert), policy="expert", seed=7, max_steps=12, progress=False
        )
    )
    gen, exp = TrajectoryStore.open(tmp_path / "gen.zarr"), TrajectoryStore.open(expert)
    assert list(gen.episode_seeds) == list(calm.episode_seeds) == [7, 8]
    for e in range(2):
        assert np.allclose(calm.episode(e)["action"], np.clip(exp.episode(e)["action"], -1, 1))  # no noise
        assert not np.allclose(gen.episode(e)["action"], exp.episode(e)["action"])
        assert gen.attrs["config"]["policy"] == "noisy-expert"
    with pytest.raises(ValueError, match="takes no options"):
        make_policy("expert", gym.make(MANIP), max_noise=0.1)


def test_the_cli_offers_every_policy():
    assert tuple(GENERATE_POLICIES) == tuple(POLICIES)
