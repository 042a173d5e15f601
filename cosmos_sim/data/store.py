"""Episode trajectory store: a zarr v3 directory laid out like diffusion_policy's ReplayBuffer.

Layout::

    <store>/zarr.json          root attrs: format, format_version, env_id, env_kwargs, action_layout,
                               cameras (intrinsics per camera), fps, policy, command, ...
    <store>/data/<key>         one array per key; the rows of every episode concatenated along time.
                               Keys may be paths ("rgb", "action", "maps/front/depth").
    <store>/meta/episode_ends  int64 (n_episodes,): cumulative row count at the end of each episode
    <store>/meta/episode_seeds int64 (n_episodes,): the reset seed of each episode
    <store>/meta/commit        int64 (2, 4): two commit slots [generation, n_episodes, n_steps, crc]
    <store>/text.jsonl         optional: one JSON line per captioned episode, ``{"episode": i, "seed": s,
                               "short": ..., "long": ..., "facts": {...}}`` (``add_episode(text=)``), written
                               before the episode's commit; the last line of an index wins, lines past the
                               committed episodes are ignored (stores without it read as before)

Images are chunked along time (up to 64 full frames per chunk, fewer for big frames) and every
array is compressed with Blosc/zstd.

Atomicity (an episode is visible only once it is fully written):
    1. The episode's rows are written *beyond* the committed end: rows ``[n_steps, n_steps + T)``
       of each ``data/<key>`` (arrays grow geometrically, so their shape may exceed ``n_steps``
       until ``close()`` trims them); ``episode_ends``/``episode_seeds`` get their new entry the
       same way.
    2. The commit is one small chunk write: the commit slot that does not hold the newest
       generation gets ``[generation + 1, n_episodes + 1, n_steps + T, crc]``.
    Readers trust only the newest commit slot whose checksum is valid, and read rows below its
    ``n_steps`` and episodes below its ``n_episodes``; anything past that is an uncommitted tail
    (or spare capacity) that the next ``add_episode`` overwrites.

    zarr 3's ``LocalStore`` writes every file (chunk or ``zarr.json``) to a temporary
    ``*.partial`` file and renames it into place (zarr >= 3.1.3; older 3.x wrote in place). With
    that, rewriting the chunk shared by the last committed episode and the new one is safe, and a
    killed writer only leaves ``*.partial`` litter, which ``open(mode="a")`` deletes. The commit
    step does not rely on the rename: a torn slot fails its checksum and readers fall back to the
    other slot, which still holds the previous commit. Because the data writes do rely on it,
    opening for writing refuses zarr older than 3.1.3. Nothing is fsync'ed: this survives a killed
    process (SIGKILL, OOM, Ctrl-C), not a power cut.

One writer at a time: a writable store holds an exclusive ``flock`` on its directory (released
by the kernel when the process dies, so a crash never leaves a stale lock).

Errors: a path that is not a store, a corrupt or locked store, or an episode that does not fit the
store raise ``cosmos_sim.errors.StoreError`` (``StoreNotFoundError``, also a FileNotFoundError, for a
missing path); both are ValueErrors. Out-of-range rows/episodes and unknown keys stay IndexError/KeyError.
"""

from __future__ import annotations

import datetime as _dt
import os
import sys
import warnings
import zlib
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import zarr
from zarr.codecs import BloscCodec

from cosmos_sim.errors import ConfigError, StoreError, StoreNotFoundError

TEXT_FILE = "text.jsonl"  # per-episode captions beside the zarr hierarchy (see the module docstring)

try:  # POSIX only; on other systems the single-writer rule is simply not enforced
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

FORMAT_NAME = "cosmos_sim.trajectory_store"
FORMAT_VERSION = 1
#: Oldest zarr whose LocalStore replaces files atomically (temporary file + rename).
MIN_ZARR_FOR_WRITING = (3, 1, 3)

