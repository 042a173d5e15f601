"""Pack trajectory stores into one compressed .npz each, for a machine without zarr (the lent GPU machine).

    python tools/gpu/pack.py OUT_DIR OBJECT_WEIGHT CELL STORE.zarr ...

Each file holds what ``train-wfm`` reads from a store: the frames, the per-cell loss weights of
``--object-weight`` (``cell_weights`` of the seg map, ``CELL`` pixels a latent cell: 4 for ``cv4x4x4-nano``),
actions, rewards, the success flag, the episode ends and the env info; and the object pixels themselves
(bit-packed), what ``train-tokenizer --object-weight`` reads. ``PACK_STATIC_LABELS=a,b,...`` replaces the
default scenery labels (``train-tokenizer --static-labels``; e.g. without ``goal`` to weight the goal disc).
Frames compress ~5x better than the stores, whose seg maps dominate: the eight physics training stores go from
56 to 13 MB.
"""

import json
import os
import sys
from pathlib import Path

import numpy as np

from cosmos_sim.data.object_masks import STATIC_LABELS, cell_weights, object_masks
from cosmos_sim.data.store import TrajectoryStore
from cosmos_sim.train.latents import done_key
from cosmos_sim.train.wfm import store_env_info


def pack(path: str, out: Path, object_weight: float, cell: int) -> None:
    store = TrajectoryStore.open(path)
    keys, n = store.keys(), store.n_steps
    done = done_key(keys)
    static = os.environ.get("PACK_STATIC_LABELS")
    masks = object_masks(store, "rgb", tuple(static.split(",")) if static else STATIC_LABELS)
    weights = cell_weights(masks, cell, object_weight)
    np.savez_compressed(
        out / f"{Path(path).name.removesuffix('.zarr')}.npz",
        rgb=store.read("rgb", 0, n),
        weights=weights.astype(np.uint8),
        objects=np.packbits(masks, axis=-1),
        action=store.read("action", 0, n).astype(np.float32),
        reward=store.read("reward", 0, n).astype(np.float32),
        success=(store.read(done, 0, n) if done else np.zeros(n, bool)).astype(bool),
        ends=np.asarray(store.episode_ends),
        env_info=np.frombuffer(json.dumps(store_env_info(path)).encode(), dtype=np.uint8),
    )
    print(f"{path}: {n} rows packed")


if __name__ == "__main__":
    out, weight, cell, *stores = sys.argv[1:]
    Path(out).mkdir(parents=True, exist_ok=True)
    for s in stores:
        pack(s, Path(out), float(weight), int(cell))
