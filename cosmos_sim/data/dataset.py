"""Training windows from a trajectory store: ``context + horizon`` consecutive rows of one episode.

Alignment follows the store's recording convention (see ``cosmos_sim.data.generate``): row ``t`` holds
the observation after ``t`` steps and the action/reward of the step taken from it. A window
starting at row ``s`` therefore holds frames ``s .. s+L-1`` and the actions that lead out of each
of them; a world model predicts frame ``t+1`` from frames ``<= t`` and ``action[t]``. No window
crosses an episode end.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from cosmos_sim.data.store import TrajectoryStore


def is_image_key(row_shape: tuple[int, ...], dtype: np.dtype) -> bool:
    """HxWxC rows with C in (1, 3, 4) and uint8 dtype are images (stored HWC, served CHW)."""
    return len(row_shape) == 3 and row_shape[-1] in (1, 3, 4) and np.dtype(dtype) == np.uint8


class TrajectoryWindowDataset(Dataset):
    """Every valid window of ``context + horizon`` rows across the episodes of a store.

    Item ``i`` is ``{key: tensor (L, ...)}`` for the chosen keys, where image keys come as
    ``(L, C, H, W)`` uint8 (or float32 in [0, 1] with ``image_dtype="float"``) and every other key
    as a tensor of its stored dtype (bool, int64, float32 ...); plus ``"episode"`` and ``"start"``
    (the window's first row within its episode) as int64 scalars.
    """

    def __init__(
        self,
        store_or_path: TrajectoryStore | str | os.PathLike,
        context: int,
        horizon: int,
        keys: Sequence[str] | None = None,
        image_dtype: str = "uint8",
        stride: int = 1,
        episodes: Sequence[int] | None = None,
        skip_short: bool = False,
        in_memory: bool = False,
    ):
        """
        Args:
            store_or_path: an open ``TrajectoryStore`` or the path of one.
            context: conditioning rows per window (>= 1).
            horizon: rows to predict after the context (>= 0).
            keys: data keys to load (default: all keys of the store).
            image_dtype: "uint8" (0..255) or "float" (float32 in [0, 1]) for image keys.
            stride: distance between consecutive window starts within an episode.
            episodes: episode indices to draw from (default: all), e.g. for a train/val split.
            skip_short: leave out episodes shorter than a window instead of raising.
            in_memory: read the chosen keys of the chosen episodes into RAM once (fast for
                small stores); otherwise every item reads one contiguous slice from disk.
        """
        if context < 1 or horizon < 0:
            raise ValueError(f"need context >= 1 and horizon >= 0, got context={context}, horizon={horizon}")
        if stride < 1:
            raise ValueError(f"stride must be >= 1, got {stride}")
        if image_dtype not in ("uint8", "float"):
            raise ValueError(f"image_dtype must be 'uint8' or 'float', got {image_dtype!r}")
        store = (
            store_or_path
            if isinstance(store_or_path, TrajectoryStore)
            else TrajectoryStore.open(store_or_path)
        )
        self.path = store.path
        self.window = context + horizon
        self.context, self.horizon, self.stride = context, horizon, stride
        self.image_dtype = image_dtype
        if store.n_episodes == 0:
            raise ValueError(f"trajectory store {store.path} has no episodes")
        info = store.key_info()
        self.keys = list(info) if keys is None else list(keys)
        missing = [k for k in self.keys if k not in info]
        if missing:
            raise KeyError(f"keys {missing} not in trajectory store {store.path}; available: {sorted(info)}")
        self._image_keys = {k for k in self.keys if is_image_key(*info[k])}

        chosen = (
            np.arange(store.n_episodes)
            if episodes is None
            else np.unique(np.asarray(episodes, dtype=np.int64))
        )
        bad = [int(e) for e in chosen if not 0 <= e < store.n_episodes]
        if bad:
            raise ValueError(f"episodes {bad} out of range: {store.path} has {store.n_episodes} episodes")
        lengths = store.episode_lengths[chosen]
        short = chosen[lengths < self.window]
        if len(short) and not skip_short:
            raise ValueError(
                f"{len(short)} episode(s) of {store.path} are shorter than one window of context+horizon="
                f"{self.window} rows (e.g. episode {int(short[0])} has {int(lengths[lengths < self.window][0])} "
                f"rows; longest: {int(lengths.max())}); pass skip_short=True to leave them out or use a "
                "shorter window"
            )
        keep = lengths >= self.window
        self.episodes = chosen[keep]
        if len(self.episodes) == 0:
            raise ValueError(
                f"no episode of {store.path} has a window of {self.window} rows (longest: {int(lengths.max())})"
            )
        starts = np.concatenate([[0], store.episode_ends])[self.episodes]  # global first row per episode
        n_windows = (store.episode_lengths[self.episodes] - self.window) // stride + 1
        self._episode_start = starts.astype(np.int64)
        self._cum_windows = np.concatenate([[0], np.cumsum(n_windows)]).astype(np.int64)

        self._store: TrajectoryStore | None = store if store.mode == "r" else None
        self._cache: dict[str, np.ndarray] | None = None
        if in_memory:
            self._load_into_memory(store)

    def __len__(self) -> int:
        return int(self._cum_windows[-1])

    def locate(self, index: int) -> tuple[int, int]:
        """(episode index in the store, first row within the episode) of window ``index``."""
        j, start = self._locate(index)
        return int(self.episodes[j]), start

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        j, start = self._locate(int(index))
        item = {key: self._to_tensor(key, self._read(key, j, start)) for key in self.keys}
        item["episode"] = torch.tensor(int(self.episodes[j]), dtype=torch.int64)
        item["start"] = torch.tensor(start, dtype=torch.int64)
        return item

    # ---- internals ---------------------------------------------------------------------------
    def __getstate__(self) -> dict:
        # DataLoader workers re-open the store themselves; zarr handles are per process.
        state = self.__dict__.copy()
        state["_store"] = None
        return state

    def _locate(self, index: int) -> tuple[int, int]:
        """(position in ``self.episodes``, first row within that episode) of window ``index``."""
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"window {index} out of range: the dataset has {n} windows")
        index %= n
        j = int(np.searchsorted(self._cum_windows, index, side="right")) - 1
        return j, int(index - self._cum_windows[j]) * self.stride

    def _read(self, key: str, j: int, start: int) -> np.ndarray:
        if self._cache is not None:
            offset = int(self._cache_start[j]) + start
            return self._cache[key][offset : offset + self.window]
        if self._store is None:
            self._store = TrajectoryStore.open(self.path)
        g0 = int(self._episode_start[j]) + start
        return self._store.read(key, g0, g0 + self.window)

    def _to_tensor(self, key: str, rows: np.ndarray) -> torch.Tensor:
        if key in self._image_keys:
            t = torch.from_numpy(np.ascontiguousarray(rows.transpose(0, 3, 1, 2)))
            return t.float().div_(255.0) if self.image_dtype == "float" else t
        return torch.from_numpy(np.ascontiguousarray(rows))

    def _load_into_memory(self, store: TrajectoryStore) -> None:
        parts: dict[str, list[np.ndarray]] = {k: [] for k in self.keys}
        for e in self.episodes:
            sl = store.episode_slice(int(e))
            for k in self.keys:
                parts[k].append(store.read(k, sl.start, sl.stop))
        lengths = store.episode_lengths[self.episodes]
        self._cache_start = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        self._cache = {k: np.concatenate(v) for k, v in parts.items()}
