"""Result format shared by every benchmark: JSON for machines, a markdown table for people."""

from __future__ import annotations

import json
import math
import numbers
import os
import platform
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


@dataclass
class BenchResult:
    """One benchmark run."""

    name: str
    """Benchmark name, also the output file stem."""
    figures: dict[str, float] = field(default_factory=dict)
    """Flat headline metrics, e.g. ``{"manipulation_steps_per_s_64_rgb": 812.0}``."""
    rows: list[dict[str, Any]] = field(default_factory=list)
    """One dict per measured case; the markdown table is made from these."""
    notes: str = ""
    """Free text shown under the table (method, caveats)."""
    command: str = ""
    """The command that produced it."""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "figures": self.figures,
            "rows": self.rows,
            "notes": self.notes,
            "machine": machine_info(),
            "command": self.command,
        }


def config_error(bench: str, name: str, value: Any, expected: str) -> ValueError:
    """A benchmark ``Config`` error that says the value, what was expected and the flag that fixes it."""
    flag = "--" + name.replace("_", "-")
    return ValueError(f"bench {bench}: {name} = {value!r}, expected {expected}; pass {flag} with {expected}")


def check_at_least(bench: str, cfg: Any, minimum: float, *names: str) -> None:
    """Raise ``config_error`` for the first of ``cfg``'s fields ``names`` below ``minimum`` (a tuple field: empty,
    or any element below it)."""
    for name in names:
        value = getattr(cfg, name)
        if isinstance(value, tuple):
            if not value or min(value) < minimum:
                raise config_error(bench, name, value, f"one or more values, each >= {minimum}")
        elif value < minimum:
            raise config_error(bench, name, value, f"a value >= {minimum}")


def machine_info() -> dict[str, Any]:
    """What the figures were measured on."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "date_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        # Other work on a shared machine skews absolute times: record how busy it was.
        "load_avg_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }
    try:
        import torch

        info["torch"] = torch.__version__
        info["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:  # torch is a dependency, but the env benchmark does not need it
        pass
    try:
        with open("/proc/cpuinfo") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), None)
        if model:
            info["cpu_model"] = model
    except OSError:
        pass
    return info


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """Rows of dicts as a GitHub markdown table (columns in first-seen order)."""
    if not rows:
        return "(no rows)\n"
    cols = list(dict.fromkeys(k for r in rows for k in r))

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:,.1f}" if abs(v) >= 100 else f"{v:.3g}"
        return "" if v is None else str(v)

    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(r.get(c)) for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def json_safe(value: Any) -> Any:
    """``value`` with NumPy scalars as Python numbers and NaN/inf as None: strict JSON (``NaN`` and
    ``Infinity`` are not JSON, and jq, browsers and most other readers refuse them)."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, bool | str) or value is None:
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value) if math.isfinite(value) else None
    if hasattr(value, "item"):  # a NumPy bool or other 0-d value
        return json_safe(value.item())
    return value


def write_result(result: BenchResult, out_dir: str | os.PathLike) -> tuple[Path, Path]:
    """Write ``<name>.json`` and ``<name>.md`` into ``out_dir``; return their paths.

    The JSON is strict: a figure or cell that is NaN or infinite (nothing to measure) is ``null``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = result.to_json()
    jpath, mpath = out / f"{result.name}.json", out / f"{result.name}.md"
    jpath.write_text(json.dumps(json_safe(data), indent=2, allow_nan=False, default=float) + "\n")
    m = data["machine"]
    md = [f"# Benchmark: {result.name}", ""]
    # Rows with a "case" key get one table per case, each with only its own columns.
    cases = list(dict.fromkeys(r.get("case") for r in result.rows))
    for case in cases:
        rows = [{k: v for k, v in r.items() if k != "case"} for r in result.rows if r.get("case") == case]
        md += ([f"## {case}", ""] if case is not None else []) + [markdown_table(rows)]
    if result.notes:
        md += [result.notes, ""]
    md += [
        f"Machine: {m.get('cpu_model', m['processor'])}, {m['cpu_count']} cores, Python {m['python']}, "
        f"{m['date_utc']}, load average {m.get('load_avg_1min')}.",
        "",
        f"Command: `{result.command}`",
        "",
    ]
    mpath.write_text("\n".join(md))
    return jpath, mpath
