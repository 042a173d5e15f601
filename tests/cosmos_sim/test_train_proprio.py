"""train-proprio: samples from stores, a model that tracks the hand open loop, errors."""

import numpy as np
import pytest

from cosmos_sim.data.generate import GenerateConfig, generate
from cosmos_sim.data.store import TrajectoryStore
from cosmos_sim.errors import ConfigError
from cosmos_sim.train.proprio import Args, load_episodes, open_loop_error, rollout, samples, train
from cosmos_sim.world_models.proprio import ProprioModel

EE = ("ee_x", "ee_y", "ee_z")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("proprio") / "s.zarr"
    generate(
        GenerateConfig(
            env_id="cosmos_sim/Manipulation-Reach-GT-v0",
            episodes=6,
            out=str(path),
            policy="random",
            max_steps=12,
            env_kwargs={"obs_mode": "pixels+state"},
            progress=False,
        )
    )
    return str(path)


def test_samples_pair_each_state_with_its_action_and_next_state(store):
    episodes = load_episodes((store,), EE)
    s = TrajectoryStore.open(store)
    layout = s.attrs["state_layout"]
    first = s.episode(0, keys=["state", "action"])
    states, actions = episodes[0]
    np.testing.assert_array_equal(states, first["state"][:, [layout.index(n) for n in EE]])
    np.testing.assert_array_equal(actions, first["action"][:-1])  # the last row's action is padding
    d = samples(episodes)
    assert len(d["p"]) == s.n_steps - s.n_episodes
    np.testing.assert_array_equal(d["p"][0], d["p_prev"][0])  # no change before the first step
    np.testing.assert_array_equal(d["prev_action"][0], 0)
    np.testing.assert_array_equal(d["p"][1] - d["p_prev"][1], states[1] - states[0])
    np.testing.assert_array_equal(d["p"][0] + d["delta"][0], states[1])


def test_the_model_follows_the_hand_open_loop_far_better_than_holding_still(store, tmp_path):
    metrics = train(Args(data=(store,), names=EE, out=str(tmp_path / "run"), steps=600, hidden=32))
    assert metrics["samples"] == 72 and metrics["scored_on"] == "data"
    assert metrics["hold_cm"] > 3.0  # random actions move the hand several cm in 12 steps
    assert metrics["open_loop_cm"] < metrics["hold_cm"] / 3
    model = ProprioModel.from_pretrained(tmp_path / "run" / "best", device="cpu")
    states, actions = load_episodes((store,), EE)[0]
    pred = rollout(model, states, actions, 5)
    assert pred.shape == (6, 3)
    np.testing.assert_array_equal(pred[0], states[0])
    again = open_loop_error(model, load_episodes((store,), EE), 16)
    assert again["open_loop_cm"] == pytest.approx(metrics["open_loop_cm"], rel=1e-5)


def test_errors_name_the_fix(store, tmp_path):
    with pytest.raises(ConfigError, match="no training stores"):
        Args()
    with pytest.raises(ConfigError, match="--steps must be >= 1"):
        Args(data=(store,), steps=0)
    with pytest.raises(ConfigError, match=r"state entries \['nope'\] are not in its state_layout"):
        train(Args(data=(store,), names=("nope",), out=str(tmp_path / "a"), steps=1))
    train(Args(data=(store,), names=EE[:2], out=str(tmp_path / "b"), steps=1))
    with pytest.raises(ConfigError, match=r"predicts \('ee_x', 'ee_y'\), not --names"):
        train(
            Args(
                data=(store,),
                names=EE,
                out=str(tmp_path / "c"),
                steps=1,
                init_from=str(tmp_path / "b" / "best"),
            )
        )
