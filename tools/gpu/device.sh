#!/bin/bash
# On the lent GPU machine, from the repo root: install the carried wheels (.whl: gymnasium, farama-notifications;
# zarr is stubbed by sitecustomize.py), lay the package out as pip would, then run tools/gpu/$1.sh with the
# rest of the arguments. Its results go under /tmp/r; everything there but tokenizers and optimizer states
# comes back through $OUT in 15 MB parts (the tool returns files of at most 16 MiB).
set -e
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
cp tools/gpu/sitecustomize.py /tmp/site/
for d in envs world_models policies assets; do ln -sfn ../$d cosmos_sim/$d; done
# the repo root, not /tmp/site alone: a script's own folder comes first on sys.path, never the cwd
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 MUJOCO_GL=egl
python3 -c "import torch, cosmos_sim.train.wfm; print(torch.__version__, torch.cuda.get_device_name())"
set +e
rm -rf /tmp/r && mkdir -p /tmp/r
script=$1; shift
bash tools/gpu/$script.sh /tmp/r "$@" 2>&1 | tee $OUT/run.log
python3 - <<'PY'
from pathlib import Path
from cosmos_sim.world_models.wfm import WorldModel
for d in Path("/tmp/r").glob("*/last"):  # the raw weights as a bf16 bundle (fp32 + optimizer stay behind)
    WorldModel.from_pretrained(d).save_pretrained(d.parent / "lastbf16")
PY
cd /tmp/r && tar cf - --exclude=tokenizer */best */lastbf16 */metrics.jsonl *.log | split -b 15M - $OUT/all.tar.part_
ls -la $OUT
