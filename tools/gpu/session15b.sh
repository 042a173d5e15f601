#!/bin/bash
# Session 15's second GPU call (the device time left, ~6 min): session15.sh's layout-2 run (its EMA weights, carried
# as .gpu15/initR2) trained on alone for 3 more minutes at half the learning rate. Usage as session15.sh.
R=$1; S=${2:-1}; DEV=${DEV:-cuda}; PY=${PY:-python3}
mkdir -p $R
L2=hand_u,hand_v,hand_h,block_u,block_v,elbow_u,elbow_v,elbow_h,wrist_u,wrist_v,wrist_h
L2=$L2,ee_roll,ee_pitch,ee_cos2yaw,ee_sin2yaw,finger
$PY tools/gpu/with_tail.py .gpu15/manip .gpu15/tail2 $R/p2 $L2 || exit 1
[ -d .gpu15/initR2/tokenizer ] || cp -r assets/tokenizers/cv4x4x4-nano .gpu15/initR2/tokenizer
$PY tools/probes/state_render/train.py --data $R/p2/*.npz --tokenizer assets/tokenizers/cv4x4x4-nano \
  --object-weight 5 --threads 8 --device $DEV --eval-every 100000 --no-progress --steps 1000000 \
  --batch-size ${BATCH:-256} --cache-dir $R/cache --lr 1e-4 --warmup 100 --init-from .gpu15/initR2 \
  --time-limit-min $($PY -c "print(round(3.0 * $S, 3))") --out $R/r3 > $R/r3.log 2>&1
tail -n 3 $R/r3.log
rm -rf $R/p2 $R/cache $R/r3/last
