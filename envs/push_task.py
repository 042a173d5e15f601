"""The block-pushing task both manipulation scenes pose, whatever engine simulates them.

``cosmos_sim/Manipulation-GT-v0`` (MuJoCo) and ``cosmos_sim/Manipulation-Bullet-GT-v0`` (PyBullet)
are one task on two engines: push the red block (the first of 1-3 coloured blocks on a table)
into a goal disc with a 7-D end-effector action. What the task fixes lives here, so the two envs
cannot drift apart:

* ``PushTaskConfig``: the task's settings (image size and control maps from ``base.GTConfig``,
  blocks, observation mode, goal radius, step size, layout separations, success bonus); each
  engine's config subclasses it with its own fields;
* table height, block size and colours, the action layout;
* ``sample_layout``: block and goal positions for a new episode;
* ``PushTaskEnv``: a mixin for the engine's GT env class giving it the spaces, ``state_layout``,
  the reward/success rule, the ``info`` keys and the observation modes;
* ``push_expert_target``: the scripted pusher's geometry, shared by both experts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

from cosmos_sim.envs.base import GTConfig

OBS_MODES = ("pixels", "state", "pixels+state")
TASKS = ("push", "reach")
ACTION_LAYOUT: tuple[str, ...] = ("dx", "dy", "dz", "droll", "dpitch", "dyaw", "gripper")

# Scene geometry (metres). The table top is the z reference of the workspace.
TABLE_Z = 0.4
BLOCK_HALF = 0.035
# Height the expert flies at: clear of the blocks' tops.
Z_SAFE = TABLE_Z + 2 * BLOCK_HALF + 0.04
# Reach task: the end effector's target hovers this far above the goal disc's centre.
REACH_HEIGHT = 0.08

BLOCK_COLOURS: tuple[tuple[str, tuple[float, float, float]], ...] = (
    ("red", (0.9, 0.1, 0.1)),
    ("blue", (0.1, 0.35, 0.95)),
    ("yellow", (0.95, 0.85, 0.1)),
)


@dataclass(frozen=True)
class PushTaskConfig(GTConfig):
    """Settings of the push task that every engine shares (engine configs subclass this), after
    ``GTConfig``'s image size and control maps."""

    task: str = "push"
    """"push" (the red block into the goal disc) or "reach" (the end effector to a point ``REACH_HEIGHT``
    above the goal disc; the blocks are obstacles): a task PPO learns in minutes on this CPU."""
    n_objects: int = 1
    """Number of blocks, 1-3; the first (red) is the task object, the others are distractors."""
    obs_mode: str = "pixels"
    """'pixels' (front camera RGB), 'state' (float32 vector) or 'pixels+state' (Dict)."""
    frame_skip: int = 10
    """Physics steps (of `timestep` seconds) per env step."""
    timestep: float = 0.005
    """Physics integration step in seconds."""
    goal_radius: float = 0.05
    """Success when the red block centre is within this xy distance of the goal centre (m); reach: when
    the end effector is within this distance (xyz) of its target."""
    max_translation: float = 0.02
    """End-effector translation per step at |action| = 1 (m)."""
    min_separation: float = 0.1
    """Minimum xy distance between block centres, and between blocks and the goal (m)."""
    min_goal_distance: float = 0.15
    """Minimum initial xy distance between the red block and the goal (m)."""
    success_bonus: float = 1.0
    """Added to the reward on the step the task succeeds."""
    terminate_on_success: bool = True
    """End the episode on success; False runs on (``info["is_success"]`` still says it), e.g. to record
    frames of the block resting in the goal disc, which ended episodes hold only once."""

    def __post_init__(self):
        super().__post_init__()
        if not 1 <= self.n_objects <= len(BLOCK_COLOURS):
            raise ValueError(f"n_objects={self.n_objects}; choose 1 to {len(BLOCK_COLOURS)}")
        if self.obs_mode not in OBS_MODES:
            raise ValueError(f"obs_mode {self.obs_mode!r} unknown; choose one of {OBS_MODES}")
        if self.task not in TASKS:
            raise ValueError(f"task {self.task!r} unknown; choose one of {TASKS}")
        if self.frame_skip < 1 or self.timestep <= 0:
            raise ValueError(
                f"frame_skip ({self.frame_skip}) must be >= 1 and timestep ({self.timestep}) > 0"
            )
        if self.goal_radius <= 0:
            raise ValueError(f"goal_radius must be positive, got {self.goal_radius}")

    @property
    def block_names(self) -> tuple[str, ...]:
        """Body/instance names of the blocks in play: ``red_block`` first."""
        return tuple(f"{c}_block" for c, _ in BLOCK_COLOURS[: self.n_objects])


