"""The engine-independent push task: config, layout sampling, expert geometry, and both envs agreeing on it."""

import numpy as np
import pytest

from cosmos_sim.envs.bullet_manipulation import BulletManipulationConfig, BulletManipulationGTEnv
from cosmos_sim.envs.manipulation import ManipulationConfig, ManipulationGTEnv
from cosmos_sim.envs.push_task import (
    ACTION_LAYOUT,
    BLOCK_HALF,
    TABLE_Z,
    Z_SAFE,
    PushTaskConfig,
    push_expert_target,
    sample_layout,
)

LOW = np.array([-0.25, -0.25, TABLE_Z + 0.015])
HIGH = np.array([0.25, 0.25, TABLE_Z + 0.25])


def _target(ee, block, goal, push_from=None, **kw):
    args = dict(
        standoff=BLOCK_HALF + 0.02, pre_margin=0.01, z_push=LOW[2], max_translation=0.02, low=LOW, high=HIGH
    )
    ee, block, goal = (np.asarray(v, dtype=np.float64) for v in (ee, block, goal))
    return push_expert_target(
        ee, block, goal, ee if push_from is None else np.asarray(push_from), **{**args, **kw}
    )


def test_config_validation_block_names_and_overrides():
    cfg = PushTaskConfig(n_objects=3)
    assert cfg.block_names == ("red_block", "blue_block", "yellow_block")
    assert PushTaskConfig(maps="depth, seg").maps == ("depth", "seg") and PushTaskConfig().maps == ()
    for bad, match in (
        (dict(n_objects=0), "n_objects=0"),
        (dict(obs_mode="rgb"), "obs_mode 'rgb'"),
        (dict(frame_skip=0), "frame_skip"),
        (dict(goal_radius=0.0), "goal_radius"),
        (dict(width=4), "image size 4x64"),
        (dict(height=None), "height must be an int"),
        (dict(maps="normals"), "unknown control map"),
    ):
        with pytest.raises(ValueError, match=match):
            PushTaskConfig(**bad)
    # engine configs keep their own defaults and fields, and the task's validation
    assert (ManipulationConfig().frame_skip, BulletManipulationConfig().frame_skip) == (10, 12)
    assert BulletManipulationConfig().timestep == pytest.approx(1 / 240)
    with pytest.raises(ValueError, match="msaa_samples"):
        ManipulationConfig(msaa_samples=-1)
    with pytest.raises(ValueError, match="n_objects=4"):
        BulletManipulationConfig(n_objects=4)


def test_sample_layout_keeps_separations_and_box():
    cfg = PushTaskConfig(n_objects=3)
    lo, hi = np.array([-0.08, -0.2]), np.array([0.2, 0.2])
    for seed in range(20):
        blocks, goal = sample_layout(np.random.default_rng(seed), cfg, lo, hi)
        pts = np.vstack([blocks, goal])
        assert blocks.shape == (3, 2) and np.all(pts >= lo) and np.all(pts <= hi)
        gaps = np.linalg.norm(blocks[:, None] - blocks[None], axis=-1)[np.triu_indices(3, 1)]
        assert gaps.min() >= cfg.min_separation
        assert np.linalg.norm(blocks[0] - goal) >= cfg.min_goal_distance
        assert np.linalg.norm(blocks[1:] - goal, axis=-1).min() >= cfg.min_separation
    a = sample_layout(np.random.default_rng(7), cfg, lo, hi)
    b = sample_layout(np.random.default_rng(7), cfg, lo, hi)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    with pytest.raises(RuntimeError, match="could not place"):
        sample_layout(np.random.default_rng(0), PushTaskConfig(n_objects=3, min_separation=1.0), lo, hi)


def test_expert_target_phases():
    block, goal = [0.0, 0.0, TABLE_Z + BLOCK_HALF], [0.2, 0.0, TABLE_Z]  # push along +x
    # low and right behind the block: advance one step along +x, towards the line centre
    target, u = _target([-0.06, 0.01, LOW[2]], block, goal)
    assert np.allclose(u, [1, 0])
    assert np.allclose(target, [-0.04, 0.0, LOW[2]])
    # the push step starts at push_from (a commanded target), not at the lagging end effector
    target, _ = _target([-0.06, 0.0, LOW[2]], block, goal, push_from=[-0.05, 0.0, LOW[2]])
    assert np.allclose(target[:2], [-0.03, 0.0])
    # low beside the block: lift straight up first
    target, _ = _target([0.0, 0.06, LOW[2]], block, goal)
    assert np.allclose(target, [0.0, 0.06, Z_SAFE])
    # high and far: fly to the pre-push point, standoff + margin behind the block
    target, _ = _target([0.2, 0.2, Z_SAFE], block, goal)
    assert np.allclose(target, [-(BLOCK_HALF + 0.03), 0.0, Z_SAFE])
    # above the pre-push point: descend
    target, _ = _target([-(BLOCK_HALF + 0.03), 0.0, Z_SAFE], block, goal)
    assert np.allclose(target, [-(BLOCK_HALF + 0.03), 0.0, LOW[2]])
    # a pre-push point outside the workspace is clipped into it
    target, _ = _target([0.2, 0.2, Z_SAFE], [-0.24, 0.0, block[2]], [0.0, 0.0, TABLE_Z])
    assert np.allclose(target, [LOW[0], 0.0, Z_SAFE])


@pytest.mark.parametrize("env_cls", [ManipulationGTEnv, BulletManipulationGTEnv])
def test_both_envs_pose_the_same_task(env_cls):
    env = env_cls(width=8, height=8, obs_mode="state", n_objects=2)
    state, info = env.reset(seed=3)
    assert env.action_layout == ACTION_LAYOUT and env.action_space.shape == (7,)
    assert env.state_layout[:8] == (
        "ee_x",
        "ee_y",
        "ee_z",
        "ee_yaw",
        "gripper_opening",
        "goal_x",
        "goal_y",
        "goal_z",
    )
    assert env.state_layout[8:] == tuple(f"{b}_{a}" for b in ("red_block", "blue_block") for a in "xyz")
    assert np.allclose(state[:3], env.ee_pos(), atol=1e-6) and np.allclose(
        state[5:8], env.goal_pos(), atol=1e-6
    )
    assert np.allclose(state[8:11], env.block_pos(0), atol=1e-6)
    assert np.allclose(state[11:14], info["objects"]["blue_block"]["pos"], atol=1e-6)
    # reward of the reset state, from the positions alone
    reward, done, extra = env._reward()
    ee, block, goal = env.ee_pos(), env.block_pos(0), env.goal_pos()
    expected = -(np.linalg.norm(ee - block) + np.linalg.norm(block - goal - [0, 0, BLOCK_HALF]))
    assert reward == pytest.approx(expected) and not done
    assert extra["block_goal_distance"] == pytest.approx(np.linalg.norm(block[:2] - goal[:2]))
    assert set(info) >= {"is_success", "block_goal_distance", "ee_pos", "objects"}
    assert env.metadata["render_fps"] == round(1 / (env.config.timestep * env.config.frame_skip))
    env.close()


def test_terminate_on_success_false_runs_on_past_the_success_step():
    def run(**kw):
        env = ManipulationGTEnv(obs_mode="state", **kw)
        env.reset(seed=100005)
        for t in range(100):
            _, _, terminated, _, info = env.step(env.expert_action())
            if info["is_success"]:
                return t, terminated
        raise AssertionError("the expert did not succeed in 100 steps")

    t_stop, stops = run()
    t_on, ends = run(terminate_on_success=False)
    assert t_on == t_stop and stops and not ends  # the same success step, the episode goes on
