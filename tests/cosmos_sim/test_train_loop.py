"""train-loop: two tiny iterations of collect -> world model -> PPO in the model -> GT evaluation, resume."""

import json

import pytest

from cosmos_sim.data.store import TrajectoryStore
from cosmos_sim.errors import ConfigError
from cosmos_sim.train.loop import Args, train_loop
from cosmos_sim.world_models.wfm import WorldModel


def _tiny(tmp_path, wfm: str, **extra) -> Args:
    """Two iterations of a toy budget."""
    return Args(
        wfm=wfm,
        out=str(tmp_path / "loop"),
        iterations=2,
        real_episodes=2,
        wfm_steps=2,
        imagination_steps=64,
        horizon=8,
        num_envs=4,
        num_steps=16,
        eval_episodes=2,
        device="cpu",
        progress=False,
        **extra,
    )


def test_two_tiny_iterations_then_resume(tmp_path, tiny_wfm):
    args = _tiny(tmp_path, tiny_wfm)
    rows = train_loop(args)
    out = tmp_path / "loop"
    assert [r["iteration"] for r in rows] == [0, 1]
    data = [TrajectoryStore.open(out / "data" / f"iter_{i:02d}.zarr") for i in (0, 1)]
    assert all(d.n_episodes == 2 for d in data)
    assert rows[1]["real_steps"] == sum(d.n_steps - d.n_episodes for d in data)  # only the collected steps
    assert sorted(int(s) for d in data for s in d.episode_seeds) == [0, 1, 2, 3]  # training seeds
    for r in rows:
        assert 0 <= r["gt_success"] <= 1 and r["imagined_steps"] == 64 * (r["iteration"] + 1)
    wm = WorldModel.from_pretrained(out / "wfm" / "iter_01" / "best", device="cpu")
    assert wm.config.env_id == "cosmos_sim/Manipulation-Reach-GT-v0"  # the loop's world model is of the task
    log = [json.loads(x) for x in (out / "policy" / "log.jsonl").read_text().splitlines()]
    assert log[-1]["step"] == 128  # one PPO run continued across the iterations
    # the same command again: nothing left; one more iteration: only iteration 2 runs
    assert len(train_loop(args)) == 2
    rows = train_loop(Args(**{**args.__dict__, "iterations": 3}))
    assert [r["iteration"] for r in rows] == [0, 1, 2] and rows[2]["real_steps"] > rows[1]["real_steps"]


def test_bad_budgets_are_clear_errors():
    with pytest.raises(ConfigError, match="--imagination-steps 10 is less than one PPO rollout"):
        Args(imagination_steps=10)
    with pytest.raises(ConfigError, match="--iterations must be >= 1"):
        Args(iterations=0)
    with pytest.raises(ConfigError, match="--reward perceived reads the estimated state: pass --perception"):
        Args(reward="perceived")
    with pytest.raises(
        ConfigError, match=r"--hold keeps paying the task's reward after success: pass --reward perc"
    ):
        Args(hold=True)
    with pytest.raises(ConfigError, match=r"--gate-episodes must be >= 0 \(0: off\), got -1"):
        Args(gate_episodes=-1)
    with pytest.raises(
        ConfigError, match=r"--tracked entries are predicted with the robot's state: pass --proprio"
    ):
        Args(perception="x", tracked=("red_block_x",))
    with pytest.raises(ConfigError, match=r"--perception-steps must be >= 0 \(0: no refresh\), got -1"):
        Args(perception_steps=-1)
    with pytest.raises(ConfigError, match="--static holds entries of the estimated state: pass --perception"):
        Args(static=("goal_x",))
    with pytest.raises(
        ConfigError, match="--proprio replaces entries of the estimated state: pass --perception"
    ):
        Args(proprio=("ee_x",))
    with pytest.raises(ConfigError, match="--reward 'model' unknown; use 'head' or 'perceived'"):
        Args(reward="model")
    with pytest.raises(ConfigError, match="--improve 'bc' unknown; use 'ppo' or 'imitate'"):
        Args(improve="bc")
    with pytest.raises(
        ConfigError, match="--improve imitate clones the expert .* pass --perception ESTIMATOR and"
    ):
        Args(improve="imitate", perception="x")


