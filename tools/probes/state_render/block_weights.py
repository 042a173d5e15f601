"""Raise the loss weight of the latent cells that hold the red block in packs of the renderer probe (session 26).

The renderer draws the block ~2 cm (1 px) off where its true state puts it, and fainter; ``--object-weight 5`` weighs
the arm's cells as much as the block's, and the arm covers ~5x the pixels. This sets the block's cells (its seg mask
through ``cell_weights``, from the pack's store) to max(weight, W); the pack records ``block_weight`` = W, which
``tools/gpu/train_packed.py`` then accepts beside ``--object-weight``.

    python tools/probes/state_render/block_weights.py W PACK.npz:STORE.zarr ...
"""

import sys

import numpy as np

from cosmos_sim.data.object_masks import cell_weights
from cosmos_sim.data.store import TrajectoryStore

CELL = 4  # cv4x4x4-nano's pixels per latent cell

weight = float(sys.argv[1])
for arg in sys.argv[2:]:
    pack, store_path = arg.split(":", 1)
    store = TrajectoryStore.open(store_path)
    labels = store.attrs["segmentation_labels"]
    block_id = next(int(i) for i, name in labels.items() if name == "red_block")
    seg = store.read(f"maps/{list(store.attrs['cameras'])[0]}/seg", 0, store.n_steps)
    block = cell_weights(seg == block_id, CELL, weight) > 1
    pk = dict(np.load(pack))
    if block.shape != pk["weights"].shape:
        raise ValueError(f"{pack}: weights {pk['weights'].shape}, block cells {block.shape}")
    pk["weights"] = np.where(block, np.maximum(pk["weights"], weight), pk["weights"]).astype(np.uint8)
    pk["block_weight"] = np.float32(weight)
    np.savez(pack, **pk)
    print(f"{pack}: block cells {block.mean():.4f} of all, weights {np.unique(pk['weights']).tolist()}")
