"""Base class of the MuJoCo ground-truth scenes: physics stepping, cameras and control maps.

A subclass supplies an MJCF string and four hooks (``_reset_scene``, ``_apply_action``,
``_reward``, ``_observation``); this class does the rest the same way for every scene:
seeding, action checking, frame skipping, RGB/depth/segmentation rendering (shadows off: the
shadow pass costs ~25 ms a frame on llvmpipe), camera calibration and object poses in ``info``.
``render``, the default hooks and the assembly of ``info`` are ``base.GTEnvMixin``'s, shared with
the PyBullet base.

Rendering (``SceneRenderer``, MuJoCo's low-level API): a camera's RGB is one normal render; its depth
and segmentation come from ONE render with MuJoCo's segmentation flags, whose colour buffer holds the
geom ids and whose depth buffer the depth (``mujoco.Renderer`` renders that same pass twice, once per
map, and also depth in segmentation mode). Depth cannot come from the RGB render instead: the normal
pass multisamples (the physics scenes), draws transparent geoms without depth writes and adds
reflections, so its depth buffer differs (in every pixel of the physics scenes). The pixels, depth and
ids are bit-identical to ``mujoco.Renderer``'s (``tests/envs/test_mujoco_render.py``). With depth+seg a
step renders 1 + (number of cameras) passes instead of 1 + 2 x cameras.

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
    check_map_cameras,
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
        assets: dict[str, bytes] | None = None,
        map_cameras: tuple[str, ...] | None = None,
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
            assets: in-memory files the MJCF names (e.g. textures: ``{"brick.png": bytes}``).
            map_cameras: the cameras whose maps go in ``info`` (None: all).
        """
        check_image_args(render_mode, width, height)
        self.render_mode = render_mode
        self.width, self.height, self.frame_skip = int(width), int(height), int(frame_skip)
        self.maps = parse_maps(maps)
        self.model = mujoco.MjModel.from_xml_string(xml, assets or {})
        self.model.vis.quality.shadowsize = 0
        self.model.vis.global_.offwidth = max(self.model.vis.global_.offwidth, self.width)
        self.model.vis.global_.offheight = max(self.model.vis.global_.offheight, self.height)
        self.data = mujoco.MjData(self.model)
        self.cameras = tuple(cameras)
        for cam in self.cameras:
            if mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_CAMERA, cam) < 0:
                raise ValueError(f"camera {cam!r} not in the scene")
        self.map_cameras = check_map_cameras(map_cameras, self.cameras)
        self.segmentation_labels: dict[int, str] = {0: "background"}
        self._geom_instance = self._instance_table(instances)
        self._renderer: SceneRenderer | None = None
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
        frame = r.rgb()
        if camera == self.cameras[0]:
            self._frame = frame
        return frame

    def control_maps(self, camera: str | None = None, maps: tuple[str, ...] | str | None = None) -> dict:
        """Control maps of ``camera`` at the current state (default: the env's ``maps``)."""
        camera = camera or self.cameras[0]
        maps = parse_maps(maps) if maps is not None else self.maps
        out: dict[str, np.ndarray] = {}
        r = self._get_renderer()
        if "depth" in maps or "seg" in maps:  # one segmentation-mode render gives both
            r.update_scene(self.data, camera)
            depth, geom_ids = r.depth_and_geom_ids(depth="depth" in maps, seg="seg" in maps)
            if depth is not None:
                out["depth"] = depth
            if geom_ids is not None:
                out["seg"] = self._geom_instance[geom_ids]  # -1 (no geom) reads the last slot: 0
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
    def _get_renderer(self) -> SceneRenderer:
        if self._renderer is None:
            self._renderer = SceneRenderer(self.model, self.height, self.width)
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


