"""TrajectoryWindowDataset: window index, alignment across episode boundaries, dtypes, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from cosmos_sim.data.dataset import TrajectoryWindowDataset
from cosmos_sim.data.store import TrajectoryStore

LENGTHS = [7, 5, 12, 6]  # rows per episode


def episode(e: int, n: int) -> dict[str, np.ndarray]:
    t = np.arange(n)
    rgb = np.zeros((n, 8, 6, 3), np.uint8)
    rgb[..., 0] = (e * 50 + t)[:, None, None]  # red channel = 50e + t
    rgb[..., 1] = 200
    return {
        "rgb": rgb,
        "action": np.stack([np.full(n, e), t], axis=1).astype(np.float32),
        "reward": (e * 1000 + t).astype(np.float32),
        "terminated": t == n - 1,
    }


@pytest.fixture
def store_path(tmp_path):
    path = tmp_path / "s.zarr"
    with TrajectoryStore.create(path) as s:
        for e, n in enumerate(LENGTHS):
            s.add_episode(episode(e, n), seed=e)
    return path


def test_every_window_lies_inside_one_episode_and_is_aligned(store_path):
    ds = TrajectoryWindowDataset(store_path, context=2, horizon=3)
    assert len(ds) == sum(n - 5 + 1 for n in LENGTHS)  # 3 + 1 + 8 + 2
    seen = set()
    for i in range(len(ds)):
        item = ds[i]
        e, s = int(item["episode"]), int(item["start"])
        seen.add((e, s))
        assert 0 <= s and s + 5 <= LENGTHS[e]
        t = s + np.arange(5)
        assert item["rgb"].shape == (5, 3, 8, 6) and item["rgb"].dtype == torch.uint8
        np.testing.assert_array_equal(item["rgb"][:, 0, 0, 0].numpy(), e * 50 + t)  # frames in order
        assert bool((item["rgb"][:, 1] == 200).all())  # CHW: channel 1 is green
        np.testing.assert_array_equal(item["action"].numpy(), np.stack([np.full(5, e), t], 1))
        np.testing.assert_array_equal(item["reward"].numpy(), e * 1000 + t)
        assert item["terminated"].dtype == torch.bool
        assert bool(item["terminated"][-1]) == (s + 5 == LENGTHS[e])
    assert seen == {(e, s) for e, n in enumerate(LENGTHS) for s in range(n - 4)}
    assert ds.locate(-1) == (3, 1)
    with pytest.raises(IndexError, match="14 windows"):
        ds[len(ds)]


def test_float_images_keys_stride_and_episode_subset(store_path):
    u8 = TrajectoryWindowDataset(store_path, context=1, horizon=1, keys=["rgb"])
    f = TrajectoryWindowDataset(store_path, context=1, horizon=1, keys=["rgb"], image_dtype="float")
    assert set(f[3]) == {"rgb", "episode", "start"}
    assert f[3]["rgb"].dtype == torch.float32
    torch.testing.assert_close(f[3]["rgb"], u8[3]["rgb"].float() / 255)
    strided = TrajectoryWindowDataset(store_path, context=2, horizon=2, stride=3, episodes=[2])
    assert [strided.locate(i) for i in range(len(strided))] == [(2, 0), (2, 3), (2, 6)]


def test_in_memory_matches_disk_and_dataloader_batches(store_path):
    disk = TrajectoryWindowDataset(store_path, context=3, horizon=1)
    mem = TrajectoryWindowDataset(store_path, context=3, horizon=1, in_memory=True)
    assert len(disk) == len(mem)
    for i in range(len(disk)):
        a, b = disk[i], mem[i]
        for k in a:
            torch.testing.assert_close(a[k], b[k])
    batch = next(iter(DataLoader(disk, batch_size=4, shuffle=True, num_workers=1)))
    assert batch["rgb"].shape == (4, 4, 3, 8, 6) and batch["action"].shape == (4, 4, 2)


def test_short_episodes_raise_or_are_skipped(store_path):
    with pytest.raises(
        ValueError, match=r"shorter than one window.*context\+horizon=7.*episode 1 has 5 rows.*skip_short"
    ):
        TrajectoryWindowDataset(store_path, context=4, horizon=3)
    ds = TrajectoryWindowDataset(store_path, context=4, horizon=3, skip_short=True)
    assert {ds.locate(i)[0] for i in range(len(ds))} == {0, 2}
    with pytest.raises(ValueError, match="no episode.*13 rows.*longest: 12"):
        TrajectoryWindowDataset(store_path, context=10, horizon=3, skip_short=True)


def test_bad_arguments(store_path, tmp_path):
    with pytest.raises(KeyError, match=r"\['depth'\] not in trajectory store.*available"):
        TrajectoryWindowDataset(store_path, context=1, horizon=1, keys=["rgb", "depth"])
    with pytest.raises(ValueError, match="context >= 1"):
        TrajectoryWindowDataset(store_path, context=0, horizon=1)
    with pytest.raises(ValueError, match="image_dtype"):
        TrajectoryWindowDataset(store_path, context=1, horizon=1, image_dtype="half")
    with pytest.raises(ValueError, match=r"episodes \[9\] out of range"):
        TrajectoryWindowDataset(store_path, context=1, horizon=1, episodes=[0, 9])
    TrajectoryStore.create(tmp_path / "empty.zarr").close()
    with pytest.raises(ValueError, match="no episodes"):
        TrajectoryWindowDataset(tmp_path / "empty.zarr", context=1, horizon=1)
