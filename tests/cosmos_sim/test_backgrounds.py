"""Pasted backgrounds (``cosmos_sim/data/backgrounds.py``, ``cosmos-sim paste-backgrounds``)."""

import numpy as np
import pytest

from cosmos_sim.cli import main
from cosmos_sim.data.backgrounds import (
    HELD_OUT_SOURCES,
    PICTURES,
    Look,
    PasteConfig,
    load_pictures,
    paste,
    paste_store,
)
from cosmos_sim.data.store import TrajectoryStore
from cosmos_sim.envs.control_maps import canny_edges
from cosmos_sim.errors import ConfigError


@pytest.fixture(scope="module")
def seg_store(tmp_path_factory):
    from cosmos_sim.data.generate import GenerateConfig, generate

    path = tmp_path_factory.mktemp("bg") / "src.zarr"
    generate(GenerateConfig("cosmos_sim/Manipulation-GT-v0", 2, str(path), policy="expert", seed=100000,
                            resolution=(64, 64), maps=("seg", "edges"), progress=False))  # fmt: skip
    return str(path)


def test_paste_replaces_only_the_named_ids_and_recolours_keeping_the_grey_level():
    frames = np.full((2, 4, 4, 3), 100, np.uint8)
    frames[:, 0, 0] = (200, 10, 10)  # a red "block" pixel: kept
    seg = np.zeros((2, 4, 4), np.int64)
    seg[:, 0, 0], seg[:, 1, :] = 4, 1  # block, a row of "robot"
    look = Look(np.full((4, 4, 3), 0.5, np.float32), np.array([1.0, 0.0, 2.0], np.float32), 1.0, 0.0)
    out = paste(frames, seg, np.array([0]), np.array([1]), look)
    assert (out[:, 0, 0] == (200, 10, 10)).all()  # not named: untouched
    assert (out[:, 2:] == 127).all()  # background: the picture (0.5), no shading at shade_power 0
    grey = 100 / 255
    np.testing.assert_array_equal(
        out[0, 1, 0], (np.clip(np.array([grey, 0, 2 * grey]), 0, 1) * 255).astype(np.uint8)
    )
    dark = paste(frames, seg, np.array([0]), np.array([1]), Look(look.background, look.colour, 0.5, 0.0))
    light = (np.array([200, 10, 10]) / 255 * 0.5 * 255).astype(np.uint8)  # the light level
    assert (dark[:, 0, 0] == light).all()


def test_the_default_pool_leaves_the_held_out_looks_pictures_out():
    from cosmos_sim.envs.appearance import HELD_OUT_DOMAINS, TRAINING_DOMAINS, picture_sources

    held_out, trained = set(picture_sources(HELD_OUT_DOMAINS)), set(picture_sources(TRAINING_DOMAINS))
    assert held_out - trained <= set(HELD_OUT_SOURCES)  # every picture only a held-out look shows is listed
    assert not set(PICTURES) & set(HELD_OUT_SOURCES)
    pool = load_pictures()
    assert len(pool) == len(PICTURES) and all(p.ndim == 3 and p.shape[2] == 3 and p.max() <= 1 for p in pool)
    load_pictures.cache_clear()
    again = load_pictures()  # the same pool every run
    assert all(np.array_equal(a, b) for a, b in zip(pool, again, strict=True))


