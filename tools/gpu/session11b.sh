#!/bin/bash
# Session 11's second GPU call: phys_big_sf's EMA (carried as .gpu/init/pbsf) self-forced 2 more minutes alone
# on the GPU; its raw last weights are the shipped physics-dit16-nano. Usage: session11b.sh R
R=$1
cp -r assets/tokenizers/cv4x4x4-nano .gpu/init/pbsf/tokenizer
python3 tools/gpu/train_packed.py --data $(ls .gpu/phys/*.npz) --tokenizer assets/tokenizers/cv4x4x4-nano \
  --family diffusion --patch 2 --object-weight 5 --threads 4 --device cuda --eval-every 2000 --no-progress \
  --steps 1000000 --init-from .gpu/init/pbsf --unroll 1 --batch-size 256 --lr 1e-4 --warmup 100 \
  --time-limit-min 2.0 --out $R/pbsf2 2>&1 | tee $R/pbsf2.log
