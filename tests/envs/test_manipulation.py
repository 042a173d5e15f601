"""The MuJoCo manipulation scene: API contract, action semantics, control maps against geometry, expert."""

import re

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import cosmos_sim  # noqa: F401
from cosmos_sim.envs.base import project
from cosmos_sim.envs.manipulation import (
    BLOCK_HALF,
    FINGER_OPEN,
    TABLE_Z,
    TILT_LIMIT,
    TOP_CAM_HEIGHT,
    WORKSPACE_HIGH,
    ManipulationConfig,
    ManipulationGTEnv,
    default_config,
    scene_xml,
)

ENV_ID = "cosmos_sim/Manipulation-GT-v0"
IDLE = np.array([0, 0, 0, 0, 0, 0, -1], dtype=np.float32)


def _labels_to_ids(env) -> dict[str, int]:
    return {name: iid for iid, name in env.unwrapped.segmentation_labels.items()}


def _run_expert(env, seed: int, steps: int = 100) -> bool:
    env.reset(seed=seed)
    for _ in range(steps):
        _, _, terminated, truncated, info = env.step(env.unwrapped.expert_action())
        if terminated or truncated:
            break
    return bool(info["is_success"])


@pytest.mark.parametrize("obs_mode", ["pixels", "state", "pixels+state"])
def test_check_env_each_obs_mode(obs_mode):
    env = gym.make(ENV_ID, obs_mode=obs_mode)
    check_env(env.unwrapped)
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    if obs_mode != "pixels":
        state = obs if obs_mode == "state" else obs["state"]
        assert state.shape == (len(env.unwrapped.state_layout),)
        # The state vector carries the goal and the red block where the layout says.
        layout = env.unwrapped.state_layout
        goal = state[[layout.index(f"goal_{a}") for a in "xyz"]]
        red = state[[layout.index(f"red_block_{a}") for a in "xyz"]]
        np.testing.assert_allclose(goal, env.unwrapped.goal_pos(), atol=1e-6)
        np.testing.assert_allclose(red, info["objects"]["red_block"]["pos"], atol=1e-6)
    env.close()


def test_config_defaults_overrides_and_validation():
    assert default_config() == ManipulationConfig()
    env = ManipulationGTEnv(ManipulationConfig(n_objects=2), width=32, obs_mode="state")
    assert env.config.n_objects == 2 and env.config.width == 32 and env.config.height == 64
    assert env.block_names == ("red_block", "blue_block")
    assert env.observation_space.shape == (8 + 3 * 2,)
    assert env.action_layout == ("dx", "dy", "dz", "droll", "dpitch", "dyaw", "gripper")
    with pytest.raises(ValueError, match="n_objects=4"):
        ManipulationGTEnv(n_objects=4)
    with pytest.raises(ValueError, match="obs_mode 'rgb'"):
        ManipulationGTEnv(obs_mode="rgb")


def test_width_height_change_observation_and_maps():
    env = gym.make(ENV_ID, width=96, height=48, maps="depth,seg", obs_mode="pixels+state")
    obs, info = env.reset(seed=0)
    assert obs["pixels"].shape == (48, 96, 3) and obs["pixels"].dtype == np.uint8
    assert env.render().shape == (48, 96, 3)
    for cam in ("front", "top"):
        assert info["maps"][cam]["depth"].shape == (48, 96) and info["maps"][cam]["depth"].dtype == np.float32
        assert info["maps"][cam]["seg"].shape == (48, 96) and info["maps"][cam]["seg"].dtype == np.int32


@pytest.mark.parametrize("env_id", ["cosmos_sim/Manipulation-GT-v0", "cosmos_sim/Manipulation-Bullet-GT-v0"])
def test_map_cameras_give_those_cameras_maps_only_and_the_same_ones(env_id):
    every = gym.make(env_id, maps="depth,seg,edges")
    front = gym.make(env_id, maps="depth,seg,edges", map_cameras="front")
    for env in (every, front):
        env.action_space.seed(3)
    infos = [env.reset(seed=7)[1] for env in (every, front)]
    for _ in range(2):
        infos = [env.step(env.action_space.sample())[4] for env in (every, front)]
    assert set(infos[0]["maps"]) == {"front", "top"} and set(infos[1]["maps"]) == set(
        infos[1]["cameras"]
    ) == {"front"}
    for name, m in infos[0]["maps"]["front"].items():
        assert np.array_equal(m, infos[1]["maps"]["front"][name]), name
    assert infos[1]["maps"]["front"]["seg"].any()  # the scene is in view, not an empty map
    with pytest.raises(ValueError, match=r"map_cameras \['side'\] not in this scene"):
        gym.make(env_id, maps="seg", map_cameras="side")


