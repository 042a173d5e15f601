"""PyBullet tabletop manipulation: a Kuka iiwa with a pusher rod pushes the red block into a goal disc.

The same task, action, observation and reward conventions as the MuJoCo
``cosmos_sim/Manipulation-GT-v0`` (written independently; nothing is imported from it), on
PyBullet's Kuka iiwa (``pybullet_data``'s ``kuka_iiwa/model.urdf``) so the two engines can be
compared. The arm carries a rigid pusher rod (fixed constraint to the flange) instead of a
gripper; its tip is the end-effector point. Each step the tip target moves by the action's
Cartesian delta, ``calculateInverseKinematics`` turns it into joint targets (flange pointing
straight down) and position servos track them for ``frame_skip`` physics steps.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import pybullet
import pybullet_data
from gymnasium import spaces

from cosmos_sim.envs.bullet_base import BulletCamera, BulletGTEnv, BulletLight, look_at_rotation

OBS_MODES = ("pixels", "state", "pixels+state")

# Scene geometry (metres). The table top is the z reference of the workspace, centred at x = y = 0.
TABLE_Z = 0.4
BLOCK_HALF = 0.035
BASE_X = -0.55  # robot base, behind the workspace
FLANGE_LEN = 0.045  # Kuka link 7 origin to its flange face
ROD_LEN = 0.14  # pusher rod length below the flange
ROD_RADIUS = 0.012
# the Kuka cannot fold closer than ~0.4 m to its base with the rod pointing down, hence x >= -0.15
WORKSPACE_LOW = np.array([-0.15, -0.25, TABLE_Z + 0.015])
WORKSPACE_HIGH = np.array([0.25, 0.25, TABLE_Z + 0.25])
EE_LINK = 6  # Kuka link 7 (flange)
ARM_REST = (0.0, 0.5, 0.0, -1.6, 0.0, 1.0, 0.0)  # elbow-up rest pose for the IK null space

BLOCK_COLOURS: tuple[tuple[str, tuple[float, float, float]], ...] = (
    ("red", (0.9, 0.1, 0.1)),
    ("blue", (0.1, 0.35, 0.95)),
    ("yellow", (0.95, 0.85, 0.1)),
)


@dataclass(frozen=True)
class BulletManipulationConfig:
    """Settings of the PyBullet manipulation scene."""

    width: int = 64
    """Image width in pixels."""
    height: int = 64
    """Image height in pixels."""
    n_objects: int = 1
    """Number of blocks, 1-3; the first (red) is the task object, the others are distractors."""
    obs_mode: str = "pixels"
    """'pixels' (front camera RGB), 'state' (float32 vector) or 'pixels+state' (Dict)."""
    frame_skip: int = 12
    """Physics steps (of `timestep` seconds) per env step."""
    timestep: float = 1.0 / 240.0
    """PyBullet integration step in seconds."""
    goal_radius: float = 0.05
    """Success when the red block centre is within this xy distance of the goal centre (m)."""
    max_translation: float = 0.02
    """End-effector translation per step at |action| = 1 (m)."""
    min_separation: float = 0.1
    """Minimum xy distance between block centres, and between blocks and the goal (m)."""
    min_goal_distance: float = 0.15
    """Minimum initial xy distance between the red block and the goal (m)."""
    success_bonus: float = 1.0
    """Added to the reward on the step the task succeeds."""
    joint_force: float = 300.0
    """Maximum torque of each arm joint servo (N m)."""

    def __post_init__(self):
        if not 1 <= self.n_objects <= len(BLOCK_COLOURS):
            raise ValueError(f"n_objects={self.n_objects}; choose 1 to {len(BLOCK_COLOURS)}")
        if self.obs_mode not in OBS_MODES:
            raise ValueError(f"obs_mode {self.obs_mode!r} unknown; choose one of {OBS_MODES}")
        if self.frame_skip < 1 or self.timestep <= 0:
            raise ValueError(f"frame_skip ({self.frame_skip}) must be >= 1 and timestep ({self.timestep}) > 0")
        if self.goal_radius <= 0:
            raise ValueError(f"goal_radius must be positive, got {self.goal_radius}")


class BulletManipulationGTEnv(BulletGTEnv):
    """Push the red block into the green goal disc with a Kuka iiwa and a pusher rod.

    Action (7-D, each in [-1, 1]; the Cosmos/Bridge end-effector convention):
        ``[dx, dy, dz, droll, dpitch, dyaw, gripper]``
        - dx, dy, dz: pusher-tip translation, scaled by ``max_translation`` (2 cm) per step, in
          the world frame (x away from the robot base, z up); the target is clamped to the
          workspace box ``WORKSPACE_LOW .. WORKSPACE_HIGH``.
        - droll, dpitch, dyaw: accepted and ignored: the rod always points straight down (it
          is round, so its yaw does not matter for pushing).
        - gripper: accepted and ignored (a pusher has nothing to close).

    Observation (``obs_mode``): "pixels" HxWx3 uint8 from the "front" camera (default),
    "state" float32 (layout in ``state_layout``; the same layout as the MuJoCo env, where
    ``ee_yaw`` and ``gripper_opening`` are always 0 here), or "pixels+state" Dict of both.

    Reward: ``-(|tip - red block| + |red block - goal|)`` in metres (xyz, goal raised to the
    block centre height), plus ``success_bonus`` when the red block's centre is within
    ``goal_radius`` of the goal centre (xy), which also ends the episode (``info["is_success"]``).

    Cameras: "front" (in front of the table, looking back at the robot) and "top" (overhead).
    Segmentation instances: robot (arm and rod), table, goal, then the blocks by name
    (``red_block``, ``blue_block``, ``yellow_block``); the floor is background.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}
    action_layout = ("dx", "dy", "dz", "droll", "dpitch", "dyaw", "gripper")

    def __init__(
        self,
        config: BulletManipulationConfig | None = None,
        *,
        width: int | None = None,
        height: int | None = None,
        maps: str | tuple[str, ...] | None = None,
        render_mode: str | None = "rgb_array",
        obs_mode: str | None = None,
        n_objects: int | None = None,
    ):
        overrides = dict(width=width, height=height, obs_mode=obs_mode, n_objects=n_objects)
        cfg = dataclasses.replace(config or BulletManipulationConfig(),
                                  **{k: v for k, v in overrides.items() if v is not None})
        self.config = cfg
        cams = (BulletCamera("front", 45.0, 0.05, 5.0), BulletCamera("top", 40.0, 0.05, 5.0))
        super().__init__(cams, cfg.width, cfg.height, maps, render_mode,
                         light=BulletLight(direction=(0.3, -0.4, 1.0), ambient=0.55, diffuse=0.55),
                         background_rgb=(70, 75, 85))
        self.metadata = {**self.metadata, "render_fps": round(1.0 / (cfg.timestep * cfg.frame_skip))}
        self.block_names = tuple(f"{c}_block" for c, _ in BLOCK_COLOURS[: cfg.n_objects])
        self.action_space = spaces.Box(-1.0, 1.0, shape=(7,), dtype=np.float32)
        self.state_layout: tuple[str, ...] = (
            "ee_x", "ee_y", "ee_z", "ee_yaw", "gripper_opening", "goal_x", "goal_y", "goal_z",
            *(f"{b}_{ax}" for b in self.block_names for ax in "xyz"),
        )
        state_space = spaces.Box(-np.inf, np.inf, shape=(len(self.state_layout),), dtype=np.float32)
        pixel_space = spaces.Box(0, 255, shape=(cfg.height, cfg.width, 3), dtype=np.uint8)
        self.observation_space = {
            "pixels": pixel_space,
            "state": state_space,
            "pixels+state": spaces.Dict({"pixels": pixel_space, "state": state_space}),
        }[cfg.obs_mode]
        front_pos, front_target = np.array([0.63, -0.44, TABLE_Z + 0.74]), np.array([0.0, 0.0, TABLE_Z + 0.1])
        self._camera_poses = {
            "front": (front_pos, look_at_rotation(front_pos, front_target)),
            "top": (np.array([0.0, 0.0, TABLE_Z + 1.0]), np.diag([1.0, -1.0, -1.0])),
        }
        self._down = pybullet.getQuaternionFromEuler([0.0, np.pi, 0.0])
        self._goal = np.zeros(3)
        self._target = np.zeros(3)  # commanded tip position
        self._robot = self._rod = -1
        self._blocks: list[int] = []
        self._arm_joints: list[int] = []
        self._limits = (np.zeros(7), np.zeros(7))

    # ---- scene -------------------------------------------------------------------------------
    def _sample_layout(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Block xy positions (n x 2) and the goal xy, with the configured separations."""
        cfg, n = self.config, self.config.n_objects
        lo, hi = np.array([-0.08, -0.2]), np.array([0.2, 0.2])
        for _ in range(1000):
            pts = rng.uniform(lo, hi, size=(n + 1, 2))
            blocks, goal = pts[:n], pts[n]
            gaps = np.linalg.norm(blocks[:, None] - blocks[None], axis=-1) + np.eye(n)
            to_goal = np.linalg.norm(blocks - goal, axis=-1)
            if (gaps.min() >= cfg.min_separation and to_goal[0] >= cfg.min_goal_distance
                    and np.all(to_goal[1:] >= cfg.min_separation)):
                return blocks, goal
        raise RuntimeError("could not place the blocks; lower min_separation or min_goal_distance")

    def _build_scene(self, rng: np.random.Generator, options: dict | None) -> None:
        c, cfg = self.client, self.config
        c.setGravity(0, 0, -9.81)
        c.setTimeStep(cfg.timestep)
        self._box([3, 3, 0.01], [0, 0, -0.01], (0.24, 0.26, 0.29, 1))  # floor: background
        table = self._box([0.6, 0.5, TABLE_Z / 2], [-0.15, 0, TABLE_Z / 2], (0.62, 0.5, 0.38, 1))
        c.changeDynamics(table, -1, lateralFriction=0.5)
        self._add_instance("table", table, track=True)
        goal_vis = self._disc(cfg.goal_radius, (0.1, 0.8, 0.25))
        blocks, goal = self._sample_layout(rng)
        self._goal = np.array([*goal, TABLE_Z])
        self._add_instance("goal", c.createMultiBody(0, -1, goal_vis, basePosition=[*goal, TABLE_Z + 0.001]),
                           track=True)
        self._blocks = []
        for name, xy, yaw, (_, rgb) in zip(self.block_names, blocks, rng.uniform(-np.pi, np.pi, len(blocks)),
                                           BLOCK_COLOURS, strict=False):
            uid = self._box([BLOCK_HALF] * 3, [*xy, TABLE_Z + BLOCK_HALF], (*rgb, 1), mass=0.1, yaw=yaw)
            c.changeDynamics(uid, -1, lateralFriction=0.5, spinningFriction=0.001)
            self._add_instance(name, uid, track=True)
            self._blocks.append(uid)
        self._build_robot(rng.uniform([-0.1, -0.15, TABLE_Z + 0.12], [0.15, 0.15, TABLE_Z + 0.22]))

    def _disc(self, radius: float, rgb, segments: int = 32) -> int:
        """Visual shape of a flat disc (a triangle fan: a thin cylinder's smoothed normals shade
        its cap like a dome in TinyRenderer)."""
        a = np.linspace(0, 2 * np.pi, segments, endpoint=False)
        verts = [[0.0, 0.0, 0.0]] + [[radius * np.cos(t), radius * np.sin(t), 0.0] for t in a]
        idx = [i for k in range(segments) for i in (0, 1 + k, 1 + (k + 1) % segments)]
        return self.client.createVisualShape(pybullet.GEOM_MESH, vertices=verts, indices=idx,
                                             normals=[[0, 0, 1]] * len(verts), rgbaColor=[*rgb, 1])

    def _build_robot(self, tip: np.ndarray) -> None:
        """Load the Kuka, put its tip at ``tip`` (IK), and attach the pusher rod to the flange."""
        c = self.client
        self._robot = c.loadURDF(pybullet_data.getDataPath() + "/kuka_iiwa/model.urdf",
                                 [BASE_X, 0, TABLE_Z], useFixedBase=True)
        self._add_instance("robot", self._robot, track=True)
        for link in range(-1, c.getNumJoints(self._robot)):  # light grey arm, dark wrist: unlike any block
            rgba = [0.3, 0.32, 0.36, 1] if link >= EE_LINK - 1 else [0.82, 0.84, 0.88, 1]
            c.changeVisualShape(self._robot, link, rgbaColor=rgba)
        self._arm_joints = list(range(c.getNumJoints(self._robot)))
        info = [c.getJointInfo(self._robot, j) for j in self._arm_joints]
        self._limits = (np.array([i[8] for i in info]), np.array([i[9] for i in info]))
        for j, q in zip(self._arm_joints, ARM_REST, strict=True):
            c.resetJointState(self._robot, j, q)
        for _ in range(20):  # IK from the current pose converges in a few rounds
            q = self._ik(tip)
            for j, qj in zip(self._arm_joints, q, strict=True):
                c.resetJointState(self._robot, j, qj)
        self._target = np.array(tip, dtype=np.float64)
        rod_vis = c.createVisualShape(pybullet.GEOM_CYLINDER, radius=ROD_RADIUS, length=ROD_LEN,
                                      rgbaColor=[0.2, 0.2, 0.22, 1])
        rod_col = c.createCollisionShape(pybullet.GEOM_CYLINDER, radius=ROD_RADIUS, height=ROD_LEN)
        pos, orn = c.getLinkState(self._robot, EE_LINK, computeForwardKinematics=True)[4:6]
        offset = [0, 0, FLANGE_LEN + ROD_LEN / 2]
        rod_pos, rod_orn = c.multiplyTransforms(pos, orn, offset, [0, 0, 0, 1])
        self._rod = c.createMultiBody(0.05, rod_col, rod_vis, basePosition=rod_pos, baseOrientation=rod_orn)
        self._add_instance("robot", self._rod)
        cid = c.createConstraint(self._robot, EE_LINK, self._rod, -1, pybullet.JOINT_FIXED, [0, 0, 0], offset,
                                 [0, 0, 0])
        c.changeConstraint(cid, maxForce=2000)
        c.setCollisionFilterPair(self._robot, self._rod, EE_LINK, -1, 0)
        self._servo(self._ik(tip))

    def _ik(self, tip: np.ndarray) -> np.ndarray:
        """Joint angles that put the rod tip at ``tip`` with the flange pointing straight down."""
        lo, hi = self._limits
        flange = np.asarray(tip) + [0.0, 0.0, FLANGE_LEN + ROD_LEN]
        q = self.client.calculateInverseKinematics(
            self._robot, EE_LINK, flange.tolist(), self._down, lowerLimits=lo.tolist(), upperLimits=hi.tolist(),
            jointRanges=(hi - lo).tolist(), restPoses=list(ARM_REST), maxNumIterations=50,
            residualThreshold=1e-5)
        return np.asarray(q)

    def _servo(self, q: np.ndarray) -> None:
        n = len(self._arm_joints)
        self.client.setJointMotorControlArray(self._robot, self._arm_joints, pybullet.POSITION_CONTROL,
                                              targetPositions=q.tolist(), forces=[self.config.joint_force] * n)

    def _apply_action(self, action: np.ndarray) -> None:
        cfg = self.config
        self._target = np.clip(self._target + action[:3] * cfg.max_translation, WORKSPACE_LOW, WORKSPACE_HIGH)
        self._servo(self._ik(self._target))
        for _ in range(cfg.frame_skip):
            self.client.stepSimulation()

    def _camera_pose(self, camera: str) -> tuple[np.ndarray, np.ndarray]:
        return self._camera_poses[camera]

    # ---- task --------------------------------------------------------------------------------
    def ee_pos(self) -> np.ndarray:
        """World position of the pusher tip (the end-effector point)."""
        pos, orn = self.client.getLinkState(self._robot, EE_LINK, computeForwardKinematics=True)[4:6]
        tip = self.client.multiplyTransforms(pos, orn, [0, 0, FLANGE_LEN + ROD_LEN], [0, 0, 0, 1])[0]
        return np.asarray(tip, dtype=np.float64)

    def goal_pos(self) -> np.ndarray:
        """World position of the goal disc centre (on the table top)."""
        return self._goal.copy()

    def block_pos(self, index: int = 0) -> np.ndarray:
        """World position of block ``index`` (0 = the red task block)."""
        return np.asarray(self.client.getBasePositionAndOrientation(self._blocks[index])[0], dtype=np.float64)

    def _reward(self) -> tuple[float, bool, dict[str, Any]]:
        tip, block = self.ee_pos(), self.block_pos(0)
        block_goal = float(np.linalg.norm(block[:2] - self._goal[:2]))
        success = block_goal <= self.config.goal_radius
        reward = -(np.linalg.norm(tip - block) + np.linalg.norm(block - self._goal - [0, 0, BLOCK_HALF]))
        reward += self.config.success_bonus * success
        return float(reward), success, {"is_success": success, "block_goal_distance": block_goal, "ee_pos": tip}

    def _info(self, extra: dict[str, Any]) -> dict[str, Any]:
        if "is_success" not in extra:  # reset: report the same keys as step
            extra = self._reward()[2]
        return super()._info(extra)

    def state(self) -> np.ndarray:
        """The privileged state vector (layout in ``state_layout``)."""
        blocks = np.concatenate([self.block_pos(i) for i in range(len(self._blocks))])
        return np.concatenate([self.ee_pos(), [0.0, 0.0], self._goal, blocks]).astype(np.float32)

    def _observation(self) -> Any:
        mode = self.config.obs_mode
        if mode == "pixels":
            return self.rgb()
        if mode == "state":
            return self.state()
        return {"pixels": self.rgb(), "state": self.state()}

    # ---- scripted expert ---------------------------------------------------------------------
    def expert_action(self) -> np.ndarray:
        """A pushing expert from privileged state (red block, goal, tip).

        Stateless, so it recovers by itself: unless the tip sits low and right behind the block
        on the block-goal line, it rises above the blocks, flies to a point behind the block and
        descends; once there it pushes along the line, correcting sideways drift.
        """
        cfg = self.config
        tip, block = self.ee_pos(), self.block_pos(0)
        to_goal = self._goal[:2] - block[:2]
        dist = float(np.linalg.norm(to_goal))
        u = to_goal / max(dist, 1e-9)
        side = np.array([-u[1], u[0]])
        rel = tip[:2] - block[:2]
        along, lateral = float(rel @ u), float(rel @ side)
        standoff = BLOCK_HALF + ROD_RADIUS + 0.01  # tip to block centre before pushing
        z_push, z_safe = WORKSPACE_LOW[2] + 0.005, TABLE_Z + 2 * BLOCK_HALF + 0.04
        if along < -BLOCK_HALF and abs(lateral) < 0.02 and tip[2] < z_push + 0.02:
            # push: advance along the line by what is left to go, re-centring behind the block
            target_xy = self._target[:2] + u * min(dist + 0.005, cfg.max_translation) - side * lateral
            target = np.array([*target_xy, z_push])
        else:
            pre = np.clip(block[:2] - u * standoff, WORKSPACE_LOW[:2], WORKSPACE_HIGH[:2])
            if np.linalg.norm(tip[:2] - pre) < 0.015:
                target = np.array([*pre, z_push])  # descend behind the block
            elif tip[2] < z_safe - 0.01 and np.linalg.norm(rel) < standoff + 0.06:
                target = np.array([*tip[:2], z_safe])  # lift clear of the block first
            else:
                target = np.array([*pre, z_safe])  # fly over to the pre-push point
        # command relative to the commanded target, not the lagging tip, so servo lag does not add up
        move = np.clip((target - self._target) / cfg.max_translation, -1.0, 1.0)
        return np.array([*move, 0.0, 0.0, 0.0, 0.0], dtype=np.float32)
