"""``cosmos-sim bench wfm``: fidelity, speed and reward-head accuracy of the shipped world models.

Fidelity: open-loop rollouts of ``STEPS`` frames from held-out seeds (>= 100000, never used in
training) under the scripted expert and the random policy. The GT scene is rolled out first and
its actions are replayed open loop in the world model, starting from the GT first frame (repeated
into the K context slots, as the env does). PSNR and SSIM per step against the GT frames, beside
the copy-last-frame baseline (the first frame held for every step) and the tokenizer's own
reconstruction of the GT frames (the ceiling any model over its latents can reach).

Speed: env steps per second of ``WorldModelVectorEnv`` (one batched forward pass per step:
sampler + tokenizer decode + reward head) at several batch sizes; FLOPs of one step counted with
``torch.utils.flop_counter``; the fraction of a bf16/fp32 matmul peak measured in the same run;
the process's peak resident memory.

Reward head: mean absolute error of the predicted reward and accuracy/recall of the success flag
on held-out expert episodes of 60 steps (latents of the GT frames), and the reward error on the
open-loop predicted latents of the fidelity rollouts.

Whole-episode verdict: the same expert episodes replayed open loop; does the last predicted frame show
the block in the goal exactly when the scene ends in success? Read off pixels (``block_goal_distance``:
colour centroids met with the table's planes through the GT camera, within the task's goal radius), so
it judges what a viewer sees, not the model's internal state.
"""

from __future__ import annotations

import dataclasses
import resource
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cosmos_sim.bench.common import BenchResult, check_at_least
from cosmos_sim.data.pictures import psnr_plot, side_by_side
from cosmos_sim.envs.manipulation import ManipulationConfig
from cosmos_sim.eval import HELD_OUT_SEED
from cosmos_sim.eval.rollouts import gt_rollouts

STEPS = 16
REWARD_STEPS = 60
#: Shipped models measured here: (label, name under assets/wfm/).
MODELS = (("diffusion", "manip-dit-nano"), ("ar", "manip-gpt-nano"))


@dataclass(frozen=True)
class Config:
    """Options of ``cosmos-sim bench wfm`` (``--quick``: at most 4 seeds and 4 episodes, batches up to 16, 4 timed steps)."""

    models: tuple[str, ...] = tuple(name for _, name in MODELS)
    """Manipulation world models measured: bundle directories or names under assets/wfm/ (a missing shipped name
    is skipped); at most one per family (the family labels the figures)."""
    seeds: int = 16
    """Held-out episodes per policy (seeds 100000..)."""
    steps: int = STEPS
    """Open-loop steps per rollout."""
    reward_steps: int = REWARD_STEPS
    """Steps of the expert episodes the reward head is scored on (teacher forced)."""
    episodes: int = 64
    """Whole expert episodes (seeds 100000..) the reward, the success flag and the goal verdict are scored on."""
    speed_batches: tuple[int, ...] = (1, 16, 32, 64)
    """Batch sizes of the speed measurement (the AR model stops at 16)."""
    speed_steps: int = 30
    """Timed env steps per batch size (after two warm-up steps; 8 gave figures ~25 % low on a 2-core CPU)."""

    def __post_init__(self) -> None:
        check_at_least(
            "wfm", self, 1, "seeds", "steps", "reward_steps", "episodes", "speed_steps", "speed_batches"
        )


