"""``cosmos-sim bench pointcloud``: 3D from the ground truth, measured.

Three parts, each against known geometry or timed on this machine:

- Reconstruction (``cosmos_sim.eval.reconstruction``). Held-out ``Physics-CameraOrbit-GT-v0``
  episodes (``seeds`` from ``first_seed``, every frame) are TSDF-fused with their known poses at
  each image size, and the fused surface is compared with the scene's visible true surface:
  accuracy, completeness, Chamfer (m), precision, recall and F-score at ``threshold``. Depth
  sources: ``gt`` (the GT depth: the floor any depth estimator sits on), ``gt+noise`` (GT depth
  plus Gaussian noise of ``noise`` m, seeded) and ``gt*scale`` (GT depth times ``scale``, a
  mis-scaled estimator), the last two to show how far the measure moves, and ``depth_estimator`` (the
  nano ``DepthEstimator`` on the GT frames: the floor of the world-model rows, which ``bench physics``
  measures on the frames a model predicts).
- Geometry checks of the point clouds and the LiDAR: the manipulation table's plane (open3d RANSAC
  on the fused front+top cloud at 256x256) against its known height and normal, the red block's
  size in its own frame, the driving road's width from the six cameras' cloud (128x128), LiDAR
  ranges to the road against ``(lidar_height - road top) / sin(-elevation)`` and to a car parked
  ahead against its known rear face.
- Time per frame (64x64 driving, ``sweeps`` steps): a LiDAR sweep, the six HD maps, the six
  cameras' fused cloud, a driving step with sensors off and with the LiDAR on; TSDF integration
  per frame and capture per frame of the orbit.

Pictures: ``pointcloud_orbit.png`` (the GT-depth reconstruction, the visible true surface by
segmentation, the ``gt*scale`` reconstruction), ``pointcloud_driving.png`` (the six cameras'
fused cloud by segmentation and one LiDAR sweep), ``pointcloud_lidar_range.png`` (its range
image), ``pointcloud_hdmap.png`` (the six HD maps over the camera views).
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from cosmos_sim.bench.common import BenchResult, check_at_least, config_error
from cosmos_sim.data import HELD_OUT_SEED

DRIVING_ID = "cosmos_sim/Driving-GT-v0"
MANIPULATION_ID = "cosmos_sim/Manipulation-GT-v0"
METRICS = ("fscore", "precision", "recall", "chamfer_m", "accuracy_m", "completeness_m")


@dataclass(frozen=True)
class Config:
    """Options of ``cosmos-sim bench pointcloud`` (``--quick``: one seed, the first size, 3 sweeps)."""

    seeds: int = 4
    """Held-out CameraOrbit episodes reconstructed per image size."""
    first_seed: int = HELD_OUT_SEED
    """Reset seed of the first episode (held-out seeds start at 100000)."""
    sizes: tuple[int, ...] = (64, 128)
    """Square image sizes of the orbit captures (64: the world models' frames)."""
    frames: int = 49
    """Frames per orbit episode fused (49: the whole episode)."""
    voxel: float = 0.01
    """TSDF voxel edge (m)."""
    sdf_trunc: float = 0.04
    """TSDF truncation (m), at least two voxels."""
    threshold: float = 0.02
    """F-score distance threshold (m)."""
    noise: float = 0.01
    """Standard deviation of the noise of the gt+noise depth source (m)."""
    scale: float = 1.05
    """Factor of the gt*scale depth source (a mis-scaled depth estimator)."""
    sweeps: int = 20
    """Driving steps timed for the LiDAR, the HD maps and the six-camera cloud."""
    depth_estimator: str = "depth-nano"
    """DepthEstimator (shipped name or directory) fused as one more depth source of the GT frames; empty: none."""

    def __post_init__(self) -> None:
        check_at_least("pointcloud", self, 1, "seeds", "sizes", "frames", "sweeps")
        if min(self.sizes) < 16:
            raise config_error("pointcloud", "sizes", self.sizes, "image sizes of at least 16 pixels")
        for name in ("voxel", "threshold", "noise"):
            if not getattr(self, name) > 0:
                raise config_error("pointcloud", name, getattr(self, name), "a length > 0 (metres)")
        if self.sdf_trunc < 2 * self.voxel:
            raise config_error(
                "pointcloud", "sdf_trunc", self.sdf_trunc, f"at least 2 x voxel = {2 * self.voxel}"
            )
        if not self.scale > 0 or self.scale == 1:
            raise config_error("pointcloud", "scale", self.scale, "a factor > 0 other than 1 (e.g. 1.05)")


# ---- reconstruction --------------------------------------------------------------------------------
def _depth_sources(cfg: Config, seed: int) -> dict[str, Any]:
    """Depth source name -> depth_fn (None = GT depth) for one capture."""
    rng = np.random.default_rng(seed)

    def noisy(_frames, depths):
        return depths + rng.normal(0.0, cfg.noise, depths.shape).astype(np.float32)

    sources = {"gt": None, "gt+noise": noisy, f"gt*{cfg.scale:g}": lambda _f, d: d * np.float32(cfg.scale)}
    if cfg.depth_estimator:
        estimator = _depth_estimator(cfg.depth_estimator)
        sources[cfg.depth_estimator] = lambda frames, _d: estimator.predict(frames)
    return sources


@functools.cache
def _depth_estimator(name_or_dir: str):
    from cosmos_sim.world_models.estimators import DepthEstimator

    return DepthEstimator.from_pretrained(name_or_dir, device="cpu")


def reconstruction_part(cfg: Config) -> tuple[dict[str, float], list[dict], dict]:
    """Figures, rows and the first capture's clouds (for the picture) of the reconstruction part."""
    from cosmos_sim.eval.reconstruction import ReconstructionConfig, capture_orbit, reconstruct_orbit

    rcfg = ReconstructionConfig(voxel=cfg.voxel, sdf_trunc=cfg.sdf_trunc, threshold=cfg.threshold)
    figures: dict[str, float] = {}
    rows: list[dict] = []
    clouds: dict = {}
    for size in cfg.sizes:
        per_source: dict[str, list[dict]] = {}
        capture_s = []
        for seed in range(cfg.first_seed, cfg.first_seed + cfg.seeds):
            t0 = time.perf_counter()
            cap = capture_orbit(seed, cfg.frames, size, rcfg)
            capture_s.append((time.perf_counter() - t0) / cfg.frames)
            for name, fn in _depth_sources(cfg, seed).items():
                depth_fn = None if fn is None else (lambda f, fn=fn, d=cap.depths: fn(f, d))
                res = reconstruct_orbit(cap, depth_fn=depth_fn, config=rcfg)
                per_source.setdefault(name, []).append(res.figures)
                if not clouds.get(name) and size == cfg.sizes[0]:
                    clouds[name] = (res.reconstruction, res.surface)
        for name, figs in per_source.items():
            mean = {k: float(np.nanmean([f[k] for f in figs])) for k in figs[0]}
            rows.append(
                {
                    "case": "Reconstruction (CameraOrbit, TSDF with known poses)",
                    "size": size,
                    "depth": name,
                    **{k: mean[k] for k in METRICS},
                    "points": mean["points"],
                    "surface_points": mean["surface_points"],
                    "fuse_ms_per_frame": 1e3 * mean["fuse_seconds_per_frame"],
                }
            )
            label = name.replace("+", "_plus_").replace("*", "_x").replace(".", "p")
            for k in METRICS:
                figures[f"{k}_{label}_{size}"] = mean[k]
            if name == "gt":
                figures[f"fuse_ms_per_frame_{size}"] = 1e3 * mean["fuse_seconds_per_frame"]
                figures[f"extract_ms_{size}"] = 1e3 * mean["extract_seconds"]
        figures[f"capture_ms_per_frame_{size}"] = 1e3 * float(np.mean(capture_s))
    return figures, rows, clouds


# ---- geometry checks --------------------------------------------------------------------------------
def manipulation_checks() -> dict[str, float]:
    """Table plane and block size errors from the fused front+top cloud at 256x256."""
    import gymnasium as gym

    import cosmos_sim  # noqa: F401  (registers the ids)
    from cosmos_sim.data.pointcloud import env_views, fuse
    from cosmos_sim.envs.push_task import BLOCK_HALF, TABLE_Z

    env = gym.make(MANIPULATION_ID, width=256, height=256)
    try:
        _, info = env.reset(seed=HELD_OUT_SEED)
        ids = {n: i for i, n in env.unwrapped.segmentation_labels.items()}
        cloud = fuse(env_views(env))
    finally:
        env.close()
    (a, b, c, d), _ = cloud.with_labels([ids["table"]]).to_open3d().segment_plane(0.002, 3, 500)
    normal = np.array([a, b, c]) * np.sign(c)
    block = info["objects"]["red_block"]
    w, x, y, z = block["quat"]
    rot = _quat_matrix(w, x, y, z)
    local = (cloud.with_labels([ids["red_block"]]).points - block["pos"]) @ rot
    size = local.max(0) - local.min(0)
    return {
        "table_height_error_mm": 1e3 * abs(-d / np.linalg.norm([a, b, c]) * np.sign(c) - TABLE_Z),
        "table_normal_error_deg": float(
            np.degrees(np.arccos(np.clip(normal[2] / np.linalg.norm(normal), -1, 1)))
        ),
        "block_size_error_mm": 1e3 * float(np.max(np.abs(size - 2 * BLOCK_HALF))),
    }


def _quat_matrix(w: float, x: float, y: float, z: float) -> np.ndarray:
    """Rotation matrix of a unit quaternion (w, x, y, z): body-to-world."""
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def _near(cloud, centre: np.ndarray, reach: float):
    """The points within ``reach`` metres of ``centre`` in x and y (a square crop for pictures)."""
    return cloud.select(np.all(np.abs(cloud.points[:, :2] - centre[:2]) <= reach, axis=1))


def driving_checks() -> tuple[dict[str, float], dict]:
    """Road width from the six cameras (128x128) and LiDAR range errors; also the clouds for the picture."""
    from cosmos_sim.data.pointcloud import env_views, fuse, lidar_cloud
    from cosmos_sim.envs.driving import ROAD_Z, DrivingGTEnv
    from cosmos_sim.envs.driving_sensors import lidar_directions, ray_box_distance

    env = DrivingGTEnv(width=128, height=128, num_vehicles=1, lidar=True, hdmap=True)
    try:
        _, info = env.reset(seed=0, options={"ego_lane": 1, "ego_speed": 0.0, "vehicles": [(15.0, 1, 0.0)]})
        ids = {n: i for i, n in env.segmentation_labels.items()}
        cloud = fuse(env_views(env))
        road = cloud.with_labels([ids["road"], ids["lane_markings"]])
        near = road.points[np.abs(road.points[:, 0]) < 10]  # beside the car, where pixels are small
        width = float(near[:, 1].max() - near[:, 1].min())
        lidar, cfg = info["lidar"], env.config
        dirs = lidar_directions(cfg.lidar_rings, cfg.lidar_columns, cfg.lidar_elevation_deg)  # car heads +x
        on_road = lidar["labels"] == ids["road"]
        expected_road = (cfg.lidar_height - ROAD_Z) / -dirs[..., 2]
        ground_err = np.abs(lidar["ranges"] - expected_road)[on_road]
        car = info["objects"]["vehicle_0"]["pos"]
        ln, wd, ht = cfg.car_size
        box = ray_box_distance(
            lidar["pose"][:3, 3], dirs, car - [ln / 2, wd / 2, 0], car + [ln / 2, wd / 2, ht]
        )
        on_car = lidar["labels"] == ids["vehicle_0"]
        car_err = np.abs(lidar["ranges"] - box)[on_car]
        figures = {
            "road_width_m": width,
            "road_width_error_m": abs(width - cfg.num_lanes * cfg.lane_width),
            "lidar_ground_range_error_mm": 1e3 * float(ground_err.max()),
            "lidar_car_range_error_mm": 1e3 * float(car_err.max()),
            "lidar_returns_fraction": float(np.mean(lidar["ranges"] > 0)),
        }
        pictures = {
            "cloud": _near(cloud, info["objects"]["ego"]["pos"], 30.0),
            "lidar": _near(lidar_cloud(lidar), info["objects"]["ego"]["pos"], 30.0),
            "ranges": lidar["ranges"],
            "hdmap": {c: info["maps"][c]["hdmap"] for c in env.cameras},
            "rgb": {c: env.rgb(c) for c in env.cameras},
        }
    finally:
        env.close()
    return figures, pictures


# ---- timing -------------------------------------------------------------------------------------------
def _ms(fn, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return 1e3 * (time.perf_counter() - t0) / n


def driving_timing(sweeps: int) -> dict[str, float]:
    """Milliseconds per step of the driving sensors at 64x64 (the default frame size)."""
    from cosmos_sim.data.pointcloud import env_views, fuse
    from cosmos_sim.envs.driving import DrivingGTEnv

    figures = {}
    for lidar in (False, True):
        env = DrivingGTEnv(lidar=lidar)
        env.reset(seed=HELD_OUT_SEED)
        figures[f"driving_step_ms_lidar_{'on' if lidar else 'off'}"] = _ms(
            lambda env=env: env.step(env.expert_action()), sweeps
        )
        if lidar:
            figures["lidar_ms_per_sweep"] = _ms(env.lidar_scan, sweeps)
            figures["hdmap_ms_six_cameras"] = _ms(lambda env=env: [env.hdmap(c) for c in env.cameras], sweeps)
            env.step(env.expert_action())  # new state: the cloud below renders depth+seg
            figures["six_camera_cloud_ms"] = _ms(lambda env=env: fuse(env_views(env)), 1)
        env.close()
    return figures


# ---- pictures -----------------------------------------------------------------------------------------
def _save(path: Path, image: np.ndarray) -> None:
    import imageio.v3 as iio

    iio.imwrite(path, image)


def pictures(cfg: Config, out: Path, orbit: dict, driving: dict) -> None:
    """The four PNGs of the module docstring."""
    from cosmos_sim.data.pointcloud import cloud_picture, range_image_picture

    name_scaled = f"gt*{cfg.scale:g}"
    recon, surface = orbit["gt"]
    panels = {
        f"TSDF of GT frames + GT depth ({cfg.sizes[0]} px)": recon,
        "visible true surface (by segmentation)": surface,
        f"TSDF with depth x {cfg.scale:g}": orbit[name_scaled][0],
    }
    _save(out / "pointcloud_orbit.png", cloud_picture(panels, elev=35, azim=-60, size=(1350, 450)))
    panels = {
        "six cameras fused (by segmentation)": driving["cloud"],
        "LiDAR sweep (by segmentation)": driving["lidar"],
    }
    _save(
        out / "pointcloud_driving.png",
        cloud_picture(panels, colour="seg", elev=55, azim=-120, size=(1200, 520)),
    )
    _save(out / "pointcloud_lidar_range.png", range_image_picture(driving["ranges"], row_scale=4))
    from cosmos_sim.envs.driving import GRID

    rows = [
        np.concatenate(
            [np.concatenate([driving["rgb"][c], driving["hdmap"][c]], axis=0) for c in row], axis=1
        )
        for row in GRID
    ]
    _save(out / "pointcloud_hdmap.png", np.concatenate(rows, axis=0))


def run(config: Config, out_dir: str, quick: bool = False) -> BenchResult:
    """``cosmos-sim bench pointcloud``: see the module docstring."""
    cfg = replace(config, seeds=1, sizes=config.sizes[:1], sweeps=min(config.sweeps, 3)) if quick else config
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    figures, rows, orbit = reconstruction_part(cfg)
    checks = manipulation_checks()
    drive, pics = driving_checks()
    checks |= drive
    timing = driving_timing(cfg.sweeps)
    figures |= checks | timing
    rows.append({"case": "Geometry checks (known scene geometry)", **checks})
    rows.append({"case": "Driving sensors, ms per step (64x64)", **timing})
    pictures(cfg, out, orbit, pics)
    seeds = f"{cfg.first_seed}..{cfg.first_seed + cfg.seeds - 1}"
    notes = (
        f"Reconstruction: Physics-CameraOrbit-GT-v0 held-out seeds {seeds}, {cfg.frames} frames each, TSDF "
        f"(open3d VoxelBlockGrid: voxel {cfg.voxel} m, truncation {cfg.sdf_trunc} m) with the known poses; the "
        "reference is the scene's true surface (analytic floor, boxes, sphere, cylinders from the MuJoCo model, "
        "5 mm grid) where at least one frame sees it (MuJoCo ray casts), in the 2.4 x 2.4 x 0.8 m box "
        "around the orbit's centre. "
        f"F-score at {cfg.threshold} m; Chamfer = mean of accuracy and completeness. Depth: gt = the GT depth "
        f"(the floor of any depth estimator: TSDF and pixel discretisation only); gt+noise adds N(0, {cfg.noise} m); "
        f"gt*{cfg.scale:g} scales it; {cfg.depth_estimator or 'an estimator'} is the nano depth estimator on the GT "
        "frames (the floor of a world model's rows, which bench physics measures). open3d's legacy "
        "ScalableTSDFVolume integrates nothing in open3d 0.20 here, hence VoxelBlockGrid (its successor). "
        "Geometry checks: manipulation at 256x256 (front + top cameras fused), driving at 128x128, LiDAR "
        "32 x 360 rays, 80 m. Times: wall clock on this machine (shared, see the load average)."
    )
    return BenchResult(name="pointcloud", figures=figures, rows=rows, notes=notes)


__all__ = [
    "Config",
    "driving_checks",
    "driving_timing",
    "manipulation_checks",
    "reconstruction_part",
    "run",
]
