"""export_episode / contact_sheet: readable MP4/GIF/PNG, camera grids, colourised maps, errors."""

from __future__ import annotations

import imageio.v2 as iio2
import imageio.v3 as iio3
import numpy as np
import pytest

from cosmos_sim.data.export import colourise, contact_sheet, episode_frames, export_episode
from cosmos_sim.data.store import TrajectoryStore
from cosmos_sim.errors import ConfigError, StoreNotFoundError

CAMS = ["front", "front_left", "front_right", "rear", "rear_left", "rear_right"]


def frames(n: int, value: int, h: int = 16, w: int = 16) -> np.ndarray:
    f = np.zeros((n, h, w, 3), np.uint8)
    f[..., 0] = value
    f[..., 1] = 10 * np.arange(n)[:, None, None]  # every frame differs
    return f


@pytest.fixture
def single(tmp_path):
    path = tmp_path / "single.zarr"
    with TrajectoryStore.create(path, attrs={"fps": 10}) as s:
        for e, n in enumerate([9, 12]):
            depth = np.linspace(1, 3, 16, dtype=np.float32)[None, None, :] * np.ones((n, 16, 1), np.float32)
            seg = np.zeros((n, 16, 16), np.int32)
            seg[:, :8] = 1
            seg[:, :, 12:] = 2
            s.add_episode(
                {
                    "rgb": frames(n, 200 - 50 * e),
                    "action": np.zeros((n, 2), np.float32),
                    "maps/front/depth": depth,
                    "maps/front/seg": seg,
                },
                seed=e,
            )
    return path


@pytest.fixture
def multi(tmp_path):
    path = tmp_path / "multi.zarr"
    with TrajectoryStore.create(path, attrs={"image_keys": CAMS}) as s:
        s.add_episode({c: frames(7, 40 * i, 12, 20) for i, c in enumerate(CAMS)} | {"ego": np.zeros((7, 3))})
    return path


def test_mp4_has_one_frame_per_row(single, tmp_path):
    out = export_episode(single, 1, tmp_path / "ep.mp4", scale=2)
    reader = iio2.get_reader(out)
    assert reader.count_frames() == 12
    assert reader.get_meta_data()["fps"] == 10.0 and reader.get_meta_data()["codec"] == "h264"
    first = next(reader.iter_data())
    assert first.shape == (32, 32, 3)
    assert abs(float(first[..., 0].mean()) - 150) < 12  # episode 1's red level survives H.264


def test_gif_frames_fps_and_default_upscale(single, tmp_path):
    out = export_episode(single, 0, tmp_path / "ep.gif", fps=5)
    gif = iio3.imread(out, index=None)
    assert gif.shape[:3] == (9, 128, 128)  # 16 px upscaled towards a 256 px short side, at most 8x
    assert iio3.immeta(out, index=0)["duration"] == 200  # ms per frame at 5 fps


def test_multi_camera_grid_in_env_order(multi, tmp_path):
    grid = episode_frames(TrajectoryStore.open(multi), 0)
    assert grid.shape == (7, 2 * 12 + 2, 3 * 20 + 4, 3)  # 2x3 cameras with 2-pixel gaps
    np.testing.assert_array_equal(grid[0, 0, 0], [0, 0, 0])  # front (red 0) top-left
    np.testing.assert_array_equal(grid[0, 14, 44], [200, 0, 0])  # rear_right (red 200) bottom-right
    out = export_episode(multi, 0, tmp_path / "grid.mp4", scale=1)
    assert iio2.get_reader(out).count_frames() == 7


def test_depth_is_colourised_and_seg_uses_a_palette(single):
    store = TrajectoryStore.open(single)
    depth = episode_frames(store, 0, "maps/front/depth")
    assert depth.shape == (9, 16, 16, 3) and depth.dtype == np.uint8
    near, far = depth[0, 0, 0].astype(int), depth[0, 0, -1].astype(int)
    assert near[0] > near[2] and far[2] > far[0]  # near = warm (red), far = cool (blue)
    seg = episode_frames(store, 0, "maps/front/seg")
    np.testing.assert_array_equal(seg[0, 12, 0], [0, 0, 0])  # background black
    c1, c2 = seg[0, 0, 0], seg[0, 12, 14]
    assert c1.any() and c2.any() and not np.array_equal(c1, c2)
    edges = colourise(np.array([[[0, 255]]], np.uint8), "maps/front/edges")
    np.testing.assert_array_equal(edges[0, 0], [[0, 0, 0], [255, 255, 255]])


def test_contact_sheet_grid(single, tmp_path):
    out = contact_sheet(single, tmp_path / "sheet.png", frames=4)
    img = iio3.imread(out)
    assert img.shape == (2 * 16 + 6, 4 * 16 + 3 * 6, 3)
    assert img[0, 0, 0] == 200 and img[22, 0, 0] == 150  # row per episode
    np.testing.assert_array_equal(img[0, [0, 22, 44, 66], 1], [0, 30, 50, 80])  # rows 0, 3, 5, 8 of episode 0
    out = contact_sheet(single, tmp_path / "one.png", episodes=[1], frames=[0, 100])
    assert iio3.imread(out).shape == (16, 2 * 16 + 6, 3)


def test_clear_errors(single, tmp_path):
    with pytest.raises(ConfigError, match=r"episode 5 out of range.*2 episodes \(0..1\)"):
        export_episode(single, 5, tmp_path / "x.mp4")
    with pytest.raises(ConfigError, match=r"'nope' is not in the store.*viewable keys: \['maps/front/depth'"):
        export_episode(single, 0, tmp_path / "x.mp4", key="nope")
    with pytest.raises(ConfigError, match="'action' is not an image or map"):
        export_episode(single, 0, tmp_path / "x.gif", key="action")
    with pytest.raises(ConfigError, match=r"must end in \.mp4 or \.gif"):
        export_episode(single, 0, tmp_path / "x.avi")
    with pytest.raises(StoreNotFoundError, match="no trajectory store"):
        export_episode(tmp_path / "missing", 0, tmp_path / "x.mp4")
