"""The world-model env (single and natively batched): Gymnasium contract, determinism, reset options,
paired GT mode, autoreset, bad input, and an unmodified SB3 PPO run. Uses a tiny random checkpoint."""

import dataclasses

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode

import cosmos_sim  # noqa: F401  (registers the ids)
from cosmos_sim.envs import wfm_ids
from cosmos_sim.envs.wfm_env import WorldModelEnv, WorldModelVectorEnv
from cosmos_sim.world_models.wfm import tiny_world_model

ENV_ID = "cosmos_sim/Manipulation-WFM-v0"


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    path = tmp_path_factory.mktemp("wfm") / "tiny"
    wm = tiny_world_model("diffusion")
    with torch.no_grad():
        wm.head.mlp[-1].bias[1] = -20.0  # this random model never predicts success: episodes run to the limit
    wm.save_pretrained(path, dtype=None)
    return str(path)


def _actions(n: int, seed: int = 0, num_envs: int | None = None) -> np.ndarray:
    shape = (n, 7) if num_envs is None else (n, num_envs, 7)
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32)


def test_registered_with_a_vector_entry_point():
    assert ENV_ID in wfm_ids()
    spec = gym.spec(ENV_ID)
    assert spec.vector_entry_point.endswith("WorldModelVectorEnv") and spec.max_episode_steps == 100


def test_passes_the_gymnasium_env_checker(ckpt):
    env = gym.make(ENV_ID, checkpoint=ckpt)
    check_env(env.unwrapped)
    check_env(env)
    assert env.action_space == gym.make("cosmos_sim/Manipulation-GT-v0").action_space
    assert env.render().shape == (64, 64, 3)


def test_reset_starts_from_the_gt_scenes_first_frame_and_is_deterministic(ckpt):
    env = WorldModelEnv(checkpoint=ckpt)
    gt = gym.make("cosmos_sim/Manipulation-GT-v0")
    obs, info = env.reset(seed=7)
    assert np.array_equal(obs, gt.reset(seed=7)[0]) and info["step"] == 0

    def run(seed):
        frames = [env.reset(seed=seed)[0]]
        for a in _actions(6):
            o, r, term, trunc, info = env.step(a)
            frames.append(o)
        return np.stack(frames), info

    a, info = run(3)
    b, _ = run(3)
    assert np.array_equal(a, b)
    assert info["step"] == 6 and 0 <= info["success_prob"] <= 1
    assert not np.array_equal(a[0], run(4)[0][0])  # another seed, another scene


def test_bad_actions_and_frames_raise_value_errors(ckpt):
    env = WorldModelEnv(checkpoint=ckpt)
    env.reset(seed=0)
    for bad, msg in (([0.0] * 6, "shape"), ([np.nan] + [0.0] * 6, "NaN"), ([2.0] + [0.0] * 6, "outside")):
        with pytest.raises(ValueError, match=msg):
            env.step(np.array(bad, dtype=np.float32))
    with pytest.raises(ValueError, match="resize"):
        env.reset(options={"frames": np.zeros((1, 32, 32, 3), np.uint8)})
    with pytest.raises(ValueError, match="1 to 2"):
        env.reset(options={"frames": np.zeros((3, 64, 64, 3), np.uint8)})


def test_reset_from_user_frames(ckpt):
    env = WorldModelEnv(checkpoint=ckpt)
    frames = np.random.default_rng(0).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    obs, _ = env.reset(seed=0, options={"frames": frames})
    assert np.array_equal(obs, frames[-1])
    assert env.core.state.window.shape[1] == 2  # K context latents, the user's frames


def test_paired_mode_steps_the_gt_scene_beside_the_model(ckpt):
    env = WorldModelEnv(checkpoint=ckpt, paired=True)
    gt = gym.make("cosmos_sim/Manipulation-GT-v0").unwrapped
    env.reset(seed=5)
    gt.reset(seed=5)
    for a in _actions(3):
        _, _, _, _, info = env.step(a)
        g_obs, g_r, _, _, g_info = gt.step(a)
    assert np.array_equal(info["gt_frame"], g_obs) and info["gt_reward"] == pytest.approx(g_r)


def test_checkpoint_for_another_action_layout_is_refused(tmp_path):
    wm = tiny_world_model()
    wm.config = dataclasses.replace(wm.config, action_layout=("a", "b", "c", "d", "e", "f", "g"))
    wm.save_pretrained(tmp_path / "bad")
    with pytest.raises(ValueError, match="action layout"):
        WorldModelEnv(checkpoint=tmp_path / "bad")
    with pytest.raises(ValueError, match="shipped"):
        WorldModelEnv(checkpoint="no-such-model")


