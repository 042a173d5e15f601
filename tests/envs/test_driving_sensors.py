"""The driving scene's LiDAR and HD map against known geometry: ranges to the road and to a parked car,
no self-returns, the sensor frame, stores; HD-map lines on the painted lines and boxes on the cars."""

import cv2
import numpy as np
import pytest

import cosmos_sim  # noqa: F401  (registers the ids)
from cosmos_sim.data.generate import GenerateConfig, generate
from cosmos_sim.data.pointcloud import lidar_cloud, range_image_picture
from cosmos_sim.data.store import TrajectoryStore
from cosmos_sim.envs.driving import HDMAP_COLOURS, MARK_Z, ROAD_Z, DrivingGTEnv
from cosmos_sim.envs.driving_sensors import lidar_directions, ray_box_distance

PARKED = {"ego_lane": 1, "ego_speed": 0.0, "vehicles": [(15.0, 1, 0.0)]}  # a car 15 m ahead in the ego lane


def _ids(env) -> dict[str, int]:
    return {n: i for i, n in env.segmentation_labels.items()}


@pytest.fixture(scope="module")
def parked():
    env = DrivingGTEnv(width=96, height=96, num_vehicles=1, lidar=True, hdmap=True, maps="seg")
    _, info = env.reset(seed=0, options=PARKED)
    yield env, info
    env.close()


def test_lidar_is_off_by_default_and_its_options_are_checked():
    env = DrivingGTEnv(width=16, height=16, num_vehicles=0)
    _, info = env.reset(seed=0)
    assert "lidar" not in info and "maps" not in info
    env.close()
    with pytest.raises(ValueError, match=r"lidar_height=1.2 m is not above the car's roof \(1.5 m"):
        DrivingGTEnv(lidar_height=1.2)
    with pytest.raises(ValueError, match="lidar_elevation_deg"):
        DrivingGTEnv(lidar_elevation_deg=(10.0, -10.0))
    with pytest.raises(ValueError, match="lidar_rings=0"):
        DrivingGTEnv(lidar_rings=0)


def test_lidar_ranges_to_the_ground_match_the_mount_height(parked):
    env, info = parked
    lidar, ids, cfg = info["lidar"], _ids(env), env.config
    dirs = lidar_directions(cfg.lidar_rings, cfg.lidar_columns, cfg.lidar_elevation_deg)
    assert lidar["ranges"].shape == (32, 360) and lidar["points"].shape == (32, 360, 3)
    for surface, z in (("road", ROAD_Z), ("lane_markings", MARK_Z), ("grass", 0.0)):
        hit = lidar["labels"] == ids[surface]
        assert hit.sum() > 30, surface
        expected = (cfg.lidar_height - z) / -dirs[..., 2]
        assert np.allclose(lidar["ranges"][hit], expected[hit], atol=1e-3), surface
        assert np.allclose(lidar["points"][hit][:, 2], z, atol=1e-4), surface
    # the range is the distance of the point from the sensor
    ok = lidar["ranges"] > 0
    dist = np.linalg.norm(lidar["points"][ok] - lidar["pose"][:3, 3], axis=1)
    assert np.allclose(dist, lidar["ranges"][ok], atol=1e-3)
    assert np.all(np.isnan(lidar["points"][~ok])) and np.all(lidar["labels"][~ok] == 0)


def test_lidar_ranges_to_a_parked_car_match_its_box(parked):
    env, info = parked
    lidar, cfg = info["lidar"], env.config
    dirs = lidar_directions(cfg.lidar_rings, cfg.lidar_columns, cfg.lidar_elevation_deg)
    car = info["objects"]["vehicle_0"]["pos"]
    ln, wd, ht = cfg.car_size
    box = ray_box_distance(lidar["pose"][:3, 3], dirs, car - [ln / 2, wd / 2, 0], car + [ln / 2, wd / 2, ht])
    on_car = lidar["labels"] == _ids(env)["vehicle_0"]
    assert on_car.sum() >= 10
    assert np.allclose(lidar["ranges"][on_car], box[on_car], atol=1e-3)
    # straight ahead (the middle columns) the rays meet the car's rear face, 15 - 2.2 m ahead
    mid = cfg.lidar_columns // 2
    rear = on_car[:, mid] & np.isclose(lidar["points"][:, mid, 0], 15.0 - ln / 2, atol=1e-3)
    assert rear.sum() >= 3
    # every ray that meets the box within range and before the ground is a car return
    ground = (cfg.lidar_height - ROAD_Z) / np.maximum(-dirs[..., 2], 1e-9)
    assert np.array_equal(on_car, (box < np.minimum(ground, cfg.lidar_range)) & np.isfinite(box))


