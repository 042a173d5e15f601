"""Train the probe: the map-reading DiT (mapdit) on first-frame contexts (firstctx) via tools/gpu/train_packed.py."""

import os
import runpy
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import firstctx  # noqa: F401
import mapdit  # noqa: F401

sys.path.insert(0, "tools/gpu")  # train_packed.py's own imports (wallclock)
sys.argv = ["train_packed.py"] + sys.argv[1:]
runpy.run_path("tools/gpu/train_packed.py", run_name="__main__")
