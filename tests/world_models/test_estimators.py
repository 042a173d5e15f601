"""The nano depth and segmentation estimators (world_models/estimators.py) and their trainer
(cosmos_sim/train/estimators.py): configs, shapes, checkpoints, label mapping, the scores against known
values, and a tiny training run that learns a synthetic scene and resumes exactly."""

import numpy as np
import pytest
import torch

from cosmos_sim.data.store import TrajectoryStore
from cosmos_sim.errors import CheckpointError, ConfigError
from cosmos_sim.train import estimators as train_est
from cosmos_sim.world_models.estimators import (
    DepthEstimator,
    EstimatorConfig,
    SegEstimator,
    UNet,
    depth_errors,
    seg_miou,
)

SMALL = (8, 16)


def _frames(n=3, h=64, w=64, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8)


def test_config_is_checked_with_the_fix_in_the_message():
    with pytest.raises(ConfigError, match="task 'normals' unknown"):
        EstimatorConfig("normals")
    with pytest.raises(ConfigError, match="labels starting with 'background'"):
        EstimatorConfig("seg", ("table", "block"))
    with pytest.raises(ConfigError, match="a depth estimator has no labels"):
        EstimatorConfig("depth", ("background", "a"))
    with pytest.raises(ConfigError, match="size 60 is not divisible by 2\\*\\*3"):
        EstimatorConfig("depth", size=60, channels=(8, 8, 8, 8))
    with pytest.raises(ConfigError, match="0 < min_depth < max_depth"):
        EstimatorConfig("depth", min_depth=2.0, max_depth=1.0)
    with pytest.raises(ConfigError, match="needs task='seg'"):
        SegEstimator(EstimatorConfig("depth", channels=SMALL))


def test_predict_shapes_sizes_and_range():
    torch.manual_seed(0)
    d = DepthEstimator(EstimatorConfig("depth", channels=SMALL, max_depth=10.0)).eval()
    s = SegEstimator(EstimatorConfig("seg", ("background", "a", "b"), channels=SMALL)).eval()
    f = _frames()
    depth = d.predict(f)
    assert depth.shape == (3, 64, 64) and depth.dtype == np.float32
    assert depth.min() >= 0.05 - 1e-6 and depth.max() <= 10.0 + 1e-4  # squashed into [min, max]
    assert d.predict(f[0]).shape == (64, 64)
    ids = s.predict(f)
    assert ids.shape == (3, 64, 64) and ids.dtype == np.int32 and set(np.unique(ids)) <= {0, 1, 2}
    assert s.predict(_frames(2, 48, 80)).shape == (2, 48, 80)  # resized to 64 and back
    assert np.allclose(d.predict(f, batch=1), depth, atol=1e-5)  # batching changes nothing (float sums)
    with pytest.raises(ConfigError, match="must be uint8 RGB"):
        d.predict(f.astype(np.float32))
    with pytest.raises(ConfigError, match=r"must be \(T, H, W, 3\)"):
        d.predict(f[..., :2])


def test_seg_ids_map_onto_an_envs_labels_by_name():
    s = SegEstimator(EstimatorConfig("seg", ("background", "robot", "table", "ball"), channels=SMALL))
    env_labels = {0: "background", 1: "table", 5: "robot"}  # no ball; other ids
    assert s.class_to_env_ids(env_labels).tolist() == [0, 5, 1, 0]
    own = s.predict(_frames(2))
    assert np.array_equal(s.predict(_frames(2), env_labels), s.class_to_env_ids(env_labels)[own])


def test_save_and_load_round_trip(tmp_path):
    torch.manual_seed(1)
    s = SegEstimator(EstimatorConfig("seg", ("background", "a"), channels=SMALL)).eval()
    s.save_pretrained(tmp_path / "seg", dtype=None)
    back = SegEstimator.from_pretrained(tmp_path / "seg", device="cpu")
    assert back.labels == ("background", "a") and back.config == s.config
    x = torch.from_numpy(_frames(2)).permute(0, 3, 1, 2)
    with torch.no_grad():
        assert torch.equal(back(x), s(x))
    with pytest.raises(CheckpointError, match="is a 'seg-estimator' checkpoint, not a 'depth-estimator'"):
        DepthEstimator.from_pretrained(tmp_path / "seg", device="cpu")


def test_depth_errors_against_known_values():
    gt = np.full((2, 4, 4), 2.0, np.float32)
    gt[1] = 4.0
    gt[0, 0, 0] = 300.0  # the sky: not scored
    e = depth_errors(gt * 1.1, gt)
    assert e["abs_rel"] == pytest.approx(0.1, rel=1e-5) and e["si_rmse"] == pytest.approx(0.0, abs=1e-6)
    assert e["delta_1_25"] == 1.0
    e = depth_errors(gt * 1.3, gt)
    assert e["abs_rel"] == pytest.approx(0.3, rel=1e-5) and e["delta_1_25"] == 0.0
    half = gt.copy()
    half[:, :, :2] *= np.e  # half the pixels off by a factor e in log space: std of log error 0.5
    assert depth_errors(half, gt)["si_rmse"] == pytest.approx(0.5, abs=0.02)
    with pytest.raises(ConfigError, match="no GT depth below"):
        depth_errors(gt, np.full_like(gt, 300.0))


