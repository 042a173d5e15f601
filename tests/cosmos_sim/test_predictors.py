"""Predictors of the physics benchmark: copy-last, optical-flow extrapolation, physical variance, world models."""

import dataclasses

import numpy as np
import pytest
import torch

from cosmos_sim.bench.physics import gt_episode
from cosmos_sim.eval import physics_metrics as pm
from cosmos_sim.eval.predictors import (
    CopyLast,
    Episode,
    FlowExtrapolation,
    OneStep,
    PhysicalVariance,
    Predictor,
    WorldModelPredictor,
    make_predictor,
    predictor_identity,
)
from cosmos_sim.world_models.checkpoint import CheckpointError
from cosmos_sim.world_models.wfm import WorldModel, tiny_world_model

BOUNCE = "cosmos_sim/Physics-Bounce-GT-v0"


def noop_model(frame_size=(64, 64), context_frames=2) -> WorldModel:
    """The tiny test world model with the physics scenes' 1-D no-op action."""
    wm = tiny_world_model("diffusion", context_frames=context_frames, frame_size=frame_size)
    c = wm.config
    cfg = dataclasses.replace(
        c,
        dynamics={**c.dynamics, "action_dim": 1},
        head={**c.head, "action_dim": 1},
        action_layout=("noop",),
        env_id=BOUNCE,
    )
    return WorldModel(cfg, wm.tokenizer).eval()


def square_frame(x: int, y: int) -> np.ndarray:
    f = np.full((64, 64, 3), (200, 210, 220), np.uint8)
    f[y : y + 10, x : x + 10] = (220, 40, 40)
    return f


@pytest.fixture(scope="module")
def gt():
    return gt_episode("Bounce", 100000, 16)


def test_every_predictor_follows_the_protocol():
    for p in (CopyLast(), FlowExtrapolation(), PhysicalVariance(), WorldModelPredictor(noop_model())):
        assert isinstance(p, Predictor) and p.name


def test_copy_last_holds_the_last_gt_context_frame(gt):
    pred = CopyLast().predict(Episode(gt.frames[:9]), 5)
    assert pred.shape == (5, 64, 64, 3) and pred.dtype == np.uint8
    assert all(np.array_equal(f, gt.frames[8]) for f in pred)
    with pytest.raises(ValueError, match="horizon must be >= 1"):
        CopyLast().predict(Episode(gt.frames[:9]), 0)
    with pytest.raises(ValueError, match=r"context must be \(C, H, W, 3\) uint8"):
        Episode(gt.frames[0])


def test_flow_extrapolates_a_translating_square_at_constant_velocity():
    ctx = np.stack([square_frame(10, 20), square_frame(13, 22)])  # 3 px right, 2 px down per frame
    pred = FlowExtrapolation().predict(Episode(ctx), 4)
    for t in range(4):
        x, y = 13 + 3 * (t + 1), 22 + 2 * (t + 1)
        mask = pred[t, ..., 1] < 100
        truth = square_frame(x, y)[..., 1] < 100
        assert pm.mask_iou(mask, truth) > 0.95, t
        assert np.allclose(pm.centroid(mask), [x + 4.5, y + 4.5], atol=0.5)
        assert not mask[22:32, 13:16].any()  # where the square was is background again (in-painted)
    one = FlowExtrapolation().predict(Episode(ctx[-1:]), 3)  # one frame: no flow -> copy-last
    assert np.array_equal(one, CopyLast().predict(Episode(ctx[-1:]), 3))


def test_physical_variance_re_simulates_the_seed_with_perturbed_physics(gt):
    ep = Episode(gt.frames[:9], env_id=BOUNCE, seed=100000)
    unperturbed = PhysicalVariance(perturb=0.0).predict(ep, 7)
    assert np.array_equal(unperturbed, gt.frames[9:16])  # same seed, same physics: the GT frames
    a, b = PhysicalVariance().predict(ep, 7), PhysicalVariance().predict(ep, 7)
    assert a.shape == (7, 64, 64, 3) and np.array_equal(a, b)  # reproducible
    assert not np.array_equal(a, gt.frames[9:16])  # 5 % other restitution/friction/mass: another take
    assert (
        pm.mse_per_frame(a, gt.frames[9:16]).mean()
        < pm.mse_per_frame(CopyLast().predict(ep, 7), gt.frames[9:16]).mean()
    )
    with pytest.raises(ValueError, match="env_id"):
        PhysicalVariance().predict(Episode(gt.frames[:9]), 3)


