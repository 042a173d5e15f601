"""Transfer from files and the command line: spec JSON, controls from inputs, stores re-rendered, videos guarded,
and the trainer on paired stores."""

import json

import numpy as np
import pytest
import torch

import cosmos_sim.data.transfer as dt
from cosmos_sim.cli import main
from cosmos_sim.data.generate import GenerateConfig, generate
from cosmos_sim.data.store import TrajectoryStore
from cosmos_sim.envs.control_maps import blurred, canny_edges
from cosmos_sim.errors import ConfigError, StoreError
from cosmos_sim.world_models.tokenizer import Tokenizer, TokenizerConfig
from cosmos_sim.world_models.transfer import Transfer, TransferConfig

GT_ID = "cosmos_sim/Manipulation-GT-v0"


@pytest.fixture(scope="module")
def paired(tmp_path_factory):
    """Two tiny stores of the same seeds in two looks (default with every map) and a tiny Transfer bundle."""
    root = tmp_path_factory.mktemp("transfer")
    for look, maps in (("default", ("depth", "seg", "edges", "blur")), ("grass", ("edges", "blur"))):
        generate(GenerateConfig(GT_ID, 2, str(root / f"train_{look}.zarr"), policy="expert", max_steps=3,
                                maps=maps, env_kwargs={"appearance": look}, progress=False))  # fmt: skip
    torch.manual_seed(0)
    tok = Tokenizer(TokenizerConfig(frame_channels=8, channels=16, norm_groups=4, res_blocks=1))
    model = Transfer(
        TransferConfig(dim=32, depth=2, heads=2, control_blocks=1, domains=("default", "grass")), tok
    )
    model.save_pretrained(root / "model")
    return root


def test_spec_paths_resolve_against_the_spec_and_bad_specs_say_why(tmp_path):
    (tmp_path / "s.json").write_text(
        json.dumps({"edge": {"control_weight": 0.5, "input_control": "e.npy"}, "vis": 1})
    )
    spec = dt.load_spec(tmp_path / "s.json")
    assert spec["edge"] == {"control_weight": 0.5, "input_control": tmp_path / "e.npy", "mask": None}
    assert spec["vis"]["control_weight"] == 1.0
    with pytest.raises(ConfigError, match="spec control 'keypoint' unknown"):
        dt.load_spec({"keypoint": {}})
    with pytest.raises(ConfigError, match="keys among"):
        dt.load_spec({"edge": {"weight": 1}})
    with pytest.raises(ConfigError, match="control_weight must be a number"):
        dt.load_spec({"edge": {"control_weight": "high"}})
    with pytest.raises(ConfigError, match="not found"):
        dt.load_spec(tmp_path / "missing.json")


def test_controls_come_from_files_maps_rgb_or_a_clear_error(tmp_path, monkeypatch):
    rgb = np.random.default_rng(0).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    np.save(tmp_path / "d.npy", np.full((2, 64, 64), 1.5, np.float32))
    spec = dt.load_spec(
        {"depth": {"input_control": str(tmp_path / "d.npy")}, "edge": {}, "vis": {"control_weight": 0.3}}
    )
    controls, model_spec = dt.gather_controls(spec, rgb)
    assert (controls["depth"] == 1.5).all()
    assert np.array_equal(controls["edge"][1], canny_edges(rgb[1]))
    assert np.array_equal(controls["vis"][0], blurred(rgb[0]))
    assert model_spec["vis"] == {"control_weight": 0.3}
    recorded = {"edges": np.zeros((2, 64, 64), np.uint8)}
    assert (
        dt.gather_controls(dt.load_spec({"edge": {}}), rgb, recorded)[0]["edge"] == 0
    ).all()  # a store's map wins
    monkeypatch.setattr(dt, "SEG_MODEL", "no-such-estimator")
    with pytest.raises(ConfigError, match='seg control is not in the input.*give "input_control" for seg'):
        dt.gather_controls(dt.load_spec({"seg": {}}), rgb)


def test_a_store_is_re_rendered_with_its_actions_rewards_and_maps(paired, tmp_path):
    spec = dt.load_spec({"edge": {}, "seg": {"control_weight": 0.5}})
    s = dt.transfer_store(str(paired / "model"), spec, str(paired / "train_default.zarr"), str(tmp_path / "o.zarr"),
                          "random", seed=5, guardrail=False, progress=False)  # fmt: skip
    src, out = TrajectoryStore.open(paired / "train_default.zarr"), TrajectoryStore.open(tmp_path / "o.zarr")
    assert s["episodes"] == out.n_episodes == src.n_episodes and s["frames_per_s"] > 0
    assert np.array_equal(out.episode_seeds, src.episode_seeds)
    for key in ("action", "reward", "maps/front/seg", "maps/front/depth", "is_success"):
        assert np.array_equal(out.read(key, 0, out.n_steps), src.read(key, 0, src.n_steps)), key
    assert not np.array_equal(out.read("rgb", 0, out.n_steps), src.read("rgb", 0, src.n_steps))
    assert out.read("transfer_domain", 0, 1)[0] == 1  # "random": the model's one non-default look
    assert out.attrs["transfer"]["guardrail"] != "" and out.attrs["transfer"]["episodes"] == [0, 1]
    # refused before any work, with the fix a CLI user can apply (not the store API's overwrite=True)
    with pytest.raises(StoreError, match="o.zarr already exists; choose another --out") as err:
        dt.transfer_store(str(paired / "model"), spec, str(paired / "train_default.zarr"), str(tmp_path / "o.zarr"),
                          "grass", progress=False)  # fmt: skip
    assert "overwrite=True" not in str(err.value)


