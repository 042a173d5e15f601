"""The ``cosmos-sim`` command line. Every subcommand is a thin layer over a Python function.

    cosmos-sim list-envs                     registered Gymnasium ids
    cosmos-sim generate --env ID ...         record episodes into a zarr trajectory store
    cosmos-sim export STORE --episode I ...  an episode as MP4/GIF, or a point cloud as PLY (--pointcloud)
    cosmos-sim bench NAME --out DIR          a benchmark's JSON + markdown
    cosmos-sim train-tokenizer --data ...    train a causal video tokenizer
    cosmos-sim train-wfm --data ...          train an action-conditioned world model (diffusion | ar)
    cosmos-sim train-text-wfm --data ...     train a text-conditioned world model (Text2World / Video2World)
    cosmos-sim generate-video --prompt ...   a video from a prompt (and frames) with a text world model, guarded
    cosmos-sim merge-adapter --base --adapter --out   a LoRA adapter folded into its base: one bundle
    cosmos-sim cosmos bundle|post-train|video2world  NVIDIA Cosmos diffusers checkpoints (local paths only)
    cosmos-sim train-loop --env ID ...       the world-model RL loop (collect, fit the model, PPO inside it)
    cosmos-sim train-policy --algo ppo|bc    train a policy (PPO in any env, behaviour cloning from stores)
    cosmos-sim eval-policy --policy DIR ...  success rate and return of a policy on held-out seeds, GIF
    cosmos-sim dream --model DIR --from ...  synthetic trajectories rolled out inside a world model
    cosmos-sim curate INPUT_DIR OUT_DIR      raw videos -> filtered, captioned, deduplicated training shards
    cosmos-sim watermark detect FILE         is a video ours? its invisible watermark and provenance
    cosmos-sim demo                          the README's demo

Flags: every command's flags come from a dataclass (``cosmos_sim.cli.dataclass_cli``: one flag per
field, its docstring as the help): ``GenerateConfig``, ``DreamConfig``, the trainers' ``Args``, ... and,
for commands without a config of their own, a small dataclass here or in ``cli/policies.py``.
``--env-kwargs`` is a JSON object everywhere, and commands with progress bars take ``--no-progress``.
A command's arguments are added to its parser only when that command is parsed (or its help shown),
so ``cosmos-sim --help`` imports no command module (no torch, no zarr).

Errors: a ``cosmos_sim.errors.CosmosSimError`` (ConfigError, StoreError, CheckpointError: bad input
the user can fix) is printed as one line, ``cosmos-sim CMD: error: ...``, exit code 2; so are argparse
usage errors. Every other exception is a bug and leaves ``main`` with its traceback, a bare ValueError
included. ``cosmos-sim --debug CMD ...`` shows the traceback of user errors too.

Modules that still raise bare ValueErrors for user input are handled by one rule only: a command's
config-building/validation step (building its config, the checks that need no long work) runs
inside ``_validating()``, which turns a ValueError or FileNotFoundError raised there into a
ConfigError with the same message. Nothing else is caught, so a ValueError from the command's work
(rollouts, training, encoding ...) is a traceback. The checks some commands repeat in that step
(``data.generate.check_config``, ``data.dream.check_config``) are there for errors their modules do
not yet raise as CosmosSimError.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from cosmos_sim.errors import ConfigError, CosmosSimError

# cosmos_sim.policies.POLICIES, spelled out so that `--help` imports nothing heavy (a test keeps them equal).
GENERATE_POLICIES = ("random", "expert", "noisy-expert")


class _Parser(argparse.ArgumentParser):
    """A sub-command parser whose arguments are added on first use (parsing or help) by ``populate``, so
    that building the ``cosmos-sim`` parser imports no command's module."""

    def __init__(self, *args, populate: Callable[[argparse.ArgumentParser], None] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._populate = populate

    def _populated(self) -> None:
        populate, self._populate = self._populate, None
        if populate is not None:
            populate(self)

    def parse_known_args(self, args=None, namespace=None):
        self._populated()
        return super().parse_known_args(args, namespace)

    def format_help(self) -> str:
        self._populated()
        return super().format_help()

    def format_usage(self) -> str:
        self._populated()
        return super().format_usage()


@contextlib.contextmanager
def _validating() -> Iterator[None]:
    """Around a command's config-building/validation step only, never around its work: a bare ValueError
    (or FileNotFoundError) raised there is a user error from a module that does not raise
    ``cosmos_sim.errors`` yet; it leaves as a ConfigError with the same message (see the module docstring)."""
    try:
        yield
    except CosmosSimError:
        raise
    except (ValueError, FileNotFoundError) as e:
        raise ConfigError(str(e)) from e


def _resolution(text: str) -> tuple[int, int]:
    try:
        w, _, h = text.lower().partition("x")
        size = (int(w), int(h or w))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"resolution {text!r} is not WxH (e.g. 64x64) or a single size"
        ) from None
    if min(size) < 8:
        raise argparse.ArgumentTypeError(f"resolution {text!r} too small; use at least 8x8")
    return size


