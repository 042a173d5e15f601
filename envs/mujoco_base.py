"""Base class of the MuJoCo ground-truth scenes: physics stepping, cameras and control maps.

A subclass supplies an MJCF string and four hooks (``_reset_scene``, ``_apply_action``,
``_reward``, ``_observation``); this class does the rest the same way for every scene:
seeding, action checking, frame skipping, RGB/depth/segmentation rendering (shadows off: the
shadow pass costs ~25 ms a frame on llvmpipe), camera calibration and object poses in ``info``.
``render``, the default hooks and the assembly of ``info`` are ``base.GTEnvMixin``'s, shared with
the PyBullet base.

``info`` after ``reset`` and every ``step``:
    ``objects``  {name: {"pos": (3,), "quat": (4,) wxyz, "linvel": (3,)}} for every named body
    ``cameras``  {camera: {"intrinsics": 3x3, "extrinsics": 4x4 world-to-camera (OpenCV)}}
    ``maps``     {camera: {map: array}} for the maps chosen with ``maps=`` (empty by default):
                 depth float32 metres (z-depth), seg int32 instance ids (see
                 ``segmentation_labels``; 0 is background), edges uint8, blur uint8 HxWx3.
"""

from __future__ import annotations

import gymnasium as gym
import mujoco
import numpy as np

from cosmos_sim.envs.base import (
    CameraParams,
    GTEnvMixin,
    check_action,
    check_image_args,
    extrinsics_from_gl_pose,
    intrinsics_from_fovy,
)
from cosmos_sim.envs.control_maps import derived_maps, parse_maps


