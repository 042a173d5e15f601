"""MuJoCo tabletop manipulation: a 6-joint arm pushes the red block into a goal disc.

The arm is driven like gymnasium-robotics' Fetch: a mocap body is welded to the hand, the env
moves the mocap target by a clamped Cartesian delta each step and the passive, gravity-compensated
joints follow. That keeps control simple and stable without an IK solver in the loop. A
two-finger parallel gripper is actuated by position servos.

The task itself (its config fields, blocks, spaces, state layout, reward and success, layout
sampling and the expert's push geometry) comes from ``push_task``, shared with the PyBullet
scene ``cosmos_sim/Manipulation-Bullet-GT-v0``; this module adds the MuJoCo scene and arm.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mujoco
import numpy as np

from cosmos_sim.envs.appearance import asset_files, assets_xml, check_appearance, draw
from cosmos_sim.envs.base import resolve_config
from cosmos_sim.envs.mujoco_base import MujocoGTEnv
from cosmos_sim.envs.push_task import (  # noqa: F401  (OBS_MODES is re-exported)
    BLOCK_COLOURS,
    BLOCK_HALF,
    OBS_MODES,
    TABLE_Z,
    PushTaskConfig,
    PushTaskEnv,
    push_expert_target,
    sample_layout,
)
from cosmos_sim.errors import ConfigError

# Scene geometry (metres), on top of push_task's table and blocks.
BASE_X = -0.45  # robot base, behind the workspace
SHOULDER_H = 0.15  # shoulder axis above the table
UPPER_ARM = 0.42
FOREARM = 0.42
HAND_LEN = 0.16  # wrist centre to grip point
FINGER_LEN = 0.06
FINGER_OPEN = 0.04  # finger travel: 0 closed .. FINGER_OPEN fully open (per finger)
TOP_CAM_HEIGHT = 1.0  # top camera above the table top
WORKSPACE_LOW = np.array([-0.25, -0.25, TABLE_Z + 0.015])
WORKSPACE_HIGH = np.array([0.25, 0.25, TABLE_Z + 0.25])
TILT_LIMIT = 0.3  # rad: roll/pitch clamp around pointing straight down
YAW_LIMIT = np.pi / 2  # rad: the gripper is symmetric under a half turn
LAYOUT_LOW, LAYOUT_HIGH = np.array([-0.15, -0.2]), np.array([0.2, 0.2])  # blocks and goal (xy)
ARM_RGBA = (0.82, 0.84, 0.88, 1.0)  # the links' default colour (appearance domains recolour them)


@dataclass(frozen=True)
class ManipulationConfig(PushTaskConfig):
    """Settings of the MuJoCo manipulation scene (the push task's, plus MuJoCo's own)."""

    frame_skip: int = 10
    """Physics steps (of `timestep` seconds) per env step."""
    timestep: float = 0.005
    """MuJoCo integration step in seconds."""
    max_rotation: float = 0.1
    """End-effector rotation per step at |action| = 1 (rad)."""
    msaa_samples: int = 0
    """Multisample anti-aliasing of RGB frames; 4 is smoother but ~0.6 ms a frame dearer on llvmpipe."""
    appearance: str = "default"
    """The look (``envs/appearance.py``): "default", a named domain (table/floor textures, arm colour,
    lights) or "randomized" (a jittered training domain per episode); geometry, depth and seg never change."""

    def __post_init__(self):
        super().__post_init__()
        if self.msaa_samples < 0:
            raise ValueError(f"msaa_samples must be >= 0, got {self.msaa_samples}")
        check_appearance(self.appearance)


def default_config() -> ManipulationConfig:
    """The configuration `cosmos_sim/Manipulation-GT-v0` uses."""
    return ManipulationConfig()


def _lookat_xyaxes(pos, target, up=(0.0, 0.0, 1.0)) -> str:
    """MJCF `xyaxes` of a camera at `pos` looking at `target` (camera looks down its -z)."""
    fwd = np.asarray(target, float) - np.asarray(pos, float)
    fwd /= np.linalg.norm(fwd)
    right = np.cross(fwd, up)
    right /= np.linalg.norm(right)
    cam_up = np.cross(right, fwd)
    return " ".join(f"{v:.6f}" for v in (*right, *cam_up))


def _fmt(v) -> str:
    return " ".join(f"{x:.6g}" for x in np.atleast_1d(v))


def scene_xml(cfg: ManipulationConfig) -> str:
    """The MJCF of the scene for `cfg` (number of blocks, timestep, goal radius, MSAA)."""
    t, n_objects = TABLE_Z, cfg.n_objects
    looks = cfg.appearance != "default"  # the default XML stays exactly as it was (bit-identical frames)
    appearance_assets = assets_xml() if looks else ""
    table_look = 'material="table_brick"' if looks else 'rgba="0.62 0.5 0.38 1"'
    front_pos = (0.63, -0.44, t + 0.74)  # 1 m from the workspace centre, 40 deg up
    front_target = (0.0, 0.0, t + 0.1)  # the whole workspace box fits the view
    blocks = "\n".join(
        f"""
    <body name="{name}_block" pos="0 {0.1 * i} {t + BLOCK_HALF}">
      <freejoint/>
      <geom type="box" size="{BLOCK_HALF} {BLOCK_HALF} {BLOCK_HALF}" rgba="{_fmt((*rgb, 1))}" mass="0.1"
            friction="0.5 0.005 0.0001" class="collide"/>
    </body>"""
        for i, (name, rgb) in enumerate(BLOCK_COLOURS[:n_objects])
    )
    fingers = "\n".join(
        f"""
          <body name="finger_{side}" pos="0 {sign * 0.004} 0">
            <joint name="finger_{side}" type="slide" axis="0 {sign} 0" range="0 {FINGER_OPEN}" damping="5"/>
            <geom type="box" size="0.012 0.006 {FINGER_LEN / 2}" pos="0 {sign * 0.006} {FINGER_LEN / 2 - 0.01}"
                  rgba="0.2 0.2 0.22 1" mass="0.02" friction="1 0.005 0.0001" class="collide"/>
          </body>"""
        for side, sign in (("left", 1), ("right", -1))
    )
    return f"""
