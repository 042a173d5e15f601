"""Sim-to-"real" inside our worlds: how much success a pixel policy loses to an appearance shift, and how
much of it training on augmented episodes wins back (issue 17; NVIDIA's Isaac recipe with Cosmos-Transfer).

The GT manipulation scene renders the same episode in several looks (``envs/appearance.py``): geometry,
actions and rewards are identical for a seed, only the pixels differ. So

- a policy cloned from **default-domain** expert episodes is evaluated on held-out seeds in the default
  domain and in the ``HELD_OUT_DOMAINS`` (textures and lights no training store shows): the gap is the
  success lost to the domain shift;
- the same cloning on **half default / half other** episodes (``mix_stores``: the default store's first
  half of seeds, and the other store's episodes of the second half) is evaluated the same way. The
  other store is a Transfer re-rendering of the default store (``cosmos-sim transfer --input``), or, as
  the upper reference, the same seeds recorded under ``appearance="randomized"``: a perfect augmentation;
- ``recovered_fraction``: the part of the lost success the mixed policy wins back in the held-out domains
  (the issue's goal: >= 0.7).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from cosmos_sim.data.store import TrajectoryStore
from cosmos_sim.errors import ConfigError, StoreError


def half_seeds(store: TrajectoryStore) -> tuple[set[int], set[int]]:
    """The store's episode seeds split in two by order: (first half, second half)."""
    seeds = [int(s) for s in store.episode_seeds]
    if len(seeds) < 2:
        raise StoreError(f"{store.path} has {len(seeds)} episodes; mixing needs at least 2")
    k = len(seeds) // 2
    return set(seeds[:k]), set(seeds[k:])


def mix_stores(
    default: str | os.PathLike,
    other: str | os.PathLike,
    out: str | os.PathLike,
    keys: tuple[str, ...] | None = None,
) -> dict[str, int]:
    """Write ``out``: the ``default`` store's episodes of its first half of seeds, then the ``other`` store's
    episodes whose seeds are in the default store's second half (the same episodes, other pixels), with
    ``keys`` (default: the frames and ``action``, what BC reads). Returns the episode counts. A StoreError
    when ``other`` shares no seed of that half (it must re-render the default store's episodes) or lacks a
    key."""
    d, o = TrajectoryStore.open(default), TrajectoryStore.open(other)
    keys = keys or (d.frame_key(), "action")
    first, second = half_seeds(d)
    for s, name in ((d, "default"), (o, "other")):
        missing = [k for k in keys if k not in s.keys()]
        if missing:
            raise StoreError(f"{name} store {s.path} lacks {missing} (keys {s.keys()}); mixing needs {keys}")
    other_eps = [i for i, s in enumerate(o.episode_seeds) if int(s) in second]
    if not other_eps:
        raise StoreError(
            f"{other} has no episode with a seed of {default}'s second half ({min(second)}..{max(second)}); "
            "pass a re-rendering of the default store (`cosmos-sim transfer --input DEFAULT`) or a store "
            "recorded with the same seeds"
        )
    kept = ("env_id", "env_kwargs", "fps", "action_layout", "state_layout", "image_keys")
    attrs = {k: d.attrs[k] for k in kept if k in d.attrs}
    attrs["mixed_from"] = {"default": str(default), "other": str(other)}
    mixed = TrajectoryStore.create(out, attrs, overwrite=True)
    n_default = 0
    try:
        for i, s in enumerate(d.episode_seeds):
            if int(s) in first:
                mixed.add_episode(d.episode(i, keys), seed=int(s))
                n_default += 1
        for i in other_eps:
            mixed.add_episode(o.episode(i, keys), seed=int(o.episode_seeds[i]))
    finally:
        mixed.close()
    return {"default_episodes": n_default, "other_episodes": len(other_eps)}


def success_by_domain(
    net,
    env_id: str,
    domains: tuple[str, ...],
    episodes: int,
    first_seed: int,
    env_kwargs: Callable[[str], dict] | None = None,
) -> dict[str, float]:
    """Success rate of an in-memory policy network per appearance domain, on the same ``episodes`` seeds from
    ``first_seed`` in every domain (so only the pixels differ), mean action. ``env_kwargs(domain)`` makes the
    env's kwargs (default ``{"appearance": domain}``; a wrapper such as ``Perceived-v0`` nests it)."""
    from cosmos_sim.policies.evaluate import run_episodes

    seeds = list(range(first_seed, first_seed + episodes))
    kwargs = env_kwargs or (lambda d: {"appearance": d})
    return {d: run_episodes(net, env_id, seeds, kwargs(d))[0].success_rate for d in domains}


def recovered_fraction(base_default: float, base_shifted: float, mixed_shifted: float) -> float | None:
    """(mixed - base) / (base_default - base) in the shifted domains: the part of the lost success won back;
    None when nothing was lost (then there is nothing to recover and the ratio means nothing)."""
    lost = base_default - base_shifted
    return None if lost <= 0 else (mixed_shifted - base_shifted) / lost


def check_store(path: str | os.PathLike, what: str) -> Path:
    """``path`` as a Path, or a ConfigError naming the flag when it is no trajectory store."""
    p = Path(path)
    from cosmos_sim.data.store import is_store

    if not is_store(p):
        raise ConfigError(
            f"{what} {str(p)!r} is not a trajectory store; record it with `cosmos-sim generate`"
        )
    return p


def mean_over(values: list[dict[str, float]]) -> dict[str, float]:
    """Key-wise mean of several result dicts (one per training seed)."""
    return {k: float(np.mean([v[k] for v in values])) for k in values[0]}


__all__ = [
    "check_store",
    "half_seeds",
    "mean_over",
    "mix_stores",
    "recovered_fraction",
    "success_by_domain",
]
