"""The world-model env (single and natively batched): Gymnasium contract, determinism, reset options,
paired GT mode, autoreset, bad input, and an unmodified SB3 PPO run; ``cosmos_sim/WFM-v0`` on a bundle of
a state-observing env (Reacher-v5), ids refusing bundles of other envs, one torch thread by default.
Uses tiny random checkpoints."""

import dataclasses
import os

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode

import cosmos_sim  # noqa: F401  (registers the ids)
from cosmos_sim.envs import wfm_ids
from cosmos_sim.envs.wfm_env import WorldModelEnv, WorldModelVectorEnv
from cosmos_sim.errors import CheckpointError
from cosmos_sim.world_models.wfm import tiny_world_model

ENV_ID = "cosmos_sim/Manipulation-WFM-v0"


@pytest.fixture(scope="module")
def ckpt(tiny_wfm):
    return tiny_wfm


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
    # head_terminates=False: the head still says success (info), but only the time limit ends episodes
    env = WorldModelEnv(checkpoint=tmp_path / "done", head_terminates=False)
    env.reset(seed=0)
    _, _, terminated, _, info = env.step(np.zeros(7, np.float32))
    assert not terminated and info["is_success"]
    venv = WorldModelVectorEnv(2, checkpoint=tmp_path / "done", head_terminates=False, max_episode_steps=3)
    venv.reset(seed=[3, 4])
    ends = [venv.step(np.zeros((2, 7), np.float32))[2:4] for _ in range(3)]
    assert not any(t.any() for t, _ in ends) and [bool(tr.all()) for _, tr in ends] == [False, False, True]


# ---- cosmos_sim/WFM-v0: a bundle of any env; ids refuse bundles of other envs; reset options; threads ----
GENERIC_ID = "cosmos_sim/WFM-v0"
REACHER_CAMERA = {"distance": 0.7, "elevation": -90.0, "azimuth": 90.0, "lookat": [0.0, 0.0, 0.0]}
REACHER_KWARGS = {
    "render_mode": "rgb_array",
    "width": 64,
    "height": 64,
    "default_camera_config": REACHER_CAMERA,
}


def _reacher_bundle(path, **env) -> str:
    """A tiny random bundle of Reacher-v5 (state observations, frames from render()), as train-wfm writes
    one from a `cosmos-sim generate --env Reacher-v5` store."""
    env = {"env_id": "Reacher-v5", "env_kwargs": REACHER_KWARGS, "action_layout": ("a0", "a1")} | env
    wm = tiny_world_model("diffusion", env=env)
    with torch.no_grad():
        wm.head.mlp[-1].bias[1] = -20.0
    wm.save_pretrained(path, dtype=None)
    return str(path)


@pytest.fixture(scope="module")
def reacher(tmp_path_factory):
    return _reacher_bundle(tmp_path_factory.mktemp("wfm") / "reacher", max_episode_steps=6)


def _reacher_first_frame(seed: int) -> np.ndarray:
    gt = gym.make("Reacher-v5", **REACHER_KWARGS)
    gt.reset(seed=seed)
    return gt.render()


def test_generic_id_has_no_registered_time_limit_and_needs_a_checkpoint():
    spec = gym.spec(GENERIC_ID)
    assert GENERIC_ID in wfm_ids() and spec.max_episode_steps is None
    assert spec.vector_entry_point.endswith("GenericWorldModelVectorEnv")
    for make in (gym.make, lambda i: gym.make_vec(i, num_envs=2)):
        with pytest.raises(ValueError, match=r"checkpoint=DIR.*manip-dit-nano"):
            make(GENERIC_ID)


def test_generic_env_runs_a_bundle_of_a_state_observing_env_from_its_renders(reacher):
    env = gym.make(GENERIC_ID, checkpoint=reacher)
    check_env(env.unwrapped)
    assert env.observation_space == gym.spaces.Box(0, 255, (64, 64, 3), np.uint8)
    assert env.action_space == gym.make("Reacher-v5").action_space
    obs, _ = env.reset(
        seed=100003
    )  # Reacher observes 10 numbers: the frame is its render, camera from the bundle
    assert np.array_equal(obs, _reacher_first_frame(100003)) and np.array_equal(env.render(), obs)
    ends = []
    for a in _actions(6, num_envs=None)[:, :2]:
        _, _, terminated, truncated, info = env.step(a)
        ends.append(truncated)
    assert ends == [False] * 5 + [True] and info["step"] == 6  # the bundle's episode length
    paired = gym.make(GENERIC_ID, checkpoint=reacher, paired=True)
    paired.reset(seed=3)
    gt = gym.make("Reacher-v5", **REACHER_KWARGS).unwrapped
    gt.reset(seed=3)
    info = paired.step(np.full(2, 0.5, np.float32))[4]
    g = gt.step(np.full(2, 0.5, np.float32))
    assert np.array_equal(info["gt_frame"], gt.render()) and info["gt_reward"] == pytest.approx(g[1])


