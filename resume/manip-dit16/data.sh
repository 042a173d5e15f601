set -e
# World-model training data with segmentation (for --object-weight): 400 noisy-expert episodes.
cosmos-sim generate --env cosmos_sim/Manipulation-GT-v0 --policy noisy-expert --episodes 400 --seed 2000 \
  --workers 1 --resolution 64x64 --maps seg --out data/wfm16/train_noisy.zarr
echo DONE