_CHUNK_TARGET_BYTES = 4 << 20  # ~4 MiB uncompressed per image chunk
_MAX_FRAMES_PER_CHUNK = 64
_MIN_FRAMES_PER_CHUNK = 8
_VECTOR_CHUNK_ROWS = (256, 8192)
_CRC_SALT = 0x5EED


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for p in version.split(".")[:3]:
        digits = "".join(ch for ch in p if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def _crc(generation: int, n_episodes: int, n_steps: int) -> int:
    payload = np.array([generation, n_episodes, n_steps, _CRC_SALT], dtype="<i8").tobytes()
    return zlib.crc32(payload)


def _jsonable(value: Any) -> Any:
    """Convert numpy arrays/scalars and tuples (recursively) to JSON-friendly Python values."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


def _chunks_for(row_shape: tuple[int, ...], dtype: np.dtype) -> tuple[int, ...]:
    """Time-chunking: whole frames, a few MiB per chunk; long chunks of rows for small vectors."""
    row_bytes = max(1, int(np.prod(row_shape, dtype=np.int64)) * dtype.itemsize)
    if len(row_shape) >= 2:
        n = int(np.clip(_CHUNK_TARGET_BYTES // row_bytes, _MIN_FRAMES_PER_CHUNK, _MAX_FRAMES_PER_CHUNK))
    else:
        n = int(np.clip((1 << 20) // row_bytes, *_VECTOR_CHUNK_ROWS))
    return (n, *row_shape)


def _compressor(dtype: np.dtype) -> BloscCodec:
    # Byte shuffle helps multi-byte numbers (depth, states); bytes (images) need none.
    shuffle = "noshuffle" if dtype.itemsize == 1 else "shuffle"
    return BloscCodec(cname="zstd", clevel=5, shuffle=shuffle)


def is_store(path: str | os.PathLike) -> bool:
    """True when ``path`` is a directory holding a trajectory store of this format."""
    try:
        group = zarr.open_group(str(path), mode="r")
    except Exception:  # missing path, plain directory, file, array instead of group, ...
        return False
    return group.attrs.get("format") == FORMAT_NAME


class TrajectoryStore:
    """Episodes of aligned per-step arrays in a zarr v3 directory (see the module docstring).

    Use ``TrajectoryStore.create`` for a new store and ``TrajectoryStore.open`` for an existing one.
    """

    def __init__(self, path: Path, group: zarr.Group, mode: str, lock_fd: int | None):
        """Internal: use ``create`` or ``open``."""
        self.path = path
        self.mode = mode
        self._root = group
        self._lock_fd = lock_fd
        self._arrays: dict[str, zarr.Array] = {}
        self._pool: ThreadPoolExecutor | None = None  # writes the keys of an episode in parallel
        self.refresh()

    # ---- construction ------------------------------------------------------------------------
    @classmethod
    def create(
        cls, path: str | os.PathLike, attrs: Mapping[str, Any] | None = None, overwrite: bool = False
    ) -> TrajectoryStore:
        """Create an empty store at ``path`` (an existing path is an error unless ``overwrite``).

        ``attrs`` (JSON-able; numpy values are converted) go into the root attrs beside the
        format name/version, creation time and the command line that created the store.
        """
        _check_zarr_for_writing()
        p = Path(path)
        if p.exists() and not overwrite:
            what = "a trajectory store" if is_store(p) else "something that is not a trajectory store"
            raise StoreError(
                f"{p} already exists ({what}); open it with TrajectoryStore.open(path, mode='a') to append, "
                "or pass overwrite=True to replace it"
            )
        if p.exists() and not (is_store(p) or (p.is_dir() and not any(p.iterdir()))):
            # Never wipe a directory that is not ours, even with overwrite=True.
            raise StoreError(
                f"{p} exists and is not a trajectory store or an empty directory; choose another path"
            )
        root = zarr.open_group(str(p), mode="w", zarr_format=3)
        root.attrs.update(
            _jsonable(
                {
                    "format": FORMAT_NAME,
                    "format_version": FORMAT_VERSION,
                    "created_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                    "created_by": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else "",
                    "zarr_version": zarr.__version__,
                    **dict(attrs or {}),
                }
            )
        )
        root.require_group("data")
        meta = root.require_group("meta")
        for name in ("episode_ends", "episode_seeds"):
            meta.create_array(name, shape=(0,), chunks=(4096,), dtype="int64", fill_value=0)
        # The commit record is uncompressed so a torn write shows as a bad checksum, not a codec error.
        commit = meta.create_array(
            "commit", shape=(2, 4), chunks=(1, 4), dtype="int64", fill_value=-1, compressors=None
        )
        commit[0] = [0, 0, 0, _crc(0, 0, 0)]
        return cls.open(p, mode="a")

    @classmethod
    def open(cls, path: str | os.PathLike, mode: str = "r") -> TrajectoryStore:
        """Open an existing store read-only (``"r"``) or for appending (``"a"``)."""
        if mode not in ("r", "a"):
            raise ConfigError(f"mode must be 'r' (read) or 'a' (append), got {mode!r}")
        p = Path(path)
        if not p.exists():
            raise StoreNotFoundError(f"no trajectory store at {p}: the path does not exist")
        if not p.is_dir():
            raise StoreError(f"{p} is not a trajectory store (it is a file, not a zarr directory)")
        try:
            root = zarr.open_group(str(p), mode="r" if mode == "r" else "r+")
        except (FileNotFoundError, zarr.errors.GroupNotFoundError) as e:
            raise StoreError(f"{p} is not a trajectory store (no zarr group there)") from e
        fmt = root.attrs.get("format")
        if fmt != FORMAT_NAME:
            raise StoreError(
                f"{p} is a zarr group but not a trajectory store (attr 'format' is {fmt!r}, "
                f"expected {FORMAT_NAME!r})"
            )
        version = root.attrs.get("format_version")
        if version != FORMAT_VERSION:
            raise StoreError(
                f"{p} has trajectory store format version {version}, this code reads version {FORMAT_VERSION}"
            )
        lock_fd = None
        if mode == "a":
            _check_zarr_for_writing()
            lock_fd = _lock_dir(p)
            _remove_partial_files(p)
        return cls(p, root, mode, lock_fd)

    def close(self) -> None:
        """Trim spare capacity, release the writer lock (if any). Do not use the store afterwards."""
        if self._lock_fd is not None:
            self._trim()
            if self._pool is not None:
                self._pool.shutdown()
                self._pool = None
            os.close(self._lock_fd)  # closing the descriptor drops the flock
            self._lock_fd = None
        self._arrays.clear()

    def __enter__(self) -> TrajectoryStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_lock_fd", None) is not None:
            os.close(self._lock_fd)

    def __repr__(self) -> str:
        return f"TrajectoryStore({str(self.path)!r}, episodes={self.n_episodes}, steps={self.n_steps})"

    # ---- reading -----------------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read the commit record and array handles (to see episodes another process committed)."""
        self._arrays.clear()
        self._texts = None
        self._meta = {name: self._root["meta"][name] for name in ("episode_ends", "episode_seeds", "commit")}
        self._generation, self._n_episodes, self._n_steps, self._slot = self._read_commit()
        ends = np.asarray(self._meta["episode_ends"][: self._n_episodes], dtype=np.int64)
        seeds = np.asarray(self._meta["episode_seeds"][: self._n_episodes], dtype=np.int64)
        if len(ends) != self._n_episodes or (self._n_episodes and ends[-1] != self._n_steps):
            raise StoreError(
                f"trajectory store {self.path} is corrupt: the commit record says {self._n_episodes} "
                f"episodes / {self._n_steps} steps but meta/episode_ends disagrees"
            )
        self._ends, self._seeds = ends, seeds
        self._keys = self._discover_keys() if self._n_episodes else []
        for key in self._keys:
            if self._array(key).shape[0] < self._n_steps:
                raise StoreError(
                    f"trajectory store {self.path} is corrupt: data/{key} has {self._array(key).shape[0]} "
                    f"rows, fewer than the {self._n_steps} committed"
                )

    @property
    def attrs(self) -> dict[str, Any]:
        """A copy of the root attributes."""
        return dict(self._root.attrs)

    @property
    def n_episodes(self) -> int:
        """Number of committed episodes."""
        return self._n_episodes

    @property
    def n_steps(self) -> int:
        """Number of committed rows over all episodes."""
        return self._n_steps

    @property
    def episode_ends(self) -> np.ndarray:
        """Cumulative row count at the end of each committed episode (int64 copy)."""
        return self._ends.copy()

    @property
    def episode_seeds(self) -> np.ndarray:
        """Reset seed of each committed episode (int64 copy)."""
        return self._seeds.copy()

    @property
    def episode_lengths(self) -> np.ndarray:
        """Rows per committed episode."""
        return np.diff(self._ends, prepend=0)

    def keys(self) -> list[str]:
        """Sorted data keys (paths such as ``"maps/front/depth"``); empty before the first episode."""
        return list(self._keys)

    def frame_key(self) -> str:
        """The key of the frames: ``rgb``, else the first of the ``image_keys`` attr present (``pixels`` in a store
        recorded with ``obs_mode="pixels+state"``); a StoreError when there is none."""
        if "rgb" in self._keys:
            return "rgb"
        images = [k for k in self.attrs.get("image_keys", []) if k in self._keys]
        if not images:
            raise StoreError(f"{self.path} has no frames (no rgb or image key among {self.keys()})")
        return images[0]

    def key_info(self) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
        """``{key: (row shape, dtype)}`` for every data key."""
        return {k: (tuple(self._array(k).shape[1:]), np.dtype(self._array(k).dtype)) for k in self._keys}

    def array(self, key: str) -> zarr.Array:
        """The zarr array behind ``key`` (it may hold uncommitted rows past ``n_steps``)."""
        self._check_key(key)
        return self._array(key)

    def episode_slice(self, i: int) -> slice:
        """Rows of episode ``i`` (negative counts from the end) in the concatenated arrays."""
        i = self._check_episode(i)
        start = int(self._ends[i - 1]) if i else 0
        return slice(start, int(self._ends[i]))

    def episode(self, i: int, keys: Iterable[str] | None = None) -> dict[str, np.ndarray]:
        """All rows of episode ``i`` as ``{key: array (T, ...)}`` (only ``keys`` if given)."""
        sl = self.episode_slice(i)
        return {k: self.read(k, sl.start, sl.stop) for k in (self._keys if keys is None else keys)}

    def read(self, key: str, start: int, stop: int) -> np.ndarray:
        """Committed rows ``[start, stop)`` of ``key`` (global row indices)."""
        self._check_key(key)
        if not 0 <= start <= stop <= self._n_steps:
            raise IndexError(
                f"rows [{start}, {stop}) outside the {self._n_steps} committed rows of {self.path}"
            )
        return np.asarray(self._array(key)[start:stop])

    # ---- writing -----------------------------------------------------------------------------
    def update_attrs(self, attrs: Mapping[str, Any]) -> None:
        """Merge ``attrs`` (JSON-able; numpy values converted) into the root attributes."""
        self._check_writable()
        self._root.attrs.update(_jsonable(dict(attrs)))

    def add_episode(
        self, episode: Mapping[str, np.ndarray], seed: int = -1, text: Mapping[str, Any] | None = None
    ) -> int:
        """Append one episode atomically and return its index.

        Args:
            episode: ``{key: array (T, ...)}``, every array with the same ``T >= 1``. After the
                first episode the key set, row shapes and dtypes are fixed.
            seed: the reset seed that produced the episode (-1 when unknown).
            text: the episode's captions (JSON-able, e.g. ``envs/captions.describe_episode``), kept in
                ``text.jsonl``; ``episode_text(i)`` reads them back.
        """
        self._check_writable()
        arrays = {str(k).strip("/"): np.asarray(v) for k, v in episode.items()}
        length = self._check_episode_arrays(arrays)
        n0, e0 = self._n_steps, self._n_episodes
        if text is not None:  # before the commit: a committed episode always has its line
            import json

            with open(self.path / TEXT_FILE, "a", encoding="utf-8") as f:
                f.write(json.dumps({"episode": e0, "seed": int(seed), **_jsonable(dict(text))}) + "\n")
            self._texts = None
        if e0 == 0:
            self._reset_data_group()  # a killed first episode may have left other keys behind
            data = self._root["data"]
            for key, value in arrays.items():
                self._arrays[key] = data.create_array(
                    key,
                    shape=(0, *value.shape[1:]),
                    chunks=_chunks_for(value.shape[1:], value.dtype),
                    dtype=value.dtype,
                    fill_value=0,
                    compressors=[_compressor(value.dtype)],
                )

        # Everything goes past the committed end; the keys are written in parallel (zarr's calls
        # mostly wait on compression and file I/O).
        jobs = [(self._array(k), v, n0) for k, v in arrays.items()]
        jobs += [
            (self._meta["episode_ends"], np.array([n0 + length]), e0),
            (self._meta["episode_seeds"], np.array([seed]), e0),
        ]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=8)
        for f in [self._pool.submit(_write_rows, *job) for job in jobs]:
            f.result()  # re-raises a failed write; nothing is committed then
        self._commit(e0 + 1, n0 + length)
        self._ends = np.append(self._ends, n0 + length).astype(np.int64)
        self._seeds = np.append(self._seeds, int(seed)).astype(np.int64)
        if e0 == 0:
            self._keys = sorted(arrays)
        return e0

    def episode_texts(self) -> list[dict[str, Any] | None]:
        """The captions of every committed episode (``add_episode(text=)``), None where it has none."""
        if getattr(self, "_texts", None) is None:
            import json

            texts: dict[int, dict[str, Any]] = {}
            path = self.path / TEXT_FILE
            if path.is_file():
                for line in path.read_text(encoding="utf-8").splitlines():
                    if line.strip():
                        record = json.loads(line)
                        texts[int(record.pop("episode"))] = record
            self._texts = texts
        return [self._texts.get(i) for i in range(self._n_episodes)]

    def episode_text(self, i: int) -> dict[str, Any] | None:
        """The captions of episode ``i`` (negative counts from the end), None when it has none."""
        return self.episode_texts()[self._check_episode(i)]

    # ---- internals ---------------------------------------------------------------------------
    def _read_commit(self) -> tuple[int, int, int, int]:
        """(generation, n_episodes, n_steps, slot) of the newest valid commit slot."""
        commit = self._meta["commit"]
        best = None
        for slot in (0, 1):
            try:
                gen, n_eps, n_steps, crc = (int(x) for x in np.asarray(commit[slot]))
            except Exception:  # a torn or missing slot (unreadable chunk): use the other one
                continue
            if gen >= 0 and crc == _crc(gen, n_eps, n_steps) and (best is None or gen > best[0]):
                best = (gen, n_eps, n_steps, slot)
        if best is None:
            raise StoreError(
                f"trajectory store {self.path} is corrupt: no valid commit record in meta/commit"
            )
        return best

    def _commit(self, n_episodes: int, n_steps: int) -> None:
        gen = self._generation + 1
        slot = 1 - self._slot  # never overwrite the slot that holds the current commit
        self._meta["commit"][slot] = [gen, n_episodes, n_steps, _crc(gen, n_episodes, n_steps)]
        self._generation, self._n_episodes, self._n_steps, self._slot = gen, n_episodes, n_steps, slot

    def _discover_keys(self) -> list[str]:
        with warnings.catch_warnings():  # stray non-zarr files (e.g. *.partial) only warn
            warnings.simplefilter("ignore")
            members = list(self._root["data"].members(max_depth=None))
        return sorted(path for path, node in members if isinstance(node, zarr.Array))

    def _array(self, key: str) -> zarr.Array:
        arr = self._arrays.get(key)
        if arr is None:
            arr = self._arrays[key] = self._root["data"][key]
        return arr

    def _trim(self) -> None:
        """Cut the spare rows that ``_ensure_rows`` allocated, so array shapes equal the committed sizes."""
        sizes = {k: self._n_steps for k in self._keys}
        sizes |= {"episode_ends": self._n_episodes, "episode_seeds": self._n_episodes}
        for key, n in sizes.items():
            arr = self._meta[key] if key in self._meta else self._array(key)
            if arr.shape[0] != n:
                arr.resize((n, *arr.shape[1:]))

    def _reset_data_group(self) -> None:
        self._arrays.clear()
        if list(self._root["data"].keys()):
            self._root.create_group("data", overwrite=True)

    def _check_key(self, key: str) -> None:
        if key not in self._keys:
            raise KeyError(f"key {key!r} not in trajectory store {self.path}; keys: {self._keys}")

    def _check_episode(self, i: int) -> int:
        n = self._n_episodes
        if not isinstance(i, int | np.integer) or not -n <= i < n:
            raise IndexError(f"episode {i!r} out of range: {self.path} has {n} episodes (valid: 0..{n - 1})")
        return int(i) % n

    def _check_writable(self) -> None:
        if self.mode != "a" or self._lock_fd is None:
            raise StoreError(
                f"trajectory store {self.path} is open read-only; open it with mode='a' to write"
            )

    def _check_episode_arrays(self, arrays: dict[str, np.ndarray]) -> int:
        if not arrays:
            raise StoreError("an episode needs at least one key")
        lengths = {k: (v.shape[0] if v.ndim else None) for k, v in arrays.items()}
        first = next(iter(arrays))
        length = lengths[first]
        for key, n in lengths.items():
            if n is None:
                raise StoreError(
                    f"episode key {key!r} is a scalar; every key needs a leading time axis (T, ...)"
                )
            if n != length:
                raise StoreError(
                    f"episode key {key!r} has {n} rows but {first!r} has {length}; all keys need the same length"
                )
        if length == 0:
            raise StoreError("an episode needs at least one row (T >= 1)")
        for key, v in arrays.items():
            if v.dtype.kind not in "biuf":
                raise StoreError(
                    f"episode key {key!r} has dtype {v.dtype}; use bool, integer or float arrays"
                )
        if self._n_episodes == 0:
            return length
        missing, extra = sorted(set(self._keys) - set(arrays)), sorted(set(arrays) - set(self._keys))
        if missing or extra:
            raise StoreError(
                f"episode keys do not match trajectory store {self.path}: missing {missing}, unexpected {extra} "
                f"(store keys: {self._keys})"
            )
        for key, v in arrays.items():
            shape, dtype = tuple(self._array(key).shape[1:]), np.dtype(self._array(key).dtype)
            if tuple(v.shape[1:]) != shape:
                raise StoreError(
                    f"episode key {key!r} has row shape {tuple(v.shape[1:])}, the store has {shape}"
                )
            if v.dtype != dtype:
                raise StoreError(f"episode key {key!r} has dtype {v.dtype}, the store has {dtype}")
        return length


