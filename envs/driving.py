"""Multi-view driving ground truth: an ego car with six cameras on a straight multi-lane road.

The scene (PyBullet, rendered with TinyRenderer): a straight one-way road along +x with
``num_lanes`` lanes (white edge lines, dashed lane dividers), grass, roadside buildings and
trees, an ego car (white) and ``num_vehicles`` other cars in saturated colours that drive along
their lanes at seeded speeds with an IDM car-following model (they brake for the car ahead,
the ego car included, and never change lanes).

Motion is **kinematic**, not rigid-body dynamics: the ego car follows a kinematic bicycle model
(front-wheel steering, the body centre as reference point)
and every car is placed with ``resetBasePositionAndOrientation``. This is exact, stable at
10 Hz and deterministic; PyBullet is used for the scene, collision queries
(``getClosestPoints`` between the ego car and every other car) and rendering.

A LiDAR (``lidar=True``) and an HD-map control (``hdmap=True``), off by default, use the road
geometry and ray/line helpers of ``envs/driving_sensors.py``.

The six cameras, the spaces, the reward, the episode end, the reset options and the arguments
(``DrivingConfig`` fields) are documented on ``DrivingGTEnv``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pybullet
from gymnasium import spaces

from cosmos_sim.envs.base import GTConfig, resolve_config
from cosmos_sim.envs.bullet_base import BulletCamera, BulletGTEnv, yaw_pitch_rotation
from cosmos_sim.envs.driving_sensors import RoadGeometry, box_edges, draw_segments, lidar_directions

#: Camera name -> yaw relative to the car heading (deg, + left).
CAMERA_YAWS_DEG: dict[str, float] = {
    "front": 0.0,
    "front_left": 60.0,
    "front_right": -60.0,
    "rear": 180.0,
    "rear_left": 120.0,
    "rear_right": -120.0,
}
#: 2x3 layout of ``render()``: front row, back row.
GRID: tuple[tuple[str, ...], ...] = (
    ("front_left", "front", "front_right"),
    ("rear_left", "rear", "rear_right"),
)

VEHICLE_COLOURS: tuple[tuple[float, float, float], ...] = (
    (0.85, 0.1, 0.1),
    (0.1, 0.3, 0.95),
    (0.95, 0.8, 0.05),
    (0.95, 0.45, 0.0),
    (0.6, 0.1, 0.8),
    (0.0, 0.8, 0.85),
    (0.9, 0.2, 0.6),
    (0.2, 0.2, 0.2),
)

# Road surface geometry (metres), shared by the renderer's meshes, the LiDAR and the HD map.
ROAD_TILE = 50.0  # road and markings are built in pieces this long
ROAD_Z = 0.02  # road top (the grass is at z = 0)
MARK_Z = 0.03  # lane-marking top
MARK_HALF_WIDTH = 0.075  # painted lines are 15 cm wide
EDGE_INSET = 0.25  # solid edge lines' centre lies this far inside the road edge
DASH, DASH_PERIOD = 3.0, 10.0  # dashed lane dividers: 3 m of paint every 10 m
GRASS_HALF_WIDTH, GRASS_MARGIN = 60.0, 50.0  # grass to |y| = 60 m, 50 m past both road ends
LIDAR_BATCH = 16384  # PyBullet's most rays per rayTestBatch call

#: HD-map colours (RGB) of ``DrivingGTEnv.hdmap``: road boundaries, solid edge lines, dashed lane
#: dividers, the other cars' 3D boxes (their front face in its own colour, so heading shows).
HDMAP_COLOURS: dict[str, tuple[int, int, int]] = {
    "road_boundary": (255, 60, 60),
    "edge_line": (255, 255, 255),
    "lane_divider": (255, 210, 0),
    "vehicle": (0, 200, 255),
    "vehicle_front": (0, 255, 90),
}


@dataclass(frozen=True)
class DrivingConfig(GTConfig):
    """Settings of the driving scene: ``GTConfig``'s image size (of each camera) and control maps,
    then traffic, road, car, camera and reward parameters."""

    num_vehicles: int = 5
    """Other cars on the road, 0-8."""
    num_lanes: int = 3
    """Number of lanes (all driving towards +x)."""
    lane_width: float = 3.5
    """Lane width in metres."""
    road_start: float = -100.0
    """x where the road begins (m)."""
    road_end: float = 600.0
    """x where the road ends (m); driving past it counts as off-road."""
    dt: float = 0.1
    """Seconds per env step."""
    wheelbase: float = 2.7
    """Bicycle-model wheelbase (m)."""
    max_steer: float = 0.35
    """Front-wheel angle at steering = 1 (rad)."""
    max_accel: float = 5.0
    """Acceleration at acceleration = 1 (m/s^2); -1 brakes as hard."""
    max_speed: float = 20.0
    """Ego speed limit (m/s)."""
    car_size: tuple[float, float, float] = (4.4, 1.9, 1.5)
    """Car length, width, height (m)."""
    camera_height: float = 1.7
    """Camera height above the road (m)."""
    camera_mount_margin: float = 0.05
    """Cameras sit this far outside the car's outline, where their heading leaves it (m)."""
    camera_pitch_deg: float = 6.0
    """Downward tilt of every camera (deg)."""
    camera_fovy_deg: float = 75.0
    """Field of view of every camera (deg); > 60 so neighbouring views overlap."""
    camera_far: float = 150.0
    """Far clipping plane (m)."""
    vehicle_speed_range: tuple[float, float] = (9.0, 14.0)
    """Desired speeds of the other cars (m/s), uniform."""
    ego_speed_range: tuple[float, float] = (6.0, 10.0)
    """Initial ego speed (m/s), uniform."""
    spawn_range: tuple[float, float] = (-25.0, 45.0)
    """x range of the other cars at reset, relative to the ego car (m)."""
    min_spawn_gap: float = 12.0
    """Minimum centre distance between two cars in one lane at reset (m)."""
    lane_penalty: float = 0.1
    """Weight of the squared normalised lane offset in the reward."""
    crash_penalty: float = 10.0
    """Reward subtracted on collision or leaving the road."""
    expert_cruise_speed: float = 12.0
    """Speed the scripted expert drives at on a free lane (m/s)."""
    lidar: bool = False
    """Cast a LiDAR sweep from the ego car's roof after every reset and step into ``info["lidar"]``."""
    lidar_rings: int = 32
    """LiDAR rings (vertical channels), evenly spaced over ``lidar_elevation_deg``."""
    lidar_columns: int = 360
    """Rays per ring per sweep: horizontal resolution 360 / lidar_columns deg; one sweep per env step."""
    lidar_elevation_deg: tuple[float, float] = (-20.0, 5.0)
    """Elevation of the lowest and the highest ring (deg, + up)."""
    lidar_range: float = 80.0
    """Maximum range (m); nothing closer along a ray is no return."""
    lidar_height: float = 2.2
    """LiDAR height above the road (m), above the ego car's centre; must clear the roof (car height)."""
    hdmap: bool = False
    """Put an ``hdmap`` control map per camera in ``info["maps"]``: lane lines and the other cars' boxes."""

    def __post_init__(self):
        super().__post_init__()
        if not 0 <= self.num_vehicles <= len(VEHICLE_COLOURS):
            raise ValueError(f"num_vehicles={self.num_vehicles} out of range; use 0..{len(VEHICLE_COLOURS)}")
        if self.num_lanes < 1:
            raise ValueError(f"num_lanes={self.num_lanes}; use at least 1")
        if self.lidar_rings < 1 or self.lidar_columns < 1:
            raise ValueError(
                f"lidar_rings={self.lidar_rings} and lidar_columns={self.lidar_columns} must both be >= 1 "
                "(e.g. 32 and 360)"
            )
        lo, hi = self.lidar_elevation_deg
        if not -90.0 < lo <= hi < 90.0:
            raise ValueError(
                f"lidar_elevation_deg={self.lidar_elevation_deg} must be (lowest, highest) with "
                "-90 < lowest <= highest < 90 degrees, e.g. (-20.0, 5.0)"
            )
        if self.lidar_range <= 0:
            raise ValueError(f"lidar_range={self.lidar_range} must be > 0 metres, e.g. 80.0")
        if self.lidar_height <= self.car_size[2]:
            raise ValueError(
                f"lidar_height={self.lidar_height} m is not above the car's roof ({self.car_size[2]} m, "
                "car_size[2]); mount the LiDAR higher, e.g. lidar_height=2.2"
            )


