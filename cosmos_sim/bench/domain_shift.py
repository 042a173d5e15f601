"""``cosmos-sim bench domain-shift``: success a policy loses to an unseen look, and what augmentation wins back.

Issue 17's downstream measure (``cosmos_sim/eval/domain_shift.py`` has the method). One arm per training set,
each made of noisy-expert push episodes of ``cosmos_sim/Manipulation-GT-v0`` recorded with their true state:

    default              all ``default_data`` episodes (the default look)
    half randomized-GT   the first half of them + the second half's seeds recorded under "randomized":
                         a perfect augmentation (the upper reference)
    half augmented       the first half + the ``augmented`` store's re-renderings of the second half
                         (``cosmos-sim transfer --input DEFAULT_DATA``); only with ``--augmented``
    half pasted          the first half + the ``pasted`` store's second half: the same frames with pictures
                         pasted behind the objects (``cosmos-sim paste-backgrounds``, no model: the reference
                         of what many looks buy); only with ``--pasted``

and two kinds of policy per arm:

    pixel BC             behaviour cloning (``policies/bc.py``) of the arm's frames, ``bc_seeds`` training seeds
                         (figures are their mean): the policy learns to see and to act from the same data
    perceived            ``perception`` (a state estimator, ``manip-state-nano``) fine-tuned on the arm's frames
                         and true state, read by ONE push policy cloned on the default store's true state
                         (``cosmos_sim/Perceived-v0``: the hand as proprioception, the goal read off the first
                         frame, the block off every frame): every arm acts alike and only its eyes differ

Every policy runs the same ``eval_episodes`` held-out seeds (>= 100000) in the default look, in each of
``domains`` (``HELD_OUT_DOMAINS``: textures and lights no training store shows) and in ``seen_domains``
(looks "randomized" draws: where augmentation was seen). Lost = default arm's default-look success - its
held-out-look success; recovered = (mixed arm's held-out success - default arm's) / lost (goal >= 0.7),
and the same in the seen looks. Missing ``default_data`` / ``randomized_data`` stores are recorded first
(``train_episodes`` episodes, seeds from 0, the same seeds in both, ``obs_mode="pixels+state"``, the seg map
that ``paste-backgrounds`` reads).
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from cosmos_sim.bench.common import BenchResult, check_at_least, config_error
from cosmos_sim.data import HELD_OUT_SEED
from cosmos_sim.errors import ConfigError

GT_ID = "cosmos_sim/Manipulation-GT-v0"
PERCEIVED_ID = "cosmos_sim/Perceived-v0"
PUSH_STATE = ("ee_x", "ee_y", "ee_z", "goal_x", "goal_y", "red_block_x", "red_block_y")
"""What the perceived policy reads: the hand (proprioception), the goal (held from the first frame), the block."""
EXPERT_OPTIONS = {"max_noise": 0.3, "max_random": 0.1}
"""The noisy expert's settings for the demonstrations: a little noise shows the policy how to recover."""