def _write_rows(arr: zarr.Array, value: np.ndarray, start: int) -> None:
    """Write rows ``[start, start + len(value))``, growing the time axis geometrically (rare resizes)."""
    stop = start + len(value)
    if arr.shape[0] < stop:
        arr.resize((max(stop, 2 * arr.shape[0], arr.chunks[0]), *arr.shape[1:]))
    arr[start:stop] = value


def _check_zarr_for_writing() -> None:
    if _version_tuple(zarr.__version__) < MIN_ZARR_FOR_WRITING:
        need = ".".join(map(str, MIN_ZARR_FOR_WRITING))
        raise RuntimeError(
            f"writing trajectory stores needs zarr >= {need} (atomic file writes in LocalStore); "
            f"found zarr {zarr.__version__}: pip install -U 'zarr>={need}'"
        )


def _lock_dir(path: Path) -> int | None:
    """Take the exclusive writer lock on the store directory (or fail saying who to stop)."""
    if fcntl is None:  # pragma: no cover
        return os.open(path, os.O_RDONLY)
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StoreError(
            f"trajectory store {path} is open for writing by another process; only one writer at a time"
        ) from None
    return fd


def _remove_partial_files(path: Path) -> None:
    """Delete temporary files a killed zarr write left behind (only safe under the writer lock)."""
    for p in path.rglob("*.partial"):
        if p.is_file():
            p.unlink(missing_ok=True)
