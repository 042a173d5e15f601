"""What the networks' frozen config dataclasses share: a read-only dict view of their fields.

``WorldModelConfig``'s dynamics and head configs were plain dicts before they were typed; callers
still copy one with a change as ``{**config.dynamics, "action_dim": 1}``, which needs ``keys()`` and
``[]``. ``WorldModelConfig`` turns such a dict back into the typed config.
"""

from __future__ import annotations

import dataclasses
from typing import Any


class FieldsMapping:
    """Mixin for a config dataclass: ``keys()`` and ``config[name]`` read its fields (``{**config}`` works)."""

    def keys(self) -> list[str]:
        return [f.name for f in dataclasses.fields(self)]

    def __getitem__(self, name: str) -> Any:
        if name not in self.keys():
            raise KeyError(name)
        return getattr(self, name)


__all__ = ["FieldsMapping"]