@dataclass(frozen=True)
class Config:
    """Options of ``cosmos-sim bench domain-shift``."""

    default_data: str = "data/ds/default.zarr"
    """Default-look expert store (recorded here when missing)."""
    randomized_data: str = "data/ds/randomized.zarr"
    """The same seeds under appearance="randomized" (recorded here when missing): the perfect augmentation."""
    augmented: str = ""
    """A Transfer re-rendering of --default-data (cosmos-sim transfer --input); empty: no augmented arm."""
    pasted: str = ""
    """--default-data's episodes with pasted backgrounds (cosmos-sim paste-backgrounds; the seeds and rows of
    --default-data); empty: no pasted arm."""
    train_episodes: int = 240
    """Episodes recorded into a missing default/randomized store."""
    domains: tuple[str, ...] = ("gravel", "coffee")
    """Held-out looks the policies are judged in (envs/appearance.py HELD_OUT_DOMAINS)."""
    seen_domains: tuple[str, ...] = ("brick",)
    """Training looks ("randomized" draws them) also judged in: does augmentation work where it was seen?"""
    eval_episodes: int = 64
    """Held-out episodes per look and policy (seeds from first_seed)."""
    first_seed: int = HELD_OUT_SEED
    """Reset seed of the first evaluation episode (held-out seeds start at 100000)."""
    bc_epochs: int = 15
    """Behaviour-cloning epochs."""
    bc_seeds: int = 2
    """Training seeds per arm (BC varies from seed to seed; figures are the mean)."""
    threads: int = 1
    """torch threads."""
    perception: str = "manip-state-nano"
    """State estimator (a name or directory) the perceived arms fine-tune on their training set; empty: pixel BC
    arms only."""
    perception_steps: int = 1500
    """Fine-tuning steps of the estimator per arm (batch 64)."""
    state_bc_epochs: int = 30
    """Behaviour-cloning epochs of the perceived arms' state policy."""
    keep_policies: str = ""
    """Directory to keep the policies, estimators and mixed stores in (empty: a temporary directory); a rerun
    reuses what was made from the same stores and settings."""

    def __post_init__(self) -> None:
        from cosmos_sim.envs.appearance import DOMAINS

        check_at_least(
            "domain-shift",
            self,
            1,
            "train_episodes",
            "eval_episodes",
            "bc_epochs",
            "bc_seeds",
            "perception_steps",
        )
        check_at_least("domain-shift", self, 2, "train_episodes")
        bad = [d for d in self.domains if d not in DOMAINS]
        if not self.domains or bad:
            raise config_error("domain-shift", "domains", self.domains, f"one or more of {sorted(DOMAINS)}")
        if any(d not in DOMAINS for d in self.seen_domains):
            raise config_error(
                "domain-shift", "seen_domains", self.seen_domains, f"zero or more of {sorted(DOMAINS)}"
            )
        if self.first_seed < HELD_OUT_SEED:
            raise config_error("domain-shift", "first_seed", self.first_seed, f"a seed >= {HELD_OUT_SEED}")


def record(path: str, episodes: int, appearance: str) -> None:
    """Record ``episodes`` noisy-expert episodes (seeds from 0) in ``appearance`` into a new store, frames
    (``pixels``), the true state and the seg map (``paste-backgrounds`` reads it)."""
    from cosmos_sim.data.generate import GenerateConfig, generate

    generate(
        GenerateConfig(
            env_id=GT_ID,
            episodes=episodes,
            out=path,
            policy="noisy-expert",
            policy_options=EXPERT_OPTIONS,
            env_kwargs={"obs_mode": "pixels+state"}
            | ({} if appearance == "default" else {"appearance": appearance}),
            maps=("seg",),
            progress=False,
        )
    )


def train_arm(data: str, out: Path, cfg: Config, seed: int, sources: dict[str, str], obs_key: str = "rgb"):
    """Behaviour-clone one training set with one seed (or reuse the policy kept in ``out`` from the same
    ``sources`` stores, epochs and seed); returns the in-memory network and BC's held-out action MSE."""
    from cosmos_sim.errors import CheckpointError
    from cosmos_sim.policies import bc
    from cosmos_sim.policies.networks import load_policy

    made_of = {**sources, "epochs": cfg.bc_epochs, "seed": seed}
    try:
        kept = load_policy(out)
        if kept.extra.get("domain_shift") == made_of:
            return kept.net, kept.extra.get("val_mse")
    except CheckpointError:
        pass
    figures = bc.train(
        bc.Args(
            data=(data,),
            env_id=GT_ID,
            obs_key=obs_key,
            out=str(out),
            epochs=cfg.bc_epochs,
            seed=seed,
            device="cpu",
            extra={"domain_shift": made_of},
        )
    )
    return load_policy(out).net, figures["val_mse"]


