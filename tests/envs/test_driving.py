"""The PyBullet driving scene: API, determinism, camera geometry against known poses, expert."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import cosmos_sim  # noqa: F401  (registers the ids)
from cosmos_sim.envs.base import project
from cosmos_sim.envs.driving import CAMERA_YAWS_DEG, DrivingGTEnv

ENV_ID = "cosmos_sim/Driving-GT-v0"
CAMS = tuple(CAMERA_YAWS_DEG)


def _ray_depth_on_plane(k, e, u, v, point, normal) -> float:
    """z-depth where the ray through pixel (u, v) meets the plane (point, normal)."""
    r, t = e[:3, :3], e[:3, 3]
    centre = -r.T @ t
    direction = r.T @ np.linalg.inv(k) @ np.array([u, v, 1.0])  # camera z component is 1
    s = np.dot(np.asarray(point) - centre, normal) / np.dot(direction, normal)
    return float(s)  # direction has unit z in the camera frame, so s is the z-depth


def _label_id(env, name: str) -> int:
    return {n: i for i, n in env.unwrapped.segmentation_labels.items()}[name]


def test_check_env_and_dict_observation():
    env = gym.make(ENV_ID, width=32, height=24)
    check_env(env.unwrapped)
    obs, info = env.reset(seed=0)
    assert set(obs) == {*CAMS, "ego"}
    for cam in CAMS:
        assert obs[cam].shape == (24, 32, 3) and obs[cam].dtype == np.uint8
    assert obs["ego"].shape == (6,) and obs["ego"].dtype == np.float32
    assert env.unwrapped.action_layout == ("steering", "acceleration")
    assert info["collision"] is False and info["off_road"] is False
    assert {"ego", "vehicle_0"} <= set(info["objects"])
    env.close()
    check_env(gym.make(ENV_ID, width=16, height=16))


def test_same_seed_same_episode_and_different_seed_differs():
    def rollout(seed):
        env = DrivingGTEnv(width=16, height=16)
        obs, _ = env.reset(seed=seed)
        frames = [np.concatenate([obs[c] for c in CAMS], axis=1)]
        for a in np.linspace([-0.3, 1.0], [0.3, -0.5], 6, dtype=np.float32):
            obs, *_ = env.step(a)
            frames.append(np.concatenate([obs[c] for c in CAMS], axis=1))
        env.close()
        return np.stack(frames), obs["ego"]

    (f1, e1), (f2, e2) = rollout(3), rollout(3)
    assert np.array_equal(f1, f2) and np.array_equal(e1, e2)
    assert not np.array_equal(rollout(4)[0][0], f1[0])


def test_bad_actions_and_options_raise_value_error():
    env = DrivingGTEnv(width=16, height=16, num_vehicles=3)
    env.reset(seed=0)
    for bad in ([0.0], [np.nan, 0.0], [0.0, 1.5]):
        with pytest.raises(ValueError, match="shape|NaN|outside"):
            env.step(np.array(bad, dtype=np.float32))
    with pytest.raises(ValueError, match="vehicles"):
        env.reset(seed=0, options={"vehicles": [(10.0, 0, 5.0)]})
    with pytest.raises(ValueError, match="unknown reset option"):
        env.reset(seed=0, options={"weather": "rain"})
    with pytest.raises(ValueError, match="num_vehicles"):
        DrivingGTEnv(num_vehicles=20)
    env.close()


def test_maps_match_known_geometry():
    """A car parked 15 m ahead in the ego lane: seg and depth at its projected rear face; the
    road's depth at a known pixel; it is in the front view and behind the rear camera."""
    w = h = 64
    env = DrivingGTEnv(width=w, height=h, num_vehicles=1, maps="depth,seg")
    _, info = env.reset(seed=0, options={"ego_lane": 1, "ego_speed": 0.0, "vehicles": [(15.0, 1, 0.0)]})
    car = info["objects"]["vehicle_0"]["pos"]
    length, _, height = env.config.car_size
    k, e = info["cameras"]["front"]["intrinsics"], info["cameras"]["front"]["extrinsics"]
    seg, depth = info["maps"]["front"]["seg"], info["maps"]["front"]["depth"]

    u, v, z = project(car + [0, 0, height * 0.35], k, e)[0]  # body centre height
    assert 0 <= u < w and 0 <= v < h and z > 0
    iu, iv = int(u), int(v)
    assert seg[iv, iu] == _label_id(env, "vehicle_0")
    rear_face = _ray_depth_on_plane(k, e, iu + 0.5, iv + 0.5, car - [length / 2, 0, 0], [1.0, 0, 0])
    assert depth[iv, iu] == pytest.approx(rear_face, rel=0.01)

    # road 8 m ahead on the lane centre (no lane marking there): plane z = 0.02 (road top)
    u, v, _ = project(car * [0, 1, 0] + [8.0, 0, 0.02], k, e)[0]
    iu, iv = int(u), int(v)
    assert env.segmentation_labels[int(seg[iv, iu])] == "road"
    road = _ray_depth_on_plane(k, e, iu + 0.5, iv + 0.5, [0, 0, 0.02], [0, 0, 1.0])
    assert depth[iv, iu] == pytest.approx(road, rel=0.01)

    # the rear camera looks backwards: the car is behind it and absent from its segmentation
    k_r, e_r = info["cameras"]["rear"]["intrinsics"], info["cameras"]["rear"]["extrinsics"]
    assert project(car, k_r, e_r)[0, 2] < 0
    assert not np.any(info["maps"]["rear"]["seg"] == _label_id(env, "vehicle_0"))
    env.close()