def _names(text: str) -> tuple[str, ...]:
    """``"depth, seg"`` -> ``("depth", "seg")`` (blanks stripped, repeats dropped); ``""`` -> ``()``."""
    return tuple(dict.fromkeys(m.strip() for m in text.split(","))) if text.strip() else ()


@dataclass(frozen=True)
class ExportArgs:
    """Settings of ``cosmos-sim export`` (the arguments of ``cosmos_sim.data.export.export_episode`` and,
    with --pointcloud, of ``cosmos_sim.data.pointcloud.export_pointcloud``)."""

    out: str
    """Output file; .mp4 or .gif, or .ply with --pointcloud."""
    store: str | None = None
    """Trajectory store path (omit it for --pointcloud --env)."""
    episode: int = 0
    """Episode index (negative counts from the end)."""
    key: str | None = None
    """Data key to show; None: rgb, or all cameras as a grid."""
    fps: int | None = None
    """Frames per second; None: the env's."""
    pointcloud: bool = False
    """Write one instant's fused point cloud as PLY, not a video (store with --maps depth,seg, or --env)."""
    row: int = 0
    """--pointcloud: the episode's row (negative: from the end); with --env, zero-action steps after reset."""
    cameras: tuple[str, ...] = ()
    """--pointcloud: cameras to fuse; none given: every camera with depth."""
    colour: str = "rgb"
    """--pointcloud: point colours, rgb (the camera's RGB where recorded, else by label) or seg."""
    max_depth: float | None = None
    """--pointcloud: drop points farther than this from their camera (m); None keeps all but the sky."""
    env: str | None = None
    """--pointcloud from a live GT env instead of a store: its id (e.g. cosmos_sim/Driving-GT-v0)."""
    env_kwargs: dict | None = None
    """--env: keyword arguments of the env as a JSON object (e.g. '{"width": 128, "height": 128}')."""
    seed: int = 0
    """--env: reset seed."""


@dataclass(frozen=True)
class CurateArgs:
    """Inputs of ``cosmos-sim curate``; its other flags are ``CurateConfig`` fields that override the --config file."""

    input_dir: str
    """Directory of raw videos (searched recursively)."""
    out_dir: str
    """Output directory (clips, shards, report)."""
    config: str | None = None
    """TOML or JSON file with [split], [motion], ... sections; None: the defaults."""


_CURATE_FLAGS = ("executor", "workers", "ray_address", "progress")


def _command_line(args: argparse.Namespace) -> str:
    """The command as typed, recorded with results and checkpoints."""
    return "cosmos-sim " + " ".join(shlex.quote(a) for a in args.argv)


def _cmd_list_envs(args: argparse.Namespace) -> int:
    import gymnasium as gym

    from cosmos_sim.envs import registered_ids, wfm_ids, wrapper_ids

    for env_id in registered_ids() + wfm_ids() + wrapper_ids():
        spec = gym.spec(env_id)
        print(f"{env_id:45s} max_episode_steps={spec.max_episode_steps}")
    return 0


