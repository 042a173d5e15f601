"""Point clouds from the GT scenes' depth maps and cameras, LiDAR sweeps, PLY files and pictures.

Every GT env renders metric z-depth with a pinhole ``K`` and a world-to-camera extrinsics ``E``
(OpenCV frame; ``envs/base.py``). Pixel ``(row i, column j)`` is a ray through its centre
``(u, v) = (j + 0.5, i + 0.5)`` (K's origin is the top-left pixel corner), so its 3D point is

    camera frame  p_c = depth[i, j] * K^-1 [u, v, 1]        (z-depth: p_c's z is the depth)
    world frame   p_w = R^T (p_c - t)                       with E = [R t; 0 1]

A ``CameraView`` holds one camera's maps and calibration at one instant (from a live env,
``env_views``, or a trajectory store row, ``store_views``); ``camera_cloud`` back-projects one,
``fuse`` concatenates several in the world frame. Pixels where the camera saw nothing (depth at
the far clipping plane, which is where both renderers put the sky) are dropped. A ``PointCloud``
carries Nx3 float64 world points and, where known, per-point RGB (uint8) and segmentation ids
(``segmentation_labels`` of the env or store); ``to_open3d`` gives an ``open3d.geometry.PointCloud``
coloured by RGB or by segmentation (``label_colours``: the palette of the store's seg pictures).

``write_ply`` / ``read_ply``: binary little-endian PLY with double x, y, z, uchar red, green,
blue and int label (open3d and MeshLab read it; they ignore ``label``). ``lidar_cloud`` turns a
``Driving-GT-v0`` LiDAR sweep (``info["lidar"]`` or a store's ``lidar/*`` keys) into a cloud,
``range_image_picture`` draws its ranges as a panorama, ``cloud_picture`` renders clouds with
matplotlib (orthographic 3D scatter; open3d's renderer needs a display).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cosmos_sim.errors import ConfigError, StoreError

#: Fraction of the far plane beyond which a depth reads as "nothing hit" (sky).
FAR_FRACTION = 0.999


@dataclass(frozen=True)
class CameraView:
    """One camera's maps and calibration at one instant."""

    name: str
    """Camera name."""
    depth: np.ndarray
    """HxW float32 z-depth in metres."""
    intrinsics: np.ndarray
    """3x3 pinhole K in pixels (origin at the top-left pixel corner)."""
    extrinsics: np.ndarray
    """4x4 world-to-camera transform (OpenCV frame)."""
    rgb: np.ndarray | None = None
    """HxWx3 uint8 colours of the same pixels, or None."""
    seg: np.ndarray | None = None
    """HxW int segmentation ids of the same pixels, or None."""
    far: float | None = None
    """Far clipping plane (m): depths from ``FAR_FRACTION * far`` on are sky, dropped; None keeps all."""