def test_world_model_pads_or_trims_the_context_and_seeds_its_noise(gt):
    p = WorldModelPredictor(noop_model(context_frames=2), name="tiny")
    f = gt.frames
    a = p.predict(Episode(f[:1]), 3, seed=5)
    assert a.shape == (3, 64, 64, 3) and a.dtype == np.uint8
    assert np.array_equal(
        a, p.predict(Episode(f[[0, 0]]), 3, seed=5)
    )  # 1 frame: first frame repeated in front
    assert np.array_equal(
        p.predict(Episode(f[:9]), 3, seed=5), p.predict(Episode(f[7:9]), 3, seed=5)
    )  # last K
    assert not np.array_equal(a, p.predict(Episode(f[:1]), 3, seed=6))  # other sampler noise
    small = WorldModelPredictor(noop_model(frame_size=(32, 32)), name="tiny32")
    with pytest.raises(
        ValueError, match=r"'tiny32' works on 32x32 \(HxW\) frames but the scenario renders 64x64"
    ):
        small.predict(Episode(f[:9]), 3)


def test_one_step_predicts_each_frame_from_the_true_frames_before_it(gt, monkeypatch):
    inner = WorldModelPredictor(noop_model(context_frames=2), name="tiny")
    one = OneStep(inner)
    assert isinstance(one, Predictor) and one.name == "tiny one-step"
    ep = Episode(gt.frames[:9], env_id=BOUNCE, seed=100000)
    pred = one.predict(ep, 4, seed=3)
    assert pred.shape == (4, 64, 64, 3) and pred.dtype == np.uint8
    # step 0 is the open loop's first frame: same context, same first noise draw
    first = inner.predict(ep, 1, seed=3)[0]
    assert np.abs(pred[0].astype(int) - first).max() <= 1
    # without sampler noise, step t is the open loop's first frame from the TRUE frames up to 8 + t
    real_noise = inner.model.noise
    monkeypatch.setattr(inner.model, "noise", lambda gens: torch.zeros_like(real_noise(gens)))
    pred = one.predict(ep, 4, seed=3)
    for t in range(4):
        truth_ctx = inner.predict(Episode(gt.frames[: 9 + t]), 1, seed=0)[0]
        assert np.abs(pred[t].astype(int) - truth_ctx).max() <= 1, t
    with pytest.raises(ValueError, match="env_id"):  # it re-simulates the truth
        one.predict(Episode(gt.frames[:9]), 2)


def test_make_predictor_builds_baselines_and_models_and_refuses_bad_ones(tmp_path):
    assert isinstance(make_predictor("copy-last"), CopyLast)
    assert isinstance(make_predictor("flow"), FlowExtrapolation)
    assert isinstance(make_predictor("physical-variance"), PhysicalVariance)
    noop_model().save_pretrained(tmp_path / "tiny", dtype=None)
    p = make_predictor(str(tmp_path / "tiny"), device="cpu")
    assert (
        isinstance(p, WorldModelPredictor) and p.name == "tiny" and p.model.config.action_layout == ("noop",)
    )
    assert p.model.device == torch.device("cpu")
    one = make_predictor(f"one-step:{tmp_path / 'tiny'}", device="cpu")
    assert isinstance(one, OneStep) and one.name == "tiny one-step"
    with pytest.raises(
        ValueError, match="'one-step:flow': one-step predictions need a cosmos-sim world model"
    ):
        make_predictor("one-step:flow")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="config.json"):
        make_predictor(str(tmp_path / "empty"))
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "config.json").write_text((tmp_path / "tiny" / "config.json").read_text())
    (corrupt / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="model.safetensors"):
        make_predictor(str(corrupt))
    with pytest.raises(
        ValueError, match=r"unknown predictor 'copylast': not one of the baselines \['copy-last'"
    ):
        make_predictor("copylast")


def test_a_models_identity_changes_with_its_weights_or_its_config(tmp_path):
    wm = noop_model()
    wm.save_pretrained(tmp_path / "a", dtype=None)
    first = predictor_identity(str(tmp_path / "a"))
    wm.config = dataclasses.replace(wm.config, change_gain=0.1)  # same weights, other predictions
    wm.save_pretrained(tmp_path / "a", dtype=None)
    second = predictor_identity(str(tmp_path / "a"))
    assert first["sha"] == second["sha"] and first["config"] != second["config"]
    assert predictor_identity("copy-last") == {"predictor": "copy-last"}
