#!/bin/bash
# Session 11's first GPU call (one H200, 2026-11-26): four runs side by side, 7.4 min. Usage: session11.sh R [SCALE]
# SCALE multiplies every time limit (0.88 was used; 0.04 with DEV=cpu PACK_EPISODES=6 is a CPU smoke test).
R=$1; S=${2:-0.88}; DEV=${DEV:-cuda}
mkdir -p $R
t() { python3 -c "print(round($1 * $S, 3))"; }
P="$(ls .gpu/phys/*.npz)"
M=".gpu/manip/train_noisy.npz .gpu/manip/train_manip_expert.npz .gpu/manip/train_manip_random.npz"
C="--tokenizer assets/tokenizers/cv4x4x4-nano --family diffusion --patch 2 --object-weight 5 --threads 3 --device $DEV"
C="$C --eval-every 2000 --no-progress --steps 1000000"
TP="${PY:-python3} tools/gpu/train_packed.py"
# physics, a bigger DiT from scratch, then self-forced on one own frame
( $TP --data $P $C --context-frames 9 --dim 192 --depth 8 --heads 6 --batch-size 256 --lr 8e-4 --warmup 500 \
    --time-limit-min $(t 4.6) --out $R/phys_big > $R/phys_big.log 2>&1
  $TP --data $P $C --init-from $R/phys_big/best --unroll 1 --batch-size 256 --lr 1e-4 --warmup 100 \
    --time-limit-min $(t 2.2) --out $R/phys_big_sf > $R/phys_big_sf.log 2>&1 ) &
# manipulation, the same bigger DiT (residual) from scratch
$TP --data $M $C --context-frames 4 --residual --sigma-data 0.5 --dim 192 --depth 8 --heads 6 --batch-size 256 \
  --lr 8e-4 --warmup 500 --time-limit-min $(t 7.2) --out $R/manip_big > $R/manip_big.log 2>&1 &
# manipulation, manip-dit16r-nano trained on at batch 256
$TP --data $M $C --init-from assets/wfm/manip-dit16r-nano --batch-size 256 --lr 3e-4 --warmup 200 \
  --time-limit-min $(t 7.2) --out $R/manip_same > $R/manip_same.log 2>&1 &
# physics, the session-10 physics-dit16-nano self-forced on at batch 256
$TP --data $P $C --init-from .gpu/init/physics-dit16-nano-s10 --unroll 1 --batch-size 256 --lr 1e-4 --warmup 100 \
  --time-limit-min $(t 7.2) --out $R/phys_same_sf > $R/phys_same_sf.log 2>&1 &
while [ -n "$(jobs -r)" ]; do
  sleep 30; echo "== $(date +%T)"
  for f in $R/*.log; do echo "$f: $(tail -n 1 $f)"; done
  nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader 2>/dev/null
done