@dataclass(frozen=True)
class PointCloud:
    """N points in the world frame with optional per-point colours and segmentation ids."""

    points: np.ndarray
    """Nx3 float64 coordinates (m)."""
    colors: np.ndarray | None = None
    """Nx3 uint8 RGB, or None."""
    labels: np.ndarray | None = None
    """N int32 segmentation ids, or None."""

    def __post_init__(self):
        pts = np.asarray(self.points, dtype=np.float64).reshape(-1, 3)
        object.__setattr__(self, "points", pts)
        n = len(pts)
        if self.colors is not None:
            colors = np.asarray(self.colors)
            if colors.shape != (n, 3):
                raise ValueError(f"colors must be ({n}, 3) like the points, got shape {colors.shape}")
            object.__setattr__(self, "colors", colors.astype(np.uint8))
        if self.labels is not None:
            labels = np.asarray(self.labels).reshape(-1)
            if labels.shape != (n,):
                raise ValueError(f"labels must be ({n},) like the points, got shape {labels.shape}")
            object.__setattr__(self, "labels", labels.astype(np.int32))

    def __len__(self) -> int:
        return len(self.points)

    def select(self, mask: np.ndarray) -> PointCloud:
        """The points where ``mask`` (N bools, or indices) holds."""
        return PointCloud(
            self.points[mask],
            None if self.colors is None else self.colors[mask],
            None if self.labels is None else self.labels[mask],
        )

    def with_labels(self, ids: Iterable[int]) -> PointCloud:
        """The points whose segmentation id is one of ``ids``."""
        if self.labels is None:
            raise ValueError("this cloud has no segmentation labels; build it from views with seg maps")
        return self.select(np.isin(self.labels, list(ids)))

    def transformed(self, transform: np.ndarray) -> PointCloud:
        """The cloud with its points mapped by a 4x4 rigid transform."""
        t = np.asarray(transform, dtype=np.float64)
        return PointCloud(self.points @ t[:3, :3].T + t[:3, 3], self.colors, self.labels)

    def to_open3d(self, colour: str = "rgb"):
        """An ``open3d.geometry.PointCloud``; ``colour``: "rgb" (the cloud's colours, else by label),
        "seg" (by segmentation id, ``label_colours``) or "none"."""
        import open3d as o3d

        pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(self.points))
        rgb = self.colours(colour)
        if rgb is not None:
            pcd.colors = o3d.utility.Vector3dVector(rgb.astype(np.float64) / 255.0)
        return pcd

    def colours(self, colour: str = "rgb") -> np.ndarray | None:
        """Nx3 uint8 colours by ``colour`` ("rgb", "seg" or "none"; see ``to_open3d``)."""
        if colour not in ("rgb", "seg", "none"):
            raise ValueError(f"colour={colour!r}; use 'rgb', 'seg' or 'none'")
        if colour == "rgb" and self.colors is not None:
            return self.colors
        if colour != "none" and self.labels is not None:
            return label_colours(self.labels)
        if colour == "seg":
            raise ValueError(
                "colour='seg' needs segmentation labels; build the cloud from views with seg maps"
            )
        return None

    @classmethod
    def from_open3d(cls, pcd) -> PointCloud:
        """A cloud from an ``open3d.geometry.PointCloud`` (colours rounded to uint8)."""
        colors = np.asarray(pcd.colors)
        return cls(
            np.asarray(pcd.points).copy(),
            np.round(colors * 255).astype(np.uint8) if len(colors) else None,
        )

    @staticmethod
    def concat(clouds: Sequence[PointCloud]) -> PointCloud:
        """One cloud of all ``clouds``' points (colours/labels kept where every cloud has them)."""
        if not clouds:
            return PointCloud(np.zeros((0, 3)))
        colors = None if any(c.colors is None for c in clouds) else np.concatenate([c.colors for c in clouds])
        labels = None if any(c.labels is None for c in clouds) else np.concatenate([c.labels for c in clouds])
        return PointCloud(np.concatenate([c.points for c in clouds]), colors, labels)


def label_colours(labels: np.ndarray) -> np.ndarray:
    """Nx3 uint8 colours of segmentation ids: the palette of the stores' seg pictures (0 = black)."""
    from cosmos_sim.data.export import colourise

    labels = np.asarray(labels, dtype=np.int64)
    return colourise(labels.reshape(1, 1, -1))[0, 0]


# ---- depth maps -> points -----------------------------------------------------------------------
def backproject(depth: np.ndarray, intrinsics: np.ndarray, extrinsics: np.ndarray) -> np.ndarray:
    """HxWx3 world points of every pixel of a z-depth map (see the module docstring)."""
    d = np.asarray(depth, dtype=np.float64)
    if d.ndim != 2:
        raise ValueError(f"depth must be an HxW map, got shape {d.shape}")
    k, e = np.asarray(intrinsics, np.float64), np.asarray(extrinsics, np.float64)
    if k.shape != (3, 3) or e.shape != (4, 4):
        raise ValueError(f"intrinsics must be 3x3 and extrinsics 4x4, got {k.shape} and {e.shape}")
    h, w = d.shape
    v, u = np.mgrid[0:h, 0:w] + 0.5
    rays = np.stack([u, v, np.ones_like(u)], axis=-1) @ np.linalg.inv(k).T  # z = 1
    cam = rays * d[..., None]
    r, t = e[:3, :3], e[:3, 3]
    return (cam - t) @ r  # R^T (p - t), row-vector form