def _tokenizer_ceiling(model, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-step PSNR of the tokenizer's image-mode reconstruction of the GT frames, and that reconstruction."""
    from cosmos_sim.eval.rollouts import rollout_metrics

    b, t = frames.shape[:2]
    z = model.encode(frames.reshape(b * t, 1, *frames.shape[2:]))[:, 0]
    rec = model.decode(z).reshape(frames.shape)
    return rollout_metrics(rec, frames)["psnr"], rec


def _block_names(labels: dict) -> tuple[str, ...]:
    return tuple(v for v in labels.values() if v.endswith("block"))


def _block_metrics(pred: np.ndarray, g: dict) -> dict[str, np.ndarray]:
    """Per-step block IoU and centroid error (px), mean over episodes, of ``pred`` continuing ``g``'s frames."""
    import warnings

    from cosmos_sim.eval.rollouts import object_rollout_metrics

    m = object_rollout_metrics(
        pred, g["frames"], g["segs"], [g["labels"]] * len(pred), _block_names(g["labels"])
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a block lost in every episode at a step: NaN
        return {k: np.nanmean(v, axis=0) for k, v in m.items()}


def block_goal_distance(frames: np.ndarray, g: dict) -> tuple[np.ndarray, np.ndarray]:
    """(E, 2) the block's table position (world x, y, metres) read off ``frames`` (E, H, W, 3) and (E,) its
    distance to the goal disc's centre read off the GT first frame's segmentation: each centroid's ray through the
    GT camera met with the block centre's plane (the goal: the table's). NaN where no block is found.

    Read off pixels, not the model's state: what a viewer of the frames would conclude. On GT frames it finds
    the block within ~0.7 cm rms (``block_end_error_cm_gt``).
    """
    from cosmos_sim.envs.push_task import BLOCK_HALF, TABLE_Z
    from cosmos_sim.eval import physics_metrics as pm

    goal_id = {v: k for k, v in g["labels"].items()}["goal"]
    xy, dist = np.full((len(frames), 2), np.nan), np.full(len(frames), np.nan)
    for e in range(len(frames)):
        k, ext = g["intrinsics"][e], g["extrinsics"][e]
        ref = pm.colour_reference(
            g["frames"][e, :1], g["segs"][e, :1], g["labels"], _block_names(g["labels"])
        )
        c, cg = pm.centroid(pm.segment_by_colour(frames[e], ref) > 0), pm.centroid(g["segs"][e, 0] == goal_id)
        if c is None or cg is None:
            continue
        xy[e] = pm.on_plane(c + 0.5, TABLE_Z + BLOCK_HALF, k, ext)[:2]
        dist[e] = np.linalg.norm(xy[e] - pm.on_plane(cg + 0.5, TABLE_Z, k, ext)[:2])
    return xy, dist


def block_in_goal(frames: np.ndarray, g: dict, radius: float) -> np.ndarray:
    """(E,) whether ``frames`` show the block within ``radius`` (m) of the goal's centre (``block_goal_distance``;
    a block not found is not in the goal)."""
    with np.errstate(invalid="ignore"):
        return block_goal_distance(frames, g)[1] <= radius


def _frame_verdict(frames: np.ndarray, g: dict, radius: float) -> tuple[np.ndarray, float]:
    """``block_in_goal`` and the median over episodes of how far (cm) the block read off ``frames`` (the last of
    ``g``'s episodes) lies from the scene's true block (blocks not found excluded; NaN when none is found)."""
    xy, dist = block_goal_distance(frames, g)
    with np.errstate(invalid="ignore"):
        shown = dist <= radius
    err = np.linalg.norm(xy - g["block_xy"][:, -1], axis=1)
    return shown, float(np.nanmedian(err) * 100) if np.isfinite(err).any() else float("nan")


def vector_env_speed(venv, steps: int, seed: int = 0) -> float:
    """Env steps per second of a vector env under uniform random actions (after two warm-up steps); closes it."""
    venv.reset(seed=HELD_OUT_SEED)
    space = venv.single_action_space
    acts = np.random.default_rng(seed).uniform(
        space.low, space.high, (steps + 2, venv.num_envs, *space.shape)
    )
    acts = acts.astype(np.float32)
    for a in acts[:2]:
        venv.step(a)
    t0 = time.perf_counter()
    for a in acts[2:]:
        venv.step(a)
    dt = time.perf_counter() - t0
    venv.close()
    return venv.num_envs * steps / dt


def _speed(model_dir: Path, batch: int, steps: int) -> float:
    from cosmos_sim.envs.wfm_env import WorldModelVectorEnv

    return vector_env_speed(WorldModelVectorEnv(batch, checkpoint=model_dir, max_episode_steps=None), steps)


def _flops_per_step(model) -> float:
    """FLOPs of one env step at batch 1 (dynamics sampling + decode + reward head)."""
    from torch.utils.flop_counter import FlopCounterMode

    k = model.context_frames
    frame = np.zeros((1, 1, *model.config.frame_size, 3), np.uint8)
    z = model.encode(frame)
    state = model.start(z.expand(-1, k, *z.shape[2:]).contiguous())
    a = np.zeros((1, len(model.config.action_layout)), np.float32)
    model.predict_next(state, a)  # AR: fill the cache once outside the count
    with FlopCounterMode(display=False) as counter:
        state, nxt = model.predict_next(state, a)
        model.decode(nxt)
        model.reward(nxt, a)
    return float(counter.get_total_flops())


def matmul_peak(dtype: torch.dtype, n: int = 1024, reps: int = 10) -> float:
    """Measured GFLOP/s of an n x n matmul in ``dtype`` on this machine, now."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - t0) / 1e9


def renders_state(model) -> bool:
    """A renderer of state (``world_models/state_maps.py``): its rollouts need the env (the GT scene's state)."""
    return bool(getattr(model.config.dynamics, "state_maps", False))


def env_open_loop(model_dir: Path, seeds: list[int], actions: np.ndarray, sampler_steps: int | None = None):
    """Open loop through ``WorldModelVectorEnv`` from the GT scenes of ``seeds`` (a renderer of state starts
    from their state, which only the env reads): frames (B, T, H, W, 3), reward (B, T) and success (B, T).
    ``sampler_steps`` replaces the bundle's denoiser calls per frame (None: the bundle's)."""
    from cosmos_sim.envs.wfm_env import WorldModelVectorEnv

    venv = WorldModelVectorEnv(
        len(seeds),
        checkpoint=model_dir,
        device="cpu",
        max_episode_steps=None,
        head_terminates=False,
        sampler_steps=sampler_steps,
    )
    venv.reset(seed=list(seeds))
    frames, rewards, success = [], [], []
    for t in range(actions.shape[1]):
        obs, r, _, _, info = venv.step(actions[:, t].astype(np.float32))
        frames.append(obs)
        rewards.append(r)
        success.append(info["is_success"])
    venv.close()
    return np.stack(frames, 1), np.stack(rewards, 1), np.stack(success, 1)


def _accuracy(reward: np.ndarray, success: np.ndarray, held: dict[str, np.ndarray]) -> dict[str, float]:
    """Reward MAE and success detection of predicted ``reward`` and ``success`` (B, T) on the episodes ``held``.

    Each episode counts up to its first success, where the GT env terminates (as in training).
    """
    t = held["actions"].shape[1]
    succ = held["success"]
    first = np.where(succ.any(1), succ.argmax(1), t - 1)
    valid = np.arange(t)[None] <= first[:, None]
    truth_r, truth_s = held["reward"][valid], succ[valid]
    r, p = np.reshape(reward, (-1, t))[valid], np.reshape(success, (-1, t))[valid].astype(bool)
    return {
        "reward_mae": float(np.abs(r - truth_r).mean()),
        "reward_gt_std": float(truth_r.std()),
        "success_accuracy": float((p == truth_s).mean()),
        "success_recall": float(p[truth_s].mean()) if truth_s.any() else float("nan"),
        "success_false_positive_rate": float(p[~truth_s].mean()),
        "episodes_with_success": float(succ.any(1).mean()),
    }


def _reward_accuracy(model, held: dict[str, np.ndarray]) -> dict[str, float]:
    """``_accuracy`` of the reward head on the latents of the GT frames (teacher forced). A renderer of state has
    no head: its reward and success are the task's rule on its own open-loop state (``_accuracy`` of those)."""
    b, t = held["actions"].shape[:2]
    z = model.encode(held["frames"][:, 1:].reshape(b * t, 1, *held["frames"].shape[2:]))[:, 0]
    r, p = model.reward(z, held["actions"].reshape(b * t, -1))
    return _accuracy(r, p > 0.5, held)


def run(config: Config, out_dir: str, quick: bool = False) -> BenchResult:
    """Measure the models of ``config``; the pictures go to ``out_dir``."""
    from cosmos_sim.envs.wfm_env import resolve_checkpoint
    from cosmos_sim.eval.rollouts import open_loop, rollout_metrics, teacher_forced
    from cosmos_sim.world_models.wfm import WorldModel

    cfg = config
    if quick:
        cfg = dataclasses.replace(
            cfg,
            seeds=min(cfg.seeds, 4),
            episodes=min(cfg.episodes, 4),
            speed_steps=min(cfg.speed_steps, 4),
            speed_batches=tuple(b for b in cfg.speed_batches if b <= 16) or (1,),
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    n_seeds, steps = cfg.seeds, cfg.steps
    seeds = list(range(HELD_OUT_SEED, HELD_OUT_SEED + n_seeds))
    gt = {pol: gt_rollouts(pol, seeds, steps=steps, segs=True) for pol in ("expert", "random")}
    long_seeds = list(range(HELD_OUT_SEED, HELD_OUT_SEED + cfg.episodes))
    long_expert = gt_rollouts("expert", long_seeds, steps=cfg.reward_steps, segs=True)
    figures: dict[str, float] = {}
    # The frame verdict's own accuracy: the same reading on the GT frames (the scene's outcome in gt_done).
    gt_done, radius = long_expert["success"][:, -1], ManipulationConfig().goal_radius
    shown_gt, figures["block_end_error_cm_gt"] = _frame_verdict(
        long_expert["frames"][:, -1], long_expert, radius
    )
    figures["gt_success_at_end"] = float(gt_done.mean())
    figures["goal_rule_accuracy_gt"] = float((shown_gt == gt_done).mean())
    rows: list[dict] = []
    curves: dict[str, np.ndarray] = {}
    for pol, g in gt.items():
        truth = g["frames"][:, 1:]
        copy = rollout_metrics(np.repeat(g["frames"][:, :1], steps, axis=1), truth)
        figures[f"copy_last_psnr_mean_db_{pol}"] = float(copy["psnr"].mean())
        figures[f"copy_last_ssim_mean_{pol}"] = float(copy["ssim"].mean())
        blocks = _block_metrics(np.repeat(g["frames"][:, :1], steps, axis=1), g)
        figures[f"copy_last_block_iou_step{steps}_{pol}"] = float(blocks["object_iou"][-1])
        figures[f"copy_last_block_centroid_px_step{steps}_{pol}"] = float(blocks["centroid_px"][-1])
        rows.append(
            {
                "model": "copy-last-frame",
                "policy": pol,
                "psnr_mean_db": float(copy["psnr"].mean()),
                "psnr_step1_db": float(copy["psnr"][0]),
                f"psnr_step{steps}_db": float(copy["psnr"][-1]),
                "ssim_mean": float(copy["ssim"].mean()),
                f"block_iou_step{steps}": float(blocks["object_iou"][-1]),
                f"block_centroid_px_step{steps}": float(blocks["centroid_px"][-1]),
            }
        )
        curves[f"copy-last ({pol})"] = copy["psnr"]

    speed_batches = cfg.speed_batches
    shipped = {name for _, name in MODELS}
    measured: dict[str, str] = {}
    for name in cfg.models:
        try:
            model_dir = resolve_checkpoint(name)
        except ValueError:
            if name in shipped:
                continue  # not shipped
            raise
        model = WorldModel.from_pretrained(model_dir, device="cpu")
        fam = label = model.config.family
        if label in measured:  # a second model of a family (e.g. a new checkpoint beside the shipped one)
            label = Path(name).name.replace("-", "_")
        measured[label] = name
        renders = renders_state(model)
        for pol, g in gt.items():
            if renders:  # the state's reward, the frames drawn from the state (no one-step figure: no drift)
                pred, r_pred, _ = env_open_loop(model_dir, seeds, g["actions"])
                one = None
            else:
                pred, lat = open_loop(model, g["frames"][:, 0], g["actions"], return_latents=True)
                r_pred, _ = model.reward(lat.flatten(0, 1), g["actions"].reshape(-1, g["actions"].shape[-1]))
                one = rollout_metrics(teacher_forced(model, g["frames"], g["actions"]), g["frames"][:, 1:])
            m = rollout_metrics(pred, g["frames"][:, 1:])
            figures[f"reward_mae_open_loop_{label}_{pol}"] = float(
                np.abs(np.reshape(r_pred, -1) - g["reward"].reshape(-1)).mean()
            )
            ceiling, rec = _tokenizer_ceiling(model, g["frames"][:, 1:])
            if one is not None:
                figures[f"psnr_one_step_db_{label}_{pol}"] = float(one["psnr"].mean())
            blocks = _block_metrics(pred, g)
            rec_blocks = _block_metrics(rec, g)
            figures[f"block_iou_step{steps}_{label}_{pol}"] = float(blocks["object_iou"][-1])
            figures[f"block_centroid_px_step{steps}_{label}_{pol}"] = float(blocks["centroid_px"][-1])
            figures[f"tokenizer_block_iou_{label}_{pol}"] = float(np.nanmean(rec_blocks["object_iou"]))
            figures[f"psnr_mean_db_{label}_{pol}"] = float(m["psnr"].mean())
            figures[f"ssim_mean_{label}_{pol}"] = float(m["ssim"].mean())
            figures[f"tokenizer_psnr_db_{label}_{pol}"] = float(ceiling.mean())
            rows.append(
                {
                    "model": f"{name} ({fam}, {model.config.tokenizer_name})",
                    "policy": pol,
                    "psnr_mean_db": float(m["psnr"].mean()),
                    "psnr_step1_db": float(m["psnr"][0]),
                    f"psnr_step{steps}_db": float(m["psnr"][-1]),
                    **({} if one is None else {"psnr_one_step_db": float(one["psnr"].mean())}),
                    "ssim_mean": float(m["ssim"].mean()),
                    "tokenizer_ceiling_db": float(ceiling.mean()),
                    f"block_iou_step{steps}": float(blocks["object_iou"][-1]),
                    f"block_centroid_px_step{steps}": float(blocks["centroid_px"][-1]),
                    "tokenizer_block_iou": float(np.nanmean(rec_blocks["object_iou"])),
                    "psnr_per_step_db": [round(float(v), 2) for v in m["psnr"]],
                }
            )
            curves[f"{label} ({pol})"] = m["psnr"]
            if pol == "expert":
                import imageio.v3 as iio3

                video = side_by_side(g["frames"][0, 1:], pred[0])
                iio3.imwrite(
                    out / f"wfm_{label}_side_by_side.gif", video, extension=".gif", duration=150, loop=0
                )
        figures[f"psnr_mean_db_{label}"] = float(np.mean([figures[f"psnr_mean_db_{label}_{p}"] for p in gt]))
        figures[f"psnr_gain_over_copy_db_{label}"] = figures[f"psnr_mean_db_{label}"] - float(
            np.mean([figures[f"copy_last_psnr_mean_db_{p}"] for p in gt])
        )
        # Reward head on whole expert episodes (most succeed within 60 steps), teacher forced.
        # Whole expert episodes open loop: does the block end in the goal disc in the model when it does in the
        # scene, and does the reward head (a renderer of state: the task's rule on its state) say so?
        if renders:
            pred_long, r_long, s_long = env_open_loop(model_dir, long_seeds, long_expert["actions"])
            acc = _accuracy(r_long, s_long, long_expert)
            p_done = s_long[:, -1].astype(np.float32)
        else:
            acc = _reward_accuracy(model, long_expert)
            pred_long, lat_long = open_loop(
                model, long_expert["frames"][:, 0], long_expert["actions"], return_latents=True
            )
            _, p_done = model.reward(lat_long[:, -1], long_expert["actions"][:, -1])
        figures |= {f"{k}_{label}": v for k, v in acc.items()}
        shown, end_error = _frame_verdict(pred_long[:, -1], long_expert, radius)
        figures[f"goal_agreement_{label}"] = float((shown == gt_done).mean())
        # Split by the scene's outcome: most expert episodes succeed, so "always in the goal" agrees often.
        if gt_done.any():
            figures[f"goal_shown_when_success_{label}"] = float(shown[gt_done].mean())
        if not gt_done.all():
            figures[f"goal_not_shown_when_failure_{label}"] = float(1 - shown[~gt_done].mean())
        if np.isfinite(end_error):  # (no block found in any episode: no figure)
            figures[f"block_end_error_cm_{label}"] = end_error
        figures[f"reward_head_goal_agreement_{label}"] = float(((np.asarray(p_done) > 0.5) == gt_done).mean())
        # Speed, FLOPs, peak.
        flops = _flops_per_step(model)
        figures[f"gflop_per_step_{label}"] = flops / 1e9
        for b in speed_batches:
            if label == "ar" and b > 16:
                continue
            sps = _speed(model_dir, b, steps=cfg.speed_steps)
            figures[f"steps_per_s_batch{b}_{label}"] = sps
            if b == 1:
                figures[f"ms_per_step_batch1_{label}"] = 1000 / sps
        peak_bf16 = matmul_peak(torch.bfloat16)
        figures["matmul_peak_gflops_bf16"] = peak_bf16
        figures["matmul_peak_gflops_fp32"] = matmul_peak(torch.float32)
        timed = [b for b in speed_batches if f"steps_per_s_batch{b}_{label}" in figures]
        if timed:  # (none for the AR model when every batch asked for is above 16)
            top_b = max(timed)
            achieved = flops * figures[f"steps_per_s_batch{top_b}_{label}"] / 1e9
            figures[f"achieved_gflops_batch{top_b}_{label}"] = achieved
            figures[f"peak_fraction_bf16_batch{top_b}_{label}"] = achieved / peak_bf16
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    psnr_plot(curves, out / "wfm_psnr_per_step.png", f"open loop from held-out seeds ({n_seeds} per policy)")
    notes = (
        f"Open-loop {steps}-step rollouts from seeds {seeds[0]}..{seeds[-1]} (held out: training used seeds "
        "< 100000) under the scripted expert and the random policy; the GT first frame fills the K context "
        "slots. copy-last-frame holds that first frame. tokenizer_ceiling_db: PSNR of the tokenizer's own "
        f"reconstruction of the GT frames. psnr_one_step_db: every step predicted from the GT frames before it (teacher "
        "forced, the same sampler noise): its gap to psnr_mean_db is what the model loses to its own drift. "
        f"block_iou_step{steps} / block_centroid_px_step{steps}: the block "
        "found by colour in the prediction (reference colour from the GT first frame) against its GT "
        "segmentation mask at the last step (mean over episodes); tokenizer_block_iou: the same on the "
        f"tokenizer's reconstruction of the GT frames. goal_agreement: over {cfg.episodes} {cfg.reward_steps}-step "
        f"expert episodes (seeds {long_seeds[0]}..{long_seeds[-1]}) replayed open loop, how often the last predicted frame shows the block in the goal exactly "
        "when the GT episode ends in success (gt_success_at_end of them do): the block's and the goal's colour "
        "centroids, each ray met with the block centre's / the table's plane, within the task's goal radius "
        "(goal_rule_accuracy_gt: the same rule on the GT frames; goal_shown_when_success / "
        "goal_not_shown_when_failure: the agreement split by the scene's outcome); block_end_error_cm: median distance of the "
        "block so read off the last frame from the scene's true block (_gt: read off the GT frames, the rule's "
        "own error). reward_head_goal_agreement: the same agreement for the reward head's success flag on the "
        "last predicted latent. "
        "A renderer of state (manip-render-nano, manip-render-fast-nano: DiTConfig.state_maps) is rolled out through the env, from the GT "
        "scene's first state; its reward and success are the task's rule on its own state (no one-step figure: "
        "it draws every frame from the first one, so there is no drift to separate). "
        "Speed: WorldModelVectorEnv steps/s (sampler + decode + reward head, "
        f"bf16 autocast on CPUs with AMX), torch threads={torch.get_num_threads()}. Pictures: "
        "wfm_diffusion_side_by_side.gif (GT | prediction | |error| x3), wfm_psnr_per_step.png."
    )
    headline = [
        f"{k}: {v:.4g}"
        for k, v in figures.items()
        if k.startswith(
            (
                "psnr_mean_db_",
                "psnr_gain",
                "block_",
                "goal_",
                "reward_head_goal",
                "steps_per_s",
                "ms_per_step",
                "gflop",
                "peak_",
                "success_accuracy",
                "success_recall",
                "reward_mae_diffusion",
                "reward_mae_ar",
            )
        )
        and not k.endswith(("_expert", "_random"))
    ]
    notes += "\n\nHeadline figures: " + "; ".join(headline) + "."
    return BenchResult(name="wfm", figures=figures, rows=rows, notes=notes)


__all__ = ["Config", "matmul_peak", "run"]
