"""Camera geometry and action checking shared by every env."""

import numpy as np
import pytest
from gymnasium import spaces

from cosmos_sim.envs.base import (
    CameraParams,
    GTConfig,
    GTEnvMixin,
    check_action,
    check_image_args,
    check_map_cameras,
    extrinsics_from_gl_pose,
    intrinsics_from_fovy,
    project,
)


def test_intrinsics_from_fovy():
    k = intrinsics_from_fovy(90.0, 64, 48)
    assert np.isclose(k[1, 1], 24.0) and np.isclose(k[0, 0], 24.0)  # f = (h/2) / tan(45 deg)
    assert np.allclose(k[:2, 2], [32, 24])


def test_projection_of_camera_looking_down():
    # OpenGL camera at height 2 looking down -z (identity rotation): world x is image right,
    # world y is image up, so a point at +y lands above the centre (smaller v).
    k = intrinsics_from_fovy(60.0, 64, 64)
    e = extrinsics_from_gl_pose(np.array([0.0, 0.0, 2.0]), np.eye(3))
    uvz = project(np.array([[0, 0, 0], [0.5, 0, 0], [0, 0.5, 0.5]]), k, e)
    assert np.allclose(uvz[0], [32, 32, 2.0])
    assert uvz[1, 0] > 32 and np.isclose(uvz[1, 1], 32) and np.isclose(uvz[1, 2], 2.0)
    assert uvz[2, 1] < 32 and np.isclose(uvz[2, 2], 1.5)
    assert np.isclose(uvz[1, 0] - 32, k[0, 0] * 0.5 / 2.0)


def test_check_action_messages():
    space = spaces.Box(-1, 1, (3,), np.float32)
    assert check_action(space, [0.5, -1, 1]).dtype == np.float32
    with pytest.raises(ValueError, match=r"shape \(2,\), expected \(3,\)"):
        check_action(space, [0, 0])
    with pytest.raises(ValueError, match="NaN"):
        check_action(space, [0, np.nan, 0])
    with pytest.raises(ValueError, match=r"outside the action space: element 1 is 1.5, expected \[-1, 1\]"):
        check_action(space, [0, 1.5, 0])
    with pytest.raises(ValueError, match=r"element 2 is -1.5, expected \[-1, 1\]"):
        check_action(space, [0, 0, -1.5])  # below low


def test_check_action_uses_each_elements_own_bounds():
    space = spaces.Box(np.array([0.0, -2.0], np.float32), np.array([1.0, -1.0], np.float32))
    assert np.allclose(check_action(space, [0.0, -2.0]), [0, -2])  # both bounds are inside
    with pytest.raises(ValueError, match=r"element 0 is -0.5, expected \[0, 1\]"):
        check_action(space, [-0.5, -1.5])  # inside the overall [-2, 1] but below element 0's low
    with pytest.raises(ValueError, match=r"element 1 is -0.5, expected \[-2, -1\]"):
        check_action(space, [0.5, -0.5])  # inside the overall range but above element 1's high


class _FakeScene(GTEnvMixin):
    """Engine stand-in: two cameras whose maps and calibration name the camera they belong to."""

    cameras = ("front", "top")

    def __init__(self, maps=(), render_mode="rgb_array", map_cameras=None):
        self.maps, self.render_mode = maps, render_mode
        self.map_cameras = check_map_cameras(map_cameras, self.cameras)

    def rgb(self, camera=None):
        return np.full((4, 5, 3), 7, dtype=np.uint8)

    def object_states(self):
        return {"box": {"pos": np.ones(3), "quat": np.array([1.0, 0, 0, 0]), "linvel": np.zeros(3)}}

    def camera_params(self, camera=None):
        return CameraParams(camera, np.eye(3) * len(camera), np.eye(4))

    def control_maps(self, camera=None, maps=None):
        return {m: np.full((4, 5), len(camera), dtype=np.float32) for m in self.maps}


def test_gt_mixin_info_render_and_default_hooks():
    env = _FakeScene()
    assert env._info({"score": 1}).keys() == {"objects", "score"}  # no maps: no cameras either
    assert env._reward() == (0.0, False, {}) and env._observation().shape == (4, 5, 3)
    assert env.render().shape == (4, 5, 3) and _FakeScene(render_mode=None).render() is None
    info = _FakeScene(maps=("depth",))._info({})
    assert info["objects"]["box"]["pos"].shape == (3,)
    assert info["cameras"]["top"]["intrinsics"][0, 0] == 3 and info["cameras"]["front"][
        "extrinsics"
    ].shape == (4, 4)
    assert set(info["maps"]) == {"front", "top"} and info["maps"]["front"]["depth"][0, 0] == 5
    info = _FakeScene(maps=("depth",), map_cameras=("top",))._info({})
    assert set(info["maps"]) == set(info["cameras"]) == {"top"} and info["maps"]["top"]["depth"][0, 0] == 3


def test_map_cameras_are_parsed_by_the_config_and_checked_against_the_scene():
    assert GTConfig().map_cameras is None and GTConfig(map_cameras="top, front").map_cameras == (
        "top",
        "front",
    )
    assert GTConfig(map_cameras=["front", "front"]).map_cameras == ("front",)
    for bad in ("", (), "front,"):
        with pytest.raises(ValueError, match="name at least one camera, or None for all"):
            GTConfig(map_cameras=bad)
    for bad in (3, ["front", 2]):
        with pytest.raises(ValueError, match="map_cameras must be camera names"):
            GTConfig(map_cameras=bad)
    assert check_map_cameras(None, ("a", "b")) == ("a", "b")
    with pytest.raises(
        ValueError, match=r"map_cameras \['side'\] not in this scene; its cameras are \['front', 'top'\]"
    ):
        _FakeScene(map_cameras=("front", "side"))


def test_check_image_args():
    check_image_args("rgb_array", 8, 8)
    check_image_args(None, 64, 32)
    with pytest.raises(ValueError, match="render_mode 'human' not supported"):
        check_image_args("human", 64, 64)
    with pytest.raises(ValueError, match="image size 4x64 too small"):
        check_image_args("rgb_array", 4, 64)
