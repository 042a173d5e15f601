"""``cosmos-sim bench dream-to-real``: does a policy trained inside the world model work in physics?

Same algorithm (``policies/ppo.py``), same budget of env steps, different worlds:

    ppo-gt         PPO from scratch in ``cosmos_sim/Manipulation-GT-v0`` (MuJoCo)
    ppo-wfm        PPO from scratch only inside ``cosmos_sim/Manipulation-WFM-v0`` (reward and
                   termination from the world model's reward head)
    bc             behaviour cloning on expert episodes (``bc_data``), no env steps
    bc+ppo-wfm     the BC policy fine-tuned by PPO inside the world model
    bc+ppo-gt      the same fine-tune in the GT env (the reference for bc+ppo-wfm)

Every arm is evaluated in the GT env on held-out seeds (``>= 100000``) at ``eval_points`` points of
its budget, with the policy's mean action. Figures: final GT success and return per arm, the
ratios the goal asks about (WFM-trained / GT-trained success, >= 0.8 is the target), the success
the WFM-trained arms believed they had inside the model (reward head) beside their GT success,
and steps/s. Writes ``dream_to_real.{json,md,png}`` (the plot: GT success vs env steps per arm).

The default expert data are the tokenizer's 40 expert episodes plus 160 more::

    cosmos-sim generate --env cosmos_sim/Manipulation-GT-v0 --policy expert --episodes 160 --seed 40 \
        --workers 2 --resolution 64x64 --out data/pol/train_manip_expert_40.zarr
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cosmos_sim.bench.common import BenchResult, check_at_least, config_error

GT_ID = "cosmos_sim/Manipulation-GT-v0"
WFM_ID = "cosmos_sim/Manipulation-WFM-v0"


@dataclass(frozen=True)
class Config:
    """Budget and settings of the dream-to-real benchmark."""

    steps: int = 24576
    """Env-step budget of every PPO run (from scratch and fine-tune alike)."""
    num_envs: int = 16
    """Parallel envs per PPO run (the WFM steps them in one batch)."""
    num_steps: int = 64
    """Steps per env per PPO rollout."""
    learning_rate: float = 3e-4
    """PPO learning rate from scratch."""
    finetune_learning_rate: float = 3e-5
    """PPO learning rate when fine-tuning the BC policy."""
    eval_points: int = 4
    """GT evaluations per PPO arm, evenly spaced over its budget (plus step 0 for fine-tunes)."""
    eval_episodes: int = 16
    """Held-out GT episodes per evaluation (seeds 100000...)."""
    bc_data: tuple[str, ...] = ("data/tok/train_manip_expert.zarr", "data/pol/train_manip_expert_40.zarr")
    """Expert trajectory stores behaviour cloning learns from."""
    bc_epochs: int = 15
    """Behaviour-cloning epochs."""
    wfm: str = "manip-dit-nano"
    """World model of the WFM arms (bundle directory or shipped name)."""
    seed: int = 0
    """Seed of every run."""
    threads: int = 1
    """torch threads (the budget is stated for one)."""
    keep_policies: str = ""
    """Directory to keep the trained policies in (empty: a temporary directory)."""

    def __post_init__(self) -> None:
        check_at_least(
            "dream-to-real",
            self,
            1,
            "steps",
            "num_envs",
            "num_steps",
            "eval_points",
            "eval_episodes",
            "bc_epochs",
            "threads",
        )
        for name in ("learning_rate", "finetune_learning_rate"):
            if getattr(self, name) <= 0:
                raise config_error("dream-to-real", name, getattr(self, name), "a rate > 0")
        if not self.bc_data:
            raise config_error("dream-to-real", "bc_data", self.bc_data, "one or more trajectory stores")
        if not self.wfm:
            raise config_error("dream-to-real", "wfm", self.wfm, "a bundle directory or shipped name")


def _quick(cfg: Config) -> Config:
    """``--quick``: at most 512 env steps (4 envs x 32 steps), one GT evaluation of 2 episodes, 1 BC epoch."""
    return dataclasses.replace(
        cfg,
        steps=min(cfg.steps, 512),
        num_envs=min(cfg.num_envs, 4),
        num_steps=min(cfg.num_steps, 32),
        eval_points=min(cfg.eval_points, 1),
        eval_episodes=min(cfg.eval_episodes, 2),
        bc_epochs=min(cfg.bc_epochs, 1),
    )


class _GTEvaluator:
    """PPO callback: evaluate in the GT env whenever the step count passes the next mark."""

    def __init__(self, marks: list[int], episodes: int):
        self.marks, self.episodes, self.curve = list(marks), episodes, []
        self.seconds = 0.0

    def __call__(self, step: int, net) -> None:
        if self.marks and step >= self.marks[0]:
            while self.marks and step >= self.marks[0]:
                self.marks.pop(0)
            self.evaluate(step, net)

    def evaluate(self, step: int, net) -> dict[str, Any]:
        from cosmos_sim.policies.evaluate import HELD_OUT_SEED, run_episodes

        t0 = time.perf_counter()
        r, _ = run_episodes(net, GT_ID, list(range(HELD_OUT_SEED, HELD_OUT_SEED + self.episodes)))
        self.seconds += time.perf_counter() - t0
        point = {
            "step": step,
            "gt_success": r.success_rate,
            "gt_return": r.mean_return,
            "gt_length": r.mean_length,
        }
        self.curve.append(point)
        return point


def _ppo_arm(
    name: str, env_id: str, env_kwargs: dict, cfg: Config, out: Path, init_from: str = ""
) -> dict[str, Any]:
    from cosmos_sim.policies.networks import load_policy
    from cosmos_sim.policies.ppo import Args, train

    marks = [int(round(cfg.steps * (i + 1) / cfg.eval_points)) for i in range(cfg.eval_points)]
    marks[-1] = min(marks[-1], cfg.steps)
    ev = _GTEvaluator(marks, cfg.eval_episodes)
    if init_from:
        ev.evaluate(0, load_policy(init_from).net)
    args = Args(
        env_id=env_id,
        env_kwargs=json.dumps(env_kwargs) if env_kwargs else "",
        out=str(out / name),
        init_from=init_from,
        total_steps=cfg.steps,
        num_envs=cfg.num_envs,
        num_steps=cfg.num_steps,
        learning_rate=cfg.finetune_learning_rate if init_from else cfg.learning_rate,
        seed=cfg.seed,
        device="cpu",
        checkpoint_every=1000,
        progress=False,
    )
    shutil.rmtree(out / name, ignore_errors=True)  # a kept run from before would be resumed, not redone
    t0 = time.perf_counter()
    r = train(args, callback=ev)
    seconds = time.perf_counter() - t0
    if not ev.curve or ev.curve[-1]["step"] < r["global_step"]:
        ev.evaluate(r["global_step"], load_policy(out / name).net)
    train_seconds = seconds - ev.seconds
    seen = [h for h in r["history"] if h.get("success_rate") is not None]
    quarter = max(1, len(seen) // 4)
    head, tail = seen[:quarter], seen[-quarter:]  # the first and last quarter of the run's training episodes
    return {
        "arm": name,
        "trained_in": env_id.split("/")[-1],
        "init": "bc" if init_from else "scratch",
        "env_steps": r["global_step"],
        "gt_success": ev.curve[-1]["gt_success"],
        "gt_return": ev.curve[-1]["gt_return"],
        "train_env_success_first_quarter": float(np.mean([h["success_rate"] for h in head]))
        if head
        else None,
        "train_env_success_last_quarter": float(np.mean([h["success_rate"] for h in tail])) if tail else None,
        "train_env_return_last_quarter": float(np.mean([h["return_mean"] for h in tail])) if tail else None,
        "train_steps_per_s": r["global_step"] / max(train_seconds, 1e-9),
        "train_seconds": train_seconds,
        "eval_seconds": ev.seconds,
        "curve": ev.curve,
    }


def plot(rows: list[dict[str, Any]], path: Path, title: str) -> None:
    """GT success vs env steps, one line per arm (BC alone as a dashed level)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.8), dpi=100)
    for r in rows:
        steps = [p["step"] for p in r["curve"]]
        succ = [100 * p["gt_success"] for p in r["curve"]]
        if r["arm"] == "bc":
            ax.axhline(succ[0], ls="--", color="grey", label="bc (no env steps)")
        else:
            ax.plot(steps, succ, marker="o", ms=4, label=r["arm"])
    ax.set_xlabel("env steps of training")
    ax.set_ylabel("GT success on held-out seeds (%)")
    ax.set_ylim(-3, 103)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def run(config: Config, out_dir: str, quick: bool = False) -> BenchResult:
    """Train and evaluate every arm within the budget of ``config``; the plot goes to ``out_dir``."""
    from cosmos_sim.policies import bc

    cfg = config
    if quick:
        cfg = _quick(cfg)
    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    work = Path(cfg.keep_policies) if cfg.keep_policies else Path(tempfile.mkdtemp(prefix="dream_to_real_"))
    work.mkdir(parents=True, exist_ok=True)
    wfm_kwargs = {"checkpoint": cfg.wfm, "device": "cpu"}
    t_start = time.perf_counter()
    try:
        t0 = time.perf_counter()
        bc_out = bc.train(
            bc.Args(
                data=cfg.bc_data,
                env_id=GT_ID,
                out=str(work / "bc"),
                epochs=cfg.bc_epochs,
                seed=cfg.seed,
                device="cpu",
            )
        )
        bc_seconds = time.perf_counter() - t0
        from cosmos_sim.policies.networks import load_policy

        ev = _GTEvaluator([], cfg.eval_episodes)
        point = ev.evaluate(0, load_policy(work / "bc").net)
        rows = [
            {
                "arm": "bc",
                "trained_in": "expert data",
                "init": "scratch",
                "env_steps": 0,
                "gt_success": point["gt_success"],
                "gt_return": point["gt_return"],
                "train_seconds": bc_seconds,
                "eval_seconds": ev.seconds,
                "curve": ev.curve,
                "bc_pairs": bc_out["pairs"],
                "bc_val_action_mse": bc_out["val_mse"],
            }
        ]
        rows.append(_ppo_arm("ppo-gt", GT_ID, {}, cfg, work))
        rows.append(_ppo_arm("ppo-wfm", WFM_ID, wfm_kwargs, cfg, work))
        rows.append(_ppo_arm("bc+ppo-gt", GT_ID, {}, cfg, work, init_from=str(work / "bc")))
        rows.append(_ppo_arm("bc+ppo-wfm", WFM_ID, wfm_kwargs, cfg, work, init_from=str(work / "bc")))
    finally:
        torch.set_num_threads(threads)
        if not cfg.keep_policies:
            shutil.rmtree(work, ignore_errors=True)
    total = time.perf_counter() - t_start
    by = {r["arm"]: r for r in rows}
    figures: dict[str, float] = {
        f"gt_success_{a.replace('+', '_').replace('-', '_')}": r["gt_success"] for a, r in by.items()
    }
    figures |= {f"gt_return_{a.replace('+', '_').replace('-', '_')}": r["gt_return"] for a, r in by.items()}
    ratios = {
        "success_ratio_wfm_over_gt_scratch": _ratio(by["ppo-wfm"]["gt_success"], by["ppo-gt"]["gt_success"]),
        "success_ratio_wfm_over_gt_finetune": _ratio(
            by["bc+ppo-wfm"]["gt_success"], by["bc+ppo-gt"]["gt_success"]
        ),
    }
    figures |= {k: v for k, v in ratios.items() if v is not None}
    for a in ("ppo-wfm", "bc+ppo-wfm"):
        v = by[a]["train_env_success_last_quarter"]
        if v is not None:
            figures[f"wfm_believed_success_{a.replace('+', '_').replace('-', '_')}"] = v
    figures |= {
        "env_steps_budget": cfg.steps,
        "steps_per_s_ppo_gt": by["ppo-gt"]["train_steps_per_s"],
        "steps_per_s_ppo_wfm": by["ppo-wfm"]["train_steps_per_s"],
        "total_seconds": total,
    }
    figures = {k: round(float(v), 4) for k, v in figures.items()}
    table = [
        {k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items() if k != "curve"}
        | {"gt_success_curve": [[p["step"], round(p["gt_success"], 3)] for p in r["curve"]]}
        for r in rows
    ]
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    plot(
        rows,
        Path(out_dir) / "dream_to_real.png",
        f"PPO with {cfg.steps} env steps per arm; GT eval on {cfg.eval_episodes} held-out seeds",
    )
    notes = _notes(cfg, by, ratios, total)
    return BenchResult(name="dream_to_real", figures=figures, rows=table, notes=notes)


