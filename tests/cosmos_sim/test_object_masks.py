"""Object masks from recorded segmentation maps, and the object-weighted losses of both trainers."""

import numpy as np
import pytest
import torch

from cosmos_sim.data.generate import GenerateConfig, generate
from cosmos_sim.data.object_masks import cell_weights, grow, object_ids, object_masks, seg_key_of
from cosmos_sim.data.store import TrajectoryStore
from cosmos_sim.train.tokenizer import Args as TokArgs
from cosmos_sim.train.tokenizer import pixel_weights
from cosmos_sim.train.tokenizer import train as train_tokenizer
from cosmos_sim.train.wfm import Args as WfmArgs
from cosmos_sim.train.wfm import train as train_wfm
from cosmos_sim.world_models.wfm import tiny_world_model

MANIP = "cosmos_sim/Manipulation-GT-v0"


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    d = tmp_path_factory.mktemp("objects")
    common = dict(env_id=MANIP, resolution=(64, 64), max_steps=6, progress=False, policy="noisy-expert")
    generate(GenerateConfig(episodes=2, out=str(d / "seg.zarr"), maps=("seg",), **common))
    generate(GenerateConfig(episodes=1, out=str(d / "plain.zarr"), **common))
    return d


def test_masks_are_the_objects_of_the_observation_camera(stores):
    store = TrajectoryStore.open(stores / "seg.zarr")
    assert seg_key_of(store) == "maps/front/seg"
    labels = {int(k): v for k, v in store.attrs["segmentation_labels"].items()}
    ids = object_ids(store)
    assert sorted(labels[i] for i in ids) == sorted(
        v for v in labels.values() if v not in ("background", "table", "goal")
    )
    masks = object_masks(store)
    seg = store.read("maps/front/seg", 0, store.n_steps)
    assert masks.shape == seg.shape == (store.n_steps, 64, 64)
    assert np.array_equal(masks, np.isin(seg, ids))
    assert 0.005 < masks.mean() < 0.3  # the arm and the block: a small part of the frame
    # the block is red in the frame: its masked pixels are redder than the rest
    rgb = store.read("rgb", 0, 1)[0].astype(int)
    block = seg[0] == next(i for i, v in labels.items() if v.endswith("block"))
    assert (rgb[block, 0] - rgb[block, 1]).mean() > 60


def test_a_store_without_seg_is_a_clear_error(stores):
    with pytest.raises(ValueError, match=r"no 'maps/front/seg'.*--maps seg"):
        seg_key_of(TrajectoryStore.open(stores / "plain.zarr"))


def test_grow_and_cell_weights_on_known_geometry():
    m = np.zeros((1, 8, 8), bool)
    m[0, 3, 3] = True
    g = grow(m)
    assert g.sum() == 9 and g[0, 2:5, 2:5].all()
    w = cell_weights(m, 4, 5.0)
    assert w.shape == (1, 2, 2) and w.tolist() == [
        [[5.0, 5.0], [5.0, 5.0]]
    ]  # the grown pixel reaches 4 cells
    m[0, 3, 3], m[0, 0, 0] = False, True
    assert cell_weights(m, 4, 5.0).tolist() == [[[5.0, 1.0], [1.0, 1.0]]]
    pw = pixel_weights(torch.from_numpy(m[None, :, None]), 10.0)
    assert pw.shape == (1, 1, 1, 8, 8) and pw.sum() == 4 * 10 + 60


def test_tokenizer_trains_with_object_weights(stores, tmp_path):
    args = TokArgs(
        data=(str(stores / "seg.zarr"),),
        clip_frames=5,
        batch_size=2,
        steps=2,
        eval_every=2,
        frame_channels=8,
        channels=16,
        res_blocks=1,
        attention=False,
        threads=1,
        progress=False,
        object_weight=10.0,
        out=str(tmp_path / "tok"),
    )
    assert np.isfinite(train_tokenizer(args)["loss"])
    with pytest.raises(ValueError, match="--maps seg"):
        train_tokenizer(
            TokArgs(**{**args.__dict__, "data": (str(stores / "plain.zarr"),), "out": str(tmp_path / "b")})
        )


def test_world_model_trains_with_object_weights_and_they_change_the_loss(stores, tmp_path):
    tiny_world_model("diffusion").tokenizer.save_pretrained(tmp_path / "tok", dtype=None)
    args = WfmArgs(
        data=(str(stores / "seg.zarr"),),
        tokenizer=str(tmp_path / "tok"),
        dim=32,
        depth=1,
        heads=2,
        context_frames=2,
        batch_size=4,
        steps=2,
        eval_every=2,
        warmup=1,
        threads=1,
        progress=False,
        cache_dir=str(tmp_path / "cache"),
    )
    plain = train_wfm(WfmArgs(**{**args.__dict__, "out": str(tmp_path / "plain")}))
    weighted = train_wfm(
        WfmArgs(**{**args.__dict__, "out": str(tmp_path / "weighted"), "object_weight": 20.0})
    )
    assert np.isfinite(weighted["dynamics_loss"]) and weighted["dynamics_loss"] != plain["dynamics_loss"]
    with pytest.raises(
        ValueError,
        match=r"use a weight > 0 with --family diffusion or multiview \(1 = plain loss; ar.* no per-cell",
    ):
        train_wfm(
            WfmArgs(**{**args.__dict__, "family": "ar", "object_weight": 5.0, "out": str(tmp_path / "ar")})
        )
