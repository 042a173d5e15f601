"""cosmos_sim/Perceived-v0: an image env (GT or world model) observed through a state estimator."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import cosmos_sim  # noqa: F401
from cosmos_sim.errors import ConfigError
from cosmos_sim.world_models.state_estimator import StateEstimator, StateEstimatorConfig

REACH = "cosmos_sim/Manipulation-Reach-GT-v0"


def _wm_envs(estimator, wfm, num_envs, steps, **kwargs):
    """Perceived-v0 over a natively batched world-model env of ``steps``-step episodes."""
    return gym.make_vec(
        "cosmos_sim/Perceived-v0",
        num_envs=num_envs,
        env_id="cosmos_sim/WFM-v0",
        estimator=estimator,
        env_kwargs={"checkpoint": wfm, "max_episode_steps": steps},
        **kwargs,
    )


def test_the_observation_is_the_estimators_reading_of_the_inner_frame(tiny_state_estimator):
    env = gym.make(
        "cosmos_sim/Perceived-v0", estimator=tiny_state_estimator, env_kwargs={"width": 64, "height": 64}
    )
    est = StateEstimator.from_pretrained(tiny_state_estimator, device="cpu")
    try:
        check_env(env.unwrapped, skip_render_check=False)
        obs, info = env.reset(seed=3)
        assert env.observation_space.shape == (5,) and obs.dtype == np.float32
        np.testing.assert_allclose(obs, est.predict(env.render()), rtol=1e-5, atol=1e-6)
        inner = env.unwrapped
        assert inner.config.task == "reach"  # unwrapped is the GT scene: its state and layout
        np.testing.assert_allclose(info["true_state"], inner.state(), rtol=1e-6)
        obs, reward, term, trunc, info = env.step(env.action_space.sample())
        np.testing.assert_allclose(obs, est.predict(env.render()), rtol=1e-5, atol=1e-6)
        assert "is_success" in info and info["true_state"].shape == (len(inner.state_layout),)
    finally:
        env.close()


def test_the_vector_env_reads_every_row_and_keeps_the_inner_episodes(tiny_state_estimator, tiny_wfm):
    envs = _wm_envs(tiny_state_estimator, tiny_wfm, 3, 4)
    try:
        obs, _ = envs.reset(seed=[5, 6, 7])
        assert obs.shape == (3, 5) and envs.single_observation_space.shape == (5,)
        est = StateEstimator.from_pretrained(tiny_state_estimator, device="cpu")
        for _ in range(4):
            obs, reward, term, trunc, info = envs.step(np.zeros((3, 7), np.float32))
            np.testing.assert_allclose(obs, est.predict(envs.render()), rtol=1e-5, atol=1e-6)
        assert trunc.all()  # the world model's own episode length (4)
    finally:
        envs.close()


def test_an_env_that_does_not_observe_frames_is_refused(tiny_state_estimator):
    with pytest.raises(ConfigError, match=r"reads image observations, but .*Reach-GT-v0 observes Box"):
        gym.make("cosmos_sim/Perceived-v0", estimator=tiny_state_estimator, env_kwargs={"obs_mode": "state"})


def test_a_recording_keeps_the_true_state_and_its_names(tiny_state_estimator, tmp_path):
    from cosmos_sim.data.generate import GenerateConfig, generate
    from cosmos_sim.data.store import TrajectoryStore

    out = tmp_path / "p.zarr"
    generate(
        GenerateConfig(
            env_id="cosmos_sim/Perceived-v0",
            episodes=2,
            out=str(out),
            max_steps=3,
            env_kwargs={"env_id": REACH, "estimator": tiny_state_estimator},
            progress=False,
        )
    )
    s = TrajectoryStore.open(out)
    assert {"rgb", "state", "true_state"} <= set(s.keys())  # the estimate (observation) and the truth
    layout = s.attrs["state_layout"]
    assert layout[:3] == ["ee_x", "ee_y", "ee_z"] and s.read("true_state", 0, 1).shape == (1, len(layout))
    env = gym.make(REACH)
    env.reset(seed=int(s.episode_seeds[0]))
    np.testing.assert_allclose(s.read("true_state", 0, 1)[0], env.unwrapped.state(), rtol=1e-6)


def _fixed_estimator(tmp_path, names, mean):
    """An estimator that reads (almost exactly) ``mean`` from any frame: std 1e-6."""
    import torch

    from cosmos_sim.world_models.state_estimator import StateEstimatorConfig

    torch.manual_seed(0)
    est = StateEstimator(StateEstimatorConfig(names, mean, (1e-6,) * len(names), channels=(4, 8), hidden=8))
    est.save_pretrained(tmp_path / "fixed", dtype=None)
    return str(tmp_path / "fixed")


def test_task_reward_from_the_estimate_ends_the_single_env_at_success(tmp_path, tiny_state_estimator):
    from cosmos_sim.envs.push_task import REACH_HEIGHT, TABLE_Z, task_reward

    names = ("ee_x", "ee_y", "ee_z", "goal_x", "goal_y")
    env = gym.make("cosmos_sim/Perceived-v0", estimator=tiny_state_estimator, reward="reach")
    obs, _ = env.reset(seed=0)
    obs, reward, term, _, info = env.step(env.action_space.sample() * 0)
    want, ok, _ = task_reward("reach", obs[:3], np.r_[obs[3:5], TABLE_Z], np.zeros(3))
    assert reward == pytest.approx(float(want), abs=1e-5) and term == bool(ok) == info["is_success"]
    at_target = _fixed_estimator(tmp_path, names, (0.1, -0.1, TABLE_Z + REACH_HEIGHT, 0.1, -0.1))
    env = gym.make("cosmos_sim/Perceived-v0", estimator=at_target, reward="reach")
    env.reset(seed=0)
    _, reward, term, _, info = env.step(env.action_space.sample() * 0)
    assert term and info["is_success"] and reward == pytest.approx(1.0, abs=1e-3)  # distance 0 + bonus


@pytest.mark.parametrize("hold", [False, True])
def test_vector_task_reward_pays_the_bonus_once_then_absorbs_until_the_row_restarts(tmp_path, tiny_wfm, hold):
    from cosmos_sim.envs.push_task import REACH_HEIGHT, TABLE_Z

    names = ("ee_x", "ee_y", "ee_z", "goal_x", "goal_y")
    at_target = _fixed_estimator(tmp_path, names, (0.0, 0.0, TABLE_Z + REACH_HEIGHT, 0.0, 0.0))
    envs = gym.make_vec(
        "cosmos_sim/Perceived-v0",
        num_envs=2,
        env_id="cosmos_sim/WFM-v0",
        estimator=at_target,
        reward="reach",
        hold=hold,
        env_kwargs={"checkpoint": tiny_wfm, "max_episode_steps": 2},
    )
    envs.reset(seed=0)
    got = []
    for _ in range(5):
        _, reward, term, trunc, info = envs.step(np.zeros((2, 7), np.float32))
        got.append((round(float(reward[0]), 3), bool(info["is_success"][0]), bool(trunc[0])))
    envs.close()
    # success at once (bonus 1), absorbing (0) to the inner end at step 2 (hold: paid again), the restart step
    # (0, cleared), again
    again = 1.0 if hold else 0.0
    assert got == [
        (1.0, True, False),
        (again, True, True),
        (0.0, False, False),
        (1.0, True, False),
        (again, True, True),
    ]


def test_hold_goes_on_after_a_success_in_the_single_env(tmp_path):
    from cosmos_sim.envs.push_task import REACH_HEIGHT, TABLE_Z

    names = ("ee_x", "ee_y", "ee_z", "goal_x", "goal_y")
    at_target = _fixed_estimator(tmp_path, names, (0.1, -0.1, TABLE_Z + REACH_HEIGHT, 0.1, -0.1))
    env = gym.make("cosmos_sim/Perceived-v0", estimator=at_target, reward="reach", hold=True)
    env.reset(seed=0)
    for _ in range(3):  # the reach id's time limit (50) ends it; a success does not
        _, reward, term, trunc, info = env.step(env.action_space.sample() * 0)
        assert not term and not trunc and info["is_success"] and reward == pytest.approx(1.0, abs=1e-3)
    env.close()
    with pytest.raises(
        ConfigError, match=r"hold=True keeps paying a task reward after success: pass reward="
    ):
        gym.make("cosmos_sim/Perceived-v0", estimator=at_target, hold=True)


def test_a_task_reward_the_estimator_cannot_compute_is_refused(tiny_state_estimator):
    with pytest.raises(
        ConfigError, match=r"reward 'fly' unknown; use 'inner' .* or one of \('push', 'reach'\)"
    ):
        gym.make("cosmos_sim/Perceived-v0", estimator=tiny_state_estimator, reward="fly")
    with pytest.raises(
        ConfigError, match=r"reward 'push' needs the estimator to read \['red_block_x', 'red_block_y'\]"
    ):
        gym.make("cosmos_sim/Perceived-v0", estimator=tiny_state_estimator, reward="push")


EE = ("ee_x", "ee_y", "ee_z")


def _proprio_model(names=EE):
    import torch

    from cosmos_sim.world_models.proprio import ProprioConfig, ProprioModel

    torch.manual_seed(0)
    d = len(names)
    return ProprioModel(ProprioConfig(names, 7, (0.0, 0.0, 0.5, 0, 0)[:d], (0.1,) * d, (0.01,) * d, hidden=8))


def _other_estimator():
    import torch

    torch.manual_seed(7)
    names = ("ee_x", "ee_y", "ee_z", "goal_x", "goal_y")
    return StateEstimator(
        StateEstimatorConfig(names, (0.0,) * 5, (0.1,) * 5, channels=(4, 8), hidden=16)
    ).eval()


def test_proprio_entries_are_the_gt_scenes_true_state(tiny_state_estimator):
    env = gym.make("cosmos_sim/Perceived-v0", estimator=tiny_state_estimator, proprio=EE)
    est = StateEstimator.from_pretrained(tiny_state_estimator, device="cpu")
    try:
        obs, info = env.reset(seed=3)
        layout = list(env.unwrapped.state_layout)
        for _ in range(3):
            ee = [info["true_state"][layout.index(n)] for n in EE]
            np.testing.assert_array_equal(obs[:3], ee)  # the robot's own state, not a reading
            np.testing.assert_allclose(obs[3:], est.predict(env.render())[3:], rtol=1e-5, atol=1e-6)
            obs, _, _, _, info = env.step(env.action_space.sample())
    finally:
        env.close()
    envs = gym.make_vec("cosmos_sim/Perceived-v0", num_envs=2, estimator=tiny_state_estimator, proprio=EE)
    try:
        obs, _ = envs.reset(seed=[3, 4])
        truth = np.stack([e.unwrapped.state() for e in envs.env.envs])
        np.testing.assert_array_equal(obs[:, :3], truth[:, [layout.index(n) for n in EE]])
    finally:
        envs.close()


def test_proprio_inside_a_world_model_is_the_models_prediction_restarting_from_the_reading(
    tiny_state_estimator, tiny_wfm
):
    model = _proprio_model()
    envs = _wm_envs(tiny_state_estimator, tiny_wfm, 2, 2, proprio=list(EE), proprio_model=model)
    est = StateEstimator.from_pretrained(tiny_state_estimator, device="cpu")
    try:
        obs, _ = envs.reset(seed=[5, 6])
        read = est.predict(envs.render())
        np.testing.assert_allclose(obs, read, rtol=1e-5, atol=1e-6)  # starts from the first frame's reading
        a = np.full((2, 7), 0.5, np.float32)
        p, p_prev, a_prev = obs[:, :3], obs[:, :3], np.zeros_like(a)
        for _ in range(2):
            obs, _, _, trunc, _ = envs.step(a)
            p, p_prev, a_prev = model.step(p, p_prev, a, a_prev), p, a
            np.testing.assert_allclose(obs[:, :3], p, rtol=1e-6)
            np.testing.assert_allclose(obs[:, 3:], est.predict(envs.render())[:, 3:], rtol=1e-5, atol=1e-6)
        assert trunc.all()
        obs, *_ = envs.step(a)  # the rows restart: their proprioception is read off the new first frame
        np.testing.assert_allclose(obs, est.predict(envs.render()), rtol=1e-5, atol=1e-6)
    finally:
        envs.close()


def test_proprio_errors_name_the_fix(tiny_state_estimator, tiny_wfm):
    wm = {"env_id": "cosmos_sim/WFM-v0", "env_kwargs": {"checkpoint": tiny_wfm}}
    with pytest.raises(ConfigError, match=r"inside a world model needs proprio_model= .*train-proprio"):
        gym.make("cosmos_sim/Perceived-v0", estimator=tiny_state_estimator, proprio=EE, **wm)
    with pytest.raises(ConfigError, match=r"proprio/tracked entries \['red_block_x'\] are not among"):
        gym.make("cosmos_sim/Perceived-v0", estimator=tiny_state_estimator, proprio=("red_block_x",))
    with pytest.raises(
        ConfigError, match=r"proprio_model predicts \('ee_x', 'ee_y', 'ee_z'\); proprio \+ tracked are"
    ):
        gym.make(
            "cosmos_sim/Perceived-v0",
            estimator=tiny_state_estimator,
            proprio=EE[:2],
            proprio_model=_proprio_model(),
            **wm,
        )


def test_static_entries_are_read_off_each_episodes_first_frame_and_held(tiny_state_estimator, tiny_wfm):
    envs = _wm_envs(tiny_state_estimator, tiny_wfm, 2, 2, static=["goal_x", "goal_y"])
    est = StateEstimator.from_pretrained(tiny_state_estimator, device="cpu")
    try:
        obs, _ = envs.reset(seed=[5, 6])
        first = est.predict(envs.render())
        np.testing.assert_allclose(obs, first, rtol=1e-5, atol=1e-6)
        a = np.full((2, 7), 0.5, np.float32)
        for _ in range(2):
            obs, *_ = envs.step(a)
            now = est.predict(envs.render())
            assert not np.allclose(now[:, 3:], first[:, 3:], atol=1e-4)  # the random model's frames change
            np.testing.assert_allclose(obs[:, 3:], first[:, 3:], rtol=1e-6)  # the goal is held
            np.testing.assert_allclose(obs[:, :3], now[:, :3], rtol=1e-5, atol=1e-6)  # the rest is read
        obs, *_ = envs.step(a)  # restarted rows: read off their new first frame
        np.testing.assert_allclose(obs, est.predict(envs.render()), rtol=1e-5, atol=1e-6)
    finally:
        envs.close()
    env = gym.make("cosmos_sim/Perceived-v0", estimator=tiny_state_estimator, static=("goal_x", "goal_y"))
    try:
        obs, _ = env.reset(seed=3)
        held = obs[3:].copy()
        for _ in range(3):
            obs, *_ = env.step(env.action_space.sample())
            np.testing.assert_array_equal(obs[3:], held)
    finally:
        env.close()
    other = _other_estimator()  # static entries read by another estimator: its reading of the first frame
    env = gym.make(
        "cosmos_sim/Perceived-v0",
        estimator=tiny_state_estimator,
        static=("goal_x", "goal_y"),
        static_estimator=other,
    )
    try:
        obs, _ = env.reset(seed=3)
        np.testing.assert_allclose(obs[3:], other.predict(env.render())[3:], rtol=1e-5, atol=1e-6)
        assert not np.allclose(obs[3:], est.predict(env.render())[3:], atol=1e-4)
        np.testing.assert_array_equal(env.step(env.action_space.sample())[0][3:], obs[3:])
    finally:
        env.close()
    with pytest.raises(ConfigError, match=r"static entries \['ee_x'\] must be among .* and not proprio"):
        gym.make(
            "cosmos_sim/Perceived-v0", estimator=tiny_state_estimator, static=("ee_x",), proprio=("ee_x",)
        )


def test_tracked_entries_are_read_in_gt_and_predicted_with_the_robot_inside_a_world_model(
    tiny_state_estimator, tiny_wfm
):
    tracked = ("goal_x", "goal_y")  # the tiny estimator reads no block: the goal stands in for an object
    model = _proprio_model(EE + tracked)
    envs = _wm_envs(tiny_state_estimator, tiny_wfm, 2, 2, proprio=EE, tracked=tracked, proprio_model=model)
    est = StateEstimator.from_pretrained(tiny_state_estimator, device="cpu")
    try:
        obs, _ = envs.reset(seed=[5, 6])
        np.testing.assert_allclose(obs, est.predict(envs.render()), rtol=1e-5, atol=1e-6)  # the first reading
        a = np.full((2, 7), 0.5, np.float32)
        p, p_prev, a_prev = obs, obs, np.zeros_like(a)
        for _ in range(2):
            obs, *_ = envs.step(a)
            p, p_prev, a_prev = model.step(p, p_prev, a, a_prev), p, a
            np.testing.assert_allclose(obs, p, rtol=1e-6)  # robot and object: the state model's prediction
            assert not np.allclose(obs[:, 3:], est.predict(envs.render())[:, 3:], atol=1e-4)
    finally:
        envs.close()
    env = gym.make("cosmos_sim/Perceived-v0", estimator=tiny_state_estimator, proprio=EE, tracked=tracked)
    try:  # in a GT env the robot's entries are its true state, the tracked ones read off every frame
        obs, info = env.reset(seed=3)
        for _ in range(2):
            obs, _, _, _, info = env.step(env.action_space.sample())
            layout = list(env.unwrapped.state_layout)
            np.testing.assert_array_equal(obs[:3], [info["true_state"][layout.index(n)] for n in EE])
            np.testing.assert_allclose(obs[3:], est.predict(env.render())[3:], rtol=1e-5, atol=1e-6)
    finally:
        env.close()
    with pytest.raises(
        ConfigError, match=r"tracked=\['goal_x'\] are predicted with the robot's state: pass proprio="
    ):
        gym.make("cosmos_sim/Perceived-v0", estimator=tiny_state_estimator, tracked=("goal_x",))
    with pytest.raises(ConfigError, match=r"entries \['ee_x'\] are both proprio and tracked"):
        gym.make("cosmos_sim/Perceived-v0", estimator=tiny_state_estimator, proprio=EE, tracked=("ee_x",))
    with pytest.raises(
        ConfigError, match=r"proprio \+ tracked are .*train-proprio --names ee_x ee_y ee_z goal_x"
    ):
        _wm_envs(
            tiny_state_estimator, tiny_wfm, 1, 2, proprio=EE, tracked=tracked, proprio_model=_proprio_model()
        )
