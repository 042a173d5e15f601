"""3D consistency by reconstruction: fuse a video of the static CameraOrbit scene with its known
camera poses and a depth source into a TSDF volume (open3d), then compare the reconstructed
surface with the scene's true surface.

Where ``consistency3d`` asks whether frames agree with one epipolar geometry, this asks whether
they agree with one 3D scene, and with the right one:

1. Capture (``capture_orbit``). A ``Physics-CameraOrbit-GT-v0`` episode (held-out seeds in the
   benchmark) is rolled out with depth and segmentation: frames, z-depth maps, the shared ``K``
   and every frame's world-to-camera extrinsics. Its true surface is sampled from the MuJoCo
   model itself (``surface_samples``: the floor, boxes, sphere and cylinders as analytic shapes
   on a ``spacing`` grid), inside the scene box ``region`` around the orbit's centre, and kept
   where at least one frame sees it (``visible_from_any``: the sample projects into the image and
   MuJoCo's exact ray cast from that camera meets nothing before it). That is "the GT scene's
   cloud": what the camera path could have reconstructed.
2. Fusion (``tsdf_fuse``). Every frame's RGB and depth go into a sparse TSDF volume (open3d's
   voxel-block grid, the tensor successor of ``ScalableTSDFVolume``: ``voxel`` metres,
   truncation ``sdf_trunc``, depths beyond ``max_depth`` ignored: the sky) with the known
   intrinsics and extrinsics; its zero crossing is extracted as a coloured cloud and cropped to
   ``region``.
3. Comparison (``compare_clouds``). Nearest-neighbour distances both ways: accuracy = mean
   distance of reconstructed points to the true surface, completeness = mean distance of true
   surface samples to the reconstruction, Chamfer = their mean; precision / recall = the
   fraction of each side within ``threshold`` metres, F-score their harmonic mean (the
   Tanks-and-Temples measure).

The depth source is a parameter (``depth_fn``): by default the GT frames are fused with their GT
depth, which gives the floor every depth estimator sits on (TSDF and pixel discretisation only).
A depth estimator is a function from frames ``(T, H, W, 3)`` uint8 to ``(T, H, W)`` float32
metres; it is required for any other video (a world model's prediction), because GT depth
describes the GT frames. ``cosmos_sim.world_models.estimators.DepthEstimator`` (the nano depth
estimator, ``predict`` is a ``depth_fn``) scores a world model's frames: ``capture_orbit(..., first=C)``
keeps frames ``0..C-1`` as the context a predictor sees (neither fused nor in the true surface),
``predicted_orbit`` asks a predictor for the rest, and ``reconstruct_orbit`` fuses them with the
estimator's depth; the same estimator on the GT frames is that row's floor.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from cosmos_sim.data.pointcloud import PointCloud, valid_depth

ORBIT_ID = "cosmos_sim/Physics-CameraOrbit-GT-v0"

DepthFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class ReconstructionConfig:
    """How the orbit is captured, fused and compared (see the module docstring)."""

    voxel: float = 0.01
    """TSDF voxel edge (m)."""
    sdf_trunc: float = 0.04
    """TSDF truncation distance (m); a few voxels."""
    max_depth: float = 6.0
    """Depths beyond this are not fused (m): the sky lies at the far plane, the scene within ~4.5 m."""
    threshold: float = 0.02
    """F-score distance threshold (m)."""
    region: tuple[float, float, float] = (1.2, 1.2, 0.8)
    """Scene box compared (m): |x|, |y| up to the first two values around the orbit centre, z to the third."""
    spacing: float = 0.005
    """Grid spacing of the true surface samples (m)."""
    visibility_tol: float = 0.001
    """A surface sample is seen by a frame when the ray from the camera meets nothing else more than this
    before it (m)."""

    def __post_init__(self):
        for name in ("voxel", "sdf_trunc", "max_depth", "threshold", "spacing", "visibility_tol"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}={getattr(self, name)} must be > 0 metres")
        if self.sdf_trunc < 2 * self.voxel:
            raise ValueError(
                f"sdf_trunc={self.sdf_trunc} must be at least two voxels (2 x voxel = {2 * self.voxel}); "
                "raise sdf_trunc or lower voxel"
            )
        if len(self.region) != 3 or min(self.region) <= 0:
            raise ValueError(
                f"region={self.region} must be three positive half sizes (x, y, z top) in metres"
            )


@dataclass
class OrbitCapture:
    """One CameraOrbit episode with depth, cameras and its visible true surface."""

    frames: np.ndarray
    """(T, H, W, 3) uint8 RGB."""
    depths: np.ndarray
    """(T, H, W) float32 GT z-depth (m)."""
    intrinsics: np.ndarray
    """3x3 K shared by the frames."""
    extrinsics: np.ndarray
    """(T, 4, 4) world-to-camera (OpenCV)."""
    surface: PointCloud
    """True surface samples inside the region seen by at least one frame, labelled by segmentation id."""
    centre: np.ndarray
    """(3,) the orbit's centre on the floor: the region is around it."""
    labels: dict[int, str]
    """Segmentation id -> name."""
    seed: int
    """Reset seed."""
    first: int = 0
    """Frames before this are context (a predictor's input): not fused; the surface is what frames
    ``first..`` see."""


