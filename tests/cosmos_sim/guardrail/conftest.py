"""Shared guardrail fixtures: the blocklist with each lemmatiser (built once: WordNet takes seconds to load)."""

from __future__ import annotations

import numpy as np
import pytest

from cosmos_sim.guardrail.blocklist import Blocklist
from cosmos_sim.guardrail.lemmas import Lemmatizer


@pytest.fixture(scope="session")
def blocklists() -> dict[str, Blocklist]:
    """mode -> Blocklist, built on first use."""
    cache: dict[str, Blocklist] = {}

    class _Lazy(dict):
        def __missing__(self, mode: str) -> Blocklist:
            cache[mode] = Blocklist(Lemmatizer(mode))
            self[mode] = cache[mode]
            return cache[mode]

    return _Lazy()


@pytest.fixture(scope="session")
def scene_frames() -> np.ndarray:
    """Two frames of each GT scene (manipulation, driving, two physics scenarios), as the envs render them."""
    from cosmos_sim.bench.guardrail import scene_frames as frames

    return frames(2)
