"""bench driving helpers against known geometry: the rig's fundamental matrix, the overlap strips,
lane odometry on GT frames, the grid video, the objects kept (GT views keep them, erased ones do not)."""

import gymnasium as gym
import numpy as np
import pytest

import cosmos_sim  # noqa: F401
from cosmos_sim.bench.driving import (
    LaneOdometry,
    camera_rig,
    grid_video,
    gt_episodes,
    kept_objects,
    overlap_columns,
    sift_matches,
)
from cosmos_sim.envs.base import project
from cosmos_sim.eval.consistency3d import fundamental_from_poses as fundamental
from cosmos_sim.eval.consistency3d import sampson_distance as sampson

VIEWS = ("front", "front_left", "front_right", "rear", "rear_left", "rear_right")


@pytest.fixture(scope="module")
def rig():
    return camera_rig(VIEWS)


def test_known_points_seen_by_two_cameras_have_zero_sampson_error(rig):
    a, b = rig["front"], rig["front_left"]
    ang = np.deg2rad(np.linspace(28, 34, 4))  # between the two optical axes (0 and 60 deg): both see them
    pts = np.array(
        [[d * np.cos(t) + 2.3, d * np.sin(t), z] for t in ang for d in (6, 12, 30) for z in (0.0, 1.0, 2.5)]
    )
    pa, pb = project(pts, a["K"], a["E_car"]), project(pts, b["K"], b["E_car"])
    assert (pa[:, 2] > 0).all() and (pb[:, 2] > 0).all()
    f = fundamental(a["K"], a["E_car"], b["K"], b["E_car"])
    assert sampson(f, pa[:, :2], pb[:, :2]).max() < 1e-6
    # a point displaced by 2 px in the second view, across its epipolar line, has an error of ~2 px or less
    shifted = pb[:, :2] + [0.0, 2.0]
    err = sampson(f, pa[:, :2], shifted)
    assert (err > 0.05).all() and (err <= 2.0 + 1e-6).all()


def test_overlap_strips_are_on_the_facing_sides(rig):
    left = overlap_columns(
        rig["front"]["K"], rig["front"]["E_car"], rig["front_left"]["K"], rig["front_left"]["E_car"], 64
    )
    assert left[:5].all() and not left[32:].any()  # front sees front_left's field on its left edge
    right = overlap_columns(
        rig["front"]["K"], rig["front"]["E_car"], rig["front_right"]["K"], rig["front_right"]["E_car"], 64
    )
    assert right[-5:].all() and not right[:32].any()


def test_sift_matches_of_a_view_with_itself_are_exact():
    env = gym.make("cosmos_sim/Driving-GT-v0")
    obs, _ = env.reset(seed=100000)
    pa, pb = sift_matches(obs["front"], obs["front"])
    assert len(pa) > 5 and np.abs(pa - pb).max() < 1e-6 and pa.min() >= 0 and pa.max() <= 64


def test_lane_odometry_finds_a_lane_change_on_gt_frames(rig):
    env = gym.make("cosmos_sim/Driving-GT-v0").unwrapped
    first, _ = env.reset(
        seed=100003, options={"ego_lane": 1, "ego_speed": 10.0, "vehicles": [(-40.0, 0, 9.0)] * 5}
    )
    for steer in [0.3] * 5 + [-0.3] * 3:  # start a lane change to the left
        obs, *_ = env.step(np.array([steer, 0.0], np.float32))
    odo = LaneOdometry(rig["front"]["K"], rig["front"]["E_car"])
    dy, dyaw = odo.offset(first["front"], obs["front"])
    true_dy, true_yaw = obs["ego"][1] - first["ego"][1], obs["ego"][2]
    assert true_dy > 0.5 and true_yaw > 0.05  # a real lateral move
    assert abs(dy - true_dy) < 0.2 and abs(dyaw - true_yaw) < 0.03
    assert np.abs(odo.offset(first["front"], first["front"])).max() < 1e-9


def test_grid_video_puts_gt_left_and_prediction_right():
    gt = np.zeros((2, 6, 64, 64, 3), np.uint8)
    pred = np.full((2, 6, 64, 64, 3), 200, np.uint8)
    v = grid_video(gt, pred, VIEWS, scale=1)
    assert v.shape == (2, 128, 192 + 16 + 192, 3)
    assert (v[:, :, :192] == 0).all() and (v[:, :, -192:] == 200).all()


def test_kept_objects_finds_gt_vehicles_and_lanes_and_misses_erased_ones():
    ep = gt_episodes(VIEWS, 1, 100000, 4, 0.0)
    vehicles = tuple(n for n in ep["labels"].values() if n.startswith("vehicle_"))
    truth = ep["views"][:, 1:]
    assert kept_objects(truth, ep, vehicles) > 0.9
    assert kept_objects(truth, ep, ("lane_markings",)) == 1.0
    ids = {n: i for i, n in ep["labels"].items()}
    erased = truth.copy()  # the other cars painted over in the road's grey: nothing of them is kept
    road = truth[ep["segs"][:, 1:] == ids["road"]].mean(0).astype(np.uint8)
    erased[np.isin(ep["segs"][:, 1:], [ids[n] for n in vehicles])] = road
    assert kept_objects(erased, ep, vehicles) == 0.0
    assert np.isnan(kept_objects(truth, ep, ("no_such_object",)))


def test_the_object_weighted_driving_tokenizer_keeps_the_lane_paint_the_old_one_loses():
    import torch

    from cosmos_sim.assets import ASSETS_DIR
    from cosmos_sim.world_models.tokenizer import Tokenizer

    ep = gt_episodes(VIEWS, 1, 100000, 2, 0.0)  # a held-out seed
    x = ep["views"]
    frames = torch.from_numpy(x.reshape(-1, *x.shape[3:])).permute(0, 3, 1, 2)  # images (N, 3, H, W)
    kept = {}
    for name in ("cv4x8x8-drive-nano", "cv4x4x4-drive-nano"):
        tok = Tokenizer.from_pretrained(ASSETS_DIR / "tokenizers" / name, device="cpu")
        rec = (
            (tok.reconstruct(frames) * 255 + 0.5).to(torch.uint8).permute(0, 2, 3, 1).numpy().reshape(x.shape)
        )
        kept[name] = kept_objects(rec, ep, ("lane_markings",))
    assert (
        kept["cv4x4x4-drive-nano"] > 0.6 and kept["cv4x4x4-drive-nano"] > kept["cv4x8x8-drive-nano"] + 0.2
    ), kept
