"""``cosmos-sim paste-backgrounds``: a store re-rendered with pictures behind the objects (``data/backgrounds.py``).

    cosmos-sim paste-backgrounds --input data/ds/default_seg.zarr --out data/ds/pasted.zarr
    cosmos-sim paste-backgrounds --input X.zarr --pictures my_photos/ --out X_pasted.zarr

Importing this module costs no torch or zarr: the work is imported when the command runs.
"""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from cosmos_sim.cli import _command_line, _validating
    from cosmos_sim.cli.dataclass_cli import dataclass_from_namespace
    from cosmos_sim.data.backgrounds import PasteConfig, paste_store

    with _validating():
        cfg = dataclass_from_namespace(PasteConfig, args)
    s = paste_store(cfg, _command_line(args))
    print(f"wrote {cfg.out}: {s['episodes']} episodes, {s['frames']} frames at {s['frames_per_s']} frames/s")
    return 0


def register(sub) -> None:
    """Add ``paste-backgrounds`` to the ``cosmos-sim`` sub-parsers (flags populated only when it is parsed)."""
    from cosmos_sim.cli.dataclass_cli import add_dataclass_arguments

    help_ = "re-render a store with pictures pasted behind its objects (through its seg map): looks for augmentation"
    sub.add_parser(
        "paste-backgrounds", help=help_, description=help_,
        populate=lambda s: add_dataclass_arguments(s, _config_class(), required=("input", "out")),
    ).set_defaults(func=run)  # fmt: skip


def _config_class():
    from cosmos_sim.data.backgrounds import PasteConfig  # numpy only at import

    return PasteConfig


__all__ = ["register", "run"]
