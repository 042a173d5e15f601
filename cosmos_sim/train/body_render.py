"""``cosmos-sim train-wfm --render-from-state``: a renderer of a MuJoCo env's state (``world_models/body_maps.py``).

Two things beside the usual training: every row's action gets the drawn bodies' positions in the NEXT frame
(``attach``: the recorded ``qpos`` through the env's kinematics and render camera), and a state model (a
``ProprioModel`` of ``qpos`` and ``qvel``, stepped with the actions) is fitted on the same stores
(``fit_state_model``, seconds). ``save_extras`` puts both beside the weights of every saved bundle; the
env (``envs/body_render.py``) steps the state model and lets the DiT draw each frame from the episode's first.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import gymnasium as gym
import numpy as np

from cosmos_sim.data.store import TrajectoryStore
from cosmos_sim.errors import ConfigError
from cosmos_sim.train.latents import LatentData
from cosmos_sim.train.proprio import fit_model, fresh_model, rollout, samples
from cosmos_sim.world_models.body_maps import STATE_DIR, BodyMaps
from cosmos_sim.world_models.proprio import ProprioModel


def make_source_env(env_info: dict) -> gym.Env:
    """The env the stores were recorded from, rendering rgb_array as they did."""
    kwargs = {**env_info.get("env_kwargs", {}), "render_mode": "rgb_array"}
    return gym.make(env_info["env_id"], **kwargs)


def read_state(store: TrajectoryStore, path: str) -> tuple[np.ndarray, np.ndarray]:
    """The recorded ``qpos`` and ``qvel`` of every row."""
    if "qpos" not in store.keys() or "qvel" not in store.keys():
        raise ConfigError(
            f"{path} has no qpos/qvel: --render-from-state learns from the MuJoCo state that `cosmos-sim generate` "
            "records for Gymnasium MuJoCo envs (Reacher-v5, Pusher-v5, ...): record the store again, or for another "
            "env train the frame-to-frame model (no --render-from-state; bench byo-env: --no-render-from-state)"
        )
    return store.read("qpos", 0, store.n_steps), store.read("qvel", 0, store.n_steps)


def next_rows(values: np.ndarray, ends) -> np.ndarray:
    """Each row's value of the row after it (an episode's last row keeps its own): what action t leads to."""
    out = np.concatenate([values[1:], values[-1:]])
    last = np.asarray(ends) - 1
    out[last] = values[last]
    return out


def attach(data: LatentData, paths, env_info: dict, cell: int) -> tuple[LatentData, dict, BodyMaps]:
    """``data`` with the bodies' next positions after each action, the env info of a renderer, the bodies."""
    stores = {p: TrajectoryStore.open(p) for p in paths}
    qpos = {p: read_state(s, p)[0] for p, s in stores.items()}  # first: a store without it says so
    env = make_source_env(env_info)
    try:
        env.reset(seed=0)
        bodies = BodyMaps.for_env(env, cell)
        model = env.unwrapped.model
    finally:
        env.close()
    tails = []
    for p, store in stores.items():
        tails.append(next_rows(bodies.tail(bodies.positions(model, qpos[p])), store.episode_ends))
    tail = np.concatenate(tails)
    if len(tail) != len(data.action):
        raise ConfigError(f"the stores hold {len(tail)} rows of qpos but {len(data.action)} frames")
    data = dataclasses.replace(data, action=np.concatenate([data.action, tail], 1).astype(np.float32))
    layout = list(env_info["action_layout"]) + list(bodies.tail_names)
    return data, {**env_info, "action_layout": layout, "state_bodies": list(bodies.parents)}, bodies


def fit_state_model(paths, steps: int = 20000, seed: int = 0) -> tuple[ProprioModel, dict]:
    """A ``ProprioModel`` of every ``qpos`` and ``qvel`` entry fitted on the stores, and its open-loop error
    after 16 steps from each episode's first state (radians or metres, the largest entry per episode)."""
    episodes = []
    for p in paths:
        store = TrajectoryStore.open(p)
        qpos, qvel = read_state(store, p)
        state = np.concatenate([qpos, qvel], 1).astype(np.float32)
        action = store.read("action", 0, store.n_steps).astype(np.float32)
        start = 0
        for end in store.episode_ends:
            if end - start >= 2:  # the last row's action is padding
                episodes.append((state[start:end], action[start : end - 1]))
            start = end
    if not episodes:
        raise ConfigError(f"the stores {list(paths)} hold no episode with a step to learn the state from")
    names = tuple(f"qpos_{i}" for i in range(qpos.shape[1])) + tuple(
        f"qvel_{i}" for i in range(qvel.shape[1])
    )
    data = samples(episodes)
    model = fresh_model(names, data, hidden=256)
    mse = fit_model(model, data, steps, 256, 2e-3, seed)
    nq, err = qpos.shape[1], []
    for states, actions in episodes:
        pred = rollout(model, states, actions, 16)
        err.append(float(np.abs(pred[-1, :nq] - states[len(pred) - 1, :nq]).max()))
    return model, {"state_mse": mse, "state_qpos_err_16": float(np.mean(err))}


def save_extras(directory: Path, bodies: BodyMaps, states: ProprioModel) -> None:
    """The bodies and the state model beside a saved bundle's weights."""
    bodies.save(directory)
    states.save_pretrained(Path(directory) / STATE_DIR, dtype=None)


__all__ = ["attach", "fit_state_model", "make_source_env", "next_rows", "save_extras"]
