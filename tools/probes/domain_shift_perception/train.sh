# The three fine-tunes of manip-state-nano (README.md), 1,500 steps each on one thread.
set -e
D=${PROBE_WORK:?set PROBE_WORK}
export OMP_NUM_THREADS=1
T="cosmos-sim train-state-estimator --names ee_x ee_y ee_z goal_x goal_y red_block_x red_block_y --init-from manip-state-nano
   --steps 1500 --eval-every 1500 --threads 1 --no-progress --val-data $D/val_default.zarr"
$T --data $D/default_ps.zarr --out $D/est_default
$T --data $D/default_ps.zarr $D/transfer.zarr --out $D/est_transfer
$T --data $D/default_ps.zarr $D/randomized_ps.zarr --out $D/est_randomized
