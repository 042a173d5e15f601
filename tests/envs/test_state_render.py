"""The renderer of state behind ``Manipulation-WFM-v0`` (``envs/state_render.py``) with the shipped default
``manip-render-fast-nano``: frames close to the GT scene's, its state and reward, determinism, refused options, and
the same rollouts as ``manip-render-nano`` (the same weights over the full decoder)."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import cosmos_sim  # noqa: F401  (registers the ids)
from cosmos_sim.envs.push_task import BLOCK_HALF, TABLE_Z, task_reward
from cosmos_sim.envs.state_render import StateRenderRollouts
from cosmos_sim.envs.wfm_env import DEFAULT_CHECKPOINT
from cosmos_sim.errors import CheckpointError, ConfigError

ENV_ID, BUNDLE = "cosmos_sim/Manipulation-WFM-v0", DEFAULT_CHECKPOINT


def _psnr(a, b) -> float:
    return float(10 * np.log10(255**2 / np.mean((a.astype(np.float64) - b) ** 2)))


@pytest.fixture(scope="module")
def paired():
    env = gym.make(ENV_ID, checkpoint=BUNDLE, paired=True, device="cpu")
    yield env
    env.close()


def test_the_bundle_runs_on_its_own_rollouts_and_the_gymnasium_checker(paired):
    assert isinstance(paired.unwrapped.core, StateRenderRollouts)
    assert paired.action_space.shape == (7,)  # the env's actions: the state's entries are the model's own
    check_env(gym.make(ENV_ID, checkpoint=BUNDLE, device="cpu").unwrapped, skip_render_check=True)


def test_expert_episode_frames_follow_the_scene_and_the_reward_is_the_task_rule_on_its_state(paired):
    obs, _ = paired.reset(seed=100007)  # held out
    gt = paired.unwrapped.core.gt[0]
    assert np.array_equal(obs, gt.render())
    for t in range(12):
        obs, reward, _, _, info = paired.step(gt.expert_action().astype(np.float32))
        assert _psnr(obs, info["gt_frame"]) > 24.0, t  # measured 27-30 dB on held-out seeds
    # the state the frame was drawn from tracks the scene (the state model is open loop: a few cm at most)
    assert np.linalg.norm(info["ee_pos"] - gt.grip_pos()) < 0.03
    assert np.linalg.norm(info["block_pos"] - gt.block_pos(0)[:2]) < 0.03
    block = np.array([*info["block_pos"], TABLE_Z + BLOCK_HALF])
    want, success, _ = task_reward("push", info["ee_pos"], gt.goal_pos(), block)
    assert reward == pytest.approx(float(want), abs=1e-5) and info["is_success"] == bool(success)


def test_same_seed_and_actions_give_the_same_frames():
    env = gym.make(ENV_ID, checkpoint=BUNDLE, device="cpu")
    acts = np.random.default_rng(0).uniform(-1, 1, (4, 7)).astype(np.float32)

    def run():
        env.reset(seed=100001)
        return np.stack([env.step(a)[0] for a in acts])

    assert np.array_equal(run(), run())


def test_frames_only_reset_options_and_other_ids_are_refused_with_the_fix():
    env = gym.make(ENV_ID, checkpoint=BUNDLE, device="cpu")
    with pytest.raises(ConfigError, match="reset with a seed"):
        env.reset(options={"frames": np.zeros((64, 64, 3), np.uint8)})
    with pytest.raises(CheckpointError, match=r"use gym.make\('cosmos_sim/Manipulation-WFM-v0'"):
        gym.make("cosmos_sim/WFM-v0", checkpoint=BUNDLE)


def test_vector_env_rows_start_from_their_own_scenes():
    venv = gym.make_vec(ENV_ID, num_envs=2, checkpoint=BUNDLE, device="cpu")
    obs, _ = venv.reset(seed=[100002, 100003])
    gt = gym.make("cosmos_sim/Manipulation-GT-v0")
    assert np.array_equal(obs[1], gt.reset(seed=100003)[0])
    obs, reward, term, trunc, info = venv.step(np.zeros((2, 7), np.float32))
    assert obs.shape == (2, 64, 64, 3) and info["block_pos"].shape == (2, 2)
    assert not np.array_equal(info["block_pos"][0], info["block_pos"][1])


def test_the_default_is_the_full_renderer_over_a_narrower_decoder_of_the_same_latents():
    assert BUNDLE == "manip-render-fast-nano"
    fast, full = (gym.make(ENV_ID, checkpoint=c, device="cpu") for c in (BUNDLE, "manip-render-nano"))
    f_model, g_model = fast.unwrapped.core.model, full.unwrapped.core.model
    fc, gc = f_model.tokenizer.config, g_model.tokenizer.config
    assert fc.decoder_widths == (32, 64) and gc.decoder_widths == (64, 128) and fc.channels == gc.channels
    acts = np.random.default_rng(1).uniform(-1, 1, (6, 7)).astype(np.float32)
    frames = []
    for env in (fast, full):
        first, _ = env.reset(seed=100003)
        frames.append(np.stack([first] + [env.step(a)[0] for a in acts]))
    assert np.array_equal(frames[0][0], frames[1][0])  # the reset frame is the scene's own
    # same state, same latents: only the decoder differs, by much less than the model differs from the scene
    assert _psnr(frames[0][1:], frames[1][1:]) > 30.0
