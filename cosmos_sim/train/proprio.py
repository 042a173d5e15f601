"""Train a proprioception model (state, action -> next state) on trajectory stores: one readable file.

    cosmos-sim train-proprio --data data/reach.zarr --val-data data/reach_val.zarr \
        --names ee_x ee_y ee_z --out runs/proprio

Samples are every step of every episode that has a next step: the named entries of the store's true state
(``state`` recorded with ``obs_mode="pixels+state"``, or ``true_state`` recorded through
``Perceived-v0``), the last change, the action taken and the one before. Loss: MSE of the normalised
change. The score is what a policy inside a world model meets: the error of the model rolled open loop
from each episode's first state with the recorded actions, after ``horizon`` steps (cm), beside the
error of holding the first state; on ``--val-data`` when given, else on the training stores. The model
is small (about 20 k parameters) and the data a few thousand steps, so full training takes seconds;
``OUT/best`` (fp32: a dynamics model integrates its own rounding) is the model after the last step.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from cosmos_sim.data.store import TrajectoryStore
from cosmos_sim.errors import ConfigError
from cosmos_sim.train.common import lock_out_dir, releases_out_dir_locks
from cosmos_sim.train.state_estimator import state_columns
from cosmos_sim.world_models.proprio import ProprioConfig, ProprioModel
from cosmos_sim.world_models.wfm import set_torch_threads

DEFAULT_NAMES = ("ee_x", "ee_y", "ee_z")


@dataclass(frozen=True)
class Args:
    """Command-line arguments of ``cosmos-sim train-proprio``."""

    data: tuple[str, ...] = ()
    """Training stores with actions and a named true state."""
    val_data: tuple[str, ...] = ()
    """Held-out stores for the open-loop score (empty: the score is on the training stores)."""
    names: tuple[str, ...] = DEFAULT_NAMES
    """State entries to predict (names of the stores' state_layout): the robot's own state, and objects it
    moves (e.g. red_block_x red_block_y: a state model; the robot's entries must be among them)."""
    out: str = "runs/proprio"
    """Run directory: best/ (the model), metrics.json."""
    init_from: str = ""
    """Start from this model's weights and scales (same --names); empty: from scratch."""
    hidden: int = 128
    """Width of the model's hidden layers (from scratch)."""
    steps: int = 2000
    """Optimizer steps."""
    batch_size: int = 256
    """Samples per step."""
    lr: float = 2e-3
    """Learning rate (Adam), cosine-decayed to lr/20."""
    horizon: int = 16
    """Open-loop steps of the score."""
    threads: int = 1
    """torch CPU threads (0: torch's default)."""
    seed: int = 0
    """Seed of the batches and the initialisation."""
    extra: dict = field(default_factory=dict)
    """Metadata stored with the checkpoint (the command that made it)."""

    def __post_init__(self):
        if not self.data:
            raise ConfigError("no training stores: pass --data STORE.zarr ... (actions with a true state)")
        if not self.names:
            raise ConfigError(
                f"--names is empty; name state entries to predict, e.g. {' '.join(DEFAULT_NAMES)}"
            )
        for name in ("hidden", "steps", "batch_size", "horizon"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")


def load_episodes(paths: tuple[str, ...], names: tuple[str, ...]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(states (T, D) float32, actions (T - 1, A) float32) of every episode of the stores with >= 2 steps."""
    episodes = []
    for p in paths:
        s = TrajectoryStore.open(p)
        key, cols = state_columns(s, names)
        for e in range(s.n_episodes):
            ep = s.episode(e, keys=["action", key])
            if len(ep[key]) >= 2:  # the last row's action is padding: no step follows it
                episodes.append((ep[key][:, cols].astype(np.float32), ep["action"][:-1].astype(np.float32)))
    if not episodes:
        raise ConfigError(f"the stores {paths} hold no episode with a step to learn from")
    return episodes


def samples(episodes) -> dict[str, np.ndarray]:
    """The model's inputs and target of every step: p, p_prev, action, prev_action and the change."""
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("p", "p_prev", "action", "prev_action", "delta")}
    for states, actions in episodes:
        p = states[:-1]
        cols["p"].append(p)
        cols["p_prev"].append(np.concatenate([p[:1], p[:-1]]))  # the first step's last change is 0
        cols["action"].append(actions)
        cols["prev_action"].append(np.concatenate([np.zeros_like(actions[:1]), actions[:-1]]))
        cols["delta"].append(states[1:] - p)
    return {k: np.concatenate(v) for k, v in cols.items()}


def rollout(model: ProprioModel, states: np.ndarray, actions: np.ndarray, steps: int) -> np.ndarray:
    """The model's open-loop states (steps + 1, D) from ``states[0]`` with ``actions`` (as the env steps it)."""
    p = p_prev = states[:1]
    a_prev = np.zeros_like(actions[:1])
    out = [p[0]]
    for t in range(min(steps, len(actions))):
        p, p_prev, a_prev = model.step(p, p_prev, actions[t : t + 1], a_prev), p, actions[t : t + 1]
        out.append(p[0])
    return np.stack(out)


def open_loop_error(model: ProprioModel, episodes, horizon: int) -> dict[str, float]:
    """Mean xyz error (cm) after ``horizon`` open-loop steps (or each episode's end), and of holding the
    first state (what a model that predicts no motion scores)."""
    err, hold = [], []
    for states, actions in episodes:
        pred = rollout(model, states, actions, horizon)
        t = len(pred) - 1
        err.append(np.linalg.norm(pred[t] - states[t]))
        hold.append(np.linalg.norm(states[0] - states[t]))
    return {"open_loop_cm": 100 * float(np.mean(err)), "hold_cm": 100 * float(np.mean(hold))}


def new_model(args: Args, data: dict[str, np.ndarray]) -> ProprioModel:
    if args.init_from:
        model = ProprioModel.from_pretrained(args.init_from, device="cpu")
        if model.names != tuple(args.names):
            raise ConfigError(
                f"--init-from {args.init_from} predicts {model.names}, not --names {args.names}"
            )
        return model.train()
    return fresh_model(tuple(args.names), data, args.hidden)


def fresh_model(names: tuple[str, ...], data: dict[str, np.ndarray], hidden: int) -> ProprioModel:
    """An untrained model of ``names`` scaled to ``samples``' statistics."""
    floor = 1e-4  # an entry that never moves in the data (e.g. a fixed height) still needs a scale
    return ProprioModel(
        ProprioConfig(
            names=names,
            action_dim=data["action"].shape[1],
            mean=tuple(data["p"].mean(0).tolist()),
            std=tuple(np.maximum(data["p"].std(0), floor).tolist()),
            delta_std=tuple(np.maximum(data["delta"].std(0), floor).tolist()),
            hidden=hidden,
        )
    )


def fit_model(
    model: ProprioModel, data: dict[str, np.ndarray], steps: int, batch_size: int, lr: float, seed: int
) -> float:
    """Adam on the MSE of the normalised change (cosine to lr/20) over ``samples``; returns the final MSE on
    all of them (the model is left in eval mode)."""
    t = {k: torch.from_numpy(v) for k, v in data.items()}
    target = t["delta"] / model.delta_std
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps, eta_min=lr / 20)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        i = torch.randint(0, len(target), (batch_size,), generator=gen)
        loss = torch.nn.functional.mse_loss(
            model(t["p"][i], t["p_prev"][i], t["action"][i], t["prev_action"][i]), target[i]
        )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    model.eval()
    with torch.no_grad():
        return float(
            torch.nn.functional.mse_loss(model(t["p"], t["p_prev"], t["action"], t["prev_action"]), target)
        )


@releases_out_dir_locks
def train(args: Args) -> dict[str, float]:
    """Fit the model; returns the metrics (also in ``OUT/metrics.json``)."""
    set_torch_threads(args.threads, what="train-proprio")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lock_out_dir(out)
    torch.manual_seed(args.seed)
    episodes = load_episodes(tuple(args.data), tuple(args.names))
    data = samples(episodes)
    model = new_model(args, data)
    if data["action"].shape[1] != model.config.action_dim:
        raise ConfigError(
            f"the stores have {data['action'].shape[1]} action dims, the model {model.config.action_dim}"
        )
    t0 = time.perf_counter()
    fit = fit_model(model, data, args.steps, args.batch_size, args.lr, args.seed)
    scored = load_episodes(tuple(args.val_data), tuple(args.names)) if args.val_data else episodes
    metrics = {
        "steps": args.steps,
        "samples": len(data["delta"]),
        "train_mse": fit,
        **open_loop_error(model, scored, args.horizon),
        "scored_on": "val_data" if args.val_data else "data",
        "horizon": args.horizon,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    model.save_pretrained(
        out / "best", dtype=None, extra={"args": asdict(args), "metrics": metrics, **args.extra}
    )
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    print(
        f"proprio model {'/'.join(model.names)}: {metrics['samples']} steps learnt in {metrics['seconds']} s; "
        f"{args.horizon}-step open-loop error {metrics['open_loop_cm']:.2f} cm (holding still: "
        f"{metrics['hold_cm']:.2f} cm) on the {metrics['scored_on']} -> {out / 'best'}",
        flush=True,
    )
    return metrics


__all__ = [
    "Args",
    "fit_model",
    "fresh_model",
    "load_episodes",
    "open_loop_error",
    "rollout",
    "samples",
    "train",
]
