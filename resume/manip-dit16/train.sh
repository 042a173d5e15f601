# Manipulation DiT over the 16x16 CV latents (patch 2 -> 64 tokens), object-weighted loss; resumable (same command).
# Runs a frozen copy of the code (/work/frozen, `git archive` of the commit) so edits in the tree cannot reach it;
# the user-facing equivalent is `cosmos-sim train-wfm ...` with the same flags.
TOK=${TOK:-assets/tokenizers/cv4x4x4-nano}
exec python /work/frozen/launch.py train-wfm --data data/wfm16/train_noisy.zarr data/tok16/train_manip_expert.zarr data/tok16/train_manip_random.zarr \
  --val-data data/tok16/heldout_manip_expert.zarr data/tok16/heldout_manip_random.zarr --cache-dir runs/wfm16/cache \
  --family diffusion --patch 2 --dim 128 --depth 5 --heads 4 --batch-size 32 --object-weight 5 --eval-every 1000 \
  --threads 1 --tokenizer $TOK --out runs/wfm16/dit --steps 16000 --time-limit-min ${LIMIT:-70} --no-progress
