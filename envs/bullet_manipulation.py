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
from typing import Any

import numpy as np
import pybullet
import pybullet_data

from cosmos_sim.envs.base import resolve_config
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
    r"""Push the red block into the green goal disc with a Kuka iiwa and a pusher rod (PyBullet).

    ## Description
    The push task of ``cosmos_sim/Manipulation-GT-v0`` on another engine, so the two can be
    compared: PyBullet's Kuka iiwa (``pybullet_data``'s ``kuka_iiwa/model.urdf``) stands behind
    a table holding 1-3 coloured blocks (red, then blue and yellow distractors) and a flat green
    goal disc; the task is to push the red block into the goal. The arm carries a rigid pusher
    rod (fixed constraint to the flange) instead of a gripper; its tip is the end-effector
    point. Each step the tip target moves by the action's Cartesian delta,
    ``calculateInverseKinematics`` turns it into joint targets (flange pointing straight down)
    and position servos (at most ``joint_force``) track them for ``frame_skip`` physics steps.
    The task (spaces, reward, success, layout sampling) is ``push_task.PushTaskEnv``'s, as in
    the MuJoCo env. Rendering: PyBullet's TinyRenderer (CPU), no shadows.

    Cameras: "front" (in front of the table, looking back at the robot; the observation and
    ``render()``) and "top" (overhead). Segmentation instances: robot (arm and rod), table, goal,
    then the blocks by name (``red_block``, ``blue_block``, ``yellow_block``); the floor is
    background. ``expert_action()`` is a scripted pusher from privileged state.

    ## Action Space
    The action space is a `Box(-1, 1, (7,), float32)`, the same layout as the MuJoCo env
    (``action_layout``, the Cosmos/Bridge end-effector convention):

    | Num | Action  | Min | Max | Effect                                                               |
    |-----|---------|-----|-----|----------------------------------------------------------------------|
    | 0   | dx      | -1  | 1   | rod-tip move along world x (away from the robot base), x `max_translation` m |
    | 1   | dy      | -1  | 1   | rod-tip move along world y, x `max_translation` m                    |
    | 2   | dz      | -1  | 1   | rod-tip move along world z (up), x `max_translation` m               |
    | 3   | droll   | -1  | 1   | accepted and ignored: the rod always points straight down            |
    | 4   | dpitch  | -1  | 1   | accepted and ignored                                                 |
    | 5   | dyaw    | -1  | 1   | accepted and ignored (the rod is round)                              |
    | 6   | gripper | -1  | 1   | accepted and ignored (a pusher has nothing to close)                 |

    The tip target is clamped to the workspace box ``WORKSPACE_LOW .. WORKSPACE_HIGH`` (x in
    [-0.15, 0.25] m, y in [-0.25, 0.25] m, z 0.015-0.25 m above the table; the Kuka cannot fold
    closer to its base with the rod pointing down). An action outside the space, of another
    shape or with NaN raises a ``ValueError``.

    ## Observation Space
    Chosen with ``obs_mode``, as in the MuJoCo env:

    - "pixels" (default): the front camera's RGB, `Box(0, 255, (height, width, 3), uint8)`.
    - "state": `Box(-inf, inf, (8 + 3 * n_objects,), float32)`, laid out as ``state_layout``:

    | Num        | Observation                                         | Unit |
    |------------|-----------------------------------------------------|------|
    | 0-2        | rod tip x, y, z (``ee_x``, ``ee_y``, ``ee_z``)      | m    |
    | 3          | ``ee_yaw``: always 0 here                           | rad  |
    | 4          | ``gripper_opening``: always 0 here                  | m    |
    | 5-7        | goal disc centre x, y, z (on the table top)         | m    |
    | 8 + 3i ... | block i's centre x, y, z (red first)                | m    |

    - "pixels+state": `Dict({"pixels": ..., "state": ...})` of both.

    ## Rewards
    Dense, in metres: ***reward*** *= -(|p_tip - p_red| + |p_red - (p_goal + [0, 0, BLOCK_HALF])|)
    + success_bonus * is_success*, where the goal is raised to the block centre height
    (``BLOCK_HALF`` = 0.035 m) and ``is_success`` is the red block's centre within
    ``goal_radius`` of the goal centre in xy. ``info`` after ``reset`` and every ``step``:
    ``is_success``, ``block_goal_distance`` (m, xy), ``ee_pos`` (3,), ``objects`` (pose and
    linear velocity of robot, table, goal and blocks) and, when ``maps`` is not empty,
    ``cameras`` (intrinsics, world-to-camera extrinsics) and ``maps`` (per camera).

    ## Starting State
    Every reset rebuilds the whole simulation from the seed: the blocks' and the goal's xy
    uniform in x in [-0.08, 0.2] m, y in [-0.2, 0.2] m (``LAYOUT_LOW .. LAYOUT_HIGH``; the arm
    folds badly closer to its base), block centres at least ``min_separation`` apart and from
    the goal, the red block at least ``min_goal_distance`` from the goal (rejection sampling);
    each block rests on the table with a yaw uniform in [-pi, pi). The rod tip starts uniform in
    x in [-0.1, 0.15] m, y in [-0.15, 0.15] m, 0.12-0.22 m above the table, the arm placed there
    by IK from an elbow-up rest pose. Reset options are ignored.

    ## Episode End
    ### Termination
    When the red block's centre is within ``goal_radius`` (0.05 m) of the goal centre in xy
    (``info["is_success"]``).

    ### Truncation
    The registered id truncates after 100 steps (``max_episode_steps``); the env itself never
    truncates.

    ## Arguments
    Options come one way: ``BulletManipulationGTEnv(config=None, *, render_mode="rgb_array",
    **overrides)`` where ``config`` is a ``BulletManipulationConfig`` (default: the registered
    id's) and every override is one of its fields; an unknown keyword is a ``ValueError`` naming
    it and the valid ones. The result is ``env.config``.

    ```python
    import gymnasium as gym
    env = gym.make("cosmos_sim/Manipulation-Bullet-GT-v0", width=128, height=128, n_objects=3)
    ```

    | Parameter           | Type                         | Default       | Description                                  |
    |---------------------|------------------------------|---------------|----------------------------------------------|
    | `config`            | **BulletManipulationConfig** | `None`        | all settings at once; keyword options replace fields |
    | `render_mode`       | **str**                      | `"rgb_array"` | "rgb_array" (the front camera) or None       |
    | `width`             | **int**                      | `64`          | image width in pixels (at least 8)           |
    | `height`            | **int**                      | `64`          | image height in pixels (at least 8)          |
    | `maps`              | **str or tuple**             | `None`        | control maps in ``info``: subset of depth, seg, edges, blur |
    | `map_cameras`       | **str or tuple**             | `None`        | cameras of those maps, e.g. "front" (None: all); each camera's depth/seg is a render pass |
    | `task`              | **str**                      | `"push"`      | "push" or "reach" (the rod tip to above the goal) |
    | `n_objects`         | **int**                      | `1`           | blocks, 1-3; the first (red) is the task object |
    | `obs_mode`          | **str**                      | `"pixels"`    | "pixels", "state" or "pixels+state"          |
    | `frame_skip`        | **int**                      | `12`          | physics steps per env step (20 Hz by default) |
    | `timestep`          | **float**                    | `1 / 240`     | PyBullet integration step (s)                |
    | `goal_radius`       | **float**                    | `0.05`        | success radius around the goal centre, xy (m); reach: around the target, xyz |
    | `max_translation`   | **float**                    | `0.02`        | rod-tip move per step at an action of +-1 (m) |
    | `min_separation`    | **float**                    | `0.1`         | minimum xy distance between blocks, and to the goal (m) |
    | `min_goal_distance` | **float**                    | `0.15`        | minimum initial xy distance red block to goal (m) |
    | `success_bonus`     | **float**                    | `1.0`         | added to the reward on a success step        |
    | `terminate_on_success`| **bool**                     | `True`        | end the episode on success (False: run on)        |
    | `joint_force`       | **float**                    | `300.0`       | maximum torque of each arm joint servo (N m) |

    ## Version History
    * v0: Initial version.
    """

    config_class = BulletManipulationConfig

    def __init__(
        self,
        config: BulletManipulationConfig | None = None,
        *,
        render_mode: str | None = "rgb_array",
        **overrides: Any,
    ):
        cfg = resolve_config(self, config, overrides)
        self.config = cfg
        cams = (BulletCamera("front", 45.0, 0.05, 5.0), BulletCamera("top", 40.0, 0.05, 5.0))
        super().__init__(
            cams,
            cfg.width,
            cfg.height,
            cfg.maps,
            render_mode,
            light=BulletLight(direction=(0.3, -0.4, 1.0), ambient=0.55, diffuse=0.55),
            background_rgb=(70, 75, 85),
            map_cameras=cfg.map_cameras,
        )
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
        self._add_instance(
            "goal", c.createMultiBody(0, -1, goal_vis, basePosition=[*goal, TABLE_Z + 0.001]), track=True
        )
        self._blocks = []
        for name, xy, yaw, (_, rgb) in zip(
            self.block_names, blocks, rng.uniform(-np.pi, np.pi, len(blocks)), BLOCK_COLOURS, strict=False
        ):
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
        return self.client.createVisualShape(
            pybullet.GEOM_MESH,
            vertices=verts,
            indices=idx,
            normals=[[0, 0, 1]] * len(verts),
            rgbaColor=[*rgb, 1],
        )

    def _build_robot(self, tip: np.ndarray) -> None:
        """Load the Kuka, put its tip at ``tip`` (IK), and attach the pusher rod to the flange."""
        c = self.client
        self._robot = c.loadURDF(
            pybullet_data.getDataPath() + "/kuka_iiwa/model.urdf", [BASE_X, 0, TABLE_Z], useFixedBase=True
        )
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
        rod_vis = c.createVisualShape(
            pybullet.GEOM_CYLINDER, radius=ROD_RADIUS, length=ROD_LEN, rgbaColor=[0.2, 0.2, 0.22, 1]
        )
        rod_col = c.createCollisionShape(pybullet.GEOM_CYLINDER, radius=ROD_RADIUS, height=ROD_LEN)
        pos, orn = c.getLinkState(self._robot, EE_LINK, computeForwardKinematics=True)[4:6]
        offset = [0, 0, FLANGE_LEN + ROD_LEN / 2]
        rod_pos, rod_orn = c.multiplyTransforms(pos, orn, offset, [0, 0, 0, 1])
        self._rod = c.createMultiBody(0.05, rod_col, rod_vis, basePosition=rod_pos, baseOrientation=rod_orn)
        self._add_instance("robot", self._rod)
        cid = c.createConstraint(
            self._robot, EE_LINK, self._rod, -1, pybullet.JOINT_FIXED, [0, 0, 0], offset, [0, 0, 0]
        )
        c.changeConstraint(cid, maxForce=2000)
        c.setCollisionFilterPair(self._robot, self._rod, EE_LINK, -1, 0)
        self._servo(self._ik(tip))

    def _ik(self, tip: np.ndarray) -> np.ndarray:
        """Joint angles that put the rod tip at ``tip`` with the flange pointing straight down."""
        lo, hi = self._limits
        flange = np.asarray(tip) + [0.0, 0.0, FLANGE_LEN + ROD_LEN]
        q = self.client.calculateInverseKinematics(
            self._robot,
            EE_LINK,
            flange.tolist(),
            self._down,
            lowerLimits=lo.tolist(),
            upperLimits=hi.tolist(),
            jointRanges=(hi - lo).tolist(),
            restPoses=list(ARM_REST),
            maxNumIterations=50,
            residualThreshold=1e-5,
        )
        return np.asarray(q)

    def _servo(self, q: np.ndarray) -> None:
        n = len(self._arm_joints)
        self.client.setJointMotorControlArray(
            self._robot,
            self._arm_joints,
            pybullet.POSITION_CONTROL,
            targetPositions=q.tolist(),
            forces=[self.config.joint_force] * n,
        )

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
        if cfg.task == "reach":  # commanded relative to the commanded target, as the push below
            a = self.reach_expert_action(self._target)
            a[6] = 0.0  # the rod has no gripper
            return a
        target, _ = push_expert_target(
            self.ee_pos(),
            self.block_pos(0),
            self._goal,
            self._target,
            standoff=BLOCK_HALF + ROD_RADIUS + 0.01,
            pre_margin=0.0,
            z_push=WORKSPACE_LOW[2] + 0.005,
            max_translation=cfg.max_translation,
            low=WORKSPACE_LOW,
            high=WORKSPACE_HIGH,
        )
        # command relative to the commanded target, not the lagging tip, so servo lag does not add up
        move = np.clip((target - self._target) / cfg.max_translation, -1.0, 1.0)
        return np.array([*move, 0.0, 0.0, 0.0, 0.0], dtype=np.float32)
