"""SB3VecEnv: Stable-Baselines3 over a natively batched vector env. The world-model vector env (NEXT_STEP
autoreset) under SB3 PPO at batch 16: it trains, SB3's episodes have the env's lengths, terminal observations
are the frames the env returned, and the env's own reset step never shows; the same episodes as the env's
own autoreset; Gymnasium's Sync vector envs (SAME_STEP and NEXT_STEP) step exactly as SB3's DummyVecEnv."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv

import cosmos_sim  # noqa: F401  (registers the ids)
from cosmos_sim.envs.sb3 import SB3VecEnv
from cosmos_sim.errors import ConfigError

pytest.importorskip("stable_baselines3")
from stable_baselines3 import PPO  # noqa: E402
from stable_baselines3.common.vec_env import DummyVecEnv, VecMonitor  # noqa: E402

ENV_ID = "cosmos_sim/Manipulation-WFM-v0"
N = 16
LIMIT = 12


@pytest.fixture(scope="module")
def ckpt(tiny_wfm):
    return tiny_wfm


def _venv(ckpt, n=N, limit=LIMIT, end_at=None):
    """The world-model vector env; ``end_at[i]``: row i's episodes terminate (predicted success) at that
    step (rows beyond the limit are truncated). Every underlying step is recorded in ``venv.record``."""
    venv = gym.make_vec(ENV_ID, num_envs=n, checkpoint=ckpt, max_episode_steps=limit)
    if end_at is not None:
        model, real_reward = venv.model, venv.model.reward

        def reward(z, actions):  # the head's success probability, by schedule
            r, _ = real_reward(z, actions)
            return r, (venv.core.steps + 1 == end_at).astype(np.float32)

        model.reward = reward
    venv.record = []
    real_step = venv.step

    def step(actions):
        out = real_step(actions)
        obs, _, terminated, truncated, info = out
        venv.record.append((obs.copy(), terminated.copy(), truncated.copy(), info["step"].copy()))
        return out

    venv.step = step
    return venv


END_AT = np.array([2, 3, 5, 7, 99, 4, 11, 99, 6, 3, 99, 8, 2, 9, 99, 5])  # 99: truncated at LIMIT


def _actions(rng, n=N):
    return rng.uniform(-1, 1, (n, 7)).astype(np.float32)


def test_ended_rows_come_back_reset_with_their_terminal_frame_and_no_reset_step(ckpt):
    venv = _venv(ckpt, end_at=END_AT)
    env = SB3VecEnv(venv)
    env.seed(0)
    obs = env.reset()
    assert obs.shape == (N, 64, 64, 3) and obs.dtype == np.uint8
    rng = np.random.default_rng(0)
    length = np.zeros(N, int)
    ends = {"terminated": 0, "truncated": 0}
    for _ in range(30):
        new, reward, done, infos = env.step(_actions(rng))
        frames, terminated, truncated, steps = venv.record[-1]
        assert (steps >= 1).all()  # every env step was a real step: the env's own reset step never ran
        assert reward.dtype == np.float32 and done.dtype == bool and len(infos) == N
        length += 1
        assert np.array_equal(steps, length)  # the env counts the steps SB3 took since the reset
        for i in range(N):
            assert infos[i]["TimeLimit.truncated"] == bool(truncated[i] and not terminated[i])
            if done[i]:
                ends["terminated" if terminated[i] else "truncated"] += 1
                assert length[i] == (END_AT[i] if END_AT[i] <= LIMIT else LIMIT)
                assert np.array_equal(infos[i]["terminal_observation"], frames[i])  # what the env returned
                assert not np.array_equal(new[i], frames[i])  # and SB3 goes on from a new first frame
                length[i] = 0
            else:
                assert "terminal_observation" not in infos[i] and np.array_equal(new[i], frames[i])
        assert np.array_equal(new, venv.render())  # what the env holds now
    assert ends["terminated"] > 10 and ends["truncated"] >= 5


def test_the_episodes_are_the_ones_the_envs_own_autoreset_gives(ckpt):
    """All rows truncate together: the native env's stream is the adapter's with a reset step inserted."""
    adapter_env, native = _venv(ckpt, n=3, limit=3), _venv(ckpt, n=3, limit=3)
    adapter = SB3VecEnv(adapter_env)
    adapter.seed(5)
    a_obs = [adapter.reset()]
    n_obs = [native.reset(seed=5)[0]]
    rng = np.random.default_rng(1)
    for _ in range(8):
        acts = _actions(rng, 3)
        obs, _, done, infos = adapter.step(acts)
        a_obs.append(obs)
        o, _, _, trunc, _ = native.step(acts)
        if done.any():
            assert done.all() and trunc.all()
            assert all(np.array_equal(infos[i]["terminal_observation"], o[i]) for i in range(3))
            o = native.step(acts)[0]  # the native reset step (its actions are ignored)
        n_obs.append(o)
    for t, (a, b) in enumerate(zip(a_obs, n_obs, strict=True)):
        assert np.array_equal(a, b), t


def test_sb3_ppo_trains_at_batch_16_and_sees_the_envs_episodes(ckpt):
    venv = _venv(ckpt, end_at=END_AT)
    env = VecMonitor(SB3VecEnv(venv))
    model = PPO("CnnPolicy", env, n_steps=16, batch_size=64, n_epochs=1, seed=0, verbose=0, device="cpu")
    before = [p.detach().clone() for p in model.policy.parameters()]
    model.learn(total_timesteps=2 * 16 * N)
    assert model.num_timesteps == 512
    # SB3's episodes are the env's: their lengths, in order, as the env counted them when they ended.
    ended = [int(s[i]) for _, te, tr, s in venv.record for i in np.flatnonzero(te | tr)]
    assert [e["l"] for e in model.ep_info_buffer] == ended
    assert min(ended) >= 1 and max(ended) == LIMIT and len(set(ended)) > 5
    assert all((s >= 1).all() for *_, s in venv.record)  # no reset step ever reached SB3
    assert any(not torch.equal(a, b) for a, b in zip(before, model.policy.parameters(), strict=True))


@pytest.mark.parametrize("mode", [AutoresetMode.SAME_STEP, AutoresetMode.NEXT_STEP])
def test_gymnasium_sync_vector_envs_step_exactly_as_dummy_vec_env(mode):
    n = 4
    venv = gym.make_vec(
        "CartPole-v1", num_envs=n, vectorization_mode="sync", vector_kwargs={"autoreset_mode": mode}
    )
    ours = SB3VecEnv(venv)
    theirs = DummyVecEnv([lambda: gym.make("CartPole-v1") for _ in range(n)])
    ours.seed(3), theirs.seed(3)
    assert np.array_equal(ours.reset(), theirs.reset())
    rng = np.random.default_rng(0)
    dones = 0
    for _ in range(80):
        acts = rng.integers(0, 2, n)
        o1, r1, d1, i1 = ours.step(acts)
        o2, r2, d2, i2 = theirs.step(acts)
        assert np.array_equal(o1, o2) and np.array_equal(r1, r2) and np.array_equal(d1, d2)
        for a, b in zip(i1, i2, strict=True):
            assert a["TimeLimit.truncated"] == b["TimeLimit.truncated"]
            assert ("terminal_observation" in a) == ("terminal_observation" in b)
            if "terminal_observation" in a:
                assert np.array_equal(a["terminal_observation"], b["terminal_observation"])
        dones += int(d1.sum())
    assert dones >= 4
    assert ours.get_attr("render_mode") == theirs.get_attr("render_mode")


class _Forgetful(VectorEnv):
    """NEXT_STEP env whose reset ignores reset_mask: it restarts every row."""

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP}
    render_mode = None

    def __init__(self):
        self.num_envs = 2
        self.single_observation_space = spaces.Box(0, 100, (1,), np.float32)
        self.single_action_space = spaces.Discrete(2)
        self.observation_space = spaces.Box(0, 100, (2, 1), np.float32)
        self.action_space = spaces.MultiDiscrete([2, 2])
        self.t = np.zeros(2, np.float32)

    def reset(self, *, seed=None, options=None):
        self.t[:] = 0
        return self.t[:, None].copy(), {}

    def step(self, actions):
        self.t += 1
        truncated = self.t >= np.array([2, 5])
        return self.t[:, None].copy(), np.zeros(2), np.zeros(2, bool), truncated, {}


def test_an_env_that_ignores_reset_mask_is_an_error_not_a_silent_cut():
    env = SB3VecEnv(_Forgetful())
    env.reset()
    env.step(np.zeros(2, int))
    with pytest.raises(RuntimeError, match="ignored reset"):
        env.step(np.zeros(2, int))


def test_bad_wrapping_is_refused(ckpt):
    with pytest.raises(ConfigError, match="DummyVecEnv"):
        SB3VecEnv(gym.make("CartPole-v1"))
    venv = gym.make_vec(ENV_ID, num_envs=2, checkpoint=ckpt)
    with pytest.raises(ConfigError, match="on top of SB3VecEnv"):
        SB3VecEnv(gym.wrappers.vector.RecordEpisodeStatistics(venv))
    env = SB3VecEnv(venv)
    env.set_options([{"a": 1}, {"a": 2}])
    with pytest.raises(ConfigError, match="one dict"):
        env.reset()