def test_lidar_never_returns_the_ego_car_and_its_roof_blocks_rays():
    env = DrivingGTEnv(
        width=16, height=16, num_vehicles=0, lidar=True, lidar_height=1.6
    )  # 10 cm above the roof
    _, info = env.reset(seed=0, options={"ego_lane": 1, "ego_speed": 0.0, "vehicles": []})
    lidar, cfg = info["lidar"], env.config
    dirs = lidar_directions(cfg.lidar_rings, cfg.lidar_columns, cfg.lidar_elevation_deg)
    ego = info["objects"]["ego"]["pos"]
    ln, wd, ht = cfg.car_size
    roof = np.isfinite(
        ray_box_distance(lidar["pose"][:3, 3], dirs, ego - [ln / 2, wd / 2, 0], ego + [ln / 2, wd / 2, ht])
    )
    assert roof.sum() > 100  # the downward rings meet the roof
    assert np.all(lidar["ranges"][roof] == 0) and np.all(lidar["ranges"][~roof & (dirs[..., 2] < -0.2)] > 0)
    assert _ids(env)["ego"] not in lidar["labels"]
    env.close()


def test_lidar_frame_follows_the_car_and_the_sensor_frame_is_level():
    env = DrivingGTEnv(width=16, height=16, num_vehicles=0, lidar=True, lidar_columns=90, lidar_rings=8)
    env.reset(seed=0, options={"ego_lane": 1, "ego_speed": 8.0, "vehicles": []})
    for _ in range(5):
        *_, info = env.step(np.array([0.8, 0.0], np.float32))  # turn left
    x, y, yaw = env.ego_state()[:3]
    pose = info["lidar"]["pose"]
    assert yaw > 0.05 and np.allclose(pose[:3, 3], [x, y, env.config.lidar_height], atol=1e-5)
    assert np.allclose(pose[:3, 0], [np.cos(yaw), np.sin(yaw), 0], atol=1e-6)
    road = _ids(env)["road"]
    sensor = lidar_cloud(info["lidar"], frame="sensor")
    on_road = sensor.labels == road
    assert np.allclose(sensor.points[on_road][:, 2], ROAD_Z - env.config.lidar_height, atol=1e-4)
    world = lidar_cloud(info["lidar"])
    assert np.allclose(world.points[on_road][:, 2], ROAD_Z, atol=1e-4)
    env.close()


def test_generate_records_the_lidar_in_the_store(tmp_path):
    kwargs = {"lidar": True, "lidar_rings": 4, "lidar_columns": 36, "num_vehicles": 1}
    out = tmp_path / "d.zarr"
    generate(
        GenerateConfig(
            env_id="cosmos_sim/Driving-GT-v0",
            episodes=1,
            out=str(out),
            policy="expert",
            resolution=(16, 16),
            max_steps=2,
            env_kwargs=kwargs,
            progress=False,
        )
    )
    store = TrajectoryStore.open(out)
    ep = store.episode(0)
    assert ep["lidar/ranges"].shape == (3, 4, 36) and ep["lidar/points"].shape == (3, 4, 36, 3)
    assert ep["lidar/labels"].dtype == np.int32 and ep["lidar/pose"].shape == (3, 4, 4)
    env = DrivingGTEnv(width=16, height=16, **kwargs)
    _, info = env.reset(seed=int(store.episode_seeds[0]))
    assert np.array_equal(info["lidar"]["ranges"], ep["lidar/ranges"][0])
    env.close()


