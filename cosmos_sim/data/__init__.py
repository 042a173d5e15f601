"""Data: the trajectory store, training windows, recording (generate, dream), export, pictures, object masks.

gym env --policy--> generate (worker processes) --> TrajectoryStore (zarr) --> TrajectoryWindowDataset
WorldModel env --policy--> dream --> TrajectoryStore;  store --> export (MP4/GIF)
"""

HELD_OUT_SEED = 100_000
"""First seed of the held-out episodes every benchmark and evaluation uses; training data stays below it."""
