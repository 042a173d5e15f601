"""A text encoder that needs no download: a word-level tokenizer and a tiny ``transformers`` T5 encoder.

Cosmos-Predict conditions on T5-XXL token embeddings; here the same interface at nano scale::

    captions --WordLevel tokenizer (HF ``tokenizers``; the caption vocabulary)--> ids (B, L)
             --T5EncoderModel (tiny config)--> token embeddings (B, L, d) + mask (B, L)

The project trains it on its own captions (``train_text_encoder``: denoising, every position predicts
its own word, 15 % of them masked or replaced, so each output keeps its word and its context) and saves
it as a Hugging Face directory (``config.json``, ``model.safetensors``, ``tokenizer.json`` ...). Any
local HF encoder directory loads the same way (``TextEncoder.from_pretrained(DIR)``: ``AutoTokenizer``
+ the encoder of ``AutoModel``/``T5EncoderModel``), e.g. a T5 a user has on disk; nothing is
downloaded (``local_files_only``). ``embed_cached`` keeps a store's caption embeddings in an .npz keyed
by the encoder's weights, as Cosmos precomputes them.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from cosmos_sim.errors import CheckpointError, ConfigError

SPECIALS = ("<pad>", "</s>", "<unk>", "<mask>")
WORD = re.compile(r"[a-z]+|[0-9]+|[^\sa-z0-9]")


def words(text: str) -> list[str]:
    """The tokenizer's split: lower-case words, numbers and single punctuation marks."""
    return WORD.findall(text.lower())


@dataclass(frozen=True)
class TextEncoderConfig:
    """Size and training of the project's tiny T5 encoder."""

    d_model: int = 64
    """Width of the token embeddings (what the world model cross-attends to)."""
    layers: int = 2
    """Transformer layers."""
    heads: int = 4
    """Attention heads (d_model / heads = key size)."""
    d_ff: int = 128
    """Feed-forward width."""
    max_length: int = 64
    """Tokens per caption (longer ones are cut; the longest physics caption has ~50)."""
    steps: int = 600
    """Denoising training steps."""
    batch_size: int = 64
    """Captions per step."""
    lr: float = 2e-3
    """AdamW learning rate."""
    mask_prob: float = 0.15
    """Share of positions masked (80 %) or replaced by a random word (20 %)."""
    seed: int = 0
    """Initialisation and batch order."""

    def __post_init__(self):
        if self.d_model % self.heads:
            raise ConfigError(f"d_model={self.d_model} must be a multiple of heads={self.heads}")
        if not 0.0 < self.mask_prob < 1.0:
            raise ConfigError(f"mask_prob={self.mask_prob} must be in (0, 1), e.g. 0.15")
        if min(self.steps, self.batch_size, self.max_length, self.layers) < 1:
            raise ConfigError("steps, batch_size, max_length and layers must be >= 1")


def build_tokenizer(texts: Sequence[str]):
    """A Hugging Face fast tokenizer over the words of ``texts`` (pad 0, eos 1, unk 2, mask 3)."""
    from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(SPECIALS)}
    for w in sorted({w for t in texts for w in words(t)}):
        vocab.setdefault(w, len(vocab))
    tok = Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Split(Regex(WORD.pattern), behavior="isolated")]
    )
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", mask_token="<mask>"
    )