def _cmd_generate(args: argparse.Namespace) -> int:
    from cosmos_sim.cli.dataclass_cli import dataclass_from_namespace
    from cosmos_sim.data.generate import GenerateConfig, check_config, generate

    with _validating():
        cfg = dataclass_from_namespace(GenerateConfig, args)
        check_config(cfg)  # parse_maps (envs/control_maps.py) raises a bare ValueError for an unknown map
    generate(cfg)
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from cosmos_sim.cli.dataclass_cli import dataclass_from_namespace
    from cosmos_sim.data.export import export_episode

    a = dataclass_from_namespace(ExportArgs, args)
    if a.pointcloud:
        from cosmos_sim.data.pointcloud import export_pointcloud

        path, cloud = export_pointcloud(
            a.out, a.store, a.episode, a.row, a.env, a.env_kwargs, a.seed, a.cameras, a.colour, a.max_depth
        )
        print(f"wrote {path} ({len(cloud)} points)")
        return 0
    if a.store is None or a.env is not None:
        raise ConfigError("a video needs a trajectory STORE (--env only goes with --pointcloud)")
    path = export_episode(a.store, a.episode, a.out, key=a.key, fps=a.fps)
    print(f"wrote {path}")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    import dataclasses

    from cosmos_sim.bench import benchmark_module, run_benchmark
    from cosmos_sim.cli.dataclass_cli import add_dataclass_arguments, dataclass_from_namespace

    if args.name is None:
        if args.help:
            args.parser.print_help()
            return 0
        args.parser.error("the benchmark name is required")
    # A benchmark's own options are the fields of its Config dataclass, parsed from what the bench parser left.
    cls = benchmark_module(args.name).Config
    fields = dataclasses.fields(cls)
    p = argparse.ArgumentParser(
        prog=f"cosmos-sim bench {args.name}",
        description=f"Options of bench {args.name}, besides --out and --quick"
        + ("." if fields else f": none, bench {args.name} takes no options of its own."),
    )
    add_dataclass_arguments(p, cls)
    if args.help or "-h" in args.rest or "--help" in args.rest:
        p.print_help()
        return 0
    with _validating():  # Config checks its values when built
        if not fields and args.rest:
            raise ValueError(
                f"benchmark {args.name!r} takes no options, got {' '.join(args.rest)}; "
                "run it with --out and --quick only"
            )
        config = dataclass_from_namespace(cls, p.parse_args(args.rest))
    result = run_benchmark(args.name, args.out, quick=args.quick, command=_command_line(args), config=config)
    width = max(len(k) for k in result.figures) if result.figures else 0
    for k, v in result.figures.items():
        print(f"{k:{width}s}  {v}")
    print(f"wrote {os.path.join(args.out, result.name)}.json and .md")
    return 0


def _cmd_train_tokenizer(args: argparse.Namespace) -> int:
    from cosmos_sim.cli.dataclass_cli import dataclass_from_namespace
    from cosmos_sim.train.tokenizer import Args, train

    with _validating():
        a = dataclass_from_namespace(Args, args, _command_line(args))
    train(a)
    return 0


def _add_trainer(sub, name: str, module: str, help: str, required: tuple[str, ...] = ("data",)) -> None:
    """Register ``cosmos-sim NAME``: the flags of ``module``'s ``Args`` dataclass, then ``module.train(args)``
    (the module is imported only when the command is parsed or its help shown)."""
    import importlib

    from cosmos_sim.cli.dataclass_cli import add_dataclass_arguments, dataclass_from_namespace

    def run(args: argparse.Namespace) -> int:
        m = importlib.import_module(module)
        with _validating():
            a = dataclass_from_namespace(m.Args, args, _command_line(args))
        m.train(a)
        return 0

    def populate(s: argparse.ArgumentParser) -> None:
        add_dataclass_arguments(s, importlib.import_module(module).Args, required=required)

    sub.add_parser(name, help=help, description=help, populate=populate).set_defaults(func=run)


def _cmd_train_wfm(args: argparse.Namespace) -> int:
    from cosmos_sim.cli.dataclass_cli import dataclass_from_namespace
    from cosmos_sim.train.wfm import Args, train

    with _validating():
        a = dataclass_from_namespace(Args, args, _command_line(args))
    train(a)
    return 0


