"""Pieces every cosmos-sim env shares: action checking and pinhole camera geometry.

Camera convention (all engines): intrinsics ``K`` is the 3x3 pinhole matrix in pixels with the
origin at the top-left pixel corner; extrinsics is the 4x4 world-to-camera transform in the
OpenCV frame (x right, y down, z forward). A world point ``p`` lands at pixel
``(u, v) = (K @ (E @ [p, 1])[:3])[:2] / z``. Depth maps are z-depth along the optical axis,
float32 metres.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    if np.any(a < lo - 1e-6) or np.any(a > hi + 1e-6):
        raise ValueError(f"action {a} is outside the action space [{lo.min()}, {hi.max()}]; clip it first")
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
