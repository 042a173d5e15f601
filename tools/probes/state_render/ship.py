"""Make a layout-2 probe run a package bundle (``DiTConfig.state_maps``): the DiT (its two map projections joined
into ``map_in``: patchify orders a token's features channel first, so the seven maps' weights are the three maps'
then the four's), the state model (``state/``) and the camera (``state_camera.json``) beside it.

    python tools/probes/state_render/ship.py RUN_WEIGHTS STATE_MODEL CAM2.NPZ OUT
"""

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from cosmos_sim.world_models.proprio import ProprioModel
from cosmos_sim.world_models.state_maps import STATE, TAIL, StateCamera
from cosmos_sim.world_models.tokenizer import Tokenizer
from cosmos_sim.world_models.wfm import WorldModel, WorldModelConfig, find_tokenizer

run, state, cam, out = map(Path, sys.argv[1:])
cfg = WorldModelConfig.from_json(json.loads((run / "config.json").read_text())["config"])
if tuple(cfg.action_layout[7:]) != TAIL:
    raise SystemExit(f"{run} is not a layout-2 run: its tail is {cfg.action_layout[7:]}")
cfg = dataclasses.replace(cfg, dynamics=dataclasses.replace(cfg.dynamics, state_maps=True), tokenizer_dir="")
wm = WorldModel(cfg, Tokenizer.from_pretrained(find_tokenizer(cfg, run), device="cpu"))
w = {k: v.float() for k, v in load_file(run / "model.safetensors").items()}
w["dynamics.map_in.weight"] = torch.cat([w["dynamics.map_in.weight"], w.pop("dynamics.map_in2.weight")], 1)
w["dynamics.map_in.bias"] = w["dynamics.map_in.bias"] + w.pop("dynamics.map_in2.bias")
wm.load_checkpoint_state(w, run / "model.safetensors")
wm.save_pretrained(out, tokenizer_dir=find_tokenizer(cfg, run))
sm = ProprioModel.from_pretrained(state, device="cpu")
if sm.names != STATE:
    raise SystemExit(f"{state} predicts {sm.names}, not {STATE}")
sm.save_pretrained(out / "state")
c = np.load(cam)
heights = tuple((float(c["z_mid" + k]), float(c["z_half" + k])) for k in ("", "_elbow", "_wrist"))
StateCamera(tuple(map(tuple, c["K"].tolist())), tuple(map(tuple, c["E"].tolist())), heights).save(
    out / "state_camera.json"
)
print("saved", out, sorted(p.name for p in out.iterdir()))
