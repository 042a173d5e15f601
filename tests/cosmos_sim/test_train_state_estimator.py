"""train-state-estimator: pairs from stores and from a world model's predictions, learning, resume, errors."""

import json

import numpy as np
import pytest

from cosmos_sim.data.generate import GenerateConfig, generate
from cosmos_sim.data.store import TrajectoryStore
from cosmos_sim.errors import ConfigError
from cosmos_sim.train.state_estimator import Args, estimator_loss, load_pairs, predicted_pairs, train
from cosmos_sim.world_models.state_estimator import StateEstimator

NAMES = ("ee_x", "ee_y", "ee_z", "goal_x", "goal_y")


def _store(path, env_id="cosmos_sim/Manipulation-Reach-GT-v0", obs_mode="pixels+state", seed=0, episodes=3):
    generate(
        GenerateConfig(
            env_id=env_id,
            episodes=episodes,
            out=str(path),
            policy="noisy-expert",
            seed=seed,
            max_steps=5,
            env_kwargs={"obs_mode": obs_mode},
            progress=False,
        )
    )
    return str(path)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return _store(tmp_path_factory.mktemp("state") / "s.zarr")


def test_pairs_are_the_frames_and_the_named_state_columns(store):
    frames, truth = load_pairs((store,), NAMES)
    s = TrajectoryStore.open(store)
    assert frames.shape == (s.n_steps, 64, 64, 3) and truth.shape == (s.n_steps, 5)
    layout = s.attrs["state_layout"]
    cols = [layout.index(n) for n in NAMES]
    np.testing.assert_array_equal(truth, s.read("state", 0, s.n_steps)[:, cols])


def test_training_fits_the_state_and_resumes(store, tmp_path):
    common = dict(
        data=(store,),
        val_data=(store,),
        names=NAMES,
        out=str(tmp_path / "run"),
        channels=(8, 16),
        batch_size=8,
        lr=3e-3,
        warmup=5,
        eval_every=100,
        blur=0.0,
        device="cpu",
        progress=False,
    )
    first = train(Args(**common, steps=100))
    second = train(Args(**common, steps=300))  # the same run, continued
    rows = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [100, 200, 300]
    assert second["val"]["normalised"] < 0.5 * first["val"]["normalised"]  # it learns (here: memorises)
    est = StateEstimator.from_pretrained(tmp_path / "run" / "best", device="cpu")
    assert est.names == NAMES and est.checkpoint_extra["step"] == 300
    assert {"ee_cm", "goal_cm", "mae_ee_x"} <= set(second["val"])


def test_world_model_pairs_are_its_open_loop_frames_with_the_true_state(tmp_path, tiny_wfm):
    s_path = _store(tmp_path / "push.zarr", env_id="cosmos_sim/Manipulation-GT-v0", episodes=2)
    frames, truth = predicted_pairs(tiny_wfm, (s_path,), NAMES, horizon=3)
    s = TrajectoryStore.open(s_path)
    layout = s.attrs["state_layout"]
    cols = [layout.index(n) for n in NAMES]
    expected = [s.episode(e, keys=["state"])["state"][1:4, cols] for e in range(s.n_episodes)]
    assert frames.shape == (6, 64, 64, 3)  # 2 episodes x 3 predicted steps
    got = truth.reshape(3, 2, 5).transpose(1, 0, 2)  # step-major rows -> per episode
    np.testing.assert_allclose(got, np.stack(expected), rtol=1e-6)


def test_stores_without_a_named_state_are_clear_errors(store, tmp_path):
    pixels_only = _store(tmp_path / "px.zarr", obs_mode="pixels", episodes=1)
    with pytest.raises(ConfigError, match=r"records no named true state .*obs_mode.*pixels\+state"):
        load_pairs((pixels_only,), NAMES)
    with pytest.raises(ConfigError, match=r"state entries \['nope'\] are not in its state_layout"):
        load_pairs((store,), ("ee_x", "nope"))
    with pytest.raises(ConfigError, match="no training stores"):
        Args()
    with pytest.raises(ConfigError, match=r"--wfm-names \['red_x'\] are not among --names"):
        Args(data=(store,), names=NAMES, wfm_names=("ee_x", "red_x"))


def test_predicted_frames_teach_only_the_wfm_names():
    torch = pytest.importorskip("torch")
    gen = torch.Generator().manual_seed(0)
    pred, target = torch.randn(4, 3, generator=gen), torch.randn(4, 3, generator=gen)
    is_real = torch.tensor([True, True, False, False])
    from_model = torch.tensor([1.0, 1.0, 0.0])  # entry 2 (say, the goal) only from real frames
    base = estimator_loss(pred, target, is_real, from_model)
    wild = target.clone()
    wild[2:, 2] += 100.0  # a predicted frame's goal label: ignored
    assert estimator_loss(pred, wild, is_real, from_model) == pytest.approx(base.item())
    wild = target.clone()
    wild[0, 2] += 100.0  # a real frame's goal label: learnt
    assert estimator_loss(pred, wild, is_real, from_model) > base + 1.0
    everything = torch.ones(3)  # default: every entry from every frame, the plain mean
    expected = torch.nn.functional.smooth_l1_loss(pred, target, beta=0.1)
    assert estimator_loss(pred, target, is_real, everything) == pytest.approx(expected.item())
