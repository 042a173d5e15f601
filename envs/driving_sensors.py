"""Geometry behind the driving scene's LiDAR and HD map: the road's painted lines, ray directions,
ground hits, and 3D segments drawn into a camera image.

Pure numpy/OpenCV (no PyBullet): ``envs/driving.py`` casts the rays (``rayTestBatch``) and owns
the scene; this module knows where the road surface and its markings are, exactly as
``DrivingGTEnv._build_static`` builds them, so the LiDAR hits the same road the cameras see and
the HD map draws the lines where the renderer paints them.

Frames: the LiDAR's own frame has x forward along the ego car's heading, y left, z up (ROS
convention); cameras use ``envs/base.py``'s OpenCV convention.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class RoadGeometry:
    """Where the straight road along +x and its markings are (metres, world frame)."""

    x_range: tuple[float, float]
    """x extent of the road surface (whole tiles from ``road_start``)."""
    half_width: float
    """Half the road's width: it spans y in [-half_width, half_width]."""
    dividers: tuple[float, ...]
    """y of the dashed lane dividers' centre lines."""
    edge_inset: float
    """Distance of the solid edge lines' centre lines inside the road edges."""
    mark_half_width: float
    """Half width of every painted line."""
    dash: float
    """Painted length of a divider dash."""
    dash_period: float
    """Distance between the starts of consecutive dashes (the first starts at ``x_range[0]``)."""
    road_z: float
    """Height of the road top (the grass is at z = 0)."""
    mark_z: float
    """Height of the painted lines' top."""
    grass: tuple[float, float, float]
    """Grass around the road: x from ``grass[0]`` to ``grass[1]``, |y| to ``grass[2]``; beyond, no ground."""

    @property
    def edge_lines(self) -> tuple[float, float]:
        """y of the two solid edge lines' centre lines."""
        y = self.half_width - self.edge_inset
        return (-y, y)

    def on_road(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Whether the ground points (x, y) lie on the road surface."""
        return (np.abs(y) <= self.half_width) & (x >= self.x_range[0]) & (x <= self.x_range[1])

    def on_marking(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Whether the ground points (x, y) lie on painted lines (edge lines or divider dashes)."""
        x, y = np.asarray(x, float), np.asarray(y, float)
        inside = (x >= self.x_range[0]) & (x <= self.x_range[1])
        hit = np.zeros(np.broadcast(x, y).shape, bool)
        for ye in self.edge_lines:
            hit |= np.abs(y - ye) <= self.mark_half_width
        in_dash = np.mod(x - self.x_range[0], self.dash_period) <= self.dash
        for yd in self.dividers:
            hit |= (np.abs(y - yd) <= self.mark_half_width) & in_dash
        return hit & inside

    def line_segments(self, x_lo: float, x_hi: float) -> dict[str, np.ndarray]:
        """The map's lines between x_lo and x_hi as ``(N, 2, 3)`` world segments per kind:
        ``road_boundary`` (the road edges, at road height), ``edge_line`` (solid) and
        ``lane_divider`` (one segment per dash), the painted ones along their centre lines."""
        lo, hi = max(x_lo, self.x_range[0]), min(x_hi, self.x_range[1])
        if lo >= hi:
            return {k: np.zeros((0, 2, 3)) for k in ("road_boundary", "edge_line", "lane_divider")}

        def straight(ys, z):
            return np.array([[[lo, y, z], [hi, y, z]] for y in ys], float).reshape(-1, 2, 3)

        first = self.x_range[0] + np.floor((lo - self.x_range[0]) / self.dash_period) * self.dash_period
        starts = np.arange(first, hi, self.dash_period)
        dashes = [
            [[max(s, lo), y, self.mark_z], [min(s + self.dash, hi), y, self.mark_z]]
            for y in self.dividers
            for s in starts
            if min(s + self.dash, hi) > max(s, lo)
        ]
        return {
            "road_boundary": straight((-self.half_width, self.half_width), self.road_z),
            "edge_line": straight(self.edge_lines, self.mark_z),
            "lane_divider": np.array(dashes, float).reshape(-1, 2, 3),
        }

    def ground_hits(self, origin: np.ndarray, dirs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distance along unit rays ``dirs`` (N, 3) from ``origin`` (3,) to the ground (inf for
        rays that never reach it) and the surface hit: 0 grass (or none), 1 road, 2 painted line."""
        dz = dirs[:, 2]
        down = dz < -1e-9
        t = {}
        for name, z in (("grass", 0.0), ("road", self.road_z), ("mark", self.mark_z)):
            t[name] = np.where(down, (origin[2] - z) / np.where(down, -dz, 1.0), np.inf)
        xy = {k: origin[:2] + np.where(down, v, 0.0)[:, None] * dirs[:, :2] for k, v in t.items()}
        road = down & self.on_road(xy["road"][:, 0], xy["road"][:, 1])
        mark = down & self.on_marking(xy["mark"][:, 0], xy["mark"][:, 1])
        g = xy["grass"]
        grass = (
            down
            & (g[:, 0] >= self.grass[0])
            & (g[:, 0] <= self.grass[1])
            & (np.abs(g[:, 1]) <= self.grass[2])
        )
        dist = np.where(mark, t["mark"], np.where(road, t["road"], np.where(grass, t["grass"], np.inf)))
        surface = np.where(mark, 2, np.where(road, 1, 0))
        return dist, surface


def lidar_directions(rings: int, columns: int, elevation_deg: tuple[float, float]) -> np.ndarray:
    """Unit ray directions ``(rings, columns, 3)`` in the LiDAR frame (x forward, y left, z up).

    Row 0 is the highest ring; column j looks at azimuth ``pi - (j + 0.5) * 2 pi / columns``
    (+ to the left), so a range image reads like a panorama: behind at both ends, the front in
    the middle, the left side in the left half.
    """
    lo, hi = np.deg2rad(elevation_deg)
    elevation = np.linspace(hi, lo, rings) if rings > 1 else np.array([(lo + hi) / 2])
    azimuth = np.pi - (np.arange(columns) + 0.5) * 2 * np.pi / columns
    el, az = np.meshgrid(elevation, azimuth, indexing="ij")
    return np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], axis=-1)


def ray_box_distance(origin: np.ndarray, dirs: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Distance along unit rays ``dirs`` (..., 3) from ``origin`` to an axis-aligned box [lo, hi]
    (slab method); inf where a ray misses it."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t1, t2 = (np.asarray(lo) - origin) / dirs, (np.asarray(hi) - origin) / dirs
    near = np.nanmax(np.minimum(t1, t2), axis=-1)
    far = np.nanmin(np.maximum(t1, t2), axis=-1)
    return np.where((near <= far) & (far > 0), np.maximum(near, 0.0), np.inf)


def box_edges(
    centre: np.ndarray, yaw: float, size: tuple[float, float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """The 12 edges of a box standing on the ground, ``(12, 2, 3)``, and a mask of the 4 edges of
    its front face (+x of the box). ``centre`` is the centre of its footprint; size = (length,
    width, height)."""
    ln, wd, ht = size
    c, s = np.cos(yaw), np.sin(yaw)
    corners = np.array([[sx * ln / 2, sy * wd / 2, z] for sx in (-1, 1) for sy in (-1, 1) for z in (0.0, ht)])
    world = corners @ np.array([[c, s, 0], [-s, c, 0], [0, 0, 1]]) + np.asarray(centre, float)
    pairs = [(i, j) for i in range(8) for j in range(i + 1, 8) if bin(i ^ j).count("1") == 1]
    front = np.array([i >= 4 and j >= 4 for i, j in pairs])  # corners 4-7 have sx = +1
    return world[np.array(pairs)], front


def draw_segments(
    image: np.ndarray,
    segments: np.ndarray,
    intrinsics: np.ndarray,
    extrinsics: np.ndarray,
    colour: tuple[int, int, int],
    near: float = 0.1,
    thickness: int = 1,
) -> None:
    """Draw world segments ``(N, 2, 3)`` into ``image`` (HxWx3 uint8, in place), clipped to the
    camera's near plane ``z >= near`` (metres); no occlusion (a map, not a render)."""
    if not len(segments):
        return
    pts = np.asarray(segments, float).reshape(-1, 3)
    cam = (pts @ extrinsics[:3, :3].T + extrinsics[:3, 3]).reshape(-1, 2, 3)
    a, b = cam[:, 0], cam[:, 1]
    keep = (a[:, 2] >= near) | (b[:, 2] >= near)
    a, b = a[keep], b[keep]
    # move the endpoint behind the near plane onto it
    ta = np.clip((near - a[:, 2]) / np.where(b[:, 2] != a[:, 2], b[:, 2] - a[:, 2], 1.0), 0, 1)
    tb = np.clip((near - b[:, 2]) / np.where(a[:, 2] != b[:, 2], a[:, 2] - b[:, 2], 1.0), 0, 1)
    a2 = np.where((a[:, 2] < near)[:, None], a + ta[:, None] * (b - a), a)
    b2 = np.where((b[:, 2] < near)[:, None], b + tb[:, None] * (a - b), b)
    shift = 4  # sub-pixel endpoints: OpenCV fixed-point coordinates in 1/16 pixel (it clips to the image)
    for p, q in zip(a2, b2, strict=True):
        # K's origin is the pixel corner, OpenCV's the first pixel's centre
        p1, p2 = (
            tuple(int(round(((intrinsics @ x)[i] / x[2] - 0.5) * (1 << shift))) for i in (0, 1))
            for x in (p, q)
        )
        cv2.line(image, p1, p2, colour, thickness, cv2.LINE_8, shift)


__all__ = ["RoadGeometry", "box_edges", "draw_segments", "lidar_directions", "ray_box_distance"]