@dataclass
class ReconstructionResult:
    """Figures of one reconstruction and the clouds they come from."""

    figures: dict[str, float]
    """chamfer_m, accuracy_m, completeness_m, precision, recall, fscore, points, surface_points,
    fuse_seconds_per_frame, extract_seconds."""
    reconstruction: PointCloud
    """The fused surface, cropped to the region."""
    surface: PointCloud
    """The visible true surface it is compared with."""
    config: ReconstructionConfig = field(default_factory=ReconstructionConfig)
    """The settings used."""


# ---- the true surface ---------------------------------------------------------------------------
def _grid(a: float, b: float, spacing: float) -> np.ndarray:
    """Cell centres of a grid covering [-a, a] x [-b, b] at about ``spacing``."""
    na, nb = max(1, int(np.ceil(2 * a / spacing))), max(1, int(np.ceil(2 * b / spacing)))
    u = (np.arange(na) + 0.5) / na * 2 * a - a
    v = (np.arange(nb) + 0.5) / nb * 2 * b - b
    uu, vv = np.meshgrid(u, v, indexing="ij")
    return np.column_stack([uu.ravel(), vv.ravel()])


def _box(half: np.ndarray, s: float) -> np.ndarray:
    faces = []
    for axis in range(3):
        others = [i for i in range(3) if i != axis]
        g = _grid(half[others[0]], half[others[1]], s)
        for sign in (-1, 1):
            p = np.zeros((len(g), 3))
            p[:, others] = g
            p[:, axis] = sign * half[axis]
            faces.append(p)
    return np.concatenate(faces)


def _sphere(r: float, s: float) -> np.ndarray:
    n = max(8, int(np.ceil(4 * np.pi * r * r / (s * s))))
    i = np.arange(n) + 0.5
    z = 1 - 2 * i / n
    phi = np.pi * (1 + 5**0.5) * i  # Fibonacci sphere: even spacing
    rho = np.sqrt(1 - z * z)
    return r * np.column_stack([rho * np.cos(phi), rho * np.sin(phi), z])


def _cylinder(r: float, half_h: float, s: float) -> np.ndarray:
    na, nh = max(8, int(np.ceil(2 * np.pi * r / s))), max(1, int(np.ceil(2 * half_h / s)))
    a = (np.arange(na) + 0.5) / na * 2 * np.pi
    h = (np.arange(nh) + 0.5) / nh * 2 * half_h - half_h
    aa, hh = np.meshgrid(a, h, indexing="ij")
    side = np.column_stack([r * np.cos(aa.ravel()), r * np.sin(aa.ravel()), hh.ravel()])
    disc = _grid(r, r, s)
    disc = disc[np.hypot(disc[:, 0], disc[:, 1]) <= r]
    caps = [np.column_stack([disc, np.full(len(disc), z)]) for z in (-half_h, half_h)]
    return np.concatenate([side, *caps])


def surface_samples(
    env, spacing: float, centre: np.ndarray, region: tuple[float, float, float]
) -> PointCloud:
    """The true surface of a MuJoCo GT env's planes, boxes, spheres and cylinders at its current
    state, on a ``spacing`` grid inside ``region`` around ``centre``, labelled by segmentation id
    (0 for geoms that are no instance)."""
    import mujoco

    u = env.unwrapped
    m, d = u.model, u.data
    ids = {name: i for i, name in u.segmentation_labels.items()}
    g = mujoco.mjtGeom
    rx, ry, rz = region
    parts, labels = [], []
    for gid in range(m.ngeom):
        kind, size = m.geom_type[gid], m.geom_size[gid]
        if kind == g.mjGEOM_PLANE:
            xy = _grid(rx, ry, spacing) + centre[:2] - d.geom_xpos[gid][:2]
            local = np.column_stack([xy, np.zeros(len(xy))])
        elif kind == g.mjGEOM_BOX:
            local = _box(size[:3], spacing)
        elif kind == g.mjGEOM_SPHERE:
            local = _sphere(size[0], spacing)
        elif kind == g.mjGEOM_CYLINDER:
            local = _cylinder(size[0], size[1], spacing)
        else:
            continue  # other shapes do not occur in the scenes this is used on
        world = local @ d.geom_xmat[gid].reshape(3, 3).T + d.geom_xpos[gid]
        name = mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_GEOM, gid) or ""
        parts.append(world)
        labels.append(np.full(len(world), ids.get(name, 0), np.int32))
    cloud = PointCloud(np.concatenate(parts), None, np.concatenate(labels))
    return crop(cloud, centre, region)