def sample_layout(
    rng: np.random.Generator, cfg: PushTaskConfig, low_xy, high_xy
) -> tuple[np.ndarray, np.ndarray]:
    """Block xy positions (n x 2) and the goal xy, uniform in the box ``low_xy .. high_xy``, with
    ``cfg``'s separations (rejection sampling)."""
    n = cfg.n_objects
    lo, hi = np.asarray(low_xy, dtype=np.float64), np.asarray(high_xy, dtype=np.float64)
    for _ in range(1000):
        pts = rng.uniform(lo, hi, size=(n + 1, 2))
        blocks, goal = pts[:n], pts[n]
        gaps = np.linalg.norm(blocks[:, None] - blocks[None], axis=-1) + np.eye(n)
        to_goal = np.linalg.norm(blocks - goal, axis=-1)
        if (
            gaps.min() >= cfg.min_separation
            and to_goal[0] >= cfg.min_goal_distance
            and np.all(to_goal[1:] >= cfg.min_separation)
        ):
            return blocks, goal
    raise RuntimeError("could not place the blocks; lower min_separation or min_goal_distance")


def push_expert_target(
    ee: np.ndarray,
    block: np.ndarray,
    goal: np.ndarray,
    push_from: np.ndarray,
    *,
    standoff: float,
    pre_margin: float,
    z_push: float,
    max_translation: float,
    low: np.ndarray,
    high: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Next end-effector target of the stateless pushing expert, and the push direction.

    Unless the end effector ``ee`` sits low and right behind the block on the block-goal line,
    it rises above the blocks, flies to a point behind the block and descends; once there it
    pushes along the line, correcting sideways drift. A block near the workspace edge may have
    its pre-push point outside: it pushes from the nearest reachable point, at an angle, and the
    next approach straightens it out.

    Args:
        ee: end-effector position now (3,).
        block, goal: red block centre (3,) and goal position (xy used).
        push_from: where a push step starts (3,): ``ee``, or the commanded target where the
            end effector lags behind its command.
        standoff: ee to block centre distance while pushing (m); also sets the lift radius.
        pre_margin: extra distance of the pre-push point behind ``standoff`` (m).
        z_push: end-effector height while pushing.
        max_translation: the env's step size (m), the longest push advance.
        low, high: workspace box; the pre-push point is clipped into it (xy).

    Returns:
        (target (3,), unit push direction in xy (2,)).
    """
    to_goal = goal[:2] - block[:2]
    dist = float(np.linalg.norm(to_goal))
    u = to_goal / max(dist, 1e-9)
    side = np.array([-u[1], u[0]])
    rel = ee[:2] - block[:2]
    along, lateral = float(rel @ u), float(rel @ side)
    if along < -BLOCK_HALF and abs(lateral) < 0.02 and ee[2] < z_push + 0.02:
        # push: advance along the line by what is left to go, re-centring behind the block
        target_xy = push_from[:2] + u * min(dist + 0.005, max_translation) - side * lateral
        return np.array([*target_xy, z_push]), u
    pre = np.clip(block[:2] - u * (standoff + pre_margin), low[:2], high[:2])
    if np.linalg.norm(ee[:2] - pre) < 0.015:
        target = np.array([*pre, z_push])  # descend behind the block
    elif ee[2] < Z_SAFE - 0.01 and np.linalg.norm(rel) < standoff + 0.06:
        target = np.array([*ee[:2], Z_SAFE])  # lift clear of the block first
    else:
        target = np.array([*pre, Z_SAFE])  # fly over to the pre-push point
    return target, u


def task_reward(
    task: str,
    ee: np.ndarray,
    goal: np.ndarray,
    block: np.ndarray,
    goal_radius: float = 0.05,
    success_bonus: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(reward, success, task distance) of the push or reach task from positions (xyz, metres; leading
    batch dimensions allowed): the envs' own reward, and that of a state *estimated* from frames
    (``Perceived-v0``'s ``reward="task"``)."""
    ee, goal, block = (np.asarray(v, dtype=np.float64) for v in (ee, goal, block))
    if task == "reach":
        distance = np.linalg.norm(ee - (goal + [0.0, 0.0, REACH_HEIGHT]), axis=-1)
        reward = -distance
    elif task == "push":
        distance = np.linalg.norm(block[..., :2] - goal[..., :2], axis=-1)
        reward = -(
            np.linalg.norm(ee - block, axis=-1)
            + np.linalg.norm(block - goal - [0.0, 0.0, BLOCK_HALF], axis=-1)
        )
    else:
        raise ValueError(f"task {task!r} unknown; choose one of {TASKS}")
    success = distance <= goal_radius
    return reward + success_bonus * success, success, distance


class PushTaskEnv:
    """Mixin giving a GT env the push task; list it before the engine's base class.

    Observation (``obs_mode``): "pixels" HxWx3 uint8 from the main ("front") camera (default),
    "state" float32 (layout in ``state_layout``: end effector xyz, its yaw, the gripper opening,
    goal xyz, then each block's xyz), or "pixels+state" Dict of both.

    Reward (push): ``-(|end effector - red block| + |red block - goal|)`` in metres (xyz, goal raised to
    the block centre height), plus ``success_bonus`` when the red block's centre is within
    ``goal_radius`` of the goal centre (xy), which also ends the episode. Reward (reach):
    ``-|end effector - target|`` (the target ``REACH_HEIGHT`` above the goal centre), plus
    ``success_bonus`` when the distance is at most ``goal_radius`` (which ends the episode). ``info``
    carries ``is_success``, ``block_goal_distance`` (m, xy), ``target_distance`` (m: reach's distance, or
    push's block-goal xy distance) and ``ee_pos`` (3,) besides the engine's ``objects`` / ``cameras`` /
    ``maps``, after ``reset`` too.

    The env sets ``self.config`` (a ``PushTaskConfig``), calls ``_init_task()`` in its
    ``__init__`` and implements ``ee_pos()``, ``block_pos(index)`` and ``rgb()``; it may override
    ``_ee_yaw_and_opening()``. The mixin supplies the action/observation spaces, ``state_layout``,
    ``state()``, ``goal_pos()``, the reward and the task's ``info`` keys
    (``is_success``, ``block_goal_distance``, ``ee_pos``).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}  # fps: set from the config per env
    action_layout: tuple[str, ...] = ACTION_LAYOUT
    config: PushTaskConfig

    def _init_task(self) -> None:
        """Set the spaces, layouts, block names and render rate from ``self.config``."""
        cfg = self.config
        self.metadata = {**self.metadata, "render_fps": round(1.0 / (cfg.timestep * cfg.frame_skip))}
        self.block_names = cfg.block_names
        self.action_space = spaces.Box(-1.0, 1.0, shape=(len(ACTION_LAYOUT),), dtype=np.float32)
        self.state_layout: tuple[str, ...] = (
            "ee_x",
            "ee_y",
            "ee_z",
            "ee_yaw",
            "gripper_opening",
            "goal_x",
            "goal_y",
            "goal_z",
            *(f"{b}_{ax}" for b in self.block_names for ax in "xyz"),
        )
        state_space = spaces.Box(-np.inf, np.inf, shape=(len(self.state_layout),), dtype=np.float32)
        pixel_space = spaces.Box(0, 255, shape=(cfg.height, cfg.width, 3), dtype=np.uint8)
        self.observation_space = {
            "pixels": pixel_space,
            "state": state_space,
            "pixels+state": spaces.Dict({"pixels": pixel_space, "state": state_space}),
        }[cfg.obs_mode]
        self._goal = np.zeros(3)

    # ---- engine hooks ------------------------------------------------------------------------
    def ee_pos(self) -> np.ndarray:
        """World position of the end-effector point."""
        raise NotImplementedError

    def block_pos(self, index: int = 0) -> np.ndarray:
        """World position of block ``index`` (0 = the red task block)."""
        raise NotImplementedError

    def _ee_yaw_and_opening(self) -> tuple[float, float]:
        """(``ee_yaw``, ``gripper_opening``) of the state vector; 0, 0 for an end effector without."""
        return 0.0, 0.0

    # ---- task --------------------------------------------------------------------------------
    def goal_pos(self) -> np.ndarray:
        """World position of the goal disc centre (on the table top)."""
        return self._goal.copy()

    def state(self) -> np.ndarray:
        """The privileged state vector (layout in ``state_layout``)."""
        blocks = np.concatenate([self.block_pos(i) for i in range(len(self.block_names))])
        return np.concatenate([self.ee_pos(), self._ee_yaw_and_opening(), self._goal, blocks]).astype(
            np.float32
        )

    def reach_target(self) -> np.ndarray:
        """The reach task's target: ``REACH_HEIGHT`` above the goal disc's centre."""
        return self._goal + [0.0, 0.0, REACH_HEIGHT]

    def _reward(self) -> tuple[float, bool, dict[str, Any]]:
        ee, block = self.ee_pos(), self.block_pos(0)
        cfg = self.config
        reward, success, distance = task_reward(
            cfg.task, ee, self._goal, block, cfg.goal_radius, cfg.success_bonus
        )
        return (
            float(reward[()]),
            bool(success[()]) and cfg.terminate_on_success,
            {
                "is_success": bool(success[()]),
                "block_goal_distance": float(np.linalg.norm(block[:2] - self._goal[:2])),
                "target_distance": float(distance[()]),
                "ee_pos": ee,
            },
        )

    def reach_expert_action(self, ee: np.ndarray) -> np.ndarray:
        """The reach task's expert from privileged state: straight for the target, rising first when low
        (clear of the blocks), gripper closed, orientation held."""
        target = self.reach_target()
        if ee[2] < Z_SAFE - 0.01 and np.linalg.norm(ee[:2] - target[:2]) > self.config.goal_radius:
            target = np.array([ee[0], ee[1], Z_SAFE])
        move = np.clip((target - ee) / self.config.max_translation, -1.0, 1.0)
        return np.array([*move, 0.0, 0.0, 0.0, 1.0], dtype=np.float32)

    def _info(self, extra: dict[str, Any]) -> dict[str, Any]:
        if "is_success" not in extra:  # reset: report the same keys as step
            extra = self._reward()[2]
        return super()._info(extra)

    def _observation(self) -> Any:
        mode = self.config.obs_mode
        if mode == "pixels":
            return self.rgb()
        if mode == "state":
            return self.state()
        return {"pixels": self.rgb(), "state": self.state()}
