"""The errors cosmos-sim raises for bad input, so that a user's mistake can be told from a bug.

    CosmosSimError (ValueError)
    ├── CheckpointError       a checkpoint directory or file that cannot be loaded
    ├── StoreError            a trajectory store that cannot be created, opened, read or written as asked
    │   └── StoreNotFoundError    no trajectory store at the path (also a FileNotFoundError)
    └── ConfigError           a bad argument or config value

Every class is a ValueError, so ``except ValueError`` and ``pytest.raises(ValueError)`` written before
these classes existed still catch them. The ``cosmos-sim`` command line prints a CosmosSimError as a
one-line ``error: ...`` (exit code 2) and lets every other exception, a bug, through with its traceback
(see ``cosmos_sim.cli``). Raise them where the input is checked; never wrap a whole computation to turn
its errors into one of these, or real bugs would read like user errors.

This module imports nothing, so any module (and ``cosmos-sim --help``) can import it at no cost.
"""

from __future__ import annotations


class CosmosSimError(ValueError):
    """Base of the errors a user can fix from the message alone: bad input, not a bug in cosmos-sim."""


class CheckpointError(CosmosSimError):
    """Raised when a checkpoint directory or file cannot be loaded: missing, truncated, corrupt, not valid
    JSON, or of another kind than asked for (the message names the file)."""


class StoreError(CosmosSimError):
    """Raised when a trajectory store cannot be used as asked: the path is not a store (or is one when a new
    store was asked for), its format version is unknown, it is corrupt, read-only, locked by another
    writer, or an episode does not match its keys, shapes or dtypes."""


class StoreNotFoundError(StoreError, FileNotFoundError):
    """Raised when no trajectory store exists at the path. Also a FileNotFoundError, as it was before
    these classes existed."""


class ConfigError(CosmosSimError):
    """Raised when an argument or config value is invalid: out of range, of the wrong kind, unknown (an env
    id, a policy, a control map), or not applicable to the rest of the config."""


__all__ = ["CheckpointError", "ConfigError", "CosmosSimError", "StoreError", "StoreNotFoundError"]