def crop(cloud: PointCloud, centre: np.ndarray, region: tuple[float, float, float]) -> PointCloud:
    """The points within the region box around ``centre`` (z from just under the floor to ``region[2]``)."""
    p = cloud.points - np.asarray(centre, float)
    keep = (np.abs(p[:, 0]) <= region[0]) & (np.abs(p[:, 1]) <= region[1])
    return cloud.select(keep & (p[:, 2] >= -0.05) & (p[:, 2] <= region[2]))


def visible_from_any(
    env, points: np.ndarray, intrinsics: np.ndarray, extrinsics: np.ndarray, size: tuple[int, int], tol: float
) -> np.ndarray:
    """N bools: the surface point lies in some frame's image (``size`` = (width, height)) and the ray from
    that camera's centre meets no geom more than ``tol`` metres before it (MuJoCo's exact ray casts,
    ``mj_multiRay``, against the env's current geoms)."""
    import mujoco

    u = env.unwrapped
    w, h = size
    seen = np.zeros(len(points), bool)
    for e in extrinsics:
        cam = points @ e[:3, :3].T + e[:3, 3]
        z = np.where(cam[:, 2] > 1e-6, cam[:, 2], np.nan)
        uv = (cam @ intrinsics.T)[:, :2] / z[:, None]
        todo = np.flatnonzero(~seen & (uv[:, 0] >= 0) & (uv[:, 0] < w) & (uv[:, 1] >= 0) & (uv[:, 1] < h))
        if not len(todo):
            continue
        centre = -e[:3, :3].T @ e[:3, 3]
        vec = points[todo] - centre  # ray lengths in units of the distance to the point: 1 = at the point
        frac = np.zeros(len(todo))
        mujoco.mj_multiRay(
            u.model,
            u.data,
            centre,
            vec.ravel(),
            None,
            1,
            -1,
            np.zeros(len(todo), np.int32),
            frac,
            None,
            len(todo),
            1e6,
        )
        seen[todo] = (frac < 0) | (frac >= 1 - tol / np.linalg.norm(vec, axis=1))  # -1: nothing hit
    return seen


def capture_orbit(
    seed: int, frames: int = 49, size: int = 64, config: ReconstructionConfig | None = None, first: int = 0
) -> OrbitCapture:
    """Roll out a CameraOrbit episode (``frames`` frames, ``size`` x ``size`` pixels) with depth and its
    visible true surface (see the module docstring); frames before ``first`` are context only."""
    import gymnasium as gym

    import cosmos_sim  # noqa: F401  (registers the ids)

    cfg = config or ReconstructionConfig()
    if frames < 1:
        raise ValueError(f"frames={frames} must be >= 1")
    if not 0 <= first < frames:
        raise ValueError(f"first={first} must be in [0, frames={frames}): at least one frame to fuse")
    env = gym.make(ORBIT_ID, width=size, height=size, maps="depth")
    try:
        obs, info = env.reset(seed=seed)
        u = env.unwrapped
        centre = np.zeros(3)  # camera_orbit circles the vertical axis through the origin (target (0, 0, 0.2))
        rgb, depth, ext = [], [], []
        noop = np.zeros(env.action_space.shape, env.action_space.dtype)
        for t in range(frames):
            if t:
                obs, _, _, _, info = env.step(noop)
            rgb.append(obs)
            depth.append(info["maps"]["main"]["depth"])
            ext.append(info["cameras"]["main"]["extrinsics"])
        k = info["cameras"]["main"]["intrinsics"]
        extrinsics = np.stack(ext)
        surface = surface_samples(env, cfg.spacing, centre, cfg.region)
        seen = visible_from_any(env, surface.points, k, extrinsics[first:], (size, size), cfg.visibility_tol)
        labels = dict(u.segmentation_labels)
    finally:
        env.close()
    return OrbitCapture(
        np.stack(rgb), np.stack(depth), k, extrinsics, surface.select(seen), centre, labels, seed, first
    )


