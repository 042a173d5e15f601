"""``cosmos-sim bench rl-loop``: does the world-model RL loop save real env steps?

Three ways to train one pixel policy for one task (``env_id``, the reach task by default), all scored by
GT success on held-out seeds (>= 100000) against the *real* (GT) env steps they used:

    loop        ``cosmos-sim train-loop`` (``cosmos_sim/train/loop.py``): real episodes only to fit the
                world model and its reward head; PPO inside the model (or, ``--improve imitate``, the
                scripted expert acting inside it and the policy cloned on that). One point per iteration.
    ppo-gt      PPO in the GT env with the loop's real-step budget.
    ppo-gt-30x  PPO in the GT env with 30x that budget (``ceiling_factor``): how many real steps PPO needs.
    start       with ``--policy-init`` (e.g. BC for push; every arm then starts from it): that policy alone.
    bc-more-demos  with ``--bc-episodes``: the loop's real-step budget spent on more demonstrations instead.

Beside the loop's GT success per iteration: the success the model reports for the same policy on the same
seeds (the GT evaluation repeated inside the model): its calibration, goal within 10 points.
Writes ``rl_loop.{json,md,png}`` (the plot: GT success vs real env steps per arm).
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cosmos_sim.bench.common import BenchResult, check_at_least
from cosmos_sim.errors import ConfigError
from cosmos_sim.eval import HELD_OUT_SEED


@dataclass(frozen=True)
class Config:
    """Budget and settings of the RL-loop benchmark."""

    env_id: str = "cosmos_sim/Manipulation-Reach-GT-v0"
    """The task (a GT id with pixels observations and is_success)."""
    wfm: str = "manip-dit-nano"
    """World model the loop starts from."""
    perception: str = "manip-state-nano"
    """State estimator every arm's policy sees the frames through (Perceived-v0); empty: raw pixels."""
    perception_steps: int = 300
    """The loop's estimator fine-tuning steps per iteration (0: the given estimator throughout)."""
    proprio: tuple[str, ...] = ("ee_x", "ee_y", "ee_z")
    """Estimator entries every arm gets as proprioception (the GT env's true state; inside the model the loop's
    proprioception model); empty: all entries read off the frames."""
    static: tuple[str, ...] = ("goal_x", "goal_y")
    """Estimator entries every arm reads off each episode's first frame and holds (the goal does not move)."""
    tracked: tuple[str, ...] = ()
    """Object entries (e.g. red_block_x red_block_y) that inside the model the loop's state model predicts with
    the proprioception instead of reading them off imagined frames (GT arms: read off every frame)."""
    policy_init: str = ""
    """Policy every arm starts from (e.g. behaviour cloning for push), scored as the arm "start"; empty: from
    scratch."""
    bc_episodes: int = 0
    """> 0: record this many scripted-expert episodes (seeds 5000..) in the arms' env, clone them (BC) and
    start every arm from the clone (--policy-init, the episodes the loop's --prior-data)."""
    bc_epochs: int = 150
    """Behaviour-cloning epochs with --bc-episodes (the push clone of 100 demonstrations underfits at 30: 85.5 %
    against 89.1 % at 150 on validation seeds 100500-100755)."""
    bc_log_std: float = -2.0
    """With --bc-episodes: the clone's log-std, the exploration every fine-tuning arm starts from (BC's own
    default is -1.0, std 0.37 on [-1, 1] actions: the sampled pushes miss the block). Push, PPO in GT from one
    clone, 32,768 steps, 128 held-out seeds: -1.0 fell from BC's 78.9 % to 68.8 %, -2.0 reached 86.7 %
    (at 16,384 steps 75.8 %: single runs swing by ~10 points)."""
    prior_data: tuple[str, ...] = ()
    """Real episodes recorded before (e.g. --policy-init's demonstrations) the loop fits its models on too."""
    improve: str = "ppo"
    """The loop's policy step (train-loop --improve): "ppo" inside the model, or "imitate" (with --bc-episodes:
    the scripted expert acting on believed states inside the model, the clone re-trained on the demonstrations
    and those imagined episodes, --bc-epochs epochs)."""
    anchor_coef: float = 1.0
    """With --policy-init: PPO's BC anchor to it, in every arm."""
    value_warmup: int = 4
    """With --policy-init: PPO updates training only the value head first, in every arm."""
    gate_episodes: int = 0
    """The loop's gate (train-loop --gate-episodes): real episodes a new policy must not do worse on."""
    hold: bool = True
    """The loop's --hold (with --reward perceived): inside the model a success does not end the imagined episode,
    the reward goes on."""
    reward: str = "perceived"
    """The loop's reward inside the model: "perceived" (the task's reward of the estimated state) or "head"."""
    iterations: int = 6
    """Loop iterations."""
    real_episodes: int = 16
    """Real episodes the loop collects per iteration."""
    wfm_steps: int = 300
    """World-model fine-tuning steps per iteration."""
    imagination_steps: int = 32768
    """PPO steps inside the world model per iteration."""
    horizon: int = 32
    """Imagined episode length."""
    num_envs: int = 16
    """PPO envs (loop: imagined, batched; GT arms: GT envs)."""
    num_steps: int = 32
    """PPO steps per env per rollout."""
    learning_rate: float = 3e-4
    """PPO learning rate of every arm."""
    ceiling_factor: int = 30
    """The ceiling arm's real-step budget as a multiple of the loop's."""
    eval_points: int = 16
    """GT evaluations of each GT arm, evenly spaced over its budget (the ceiling arm's curve says how many real
    steps PPO needs for the loop's success)."""
    eval_episodes: int = 32
    """Held-out GT episodes per evaluation (seeds 100000..)."""
    seed: int = 0
    """Seed of every run."""
    threads: int = 1
    """torch threads."""
    work_dir: str = ""
    """Where the runs go (default OUT/rl_loop); replaced on each run."""

    def __post_init__(self) -> None:
        check_at_least("rl-loop", self, 1, "iterations", "real_episodes", "wfm_steps", "imagination_steps")
        check_at_least("rl-loop", self, 1, "horizon", "num_envs", "num_steps", "ceiling_factor")
        check_at_least("rl-loop", self, 1, "eval_points", "eval_episodes", "threads")
        check_at_least("rl-loop", self, 0, "perception_steps", "bc_episodes", "gate_episodes")
        check_at_least("rl-loop", self, 1, "bc_epochs")
        if self.improve == "imitate" and not (self.bc_episodes or self.prior_data):
            raise ConfigError(
                "--improve imitate re-clones the expert's demonstrations: pass --bc-episodes N (or --prior-data "
                "DEMOS.zarr with --policy-init) too"
            )
        if self.bc_episodes and self.policy_init:
            raise ConfigError(
                "--bc-episodes clones a starting policy; --policy-init gives one: pass one of them"
            )


