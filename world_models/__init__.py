"""The networks: causal video tokenizer (CV/DV), FSQ, diffusion DiT, autoregressive GPT, multi-view DiT, reward
head, and the ``WorldModel`` bundle that ties a tokenizer to a dynamics model (classes imported on first use)."""

_LAZY = {
    "Tokenizer": "tokenizer",
    "TokenizerConfig": "tokenizer",
    "FSQ": "fsq",
    "DiT": "dit",
    "DiTConfig": "dit",
    "GPT": "gpt",
    "GPTConfig": "gpt",
    "MultiViewDiT": "multiview",
    "MultiViewDiTConfig": "multiview",
    "RewardHead": "heads",
    "RewardHeadConfig": "heads",
    "WorldModel": "wfm",
    "WorldModelConfig": "wfm",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"cosmos_sim.world_models.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'cosmos_sim.world_models' has no attribute {name!r}")


__all__ = list(_LAZY)
