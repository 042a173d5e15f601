#!/bin/bash
# Session 17's GPU call: tokenizers (the fidelity issue's tokenizer targets), four runs side by side on the packs
# of data/tok16 (tools/gpu/README.md, "Session 17"): the shipped cv4x4x4-nano trained on, a DV tokenizer with
# 16x16 latents from scratch at two widths, and the shipped dv4x8x8-nano fine-tuned with the object-weighted loss.
# Usage: session17.sh R [SCALE]; SCALE multiplies the time limits (DEV=cpu PACK_EPISODES=3 ... 0.02: smoke).
R=$1; S=${2:-1}; DEV=${DEV:-cuda}; PY=${PY:-python3}
mkdir -p $R
t() { $PY -c "print(round($1 * $S, 3))"; }
C="--data $(ls .gpu17/tok/*.npz) --val-data $(ls .gpu17/val/*.npz) --object-weight 10 --clip-frames 5"
C="$C --threads 3 --device $DEV --no-progress --steps 1000000 --batch-size ${BATCH:-64} --eval-every ${EVERY:-500} --eval-clips 30"
TT="$PY tools/gpu/train_tokenizer_packed.py"
L=$(t 7.2)
$TT $C --init-from assets/tokenizers/cv4x4x4-nano --lr 3e-4 --warmup 100 --time-limit-min $L --out $R/cv16 > $R/cv16.log 2>&1 &
$TT $C --kind DV --spatial-compression 4 --lr 1e-3 --warmup 300 --time-limit-min $L --out $R/dv16 > $R/dv16.log 2>&1 &
$TT $C --kind DV --spatial-compression 4 --channels 256 --frame-channels 96 --lr 8e-4 --warmup 300 \
  --time-limit-min $L --out $R/dv16w > $R/dv16w.log 2>&1 &
$TT $C --init-from assets/tokenizers/dv4x8x8-nano --clip-frames 9 --lr 3e-4 --warmup 100 --time-limit-min $L \
  --out $R/dv8ft > $R/dv8ft.log 2>&1 &
while [ -n "$(jobs -r)" ]; do
  for _ in 1 2 3 4 5 6; do sleep 5; [ -n "$(jobs -r)" ] || break; done
  echo "== $(date +%T)"
  for f in $R/*.log; do echo "$f: $(tail -n 1 $f)"; done
  nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader 2>/dev/null
done
rm -rf $R/*/last  # fp32 + optimizer states stay behind; best/ is bf16
