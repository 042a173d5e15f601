"""Data: the trajectory store, training windows, recording (generate, dream), export and object masks.

    gym env --policy--> generate (worker processes) --> TrajectoryStore (zarr) --> TrajectoryWindowDataset
    WorldModel env --policy--> dream --> TrajectoryStore;  store --> export (MP4/GIF)
"""
