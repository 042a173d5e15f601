"""TrajectoryStore: round trips, appends, clear errors, and atomic commits under SIGKILL."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import zarr

from cosmos_sim.data.store import FORMAT_NAME, TrajectoryStore
from cosmos_sim.errors import ConfigError, StoreError, StoreNotFoundError

# Content-verifiable episodes: every value encodes (episode, step), so corruption or misalignment shows.
EPISODE_SRC = textwrap.dedent(
    """
    import numpy as np

    def make_episode(e):
        n = 5 + (e * 7) % 40
        t = np.arange(n)
        rgb = ((e * 31 + t) % 251).astype(np.uint8)[:, None, None, None] * np.ones((1, 32, 32, 3), np.uint8)
        rgb[:, 0, 0, 0] = e % 256  # episode id also in the pixels
        return {
            "rgb": rgb,
            "state": np.stack([np.full(n, e, np.float32), t.astype(np.float32)], axis=1),
            "maps/front/depth": (e + t[:, None, None] / 100).astype(np.float32) * np.ones((1, 8, 8), np.float32),
            "done": t == n - 1,
        }
    """
)
_ns: dict = {}
exec(EPISODE_SRC, _ns)
make_episode = _ns["make_episode"]


def assert_episode_equal(got: dict, want: dict) -> None:
    assert set(got) == set(want)
    for k in want:
        assert got[k].dtype == want[k].dtype, k
        np.testing.assert_array_equal(got[k], want[k], err_msg=k)


def test_round_trip_nested_keys_and_attrs(tmp_path):
    path = tmp_path / "s.zarr"
    store = TrajectoryStore.create(path, attrs={"env_id": "X-v0", "K": np.eye(3), "res": (64, 48)})
    for e in range(3):
        assert store.add_episode(make_episode(e), seed=100 + e) == e
    store.close()

    r = TrajectoryStore.open(path)
    assert r.n_episodes == 3
    lengths = [len(make_episode(e)["done"]) for e in range(3)]
    assert r.n_steps == sum(lengths)
    np.testing.assert_array_equal(r.episode_ends, np.cumsum(lengths))
    np.testing.assert_array_equal(r.episode_seeds, [100, 101, 102])
    assert r.keys() == ["done", "maps/front/depth", "rgb", "state"]
    assert r.key_info()["rgb"] == ((32, 32, 3), np.dtype(np.uint8))
    for e in range(3):
        assert_episode_equal(r.episode(e), make_episode(e))
    assert_episode_equal(r.episode(-1), make_episode(2))
    assert r.episode_slice(1) == slice(lengths[0], lengths[0] + lengths[1])
    assert r.attrs["format"] == FORMAT_NAME
    assert r.attrs["env_id"] == "X-v0" and r.attrs["K"] == np.eye(3).tolist() and r.attrs["res"] == [64, 48]
    # images are chunked along time and compressed
    arr = r.array("rgb")
    assert arr.chunks[1:] == (32, 32, 3) and 32 <= arr.chunks[0] <= 64
    assert arr.compressors


def test_append_after_reopen_and_update_attrs(tmp_path):
    path = tmp_path / "s.zarr"
    with TrajectoryStore.create(path) as s:
        s.add_episode(make_episode(0), seed=0)
    with TrajectoryStore.open(path, mode="a") as s:
        s.add_episode(make_episode(1), seed=1)
        s.update_attrs({"note": "appended"})
    r = TrajectoryStore.open(path)
    assert r.n_episodes == 2 and r.attrs["note"] == "appended"
    assert_episode_equal(r.episode(1), make_episode(1))


def test_open_errors_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing"):
        TrajectoryStore.open(tmp_path / "missing")
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "x.txt").write_text("hi")
    with pytest.raises(ValueError, match="plain.*not a trajectory store"):
        TrajectoryStore.open(plain)
    other = tmp_path / "other.zarr"
    zarr.open_group(str(other), mode="w").attrs["format"] = "something else"
    with pytest.raises(ValueError, match="other.zarr.*not a trajectory store.*something else"):
        TrajectoryStore.open(other)
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ValueError, match="file.*not a trajectory store"):
        TrajectoryStore.open(f)
    with pytest.raises(ValueError, match="mode"):
        TrajectoryStore.open(other, mode="w")


def test_store_problems_are_store_errors_and_bad_arguments_config_errors(tmp_path):
    with pytest.raises(StoreNotFoundError, match="no trajectory store at"):
        TrajectoryStore.open(tmp_path / "missing")
    s = TrajectoryStore.create(tmp_path / "s.zarr")
    s.add_episode(make_episode(0))
    for call, match in (
        (lambda: TrajectoryStore.create(s.path), "already exists"),
        (lambda: TrajectoryStore.open(s.path, mode="a"), "open for writing"),
        (lambda: s.add_episode({"rgb": make_episode(1)["rgb"]}), "missing"),
        (lambda: TrajectoryStore.open(s.path).add_episode(make_episode(1)), "read-only"),
    ):
        with pytest.raises(StoreError, match=match):
            call()
    with pytest.raises(ConfigError, match="mode"):
        TrajectoryStore.open(s.path, mode="w")


def test_create_refuses_existing_paths(tmp_path):
    path = tmp_path / "s.zarr"
    TrajectoryStore.create(path).close()
    with pytest.raises(ValueError, match="already exists.*mode='a'"):
        TrajectoryStore.create(path)
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "keep.txt").write_text("precious")
    with pytest.raises(ValueError, match="not a trajectory store"):
        TrajectoryStore.create(plain, overwrite=True)
    assert (plain / "keep.txt").read_text() == "precious"
    s = TrajectoryStore.create(path, overwrite=True)
    assert s.n_episodes == 0


def test_append_mismatch_errors_name_the_key(tmp_path):
    s = TrajectoryStore.create(tmp_path / "s.zarr")
    s.add_episode(make_episode(0))
    ep = make_episode(1)
    with pytest.raises(ValueError, match=r"missing \['done'\]"):
        s.add_episode({k: v for k, v in ep.items() if k != "done"})
    with pytest.raises(ValueError, match=r"unexpected \['extra'\]"):
        s.add_episode({**ep, "extra": ep["done"]})
    with pytest.raises(ValueError, match=r"'rgb' has row shape \(16, 32, 3\)"):
        s.add_episode({**ep, "rgb": ep["rgb"][:, :16]})
    with pytest.raises(ValueError, match="'state' has dtype float64"):
        s.add_episode({**ep, "state": ep["state"].astype(np.float64)})
    with pytest.raises(ValueError, match="'done' has 3 rows"):
        s.add_episode({**ep, "done": ep["done"][:3]})
    assert s.n_episodes == 1  # nothing half-added
    s.add_episode(ep)
    assert_episode_equal(TrajectoryStore.open(s.path).episode(1), ep)


def test_read_errors(tmp_path):
    s = TrajectoryStore.create(tmp_path / "s.zarr")
    s.add_episode(make_episode(0))
    with pytest.raises(IndexError, match="has 1 episodes"):
        s.episode(1)
    with pytest.raises(KeyError, match="'nope' not in trajectory store.*rgb"):
        s.episode(0, keys=["nope"])
    r = TrajectoryStore.open(s.path)
    with pytest.raises(ValueError, match="read-only"):
        r.add_episode(make_episode(1))


def test_frame_key_is_rgb_else_the_first_image_key_else_a_store_error(tmp_path):
    frames, state = np.zeros((2, 4, 4, 3), np.uint8), np.zeros((2, 3), np.float32)
    cases = (({"rgb": frames, "pixels": frames}, {"image_keys": ["pixels"]}, "rgb"),
             ({"pixels": frames, "state": state}, {"image_keys": ["wrist", "pixels"]}, "pixels"))  # fmt: skip
    for i, (episode, attrs, key) in enumerate(cases):
        s = TrajectoryStore.create(tmp_path / f"{i}.zarr", attrs)
        s.add_episode(episode)
        assert s.frame_key() == key
    s = TrajectoryStore.create(tmp_path / "none.zarr", {"image_keys": ["pixels"]})
    s.add_episode({"state": state})
    with pytest.raises(
        StoreError, match=r"none.zarr has no frames \(no rgb or image key among \['state'\]\)"
    ):
        s.frame_key()


def test_single_writer_lock(tmp_path):
    s = TrajectoryStore.create(tmp_path / "s.zarr")
    with pytest.raises(ValueError, match="open for writing"):
        TrajectoryStore.open(s.path, mode="a")
    s.close()
    TrajectoryStore.open(s.path, mode="a").close()


def test_uncommitted_tail_is_invisible_and_overwritten(tmp_path):
    """Rows written past the commit (a writer that died before committing) are ignored, then replaced."""
    s = TrajectoryStore.create(tmp_path / "s.zarr")
    s.add_episode(make_episode(0), seed=0)
    n = s.n_steps
    junk = make_episode(1)
    for k, v in junk.items():  # what a killed add_episode leaves: data past the end, no commit
        arr = s.array(k)
        arr.resize((n + len(v), *v.shape[1:]))
        arr[n:] = np.ones_like(v) if v.dtype != bool else True
    s.close()
    r = TrajectoryStore.open(s.path)
    assert r.n_episodes == 1 and r.n_steps == n
    assert_episode_equal(r.episode(0), make_episode(0))
    with TrajectoryStore.open(s.path, mode="a") as w:
        w.add_episode(make_episode(2), seed=2)
    r = TrajectoryStore.open(s.path)
    assert r.n_episodes == 2
    assert_episode_equal(r.episode(1), make_episode(2))
    assert r.array("rgb").shape[0] == r.n_steps


def test_torn_commit_slot_falls_back_to_previous_commit(tmp_path):
    s = TrajectoryStore.create(tmp_path / "s.zarr")
    s.add_episode(make_episode(0))
    s.add_episode(make_episode(1))
    newest = s._slot
    s.close()
    chunk = Path(s.path, "meta", "commit", "c", str(newest), "0")
    chunk.write_bytes(chunk.read_bytes()[:10])  # a torn (truncated) write of the newest slot
    r = TrajectoryStore.open(s.path)
    assert r.n_episodes == 1
    assert_episode_equal(r.episode(0), make_episode(0))
    with TrajectoryStore.open(s.path, mode="a") as w:  # appending continues from the valid commit
        w.add_episode(make_episode(5))
    r = TrajectoryStore.open(s.path)
    assert r.n_episodes == 2
    assert_episode_equal(r.episode(1), make_episode(5))


def test_uncommitted_first_episode_with_other_keys_is_discarded(tmp_path):
    s = TrajectoryStore.create(tmp_path / "s.zarr")
    s._root["data"].create_array("stale", shape=(4,), dtype="int64")  # a killed first episode's leftovers
    s.add_episode({"a": np.arange(3)})
    assert TrajectoryStore.open(s.path).keys() == ["a"]


CHILD = EPISODE_SRC + textwrap.dedent(
    """
    import sys, time
    from cosmos_sim.data.store import TrajectoryStore

    slow = sys.argv[2] == "slow"
    if slow:  # widen the window between writing an episode's data and committing it
        _commit = TrajectoryStore._commit
        def _slow_commit(self, *a):
            time.sleep(0.05)
            _commit(self, *a)
        TrajectoryStore._commit = _slow_commit
    store = TrajectoryStore.open(sys.argv[1], mode="a")
    print("ready", flush=True)
    while True:
        e = store.n_episodes
        store.add_episode(make_episode(e), seed=e)
    """
)


def test_sigkill_mid_write_keeps_committed_episodes_intact(tmp_path):
    """A writer killed at random moments never loses or corrupts a committed episode."""
    path = tmp_path / "s.zarr"
    TrajectoryStore.create(path).close()
    rng = random.Random(0)
    counts, tails = [], 0
    t_end = time.monotonic() + 20
    for round_ in range(8):
        if time.monotonic() > t_end:
            break
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path), "slow" if round_ % 2 else "fast"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = child.stdout.readline()
        assert line.strip() == "ready", child.stderr.read()
        time.sleep(rng.uniform(0.05, 0.6))
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        assert child.returncode == -signal.SIGKILL

        r = TrajectoryStore.open(path)
        counts.append(r.n_episodes)
        for e in range(r.n_episodes):
            assert_episode_equal(r.episode(e), make_episode(e))
        np.testing.assert_array_equal(r.episode_seeds, np.arange(r.n_episodes))
        state = r.array("state") if r.n_episodes else None
        if (
            state is not None
            and state.shape[0] > r.n_steps
            and state[r.n_steps].tolist() == [r.n_episodes, 0]
        ):
            tails += 1  # killed after writing (part of) the next episode, before committing it
    assert counts[-1] > counts[0] > 0, counts  # the children made progress
    assert tails >= 1, "no kill landed inside an episode write; the test did not exercise atomicity"

    with TrajectoryStore.open(path, mode="a") as w:  # still appendable, tail overwritten
        e = w.n_episodes
        w.add_episode(make_episode(e), seed=e)
    r = TrajectoryStore.open(path)
    assert r.n_episodes == counts[-1] + 1
    for e in range(r.n_episodes):
        assert_episode_equal(r.episode(e), make_episode(e))
    assert not list(Path(path).rglob("*.partial"))  # litter of killed writes was cleaned