def _idm_accel(
    v: float,
    v0: float,
    gap: float,
    dv: float,
    a_max: float = 2.0,
    b: float = 3.0,
    s0: float = 2.5,
    headway: float = 1.2,
) -> float:
    """Intelligent Driver Model acceleration; ``gap`` is bumper to bumper, ``dv`` = v - v_leader."""
    s_star = s0 + max(0.0, v * headway + v * dv / (2 * np.sqrt(a_max * b)))
    return a_max * (1 - (v / max(v0, 1e-3)) ** 4 - (s_star / max(gap, 0.1)) ** 2)


class DrivingGTEnv(BulletGTEnv):
    r"""Ego car with six cameras in seeded multi-lane traffic on a straight road (PyBullet).

    ## Description
    A straight one-way road along +x with ``num_lanes`` lanes (white edge lines, dashed lane
    dividers), grass, roadside buildings and trees, an ego car (white) and ``num_vehicles`` other
    cars in saturated colours. The other cars drive along their lanes at seeded speeds with an
    IDM car-following model (they brake for the car ahead, the ego car included, and never change
    lanes). Motion is kinematic: the ego car follows a kinematic bicycle model (front-wheel
    steering, body centre as reference point) and every car is placed with
    ``resetBasePositionAndOrientation``; PyBullet gives the scene, collision queries and
    rendering (TinyRenderer, CPU).

    Six cameras ride on the ego car, 1.7 m above the road on the car's outline where each
    camera's heading leaves it, pitched 6 deg down, fovy 75 deg (neighbours overlap by ~15 deg):
    ``front`` (yaw 0), ``front_left`` (+60), ``front_right`` (-60), ``rear`` (180), ``rear_left``
    (+120), ``rear_right`` (-120), yaw relative to the car's heading, positive to the left.
    ``render()`` is their 2x3 grid (``camera_grid``: front row front_left, front, front_right;
    back row rear_left, rear, rear_right). Segmentation: each car is its own instance (``ego``,
    ``vehicle_0``, ...); static scenery shares one id per kind (``road``, ``lane_markings``,
    ``grass``, ``buildings``, ``trees``). ``expert_action()`` is lane keeping (pure pursuit on
    the nearest lane centre) with IDM car following.

    Two sensors for Transfer-style controls, off by default (no cost when off): ``lidar=True``
    casts a spinning LiDAR sweep from the ego car's roof (``lidar_rings`` x ``lidar_columns`` rays
    over ``lidar_elevation_deg``, range ``lidar_range``, one sweep per env step, PyBullet
    ``rayTestBatch`` against collision shapes plus the analytic road surface; ``lidar_scan()``);
    ``hdmap=True`` adds an ``hdmap`` control map per camera (road boundaries, edge lines, dashed
    lane dividers and the other cars' 3D boxes projected as lines, ``HDMAP_COLOURS``; ``hdmap()``).

    ## Action Space
    The action space is a `Box(-1, 1, (2,), float32)` (``action_layout``):

    | Num | Action       | Min | Max | Effect                                                          |
    |-----|--------------|-----|-----|-----------------------------------------------------------------|
    | 0   | steering     | -1  | 1   | front-wheel angle, x `max_steer` rad (+1 steers left)           |
    | 1   | acceleration | -1  | 1   | x `max_accel` m/s^2 (-1 brakes as hard); speed clipped to [0, `max_speed`] |

    An action outside the space, of another shape or with NaN raises a ``ValueError``.

    ## Observation Space
    A `Dict` of the six camera views, each `Box(0, 255, (height, width, 3), uint8)`, and
    ``ego``, `Box(-inf, inf, (6,), float32)` (``ego_state()``):

    | Num | Observation                                                      | Unit |
    |-----|------------------------------------------------------------------|------|
    | 0   | x along the road (the ego car starts at 0)                       | m    |
    | 1   | y (0 = road centre, + left)                                      | m    |
    | 2   | yaw (0 = along the road)                                         | rad  |
    | 3   | speed                                                            | m/s  |
    | 4   | lane offset: signed distance from the nearest lane centre, + left | m    |
    | 5   | index of the nearest lane (0 = rightmost)                        | -    |

    ## Rewards
    ***reward*** *= progress - lane_penalty * (lane_offset / (lane_width / 2))^2 - crash_penalty
    * crashed*, where *progress = dx / (max_speed * dt)* is the distance driven along the road
    this step as a fraction of the most possible (at most 1 a step) and *crashed* is a collision or
    leaving the road. ``info`` after ``reset`` and every ``step``: ``collision``, ``off_road``
    (bools), ``objects`` (pose and linear velocity of every car), after a step ``progress`` too,
    and, when ``maps`` is not empty, ``cameras`` (intrinsics, world-to-camera extrinsics) and
    ``maps`` (per camera); with ``hdmap`` on, ``maps[cam]["hdmap"]`` (HxWx3 uint8) and
    ``cameras`` always; with ``lidar`` on, ``lidar``: ``ranges`` (rings x columns float32 m, 0 =
    no return), ``points`` (rings x columns x 3 float32, world frame, NaN = no return),
    ``labels`` (segmentation ids hit, 0 = no return) and ``pose`` (4x4 LiDAR-to-world).

    ## Starting State
    Drawn from the reset seed: the ego car at x = 0 on the centre of a uniformly drawn lane,
    heading along the road, at a speed uniform in ``ego_speed_range`` (6-10 m/s); each other
    car at x uniform in ``spawn_range`` (-25 to 45 m from the ego car) in a uniform lane, at
    least ``min_spawn_gap`` (12 m) from every car in its lane (8 m more for a car ahead of the
    ego car in its lane), with a desired speed uniform in ``vehicle_speed_range`` (9-14 m/s) that it starts
    at; roadside buildings and trees at seeded places. ``reset(options=...)`` can fix the
    scenario instead: ``ego_lane`` (int), ``ego_speed`` (m/s, 0 to ``max_speed``),
    ``vehicles``: one ``(x, lane, speed)`` per other car (x in metres from the ego car; speed 0
    gives a parked car, a static obstacle); another option is a ``ValueError``.

    ## Episode End
    ### Termination
    On a collision (the ego car touches another car, ``info["collision"]``) or leaving the road
    (its centre crosses a road edge or passes ``road_end``, ``info["off_road"]``).

    ### Truncation
    The registered id truncates after 200 steps (20 s, ``max_episode_steps``); the env itself
    never truncates.

    ## Arguments
    Options come one way: ``DrivingGTEnv(config=None, *, render_mode="rgb_array", **overrides)``
    where ``config`` is a ``DrivingConfig`` (default: the registered id's) and every override is
    one of its fields; an unknown keyword is a ``ValueError`` naming it and the valid ones. The
    result is ``env.config``.

    ```python
    import gymnasium as gym
    env = gym.make("cosmos_sim/Driving-GT-v0", width=96, height=96, num_vehicles=8, maps="depth,seg")
    ```

    | Parameter             | Type               | Default            | Description                                     |
    |-----------------------|--------------------|--------------------|-------------------------------------------------|
    | `config`              | **DrivingConfig**  | `None`             | all settings at once; keyword options replace fields |
    | `render_mode`         | **str**            | `"rgb_array"`      | "rgb_array" (2x3 grid of the views) or None     |
    | `width`               | **int**            | `64`               | width of each camera view in pixels (at least 8) |
    | `height`              | **int**            | `64`               | height of each camera view in pixels (at least 8) |
    | `maps`                | **str or tuple**   | `None`             | control maps per camera in ``info``: subset of depth, seg, edges, blur |
    | `map_cameras`         | **str or tuple**   | `None`             | cameras of those maps, e.g. "front" (None: all); each camera's depth/seg is a render pass |
    | `num_vehicles`        | **int**            | `5`                | other cars on the road, 0-8                     |
    | `num_lanes`           | **int**            | `3`                | lanes, all driving towards +x (at least 1)      |
    | `lane_width`          | **float**          | `3.5`              | lane width (m)                                  |
    | `road_start`          | **float**          | `-100.0`           | x where the road begins (m)                     |
    | `road_end`            | **float**          | `600.0`            | x where the road ends (m); driving past it is off-road |
    | `dt`                  | **float**          | `0.1`              | seconds per env step                            |
    | `wheelbase`           | **float**          | `2.7`              | bicycle-model wheelbase (m)                     |
    | `max_steer`           | **float**          | `0.35`             | front-wheel angle at steering = 1 (rad)         |
    | `max_accel`           | **float**          | `5.0`              | acceleration at acceleration = 1 (m/s^2)        |
    | `max_speed`           | **float**          | `20.0`             | ego speed limit (m/s)                           |
    | `car_size`            | **tuple**          | `(4.4, 1.9, 1.5)`  | car length, width, height (m)                   |
    | `camera_height`       | **float**          | `1.7`              | camera height above the road (m)                |
    | `camera_mount_margin` | **float**          | `0.05`             | cameras sit this far outside the car's outline (m) |
    | `camera_pitch_deg`    | **float**          | `6.0`              | downward tilt of every camera (deg)             |
    | `camera_fovy_deg`     | **float**          | `75.0`             | field of view of every camera (deg)             |
    | `camera_far`          | **float**          | `150.0`            | far clipping plane (m)                          |
    | `vehicle_speed_range` | **tuple**          | `(9.0, 14.0)`      | desired speeds of the other cars (m/s), uniform |
    | `ego_speed_range`     | **tuple**          | `(6.0, 10.0)`      | initial ego speed (m/s), uniform                |
    | `spawn_range`         | **tuple**          | `(-25.0, 45.0)`    | x range of the other cars at reset, from the ego car (m) |
    | `min_spawn_gap`       | **float**          | `12.0`             | minimum centre distance of two cars in one lane at reset (m) |
    | `lane_penalty`        | **float**          | `0.1`              | weight of the squared normalised lane offset in the reward |
    | `crash_penalty`       | **float**          | `10.0`             | reward subtracted on collision or leaving the road |
    | `expert_cruise_speed` | **float**          | `12.0`             | speed the scripted expert drives at on a free lane (m/s) |
    | `lidar`               | **bool**           | `False`            | LiDAR sweep into ``info["lidar"]`` every reset and step |
    | `lidar_rings`         | **int**            | `32`               | LiDAR rings (vertical channels)                 |
    | `lidar_columns`       | **int**            | `360`              | rays per ring per sweep (360 / columns deg apart); one sweep per step |
    | `lidar_elevation_deg` | **tuple**          | `(-20.0, 5.0)`     | lowest and highest ring elevation (deg, + up)   |
    | `lidar_range`         | **float**          | `80.0`             | maximum range (m); farther is no return         |
    | `lidar_height`        | **float**          | `2.2`              | LiDAR height above the road (m), above the roof |
    | `hdmap`               | **bool**           | `False`            | ``hdmap`` control map per camera in ``info["maps"]`` |

    ## Version History
    * v0: Initial version.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}
    action_layout = ("steering", "acceleration")
    camera_grid = GRID  # how viewers lay out the six cameras (render(), export, demo)
    config_class = DrivingConfig

    def __init__(
        self, config: DrivingConfig | None = None, *, render_mode: str | None = "rgb_array", **overrides: Any
    ):
        config = resolve_config(self, config, overrides)
        cams = tuple(BulletCamera(n, config.camera_fovy_deg, 0.1, config.camera_far) for n in CAMERA_YAWS_DEG)
        super().__init__(
            cams, config.width, config.height, config.maps, render_mode, map_cameras=config.map_cameras
        )
        self.config = config
        views = {c: spaces.Box(0, 255, (self.height, self.width, 3), np.uint8) for c in self.cameras}
        views["ego"] = spaces.Box(-np.inf, np.inf, (6,), np.float32)
        self.observation_space = spaces.Dict(views)
        self.action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.lane_centres = (np.arange(config.num_lanes) - (config.num_lanes - 1) / 2) * config.lane_width
        self.road_half_width = config.num_lanes * config.lane_width / 2
        self.lane_dividers = self.lane_centres[:-1] + config.lane_width / 2  # y of the dashed lines
        # the road's x extent: whole tiles from road_start on, the last one reaching past road_end
        n_tiles = len(np.arange(config.road_start, config.road_end, ROAD_TILE))
        self.road = RoadGeometry(
            x_range=(config.road_start, config.road_start + n_tiles * ROAD_TILE),
            half_width=self.road_half_width,
            dividers=tuple(float(y) for y in self.lane_dividers),
            edge_inset=EDGE_INSET,
            mark_half_width=MARK_HALF_WIDTH,
            dash=DASH,
            dash_period=DASH_PERIOD,
            road_z=ROAD_Z,
            mark_z=MARK_Z,
            grass=(config.road_start - GRASS_MARGIN, config.road_end + GRASS_MARGIN, GRASS_HALF_WIDTH),
        )
        self._lidar_dirs = (
            lidar_directions(config.lidar_rings, config.lidar_columns, config.lidar_elevation_deg)
            if config.lidar
            else None
        )
        # kinematic state: ego [x, y, yaw, speed]; other cars per row [x, lane, speed, desired speed]
        self._ego = np.zeros(4)
        self._cars = np.zeros((self.config.num_vehicles, 4))
        self._ego_uid = -1
        self._car_uids: list[int] = []
        self._collision = False
        self._prev_x = 0.0  # ego x before the last step, for the progress reward

    # ---- scene -------------------------------------------------------------------------------
    def _build_scene(self, rng: np.random.Generator, options: dict | None) -> None:
        """Scenery and cars; ``options`` may fix the scenario (see ``reset``'s docs in the class)."""
        options = options or {}
        unknown = set(options) - {"ego_lane", "ego_speed", "vehicles"}
        if unknown:
            raise ValueError(f"unknown reset option(s) {sorted(unknown)}; use ego_lane, ego_speed, vehicles")
        self._build_static(rng)
        cfg = self.config
        lane = int(options.get("ego_lane", rng.integers(cfg.num_lanes)))
        if not 0 <= lane < cfg.num_lanes:
            raise ValueError(f"ego_lane={lane} out of range; use 0..{cfg.num_lanes - 1}")
        speed = float(options.get("ego_speed", rng.uniform(*cfg.ego_speed_range)))
        if not 0 <= speed <= cfg.max_speed:
            raise ValueError(f"ego_speed={speed} out of range; use 0..{cfg.max_speed} m/s")
        self._ego[:] = (0.0, self.lane_centres[lane], 0.0, speed)
        self._ego_uid = self._car_body((0.95, 0.95, 0.95))
        self._add_instance("ego", self._ego_uid, track=True)
        cars = options.get("vehicles")
        if cars is None:
            cars = self._sample_traffic(rng, lane)
        elif len(cars) != self.config.num_vehicles or any(not 0 <= int(c[1]) < cfg.num_lanes for c in cars):
            raise ValueError(
                f"options['vehicles'] must list {self.config.num_vehicles} (x, lane, speed) tuples with "
                f"lanes in 0..{cfg.num_lanes - 1}, got {cars}"
            )
        self._car_uids = []
        for i, (x, ln, v0) in enumerate(cars):
            self._cars[i] = (x, ln, v0, v0)
            uid = self._car_body(VEHICLE_COLOURS[i])
            self._add_instance(f"vehicle_{i}", uid, track=True)
            self._car_uids.append(uid)
        self._collision = False
        self._prev_x = 0.0
        self._place_cars()

    def _sample_traffic(self, rng: np.random.Generator, ego_lane: int) -> list[tuple[float, int, float]]:
        """(x, lane, speed) of each other car: seeded, apart from each other and from the ego car."""
        cfg = self.config
        placed, cars = [(0.0, ego_lane)], []
        for _ in range(self.config.num_vehicles):
            for _ in range(1000):
                x, ln = rng.uniform(*cfg.spawn_range), int(rng.integers(cfg.num_lanes))
                # a car ahead of the ego in its lane also needs braking room
                gap = cfg.min_spawn_gap + (8.0 if ln == ego_lane and x > 0 else 0.0)
                if all(ln != l2 or abs(x - x2) >= gap for x2, l2 in placed):
                    break
            else:
                raise RuntimeError("could not place the cars; lower num_vehicles or widen spawn_range")
            placed.append((x, ln))
            cars.append((x, ln, rng.uniform(*cfg.vehicle_speed_range)))
        return cars

    def _build_static(self, rng: np.random.Generator) -> None:
        """Grass, road tiles, lane markings and roadside buildings/trees (positions seeded)."""
        cfg, c = self.config, self.client
        # grass beside the road only (no overdraw under the road)
        start, end, w, far, m = (
            cfg.road_start,
            cfg.road_end,
            self.road_half_width,
            GRASS_HALF_WIDTH,
            GRASS_MARGIN,
        )
        grass = self._flat_rects(
            [
                (start, w, end, far),
                (start, -far, end, -w),
                (start - m, -far, start, far),
                (end, -far, end + m, far),
            ],
            (0.35, 0.6, 0.25, 1),
        )
        self._add_instance("grass", c.createMultiBody(0, -1, grass, basePosition=[0, 0, 0]))
        tile, hw = ROAD_TILE, MARK_HALF_WIDTH  # road and markings in pieces, so each mesh stays small
        for x0 in np.arange(cfg.road_start, cfg.road_end, tile):
            road = self._flat_rects([(0.0, -w, tile, w)], (0.32, 0.32, 0.34, 1))
            self._add_instance("road", c.createMultiBody(0, -1, road, basePosition=[x0, 0, ROAD_Z]))
            # edge lines (solid) and lane dividers (dashed), 15 cm wide, one body per tile
            rects = [(0.0, s * (w - EDGE_INSET) - hw, tile, s * (w - EDGE_INSET) + hw) for s in (-1, 1)]
            for y in self.lane_dividers:
                rects += [(xd, y - hw, xd + DASH, y + hw) for xd in np.arange(0, tile, DASH_PERIOD)]
            marks = self._flat_rects(rects, (0.97, 0.97, 0.97, 1))
            self._add_instance("lane_markings", c.createMultiBody(0, -1, marks, basePosition=[x0, 0, MARK_Z]))
        # roadside: alternate buildings and trees on both sides at seeded distances
        for side in (-1, 1):
            x = cfg.road_start + rng.uniform(0, 10)
            while x < cfg.road_end:
                y = side * (w + rng.uniform(4.0, 9.0))
                if rng.random() < 0.5:
                    hx, hy, hz = rng.uniform(3, 6), rng.uniform(2.5, 4), rng.uniform(3, 9)
                    col = (*rng.uniform(0.45, 0.9, 3) * np.array([1.0, 0.85, 0.7]), 1.0)
                    uid = self._box([hx, hy, hz], [x, y + side * hy, hz], col)
                    self._add_instance("buildings", uid)
                else:
                    self._add_instance("trees", self._tree([x, y, 0.0], rng.uniform(3.5, 6.0)))
                x += rng.uniform(12, 24)

    def _tree(self, pos, height: float) -> int:
        """A stylised tree: trunk and two stacked canopy boxes (boxes: spheres cost TinyRenderer ~30 %)."""
        w = height * 0.22
        boxes = [
            ([0.15, 0.15, height * 0.2], [0, 0, height * 0.2], [0.45, 0.3, 0.15, 1]),
            ([w, w, height * 0.2], [0, 0, height * 0.55], [0.1, 0.45, 0.12, 1]),
            ([w * 0.6, w * 0.6, height * 0.12], [0, 0, height * 0.85], [0.15, 0.55, 0.15, 1]),
        ]
        vis = self.client.createVisualShapeArray(
            shapeTypes=[pybullet.GEOM_BOX] * 3,
            halfExtents=[b[0] for b in boxes],
            visualFramePositions=[b[1] for b in boxes],
            rgbaColors=[b[2] for b in boxes],
        )
        col = self.client.createCollisionShape(
            pybullet.GEOM_BOX, halfExtents=[w, w, height / 2], collisionFramePosition=[0, 0, height / 2]
        )
        return self.client.createMultiBody(0, col, vis, basePosition=list(pos))

    def _car_body(self, rgb) -> int:
        """A box car (body, darker cabin, four wheels) with its frame on the ground at its centre."""
        ln, wd, ht = self.config.car_size
        r = 0.35
        wheel_q = self.client.getQuaternionFromEuler([np.pi / 2, 0, 0])
        glass = [0.35 * rgb[0] + 0.1, 0.35 * rgb[1] + 0.1, 0.35 * rgb[2] + 0.15, 1]
        shapes = [pybullet.GEOM_BOX, pybullet.GEOM_BOX] + [pybullet.GEOM_CYLINDER] * 4
        wheels = [[sx * ln * 0.3, sy * (wd / 2 - 0.1), r] for sx in (-1, 1) for sy in (-1, 1)]
        vis = self.client.createVisualShapeArray(
            shapeTypes=shapes,
            halfExtents=[[ln / 2, wd / 2, (ht * 0.55 - 0.25) / 2], [ln * 0.27, wd / 2 - 0.08, ht * 0.2]]
            + [[0, 0, 0]] * 4,
            radii=[0, 0] + [r] * 4,
            lengths=[0, 0] + [0.25] * 4,
            visualFramePositions=[
                [0, 0, 0.25 + (ht * 0.55 - 0.25) / 2],
                [-ln * 0.05, 0, ht * 0.55 + ht * 0.2],
            ]
            + wheels,
            visualFrameOrientations=[[0, 0, 0, 1]] * 2 + [wheel_q] * 4,
            rgbaColors=[[*rgb, 1], glass] + [[0.08, 0.08, 0.08, 1]] * 4,
        )
        col = self.client.createCollisionShape(
            pybullet.GEOM_BOX, halfExtents=[ln / 2, wd / 2, ht / 2], collisionFramePosition=[0, 0, ht / 2]
        )
        return self.client.createMultiBody(0, col, vis, basePosition=[0, 0, 0])

    def _place_cars(self) -> None:
        c = self.client
        x, y, yaw, _ = self._ego
        c.resetBasePositionAndOrientation(self._ego_uid, [x, y, 0], c.getQuaternionFromEuler([0, 0, yaw]))
        for uid, (cx, ln, _, _) in zip(self._car_uids, self._cars, strict=True):
            c.resetBasePositionAndOrientation(uid, [cx, self.lane_centres[int(ln)], 0], [0, 0, 0, 1])

    # ---- dynamics ----------------------------------------------------------------------------
    def _apply_action(self, action: np.ndarray) -> None:
        cfg = self.config
        x, y, yaw, v = self._ego
        self._prev_x = x
        steer = float(action[0]) * cfg.max_steer
        x += v * np.cos(yaw) * cfg.dt
        y += v * np.sin(yaw) * cfg.dt
        yaw = (yaw + v / cfg.wheelbase * np.tan(steer) * cfg.dt + np.pi) % (2 * np.pi) - np.pi
        v = float(np.clip(v + float(action[1]) * cfg.max_accel * cfg.dt, 0.0, cfg.max_speed))
        self._step_traffic()
        self._ego[:] = (x, y, yaw, v)
        self._place_cars()
        self._collision = any(self.client.getClosestPoints(self._ego_uid, uid, 0.0) for uid in self._car_uids)

    def _step_traffic(self) -> None:
        """IDM car following for the other cars, leaders from the state before this step."""
        cfg = self.config
        ln_len = cfg.car_size[0]
        new = self._cars.copy()
        for i, (x, ln, v, v0) in enumerate(self._cars):
            gap, dv = self._leader(x, self.lane_centres[int(ln)], v, exclude=i)
            a = float(np.clip(_idm_accel(v, v0, gap - ln_len, dv), -8.0, 2.0))
            v_new = max(0.0, v + a * cfg.dt)
            new[i, 0] = x + 0.5 * (v + v_new) * cfg.dt
            new[i, 2] = v_new
        self._cars = new

    def _leader(self, x: float, lane_y: float, v: float, exclude: int = -1) -> tuple[float, float]:
        """(centre distance, v - v_leader) to the nearest car ahead that overlaps the lane at
        ``lane_y`` (the ego car included); (1e3, 0) on a free lane."""
        cfg = self.config
        reach = (cfg.lane_width + cfg.car_size[1]) / 2
        best, dv = 1e3, 0.0
        ex, ey, eyaw, ev = self._ego
        if exclude >= 0 and abs(ey - lane_y) < reach and 0 < ex - x < best:
            best, dv = ex - x, v - ev * np.cos(eyaw)
        for j, (cx, cln, cv, _) in enumerate(self._cars):
            if j != exclude and abs(self.lane_centres[int(cln)] - lane_y) < reach and 0 < cx - x < best:
                best, dv = cx - x, v - cv
        return best, dv

    # ---- reward, observation -----------------------------------------------------------------
    def _lane(self) -> tuple[int, float]:
        """(nearest lane index, signed offset from its centre) of the ego car."""
        y = self._ego[1]
        lane = int(np.argmin(np.abs(self.lane_centres - y)))
        return lane, float(y - self.lane_centres[lane])

    def _reward(self) -> tuple[float, bool, dict[str, Any]]:
        cfg = self.config
        x, y = self._ego[0], self._ego[1]
        lane, offset = self._lane()
        off_road = bool(abs(y) > self.road_half_width or x > cfg.road_end)
        progress = (x - self._prev_x) / (cfg.max_speed * cfg.dt)
        reward = progress - cfg.lane_penalty * (offset / (cfg.lane_width / 2)) ** 2
        crashed = self._collision or off_road
        if crashed:
            reward -= cfg.crash_penalty
        return reward, crashed, {"collision": self._collision, "off_road": off_road, "progress": progress}

    def _observation(self) -> dict[str, np.ndarray]:
        obs = {c: self.rgb(c) for c in self.cameras}
        obs["ego"] = self.ego_state()
        return obs

    def ego_state(self) -> np.ndarray:
        """[x, y, yaw, speed, lane_offset, lane_index] (float32) of the ego car."""
        lane, offset = self._lane()
        return np.array([*self._ego, offset, lane], dtype=np.float32)

    def _info(self, extra: dict[str, Any]) -> dict[str, Any]:
        extra = {"collision": False, "off_road": False, **extra}
        info = super()._info(extra)
        if self.config.hdmap:
            info.setdefault("cameras", {c: self.camera_params(c).as_dict() for c in self.cameras})
            maps = info.setdefault("maps", {c: {} for c in self.cameras})
            for c in self.cameras:
                maps[c]["hdmap"] = self.hdmap(c)
        if self.config.lidar:
            info["lidar"] = self.lidar_scan()
        return info

    def render(self):
        if self.render_mode is None:
            return None
        return np.concatenate([np.concatenate([self.rgb(c) for c in row], axis=1) for row in GRID], axis=0)

    # ---- cameras -----------------------------------------------------------------------------
    def _camera_pose(self, camera: str) -> tuple[np.ndarray, np.ndarray]:
        x, y, yaw, _ = self._ego
        rel = np.deg2rad(CAMERA_YAWS_DEG[camera])
        # mount on the car's outline (plus a margin) where the camera's heading leaves it, so no
        # view is blocked by the ego car's own body
        half = np.array(self.config.car_size[:2]) / 2 + self.config.camera_mount_margin
        d = np.array([np.cos(rel), np.sin(rel)])
        local = d * np.min(half / np.maximum(np.abs(d), 1e-9))
        c, s = np.cos(yaw), np.sin(yaw)
        pos = np.array(
            [x + c * local[0] - s * local[1], y + s * local[0] + c * local[1], self.config.camera_height]
        )
        return pos, yaw_pitch_rotation(yaw + rel, np.deg2rad(self.config.camera_pitch_deg))

    def _linvel(self, name: str, uid: int) -> np.ndarray:
        if name == "ego":
            _, _, yaw, v = self._ego
            return np.array([v * np.cos(yaw), v * np.sin(yaw), 0.0])
        return np.array([self._cars[int(name.split("_")[1]), 2], 0.0, 0.0])

    # ---- LiDAR and HD map --------------------------------------------------------------------
    def lidar_pose(self) -> np.ndarray:
        """4x4 LiDAR-to-world transform now: the sensor ``lidar_height`` above the ego car's centre,
        x along its heading, y to its left, z up."""
        x, y, yaw, _ = self._ego
        pose = np.eye(4)
        pose[:2, :2] = [[np.cos(yaw), -np.sin(yaw)], [np.sin(yaw), np.cos(yaw)]]
        pose[:3, 3] = (x, y, self.config.lidar_height)
        return pose

    def lidar_scan(self) -> dict[str, np.ndarray]:
        """One LiDAR sweep at the current state (what ``info["lidar"]`` holds when ``lidar`` is on).

        Rays (``lidar_directions``: row 0 the highest ring, the front in the middle column) are cast
        with PyBullet's ``rayTestBatch`` against the bodies' collision shapes (cars and buildings are
        their boxes, a tree its trunk-and-canopy box) and met analytically with the ground (the road
        top, its painted lines and the grass, which have no collision shape). Rays that meet the ego
        car's own body, or nothing within ``lidar_range``, give no return.

        Returns: ``ranges`` (rings, columns) float32 metres from the sensor, 0 = no return;
        ``points`` (rings, columns, 3) float32 world coordinates, NaN = no return; ``labels``
        (rings, columns) int32 segmentation ids of what each ray hit (``segmentation_labels``, 0 =
        no return); ``pose`` 4x4 LiDAR-to-world (``lidar_pose``).
        """
        cfg = self.config
        if self._lidar_dirs is None:
            self._lidar_dirs = lidar_directions(cfg.lidar_rings, cfg.lidar_columns, cfg.lidar_elevation_deg)
        pose = self.lidar_pose()
        shape = self._lidar_dirs.shape[:2]
        dirs = self._lidar_dirs.reshape(-1, 3) @ pose[:3, :3].T
        origin = pose[:3, 3]
        ends = (origin + dirs * cfg.lidar_range).tolist()
        hits: list = []
        for i in range(0, len(ends), LIDAR_BATCH):
            part = ends[i : i + LIDAR_BATCH]
            hits += self.client.rayTestBatch([origin.tolist()] * len(part), part, numThreads=1)
        uid = np.array([h[0] for h in hits], dtype=np.int64)
        t_body = np.where(uid >= 0, np.array([h[2] for h in hits]) * cfg.lidar_range, np.inf)
        t_ground, surface = self.road.ground_hits(origin, dirs)
        dist = np.minimum(t_body, t_ground)
        ground = t_ground <= t_body
        ok = np.isfinite(dist) & (dist <= cfg.lidar_range) & ~(~ground & (uid == self._ego_uid))
        ids = {n: i for i, n in self.segmentation_labels.items()}
        surface_ids = np.array([ids["grass"], ids["road"], ids["lane_markings"]], dtype=np.int32)
        body_ids = self._uid_instance[np.clip(uid, 0, len(self._uid_instance) - 1)]
        labels = np.where(ground, surface_ids[surface], body_ids)
        return {
            "ranges": np.where(ok, dist, 0.0).astype(np.float32).reshape(shape),
            "points": np.where(ok[:, None], origin + dirs * np.where(ok, dist, 0.0)[:, None], np.nan)
            .astype(np.float32)
            .reshape(*shape, 3),
            "labels": np.where(ok, labels, 0).astype(np.int32).reshape(shape),
            "pose": pose,
        }

    def hdmap(self, camera: str | None = None) -> np.ndarray:
        """The HD-map control of ``camera`` now: HxWx3 uint8, black where nothing is drawn, with the
        road boundaries, solid edge lines and dashed lane dividers within ``camera_far`` of the ego
        car and the other cars' 3D boxes (``car_size``; front face in its own colour) projected as
        1-pixel lines in ``HDMAP_COLOURS``, without occlusion (what ``info["maps"][cam]["hdmap"]``
        holds when ``hdmap`` is on)."""
        cfg = self.config
        camera = camera or self.cameras[0]
        params = self.camera_params(camera)
        k, e, near = params.intrinsics, params.extrinsics, self._camera_specs[camera].near
        image = np.zeros((self.height, self.width, 3), np.uint8)
        x = float(self._ego[0])
        for kind, segments in self.road.line_segments(x - cfg.camera_far, x + cfg.camera_far).items():
            draw_segments(image, segments, k, e, HDMAP_COLOURS[kind], near=near)
        for cx, lane, _, _ in self._cars:
            edges, front = box_edges([cx, self.lane_centres[int(lane)], 0.0], 0.0, cfg.car_size)
            draw_segments(image, edges[~front], k, e, HDMAP_COLOURS["vehicle"], near=near)
            draw_segments(image, edges[front], k, e, HDMAP_COLOURS["vehicle_front"], near=near)
        return image

    # ---- expert ------------------------------------------------------------------------------
    def expert_action(self) -> np.ndarray:
        """Lane keeping (pure pursuit on the nearest lane centre) and IDM car following."""
        cfg = self.config
        x, y, yaw, v = self._ego
        lane, _ = self._lane()
        lookahead = max(6.0, 0.8 * v)
        alpha = np.arctan2(self.lane_centres[lane] - y, lookahead) - yaw
        steer = np.arctan(2 * cfg.wheelbase * np.sin(alpha) / lookahead)
        gap, dv = self._leader(x, self.lane_centres[lane], v)
        # bumper-to-bumper gap; a car alongside (centre behind ours) is not a leader
        a = _idm_accel(v, cfg.expert_cruise_speed, gap - cfg.car_size[0], dv, a_max=2.5, b=3.0)
        return np.clip([steer / cfg.max_steer, a / cfg.max_accel], -1.0, 1.0).astype(np.float32)