def _cmd_train_loop(args: argparse.Namespace) -> int:
    from cosmos_sim.cli.dataclass_cli import dataclass_from_namespace
    from cosmos_sim.train.loop import Args, train_loop

    with _validating():
        a = dataclass_from_namespace(Args, args, _command_line(args))
    train_loop(a)
    return 0


@dataclass(frozen=True)
class MergeAdapterArgs:
    """Arguments of ``cosmos-sim merge-adapter``."""

    base: str
    """The base world-model bundle the adapter was trained on (a directory or a shipped name)."""
    adapter: str
    """The LoRA adapter directory (``train-wfm --lora-rank R``'s OUT/best)."""
    out: str
    """Where the standalone bundle (base + adapter folded into its weights, bf16) is written."""


def _cmd_merge_adapter(args: argparse.Namespace) -> int:
    from cosmos_sim.cli.dataclass_cli import dataclass_from_namespace
    from cosmos_sim.world_models.lora import merge_adapter
    from cosmos_sim.world_models.wfm import WorldModel

    with _validating():
        a = dataclass_from_namespace(MergeAdapterArgs, args, _command_line(args))
    wm = WorldModel.from_pretrained(a.base, device="cpu", adapter=a.adapter)
    merge_adapter(wm).save_pretrained(a.out, extra={"merged_from": {"base": a.base, "adapter": a.adapter}})
    print(f"wrote {a.out}: {a.base} with {a.adapter} merged into its weights")
    return 0


def _cmd_cosmos(args: argparse.Namespace) -> int:
    from cosmos_sim.cli.cosmos import main as cosmos_main

    return cosmos_main(list(args.rest), prog="cosmos-sim cosmos")


def _cmd_train_policy(args: argparse.Namespace) -> int:
    from cosmos_sim.cli.policies import run_train, train_args_from_namespace

    with _validating():
        a = train_args_from_namespace(args, command=_command_line(args))
    run_train(a)
    return 0


def _cmd_eval_policy(args: argparse.Namespace) -> int:
    from cosmos_sim.cli.dataclass_cli import dataclass_from_namespace
    from cosmos_sim.cli.policies import EvalArgs
    from cosmos_sim.policies.evaluate import evaluate

    with _validating():
        a = dataclass_from_namespace(EvalArgs, args)
    gif = None if a.gif_episodes == 0 else (a.gif or os.path.join(a.policy, "eval.gif"))
    r = evaluate(
        a.policy,
        a.env_id,
        episodes=a.episodes,
        seed=a.seed,
        env_kwargs=a.env_kwargs,
        gif=gif,
        gif_episodes=a.gif_episodes,
        deterministic=not a.sample,
    )
    print(
        f"{a.env_id}: success rate {r.success_rate:.3f}, mean return {r.mean_return:.2f}, mean length "
        f"{r.mean_length:.1f} over {len(r.seeds)} episodes (seeds {r.seeds[0]}..{r.seeds[-1]})"
        + (f"; GIF {r.gif}" if r.gif else "")
    )
    return 0


def _cmd_dream(args: argparse.Namespace) -> int:
    from cosmos_sim.cli.policies import dream_config_from_namespace
    from cosmos_sim.data.dream import check_config, dream

    with _validating():  # resolve_checkpoint (envs/wfm_env.py) raises a bare ValueError for an unknown model
        cfg = dream_config_from_namespace(args)
        check_config(cfg)
    s = dream(cfg, command=_command_line(args))
    print(
        f"{s['kept']}/{s['episodes']} dreamed episodes written to {s['out']}: {s['trajectories_per_hour']:,.0f} "
        f"trajectories/hour, {s['frames_per_s']:.1f} frames/s, mean predicted return {s['mean_predicted_return']:.2f}"
    )
    return 0


def _cmd_curate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from cosmos_sim.cli.dataclass_cli import dataclass_from_namespace
    from cosmos_sim.curate import curate, load_config

    with _validating():  # load_config and CurateConfig (curate/pipeline.py) raise bare ValueErrors
        a = dataclass_from_namespace(CurateArgs, args)
        cfg = load_config(a.config, **{k: getattr(args, k) for k in _CURATE_FLAGS if hasattr(args, k)})
        if not Path(a.input_dir).is_dir():
            raise ConfigError(f"input directory {a.input_dir} does not exist or is not a directory")
    summary = curate(a.input_dir, a.out_dir, cfg)
    print(summary["text"])
    return 0


