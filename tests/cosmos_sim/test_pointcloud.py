"""Point clouds from GT depth maps against known scene geometry, from stores and live envs, PLY and export."""

import gymnasium as gym
import numpy as np
import pytest

import cosmos_sim  # noqa: F401  (registers the ids)
from cosmos_sim.cli import main
from cosmos_sim.data.generate import GenerateConfig, generate
from cosmos_sim.data.pointcloud import (
    CameraView,
    PointCloud,
    backproject,
    camera_cloud,
    cloud_picture,
    env_views,
    export_pointcloud,
    fuse,
    read_ply,
    store_views,
    write_ply,
)
from cosmos_sim.data.store import TrajectoryStore
from cosmos_sim.envs.base import intrinsics_from_fovy, project
from cosmos_sim.envs.driving import DrivingGTEnv
from cosmos_sim.envs.push_task import BLOCK_HALF, TABLE_Z
from cosmos_sim.errors import ConfigError, StoreError

ORBIT = "cosmos_sim/Physics-CameraOrbit-GT-v0"


def _ids(env) -> dict[str, int]:
    return {n: i for i, n in env.unwrapped.segmentation_labels.items()}


def test_backprojected_pixels_project_back_onto_their_centres_at_their_depth():
    rng = np.random.default_rng(0)
    k = intrinsics_from_fovy(50.0, 40, 30)
    e = np.eye(4)
    q = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    e[:3, :3] = q * np.sign(np.linalg.det(q))  # a rotation (det +1)
    e[:3, 3] = rng.normal(size=3)
    depth = rng.uniform(0.5, 9.0, (30, 40)).astype(np.float32)
    uvz = project(backproject(depth, k, e).reshape(-1, 3), k, e)
    v, u = np.mgrid[0:30, 0:40] + 0.5
    assert np.allclose(uvz[:, 0], u.ravel()) and np.allclose(uvz[:, 1], v.ravel())
    assert np.allclose(uvz[:, 2], depth.ravel(), rtol=1e-6)


def test_sky_pixels_at_the_far_plane_are_dropped_and_colours_and_labels_follow_their_points():
    depth = np.full((4, 5), 2.0, np.float32)
    depth[0] = 50.0  # the far plane: sky
    rgb = np.arange(60, dtype=np.uint8).reshape(4, 5, 3)
    seg = np.arange(20).reshape(4, 5)
    view = CameraView("c", depth, intrinsics_from_fovy(60.0, 5, 4), np.eye(4), rgb, seg, far=50.0)
    cloud = camera_cloud(view)
    assert len(cloud) == 15 and np.allclose(cloud.points[:, 2], 2.0)
    assert np.array_equal(cloud.labels, np.arange(5, 20)) and np.array_equal(
        cloud.colors, rgb[1:].reshape(-1, 3)
    )
    assert len(camera_cloud(view, max_depth=1.0)) == 0
    assert len(camera_cloud(CameraView("c", depth, view.intrinsics, np.eye(4)))) == 20  # far unknown: kept


def test_manipulation_table_plane_and_block_size_from_the_fused_cameras():
    env = gym.make("cosmos_sim/Manipulation-GT-v0", width=192, height=192)
    _, info = env.reset(seed=3)
    ids = _ids(env)
    views = env_views(env)
    cloud = fuse(views)
    env.close()
    assert (
        [v.name for v in views] == ["front", "top"] and cloud.labels is not None and cloud.colors is not None
    )
    (a, b, c, d), inliers = cloud.with_labels([ids["table"]]).to_open3d().segment_plane(0.002, 3, 300)
    n = np.array([a, b, c]) / np.linalg.norm([a, b, c]) * np.sign(c)
    assert n[2] > np.cos(np.deg2rad(0.05))  # level to 0.05 deg
    assert -d / np.linalg.norm([a, b, c]) * np.sign(c) == pytest.approx(TABLE_Z, abs=2e-4)
    assert len(inliers) > 0.9 * len(cloud.with_labels([ids["table"]]))
    # the red block, in its own frame: a cube of side 2 * BLOCK_HALF (to a fraction of a pixel)
    blk = info["objects"]["red_block"]
    w, x, y, z = blk["quat"]
    rot = np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )
    local = (cloud.with_labels([ids["red_block"]]).points - blk["pos"]) @ rot
    assert np.allclose(local.max(0) - local.min(0), 2 * BLOCK_HALF, atol=2e-3)
    assert np.all(np.abs(local) <= BLOCK_HALF + 1e-3)  # every block point on or in the cube


def test_driving_road_width_and_height_from_the_six_cameras():
    env = DrivingGTEnv(width=96, height=96, num_vehicles=0)
    env.reset(seed=0, options={"ego_lane": 1, "ego_speed": 0.0})
    ids = _ids(env)
    cloud = fuse(env_views(env))
    road = cloud.with_labels([ids["road"], ids["lane_markings"]])
    beside = road.points[np.abs(road.points[:, 0]) < 8]
    assert beside[:, 1].max() - beside[:, 1].min() == pytest.approx(3 * 3.5, abs=0.03)  # 3 lanes of 3.5 m
    assert np.allclose(cloud.with_labels([ids["road"]]).points[:, 2], 0.02, atol=2e-3)  # the road top
    assert np.allclose(cloud.with_labels([ids["grass"]]).points[:, 2], 0.0, atol=2e-3)
    env.close()


