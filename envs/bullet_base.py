"""Base class of the PyBullet ground-truth scenes: own physics client, cameras and control maps.

The PyBullet counterpart of ``mujoco_base.MujocoGTEnv``. A subclass supplies the scene and a few
hooks (``_build_scene``, ``_apply_action``, ``_reward``, ``_observation``, ``_camera_pose``);
this class does the rest the same way for every PyBullet scene:

* every env owns a ``BulletClient`` in DIRECT mode (never the global client), so many envs
  live in one process; ``close()`` disconnects it;
* ``reset`` calls ``resetSimulation`` and rebuilds the whole scene, so an episode depends on
  its seed only (body ids restart at 0, no solver warm-start survives);
* cameras render with ``ER_TINY_RENDERER`` (CPU, no GL), shadows off, from view/projection
  matrices built here from the pinhole intrinsics, so ``K`` is exact; one render per camera
  and state gives RGB, depth and segmentation together (cached until the next step);
* depth buffer -> metric z-depth with the camera's near/far; segmentation (body uid per
  pixel) -> instance ids named in ``segmentation_labels``; background pixels (nothing hit)
  are painted with ``background_rgb`` (a sky colour) instead of TinyRenderer's white.

``render``, the default hooks and the assembly of ``info`` are ``base.GTEnvMixin``'s, as in the
MuJoCo base. ``info`` after ``reset`` and every ``step``:
    ``objects``  {name: {"pos": (3,), "quat": (4,) wxyz, "linvel": (3,)}} for tracked instances
    ``cameras``  {camera: {"intrinsics": 3x3, "extrinsics": 4x4 world-to-camera (OpenCV)}}
    ``maps``     {camera: {map: array}} for the maps chosen with ``maps=`` (empty by default):
                 depth float32 metres (z-depth), seg int32 instance ids (0 is background),
                 edges uint8, blur uint8 HxWx3.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import pybullet
from pybullet_utils.bullet_client import BulletClient

from cosmos_sim.envs.base import (
    CameraParams,
    GTEnvMixin,
    check_action,
    check_image_args,
    check_map_cameras,
    intrinsics_from_fovy,
)
from cosmos_sim.envs.control_maps import derived_maps, parse_maps


@dataclass(frozen=True)
class BulletCamera:
    """A pinhole camera of a PyBullet scene (its pose comes from the env's ``_camera_pose``)."""

    name: str
    """Camera name (e.g. 'front')."""
    fovy_deg: float = 60.0
    """Vertical field of view in degrees (square pixels, so horizontal = vertical for square images)."""
    near: float = 0.05
    """Near clipping plane in metres."""
    far: float = 50.0
    """Far clipping plane in metres; pixels with nothing closer read as ``far`` in depth."""


@dataclass(frozen=True)
class BulletLight:
    """TinyRenderer lighting (directional, no shadows)."""

    direction: tuple[float, float, float] = (0.4, 0.3, 1.0)
    """Direction towards the light, world frame."""
    ambient: float = 0.6
    """Ambient coefficient."""
    diffuse: float = 0.5
    """Diffuse coefficient."""
    specular: float = 0.05
    """Specular coefficient."""


def look_at_rotation(eye, target, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """Camera-to-world rotation (OpenCV frame: x right, y down, z forward) looking from eye at target."""
    z = np.asarray(target, dtype=np.float64) - np.asarray(eye, dtype=np.float64)
    z /= np.linalg.norm(z)
    x = np.cross(z, np.asarray(up, dtype=np.float64))
    if np.linalg.norm(x) < 1e-9:  # looking along `up`: any perpendicular x will do
        x = np.cross(z, [1.0, 0.0, 0.0]) if abs(z[0]) < 0.9 else np.cross(z, [0.0, 1.0, 0.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    return np.column_stack([x, y, z])


def yaw_pitch_rotation(yaw: float, pitch: float) -> np.ndarray:
    """Camera-to-world rotation (OpenCV) for a camera looking along heading ``yaw`` (rad, from +x
    towards +y), tilted down by ``pitch`` (rad), with no roll."""
    cy, sy, cp, sp = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch)
    forward = np.array([cy * cp, sy * cp, -sp])
    right = np.array([sy, -cy, 0.0])
    down = np.cross(forward, right)
    return np.column_stack([right, down, forward])


def projection_matrix_gl(
    intrinsics: np.ndarray, width: int, height: int, near: float, far: float
) -> list[float]:
    """OpenGL projection matrix (column-major, as PyBullet wants it) for pinhole ``intrinsics``."""
    fx, fy, cx, cy = intrinsics[0, 0], intrinsics[1, 1], intrinsics[0, 2], intrinsics[1, 2]
    m = np.zeros((4, 4))
    m[0, 0] = 2 * fx / width
    m[1, 1] = 2 * fy / height
    m[0, 2] = 1 - 2 * cx / width
    m[1, 2] = 2 * cy / height - 1
    m[2, 2] = -(far + near) / (far - near)
    m[2, 3] = -2 * far * near / (far - near)
    m[3, 2] = -1.0
    return m.flatten(order="F").tolist()


def view_matrix_gl(extrinsics: np.ndarray) -> list[float]:
    """OpenGL view matrix (column-major) from a world-to-camera OpenCV extrinsics."""
    return (np.diag([1.0, -1.0, -1.0, 1.0]) @ extrinsics).flatten(order="F").tolist()


def depth_from_buffer(buf: np.ndarray, near: float, far: float) -> np.ndarray:
    """Metric z-depth (float32 metres) from an OpenGL depth buffer in [0, 1]."""
    buf = np.asarray(buf, dtype=np.float64)
    return (far * near / (far - (far - near) * buf)).astype(np.float32)


@contextmanager
def _quiet_stdout():
    """Silence C-level writes to stdout (file descriptor 1) for the duration."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # no real stdout (e.g. captured by a notebook)
        yield
        return
    sys.stdout.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), fd)
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


def quat_xyzw_to_wxyz(q) -> np.ndarray:
    """PyBullet's (x, y, z, w) quaternion as (w, x, y, z)."""
    return np.array([q[3], q[0], q[1], q[2]], dtype=np.float64)


class BulletGTEnv(GTEnvMixin, gym.Env):
    """A seeded PyBullet scene rendered from named cameras, with control maps on demand."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(
        self,
        cameras: tuple[BulletCamera, ...],
        width: int = 64,
        height: int = 64,
        maps: str | tuple[str, ...] | None = None,
        render_mode: str | None = "rgb_array",
        light: BulletLight = BulletLight(),
        background_rgb: tuple[int, int, int] | None = (150, 190, 235),
        map_cameras: tuple[str, ...] | None = None,
    ):
        """
        Args:
            cameras: the scene's cameras; the first is the main observation/render camera.
            width, height: image size in pixels.
            maps: control maps to put in ``info`` each step (subset of depth, seg, edges, blur).
            render_mode: only "rgb_array" (or None).
            light: TinyRenderer lighting.
            background_rgb: colour of pixels where no body is hit (None keeps TinyRenderer's white).
            map_cameras: the cameras whose maps go in ``info`` (None: all).
        """
        check_image_args(render_mode, width, height)
        names = [c.name for c in cameras]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"cameras must be a non-empty list of unique names, got {names}")
        self.render_mode = render_mode
        self.width, self.height = int(width), int(height)
        self.maps = parse_maps(maps)
        self.light = light
        self.background_rgb = background_rgb
        self._camera_specs = {c.name: c for c in cameras}
        self.cameras = tuple(names)
        self.map_cameras = check_map_cameras(map_cameras, self.cameras)
        self._intrinsics = {
            c.name: intrinsics_from_fovy(c.fovy_deg, self.width, self.height) for c in cameras
        }
        # TinyRenderer samples pixel (i, j) at (u, v) = (i, j + 1) instead of the centre
        # (i + 0.5, j + 0.5) that K assumes (measured against projected box edges); shifting the
        # principal point half a pixel for rendering makes the images match K exactly.
        render_k = {
            n: k + np.array([[0, 0, -0.5], [0, 0, 0.5], [0, 0, 0]]) for n, k in self._intrinsics.items()
        }
        self._projection = {
            c.name: projection_matrix_gl(render_k[c.name], self.width, self.height, c.near, c.far)
            for c in cameras
        }
        with _quiet_stdout():  # PyBullet's C code prints "argv[0]=" on every connect
            self.client: BulletClient | None = BulletClient(connection_mode=pybullet.DIRECT)
        self.segmentation_labels: dict[int, str] = {0: "background"}
        self._uid_instance = np.zeros(1, dtype=np.int32)  # body uid -> instance id
        self._tracked: dict[str, int] = {}  # name -> body uid, reported in info["objects"]
        self._views: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    # ---- hooks -------------------------------------------------------------------------------
    def _build_scene(self, rng: np.random.Generator, options: dict | None) -> None:
        """Load every body for a new episode (the simulation is empty) and register instances."""
        raise NotImplementedError

    def _apply_action(self, action: np.ndarray) -> None:
        """Advance the scene by one env step under a checked action (set targets, step physics)."""
        raise NotImplementedError

    def _camera_pose(self, camera: str) -> tuple[np.ndarray, np.ndarray]:
        """(position (3,), camera-to-world rotation 3x3 in the OpenCV frame) of ``camera`` now."""
        raise NotImplementedError

    def _linvel(self, name: str, uid: int) -> np.ndarray:
        """Linear velocity of a tracked body (override for kinematically moved bodies)."""
        return np.asarray(self.client.getBaseVelocity(uid)[0], dtype=np.float64)

    # ---- gymnasium API -----------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._require_open()
        self.client.resetSimulation()
        self.segmentation_labels = {0: "background"}
        self._uid_instance = np.zeros(1, dtype=np.int32)
        self._tracked = {}
        self._build_scene(self.np_random, options)
        self._views = {}
        return self._observation(), self._info({})

    def step(self, action):
        action = check_action(self.action_space, action)
        self._require_open()
        self._apply_action(action)
        self._views = {}
        reward, terminated, extra = self._reward()
        return self._observation(), float(reward), bool(terminated), False, self._info(extra)

    def close(self):
        if self.client is not None:
            self.client.disconnect()
            self.client = None

    # ---- scene building helpers for subclasses -----------------------------------------------
    def _add_instance(self, name: str, uid: int, track: bool = False) -> int:
        """Map body ``uid`` to the segmentation id named ``name`` (new id for a new name; bodies
        added under an existing name share its id, e.g. all road tiles). ``track`` reports the
        body in ``info["objects"]``; only a body that opens a new name can be tracked."""
        ids = {n: i for i, n in self.segmentation_labels.items()}
        if name in ids and track:
            raise ValueError(
                f"tracked instance {name!r} already registered; give each tracked body its own name"
            )
        iid = ids.get(name, len(self.segmentation_labels))
        self.segmentation_labels[iid] = name
        if uid >= len(self._uid_instance):
            self._uid_instance = np.pad(self._uid_instance, (0, uid + 1 - len(self._uid_instance)))
        self._uid_instance[uid] = iid
        if track:
            self._tracked[name] = uid
        return iid

    def _box(self, half_extents, pos, rgba, mass: float = 0.0, collide: bool = True, yaw: float = 0.0) -> int:
        """A box body (static when ``mass`` is 0; visual only when not ``collide``)."""
        c = self.client
        vis = c.createVisualShape(pybullet.GEOM_BOX, halfExtents=list(half_extents), rgbaColor=list(rgba))
        col = c.createCollisionShape(pybullet.GEOM_BOX, halfExtents=list(half_extents)) if collide else -1
        return c.createMultiBody(
            mass, col, vis, basePosition=list(pos), baseOrientation=c.getQuaternionFromEuler([0.0, 0.0, yaw])
        )

    def _flat_rects(self, rects, rgba) -> int:
        """Visual shape of axis-aligned rectangles ``(x0, y0, x1, y1)`` in the z = 0 plane, facing
        up: two triangles each, where a thin box costs TinyRenderer twelve (lane markings)."""
        verts, idx = [], []
        for x0, y0, x1, y1 in rects:
            n = len(verts)
            verts += [[x0, y0, 0.0], [x1, y0, 0.0], [x1, y1, 0.0], [x0, y1, 0.0]]
            idx += [n, n + 1, n + 2, n, n + 2, n + 3]
        return self.client.createVisualShape(
            pybullet.GEOM_MESH,
            vertices=verts,
            indices=idx,
            normals=[[0.0, 0.0, 1.0]] * len(verts),
            rgbaColor=list(rgba),
        )

    # ---- rendering, cameras, objects ---------------------------------------------------------
    def rgb(self, camera: str | None = None) -> np.ndarray:
        """HxWx3 uint8 RGB from ``camera`` (default: the main camera) at the current state."""
        return self._view(camera or self.cameras[0])[0]

    def control_maps(self, camera: str | None = None, maps: tuple[str, ...] | str | None = None) -> dict:
        """Control maps of ``camera`` at the current state (default: the env's ``maps``)."""
        camera = camera or self.cameras[0]
        maps = parse_maps(maps) if maps is not None else self.maps
        rgb, depth, seg = self._view(camera)
        out: dict[str, np.ndarray] = {}
        if "depth" in maps:
            out["depth"] = depth.copy()
        if "seg" in maps:
            out["seg"] = seg.copy()
        out.update(derived_maps(rgb, maps))
        return out

    def camera_params(self, camera: str | None = None) -> CameraParams:
        """Intrinsics and extrinsics of ``camera`` at the current state."""
        camera = camera or self.cameras[0]
        if camera not in self._camera_specs:
            raise ValueError(f"camera {camera!r} not in the scene; choose from {list(self.cameras)}")
        pos, rot = self._camera_pose(camera)
        e = np.eye(4)
        e[:3, :3] = rot.T
        e[:3, 3] = -rot.T @ np.asarray(pos, dtype=np.float64)
        return CameraParams(camera, self._intrinsics[camera].copy(), e)

    def object_states(self) -> dict[str, dict[str, np.ndarray]]:
        """Pose and linear velocity of every tracked instance."""
        out = {}
        for name, uid in self._tracked.items():
            pos, quat = self.client.getBasePositionAndOrientation(uid)
            out[name] = {
                "pos": np.asarray(pos, dtype=np.float64),
                "quat": quat_xyzw_to_wxyz(quat),
                "linvel": self._linvel(name, uid),
            }
        return out

    # ---- internals ---------------------------------------------------------------------------
    def _require_open(self) -> None:
        if self.client is None:
            raise RuntimeError("env is closed; make a new one")

    def _view(self, camera: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rgb, depth, seg) of ``camera`` at the current state, rendered once and cached."""
        if camera in self._views:
            return self._views[camera]
        self._require_open()
        spec = self._camera_specs.get(camera)
        if spec is None:
            raise ValueError(f"camera {camera!r} not in the scene; choose from {list(self.cameras)}")
        light = self.light
        _, _, rgba, buf, raw = self.client.getCameraImage(
            self.width,
            self.height,
            viewMatrix=view_matrix_gl(self.camera_params(camera).extrinsics),
            projectionMatrix=self._projection[camera],
            lightDirection=list(light.direction),
            shadow=0,
            lightAmbientCoeff=light.ambient,
            lightDiffuseCoeff=light.diffuse,
            lightSpecularCoeff=light.specular,
            renderer=pybullet.ER_TINY_RENDERER,
        )
        rgb = np.asarray(rgba, dtype=np.uint8).reshape(self.height, self.width, 4)[..., :3].copy()
        raw = np.asarray(raw, dtype=np.int64).reshape(self.height, self.width)
        if self.background_rgb is not None:
            rgb[raw < 0] = self.background_rgb
        depth = depth_from_buffer(np.reshape(buf, (self.height, self.width)), spec.near, spec.far)
        idx = np.where((raw >= 0) & (raw < len(self._uid_instance)), raw, 0)
        seg = np.where(raw >= 0, self._uid_instance[idx], 0).astype(np.int32)
        self._views[camera] = (rgb, depth, seg)
        return self._views[camera]
