"""camera_orbit: a static scene seen by a seeded orbiting camera (the 3D-consistency GT scene)."""

import mujoco
import numpy as np
import pytest

from cosmos_sim.envs import PHYSICS_EPISODE_STEPS
from cosmos_sim.envs.base import project
from cosmos_sim.envs.physics import CameraOrbit, PhysicsGTEnv

NOOP = np.zeros(1, dtype=np.float32)
OBJECTS = ("box_0", "sphere_0", "cylinder_0", "box_1", "cylinder_1")


def _episode(
    seed: int, steps: int = PHYSICS_EPISODE_STEPS, **kw
) -> tuple[PhysicsGTEnv, list[np.ndarray], list[dict]]:
    """Frames and infos of ``steps`` steps after ``reset(seed)`` (reset included), with depth and seg."""
    env = PhysicsGTEnv("camera_orbit", maps="depth,seg", **kw)
    obs, info = env.reset(seed=seed)
    frames, infos = [obs], [info]
    for _ in range(steps):
        obs, _, _, _, info = env.step(NOOP)
        frames.append(obs)
        infos.append(info)
    return env, frames, infos


def _centre(extrinsics: np.ndarray) -> np.ndarray:
    """Camera centre in world coordinates from a world-to-camera matrix."""
    return -extrinsics[:3, :3].T @ extrinsics[:3, 3]


@pytest.fixture(scope="module")
def episode():
    return _episode(100000)


def test_camera_orbits_by_the_seeded_angle_every_step(episode):
    env, _, infos = episode
    p = env.physics_params
    assert 2.0 <= abs(p["orbit/step_deg"]) <= 4.0
    target = np.array([0.0, 0.0, p["orbit/target_z"]])
    extr = [info["cameras"]["main"]["extrinsics"] for info in infos]
    azimuths = []
    for k, e in enumerate(extr):
        c = _centre(e)
        assert np.hypot(c[0], c[1]) == pytest.approx(p["orbit/radius"], abs=1e-6), k
        assert c[2] == pytest.approx(p["orbit/height"], abs=1e-6), k
        azimuths.append(np.degrees(np.arctan2(c[1], c[0])))
        # the optical axis (OpenCV +z, third row of R) points at the orbit target
        np.testing.assert_allclose(e[2, :3], (target - c) / np.linalg.norm(target - c), atol=1e-6)
    assert azimuths[0] == pytest.approx((p["orbit/start_deg"] + 180) % 360 - 180, abs=1e-6)
    steps = (np.diff(azimuths) + 180) % 360 - 180
    np.testing.assert_allclose(steps, p["orbit/step_deg"], atol=1e-6)
    for a, b in zip(extr, extr[1:], strict=False):  # relative rotation = the azimuth step about the vertical
        rel = b[:3, :3] @ a[:3, :3].T
        angle = np.degrees(np.arccos(np.clip((np.trace(rel) - 1) / 2, -1, 1)))
        assert angle == pytest.approx(abs(p["orbit/step_deg"]), abs=1e-6)


def test_objects_stay_exactly_at_rest(episode):
    _, frames, infos = episode
    assert set(infos[0]["objects"]) == set(OBJECTS)
    for info in infos[1:]:
        for name in OBJECTS:
            np.testing.assert_array_equal(info["objects"][name]["pos"], infos[0]["objects"][name]["pos"])
            np.testing.assert_array_equal(info["objects"][name]["linvel"], np.zeros(3))
    assert len({f.tobytes() for f in frames}) == len(frames), "the moving camera changes every frame"


