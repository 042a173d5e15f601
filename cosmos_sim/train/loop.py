r"""The world-model RL loop (DIAMOND / IRIS style), one readable file: ``cosmos-sim train-loop``.

    cosmos-sim train-loop --env cosmos_sim/Manipulation-Reach-GT-v0 --wfm manip-dit-nano --out runs/loop

Every iteration:

1. **Collect** ``real_episodes`` episodes in the GT env with the current policy (its Gaussian's samples,
   seeded; a random policy before there is one, or ``--policy-init``), recorded with ``cosmos-sim
   generate`` into ``OUT/data/iter_NN.zarr``. These are the only real env steps the loop spends.
2. **World model**: fine-tune the previous iteration's world model (``--wfm`` at the start) and its
   reward/termination head on every real episode so far, for ``wfm_steps`` steps (``train-wfm
   --init-from``): the head learns the current policy's outcomes as they arrive.
3. **Policy**: PPO inside the world model (``cosmos_sim/WFM-v0`` on the new bundle, batched, episodes
   cut at ``horizon`` imagined steps) for ``imagination_steps`` steps, continuing the same PPO run
   (``OUT/policy``) from iteration to iteration; the reward is the model's reward head. Or, with
   ``--improve imitate`` (push): the scene's scripted expert acts inside the model on the believed state
   and the policy is cloned again on the demonstrations plus every imagined expert episode so far: the
   model supplies states the demonstrations never visited, the expert the labels (behaviour cloning of the
   push from 100 demonstrations: 89 % on validation seeds, from 400: 97 %).
4. **Evaluate** in the GT env on held-out seeds (>= 100000) with the policy's mean action: the GT
   success rate, beside the same evaluation inside the model (same policy, same seeds' first frames, the
   GT episode length): the success the model believes in (calibration), and the collecting policy's
   success on the real episodes.

With ``--perception ESTIMATOR`` the policy acts from pixels through a state estimator
(``cosmos_sim/Perceived-v0``: the frame, real or predicted, read as positions) instead of learning to
see through RL, which costs far more env steps than this budget; step 2 then also fine-tunes the given
estimator on the real episodes (labelled by the simulator: ``true_state``) and, for the entries read off
every frame, on the new model's open-loop predictions of them, so it reads imagined frames as well as real
ones. ``--proprio NAMES`` makes
some of those entries proprioception (the robot's own state, e.g. ``ee_x ee_y ee_z``): the GT env's true
state, and inside the model a proprioception model's prediction, refitted on the real episodes every
iteration (``cosmos_sim/train/proprio.py``), instead of a reading of a blurry imagined gripper;
``--tracked NAMES`` adds objects the robot moves (the pushed block) to that model, a state model.
``--prior-data`` joins earlier real episodes (BC's demonstrations) to every fit, ``--gate-episodes N``
keeps a new policy only if it does no worse than the old one on N real episodes, and ``--hold`` lets an
imagined success go on paying the reward, so the policy goes for the target's centre.

``OUT/metrics.jsonl`` has one row per iteration (real steps so far, GT success, believed success, times);
``OUT/loop_state.json`` says which iterations are done, so the same command resumes after the last one.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from cosmos_sim.errors import ConfigError
from cosmos_sim.train.common import lock_out_dir, releases_out_dir_locks
from cosmos_sim.world_models.wfm import set_torch_threads


@dataclass
class Args:
    """Command-line arguments of ``cosmos-sim train-loop``."""

    env_id: str = "cosmos_sim/Manipulation-Reach-GT-v0"
    """The real (GT) env the policy is for: any registered id that renders 64x64 rgb_array frames."""
    env_kwargs: dict = field(default_factory=dict)
    """Keyword arguments of the GT env (JSON)."""
    wfm: str = "manip-dit-nano"
    """World model the loop starts from (a shipped name or a bundle of the same frame size)."""
    policy_init: str = ""
    """Policy directory to start from (e.g. behaviour cloning); empty: random actions collect first."""
    prior_data: tuple[str, ...] = ()
    """Real episodes recorded before the loop (e.g. the demonstrations --policy-init was cloned from), joined
    to the loop's own in every model fit (world model, estimator, proprioception/state model); not counted
    in the loop's real steps."""
    perception: str = ""
    """State estimator the policy sees through (``cosmos_sim/Perceived-v0``, in the GT env and in the model
    alike), refreshed every iteration on the real episodes and the model's predictions of them; empty: the
    policy reads the frames themselves."""
    perception_steps: int = 400
    """Fine-tuning steps of the state estimator per iteration (with --perception); 0 keeps the given one
    (measured on reach: without the refresh the loop learned far slower)."""
    proprio: tuple[str, ...] = ()
    """With --perception: estimator entries that are the robot's own state (e.g. ee_x ee_y ee_z), given as
    proprioception: the true state in the GT env; inside the model, predicted from the actions by a
    proprioception model fitted on the real episodes every iteration (``cosmos-sim train-proprio``)."""
    static: tuple[str, ...] = ()
    """With --perception: estimator entries that do not move during an episode (e.g. goal_x goal_y), read off
    each episode's first frame (a real one, also inside the model) and held."""
    tracked: tuple[str, ...] = ()
    """With --proprio: object entries (e.g. red_block_x red_block_y) read off every real frame, and inside the
    model predicted with the proprioception by the same model (a state model of the robot and the object
    it moves) instead of read off imagined frames, which blur the object."""
    reward: str = "head"
    """Reward inside the model: "head" (the world model's reward head) or "perceived" (with --perception: the
    task's own reward function of the estimated state, for the push/reach task)."""
    hold: bool = False
    """With --reward perceived: inside the model a success does not end the imagined episode; the task's reward
    (its bonus included) goes on to the horizon, so the policy learns to reach the target's centre and stay
    (one that stops at the success radius's edge misses in GT by the estimator's error)."""
    out: str = "runs/loop"
    """Run directory: data/, wfm/iter_NN/, policy/, metrics.jsonl, loop_state.json."""
    iterations: int = 6
    """Collect -> world model -> policy -> evaluate rounds."""
    real_episodes: int = 16
    """GT episodes collected per iteration (the real-step budget is this x episode length x iterations)."""
    wfm_steps: int = 400
    """World-model fine-tuning steps per iteration."""
    wfm_lr: float = 2e-4
    """Peak learning rate of the world-model fine-tunes."""
    imagination_steps: int = 8192
    """PPO env steps inside the world model per iteration."""
    horizon: int = 32
    """Imagined episode length inside the world model (episodes end earlier when the head says done)."""
    num_envs: int = 16
    """Parallel imagined episodes (the world model steps them as one batch)."""
    num_steps: int = 32
    """Steps per env per PPO rollout."""
    ppo_lr: float = 3e-4
    """PPO learning rate."""
    improve: str = "ppo"
    """How the policy learns inside the model: "ppo" (PPO on the model's reward) or "imitate" (push, with
    --perception and --prior-data demonstrations: the scene's scripted expert acts on the believed state inside
    the model, ``expert_from_state``, and the policy is cloned again on the demonstrations plus every imagined
    episode so far; the model supplies the states, the expert the labels)."""
    imitate_epochs: int = 150
    """With --improve imitate: behaviour-cloning epochs of each re-clone."""
    anchor_coef: float = 0.0
    """PPO's BC anchor to --policy-init (ppo.Args.anchor_coef); 0 = off."""
    value_warmup: int = 0
    """PPO updates at the start in which only the value head learns (ppo.Args.value_warmup)."""
    eval_episodes: int = 16
    """Held-out GT episodes per evaluation (seeds 100000..)."""
    gate_episodes: int = 0
    """Real episodes (mean action; training seeds 50000 + ...) on which each iteration's new policy must do at
    least as well as the policy it replaces, or the loop keeps the old one: a fine-tune from --policy-init
    then cannot end below where it started by more than these episodes' noise. They count as real steps;
    0: off."""
    seed: int = 0
    """Seed of the collection (episode seeds seed*100 + ...), the world model and PPO."""
    threads: int = 1
    """torch CPU threads of this process."""
    device: str = "auto"
    """Torch device of the world model and PPO: "auto" (CUDA if available), "cpu" or "cuda"."""
    progress: bool = True
    """Show progress bars of the parts."""

    def __post_init__(self):
        for name in (
            "iterations",
            "real_episodes",
            "wfm_steps",
            "imagination_steps",
            "horizon",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.perception_steps < 0:
            raise ConfigError(f"--perception-steps must be >= 0 (0: no refresh), got {self.perception_steps}")
        if self.reward not in ("head", "perceived"):
            raise ConfigError(f"--reward {self.reward!r} unknown; use 'head' or 'perceived'")
        if self.reward == "perceived" and not self.perception:
            raise ConfigError("--reward perceived reads the estimated state: pass --perception ESTIMATOR too")
        if self.proprio and not self.perception:
            raise ConfigError(
                "--proprio replaces entries of the estimated state: pass --perception ESTIMATOR too"
            )
        if self.static and not self.perception:
            raise ConfigError(
                "--static holds entries of the estimated state: pass --perception ESTIMATOR too"
            )
        self.prior_data = tuple(self.prior_data)
        if self.hold and self.reward != "perceived":
            raise ConfigError(
                "--hold keeps paying the task's reward after success: pass --reward perceived too"
            )
        if self.gate_episodes < 0:
            raise ConfigError(f"--gate-episodes must be >= 0 (0: off), got {self.gate_episodes}")
        if self.tracked and not self.proprio:
            raise ConfigError(
                "--tracked entries are predicted with the robot's state: pass --proprio (e.g. ee_x ee_y ee_z) too"
            )
        self.proprio, self.static, self.tracked = tuple(self.proprio), tuple(self.static), tuple(self.tracked)
        if self.improve not in ("ppo", "imitate"):
            raise ConfigError(f"--improve {self.improve!r} unknown; use 'ppo' or 'imitate'")
        if self.improve == "imitate" and not (self.perception and self.prior_data):
            raise ConfigError(
                "--improve imitate clones the expert on believed states and on demonstrations: pass --perception "
                "ESTIMATOR and --prior-data DEMOS.zarr (the scripted expert's episodes) too"
            )
        if self.imitate_epochs < 1:
            raise ConfigError(f"--imitate-epochs must be >= 1, got {self.imitate_epochs}")
        if self.num_envs * self.num_steps > self.imagination_steps:
            raise ConfigError(
                f"--imagination-steps {self.imagination_steps} is less than one PPO rollout "
                f"(--num-envs {self.num_envs} x --num-steps {self.num_steps}); raise it"
            )


def policy_env(
    env_id: str,
    env_kwargs: dict,
    estimator: str,
    reward: str = "inner",
    proprio: tuple[str, ...] = (),
    proprio_model: str = "",
    static: tuple[str, ...] = (),
    tracked: tuple[str, ...] = (),
    hold: bool = False,
) -> tuple[str, dict]:
    """The env id and kwargs the policy acts in: ``env_id`` itself, or read through ``estimator`` (with the
    reward ``reward``: "inner", or a task's from the estimated state; the ``proprio`` entries given as
    proprioception, predicted by ``proprio_model`` inside a world model, with the ``tracked`` ones; the
    ``static`` ones held from each episode's first frame)."""
    if not estimator:
        return env_id, env_kwargs
    kwargs: dict = {"env_id": env_id, "estimator": estimator, "env_kwargs": env_kwargs}
    if reward != "inner":
        kwargs["reward"] = reward
    if proprio:
        kwargs["proprio"] = list(proprio)
        if proprio_model:
            kwargs["proprio_model"] = proprio_model
    if static:
        kwargs["static"] = list(static)
    if tracked:
        kwargs["tracked"] = list(tracked)
    if hold:
        kwargs["hold"] = True
    return "cosmos_sim/Perceived-v0", kwargs


def gt_kwargs(args: Args) -> dict:
    """The GT env's kwargs: 64x64 frames (the world models' size) and the user's ``env_kwargs``."""
    return {"width": 64, "height": 64, **args.env_kwargs}


def gt_policy_env(args: Args, estimator: str) -> tuple[str, dict]:
    """The GT env as the policy sees it (collection and evaluation)."""
    return policy_env(
        args.env_id,
        gt_kwargs(args),
        estimator,
        proprio=args.proprio,
        static=args.static,
        tracked=args.tracked,
    )


def task_of(env_id: str, env_kwargs: dict) -> str:
    """The push/reach task an env id (with kwargs) poses."""
    import gymnasium as gym

    import cosmos_sim.envs  # noqa: F401

    return str({**(gym.spec(env_id).kwargs or {}), **env_kwargs}.get("task", "push"))


def collect(args: Args, policy: str, store: Path, iteration: int, estimator: str = "") -> dict[str, float]:
    """Record ``real_episodes`` GT episodes with ``policy`` ("random" or a policy directory), through
    ``estimator`` when there is one (the store then keeps the true state as ``true_state``)."""
    from cosmos_sim.data.generate import GenerateConfig, generate
    from cosmos_sim.data.store import TrajectoryStore

    env_id, kwargs = gt_policy_env(args, estimator)
    generate(
        GenerateConfig(
            env_id=env_id,
            episodes=args.real_episodes,
            out=str(store),
            policy=policy,
            seed=args.seed * 1000 + iteration * args.real_episodes,  # training seeds (held-out: >= 100000)
            resolution=(64, 64) if not estimator else None,
            env_kwargs=kwargs,
            progress=False,
        )
    )
    s = TrajectoryStore.open(store)
    ends = s.episode_ends - 1
    success = s.read("is_success", 0, s.n_steps)[ends] if "is_success" in s.keys() else np.zeros(len(ends))
    return {"real_steps": int(s.n_steps - s.n_episodes), "collect_success": float(np.mean(success))}


def fit_world_model(args: Args, stores: list[str], init: str, out: Path) -> Path:
    """Fine-tune ``init`` on ``stores`` (all real data so far); returns the new bundle (``out/best``)."""
    from cosmos_sim.train import wfm as train_wfm
    from cosmos_sim.world_models.wfm import WorldModel

    base = WorldModel.from_pretrained(init, device="cpu")  # its tokenizer; --init-from keeps its architecture
    train_wfm.train(
        train_wfm.Args(
            data=tuple(stores),
            tokenizer=str(base.tokenizer_source),
            family=base.config.family,
            init_from=str(WorldModel.resolve_pretrained(init)),
            out=str(out),
            cache_dir=str(out.parent / "cache"),
            sampler_steps=base.config.sampler_steps,
            steps=args.wfm_steps,
            lr=args.wfm_lr,
            warmup=min(50, args.wfm_steps // 4 + 1),
            eval_every=args.wfm_steps,
            threads=args.threads,
            device=args.device,
            seed=args.seed,
            progress=args.progress,
            extra={"command": "cosmos-sim train-loop"},
        )
    )
    return out / "best"


def fit_perception(args: Args, stores: list[str], bundle: Path, out: Path) -> Path:
    """Fine-tune the given estimator (``--perception``) on the real episodes so far and ``bundle``'s open-loop
    predictions of them (the frames the policy reads in imagination); returns ``out/best``.

    Always from the given estimator, not the last refresh: refreshes compounded errors. The model's frames
    teach only the entries the policy reads off them, not ``--proprio`` or ``--static`` ones: learning the
    goal from blurred predictions took the goal reading on real first frames from 0.7 to 2.0 cm in one
    refresh and 4.6 cm in six (reach, 64 held-out seeds)."""
    from cosmos_sim.train import state_estimator
    from cosmos_sim.world_models.state_estimator import StateEstimator

    init = args.perception
    names = StateEstimator.from_pretrained(init, device="cpu").names
    per_frame = tuple(n for n in names if n not in args.proprio + args.static + args.tracked)
    shutil.rmtree(out, ignore_errors=True)  # an interrupted iteration starts its fine-tune again
    state_estimator.train(
        state_estimator.Args(
            data=tuple(stores),
            names=names,
            out=str(out),
            init_from=init,
            wfm=str(bundle) if per_frame else "",
            wfm_horizon=args.horizon,
            wfm_names=per_frame,
            steps=args.perception_steps,
            lr=3e-4,
            warmup=min(50, args.perception_steps // 4 + 1),
            eval_every=args.perception_steps,
            threads=args.threads,
            device=args.device,
            seed=args.seed,
            progress=False,
            extra={"command": "cosmos-sim train-loop"},
        )
    )
    return out / "best"


def fit_proprio(args: Args, stores: list[str], out: Path) -> Path:
    """Fit the proprioception model of the ``--proprio`` entries on the real episodes so far (from scratch:
    seconds); returns ``out/best``."""
    from cosmos_sim.train import proprio

    shutil.rmtree(out, ignore_errors=True)
    proprio.train(
        proprio.Args(
            data=tuple(stores),
            names=args.proprio + args.tracked,
            out=str(out),
            threads=args.threads,
            seed=args.seed,
            extra={"command": "cosmos-sim train-loop"},
        )
    )
    return out / "best"


def model_kwargs(args: Args, bundle: Path, steps: int) -> dict:
    """``cosmos_sim/WFM-v0``'s kwargs for the loop's model: with ``--reward perceived`` the task's verdict on
    the estimated state ends imagined episodes, not the reward head (trained on the real episodes, whose
    quick successes taught it to end episodes early: the model's belief fell from 94 % to 50 % while GT
    success stayed at 94-100 %, reach)."""
    kwargs = {"checkpoint": str(bundle), "max_episode_steps": steps, "device": args.device}
    if args.reward == "perceived":
        kwargs["head_terminates"] = False
    return kwargs


def train_policy(
    args: Args, bundle: Path, out: Path, total_steps: int, estimator: str = "", proprio_model: str = ""
) -> dict[str, float]:
    """Continue the loop's PPO run inside ``bundle`` up to ``total_steps`` imagined steps; the success rate
    the policy met inside the model in the last quarter of this iteration's updates."""
    from cosmos_sim.policies import ppo

    env_id, kwargs = policy_env(
        "cosmos_sim/WFM-v0",
        model_kwargs(args, bundle, args.horizon),
        estimator,
        task_of(args.env_id, args.env_kwargs) if args.reward == "perceived" else "inner",
        args.proprio,
        proprio_model,
        args.static,
        args.tracked,
        args.hold,  # training only: the in-model evaluation ends like the GT one (is_success is kept)
    )
    result = ppo.train(
        ppo.Args(
            env_id=env_id,
            env_kwargs=json.dumps(kwargs),
            out=str(out),
            init_from=args.policy_init,  # a resumed run keeps its own weights; the BC anchor needs it throughout
            total_steps=total_steps,
            num_envs=args.num_envs,
            num_steps=args.num_steps,
            learning_rate=args.ppo_lr,
            anchor_coef=args.anchor_coef if args.policy_init else 0.0,
            value_warmup=args.value_warmup,
            seed=args.seed,
            device=args.device,
            progress=args.progress,
            extra={"command": "cosmos-sim train-loop"},
        )
    )
    rows = result["history"][-max(1, args.imagination_steps // (args.num_envs * args.num_steps) // 4) :]
    seen = [r["success_rate"] for r in rows if r["success_rate"] is not None]
    # finished episodes of the sampled policy: successes end early, so they are over-represented here
    return {"train_success": float(np.mean(seen)) if seen else float("nan")}


def expert_teacher(args: Args):
    """The GT scene whose ``expert_from_state`` labels imagined states (``--improve imitate``); a clear error,
    before any work, for a scene without one."""
    import gymnasium as gym

    import cosmos_sim.envs  # noqa: F401

    scene = gym.make(args.env_id, **gt_kwargs(args)).unwrapped
    if not hasattr(scene, "expert_from_state") or task_of(args.env_id, args.env_kwargs) != "push":
        raise ConfigError(
            f"--improve imitate needs a push scene whose expert acts on a state (expert_from_state); "
            f"{args.env_id} with {args.env_kwargs or 'no kwargs'} has none: use cosmos_sim/Manipulation-GT-v0 or "
            "--improve ppo"
        )
    return scene


def imagine_expert(
    args: Args, bundle: Path, store: Path, iteration: int, estimator: str, proprio_model: str
) -> dict[str, float]:
    """``imagination_steps`` steps of the GT scene's scripted expert inside the world model, acting on the
    believed state (``expert_from_state``: what the policy sees, so the labels agree with its inputs whatever
    the model's errors), episodes ending at the believed success or ``horizon``; recorded into ``store`` as a
    demonstration store (``state``, ``action``). Returns the expert's believed success."""
    import gymnasium as gym
    from tqdm import tqdm

    from cosmos_sim.data.store import TrajectoryStore
    from cosmos_sim.eval import HELD_OUT_SEED

    teacher = expert_teacher(args)
    env_id, kwargs = policy_env(
        "cosmos_sim/WFM-v0",
        model_kwargs(args, bundle, args.horizon),
        estimator,
        task_of(args.env_id, args.env_kwargs),
        args.proprio,
        proprio_model,
        args.static,
        args.tracked,
    )
    env = gym.make(env_id, **kwargs)
    names = env.get_wrapper_attr("estimator").names
    out = TrajectoryStore.create(store, attrs={"env_id": env_id, "imagined": True})
    steps, successes, episodes = 0, 0, 0
    bar = tqdm(total=args.imagination_steps, desc="expert in the model", disable=not args.progress)
    while steps < args.imagination_steps:
        # first frames from training seeds IMAGINE_SEED.. (wrapped below HELD_OUT_SEED)
        seed = IMAGINE_SEED + (iteration * 10_000 + args.seed * 1_000 + episodes) % (
            HELD_OUT_SEED - IMAGINE_SEED
        )
        obs, info = env.reset(seed=seed)
        observations, actions, done = [obs], [], False
        while not done:
            actions.append(teacher.expert_from_state(dict(zip(names, map(float, obs), strict=True))))
            obs, _, terminated, truncated, info = env.step(actions[-1])
            observations.append(obs)
            done = terminated or truncated
        actions.append(np.zeros_like(actions[0]))  # the last row's action is padding
        out.add_episode(
            {"state": np.stack(observations).astype(np.float32), "action": np.stack(actions)}, seed=seed
        )
        steps, episodes = steps + len(observations) - 1, episodes + 1
        successes += bool(info.get("is_success", False))
        bar.update(len(observations) - 1)
    bar.close()
    out.close()
    env.close()
    teacher.close()
    return {"train_success": successes / episodes}


def imitate(args: Args, demos: list[str], out: Path) -> None:
    """Clone the policy again, from scratch, on ``demos`` (the demonstrations and the imagined episodes)."""
    from cosmos_sim.policies import bc

    env_id, kwargs = gt_policy_env(args, args.perception)
    shutil.rmtree(out, ignore_errors=True)
    bc.train(
        bc.Args(
            data=tuple(demos),
            env_id=env_id,
            env_kwargs=json.dumps(kwargs),
            obs_key="state",
            epochs=args.imitate_epochs,
            finetune_log_std=IMITATE_LOG_STD,
            out=str(out),
            seed=args.seed,
            device=args.device,
            extra={"command": "cosmos-sim train-loop --improve imitate"},
        )
    )


IMAGINE_SEED = 30_000  # imagined episodes' first frames: training seeds, apart from collection and the gate
IMITATE_LOG_STD = -2.0  # the re-cloned policy's log-std: the exploration of the real episodes it collects


def _held_out(args: Args, policy_dir: Path, env_id: str, kwargs: dict) -> tuple[float, float]:
    from cosmos_sim.eval import HELD_OUT_SEED
    from cosmos_sim.policies.evaluate import run_episodes
    from cosmos_sim.policies.networks import load_policy

    net = load_policy(policy_dir, "cpu").net
    seeds = list(range(HELD_OUT_SEED, HELD_OUT_SEED + args.eval_episodes))
    result, _ = run_episodes(net, env_id, seeds, kwargs)
    return float(result.success_rate), float(result.mean_return)


GATE_SEED = 50_000  # the gate's episodes: training seeds, apart from the collection's and the held-out ones


def gate_policy(args: Args, candidate: Path, incumbent: str, iteration: int, estimator: str) -> dict:
    """Score the new policy and the one it replaces on the same ``gate_episodes`` real episodes; the figures,
    the real steps spent and whether the candidate stays (it must not do worse)."""
    from cosmos_sim.policies.evaluate import run_episodes
    from cosmos_sim.policies.networks import load_policy

    env_id, kwargs = gt_policy_env(args, estimator)
    seeds = [
        GATE_SEED + args.seed * 1000 + iteration * args.gate_episodes + i for i in range(args.gate_episodes)
    ]
    scores, steps = [], 0
    for policy in (candidate, incumbent):
        result, _ = run_episodes(load_policy(policy, "cpu").net, env_id, seeds, kwargs)
        scores.append(result.success_rate)
        steps += round(result.mean_length * len(seeds))
    return {
        "gate_new": scores[0],
        "gate_old": scores[1],
        "gate_steps": steps,
        "gate_kept_new": scores[0] >= scores[1],
    }


def evaluate_gt(args: Args, policy_dir: Path, estimator: str = "") -> dict[str, float]:
    """GT success and return of the policy's mean action on held-out seeds."""
    env_id, kwargs = gt_policy_env(args, estimator)
    success, ret = _held_out(args, policy_dir, env_id, kwargs)
    return {"gt_success": success, "gt_return": ret}


def evaluate_in_model(
    args: Args, bundle: Path, policy_dir: Path, estimator: str = "", proprio_model: str = ""
) -> dict[str, float]:
    """The GT evaluation repeated inside the world model: the same policy (mean action), the same held-out
    seeds' first frames, the GT env's episode length; the success the model reports is its belief, which
    calibration compares with the GT success."""
    import gymnasium as gym

    import cosmos_sim.envs  # noqa: F401

    env_id, kwargs = policy_env(
        "cosmos_sim/WFM-v0",
        model_kwargs(args, bundle, gym.spec(args.env_id).max_episode_steps or args.horizon),
        estimator,
        task_of(args.env_id, args.env_kwargs) if args.reward == "perceived" else "inner",
        args.proprio,
        proprio_model,
        args.static,
        args.tracked,
    )
    return {"believed_success": _held_out(args, policy_dir, env_id, kwargs)[0]}


@releases_out_dir_locks
def train_loop(args: Args) -> list[dict]:
    """Run (or resume) the loop; returns the metrics rows."""
    set_torch_threads(args.threads, what="train-loop")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lock_out_dir(out)
    state_path, metrics_path = out / "loop_state.json", out / "metrics.jsonl"
    state = json.loads(state_path.read_text()) if state_path.is_file() else {"done": 0, "real_steps": 0}
    rows = [json.loads(x) for x in metrics_path.read_text().splitlines()] if metrics_path.is_file() else []
    stores = sorted(str(p) for p in (out / "data").glob("iter_*.zarr"))[: state["done"]]
    if args.improve == "imitate":
        expert_teacher(args)  # a scene without a teacher fails here, not after an iteration's work
    for it in range(state["done"], args.iterations):
        t0 = time.perf_counter()
        store = out / "data" / f"iter_{it:02d}.zarr"
        if store.exists():  # an interrupted iteration: record it again
            shutil.rmtree(store)
        has_policy = (out / "policy" / "config.json").is_file()
        policy = str(out / "policy") if has_policy else (args.policy_init or "random")
        refresh = bool(args.perception and args.perception_steps)
        estimator = args.perception and (  # the last iteration's refresh (collects), or the given one
            str(out / "perception" / f"iter_{it - 1:02d}" / "best") if it and refresh else args.perception
        )
        got = collect(args, policy, store, it, estimator)
        stores.append(str(store))
        t1 = time.perf_counter()
        init = str(out / "wfm" / f"iter_{it - 1:02d}" / "best") if it else args.wfm
        seen = [*args.prior_data, *stores]  # every real episode so far
        bundle = fit_world_model(args, seen, init, out / "wfm" / f"iter_{it:02d}")
        if refresh:
            estimator = str(fit_perception(args, seen, bundle, out / "perception" / f"iter_{it:02d}"))
        proprio_model = (
            str(fit_proprio(args, seen, out / "proprio" / f"iter_{it:02d}")) if args.proprio else ""
        )
        t2 = time.perf_counter()
        kept = out / "policy_kept"  # the policy a gated iteration may return to
        incumbent = str(kept) if has_policy else args.policy_init
        if args.gate_episodes and has_policy:
            shutil.rmtree(kept, ignore_errors=True)
            shutil.copytree(out / "policy", kept)
        if args.improve == "imitate":
            imagined = out / "imagined" / f"iter_{it:02d}.zarr"
            shutil.rmtree(imagined, ignore_errors=True)
            believed = imagine_expert(args, bundle, imagined, it, estimator, proprio_model)
            so_far = [str(out / "imagined" / f"iter_{j:02d}.zarr") for j in range(it + 1)]
            imitate(args, [*args.prior_data, *so_far], out / "policy")
        else:
            believed = train_policy(
                args, bundle, out / "policy", (it + 1) * args.imagination_steps, estimator, proprio_model
            )
        gate = {}
        if args.gate_episodes and incumbent:
            gate = gate_policy(args, out / "policy", incumbent, it, estimator)
            if not gate["gate_kept_new"]:
                shutil.rmtree(out / "policy")
                if has_policy:
                    shutil.copytree(kept, out / "policy")
        shutil.rmtree(kept, ignore_errors=True)
        policy = out / "policy" if (out / "policy" / "config.json").is_file() else Path(args.policy_init)
        t3 = time.perf_counter()
        gt = evaluate_gt(args, policy, estimator)
        believed.update(evaluate_in_model(args, bundle, policy, estimator, proprio_model))
        real_steps = state["real_steps"] + got["real_steps"] + gate.get("gate_steps", 0)
        row = {
            "iteration": it,
            "real_steps": real_steps,
            "imagined_steps": (it + 1) * args.imagination_steps,
            **gt,
            **believed,
            **gate,
            "collect_success": got["collect_success"],
            "collect_s": round(t1 - t0, 1),
            "wfm_s": round(t2 - t1, 1),
            "policy_s": round(t3 - t2, 1),
            "eval_s": round(time.perf_counter() - t3, 1),
        }
        rows.append(row)
        with open(metrics_path, "a") as f:
            f.write(json.dumps(row) + "\n")
        state = {"done": it + 1, "real_steps": real_steps, "args": asdict(args)}
        state_path.write_text(json.dumps(state, indent=2))
        print(
            f"iteration {it}: {real_steps} real steps, GT success {gt['gt_success']:.0%} "
            f"(the model believed {believed['believed_success']:.0%})",
            flush=True,
        )
    return rows


__all__ = [
    "Args",
    "collect",
    "evaluate_gt",
    "gate_policy",
    "evaluate_in_model",
    "fit_proprio",
    "fit_world_model",
    "train_loop",
    "train_policy",
]