def predicted_orbit(predictor, capture: OrbitCapture) -> np.ndarray:
    """A predictor's (``cosmos_sim.eval.predictors``) frames ``first..`` of the capture, from its context."""
    from cosmos_sim.eval.predictors import Episode

    if capture.first < 1:
        raise ValueError("the capture has no context frames; capture it with first >= 1")
    ctx = Episode(capture.frames[: capture.first], env_id=ORBIT_ID, seed=capture.seed)
    return predictor.predict(ctx, len(capture.frames) - capture.first, seed=capture.seed)


# ---- fusion and comparison ------------------------------------------------------------------------
def tsdf_fuse(
    frames: np.ndarray,
    depths: np.ndarray,
    intrinsics: np.ndarray,
    extrinsics: np.ndarray,
    config: ReconstructionConfig | None = None,
) -> tuple[PointCloud, float, float]:
    """TSDF-fuse RGB-D frames with known cameras into a sparse voxel-block grid (open3d
    ``t.geometry.VoxelBlockGrid``, CPU); returns the surface cloud (coloured), seconds per
    integrated frame and the extraction's seconds.

    open3d's legacy ``ScalableTSDFVolume`` is the same voxel hashing, but in open3d 0.20 it
    integrates nothing here (a synthetic plane gives 0 voxels); open3d names ``VoxelBlockGrid`` as
    its successor.
    """
    import open3d as o3d
    import open3d.core as o3c

    cfg = config or ReconstructionConfig()
    frames, depths = np.asarray(frames), np.asarray(depths, np.float32)
    if frames.shape[:3] != depths.shape or frames.dtype != np.uint8 or frames.shape[-1] != 3:
        raise ValueError(
            f"frames must be (T, H, W, 3) uint8 and depths (T, H, W) to match, got {frames.dtype} "
            f"{frames.shape} and {depths.shape}"
        )
    t = len(depths)
    # K as it is: the voxel-block grid looks a voxel up in the pixel floor(u), floor(v), whose centre is
    # (i + 0.5, j + 0.5) in K's convention (origin at the corner; measured: a half-pixel shift of K
    # moves the reconstruction by a voxel)
    k = o3c.Tensor(np.asarray(intrinsics, np.float64))
    f32 = o3c.float32
    grid = o3d.t.geometry.VoxelBlockGrid(
        attr_names=("tsdf", "weight", "color"),
        attr_dtypes=(f32, f32, f32),
        attr_channels=((1), (1), (3)),
        voxel_size=cfg.voxel,
        block_resolution=8,
        block_count=20000,
        device=o3c.Device("CPU:0"),
    )
    trunc = cfg.sdf_trunc / cfg.voxel  # open3d gives the truncation in voxels
    t0 = time.perf_counter()
    for rgb, depth, e in zip(frames, depths, extrinsics, strict=True):
        d = o3d.t.geometry.Image(
            np.where(valid_depth(depth, max_depth=cfg.max_depth), depth, 0.0).astype(np.float32)
        )
        c = o3d.t.geometry.Image(np.ascontiguousarray(rgb, dtype=np.float32))
        e = o3c.Tensor(np.asarray(e, np.float64))
        blocks = grid.compute_unique_block_coordinates(d, k, e, 1.0, cfg.max_depth, trunc)
        grid.integrate(blocks, d, c, k, k, e, 1.0, cfg.max_depth, trunc)
    fuse_s = (time.perf_counter() - t0) / max(t, 1)
    t0 = time.perf_counter()
    pcd = grid.extract_point_cloud(weight_threshold=1.0)
    points = pcd.point.positions.numpy().astype(np.float64)
    colors = np.clip(np.round(pcd.point.colors.numpy()), 0, 255).astype(np.uint8) if len(points) else None
    return PointCloud(points, colors), fuse_s, time.perf_counter() - t0