def test_range_image_picture():
    ranges = np.array([[0.0, 10.0, 80.0], [5.0, 0.0, 40.0]], np.float32)
    pic = range_image_picture(ranges, max_range=80.0, row_scale=3)
    assert pic.shape == (6, 3, 3) and pic.dtype == np.uint8
    assert np.all(pic[0, 0] == 0) and np.all(pic[3, 1] == 0)  # no return: black
    assert not np.array_equal(pic[0, 1], pic[0, 2])  # near and far differ
    assert np.array_equal(pic[0], pic[2])  # rows repeated


def _near(mask: np.ndarray, target: np.ndarray, px: int) -> np.ndarray:
    """``mask`` pixels within ``px`` pixels of a ``target`` pixel."""
    grown = cv2.dilate(target.astype(np.uint8), np.ones((2 * px + 1, 2 * px + 1), np.uint8)) > 0
    return mask & grown


def test_hdmap_lines_lie_on_the_painted_lines_and_boxes_on_the_cars():
    env = DrivingGTEnv(width=160, height=160, num_vehicles=1, hdmap=True, maps="seg")
    _, info = env.reset(seed=0, options=PARKED)
    ids = _ids(env)
    assert set(info["cameras"]) == set(env.cameras)
    for cam in ("front", "front_left", "rear"):
        hd, seg = info["maps"][cam]["hdmap"], info["maps"][cam]["seg"]
        assert hd.shape == (160, 160, 3) and hd.dtype == np.uint8
        paint = np.all(hd == HDMAP_COLOURS["edge_line"], axis=-1) | np.all(
            hd == HDMAP_COLOURS["lane_divider"], -1
        )
        marks = seg == ids["lane_markings"]
        assert paint.sum() > 100 and marks.sum() > 50, cam
        # every painted line the renderer shows is on a map line, and most map pixels are on paint (far
        # away the lines are thinner than a pixel and the renderer drops them; the car hides some)
        assert _near(marks, paint, 1).sum() > 0.9 * marks.sum(), cam
        assert _near(paint, marks, 1).sum() > 0.8 * paint.sum(), cam
    # the parked car's box outline spans the car's pixels (the box is the car's bounding box)
    hd, seg = info["maps"]["front"]["hdmap"], info["maps"]["front"]["seg"]
    box = np.all(hd == HDMAP_COLOURS["vehicle"], axis=-1) | np.all(
        hd == HDMAP_COLOURS["vehicle_front"], axis=-1
    )
    (by, bx), (cy, cx) = np.nonzero(box), np.nonzero(seg == ids["vehicle_0"])
    assert abs(bx.min() - cx.min()) <= 2 and abs(bx.max() - cx.max()) <= 2
    assert abs(by.max() - cy.max()) <= 2 and by.min() <= cy.min() + 1
    # the rear camera sees the lines behind but not the car ahead
    rear = info["maps"]["rear"]["hdmap"]
    assert not np.any(np.all(rear == HDMAP_COLOURS["vehicle"], axis=-1))
    env.close()


def test_hdmap_rides_in_info_without_other_maps_and_follows_the_cars():
    env = DrivingGTEnv(width=64, height=64, num_vehicles=1, hdmap=True)
    _, info = env.reset(seed=0, options={"ego_lane": 1, "ego_speed": 0.0, "vehicles": [(12.0, 1, 0.0)]})
    assert set(info["maps"]["front"]) == {"hdmap"} and "intrinsics" in info["cameras"]["front"]
    env.close()
    far = DrivingGTEnv(width=64, height=64, num_vehicles=1, hdmap=True)
    _, info_far = far.reset(seed=0, options={"ego_lane": 1, "ego_speed": 0.0, "vehicles": [(40.0, 1, 0.0)]})
    far.close()

    def box_height(i):
        hd = i["maps"]["front"]["hdmap"]
        box = np.all(hd == HDMAP_COLOURS["vehicle"], axis=-1) | np.all(
            hd == HDMAP_COLOURS["vehicle_front"], axis=-1
        )
        rows = np.nonzero(box)[0]
        return rows.max() - rows.min()

    assert box_height(info) > 2 * box_height(info_far)  # a nearer car is a bigger box