def test_side_and_rear_cameras_see_cars_where_expected():
    """A car in the left lane 6 m back (~150 deg from the heading) is seen by rear_left and, where
    the views overlap, by rear; never by the front row or rear_right."""
    env = DrivingGTEnv(width=48, height=48, num_vehicles=1, maps="seg")
    _, info = env.reset(seed=0, options={"ego_lane": 1, "ego_speed": 0.0, "vehicles": [(-6.0, 2, 0.0)]})
    vid = _label_id(env, "vehicle_0")
    seen = {c: int(np.sum(info["maps"][c]["seg"] == vid)) for c in CAMS}
    assert seen["rear_left"] > 50 and seen["rear"] > 0
    assert seen["front"] == seen["front_left"] == seen["front_right"] == seen["rear_right"] == 0
    env.close()


def test_camera_extrinsics_move_with_the_car():
    env = DrivingGTEnv(width=16, height=16, num_vehicles=0, maps="depth")
    _, info0 = env.reset(seed=0, options={"ego_speed": 10.0})
    _, _, _, _, info1 = env.step(np.zeros(2, dtype=np.float32))
    for cam in CAMS:
        c0 = -info0["cameras"][cam]["extrinsics"][:3, :3].T @ info0["cameras"][cam]["extrinsics"][:3, 3]
        c1 = -info1["cameras"][cam]["extrinsics"][:3, :3].T @ info1["cameras"][cam]["extrinsics"][:3, 3]
        assert np.allclose(c1 - c0, [1.0, 0.0, 0.0], atol=1e-6), cam  # 10 m/s for 0.1 s along +x
        # optical axis (camera z) of each view points along the car heading + its yaw
        axis = info1["cameras"][cam]["extrinsics"][2, :3]
        yaw = np.deg2rad(CAMERA_YAWS_DEG[cam])
        assert np.dot(axis[:2] / np.linalg.norm(axis[:2]), [np.cos(yaw), np.sin(yaw)]) > 0.999, cam
    env.close()


def test_render_is_a_two_by_three_grid():
    env = DrivingGTEnv(width=24, height=16)
    obs, _ = env.reset(seed=1)
    grid = env.render()
    assert grid.shape == (32, 72, 3) and grid.dtype == np.uint8
    assert np.array_equal(grid[:16, 24:48], obs["front"]) and np.array_equal(grid[16:, 24:48], obs["rear"])
    assert np.array_equal(grid[:16, :24], obs["front_left"]) and np.array_equal(
        grid[16:, 48:], obs["rear_right"]
    )
    env.close()


def test_collision_and_off_road_terminate_with_penalty():
    env = DrivingGTEnv(width=16, height=16, num_vehicles=1)
    env.reset(seed=0, options={"ego_lane": 0, "ego_speed": 10.0, "vehicles": [(12.0, 0, 0.0)]})
    for _ in range(30):
        _, reward, terminated, _, info = env.step(np.array([0.0, 1.0], dtype=np.float32))
        if terminated:
            break
    assert terminated and info["collision"] and not info["off_road"] and reward < -5

    env.reset(seed=0, options={"ego_lane": 0, "ego_speed": 10.0, "vehicles": [(60.0, 2, 0.0)]})
    for _ in range(30):  # full right steering leaves the road from the rightmost lane
        _, reward, terminated, _, info = env.step(np.array([-1.0, 0.0], dtype=np.float32))
        if terminated:
            break
    assert terminated and info["off_road"] and not info["collision"] and reward < -5
    env.close()


@pytest.mark.parametrize("seed", [0, 1])
def test_expert_drives_without_collision(seed):
    env = DrivingGTEnv(width=8, height=8)
    obs, _ = env.reset(seed=seed)
    x0 = float(obs["ego"][0])
    for _ in range(100):
        obs, _, terminated, _, info = env.step(env.expert_action())
        assert not terminated, info
    assert abs(obs["ego"][4]) < 0.3  # stays near its lane centre
    assert obs["ego"][0] - x0 > 50  # and makes progress (>= 5 m/s on average)
    env.close()


def test_many_envs_share_a_process():
    a, b = DrivingGTEnv(width=16, height=16), DrivingGTEnv(width=16, height=16)
    obs_b, _ = b.reset(seed=5)
    a.reset(seed=6)
    for _ in range(3):
        a.step(np.array([0.5, 1.0], dtype=np.float32))
    b._views = {}  # force a re-render of b's unchanged state
    assert np.array_equal(b.rgb("front"), obs_b["front"])
    a.close()
    with pytest.raises(RuntimeError, match="closed"):
        a.reset(seed=0)
    b.close()