def _quick(cfg: Config) -> Config:
    return dataclasses.replace(
        cfg,
        iterations=1,
        real_episodes=2,
        wfm_steps=2,
        perception_steps=min(cfg.perception_steps, 2),
        imagination_steps=64,
        horizon=8,
        num_envs=4,
        num_steps=16,
        ceiling_factor=2,
        eval_points=1,
        eval_episodes=2,
        bc_episodes=min(cfg.bc_episodes, 2),
        bc_epochs=1,
        gate_episodes=min(cfg.gate_episodes, 1),
    )


def _gt_env(cfg: Config) -> tuple[str, dict]:
    from cosmos_sim.train.loop import policy_env

    return policy_env(
        cfg.env_id, {}, cfg.perception, proprio=cfg.proprio, static=cfg.static, tracked=cfg.tracked
    )


def _record_expert(cfg: Config, store: Path, episodes: int, seed: int) -> int:
    """Record ``episodes`` scripted-expert episodes (seeds ``seed``..) in the arms' env; their real steps."""
    from cosmos_sim.data.generate import GenerateConfig, generate
    from cosmos_sim.data.store import TrajectoryStore

    env_id, kwargs = _gt_env(cfg)
    generate(
        GenerateConfig(
            env_id=env_id,
            episodes=episodes,
            out=str(store),
            policy="expert",
            seed=seed,
            env_kwargs=kwargs,
            progress=False,
        )
    )
    s = TrajectoryStore.open(store)
    return int(s.n_steps - s.n_episodes)


