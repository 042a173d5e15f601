"""PPO: GAE by hand, learning on a trivial task, resume, init-from and its space check, pixel envs."""

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

import cosmos_sim  # noqa: F401  (registers the ids)
from cosmos_sim.errors import ConfigError
from cosmos_sim.policies.evaluate import run_episodes
from cosmos_sim.policies.networks import load_policy, make_network, save_policy
from cosmos_sim.policies.ppo import Args, compute_gae, train

TARGET_ID = "cosmos_sim_test/Target-v0"  # registered by conftest.py
SMALL = dict(num_envs=8, num_steps=16, hidden=32, progress=False, device="cpu")


def test_gae_matches_a_hand_computation():
    # one env, 3 steps; the episode is truncated after step 0, terminated after step 2
    r = torch.tensor([[1.0], [2.0], [3.0]])
    v = torch.tensor([[0.5], [0.25], [1.0]])
    nv = torch.tensor([4.0])
    term = torch.tensor([[False], [False], [True]])
    done = torch.tensor([[True], [False], [True]])
    g, lam = 0.9, 0.5
    adv = compute_gae(r, v, nv, term, done, g, lam)
    d2 = 3.0 - 1.0  # terminated: no bootstrap
    d1 = 2.0 + g * 1.0 - 0.25
    d0 = 1.0 + g * 0.25 - 0.5  # truncated: bootstraps from the final observation's value, chain cut
    assert torch.allclose(adv[:, 0], torch.tensor([d0, d1 + g * lam * d2, d2]))


def test_ppo_learns_the_target_task(tmp_path):
    torch.manual_seed(0)
    args = Args(env_id=TARGET_ID, out=str(tmp_path / "ppo"), total_steps=6144, learning_rate=3e-3, **SMALL)
    net0 = make_network(*_spaces(), hidden=32)
    before, _ = run_episodes(net0, TARGET_ID, list(range(100000, 100032)))
    result = train(args)
    assert result["global_step"] == 6144
    after, _ = run_episodes(load_policy(tmp_path / "ppo").net, TARGET_ID, list(range(100000, 100032)))
    # the untrained mean action is ~0: expected squared error 2/3 per step, -2.7 per episode
    assert before.mean_return < -2.0
    assert after.mean_return > 0.5 * before.mean_return + 0.5
    returns = [h["return_mean"] for h in result["history"] if h["return_mean"] is not None]
    assert np.mean(returns[-3:]) > np.mean(returns[:3])


def _spaces():
    import gymnasium as gym

    env = gym.make(TARGET_ID)
    return env.observation_space, env.action_space


def test_resume_continues_the_step_count(tmp_path):
    out = tmp_path / "run"
    first = train(Args(env_id=TARGET_ID, out=str(out), total_steps=256, **SMALL))
    assert first["global_step"] == 256 and len(first["history"]) == 2
    assert load_policy(out).extra["global_step"] == 256
    second = train(Args(env_id=TARGET_ID, out=str(out), total_steps=512, **SMALL))
    assert second["global_step"] == 512 and [h["step"] for h in second["history"]] == [128, 256, 384, 512]
    assert len((out / "log.jsonl").read_text().splitlines()) == 4
    assert json.loads((out / "log.jsonl").read_text().splitlines()[-1])["step"] == 512
    again = train(Args(env_id=TARGET_ID, out=str(out), total_steps=512, **SMALL))  # nothing left to do
    assert again["global_step"] == 512 and len(again["history"]) == 4


def test_resume_continues_from_the_saved_weights_and_optimizer(tmp_path):
    out = tmp_path / "run"
    train(Args(env_id=TARGET_ID, out=str(out), total_steps=256, learning_rate=3e-3, **SMALL))
    saved = {k: v.clone() for k, v in load_policy(out).net.named_parameters()}
    adam_steps = torch.load(out / "train_state.pt", weights_only=False)["optimizer"]["state"][0]["step"]
    # Resumed at learning rate 0: the weights must stay exactly the saved ones (a silent restart from
    # fresh weights would not), and Adam's step count must go on from the saved state.
    train(Args(env_id=TARGET_ID, out=str(out), total_steps=512, learning_rate=0.0, **SMALL))
    for name, p in load_policy(out).net.named_parameters():
        assert torch.equal(p, saved[name]), name
    state = torch.load(out / "train_state.pt", weights_only=False)
    assert state["optimizer"]["state"][0]["step"] == 2 * adam_steps


@pytest.mark.parametrize(
    "mode, samples, episodes", [("NextStep", 4 * (64 - 12), 4 * 13), ("SameStep", 4 * 64, 4 * 16)]
)
def test_reset_steps_are_left_out_of_the_update_in_both_autoreset_modes(tmp_path, mode, samples, episodes):
    """4-step episodes, 64 steps per row: under next-step autoreset every fifth step of a row is a reset step
    (12 of them, no transition, never optimised on); under same-step autoreset every step is a transition."""
    result = train(
        Args(
            env_id=TARGET_ID,
            out=str(tmp_path / mode),
            total_steps=64 * 4,
            num_envs=4,
            num_steps=16,
            hidden=16,
            progress=False,
            device="cpu",
            env_kwargs=json.dumps({"vectorization_mode": "sync", "vector_kwargs": {"autoreset_mode": mode}}),
        )
    )
    h = result["history"]
    assert sum(x["samples"] for x in h) == samples
    assert sum(x["episodes"] for x in h) == episodes and all(x["length_mean"] == 4 for x in h)


