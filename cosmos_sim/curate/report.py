"""The run's record: every clip's fate (JSON, Parquet when pyarrow is installed), a one-screen
summary, and a contact sheet (PNG grid + HTML table) of kept and dropped clips."""

from __future__ import annotations

import dataclasses
import html
import json
from collections import Counter
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from cosmos_sim.curate.clip import Clip

_TILE = (160, 90)
_MAX_TILES = 240
_STAGE_ORDER = ("split", "motion", "quality", "text", "caption", "embed", "dedup", "shard")


def write_report(
    out_dir: Path,
    results: list[dict[str, Any]],
    clips: list[Clip],
    cfg: Any,
    timings: dict[str, float],
    n_resumed: int = 0,
) -> dict[str, Any]:
    """Write report.json (+ report.parquet), summary.txt and the contact sheet; return the summary."""
    done = [r for r in results if r["status"] == "done"]
    skipped = [
        {"video": r["video"], "status": r["status"], "reason": r["reason"]}
        for r in results
        if r["status"] != "done"
    ]
    fates = Counter("kept" if c.kept else c.stage for c in clips)
    kept = [c for c in clips if c.kept]
    stage_s: Counter[str] = Counter()
    for r in results:
        stage_s.update(r.get("timings", {}))
    video_s = sum(r.get("duration_s", 0.0) for r in done)
    summary = {
        "videos": len(results),
        "videos_done": len(done),
        "videos_skipped": sum(s["status"] == "skipped" for s in skipped),
        "videos_failed": sum(s["status"] == "failed" for s in skipped),
        "videos_resumed": n_resumed,
        "video_seconds": round(video_s, 3),
        "clips": len(clips),
        "clips_kept": len(kept),
        "kept_seconds": round(sum(c.duration for c in kept), 3),
        "dropped_by_stage": {k: fates[k] for k in _STAGE_ORDER if fates.get(k)},
        "stage_seconds": {k: round(v, 3) for k, v in stage_s.items()},
        "timings": {k: round(v, 3) for k, v in timings.items()},
        "skipped": skipped,
    }
    report = {
        "summary": summary,
        "config": dataclasses.asdict(cfg),
        "videos": [
            {
                k: r.get(k)
                for k in (
                    "video",
                    "video_id",
                    "status",
                    "reason",
                    "n_frames",
                    "fps",
                    "width",
                    "height",
                    "duration_s",
                    "cuts",
                )
            }
            for r in results
        ],
        "clips": [c.record() for c in clips],
    }
    (out_dir / "report.json").write_text(json.dumps(report, indent=1, default=str))
    _write_parquet(out_dir / "report.parquet", clips)
    text = summary_text(summary, out_dir)
    summary["text"] = text
    (out_dir / "summary.txt").write_text(text + "\n")
    if cfg.contact_sheet:
        contact_sheet(out_dir, clips, {r["video"]: r["video_id"] for r in results})
    return summary


def summary_text(s: dict[str, Any], out_dir: Path) -> str:
    """The one-screen summary."""
    lines = [
        f"curated {s['videos_done']} of {s['videos']} input files ({s['video_seconds']:.1f} s of video; "
        f"{s['videos_resumed']} already done, {s['videos_skipped']} skipped, {s['videos_failed']} failed) "
        f"in {s['timings']['total_wall']:.1f} s",
        f"clips: {s['clips']} found, {s['clips_kept']} kept ({s['kept_seconds']:.1f} s)",
    ]
    for stage, n in s["dropped_by_stage"].items():
        lines.append(f"  dropped by {stage:8s} {n}")
    for sk in s["skipped"][:8]:
        lines.append(f"  {sk['status']} {sk['video']}: {sk['reason'][:90]}")
    if len(s["skipped"]) > 8:
        lines.append(f"  ... {len(s['skipped']) - 8} more skipped (see report.json)")
    if s["stage_seconds"]:
        lines.append("stage cpu-seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in s["stage_seconds"].items()))
    lines.append(f"report: {out_dir / 'report.json'}; shards: {out_dir / 'shards'}")
    return "\n".join(lines)


def _write_parquet(path: Path, clips: list[Clip]) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:  # optional: the JSON report has everything
        return
    rows = [c.record() for c in clips]
    for r in rows:
        r["metrics"], r["extra"], r["tags"] = (
            json.dumps(r["metrics"]),
            json.dumps(r["extra"]),
            ",".join(r["tags"]),
        )
    pq.write_table(pa.Table.from_pylist(rows), path)


def contact_sheet(out_dir: Path, clips: list[Clip], video_ids: dict[str, str]) -> None:
    """contact_sheet.png (kept clips framed green, dropped red, labelled) and contact_sheet.html."""
    order = sorted(clips, key=lambda c: (not c.kept, c.stage or "", c.clip_id))[:_MAX_TILES]
    tiles = []
    for c in order:
        thumb = out_dir / "work" / video_ids[c.video] / "thumbs" / f"{c.clip_id}.jpg"
        img = cv2.imread(str(thumb)) if thumb.is_file() else None
        tile = np.full((_TILE[1] + 16, _TILE[0], 3), 40, np.uint8)
        if img is not None:
            img = cv2.resize(img, _TILE, interpolation=cv2.INTER_AREA)
            tile[: _TILE[1]] = img
        colour = (60, 180, 60) if c.kept else (50, 50, 220)
        cv2.rectangle(tile, (0, 0), (_TILE[0] - 1, _TILE[1] - 1), colour, 3)
        label = "kept" if c.kept else f"{c.stage}: {c.reason.split(':')[0]}"
        cv2.putText(
            tile,
            label[:26],
            (3, _TILE[1] + 12),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.35,
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )
        tiles.append(tile)
    if tiles:
        cols = min(8, len(tiles))
        tiles += [np.zeros_like(tiles[0])] * (-len(tiles) % cols)
        grid = np.concatenate([np.concatenate(tiles[i : i + cols], 1) for i in range(0, len(tiles), cols)], 0)
        cv2.imwrite(str(out_dir / "contact_sheet.png"), grid)
    rows = []
    for c in order:
        src = f"work/{video_ids[c.video]}/thumbs/{c.clip_id}.jpg"
        fate = "kept" if c.kept else f"dropped by {c.stage}"
        value = "" if c.value is None else f"{c.value:.4g}"
        rows.append(
            f"<tr class='{'kept' if c.kept else 'dropped'}'><td><img src='{html.escape(src)}'></td>"
            f"<td>{html.escape(c.clip_id)}<br>{c.duration:.1f} s</td><td>{html.escape(fate)}</td>"
            f"<td>{html.escape(c.reason)}</td><td>{value}</td><td>{html.escape(', '.join(c.tags))}</td>"
            f"<td>{html.escape(c.caption)}</td></tr>"
        )
    page = (
        "<!doctype html><meta charset='utf-8'><title>cosmos-sim curation</title><style>"
        "body{font-family:sans-serif} td{padding:4px;vertical-align:top} tr.kept{background:#e6f4e6}"
        "tr.dropped{background:#f8e4e4}</style><table><tr><th>clip</th><th>id</th><th>fate</th><th>reason</th>"
        "<th>value</th><th>tags</th><th>caption</th></tr>" + "".join(rows) + "</table>"
    )
    (out_dir / "contact_sheet.html").write_text(page)