def state_policy(cfg: Config, work: Path):
    """The perceived arms' one push policy: behaviour cloning of the default store's true ``PUSH_STATE`` (or the
    policy kept in ``work`` from the same store and epochs); returns the in-memory network."""
    from cosmos_sim.data.store import TrajectoryStore
    from cosmos_sim.errors import CheckpointError
    from cosmos_sim.policies import bc
    from cosmos_sim.policies.networks import load_policy
    from cosmos_sim.train.state_estimator import state_columns

    out, made_of = work / "state_policy", {"default": str(cfg.default_data), "epochs": cfg.state_bc_epochs}
    try:
        kept = load_policy(out)
        if kept.extra.get("domain_shift") == made_of:
            return kept.net
    except CheckpointError:
        pass
    src = TrajectoryStore.open(cfg.default_data)
    key, cols = state_columns(src, PUSH_STATE)
    states = TrajectoryStore.create(work / "state.zarr", {"env_id": PERCEIVED_ID}, overwrite=True)
    try:
        for i in range(src.n_episodes):
            e = src.episode(i, [key, "action"])
            states.add_episode(
                {"state": e[key][:, cols], "action": e["action"]}, seed=int(src.episode_seeds[i])
            )
    finally:
        states.close()
    bc.train(
        bc.Args(
            data=(str(work / "state.zarr"),),
            env_id=PERCEIVED_ID,
            env_kwargs=json.dumps(perceived_kwargs(cfg.perception, "default")),
            obs_key="state",
            epochs=cfg.state_bc_epochs,
            out=str(out),
            device="cpu",
            extra={"domain_shift": made_of},
        )
    )
    return load_policy(out).net


def perceived_kwargs(estimator: str, look: str) -> dict:
    """``Perceived-v0``'s kwargs: the GT push scene in ``look`` read through ``estimator``."""
    return {
        "env_id": GT_ID,
        "estimator": estimator,
        "env_kwargs": {"appearance": look},
        "proprio": PUSH_STATE[:3],
        "static": PUSH_STATE[3:5],
        "tracked": PUSH_STATE[5:],
    }


def fine_tune_estimator(data: str, out: Path, cfg: Config, sources: dict[str, str]) -> str:
    """``perception`` fine-tuned on one training set's frames and true state (or the one kept in ``out`` from
    the same stores and steps); returns its directory."""
    from cosmos_sim.errors import CheckpointError
    from cosmos_sim.train import state_estimator
    from cosmos_sim.world_models.state_estimator import StateEstimator

    made_of = {**sources, "perception": cfg.perception, "steps": cfg.perception_steps}
    try:
        if (
            StateEstimator.from_pretrained(out / "best", "cpu").checkpoint_extra.get("domain_shift")
            == made_of
        ):
            return str(out / "best")
    except (CheckpointError, FileNotFoundError):
        pass
    shutil.rmtree(out, ignore_errors=True)  # never resume another set's run
    state_estimator.train(
        state_estimator.Args(
            data=(data,),
            names=PUSH_STATE,
            out=str(out),
            init_from=cfg.perception,
            steps=cfg.perception_steps,
            eval_every=cfg.perception_steps,
            threads=cfg.threads,
            device="cpu",
            progress=False,
            extra={"domain_shift": made_of},
        )
    )
    return str(out / "best")