def test_with_perception_the_policy_reads_states_and_the_estimator_is_refreshed(
    tmp_path, tiny_wfm, tiny_state_estimator, capsys
):
    from cosmos_sim.policies.networks import load_policy
    from cosmos_sim.world_models.proprio import ProprioModel
    from cosmos_sim.world_models.state_estimator import StateEstimator

    args = _tiny(
        tmp_path,
        tiny_wfm,
        perception=tiny_state_estimator,
        perception_steps=2,
        reward="perceived",
        proprio=("ee_x", "ee_y", "ee_z"),
        static=("goal_x", "goal_y"),
        hold=True,
    )
    rows = train_loop(args)
    out = tmp_path / "loop"
    assert [r["iteration"] for r in rows] == [0, 1] and all(0 <= r["gt_success"] <= 1 for r in rows)
    # every entry is proprioception or static, read off real frames only: no model frames teach the refresh
    refreshes = [x for x in capsys.readouterr().out.splitlines() if "world-model frames" in x]
    assert len(refreshes) == 2 and all("+ 0 world-model frames" in x for x in refreshes)
    # the model's belief is the GT evaluation repeated inside it (a success rate of the same 2 seeds)
    assert all(r["believed_success"] in (0.0, 0.5, 1.0) and "train_success" in r for r in rows)
    data = TrajectoryStore.open(out / "data" / "iter_01.zarr")
    assert {"rgb", "true_state", "state"} <= set(data.keys())  # frames, the simulator's labels, the estimate
    assert data.attrs["env_kwargs"]["estimator"].endswith(
        "perception/iter_00/best"
    )  # last iteration's refresh
    for it in (0, 1):
        est = StateEstimator.from_pretrained(out / "perception" / f"iter_{it:02d}" / "best", device="cpu")
        assert est.names == StateEstimator.from_pretrained(tiny_state_estimator, device="cpu").names
    assert data.attrs["env_kwargs"]["static"] == ["goal_x", "goal_y"]
    goal = data.read("state", 0, data.episode_ends[0])[:, 3:5]
    assert (goal == goal[0]).all()  # held from the episode's first frame
    layout = list(data.attrs["state_layout"])
    ee = data.read("true_state", 0, data.n_steps)[:, [layout.index(n) for n in ("ee_x", "ee_y", "ee_z")]]
    assert (data.read("state", 0, data.n_steps)[:, :3] == ee).all()  # the GT env gives proprioception
    for it in (0, 1):  # a proprioception model per iteration, fitted on the real episodes so far
        assert ProprioModel.from_pretrained(out / "proprio" / f"iter_{it:02d}" / "best", "cpu").names == (
            "ee_x",
            "ee_y",
            "ee_z",
        )
    policy = load_policy(out / "policy", "cpu")
    assert policy.net.observation_space.shape == (5,)  # the estimator's reading, not the frame
    wm = WorldModel.from_pretrained(out / "wfm" / "iter_01" / "best", device="cpu")
    assert wm.config.env_kwargs["env_id"] == "cosmos_sim/Manipulation-Reach-GT-v0"


def _bc_start(tmp_path, estimator):
    import gymnasium as gym
    import torch

    from cosmos_sim.policies.networks import make_network, save_policy

    env = gym.make("cosmos_sim/Perceived-v0", estimator=estimator)
    torch.manual_seed(0)
    start = save_policy(
        tmp_path / "bc",
        make_network(env.observation_space, env.action_space, hidden=16),
        env.observation_space,
        env.action_space,
    )
    env.close()
    return str(start)


def test_a_bc_anchored_fine_tune_continues_past_the_first_iteration(tmp_path, tiny_wfm, tiny_state_estimator):
    """--policy-init with --anchor-coef: the anchor stays on the starting policy in every iteration (the
    second iteration once failed: the resumed PPO run was not told what it is anchored to)."""
    args = _tiny(
        tmp_path,
        tiny_wfm,
        perception=tiny_state_estimator,
        perception_steps=2,
        policy_init=_bc_start(tmp_path, tiny_state_estimator),
        anchor_coef=1.0,
        value_warmup=1,
    )
    rows = train_loop(args)
    assert [r["iteration"] for r in rows] == [0, 1]
    log = [json.loads(x) for x in (tmp_path / "loop" / "policy" / "log.jsonl").read_text().splitlines()]
    assert all("anchor_loss" in r for r in log[1:])  # the anchor acted in both iterations' updates


