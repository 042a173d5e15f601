"""Append entries to the actions of packed files (``pack.py``): the renderer-of-state probe's tails, composed on the
GPU machine so that only the small tails travel beside the packs.

    python tools/gpu/with_tail.py PACK_DIR TAIL_DIR OUT_DIR NAME,NAME,...

``TAIL_DIR/<stem>.npy`` (rows, k) joins every ``PACK_DIR/<stem>.npz`` it has; NAME,... are the k entries' names
(added to the env info's action layout)."""

import json
import sys
from pathlib import Path

import numpy as np


def with_tail(pack: str, tail: np.ndarray, names, out: str) -> None:
    pk = dict(np.load(pack))
    if len(tail) != len(pk["action"]) or tail.shape[1] != len(names):
        raise ValueError(f"{pack}: tail {tail.shape} for {pk['action'].shape[0]} rows and {len(names)} names")
    pk["action"] = np.concatenate([pk["action"], tail], 1).astype(np.float32)
    info = json.loads(bytes(pk["env_info"]).decode())
    info["action_layout"] = list(info["action_layout"]) + list(names)
    pk["env_info"] = np.frombuffer(json.dumps(info).encode(), dtype=np.uint8)
    np.savez(out, **pk)


if __name__ == "__main__":
    packs, tails, out, names = sys.argv[1:]
    Path(out).mkdir(parents=True, exist_ok=True)
    for t in sorted(Path(tails).glob("*.npy")):
        with_tail(f"{packs}/{t.stem}.npz", np.load(t), names.split(","), f"{out}/{t.stem}.npz")
        print(t.stem, "composed", flush=True)