def test_vector_env_is_batched_matches_single_envs_and_autoresets(ckpt):
    venv = gym.make_vec(ENV_ID, num_envs=3, checkpoint=ckpt, max_episode_steps=4)
    assert isinstance(venv, WorldModelVectorEnv)
    assert venv.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    obs, _ = venv.reset(seed=10)
    assert obs.shape == (3, 64, 64, 3)
    acts = _actions(5, num_envs=3)
    out = [venv.step(a) for a in acts]
    # Row 1 equals a single env reset with seed 11 and given the same actions.
    env = WorldModelEnv(checkpoint=ckpt)
    env.reset(seed=11)
    for t in range(4):
        o = env.step(acts[t, 1])[0]
        assert np.array_equal(o, out[t][0][1])
    assert out[3][3].all() and not out[2][3].any()  # truncated at max_episode_steps
    obs5, rew5, term5, trunc5, info5 = out[4]  # next-step autoreset: fresh episodes, no reward
    assert (info5["step"] == 0).all() and (rew5 == 0).all() and not (term5 | trunc5).any()
    with pytest.raises(ValueError, match="shape"):
        venv.step(np.zeros((2, 7), np.float32))
    with pytest.raises(ValueError, match="outside"):
        venv.step(np.full((3, 7), 3.0, np.float32))


def test_reset_after_an_episode_ended_clears_the_pending_autoreset(ckpt):
    venv = gym.make_vec(ENV_ID, num_envs=2, checkpoint=ckpt, max_episode_steps=2)
    venv.reset(seed=0)
    acts = _actions(3, num_envs=2)
    venv.step(acts[0])
    assert venv.step(acts[1])[3].all()  # both rows truncated: an autoreset is pending
    obs, _ = venv.reset(seed=20)
    obs1, _, terminated, truncated, info = venv.step(acts[2])  # a real step of the new episodes, not a reset
    assert (info["step"] == 1).all() and not (terminated | truncated).any()
    env = WorldModelEnv(checkpoint=ckpt)
    assert np.array_equal(env.reset(seed=21)[0], obs[1])
    assert np.array_equal(env.step(acts[2, 1])[0], obs1[1])


def test_stable_baselines3_ppo_trains_on_it_unmodified(ckpt):
    from stable_baselines3 import PPO

    env = gym.make(ENV_ID, checkpoint=ckpt, max_episode_steps=40)
    model = PPO("CnnPolicy", env, n_steps=64, batch_size=32, n_epochs=1, seed=0, verbose=0, device="cpu")
    before = [p.detach().clone() for p in model.policy.parameters()]
    model.learn(total_timesteps=128)
    assert model.num_timesteps == 128
    # SB3 saw whole episodes, truncated by the time limit (this model never predicts success).
    assert [e["l"] for e in model.ep_info_buffer] == [40, 40, 40]
    assert all(np.isfinite(e["r"]) for e in model.ep_info_buffer)
    # It trained: the policy moved, and its actions are valid env actions.
    assert any(not torch.equal(a, b) for a, b in zip(before, model.policy.parameters(), strict=True))
    action, _ = model.predict(env.reset(seed=0)[0], deterministic=True)
    assert env.action_space.contains(action.astype(np.float32))


def test_predicted_success_terminates_and_the_vector_env_restarts_that_row(tmp_path):
    wm = tiny_world_model("diffusion")
    with torch.no_grad():
        wm.head.mlp[-1].bias[1] = 20.0  # always predicts success
    wm.save_pretrained(tmp_path / "done", dtype=None)
    env = WorldModelEnv(checkpoint=tmp_path / "done")
    env.reset(seed=0)
    _, _, terminated, truncated, info = env.step(np.zeros(7, np.float32))
    assert terminated and not truncated and info["is_success"] and info["success_prob"] > 0.99
    venv = WorldModelVectorEnv(2, checkpoint=tmp_path / "done")
    first, _ = venv.reset(seed=[3, 4])
    assert venv.step(np.zeros((2, 7), np.float32))[2].all()
    obs, reward, terminated, _, info = venv.step(np.zeros((2, 7), np.float32))
    assert not terminated.any() and (info["step"] == 0).all() and (reward == 0).all()
    assert obs.shape == first.shape and not np.array_equal(obs, first)  # new seeds, new first frames
