#!/bin/bash
# Session 21's GPU call (one lent GPU): physics only. The d 256 x 12 DiT of physics-dit16-nano at patch 1
# (256 tokens a frame instead of 64: the small fast balls lose the most at patch 2) beside a d 192 x 8 one,
# both from scratch on 450 random episodes per scenario, then each one's EMA self-forced with --unroll 1.
# Usage: session21.sh R [SCALE]; SCALE multiplies every time limit (DEV=cpu PACK_EPISODES=6 ... 0.04: smoke).
R=$1; S=${2:-1}; DEV=${DEV:-cuda}
mkdir -p $R
t() { python3 -c "print(round($1 * $S, 3))"; }
P="$(ls .gpu21/phys/*.npz)"
C="--tokenizer assets/tokenizers/cv4x4x4-nano --family diffusion --patch 1 --object-weight 5 --threads ${THREADS:-3}"
C="$C --device $DEV --eval-every 2000 --no-progress --steps 1000000 --batch-size ${BATCH:-256} --cache-dir $R/cache"
C="$C --context-frames 9"
TP="${PY:-python3} tools/gpu/train_packed.py"
progress() {  # a line per run every 30 s, until the jobs end
  for _ in 1 2 3 4 5 6; do sleep 5; [ -n "$(jobs -r)" ] || return; done
  echo "== $(date +%T)"
  for f in $R/*.log; do echo "$f: $(tail -n 1 $f)"; done
  nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader 2>/dev/null
}
$TP --data $P $C --dim 256 --depth 12 --heads 8 --lr 6e-4 --warmup 500 --time-limit-min $(t 4.5) \
  --out $R/p1 > $R/p1.log 2>&1 &
until grep -q "^train:" $R/p1.log 2>/dev/null || [ -z "$(jobs -r)" ]; do sleep 2; done  # encoded once
$TP --data $P $C --dim 192 --depth 8 --heads 6 --lr 8e-4 --warmup 500 --time-limit-min $(t 4.3) \
  --out $R/p1s > $R/p1s.log 2>&1 &
while [ -n "$(jobs -r)" ]; do progress; done
for r in p1 p1s; do
  $TP --data $P $C --init-from $R/$r/best --unroll 1 --lr 1e-4 --warmup 100 --time-limit-min $(t 2.5) \
    --out $R/${r}_u1 > $R/${r}_u1.log 2>&1 &
done
while [ -n "$(jobs -r)" ]; do progress; done
# what comes back (at most ~60 MiB): the self-forced runs' raw last weights (device.sh makes them bf16) and the
# small run's EMA; the plain stages and the big run's EMA stay behind
rm -rf $R/p1/last $R/p1s/last $R/p1/best $R/p1s/best $R/p1_u1/best