def run(config: Config, out_dir: str, quick: bool = False) -> BenchResult:
    """Train every arm, evaluate it in every look; see the module docstring."""
    import torch

    from cosmos_sim.data.store import TrajectoryStore
    from cosmos_sim.eval.domain_shift import check_store, mix_stores, success_by_domain

    cfg = (
        replace(
            config,
            eval_episodes=min(config.eval_episodes, 8),
            bc_seeds=1,
            bc_epochs=2,
            state_bc_epochs=2,
            perception_steps=min(config.perception_steps, 4),
        )
        if quick
        else config
    )
    for path, look in ((cfg.default_data, "default"), (cfg.randomized_data, "randomized")):
        if not Path(path).exists():
            _say(f"recording {cfg.train_episodes} {look}-look episodes into {path}")
            record(path, cfg.train_episodes, look)
    stores = {"--default-data": cfg.default_data, "--randomized-data": cfg.randomized_data}
    if cfg.augmented:
        stores["--augmented"] = cfg.augmented
    if cfg.pasted:
        stores["--pasted"] = cfg.pasted
    for flag, path in stores.items():
        check_store(path, flag)
        if cfg.perception and "state" not in TrajectoryStore.open(path).keys():
            raise ConfigError(
                f"{flag} {path} records no true state, which the perceived arms train their estimator on: record "
                'it with --env-kwargs \'{"obs_mode": "pixels+state"}\' (a missing default/randomized store is '
                "recorded so), or pass --perception '' for the pixel BC arms alone"
            )
    frame_key = TrajectoryStore.open(cfg.default_data).frame_key()
    keys = (frame_key, "action", "state") if cfg.perception else (frame_key, "action")
    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    work = Path(cfg.keep_policies) if cfg.keep_policies else Path(tempfile.mkdtemp(prefix="domain_shift_"))
    work.mkdir(parents=True, exist_ok=True)
    looks = ("default", *cfg.seen_domains, *cfg.domains)
    t_start = time.perf_counter()
    rows, by, by_perceived = [], {}, {}
    try:
        state_net = state_policy(cfg, work) if cfg.perception else None
        sets = {"default": (cfg.default_data, None), "half randomized-GT": (None, cfg.randomized_data)}
        if cfg.augmented:
            sets["half augmented"] = (None, cfg.augmented)
        if cfg.pasted:
            sets["half pasted"] = (None, cfg.pasted)
        for arm, (data, other) in sets.items():
            label = arm.replace(" ", "_")
            counts = {}
            if other is not None:
                data = str(work / f"mixed_{label}.zarr")
                counts = mix_stores(cfg.default_data, other, data, keys)
            per_seed, mse = [], []
            sources = {"default": str(cfg.default_data), "other": str(other or "")}
            for seed in range(cfg.bc_seeds):
                net, val_mse = train_arm(data, work / f"{label}_seed{seed}", cfg, seed, sources, frame_key)
                per_seed.append(success_by_domain(net, GT_ID, looks, cfg.eval_episodes, cfg.first_seed))
                mse.append(val_mse)
                _say(f"{arm}: pixel BC seed {seed}: " + _rates(per_seed[-1]))
            by[arm] = _by_look(per_seed, cfg)
            val_mse = [m for m in mse if m is not None]
            extra = {"bc_val_action_mse": float(np.mean(val_mse)) if val_mse else None, **counts}
            rows.append(_row("Pixel BC, success rate by look (held-out seeds)", arm, by[arm], extra))
            if state_net is not None:
                est = fine_tune_estimator(data, work / f"estimator_{label}", cfg, sources)
                success = success_by_domain(
                    state_net,
                    PERCEIVED_ID,
                    looks,
                    cfg.eval_episodes,
                    cfg.first_seed,
                    env_kwargs=lambda look, est=est: perceived_kwargs(est, look),
                )
                by_perceived[arm] = _by_look([success], cfg)
                _say(f"{arm}: perceived: " + _rates(success))
                case = "Perceived: one state policy through the arm's estimator, success rate by look"
                rows.append(_row(case, arm, by_perceived[arm], counts))
    finally:
        torch.set_num_threads(threads)
        if not cfg.keep_policies:
            shutil.rmtree(work, ignore_errors=True)
    figures = _figures(by, cfg, "")
    if by_perceived:
        figures |= _figures(by_perceived, cfg, "perceived_")
    figures["total_seconds"] = time.perf_counter() - t_start
    notes = _notes(cfg, figures)
    return BenchResult(
        name="domain-shift", figures={k: float(v) for k, v in figures.items()}, rows=rows, notes=notes
    )


def _say(message: str) -> None:
    """A progress line on stderr (a full run takes about half an hour)."""
    print(f"[bench domain-shift] {message}", file=sys.stderr, flush=True)


def _rates(success: dict[str, float]) -> str:
    return ", ".join(f"{look} {rate:.0%}" for look, rate in success.items())


def _by_look(per_seed: list[dict[str, float]], cfg: Config) -> dict:
    """Success per look (mean over training seeds), over the held-out and the seen looks, per seed."""
    looks = per_seed[0].keys()
    success = {d: float(np.mean([s[d] for s in per_seed])) for d in looks}
    return {
        "success": success,
        "held_out": float(np.mean([success[d] for d in cfg.domains])),
        "seen": float(np.mean([success[d] for d in cfg.seen_domains])) if cfg.seen_domains else None,
        "per_seed_held_out": [float(np.mean([s[d] for d in cfg.domains])) for s in per_seed],
    }


