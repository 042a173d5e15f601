"""The rollouts of a *renderer of state* (``world_models/state_maps.py``) behind ``cosmos_sim/Manipulation-WFM-v0``.

A bundle whose DiT has ``state_maps`` keeps two more things beside its weights: ``state/`` (a ``ProprioModel`` of
``state_maps.STATE``: the arm's points and angles, the red block's x, y) and ``state_camera.json``. Per step:

    state  <- ProprioModel(state, previous state, action, previous action)      (no frames involved)
    frame  <- DiT(context = the episode's FIRST frame K times, action + the state's maps) -> decode
    reward, success <- the push task's rule on the state (``push_task.task_reward``)

So nothing drifts in pixels: the frame is drawn anew from the state each step. The state starts from the GT
scene reset with the episode's seed (its true arm and block); the goal is the scene's. Reset options that carry
only frames (``frames``, ``episode``) have no arm state to start from and are refused.
"""

from __future__ import annotations

import numpy as np

from cosmos_sim.envs.push_task import BLOCK_HALF, TABLE_Z, task_reward
from cosmos_sim.envs.wfm_env import _Rollouts, check_reset_options, resolve_checkpoint
from cosmos_sim.errors import CheckpointError, ConfigError
from cosmos_sim.world_models import state_maps


class StateRenderRollouts(_Rollouts):
    """``_Rollouts`` of a renderer-of-state bundle (module docstring)."""

    def __init__(
        self, n: int, checkpoint, device: str, paired: bool, sampler_steps: int | None, adapter=None
    ):
        from cosmos_sim.world_models.proprio import ProprioModel

        super().__init__(n, checkpoint, device, paired, sampler_steps, adapter)
        path = resolve_checkpoint(checkpoint)
        try:
            self.states = ProprioModel.from_pretrained(path / "state", device="cpu")
        except (FileNotFoundError, CheckpointError) as e:
            raise CheckpointError(
                f"{path} renders from a state but its state model (state/) fails: {e}"
            ) from None
        if self.states.names != state_maps.STATE:
            raise CheckpointError(
                f"{path}/state predicts {self.states.names}, the renderer reads {state_maps.STATE}"
            )
        self.camera = state_maps.StateCamera.load(path / "state_camera.json")
        gt = self.gt[0]
        if not hasattr(gt, "arm_state"):
            raise CheckpointError(
                f"{path} renders from the arm's state, which {type(gt).__name__} does not give"
            )
        self.task, self.radius = gt.config.task, gt.config.goal_radius
        self.bonus = gt.config.success_bonus
        d = len(state_maps.STATE)
        self.p, self.p_prev = np.zeros((n, d), np.float32), np.zeros((n, d), np.float32)
        self.a_prev = np.zeros((n, self.action_space.shape[0]), np.float32)
        self.goal = np.zeros((n, 3))

    def env_action_layout(self) -> tuple[str, ...]:
        return tuple(self.model.config.action_layout[: -len(state_maps.TAIL)])

    def context_frames(self, row: int, seed: int, options: dict | None) -> np.ndarray:
        """The GT scene reset with ``seed``: its first frame (K times) and its state (into row ``row``)."""
        options = check_reset_options(options)
        if self.starts is not None:
            raise ConfigError(
                "start_from gives frames only; this world model starts from the GT scene's state"
            )
        if options:
            raise ConfigError(
                f"reset options {sorted(options)} give frames only, and this world model renders from the arm's "
                "and the block's state, which it reads from the GT scene: reset with a seed instead, or use "
                "checkpoint='manip-dit-nano' (a frame-to-frame model) to start from frames"
            )
        gt = self.gt[row if self.paired else 0]
        obs, _ = gt.reset(seed=int(seed))
        p = np.concatenate([gt.arm_state(), gt.block_pos(0)[:2]]).astype(np.float32)
        self.p[row] = self.p_prev[row] = p
        self.a_prev[row] = 0.0
        self.goal[row] = gt.goal_pos()
        return np.repeat(self.gt_frame(gt, obs)[None], self.k, axis=0)

    def model_step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The state one step on, the frame drawn from it (the context stays the first frame), the task's reward
        and success (as a 0/1 probability) from the state."""
        actions = np.asarray(actions, np.float32)
        nxt = self.states.step(self.p, self.p_prev, actions, self.a_prev)
        self.p, self.p_prev, self.a_prev = nxt, self.p, actions
        block_z = TABLE_Z + BLOCK_HALF
        full = np.concatenate([actions, state_maps.tail(self.p, block_z, self.camera)], 1)
        _, z = self.model.predict_next(self.state, full, noise=self.model.noise(self.generators))
        self.frames = self.model.decode(z)
        self.steps += 1
        block = np.concatenate([self.p[:, 13:15], np.full((len(self.p), 1), block_z)], 1)
        reward, success, _ = task_reward(self.task, self.p[:, :3], self.goal, block, self.radius, self.bonus)
        return reward.astype(np.float32), success.astype(np.float32)

    def state_info(self) -> dict[str, np.ndarray]:
        """``info`` entries of the state the frames are drawn from."""
        return {"ee_pos": self.p[:, :3].copy(), "block_pos": self.p[:, 13:15].copy()}


__all__ = ["StateRenderRollouts"]
