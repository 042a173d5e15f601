"""Shipped scene files and small checkpoints (each with the command that made it)."""

from pathlib import Path

ASSETS_DIR = Path(__file__).resolve().parent
