"""Pieces every cosmos-sim env shares: action checking, pinhole camera geometry, options, and
``GTEnvMixin``, what the engine base classes (``MujocoGTEnv``, ``BulletGTEnv``) do alike.

Options (every registered env takes them one way): ``Env(config=None, *, render_mode=..., **overrides)``.
``config`` is the env's frozen, validated config dataclass (its class is the env's ``config_class``;
default: that class's defaults, which are the registered id's); ``overrides`` are field names of it,
applied on top (``gym.make(id, width=128, maps="depth")``); an unknown name is a ``ValueError``
naming it and the valid options (``resolve_config``). The result is ``env.config``. GT configs
subclass ``GTConfig`` (image size and control maps).

Camera convention (all engines): intrinsics ``K`` is the 3x3 pinhole matrix in pixels with the
origin at the top-left pixel corner; extrinsics is the 4x4 world-to-camera transform in the
OpenCV frame (x right, y down, z forward). A world point ``p`` lands at pixel
``(u, v) = (K @ (E @ [p, 1])[:3])[:2] / z``. Depth maps are z-depth along the optical axis,
float32 metres.
"""

from __future__ import annotations

import dataclasses
import difflib
import numbers
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from gymnasium import spaces

from cosmos_sim.envs.control_maps import parse_maps

C = TypeVar("C")

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
        raise ValueError(
            f"action {a} is outside the action space: element {i} is {a.flat[i]:g}, expected "
            f"[{lo.flat[i]:g}, {hi.flat[i]:g}] ({len(bad)} element(s) out of range); clip it first"
        )
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


@dataclass(frozen=True)
class GTConfig:
    """What every GT scene's config has: image size and the control maps put in ``info``."""

    width: int = 64
    """Image width in pixels (of each camera), at least 8."""
    height: int = 64
    """Image height in pixels (of each camera), at least 8."""
    maps: str | tuple[str, ...] | None = None
    """Control maps put in ``info`` every step: a subset of depth, seg, edges, blur, as "depth,seg" or
    a sequence; stored as a tuple (empty: none, the default)."""
    map_cameras: str | tuple[str, ...] | None = None
    """Cameras whose maps and calibration go in ``info``, as "front" or a sequence (None: every camera of
    the scene). Each camera's depth/seg costs a render pass: name only the ones you use."""

    def __post_init__(self):
        for name in ("width", "height"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise ValueError(f"{name} must be an int (pixels), got {value!r}")
            object.__setattr__(self, name, int(value))
        if self.width < 8 or self.height < 8:
            raise ValueError(f"image size {self.width}x{self.height} too small; use at least 8x8")
        object.__setattr__(self, "maps", parse_maps(self.maps))
        if self.map_cameras is not None:
            names = self.map_cameras.split(",") if isinstance(self.map_cameras, str) else self.map_cameras
            if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
                raise ValueError(
                    f"map_cameras must be camera names ('front', 'front,top' or a list), got {names!r}"
                )
            object.__setattr__(self, "map_cameras", tuple(dict.fromkeys(n.strip() for n in names)))
            if not self.map_cameras or "" in self.map_cameras:
                raise ValueError(
                    f"map_cameras {self.map_cameras!r}: name at least one camera, or None for all"
                )


def resolve_config(
    env: Any, config: C | None, overrides: dict[str, Any], others: tuple[str, ...] = ("config", "render_mode")
) -> C:
    """``config`` (default: ``type(env).config_class()``) with ``overrides`` (field name -> value) applied.

    The one way every registered env takes its options. An override that is not a field of the
    config class is a ValueError naming it, the valid options and the fix (a close spelling, or
    ``config=``); a ``config`` of another class is a ValueError too. The config class validates the
    values. ``others``: the env's constructor arguments besides the overrides (named in the error).
    """
    cls = type(env).config_class
    env_name = type(env).__name__
    if config is not None and not isinstance(config, cls):
        raise ValueError(
            f"{env_name}: config must be a {cls.__name__}, got {type(config).__name__}; "
            f"build it with {cls.__name__}(...) or pass its fields as keyword options"
        )
    fields = [f.name for f in dataclasses.fields(cls) if f.init]
    unknown = [k for k in overrides if k not in fields]
    if unknown:
        hints = [
            f"{close[0]}= for {k}="
            for k in unknown
            if (close := difflib.get_close_matches(k, fields, n=1, cutoff=0.7))
        ]
        fix = f"did you mean {', '.join(hints)}? Otherwise " if hints else ""
        raise ValueError(
            f"{env_name} got unknown option(s) {unknown}. Valid options: the {cls.__name__} fields "
            f"{', '.join(fields)}, plus {', '.join(f'{o}=' for o in others)}. Fix: {fix}drop the unknown "
            f"option(s) or spell them as one of these (e.g. gym.make(id, {fields[0]}=...)); several "
            f"settings at once: config={cls.__name__}(...)"
        )
    return dataclasses.replace(config if config is not None else cls(), **overrides)


def check_map_cameras(map_cameras: tuple[str, ...] | None, cameras: tuple[str, ...]) -> tuple[str, ...]:
    """The cameras whose maps go in ``info`` (``None``: all of ``cameras``), refusing names the scene lacks."""
    if map_cameras is None:
        return tuple(cameras)
    unknown = [c for c in map_cameras if c not in cameras]
    if unknown:
        raise ValueError(f"map_cameras {list(unknown)} not in this scene; its cameras are {list(cameras)}")
    return tuple(map_cameras)


class GTEnvMixin:
    """The engine-independent part of a GT base class: ``render``, the default ``_reward`` and
    ``_observation`` hooks, and ``info`` assembled from the engine's ``object_states()``,
    ``camera_params(camera)`` and ``control_maps(camera)``.

    ``info`` after ``reset`` and every ``step``:
        ``objects``  {name: {"pos": (3,), "quat": (4,) wxyz, "linvel": (3,)}}, always
        ``cameras``  {camera: {"intrinsics": 3x3, "extrinsics": 4x4 world-to-camera (OpenCV)}}
        ``maps``     {camera: {map: array}}; these two only when ``maps`` is not empty, for the
                     ``map_cameras`` (default: every camera)
    plus the ``extra`` dict of ``_reward``.

    The base class sets ``cameras``, ``map_cameras`` (those of ``info``), ``maps`` and ``render_mode``,
    and implements ``rgb``.
    """

    cameras: tuple[str, ...]
    map_cameras: tuple[str, ...]
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
            info["cameras"] = {c: self.camera_params(c).as_dict() for c in self.map_cameras}
            info["maps"] = {c: self.control_maps(c) for c in self.map_cameras}
        return info
