"""The ``cosmos-sim`` command line. Every subcommand is a thin layer over a Python function.

    cosmos-sim list-envs                     registered Gymnasium ids
    cosmos-sim generate --env ID ...         record episodes into a zarr trajectory store
    cosmos-sim export STORE --episode I ...  an episode as MP4/GIF
    cosmos-sim bench NAME --out DIR          a benchmark's JSON + markdown
    cosmos-sim train-tokenizer --data ...    train a causal video tokenizer
    cosmos-sim train-wfm --data ...          train an action-conditioned world model (diffusion | ar)
    cosmos-sim train-policy --algo ppo|bc    train a policy (PPO in any env, behaviour cloning from stores)
    cosmos-sim eval-policy --policy DIR ...  success rate and return of a policy on held-out seeds, GIF
    cosmos-sim dream --model DIR --from ...  synthetic trajectories rolled out inside a world model
    cosmos-sim curate INPUT_DIR OUT_DIR      raw videos -> filtered, captioned, deduplicated training shards
    cosmos-sim demo                          the README's demo
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys

# cosmos_sim.policies.POLICIES, spelled out so that `--help` imports nothing heavy (a test keeps them equal).
GENERATE_POLICIES = ("random", "expert", "noisy-expert")


def _resolution(text: str) -> tuple[int, int]:
    try:
        w, _, h = text.lower().partition("x")
        size = (int(w), int(h or w))
    except ValueError:
        raise argparse.ArgumentTypeError(f"resolution {text!r} is not WxH (e.g. 64x64) or a single size") from None
    if min(size) < 8:
        raise argparse.ArgumentTypeError(f"resolution {text!r} too small; use at least 8x8")
    return size


def _json_dict(text: str) -> dict:
    import json

    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"--env-kwargs {text!r} is not JSON: {e}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"--env-kwargs must be a JSON object like '{{\"n_objects\": 3}}', got {text!r}")
    return value


def _command_line(args: argparse.Namespace) -> str:
    """The command as typed, recorded with results and checkpoints."""
    return "cosmos-sim " + " ".join(shlex.quote(a) for a in args.argv)


def _cmd_list_envs(args: argparse.Namespace) -> int:
    import gymnasium as gym

    from cosmos_sim.envs import registered_ids, wfm_ids

    for env_id in registered_ids() + wfm_ids():
        spec = gym.spec(env_id)
        print(f"{env_id:45s} max_episode_steps={spec.max_episode_steps}")
    return 0


def _cmd_generate(args: argparse.Namespace) -> int:
    from cosmos_sim.data.generate import GenerateConfig, generate
    from cosmos_sim.envs.control_maps import parse_maps

    cfg = GenerateConfig(env_id=args.env, episodes=args.episodes, out=args.out, policy=args.policy,
                         workers=args.workers, seed=args.seed, resolution=args.resolution,
                         maps=parse_maps(args.maps), max_steps=args.max_steps, env_kwargs=args.env_kwargs)
    generate(cfg)
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from cosmos_sim.data.export import export_episode

    path = export_episode(args.store, args.episode, args.out, key=args.key, fps=args.fps)
    print(f"wrote {path}")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from cosmos_sim.bench import benchmark_module, run_benchmark
    from cosmos_sim.cli.dataclass_cli import add_dataclass_arguments, dataclass_from_namespace

    if args.name is None:
        if args.help:
            args.parser.print_help()
            return 0
        args.parser.error("the benchmark name is required")
    # A benchmark's own options come from its Config dataclass, parsed from what the bench parser left.
    if args.help:
        args.rest.append("--help")
    cls = getattr(benchmark_module(args.name), "Config", None)
    config = None
    if cls is not None:
        p = argparse.ArgumentParser(prog=f"cosmos-sim bench {args.name}", description=f"options of bench {args.name}")
        add_dataclass_arguments(p, cls)
        if "-h" in args.rest or "--help" in args.rest:
            p.print_help()
            return 0
        config = dataclass_from_namespace(cls, p.parse_args(args.rest))
    elif args.help:
        args.parser.print_help()
        return 0
    elif args.rest:
        raise ValueError(f"benchmark {args.name!r} takes no options, got {' '.join(args.rest)}")
    result = run_benchmark(args.name, args.out, quick=args.quick, command=_command_line(args), config=config)
    width = max(len(k) for k in result.figures) if result.figures else 0
    for k, v in result.figures.items():
        print(f"{k:{width}s}  {v}")
    print(f"wrote {os.path.join(args.out, result.name)}.json and .md")
    return 0


def _cmd_train_tokenizer(args: argparse.Namespace) -> int:
    from cosmos_sim.train.tokenizer import args_from_namespace, train

    train(args_from_namespace(args, command=_command_line(args)))
    return 0


def _cmd_train_wfm(args: argparse.Namespace) -> int:
    from cosmos_sim.train.wfm import args_from_namespace, train

    train(args_from_namespace(args, command=_command_line(args)))
    return 0


def _cmd_train_policy(args: argparse.Namespace) -> int:
    from cosmos_sim.cli.policies import run_train, train_args_from_namespace

    run_train(train_args_from_namespace(args, command=_command_line(args)))
    return 0


def _cmd_eval_policy(args: argparse.Namespace) -> int:
    from cosmos_sim.policies.evaluate import evaluate

    gif = None if args.gif_episodes == 0 else (args.gif or os.path.join(args.policy, "eval.gif"))
    r = evaluate(args.policy, args.env, episodes=args.episodes, seed=args.seed, env_kwargs=args.env_kwargs,
                 gif=gif, gif_episodes=args.gif_episodes, deterministic=not args.sample)
    print(f"{args.env}: success rate {r.success_rate:.3f}, mean return {r.mean_return:.2f}, mean length "
          f"{r.mean_length:.1f} over {len(r.seeds)} episodes (seeds {r.seeds[0]}..{r.seeds[-1]})"
          + (f"; GIF {r.gif}" if r.gif else ""))
    return 0


def _cmd_dream(args: argparse.Namespace) -> int:
    from cosmos_sim.cli.policies import dream_config_from_namespace
    from cosmos_sim.data.dream import dream

    s = dream(dream_config_from_namespace(args), command=_command_line(args))
    print(f"{s['kept']}/{s['episodes']} dreamed episodes written to {s['out']}: {s['trajectories_per_hour']:,.0f} "
          f"trajectories/hour, {s['frames_per_s']:.1f} frames/s, mean predicted return {s['mean_predicted_return']:.2f}")
    return 0


def _cmd_curate(args: argparse.Namespace) -> int:
    from cosmos_sim.curate import curate, load_config

    cfg = load_config(args.config, executor=args.executor, workers=args.workers, ray_address=args.ray_address,
                      progress=False if args.no_progress else None)
    summary = curate(args.input_dir, args.out_dir, cfg)
    print(summary["text"])
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from cosmos_sim.demo import DemoConfig, run_demo

    run_demo(DemoConfig(out=args.out, episodes=args.episodes, workers=args.workers))
    return 0


def build_parser() -> argparse.ArgumentParser:
    from cosmos_sim.bench import BENCHMARKS

    p = argparse.ArgumentParser(
        prog="cosmos-sim",
        description="World foundation models as Gymnasium environments, beside MuJoCo/PyBullet ground truth. "
        "Run `cosmos-sim <command> --help` for a command's options.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="<command>")

    s = sub.add_parser("list-envs", help="list the registered cosmos_sim Gymnasium ids")
    s.set_defaults(func=_cmd_list_envs)

    s = sub.add_parser("generate", help="record episodes of any rgb_array Gymnasium env into a zarr store",
                       description="Roll out a policy in a Gymnasium env (ours or any registered one that renders "
                       "rgb_array) and append whole episodes to a zarr v3 trajectory store.")
    s.add_argument("--env", required=True, help="Gymnasium id, e.g. cosmos_sim/Manipulation-GT-v0 or Hopper-v5")
    s.add_argument("--episodes", type=int, default=10, help="number of episodes to record (default 10)")
    s.add_argument("--out", required=True, help="store path, e.g. data/manip.zarr (appended to if it exists)")
    s.add_argument("--policy", default="random", choices=GENERATE_POLICIES,
                   help="who acts (default random; noisy-expert: the expert with per-episode action noise and "
                   "random-action bursts, world-model training data)")
    s.add_argument("--workers", type=int, default=1, help="parallel worker processes (default 1)")
    s.add_argument("--seed", type=int, default=0, help="seed of the first episode; episode i uses seed+i")
    s.add_argument("--resolution", type=_resolution, default=None, help="image size WxH, e.g. 64x64")
    s.add_argument("--maps", default="", help="control maps to record, e.g. depth,seg,edges,blur (cosmos_sim envs)")
    s.add_argument("--max-steps", type=int, default=None, help="cap on steps per episode")
    s.add_argument("--env-kwargs", type=_json_dict, default={}, help='env constructor kwargs as JSON, e.g. \'{"n_objects": 3}\'')
    s.set_defaults(func=_cmd_generate)

    s = sub.add_parser("export", help="write one stored episode as MP4 or GIF")
    s.add_argument("store", help="trajectory store path")
    s.add_argument("--episode", type=int, default=0, help="episode index (default 0)")
    s.add_argument("--out", required=True, help="output file; .mp4 or .gif")
    s.add_argument("--key", default=None, help="data key to show (default rgb, or all cameras as a grid)")
    s.add_argument("--fps", type=int, default=None, help="frames per second (default: the env's)")
    s.set_defaults(func=_cmd_export)

    s = sub.add_parser("bench", help="run a benchmark; writes OUT/NAME.json and OUT/NAME.md",
                       description=f"Benchmarks: {', '.join(sorted(BENCHMARKS))}. A benchmark's own options "
                       "follow its name; `cosmos-sim bench NAME --help` lists them.", add_help=False)
    s.add_argument("-h", "--help", action="store_true", help="this help, or a benchmark's options after its name")
    s.add_argument("name", nargs="?", choices=sorted(BENCHMARKS), help="benchmark name")
    s.add_argument("--out", default="benchmarks", help="output directory (default benchmarks/)")
    s.add_argument("--quick", action="store_true", help="fewer repetitions, for a smoke run")
    s.set_defaults(func=_cmd_bench, parser=s)

    s = sub.add_parser("train-tokenizer", help="train a causal video tokenizer (CV or DV) on trajectory stores",
                       description="Train a Cosmos-style causal video tokenizer; resumable (same --out), "
                       "periodic held-out PSNR, best checkpoint in OUT/best.")
    from cosmos_sim.train.tokenizer import add_cli_arguments

    add_cli_arguments(s)
    s.set_defaults(func=_cmd_train_tokenizer)

    s = sub.add_parser("train-wfm", help="train an action-conditioned world model (diffusion DiT or AR GPT)",
                       description="Train a world model over a tokenizer's latents on trajectory stores; resumable "
                       "(same --out), periodic held-out open-loop PSNR, best bundle in OUT/best. Runs under "
                       "torchrun (DDP) unchanged.")
    from cosmos_sim.train.wfm import add_cli_arguments as add_wfm_arguments

    add_wfm_arguments(s)
    s.set_defaults(func=_cmd_train_wfm)

    from cosmos_sim.cli.policies import add_dream_arguments, add_train_arguments

    s = sub.add_parser("train-policy", help="train a policy: PPO in any Gymnasium env, or behaviour cloning",
                       description="PPO (--algo ppo) in any Gymnasium vector env, pixels or state, resumable (same "
                       "--out); behaviour cloning (--algo bc) from trajectory stores. Both write a policy directory "
                       "that eval-policy, dream and --init-from read.")
    add_train_arguments(s)
    s.set_defaults(func=_cmd_train_policy)

    s = sub.add_parser("eval-policy", help="evaluate a policy directory in an env (success rate, return, GIF)")
    s.add_argument("--policy", required=True, help="policy directory (from train-policy)")
    s.add_argument("--env", required=True, help="Gymnasium id, e.g. cosmos_sim/Manipulation-GT-v0")
    s.add_argument("--episodes", type=int, default=20, help="episodes (default 20)")
    s.add_argument("--seed", type=int, default=100000, help="seed of the first episode (default 100000: held out)")
    s.add_argument("--env-kwargs", default="", help="env constructor kwargs as JSON")
    s.add_argument("--gif", default=None, help="GIF path (default POLICY/eval.gif)")
    s.add_argument("--gif-episodes", type=int, default=3, help="episodes shown in the GIF; 0: no GIF (default 3)")
    s.add_argument("--sample", action="store_true", help="sample actions instead of the policy mean")
    s.set_defaults(func=_cmd_eval_policy)

    s = sub.add_parser("dream", help="roll policies out inside a world model into a trajectory store",
                       description="Synthetic trajectories: from starting frames (a GT id's first frames, a store's "
                       "episode starts or one image), roll out a policy in a world model and write a trajectory store "
                       "with predicted rewards and provenance. Worker processes by default, Ray with --executor ray.")
    add_dream_arguments(s)
    s.set_defaults(func=_cmd_dream)

    s = sub.add_parser("curate", help="curate raw videos into filtered, captioned, deduplicated training shards",
                       description="Split videos into shots, filter (motion, quality, burned-in text), caption, "
                       "deduplicate and shard them; every clip's fate goes to OUT_DIR/report.json. Re-running "
                       "skips videos already done.")
    s.add_argument("input_dir", help="directory of raw videos (searched recursively)")
    s.add_argument("out_dir", help="output directory (clips, shards, report)")
    s.add_argument("--config", default=None, help="TOML or JSON file with [split], [motion], ... sections")
    s.add_argument("--executor", choices=["local", "ray"], default=None, help="local processes (default) or ray")
    s.add_argument("--workers", type=int, default=None, help="videos processed in parallel (default 2)")
    s.add_argument("--ray-address", default=None, help="existing Ray cluster address (default: start Ray here)")
    s.add_argument("--no-progress", action="store_true", help="no progress bars")
    s.set_defaults(func=_cmd_curate)

    s = sub.add_parser("demo", help="run the GT scenes, write a short dataset, pictures and a video")
    s.add_argument("--out", default="out/demo", help="output directory (default out/demo)")
    s.add_argument("--episodes", type=int, default=4, help="manipulation episodes to record (default 4)")
    s.add_argument("--workers", type=int, default=2, help="worker processes for recording (default 2)")
    s.set_defaults(func=_cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if rest and args.command != "bench":  # only benchmarks take options beyond their parser's
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    args.argv, args.rest = argv, rest
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as e:  # bad input: a clear message, no traceback
        print(f"cosmos-sim {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