def test_seeded_expert_rollouts_are_identical_and_seeds_differ():
    def frames(seed: int) -> list[np.ndarray]:
        env = gym.make(ENV_ID, n_objects=3)
        out = [env.reset(seed=seed)[0]]
        for _ in range(20):
            out.append(env.step(env.unwrapped.expert_action())[0])
        return out

    a, b = frames(3), frames(3)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[-1], a[0]), "the expert should move something in 20 steps"
    assert not np.array_equal(frames(4)[0], a[0])


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (np.zeros(6), "shape"),
        (np.zeros((1, 7)), "shape"),
        (np.array([0, 0, np.nan, 0, 0, 0, 0]), "NaN"),
        (np.array([0, 0, 0, 0, 0, 0, 1.5]), "outside the action space"),
    ],
)
def test_bad_actions_raise_value_error(action, message):
    env = gym.make(ENV_ID)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=message):
        env.step(action)


def test_reset_pose_and_cartesian_actions():
    env = ManipulationGTEnv(obs_mode="state")
    env.reset(seed=5)
    d = env.data
    # The closed-form IK puts the grip point exactly on the mocap target at reset.
    np.testing.assert_allclose(env.grip_pos(), d.mocap_pos[env._ee_mocap], atol=1e-6)
    start = env.grip_pos()
    for _ in range(3):
        env.step(np.array([1, 0, 0, 0, 0, 0, -1], dtype=np.float32))
    lag = 0.06 - (env.grip_pos() - start)[0]
    assert 0 < lag < 0.01  # the weld pulls the hand after the mocap target with a short lag
    env.step(IDLE)
    np.testing.assert_allclose(env.grip_pos() - start, [0.06, 0, 0], atol=2e-3)
    for _ in range(20):  # up until the workspace lid stops it
        env.step(np.array([0, 0, 1, 0, 0, 0, 1], dtype=np.float32))
    assert abs(env.grip_pos()[2] - WORKSPACE_HIGH[2]) < 3e-3
    assert env.state()[env.state_layout.index("gripper_opening")] < 0.005  # closed
    for _ in range(5):
        env.step(np.array([0, 0, 0, 0, 0, 1, -1], dtype=np.float32))
    assert env.state()[env.state_layout.index("gripper_opening")] == pytest.approx(2 * FINGER_OPEN, abs=2e-3)
    assert env.state()[env.state_layout.index("ee_yaw")] == pytest.approx(0.5, abs=1e-6)
    env.step(IDLE)
    env.step(IDLE)
    # The hand follows the commanded yaw (one step behind): its x axis turns 0.5 rad about z.
    x_axis = d.xmat[env._body("hand")].reshape(3, 3)[:, 0]
    assert np.arctan2(x_axis[1], x_axis[0]) == pytest.approx(0.5, abs=0.01)
    # Roll and pitch saturate at the tilt limit, and the hand still tracks the mocap pose.
    for _ in range(5):
        env.step(np.array([0, 0, 0, 1, -1, 0, -1], dtype=np.float32))
    env.step(IDLE)
    env.step(IDLE)
    np.testing.assert_allclose(env._rpy, [TILT_LIMIT, -TILT_LIMIT, 0.5])
    hand_quat = d.xquat[env._body("hand")]
    assert abs(hand_quat @ d.mocap_quat[env._ee_mocap]) > 1 - 1e-5, hand_quat


