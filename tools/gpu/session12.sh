#!/bin/bash
# Session 12's GPU call (one lent GPU): physics only, on 3x the data (tools/gpu/README.md, "Session 12").
# Stage 1: a d 256 x 12 DiT from scratch (plain) beside the shipped physics-dit16-nano self-forced on with
# --unroll 1 and --unroll 2; stage 2: the new DiT's EMA self-forced with --unroll 1 and 2 side by side.
# Usage: session12.sh R [SCALE]; SCALE multiplies every time limit (DEV=cpu PACK_EPISODES=6 SCALE 0.04: smoke).
R=$1; S=${2:-1}; DEV=${DEV:-cuda}
mkdir -p $R
t() { python3 -c "print(round($1 * $S, 3))"; }
P="$(ls .gpu12/phys/*.npz)"
C="--tokenizer assets/tokenizers/cv4x4x4-nano --family diffusion --patch 2 --object-weight 5 --threads 3 --device $DEV"
C="$C --eval-every 2000 --no-progress --steps 1000000 --batch-size 256 --cache-dir $R/cache"
TP="${PY:-python3} tools/gpu/train_packed.py"
SHIP=assets/wfm/physics-dit16-nano
progress() {  # a line per run every 30 s
  for _ in 1 2 3 4 5 6; do  # returns within 5 s of the end of job $1 (of every job without one)
    sleep 5; if [ -n "$1" ]; then kill -0 $1 2>/dev/null || return; else [ -n "$(jobs -r)" ] || return; fi
  done
  echo "== $(date +%T)"
  for f in $R/*.log; do echo "$f: $(tail -n 1 $f)"; done
  nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader 2>/dev/null
}
$TP --data $P $C --context-frames 9 --dim 256 --depth 12 --heads 8 --lr 6e-4 --warmup 500 \
  --time-limit-min $(t 4.6) --out $R/big > $R/big.log 2>&1 &
BIG=$!
until grep -q "^train:" $R/big.log 2>/dev/null || ! kill -0 $BIG 2>/dev/null; do sleep 2; done  # encoded once
for u in 1 2; do
  $TP --data $P $C --init-from $SHIP --unroll $u --lr 1e-4 --warmup 100 \
    --time-limit-min $(t 7.6) --out $R/ship_u$u > $R/ship_u$u.log 2>&1 &
done
while kill -0 $BIG 2>/dev/null; do progress $BIG; done
for u in 1 2; do
  $TP --data $P $C --init-from $R/big/best --unroll $u --lr 1e-4 --warmup 100 \
    --time-limit-min $(t 2.6) --out $R/big_u$u > $R/big_u$u.log 2>&1 &
done
while [ -n "$(jobs -r)" ]; do progress; done
# what comes back (the tool returns at most 8 files of 16 MiB): the raw last weights of the four self-forced
# runs, which device.sh makes bf16 (27 + 27 + 11 + 11 MB); EMA weights and the plain stage's stay behind
rm -rf $R/big/last $R/*/best
