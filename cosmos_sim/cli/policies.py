"""Flags of ``cosmos-sim train-policy``, ``eval-policy`` and ``dream``, built from their config dataclasses.

``train-policy --algo ppo|bc`` takes the union of ``ppo.Args`` and ``bc.Args`` flags; a flag that
is not given keeps the chosen algorithm's own default (the two differ, e.g. ``--out``), and a flag
the chosen algorithm does not have is an error. ``--env-kwargs`` is a JSON object in every command
(``ppo.Args``/``bc.Args`` keep it as JSON text).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from cosmos_sim.cli.dataclass_cli import add_dataclass_arguments, json_object
from cosmos_sim.data import HELD_OUT_SEED
from cosmos_sim.errors import ConfigError
from cosmos_sim.policies import bc, ppo

ALGOS = {"ppo": ppo, "bc": bc}


def _suppress_defaults(parser: argparse.ArgumentParser, start: int) -> None:
    """Flags added after action ``start`` leave the namespace untouched when not given."""
    for action in parser._actions[start:]:
        action.default = argparse.SUPPRESS


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """``--algo``, ``--env`` and every other field of ``ppo.Args`` and ``bc.Args``."""
    parser.add_argument(
        "--algo", choices=sorted(ALGOS), required=True, help="ppo (in an env) or bc (from stores)"
    )
    start = len(parser._actions)
    parser.add_argument(
        "--env",
        "--env-id",
        dest="env_id",
        help="Gymnasium id (ppo: where to train, default cosmos_sim/Manipulation-GT-v0; bc: whose "
        "spaces the policy gets, default the store's env_id)",
    )
    add_dataclass_arguments(
        parser,
        ppo.Args,
        skip=("extra", "env_id"),
        types={"env_kwargs": json_object},
        metavars={"env_kwargs": "JSON"},
    )
    ppo_names = {f.name for f in dataclasses.fields(ppo.Args)}
    add_dataclass_arguments(parser, bc.Args, skip=("extra", "env_id", *ppo_names))
    _suppress_defaults(parser, start)


def train_args_from_namespace(ns: argparse.Namespace, command: str = "") -> ppo.Args | bc.Args:
    """The chosen algorithm's ``Args`` from the flags given (others keep its defaults)."""
    cls = ALGOS[ns.algo].Args
    names = {f.name: f for f in dataclasses.fields(cls)}
    given = {k: v for k, v in vars(ns).items() if k in _all_fields()}
    foreign = sorted(k for k in given if k not in names)
    if foreign:
        flags = ", ".join("--" + k.replace("_", "-") for k in foreign)
        raise ConfigError(f"{flags} do not apply to --algo {ns.algo}; see cosmos-sim train-policy --help")
    values: dict[str, Any] = {
        k: tuple(v) if isinstance(names[k].default, tuple) else v for k, v in given.items()
    }
    if isinstance(values.get("env_kwargs"), dict):  # parsed by the flag; the Args keep JSON text
        values["env_kwargs"] = json.dumps(values["env_kwargs"]) if values["env_kwargs"] else ""
    values.setdefault("threads", 1)  # one torch thread per process unless asked (see the field's docstring)
    if command:
        values["extra"] = {"command": command}
    return cls(**values)


def _all_fields() -> set[str]:
    return {f.name for m in ALGOS.values() for f in dataclasses.fields(m.Args)} - {"extra"}


def run_train(args: ppo.Args | bc.Args) -> dict[str, Any]:
    """Train with the module that owns ``args``; print a one-screen summary."""
    if isinstance(args, bc.Args):
        r = bc.train(args)
        print(
            f"behaviour cloning on {r['pairs']} pairs: action MSE train {r['train_mse']:.4f}, held-out "
            f"{r['val_mse'] if r['val_mse'] is None else round(r['val_mse'], 4)} "
            f"(untrained {r['val_mse_initial'] if r['val_mse_initial'] is None else round(r['val_mse_initial'], 4)})"
            f"; policy in {r['out']}"
        )
        return r
    r = ppo.train(args)
    last = next((h for h in reversed(r["history"]) if h.get("return_mean") is not None), {})
    print(
        f"ppo {args.env_id}: {r['global_step']} steps, {r['steps_per_s']:.0f} steps/s; last episodes: return "
        f"{last.get('return_mean')}, success {last.get('success_rate')}; policy in {r['out']}"
    )
    return r


@dataclass(frozen=True)
class EvalArgs:
    """Settings of ``cosmos-sim eval-policy`` (the arguments of ``cosmos_sim.policies.evaluate.evaluate``)."""

    policy: str
    """Policy directory (from train-policy)."""
    env_id: str
    """Gymnasium id, e.g. cosmos_sim/Manipulation-GT-v0."""
    episodes: int = 20
    """Episodes."""
    seed: int = HELD_OUT_SEED
    """Seed of the first episode (the default is held out: no training data uses it)."""
    env_kwargs: dict = field(default_factory=dict)
    """Env constructor kwargs as a JSON object."""
    gif: str | None = None
    """GIF path; None: POLICY/eval.gif."""
    gif_episodes: int = 3
    """Episodes shown in the GIF; 0: no GIF."""
    sample: bool = False
    """Sample actions instead of the policy mean."""

    def __post_init__(self):
        if self.episodes < 1:
            raise ConfigError(f"episodes must be >= 1, got {self.episodes}")


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    """``--policy``, ``--env`` ... (``EvalArgs``'s fields)."""
    add_dataclass_arguments(parser, EvalArgs, flags={"env_id": ("--env", "--env-id")})


def add_dream_arguments(parser: argparse.ArgumentParser) -> None:
    """``--model``, ``--from``, ``--policy`` ... (``DreamConfig``'s fields)."""
    from cosmos_sim.data.dream import DreamConfig

    add_dataclass_arguments(
        parser,
        DreamConfig,
        flags={"source": ("--from",)},
        required=("source",),
        choices={"executor": ["local", "ray"]},
        metavars={"source": "GT_ID|PATH.zarr|IMAGE"},
    )


def dream_config_from_namespace(ns: argparse.Namespace):
    from cosmos_sim.cli.dataclass_cli import dataclass_from_namespace
    from cosmos_sim.data.dream import DreamConfig

    return dataclass_from_namespace(DreamConfig, ns)


__all__ = [
    "EvalArgs",
    "add_dream_arguments",
    "add_eval_arguments",
    "add_train_arguments",
    "dream_config_from_namespace",
    "run_train",
    "train_args_from_namespace",
]
