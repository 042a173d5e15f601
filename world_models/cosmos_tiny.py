"""Tiny random diffusers Cosmos checkpoints, built locally: the tests and smoke runs of the Cosmos code paths.

``tiny_cosmos_checkpoint(DIR)`` writes a checkpoint in the layout of ``nvidia/Cosmos-Predict2-2B-Video2World``
(``transformer/`` a ``CosmosTransformer3DModel`` with the Video2World condition-mask channel and the padding
mask, ``vae/`` an ``AutoencoderKLWan`` with 8x spatial and 4x temporal compression) at a few thousand
parameters; ``pipeline=True`` adds ``scheduler/``, a one-layer T5 ``text_encoder/``, a word-level T5
``tokenizer/`` and ``model_index.json``, so ``Cosmos2VideoToWorldPipeline.from_pretrained(DIR)`` loads it.
Nothing is downloaded; the weights are random (seeded), so the videos are noise: only shapes, plumbing,
determinism and training signal can be tested with them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from cosmos_sim.world_models.diffusers_compat import import_diffusers

#: The tiny tokenizer's words (anything else falls back to letters).
TINY_WORDS = (
    "a the ball cube robot arm falls rolls slides bounces pushes on off table floor red blue green".split()
)
TEXT_DIM = 8
"""Width of the tiny text embedding (the real checkpoints' T5 gives 1024)."""


def tiny_cosmos_checkpoint(
    directory: str | os.PathLike, *, latent_channels: int = 4, seed: int = 0, pipeline: bool = False
) -> Path:
    """Write a tiny random Cosmos-Predict2-style diffusers checkpoint into ``directory`` (module docstring)."""
    diffusers = import_diffusers()
    out = Path(directory)
    torch.manual_seed(seed)
    c = latent_channels
    transformer = diffusers.CosmosTransformer3DModel(
        in_channels=c + 1,  # + the condition mask, as Video2World
        out_channels=c,
        num_attention_heads=2,
        attention_head_dim=16,
        num_layers=2,
        mlp_ratio=2.0,
        text_embed_dim=TEXT_DIM,
        adaln_lora_dim=8,
        max_size=(16, 32, 32),
        patch_size=(1, 2, 2),
        rope_scale=(1.0, 1.0, 1.0),
        concat_padding_mask=True,
        extra_pos_embed_type="learnable",
    )
    vae = diffusers.AutoencoderKLWan(
        base_dim=8,
        z_dim=c,
        dim_mult=[1, 2, 2, 2],
        num_res_blocks=1,
        temperal_downsample=[False, True, True],
        latents_mean=[0.1 * i for i in range(c)],
        latents_std=[1.0 + 0.1 * i for i in range(c)],
    )
    transformer.save_pretrained(out / "transformer")
    vae.save_pretrained(out / "vae")
    if pipeline:
        _pipeline_parts(out, seed)
    return out


def tiny_tokenizer():
    """A word-level T5 tokenizer (Unigram over ``TINY_WORDS`` and single letters), built without files."""
    from transformers import T5TokenizerFast

    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -2.0)]
    vocab += [("\u2581" + w, -3.0) for w in TINY_WORDS] + [(ch, -6.0) for ch in "abcdefghijklmnopqrstuvwxyz"]
    return T5TokenizerFast(vocab=vocab, extra_ids=0)


def _pipeline_parts(out: Path, seed: int) -> None:
    """scheduler/, text_encoder/, tokenizer/ and model_index.json of a ``Cosmos2VideoToWorldPipeline``."""
    diffusers = import_diffusers()
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(seed + 1)
    tokenizer = tiny_tokenizer()
    encoder = T5EncoderModel(
        T5Config(vocab_size=len(tokenizer), d_model=TEXT_DIM, d_kv=4, d_ff=16, num_layers=1, num_heads=2)
    )
    diffusers.FlowMatchEulerDiscreteScheduler(use_karras_sigmas=True).save_pretrained(out / "scheduler")
    encoder.save_pretrained(out / "text_encoder")
    tokenizer.save_pretrained(out / "tokenizer")
    index = {
        "_class_name": "Cosmos2VideoToWorldPipeline",
        "_diffusers_version": diffusers.__version__,
        "safety_checker": [None, None],
        "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"],
        "text_encoder": ["transformers", "T5EncoderModel"],
        "tokenizer": ["transformers", type(tokenizer).__name__],
        "transformer": ["diffusers", "CosmosTransformer3DModel"],
        "vae": ["diffusers", "AutoencoderKLWan"],
    }
    (out / "model_index.json").write_text(json.dumps(index, indent=2) + "\n")


__all__ = ["TEXT_DIM", "TINY_WORDS", "tiny_cosmos_checkpoint", "tiny_tokenizer"]
