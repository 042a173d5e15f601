"""Behaviour cloning: fit the PPO actor-critic's policy to a trajectory store's (frame, action) pairs.

    cosmos-sim train-policy --algo bc --data data/tok/train_manip_expert.zarr --out runs/bc

Row ``t`` of a store holds the observation after ``t`` steps and the action taken from it; the last
row of each episode has a padding action and is left out. Loss: mean squared error of the policy
mean (``loss="mse"``) or the Gaussian negative log-likelihood (``"nll"``, which also fits the
log-std). The result is a policy directory in the same format as PPO's, so
``train-policy --algo ppo --init-from BC_DIR`` fine-tunes it; its log-std is set to
``finetune_log_std`` so that fine-tuning explores.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from cosmos_sim.data.store import TrajectoryStore
from cosmos_sim.errors import ConfigError, StoreError
from cosmos_sim.policies.networks import make_network, save_policy
from cosmos_sim.policies.ppo import parse_env_kwargs, resolve_device


@dataclass(frozen=True)
class Args:
    """Settings of a behaviour-cloning run (``cosmos-sim train-policy --algo bc`` flags)."""

    data: tuple[str, ...] = ("data/tok/train_manip_expert.zarr",)
    """Trajectory stores to clone (rgb + action keys)."""
    env_id: str = ""
    """Env whose observation/action spaces the policy gets (default: the first store's env_id attr)."""
    env_kwargs: str = ""
    """Env constructor kwargs as JSON (to build the spaces)."""
    obs_key: str = "rgb"
    """Store key of the observations."""
    success_only: bool = False
    """Clone only the episodes that end in success (``is_success`` on their last row): filtered behaviour
    cloning of a policy's own rollouts (self-imitation), e.g. ``--data DEMOS ROLLOUTS --success-only``."""
    out: str = "runs/bc"
    """Output policy directory (overwritten)."""
    epochs: int = 20
    """Passes over the data."""
    batch_size: int = 64
    """Minibatch size."""
    learning_rate: float = 1e-3
    """Adam learning rate."""
    loss: str = "mse"
    """'mse' on the policy mean or 'nll' (Gaussian negative log-likelihood)."""
    val_fraction: float = 0.1
    """Fraction of episodes held out to report the action error."""
    augment: bool = True
    """Random +-2 pixel shifts of image observations (less overfitting on few episodes)."""
    finetune_log_std: float = -1.0
    """Log-std written into the policy, the starting exploration of a PPO fine-tune (mse only)."""
    channels: tuple[int, ...] = (16, 32, 32, 32)
    """CNN channels (pixels)."""
    hidden: int = 256
    """Encoder output / MLP width."""
    seed: int = 0
    """Seed of the split, shuffling and init."""
    device: str = "auto"
    """'auto' (CUDA when present), 'cpu' or 'cuda'."""
    threads: int = 0
    """torch CPU threads; 0 leaves the caller's setting (``cosmos-sim train-policy`` passes 1 unless --threads
    says otherwise: two threads beside another busy process ran 8x slower)."""
    extra: dict = field(default_factory=dict)
    """Metadata stored with the checkpoint (e.g. the command line)."""

    def __post_init__(self):
        if self.loss not in ("mse", "nll"):
            raise ConfigError(f"loss must be 'mse' or 'nll', got {self.loss!r}")
        if not self.data:
            raise ConfigError("pass at least one trajectory store (--data PATH ...)")
        if self.epochs < 1 or self.batch_size < 1:
            raise ConfigError(f"epochs and batch_size must be >= 1, got {self.epochs}, {self.batch_size}")
        if not 0 <= self.val_fraction < 1:
            raise ConfigError(f"val_fraction must be in [0, 1), got {self.val_fraction}")


def load_pairs(
    paths: tuple[str, ...], obs_key: str = "rgb", success_only: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(observations, actions, episode id) of every non-final row of every episode of the stores (with
    ``success_only``, of the episodes whose last row says ``is_success``)."""
    obs, act, ep = [], [], []
    for path in paths:
        store = TrajectoryStore.open(path)
        needed = (obs_key, "action", "is_success") if success_only else (obs_key, "action")
        for key in needed:
            if key not in store.keys():
                raise StoreError(
                    f"store {path} has no {key!r} key (keys: {store.keys()}); behaviour cloning needs "
                    + ", ".join(repr(k) for k in needed)
                    + (
                        " (--success-only: record from an env that reports info['is_success'])"
                        if success_only
                        else ""
                    )
                )
        for i in range(store.n_episodes):
            e = store.episode(i, keys=list(needed))
            if success_only and not e["is_success"][-1]:
                continue
            obs.append(e[obs_key][:-1])  # the last row's action is padding
            act.append(e["action"][:-1])
            ep.append(np.full(len(e["action"]) - 1, len(ep)))
    if not obs or sum(len(o) for o in obs) == 0:
        which = " of successful episodes" if success_only else ""
        raise StoreError(f"no (observation, action) pairs{which} in {list(paths)}")
    return np.concatenate(obs), np.concatenate(act).astype(np.float32), np.concatenate(ep)


def _shift(x: torch.Tensor, gen: torch.Generator, pad: int = 2) -> torch.Tensor:
    """Random translation of a uint8 (B, H, W, C) batch by up to ``pad`` pixels (edge padding)."""
    b, h, w, _ = x.shape
    padded = torch.nn.functional.pad(x.permute(0, 3, 1, 2).float(), (pad,) * 4, mode="replicate")
    dy, dx = torch.randint(0, 2 * pad + 1, (2, b), generator=gen)
    rows = (dy[:, None] + torch.arange(h))[:, :, None].expand(b, h, w)
    cols = (dx[:, None] + torch.arange(w))[:, None, :].expand(b, h, w)
    out = padded[torch.arange(b)[:, None, None], :, rows, cols]  # (B, H, W, C)
    return out.to(x.dtype)


def train(args: Args) -> dict[str, Any]:
    """Fit the policy; returns ``{"out", "train_mse", "val_mse", "val_mse_initial", "history"}``."""
    from cosmos_sim.world_models.wfm import set_torch_threads

    set_torch_threads(args.threads, what="behaviour cloning")
    device = resolve_device(args.device)
    torch.manual_seed(args.seed)
    obs, act, ep = load_pairs(args.data, args.obs_key, args.success_only)
    env_id = args.env_id or TrajectoryStore.open(args.data[0]).attrs.get("env_id", "")
    if not env_id:
        raise StoreError(
            f"{args.data[0]} has no env_id attr; pass --env-id to say whose spaces the policy gets"
        )
    env = gym.make(env_id, **parse_env_kwargs(args.env_kwargs))
    obs_space, act_space = env.observation_space, env.action_space
    env.close()
    if obs.shape[1:] != obs_space.shape or act.shape[1:] != act_space.shape:
        raise ConfigError(
            f"store rows ({args.obs_key} {obs.shape[1:]}, action {act.shape[1:]}) do not match "
            f"{env_id}'s spaces ({obs_space}, {act_space}); pass the env they were recorded in"
        )
    net = make_network(obs_space, act_space, channels=args.channels, hidden=args.hidden).to(device)

    rng = np.random.default_rng(args.seed)
    episodes = np.unique(ep)
    n_val = int(round(len(episodes) * args.val_fraction)) if len(episodes) > 1 else 0
    val_eps = rng.choice(episodes, n_val, replace=False) if n_val else np.array([], dtype=ep.dtype)
    is_val = np.isin(ep, val_eps)
    x_tr, y_tr = torch.as_tensor(obs[~is_val]), torch.as_tensor(act[~is_val])
    x_va, y_va = torch.as_tensor(obs[is_val]), torch.as_tensor(act[is_val])
    if not net.config.pixels:
        net.update_obs_stats(x_tr)

    def mse(x: torch.Tensor, y: torch.Tensor) -> float | None:
        if len(x) == 0:
            return None
        net.eval()
        with torch.no_grad():
            return float(
                np.mean(
                    [
                        ((net(x[i : i + 256].to(device))[0].mean - y[i : i + 256].to(device)) ** 2)
                        .mean()
                        .item()
                        for i in range(0, len(x), 256)
                    ]
                )
            )

    optimizer = torch.optim.Adam(net.parameters(), lr=args.learning_rate)
    gen = torch.Generator().manual_seed(args.seed)
    val_initial, history = mse(x_va, y_va), []
    for epoch in range(args.epochs):
        net.train()
        perm = torch.randperm(len(x_tr), generator=gen)
        losses = []
        for s in range(0, len(perm), args.batch_size):
            idx = perm[s : s + args.batch_size]
            xb = x_tr[idx]
            if args.augment and net.config.pixels:
                xb = _shift(xb, gen)
            dist, _ = net(xb.to(device))
            yb = y_tr[idx].to(device)
            loss = ((dist.mean - yb) ** 2).mean() if args.loss == "mse" else -dist.log_prob(yb).sum(-1).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        history.append({"epoch": epoch + 1, "loss": float(np.mean(losses)), "val_mse": mse(x_va, y_va)})
    if args.loss == "mse":
        with torch.no_grad():
            net.log_std.fill_(args.finetune_log_std)
    result = {
        "out": args.out,
        "train_mse": mse(x_tr, y_tr),
        "val_mse": mse(x_va, y_va),
        "val_mse_initial": val_initial,
        "history": history,
        "pairs": len(obs),
    }
    extra = {
        "algo": "bc",
        "env_id": env_id,
        "data": [str(Path(p)) for p in args.data],
        "args": {k: v for k, v in dataclasses.asdict(args).items() if k != "extra"},
        "train_mse": result["train_mse"],
        "val_mse": result["val_mse"],
        **args.extra,
    }
    save_policy(args.out, net.cpu(), obs_space, act_space, extra=extra)
    return result


__all__ = ["Args", "load_pairs", "train"]
