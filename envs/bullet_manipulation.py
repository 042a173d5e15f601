"""PyBullet tabletop manipulation: a Kuka iiwa with a pusher rod pushes the red block into a goal disc.

The same task as the MuJoCo ``cosmos_sim/Manipulation-GT-v0``: its config fields, blocks,
action, observation and state layout, reward and success, layout sampling and the expert's push
geometry come from ``push_task``, shared by both. This module adds the scene on
PyBullet's Kuka iiwa (``pybullet_data``'s ``kuka_iiwa/model.urdf``) so the two engines can be
compared. The arm carries a rigid pusher rod (fixed constraint to the flange) instead of a
gripper; its tip is the end-effector point. Each step the tip target moves by the action's
Cartesian delta, ``calculateInverseKinematics`` turns it into joint targets (flange pointing
straight down) and position servos track them for ``frame_skip`` physics steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pybullet
import pybullet_data

from cosmos_sim.envs.bullet_base import BulletCamera, BulletGTEnv, BulletLight, look_at_rotation
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

# Scene geometry (metres), on top of push_task's table and blocks; the workspace is centred at x = y = 0.
BASE_X = -0.55  # robot base, behind the workspace
FLANGE_LEN = 0.045  # Kuka link 7 origin to its flange face
ROD_LEN = 0.14  # pusher rod length below the flange
ROD_RADIUS = 0.012
# the Kuka cannot fold closer than ~0.4 m to its base with the rod pointing down, hence x >= -0.15
WORKSPACE_LOW = np.array([-0.15, -0.25, TABLE_Z + 0.015])
WORKSPACE_HIGH = np.array([0.25, 0.25, TABLE_Z + 0.25])
EE_LINK = 6  # Kuka link 7 (flange)
ARM_REST = (0.0, 0.5, 0.0, -1.6, 0.0, 1.0, 0.0)  # elbow-up rest pose for the IK null space
# the arm folds badly closer to its base, so blocks and goal start at x >= -0.08 (xy box)
LAYOUT_LOW, LAYOUT_HIGH = np.array([-0.08, -0.2]), np.array([0.2, 0.2])


@dataclass(frozen=True)
class BulletManipulationConfig(PushTaskConfig):
    """Settings of the PyBullet manipulation scene (the push task's, plus PyBullet's own)."""

    frame_skip: int = 12
    """Physics steps (of `timestep` seconds) per env step."""
    timestep: float = 1.0 / 240.0
    """PyBullet integration step in seconds."""
    joint_force: float = 300.0
    """Maximum torque of each arm joint servo (N m)."""


class BulletManipulationGTEnv(PushTaskEnv, BulletGTEnv):
    """Push the red block into the green goal disc with a Kuka iiwa and a pusher rod.

    Action (7-D, each in [-1, 1]; the Cosmos/Bridge end-effector convention):
        ``[dx, dy, dz, droll, dpitch, dyaw, gripper]``
        - dx, dy, dz: pusher-tip translation, scaled by ``max_translation`` (2 cm) per step, in
          the world frame (x away from the robot base, z up); the target is clamped to the
          workspace box ``WORKSPACE_LOW .. WORKSPACE_HIGH``.
        - droll, dpitch, dyaw: accepted and ignored: the rod always points straight down (it
          is round, so its yaw does not matter for pushing).
        - gripper: accepted and ignored (a pusher has nothing to close).

    Observation modes, state layout, reward, success and the task's ``info`` keys are
    ``push_task.PushTaskEnv``'s, as in the MuJoCo env; the end-effector point (``ee_pos``) is
    the rod tip, and the state's ``ee_yaw`` and ``gripper_opening`` are always 0 here.

    Cameras: "front" (in front of the table, looking back at the robot) and "top" (overhead).
    Segmentation instances: robot (arm and rod), table, goal, then the blocks by name
    (``red_block``, ``blue_block``, ``yellow_block``); the floor is background.
    """

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
        cfg = (config or BulletManipulationConfig()).with_overrides(width=width, height=height, obs_mode=obs_mode,
                                                                    n_objects=n_objects)
        self.config = cfg
        cams = (BulletCamera("front", 45.0, 0.05, 5.0), BulletCamera("top", 40.0, 0.05, 5.0))
        super().__init__(cams, cfg.width, cfg.height, maps, render_mode,
                         light=BulletLight(direction=(0.3, -0.4, 1.0), ambient=0.55, diffuse=0.55),
                         background_rgb=(70, 75, 85))
        self._init_task()
        front_pos, front_target = np.array([0.63, -0.44, TABLE_Z + 0.74]), np.array([0.0, 0.0, TABLE_Z + 0.1])
        self._camera_poses = {
            "front": (front_pos, look_at_rotation(front_pos, front_target)),
            "top": (np.array([0.0, 0.0, TABLE_Z + 1.0]), np.diag([1.0, -1.0, -1.0])),
        }
        self._down = pybullet.getQuaternionFromEuler([0.0, np.pi, 0.0])
        self._target = np.zeros(3)  # commanded tip position
        self._robot = self._rod = -1
        self._blocks: list[int] = []
        self._arm_joints: list[int] = []
        self._limits = (np.zeros(7), np.zeros(7))

    # ---- scene -------------------------------------------------------------------------------
    def _build_scene(self, rng: np.random.Generator, options: dict | None) -> None:
        c, cfg = self.client, self.config
        c.setGravity(0, 0, -9.81)
        c.setTimeStep(cfg.timestep)
        self._box([3, 3, 0.01], [0, 0, -0.01], (0.24, 0.26, 0.29, 1))  # floor: background
        table = self._box([0.6, 0.5, TABLE_Z / 2], [-0.15, 0, TABLE_Z / 2], (0.62, 0.5, 0.38, 1))
        c.changeDynamics(table, -1, lateralFriction=0.5)
        self._add_instance("table", table, track=True)
        goal_vis = self._disc(cfg.goal_radius, (0.1, 0.8, 0.25))
        blocks, goal = sample_layout(rng, cfg, LAYOUT_LOW, LAYOUT_HIGH)
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

    def block_pos(self, index: int = 0) -> np.ndarray:
        """World position of block ``index`` (0 = the red task block)."""
        return np.asarray(self.client.getBasePositionAndOrientation(self._blocks[index])[0], dtype=np.float64)

    # ---- scripted expert ---------------------------------------------------------------------
    def expert_action(self) -> np.ndarray:
        """A pushing expert from privileged state (red block, goal, tip).

        Stateless, so it recovers by itself: ``push_task.push_expert_target``'s approach and push
        with the rod tip, pushing steps taken from the commanded tip target.
        """
        cfg = self.config
        target, _ = push_expert_target(
            self.ee_pos(), self.block_pos(0), self._goal, self._target, standoff=BLOCK_HALF + ROD_RADIUS + 0.01,
            pre_margin=0.0, z_push=WORKSPACE_LOW[2] + 0.005, max_translation=cfg.max_translation,
            low=WORKSPACE_LOW, high=WORKSPACE_HIGH)
        # command relative to the commanded target, not the lagging tip, so servo lag does not add up
        move = np.clip((target - self._target) / cfg.max_translation, -1.0, 1.0)
        return np.array([*move, 0.0, 0.0, 0.0, 0.0], dtype=np.float32)
