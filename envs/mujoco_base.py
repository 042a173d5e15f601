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
step renders 1 + (number of cameras) passes instead of 1 + 2 x cameras. From a camera fixed in the world
(and without multisampling) the maps' pass draws only the geoms that can move, over the world-fixed geoms'
depth and ids rendered once: a software rasteriser's cost is per drawn geom (the manipulation scene: 1.72x
-> 1.56x of the RGB-only step for the front camera's maps, ``cosmos-sim bench envs``).

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
        self._camera_cache: dict[int, tuple] = {}  # camera id -> (its pose and fovy, intrinsics, extrinsics)

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
        pose = (
            self.data.cam_xpos[cid].tobytes(),
            self.data.cam_xmat[cid].tobytes(),
            float(self.model.cam_fovy[cid]),
        )
        cached = self._camera_cache.get(cid)  # a fixed camera's calibration is the same every step
        if cached is None or cached[0] != pose:
            k = intrinsics_from_fovy(pose[2], self.width, self.height)
            e = extrinsics_from_gl_pose(self.data.cam_xpos[cid], self.data.cam_xmat[cid])
            cached = self._camera_cache[cid] = (pose, k, e)
        return CameraParams(camera, cached[1].copy(), cached[2].copy())

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
    for depth and again for segmentation, and from a fixed camera that pass draws only the moving geoms
    (module docstring). ``update_scene(data, camera)`` first, then ``rgb()`` or ``depth_and_geom_ids()``.
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
        self._moving_scene = mujoco.MjvScene(model=model, maxgeom=10000)  # the maps' pass of moving geoms
        self._option = mujoco.MjvOption()
        self._rect = mujoco.MjrRect(0, 0, self.width, self.height)
        self._data: mujoco.MjData | None = None
        self._cam = mujoco.MjvCamera()
        self._cam.type = mujoco.mjtCamera.mjCAMERA_FIXED
        self._stale = True  # self.scene not yet built for (self._data, self._cam)
        # Geoms welded to the world (floor, table, ...) look the same from a fixed camera at every step: their
        # depth and ids are rendered once per camera and the maps' pass draws only the moving geoms (the geoms
        # are what costs on a software rasteriser). Not under multisampling, whose edge pixels mix geoms.
        weld = model.body_weldid[model.geom_bodyid]
        self._static = np.flatnonzero(weld == 0)
        self._split = len(self._static) > 0 and model.vis.quality.offsamples == 0
        self._background: dict[int, tuple[np.ndarray, ...]] = {}  # camera -> (key, raw depth, metres, ids)
        self._fixed: dict[int, bool] = {}  # camera -> fixed in the world (and no multisampling)
        self._seg_tables: dict[int, tuple] = {}  # id(scene) -> (key, segid + 1 -> geom id)
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
        """Render ``data`` seen from the named (fixed) ``camera`` next."""
        camid = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_CAMERA, camera)
        if camid < 0:
            raise ValueError(f"camera {camera!r} not in the scene")
        self._data, self._cam.fixedcamid, self._stale = data, camid, True

    def _build(self, scene: mujoco.MjvScene, categories: int) -> mujoco.MjvScene:
        if self._data is None:
            raise RuntimeError("call update_scene(data, camera) before rendering")
        mujoco.mjv_updateScene(self.model, self._data, self._option, None, self._cam, categories, scene)
        return scene

    def _full_scene(self) -> mujoco.MjvScene:
        if self._stale:
            self._build(self.scene, mujoco.mjtCatBit.mjCAT_ALL.value)
            self._stale = False
        return self.scene

    def rgb(self) -> np.ndarray:
        """HxWx3 uint8: one normal render of the scene."""
        out = np.empty((self.height, self.width, 3), dtype=np.uint8)
        self._render(self._full_scene(), segment=False)
        mujoco.mjr_readPixels(out, None, self._rect, self._ctx)
        return self._upright(out)

    def depth_and_geom_ids(self, depth: bool = True, seg: bool = True) -> tuple[np.ndarray | None, ...]:
        """One segmentation-mode render: HxW float32 z-depth in metres (or None unless ``depth``) and HxW
        int32 geom ids, -1 where no geom is seen (or None unless ``seg``).

        From a camera fixed in the world, the render draws only the geoms that can move and composes them over
        the world-fixed geoms' depth and ids, rendered once (again when one of them moves or changes size):
        the same pixels, as the depth test decides each pixel by the nearest geom alone."""
        if not self._fixed_camera():
            raw, geom_ids = self._segment_pass(self._full_scene())
            metres = self._metres(raw) if depth else None
            return (None if metres is None else self._upright(metres)), (
                self._upright(geom_ids) if seg else None
            )
        back_raw, back_metres, back_ids = self._background_pass()
        raw, ids = self._segment_pass(self._build(self._moving_scene, mujoco.mjtCatBit.mjCAT_DYNAMIC.value))
        front = (ids >= 0) & (raw >= back_raw)  # reversed Z: larger is nearer
        metres = np.where(front, self._metres(raw), back_metres) if depth else None
        geom_ids = np.where(front, ids, back_ids) if seg else None
        return (None if metres is None else self._upright(metres)), (
            None if geom_ids is None else self._upright(geom_ids)
        )

    def _metres(self, raw: np.ndarray) -> np.ndarray:
        """Raw reversed-Z depth buffer values -> z-depth in metres (float32)."""
        out_64 = raw.astype(np.float64)  # float64 so the ndc -> metric conversion loses nothing
        if self._cam_orthographic:
            znear, zfar = self._zrange
            return (zfar - out_64 * (zfar - znear)).astype(np.float32)
        c, d = self._zcoef
        return (d / (out_64 + c)).astype(np.float32)

    def _fixed_camera(self) -> bool:
        cam = self._cam.fixedcamid
        if cam not in self._fixed:
            m = self.model
            self._fixed[cam] = bool(
                self._split
                and m.body_weldid[m.cam_bodyid[cam]] == 0
                and m.cam_mode[cam] == mujoco.mjtCamLight.mjCAMLIGHT_FIXED
            )
        return self._fixed[cam]

    def _background_pass(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Raw depth, metric depth and ids of the world-fixed geoms from the current camera (bottom row first), rendered
        again only when their key changes."""
        m, d, g, cam = self.model, self._data, self._static, self._cam.fixedcamid
        key = np.concatenate(
            (d.geom_xpos[g].ravel(), d.geom_xmat[g].ravel(), m.geom_size[g].ravel(), m.geom_rgba[g, 3])
            + (m.geom_type[g].astype(np.float64), d.cam_xpos[cam], d.cam_xmat[cam], m.cam_fovy[cam : cam + 1])
        )
        cached = self._background.get(cam)
        if cached is None or not np.array_equal(cached[0], key):
            raw, ids = self._segment_pass(
                self._build(self._moving_scene, mujoco.mjtCatBit.mjCAT_STATIC.value)
            )
            cached = self._background[cam] = (key, raw, self._metres(raw), ids)
        return cached[1:]

    def _segment_pass(self, scene: mujoco.MjvScene) -> tuple[np.ndarray, np.ndarray]:
        """One segmentation-mode render of ``scene``: the raw depth buffer (float32, bottom row first) and the
        geom id of each pixel (int32, -1 where none)."""
        rgb = np.empty((self.height, self.width, 3), dtype=np.uint8)
        raw = np.empty((self.height, self.width), dtype=np.float32)
        self._render(scene, segment=True)
        mujoco.mjr_readPixels(rgb, raw, self._rect, self._ctx)
        self._cam_orthographic = bool(scene.camera[0].orthographic)
        # Colour = segid + 1 in 24 bits (0 = nothing); map it to the geom that segid draws.
        n = scene.ngeom
        if n < 255:  # the ids fit the red byte
            segimage = rgb[:, :, 0]
        else:
            ids = rgb.astype(np.uint32)
            segimage = ids[:, :, 0] + ids[:, :, 1] * (2**8) + ids[:, :, 2] * (2**16)
        return raw, self._seg2geom(scene)[segimage]

    def _seg2geom(self, scene: mujoco.MjvScene) -> np.ndarray:
        """segid + 1 -> the geom it draws (-1: none or not a geom). A scene of the same model and options holds
        the same geoms in the same order unless one is hidden or shown (its alpha or group): cached on those."""
        m, n = self.model, scene.ngeom
        key = (n, m.geom_rgba[:, 3].tobytes(), m.geom_group.tobytes())
        cached = self._seg_tables.get(id(scene))
        if cached is not None and cached[0] == key:
            return cached[1]
        table = np.full(n + 1, -1, dtype=np.int32)
        geom = int(mujoco.mjtObj.mjOBJ_GEOM)
        for g in scene.geoms[:n]:
            if g.segid != -1 and g.objtype == geom and g.objid >= 0:
                table[g.segid + 1] = g.objid
        self._seg_tables[id(scene)] = (key, table)
        return table

    def _render(self, scene: mujoco.MjvScene, segment: bool) -> None:
        if self._ctx is None:
            raise RuntimeError("render called after close")
        if self._gl is not None:
            self._gl.make_current()
        flags = scene.flags
        if not segment:
            mujoco.mjr_render(self._rect, scene, self._ctx)
            return
        before = flags.copy()
        flags[mujoco.mjtRndFlag.mjRND_SEGMENT] = True
        flags[mujoco.mjtRndFlag.mjRND_IDCOLOR] = True
        try:
            mujoco.mjr_render(self._rect, scene, self._ctx)
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
