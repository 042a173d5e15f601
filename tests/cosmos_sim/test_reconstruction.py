"""3D consistency by reconstruction: the true surface, the cloud comparison, and TSDF fusion of a CameraOrbit
video with GT depth (high F-score) against mis-scaled depth (low)."""

import numpy as np
import pytest

from cosmos_sim.data.pointcloud import PointCloud
from cosmos_sim.eval.reconstruction import (
    ReconstructionConfig,
    capture_orbit,
    compare_clouds,
    reconstruct_orbit,
)

CFG = ReconstructionConfig(voxel=0.01, sdf_trunc=0.04, threshold=0.02)


@pytest.fixture(scope="module")
def capture():
    return capture_orbit(100_000, frames=25, size=96, config=CFG)


def _plane(spacing: float = 0.01) -> np.ndarray:
    g = np.arange(-0.5, 0.5, spacing)
    x, y = np.meshgrid(g, g)
    return np.column_stack([x.ravel(), y.ravel(), np.zeros(x.size)])


def test_compare_clouds_on_a_known_offset():
    truth = PointCloud(_plane())
    lifted = PointCloud(_plane() + [0, 0, 0.01])
    figs = compare_clouds(lifted, truth, threshold=0.02)
    assert figs["accuracy_m"] == pytest.approx(0.01) and figs["completeness_m"] == pytest.approx(0.01)
    assert figs["chamfer_m"] == pytest.approx(0.01) and figs["fscore"] == 1.0
    assert compare_clouds(lifted, truth, threshold=0.005)["fscore"] == 0.0
    half = PointCloud(truth.points[truth.points[:, 0] < 0])  # half the surface: precise, incomplete
    figs = compare_clouds(half, truth, threshold=0.015)  # 50 of 100 columns, and the next one within reach
    assert figs["precision"] == 1.0 and figs["recall"] == pytest.approx(0.51)
    assert np.isnan(compare_clouds(PointCloud(np.zeros((0, 3))), truth, 0.02)["fscore"])


def test_the_true_surface_is_the_scene_geometry_seen_by_the_frames(capture):
    labels = {n: i for i, n in capture.labels.items()}
    s = capture.surface
    floor = s.with_labels([labels["floor"]]).points
    assert np.all(floor[:, 2] == 0.0) and len(floor) > 10_000
    assert np.all(np.abs(s.points[:, :2]) <= 1.2 + 1e-9)  # the region
    sphere = s.with_labels([labels["sphere_0"]]).points
    # least-squares sphere: |p|^2 = 2 c.p + (r^2 - |c|^2); its samples lie on it, and it stands on the floor
    a = np.column_stack([2 * sphere, np.ones(len(sphere))])
    sol = np.linalg.lstsq(a, (sphere**2).sum(1), rcond=None)[0]
    c, r = sol[:3], np.sqrt(sol[3] + sol[:3] @ sol[:3])
    assert 0.1 <= r <= 0.17 and c[2] == pytest.approx(r, abs=1e-6)  # radius drawn in [0.1, 0.17]
    assert np.allclose(np.linalg.norm(sphere - c, axis=1), r, atol=1e-6)
    # occluded parts are not in it: no sample under a box's footprint on the floor
    from scipy.spatial import Delaunay

    box = s.with_labels([labels["box_0"]]).points
    top = box[box[:, 2] > box[:, 2].max() - 1e-9][:, :2]  # the top face: the footprint of the upright box
    footprint = Delaunay(top.mean(0) + 0.8 * (top - top.mean(0)))  # shrunk a little: edges are seen
    assert len(top) > 100 and not np.any(footprint.find_simplex(floor[:, :2]) >= 0)
    around = Delaunay(top.mean(0) + 2.0 * (top - top.mean(0)))  # while floor around it is
    assert np.sum(around.find_simplex(floor[:, :2]) >= 0) > 100


def test_tsdf_of_gt_frames_with_gt_depth_matches_the_true_surface_and_wrong_depth_does_not(capture):
    good = reconstruct_orbit(capture, config=CFG).figures
    # (with K off by half a pixel, the open3d convention, F was 0.90 and Chamfer 13 mm: the test sees it)
    assert good["fscore"] > 0.95 and good["chamfer_m"] < 0.008 and good["points"] > 10_000
    assert good["fuse_seconds_per_frame"] > 0
    scaled = reconstruct_orbit(capture, depth_fn=lambda f: capture.depths * 1.05, config=CFG).figures
    assert scaled["fscore"] < 0.3 and scaled["chamfer_m"] > 5 * good["chamfer_m"]
    rng = np.random.default_rng(0)
    noisy = reconstruct_orbit(
        capture, depth_fn=lambda f: capture.depths + rng.normal(0, 0.03, capture.depths.shape), config=CFG
    ).figures
    assert scaled["fscore"] < noisy["fscore"] < good["fscore"]


def test_another_video_needs_a_depth_estimator(capture):
    frozen = np.repeat(capture.frames[:1], len(capture.frames), axis=0)
    with pytest.raises(ValueError, match="GT depth describes the GT frames only; pass depth_fn"):
        reconstruct_orbit(capture, frames=frozen, config=CFG)
    with pytest.raises(ValueError, match="predict every frame"):
        reconstruct_orbit(capture, frames=capture.frames[:3], config=CFG)
    # with a depth source it runs: the frozen video's colours on the GT geometry
    figs = reconstruct_orbit(capture, frames=frozen, depth_fn=lambda f: capture.depths, config=CFG).figures
    assert figs["fscore"] > 0.9


def test_config_is_checked():
    with pytest.raises(ValueError, match="sdf_trunc=0.01 must be at least two voxels"):
        ReconstructionConfig(voxel=0.01, sdf_trunc=0.01)
    with pytest.raises(ValueError, match="threshold=0 must be > 0"):
        ReconstructionConfig(threshold=0)