def _demos(tmp_path, env_id: str, estimator: str):
    """One 4-step expert episode through ``estimator`` (e.g. what a starting policy was cloned from)."""
    from cosmos_sim.data.generate import GenerateConfig, generate

    demos = tmp_path / "demos.zarr"
    generate(
        GenerateConfig(
            env_id="cosmos_sim/Perceived-v0",
            episodes=1,
            out=str(demos),
            policy="expert",
            max_steps=4,
            seed=7,
            env_kwargs={"env_id": env_id, "estimator": estimator},
            progress=False,
        )
    )
    return demos


def test_the_gate_scores_both_policies_on_the_same_real_episodes_and_prior_data_joins_every_fit(
    tmp_path, tiny_wfm, tiny_state_estimator, capsys
):
    start = _bc_start(tmp_path, tiny_state_estimator)
    demos = _demos(tmp_path, "cosmos_sim/Manipulation-Reach-GT-v0", tiny_state_estimator)
    args = _tiny(
        tmp_path,
        tiny_wfm,
        perception=tiny_state_estimator,
        perception_steps=0,
        policy_init=start,
        proprio=("ee_x", "ee_y", "ee_z"),
    )
    args = Args(**{**args.__dict__, "gate_episodes": 2, "prior_data": (str(demos),)})
    rows = train_loop(args)
    out = tmp_path / "loop"
    fits = [x for x in capsys.readouterr().out.splitlines() if x.startswith(("train:", "proprio model"))]
    own = [TrajectoryStore.open(out / "data" / f"iter_{i:02d}.zarr") for i in (0, 1)]
    demo_steps = TrajectoryStore.open(demos).n_steps - 1
    assert "from 2 stores" in fits[0] and "from 3 stores" in fits[2]  # world model: demos + the loop's own
    assert f"{demo_steps + own[0].n_steps - own[0].n_episodes} steps learnt" in fits[1]  # the proprio model
    collected = [TrajectoryStore.open(out / "data" / f"iter_{i:02d}.zarr") for i in (0, 1)]
    spent = [d.n_steps - d.n_episodes for d in collected]
    for r in rows:
        assert {"gate_new", "gate_old", "gate_steps", "gate_kept_new"} <= set(r)
        assert r["gate_kept_new"] == (r["gate_new"] >= r["gate_old"])
        assert 2 * 2 <= r["gate_steps"] <= 2 * 2 * 50  # two policies x two episodes of the reach task
    # the gate's episodes are real steps too
    assert rows[1]["real_steps"] == sum(spent) + rows[0]["gate_steps"] + rows[1]["gate_steps"]


def test_a_policy_the_gate_rejects_is_replaced_by_the_one_before(
    tmp_path, tiny_wfm, tiny_state_estimator, monkeypatch
):
    from cosmos_sim.policies.networks import load_policy
    from cosmos_sim.train import loop

    start = _bc_start(tmp_path, tiny_state_estimator)
    verdicts = iter([True, False])  # iteration 0 keeps its new policy, iteration 1 loses its own
    monkeypatch.setattr(
        loop,
        "gate_policy",
        lambda *a: {"gate_new": 0.0, "gate_old": 0.0, "gate_steps": 5, "gate_kept_new": next(verdicts)},
    )
    args = _tiny(tmp_path, tiny_wfm, perception=tiny_state_estimator, perception_steps=0, policy_init=start)
    args = Args(**{**args.__dict__, "gate_episodes": 2, "iterations": 1})
    train_loop(args)
    out = tmp_path / "loop"
    after_first = load_policy(out / "policy", "cpu").net.state_dict()
    train_loop(Args(**{**args.__dict__, "iterations": 2}))
    after_second = load_policy(out / "policy", "cpu").net.state_dict()
    assert all((after_first[k] == after_second[k]).all() for k in after_first)  # back to iteration 0's
    assert not (out / "policy_kept").exists()  # the gate's copy goes once it has decided
    log = [json.loads(x) for x in (out / "policy" / "log.jsonl").read_text().splitlines()]
    assert log[-1]["step"] == 64  # its PPO state too: the rejected updates are gone