def test_block_on_goal_succeeds_and_terminates():
    env = ManipulationGTEnv(obs_mode="state")
    env.reset(seed=1)
    _, reward, terminated, _, info = env.step(IDLE)
    assert not terminated and not info["is_success"] and reward < 0
    adr = env._block_qpos[0]
    env.data.qpos[adr : adr + 2] = env.goal_pos()[:2] + [0.03, 0.0]  # inside the 5 cm radius
    env.data.qvel[:] = 0
    _, reward, terminated, _, info = env.step(IDLE)
    assert terminated and info["is_success"] and info["block_goal_distance"] < 0.05
    expected = (
        -np.linalg.norm(info["ee_pos"] - info["objects"]["red_block"]["pos"])
        - np.linalg.norm(info["objects"]["red_block"]["pos"] - env.goal_pos() - [0, 0, BLOCK_HALF])
        + 1.0
    )
    assert reward == pytest.approx(expected, abs=1e-6)


def _ray_box_depth(pixel, cam, block) -> float:
    """z-depth where the ray through `pixel`'s centre first hits the block's box (inf: missed)."""
    k, e = cam["intrinsics"], cam["extrinsics"]
    ray_cam = np.array([(pixel[0] + 0.5 - k[0, 2]) / k[0, 0], (pixel[1] + 0.5 - k[1, 2]) / k[1, 1], 1.0])
    origin = -e[:3, :3].T @ e[:3, 3]
    ray = e[:3, :3].T @ ray_cam  # world direction, scaled so the camera-z component is 1
    w, x, y, z = block["quat"]
    rot = np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )
    o, r = rot.T @ (origin - block["pos"]), rot.T @ ray
    with np.errstate(divide="ignore"):
        t1, t2 = (-BLOCK_HALF - o) / r, (BLOCK_HALF - o) / r
    near, far = np.minimum(t1, t2).max(), np.maximum(t1, t2).min()
    return float(near) if near <= far else np.inf


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_red_block_seg_and_depth_match_geometry(seed):
    env = gym.make(ENV_ID, maps="depth,seg", n_objects=3, width=128, height=128)
    _, info = env.reset(seed=seed)
    ids = _labels_to_ids(env)
    block = info["objects"]["red_block"]
    for cam_name in ("front", "top"):
        cam, maps = info["cameras"][cam_name], info["maps"][cam_name]
        u, v, z_centre = project(block["pos"][None], cam["intrinsics"], cam["extrinsics"])[0]
        px = (int(u), int(v))
        expected = _ray_box_depth(px, cam, block)
        assert z_centre - np.sqrt(3) * BLOCK_HALF < expected < z_centre  # the front surface
        seg, depth = maps["seg"][px[1], px[0]], maps["depth"][px[1], px[0]]
        if seg == ids["robot"]:  # seed 2: the arm hangs over the block in the top view
            assert depth < expected - 0.02, "an occluder must be nearer than the block"
        else:
            assert seg == ids["red_block"], (cam_name, px)
            assert depth == pytest.approx(expected, abs=0.01)


def test_top_camera_sees_flat_table_at_known_height():
    env = gym.make(ENV_ID, maps=("depth", "seg"), n_objects=3)
    _, info = env.reset(seed=0)
    ids = _labels_to_ids(env)
    depth, seg = info["maps"]["top"]["depth"], info["maps"]["top"]["seg"]
    table = seg == ids["table"]
    assert table.mean() > 0.3
    np.testing.assert_allclose(depth[table], TOP_CAM_HEIGHT, atol=2e-3)
    # Every instance shows up somewhere in the top view, each block at about its top face.
    for name in ("robot", "goal", "red_block", "blue_block", "yellow_block"):
        assert (seg == ids[name]).sum() > 3, name
    assert np.median(depth[seg == ids["blue_block"]]) == pytest.approx(
        TOP_CAM_HEIGHT - 2 * BLOCK_HALF, abs=3e-3
    )


