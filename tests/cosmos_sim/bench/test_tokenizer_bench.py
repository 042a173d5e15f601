import json

import torch

from cosmos_sim.bench import run_benchmark
from cosmos_sim.bench import tokenizer as bench
from cosmos_sim.world_models.tokenizer import Tokenizer, TokenizerConfig


def test_tokenizer_benchmark_on_a_tiny_model(tmp_path, monkeypatch):
    torch.manual_seed(0)
    ck = tmp_path / "dv-tiny"
    Tokenizer(
        TokenizerConfig(kind="DV", frame_channels=8, channels=16, norm_groups=4, res_blocks=1)
    ).save_pretrained(ck)
    monkeypatch.setattr(
        bench, "SCENES", {"physics_freefall": ("cosmos_sim/Physics-FreeFall-GT-v0", "random", 1)}
    )
    monkeypatch.setattr(bench, "CHECKPOINTS", ())
    monkeypatch.setattr(
        bench,
        "run",
        lambda config, out_dir, quick=False: bench.measure(
            out_dir, quick, checkpoints={"dv-tiny": ck}, data_dir=tmp_path
        ),
    )
    result = run_benchmark("tokenizer", str(tmp_path / "out"), quick=True)
    f = result.figures
    assert f["DV4x8x8_compression"] == 4 * 8 * 8 * 3 / 6 and f["DV1x8x8_compression"] == 32.0
    assert (
        abs(f["DV4x8x8_bits_per_frame"] - 64 * 15.97 / 4) < 0.2
        and abs(f["DV1x8x8_bits_per_frame"] - 1022.0) < 1
    )
    assert 0 < f["DV4x8x8_psnr_db"] < 30 and -1 <= f["DV4x8x8_ssim"] <= 1  # untrained: poor but finite
    assert f["DV4x8x8_enc_dec_frames_per_s_b32"] > 0 and f["DV4x8x8_peak_mem_mib_b32"] > 50
    data = json.loads((tmp_path / "out" / "tokenizer.json").read_text())
    scenes = {r["scene"] for r in data["rows"]}
    assert {"physics_freefall", "ALL (frame-weighted)", "speed, batch 32 x 9 frames"} <= scenes
    png = (tmp_path / "out" / "tokenizer.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    # The held-out episodes use the documented seeds.
    from cosmos_sim.data.store import TrajectoryStore

    with TrajectoryStore.open(tmp_path / "heldout_physics_freefall.zarr") as s:
        assert list(s.episode_seeds) == [bench.HELD_OUT_SEED]


def test_two_checkpoints_of_one_design_keep_their_own_figures(tmp_path, monkeypatch):
    # dv4x8x8-nano and dv4x8x8-obj-nano are both DV4x8x8: the figure keys name the checkpoint too
    ck = {}
    for i, name in enumerate(("dv-a", "dv-b")):
        torch.manual_seed(i)
        ck[name] = tmp_path / name
        Tokenizer(
            TokenizerConfig(kind="DV", frame_channels=8, channels=16, norm_groups=4, res_blocks=1)
        ).save_pretrained(ck[name])
    monkeypatch.setattr(
        bench, "SCENES", {"physics_freefall": ("cosmos_sim/Physics-FreeFall-GT-v0", "random", 1)}
    )
    monkeypatch.setattr(bench, "throughput", lambda model, batch, reps=3: 1.0)
    monkeypatch.setattr(bench, "peak_memory_mib", lambda path, batch: (1.0, None))
    f = bench.measure(tmp_path / "out", True, checkpoints=ck, data_dir=tmp_path).figures
    assert "DV4x8x8_psnr_db" not in f
    assert f["dv-a_DV4x8x8_psnr_db"] != f["dv-b_DV4x8x8_psnr_db"]  # different weights, different figures
    assert f["dv-a_DV4x8x8_params_m"] == f["dv-b_DV4x8x8_params_m"] > 0
