"""The domain-shift measure (cosmos_sim/eval/domain_shift.py, bench domain-shift): mixing a default store with a
re-rendering of its second half, the recovered fraction, the appearance evaluation and the bench's options."""

import json

import numpy as np
import pytest

from cosmos_sim.bench import benchmark_module
from cosmos_sim.data.store import TrajectoryStore
from cosmos_sim.errors import StoreError
from cosmos_sim.eval.domain_shift import half_seeds, mix_stores, recovered_fraction, success_by_domain


def _store(path, seeds, value, extra_key=False):
    """Episodes of 3 rows whose pixels all equal ``value`` and whose actions equal the seed."""
    store = TrajectoryStore.create(path, {"env_id": "cosmos_sim/Manipulation-GT-v0"})
    for s in seeds:
        ep = {"rgb": np.full((3, 8, 8, 3), value, np.uint8), "action": np.full((3, 7), s, np.float32)}
        if extra_key:
            ep["reward"] = np.zeros(3)
        store.add_episode(ep, seed=s)
    store.close()
    return str(path)


def test_mix_takes_the_first_half_default_and_the_others_second_half(tmp_path):
    default = _store(tmp_path / "d.zarr", range(6), 0, extra_key=True)
    other = _store(tmp_path / "o.zarr", [0, 4, 5, 9], 200)  # a partial re-rendering: 0 and 9 are not used
    counts = mix_stores(default, other, tmp_path / "m.zarr")
    assert counts == {"default_episodes": 3, "other_episodes": 2}
    m = TrajectoryStore.open(tmp_path / "m.zarr")
    assert m.episode_seeds.tolist() == [0, 1, 2, 4, 5] and sorted(m.keys()) == ["action", "rgb"]
    firsts = [int(m.episode(i, ["rgb"])["rgb"][0, 0, 0, 0]) for i in range(m.n_episodes)]
    assert firsts == [0, 0, 0, 200, 200]  # default pixels, then the other look's
    assert m.episode(3, ["action"])["action"][0, 0] == 4.0  # the same episode's actions
    assert m.attrs["env_id"] == "cosmos_sim/Manipulation-GT-v0"
    assert half_seeds(TrajectoryStore.open(default)) == ({0, 1, 2}, {3, 4, 5})


def test_mix_keeps_the_keys_asked_for_and_what_reads_them(tmp_path):
    # the perceived arms train an estimator on the mixed store: frames under the default's key, the true state
    # and the attrs that name them
    attrs = {"env_id": "x", "state_layout": ["ee_x"], "image_keys": ["pixels"], "policy": "expert"}
    for name, value in (("d", 0), ("o", 9)):
        s = TrajectoryStore.create(tmp_path / f"{name}.zarr", attrs)
        for seed in range(2):
            s.add_episode(
                {"pixels": np.full((3, 8, 8, 3), value, np.uint8), "state": np.full((3, 1), seed, np.float32),
                 "action": np.zeros((3, 7), np.float32), "reward": np.zeros(3)}, seed=seed)  # fmt: skip
        s.close()
    d, o, m = (str(tmp_path / f"{n}.zarr") for n in "dom")
    mix_stores(d, o, m)
    assert sorted(TrajectoryStore.open(m).keys()) == ["action", "pixels"]  # by default what BC reads
    mix_stores(d, o, m, ("pixels", "action", "state"))
    mixed = TrajectoryStore.open(m)
    assert sorted(mixed.keys()) == ["action", "pixels", "state"] and mixed.frame_key() == "pixels"
    assert mixed.attrs["state_layout"] == ["ee_x"] and "policy" not in mixed.attrs
    assert mixed.read("state", 0, 6)[:, 0].tolist() == [0, 0, 0, 1, 1, 1]
    assert mixed.read("pixels", 3, 4)[0, 0, 0, 0] == 9  # the second half from the other store
    with pytest.raises(StoreError, match=r"lacks \['depth'\]"):
        mix_stores(d, o, m, ("pixels", "depth"))


def test_the_perceived_arms_refuse_a_store_without_a_true_state(tmp_path):
    from cosmos_sim.bench.domain_shift import Config, run
    from cosmos_sim.errors import ConfigError

    d = _store(tmp_path / "d.zarr", range(2), 0)
    cfg = Config(default_data=d, randomized_data=d)
    with pytest.raises(ConfigError, match=r"--default-data .*d.zarr records no true state.*--perception ''"):
        run(cfg, str(tmp_path / "out"), quick=True)