def _notes(cfg: Config, by: dict[str, dict], ratios: dict[str, float | None], total: float) -> str:
    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{100 * x:.0f} %"

    lines = [
        f"Budget: {cfg.steps} env steps per PPO arm ({cfg.num_envs} envs x {cfg.num_steps} steps per rollout), "
        f"torch threads={cfg.threads}, {total / 60:.1f} min in total. BC: {cfg.bc_epochs} epochs on "
        f"{by['bc'].get('bc_pairs')} (frame, action) pairs of {', '.join(cfg.bc_data)}. Every arm is evaluated in "
        f"{GT_ID} on seeds 100000..{100000 + cfg.eval_episodes - 1} (held out) with the policy's mean action.",
        "",
        f"WFM-trained / GT-trained GT success: from scratch {pct(ratios['success_ratio_wfm_over_gt_scratch'])}, "
        f"BC then fine-tuned {pct(ratios['success_ratio_wfm_over_gt_finetune'])} (goal: >= 80 %). "
        f"Success the WFM arms saw inside the model (reward head, last quarter of training): ppo-wfm "
        f"{pct(by['ppo-wfm']['train_env_success_last_quarter'])}, bc+ppo-wfm "
        f"{pct(by['bc+ppo-wfm']['train_env_success_last_quarter'])}; in the GT env: "
        f"{pct(by['ppo-wfm']['gt_success'])} and {pct(by['bc+ppo-wfm']['gt_success'])}.",
        "",
        *_findings(by, ratios),
        "",
        "Plot: dream_to_real.png (GT success vs env steps per arm).",
    ]
    return "\n".join(lines)


