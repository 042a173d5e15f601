"""Camera geometry and action checking shared by every env."""

import numpy as np
import pytest
from gymnasium import spaces

from cosmos_sim.envs.base import check_action, extrinsics_from_gl_pose, intrinsics_from_fovy, project


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
    with pytest.raises(ValueError, match="outside the action space"):
        check_action(space, [0, 1.5, 0])
