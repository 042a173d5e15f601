"""The no-download text encoder: word tokenizer + tiny T5, HF directories, the embedding cache."""

import numpy as np
import pytest
import torch

from cosmos_sim.errors import CheckpointError, ConfigError
from cosmos_sim.world_models.text_encoder import (
    TextEncoder,
    TextEncoderConfig,
    build_tokenizer,
    embed_cached,
    train_text_encoder,
    words,
)

TEXTS = [
    "A red ball hits a blue ball.",
    "An orange block slides to the left; it stops.",
    "A green ball bounces.",
]


def test_words_and_tokenizer():
    assert words("An orange block, left.") == ["an", "orange", "block", ",", "left", "."]
    tok = build_tokenizer(TEXTS)
    ids = tok("a red ball")["input_ids"]
    assert ids[-1] == tok.eos_token_id == 1 and tok.unk_token_id not in ids
    assert tok("a magenta ball")["input_ids"][1] == tok.unk_token_id  # out of vocabulary


@pytest.fixture(scope="module")
def encoder():
    return train_text_encoder(
        TEXTS * 4, TextEncoderConfig(steps=3, batch_size=4, max_length=16), log=lambda m: None
    )


def test_save_load_round_trip(encoder, tmp_path):
    emb, mask = encoder.encode(TEXTS)
    assert emb.shape == (3, 16, 64) and mask.dtype == torch.bool
    assert mask[0].sum() == len(words(TEXTS[0])) + 1  # words + </s>
    assert float(emb[0, ~mask[0]].abs().max()) == 0.0  # zero at padding
    encoder.save_pretrained(tmp_path / "enc")
    again = TextEncoder.from_pretrained(tmp_path / "enc")
    assert again.max_length == 16 and again.sha() == encoder.sha()
    assert torch.equal(again.encode(TEXTS)[0], emb)


def test_any_local_hf_encoder(tmp_path):
    """A non-T5 Hugging Face encoder directory loads through AutoModel (e.g. a BERT a user has)."""
    from transformers import BertConfig, BertModel

    tok = build_tokenizer(TEXTS)
    BertModel(
        BertConfig(
            vocab_size=len(tok),
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=64,
        )
    ).save_pretrained(tmp_path / "bert")
    tok.save_pretrained(tmp_path / "bert")
    enc = TextEncoder.from_pretrained(tmp_path / "bert")
    emb, mask = enc.encode(TEXTS[:2])
    assert enc.dim == 32 and emb.shape[0] == 2 and emb.shape[-1] == 32


def test_cache_is_reused_and_keyed(encoder, tmp_path):
    cache = tmp_path / "c.npz"
    e1, m1 = embed_cached(encoder, TEXTS, cache)
    mtime = cache.stat().st_mtime_ns
    e2, _ = embed_cached(encoder, TEXTS, cache)
    assert cache.stat().st_mtime_ns == mtime and np.array_equal(e1, e2)
    e3, _ = embed_cached(encoder, TEXTS[:2], cache)  # other texts: recomputed
    assert len(e3) == 2


def test_errors(tmp_path):
    with pytest.raises(CheckpointError, match="not a Hugging Face model directory"):
        TextEncoder.from_pretrained(tmp_path)
    with pytest.raises(ConfigError, match="d_model=30 must be a multiple of heads=4"):
        TextEncoderConfig(d_model=30)
    with pytest.raises(ConfigError, match="no captions"):
        train_text_encoder([])