def test_init_from_starts_from_the_policy_and_checks_spaces(tmp_path, tiny_wfm):
    import gymnasium as gym

    obs_space, act_space = _spaces()
    net = make_network(obs_space, act_space, hidden=32)
    with torch.no_grad():
        net.actor_mean.bias.fill_(0.5)
    save_policy(tmp_path / "init", net, obs_space, act_space)
    train(
        Args(
            env_id=TARGET_ID,
            out=str(tmp_path / "ft"),
            init_from=str(tmp_path / "init"),
            total_steps=128,
            learning_rate=1e-6,
            **SMALL,
        )
    )
    tuned = load_policy(tmp_path / "ft").net
    assert torch.allclose(tuned.actor_mean.bias, torch.full((2,), 0.5), atol=1e-3)

    with pytest.raises(ValueError) as e:  # a state policy into the pixel world model
        train(
            Args(
                env_id="cosmos_sim/Manipulation-WFM-v0",
                env_kwargs=json.dumps({"checkpoint": tiny_wfm}),
                out=str(tmp_path / "bad"),
                init_from=str(tmp_path / "init"),
                total_steps=16,
                **SMALL,
            )
        )
    msg = str(e.value)
    assert "Box(-1.0, 1.0, (2,), float32)" in msg and "(64, 64, 3)" in msg
    assert gym.make(TARGET_ID).observation_space.shape == (2,)


def test_ppo_on_pixels_in_the_world_model_env(tmp_path, tiny_wfm):
    """The natively batched WFM env with a CNN; its reset steps (next-step autoreset) are masked."""
    out = tmp_path / "wfm"
    result = train(
        Args(
            env_id="cosmos_sim/Manipulation-WFM-v0",
            env_kwargs=json.dumps({"checkpoint": tiny_wfm, "max_episode_steps": 5}),
            out=str(out),
            total_steps=48,
            num_envs=2,
            num_steps=12,
            channels=(4, 8),
            hidden=16,
            progress=False,
            num_minibatches=2,
            update_epochs=1,
        )
    )
    assert result["global_step"] == 48
    h = result["history"]
    # 5-step episodes: every 6th step of a row is a reset step, so 2 rows x 24 steps hold 8 episodes
    assert sum(x["episodes"] for x in h) == 8 and all(x["length_mean"] == 5 for x in h)
    assert sum(x["samples"] for x in h) == 48 - 8  # the 8 reset steps are not trained on
    pol = load_policy(out)
    assert pol.observation_space.shape == (64, 64, 3) and pol.observation_space.dtype == np.uint8
    assert pol.net.config.pixels and pol.extra["algo"] == "ppo"


def _random_init(tmp_path):
    obs_space, act_space = _spaces()
    net = make_network(obs_space, act_space, hidden=32)
    with torch.no_grad():
        net.actor_mean.weight.normal_(0, 0.5)
        net.actor_mean.bias.fill_(0.3)
    save_policy(tmp_path / "init", net, obs_space, act_space)
    return net


def test_value_warmup_trains_only_the_value_head(tmp_path):
    init = _random_init(tmp_path)
    args = Args(env_id=TARGET_ID, out=str(tmp_path / "warm"), init_from=str(tmp_path / "init"), **SMALL)
    train(replace(args, total_steps=2 * 128, learning_rate=1e-2, value_warmup=2))
    warm = load_policy(tmp_path / "warm").net
    for name, p in warm.named_parameters():
        same = torch.equal(p, dict(init.named_parameters())[name])
        assert same != name.startswith("critic"), name  # everything but the value head as it was
    train(replace(args, out=str(tmp_path / "nowarm"), total_steps=2 * 128, learning_rate=1e-2))
    assert not torch.equal(load_policy(tmp_path / "nowarm").net.actor_mean.weight, init.actor_mean.weight)


def test_the_bc_anchor_keeps_a_fine_tune_near_its_start(tmp_path):
    init = _random_init(tmp_path)
    obs = torch.rand(256, 2) * 2 - 1
    drift = {}
    for coef in (0.0, 100.0):
        out = tmp_path / f"anchor{coef}"
        args = Args(
            env_id=TARGET_ID, out=str(out), init_from=str(tmp_path / "init"), anchor_coef=coef, **SMALL
        )
        train(replace(args, total_steps=6 * 128, learning_rate=3e-3))
        tuned = load_policy(out).net
        with torch.no_grad():
            drift[coef] = (tuned(obs)[0].mean - init(obs)[0].mean).pow(2).sum(-1).mean().item()
    assert drift[100.0] < 0.2 * drift[0.0]
    with pytest.raises(ConfigError, match="anchor_coef=1.0 anchors the policy to the one it starts from"):
        Args(env_id=TARGET_ID, anchor_coef=1.0)
