"""Evaluate a policy directory in an env: success rate, mean return, and a GIF of a few episodes.

    cosmos-sim eval-policy --policy runs/ppo --env cosmos_sim/Manipulation-GT-v0 --episodes 20

Episodes run on explicit reset seeds, by default the held-out ones (``>= 100000``: datasets and
training use smaller seeds), all in one vector env so the policy acts on a batch per step. The
policy acts with its mean action (``deterministic=True``) unless asked to sample. A policy whose
observation or action space differs from the env's is refused with a ConfigError naming both.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from cosmos_sim.data import HELD_OUT_SEED
from cosmos_sim.errors import ConfigError
from cosmos_sim.policies.networks import ActorCritic, check_spaces, load_policy
from cosmos_sim.policies.ppo import parse_env_kwargs, resolve_device


@dataclass(frozen=True)
class EvalResult:
    """What ``evaluate`` measured."""

    success_rate: float
    """Fraction of episodes with ``info["is_success"]`` at their end."""
    mean_return: float
    """Mean undiscounted episode return."""
    mean_length: float
    """Mean episode length in steps."""
    returns: tuple[float, ...]
    """Return of each episode, in seed order."""
    successes: tuple[bool, ...]
    """Success of each episode, in seed order."""
    seeds: tuple[int, ...]
    """Reset seed of each episode."""
    gif: str | None = None
    """Path of the GIF written, if any."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "success_rate": self.success_rate,
            "mean_return": self.mean_return,
            "mean_length": self.mean_length,
            "episodes": len(self.seeds),
            "first_seed": self.seeds[0] if self.seeds else None,
            "gif": self.gif,
        }


def run_episodes(
    net: ActorCritic,
    env_id: str,
    seeds: list[int],
    env_kwargs: dict[str, Any] | None = None,
    deterministic: bool = True,
    record: int = 0,
    batch: int = 16,
) -> tuple[EvalResult, list[np.ndarray]]:
    """One episode per seed with an in-memory network (no space check; see ``evaluate``).

    Returns the result and the frames ``(T, H, W, 3)`` of the first ``record`` episodes.
    """
    if not seeds:
        raise ConfigError("need at least one episode (seed)")
    returns, successes, lengths, frames = [], [], [], []
    device = net.log_std.device
    gen = torch.Generator(device=device).manual_seed(int(seeds[0]))
    was_training = net.training
    net.eval()
    for b0 in range(0, len(seeds), batch):
        chunk = [int(s) for s in seeds[b0 : b0 + batch]]
        envs = gym.make_vec(env_id, num_envs=len(chunk), **(env_kwargs or {}))
        try:
            act_space = envs.single_action_space
            image_obs = len(envs.single_observation_space.shape or ()) == 3
            obs, _ = envs.reset(seed=chunk)
            n = len(chunk)
            done, ret, length, ok = np.zeros(n, bool), np.zeros(n), np.zeros(n, np.int64), np.zeros(n, bool)
            keep = max(0, min(record - b0, n))  # rows of this chunk to record
            film = [[f] for f in (obs if image_obs else envs.render())[:keep]] if keep else []
            while not done.all():
                action = net.act(obs, act_space, deterministic=deterministic, generator=gen)
                obs, reward, term, trunc, info = envs.step(action)
                live = ~done
                ret[live] += np.asarray(reward)[live]
                length[live] += 1
                ended = live & (np.asarray(term) | np.asarray(trunc))
                succ = np.asarray(info.get("is_success", np.zeros(n, bool))).astype(bool)
                succ &= np.asarray(info.get("_is_success", np.ones(n, bool))).astype(bool)
                ok[ended] = succ[ended]
                for i in range(keep):
                    if live[i]:
                        film[i].append((obs if image_obs else envs.render())[i])
                done |= ended
        finally:
            envs.close()
        returns += ret.tolist()
        successes += ok.tolist()
        lengths += length.tolist()
        frames += [np.stack(f) for f in film]
    net.train(was_training)
    result = EvalResult(
        success_rate=float(np.mean(successes)),
        mean_return=float(np.mean(returns)),
        mean_length=float(np.mean(lengths)),
        returns=tuple(returns),
        successes=tuple(successes),
        seeds=tuple(int(s) for s in seeds),
    )
    return result, frames


def write_gif(frames: list[np.ndarray], path: str | os.PathLike, fps: float = 20.0, scale: int = 3) -> Path:
    """Episodes side by side as one looping GIF (shorter episodes hold their last frame)."""
    import imageio.v3 as iio3

    from cosmos_sim.data.export import tile

    t = max(len(f) for f in frames)
    padded = [np.concatenate([f, np.repeat(f[-1:], t - len(f), axis=0)]) for f in frames]
    grid = tile(padded, ncols=len(padded)).repeat(scale, axis=1).repeat(scale, axis=2)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    iio3.imwrite(path, grid, extension=".gif", duration=1000.0 / fps, loop=0)
    return path


def evaluate(
    policy_dir: str | os.PathLike,
    env_id: str,
    episodes: int = 20,
    seed: int = HELD_OUT_SEED,
    env_kwargs: dict[str, Any] | str | None = None,
    gif: str | os.PathLike | None = None,
    gif_episodes: int = 3,
    deterministic: bool = True,
    device: str = "auto",
) -> EvalResult:
    """Run ``episodes`` episodes (seeds ``seed, seed+1, ...``) of a policy directory in ``env_id``.

    Raises:
        CheckpointError: ``policy_dir`` is not a policy directory (the bad file is named).
        ConfigError: the policy's observation/action space differs from the env's (both are named).
    """
    if episodes < 1:
        raise ConfigError(f"episodes must be >= 1, got {episodes}")
    kwargs = parse_env_kwargs(env_kwargs) if isinstance(env_kwargs, str) else dict(env_kwargs or {})
    policy = load_policy(policy_dir, resolve_device(device))
    probe = gym.make(env_id, **kwargs)
    try:
        check_spaces(policy, probe.observation_space, probe.action_space, what=env_id)
        fps = float(probe.metadata.get("render_fps") or 20)
    finally:
        probe.close()
    record = gif_episodes if gif else 0
    result, frames = run_episodes(
        policy.net,
        env_id,
        list(range(seed, seed + episodes)),
        kwargs,
        deterministic=deterministic,
        record=record,
    )
    if gif and frames:
        result = EvalResult(**{**result.__dict__, "gif": str(write_gif(frames, gif, fps=fps))})
    return result


__all__ = ["HELD_OUT_SEED", "EvalResult", "evaluate", "run_episodes", "write_gif"]
