# Stores of the probe (README.md): default-look push episodes with their true state, their Transfer re-rendering,
# the same seeds in GT randomized looks, and 16 held-out episodes per look.
set -e
D=${PROBE_WORK:?set PROBE_WORK}
N=${PROBE_EPISODES:-60}  # training episodes per store
export OMP_NUM_THREADS=1 MUJOCO_GL=egl
G="cosmos-sim generate --resolution 64x64 --no-progress --policy noisy-expert --env cosmos_sim/Manipulation-GT-v0"
O='{"max_noise": 0.3, "max_random": 0.1}'
$G --policy-options "$O" --maps depth,seg --env-kwargs '{"obs_mode":"pixels+state"}' --episodes $N --seed 9000 \
   --out $D/default_ps.zarr
cosmos-sim transfer --spec assets/transfer/manip-transfer-nano/spec.json --input $D/default_ps.zarr --domain random \
   --workers 1 --no-progress --out $D/transfer.zarr
$G --policy-options "$O" --env-kwargs '{"obs_mode":"pixels+state","appearance":"randomized"}' --episodes $N --seed 9000 \
   --out $D/randomized_ps.zarr
for look in default gravel coffee; do
  $G --policy-options "$O" --env-kwargs "{\"obs_mode\":\"pixels+state\",\"appearance\":\"$look\"}" --episodes 16 \
     --seed 100100 --out $D/val_$look.zarr
done