def test_generic_vector_env_is_natively_batched_with_the_bundles_episode_length(reacher, tmp_path):
    venv = gym.make_vec(GENERIC_ID, num_envs=2, checkpoint=reacher)
    assert type(venv).__name__ == "GenericWorldModelVectorEnv" and venv.max_episode_steps == 6
    obs, _ = venv.reset(seed=7)
    acts = _actions(6, num_envs=2)[..., :2]
    out = [venv.step(a) for a in acts]
    env = gym.make(GENERIC_ID, checkpoint=reacher)
    assert np.array_equal(env.reset(seed=8)[0], obs[1])
    assert np.array_equal(env.step(acts[0, 1])[0], out[0][0][1])  # row 1 = the single env, seed 8
    assert out[5][3].all() and not any(o[3].any() for o in out[:5])
    assert (
        gym.make_vec(GENERIC_ID, num_envs=1, checkpoint=reacher, max_episode_steps=0).max_episode_steps == 0
    )
    # Not recorded in the bundle: the source env's registered time limit (50 for Reacher-v5).
    unrecorded = _reacher_bundle(tmp_path / "unrecorded")
    assert gym.make_vec(GENERIC_ID, num_envs=1, checkpoint=unrecorded).max_episode_steps == 50
    assert gym.make(GENERIC_ID, checkpoint=unrecorded).unwrapped.max_episode_steps == 50


def test_generic_env_runs_the_manipulation_bundles_too(ckpt):
    env = gym.make(GENERIC_ID, checkpoint=ckpt)
    obs, _ = env.reset(seed=7)
    assert np.array_equal(obs, gym.make("cosmos_sim/Manipulation-GT-v0").reset(seed=7)[0])
    assert env.unwrapped.max_episode_steps == 100  # Manipulation-GT-v0's registered limit


def test_a_bundle_whose_env_renders_another_size_is_a_clear_error(tmp_path):
    path = _reacher_bundle(tmp_path / "small", env_kwargs={**REACHER_KWARGS, "width": 32, "height": 32})
    with pytest.raises(
        CheckpointError, match=r"works on \(64, 64, 3\) frames but Reacher-v5.*renders \(32, 32, 3\)"
    ):
        gym.make(GENERIC_ID, checkpoint=path)


def test_each_id_refuses_a_bundle_of_another_env_naming_the_bundles_env_and_the_id_to_use(
    ckpt, reacher, tmp_path
):
    multiview = tmp_path / "mv"
    tiny_world_model("multiview").save_pretrained(multiview, dtype=None)
    cases = [
        (ENV_ID, reacher, "Reacher-v5", GENERIC_ID),
        (ENV_ID, multiview, "cosmos_sim/Driving-GT-v0", "cosmos_sim/Driving-WFM-v0"),
        (ENV_ID, "physics-dit-nano", "cosmos_sim/Physics-CameraOrbit-GT-v0", GENERIC_ID),
        (GENERIC_ID, multiview, "cosmos_sim/Driving-GT-v0", "cosmos_sim/Driving-WFM-v0"),
        ("cosmos_sim/Driving-WFM-v0", ckpt, "cosmos_sim/Manipulation-GT-v0", ENV_ID),
        ("cosmos_sim/Driving-WFM-v0", reacher, "Reacher-v5", GENERIC_ID),
    ]
    for env_id, bundle, bundle_env, use in cases:
        for make in (gym.make, lambda i, **kw: gym.make_vec(i, num_envs=2, **kw)):
            with pytest.raises(CheckpointError) as e:
                make(env_id, checkpoint=str(bundle))
            msg = str(e.value)
            assert f"world model of {bundle_env};" in msg and f"use gym.make('{use}', checkpoint=" in msg, msg
            assert msg.startswith(env_id), msg