def valid_depth(depth: np.ndarray, far: float | None = None, max_depth: float | None = None) -> np.ndarray:
    """HxW bools: finite, positive depth, short of the far plane (sky) and of ``max_depth``."""
    d = np.asarray(depth)
    ok = np.isfinite(d) & (d > 0)
    if far is not None:
        ok &= d < FAR_FRACTION * far
    if max_depth is not None:
        ok &= d <= max_depth
    return ok


def camera_cloud(view: CameraView, max_depth: float | None = None, stride: int = 1) -> PointCloud:
    """The world-frame cloud of one view's valid pixels (every ``stride``-th row and column)."""
    if stride < 1:
        raise ValueError(f"stride={stride} must be >= 1 (1 keeps every pixel)")
    pts = backproject(view.depth, view.intrinsics, view.extrinsics)[::stride, ::stride]
    ok = valid_depth(view.depth, view.far, max_depth)[::stride, ::stride]
    rgb = None if view.rgb is None else np.asarray(view.rgb)[::stride, ::stride][ok]
    seg = None if view.seg is None else np.asarray(view.seg)[::stride, ::stride][ok]
    return PointCloud(pts[ok], rgb, seg)


def fuse(views: Iterable[CameraView], max_depth: float | None = None, stride: int = 1) -> PointCloud:
    """All views' clouds in one (world frame): several cameras, several instants, or both."""
    return PointCloud.concat([camera_cloud(v, max_depth, stride) for v in views])


# ---- where views come from ---------------------------------------------------------------------
def far_plane(env, camera: str) -> float | None:
    """The far clipping plane (m) of a GT env's camera (MuJoCo or PyBullet scenes), None if unknown."""
    u = getattr(env, "unwrapped", env)
    model = getattr(u, "model", None)
    if model is not None and hasattr(model, "vis"):  # MuJoCo: zfar is relative to the model's extent
        return float(model.vis.map.zfar * model.stat.extent)
    spec = getattr(u, "_camera_specs", {}).get(camera)  # PyBullet: BulletCamera.far
    return None if spec is None else float(spec.far)


def env_views(env, cameras: Sequence[str] | None = None) -> list[CameraView]:
    """The views of a live GT env's cameras at its current state (depth, seg, RGB, calibration)."""
    u = getattr(env, "unwrapped", env)
    if not all(hasattr(u, a) for a in ("cameras", "camera_params", "control_maps", "rgb")):
        raise ValueError(
            f"{type(u).__name__} is not a cosmos_sim GT env (no cameras/camera_params/control_maps); "
            "point clouds need one of the registered ...-GT-v0 ids"
        )
    names = list(cameras or u.cameras)
    unknown = [c for c in names if c not in u.cameras]
    if unknown:
        raise ValueError(f"camera(s) {unknown} not in the scene; choose from {list(u.cameras)}")
    views = []
    for cam in names:
        maps = u.control_maps(cam, "depth,seg")
        p = u.camera_params(cam)
        views.append(
            CameraView(
                cam, maps["depth"], p.intrinsics, p.extrinsics, u.rgb(cam), maps["seg"], far_plane(u, cam)
            )
        )
    return views


def store_far_planes(store) -> dict[str, float]:
    """Camera -> far plane of the env a store was recorded from (built, not reset); {} if it cannot be."""
    import gymnasium as gym

    import cosmos_sim  # noqa: F401  (registers the ids)

    attrs = store.attrs
    try:
        env = gym.make(attrs["env_id"], **dict(attrs.get("env_kwargs") or {}))
    except Exception:  # not registered here, or another version's kwargs: no sky filtering
        return {}
    try:
        return {c: f for c in attrs.get("cameras", {}) if (f := far_plane(env, c)) is not None}
    finally:
        env.close()


