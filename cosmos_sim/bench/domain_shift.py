"""``cosmos-sim bench domain-shift``: success a pixel policy loses to an unseen look, and what augmentation wins back.

Issue 17's downstream measure (``cosmos_sim/eval/domain_shift.py`` has the method). Behaviour cloning
(``policies/bc.py``) of noisy-expert episodes of ``cosmos_sim/Manipulation-GT-v0``, one arm per training set,
each with ``bc_seeds`` training seeds (figures are their mean):

    default              all ``default_data`` episodes (the default look)
    half randomized-GT   the first half of them + the second half's seeds recorded under "randomized":
                         a perfect augmentation (the upper reference)
    half augmented       the first half + the ``augmented`` store's re-renderings of the second half
                         (``cosmos-sim transfer --input DEFAULT_DATA``); only with ``--augmented``

Every policy runs the same ``eval_episodes`` held-out seeds (>= 100000) in the default look, in each of
``domains`` (``HELD_OUT_DOMAINS``: textures and lights no training store shows) and in ``seen_domains``
(looks "randomized" draws: where augmentation was seen). Lost = default arm's default-look success - its
held-out-look success; recovered = (mixed arm's held-out success - default arm's) / lost (goal >= 0.7),
and the same in the seen looks. Missing ``default_data`` / ``randomized_data`` stores are recorded first
(``train_episodes`` episodes, seeds from 0, the same seeds in both).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from cosmos_sim.bench.common import BenchResult, check_at_least, config_error
from cosmos_sim.data import HELD_OUT_SEED

GT_ID = "cosmos_sim/Manipulation-GT-v0"
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
    keep_policies: str = ""
    """Directory to keep the policies and mixed stores in (empty: a temporary directory); a rerun reuses a kept
    policy trained on the same stores, epochs and seed."""

    def __post_init__(self) -> None:
        from cosmos_sim.envs.appearance import DOMAINS

        check_at_least("domain-shift", self, 1, "train_episodes", "eval_episodes", "bc_epochs", "bc_seeds")
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
    """Record ``episodes`` noisy-expert episodes (seeds from 0) in ``appearance`` into a new store."""
    from cosmos_sim.data.generate import GenerateConfig, generate

    generate(
        GenerateConfig(
            env_id=GT_ID,
            episodes=episodes,
            out=path,
            policy="noisy-expert",
            policy_options=EXPERT_OPTIONS,
            env_kwargs={} if appearance == "default" else {"appearance": appearance},
            progress=False,
        )
    )


def train_arm(data: str, out: Path, cfg: Config, seed: int, sources: dict[str, str]):
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
            out=str(out),
            epochs=cfg.bc_epochs,
            seed=seed,
            device="cpu",
            extra={"domain_shift": made_of},
        )
    )
    return load_policy(out).net, figures["val_mse"]


def run(config: Config, out_dir: str, quick: bool = False) -> BenchResult:
    """Train every arm, evaluate it in every look; see the module docstring."""
    import torch

    from cosmos_sim.eval.domain_shift import check_store, mix_stores, recovered_fraction, success_by_domain

    cfg = (
        replace(config, eval_episodes=min(config.eval_episodes, 8), bc_seeds=1, bc_epochs=2)
        if quick
        else config
    )
    for path, look in ((cfg.default_data, "default"), (cfg.randomized_data, "randomized")):
        if not Path(path).exists():
            record(path, cfg.train_episodes, look)
    check_store(cfg.default_data, "--default-data")
    check_store(cfg.randomized_data, "--randomized-data")
    if cfg.augmented:
        check_store(cfg.augmented, "--augmented")
    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    work = Path(cfg.keep_policies) if cfg.keep_policies else Path(tempfile.mkdtemp(prefix="domain_shift_"))
    work.mkdir(parents=True, exist_ok=True)
    looks = ("default", *cfg.seen_domains, *cfg.domains)
    t_start = time.perf_counter()
    rows, by = [], {}
    try:
        sets = {"default": (cfg.default_data, None), "half randomized-GT": (None, cfg.randomized_data)}
        if cfg.augmented:
            sets["half augmented"] = (None, cfg.augmented)
        for arm, (data, other) in sets.items():
            label = arm.replace(" ", "_")
            counts = {}
            if other is not None:
                data = str(work / f"mixed_{label}.zarr")
                counts = mix_stores(cfg.default_data, other, data)
            per_seed, mse = [], []
            sources = {"default": str(cfg.default_data), "other": str(other or "")}
            for seed in range(cfg.bc_seeds):
                net, val_mse = train_arm(data, work / f"{label}_seed{seed}", cfg, seed, sources)
                per_seed.append(success_by_domain(net, GT_ID, looks, cfg.eval_episodes, cfg.first_seed))
                mse.append(val_mse)
            success = {d: float(np.mean([s[d] for s in per_seed])) for d in looks}
            held = float(np.mean([success[d] for d in cfg.domains]))
            seen = float(np.mean([success[d] for d in cfg.seen_domains])) if cfg.seen_domains else None
            by[arm] = {"success": success, "held_out": held, "seen": seen, "per_seed": per_seed}
            rows.append(
                {
                    "case": "Behaviour cloning, success rate by look (held-out seeds)",
                    "arm": arm,
                    **{f"success_{d}": success[d] for d in looks},
                    "success_seen_looks": seen,
                    "success_held_out_looks": held,
                    "success_per_seed_held_out": [
                        float(np.mean([s[d] for d in cfg.domains])) for s in per_seed
                    ],
                    "bc_val_action_mse": float(np.mean([m for m in mse if m is not None]))
                    if any(mse)
                    else None,
                    **counts,
                }
            )
    finally:
        torch.set_num_threads(threads)
        if not cfg.keep_policies:
            shutil.rmtree(work, ignore_errors=True)
    base = by["default"]
    lost = base["success"]["default"] - base["held_out"]
    figures = {
        "success_default_arm_default_look": base["success"]["default"],
        "success_default_arm_held_out_looks": base["held_out"],
        "success_lost_to_shift": lost,
        **({"success_default_arm_seen_looks": base["seen"]} if cfg.seen_domains else {}),
        "total_seconds": time.perf_counter() - t_start,
    }
    for arm in by:
        if arm == "default":
            continue
        key = arm.replace(" ", "_").replace("-", "_").lower()
        figures[f"success_{key}_held_out_looks"] = by[arm]["held_out"]
        figures[f"success_{key}_default_look"] = by[arm]["success"]["default"]
        rec = recovered_fraction(base["success"]["default"], base["held_out"], by[arm]["held_out"])
        if rec is not None:
            figures[f"recovered_fraction_{key}"] = rec
        if cfg.seen_domains:
            figures[f"success_{key}_seen_looks"] = by[arm]["seen"]
            rec = recovered_fraction(base["success"]["default"], base["seen"], by[arm]["seen"])
            if rec is not None:
                figures[f"recovered_fraction_seen_looks_{key}"] = rec
    notes = _notes(cfg, figures, lost)
    return BenchResult(
        name="domain-shift", figures={k: float(v) for k, v in figures.items()}, rows=rows, notes=notes
    )


def _notes(cfg: Config, figures: dict, lost: float) -> str:
    seeds = f"{cfg.first_seed}..{cfg.first_seed + cfg.eval_episodes - 1}"
    text = (
        f"BC ({cfg.bc_epochs} epochs, {cfg.bc_seeds} training seed(s) per arm, mean) of noisy-expert episodes of "
        f"{GT_ID} ({cfg.default_data}; mixed arms: its first half of seeds + the other store's episodes of the "
        f"second half, the same episode count). Each policy runs seeds {seeds} in the default look and in "
        f"{', '.join(cfg.domains)} (held-out looks), mean action. Lost to the shift: {lost:.1%}. "
    )
    if lost <= 0:
        text += "Nothing was lost, so no recovery fraction is defined (not a pass). "
    for k, v in figures.items():
        if k.startswith("recovered_fraction_seen_looks_"):
            text += (
                f"In the training look(s) {', '.join(cfg.seen_domains)} (seen under randomized, not held out) "
                f"{k.removeprefix('recovered_fraction_seen_looks_')} recovers {v:.0%} of the success the default arm "
                "loses there. "
            )
        elif k.startswith("recovered_fraction_"):
            text += f"{k.removeprefix('recovered_fraction_')} recovers {v:.0%} of it (goal >= 70 %). "
    if not cfg.augmented:
        text += "No --augmented store given: the Transfer arm is not measured."
    return text


__all__ = ["Config", "record", "run", "train_arm"]
