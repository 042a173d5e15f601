#!/bin/bash
# Session 15's GPU call: the renderer of state (tools/probes/state_render) trained on from session 14's run A side by
# side in two layouts: 1 (hand + block maps, as A) and 2 (+ the arm's last two links, the hand's angles, the fingers).
# Usage: session15.sh R [SCALE]; SCALE multiplies the time limits (DEV=cpu PACK_EPISODES=6 SCALE 0.03: smoke).
# Carries .gpu15: manip/ (the three packs of tools/probes/state_render/README.md step 1), tail1/ and tail2/ (each
# pack's tail, prep.py's tail<layout>_<name>.npy), initA/ (A's last) and init2/ (A extended by prep.py, layout 2).
R=$1; S=${2:-1}; DEV=${DEV:-cuda}; PY=${PY:-python3}
mkdir -p $R
t() { $PY -c "print(round($1 * $S, 3))"; }
L1=hand_u,hand_v,hand_h,block_u,block_v
L2=$L1,elbow_u,elbow_v,elbow_h,wrist_u,wrist_v,wrist_h,ee_roll,ee_pitch,ee_cos2yaw,ee_sin2yaw,finger
$PY tools/gpu/with_tail.py .gpu15/manip .gpu15/tail1 $R/p1 $L1 && $PY tools/gpu/with_tail.py .gpu15/manip .gpu15/tail2 $R/p2 $L2 || exit 1
for i in initA init2; do [ -d .gpu15/$i/tokenizer ] || cp -r assets/tokenizers/cv4x4x4-nano .gpu15/$i/tokenizer; done
C="--tokenizer assets/tokenizers/cv4x4x4-nano --object-weight 5 --threads 4 --device $DEV --eval-every 3000"
C="$C --no-progress --steps 1000000 --batch-size ${BATCH:-256} --cache-dir $R/cache --lr 2e-4 --warmup 200"
TR="$PY tools/probes/state_render/train.py"
progress() {  # a line per run every 30 s
  for _ in 1 2 3 4 5 6; do sleep 5; [ -n "$(jobs -r)" ] || return; done
  echo "== $(date +%T)"
  for f in $R/*.log; do echo "$f: $(tail -n 1 $f)"; done
  nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader 2>/dev/null
}
$TR --data $R/p1/*.npz $C --init-from .gpu15/initA --time-limit-min $(t 7.2) --out $R/r1 > $R/r1.log 2>&1 &
R1=$!
until grep -q "^train:" $R/r1.log 2>/dev/null || ! kill -0 $R1 2>/dev/null; do sleep 2; done  # encoded once
$TR --data $R/p2/*.npz $C --init-from .gpu15/init2 --time-limit-min $(t 7.0) --out $R/r2 > $R/r2.log 2>&1 &
while [ -n "$(jobs -r)" ]; do progress; done
rm -rf $R/p1 $R/p2 $R/cache