def test_seg_miou_against_known_values():
    gt = np.zeros((4, 4), np.int32)
    gt[:, 2:] = 1
    assert seg_miou(gt, gt) == 1.0
    pred = np.zeros_like(gt)
    pred[:, 3:] = 1  # class 1: 4 of 8 pixels; class 0: 8 of 12
    assert seg_miou(pred, gt) == pytest.approx((8 / 12 + 4 / 8) / 2)
    assert seg_miou(pred, gt, ids=[1]) == pytest.approx(0.5)


# ---- the trainer ------------------------------------------------------------------------------------
def _synthetic_store(path, episodes=3, rows=16, seed=0):
    """A scene with known answers: left of a random vertical edge class a (red, 1 m), right class b (blue, 3 m),
    under a 'sky' band (background, far) at the top."""
    rng = np.random.default_rng(seed)
    store = TrajectoryStore.create(
        path, {"segmentation_labels": {"0": "background", "1": "a", "2": "b"}, "cameras": {"main": {}}}
    )
    for e in range(episodes):
        rgb = np.zeros((rows, 64, 64, 3), np.uint8)
        depth = np.full((rows, 64, 64), 300.0, np.float32)
        seg = np.zeros((rows, 64, 64), np.int32)
        rgb[:, :8] = (120, 160, 220)
        for t in range(rows):
            x0 = int(rng.integers(12, 52))
            rgb[t, 8:, :x0] = (200, 40, 40)
            rgb[t, 8:, x0:] = (40, 40, 200)
            depth[t, 8:, :x0], depth[t, 8:, x0:] = 1.0, 3.0
            seg[t, 8:, :x0], seg[t, 8:, x0:] = 1, 2
        store.add_episode(
            {"rgb": rgb, "maps/main/depth": depth, "maps/main/seg": seg, "action": np.zeros((rows, 1))},
            seed=e,
        )
    store.close()
    return str(path)


def test_split_gives_the_joint_nets_two_heads():
    torch.manual_seed(0)
    cfg = EstimatorConfig("seg", ("background", "a", "b"), channels=SMALL)
    net = UNet(SMALL, 4).eval()
    depth, seg = train_est.split(net, cfg, cfg.labels)
    x = torch.from_numpy(_frames(2)).permute(0, 3, 1, 2)
    with torch.no_grad():
        y = net((x.float() - 127.5) / 64.0)
        assert torch.allclose(depth(x), y[:, :1], atol=1e-6) and torch.allclose(seg(x), y[:, 1:], atol=1e-6)


def test_training_learns_a_known_scene_and_resumes_exactly(tmp_path):
    train_data = _synthetic_store(tmp_path / "train.zarr")
    val = _synthetic_store(tmp_path / "val.zarr", episodes=1, seed=100_000)
    common = dict(
        data=(train_data,),
        val_data=(val,),
        channels=SMALL,
        batch_size=8,
        lr=5e-3,
        warmup=5,
        eval_every=40,
        eval_frames=16,
        progress=False,
        device="cpu",
    )
    figs = train_est.train(train_est.Args(out=str(tmp_path / "run"), steps=80, **common))
    v = figs["val"]["val"]
    assert v["miou"] > 0.9 and v["delta_1_25"] > 0.9, v
    depth = DepthEstimator.from_pretrained(tmp_path / "run" / "best" / "depth", device="cpu")
    seg = SegEstimator.from_pretrained(tmp_path / "run" / "best" / "seg", device="cpu")
    assert seg.labels == ("background", "a", "b")
    store = TrajectoryStore.open(val)
    frame = store.episode(0, ["rgb", "maps/main/depth"])
    d = depth.predict(frame["rgb"][:4])
    assert np.median(d[:, 40, 2]) == pytest.approx(1.0, rel=0.15)  # the red side at 1 m
    assert np.median(d[:, 40, 61]) == pytest.approx(3.0, rel=0.15)  # the blue side at 3 m
    assert np.all(d[:, 2, 30] > 8.0)  # the sky is far

    # an interrupted run (its time limit stops it after one step; then resumed) ends with the weights of an
    # uninterrupted one
    short = dict(common, eval_every=10, val_data=(), steps=20)
    train_est.train(train_est.Args(out=str(tmp_path / "a"), **short))
    assert train_est.train(train_est.Args(out=str(tmp_path / "b"), time_limit_min=1e-9, **short))["step"] == 1
    train_est.train(train_est.Args(out=str(tmp_path / "b"), **short))
    a = torch.load(tmp_path / "a" / "last" / "train_state.pt", weights_only=False)["model"]
    b = torch.load(tmp_path / "b" / "last" / "train_state.pt", weights_only=False)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_trainer_refuses_bad_input(tmp_path):
    with pytest.raises(ConfigError, match="no training stores"):
        train_est.Args(data=())
    with pytest.raises(ConfigError, match="--steps must be >= 1"):
        train_est.Args(data=("x",), steps=0)
    store = TrajectoryStore.create(tmp_path / "rgb_only.zarr", {"segmentation_labels": {"0": "background"}})
    store.add_episode({"rgb": _frames(2)}, seed=0)
    store.close()
    with pytest.raises(ConfigError, match="record it with `cosmos-sim generate --maps depth,seg`"):
        train_est.load_frames((str(tmp_path / "rgb_only.zarr"),), ("background",))
