"""Train the probe: the package DiT with ``state_maps`` on first-frame contexts (state_render's firstctx patch)
via tools/gpu/train_packed.py (same arguments)."""

import os
import runpy
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "state_render"))
import firstctx  # noqa: F401

sys.argv = ["train_packed.py"] + sys.argv[1:]
runpy.run_path("tools/gpu/train_packed.py", run_name="__main__")
