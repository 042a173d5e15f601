"""Every benchmark end to end on its smallest config, the way `cosmos-sim bench NAME --quick` runs it.

Each case goes through ``run_benchmark`` (``quick=True`` and, where the benchmark has one, a small
``Config``) into a temporary directory and checks what a user gets: strict JSON of the documented
shape whose figures are numbers (finite wherever something was measured), the markdown tables with
one line per row, and the pictures the benchmark promises.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

import cosmos_sim  # noqa: F401  (registers the ids)
from cosmos_sim.bench import BENCHMARKS, run_benchmark
from cosmos_sim.bench.curate import PER_VIDEO_STAGES
from cosmos_sim.data.store import TrajectoryStore

MANIP_ID = "cosmos_sim/Manipulation-GT-v0"


def _envs(tmp: Path, monkeypatch):
    from cosmos_sim.bench.envs import ENV_CASES, Config

    cfg = Config(sizes=(64,), steps=5, episodes=2, workers=(1, 2))
    expect = [f"{c}_steps_per_s_64_{o}" for c in ENV_CASES for o in ("rgb", "rgb_depth_seg")]
    expect += [f"{c}_steps_per_cpu_s_64_{o}" for c in ENV_CASES for o in ("rgb", "rgb_depth_seg")]
    expect += [
        "generate_frames_per_s_workers1",
        "generate_frames_per_s_workers2",
        "generate_bytes_per_frame_workers1",
    ]
    return cfg, expect + ["generate_speedup_2_workers"], []


def _curate(tmp: Path, monkeypatch):
    from cosmos_sim.bench import curate

    monkeypatch.setattr(curate, "SIZE", (320, 180))  # 720p is for the real run; the pipeline is the same
    # the shortest labelled real video: the pipeline and the scoring are the same for the three
    cfg = curate.Config(videos=1, seconds=4.0, executors=("local",), real_videos=("street_cut.mp4",))
    expect = [
        "local_per_video_stages_x_realtime_per_core",
        "local_per_video_stages_x_realtime_wall_2_workers",
        "local_end_to_end_x_realtime_wall_2_workers",
        "local_clips_kept",
    ]
    return cfg, expect + [f"local_{s}_x_realtime_per_core" for s in PER_VIDEO_STAGES], []


def _tokenizer(tmp: Path, monkeypatch):
    from cosmos_sim.bench import tokenizer
    from cosmos_sim.world_models.tokenizer import Tokenizer, TokenizerConfig

    # a tiny CV tokenizer where the shipped ones live, one scene of one episode
    Tokenizer(
        TokenizerConfig(
            kind="CV",
            latent_channels=4,
            frame_channels=8,
            channels=16,
            norm_groups=4,
            res_blocks=1,
            attention=False,
        )
    ).save_pretrained(tmp / "assets" / "tokenizers" / "cv-tiny")
    monkeypatch.setattr(tokenizer, "ASSETS_DIR", tmp / "assets")
    monkeypatch.setattr(tokenizer, "CHECKPOINTS", ("cv-tiny",))
    monkeypatch.setattr(
        tokenizer, "SCENES", {"physics_freefall": ("cosmos_sim/Physics-FreeFall-GT-v0", "random", 1)}
    )
    expect = [
        "CV4x8x8_psnr_db",
        "CV1x8x8_psnr_db",
        "CV4x8x8_ssim",
        "CV4x8x8_compression",
        "CV4x8x8_params_m",
        "CV4x8x8_enc_dec_frames_per_s_b1",
        "CV4x8x8_enc_dec_frames_per_s_b32",
        "CV4x8x8_peak_mem_mib_b32",
    ]
    return None, expect, ["tokenizer.png"]


def _wfm(tmp: Path, monkeypatch):
    from cosmos_sim.bench.wfm import Config

    # both shipped models (diffusion and AR) and the renderer of state (rolled out through the env), one seed;
    # 60 expert steps so the reward head sees a success
    models = ("manip-dit-nano", "manip-gpt-nano", "manip-render-nano")
    cfg = Config(
        models=models, seeds=1, steps=2, reward_steps=60, episodes=1, speed_batches=(1, 2), speed_steps=1
    )
    expect = [
        f"{k}_{fam}"
        for fam in ("diffusion", "ar")
        for k in (
            "psnr_mean_db",
            "psnr_gain_over_copy_db",
            "success_accuracy",
            "steps_per_s_batch1",
            "steps_per_s_batch2",
            "gflop_per_step",
            "peak_fraction_bf16_batch2",
        )
    ]
    return (
        cfg,
        expect
        + [f"{k}_manip_render_nano" for k in ("psnr_mean_db", "success_accuracy", "goal_agreement")]
        + ["block_end_error_cm_gt", "goal_rule_accuracy_gt"]  # (seed 100000 hides the block under the hand)
        + ["copy_last_psnr_mean_db_expert", "matmul_peak_gflops_bf16", "peak_rss_mb"]
        + [f"psnr_one_step_db_{fam}_{pol}" for fam in ("diffusion", "ar") for pol in ("expert", "random")],
        ["wfm_psnr_per_step.png", "wfm_diffusion_side_by_side.gif", "wfm_ar_side_by_side.gif"],
    )


def _driving(tmp: Path, monkeypatch):
    from cosmos_sim.bench.driving import Config

    cfg = Config(seeds=1, steps=2, speed_steps=1, speed_batches=(1, 2))  # the shipped drive-mv-nano
    expect = [
        "psnr_mean_db",
        "copy_last_psnr_mean_db",
        "steps_per_s_batch1",
        "steps_per_s_batch2",
        "ms_per_step_batch1",
        "sampson_median_px_gt_expert",
        "trajectory_deviation_m_pred_noisy",
        "vehicle_iou_step2_expert",
        "tokenizer_lane_iou_noisy",
    ]
    return cfg, expect, ["driving_grid_gt_vs_pred.gif"]


def _dream_to_real(tmp: Path, monkeypatch):
    from cosmos_sim.bench.dream_to_real import Config
    from cosmos_sim.world_models.wfm import tiny_world_model

    wm = tiny_world_model("diffusion")
    wm.save_pretrained(tmp / "wfm", dtype=None)
    rng = np.random.default_rng(0)
    store = TrajectoryStore.create(tmp / "expert.zarr", attrs={"env_id": MANIP_ID})
    for e in range(2):
        store.add_episode(
            {
                "rgb": rng.integers(0, 256, (4, 64, 64, 3), dtype=np.uint8),
                "action": rng.uniform(-1, 1, (4, 7)).astype(np.float32),
            },
            seed=e,
        )
    store.close()
    cfg = Config(
        steps=8,
        num_envs=2,
        num_steps=4,
        eval_points=1,
        eval_episodes=1,
        bc_epochs=1,
        bc_data=(str(tmp / "expert.zarr"),),
        wfm=str(tmp / "wfm"),
    )
    expect = [f"gt_success_{a}" for a in ("bc", "ppo_gt", "ppo_wfm", "bc_ppo_gt", "bc_ppo_wfm")]
    return (
        cfg,
        expect + ["env_steps_budget", "steps_per_s_ppo_gt", "steps_per_s_ppo_wfm"],
        ["dream_to_real.png"],
    )


def _physics(tmp: Path, monkeypatch):
    from cosmos_sim.bench.physics import Config

    # the shipped physics-dit-nano beside one baseline, one short episode
    cfg = Config(
        scenarios=("Bounce",),
        context=1,
        horizon=2,
        seeds=1,
        baselines=("copy-last",),
        device="cpu",
        consistency=False,
    )
    expect = [
        f"{k}_{p}" for p in ("physics_dit_nano", "copy_last") for k in ("psnr_db", "ssim", "object_iou")
    ]
    return cfg, expect, ["physics_per_frame.png", "physics_Bounce.gif"]


def _byo_env(tmp: Path, monkeypatch):
    from cosmos_sim.bench.byo_env import Config

    # Reacher-v5 end to end; --quick makes it 4 + 2 episodes, 2 tokenizer and 4 world-model steps, 4 open-loop
    cfg = Config(speed_batches=(1, 2), work_dir=str(tmp / "work"), device="cpu")
    expect = [
        "wfm_psnr_mean_db",
        "copy_last_psnr_mean_db",
        "psnr_gain_over_copy_db",
        "tokenizer_ceiling_db",
        "tokenizer_psnr_before_db",
        "tokenizer_psnr_after_db",
        "reward_mae",
        "reset_frames_match",
        "steps_per_s_batch1",
        "steps_per_s_batch2",
        "wfm_seconds",
    ]
    return cfg, expect, ["byo_env_psnr_per_step.png", "byo_env_side_by_side.gif", "byo_env_frames.png"]


def _pointcloud(tmp: Path, monkeypatch):
    from cosmos_sim.bench.pointcloud import Config

    cfg = Config(sizes=(48,), frames=9, sweeps=2)  # --quick: one seed
    expect = [
        "fscore_gt_48",
        "chamfer_m_gt_48",
        "fscore_gt_x1p05_48",
        "fuse_ms_per_frame_48",
        "table_height_error_mm",
        "road_width_error_m",
        "lidar_ground_range_error_mm",
        "lidar_ms_per_sweep",
    ]
    pictures = [
        "pointcloud_orbit.png",
        "pointcloud_driving.png",
        "pointcloud_lidar_range.png",
        "pointcloud_hdmap.png",
    ]
    return cfg, expect, pictures


def _guardrail(tmp: Path, monkeypatch):
    from cosmos_sim.bench.guardrail import Config

    # every part on its smallest setting: 4 LFW faces at two sizes, 2 frames a scene, 5 profanity words
    cfg = Config(face_sizes=(48, 96), lfw_faces=4, scene_frames=2, profanity_words=5, timing_repeats=1)
    expect = [
        "text_block_rate",
        "text_false_positive_rate",
        "faces_astronaut_pixelated",
        "faces_rocket_unchanged",
        "faces_scene_frames_unchanged",
        "watermark_detect_rate_mp4",
        "watermark_detect_rate_jpeg90",
        "watermark_false_detect_rate",
        "watermark_psnr_db",
        "overhead_ms_per_frame_64",
        "overhead_ms_per_frame_256",
    ]
    return cfg, expect, ["guardrail_faces.png"]


def _post_train(tmp: Path, monkeypatch):
    from cosmos_sim.bench.post_train import Config

    # --quick: 2 and 4 Kuka episodes, 4 steps per arm, 2 held-out episodes, 4 open-loop steps
    cfg = Config(work_dir=str(tmp / "work"))
    expect = [
        "unadapted_psnr",
        "lora_minus_scratch_psnr_2",
        "lora_trainable_pct_4",
        "lora_share_of_full_gain_4",
    ]
    return cfg, expect, ["post_train.png"]


def _rl_loop(tmp: Path, monkeypatch):
    from cosmos_sim.bench.rl_loop import Config

    # --quick: one loop iteration of 2 real episodes, 64 imagined steps; PPO in GT at 1x and 2x its steps;
    # every arm from BC of 2 expert episodes, the block tracked by the state model, the loop gated; BC with
    # the loop's real steps in more demonstrations
    cfg = Config(
        work_dir=str(tmp / "work"), bc_episodes=2, tracked=("red_block_x", "red_block_y"), gate_episodes=1
    )
    expect = [
        "start_gt_success",
        "loop_minus_start",
        "bc_more_demos_gt_success",
        "loop_minus_bc_more_demos",
        "loop_gt_success",
        "loop_real_steps",
        "ppo_gt_success_same_budget",
        "ppo_gt_success_ceiling",
        "loop_real_step_fraction_at_most",
        "ppo_gt_steps_to_loop_success",
        "loop_real_step_fraction",
        "reward_head_max_calibration_gap",
    ]
    return cfg, expect, ["rl_loop.png"]


def _transfer(tmp: Path, monkeypatch):
    from cosmos_sim.bench.transfer import Config
    from cosmos_sim.world_models.tokenizer import Tokenizer, TokenizerConfig
    from cosmos_sim.world_models.transfer import Transfer, TransferConfig

    tok = Tokenizer(TokenizerConfig(frame_channels=8, channels=16, norm_groups=4, res_blocks=1))
    Transfer(TransferConfig(dim=32, depth=2, heads=2, control_blocks=1), tok).save_pretrained(tmp / "model")
    cfg = Config(
        model=str(tmp / "model"), domains=("grass",), first_seed=100100
    )  # --quick: 1 episode, 6 frames
    return cfg, ["frames_per_s", "diversity_pixel_std", "default/uniform/canny_f1"], ["transfer_grid.png"]


def _domain_shift(tmp: Path, monkeypatch):
    from cosmos_sim.bench.domain_shift import Config, record
    from cosmos_sim.data.backgrounds import PasteConfig, paste_store

    # 2 recorded episodes a look (the default one with its seg map, pasted too), BC 2 epochs, 2 held-out episodes
    # in the default look and one held-out look; the perceived arms: manip-state-nano fine-tuned 4 steps a set
    record(str(tmp / "default.zarr"), 2, "default")
    paste_store(PasteConfig(str(tmp / "default.zarr"), str(tmp / "pasted.zarr"), progress=False))
    cfg = Config(
        default_data=str(tmp / "default.zarr"),
        randomized_data=str(tmp / "randomized.zarr"),
        pasted=str(tmp / "pasted.zarr"),
        train_episodes=2,
        eval_episodes=2,
        domains=("gravel",),
    )
    expect = [
        "success_default_arm_default_look",
        "success_lost_to_shift",
        "success_half_randomized_gt_held_out_looks",
        "success_half_pasted_held_out_looks",
        "perceived_success_lost_to_shift",
        "perceived_success_half_randomized_gt_held_out_looks",
        "perceived_success_half_pasted_held_out_looks",
    ]
    return cfg, expect, []


def _text(tmp: Path, monkeypatch):
    from dataclasses import replace

    from cosmos_sim.bench.text import Config
    from cosmos_sim.world_models.text_encoder import TextEncoderConfig, train_text_encoder
    from cosmos_sim.world_models.wfm import WorldModel, tiny_world_model

    env = {"env_id": "cosmos_sim/Physics-Bounce-GT-v0", "action_layout": ("noop",)}
    wm = tiny_world_model("text-diffusion", context_frames=2, env=env)
    wm = WorldModel(
        replace(wm.config, dynamics=replace(wm.config.dynamics, first_frame_steps=1)), wm.tokenizer
    )
    wm.save_pretrained(tmp / "model")
    enc = train_text_encoder(
        ["a red ball bounces"], TextEncoderConfig(steps=1, max_length=8), log=lambda m: None
    )
    enc.save_pretrained(tmp / "model" / "text_encoder")
    cfg = Config(
        model=str(tmp / "model"), scenarios=("Bounce",), arms=("gt-1", "v2w1-prompt", "t2w-upsampled")
    )
    return cfg, ["gt-1_followed", "v2w1-prompt_colours", "t2w-upsampled_motion"], ["text_grid.png"]


#: benchmark -> (tmp dir, monkeypatch) -> (config or None, figures that must be there, files besides JSON + md)
SMALL = {
    "envs": _envs,
    "curate": _curate,
    "tokenizer": _tokenizer,
    "wfm": _wfm,
    "driving": _driving,
    "dream-to-real": _dream_to_real,
    "physics": _physics,
    "byo-env": _byo_env,
    "guardrail": _guardrail,
    "pointcloud": _pointcloud,
    "domain-shift": _domain_shift,
    "post-train": _post_train,
    "rl-loop": _rl_loop,
    "transfer": _transfer,
    "text": _text,
}

#: figures that are legitimately missing a value (null) when nothing could be measured
MAY_BE_NULL = {
    # SIFT found no match between two predicted views: no Sampson error to take the median of; no view of the
    # short episode showed another car (or lane paint) large enough to score
    "driving": (
        "sampson_median_px_pred_",
        "sampson_mean_px_pred_",
        *(f"{p}{o}_iou" for p in ("", "copy_last_", "tokenizer_", "gt_frames_") for o in ("vehicle", "lane")),
    ),
    # a stage that took less than the report's 1 ms resolution has no finite speed
    "curate": tuple(f"local_{s}_x_realtime_per_core" for s in PER_VIDEO_STAGES),
    # a model that lost the block in every episode has no centroid to measure the error of (its IoU is 0)
    "wfm": ("block_centroid_px_step",),
    # the full fine-tune gained nothing over the base (a few steps): LoRA's share of it is undefined
    "post-train": ("lora_share_of_full_gain_",),
    # the loop had no GT success, or PPO in the GT env never reached it: no step count to compare
    "rl-loop": ("ppo_gt_steps_to_loop_success", "loop_real_step_fraction"),
}


def _not_json(constant: str):
    raise AssertionError(f"{constant} is not JSON (jq, browsers and most readers refuse it)")


def test_every_benchmark_has_a_small_case():
    assert set(SMALL) == set(BENCHMARKS)


@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_benchmark_runs_and_writes_its_json_and_markdown(name, tmp_path, monkeypatch):
    torch.manual_seed(0)
    config, expected_figures, files = SMALL[name](tmp_path, monkeypatch)
    out = tmp_path / "out"
    command = f"cosmos-sim bench {name} --out {out} --quick"
    result = run_benchmark(name, str(out), quick=True, command=command, config=config)

    text = (out / f"{result.name}.json").read_text()
    data = json.loads(text, parse_constant=_not_json)
    assert set(data) == {"name", "figures", "rows", "notes", "machine", "command"}
    assert data["name"] == result.name and data["command"] == command and data["notes"]
    assert data["machine"]["cpu_count"] >= 1 and data["machine"]["python"] and data["machine"]["torch"]

    figures = data["figures"]
    assert set(expected_figures) <= set(figures), sorted(set(expected_figures) - set(figures))
    nullable = MAY_BE_NULL.get(name, ())
    for k, v in figures.items():
        if v is None and k.startswith(nullable):
            continue
        assert isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v), (k, v)
    assert figures.keys() == result.figures.keys()
    for k, v in result.figures.items():  # the JSON holds what run() measured (NaN/inf: null)
        assert figures[k] == (float(v) if math.isfinite(v) else None), k
    assert all(figures[k] is not None for k in expected_figures if not k.startswith(nullable))
    speeds = [k for k in expected_figures if ("_per_s" in k or "realtime" in k) and figures[k] is not None]
    assert all(figures[k] > 0 for k in speeds), figures

    rows = data["rows"]
    assert rows and all(isinstance(r, dict) and r for r in rows)
    md = (out / f"{result.name}.md").read_text()
    assert md.startswith(f"# Benchmark: {result.name}\n") and f"Command: `{command}`" in md
    cases = list(dict.fromkeys(r.get("case") for r in rows))
    lines = md.splitlines()
    # one header, one rule and one line per row in each case's table
    assert sum(ln.startswith("|") for ln in lines) == len(rows) + 2 * len(cases)
    for case in cases:
        assert case is None or f"## {case}" in lines
    headers = [
        {c.strip() for c in ln.strip("|").split("|")}
        for ln, nxt in zip(lines, lines[1:], strict=False)
        if nxt.startswith("|---")
    ]
    for r in rows:  # every row's columns are in one table's header
        assert any(set(r) - {"case"} <= h for h in headers), r
    for f in files:
        assert (out / f).stat().st_size > 0, f