def _cmd_watermark(args: argparse.Namespace) -> int:
    from cosmos_sim.cli.dataclass_cli import dataclass_from_namespace
    from cosmos_sim.cli.watermark import WatermarkArgs, run

    return run(dataclass_from_namespace(WatermarkArgs, args))


def _cmd_demo(args: argparse.Namespace) -> int:
    from cosmos_sim.cli.dataclass_cli import dataclass_from_namespace
    from cosmos_sim.demo import DemoConfig, run_demo

    with _validating():
        cfg = dataclass_from_namespace(DemoConfig, args)
    run_demo(cfg)
    return 0


# ---- the arguments of each command, added when the command is parsed (see _Parser) ----------------------
def _generate_arguments(s: argparse.ArgumentParser) -> None:
    from cosmos_sim.cli.dataclass_cli import add_dataclass_arguments
    from cosmos_sim.data.generate import GenerateConfig

    add_dataclass_arguments(
        s,
        GenerateConfig,
        flags={"env_id": ("--env", "--env-id")},
        defaults={"episodes": 10},
        types={"resolution": _resolution, "maps": _names},
        metavars={
            "resolution": "WxH",
            "maps": "MAP[,MAP...]",
            "policy": "{" + ",".join(GENERATE_POLICIES) + ",DIR}",
        },
    )


def _export_arguments(s: argparse.ArgumentParser) -> None:
    from cosmos_sim.cli.dataclass_cli import add_dataclass_arguments

    add_dataclass_arguments(s, ExportArgs, positional=("store",), choices={"colour": ("rgb", "seg")})


def _train_tokenizer_arguments(s: argparse.ArgumentParser) -> None:
    from cosmos_sim.cli.dataclass_cli import add_dataclass_arguments
    from cosmos_sim.train.tokenizer import Args

    add_dataclass_arguments(s, Args, required=("data",))


def _train_wfm_arguments(s: argparse.ArgumentParser) -> None:
    from cosmos_sim.cli.dataclass_cli import add_dataclass_arguments
    from cosmos_sim.train.wfm import Args
    from cosmos_sim.world_models.families import FAMILIES

    add_dataclass_arguments(s, Args, required=("data", "tokenizer"), choices={"family": list(FAMILIES)})


def _train_loop_arguments(s: argparse.ArgumentParser) -> None:
    from cosmos_sim.cli.dataclass_cli import add_dataclass_arguments
    from cosmos_sim.train.loop import Args

    add_dataclass_arguments(s, Args, flags={"env_id": ("--env", "--env-id")})


def _merge_adapter_arguments(s: argparse.ArgumentParser) -> None:
    from cosmos_sim.cli.dataclass_cli import add_dataclass_arguments

    add_dataclass_arguments(s, MergeAdapterArgs, required=("base", "adapter", "out"))


def _train_policy_arguments(s: argparse.ArgumentParser) -> None:
    from cosmos_sim.cli.policies import add_train_arguments

    add_train_arguments(s)


def _eval_policy_arguments(s: argparse.ArgumentParser) -> None:
    from cosmos_sim.cli.policies import add_eval_arguments

    add_eval_arguments(s)


def _dream_arguments(s: argparse.ArgumentParser) -> None:
    from cosmos_sim.cli.policies import add_dream_arguments

    add_dream_arguments(s)


def _curate_arguments(s: argparse.ArgumentParser) -> None:
    from cosmos_sim.cli.dataclass_cli import add_dataclass_arguments
    from cosmos_sim.curate import CurateConfig

    add_dataclass_arguments(s, CurateArgs, positional=("input_dir", "out_dir"))
    add_dataclass_arguments(
        s,
        CurateConfig,
        only=_CURATE_FLAGS,
        choices={"executor": ["local", "ray"]},
        defaults=dict.fromkeys(_CURATE_FLAGS, argparse.SUPPRESS),
    )