@pytest.mark.parametrize("vector", [False, True])
def test_unknown_reset_options_raise_naming_the_valid_ones(ckpt, vector):
    env = gym.make_vec(ENV_ID, num_envs=2, checkpoint=ckpt) if vector else WorldModelEnv(checkpoint=ckpt)
    env.reset(seed=0)
    frame = np.zeros((64, 64, 3), np.uint8)
    with pytest.raises(
        ValueError,
        match=r"unknown reset option\(s\) \['frame'\]; valid options: \['frames', 'episode'\] \(did you mean 'frames'",
    ):
        env.reset(seed=1, options={"frame": frame})
    with pytest.raises(ValueError, match="alternatives; pass one of them"):
        env.reset(seed=1, options={"frames": frame, "episode": ("x.zarr", 0)})
    obs, _ = env.reset(seed=1, options={"frames": frame})  # the valid spelling works
    assert (obs == 0).all()


def test_envs_run_one_torch_thread_unless_asked(ckpt):
    torch.set_num_threads(2)
    WorldModelEnv(checkpoint=ckpt, device="cpu")
    assert torch.get_num_threads() == 1  # the default: one thread
    torch.set_num_threads(2)
    gym.make_vec(ENV_ID, num_envs=2, checkpoint=ckpt, device="cpu", threads=0)
    assert torch.get_num_threads() == 2  # threads=0: torch's setting is left alone
    with pytest.warns(RuntimeWarning, match="torch threads x 1 process"):
        WorldModelEnv(checkpoint=ckpt, device="cpu", threads=(os.cpu_count() or 1) + 1)
    with pytest.raises(ValueError, match="threads must be >= 0"):
        WorldModelEnv(checkpoint=ckpt, threads=-1)


def test_start_from_recorded_frames_picks_a_seeded_step_with_its_history(ckpt, tmp_path):
    from cosmos_sim.data.generate import GenerateConfig, generate
    from cosmos_sim.data.store import TrajectoryStore
    from cosmos_sim.errors import ConfigError

    def record(path, episodes: int, steps: int, size: int) -> str:
        cfg = GenerateConfig(
            env_id="cosmos_sim/Manipulation-GT-v0",
            episodes=episodes,
            out=str(path),
            max_steps=steps,
            resolution=(size, size),
            progress=False,
        )
        generate(cfg)
        return str(path)

    store = record(tmp_path / "s.zarr", 2, 6, 64)
    rgb = TrajectoryStore.open(store).read("rgb", 0, 14)  # 2 episodes of 7 rows
    env = gym.make(GENERIC_ID, checkpoint=ckpt, start_from=(store,))
    core = env.unwrapped.core
    firsts = []
    for seed in range(12):
        obs, _ = env.reset(seed=seed)
        ctx = core.starts.sample(seed)
        row = next(i for i in range(14) if np.array_equal(rgb[i], ctx[-1]))
        assert row not in (6, 13)  # never an episode's last row
        ep0 = 0 if row < 7 else 7  # the history stays inside the episode, padded with its first frame
        want = [rgb[max(r, ep0)] for r in range(row - core.k + 1, row + 1)]
        np.testing.assert_array_equal(ctx, np.stack(want))
        np.testing.assert_array_equal(obs, rgb[row])
        firsts.append(row in (0, 7))
        np.testing.assert_array_equal(env.reset(seed=seed)[0], obs)  # the same seed, the same start
    assert not all(firsts)  # not just the episodes' first frames
    with pytest.raises(ConfigError, match="start_from cannot be used with paired=True"):
        gym.make(GENERIC_ID, checkpoint=ckpt, start_from=(store,), paired=True)
    small = record(tmp_path / "small.zarr", 1, 2, 32)
    with pytest.raises(ConfigError, match=r"has \(32, 32, 3\) frames, the model needs \(64, 64, 3\)"):
        gym.make(GENERIC_ID, checkpoint=ckpt, start_from=(small,))


def test_a_second_env_after_closing_the_first_still_starts_from_the_true_frames(reacher):
    """Closing a WFM-v0 of a Gymnasium MuJoCo env must not break the GL state of the next one (its
    renderer's MjrContext is freed under its own context, not later by the garbage collector)."""
    import gc

    want = [_reacher_first_frame(s) for s in (100001, 100002)]
    envs = None
    for _ in range(3):
        previous, envs = envs, gym.make_vec(GENERIC_ID, num_envs=2, checkpoint=reacher)
        del (
            previous
        )  # collected now, while the new env's GL context is current (as `envs = make_vec(...)` does)
        gc.collect()
        for _ in range(2):
            obs, _ = envs.reset(seed=[100001, 100002])
            np.testing.assert_array_equal(obs, np.stack(want))
        envs.close()
