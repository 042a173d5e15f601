"""Pieces every cosmos-sim env shares: action checking, pinhole camera geometry, and
``GTEnvMixin``, what the engine base classes (``MujocoGTEnv``, ``BulletGTEnv``) do alike.

Camera convention (all engines): intrinsics ``K`` is the 3x3 pinhole matrix in pixels with the
origin at the top-left pixel corner; extrinsics is the 4x4 world-to-camera transform in the
OpenCV frame (x right, y down, z forward). A world point ``p`` lands at pixel
``(u, v) = (K @ (E @ [p, 1])[:3])[:2] / z``. Depth maps are z-depth along the optical axis,
float32 metres.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

# OpenGL camera frame (x right, y up, looking down -z) to OpenCV (x right, y down, z forward).
GL_TO_CV = np.diag([1.0, -1.0, -1.0])


def check_action(space: spaces.Box, action) -> np.ndarray:
    """Return ``action`` as float32 or raise a ValueError saying what is wrong with it."""
    a = np.asarray(action, dtype=np.float64)
    if a.shape != space.shape:
        raise ValueError(f"action has shape {a.shape}, expected {space.shape} (action space {space})")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"action contains NaN or inf: {a}")
    lo, hi = space.low, space.high
    bad = np.flatnonzero((a < lo - 1e-6) | (a > hi + 1e-6))
    if len(bad):
        i = int(bad[0])
        raise ValueError(f"action {a} is outside the action space: element {i} is {a.flat[i]:g}, expected "
                         f"[{lo.flat[i]:g}, {hi.flat[i]:g}] ({len(bad)} element(s) out of range); clip it first")
    return a.astype(np.float32)


def intrinsics_from_fovy(fovy_deg: float, width: int, height: int) -> np.ndarray:
    """Pinhole K for a vertical field of view (square pixels, principal point at the centre)."""
    f = 0.5 * height / np.tan(np.deg2rad(fovy_deg) / 2)
    return np.array([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1]], dtype=np.float64)


def extrinsics_from_gl_pose(pos: np.ndarray, rot_gl: np.ndarray) -> np.ndarray:
    """World-to-camera 4x4 (OpenCV frame) from a camera position and its OpenGL-frame rotation."""
    r_cv = np.asarray(rot_gl, dtype=np.float64).reshape(3, 3) @ GL_TO_CV  # camera-to-world
    e = np.eye(4)
    e[:3, :3] = r_cv.T
    e[:3, 3] = -r_cv.T @ np.asarray(pos, dtype=np.float64)
    return e


def project(points: np.ndarray, intrinsics: np.ndarray, extrinsics: np.ndarray) -> np.ndarray:
    """Project Nx3 world points to Nx3 ``(u, v, z)``: pixel coordinates and z-depth in metres."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    cam = (extrinsics[:3, :3] @ p.T + extrinsics[:3, 3:4]).T
    uv = (intrinsics @ cam.T).T
    return np.column_stack([uv[:, 0] / uv[:, 2], uv[:, 1] / uv[:, 2], cam[:, 2]])


@dataclass(frozen=True)
class CameraParams:
    """One camera's calibration at one step."""

    name: str
    """Camera name (e.g. 'front', 'top')."""
    intrinsics: np.ndarray
    """3x3 pinhole matrix in pixels."""
    extrinsics: np.ndarray
    """4x4 world-to-camera transform, OpenCV frame."""

    def as_dict(self) -> dict:
        return {"intrinsics": self.intrinsics, "extrinsics": self.extrinsics}


def check_image_args(render_mode: str | None, width: int, height: int) -> None:
    """Raise a ValueError for a render mode or an image size that no GT env supports."""
    if render_mode not in (None, "rgb_array"):
        raise ValueError(f"render_mode {render_mode!r} not supported; use 'rgb_array' or None")
    if width < 8 or height < 8:
        raise ValueError(f"image size {width}x{height} too small; use at least 8x8")


class GTEnvMixin:
    """The engine-independent part of a GT base class: ``render``, the default ``_reward`` and
    ``_observation`` hooks, and ``info`` assembled from the engine's ``object_states()``,
    ``camera_params(camera)`` and ``control_maps(camera)``.

    ``info`` after ``reset`` and every ``step``:
        ``objects``  {name: {"pos": (3,), "quat": (4,) wxyz, "linvel": (3,)}}, always
        ``cameras``  {camera: {"intrinsics": 3x3, "extrinsics": 4x4 world-to-camera (OpenCV)}}
        ``maps``     {camera: {map: array}}; these two only when ``maps`` is not empty
    plus the ``extra`` dict of ``_reward``.

    The base class sets ``cameras``, ``maps`` and ``render_mode``, and implements ``rgb``.
    """

    cameras: tuple[str, ...]
    maps: tuple[str, ...]
    render_mode: str | None

    def render(self):
        if self.render_mode is None:
            return None
        return self.rgb()

    def _reward(self) -> tuple[float, bool, dict[str, Any]]:
        """(reward, terminated, extra info) at the current state."""
        return 0.0, False, {}

    def _observation(self) -> Any:
        """The observation; default: the main camera's RGB."""
        return self.rgb()

    def _info(self, extra: dict[str, Any]) -> dict[str, Any]:
        info: dict[str, Any] = {"objects": self.object_states(), **extra}
        if self.maps:
            info["cameras"] = {c: self.camera_params(c).as_dict() for c in self.cameras}
            info["maps"] = {c: self.control_maps(c) for c in self.cameras}
        return info
