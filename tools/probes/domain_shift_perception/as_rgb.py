"""Copy a store recorded with obs_mode="pixels+state" with its frames under "rgb" (what ``cosmos-sim transfer``
re-renders); every other key and the attrs (``state_layout`` included) are kept.

    python tools/probes/domain_shift_perception/as_rgb.py SRC.zarr DST.zarr
"""

import sys

from cosmos_sim.data.store import TrajectoryStore

SKIP = ("format", "format_version", "created_at", "created_by", "zarr_version", "runs")

src = TrajectoryStore.open(sys.argv[1])
attrs = {k: v for k, v in src.attrs.items() if k not in SKIP} | {"image_keys": ["rgb"]}
dst = TrajectoryStore.create(sys.argv[2], attrs=attrs)
for i in range(src.n_episodes):
    episode = src.episode(i)
    episode["rgb"] = episode.pop("pixels")
    dst.add_episode(episode, seed=9000 + i)  # data.sh records seeds 9000..
dst.close()