def _clone(cfg: Config, data: list[Path], out: Path) -> None:
    """Behaviour cloning of ``data`` (the bench's settings: --bc-epochs, --bc-log-std)."""
    from cosmos_sim.policies import bc

    env_id, kwargs = _gt_env(cfg)
    bc.train(
        bc.Args(
            data=tuple(map(str, data)),
            env_id=env_id,
            env_kwargs=json.dumps(kwargs),
            obs_key="state" if cfg.perception else "rgb",
            epochs=cfg.bc_epochs,
            finetune_log_std=cfg.bc_log_std,
            out=str(out),
            seed=cfg.seed,
            device="cpu",
        )
    )


def _clone_expert(cfg: Config, work: Path) -> Config:
    """``cfg`` starting from behaviour cloning of ``bc_episodes`` expert episodes recorded in the arms' env."""
    demos = work / "demos.zarr"
    _record_expert(cfg, demos, cfg.bc_episodes, DEMO_SEED)
    _clone(cfg, [demos], work / "bc")
    return dataclasses.replace(
        cfg, bc_episodes=0, policy_init=str(work / "bc"), prior_data=(str(demos), *cfg.prior_data)
    )


DEMO_SEED, MORE_DEMO_SEED = 5000, 6000  # training seeds of the demonstrations and of the extra ones


def _more_demos(cfg: Config, budget: int, work: Path) -> dict[str, Any]:
    """BC with the loop's real-step budget spent on more demonstrations instead (the baseline a world model's
    data must beat): expert episodes until their steps reach ``budget``, cloned with the first ones."""
    from cosmos_sim.data.store import TrajectoryStore

    t0 = time.perf_counter()
    demos = Path(cfg.prior_data[0])
    d = TrajectoryStore.open(demos)
    per_episode = (d.n_steps - d.n_episodes) / d.n_episodes
    steps = _record_expert(
        cfg, work / "more_demos.zarr", max(1, math.ceil(budget / per_episode)), MORE_DEMO_SEED
    )
    _clone(cfg, [demos, work / "more_demos.zarr"], work / "bc_more")
    row = _start(dataclasses.replace(cfg, policy_init=str(work / "bc_more")))
    row.update(arm="bc-more-demos", real_steps=steps, curve=[(steps, row["gt_success"])])
    return {**row, "seconds": round(time.perf_counter() - t0, 1)}


def _start(cfg: Config) -> dict[str, Any]:
    """The starting policy's GT success: what fine-tuning must not lose (push: what the loop must beat)."""
    from cosmos_sim.policies.evaluate import run_episodes
    from cosmos_sim.policies.networks import load_policy

    env_id, kwargs = _gt_env(cfg)
    seeds = list(range(HELD_OUT_SEED, HELD_OUT_SEED + cfg.eval_episodes))
    t0 = time.perf_counter()
    success = run_episodes(load_policy(cfg.policy_init, "cpu").net, env_id, seeds, kwargs)[0].success_rate
    return {
        "arm": "start",
        "real_steps": 0,
        "gt_success": success,
        "believed_success": None,
        "seconds": round(time.perf_counter() - t0, 1),
        "curve": [(0, success)],
    }


