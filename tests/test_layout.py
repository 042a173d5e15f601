"""The package's shape: cheap import, lazy exports, old import paths that warn, dependencies that point one way."""

import ast
import importlib
import pathlib
import subprocess
import sys
import warnings

import pytest

import cosmos_sim
from cosmos_sim._moved import MOVED

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_import_is_cheap_and_the_main_classes_load_on_first_use():
    code = (
        "import sys, cosmos_sim; heavy = [m for m in ('torch', 'zarr', 'mujoco') if m in sys.modules]; "
        "print(heavy); cosmos_sim.WorldModel; print('torch' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["[]", "True"]
    from cosmos_sim.data.store import TrajectoryStore
    from cosmos_sim.world_models.wfm import WorldModel

    assert cosmos_sim.TrajectoryStore is TrajectoryStore and cosmos_sim.world_models.WorldModel is WorldModel
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        cosmos_sim.Nope  # noqa: B018


@pytest.mark.parametrize("old, new", sorted(MOVED.items()))
def test_old_import_paths_warn_and_give_the_new_module(old, new):
    sys.modules.pop(old, None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)
    assert any(issubclass(w.category, DeprecationWarning) and new in str(w.message) for w in caught)


# Layers, lowest first: a module imports cosmos_sim modules of its own layer or below, never above.
LAYERS = [
    {"world_models", "assets", "errors", "workers", "_moved"},  # networks and plumbing
    {"root", "data", "envs", "policies", "guardrail", "text"},  # recording, scenes, policies, guards, prompts
    {"eval", "train"},  # measuring and learning (eval never imports train)
    {"bench", "curate"},  # benchmarks and the curation pipeline
    {"cli", "demo"},  # what users run
]
SOURCES = {
    "cosmos_sim": "cosmos_sim",
    "envs": "cosmos_sim.envs",
    "world_models": "cosmos_sim.world_models",
    "policies": "cosmos_sim.policies",
    "assets": "cosmos_sim.assets",
}


def _group(module: str) -> str:
    parts = module.split(".")
    return "root" if len(parts) == 1 else parts[1]


def _imports():
    """(importing module, imported module) for every cosmos_sim import in the source folders."""
    for folder, package in SOURCES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT / folder).with_suffix("")
            module = ".".join([package, *rel.parts]).removesuffix(".__init__")
            for node in ast.walk(ast.parse(path.read_text())):
                names = (
                    [node.module]
                    if isinstance(node, ast.ImportFrom) and node.module
                    else [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else []
                )
                yield from ((module, n) for n in names if n.split(".")[0] == "cosmos_sim")


def test_dependencies_point_one_way():
    layer = {g: i for i, groups in enumerate(LAYERS) for g in groups}
    wrong = []
    for module, imported in _imports():
        a, b = _group(module), _group(imported)
        assert a in layer and b in layer, f"{module} or {imported} is in no layer: add its package to LAYERS"
        if layer[b] > layer[a] or (a, b) == ("eval", "train"):
            wrong.append(f"{module} imports {imported}")
    assert not wrong, "imports that point up the layers:\n" + "\n".join(wrong)