def compare_clouds(reconstruction: PointCloud, truth: PointCloud, threshold: float) -> dict[str, float]:
    """Accuracy, completeness, Chamfer (their mean), precision, recall and F-score at ``threshold`` (m)
    between a reconstruction and the true surface (see the module docstring); NaN when a side is empty."""
    nan = float("nan")
    if not len(reconstruction) or not len(truth):
        return dict.fromkeys(
            ("accuracy_m", "completeness_m", "chamfer_m", "precision", "recall", "fscore"), nan
        ) | {"points": float(len(reconstruction)), "surface_points": float(len(truth))}
    rec, gt = reconstruction.to_open3d("none"), truth.to_open3d("none")
    d_rec = np.asarray(rec.compute_point_cloud_distance(gt))  # nearest-neighbour distances (KD-tree)
    d_gt = np.asarray(gt.compute_point_cloud_distance(rec))
    precision, recall = float(np.mean(d_rec <= threshold)), float(np.mean(d_gt <= threshold))
    f = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    acc, comp = float(d_rec.mean()), float(d_gt.mean())
    return {
        "accuracy_m": acc,
        "completeness_m": comp,
        "chamfer_m": (acc + comp) / 2,
        "precision": precision,
        "recall": recall,
        "fscore": f,
        "points": float(len(reconstruction)),
        "surface_points": float(len(truth)),
    }


def object_fscore(result: ReconstructionResult, labels: dict[int, str], min_height: float = 0.03) -> float:
    """F-score at the result's threshold on the objects alone: true samples not labelled floor (or 0) against
    reconstructed points more than ``min_height`` above the floor (z = 0). The floor is most of the surface
    and stays the floor when a frozen or wrong view is fused at the orbit's poses, so the overall F-score
    barely sees what happens to the objects; this does. NaN when either side is empty."""
    floor = [i for i, name in labels.items() if name == "floor"] + [0]
    truth = result.surface.select(~np.isin(result.surface.labels, floor))
    rec = result.reconstruction.select(result.reconstruction.points[:, 2] > min_height)
    if not len(truth) or not len(rec):
        return float("nan")
    return compare_clouds(rec, truth, result.config.threshold)["fscore"]


def reconstruct_orbit(
    capture: OrbitCapture,
    frames: np.ndarray | None = None,
    depth_fn: DepthFn | None = None,
    config: ReconstructionConfig | None = None,
) -> ReconstructionResult:
    """Fuse a video of ``capture``'s camera path and score it against the visible true surface.

    Args:
        capture: the GT episode (``capture_orbit``): poses, K, GT depth, true surface.
        frames: the video to judge, ``(T, H, W, 3)`` uint8 with the shape of the capture's frames
            ``first..`` (a world model's prediction of the episode); default those GT frames.
        depth_fn: depth source, frames -> ``(T, H, W)`` float32 metres (a depth estimator); default
            the GT depth, allowed only for the GT frames.
        config: settings (default ``ReconstructionConfig()``); use the one ``capture`` was made with.
    """
    cfg = config or ReconstructionConfig()
    gt_frames, gt_depths = capture.frames[capture.first :], capture.depths[capture.first :]
    video = gt_frames if frames is None else np.asarray(frames)
    if video.shape != gt_frames.shape:
        raise ValueError(
            f"frames have shape {video.shape}, the capture's {gt_frames.shape} (frames {capture.first}..); "
            "predict every frame"
        )
    if depth_fn is None and frames is not None and not np.array_equal(video, gt_frames):
        raise ValueError(
            "GT depth describes the GT frames only; pass depth_fn (a depth estimator: frames -> (T, H, W) "
            "metres) to reconstruct another video"
        )
    depths = gt_depths if depth_fn is None else np.asarray(depth_fn(video), np.float32)
    if depths.shape != gt_depths.shape:
        raise ValueError(f"depth_fn returned shape {depths.shape}, expected {gt_depths.shape} (T, H, W)")
    extrinsics = capture.extrinsics[capture.first :]
    cloud, fuse_s, extract_s = tsdf_fuse(video, depths, capture.intrinsics, extrinsics, cfg)
    cloud = crop(cloud, capture.centre, cfg.region)
    figures = compare_clouds(cloud, capture.surface, cfg.threshold)
    figures |= {"fuse_seconds_per_frame": fuse_s, "extract_seconds": extract_s}
    return ReconstructionResult(figures, cloud, capture.surface, cfg)


def config_dict(cfg: ReconstructionConfig) -> dict:
    """The settings as a JSON-ready dict."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(cfg).items()}


__all__ = [
    "ORBIT_ID",
    "OrbitCapture",
    "ReconstructionConfig",
    "ReconstructionResult",
    "capture_orbit",
    "compare_clouds",
    "config_dict",
    "crop",
    "object_fscore",
    "predicted_orbit",
    "reconstruct_orbit",
    "surface_samples",
    "tsdf_fuse",
    "visible_from_any",
]
