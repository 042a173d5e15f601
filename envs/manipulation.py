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

import mujoco
import numpy as np

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

    def __post_init__(self):
        super().__post_init__()
        if self.msaa_samples < 0:
            raise ValueError(f"msaa_samples must be >= 0, got {self.msaa_samples}")


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
    <default class="arm"><geom type="capsule" rgba="0.82 0.84 0.88 1" mass="0.5"/>
      <joint damping="2" armature="0.01"/></default>
  </default>
  <asset>
    <texture name="floor" type="2d" builtin="checker" rgb1="0.25 0.27 0.3" rgb2="0.2 0.22 0.25"
             width="64" height="64"/>
    <material name="floor" texture="floor" texrepeat="8 8"/>
  </asset>
  <worldbody>
    <light pos="0.3 -0.3 2.0" dir="-0.2 0.2 -1" diffuse="0.6 0.6 0.6" castshadow="false"/>
    <geom name="floor" type="plane" size="3 3 1" material="floor"/>
    <body name="table" pos="-0.1 0 {t / 2}">
      <geom type="box" size="0.55 0.5 {t / 2}" rgba="0.62 0.5 0.38 1" friction="0.5 0.005 0.0001"
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
    """Push the red block into the green goal disc with a mocap-driven 6-joint arm.

    Action (7-D, each in [-1, 1]; the Cosmos/Bridge end-effector convention):
        ``[dx, dy, dz, droll, dpitch, dyaw, gripper]``
        - dx, dy, dz: grip-point translation, scaled by ``max_translation`` (2 cm) per step, in
          the world frame (x away from the robot base, z up). The target is clamped to the
          workspace box ``WORKSPACE_LOW .. WORKSPACE_HIGH``.
        - droll, dpitch, dyaw: rotation increments, scaled by ``max_rotation`` (0.1 rad) per
          step, of the gripper's world roll/pitch/yaw (gripper pointing down is 0, 0, 0).
          Roll and pitch are clamped to +-0.3 rad around pointing down; yaw to +-pi/2 (the
          gripper is symmetric under a half turn).
        - gripper: absolute finger command, -1 fully open .. +1 closed.

    Observation modes, state layout, reward, success and the task's ``info`` keys are
    ``push_task.PushTaskEnv``'s; the end-effector point (``ee_pos``) is the grip point.
    Cameras: "front" (3/4 view of the whole workspace box) and "top" (straight down,
    ``TOP_CAM_HEIGHT`` above the table).

    Segmentation instances: robot (arm and gripper), table, goal, then the blocks by name
    (``red_block``, ``blue_block``, ``yellow_block``).

    ``expert_action()`` is a scripted pusher: 49/50 successes on seeds 0-49 with one block,
    48/50 with three (292/300 on seeds 0-299 with one), 32 steps on average.
    """

    def __init__(
        self,
        config: ManipulationConfig | None = None,
        *,
        width: int | None = None,
        height: int | None = None,
        maps: str | tuple[str, ...] | None = None,
        render_mode: str | None = "rgb_array",
        obs_mode: str | None = None,
        n_objects: int | None = None,
    ):
        cfg = (config or default_config()).with_overrides(width=width, height=height, obs_mode=obs_mode,
                                                          n_objects=n_objects)
        self.config = cfg
        super().__init__(
            scene_xml(cfg),
            cameras=("front", "top"),
            instances=("robot", "table", "goal", *cfg.block_names),
            width=cfg.width,
            height=cfg.height,
            frame_skip=cfg.frame_skip,
            maps=maps,
            render_mode=render_mode,
        )
        self._init_task()
        m = self.model

        def jnt(name: str) -> int:
            return int(m.jnt_qposadr[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, name)])

        self._arm_qpos = np.array([jnt(f"j{i}_{n}") for i, n in enumerate(
            ("yaw", "shoulder", "elbow", "wrist_pitch", "wrist_roll", "hand_yaw"), start=1)])
        self._finger_qpos = np.array([jnt("finger_left"), jnt("finger_right")])
        self._block_qpos = np.array([int(m.jnt_qposadr[m.body_jntadr[self._body(b)]]) for b in self.block_names])
        self._grip_site = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, "grip")
        self._goal_mocap = int(m.body_mocapid[self._body("goal")])
        self._ee_mocap = int(m.body_mocapid[self._body("mocap")])
        self._block_bodies = [self._body(b) for b in self.block_names]
        self._rpy = np.zeros(3)  # commanded roll, pitch, yaw of the gripper

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
        d = self.data
        blocks, goal = sample_layout(rng, self.config, LAYOUT_LOW, LAYOUT_HIGH)
        for adr, xy, yaw in zip(self._block_qpos, blocks, rng.uniform(-np.pi, np.pi, len(blocks)), strict=True):
            d.qpos[adr:adr + 3] = (*xy, TABLE_Z + BLOCK_HALF)
            d.qpos[adr + 3:adr + 7] = _quat_from_rpy(0.0, 0.0, yaw)
        self._goal = np.array([*goal, TABLE_Z])
        d.mocap_pos[self._goal_mocap] = self._goal + [0.0, 0.0, 0.001]
        grip = rng.uniform([-0.15, -0.15, TABLE_Z + 0.12], [0.15, 0.15, TABLE_Z + 0.22])
        self._rpy = np.zeros(3)
        d.qpos[self._arm_qpos] = self.arm_ik(grip, 0.0)
        d.qpos[self._finger_qpos] = FINGER_OPEN
        d.ctrl[:] = FINGER_OPEN
        d.mocap_pos[self._ee_mocap] = grip
        d.mocap_quat[self._ee_mocap] = _quat_from_rpy(*self._rpy)

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
        target, u = push_expert_target(
            grip, self.block_pos(0), self._goal, grip, standoff=BLOCK_HALF + 0.02, pre_margin=0.01,
            z_push=WORKSPACE_LOW[2], max_translation=cfg.max_translation, low=WORKSPACE_LOW, high=WORKSPACE_HIGH)
        move = np.clip((target - grip) / cfg.max_translation, -1.0, 1.0)
        yaw_target = np.arctan2(u[1], u[0])  # hand x (finger thickness) along the push
        yaw_target = (yaw_target + np.pi / 2) % np.pi - np.pi / 2
        d_yaw = np.clip((yaw_target - self._rpy[2]) / cfg.max_rotation, -1.0, 1.0)
        d_tilt = np.clip(-self._rpy[:2] / cfg.max_rotation, -1.0, 1.0)
        return np.array([*move, *d_tilt, d_yaw, 1.0], dtype=np.float32)