class TextEncoder(nn.Module):
    """A tokenizer + encoder pair: ``encode(texts) -> (embeddings (B, L, d) float32, mask (B, L) bool)``."""

    def __init__(self, tokenizer, model: nn.Module, max_length: int = 64, source: Path | None = None):
        super().__init__()
        self.tokenizer, self.model, self.max_length, self.source = tokenizer, model, max_length, source

    @property
    def dim(self) -> int:
        return int(
            self.model.config.d_model
            if hasattr(self.model.config, "d_model")
            else self.model.config.hidden_size
        )

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, device: str = "cpu") -> TextEncoder:
        """Any local Hugging Face encoder directory (ours, or e.g. a T5 on disk): its tokenizer and its encoder."""
        path = Path(directory)
        if not (path / "config.json").is_file():
            raise CheckpointError(
                f"text encoder {path} is not a Hugging Face model directory (no config.json); give the "
                "directory that save_pretrained wrote, e.g. assets/text_encoders/physics-t5-nano"
            )
        from transformers import AutoConfig, AutoModel, AutoTokenizer, T5EncoderModel

        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        config = AutoConfig.from_pretrained(path, local_files_only=True)
        if config.model_type in ("t5", "mt5", "umt5"):
            model = T5EncoderModel.from_pretrained(path, local_files_only=True)
        else:
            model = AutoModel.from_pretrained(path, local_files_only=True)
            if getattr(config, "is_encoder_decoder", False):  # e.g. BART: its encoder alone
                model = model.get_encoder()
        max_length = int(getattr(config, "cosmos_max_length", 0) or min(tokenizer.model_max_length, 512))
        return cls(tokenizer, model.to(device).eval(), max_length, path)

    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        out = Path(directory)
        self.model.config.cosmos_max_length = self.max_length
        self.model.save_pretrained(out)
        self.tokenizer.save_pretrained(out)
        return out

    def sha(self) -> str:
        """First 16 hex digits of the SHA-256 of the weights (keys the embedding caches)."""
        h = hashlib.sha256()
        for k, v in sorted(self.model.state_dict().items()):
            h.update(k.encode())
            h.update(v.detach().float().cpu().numpy().tobytes())
        return h.hexdigest()[:16]

    def tokenize(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        return self.tokenizer(
            list(texts),
            padding="max_length",
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        )

    @torch.no_grad()
    def encode(self, texts: Sequence[str], batch: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
        """Token embeddings ``(B, L, d)`` (float32, zero at padding) and the mask ``(B, L)`` (True: a token)."""
        embs, masks = [], []
        device = next(self.model.parameters()).device
        for i in range(0, len(texts), batch):
            t = self.tokenize(texts[i : i + batch])
            mask = t["attention_mask"].to(device)
            h = self.model(input_ids=t["input_ids"].to(device), attention_mask=mask).last_hidden_state
            embs.append((h.float() * mask.unsqueeze(-1)).cpu())
            masks.append(mask.bool().cpu())
        return torch.cat(embs), torch.cat(masks)


def train_text_encoder(
    texts: Sequence[str], config: TextEncoderConfig = TextEncoderConfig(), log=print
) -> TextEncoder:
    """A new tokenizer and tiny T5 encoder trained on ``texts`` by denoising (see the module docstring)."""
    from transformers import T5Config, T5EncoderModel

    if not texts:
        raise ConfigError(
            "no captions to train the text encoder on; record stores with `generate --captions`"
        )
    torch.manual_seed(config.seed)
    tokenizer = build_tokenizer(texts)
    t5 = T5Config(
        vocab_size=len(tokenizer),
        d_model=config.d_model,
        d_kv=config.d_model // config.heads,
        d_ff=config.d_ff,
        num_layers=config.layers,
        num_heads=config.heads,
        dropout_rate=0.0,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
    )
    model = T5EncoderModel(t5)
    head = nn.Linear(config.d_model, len(tokenizer))
    encoder = TextEncoder(tokenizer, model, config.max_length)
    unique = sorted(set(texts))
    ids_all = encoder.tokenize(unique)
    opt = torch.optim.AdamW([*model.parameters(), *head.parameters()], lr=config.lr)
    gen = torch.Generator().manual_seed(config.seed)
    mask_id = tokenizer.mask_token_id
    for step in range(config.steps):
        rows = torch.randint(len(unique), (config.batch_size,), generator=gen)
        ids, att = ids_all["input_ids"][rows], ids_all["attention_mask"][rows]
        noisy = ids.clone()
        pick = (torch.rand(ids.shape, generator=gen) < config.mask_prob) & (ids > len(SPECIALS) - 1)
        replace = pick & (torch.rand(ids.shape, generator=gen) < 0.2)
        noisy[pick & ~replace] = mask_id
        noisy[replace] = torch.randint(len(SPECIALS), len(tokenizer), (int(replace.sum()),), generator=gen)
        logits = head(model(input_ids=noisy, attention_mask=att).last_hidden_state)
        loss_all = nn.functional.cross_entropy(logits.transpose(1, 2), ids, reduction="none")
        weight = att.float() * (1.0 + 4.0 * pick.float())  # the masked words count most
        loss = (loss_all * weight).sum() / weight.sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == config.steps - 1:
            acc = ((logits.argmax(-1) == ids) & pick).sum() / pick.sum().clamp(min=1)
            log(f"text encoder step {step}: loss {loss.item():.3f}, masked-word accuracy {acc.item():.2f}")
    return encoder.eval().requires_grad_(False)


def embed_cached(encoder: TextEncoder, texts: Sequence[str], cache: Path) -> tuple[np.ndarray, np.ndarray]:
    """``encoder.encode(texts)`` as float16/bool arrays, kept in ``cache`` (an .npz; reused when the encoder's
    SHA and the texts match, recomputed otherwise)."""
    key = hashlib.sha256(("\n".join(texts) + encoder.sha()).encode()).hexdigest()[:16]
    if cache.is_file():
        data = np.load(cache)
        if str(data["key"]) == key:
            return data["emb"], data["mask"]
    emb, mask = encoder.encode(list(texts))
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp.npz")
    np.savez(tmp, emb=emb.half().numpy(), mask=mask.numpy(), key=np.array(key))
    os.replace(tmp, cache)
    return emb.half().numpy(), mask.numpy()


__all__ = [
    "TextEncoder",
    "TextEncoderConfig",
    "build_tokenizer",
    "embed_cached",
    "train_text_encoder",
    "words",
]