def test_intrinsics_and_extrinsics_agree_with_the_mjcf():
    env = gym.make(ENV_ID, width=80, height=60, maps="seg")
    _, info = env.reset(seed=0)
    xml = scene_xml(default_config())
    for cam_name in ("front", "top"):
        tag = re.search(rf'<camera name="{cam_name}" pos="([^"]+)"[^>]*fovy="([^"]+)"', xml)
        pos, fovy = np.array(tag.group(1).split(), float), float(tag.group(2))
        k, e = info["cameras"][cam_name]["intrinsics"], info["cameras"][cam_name]["extrinsics"]
        f = 30 / np.tan(np.deg2rad(fovy) / 2)
        np.testing.assert_allclose(k, [[f, 0, 40], [0, f, 30], [0, 0, 1]], atol=1e-9)
        np.testing.assert_allclose(-e[:3, :3].T @ e[:3, 3], pos, atol=1e-5)  # camera centre
    # The top camera looks straight down: its optical axis (third row of R) is world -z.
    np.testing.assert_allclose(info["cameras"]["top"]["extrinsics"][2, :3], [0, 0, -1], atol=1e-9)
    assert info["cameras"]["top"]["extrinsics"][2, 3] == pytest.approx(TABLE_Z + TOP_CAM_HEIGHT)


def test_expert_succeeds_on_most_of_a_few_seeds():
    env = gym.make(ENV_ID, obs_mode="state")
    assert sum(_run_expert(env, seed) for seed in range(5)) >= 3


def test_the_expert_from_a_named_state_moves_as_the_expert_and_pushes_without_turning():
    """``expert_from_state`` (the teacher inside a world model) translates as ``expert_action`` on the scene's own
    state, never turns the gripper, and still pushes the block home."""
    env = gym.make(ENV_ID, obs_mode="state")
    u = env.unwrapped
    done, moves = False, 0
    env.reset(seed=3)
    while not done:
        a = u.expert_from_state(dict(zip(u.state_layout, u.state().astype(float), strict=True)))
        np.testing.assert_allclose(a[:3], u.expert_action()[:3], atol=1e-5)
        assert list(a[3:]) == [0.0, 0.0, 0.0, 1.0]
        moves += bool(np.abs(a[:3]).max() > 0.1)
        *_, terminated, truncated, info = env.step(a)
        done = terminated or truncated
    assert info["is_success"] and moves > 5
    with pytest.raises(ValueError, match=r"\['red_block_x', 'red_block_y'\] missing from the state given"):
        u.expert_from_state({n: 0.0 for n in ("ee_x", "ee_y", "ee_z", "goal_x", "goal_y")})
    reach = gym.make("cosmos_sim/Manipulation-Reach-GT-v0", obs_mode="state").unwrapped
    with pytest.raises(ValueError, match="push task's teacher; this scene's task is 'reach'"):
        reach.expert_from_state({})


@pytest.mark.slow
@pytest.mark.parametrize("n_objects", [1, 3])
def test_expert_success_rate_over_50_seeds(n_objects):
    # Measured on seeds 0-49: 49/50 with one block, 48/50 with three (98 % / 96 %).
    env = gym.make(ENV_ID, obs_mode="state", n_objects=n_objects)
    assert sum(_run_expert(env, seed) for seed in range(50)) >= 40


@pytest.mark.parametrize(
    "env_id, kwargs",
    [
        ("cosmos_sim/Manipulation-Reach-GT-v0", {}),
        ("cosmos_sim/Manipulation-Bullet-GT-v0", {"task": "reach"}),
    ],
)
def test_reach_task_rewards_the_distance_to_the_point_above_the_goal(env_id, kwargs):
    from cosmos_sim.envs.push_task import REACH_HEIGHT

    env = gym.make(env_id, obs_mode="state", **kwargs)
    obs, info = env.reset(seed=100000)
    u = env.unwrapped
    target = u.goal_pos() + [0, 0, REACH_HEIGHT]
    obs, r, term, _, info = env.step(np.zeros(7, np.float32))
    d = np.linalg.norm(u.ee_pos() - target)
    assert r == pytest.approx(-d, abs=1e-6) and info["target_distance"] == pytest.approx(d) and not term
    steps = 0
    while not term and steps < 40:  # the scripted expert gets there, and the episode ends with the bonus
        obs, r, term, _, info = env.step(u.expert_action())
        steps += 1
    assert term and info["is_success"] and info["target_distance"] <= u.config.goal_radius
    assert r == pytest.approx(1.0 - info["target_distance"], abs=1e-6) and steps < 30
    with pytest.raises(ValueError, match="task 'lift' unknown"):
        gym.make(env_id, task="lift")
    env.close()