def _findings(by: dict[str, dict], ratios: dict[str, float | None]) -> list[str]:
    """Plain statements of where the WFM-trained arms fall short, from the measured numbers."""
    out = []
    for wfm, gt in (("ppo-wfm", "ppo-gt"), ("bc+ppo-wfm", "bc+ppo-gt")):
        believed, real, ref = (
            by[wfm]["train_env_success_last_quarter"],
            by[wfm]["gt_success"],
            by[gt]["gt_success"],
        )
        if ref == 0:
            out.append(
                f"- {gt} reached 0 % GT success, so the {wfm}/{gt} ratio is undefined: this budget is too "
                "small for PPO here in either world."
            )
        elif real / ref >= 0.8:
            out.append(f"- {wfm} reaches {100 * real / ref:.0f} % of {gt}'s GT success: the goal is met.")
        else:
            out.append(
                f"- {wfm} reaches {100 * real / ref:.0f} % of {gt}'s GT success: short of the 80 % goal."
            )
        first = by[wfm].get("train_env_success_first_quarter")
        if believed is not None and believed > real + 0.05:
            out.append(
                f"- {wfm} believed it succeeded in {100 * believed:.0f} % of its model episodes (last quarter "
                f"of training) but succeeds in {100 * real:.0f} % of GT episodes."
            )
            if first is not None and first >= believed:
                out.append(
                    f"  It believed so from the start ({100 * first:.0f} % in the first quarter, before PPO had "
                    "changed the policy much): the reward head fires on the drifting frames of off-distribution "
                    "rollouts (false positives), which end episodes with a false success. The WFM reward "
                    "carries little signal about the block, so PPO has nothing right to learn from there; "
                    "this is model/reward-head error, not a policy that learned to exploit it."
                )
            else:
                out.append(
                    "  The believed success grew during training: the policy learned to trigger the reward "
                    "head (exploiting model errors), not to move the block in physics."
                )
    bc, ft = by["bc"]["gt_success"], by["bc+ppo-gt"]["gt_success"]
    if ft < bc:
        out.append(
            f"- Fine-tuning BC with PPO lowered GT success in GT itself ({100 * bc:.0f} % -> {100 * ft:.0f} %): "
            "the critic starts untrained, so the first updates push the cloned policy around; a value "
            "warm-up, a KL/BC penalty or a larger budget would be needed before any world can help."
        )
    return out


__all__ = ["Config", "plot", "run"]
