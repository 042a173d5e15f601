"""MuJoCo rigid-body physics videos: nine seeded scenarios for physics-alignment and 3D-consistency benchmarks.

Registered as ``cosmos_sim/Physics-<Scenario>-GT-v0`` (see ``PHYSICS_SCENARIOS`` in
``envs/__init__.py``), one id per scenario key:

    free_fall       a ball and a tumbling block dropped (or tossed up) side by side
    inclined_plane  a ball rolls and a block slides down a tilted ramp
    bounce          a ball bouncing across the floor with a sampled restitution
    collision       a ball sliding on a low-friction floor hits a resting ball
    stack_topple    a staircase stack of four blocks whose overhang makes it topple
    dominoes        a row of five dominoes, the first one pushed
    pendulum        a bob on a rod swinging on a hinge (a physical pendulum, no damping)
    projectile      a ball launched at an angle that lands and rolls to a stop
    camera_orbit    a STATIC scene (five objects on a checker floor) seen by a camera circling it

Every scene shares one template (plain floor, plain sky, headlight, a fixed ``main`` camera
per scenario); a scenario only adds its bodies and says how to sample an episode.

``camera_orbit`` (the 3D-consistency scene) departs from that template in two ways: its floor
has a checker texture (feature points for matching; every other scenario keeps the plain floor)
and its ``main`` camera sits on a mocap body that moves every step along a seeded circle around
the scene centre (radius, height, start azimuth and a signed 2-4 degree azimuth step per frame,
so consecutive frames overlap strongly), always looking at the same point. The objects are
jointless bodies (exactly at rest; their seeded sizes, positions and yaw are set in the model
each reset), so ``info["objects"]`` lists them with zero velocity. ``info["cameras"]["main"]``
and the depth/seg maps follow the camera: they are those of the current step's pose.
``info["physics"]`` records the orbit (``"orbit/radius"``, ``"orbit/height"``,
``"orbit/start_deg"``, ``"orbit/step_deg"``, ``"orbit/target_z"``); the scene has no mass,
friction or restitution, so a perturbation is accepted and changes nothing (a static scene's
physical variance is zero).

Episodes. There is no control: the action space is a one-dimensional ``Box(-1, 1, (1,))``
whose value is checked and then ignored (``action_layout == ("noop",)``). An empty
``Box(-1, 1, (0,))`` also passes ``check_env`` and ``SyncVectorEnv`` (checked), but the 1-D
no-op keeps the shared tooling uniform (trajectory store action arrays, the registry's
out-of-range action check, random policies). ``terminated`` is always False;
the registered ids truncate after ``PHYSICS_EPISODE_STEPS`` steps (``max_episode_steps``).
Observations are the ``main`` camera's RGB, HxWx3 uint8, at ``fps`` frames per second.

Initial conditions (positions, velocities, masses, friction and restitution where it applies)
are drawn from the reset seed within ranges that keep the event in view for the whole episode.
``info["physics"]`` at reset records the physical parameters actually used (floats):
``"<body>/mass"`` (kg), ``"<body>/friction"`` (sliding), ``"<body>/rolling_friction"`` (m),
``"<body>/restitution"`` (normal coefficient of restitution against the floor and, between two
bodies that both have one, roughly their mean), plus scenario geometry (``"ramp/angle_deg"``,
``"rod/length"``, ...) and ``"gravity"``.

Colours. ``colours="fixed"`` (the default) keeps every object's scenario colour; ``colours="random"``
gives the coloured objects (not the grey props) distinct colours of ``PALETTE`` (red, blue, yellow, green,
orange, purple) from their own random stream of the episode, so the initial conditions stay those of the
seed; ``env.unwrapped.object_colours`` names them (the captions of ``envs/captions.py`` read it).

Perturbation ("two takes" of one physical event)::

    env.reset(seed=s, options={"perturb": 0.05, "take": 1})

gives exactly the initial positions and velocities of ``reset(seed=s)`` but multiplies every
mass, friction and restitution by its own factor drawn uniformly from ``[1 - p, 1 + p]``. The
factors come from a separate random stream keyed by the episode (seed) and ``take`` (default
0), so takes 0 and 1 of the same seed are two independent perturbations and each take is
reproducible. Restitution is capped at ``MAX_RESTITUTION``. Geometry is never perturbed.

Contacts. Moving objects carry ``priority="1"`` so a contact with the floor or a prop uses the
object's own friction and restitution. Restitution ``e`` is a damped contact spring with
stiffness ``contact_stiffness`` (1/s^2) and damping ``2 * zeta * sqrt(stiffness)``, where
``zeta = -ln(e) / sqrt(pi^2 + ln(e)^2)`` is the damping ratio whose half-cycle loses a factor
``e`` of the speed (measured bounce-height ratios match ``e**2`` within a few percent).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import mujoco
import numpy as np
from gymnasium import spaces

from cosmos_sim.envs import PHYSICS_EPISODE_STEPS
from cosmos_sim.envs.base import GTConfig, resolve_config
from cosmos_sim.envs.mujoco_base import MujocoGTEnv

GRAVITY = 9.81
MAX_RESTITUTION = 0.98
MAX_PERTURB = 0.5

# Distinct, saturated colours that stay apart at 64x64 against the grey floor and pale sky.
RED, BLUE, YELLOW = "0.86 0.14 0.12 1", "0.13 0.36 0.88 1", "0.96 0.78 0.08 1"
GREEN, ORANGE, PURPLE = "0.12 0.66 0.24 1", "0.96 0.48 0.08 1", "0.56 0.22 0.78 1"
PROP = "0.32 0.34 0.38 1"  # static props (ramp, pendulum support): dark grey
#: Colour name -> rgba of the objects' palette (``colours="random"`` draws from it; captions name them).
PALETTE: Mapping[str, str] = MappingProxyType(
    {"red": RED, "blue": BLUE, "yellow": YELLOW, "green": GREEN, "orange": ORANGE, "purple": PURPLE}
)
COLOUR_MODES = ("fixed", "random")
CAMERA_RIG = "camera_rig"  # mocap body carrying a moving camera


@dataclass(frozen=True)
class PhysicsConfig(GTConfig):
    """Settings shared by every physics scenario: ``GTConfig``'s image size and control maps, then
    frame rate, integration and rendering."""

    fps: int = 20
    """Frames (env steps) per simulated second."""
    timestep: float = 0.002
    """MuJoCo integration step in seconds; ``1 / (fps * timestep)`` must be a whole number."""
    episode_steps: int = PHYSICS_EPISODE_STEPS
    """Video length the initial-condition ranges are designed for (the ids' max_episode_steps)."""
    contact_stiffness: float = 3e4
    """Contact spring stiffness (1/s^2) for bodies with a restitution; ~2 cm penetration at 4 m/s."""
    antialias_samples: int = 4
    """MSAA samples of the RGB render; 0 renders ~3x faster but with jagged edges at 64x64."""
    colours: str = "fixed"
    """"fixed": each object keeps its scenario colour; "random": the objects get distinct palette colours
    (``PALETTE``) drawn from the episode seed (initial conditions unchanged), so captions can name them."""

    def __post_init__(self):
        super().__post_init__()
        if self.colours not in COLOUR_MODES:
            raise ValueError(f"colours={self.colours!r} must be one of {COLOUR_MODES}; e.g. colours='random'")
        if (
            self.fps <= 0
            or self.timestep <= 0
            or abs(self.frame_skip * self.fps * self.timestep - 1.0) > 1e-6
        ):
            raise ValueError(
                f"fps={self.fps} and timestep={self.timestep} must give a whole number of physics "
                "steps per frame (1 / (fps * timestep)); e.g. fps=20, timestep=0.002"
            )

    @property
    def frame_skip(self) -> int:
        """Physics steps per env step."""
        return round(1.0 / (self.fps * self.timestep))


def default_config() -> PhysicsConfig:
    """The configuration the registered ``cosmos_sim/Physics-*-GT-v0`` ids use."""
    return PhysicsConfig()


# ---- scenario description --------------------------------------------------------------------
@dataclass(frozen=True)
class CameraSpec:
    """A fixed camera looking from ``eye`` at ``target``."""

    eye: tuple[float, float, float]
    """Camera position (m)."""
    target: tuple[float, float, float]
    """Point at the image centre (m)."""
    fovy: float = 45.0
    """Vertical field of view (degrees)."""
    moving: bool = False
    """Put the camera on a mocap body (``CAMERA_RIG``) that the episode moves every step."""

    def xml(self, name: str = "main") -> str:
        eye = np.asarray(self.eye, float)
        right, up, _ = _look_at_axes(eye, self.target)
        if self.moving:  # the rig carries the pose; the camera is at the rig's origin, unrotated
            return (
                f'<body name="{CAMERA_RIG}" mocap="true" pos="{_vec(eye)}" xyaxes="{_vec(right)} {_vec(up)}">'
                f'<camera name="{name}" fovy="{self.fovy}"/></body>'
            )
        return (
            f'<camera name="{name}" pos="{_vec(eye)}" xyaxes="{_vec(right)} {_vec(up)}" fovy="{self.fovy}"/>'
        )


def _look_at_axes(eye, target) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(right, up, forward) unit vectors of a level camera at ``eye`` looking at ``target``."""
    eye, target = np.asarray(eye, float), np.asarray(target, float)
    fwd = (target - eye) / np.linalg.norm(target - eye)
    right = np.cross(fwd, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, fwd)
    return right, up, fwd


@dataclass(frozen=True)
class CameraOrbit:
    """A camera circling the vertical axis through ``target`` at a fixed radius and height."""

    target: tuple[float, float, float]
    """Point the camera looks at every step (m); the orbit's axis passes through it."""
    radius: float
    """Horizontal distance from the axis (m)."""
    height: float
    """Camera height above the floor (m)."""
    start_deg: float
    """Azimuth at step 0 (degrees, from +x towards +y)."""
    step_deg: float
    """Signed azimuth change per env step (degrees; positive is counter-clockwise seen from above)."""

    def eye(self, step: int) -> np.ndarray:
        """Camera position after ``step`` env steps."""
        a = np.deg2rad(self.start_deg + step * self.step_deg)
        return np.array(
            [self.target[0] + self.radius * np.cos(a), self.target[1] + self.radius * np.sin(a), self.height]
        )

    def pose(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        """(position, quat wxyz) of the camera rig after ``step`` env steps (MuJoCo camera axes)."""
        eye = self.eye(step)
        right, up, fwd = _look_at_axes(eye, self.target)
        quat = np.zeros(4)
        mujoco.mju_mat2Quat(quat, np.column_stack([right, up, -fwd]).ravel())
        return eye, quat


@dataclass(frozen=True)
class InitialState:
    """One episode's sampled initial condition and physical parameters."""

    joints: Mapping[str, tuple[np.ndarray, np.ndarray]]
    """Joint name -> (qpos, qvel) it starts with."""
    params: Mapping[str, float]
    """Perturbable parameters: ``"<body>/mass"``, ``/friction``, ``/rolling_friction``, ``/restitution``."""
    geometry: Mapping[str, float] = field(default_factory=dict)
    """Other recorded parameters (never perturbed), e.g. the ramp angle."""
    static_poses: Mapping[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    """Static geom name -> (pos, quat wxyz) placed for this episode (the ramp)."""
    body_poses: Mapping[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    """Jointless body name -> (pos, quat wxyz) placed for this episode (camera_orbit's objects)."""
    geom_sizes: Mapping[str, np.ndarray] = field(default_factory=dict)
    """Geom name -> MuJoCo size vector for this episode (seeded dimensions of static objects)."""
    camera_orbit: CameraOrbit | None = None
    """Path of the ``main`` camera when the scenario's camera is ``moving``; None for a fixed camera."""


@dataclass(frozen=True)
class Scenario:
    """One physics scenario: what it adds to the shared scene and how it samples an episode."""

    bodies: str
    """MJCF of its bodies and props, inserted into the template's worldbody."""
    instances: tuple[str, ...]
    """Segmentation instances besides the floor: moving bodies first, then props."""
    camera: CameraSpec
    """The fixed ``main`` camera framing the event."""
    sample: Callable[[np.random.Generator], InitialState]
    """Draws an episode's initial condition from the reset RNG."""
    textured_floor: bool = False
    """Checker-textured floor (feature points for matching) instead of the plain grey one."""


# ---- MJCF helpers ----------------------------------------------------------------------------
def _vec(v) -> str:
    return " ".join(f"{float(x):.6g}" for x in np.ravel(v))


def _free_body(name: str, geom: str) -> str:
    """A body with a free joint (same name) holding one geom; moving objects win contact mixing."""
    return f'<body name="{name}"><freejoint name="{name}"/>{geom}</body>'


def _sphere(name: str, radius: float, rgba: str, extra: str = "") -> str:
    return _free_body(
        name, f'<geom name="{name}" type="sphere" size="{radius}" rgba="{rgba}" priority="1" {extra}/>'
    )


def _box(name: str, half: tuple[float, float, float], rgba: str) -> str:
    return _free_body(
        name, f'<geom name="{name}" type="box" size="{_vec(half)}" rgba="{rgba}" priority="1"/>'
    )


def _scene_xml(scenario: Scenario, cfg: PhysicsConfig, key: str) -> str:
    """The shared template: plain floor and sky, soft headlight, no shadows, the main camera."""
    floor_asset, floor_look = "", 'size="30 30 0.1" rgba="0.66 0.66 0.64 1"'
    if scenario.textured_floor:  # 0.25 m squares: several per object footprint, resolvable at 64x64
        floor_asset = (
            '<texture name="checker" type="2d" builtin="checker" rgb1="0.78 0.78 0.75" '
            'rgb2="0.5 0.5 0.48" width="64" height="64"/>'
            '<material name="checker" texture="checker" texrepeat="2 2" texuniform="true"/>'
        )
        # Render the plane as 2 m quads, not 0.1 m ones: 7x faster on llvmpipe, mean change 0.3/255.
        floor_look = 'size="30 30 2" material="checker"'
    return f"""
<mujoco model="physics_{key}">
  <option timestep="{cfg.timestep}" gravity="0 0 {-GRAVITY}"/>
  <visual>
    <headlight ambient="0.45 0.45 0.45" diffuse="0.55 0.55 0.55" specular="0.05 0.05 0.05"/>
    <quality shadowsize="0" offsamples="{cfg.antialias_samples}"/>
    <global offwidth="{max(cfg.width, 64)}" offheight="{max(cfg.height, 64)}"/>
  </visual>
  <asset>
    <texture name="sky" type="skybox" builtin="flat" rgb1="0.9 0.92 0.95" rgb2="0.9 0.92 0.95" width="8" height="8"/>
    {floor_asset}
  </asset>
  <worldbody>
    <light directional="true" pos="0 0 5" dir="0.3 0.5 -1" diffuse="0.35 0.35 0.35" castshadow="false"/>
    <geom name="floor" type="plane" {floor_look}/>
    {scenario.camera.xml()}
    {scenario.bodies}
  </worldbody>
</mujoco>"""


# ---- sampling helpers ------------------------------------------------------------------------
def _quat_axis_angle(axis, angle: float) -> np.ndarray:
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    return np.concatenate([[np.cos(angle / 2)], np.sin(angle / 2) * axis])


def _random_quat(rng: np.random.Generator) -> np.ndarray:
    q = rng.normal(size=4)
    return q / np.linalg.norm(q)


def _free(pos, quat=(1.0, 0.0, 0.0, 0.0), linvel=(0.0, 0.0, 0.0), angvel=(0.0, 0.0, 0.0)):
    """(qpos, qvel) of a free joint: linear velocity in world axes, angular in body axes."""
    return np.concatenate([pos, quat]).astype(float), np.concatenate([linvel, angvel]).astype(float)


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _sign(rng: np.random.Generator) -> float:
    return float(rng.choice([-1.0, 1.0]))


# ---- the eight scenarios ---------------------------------------------------------------------
def _free_fall() -> Scenario:
    r, half = 0.16, 0.16

    def sample(rng):
        # Dropped from rest at different heights, so the two impacts come at different times.
        joints = {
            "ball": _free([-0.45, _u(rng, -0.2, 0.2), _u(rng, 1.2, 2.0)]),
            "block": _free(
                [0.35, _u(rng, -0.2, 0.2), _u(rng, 1.2, 2.0)],
                _random_quat(rng),
                angvel=rng.uniform(-1.5, 1.5, 3),
            ),
        }
        params = {
            "ball/mass": _u(rng, 0.2, 2.0),
            "ball/friction": _u(rng, 0.3, 0.9),
            "ball/restitution": _u(rng, 0.5, 0.8),
            "block/mass": _u(rng, 0.2, 2.0),
            "block/friction": _u(rng, 0.3, 0.9),
        }  # the block lands with the default inelastic contact
        return InitialState(joints, params)

    return Scenario(
        _sphere("ball", r, RED) + _box("block", (half,) * 3, BLUE),
        ("ball", "block"),
        CameraSpec((0.0, -3.8, 1.3), (0.0, 0.0, 1.05), 44.0),
        sample,
    )


def _inclined_plane() -> Scenario:
    length, width, thick, r, half = 2.4, 0.9, 0.06, 0.13, 0.12
    low_end_x = 1.0  # where the ramp's top surface meets the floor
    stopper_x = low_end_x + 0.35  # a kerb on the floor that stops both objects in view

    def sample(rng):
        theta = np.deg2rad(_u(rng, 10.0, 20.0))
        quat = _quat_axis_angle([0, 1, 0], theta)  # +x end goes down, the high end is at -x
        normal = np.array([np.sin(theta), 0.0, np.cos(theta)])
        down = np.array([np.cos(theta), 0.0, -np.sin(theta)])
        low_end = np.array([low_end_x, 0.0, 0.0])
        centre = low_end - down * length / 2 - normal * thick / 2

        def on_ramp(dist_from_top: float, y: float, height: float) -> np.ndarray:
            return low_end - down * (length - dist_from_top) + normal * height + np.array([0.0, y, 0.0])

        # the ball rolls (a = 5/7 g sin); the block slides (friction under tan theta) a bit slower
        joints = {
            "ball": _free(on_ramp(_u(rng, 0.1, 0.3), -0.22, r)),  # starts behind the block, overtakes it
            "block": _free(on_ramp(_u(rng, 0.55, 0.8), 0.22, half), quat),
        }
        params = {
            "ball/mass": _u(rng, 0.2, 2.0),
            "ball/friction": _u(rng, 0.4, 0.9),
            "block/mass": _u(rng, 0.2, 2.0),
            "block/friction": _u(rng, 0.3, 0.7) * float(np.tan(theta)),
        }
        return InitialState(
            joints, params, {"ramp/angle_deg": float(np.rad2deg(theta))}, {"ramp": (centre, quat)}
        )

    props = (
        f'<geom name="ramp" type="box" size="{length / 2} {width / 2} {thick / 2}" rgba="{PROP}"/>'
        f'<geom name="stopper" type="box" pos="{stopper_x} 0 0.07" size="0.05 {width / 2} 0.07" rgba="{PROP}"/>'
    )
    return Scenario(
        props + _sphere("ball", r, RED) + _box("block", (half,) * 3, BLUE),
        ("ball", "block", "ramp", "stopper"),
        CameraSpec((-0.2, -3.7, 1.6), (-0.1, 0.0, 0.3), 45.0),
        sample,
    )


def _bounce() -> Scenario:
    r = 0.18

    def sample(rng):
        side = _sign(rng)  # start on one side, bounce towards the other
        joints = {
            "ball": _free(
                [side * _u(rng, 0.5, 0.8), 0.0, _u(rng, 1.3, 1.8)],
                linvel=[-side * _u(rng, 0.2, 0.5), 0.0, 0.0],
            )
        }
        params = {
            "ball/mass": _u(rng, 0.2, 2.0),
            "ball/friction": _u(rng, 0.2, 0.6),
            "ball/restitution": _u(rng, 0.6, 0.9),
        }
        return InitialState(joints, params)

    return Scenario(
        _sphere("ball", r, RED), ("ball",), CameraSpec((0.0, -3.6, 1.2), (0.0, 0.0, 0.9), 42.0), sample
    )


def _collision() -> Scenario:
    r = 0.18

    def sample(rng):
        joints = {
            "ball_a": _free([-1.2, 0.0, r], linvel=[_u(rng, 0.9, 1.4), 0.0, 0.0]),
            "ball_b": _free([_u(rng, -0.4, -0.1), _u(rng, -0.12, 0.12), r]),
        }
        e = _u(rng, 0.7, 0.95)
        params = {
            "ball_a/mass": _u(rng, 0.5, 1.5),
            "ball_a/friction": _u(rng, 0.01, 0.05),
            "ball_a/restitution": e,
            "ball_b/mass": _u(rng, 0.5, 1.5),
            "ball_b/friction": _u(rng, 0.01, 0.05),
            "ball_b/restitution": e,
        }
        return InitialState(joints, params)

    return Scenario(
        _sphere("ball_a", r, RED) + _sphere("ball_b", r, BLUE),
        ("ball_a", "ball_b"),
        CameraSpec((0.15, -3.3, 2.3), (0.15, 0.25, 0.0), 50.0),
        sample,
    )


def _stack_topple() -> Scenario:
    n, half = 4, 0.15
    colours = (BLUE, GREEN, YELLOW, RED)

    def sample(rng):
        masses = rng.uniform(0.3, 1.5, n)
        # A staircase: block i sits i * step to the right. The upper blocks' centre of mass then
        # lies `overhang` beyond the bottom block's edge, so the stack tips, slowly at first.
        overhang = _u(rng, 0.01, 0.04)
        mean_level = float(np.dot(masses[1:], np.arange(1, n)) / masses[1:].sum())
        step = (half + overhang) / mean_level
        joints = {
            f"block_{i}": _free(
                [i * step - 0.4, _u(rng, -0.02, 0.02), half + 2 * half * i],
                _quat_axis_angle([0, 0, 1], _u(rng, -0.08, 0.08)),
            )
            for i in range(n)
        }
        params = {}
        for i in range(n):
            params |= {f"block_{i}/mass": float(masses[i]), f"block_{i}/friction": _u(rng, 0.4, 0.9)}
        return InitialState(joints, params, {"stack/step": step, "stack/overhang": overhang})

    names = tuple(f"block_{i}" for i in range(n))
    bodies = "".join(_box(b, (half,) * 3, c) for b, c in zip(names, colours, strict=True))
    return Scenario(bodies, names, CameraSpec((0.3, -3.8, 1.4), (0.3, 0.0, 0.6), 45.0), sample)


def _dominoes() -> Scenario:
    n, (hx, hy, hz) = 5, (0.04, 0.2, 0.3)
    colours = (RED, ORANGE, YELLOW, GREEN, BLUE)

    def sample(rng):
        gaps = rng.uniform(0.3, 0.42, n - 1)  # under the domino height, so each one reaches the next
        xs = np.concatenate([[0.0], np.cumsum(gaps)]) - 0.75
        joints = {
            f"domino_{i}": _free(
                [xs[i], _u(rng, -0.03, 0.03), hz], _quat_axis_angle([0, 0, 1], _u(rng, -0.06, 0.06))
            )
            for i in range(n)
        }
        # The push: domino_0 starts rotating (+y) about its bottom front edge, so it tips forward
        # rather than scraping its foot along the floor. v = w x (centre - edge).
        w = _u(rng, 1.0, 2.0)
        q, _ = joints["domino_0"]
        joints["domino_0"] = (q, np.array([w * hz, 0.0, w * hx, 0.0, w, 0.0]))
        params = {}
        for i in range(n):
            params |= {f"domino_{i}/mass": _u(rng, 0.1, 0.4), f"domino_{i}/friction": _u(rng, 0.3, 0.7)}
        return InitialState(joints, params, {"dominoes/mean_gap": float(gaps.mean()), "dominoes/push": w})

    names = tuple(f"domino_{i}" for i in range(n))
    bodies = "".join(_box(b, (hx, hy, hz), c) for b, c in zip(names, colours, strict=True))
    return Scenario(bodies, names, CameraSpec((-1.2, -2.6, 1.4), (0.05, 0.0, 0.25), 45.0), sample)


def _pendulum() -> Scenario:
    pivot_z, length, r = 1.7, 1.0, 0.14

    def sample(rng):
        joints = {
            "rod": (np.array([_sign(rng) * np.deg2rad(_u(rng, 20.0, 60.0))]), np.array([_u(rng, -0.3, 0.3)]))
        }
        params = {"bob/mass": _u(rng, 0.5, 2.0), "rod/mass": _u(rng, 0.05, 0.2)}
        return InitialState(joints, params, {"rod/length": length})

    # The support bar is visual only (no contacts), so the rod can pass through its hinge.
    bodies = f"""
    <geom name="support" type="box" pos="0 0 {pivot_z}" size="0.3 0.06 0.035" rgba="{PROP}" contype="0" conaffinity="0"/>
    <body name="rod" pos="0 0 {pivot_z}">
      <joint name="rod" type="hinge" axis="0 1 0"/>
      <geom name="rod" type="capsule" fromto="0 0 0 0 0 {-length}" size="0.03" rgba="{YELLOW}" mass="0.1"/>
      <body name="bob" pos="0 0 {-length}">
        <geom name="bob" type="sphere" size="{r}" rgba="{RED}" mass="1"/>
      </body>
    </body>"""
    return Scenario(
        bodies, ("rod", "bob", "support"), CameraSpec((0.0, -3.0, 1.3), (0.0, 0.0, 1.1), 45.0), sample
    )


def _projectile() -> Scenario:
    r = 0.17

    def sample(rng):
        speed, angle = _u(rng, 4.3, 5.0), np.deg2rad(_u(rng, 55.0, 70.0))
        joints = {
            "ball": _free(
                [_u(rng, -1.45, -1.2), _u(rng, -0.2, 0.2), r],
                linvel=[speed * np.cos(angle), 0.0, speed * np.sin(angle)],
            )
        }
        params = {
            "ball/mass": _u(rng, 0.2, 2.0),
            "ball/friction": _u(rng, 0.5, 0.9),
            "ball/rolling_friction": _u(rng, 0.06, 0.1),
            "ball/restitution": _u(rng, 0.2, 0.5),
        }
        return InitialState(
            joints, params, {"launch/speed": speed, "launch/angle_deg": float(np.rad2deg(angle))}
        )

    # condim 6: rolling friction on landing, so the ball stops in view (soft ground)
    return Scenario(
        _sphere("ball", r, RED, 'condim="6"'),
        ("ball",),
        CameraSpec((0.15, -4.6, 1.2), (0.15, 0.0, 0.85), 45.0),
        sample,
    )


def _camera_orbit() -> Scenario:
    # (name, MuJoCo geom type, colour); sizes, positions and yaw are drawn per episode
    objects = (
        ("box_0", "box", RED),
        ("sphere_0", "sphere", BLUE),
        ("cylinder_0", "cylinder", YELLOW),
        ("box_1", "box", GREEN),
        ("cylinder_1", "cylinder", PURPLE),
    )
    target_z, spread = 0.2, 0.8  # look-at height; objects stand within this radius of the centre

    def size(rng, kind: str) -> np.ndarray:
        if kind == "box":  # half extents
            return np.array([_u(rng, 0.08, 0.18), _u(rng, 0.08, 0.18), _u(rng, 0.08, 0.22)])
        if kind == "sphere":
            return np.array([_u(rng, 0.1, 0.17), 0.0, 0.0])
        return np.array([_u(rng, 0.07, 0.13), _u(rng, 0.1, 0.25), 0.0])  # cylinder: radius, half height

    def sample(rng):
        sizes = {name: size(rng, kind) for name, kind, _ in objects}
        footprint = {
            name: float(np.linalg.norm(sz[:2])) if kind == "box" else float(sz[0])
            for (name, kind, _), sz in zip(objects, sizes.values(), strict=True)
        }
        placed: dict[str, np.ndarray] = {}
        for name, _, _ in objects:  # rejection sampling: no two objects touch (5 cm apart at least)
            for _attempt in range(1000):
                r, a = spread * np.sqrt(rng.uniform()), rng.uniform(0, 2 * np.pi)
                xy = np.array([r * np.cos(a), r * np.sin(a)])
                if all(
                    np.linalg.norm(xy - p) > footprint[name] + footprint[o] + 0.05 for o, p in placed.items()
                ):
                    break
            else:
                raise RuntimeError("camera_orbit: could not place the objects apart; widen the spread")
            placed[name] = xy
        body_poses = {}
        for name, kind, _ in objects:
            z = sizes[name][2] if kind == "box" else sizes[name][1] if kind == "cylinder" else sizes[name][0]
            body_poses[name] = (np.array([*placed[name], z]), _quat_axis_angle([0, 0, 1], _u(rng, 0, np.pi)))
        orbit = CameraOrbit(
            target=(0.0, 0.0, target_z),
            radius=_u(rng, 2.4, 3.0),
            height=_u(rng, 0.9, 1.6),
            start_deg=_u(rng, 0.0, 360.0),
            step_deg=_sign(rng) * _u(rng, 2.0, 4.0),
        )
        geometry = {
            "orbit/radius": orbit.radius,
            "orbit/height": orbit.height,
            "orbit/start_deg": orbit.start_deg,
            "orbit/step_deg": orbit.step_deg,
            "orbit/target_z": target_z,
        }
        return InitialState({}, {}, geometry, body_poses=body_poses, geom_sizes=sizes, camera_orbit=orbit)

    # jointless bodies: welded to the world, so exactly at rest and never in contact with the floor
    bodies = "".join(
        f'<body name="{name}"><geom name="{name}" type="{kind}" size="0.1 0.1 0.1" rgba="{rgba}"/></body>'
        for name, kind, rgba in objects
    )
    camera = CameraSpec((2.7, 0.0, 1.2), (0.0, 0.0, target_z), 45.0, moving=True)  # pose replaced every reset
    return Scenario(bodies, tuple(name for name, _, _ in objects), camera, sample, textured_floor=True)


_BUILDERS: Mapping[str, Callable[[], Scenario]] = MappingProxyType(
    {
        "free_fall": _free_fall,
        "inclined_plane": _inclined_plane,
        "bounce": _bounce,
        "collision": _collision,
        "stack_topple": _stack_topple,
        "dominoes": _dominoes,
        "pendulum": _pendulum,
        "projectile": _projectile,
        "camera_orbit": _camera_orbit,
    }
)

#: The scenario keys ``PhysicsGTEnv(scenario=...)`` accepts.
SCENARIO_KEYS: tuple[str, ...] = tuple(_BUILDERS)


def restitution_solref(e: float, stiffness: float) -> tuple[float, float]:
    """MuJoCo ``solref`` (negative: -stiffness, -damping) of a contact with restitution ``e``."""
    if not 0.0 < e < 1.0:
        raise ValueError(f"restitution {e} must be in (0, 1)")
    zeta = -np.log(e) / np.sqrt(np.pi**2 + np.log(e) ** 2)
    return -stiffness, -2.0 * zeta * np.sqrt(stiffness)


# ---- the env ---------------------------------------------------------------------------------
class PhysicsGTEnv(MujocoGTEnv):
    r"""One seeded rigid-body physics scenario as a no-control Gymnasium env (MuJoCo).

    ## Description
    Short physics videos for physics-alignment and 3D-consistency benchmarks, one registered id
    ``cosmos_sim/Physics-<Scenario>-GT-v0`` per scenario key (``SCENARIO_KEYS``):

    | Id suffix       | `scenario`       | Event                                                        |
    |-----------------|------------------|--------------------------------------------------------------|
    | `FreeFall`      | `free_fall`      | a ball and a tumbling block dropped (or tossed up) side by side |
    | `InclinedPlane` | `inclined_plane` | a ball rolls and a block slides down a tilted ramp           |
    | `Bounce`        | `bounce`         | a ball bouncing across the floor with a sampled restitution  |
    | `Collision`     | `collision`      | a ball sliding on a low-friction floor hits a resting ball   |
    | `StackTopple`   | `stack_topple`   | a staircase stack of four blocks whose overhang makes it topple |
    | `Dominoes`      | `dominoes`       | a row of five dominoes, the first one pushed                 |
    | `Pendulum`      | `pendulum`       | a bob on a rod swinging on a hinge (no damping)              |
    | `Projectile`    | `projectile`     | a ball launched at an angle that lands and rolls to a stop   |
    | `CameraOrbit`   | `camera_orbit`   | a static scene of five objects seen by a camera circling it  |

    Every scene shares one template: plain floor, plain sky, headlight, no shadows and a fixed
    ``main`` camera framing the event. ``CameraOrbit`` (the 3D-consistency scene) departs from it
    twice: its floor has a checker texture (feature points for matching) and its ``main``
    camera moves every step along a seeded circle around the scene centre, always looking at
    the same point; its five objects (boxes, a sphere, cylinders) are jointless, exactly at rest,
    so ``info["objects"]`` lists them with zero velocity, and ``info["cameras"]["main"]`` and the
    depth/seg maps follow the camera. Segmentation instances: the moving bodies by name, then
    props (``ramp``, ``stopper``, ``support``), then ``floor``; the sky is background.

    Contacts: moving objects carry ``priority="1"`` so a contact with the floor or a prop uses
    the object's own friction and restitution; a restitution ``e`` is a damped contact spring of
    stiffness ``contact_stiffness`` whose half-cycle loses a factor ``e`` of the speed (see
    ``restitution_solref``).

    ## Action Space
    There is no control: the action space is `Box(-1, 1, (1,), float32)` (``action_layout ==
    ("noop",)``), checked and then ignored, so the shared tooling (trajectory stores, random
    policies, the out-of-range action check) stays uniform. An action outside the space, of
    another shape or with NaN raises a ``ValueError``.

    ## Observation Space
    The ``main`` camera's RGB, `Box(0, 255, (height, width, 3), uint8)`, at ``fps`` frames per
    simulated second.

    ## Rewards
    None: the reward is always 0. ``info`` after ``reset`` and every ``step``: ``objects`` (pose
    and linear velocity of every instance body) and, when ``maps`` is not empty, ``cameras``
    (intrinsics, world-to-camera extrinsics) and ``maps``; at ``reset`` also ``physics``, the
    physical parameters used (floats; ``self.physics_params`` keeps them): ``"<body>/mass"``
    (kg), ``"<body>/friction"`` (sliding), ``"<body>/rolling_friction"`` (m),
    ``"<body>/restitution"``, scenario geometry (``"ramp/angle_deg"``, ``"rod/length"``,
    ``"orbit/radius"``, ``"orbit/step_deg"``, ...) and ``"gravity"`` (9.81 m/s^2).

    ## Starting State
    Initial positions, velocities, masses, friction and restitution (where they apply) are drawn
    from the reset seed within ranges that keep the event in view for the whole video;
    ``CameraOrbit`` draws its objects' sizes, places and yaw and the orbit (radius, height, start
    azimuth, and a signed 2-4 deg azimuth step per frame). Restitution is capped at
    ``MAX_RESTITUTION`` (0.98). Reset options ``{"perturb": p, "take": k}`` give "two takes" of
    one event: the initial positions and velocities of ``reset(seed=s)``, with every mass,
    friction and restitution multiplied by its own factor uniform in ``[1 - p, 1 + p]``
    (``0 <= p <= MAX_PERTURB`` = 0.5), from a random stream keyed by the seed and ``take``
    (an int >= 0, default 0); geometry is never perturbed (so ``CameraOrbit``, which has no
    mass, friction or restitution, is unchanged). Another option is a ``ValueError``.

    ## Episode End
    ### Termination
    Never: ``terminated`` is always False.

    ### Truncation
    The registered ids truncate after ``PHYSICS_EPISODE_STEPS`` = 48 steps (2.4 s at 20 fps,
    ``max_episode_steps``); the env itself never truncates.

    ## Arguments
    Options come one way: ``PhysicsGTEnv(scenario, config=None, render_mode="rgb_array",
    **overrides)`` where ``scenario`` is one of ``SCENARIO_KEYS`` (the registered ids set it),
    ``config`` is a ``PhysicsConfig`` (default: the registered ids') and every override is one of
    its fields; an unknown keyword is a ``ValueError`` naming it and the valid ones. The result
    is ``env.config``.

    ```python
    import gymnasium as gym
    env = gym.make("cosmos_sim/Physics-Bounce-GT-v0", width=128, height=128, maps="depth,seg")
    ```

    | Parameter           | Type              | Default       | Description                                              |
    |---------------------|-------------------|---------------|----------------------------------------------------------|
    | `scenario`          | **str**           | (required)    | one of ``SCENARIO_KEYS``; set by each registered id      |
    | `config`            | **PhysicsConfig** | `None`        | all settings at once; keyword options replace fields     |
    | `render_mode`       | **str**           | `"rgb_array"` | "rgb_array" (the ``main`` camera) or None                |
    | `width`             | **int**           | `64`          | image width in pixels (at least 8)                       |
    | `height`            | **int**           | `64`          | image height in pixels (at least 8)                      |
    | `maps`              | **str or tuple**  | `None`        | control maps in ``info``: subset of depth, seg, edges, blur |
    | `map_cameras`       | **str or tuple**  | `None`        | cameras of those maps (None: all; one camera here) |
    | `fps`               | **int**           | `20`          | frames (env steps) per simulated second                  |
    | `timestep`          | **float**         | `0.002`       | MuJoCo step (s); ``1 / (fps * timestep)`` must be whole  |
    | `episode_steps`     | **int**           | `48`          | video length the initial-condition ranges are made for   |
    | `contact_stiffness` | **float**         | `3e4`         | contact spring stiffness (1/s^2) of bodies with a restitution |
    | `antialias_samples` | **int**           | `4`           | MSAA of the RGB render; 0 is ~3x faster, jagged at 64x64 |
    | `colours`           | **str**           | `"fixed"`     | "random": distinct palette colours per episode (seeded)  |

    ## Version History
    * v0: Initial version.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}
    config_class = PhysicsConfig

    def __init__(
        self,
        scenario: str,
        config: PhysicsConfig | None = None,
        render_mode: str | None = "rgb_array",
        **overrides: Any,
    ):
        if scenario not in _BUILDERS:
            raise ValueError(f"unknown physics scenario {scenario!r}; choose one of {list(SCENARIO_KEYS)}")
        cfg = resolve_config(self, config, overrides, others=("scenario", "config", "render_mode"))
        self.config, self.scenario = cfg, scenario
        self._scenario = _BUILDERS[scenario]()
        super().__init__(
            _scene_xml(self._scenario, cfg, scenario),
            cameras=("main",),
            instances=(*self._scenario.instances, "floor"),
            width=cfg.width,
            height=cfg.height,
            frame_skip=cfg.frame_skip,
            maps=cfg.maps,
            map_cameras=cfg.map_cameras,
            render_mode=render_mode,
        )
        self.metadata = {**type(self).metadata, "render_fps": cfg.fps}
        self.action_layout: tuple[str, ...] = ("noop",)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self.observation_space = spaces.Box(0, 255, shape=(cfg.height, cfg.width, 3), dtype=np.uint8)
        m = self.model
        # Compiled values: every reset sets parameters from these, so episodes never compound.
        self._base_mass = m.body_mass.copy()
        self._base_inertia = m.body_inertia.copy()
        self._base_friction = m.geom_friction.copy()
        self._base_solref = m.geom_solref.copy()
        self._base_geom_size = m.geom_size.copy()
        self._base_geom_rbound = m.geom_rbound.copy()
        self._base_body_pos = m.body_pos.copy()
        self._base_body_quat = m.body_quat.copy()
        self._base_rgba = m.geom_rgba.copy()
        # Objects whose colour is theirs (a geom of the instance's name, not a grey prop), in instance order.
        self.coloured_objects: tuple[str, ...] = tuple(
            n for n in self._scenario.instances if _colour_name(self._geom_rgba(n)) is not None
        )
        self.object_colours: dict[str, str] = {}
        """Colour name of every coloured object this episode (``PALETTE`` keys); captions read it."""
        self.physics_params: dict[str, float] = {}
        self._orbit: CameraOrbit | None = None
        self._step_index = 0  # env steps since reset: where a moving camera is on its path

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        obs, info = super().reset(seed=seed, options=options)
        info["physics"] = dict(self.physics_params)
        return obs, info

    def _reset_scene(self, rng: np.random.Generator, options: dict | None) -> None:
        perturb, take = _perturb_options(options)
        episode_key = int(rng.integers(2**62))  # always drawn: initial conditions never depend on perturb
        state = self._scenario.sample(rng)
        params = dict(state.params)
        if perturb > 0:
            prng = np.random.default_rng([episode_key, take])
            params = {k: v * float(prng.uniform(1 - perturb, 1 + perturb)) for k, v in params.items()}
        params = {k: min(v, MAX_RESTITUTION) if k.endswith("/restitution") else v for k, v in params.items()}
        self._apply_params(params)
        m = self.model
        for name, (pos, quat) in state.static_poses.items():
            gid = self._id(mujoco.mjtObj.mjOBJ_GEOM, name)
            m.geom_pos[gid], m.geom_quat[gid] = pos, quat
        self._place_static(state)
        mujoco.mj_setConst(m, self.data)  # masses changed: refresh the solver's inverse weights
        for name, (qpos, qvel) in state.joints.items():
            jid = self._id(mujoco.mjtObj.mjOBJ_JOINT, name)
            qa, da = int(m.jnt_qposadr[jid]), int(m.jnt_dofadr[jid])
            self.data.qpos[qa : qa + len(qpos)] = qpos
            self.data.qvel[da : da + len(qvel)] = qvel
        self.physics_params = {**params, **state.geometry, "gravity": GRAVITY}
        self._orbit, self._step_index = state.camera_orbit, 0
        self._paint(episode_key)
        self._move_camera()

    def _geom_rgba(self, name: str) -> np.ndarray:
        gid = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_GEOM, name)
        return self.model.geom_rgba[gid] if gid >= 0 else np.zeros(4)

    def _paint(self, episode_key: int) -> None:
        """The objects' colours this episode: compiled ones ("fixed") or distinct palette draws ("random",
        from their own stream of the episode key, so the initial conditions do not change)."""
        self.model.geom_rgba[:] = self._base_rgba
        names = self.coloured_objects
        if self.config.colours == "random":
            crng = np.random.default_rng(np.random.SeedSequence(episode_key, spawn_key=(0xC0,)))
            picks = crng.choice(len(PALETTE), size=len(names), replace=len(names) > len(PALETTE))
            for name, i in zip(names, picks, strict=True):
                self._geom_rgba(name)[:] = [float(v) for v in list(PALETTE.values())[i].split()]
        self.object_colours = {n: _colour_name(self._geom_rgba(n)) for n in names}

    def _apply_action(self, action: np.ndarray) -> None:
        # The action is a no-op; a moving camera goes to its next pose before the physics step, whose
        # kinematics pass then puts it in data.cam_xpos/cam_xmat (what rendering and info read).
        self._step_index += 1
        self._move_camera()

    def _move_camera(self) -> None:
        if self._orbit is None:
            return
        mocap = int(self.model.body_mocapid[self._id(mujoco.mjtObj.mjOBJ_BODY, CAMERA_RIG)])
        self.data.mocap_pos[mocap], self.data.mocap_quat[mocap] = self._orbit.pose(self._step_index)

    def _place_static(self, state: InitialState) -> None:
        """Seeded sizes of geoms and poses of jointless bodies (restored from the compiled model first)."""
        m = self.model
        m.geom_size[:], m.geom_rbound[:] = self._base_geom_size, self._base_geom_rbound
        m.body_pos[:], m.body_quat[:] = self._base_body_pos, self._base_body_quat
        for name, size in state.geom_sizes.items():
            gid = self._id(mujoco.mjtObj.mjOBJ_GEOM, name)
            m.geom_size[gid] = size
            kind = m.geom_type[gid]  # bounding-sphere radius, used by collision broad phase
            m.geom_rbound[gid] = (
                size[0]
                if kind == mujoco.mjtGeom.mjGEOM_SPHERE
                else np.hypot(size[0], size[1])
                if kind == mujoco.mjtGeom.mjGEOM_CYLINDER
                else np.linalg.norm(size)
            )
        for name, (pos, quat) in state.body_poses.items():
            bid = self._id(mujoco.mjtObj.mjOBJ_BODY, name)
            if m.body_jntnum[bid]:
                raise ValueError(f"body {name!r} has joints; set its pose through InitialState.joints")
            m.body_pos[bid], m.body_quat[bid] = pos, quat

    def _apply_params(self, params: Mapping[str, float]) -> None:
        m = self.model
        m.body_mass[:] = self._base_mass
        m.body_inertia[:] = self._base_inertia
        m.geom_friction[:] = self._base_friction
        m.geom_solref[:] = self._base_solref
        for key, value in params.items():
            body, what = key.split("/")
            bid = self._id(mujoco.mjtObj.mjOBJ_BODY, body)
            geoms = np.flatnonzero(m.geom_bodyid == bid)
            if what == "mass":  # same shape, uniform density: inertia scales with the mass
                m.body_mass[bid] = value
                m.body_inertia[bid] = self._base_inertia[bid] * value / self._base_mass[bid]
            elif what == "friction":
                m.geom_friction[geoms, 0] = value
            elif what == "rolling_friction":
                m.geom_friction[geoms, 2] = value
            elif what == "restitution":
                m.geom_solref[geoms] = restitution_solref(value, self.config.contact_stiffness)
            else:
                raise ValueError(f"unknown physical parameter {key!r}")

    def _id(self, kind: mujoco.mjtObj, name: str) -> int:
        i = mujoco.mj_name2id(self.model, kind, name)
        if i < 0:
            raise ValueError(f"{kind.name} {name!r} not in the {self.scenario} scene")
        return i


def _colour_name(rgba) -> str | None:
    """The ``PALETTE`` name of an rgba (None for props and other colours)."""
    for name, value in PALETTE.items():
        if np.allclose(np.asarray(rgba, float), [float(v) for v in value.split()], atol=1e-4):
            return name
    return None


def _perturb_options(options: dict | None) -> tuple[float, int]:
    """(perturb, take) from reset options, with clear errors for anything else."""
    options = dict(options or {})
    unknown = sorted(set(options) - {"perturb", "take"})
    if unknown:
        raise ValueError(f"unknown reset option(s) {unknown}; physics envs accept 'perturb' and 'take'")
    perturb, take = float(options.get("perturb", 0.0)), options.get("take", 0)
    if not 0.0 <= perturb <= MAX_PERTURB:
        raise ValueError(
            f"options['perturb']={perturb} must be in [0, {MAX_PERTURB}] (a relative scale, e.g. 0.05)"
        )
    if not isinstance(take, int | np.integer) or take < 0:
        raise ValueError(f"options['take']={take!r} must be a non-negative int")
    return perturb, int(take)