<mujoco model="cosmos_manipulation">
  <compiler angle="radian" autolimits="true"/>
  <option timestep="{cfg.timestep}" integrator="implicitfast"/>
  <visual>
    <headlight ambient="0.35 0.35 0.35" diffuse="0.5 0.5 0.5" specular="0 0 0"/>
    <!-- coarse spheres/capsules and no floor grid: each halves the llvmpipe render time -->
    <quality shadowsize="0" numslices="12" numstacks="6" offsamples="{cfg.msaa_samples}"/>
  </visual>
  <default>
    <geom contype="0" conaffinity="0"/>
    <default class="collide"><geom contype="1" conaffinity="1" condim="3"/></default>
    <default class="arm"><geom type="capsule" rgba="{_fmt(ARM_RGBA)}" mass="0.5"/>
      <joint damping="2" armature="0.01"/></default>
  </default>
  <asset>
    <texture name="floor" type="2d" builtin="checker" rgb1="0.25 0.27 0.3" rgb2="0.2 0.22 0.25"
             width="64" height="64"/>
    <material name="floor" texture="floor" texrepeat="8 8"/>
    {appearance_assets}
  </asset>
  <worldbody>
    <light pos="0.3 -0.3 2.0" dir="-0.2 0.2 -1" diffuse="0.6 0.6 0.6" castshadow="false"/>
    <geom name="floor" type="plane" size="3 3 1" material="floor"/>
    <body name="table" pos="-0.1 0 {t / 2}">
      <geom name="table" type="box" size="0.55 0.5 {t / 2}" {table_look} friction="0.5 0.005 0.0001"
            class="collide"/>
    </body>
    <body name="goal" mocap="true" pos="0.1 0 {t + 0.001}">
      <geom type="cylinder" size="{cfg.goal_radius} 0.001" rgba="0.1 0.8 0.25 1"/>
    </body>
    <camera name="front" pos="{_fmt(front_pos)}" xyaxes="{_lookat_xyaxes(front_pos, front_target)}" fovy="45"/>
    <camera name="top" pos="0 0 {t + TOP_CAM_HEIGHT}" xyaxes="1 0 0 0 1 0" fovy="40"/>
    <body name="mocap" mocap="true" pos="0 0 {t + 0.2}"/>
    <body name="robot" pos="{BASE_X} 0 {t}" childclass="arm">
      <geom type="cylinder" size="0.07 0.03" pos="0 0 0.03" rgba="0.3 0.32 0.36 1"/>
      <body name="arm_base" gravcomp="1">
        <joint name="j1_yaw" axis="0 0 1"/>
        <geom type="cylinder" size="0.05 {SHOULDER_H / 2}" pos="0 0 {SHOULDER_H / 2}"/>
        <body name="upper_arm" pos="0 0 {SHOULDER_H}" gravcomp="1">
          <joint name="j2_shoulder" axis="0 1 0"/>
          <geom fromto="0 0 0 0 0 {UPPER_ARM}" size="0.035"/>
          <body name="forearm" pos="0 0 {UPPER_ARM}" gravcomp="1">
            <joint name="j3_elbow" axis="0 1 0"/>
            <geom fromto="0 0 0 {FOREARM} 0 0" size="0.03"/>
            <body name="wrist" pos="{FOREARM} 0 0" gravcomp="1">
              <joint name="j4_wrist_pitch" axis="0 1 0"/>
              <joint name="j5_wrist_roll" axis="1 0 0"/>
              <geom type="sphere" size="0.04" rgba="0.3 0.32 0.36 1"/>
              <body name="hand" pos="0 0 {-HAND_LEN}" gravcomp="1">
                <joint name="j6_hand_yaw" axis="0 0 1" pos="0 0 {HAND_LEN}"/>
                <geom fromto="0 0 {HAND_LEN} 0 0 {FINGER_LEN + 0.01}" size="0.025"/>
                <geom type="box" size="0.02 0.05 0.012" pos="0 0 {FINGER_LEN}" rgba="0.3 0.32 0.36 1"
                      class="collide"/>
                <site name="grip" size="0.005" rgba="0 0 0 0"/>
                {fingers}
              </body>
            </body>
          </body>
        </body>
      </body>
    </body>
{blocks}
  </worldbody>
  <equality>
    <weld body1="mocap" body2="hand" relpose="0 0 0 1 0 0 0" solref="0.02 1" solimp="0.9 0.95 0.001"/>
  </equality>
  <actuator>
    <position name="finger_left" joint="finger_left" kp="300" ctrlrange="0 {FINGER_OPEN}"/>
    <position name="finger_right" joint="finger_right" kp="300" ctrlrange="0 {FINGER_OPEN}"/>
  </actuator>
