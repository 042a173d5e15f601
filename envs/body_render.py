"""The rollouts of a renderer of a MuJoCo env's state (``world_models/body_maps.py``) behind ``cosmos_sim/WFM-v0``.

A bundle trained with ``cosmos-sim train-wfm --render-from-state`` keeps two more things beside its weights:
``state/`` (a ``ProprioModel`` of the env's ``qpos`` and ``qvel``) and ``body_maps.json`` (the drawn bodies and
the render camera). Per step:

    state  <- ProprioModel(state, previous state, action, previous action)      (no frames involved)
    bodies <- the env's kinematics at the state's qpos, projected through the render camera
    frame  <- DiT(context = the episode's FIRST frame K times, action + the bodies' positions) -> decode
    reward, termination <- the reward head on the new frame, as for any bundle

So nothing drifts in pixels. The state starts from the source env reset with the episode's seed (its
``qpos``/``qvel``); reset options that carry only frames (``frames``, ``episode``) and ``start_from`` have no
state to start from and are refused.
"""

from __future__ import annotations

import mujoco
import numpy as np

from cosmos_sim.envs.wfm_env import _AnyRollouts, check_reset_options, resolve_checkpoint
from cosmos_sim.errors import CheckpointError, ConfigError
from cosmos_sim.world_models.body_maps import STATE_DIR, BodyMaps


class BodyRenderRollouts(_AnyRollouts):
    """``_AnyRollouts`` of a renderer of a MuJoCo env's state (module docstring)."""

    def __init__(
        self, n: int, checkpoint, device: str, paired: bool, sampler_steps: int | None, adapter=None
    ):
        from cosmos_sim.world_models.proprio import ProprioModel

        super().__init__(n, checkpoint, device, paired, sampler_steps, adapter)
        path = resolve_checkpoint(checkpoint)
        try:
            self.states = ProprioModel.from_pretrained(path / STATE_DIR, device="cpu")
            self.bodies = BodyMaps.load(path)
        except (FileNotFoundError, CheckpointError, ConfigError) as e:
            raise CheckpointError(
                f"{path} renders from a state but its state model or bodies fail: {e}"
            ) from None
        gt = self.gt[0]
        self.mj_model = getattr(gt, "model", None)
        nq = getattr(self.mj_model, "nq", None)
        if nq is None or len(self.states.names) != nq + gt.data.qvel.shape[0]:
            raise CheckpointError(
                f"{path} renders from the MuJoCo state of {self.model.config.env_id}, whose qpos/qvel "
                f"({nq}) do not match its state model ({len(self.states.names)} entries)"
            )
        self.scratch = mujoco.MjData(self.mj_model)  # kinematics of the predicted states (not the env's data)
        d = len(self.states.names)
        self.p, self.p_prev = np.zeros((n, d), np.float32), np.zeros((n, d), np.float32)
        self.a_prev = np.zeros((n, self.action_space.shape[0]), np.float32)

    def env_action_layout(self) -> tuple[str, ...]:
        return tuple(self.model.config.action_layout[: -2 * len(self.model.config.dynamics.state_bodies)])

    def context_frames(self, row: int, seed: int, options: dict | None) -> np.ndarray:
        """The source env reset with ``seed``: its first frame (K times) and its MuJoCo state (into row ``row``)."""
        options = check_reset_options(options)
        if self.starts is not None or options:
            raise ConfigError(
                "this world model renders from the env's MuJoCo state, which it reads from the source env reset "
                f"with a seed; {'start_from' if self.starts is not None else sorted(options)} give frames only: "
                "reset with a seed instead, or use a frame-to-frame bundle (train-wfm without --render-from-state)"
            )
        gt = self.gt[row if self.paired else 0]
        obs, _ = gt.reset(seed=int(seed))
        self.p[row] = self.p_prev[row] = np.concatenate([gt.data.qpos, gt.data.qvel]).astype(np.float32)
        self.a_prev[row] = 0.0
        return np.repeat(self.gt_frame(gt, obs)[None], self.k, axis=0)

    def model_step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The state one step on, the frame drawn from it (the context stays the first frame), the head's reward
        and termination probability."""
        actions = np.asarray(actions, np.float32)
        nxt = self.states.step(self.p, self.p_prev, actions, self.a_prev)
        self.p, self.p_prev, self.a_prev = nxt, self.p, actions
        qpos = self.p[:, : self.mj_model.nq]
        tail = self.bodies.tail(self.bodies.positions(self.mj_model, qpos, self.scratch))
        full = np.concatenate([actions, tail], 1)
        _, z = self.model.predict_next(self.state, full, noise=self.model.noise(self.generators))
        self.frames = self.model.decode(z)
        reward, p = self.model.reward(z, full)
        self.steps += 1
        return reward, p

    def state_info(self) -> dict[str, np.ndarray]:
        """``info`` entries of the state the frames are drawn from."""
        nq = self.mj_model.nq
        return {"qpos": self.p[:, :nq].copy(), "qvel": self.p[:, nq:].copy()}


__all__ = ["BodyRenderRollouts"]