def test_a_store_keeps_its_rows_and_objects_and_changes_the_background(seg_store, tmp_path):
    src = TrajectoryStore.open(seg_store)
    out = tmp_path / "pasted.zarr"
    summary = paste_store(PasteConfig(seg_store, str(out), progress=False))
    dst = TrajectoryStore.open(out)
    assert summary["episodes"] == dst.n_episodes == src.n_episodes and dst.n_steps == src.n_steps
    assert set(src.keys()) <= set(dst.keys())
    np.testing.assert_array_equal(dst.read("action", 0, dst.n_steps), src.read("action", 0, src.n_steps))
    np.testing.assert_array_equal(dst.episode_seeds, src.episode_seeds)
    labels = {n: int(i) for i, n in src.attrs["segmentation_labels"].items()}
    seg = src.read("maps/front/seg", 0, src.n_steps)
    a, b = src.read(src.frame_key(), 0, src.n_steps), dst.read(dst.frame_key(), 0, dst.n_steps)
    back = np.isin(seg, [labels["background"], labels["table"]])
    assert np.abs(a[back].astype(int) - b[back]).mean() > 20  # another look
    assert dst.attrs["pasted_backgrounds"]["source"] == seg_store
    edges = dst.read("maps/front/edges", 0, 3)  # of the new look, not copied
    np.testing.assert_array_equal(edges, np.stack([canny_edges(f) for f in b[:3]]))
    assert not np.array_equal(edges, src.read("maps/front/edges", 0, 3))
    again = tmp_path / "again.zarr"
    paste_store(PasteConfig(seg_store, str(again), progress=False))
    seeded = TrajectoryStore.open(again).read(dst.frame_key(), 0, dst.n_steps)
    np.testing.assert_array_equal(seeded, b)
    other = tmp_path / "other.zarr"
    paste_store(PasteConfig(seg_store, str(other), seed=7, light=(1.0, 1.0), progress=False))
    c = TrajectoryStore.open(other).read(dst.frame_key(), 0, dst.n_steps)
    assert not np.array_equal(c, b)
    # at light level 1 the objects keep their pixels
    objects = np.isin(seg, [labels["red_block"], labels["goal"]])
    assert objects.sum() > 100
    np.testing.assert_array_equal(c[objects], a[objects])


def test_one_look_per_episode(seg_store, tmp_path):
    out = tmp_path / "p.zarr"
    paste_store(PasteConfig(seg_store, str(out), p_pattern=0.0, light=(1.0, 1.0), progress=False))
    src, dst = TrajectoryStore.open(seg_store), TrajectoryStore.open(out)
    seg = src.episode(0)["maps/front/seg"]
    frames = dst.episode(0)[dst.frame_key()]
    floor = seg[0] == 0  # background pixels seen in both the first and the last frame
    floor &= seg[-1] == 0
    change = np.abs(frames[0][floor].astype(int) - frames[-1][floor]).mean()
    assert change < 12  # the same picture, shaded alike


def test_clear_errors(seg_store, tmp_path):
    from cosmos_sim.data.generate import GenerateConfig, generate

    plain = tmp_path / "plain.zarr"
    generate(
        GenerateConfig("cosmos_sim/Manipulation-GT-v0", 1, str(plain), resolution=(64, 64), progress=False)
    )
    with pytest.raises(ConfigError, match="--maps seg"):
        paste_store(PasteConfig(str(plain), str(tmp_path / "x.zarr"), progress=False))
    with pytest.raises(ConfigError, match="already exists; choose another path"):
        paste_store(PasteConfig(seg_store, seg_store, progress=False))
    with pytest.raises(ConfigError, match="'floor'.*not among"):
        paste_store(PasteConfig(seg_store, str(tmp_path / "y.zarr"), replace=("floor",), progress=False))
    with pytest.raises(ConfigError, match="--light"):
        PasteConfig("a", "b", light=(1.2, 0.5))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match="holds no"):
        load_pictures(str(empty))


def test_the_command_and_a_folder_of_own_pictures(seg_store, tmp_path):
    import imageio.v3 as iio

    pics = tmp_path / "pics"
    pics.mkdir()
    iio.imwrite(pics / "blue.png", np.tile(np.array([0, 0, 255], np.uint8), (32, 32, 1)))
    out = tmp_path / "cli.zarr"
    args = ["paste-backgrounds", "--input", seg_store, "--out", str(out), "--pictures", str(pics), "--p-pattern", "0",
            "--light", "1", "1", "--preview", str(tmp_path / "p.png"), "--no-progress"]  # fmt: skip
    assert main(args) == 0
    shown = iio.imread(tmp_path / "p.png")  # 3 source frames above 3 pasted ones, per episode, x2
    assert shown.shape == (2 * 6 * 64, 2 * 2 * 64, 3)
    src, dst = TrajectoryStore.open(seg_store), TrajectoryStore.open(out)
    for e in range(src.n_episodes):
        back = src.episode(e)["maps/front/seg"] == 0
        means = np.sort(dst.episode(e)[dst.frame_key()][back].reshape(-1, 3).mean(0))
        # one channel: the only picture, pure blue (tinted, maybe shuffled)
        assert means[2] > 20 * max(means[1], 1)