def store_views(
    store,
    episode: int,
    row: int = 0,
    cameras: Sequence[str] | None = None,
    far: Mapping[str, float] | None = None,
) -> list[CameraView]:
    """The views recorded in row ``row`` of ``episode`` of a store (``generate --maps depth[,seg]``).

    Depth is ``maps/<cam>/depth``, seg ``maps/<cam>/seg`` when recorded, extrinsics
    ``cameras/<cam>/extrinsics``, intrinsics the store's ``cameras`` attribute; RGB is the
    camera's own image key (the driving cameras) or ``rgb`` for the first camera (the env's
    observation camera), else None. ``far``: camera -> far plane (default ``store_far_planes``).
    """
    keys = set(store.keys())
    cams_attr = store.attrs.get("cameras") or {}
    with_depth = [c for c in cams_attr if f"maps/{c}/depth" in keys]
    if not with_depth:
        raise StoreError(
            f"store {store.path} has no depth maps: a point cloud needs a store recorded with "
            "`cosmos-sim generate ... --maps depth,seg` from a cosmos_sim GT env"
        )
    names = list(cameras or with_depth)
    missing = [c for c in names if c not in with_depth]
    if missing:
        raise ConfigError(
            f"camera(s) {missing} have no depth in store {store.path}; choose from {with_depth}"
        )
    if not -store.n_episodes <= episode < store.n_episodes:
        raise ConfigError(
            f"episode {episode} out of range: store {store.path} has {store.n_episodes} episodes "
            f"(0..{store.n_episodes - 1})"
        )
    sl = store.episode_slice(episode)
    n = sl.stop - sl.start
    if not -n <= row < n:
        raise ConfigError(
            f"row {row} out of range: episode {episode} of {store.path} has {n} rows (0..{n - 1})"
        )
    start = sl.start + row % n
    far = store_far_planes(store) if far is None else far
    first = next(iter(cams_attr))

    def read(key: str) -> np.ndarray | None:
        return store.read(key, start, start + 1)[0] if key in keys else None

    views = []
    for cam in names:
        rgb_key = cam if cam in keys else ("rgb" if cam == first and "rgb" in keys else None)
        views.append(
            CameraView(
                cam,
                read(f"maps/{cam}/depth"),
                np.asarray(cams_attr[cam]["intrinsics"], np.float64),
                read(f"cameras/{cam}/extrinsics"),
                None if rgb_key is None else read(rgb_key),
                read(f"maps/{cam}/seg"),
                far.get(cam),
            )
        )
    return views


# ---- LiDAR --------------------------------------------------------------------------------------
def lidar_cloud(lidar: Mapping[str, np.ndarray], frame: str = "world") -> PointCloud:
    """The returns of one LiDAR sweep (``info["lidar"]``, or a store row's ``lidar/*`` keys without
    the prefix) as a cloud labelled by what each ray hit, in the "world" or the "sensor" frame."""
    if frame not in ("world", "sensor"):
        raise ValueError(f"frame={frame!r}; use 'world' or 'sensor' (x forward, y left, z up)")
    ranges = np.asarray(lidar["ranges"]).reshape(-1)
    ok = ranges > 0
    cloud = PointCloud(
        np.asarray(lidar["points"], np.float64).reshape(-1, 3)[ok],
        None,
        np.asarray(lidar["labels"]).reshape(-1)[ok],
    )
    return cloud if frame == "world" else cloud.transformed(np.linalg.inv(np.asarray(lidar["pose"])))


def range_image_picture(ranges: np.ndarray, max_range: float | None = None, row_scale: int = 4) -> np.ndarray:
    """A LiDAR sweep's (rings, columns) ranges as an RGB picture (rings * row_scale, columns, 3):
    turbo colours, near = warm, up to ``max_range`` (default: the farthest return); no return = black."""
    from matplotlib import colormaps

    r = np.asarray(ranges, dtype=np.float64)
    if r.ndim != 2:
        raise ValueError(f"ranges must be (rings, columns), got shape {r.shape}")
    hit = r > 0
    top = float(max_range if max_range is not None else (r[hit].max() if hit.any() else 1.0))
    lut = (colormaps["turbo"](np.linspace(0, 1, 256))[:, :3] * 255).astype(np.uint8)
    rgb = lut[(255 * (1 - np.clip(r / top, 0, 1))).astype(np.int32)]
    rgb[~hit] = 0
    return rgb.repeat(max(1, int(row_scale)), axis=0)


# ---- PLY ----------------------------------------------------------------------------------------
_PLY_TYPES = {
    "char": "i1", "uchar": "u1", "short": "i2", "ushort": "u2", "int": "i4", "uint": "u4",
    "float": "f4", "double": "f8", "int8": "i1", "uint8": "u1", "int16": "i2", "uint16": "u2",
    "int32": "i4", "uint32": "u4", "float32": "f4", "float64": "f8",
}  # fmt: skip


