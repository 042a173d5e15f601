"""Record policy rollouts of any Gymnasium env into a trajectory store, optionally in parallel.

Recording convention (every store written here):
    An episode of ``T`` env steps is stored as ``T + 1`` rows. Row ``t`` holds the observation
    (and ``info``-derived data) after ``t`` steps, plus ``action[t]`` and ``reward[t]`` of the
    step taken *from* it; the last row has an all-zero action and reward 0. ``terminated`` and
    ``truncated`` are per-row bools, False except on the last row, which carries the final
    step's flags (``truncated`` is also set when ``max_steps`` cut the episode).

Keys:
    observation    an image Box (HxWxC uint8) -> ``rgb``; any other Box/Discrete -> ``state``;
                   a Dict -> one key per entry (nested dicts as paths, e.g. ``front``, ``ego``);
                   a Tuple -> ``obs/0``, ``obs/1``, ...
    ``rgb``        ``env.render()`` as well, when the observation holds no image and the env renders
                   rgb_array (the render goes to ``render`` if ``rgb`` is taken)
    ``action``, ``reward`` (float32), ``terminated``, ``truncated`` (bool)
    ``is_success`` bool, when the env reports ``info["is_success"]`` (False where it is missing)
    ``true_state`` float32, from ``info["true_state"]`` (``Perceived-v0``: the state it estimates; the
                   entries are named by the ``state_layout`` attr)
    ``qpos``, ``qvel`` float64: the MuJoCo state of a Gymnasium MuJoCo env (``Reacher-v5``, ``Pusher-v5``,
                   ...), what a renderer of state learns from (``cosmos-sim train-wfm --render-from-state``)
    captions       ``captions=True``: ``envs/captions.py``'s short/long captions and facts per episode, in
                   the store's ``text.jsonl`` (``TrajectoryStore.episode_text``)
    ``maps/<camera>/<map>``          control maps from ``info["maps"]`` (cosmos_sim GT envs, ``maps=``)
    ``cameras/<camera>/extrinsics``  4x4 world-to-camera per row from ``info["cameras"]``
    ``objects/<name>/<field>``       object poses from ``info["objects"]`` (cosmos_sim GT envs)
    ``lidar/<field>``                a LiDAR sweep from ``info["lidar"]`` (Driving-GT-v0 with lidar=True)
    Camera intrinsics, fps, action layout, env id/kwargs, policy and the command go in the
    store's attrs.

Seeds: episode ``i`` of a run resets with ``seed = base + i``, so a config always records the same
episodes whatever the number of workers. ``base`` is ``cfg.seed``, moved past the largest seed
already in the store when appending (``max(cfg.seed, max_existing + 1)``): appending to a store
continues its seeds, and an explicit seed above them is used as given.

Workers: episodes are rolled out in fixed blocks of 4 consecutive seeds, each block by a fresh
env, so the store's content does not depend on the number of workers even for envs whose
frames depend on more than ``reset(seed)``. With ``workers > 1`` a spawn process pool runs the
blocks; only this (parent) process writes, in episode order, so every episode is committed
atomically by ``TrajectoryStore.add_episode``.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.envs.registration import EnvSpec

import cosmos_sim  # noqa: F401  (registers the cosmos_sim ids, also in spawned workers)
from cosmos_sim.data.store import TrajectoryStore, is_store
from cosmos_sim.envs.control_maps import parse_maps
from cosmos_sim.errors import ConfigError, StoreError
from cosmos_sim.policies import make_policy
from cosmos_sim.workers import process_pool

_BLOCK = 4  # episodes per fresh env (see _blocks)
TEXT_KEY = "__text__"  # rollout's captions entry: not an array, never stored as a data key
CONVENTION = (
    "episode of T steps = T+1 rows; row t: observation after t steps, action[t]/reward[t] of the step "
    "taken from it (last row: zero action, reward 0); terminated/truncated set on the last row"
)


@dataclass(frozen=True)
class GenerateConfig:
    """What to record, where, and how."""

    env_id: str
    """Registered Gymnasium id (any env that renders rgb_array), e.g. cosmos_sim/Manipulation-GT-v0."""
    episodes: int
    """Number of episodes to add to the store."""
    out: str
    """Store directory: created if missing, appended to if it is a trajectory store."""
    policy: str = "random"
    """Policy for cosmos_sim.policies.make_policy: "random", "expert", "noisy-expert" or a policy directory
    (``train-policy``'s output: its actions are sampled, seeded per episode, unless policy_options has
    ``{"deterministic": true}``)."""
    policy_options: dict = field(default_factory=dict)
    """Keyword options of the policy (noisy-expert: max_noise, max_random)."""
    workers: int = 1
    """Rollout processes (1: roll out in this process)."""
    seed: int = 0
    """Reset seed of the first episode; episode i uses seed + i (moved past a store's existing seeds)."""
    resolution: tuple[int, int] | None = None
    """Image size (width, height), passed to the env as width=/height=; None keeps its default."""
    maps: tuple[str, ...] = ()
    """Control maps to record per camera (depth, seg, edges, blur); envs with a `maps` kwarg only."""
    max_steps: int | None = None
    """Cap on env steps per episode; None runs until terminated/truncated."""
    env_kwargs: dict = field(default_factory=dict)
    """Extra keyword arguments for the env constructor."""
    progress: bool = True
    """Show a progress bar and print a summary table at the end."""
    captions: bool = False
    """Describe every episode from its privileged state (``envs/captions.py``: short and long captions and
    the facts) and keep it with the episode in the store (``TrajectoryStore.episode_text``)."""


# ---- env construction ------------------------------------------------------------------------
def _env_kwargs(cfg: GenerateConfig) -> dict[str, Any]:
    kwargs = dict(cfg.env_kwargs)
    kwargs.setdefault("render_mode", "rgb_array")
    if cfg.resolution is not None:
        kwargs["width"], kwargs["height"] = (int(v) for v in cfg.resolution)
    if cfg.maps:
        kwargs["maps"] = ",".join(cfg.maps)
    return kwargs


def _make_env(env: str | EnvSpec, kwargs: dict[str, Any]) -> gym.Env:
    """``gym.make`` with clear errors for resolution/maps on envs that do not take them."""
    name = env if isinstance(env, str) else env.id
    try:
        return gym.make(env, **kwargs)
    except gym.error.NameNotFound as e:
        raise ConfigError(
            f"unknown env id {name!r} ({e}); see `cosmos-sim list-envs` or register it first"
        ) from e
    except TypeError as e:
        msg = str(e)
        if "maps" in kwargs and "'maps'" in msg:
            raise ConfigError(
                f"env {name!r} does not accept a `maps` kwarg, so control maps cannot be recorded from it; "
                "maps are supported by cosmos_sim GT envs (cosmos_sim/...-GT-v0); drop maps"
            ) from e
        if "width" in kwargs and ("'width'" in msg or "'height'" in msg):
            raise ConfigError(
                f"env {name!r} does not accept width=/height= kwargs, so resolution cannot be set; "
                "omit resolution to record at its native render size"
            ) from e
        raise
    except ValueError as e:  # an env refusing an option's value says which and why (cosmos_sim envs do)
        raise ConfigError(f"env {name!r} refused the options {kwargs}: {e}") from e


def check_config(cfg: GenerateConfig) -> None:
    """The checks of ``cfg`` that need no env (``generate`` runs them first): a ConfigError, or the
    ValueError of ``parse_maps`` for an unknown control map."""
    if cfg.episodes < 1:
        raise ConfigError(f"episodes must be >= 1, got {cfg.episodes}")
    if cfg.workers < 1:
        raise ConfigError(f"workers must be >= 1, got {cfg.workers}")
    if cfg.max_steps is not None and cfg.max_steps < 1:
        raise ConfigError(f"max_steps must be >= 1 or None, got {cfg.max_steps}")
    if cfg.resolution is not None and (len(cfg.resolution) != 2 or min(cfg.resolution) < 1):
        raise ConfigError(f"resolution must be (width, height) with positive sizes, got {cfg.resolution}")
    parse_maps(tuple(cfg.maps))  # unknown map names -> ValueError (cosmos_sim.envs.control_maps)
    if cfg.policy not in ("random", "expert", "noisy-expert") and not Path(cfg.policy).is_dir():
        raise ConfigError(
            f"policy {cfg.policy!r} is neither random, expert, noisy-expert nor a policy directory "
            "(train-policy's --out)"
        )


# ---- one episode -----------------------------------------------------------------------------
def _is_image_space(space: gym.Space) -> bool:
    return (
        isinstance(space, spaces.Box)
        and space.dtype == np.uint8
        and len(space.shape) == 3
        and space.shape[-1] in (1, 3, 4)
    )


def _flatten_obs(obs: Any, space: gym.Space, prefix: str = "") -> Iterator[tuple[str, np.ndarray, bool]]:
    """(key, value, is_image) for every leaf of an observation."""
    if isinstance(space, spaces.Dict):
        for name, sub in space.spaces.items():
            yield from _flatten_obs(obs[name], sub, f"{prefix}{name}/")
    elif isinstance(space, spaces.Tuple):
        for i, sub in enumerate(space.spaces):
            yield from _flatten_obs(obs[i], sub, f"{prefix or 'obs/'}{i}/")
    elif isinstance(space, spaces.Box | spaces.Discrete | spaces.MultiDiscrete | spaces.MultiBinary):
        image = _is_image_space(space)
        key = prefix.rstrip("/") or ("rgb" if image else "state")
        yield key, np.asarray(obs), image
    else:
        raise ConfigError(
            f"observation space {space} is not supported by the trajectory store "
            "(use Box, Discrete, MultiDiscrete, MultiBinary, or Dict/Tuple of them)"
        )


def _row(env: gym.Env, obs: Any, info: dict) -> dict[str, np.ndarray]:
    """Everything recorded about the current state: observation, render, maps, cameras, objects."""
    row: dict[str, np.ndarray] = {}
    has_image = False
    for key, value, image in _flatten_obs(obs, env.observation_space):
        row[key] = value
        has_image |= image
    if not has_image and env.render_mode == "rgb_array":
        row["render" if "rgb" in row else "rgb"] = np.asarray(env.render())
    for cam, maps in (info.get("maps") or {}).items():
        for name, value in maps.items():
            row[f"maps/{cam}/{name}"] = np.asarray(value)
    for cam, params in (info.get("cameras") or {}).items():
        row[f"cameras/{cam}/extrinsics"] = np.asarray(params["extrinsics"], dtype=np.float64)
    for name, state in (info.get("objects") or {}).items():
        for fld, value in state.items():
            row[f"objects/{name}/{fld}"] = np.asarray(value, dtype=np.float64)
    for name, value in (info.get("lidar") or {}).items():
        row[f"lidar/{name}"] = np.asarray(value)
    if "is_success" in info:
        row["is_success"] = np.asarray(bool(info["is_success"]))
    if "true_state" in info:  # the state behind an estimated one (envs/perceived.py)
        row["true_state"] = np.asarray(info["true_state"], dtype=np.float32)
    if _is_gym_mujoco(env):
        row["qpos"] = env.unwrapped.data.qpos.copy()
        row["qvel"] = env.unwrapped.data.qvel.copy()
    return row


def _is_gym_mujoco(env: gym.Env) -> bool:
    """A Gymnasium MuJoCo env (its MuJoCo state is recorded; cosmos_sim's own scenes record object poses).

    Looked up among the imported modules, never imported here: making such an env imports it, and importing it
    for every other env would load Gymnasium's GLFW viewer into every generation worker."""
    module = sys.modules.get("gymnasium.envs.mujoco.mujoco_env")
    return module is not None and isinstance(env.unwrapped, module.MujocoEnv)


def rollout(
    env: gym.Env,
    policy_name: str,
    seed: int,
    max_steps: int | None = None,
    policy_options: dict | None = None,
    captions: bool = False,
) -> dict[str, np.ndarray]:
    """Run one seeded episode and return its rows ``{key: array (T+1, ...)}`` (module convention); with
    ``captions`` also its description under ``TEXT_KEY`` (a dict, popped before the store write)."""
    policy = make_policy(policy_name, env, seed, **(policy_options or {}))
    obs, info = env.reset(seed=seed)
    rows = [_row(env, obs, info)]
    actions, rewards = [], []
    terminated = truncated = False
    while not (terminated or truncated):
        if max_steps is not None and len(actions) >= max_steps:
            truncated = True
            break
        action = policy(obs, env)
        obs, reward, terminated, truncated, info = env.step(action)
        actions.append(np.asarray(action))
        rewards.append(float(reward))
        rows.append(_row(env, obs, info))
    n = len(rows)
    if "is_success" in set().union(*rows):
        for r in rows:
            r.setdefault("is_success", np.asarray(False))
    keys = set(rows[0])
    for t, r in enumerate(rows):
        if set(r) != keys:
            raise StoreError(
                f"env {env.spec.id if env.spec else env} changed its recorded keys at step {t} "
                f"(added {sorted(set(r) - keys)}, removed {sorted(keys - set(r))}); each step's "
                "observation/info must have the same structure"
            )
    episode = {k: np.stack([r[k] for r in rows]) for k in sorted(keys)}
    zero = np.zeros(env.action_space.shape, dtype=env.action_space.dtype)
    episode["action"] = np.stack([*actions, zero]).astype(env.action_space.dtype)
    episode["reward"] = np.array([*rewards, 0.0], dtype=np.float32)
    episode["terminated"] = np.zeros(n, dtype=bool)
    episode["truncated"] = np.zeros(n, dtype=bool)
    episode["terminated"][-1], episode["truncated"][-1] = terminated, truncated
    if captions:
        from cosmos_sim.envs.captions import describe_episode

        episode[TEXT_KEY] = describe_episode(env, episode)
    return episode


def _rollout_block(
    spec: EnvSpec,
    kwargs: dict,
    policy: str,
    seeds: list[int],
    max_steps: int | None,
    policy_options: dict,
    captions: bool = False,
) -> list[dict[str, np.ndarray]]:
    """Worker task: one env for a block of consecutive episodes."""
    env = _make_env(spec, kwargs)
    try:
        return [rollout(env, policy, s, max_steps, policy_options, captions) for s in seeds]
    finally:
        env.close()


# ---- the run ---------------------------------------------------------------------------------
def _env_attrs(env: gym.Env, cfg: GenerateConfig, kwargs: dict) -> dict[str, Any]:
    """Store attrs that describe the env: ids, spaces, fps, action layout, camera intrinsics."""
    u = env.unwrapped
    attrs: dict[str, Any] = {
        "env_id": cfg.env_id,
        "env_kwargs": {k: v for k, v in kwargs.items()},
        "fps": env.metadata.get("render_fps"),
        "max_episode_steps": env.spec.max_episode_steps if env.spec else None,
        "observation_space": str(env.observation_space),
        "action_space": str(env.action_space),
        "action_layout": list(getattr(u, "action_layout", []))
        or [f"a{i}" for i in range(int(np.prod(env.action_space.shape or (1,))))],
        "policy": cfg.policy,
        "recording_convention": CONVENTION,
        # Names of the ``state`` vector's entries (envs with a state layout: the push/reach task).
        "state_layout": list(getattr(u, "state_layout", ())),
        # Image observation keys in the env's order (e.g. the six driving cameras), for viewers.
        "image_keys": [
            k for k, _, image in _flatten_obs(env.observation_space.sample(), env.observation_space) if image
        ],
        # Rows of camera names for grid views (multi-camera envs that define one).
        "camera_grid": [list(row) for row in getattr(u, "camera_grid", ())],
    }
    if hasattr(u, "camera_params") and hasattr(u, "cameras"):
        attrs["cameras"] = {
            cam: {
                "intrinsics": u.camera_params(cam).intrinsics,
                "width": getattr(u, "width", None),
                "height": getattr(u, "height", None),
            }
            for cam in u.cameras
        }
    if hasattr(u, "segmentation_labels"):
        attrs["segmentation_labels"] = {str(k): v for k, v in u.segmentation_labels.items()}
    return attrs


def _blocks(seeds: list[int]) -> list[list[int]]:
    """Fixed blocks of consecutive seeds, each rolled out by a fresh env.

    The partition does not depend on the number of workers, so envs whose frames depend on
    history beyond ``reset(seed)`` (e.g. gymnasium's MuJoCo tracking cameras) still give the same
    store with 1 or N workers.
    """
    return [seeds[i : i + _BLOCK] for i in range(0, len(seeds), _BLOCK)]


def _episodes(cfg: GenerateConfig, spec: EnvSpec, kwargs: dict, seeds: list[int]) -> Iterator[dict]:
    """Finished episodes in seed order, from this process or a spawn pool."""
    tasks = [
        (spec, kwargs, cfg.policy, block, cfg.max_steps, cfg.policy_options, cfg.captions)
        for block in _blocks(seeds)
    ]
    if cfg.workers == 1:
        for task in tasks:
            yield from _rollout_block(*task)
        return
    with process_pool(cfg.workers) as pool:
        # A bounded window of blocks in flight keeps memory flat when writing lags behind.
        todo = iter(tasks)
        pending = [
            pool.submit(_rollout_block, *t) for _, t in zip(range(2 * cfg.workers), todo, strict=False)
        ]
        while pending:
            done = pending.pop(0).result()
            nxt = next(todo, None)
            if nxt is not None:
                pending.append(pool.submit(_rollout_block, *nxt))
            yield from done


def _open_store(cfg: GenerateConfig, attrs: dict) -> TrajectoryStore:
    if Path(cfg.out).exists() and is_store(cfg.out):
        store = TrajectoryStore.open(cfg.out, mode="a")
        if store.attrs.get("env_id") != cfg.env_id:
            store.close()
            raise StoreError(
                f"store {cfg.out} holds episodes of {store.attrs.get('env_id')!r}, not {cfg.env_id!r}; "
                "use another --out"
            )
        return store
    return TrajectoryStore.create(cfg.out, attrs=attrs)


def _conform(episode: dict[str, np.ndarray], store: TrajectoryStore) -> dict[str, np.ndarray]:
    """Add or drop ``is_success`` so that every episode matches the store's key set."""
    if store.n_episodes == 0:
        return episode
    has = "is_success" in store.keys()
    if has and "is_success" not in episode:
        episode = {**episode, "is_success": np.zeros(len(episode["reward"]), dtype=bool)}
    elif not has and "is_success" in episode:
        episode = {k: v for k, v in episode.items() if k != "is_success"}
    return episode


def _dir_bytes(path: str | os.PathLike) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def generate(cfg: GenerateConfig) -> dict[str, Any]:
    """Record ``cfg.episodes`` episodes into the store at ``cfg.out`` and return a summary dict.

    Summary keys: episodes, frames (rows written), env_steps, seconds, frames_per_s,
    bytes_on_disk (whole store), bytes_per_frame (whole store), mean_return, success_rate (None
    when the env never reports ``is_success``), first_seed, store_episodes, out.
    """
    from tqdm.auto import tqdm

    check_config(cfg)
    t0 = time.perf_counter()
    kwargs = _env_kwargs(cfg)
    env = _make_env(cfg.env_id, kwargs)  # a probe: clear errors and attrs before any work starts
    try:
        if cfg.max_steps is None and (env.spec is None or env.spec.max_episode_steps is None):
            raise ConfigError(f"env {cfg.env_id!r} has no time limit; set max_steps so episodes end")
        make_policy(
            cfg.policy, env, cfg.seed, **cfg.policy_options
        )  # fail fast, e.g. "expert" for an env without one
        env.reset(seed=cfg.seed)  # some envs know their cameras only after a reset
        command = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else ""
        attrs = {**_env_attrs(env, cfg, kwargs), "command": command, "config": asdict(cfg)}
        spec = env.spec
    finally:
        env.close()
    with _open_store(cfg, attrs) as store:
        existing = store.episode_seeds
        base = max(cfg.seed, int(existing.max()) + 1) if len(existing) else cfg.seed
        seeds = [base + i for i in range(cfg.episodes)]
        first_episode = store.n_episodes
        returns, successes, frames = [], [], 0
        bar = tqdm(total=cfg.episodes, unit="ep", disable=not cfg.progress, desc=f"generate {cfg.env_id}")
        for seed, episode in zip(seeds, _episodes(cfg, spec, kwargs, seeds), strict=True):
            if "is_success" in episode:
                successes.append(bool(episode["is_success"].any()))
            returns.append(float(episode["reward"].sum()))
            text = episode.pop(TEXT_KEY, None)
            store.add_episode(_conform(episode, store), seed=seed, text=text)
            frames += len(episode["reward"])
            bar.update(1)
            bar.set_postfix(frames=frames)
        bar.close()
        seconds = time.perf_counter() - t0
        runs = [
            *store.attrs.get("runs", []),
            {
                "command": command,
                "config": asdict(cfg),
                "episodes": [first_episode, store.n_episodes],
                "seeds": [seeds[0], seeds[-1]],
                "seconds": round(seconds, 3),
            },
        ]
        store.update_attrs({"runs": runs})
        n_store_steps, n_store_episodes = store.n_steps, store.n_episodes
    on_disk = _dir_bytes(cfg.out)
    summary = {
        "episodes": cfg.episodes,
        "frames": frames,
        "env_steps": frames - cfg.episodes,
        "seconds": seconds,
        "frames_per_s": frames / seconds if seconds > 0 else float("inf"),
        "bytes_on_disk": on_disk,
        "bytes_per_frame": on_disk / max(1, n_store_steps),
        "mean_return": float(np.mean(returns)),
        "success_rate": float(np.mean(successes)) if successes else None,
        "first_seed": seeds[0],
        "store_episodes": n_store_episodes,
        "out": str(cfg.out),
    }
    if cfg.progress:
        _print_summary(cfg, summary)
    return summary


def _print_summary(cfg: GenerateConfig, s: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"generate {cfg.env_id} -> {s['out']}", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    rows = [
        ("policy / workers", f"{cfg.policy} / {cfg.workers}"),
        ("episodes (store total)", f"{s['episodes']} ({s['store_episodes']})"),
        ("seeds", f"{s['first_seed']} .. {s['first_seed'] + s['episodes'] - 1}"),
        ("frames (env steps)", f"{s['frames']} ({s['env_steps']})"),
        ("wall time", f"{s['seconds']:.2f} s"),
        ("frames/s", f"{s['frames_per_s']:.1f}"),
        ("store size", f"{s['bytes_on_disk'] / 2**20:.2f} MiB"),
        ("bytes/frame", f"{s['bytes_per_frame']:.0f}"),
        ("mean return", f"{s['mean_return']:.3f}"),
        ("success rate", "n/a" if s["success_rate"] is None else f"{100 * s['success_rate']:.1f} %"),
    ]
    for k, v in rows:
        table.add_row(k, v)
    Console().print(table)


def record_noisy_expert(
    out: str,
    episodes: int,
    seed: int,
    env_id: str = "cosmos_sim/Manipulation-GT-v0",
    max_noise: float = 0.6,
    max_random: float = 0.3,
    max_steps: int = 100,
    maps: tuple[str, ...] = (),
    workers: int = 1,
) -> TrajectoryStore:
    """A new store (replacing ``out``) of ``episodes`` noisy-expert episodes from seed ``seed`` on: world-model
    training data, ``cosmos-sim generate --policy noisy-expert`` from Python (see ``NoisyExpertPolicy``)."""
    shutil.rmtree(out, ignore_errors=True)
    generate(
        GenerateConfig(
            env_id=env_id,
            episodes=episodes,
            out=out,
            policy="noisy-expert",
            seed=seed,
            max_steps=max_steps,
            maps=tuple(maps),
            workers=workers,
            progress=False,
            policy_options={"max_noise": max_noise, "max_random": max_random},
        )
    )
    return TrajectoryStore.open(out)