class SceneRenderer:
    """Offscreen renders of one MuJoCo model at one image size: RGB, and depth plus geom ids from one pass.

    The same GL context, ``MjrContext`` settings, scene and post-processing as ``mujoco.Renderer`` (so
    the same pixels), with one difference: ``depth_and_geom_ids`` reads the colour (segment ids) and
    the depth buffer of ONE segmentation-mode render, where ``mujoco.Renderer`` renders that pass once
    for depth and again for segmentation. ``update_scene(data, camera)`` first, then ``rgb()`` or
    ``depth_and_geom_ids()``.
    """

    def __init__(self, model: mujoco.MjModel, height: int, width: int):
        self.model, self.height, self.width = model, int(height), int(width)
        self._gl = None  # set first, so close() works whatever fails below
        self._ctx = None
        if self.width > model.vis.global_.offwidth or self.height > model.vis.global_.offheight:
            raise ValueError(
                f"image {self.width}x{self.height} exceeds the model's offscreen buffer "
                f"{model.vis.global_.offwidth}x{model.vis.global_.offheight}"
            )
        self.scene = mujoco.MjvScene(model=model, maxgeom=10000)
        self._option = mujoco.MjvOption()
        self._rect = mujoco.MjrRect(0, 0, self.width, self.height)
        gl_context = getattr(mujoco, "GLContext", None)  # EGL, OSMesa or GLFW, as MUJOCO_GL says
        if gl_context is not None:
            self._gl = gl_context(self.width, self.height)
            self._gl.make_current()
        self._ctx = mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_150.value)
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN.value, self._ctx)
        self._ctx.readDepthMap = mujoco.mjtDepthMap.mjDEPTH_ZEROFAR
        # metric depth from the reversed-Z buffer, in float32 as glFrustum (mujoco.Renderer's constants)
        extent = model.stat.extent
        znear, zfar = np.float32(model.vis.map.znear * extent), np.float32(model.vis.map.zfar * extent)
        c = -(zfar + znear) / (zfar - znear)
        d = -(np.float32(2) * zfar * znear) / (zfar - znear)
        self._zrange = (znear, zfar)
        self._zcoef = (np.float32(-0.5) * c - np.float32(0.5), np.float32(-0.5) * d)

    def update_scene(self, data: mujoco.MjData, camera: str) -> None:
        """Build the scene of ``data`` seen from the named (fixed) ``camera``."""
        cam = mujoco.MjvCamera()
        cam.fixedcamid = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_CAMERA, camera)
        if cam.fixedcamid < 0:
            raise ValueError(f"camera {camera!r} not in the scene")
        cam.type = mujoco.mjtCamera.mjCAMERA_FIXED
        mujoco.mjv_updateScene(
            self.model, data, self._option, None, cam, mujoco.mjtCatBit.mjCAT_ALL.value, self.scene
        )

    def rgb(self) -> np.ndarray:
        """HxWx3 uint8: one normal render of the scene."""
        out = np.empty((self.height, self.width, 3), dtype=np.uint8)
        self._render(segment=False)
        mujoco.mjr_readPixels(out, None, self._rect, self._ctx)
        return self._upright(out)

    def depth_and_geom_ids(self, depth: bool = True, seg: bool = True) -> tuple[np.ndarray | None, ...]:
        """One segmentation-mode render: HxW float32 z-depth in metres (or None unless ``depth``) and HxW
        int32 geom ids, -1 where no geom is seen (or None unless ``seg``)."""
        rgb = np.empty((self.height, self.width, 3), dtype=np.uint8) if seg else None
        raw = np.empty((self.height, self.width), dtype=np.float32) if depth else None
        self._render(segment=True)
        mujoco.mjr_readPixels(rgb, raw, self._rect, self._ctx)
        metres = None
        if raw is not None:
            out_64 = raw.astype(np.float64)  # float64 so the ndc -> metric conversion loses nothing
            if self.scene.camera[0].orthographic:
                znear, zfar = self._zrange
                out_64 = zfar - out_64 * (zfar - znear)
            else:
                c, d = self._zcoef
                out_64 = d / (out_64 + c)
            metres = self._upright(out_64.astype(np.float32))
        geom_ids = None
        if rgb is not None:
            # Colour = segid + 1 in 24 bits (0 = nothing); map it to the geom that segid draws.
            ids = rgb.astype(np.uint32)
            segimage = ids[:, :, 0] + ids[:, :, 1] * (2**8) + ids[:, :, 2] * (2**16)
            n = self.scene.ngeom
            seg2geom = np.full(n + 1, -1, dtype=np.int32)
            geom = int(mujoco.mjtObj.mjOBJ_GEOM)
            for g in self.scene.geoms[:n]:
                if g.segid != -1 and g.objtype == geom and g.objid >= 0:
                    seg2geom[g.segid + 1] = g.objid
            geom_ids = self._upright(seg2geom[segimage])
        return metres, geom_ids

    def _render(self, segment: bool) -> None:
        if self._ctx is None:
            raise RuntimeError("render called after close")
        if self._gl is not None:
            self._gl.make_current()
        flags = self.scene.flags
        if not segment:
            mujoco.mjr_render(self._rect, self.scene, self._ctx)
            return
        before = flags.copy()
        flags[mujoco.mjtRndFlag.mjRND_SEGMENT] = True
        flags[mujoco.mjtRndFlag.mjRND_IDCOLOR] = True
        try:
            mujoco.mjr_render(self._rect, self.scene, self._ctx)
        finally:
            np.copyto(flags, before)

    def _upright(self, image: np.ndarray) -> np.ndarray:
        # An EGL/OSMesa/GLFW framebuffer reads bottom row first.
        return np.ascontiguousarray(image[::-1]) if self._gl is not None else image

    def close(self) -> None:
        """Free the GL resources (the renderer cannot be used afterwards)."""
        if self._ctx is not None:
            if self._gl is not None and hasattr(self._gl, "as_current"):
                with self._gl.as_current():  # a no-op once EGL is shut down at interpreter exit
                    self._ctx.free()
            else:
                if self._gl is not None:
                    self._gl.make_current()
                self._ctx.free()
            self._ctx = None
        if self._gl is not None:
            self._gl.free()
            self._gl = None

    def __del__(self):
        try:
            self.close()
        except Exception:  # at interpreter exit the GL platform may be gone already
            pass