def test_a_pixels_and_state_store_is_re_rendered_under_its_own_frame_key(paired, tmp_path):
    # obs_mode="pixels+state" records the frames as "pixels" beside the true state (what a state estimator
    # trains on): the re-rendering keeps both, frames under the same key, so the output reads like the source
    src_path = str(tmp_path / "ps.zarr")
    generate(GenerateConfig(GT_ID, 1, src_path, policy="expert", max_steps=3, maps=("depth", "seg"),
                            env_kwargs={"obs_mode": "pixels+state"}, progress=False))  # fmt: skip
    spec = dt.load_spec({"edge": {}, "seg": {"control_weight": 0.5}})
    dt.transfer_store(str(paired / "model"), spec, src_path, str(tmp_path / "o.zarr"), "grass", guardrail=False,
                      progress=False)  # fmt: skip
    src, out = TrajectoryStore.open(src_path), TrajectoryStore.open(tmp_path / "o.zarr")
    assert src.frame_key() == out.frame_key() == "pixels" and "rgb" not in out.keys()
    assert np.array_equal(out.read("state", 0, out.n_steps), src.read("state", 0, src.n_steps))
    assert out.attrs["state_layout"] == src.attrs["state_layout"]
    assert not np.array_equal(out.read("pixels", 0, out.n_steps), src.read("pixels", 0, src.n_steps))


def test_cli_writes_a_guarded_video_and_refuses_bad_input(paired, tmp_path, capsys):
    (tmp_path / "spec.json").write_text(
        json.dumps({"edge": {"control_weight": 1.0}, "depth": {"control_weight": 1.0}})
    )
    args = [
        "transfer",
        "--spec",
        str(tmp_path / "spec.json"),
        "--model",
        str(paired / "model"),
        "--no-progress",
    ]
    assert main([*args, "--input", str(paired / "train_default.zarr"), "--episode", "1", "--out", str(tmp_path / "o.mp4"),
                 "--domain", "grass", "--seed", "2"]) == 0  # fmt: skip
    meta = json.loads((tmp_path / "o.mp4.json").read_text())
    assert meta["domain"] == "grass" and meta["seed"] == 2 and "guardrail" in json.dumps(meta)
    assert main([*args, "--input", str(tmp_path / "o.mp4"), "--out", str(tmp_path / "x.zarr")]) == 2
    assert "is not a trajectory store" in capsys.readouterr().err
    assert main([*args, "--input", str(paired / "train_default.zarr"), "--out", str(tmp_path / "o2.mp4"),
                 "--domain", "mars"]) == 2  # fmt: skip
    assert "domain 'mars' is not one this model renders" in capsys.readouterr().err


def test_trainer_learns_on_paired_stores_and_resumes(paired, tmp_path):
    from cosmos_sim.train.transfer import Args, train

    with pytest.raises(ConfigError, match="object_weight=0 must be > 0"):
        Args(object_weight=0)
    with pytest.raises(ConfigError, match=r"source_domains \('mars',\) must be among domains"):
        Args(source_domains=("mars",))
    tok = paired / "model" / "tokenizer"
    a = Args(data=str(paired), out=str(tmp_path / "run"), tokenizer=str(tok), domains=("default", "grass"),
             steps=4, batch_size=4, dim=32, depth=2, heads=2, control_blocks=1, save_every=2, warmup=1,
             object_weight=4.0)  # fmt: skip
    best = train(a)
    m = Transfer.from_pretrained(best, device="cpu")
    assert m.config.domains == ("default", "grass") and len(m.config.latent_mean) == 16
    assert set(m.config.control_stats) == {"depth", "seg", "edge", "vis"}
    log = (tmp_path / "run" / "log.txt").read_text()
    assert "step=4" in log
    train(Args(**{**a.__dict__, "steps": 6}))
    assert "resumed at step 4" in (tmp_path / "run" / "log.txt").read_text()
    with pytest.raises(StoreError, match="no store .*train_night.zarr"):
        train(Args(**{**a.__dict__, "domains": ("default", "night"), "out": str(tmp_path / "r2")}))
    # a fine-tune from a bundle: its weights and normalisation, the new weight inputs at zero
    init = Transfer.from_pretrained(best, device="cpu")
    tuned = train(Args(**{**a.__dict__, "out": str(tmp_path / "ft"), "init_from": str(best), "dim": 64,
                          "weight_inputs": True, "steps": 2}))  # fmt: skip
    ft = Transfer.from_pretrained(tuned, device="cpu")
    assert ft.config.weight_inputs and ft.config.dim == 32  # the bundle's sizes, not --dim
    assert ft.config.latent_mean == init.config.latent_mean
    start = init.net.patch_in.weight.float()  # two EMA steps from the bundle's weights, not a fresh draw
    assert (ft.net.patch_in.weight.float() - start).abs().max() < 0.01 < start.abs().max()
    with pytest.raises(
        ConfigError, match=r"renders domains \['default', 'grass'\].*give --domains default grass"
    ):
        train(
            Args(
                **{**a.__dict__, "out": str(tmp_path / "r3"), "init_from": str(best), "domains": ("default",)}
            )
        )
    other = paired / "other_tok"
    Tokenizer(TokenizerConfig(frame_channels=8, channels=16, norm_groups=4, res_blocks=1)).save_pretrained(
        other
    )
    with pytest.raises(ConfigError, match="over another tokenizer .* give --tokenizer"):
        train(
            Args(
                **{**a.__dict__, "out": str(tmp_path / "r4"), "init_from": str(best), "tokenizer": str(other)}
            )
        )