def _row(case: str, arm: str, result: dict, extra: dict) -> dict:
    return {
        "case": case,
        "arm": arm,
        **{f"success_{d}": v for d, v in result["success"].items()},
        "success_seen_looks": result["seen"],
        "success_held_out_looks": result["held_out"],
        **(
            {"success_per_seed_held_out": result["per_seed_held_out"]}
            if len(result["per_seed_held_out"]) > 1
            else {}
        ),
        **extra,
    }


def _figures(by: dict[str, dict], cfg: Config, prefix: str) -> dict[str, float]:
    """Headline figures of one kind of policy: the default arm's loss, each mixed arm's success and recovery."""
    from cosmos_sim.eval.domain_shift import recovered_fraction

    base = by["default"]
    figures = {
        f"{prefix}success_default_arm_default_look": base["success"]["default"],
        f"{prefix}success_default_arm_held_out_looks": base["held_out"],
        f"{prefix}success_lost_to_shift": base["success"]["default"] - base["held_out"],
        **({f"{prefix}success_default_arm_seen_looks": base["seen"]} if cfg.seen_domains else {}),
    }
    for arm in by:
        if arm == "default":
            continue
        key = arm.replace(" ", "_").replace("-", "_").lower()
        figures[f"{prefix}success_{key}_held_out_looks"] = by[arm]["held_out"]
        figures[f"{prefix}success_{key}_default_look"] = by[arm]["success"]["default"]
        rec = recovered_fraction(base["success"]["default"], base["held_out"], by[arm]["held_out"])
        if rec is not None:
            figures[f"{prefix}recovered_fraction_{key}"] = rec
        if cfg.seen_domains:
            figures[f"{prefix}success_{key}_seen_looks"] = by[arm]["seen"]
            rec = recovered_fraction(base["success"]["default"], base["seen"], by[arm]["seen"])
            if rec is not None:
                figures[f"{prefix}recovered_fraction_seen_looks_{key}"] = rec
    return figures


def _notes(cfg: Config, figures: dict) -> str:
    seeds = f"{cfg.first_seed}..{cfg.first_seed + cfg.eval_episodes - 1}"
    text = (
        f"Noisy-expert push episodes of {GT_ID} ({cfg.default_data}; mixed arms: its first half of seeds + the "
        f"other store's episodes of the second half, the same episode count). Pixel BC: {cfg.bc_epochs} epochs, "
        f"{cfg.bc_seeds} training seed(s) per arm (mean). "
    )
    if cfg.perception:
        text += (
            f"Perceived: {cfg.perception} fine-tuned {cfg.perception_steps} steps on each arm's frames, one state "
            f"policy (BC, {cfg.state_bc_epochs} epochs, on the default store's true state) acting through it. "
        )
    text += (
        f"Each policy runs seeds {seeds} in the default look and in {', '.join(cfg.domains)} (held-out looks), "
        "mean action. "
    )
    for prefix, kind in (("", "Pixel BC"), ("perceived_", "Perceived")):
        lost = figures.get(f"{prefix}success_lost_to_shift")
        if lost is None:
            continue
        text += f"{kind}: lost to the shift {lost:.1%}"
        if lost <= 0:
            text += " (nothing lost, so no recovery fraction is defined: not a pass). "
            continue
        for k, v in figures.items():
            if k.startswith(f"{prefix}recovered_fraction_seen_looks_"):
                text += (
                    f"; in the training look(s) {', '.join(cfg.seen_domains)} "
                    f"{k.removeprefix(f'{prefix}recovered_fraction_seen_looks_')} recovers {v:.0%}"
                )
            elif k.startswith(f"{prefix}recovered_fraction_"):
                text += f"; {k.removeprefix(f'{prefix}recovered_fraction_')} recovers {v:.0%} (goal >= 70 %)"
        text += ". "
    if cfg.pasted:
        text += (
            f"half pasted: the second half's frames with pictures pasted behind the objects ({cfg.pasted}, "
            "cosmos-sim paste-backgrounds: no model). "
        )
    if not cfg.augmented:
        text += "No --augmented store given: the Transfer arm is not measured."
    return text


__all__ = [
    "PUSH_STATE",
    "Config",
    "fine_tune_estimator",
    "perceived_kwargs",
    "record",
    "run",
    "state_policy",
    "train_arm",
]