def _gt_ppo(name: str, cfg: Config, budget: int, work: Path) -> dict[str, Any]:
    """PPO in the GT env (through the same estimator as the loop) for ``budget`` real steps, evaluated at
    ``eval_points`` marks."""
    from cosmos_sim.policies.evaluate import run_episodes
    from cosmos_sim.policies.ppo import Args, train

    env_id, kwargs = _gt_env(cfg)
    seeds = list(range(HELD_OUT_SEED, HELD_OUT_SEED + cfg.eval_episodes))
    marks = [budget * (i + 1) // cfg.eval_points for i in range(cfg.eval_points)]
    curve: list[tuple[int, float]] = []

    def evaluate(step: int, net) -> None:
        if marks and step >= marks[0]:
            while marks and step >= marks[0]:
                marks.pop(0)
            curve.append((step, run_episodes(net, env_id, seeds, kwargs)[0].success_rate))

    t0 = time.perf_counter()
    r = train(
        Args(
            env_id=env_id,
            env_kwargs=json.dumps(kwargs),
            out=str(work / name),
            total_steps=budget,
            num_envs=cfg.num_envs,
            num_steps=cfg.num_steps,
            learning_rate=cfg.learning_rate,
            init_from=cfg.policy_init,
            anchor_coef=cfg.anchor_coef if cfg.policy_init else 0.0,
            value_warmup=cfg.value_warmup if cfg.policy_init else 0,
            seed=cfg.seed,
            device="cpu",
            checkpoint_every=1000,
            progress=False,
        ),
        callback=evaluate,
    )
    return {
        "arm": name,
        "real_steps": r["global_step"],
        "gt_success": curve[-1][1] if curve else float("nan"),
        "believed_success": None,
        "seconds": round(time.perf_counter() - t0, 1),
        "curve": curve,
    }


def _plot(rows: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, ax = plt.subplots(figsize=(6.5, 3.8), dpi=100)
    for r in rows:
        if r["arm"] == "start":  # no real steps of its own: a level the other arms must not fall below
            ax.axhline(r["gt_success"], ls=":", color="tab:red", label="start (no fine-tuning)")
            continue
        steps, success = zip(*r["curve"], strict=True) if r["curve"] else ((), ())
        ax.plot(steps, success, marker="o", label=r["arm"])
        if r["arm"] == "loop":
            ax.plot(steps, [b for _, b in r["believed_curve"]], ls="--", color="grey", label="loop: believed")
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())  # labelled minor ticks overlap
    ax.set_xlabel("real (GT) env steps")
    ax.set_ylabel("GT success (held-out seeds)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def run(config: Config, out_dir: str, quick: bool = False) -> BenchResult:
    """The loop first (its real steps set the GT arms' budgets), then PPO in the GT env at 1x and ceiling_factor x."""
    from cosmos_sim.train.loop import Args as LoopArgs
    from cosmos_sim.train.loop import train_loop
    from cosmos_sim.world_models.wfm import set_torch_threads

    cfg = _quick(config) if quick else config
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(cfg.work_dir) if cfg.work_dir else out / "rl_loop"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    set_torch_threads(cfg.threads, what="bench rl-loop")
    cloned = bool(cfg.bc_episodes)
    if cloned:
        cfg = _clone_expert(cfg, work)

    t0 = time.perf_counter()
    loop_rows = train_loop(
        LoopArgs(
            env_id=cfg.env_id,
            wfm=cfg.wfm,
            perception=cfg.perception,
            perception_steps=cfg.perception_steps,
            proprio=cfg.proprio if cfg.perception else (),
            static=cfg.static if cfg.perception else (),
            tracked=cfg.tracked if cfg.perception else (),
            policy_init=cfg.policy_init,
            prior_data=cfg.prior_data,
            anchor_coef=cfg.anchor_coef if cfg.policy_init else 0.0,
            value_warmup=cfg.value_warmup if cfg.policy_init else 0,
            gate_episodes=cfg.gate_episodes,
            improve=cfg.improve,
            imitate_epochs=cfg.bc_epochs,
            hold=cfg.hold and cfg.reward == "perceived",  # the head's reward ends its own episodes
            reward=cfg.reward,
            out=str(work / "loop"),
            iterations=cfg.iterations,
            real_episodes=cfg.real_episodes,
            wfm_steps=cfg.wfm_steps,
            imagination_steps=cfg.imagination_steps,
            horizon=cfg.horizon,
            num_envs=cfg.num_envs,
            num_steps=cfg.num_steps,
            ppo_lr=cfg.learning_rate,
            eval_episodes=cfg.eval_episodes,
            seed=cfg.seed,
            threads=cfg.threads,
            device="cpu",
            progress=False,
        )
    )
    budget = loop_rows[-1]["real_steps"]
    loop = {
        "arm": "loop",
        "real_steps": budget,
        "gt_success": loop_rows[-1]["gt_success"],
        "believed_success": loop_rows[-1]["believed_success"],
        "seconds": round(time.perf_counter() - t0, 1),
        "curve": [(r["real_steps"], r["gt_success"]) for r in loop_rows],
        "believed_curve": [(r["real_steps"], r["believed_success"]) for r in loop_rows],
    }
    rows = [
        loop,
        _gt_ppo("ppo-gt", cfg, budget, work),
        _gt_ppo(f"ppo-gt-{cfg.ceiling_factor}x", cfg, cfg.ceiling_factor * budget, work),
    ] + ([_start(cfg)] if cfg.policy_init else [])
    if cloned:
        rows.append(_more_demos(cfg, budget, work))
    _plot(rows, out / "rl_loop.png", f"{cfg.env_id}: GT success vs real env steps")

    gaps = [abs(r["believed_success"] - r["gt_success"]) for r in loop_rows]
    # real steps PPO in the GT env needed to first reach the loop's final GT success (its two curves together)
    reached = [n for n, ok in rows[1]["curve"] + rows[2]["curve"] if ok >= loop["gt_success"] > 0]
    figures = {
        "loop_gt_success": loop["gt_success"],
        "loop_real_steps": budget,
        "ppo_gt_success_same_budget": rows[1]["gt_success"],
        "ppo_gt_success_ceiling": rows[2]["gt_success"],
        "ppo_gt_steps_to_loop_success": min(reached) if reached else float("nan"),
        "loop_real_step_fraction": round(budget / min(reached), 3) if reached else float("nan"),
        # when PPO never got there: the loop's steps over the most PPO used, an upper bound of the fraction
        "loop_real_step_fraction_at_most": round(
            budget / (min(reached) if reached else rows[2]["real_steps"]), 3
        ),
        "reward_head_max_calibration_gap": round(max(gaps), 3),
    }
    by_arm = {r["arm"]: r for r in rows}
    if cfg.policy_init:
        figures["start_gt_success"] = by_arm["start"]["gt_success"]
        figures["loop_minus_start"] = round(loop["gt_success"] - by_arm["start"]["gt_success"], 4)
    if cloned:
        figures["bc_more_demos_gt_success"] = by_arm["bc-more-demos"]["gt_success"]
        figures["loop_minus_bc_more_demos"] = round(
            loop["gt_success"] - by_arm["bc-more-demos"]["gt_success"], 4
        )
    table = [
        {
            "case": "arms",
            **{k: (json.dumps(v) if k in ("curve", "believed_curve") else v) for k, v in r.items()},
        }
        for r in rows
    ]
    table += [
        {
            "case": "loop iterations",
            **{
                k: r[k]
                for k in (
                    "iteration",
                    "real_steps",
                    "gt_success",
                    "believed_success",
                    "train_success",
                    "collect_success",
                )
            },
            **{k: r[k] for k in ("collect_s", "wfm_s", "policy_s", "eval_s")},
        }
        for r in loop_rows
    ]
    seen = (
        f"through the state estimator {cfg.perception} (cosmos_sim/Perceived-v0: every arm's policy reads "
        "positions estimated from the frame, real or predicted)"
        if cfg.perception
        else "from the raw frames"
    )
    judge = (
        "the task's reward of the estimated state"
        if cfg.perception and cfg.reward == "perceived"
        else "the reward head"
    )
    if cfg.perception and cfg.static:
        seen += f"; {', '.join(cfg.static)} read off each episode's first frame and held"
    if cfg.perception and cfg.proprio:
        seen += (
            f"; {', '.join(cfg.proprio)} are proprioception instead (the GT env's true state; inside the model, "
            "the loop's proprioception model, fitted on its real episodes every iteration)"
        )
    if cfg.perception and cfg.tracked:
        seen += (
            f"; {', '.join(cfg.tracked)} read off every real frame, and inside the model predicted with the "
            "proprioception by the same state model"
        )
    if cfg.policy_init:
        seen += (
            f"; every arm starts from {cfg.policy_init} (arm start: its own GT success), PPO anchored to it "
            f"(coefficient {cfg.anchor_coef}, {cfg.value_warmup} value-only updates first)"
        )
    if cfg.hold and cfg.reward == "perceived":
        seen += "; inside the model a success does not end the imagined episode (--hold: the reward goes on)"
    if cfg.prior_data:
        seen += f"; the loop's models also fit {', '.join(cfg.prior_data)} (not counted in its real steps)"
    if cfg.gate_episodes:
        seen += (
            f"; the loop keeps a new policy only if it does not do worse than the old one on {cfg.gate_episodes} "
            "real training-seed episodes (counted as real steps)"
        )
    notes = (
        f"Task {cfg.env_id} from pixels (64x64) {seen}, held-out seeds {HELD_OUT_SEED}.."
        f"{HELD_OUT_SEED + cfg.eval_episodes - 1}, the policy's mean action. Loop: {cfg.iterations} iterations "
        f"x {cfg.real_episodes} real episodes, {cfg.wfm_steps} world-model steps (from {cfg.wfm})"
        + (f", {cfg.perception_steps} estimator steps" if cfg.perception and cfg.perception_steps else "")
        + (
            f" and {cfg.imagination_steps} imagined PPO steps (horizon {cfg.horizon}) each"
            if cfg.improve == "ppo"
            else f" and {cfg.imagination_steps} imagined steps of the scripted expert acting on the believed state "
            f"(horizon {cfg.horizon}) each, the policy cloned again ({cfg.bc_epochs} epochs) on the demonstrations and "
            "every imagined episode so far (--improve imitate; train = the expert's believed success in the model)"
        )
        + f"; reward inside the model: {judge}. GT arms: PPO ({cfg.num_envs} envs x {cfg.num_steps} steps) with the loop's {budget} "
        f"real steps and {cfg.ceiling_factor}x that; ppo_gt_steps_to_loop_success: the fewest real steps after which "
        "a GT arm's evaluation reached the loop's final GT success (loop_real_step_fraction: the loop's steps over "
        f"those; goal <= 0.5). Loop iterations: believed = the GT evaluation repeated inside the "
        f"model (same policy and seeds, {judge}'s verdict); train = success of the sampled policy's finished "
        "episodes in the last quarter of the iteration's PPO updates (biased up: successes end early); collect = success of the "
        "sampled policy on the real episodes it collected."
        + (
            " Arm bc-more-demos: the loop's real steps spent on more expert episodes instead (seeds "
            f"{MORE_DEMO_SEED}..), cloned with the first {DEMO_SEED}.. ones, the same BC settings: what the loop's "
            "use of its real steps must beat."
            if cloned
            else ""
        )
        + " Plot: rl_loop.png."
    )
    return BenchResult("rl_loop", figures=figures, rows=table, notes=notes)
