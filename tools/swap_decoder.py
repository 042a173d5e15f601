"""A world-model bundle with another decoder: the same weights over another tokenizer with the SAME encoder.

    python tools/swap_decoder.py BUNDLE TOKENIZER OUT

A tokenizer made by ``cosmos-sim train-tokenizer --init-from T --freeze-encoder`` (e.g. a narrower, faster
decoder) encodes every frame to the same latents as T, so a world model trained over T's latents works over it
unchanged. This writes OUT: BUNDLE's weights and extra files (a renderer of state's ``state/``, ...) pointing at
TOKENIZER (by a relative path when it is a shipped tokenizer, else a copy inside OUT). It refuses a tokenizer
whose encoder differs from the bundle's.
"""

import shutil
import sys
from dataclasses import replace
from pathlib import Path

import torch

from cosmos_sim.assets import ASSETS_DIR
from cosmos_sim.envs.wfm_env import resolve_checkpoint
from cosmos_sim.errors import ConfigError
from cosmos_sim.world_models.tokenizer import Tokenizer
from cosmos_sim.world_models.wfm import WorldModel, file_sha


def swap_decoder(bundle: str, tokenizer: str, out: str) -> Path:
    src = resolve_checkpoint(bundle)
    model = WorldModel.from_pretrained(src, device="cpu")
    tok_dir = Tokenizer.resolve_pretrained(tokenizer)  # a directory, or a shipped name
    new = Tokenizer.from_pretrained(tok_dir, device="cpu")
    old = model.tokenizer.encoder.state_dict()
    if new.config.name != model.tokenizer.config.name or any(
        not torch.equal(v.float(), old[k].float()) for k, v in new.encoder.state_dict().items()
    ):
        raise ConfigError(f"{tok_dir} has another encoder than {src}'s tokenizer: its latents would differ")
    model.tokenizer = new
    model.config = replace(model.config, tokenizer_sha=file_sha(tok_dir / "model.safetensors"))
    out_dir = Path(out)
    # a shipped bundle points at a shipped tokenizer by a relative path (no copy); anything else carries a copy
    shipped = tok_dir.resolve().parent == (ASSETS_DIR / "tokenizers").resolve()
    in_assets = out_dir.resolve().parent == (ASSETS_DIR / "wfm").resolve()
    ref = str(Path("..", "..", "tokenizers", tok_dir.name)) if shipped and in_assets else None
    model.save_pretrained(out_dir, tokenizer_dir=None if ref else tok_dir, tokenizer_ref=ref)
    for extra in src.iterdir():  # what the family keeps beside its weights
        if extra.name not in ("config.json", "model.safetensors", "tokenizer", "README.md"):
            copy = shutil.copytree if extra.is_dir() else shutil.copyfile
            copy(extra, out_dir / extra.name)
    return out_dir


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    print(swap_decoder(*sys.argv[1:]))