def write_ply(path: str | os.PathLike, cloud: PointCloud, colour: str = "rgb") -> Path:
    """Write ``cloud`` as binary little-endian PLY (x, y, z doubles; red, green, blue uchar where
    colours exist, by ``colour`` as in ``to_open3d``; label int where labels exist); returns the path."""
    rgb = cloud.colours(colour)
    fields = [("x", "<f8"), ("y", "<f8"), ("z", "<f8")]
    fields += [(c, "u1") for c in ("red", "green", "blue")] if rgb is not None else []
    fields += [("label", "<i4")] if cloud.labels is not None else []
    data = np.empty(len(cloud), dtype=fields)
    data["x"], data["y"], data["z"] = cloud.points.T
    if rgb is not None:
        data["red"], data["green"], data["blue"] = rgb.T
    if cloud.labels is not None:
        data["label"] = cloud.labels
    names = {"<f8": "double", "u1": "uchar", "<i4": "int"}
    header = [
        "ply",
        "format binary_little_endian 1.0",
        "comment cosmos_sim point cloud (world frame, metres)",
    ]
    header += [f"element vertex {len(cloud)}", *(f"property {names[t]} {n}" for n, t in fields), "end_header"]
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as f:
        f.write(("\n".join(header) + "\n").encode("ascii"))
        f.write(data.tobytes())
    return out


def read_ply(path: str | os.PathLike) -> PointCloud:
    """A cloud from a PLY file's vertices (binary little-endian or ASCII; x, y, z and, when present,
    red/green/blue and label), e.g. one of ``write_ply`` or open3d's."""
    raw = Path(path).read_bytes()
    end = raw.find(b"end_header")
    if not raw.startswith(b"ply") or end < 0:
        raise ValueError(f"{path} is not a PLY file (no 'ply' magic or no end_header)")
    body_start = raw.index(b"\n", end) + 1
    lines = raw[:end].decode("ascii").splitlines()
    fmt = next((ln.split()[1] for ln in lines if ln.startswith("format")), "")
    if fmt not in ("binary_little_endian", "ascii"):
        raise ValueError(f"{path}: PLY format {fmt!r} not supported; use binary_little_endian or ascii")
    count, props, element = 0, [], None
    for ln in lines:
        words = ln.split()
        if words[:1] == ["element"]:
            if element == "vertex":
                break  # only the vertex element is read; it must come first
            element, count = words[1], int(words[2])
        elif words[:1] == ["property"] and element == "vertex":
            if words[1] == "list":
                raise ValueError(f"{path}: list properties of vertices are not supported")
            props.append((words[2], "<" + _PLY_TYPES[words[1]]))
    if element != "vertex" or not {"x", "y", "z"} <= {n for n, _ in props}:
        raise ValueError(f"{path}: no vertex element with x, y, z properties")
    if fmt == "ascii":
        table = np.loadtxt(raw[body_start:].decode("ascii").splitlines()[:count], ndmin=2)
        data = {n: table[:, i] for i, (n, _) in enumerate(props)}
    else:
        arr = np.frombuffer(raw, dtype=np.dtype(props), count=count, offset=body_start)
        data = {n: arr[n] for n, _ in props}
    pts = np.column_stack([data[c] for c in ("x", "y", "z")]).astype(np.float64)
    rgb = np.column_stack([data[c] for c in ("red", "green", "blue")]) if "red" in data else None
    return PointCloud(pts, rgb, data.get("label"))