def test_projected_object_centres_hit_their_seg_ids_every_step(episode):
    env, _, infos = episode
    ids = {name: i for i, name in env.segmentation_labels.items()}
    for k, info in enumerate(infos):
        cam, maps = info["cameras"]["main"], info["maps"]["main"]
        hits = 0
        for name in OBJECTS:
            u, v, z = project(info["objects"][name]["pos"], cam["intrinsics"], cam["extrinsics"])[0]
            assert 0 <= u < env.width and 0 <= v < env.height, f"{name} out of view at step {k}"
            seg, depth = maps["seg"][int(v), int(u)], maps["depth"][int(v), int(u)]
            if seg == ids[name]:  # the visible surface lies in front of the centre, within the object's size
                assert z - 0.35 < depth < z, (name, k)
                hits += 1
            else:  # occluded: by another object, nearer than this one's centre
                assert seg in ids.values() and depth < z, (name, k, seg)
        assert hits >= 3, f"step {k}: only {hits} objects visible at their centres"


def test_depth_and_seg_follow_the_camera(episode):
    env, _, infos = episode
    floor = next(i for i, n in env.segmentation_labels.items() if n == "floor")
    for info in infos[::12]:
        cam, maps = info["cameras"]["main"], info["maps"]["main"]
        k, e = cam["intrinsics"], cam["extrinsics"]
        # back-project every floor pixel with its depth: the points lie on z = 0
        v, u = np.nonzero(maps["seg"] == floor)
        z = maps["depth"][v, u].astype(np.float64)
        rays = np.linalg.inv(k) @ np.stack([u + 0.5, v + 0.5, np.ones_like(z)])
        world = e[:3, :3].T @ (rays * z - e[:3, 3:4])
        assert len(z) > 500 and np.abs(world[2]).max() < 0.02


def test_same_seed_same_video_and_poses_other_seed_other_scene():
    _, a, ia = _episode(7, steps=6)
    _, b, ib = _episode(7, steps=6)
    _, c, ic = _episode(8, steps=6)
    assert [f.tobytes() for f in a] == [f.tobytes() for f in b]
    for x, y in zip(ia, ib, strict=True):
        np.testing.assert_array_equal(x["cameras"]["main"]["extrinsics"], y["cameras"]["main"]["extrinsics"])
        np.testing.assert_array_equal(x["maps"]["main"]["seg"], y["maps"]["main"]["seg"])
    assert a[0].tobytes() != c[0].tobytes()
    assert not np.allclose(ia[0]["objects"]["box_0"]["pos"], ic[0]["objects"]["box_0"]["pos"])


def test_perturbation_is_accepted_and_changes_nothing_in_a_static_scene():
    env = PhysicsGTEnv("camera_orbit", width=32, height=32)
    base, info = env.reset(seed=3)
    for take in (0, 1):
        obs, info_p = env.reset(seed=3, options={"perturb": 0.05, "take": take})
        np.testing.assert_array_equal(obs, base)
        assert info_p["physics"] == info["physics"]
        assert not any(k.endswith(("/mass", "/friction", "/restitution")) for k in info_p["physics"])
    with pytest.raises(ValueError, match="perturb"):
        env.reset(seed=3, options={"perturb": 2.0})


def test_other_scenarios_keep_a_fixed_camera_and_plain_floor():
    env = PhysicsGTEnv("bounce", width=16, height=16, maps="seg")
    _, info = env.reset(seed=0)
    e0 = info["cameras"]["main"]["extrinsics"]
    _, _, _, _, info = env.step(NOOP)
    np.testing.assert_array_equal(info["cameras"]["main"]["extrinsics"], e0)
    assert env.model.ntex == 1, "only the skybox texture"


def test_orbit_pose_is_a_look_at_rotation():
    orbit = CameraOrbit(target=(0.0, 0.0, 0.2), radius=2.5, height=1.2, start_deg=90.0, step_deg=-3.0)
    pos, quat = orbit.pose(10)
    np.testing.assert_allclose(
        pos, [2.5 * np.cos(np.radians(60)), 2.5 * np.sin(np.radians(60)), 1.2], atol=1e-12
    )
    mat = np.zeros(9)
    mujoco.mju_quat2Mat(mat, quat)
    back = mat.reshape(3, 3)[:, 2]  # MuJoCo cameras look down their -z
    np.testing.assert_allclose(
        -back, (np.array([0, 0, 0.2]) - pos) / np.linalg.norm(np.array([0, 0, 0.2]) - pos), atol=1e-9
    )
