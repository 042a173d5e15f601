"""The networks: tokenizers, diffusion and autoregressive world models, heads, checkpoints."""