def test_ply_round_trip_ours_and_open3d(tmp_path):
    import open3d as o3d

    rng = np.random.default_rng(1)
    cloud = PointCloud(rng.normal(size=(50, 3)) * 100, rng.integers(0, 256, (50, 3)), rng.integers(0, 9, 50))
    path = write_ply(tmp_path / "c.ply", cloud)
    back = read_ply(path)
    assert np.array_equal(back.points, cloud.points) and np.array_equal(back.colors, cloud.colors)
    assert np.array_equal(back.labels, cloud.labels)
    pcd = o3d.io.read_point_cloud(str(path))  # open3d reads it (ignoring the labels)
    assert np.array_equal(np.asarray(pcd.points), cloud.points)
    assert np.allclose(np.asarray(pcd.colors) * 255, cloud.colors)
    o3d_path = path.with_name("o3d.ply")
    o3d.io.write_point_cloud(str(o3d_path), cloud.to_open3d())  # and we read open3d's
    again = read_ply(o3d_path)
    assert np.allclose(again.points, cloud.points) and np.array_equal(again.colors, cloud.colors)
    assert again.labels is None
    seg = read_ply(write_ply(path.with_name("seg.ply"), cloud, colour="seg"))
    assert not np.array_equal(seg.colors, cloud.colors) and np.array_equal(seg.labels, cloud.labels)


def test_store_views_are_the_live_envs_views(tmp_path):
    out = tmp_path / "orbit.zarr"
    generate(
        GenerateConfig(
            env_id=ORBIT, episodes=1, out=str(out), resolution=(24, 24), maps=("depth", "seg"), max_steps=2
        )
    )
    with TrajectoryStore.open(out) as store:
        seed = int(store.episode_seeds[0])
        stored = fuse(store_views(store, 0, row=2))
        with pytest.raises(ConfigError, match="row 3 out of range"):
            store_views(store, 0, row=3)
    env = gym.make(ORBIT, width=24, height=24)
    env.reset(seed=seed)
    for _ in range(2):
        env.step(np.zeros(1, np.float32))
    live = fuse(env_views(env))
    env.close()
    assert len(stored) > 0.5 * 24 * 24  # the floor and the objects, not the sky
    assert np.allclose(stored.points, live.points, atol=1e-5)
    assert np.array_equal(stored.colors, live.colors) and np.array_equal(stored.labels, live.labels)


def test_a_store_without_depth_is_refused_saying_how_to_record_one(tmp_path):
    out = tmp_path / "plain.zarr"
    generate(GenerateConfig(env_id=ORBIT, episodes=1, out=str(out), resolution=(16, 16), max_steps=1))
    with TrajectoryStore.open(out) as store, pytest.raises(StoreError, match="--maps depth,seg"):
        store_views(store, 0)
    with pytest.raises(ConfigError, match="must end in .ply"):
        export_pointcloud(tmp_path / "x.gif", store=out)
    with pytest.raises(ConfigError, match="exactly one"):
        export_pointcloud(tmp_path / "x.ply")


def test_cli_export_pointcloud_from_a_live_env_and_a_store(tmp_path, capsys):
    ply = tmp_path / "drive.ply"
    kwargs = '{"width": 32, "height": 32, "num_vehicles": 2}'
    argv = [
        "export",
        "--pointcloud",
        "--env",
        "cosmos_sim/Driving-GT-v0",
        "--env-kwargs",
        kwargs,
        "--out",
        str(ply),
    ]
    assert main([*argv, "--colour", "seg", "--max-depth", "30"]) == 0
    cloud = read_ply(ply)
    assert f"({len(cloud)} points)" in capsys.readouterr().out
    env = DrivingGTEnv(width=32, height=32, num_vehicles=2)
    env.reset(seed=0)
    assert np.allclose(cloud.points, fuse(env_views(env), max_depth=30).points)
    env.close()
    out = tmp_path / "orbit.zarr"
    generate(
        GenerateConfig(
            env_id=ORBIT, episodes=1, out=str(out), resolution=(16, 16), maps=("depth",), max_steps=1
        )
    )
    assert main(["export", str(out), "--pointcloud", "--row", "-1", "--out", str(tmp_path / "o.ply")]) == 0
    assert len(read_ply(tmp_path / "o.ply")) > 100
    assert main(["export", "--env", ORBIT, "--out", str(tmp_path / "o.gif")]) == 2  # a video needs a store
    assert "a video needs a trajectory STORE" in capsys.readouterr().err


def test_cloud_picture_draws_every_panel():
    cloud = PointCloud(np.random.default_rng(0).normal(size=(500, 3)), None, np.arange(500) % 4)
    image = cloud_picture({"a": cloud, "b": cloud.select(slice(0, 10))}, colour="seg", size=(400, 200))
    assert image.shape == (200, 400, 3) and image.dtype == np.uint8 and image.std() > 0