def _watermark_arguments(s: argparse.ArgumentParser) -> None:
    from cosmos_sim.cli.dataclass_cli import add_dataclass_arguments
    from cosmos_sim.cli.watermark import WatermarkArgs

    add_dataclass_arguments(s, WatermarkArgs, positional=("action", "file"), choices={"action": ["detect"]})


def _demo_arguments(s: argparse.ArgumentParser) -> None:
    from cosmos_sim.cli.dataclass_cli import add_dataclass_arguments
    from cosmos_sim.demo import DemoConfig

    add_dataclass_arguments(s, DemoConfig)


def build_parser() -> argparse.ArgumentParser:
    from cosmos_sim.bench import BENCHMARKS

    p = argparse.ArgumentParser(
        prog="cosmos-sim",
        description="World foundation models as Gymnasium environments, beside MuJoCo/PyBullet ground truth. "
        "Run `cosmos-sim <command> --help` for a command's options.",
    )
    p.add_argument(
        "--debug",
        action="store_true",
        help="show the traceback of user errors too (bugs always show theirs); before the command",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="<command>", parser_class=_Parser)

    s = sub.add_parser("list-envs", help="list the registered cosmos_sim Gymnasium ids")
    s.set_defaults(func=_cmd_list_envs)

    s = sub.add_parser(
        "generate",
        help="record episodes of any rgb_array Gymnasium env into a zarr store",
        description="Roll out a policy in a Gymnasium env (ours or any registered one that renders "
        "rgb_array) and append whole episodes to a zarr v3 trajectory store. Flags: the fields "
        "of cosmos_sim.data.generate.GenerateConfig.",
        populate=_generate_arguments,
    )
    s.set_defaults(func=_cmd_generate)

    s = sub.add_parser(
        "export",
        help="write one stored episode as MP4 or GIF, or a point cloud as PLY",
        populate=_export_arguments,
    )
    s.set_defaults(func=_cmd_export)

    s = sub.add_parser(
        "bench",
        help="run a benchmark; writes OUT/NAME.json and OUT/NAME.md",
        description=f"Benchmarks: {', '.join(sorted(BENCHMARKS))}. A benchmark's own options "
        "follow its name; `cosmos-sim bench NAME --help` lists them.",
        add_help=False,
    )
    s.add_argument(
        "-h", "--help", action="store_true", help="this help, or a benchmark's options after its name"
    )
    s.add_argument("name", nargs="?", choices=sorted(BENCHMARKS), help="benchmark name")
    s.add_argument("--out", default="benchmarks", help="output directory (default benchmarks/)")
    s.add_argument("--quick", action="store_true", help="fewer repetitions, for a smoke run")
    s.set_defaults(func=_cmd_bench, parser=s)

    s = sub.add_parser(
        "train-tokenizer",
        help="train a causal video tokenizer (CV or DV) on trajectory stores",
        description="Train a Cosmos-style causal video tokenizer; resumable (same --out), "
        "periodic held-out PSNR, best checkpoint in OUT/best.",
        populate=_train_tokenizer_arguments,
    )
    s.set_defaults(func=_cmd_train_tokenizer)
    _add_trainer(sub, "train-estimator", "cosmos_sim.train.estimators", "train the depth + seg estimators")
    _add_trainer(
        sub, "train-state-estimator", "cosmos_sim.train.state_estimator", "train a frames -> state estimator"
    )
    _add_trainer(
        sub,
        "train-proprio",
        "cosmos_sim.train.proprio",
        "train a proprioception model (state, action -> next)",
    )
    _add_trainer(sub, "train-text-wfm", "cosmos_sim.train.text_wfm", "train a text-conditioned world model")
    _add_trainer(sub, "generate-video", "cosmos_sim.cli.text", "a video from a prompt", ("prompt",))
    _add_trainer(sub, "train-transfer", "cosmos_sim.train.transfer", "train the Transfer model", required=())

    s = sub.add_parser(
        "train-wfm",
        help="train an action-conditioned world model (diffusion DiT or AR GPT)",
        description="Train a world model over a tokenizer's latents on trajectory stores; resumable "
        "(same --out), periodic held-out open-loop PSNR, best bundle in OUT/best. Runs under "
        "torchrun (DDP) unchanged.",
        populate=_train_wfm_arguments,
    )
    s.set_defaults(func=_cmd_train_wfm)

    s = sub.add_parser(
        "cosmos",
        help="NVIDIA Cosmos diffusers checkpoints: bundle, post-train, video2world (`cosmos-sim cosmos -h`)",
        add_help=False,
    )
    s.set_defaults(func=_cmd_cosmos)

    s = sub.add_parser(
        "merge-adapter",
        help="fold a LoRA adapter into its base world model: a standalone bundle",
        populate=_merge_adapter_arguments,
    )
    s.set_defaults(func=_cmd_merge_adapter)

    s = sub.add_parser(
        "train-loop",
        help="the world-model RL loop: collect real episodes, fit the world model, improve the policy inside "
        "it (PPO or expert imitation), evaluate",
        description="DIAMOND/IRIS-style loop (cosmos_sim/train/loop.py): every iteration collects real "
        "episodes with the current policy, fine-tunes the world model and its reward head on all of them, "
        "trains the policy inside the model (PPO, or with --improve imitate the scene's expert acting on the "
        "believed state, cloned) and evaluates it in the GT env on held-out seeds; "
        "resumable (same --out), one metrics row per iteration in OUT/metrics.jsonl.",
        populate=_train_loop_arguments,
    )
    s.set_defaults(func=_cmd_train_loop)

    s = sub.add_parser(
        "train-policy",
        help="train a policy: PPO in any Gymnasium env, or behaviour cloning",
        description="PPO (--algo ppo) in any Gymnasium vector env, pixels or state, resumable (same "
        "--out); behaviour cloning (--algo bc) from trajectory stores. Both write a policy directory "
        "that eval-policy, dream and --init-from read.",
        populate=_train_policy_arguments,
    )
    s.set_defaults(func=_cmd_train_policy)

    s = sub.add_parser(
        "eval-policy",
        help="evaluate a policy directory in an env (success rate, return, GIF)",
        populate=_eval_policy_arguments,
    )
    s.set_defaults(func=_cmd_eval_policy)

    s = sub.add_parser(
        "dream",
        help="roll policies out inside a world model into a trajectory store",
        description="Synthetic trajectories: from starting frames (a GT id's first frames, a store's "
        "episode starts or one image), roll out a policy in a world model and write a trajectory store "
        "with predicted rewards and provenance. Worker processes by default, Ray with --executor ray.",
        populate=_dream_arguments,
    )
    s.set_defaults(func=_cmd_dream)
    from cosmos_sim.cli import transfer as _transfer  # stdlib-only module: the command imports torch when run

    _transfer.register(sub)
    from cosmos_sim.cli import backgrounds as _backgrounds  # likewise: numpy only when the command runs

    _backgrounds.register(sub)

    s = sub.add_parser(
        "curate",
        help="curate raw videos into filtered, captioned, deduplicated training shards",
        description="Split videos into shots, filter (motion, quality, burned-in text), caption, "
        "deduplicate and shard them; every clip's fate goes to OUT_DIR/report.json. Re-running "
        "skips videos already done. --executor, --workers, --ray-address and --[no-]progress "
        "override the --config file.",
        populate=_curate_arguments,
    )
    s.set_defaults(func=_cmd_curate)

    s = sub.add_parser(
        "watermark",
        help="detect the invisible watermark (and read the provenance) of a video, image or store",
        description="Read the invisible watermark cosmos-sim puts on every generated frame, and the provenance "
        "(model SHA, prompt, seed, guardrail) in the file's metadata. Exit status 0: watermarked, 1: not.",
        populate=_watermark_arguments,
    )
    s.set_defaults(func=_cmd_watermark)

    s = sub.add_parser(
        "demo",
        help="run the GT scenes, write a short dataset, pictures and a video",
        populate=_demo_arguments,
    )
    s.set_defaults(func=_cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if rest and args.command not in ("bench", "cosmos"):  # these two parse the rest themselves
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    args.argv, args.rest = argv, rest
    try:
        return args.func(args)
    except CosmosSimError as e:  # bad input: one line (every other exception is a bug: its traceback)
        if args.debug:
            traceback.print_exc()
        print(f"cosmos-sim {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
