"""``cosmos_sim/Perceived-v0``: an image env observed through a state estimator (pixels -> positions).

The policy of the world-model RL loop acts from pixels, but not by learning to see through RL: a
state estimator (``world_models/state_estimator.py``), trained by regression on frames the simulator
labelled, reads each frame, and the policy gets its reading. The wrapper does the same to a GT env and
to a world-model env, so a policy trained in imagination sees in the real env exactly what it saw in
the model::

    env = gym.make("cosmos_sim/Perceived-v0")  # the reach task, read by manip-state-nano
    envs = gym.make_vec("cosmos_sim/Perceived-v0", num_envs=16, env_id="cosmos_sim/WFM-v0",
                        env_kwargs={"checkpoint": "runs/loop/wfm/iter_00/best"})
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from cosmos_sim.errors import ConfigError

DEFAULT_ENV = "cosmos_sim/Manipulation-Reach-GT-v0"
DEFAULT_ESTIMATOR = "manip-state-nano"


def _load_estimator(estimator: Any):
    from cosmos_sim.world_models.state_estimator import StateEstimator

    if isinstance(estimator, StateEstimator):
        return estimator
    return StateEstimator.from_pretrained(estimator, device="cpu")


def _check_image(space: spaces.Space, env_id: str) -> None:
    if not (isinstance(space, spaces.Box) and space.dtype == np.uint8 and len(space.shape) == 3):
        raise ConfigError(
            f"Perceived-v0 reads image observations, but {env_id} observes {space}; use an env (or obs_mode) "
            "whose observation is an RGB frame"
        )


def _state_space(estimator) -> spaces.Box:
    return spaces.Box(-np.inf, np.inf, (len(estimator.names),), np.float32)


class _TaskReward:
    """The push/reach task's reward and success computed from an estimated state (``reward="reach"`` or
    ``"push"``): the goal on the table top, the red block resting on it."""

    def __init__(self, task: str, names: tuple[str, ...]):
        from cosmos_sim.envs.push_task import TASKS

        if task not in TASKS:
            raise ConfigError(f"reward {task!r} unknown; use 'inner' (the wrapped env's) or one of {TASKS}")
        need = ("ee_x", "ee_y", "ee_z", "goal_x", "goal_y") + (
            ("red_block_x", "red_block_y") if task == "push" else ()
        )
        missing = [n for n in need if n not in names]
        if missing:
            raise ConfigError(f"reward {task!r} needs the estimator to read {missing}; it reads {names}")
        self.task, self.cols = task, [names.index(n) for n in need]

    def __call__(self, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from cosmos_sim.envs.push_task import BLOCK_HALF, TABLE_Z, task_reward

        s = np.asarray(state, dtype=np.float64)[..., self.cols]
        table = np.full(s.shape[:-1] + (1,), TABLE_Z)
        goal = np.concatenate([s[..., 3:5], table], -1)
        block = np.concatenate([s[..., 5:7], table + BLOCK_HALF], -1) if self.task == "push" else goal
        reward, success, _ = task_reward(self.task, s[..., :3], goal, block)
        return reward.astype(np.float32), success


class _Proprio:
    """The proprioception entries of the observation (``proprio=NAMES``): the robot's own state, which it
    knows from its encoders instead of reading it off the frame. In a GT env they are its true state; inside
    a world model a ``ProprioModel`` predicts them step by step from the actions, starting from the
    estimator's reading of each episode's first frame (a real frame). ``tracked=NAMES``: object entries the
    same model predicts with them inside a world model (a state model of the robot and the objects it
    moves, e.g. the pushed block), where imagined frames blur them; in a GT env they stay read off its
    frames."""

    def __init__(
        self,
        names: tuple[str, ...],
        estimated: tuple[str, ...],
        model: Any,
        true_state: bool,
        tracked: tuple[str, ...] = (),
    ):
        missing = [n for n in names + tracked if n not in estimated]
        if missing:
            raise ConfigError(
                f"proprio/tracked entries {missing} are not among the observation's {estimated}"
            )
        both = [n for n in tracked if n in names]
        if both:
            raise ConfigError(f"entries {both} are both proprio and tracked; name each once")
        self.names, self.true_state = tuple(names), true_state
        predicted = self.names + tuple(tracked)  # what the model steps inside a world model
        self.cols = [estimated.index(n) for n in (self.names if true_state else predicted)]
        self.model = None
        if not true_state:
            if model is None:
                raise ConfigError(
                    f"proprio={list(names)} inside a world model needs proprio_model= (a ProprioModel directory: "
                    "cosmos-sim train-proprio); a GT env gives its true state instead"
                )
            from cosmos_sim.world_models.proprio import ProprioModel

            self.model = (
                model if isinstance(model, ProprioModel) else ProprioModel.from_pretrained(model, "cpu")
            )
            if self.model.names != predicted:
                raise ConfigError(
                    f"proprio_model predicts {self.model.names}; proprio + tracked are {predicted} "
                    f"(cosmos-sim train-proprio --names {' '.join(predicted)})"
                )
        self.p = self.p_prev = self.a_prev = None

    def truth(self, states: np.ndarray, layout) -> np.ndarray:
        layout = list(layout)
        return np.asarray(states, dtype=np.float32)[..., [layout.index(n) for n in self.names]]

    def start(self, obs: np.ndarray, rows=slice(None)) -> None:
        """New episodes in ``rows`` of the (B, D) observation: the model starts from their reading."""
        p = obs[:, self.cols].astype(np.float32)
        if self.p is None:
            self.p, self.p_prev = p.copy(), p.copy()
            self.a_prev = np.zeros((len(p), self.model.config.action_dim), np.float32)
        self.p[rows], self.p_prev[rows], self.a_prev[rows] = p[rows], p[rows], 0.0

    def advance(self, actions: np.ndarray) -> None:
        a = np.asarray(actions, dtype=np.float32).reshape(len(self.p), -1)
        self.p, self.p_prev, self.a_prev = self.model.step(self.p, self.p_prev, a, self.a_prev), self.p, a

    def write(self, obs: np.ndarray, values: np.ndarray) -> np.ndarray:
        obs = obs.copy()
        obs[:, self.cols] = values
        return obs


class _Held:
    """Entries read once per episode (``static=NAMES``): things that do not move during an episode (the goal
    disc) are read off its first frame, a real one also inside a world model, and held, instead of being
    re-read off every frame (imagined frames drift). ``estimator``: another estimator for them (e.g. the one
    that reads real frames best, while the observation's is tuned to imagined frames)."""

    def __init__(
        self, names: tuple[str, ...], estimated: tuple[str, ...], proprio: tuple[str, ...], estimator
    ):
        bad = [n for n in names if n not in estimated or n in proprio]
        if bad:
            raise ConfigError(
                f"static entries {bad} must be among the observation's {estimated} and not proprio or tracked "
                f"{proprio}"
            )
        self.cols, self.values = [estimated.index(n) for n in names], None
        self.estimator = None if estimator is None else _load_estimator(estimator)
        if self.estimator is not None:
            missing = [n for n in names if n not in self.estimator.names]
            if missing:
                raise ConfigError(
                    f"static_estimator does not read {missing}; it reads {self.estimator.names}"
                )
            self.own = [self.estimator.names.index(n) for n in names]

    def start(self, obs: np.ndarray, frames: np.ndarray, rows=slice(None)) -> None:
        """Read rows' entries off their first frames (B, H, W, 3), given the observation's reading (B, D)."""
        if self.values is None:
            self.values = obs[:, self.cols].copy()
        if self.estimator is None:
            self.values[rows] = obs[rows][:, self.cols]
        elif np.asarray(frames[rows]).size:
            self.values[rows] = self.estimator.predict(np.asarray(frames[rows]))[:, self.own]

    def write(self, obs: np.ndarray) -> np.ndarray:
        obs = obs.copy()
        obs[:, self.cols] = self.values
        return obs


def _check_hold(hold: bool, reward: str) -> bool:
    if hold and reward == "inner":
        raise ConfigError("hold=True keeps paying a task reward after success: pass reward='reach' or 'push'")
    return bool(hold)


def _own_state(estimated, has_state, proprio, proprio_model, tracked, static, static_estimator):
    """The wrapper's ``_Proprio`` (proprio + tracked entries) and ``_Held`` (static entries), or None each."""
    if tracked and not proprio:
        raise ConfigError(
            f"tracked={list(tracked)} are predicted with the robot's state: pass proprio= (e.g. ee_x ee_y ee_z) too"
        )
    own = _Proprio(tuple(proprio), estimated, proprio_model, has_state, tuple(tracked)) if proprio else None
    held = (
        _Held(tuple(static), estimated, tuple(proprio) + tuple(tracked), static_estimator) if static else None
    )
    return own, held


class PerceivedStateEnv(gym.Wrapper):
    r"""An image env whose observation is a state estimator's reading of its frame.

    ## Description
    Wraps ``gym.make(env_id, **env_kwargs)`` (an env observing RGB frames: a GT scene with
    ``obs_mode="pixels"``, or ``cosmos_sim/WFM-v0``) and replaces each observation by
    ``estimator.predict(frame)``. Actions, rewards, termination and ``render()`` are the inner env's.

    ## Action Space
    The inner env's.

    ## Observation Space
    ``Box(-inf, inf, (D,), float32)``: the estimator's entries, ``env.unwrapped``-independent names in
    ``estimator.names`` (e.g. ``ee_x, ee_y, ee_z, goal_x, goal_y``, metres).

    ## Rewards
    The inner env's.

    ## Starting State
    The inner env's; ``info["true_state"]`` carries the inner env's true state vector (its
    ``state()``, named by its ``state_layout``) where it has one, so recordings keep the labels
    (``cosmos-sim generate`` stores it as ``true_state``).

    ## Episode End
    The inner env's (its registered time limit applies).

    ## Arguments
    ``env_id`` (default the reach task), ``estimator`` (a shipped name, a directory or a loaded
    ``StateEstimator``; default ``manip-state-nano``), ``env_kwargs`` (dict), ``render_mode``
    ("rgb_array", passed to the inner env), ``reward``: "inner" (the wrapped env's, default) or "reach" /
    "push": that task's reward and ``is_success`` computed from the *estimated* state, the episode ending
    at the first success as in the GT scene (a world model whose reward head cannot see the task: the
    estimator, trained on the model's own frames, reads them better). ``proprio``: observation entries
    that are the robot's own state (e.g. ``("ee_x", "ee_y", "ee_z")``), given as proprioception instead of
    read off the frame: the GT env's true state, or inside a world model the prediction of
    ``proprio_model`` (a ``ProprioModel`` directory or object, ``cosmos-sim train-proprio``) stepped with
    the actions from the estimator's reading of the first frame. ``static``: entries that do not move
    during an episode (e.g. ``("goal_x", "goal_y")``), read off its first frame and held, by
    ``static_estimator`` when given (default: ``estimator``). ``tracked`` (with ``proprio``): object entries
    (e.g. ``("red_block_x", "red_block_y")``) read off every frame in a GT env, and inside a world model
    predicted with the proprioception by ``proprio_model`` (then a state model of ``proprio + tracked``).
    ``hold`` (with a task ``reward``): a success does not end the episode; the reward (the bonus included)
    goes on every step to the inner episode's end and ``is_success`` stays True once reached, so a policy
    learns to reach the target's centre and stay there instead of stopping at the success radius's edge.
    """

    def __init__(
        self,
        env_id: str = DEFAULT_ENV,
        estimator: Any = DEFAULT_ESTIMATOR,
        env_kwargs: dict | None = None,
        render_mode: str | None = "rgb_array",
        reward: str = "inner",
        proprio: tuple[str, ...] = (),
        proprio_model: Any = None,
        static: tuple[str, ...] = (),
        static_estimator: Any = None,
        tracked: tuple[str, ...] = (),
        hold: bool = False,
    ):
        inner = gym.make(env_id, **{"render_mode": render_mode, **(env_kwargs or {})})
        super().__init__(inner)
        _check_image(inner.observation_space, env_id)
        self.estimator = _load_estimator(estimator)
        self.task_reward = None if reward == "inner" else _TaskReward(reward, self.estimator.names)
        self.observation_space = _state_space(self.estimator)
        self.metadata = {**inner.metadata, "render_modes": ["rgb_array"]}
        self.hold, self._hit = _check_hold(hold, reward), False
        u = inner.unwrapped
        has_state = hasattr(u, "state") and hasattr(u, "state_layout")
        self.proprio, self.held = _own_state(
            self.estimator.names, has_state, proprio, proprio_model, tracked, static, static_estimator
        )

    def _read(self, frame: np.ndarray, info: dict, action=None) -> tuple[np.ndarray, dict]:
        u = self.env.unwrapped
        if hasattr(u, "state"):
            info = {**info, "true_state": np.asarray(u.state(), dtype=np.float32)}
        obs = self.estimator.predict(np.asarray(frame))[None]
        if self.held is not None:
            if action is None:
                self.held.start(obs, np.asarray(frame)[None])
            obs = self.held.write(obs)
        if self.proprio is None:
            return obs[0], info
        if self.proprio.true_state:
            return self.proprio.write(obs, self.proprio.truth(info["true_state"], u.state_layout))[0], info
        if action is None:
            self.proprio.start(obs)
        else:
            self.proprio.advance(action)
        return self.proprio.write(obs, self.proprio.p)[0], info

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        self._hit = False
        return self._read(obs, info)

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        obs, info = self._read(obs, info, action)
        if self.task_reward is not None:
            r, ok = self.task_reward(obs)
            self._hit |= bool(ok)
            reward, info = float(r), {**info, "is_success": self._hit}
            terminated = bool(terminated) if self.hold else bool(ok)
        return obs, reward, terminated, truncated, info


class PerceivedStateVectorEnv(gym.vector.VectorWrapper):
    """``gym.make_vec("cosmos_sim/Perceived-v0", num_envs=N, ...)``: ``gym.make_vec(env_id, N)`` (natively
    batched for the world-model ids) with every row's frame read by the estimator in one batch.

    With ``reward="reach"`` / ``"push"`` the rows' rewards and ``is_success`` come from the estimated state;
    a row's first success gives the bonus and makes the rest of its inner episode absorbing (reward 0,
    ``is_success`` stays True), which is the GT scene's ending for the return while the inner env, which
    alone can restart a row, runs on to its own end; with ``hold=True`` the reward goes on instead."""

    def __init__(
        self,
        num_envs: int = 1,
        env_id: str = DEFAULT_ENV,
        estimator: Any = DEFAULT_ESTIMATOR,
        env_kwargs: dict | None = None,
        reward: str = "inner",
        proprio: tuple[str, ...] = (),
        proprio_model: Any = None,
        static: tuple[str, ...] = (),
        static_estimator: Any = None,
        tracked: tuple[str, ...] = (),
        hold: bool = False,
        **vector_kwargs: Any,
    ):
        super().__init__(gym.make_vec(env_id, num_envs=num_envs, **{**(env_kwargs or {}), **vector_kwargs}))
        _check_image(self.env.single_observation_space, env_id)
        self.estimator = _load_estimator(estimator)
        self.task_reward = None if reward == "inner" else _TaskReward(reward, self.estimator.names)
        envs = getattr(self.env, "envs", None)  # a SyncVectorEnv of GT scenes: their true state is at hand
        has_state = (
            bool(envs) and hasattr(envs[0].unwrapped, "state") and hasattr(envs[0].unwrapped, "state_layout")
        )
        self.proprio, self.held = _own_state(
            self.estimator.names, has_state, proprio, proprio_model, tracked, static, static_estimator
        )
        self.single_observation_space = _state_space(self.estimator)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, num_envs)
        self.hold = _check_hold(hold, reward)
        self._hit = np.zeros(num_envs, bool)  # rows that succeeded in their current episode
        self._restart = np.zeros(num_envs, bool)  # rows the inner env restarts on this step

    def _own_entries(self, frames: np.ndarray, actions=None) -> np.ndarray:
        obs = self.estimator.predict(frames)
        if self.held is not None:  # read on each row's first frame (reset, or the inner env's restart)
            self.held.start(obs, frames, slice(None) if actions is None else self._restart)
            obs = self.held.write(obs)
        if self.proprio is None:
            return obs
        if self.proprio.true_state:
            u = self.env.envs[0].unwrapped
            states = np.stack([e.unwrapped.state() for e in self.env.envs])
            return self.proprio.write(obs, self.proprio.truth(states, u.state_layout))
        if actions is None:
            self.proprio.start(obs)
        else:
            self.proprio.advance(actions)
            self.proprio.start(obs, self._restart)  # rows the inner env restarted start from their reading
        return self.proprio.write(obs, self.proprio.p)

    def reset(self, *, seed=None, options=None):
        obs, info = self.env.reset(seed=seed, options=options)
        self._hit[:], self._restart[:] = False, False
        return self._own_entries(obs), info

    def step(self, actions):
        obs, reward, terminated, truncated, info = self.env.step(actions)
        obs = self._own_entries(obs, actions)
        if self.task_reward is not None:
            r, ok = self.task_reward(obs)
            self._hit[self._restart] = False
            first = ok & ~self._hit & ~self._restart
            done = self._restart if self.hold else self._hit | self._restart
            reward = np.where(done, 0.0, r).astype(np.float32)
            self._hit |= first
            info = {**info, "is_success": self._hit.copy(), "_is_success": np.ones(self.num_envs, bool)}
        self._restart = np.asarray(terminated) | np.asarray(truncated)
        return obs, reward, terminated, truncated, info


__all__ = ["PerceivedStateEnv", "PerceivedStateVectorEnv"]