class MujocoGTEnv(GTEnvMixin, gym.Env):
    """A seeded MuJoCo scene rendered from named cameras, with control maps on demand."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}

    def __init__(
        self,
        xml: str,
        cameras: tuple[str, ...],
        instances: tuple[str, ...],
        width: int = 64,
        height: int = 64,
        frame_skip: int = 1,
        maps: str | tuple[str, ...] | None = None,
        render_mode: str | None = "rgb_array",
    ):
        """
        Args:
            xml: the scene's MJCF.
            cameras: camera names; the first is the observation/render camera.
            instances: names of bodies (with their subtree) or geoms that get their own
                segmentation id, 1, 2, ... in this order; every other geom is background (0).
            width, height: image size in pixels.
            frame_skip: physics steps per env step.
            maps: control maps to put in ``info`` each step (subset of depth, seg, edges, blur).
            render_mode: only "rgb_array" (or None).
        """
        check_image_args(render_mode, width, height)
        self.render_mode = render_mode
        self.width, self.height, self.frame_skip = int(width), int(height), int(frame_skip)
        self.maps = parse_maps(maps)
        self.model = mujoco.MjModel.from_xml_string(xml)
        self.model.vis.quality.shadowsize = 0
        self.model.vis.global_.offwidth = max(self.model.vis.global_.offwidth, self.width)
        self.model.vis.global_.offheight = max(self.model.vis.global_.offheight, self.height)
        self.data = mujoco.MjData(self.model)
        self.cameras = tuple(cameras)
        for cam in self.cameras:
            if mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_CAMERA, cam) < 0:
                raise ValueError(f"camera {cam!r} not in the scene")
        self.segmentation_labels: dict[int, str] = {0: "background"}
        self._geom_instance = self._instance_table(instances)
        self._renderer: mujoco.Renderer | None = None
        self._frame: np.ndarray | None = None  # RGB of the main camera at the current state

    # ---- hooks -------------------------------------------------------------------------------
    def _reset_scene(self, rng: np.random.Generator, options: dict | None) -> None:
        """Set qpos/qvel (and anything else) for a new episode from ``rng``."""
        raise NotImplementedError

    def _apply_action(self, action: np.ndarray) -> None:
        """Write a checked action into ``self.data`` (ctrl, mocap, ...)."""

    # ---- gymnasium API -----------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        mujoco.mj_resetData(self.model, self.data)
        self._reset_scene(self.np_random, options)
        mujoco.mj_forward(self.model, self.data)
        self._frame = None
        return self._observation(), self._info({})

    def step(self, action):
        action = check_action(self.action_space, action)
        self._apply_action(action)
        mujoco.mj_step(self.model, self.data, nstep=self.frame_skip)
        self._frame = None
        reward, terminated, extra = self._reward()
        return self._observation(), float(reward), bool(terminated), False, self._info(extra)

    def close(self):
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    # ---- rendering, cameras, objects ---------------------------------------------------------
    def rgb(self, camera: str | None = None) -> np.ndarray:
        """HxWx3 uint8 RGB from ``camera`` (default: the main camera) at the current state."""
        camera = camera or self.cameras[0]
        if camera == self.cameras[0] and self._frame is not None:
            return self._frame
        r = self._get_renderer()
        r.update_scene(self.data, camera)
        frame = r.render().copy()
        if camera == self.cameras[0]:
            self._frame = frame
        return frame

    def control_maps(self, camera: str | None = None, maps: tuple[str, ...] | str | None = None) -> dict:
        """Control maps of ``camera`` at the current state (default: the env's ``maps``)."""
        camera = camera or self.cameras[0]
        maps = parse_maps(maps) if maps is not None else self.maps
        out: dict[str, np.ndarray] = {}
        r = self._get_renderer()
        if "depth" in maps or "seg" in maps:
            r.update_scene(self.data, camera)
            if "depth" in maps:
                r.enable_depth_rendering()
                out["depth"] = r.render().astype(np.float32)
                r.disable_depth_rendering()
            if "seg" in maps:
                r.enable_segmentation_rendering()
                raw = r.render()
                r.disable_segmentation_rendering()
                out["seg"] = self._instances_from_raw(raw)
        if "edges" in maps or "blur" in maps:  # RGB-derived; skip the colour pass otherwise
            out.update(derived_maps(self.rgb(camera), maps))
        return out

    def camera_params(self, camera: str | None = None) -> CameraParams:
        """Intrinsics and extrinsics of ``camera`` at the current state."""
        camera = camera or self.cameras[0]
        cid = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_CAMERA, camera)
        k = intrinsics_from_fovy(float(self.model.cam_fovy[cid]), self.width, self.height)
        e = extrinsics_from_gl_pose(self.data.cam_xpos[cid], self.data.cam_xmat[cid])
        return CameraParams(camera, k, e)

    def object_states(self) -> dict[str, dict[str, np.ndarray]]:
        """Pose and linear velocity of every instance that is a body."""
        out = {}
        for name in self.segmentation_labels.values():
            bid = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_BODY, name)
            if bid < 0:
                continue
            vel = np.zeros(6)
            mujoco.mj_objectVelocity(self.model, self.data, mujoco.mjtObj.mjOBJ_BODY, bid, vel, 0)
            out[name] = {
                "pos": self.data.xpos[bid].copy(),
                "quat": self.data.xquat[bid].copy(),
                "linvel": vel[3:].copy(),
            }
        return out

    # ---- internals ---------------------------------------------------------------------------
    def _get_renderer(self) -> mujoco.Renderer:
        if self._renderer is None:
            self._renderer = mujoco.Renderer(self.model, self.height, self.width)
        return self._renderer

    def _instance_table(self, instances: tuple[str, ...]) -> np.ndarray:
        """geom id -> instance id (0 = background)."""
        m = self.model
        table = np.zeros(m.ngeom + 1, dtype=np.int32)  # last slot: "no geom" pixels
        for iid, name in enumerate(instances, start=1):
            self.segmentation_labels[iid] = name
            bid = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, name)
            gid = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, name)
            if bid >= 0:
                for g in range(m.ngeom):
                    b = int(m.geom_bodyid[g])
                    while b != 0 and b != bid:
                        b = int(m.body_parentid[b])
                    if b == bid and bid != 0:
                        table[g] = iid
            elif gid >= 0:
                table[gid] = iid
            else:
                raise ValueError(f"segmentation instance {name!r} is neither a body nor a geom")
        return table

    def _instances_from_raw(self, raw: np.ndarray) -> np.ndarray:
        objid, objtype = raw[..., 0], raw[..., 1]
        is_geom = (objtype == int(mujoco.mjtObj.mjOBJ_GEOM)) & (objid >= 0)
        idx = np.where(is_geom, objid, self.model.ngeom)
        return self._geom_instance[idx].astype(np.int32)
