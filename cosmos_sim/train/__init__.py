"""Training scripts, CleanRL style (one readable file each): the tokenizer and the world models, and the
parts they share (learning-rate schedule, resumable state)."""
