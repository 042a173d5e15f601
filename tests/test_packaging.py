"""Packaging and code hygiene: every source package is listed in pyproject.toml (a non-editable install ships
it), and the code passes the linters CI expects."""

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_is_listed():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed, dirs = set(cfg["packages"]), cfg["package-dir"]
    found = set()
    for name, folder in dirs.items():
        if name == "cosmos_sim.assets":
            continue  # package data, not code
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((name, *rel)))
    missing = found - listed
    assert not missing, f"add these to [tool.setuptools] packages in pyproject.toml: {sorted(missing)}"


def test_code_is_linted_and_formatted():
    """`ruff check` (incl. docstring rules) and `ruff format --check` are clean, as CI expects."""
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    for args in (["check", "."], ["format", "--check", "."]):
        r = subprocess.run([ruff, *args], cwd=ROOT, capture_output=True, text=True)
        assert r.returncode == 0, f"ruff {' '.join(args)}:\n{r.stdout}{r.stderr}"
