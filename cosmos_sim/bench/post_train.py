"""``cosmos-sim bench post-train``: adapt a shipped world model to a new robot with LoRA, a full fine-tune,
or training from scratch, at equal steps and equal data.

The shipped manipulation world model (``base``, trained on the MuJoCo arm) meets the PyBullet Kuka scene
(``env_id``: another robot, table and renderer, the same push task and action layout):

1. ``generate``: ``max(episodes)`` noisy-expert episodes of the new scene (seeds 0..) with segmentation,
   and ``val_episodes`` held-out ones (seeds 100000..); the first N episodes make the N-episode set.
2. For every N in ``episodes`` and every arm, ``train-wfm`` for ``steps`` steps on those N episodes:
       lora     ``--lora-rank rank --init-from base``: adapters (peft) on qkv/proj/mlp, the action embedding
                and the patch in/out projections (``targets``), the base frozen
       full     ``--init-from base``: every weight of the dynamics and the head trains
       scratch  the base's architecture, freshly initialised
   each with its own learning rate (LoRA's updates start at zero and want a larger one).
3. Every result and the unadapted base are scored on the held-out episodes, open loop for
   ``rollout_steps`` steps from the first frame with the recorded actions (``eval.rollouts.evaluate``):
   PSNR (mean over steps and at the last step) and the block's object IoU / centroid error at the last
   step, beside copy-last-frame; with trainable parameters, size on disk and wall time.

Figures: for each N, LoRA's share of the full fine-tune's PSNR gain over the unadapted base (goal >= 0.9
at 50 episodes, with <= 5 % of the parameters trainable) and LoRA minus scratch. Everything made stays in
``work_dir`` (default ``OUT/post_train``); the learning curves (held-out PSNR every ``eval_every`` steps)
go to ``post_train.png``.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from cosmos_sim.bench.common import BenchResult, check_at_least, config_error
from cosmos_sim.eval import HELD_OUT_SEED

ARMS = ("lora", "full", "scratch")


#: The LoRA arm's targets. Cosmos's four alone reach 79 % of the full fine-tune's gain here (50 episodes,
#: lr 1e-3 against a full fine-tune at 2e-4; 84 % at lr 4e-3); with the action embedding, 96 %; with the patch
#: projections too, 100 %. A full fine-tune at 1e-3 gains more than at 2e-4 or 4e-4 (20.17 / 20.04 / 20.14 dB),
#: so both arms run at their best measured rate (one probe each, 50 episodes, 800 steps).
LORA_TARGETS = ("qkv", "proj", "mlp.0", "mlp.2", "action_emb.0", "action_emb.2", "patch_in", "patch_out")


@dataclass(frozen=True)
class Config:
    """Options of ``cosmos-sim bench post-train`` (``--quick``: 2 and 4 episodes, 4 steps, a smoke run)."""

    base: str = "manip-dit-nano"
    """The world model to adapt: a shipped name or a bundle directory."""
    env_id: str = "cosmos_sim/Manipulation-Bullet-GT-v0"
    """The new robot's scene (same action layout as the base's)."""
    episodes: tuple[int, ...] = (10, 50, 200)
    """Training-set sizes (noisy-expert episodes, seeds 0..)."""
    val_episodes: int = 8
    """Held-out episodes (seeds 100000..) every model is scored on."""
    steps: int = 1500
    """Training steps of every arm (equal steps)."""
    eval_every: int = 500
    """Steps between held-out evaluations (the learning curves)."""
    batch_size: int = 32
    """Samples per step."""
    rank: int = 8
    """LoRA rank (alpha = rank)."""
    targets: tuple[str, ...] = LORA_TARGETS
    """Linear layers that get adapters: Cosmos's (attention qkv/proj, both MLP layers) plus the action
    embedding and the patch in/out projections, which a robot with other actions needs most."""
    lr_lora: float = 4e-3
    """Peak learning rate of the LoRA arm."""
    lr_full: float = 1e-3
    """Peak learning rate of the full fine-tune."""
    lr_scratch: float = 5e-4
    """Peak learning rate from scratch (the trainer's default)."""
    rollout_steps: int = 16
    """Open-loop steps scored per held-out episode."""
    workers: int = 1
    """Worker processes of the recording."""
    threads: int = 1
    """torch CPU threads."""
    work_dir: str = ""
    """Where the stores and runs go (default OUT/post_train); replaced on each run."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "episodes", tuple(int(n) for n in self.episodes))
        check_at_least("post-train", self, 1, "val_episodes", "steps", "eval_every", "batch_size", "rank")
        check_at_least("post-train", self, 1, "rollout_steps", "workers")
        check_at_least("post-train", self, 0, "threads")
        if not self.episodes or min(self.episodes) < 1:
            raise config_error("post-train", "episodes", self.episodes, "one or more sizes >= 1")


def _quick(cfg: Config) -> Config:
    return dataclasses.replace(
        cfg, episodes=(2, 4), val_episodes=2, steps=4, eval_every=2, batch_size=4, rollout_steps=4
    )


def _subset(src, path: Path, n: int):
    """A store of the first ``n`` episodes of ``src`` (same attrs)."""
    from cosmos_sim.data.store import TrajectoryStore

    dst = TrajectoryStore.create(path, attrs=dict(src.attrs))
    for e in range(n):
        dst.add_episode(src.episode(e), seed=int(src.episode_seeds[e]))
    return dst


def _dir_mb(path: Path) -> float:
    return (
        sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and f.parent.name != "tokenizer") / 1e6
    )


def run(config: Config, out_dir: str, quick: bool = False) -> BenchResult:
    """Record the new scene, train every arm on every data size, score them all on the same held-out set."""
    from cosmos_sim.data.generate import GenerateConfig, generate
    from cosmos_sim.data.store import TrajectoryStore
    from cosmos_sim.eval.rollouts import evaluate, held_out_episodes
    from cosmos_sim.train import wfm as train_wfm
    from cosmos_sim.world_models.lora import trainable_parameters
    from cosmos_sim.world_models.wfm import WorldModel, set_torch_threads

    cfg = _quick(config) if quick else config
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(cfg.work_dir) if cfg.work_dir else out / "post_train"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    set_torch_threads(cfg.threads, what="bench post-train")
    base_dir = WorldModel.resolve_pretrained(cfg.base)
    base = WorldModel.from_pretrained(base_dir, device="cpu")
    if base.config.frame_size != (64, 64):
        raise config_error("post-train", "base", cfg.base, "a world model of 64x64 frames")

    # 1. the new robot's episodes
    t0 = time.perf_counter()
    common = dict(env_id=cfg.env_id, policy="noisy-expert", resolution=(64, 64), maps=("seg",))
    common |= dict(workers=cfg.workers, progress=False)
    generate(GenerateConfig(episodes=max(cfg.episodes), seed=0, out=str(work / "train_all.zarr"), **common))
    val_store = str(work / "val.zarr")
    generate(GenerateConfig(episodes=cfg.val_episodes, seed=HELD_OUT_SEED, out=val_store, **common))
    record_s = time.perf_counter() - t0
    full_store = TrajectoryStore.open(work / "train_all.zarr")
    held = held_out_episodes((val_store,), cfg.val_episodes, cfg.rollout_steps)

    # 2. the unadapted base on the new scene
    rows: list[dict] = []
    before = evaluate(base, held)
    rows.append(_row("unadapted", 0, before, base, trainable_parameters(base)[1], 0, 0.0, _dir_mb(base_dir)))
    d = base.config.dynamics
    shape = dict(
        context_frames=d.context_frames,
        dim=d.dim,
        depth=d.depth,
        heads=d.heads,
        mlp_ratio=d.mlp_ratio,
        context_mode=d.context_mode,
        patch=d.patch[0],
        sampler_steps=base.config.sampler_steps,
    )
    curves: dict[str, list[tuple[int, float]]] = {}
    for n in cfg.episodes:
        store = str(work / f"train_{n}.zarr")
        _subset(full_store, Path(store), n)
        for arm in ARMS:
            run_dir = work / f"{arm}_{n}"
            args = train_wfm.Args(
                data=(store,),
                val_data=(val_store,),
                tokenizer=str(base.tokenizer_source),
                out=str(run_dir),
                cache_dir=str(work / "cache"),
                init_from="" if arm == "scratch" else str(base_dir),
                lora_rank=cfg.rank if arm == "lora" else 0,
                lora_targets=cfg.targets,
                head_weight=0.0,  # the reward head is not scored; its loss would only shrink clipped steps
                lr={"lora": cfg.lr_lora, "full": cfg.lr_full, "scratch": cfg.lr_scratch}[arm],
                warmup=min(100, max(1, cfg.steps // 10)),
                steps=cfg.steps,
                batch_size=cfg.batch_size,
                eval_every=cfg.eval_every,
                eval_episodes=cfg.val_episodes,
                rollout_steps=cfg.rollout_steps,
                threads=cfg.threads,
                progress=False,
                extra={"command": "cosmos-sim bench post-train"},
                **shape,
            )
            t0 = time.perf_counter()
            train_wfm.train(args)
            wall = time.perf_counter() - t0
            lines = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
            curves[f"{arm} {n}"] = [(x["step"], x["val_psnr"]) for x in lines]
            # the final EMA weights (best/ is the best PSNR seen; every arm is compared at its last step)
            model = WorldModel.from_pretrained(
                base_dir if arm == "lora" else run_dir / "last",
                device="cpu",
                adapter=run_dir / "last" if arm == "lora" else None,
            )
            _load_ema(model, run_dir / "last")
            n_train = trainable_parameters(model)[0] if arm != "lora" else _lora_trainable(run_dir)
            size = _dir_mb(run_dir / "best")
            rows.append(_row(arm, n, evaluate(model, held), model, n_train, n, wall, size))
    figures = _figures(rows, before, cfg)
    _plot(curves, before["val_psnr"], out / "post_train.png")
    notes = _notes(cfg, rows, figures, record_s)
    return BenchResult("post_train", figures=figures, rows=rows, notes=notes)


def _load_ema(model, last_dir: Path) -> None:
    """Replace ``model``'s trained weights by the run's EMA (what the trainer evaluates and ships)."""
    import torch

    state = torch.load(last_dir / "train_state.pt", weights_only=False)
    if state.get("ema") is not None:
        model.load_state_dict(state["ema"], strict=False)


def _lora_trainable(run_dir: Path) -> int:
    from safetensors.torch import load_file

    return sum(v.numel() for v in load_file(str(run_dir / "last" / "adapter_model.safetensors")).values())


def _row(arm: str, n: int, m: dict, model, n_train: int, episodes: int, wall: float, size_mb: float) -> dict:
    total = sum(p.numel() for p in (*model.dynamics.parameters(), *model.head.parameters()))
    if arm == "lora":
        total -= n_train  # the adapters are extra weights: the share is of the base's
    return {
        "arm": arm,
        "episodes": episodes,
        "psnr": round(m["val_psnr"], 2),
        "psnr_last": round(m["val_psnr_last"], 2),
        "copy_psnr": round(m["copy_psnr"], 2),
        "block_iou_last": round(m.get("val_object_iou_last", float("nan")), 3),
        "centroid_px_last": round(m.get("val_centroid_px_last", float("nan")), 2),
        "trainable_params": int(n_train),
        "trainable_pct": round(100 * n_train / total, 2),
        "size_mb": round(size_mb, 3),
        "train_s": round(wall, 1),
    }


def _figures(rows: list[dict], before: dict, cfg: Config) -> dict[str, float]:
    by = {(r["arm"], r["episodes"]): r for r in rows}
    figures = {"unadapted_psnr": round(before["val_psnr"], 2)}
    for n in cfg.episodes:
        lora, full, scratch = (by[(a, n)] for a in ARMS)
        gain_full = full["psnr"] - figures["unadapted_psnr"]
        gain_lora = lora["psnr"] - figures["unadapted_psnr"]
        figures[f"lora_share_of_full_gain_{n}"] = (
            round(gain_lora / gain_full, 3) if gain_full > 0 else float("nan")
        )
        figures[f"lora_minus_scratch_psnr_{n}"] = round(lora["psnr"] - scratch["psnr"], 2)
        figures[f"lora_trainable_pct_{n}"] = lora["trainable_pct"]
    return figures


def _plot(curves: dict[str, list[tuple[int, float]]], unadapted: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    styles = {"lora": "-", "full": "--", "scratch": ":"}
    for label, pts in curves.items():
        arm = label.split()[0]
        ax.plot(*zip(*pts, strict=True), styles[arm], marker="o", label=label)
    ax.axhline(unadapted, color="grey", lw=1, label="unadapted base")
    ax.set_xlabel("training steps")
    ax.set_ylabel("held-out open-loop PSNR (dB)")
    ax.legend(fontsize=7, ncol=3)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _notes(cfg: Config, rows: list[dict], figures: dict, record_s: float) -> str:
    share = figures.get("lora_share_of_full_gain_50")
    lines = [
        f"Base {cfg.base} (MuJoCo arm) adapted to {cfg.env_id} with {list(cfg.episodes)} noisy-expert episodes "
        f"(seeds 0..), {cfg.steps} steps per arm at batch {cfg.batch_size}, scored open loop for "
        f"{cfg.rollout_steps} steps on {cfg.val_episodes} held-out episodes (seeds {HELD_OUT_SEED}..) from the "
        "final EMA weights (dynamics only: the reward head is not trained or scored here). LoRA: rank "
        f"{cfg.rank} on {'/'.join(cfg.targets)} (peft), lr {cfg.lr_lora}; full fine-tune lr {cfg.lr_full}; "
        f"scratch lr {cfg.lr_scratch}. Size = the files of OUT/best (an adapter directory for LoRA, a bf16 "
        f"bundle without its tokenizer otherwise). Recording took {record_s:.0f} s.",
    ]
    if share is not None:
        lines.append(
            f"Goal: LoRA with 50 episodes reaches >= 90 % of the full fine-tune's gain with <= 5 % of the "
            f"parameters trainable and beats scratch: {share:.0%} of the gain, "
            f"{figures['lora_trainable_pct_50']} % trainable, {figures['lora_minus_scratch_psnr_50']:+.2f} dB "
            "over scratch."
        )
    lines.append("Learning curves: post_train.png.")
    return "\n\n".join(lines)