def test_mix_refuses_a_store_of_other_episodes(tmp_path):
    default = _store(tmp_path / "d.zarr", range(4), 0)
    other = _store(tmp_path / "o.zarr", [100, 101], 200)
    with pytest.raises(StoreError, match=r"no episode with a seed of .* second half \(2\.\.3\)"):
        mix_stores(default, other, tmp_path / "m.zarr")


def test_recovered_fraction():
    assert recovered_fraction(0.8, 0.2, 0.62) == pytest.approx(0.7)
    assert recovered_fraction(0.8, 0.2, 0.2) == 0.0
    assert recovered_fraction(0.5, 0.5, 0.9) is None  # nothing lost: nothing to recover


def test_success_by_domain_gives_a_rate_per_look_and_passes_the_look_to_the_env():
    from gymnasium import spaces

    from cosmos_sim.policies.networks import make_network

    env = "cosmos_sim/Manipulation-Reach-GT-v0"
    net = make_network(
        spaces.Box(0, 255, (64, 64, 3), np.uint8),
        spaces.Box(-1, 1, (7,), np.float32),
        channels=(4,),
        hidden=8,
    )
    out = success_by_domain(net, env, ("default", "gravel"), episodes=2, first_seed=100_000)
    assert set(out) == {"default", "gravel"} and all(0.0 <= v <= 1.0 for v in out.values())
    with pytest.raises(ValueError, match="appearance 'mars' unknown"):
        success_by_domain(net, env, ("mars",), episodes=1, first_seed=100_000)


def test_bench_options_are_checked():
    cfg = benchmark_module("domain-shift").Config
    with pytest.raises(ValueError, match=r"domains = \('mars',\), expected one or more of"):
        cfg(domains=("mars",))
    with pytest.raises(ValueError, match=r"first_seed = 5, expected a seed >= 100000; pass --first-seed"):
        cfg(first_seed=5)
    with pytest.raises(ValueError, match=r"bc_seeds = 0, expected a value >= 1; pass --bc-seeds"):
        cfg(bc_seeds=0)
    with pytest.raises(
        ValueError, match=r"seen_domains = \('x',\), expected zero or more of .*; pass --seen-domains"
    ):
        cfg(seen_domains=("x",))


def test_a_kept_policy_is_reused_only_for_the_same_stores_epochs_and_seed(tmp_path):
    from cosmos_sim.bench.domain_shift import Config, train_arm

    store = TrajectoryStore.create(tmp_path / "d.zarr", {"env_id": "cosmos_sim/Manipulation-GT-v0"})
    rng = np.random.default_rng(0)
    for s in range(2):
        store.add_episode(
            {
                "rgb": rng.integers(0, 256, (3, 64, 64, 3), dtype=np.uint8),
                "action": np.zeros((3, 7), np.float32),
            },
            seed=s,
        )
    store.close()
    cfg = Config(bc_epochs=1)
    out = tmp_path / "policy"
    train_arm(str(tmp_path / "d.zarr"), out, cfg, 0, {"default": "d", "other": ""})
    weights = out / "model.safetensors"
    first = weights.stat().st_mtime_ns
    train_arm(str(tmp_path / "d.zarr"), out, cfg, 0, {"default": "d", "other": ""})
    assert weights.stat().st_mtime_ns == first  # reused
    train_arm(str(tmp_path / "d.zarr"), out, cfg, 0, {"default": "d", "other": "augmented.zarr"})
    assert weights.stat().st_mtime_ns != first  # other data: trained again


def test_a_kept_estimator_is_reused_only_for_the_same_stores_and_steps(tmp_path):
    from cosmos_sim.bench.domain_shift import PUSH_STATE, Config, fine_tune_estimator
    from cosmos_sim.data.generate import GenerateConfig, generate
    from cosmos_sim.world_models.state_estimator import StateEstimator

    data = str(tmp_path / "d.zarr")
    generate(GenerateConfig("cosmos_sim/Manipulation-GT-v0", 1, data, policy="expert", max_steps=3,
                            env_kwargs={"obs_mode": "pixels+state"}, progress=False))  # fmt: skip
    cfg, out = Config(perception_steps=2), tmp_path / "est"
    sources = {"default": data, "other": ""}
    path = fine_tune_estimator(data, out, cfg, sources)
    assert StateEstimator.from_pretrained(path, "cpu").names == PUSH_STATE
    weights = out / "best" / "model.safetensors"
    first = weights.stat().st_mtime_ns
    assert fine_tune_estimator(data, out, cfg, sources) == path and weights.stat().st_mtime_ns == first
    fine_tune_estimator(data, out, cfg, {"default": data, "other": "augmented.zarr"})
    assert weights.stat().st_mtime_ns != first  # other data: fine-tuned again, from the start
    assert json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])["step"] == 2
