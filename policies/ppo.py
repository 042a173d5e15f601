"""PPO for continuous actions on any Gymnasium vector env, CleanRL style: read it top to bottom.

    cosmos-sim train-policy --algo ppo --env cosmos_sim/Manipulation-WFM-v0 --total-steps 50000 --out runs/ppo

``gym.make_vec(env_id, num_envs=N)`` gives the envs: the WFM ids step all N rollouts in one batched
forward pass, GT ids run N copies in this process. Pixel observations (HxWx3 uint8) go through a
small CNN, state vectors through an MLP with running observation normalisation
(``policies/networks.py``). GAE, the clipped surrogate objective, a (clipped) value loss, an
entropy bonus, gradient clipping, optional learning-rate annealing and KL early stopping.

Autoreset: Gymnasium 1.x vector envs reset a finished row on the *next* ``step`` call (NEXT_STEP,
the default; its action is ignored and it returns the first frame of the new episode). Such
"reset steps" are masked out of the loss, and because the step that ended an episode returns the
final observation, a truncated episode bootstraps from its value. SAME_STEP envs are supported
too (the final observation then comes from ``info["final_obs"]``).

``--out DIR`` is a policy directory (``config.json`` + ``model.safetensors``, kind "policy"; load
it with ``networks.load_policy`` or ``cosmos-sim eval-policy --policy DIR``) plus
``train_state.pt`` (optimizer, step count, history) and ``log.jsonl``. Running again with the
same ``--out`` resumes from the last checkpoint (raise ``--total-steps`` to train longer);
``--init-from POLICY_DIR`` starts from another policy's weights (e.g. behaviour cloning's).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode

from cosmos_sim.errors import ConfigError
from cosmos_sim.policies.networks import ActorCritic, check_spaces, load_policy, make_network, save_policy
from cosmos_sim.world_models.pretrained import resolve_device as resolve_torch_device

TRAIN_STATE = "train_state.pt"


@dataclass(frozen=True)
class Args:
    """Settings of a PPO run (every field is a ``cosmos-sim train-policy --algo ppo`` flag)."""

    env_id: str = "cosmos_sim/Manipulation-GT-v0"
    """Gymnasium id to train in (any id ``gym.make_vec`` can build, with a Box action space)."""
    env_kwargs: str = ""
    """Env constructor kwargs as JSON, e.g. '{"checkpoint": "assets/wfm/manip-dit-nano"}'."""
    out: str = "runs/ppo"
    """Output policy directory; an existing run there is resumed."""
    init_from: str = ""
    """Policy directory to start from (e.g. a behaviour-cloning policy); empty: random init."""
    total_steps: int = 100_000
    """Env steps to train for in total (summed over the rows; next-step autoreset calls count too)."""
    num_envs: int = 8
    """Parallel envs (rows of the vector env)."""
    num_steps: int = 128
    """Steps per env per rollout (rollout size = num_envs * num_steps)."""
    learning_rate: float = 3e-4
    """Adam learning rate."""
    anneal_lr: bool = False
    """Decay the learning rate linearly to 0 over total_steps."""
    gamma: float = 0.99
    """Discount factor."""
    gae_lambda: float = 0.95
    """GAE lambda."""
    num_minibatches: int = 4
    """Minibatches per epoch."""
    update_epochs: int = 4
    """Passes over each rollout."""
    norm_adv: bool = True
    """Normalise advantages per minibatch."""
    clip_coef: float = 0.2
    """Surrogate clipping range."""
    clip_vloss: bool = True
    """Clip the value loss like the policy (CleanRL's default)."""
    ent_coef: float = 0.0
    """Entropy bonus coefficient."""
    vf_coef: float = 0.5
    """Value loss coefficient."""
    max_grad_norm: float = 0.5
    """Gradient norm clip."""
    target_kl: float = 0.0
    """Stop an update's epochs early when the approximate KL exceeds this (0: never)."""
    anchor_coef: float = 0.0
    """Weight of a penalty on the squared distance of the policy's mean action from the --init-from policy's
    on the same observations (a behaviour-cloning anchor: a fine-tune cannot wander far from the cloned
    behaviour while its critic is still wrong); 0 = off."""
    value_warmup: int = 0
    """Updates at the start of a run in which only the value head learns (the actor and the shared encoder
    stay as they are), so a fine-tuned policy's first updates follow a trained critic; 0 = none."""
    channels: tuple[int, ...] = (16, 32, 32, 32)
    """CNN channels of a new network (pixels)."""
    hidden: int = 256
    """Encoder output / MLP width of a new network."""
    init_log_std: float = -0.5
    """Initial log-std of a new network's Gaussian policy."""
    seed: int = 0
    """Seed of the env resets and of torch."""
    device: str = "auto"
    """'auto' (CUDA when present), 'cpu' or 'cuda'."""
    threads: int = 0
    """torch CPU threads; 0 leaves the caller's setting (``cosmos-sim train-policy`` passes 1 unless --threads
    says otherwise: two threads beside another busy process ran 8x slower)."""
    checkpoint_every: int = 10
    """Write the policy directory every this many updates (and at the end)."""
    progress: bool = True
    """Show a tqdm progress bar."""
    extra: dict = field(default_factory=dict)
    """Metadata stored with the checkpoint (e.g. the command line)."""

    def __post_init__(self):
        for name in (
            "total_steps",
            "num_envs",
            "num_steps",
            "num_minibatches",
            "update_epochs",
            "checkpoint_every",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.anchor_coef < 0 or self.value_warmup < 0:
            raise ConfigError(
                f"anchor_coef and value_warmup must be >= 0, got {self.anchor_coef} and {self.value_warmup}"
            )
        if self.anchor_coef and not self.init_from:
            raise ConfigError(
                f"anchor_coef={self.anchor_coef} anchors the policy to the one it starts from: pass "
                "--init-from POLICY_DIR, or --anchor-coef 0"
            )
        if self.num_envs * self.num_steps < self.num_minibatches:
            raise ConfigError(
                f"num_envs * num_steps ({self.num_envs * self.num_steps}) must be at least "
                f"num_minibatches ({self.num_minibatches})"
            )


def resolve_device(device: str) -> torch.device:
    """ "auto" (CUDA when present), "cpu" or "cuda[:N]"; a ConfigError for another or one not on this machine."""
    if device != "auto" and device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise ConfigError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
    return resolve_torch_device(device)


def parse_env_kwargs(text: str) -> dict[str, Any]:
    """``--env-kwargs`` JSON -> dict ('' -> {})."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(
            f"env_kwargs {text!r} is not JSON ({e}); pass e.g. '{{\"n_objects\": 2}}'"
        ) from None
    if not isinstance(value, dict):
        raise ConfigError(f"env_kwargs must be a JSON object, got {text!r}")
    return value


def make_envs(env_id: str, num_envs: int, env_kwargs: dict[str, Any]) -> gym.vector.VectorEnv:
    envs = gym.make_vec(env_id, num_envs=num_envs, **env_kwargs)
    if not isinstance(envs.single_action_space, gym.spaces.Box):
        raise ConfigError(f"PPO here is for continuous actions; {env_id} has {envs.single_action_space}")
    mode = envs.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
    if mode not in (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP):
        raise ConfigError(
            f"{env_id}'s vector env uses autoreset mode {mode}; PPO needs NEXT_STEP or SAME_STEP"
        )
    return envs


def _episode_success(info: dict, rows: np.ndarray, same_step: bool) -> np.ndarray:
    """``is_success`` of the finished ``rows`` (False where the env does not report it)."""
    if same_step and "final_info" in info:
        info = info["final_info"]
    if "is_success" not in info:
        return np.zeros(len(rows), dtype=bool)
    ok = np.asarray(info["is_success"]).astype(bool)
    mask = np.asarray(info.get("_is_success", np.ones_like(ok))).astype(
        bool
    )  # Sync/AsyncVectorEnv's "present" mask
    return (ok & mask)[rows]


def compute_gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    next_value: torch.Tensor,
    terminated: torch.Tensor,
    done: torch.Tensor,
    gamma: float,
    lam: float,
) -> torch.Tensor:
    """Generalised advantage estimates (T, N) of a rollout.

    ``values[t]`` is V(obs the action of step t was taken from); the value after step t is
    ``values[t + 1]`` (``next_value`` after the last step): with next-step autoreset that is the
    final observation of an episode that ended at t, so a truncated episode bootstraps from it and a
    terminated one does not (``terminated``). ``done`` (terminated or truncated) cuts the chain.
    """
    adv = torch.zeros_like(rewards)
    last = torch.zeros_like(next_value)
    for t in reversed(range(rewards.shape[0])):
        nxt = next_value if t == rewards.shape[0] - 1 else values[t + 1]
        delta = rewards[t] + gamma * nxt * (~terminated[t]) - values[t]
        last = delta + gamma * lam * (~done[t]) * last
        adv[t] = last
    return adv


def train(args: Args, callback: Callable[[int, ActorCritic], None] | None = None) -> dict[str, Any]:
    """Run (or resume) PPO; returns ``{"out", "global_step", "history", "steps_per_s"}``.

    ``callback(global_step, net)`` runs after every update (e.g. to evaluate in another env).
    """
    from cosmos_sim.world_models.wfm import set_torch_threads

    set_torch_threads(args.threads, what="ppo")
    device = resolve_device(args.device)
    env_kwargs = parse_env_kwargs(args.env_kwargs)
    out = Path(args.out)
    envs = make_envs(args.env_id, args.num_envs, env_kwargs)
    obs_space, act_space = envs.single_observation_space, envs.single_action_space
    same_step = envs.metadata.get("autoreset_mode") == AutoresetMode.SAME_STEP

    # ---- network: resume, initialise from another policy, or new --------------------------------
    global_step, history = 0, []
    if (out / TRAIN_STATE).is_file():
        ckpt = load_policy(out, device)
        check_spaces(ckpt, obs_space, act_space, what=args.env_id)
        net = ckpt.net
        state = torch.load(out / TRAIN_STATE, map_location=device, weights_only=False)
        global_step, history = int(state["global_step"]), list(state["history"])
    elif args.init_from:
        ckpt = load_policy(args.init_from, device)
        check_spaces(ckpt, obs_space, act_space, what=args.env_id)
        net, state = ckpt.net, None
    else:
        net, state = (
            make_network(
                obs_space,
                act_space,
                channels=args.channels,
                hidden=args.hidden,
                init_log_std=args.init_log_std,
            ).to(device),
            None,
        )
    net.train()
    # the BC anchor's reference: the policy the run started from, frozen (also after a resume)
    anchor = (
        load_policy(args.init_from, device).net.eval().requires_grad_(False) if args.anchor_coef else None
    )
    critic_only = {id(p) for p in net.critic.parameters()}
    optimizer = torch.optim.Adam(net.parameters(), lr=args.learning_rate, eps=1e-5)
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
        optimizer.param_groups[0]["lr"] = args.learning_rate  # the saved state carries the old run's rate
    if global_step >= args.total_steps:
        envs.close()
        print(
            f"{out} already holds {global_step} steps >= total_steps={args.total_steps}; raise --total-steps"
        )
        return {"out": str(out), "global_step": global_step, "history": history, "steps_per_s": 0.0}
    torch.manual_seed(args.seed + global_step)

    # ---- rollout buffers -------------------------------------------------------------------------
    n, t_len = args.num_envs, args.num_steps
    obs_buf = torch.zeros(
        (t_len, n, *obs_space.shape), dtype=torch.as_tensor(obs_space.sample()).dtype, device=device
    )
    act_buf = torch.zeros((t_len, n, *act_space.shape), device=device)
    logp_buf, rew_buf, val_buf = (torch.zeros((t_len, n), device=device) for _ in range(3))
    term_buf, done_buf, valid_buf = (
        torch.zeros((t_len, n), dtype=torch.bool, device=device) for _ in range(3)
    )
    low, high = act_space.low, act_space.high

    # A resumed run starts new episodes with other seeds than the first run.
    obs, _ = envs.reset(seed=args.seed + global_step)
    pending = np.zeros(n, dtype=bool)  # NEXT_STEP: rows whose next step is a reset
    ep_return, ep_length = np.zeros(n), np.zeros(n, dtype=np.int64)
    finished: list[tuple[float, int, bool]] = []  # (return, length, success) since the last log line
    updates_left = -(-(args.total_steps - global_step) // (n * t_len))
    total_updates = len(history) + updates_left
    bar = None
    if args.progress:
        from tqdm import tqdm

        bar = tqdm(total=args.total_steps, initial=global_step, unit="step", desc=f"ppo {args.env_id}")
    start_time, start_step = time.perf_counter(), global_step

    for update in range(updates_left):
        if args.anneal_lr:
            frac = 1.0 - (len(history)) / max(total_updates, 1)
            optimizer.param_groups[0]["lr"] = frac * args.learning_rate

        # ---- collect a rollout --------------------------------------------------------------------
        net.eval()
        for t in range(t_len):
            x = torch.as_tensor(obs, device=device)
            valid = ~pending
            if valid.any():
                net.update_obs_stats(x[torch.as_tensor(valid, device=device)])
            with torch.no_grad():
                dist, value = net(x)
                action = dist.sample()
            obs_buf[t], act_buf[t], val_buf[t] = x, action, value
            logp_buf[t] = dist.log_prob(action).sum(-1)
            valid_buf[t] = torch.as_tensor(valid, device=device)
            obs, reward, terminated, truncated, info = envs.step(np.clip(action.cpu().numpy(), low, high))
            reward = np.asarray(reward, dtype=np.float64)
            done = np.asarray(terminated) | np.asarray(truncated)
            if same_step and "final_obs" in info and np.any(truncated):
                # SAME_STEP returns the reset frame: bootstrap truncated rows from their final frame here.
                rows = np.flatnonzero(np.asarray(truncated) & ~np.asarray(terminated))
                if len(rows):
                    final = torch.as_tensor(np.stack([info["final_obs"][i] for i in rows]), device=device)
                    with torch.no_grad():
                        reward[rows] += args.gamma * net.value(final).cpu().numpy()
            rew_buf[t] = torch.as_tensor(reward, device=device, dtype=torch.float32)
            term_buf[t] = torch.as_tensor(np.asarray(terminated), device=device)
            done_buf[t] = torch.as_tensor(done, device=device)
            global_step += n
            ep_return[valid] += reward[valid]
            ep_length[valid] += 1
            ended = np.flatnonzero(done & valid)
            if len(ended):
                for i, ok in zip(ended, _episode_success(info, ended, same_step), strict=True):
                    finished.append((float(ep_return[i]), int(ep_length[i]), bool(ok)))
                ep_return[ended], ep_length[ended] = 0.0, 0
            pending = done & (not same_step)

        # ---- advantages (reset steps are masked out below) ------------------------------------------
        with torch.no_grad():
            next_value = net.value(torch.as_tensor(obs, device=device))
        adv = compute_gae(rew_buf, val_buf, next_value, term_buf, done_buf, args.gamma, args.gae_lambda)
        returns = adv + val_buf

        # ---- optimise the policy and value -------------------------------------------------------
        net.train()
        keep = valid_buf.flatten()
        b_obs = obs_buf.flatten(0, 1)[keep]
        b_act, b_logp = act_buf.flatten(0, 1)[keep], logp_buf.flatten()[keep]
        b_adv, b_ret, b_val = adv.flatten()[keep], returns.flatten()[keep], val_buf.flatten()[keep]
        batch = len(b_obs)
        mb_size = max(1, batch // args.num_minibatches)
        stats: dict[str, list[float]] = {
            "policy_loss": [],
            "value_loss": [],
            "entropy": [],
            "approx_kl": [],
            "clipfrac": [],
        }
        warming = len(history) < args.value_warmup  # only the value head learns
        for _epoch in range(args.update_epochs):
            perm = torch.randperm(batch, device=device)
            for s in range(0, batch, mb_size):
                mb = perm[s : s + mb_size]
                dist, value = net(b_obs[mb])
                logp = dist.log_prob(b_act[mb]).sum(-1)
                log_ratio = logp - b_logp[mb]
                ratio = log_ratio.exp()
                with torch.no_grad():
                    approx_kl = ((ratio - 1) - log_ratio).mean()
                    stats["clipfrac"].append(((ratio - 1).abs() > args.clip_coef).float().mean().item())
                mb_adv = b_adv[mb]
                if args.norm_adv and len(mb) > 1:
                    mb_adv = (mb_adv - mb_adv.mean()) / (mb_adv.std() + 1e-8)
                pg_loss = torch.max(
                    -mb_adv * ratio, -mb_adv * ratio.clamp(1 - args.clip_coef, 1 + args.clip_coef)
                ).mean()
                if args.clip_vloss:
                    v_clipped = b_val[mb] + (value - b_val[mb]).clamp(-args.clip_coef, args.clip_coef)
                    v_loss = 0.5 * torch.max((value - b_ret[mb]) ** 2, (v_clipped - b_ret[mb]) ** 2).mean()
                else:
                    v_loss = 0.5 * ((value - b_ret[mb]) ** 2).mean()
                entropy = dist.entropy().sum(-1).mean()
                loss = pg_loss - args.ent_coef * entropy + args.vf_coef * v_loss
                if anchor is not None:
                    with torch.no_grad():
                        ref_mean = anchor(b_obs[mb])[0].mean
                    anchor_loss = (dist.mean - ref_mean).pow(2).sum(-1).mean()
                    stats.setdefault("anchor_loss", []).append(float(anchor_loss.item()))
                    loss = loss + args.anchor_coef * anchor_loss
                if warming:
                    loss = args.vf_coef * v_loss
                optimizer.zero_grad()
                loss.backward()
                if warming:  # Adam skips parameters without a gradient: actor and encoder stay put
                    for p in net.parameters():
                        if id(p) not in critic_only:
                            p.grad = None
                torch.nn.utils.clip_grad_norm_(net.parameters(), args.max_grad_norm)
                optimizer.step()
                for k, v in (
                    ("policy_loss", pg_loss),
                    ("value_loss", v_loss),
                    ("entropy", entropy),
                    ("approx_kl", approx_kl),
                ):
                    stats[k].append(float(v.item()))
            if args.target_kl and stats["approx_kl"][-1] > args.target_kl:
                break

        # ---- log, callback, checkpoint -----------------------------------------------------------
        sps = (global_step - start_step) / max(time.perf_counter() - start_time, 1e-9)
        row = {
            "step": global_step,
            "episodes": len(finished),
            "samples": batch,  # reset steps left out
            "return_mean": float(np.mean([f[0] for f in finished])) if finished else None,
            "length_mean": float(np.mean([f[1] for f in finished])) if finished else None,
            "success_rate": float(np.mean([f[2] for f in finished])) if finished else None,
            **{k: float(np.mean(v)) for k, v in stats.items() if v},
            "steps_per_s": sps,
        }
        history.append(row)
        finished = []
        out.mkdir(parents=True, exist_ok=True)
        with open(out / "log.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")
        if bar is not None:
            bar.update(n * t_len)
            bar.set_postfix(ret=row["return_mean"], success=row["success_rate"], refresh=False)
        if callback is not None:
            callback(global_step, net)
        if (update + 1) % args.checkpoint_every == 0 or update == updates_left - 1:
            _save(out, net, optimizer, obs_space, act_space, args, global_step, history)
    if bar is not None:
        bar.close()
    envs.close()
    sps = (global_step - start_step) / max(time.perf_counter() - start_time, 1e-9)
    return {"out": str(out), "global_step": global_step, "history": history, "steps_per_s": sps}


def _save(
    out: Path,
    net: ActorCritic,
    optimizer: torch.optim.Optimizer,
    obs_space,
    act_space,
    args: Args,
    global_step: int,
    history: list[dict],
) -> None:
    """The policy directory, then the training state (optimizer, steps) for resuming."""
    extra = {
        "algo": "ppo",
        "env_id": args.env_id,
        "global_step": global_step,
        "args": {k: v for k, v in dataclasses.asdict(args).items() if k != "extra"},
        **args.extra,
    }
    save_policy(out, net, obs_space, act_space, extra=extra)
    tmp = out / (TRAIN_STATE + ".tmp")
    torch.save({"optimizer": optimizer.state_dict(), "global_step": global_step, "history": history}, tmp)
    tmp.replace(out / TRAIN_STATE)


__all__ = ["Args", "compute_gae", "make_envs", "parse_env_kwargs", "resolve_device", "train"]