def test_perception_steps_0_keeps_the_given_estimator(tmp_path, tiny_wfm, tiny_state_estimator):
    args = _tiny(tmp_path, tiny_wfm, perception=tiny_state_estimator, perception_steps=0)
    train_loop(args)
    out = tmp_path / "loop"
    assert not (out / "perception").exists()
    data = TrajectoryStore.open(out / "data" / "iter_01.zarr")
    assert data.attrs["env_kwargs"]["estimator"] == tiny_state_estimator


def test_with_a_perceived_reward_the_task_not_the_head_ends_imagined_episodes(tiny_wfm):
    from pathlib import Path

    from cosmos_sim.train.loop import model_kwargs

    perceived = model_kwargs(Args(perception="est", reward="perceived"), Path(tiny_wfm), 32)
    assert perceived == {
        "checkpoint": tiny_wfm,
        "max_episode_steps": 32,
        "device": "auto",
        "head_terminates": False,
    }
    assert "head_terminates" not in model_kwargs(
        Args(), Path(tiny_wfm), 32
    )  # the head's reward: its ending too


def test_improve_imitate_records_the_expert_on_believed_states_and_clones_demos_plus_imagined(
    tmp_path, tiny_wfm
):
    """--improve imitate: inside the model the push expert acts on the state the policy sees (each recorded
    action is ``expert_from_state`` of its row), and the policy is cloned on the demonstrations plus every
    imagined store so far."""
    import gymnasium as gym
    import numpy as np
    import torch

    from cosmos_sim.world_models.state_estimator import StateEstimator, StateEstimatorConfig

    torch.manual_seed(0)
    names = ("ee_x", "ee_y", "ee_z", "goal_x", "goal_y", "red_block_x", "red_block_y")
    est = tmp_path / "push_estimator"
    StateEstimator(
        StateEstimatorConfig(names, (0.0,) * 7, (0.1,) * 7, channels=(4, 8), hidden=16)
    ).save_pretrained(est, dtype=None)
    push = "cosmos_sim/Manipulation-GT-v0"
    demos = _demos(tmp_path, push, str(est))
    args = _tiny(
        tmp_path,
        tiny_wfm,
        env_id=push,
        perception=str(est),
        perception_steps=0,
        proprio=("ee_x", "ee_y", "ee_z"),
        static=("goal_x", "goal_y"),
        tracked=("red_block_x", "red_block_y"),
        reward="perceived",
        improve="imitate",
        imitate_epochs=1,
        prior_data=(str(demos),),
    )
    rows = train_loop(args)
    out = tmp_path / "loop"
    teacher = gym.make(push).unwrapped
    for it in (0, 1):
        s = TrajectoryStore.open(out / "imagined" / f"iter_{it:02d}.zarr")
        assert s.n_steps - s.n_episodes >= args.imagination_steps
        states, actions = s.read("state", 0, s.n_steps), s.read("action", 0, s.n_steps)
        for row in np.flatnonzero(~np.isin(np.arange(s.n_steps), s.episode_ends - 1))[:20]:
            want = teacher.expert_from_state(dict(zip(names, map(float, states[row]), strict=True)))
            np.testing.assert_allclose(actions[row], want, atol=1e-6)
        assert 0.0 <= rows[it]["train_success"] <= 1.0
    config = json.loads((out / "policy" / "config.json").read_text())
    assert "--improve imitate" in json.dumps(config)


def test_improve_imitate_on_a_scene_without_a_state_teacher_fails_before_any_work(
    tmp_path, tiny_state_estimator
):
    args = _tiny(
        tmp_path,
        "manip-dit-nano",
        perception=tiny_state_estimator,
        improve="imitate",
        prior_data=("demos.zarr",),
    )  # the reach scene: its expert is not a push teacher
    with pytest.raises(
        ConfigError, match="--improve imitate needs a push scene whose expert acts on a state"
    ):
        train_loop(args)
    assert not (tmp_path / "loop" / "data").exists()