</mujoco>
"""


def _quat_from_rpy(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """wxyz quaternion of R_z(yaw) R_y(pitch) R_x(roll) (extrinsic x, then y, then z)."""
    q = np.zeros(4)
    mujoco.mju_euler2Quat(q, np.array([roll, pitch, yaw]), "XYZ")
    return q


class ManipulationGTEnv(PushTaskEnv, MujocoGTEnv):
    r"""Push the red block into the green goal disc with a mocap-driven 6-joint arm (MuJoCo).

    ## Description
    A tabletop scene in MuJoCo: a 6-joint arm with a two-finger parallel gripper stands behind a
    table holding 1-3 coloured blocks (red, then blue and yellow distractors) and a flat green
    goal disc. The task is to push the red block into the goal. The arm is driven like
    gymnasium-robotics' Fetch: a mocap body welded to the hand moves by a clamped Cartesian
    delta each step and the passive, gravity-compensated joints follow; the fingers are
    position servos. The task (spaces, reward, success, layout sampling) is
    ``push_task.PushTaskEnv``'s, shared with ``cosmos_sim/Manipulation-Bullet-GT-v0``.

    Cameras: "front" (3/4 view of the whole workspace box; the observation and ``render()``) and
    "top" (straight down, ``TOP_CAM_HEIGHT`` = 1 m above the table). Segmentation instances:
    robot (arm and gripper), table, goal, then the blocks by name (``red_block``, ``blue_block``,
    ``yellow_block``); everything else (the floor) is background. ``expert_action()`` is a
    scripted pusher from privileged state: 49/50 successes on seeds 0-49 with one block, 48/50
    with three (292/300 on seeds 0-299 with one), 32 steps on average.

    ## Action Space
    The action space is a `Box(-1, 1, (7,), float32)` (``action_layout``, the Cosmos/Bridge
    end-effector convention):

    | Num | Action  | Min | Max | Effect                                                              |
    |-----|---------|-----|-----|---------------------------------------------------------------------|
    | 0   | dx      | -1  | 1   | grip-point move along world x (away from the robot base), x `max_translation` m |
    | 1   | dy      | -1  | 1   | grip-point move along world y, x `max_translation` m                |
    | 2   | dz      | -1  | 1   | grip-point move along world z (up), x `max_translation` m           |
    | 3   | droll   | -1  | 1   | gripper roll increment, x `max_rotation` rad                        |
    | 4   | dpitch  | -1  | 1   | gripper pitch increment, x `max_rotation` rad                       |
    | 5   | dyaw    | -1  | 1   | gripper yaw increment, x `max_rotation` rad                         |
    | 6   | gripper | -1  | 1   | absolute finger command: -1 fully open .. +1 closed                 |

    The grip-point target is clamped to the workspace box ``WORKSPACE_LOW .. WORKSPACE_HIGH``
    (x, y in [-0.25, 0.25] m, z 0.015-0.25 m above the table). Roll and pitch (0, 0 is pointing
    straight down) are clamped to +-0.3 rad, yaw to +-pi/2 (the gripper is symmetric under a half
    turn). An action outside the space, of another shape or with NaN raises a ``ValueError``.

    ## Observation Space
    Chosen with ``obs_mode``:

    - "pixels" (default): the front camera's RGB, `Box(0, 255, (height, width, 3), uint8)`.
    - "state": `Box(-inf, inf, (8 + 3 * n_objects,), float32)`, laid out as ``state_layout``:

    | Num        | Observation                                   | Unit |
    |------------|-----------------------------------------------|------|
    | 0-2        | grip point x, y, z (``ee_x``, ``ee_y``, ``ee_z``) | m    |
    | 3          | commanded gripper yaw (``ee_yaw``)            | rad  |
    | 4          | finger opening, sum of both fingers' travel (``gripper_opening``, 0-0.08) | m |
    | 5-7        | goal disc centre x, y, z (on the table top)   | m    |
    | 8 + 3i ... | block i's centre x, y, z (red first)          | m    |

    - "pixels+state": `Dict({"pixels": ..., "state": ...})` of both.

    ## Rewards
    Dense, in metres: ***reward*** *= -(|p_grip - p_red| + |p_red - (p_goal + [0, 0, BLOCK_HALF])|)
    + success_bonus * is_success*, where the goal is raised to the block centre height
    (``BLOCK_HALF`` = 0.035 m) and ``is_success`` is the red block's centre within
    ``goal_radius`` of the goal centre in xy. With ``task="reach"`` (``cosmos_sim/Manipulation-Reach-GT-v0``):
    *reward = -|p_grip - p_target| + success_bonus * is_success*, the target 0.08 m above the goal
    disc's centre (``REACH_HEIGHT``) and ``is_success`` the grip point within ``goal_radius`` of it
    (xyz): the same scene and cameras, a task PPO learns in minutes here. ``info`` after ``reset`` and
    every ``step``: ``is_success``, ``block_goal_distance`` (m, xy), ``target_distance`` (m: the
    reach distance, or push's block-goal distance), ``ee_pos`` (3,), ``objects`` (pose and
    linear velocity of every instance body) and, when ``maps`` is not empty, ``cameras``
    (intrinsics, world-to-camera extrinsics) and ``maps`` (per camera).

    ## Starting State
    Drawn from the reset seed: the blocks' and the goal's xy uniform in x in [-0.15, 0.2] m,
    y in [-0.2, 0.2] m (``LAYOUT_LOW .. LAYOUT_HIGH``), block centres at least
    ``min_separation`` apart and from the goal, the red block at least ``min_goal_distance``
    from the goal (rejection sampling); each block rests on the table with a yaw uniform in
    [-pi, pi). The grip point starts uniform in
    x, y in [-0.15, 0.15] m, 0.12-0.22 m above the table, pointing straight down (yaw 0) with
    the fingers open, the arm placed there by closed-form IK. Reset options are ignored.

    ## Episode End
    ### Termination
    When the red block's centre is within ``goal_radius`` (0.05 m) of the goal centre in xy
    (``info["is_success"]``); reach: when the grip point is within ``goal_radius`` of its target.

    ### Truncation
    The registered id truncates after 100 steps (``max_episode_steps``; the reach id after 50); the env
    itself never truncates.

    ## Arguments
    Options come one way: ``ManipulationGTEnv(config=None, *, render_mode="rgb_array", **overrides)``
    where ``config`` is a ``ManipulationConfig`` (default: the registered id's) and every override
    is one of its fields; an unknown keyword is a ``ValueError`` naming it and the valid ones.
    The result is ``env.config``.

    ```python
    import gymnasium as gym
    env = gym.make("cosmos_sim/Manipulation-GT-v0", width=128, height=128, obs_mode="pixels+state", maps="depth,seg")
    ```

    | Parameter           | Type                   | Default       | Description                                        |
    |---------------------|------------------------|---------------|----------------------------------------------------|
    | `config`            | **ManipulationConfig** | `None`        | all settings at once; keyword options replace fields |
    | `render_mode`       | **str**                | `"rgb_array"` | "rgb_array" (the front camera) or None             |
    | `width`             | **int**                | `64`          | image width in pixels (at least 8)                 |
    | `height`            | **int**                | `64`          | image height in pixels (at least 8)                |
    | `maps`              | **str or tuple**       | `None`        | control maps in ``info``: subset of depth, seg, edges, blur |
    | `map_cameras`       | **str or tuple**       | `None`        | cameras of those maps, e.g. "front" (None: all); each camera's depth/seg is a render pass |
    | `task`              | **str**                | `"push"`      | "push" or "reach" (the grip point to above the goal) |
    | `n_objects`         | **int**                | `1`           | blocks, 1-3; the first (red) is the task object    |
    | `obs_mode`          | **str**                | `"pixels"`    | "pixels", "state" or "pixels+state"                |
    | `frame_skip`        | **int**                | `10`          | physics steps per env step (20 Hz by default)      |
    | `timestep`          | **float**              | `0.005`       | MuJoCo integration step (s)                        |
    | `goal_radius`       | **float**              | `0.05`        | success radius around the goal centre, xy (m); reach: around the target, xyz |
    | `max_translation`   | **float**              | `0.02`        | grip-point move per step at an action of +-1 (m)   |
    | `min_separation`    | **float**              | `0.1`         | minimum xy distance between blocks, and to the goal (m) |
    | `min_goal_distance` | **float**              | `0.15`        | minimum initial xy distance red block to goal (m)  |
    | `success_bonus`     | **float**              | `1.0`         | added to the reward on a success step              |
    | `terminate_on_success`| **bool**               | `True`        | end the episode on success (False: run on)              |
    | `max_rotation`      | **float**              | `0.1`         | gripper rotation per step at an action of +-1 (rad) |
    | `msaa_samples`      | **int**                | `0`           | MSAA of RGB frames; 4 is smoother, ~0.6 ms a frame dearer on llvmpipe |
    | `appearance`        | **str**                | `"default"`   | "default", a named domain of ``envs/appearance.py`` or "randomized": textures, colours, lights; the same geometry, depth and seg |

    ## Version History
    * v0: Initial version.
    """

    config_class = ManipulationConfig

    def __init__(
        self,
        config: ManipulationConfig | None = None,
        *,
        render_mode: str | None = "rgb_array",
        **overrides: Any,
    ):
        cfg = resolve_config(self, config, overrides)
        self.config = cfg
        super().__init__(
            scene_xml(cfg),
            cameras=("front", "top"),
            instances=("robot", "table", "goal", *cfg.block_names),
            width=cfg.width,
            height=cfg.height,
            frame_skip=cfg.frame_skip,
            maps=cfg.maps,
            map_cameras=cfg.map_cameras,
            render_mode=render_mode,
            assets=asset_files() if cfg.appearance != "default" else None,
        )
        self._init_task()
        m = self.model
        self.appearance_domain = "default"  # the domain of the current episode (``envs/appearance.py``)
        self._looks_rng = np.random.default_rng()  # reseeded from each seeded reset's layout stream

        def jnt(name: str) -> int:
            return int(m.jnt_qposadr[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, name)])

        self._arm_qpos = np.array(
            [
                jnt(f"j{i}_{n}")
                for i, n in enumerate(
                    ("yaw", "shoulder", "elbow", "wrist_pitch", "wrist_roll", "hand_yaw"), start=1
                )
            ]
        )
        self._finger_qpos = np.array([jnt("finger_left"), jnt("finger_right")])
        self._block_qpos = np.array(
            [int(m.jnt_qposadr[m.body_jntadr[self._body(b)]]) for b in self.block_names]
        )
        self._grip_site = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, "grip")
        self._goal_mocap = int(m.body_mocapid[self._body("goal")])
        self._ee_mocap = int(m.body_mocapid[self._body("mocap")])
        self._block_bodies = [self._body(b) for b in self.block_names]
        self._rpy = np.zeros(3)  # commanded roll, pitch, yaw of the gripper
        self._default_rgba = m.geom_rgba.copy()  # the arm's links are found by their default colour

    def _body(self, name: str) -> int:
        return mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_BODY, name)

    # ---- scene -------------------------------------------------------------------------------
    def arm_ik(self, grip_pos: np.ndarray, yaw: float = 0.0) -> np.ndarray:
        """Joint angles (j1..j6) that put the grip point at `grip_pos`, pointing down, at `yaw`.

        Closed form (elbow up): base yaw, a planar two-link solve for the wrist centre, the wrist
        pitch that keeps the hand vertical, and the hand yaw.
        """
        w = np.asarray(grip_pos, float) + np.array([0.0, 0.0, HAND_LEN]) - np.array([BASE_X, 0.0, TABLE_Z])
        q1 = np.arctan2(w[1], w[0])
        r, h = np.hypot(w[0], w[1]), w[2] - SHOULDER_H
        d = np.clip(np.hypot(r, h), 1e-6, UPPER_ARM + FOREARM - 1e-6)
        cos_a = (UPPER_ARM**2 + d**2 - FOREARM**2) / (2 * UPPER_ARM * d)
        alpha = np.arctan2(h, r) + np.arccos(np.clip(cos_a, -1.0, 1.0))  # upper arm from horizontal
        elbow = UPPER_ARM * np.array([np.cos(alpha), np.sin(alpha)])
        beta = np.arctan2(h - elbow[1], r - elbow[0])  # forearm from horizontal
        q2 = np.pi / 2 - alpha  # the upper arm points straight up at q2 = 0
        q3 = -beta - q2  # the forearm is horizontal at q2 + q3 = 0
        return np.array([q1, q2, q3, -(q2 + q3), 0.0, yaw - q1])

    def _reset_scene(self, rng: np.random.Generator, options: dict | None) -> None:
        if self.config.appearance != "default":
            self._apply_appearance(rng)
        d = self.data
        blocks, goal = sample_layout(rng, self.config, LAYOUT_LOW, LAYOUT_HIGH)
        for adr, xy, yaw in zip(
            self._block_qpos, blocks, rng.uniform(-np.pi, np.pi, len(blocks)), strict=True
        ):
            d.qpos[adr : adr + 3] = (*xy, TABLE_Z + BLOCK_HALF)
            d.qpos[adr + 3 : adr + 7] = _quat_from_rpy(0.0, 0.0, yaw)
        self._goal = np.array([*goal, TABLE_Z])
        d.mocap_pos[self._goal_mocap] = self._goal + [0.0, 0.0, 0.001]
        grip = rng.uniform([-0.15, -0.15, TABLE_Z + 0.12], [0.15, 0.15, TABLE_Z + 0.22])
        self._rpy = np.zeros(3)
        d.qpos[self._arm_qpos] = self.arm_ik(grip, 0.0)
        d.qpos[self._finger_qpos] = FINGER_OPEN
        d.ctrl[:] = FINGER_OPEN
        d.mocap_pos[self._ee_mocap] = grip
        d.mocap_quat[self._ee_mocap] = _quat_from_rpy(*self._rpy)

    def _apply_appearance(self, rng: np.random.Generator) -> None:
        """Dress the scene in this episode's domain. Its draws come from a copy of the layout's stream, so the
        layout (and every later draw) is the default's for the same seed."""
        copy = np.random.Generator(type(rng.bit_generator)())
        copy.bit_generator.state = rng.bit_generator.state
        name, look = draw(self.config.appearance, np.random.default_rng([int(copy.integers(2**62)), 0xA99]))
        m = self.model
        for surface, rgb in (("table", look.table_rgb), ("floor", look.floor_rgb)):
            mat = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_MATERIAL, f"{surface}_{name}")
            m.geom_matid[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, surface)] = mat
            m.mat_rgba[mat] = (*rgb, 1.0)
        arm = np.all(np.isclose(self._default_rgba, ARM_RGBA), axis=1)
        m.geom_rgba[arm] = (*look.arm_rgb, 1.0)
        m.light_diffuse[0] = look.light
        m.vis.headlight.ambient[:] = look.ambient
        self.appearance_domain = name

    def _apply_action(self, action: np.ndarray) -> None:
        cfg, d = self.config, self.data
        target = d.mocap_pos[self._ee_mocap] + action[:3] * cfg.max_translation
        d.mocap_pos[self._ee_mocap] = np.clip(target, WORKSPACE_LOW, WORKSPACE_HIGH)
        limits = np.array([TILT_LIMIT, TILT_LIMIT, YAW_LIMIT])
        self._rpy = np.clip(self._rpy + action[3:6] * cfg.max_rotation, -limits, limits)
        d.mocap_quat[self._ee_mocap] = _quat_from_rpy(*self._rpy)
        d.ctrl[:] = (1.0 - float(action[6])) / 2 * FINGER_OPEN

    # ---- task --------------------------------------------------------------------------------
    def grip_pos(self) -> np.ndarray:
        """World position of the grip point (between the fingers, 1 cm above their tips)."""
        return self.data.site_xpos[self._grip_site].copy()

    ee_pos = grip_pos  # the grip point is the task's end-effector point

    def block_pos(self, index: int = 0) -> np.ndarray:
        """World position of block ``index`` (0 = the red task block)."""
        return self.data.xpos[self._block_bodies[index]].copy()

    def arm_state(self) -> np.ndarray:
        """The arm as a renderer of state reads it (``world_models/state_maps.STATE``'s first 13 entries): grip
        point, elbow and wrist (world xyz, m), the commanded roll, pitch, yaw (rad) and the finger opening (m)."""
        d = self.data
        elbow, wrist = d.xpos[self._body("forearm")], d.xpos[self._body("wrist")]
        opening = d.qpos[self._finger_qpos].sum()
        return np.concatenate([self.grip_pos(), elbow, wrist, self._rpy, [opening]])

    def _ee_yaw_and_opening(self) -> tuple[float, float]:
        return float(self._rpy[2]), float(self.data.qpos[self._finger_qpos].sum())

    # ---- scripted expert ---------------------------------------------------------------------
    def expert_action(self) -> np.ndarray:
        """A pushing expert from privileged state (red block, goal, grip point).

        Stateless, so it recovers by itself: ``push_task.push_expert_target``'s approach and push
        with the closed gripper as the pusher. The finger pair is turned so its wide side faces
        the push direction, and the gripper is kept pointing straight down.
        """
        cfg = self.config
        grip = self.grip_pos()
        if cfg.task == "reach":
            a = self.reach_expert_action(grip)
            a[3:5] = np.clip(-self._rpy[:2] / cfg.max_rotation, -1.0, 1.0)  # keep pointing down
            return a
        move, u = self._push_move(grip, self.block_pos(0), self._goal)
        yaw_target = np.arctan2(u[1], u[0])  # hand x (finger thickness) along the push
        yaw_target = (yaw_target + np.pi / 2) % np.pi - np.pi / 2
        d_yaw = np.clip((yaw_target - self._rpy[2]) / cfg.max_rotation, -1.0, 1.0)
        d_tilt = np.clip(-self._rpy[:2] / cfg.max_rotation, -1.0, 1.0)
        return np.array([*move, *d_tilt, d_yaw, 1.0], dtype=np.float32)

    def _push_move(
        self, grip: np.ndarray, block: np.ndarray, goal: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The push expert's translation action (3,) and push direction (2,) from grip point, block and goal."""
        target, u = push_expert_target(
            grip,
            block,
            goal,
            grip,
            standoff=BLOCK_HALF + 0.02,
            pre_margin=0.01,
            z_push=WORKSPACE_LOW[2],
            max_translation=self.config.max_translation,
            low=WORKSPACE_LOW,
            high=WORKSPACE_HIGH,
        )
        return np.clip((target - grip) / self.config.max_translation, -1.0, 1.0), u

    def expert_from_state(self, state: dict[str, float]) -> np.ndarray:
        """The push expert's action from a state of named entries (``ee_x ee_y ee_z goal_x goal_y red_block_x
        red_block_y``, metres), such as a state estimator's or a world model's belief, instead of the scene's
        own state: the teacher ``cosmos-sim train-loop --improve imitate`` asks inside a world model.

        The gripper is not turned (its yaw is not in such a state; without turning the expert still succeeds
        on 64 of 64 validation seeds, session 24) and kept closed."""
        if self.config.task != "push":
            raise ConfigError(
                f"expert_from_state is the push task's teacher; this scene's task is {self.config.task!r}"
            )
        need = ("ee_x", "ee_y", "ee_z", "goal_x", "goal_y", "red_block_x", "red_block_y")
        missing = [n for n in need if n not in state]
        if missing:
            raise ConfigError(f"expert_from_state needs {list(need)}; {missing} missing from the state given")
        grip = np.array([state["ee_x"], state["ee_y"], state["ee_z"]], dtype=float)
        block = np.array([state["red_block_x"], state["red_block_y"], TABLE_Z + BLOCK_HALF])
        move, _ = self._push_move(grip, block, np.array([state["goal_x"], state["goal_y"], TABLE_Z]))
        return np.array([*move, 0.0, 0.0, 0.0, 1.0], dtype=np.float32)