# ---- export ---------------------------------------------------------------------------------------
def export_pointcloud(
    out: str | os.PathLike,
    store: str | os.PathLike | None = None,
    episode: int = 0,
    row: int = 0,
    env_id: str | None = None,
    env_kwargs: Mapping | None = None,
    seed: int = 0,
    cameras: Sequence[str] = (),
    colour: str = "rgb",
    max_depth: float | None = None,
) -> tuple[Path, PointCloud]:
    """Write the fused cloud of one instant as PLY (``cosmos-sim export --pointcloud``); returns the
    path and the cloud.

    The instant is row ``row`` of ``episode`` of the trajectory ``store`` (recorded with ``--maps
    depth[,seg]``), or, with ``env_id`` instead, a live GT env reset with ``seed`` and stepped
    ``row`` times with zero actions. ``cameras``: the cameras fused (default all with depth);
    ``colour``: "rgb" or "seg"; ``max_depth``: drop points farther than this from their camera (m).
    """
    if Path(out).suffix.lower() != ".ply":
        raise ConfigError(f"point cloud output {out} must end in .ply")
    if (store is None) == (env_id is None):
        raise ConfigError("give a trajectory store or an env id (--env), exactly one of them")
    if colour not in ("rgb", "seg"):
        raise ConfigError(f"colour={colour!r}; use rgb or seg")
    if store is not None:
        from cosmos_sim.data.store import TrajectoryStore

        with TrajectoryStore.open(store) as s:
            views = store_views(s, episode, row, cameras or None)
    else:
        views = _live_views(env_id, dict(env_kwargs or {}), seed, row, cameras)
    cloud = fuse(views, max_depth=max_depth)
    return write_ply(out, cloud, colour), cloud


def _live_views(env_id: str, kwargs: dict, seed: int, steps: int, cameras: Sequence[str]) -> list[CameraView]:
    import gymnasium as gym

    import cosmos_sim  # noqa: F401  (registers the ids)

    if steps < 0:
        raise ConfigError(f"row={steps}: with an env, row counts zero-action steps from reset; use 0 or more")
    try:
        env = gym.make(env_id, **kwargs)
    except gym.error.Error as e:
        raise ConfigError(f"cannot make env {env_id!r}: {e}; see `cosmos-sim list-envs`") from e
    try:
        env.reset(seed=seed)
        zero = np.zeros(env.action_space.shape, env.action_space.dtype)
        for _ in range(steps):
            env.step(zero)
        try:
            return env_views(env, cameras or None)
        except ValueError as e:
            raise ConfigError(str(e)) from e
    finally:
        env.close()


# ---- pictures -----------------------------------------------------------------------------------
def cloud_picture(
    clouds: Mapping[str, PointCloud],
    colour: str = "rgb",
    elev: float = 30.0,
    azim: float = -60.0,
    size: tuple[int, int] = (900, 450),
    max_points: int = 60000,
    title: str = "",
) -> np.ndarray:
    """Clouds side by side as an RGB picture (HxWx3 uint8): matplotlib orthographic 3D scatters,
    one panel per entry (panel title = key), equal axis scales and the same axis limits in every
    panel (the union of the clouds' bounds); at most ``max_points`` points a panel (evenly subsampled)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dpi = 100
    fig = plt.figure(figsize=(size[0] / dpi, size[1] / dpi), dpi=dpi)
    full = [c.points for c in clouds.values() if len(c)]
    lo = np.min([p.min(0) for p in full], axis=0) if full else np.zeros(3)
    hi = np.max([p.max(0) for p in full], axis=0) if full else np.ones(3)
    for i, (name, cloud) in enumerate(clouds.items()):
        ax = fig.add_subplot(1, len(clouds), i + 1, projection="3d", proj_type="ortho")
        step = max(1, int(np.ceil(len(cloud) / max_points)))
        c = cloud.select(slice(None, None, step))
        rgb = c.colours(colour)
        ax.scatter(*c.points.T, s=0.5, c=None if rgb is None else rgb / 255.0, depthshade=False, linewidths=0)
        ax.set(xlim=(lo[0], hi[0]), ylim=(lo[1], hi[1]), zlim=(lo[2], hi[2]))
        ax.set_box_aspect(np.maximum(hi - lo, 1e-3))
        ax.view_init(elev=elev, azim=azim)
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=6)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.canvas.draw()
    image = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    return image


__all__ = [
    "CameraView",
    "PointCloud",
    "backproject",
    "camera_cloud",
    "cloud_picture",
    "env_views",
    "export_pointcloud",
    "far_plane",
    "fuse",
    "label_colours",
    "lidar_cloud",
    "range_image_picture",
    "read_ply",
    "store_far_planes",
    "store_views",
    "valid_depth",
    "write_ply",
]
