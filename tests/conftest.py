"""Test set-up shared by every test: headless rendering before anything imports MuJoCo."""

import os

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
