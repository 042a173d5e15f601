"""``cosmos-sim bench physics``: how far a world model's videos are from simulated physics.

Protocol (issue 5, after the Cosmos paper's physics-alignment evaluation). For every physics
scenario (``cosmos_sim/Physics-<Scenario>-GT-v0``, the dynamic ones by default) and held-out seed
(``first_seed`` = 100000 onwards; training uses lower seeds) the GT episode is simulated with
segmentation and depth. A predictor sees the first ``context`` frames (1 or 9) and predicts the
next ``horizon`` frames; the world model and the baselines (``cosmos_sim.eval.predictors``: copy-last,
constant-velocity optical flow, and the simulator re-run with +-5 % physical parameters) are
scored the same way, in one table:

- pixels: PSNR (per frame, capped at ``PSNR_CAP_DB`` so identical frames stay finite) and SSIM;
- objects: IoU of each object's colour-segmented mask vs its GT mask, centroid error in pixels and
  metres (``cosmos_sim.eval.physics_metrics``); ``object_iou_ceiling`` is the same colour segmentation
  applied to the GT frames themselves: the best any predictor can score;
- motion (Physics-IQ): spatial, spatiotemporal and weighted spatial IoU of motion masks, and MSE;
- features: cosine similarity of per-frame features (default: the shipped tokenizer's latents).

Every figure is per predicted frame (plots, ``per_frame`` lists in the parts) and averaged over
frames and seeds per scenario; ``overall`` is the mean over scenarios (each scenario weighs the
same). Resumable: each finished (predictor, scenario) lands in ``OUT/physics_parts/`` as JSON,
named by a hash of everything that changes it (predictor and its weights, scenario, context,
horizon, seeds, feature extractor), and a rerun only computes the missing parts.

3D consistency (``consistency``, on by default): the static ``CameraOrbit`` scene seen from a
moving camera; each predictor's ``horizon`` predicted frames (and the GT frames themselves, the
reference) are scored by ``cosmos_sim.eval.consistency3d`` (Sampson error of SIFT matches under a
RANSAC fundamental matrix, camera-pose-estimation success against the GT poses), with PSNR/SSIM
beside them, in a table of its own (also resumable, one part per predictor).

Any model, run elsewhere (``cosmos_sim/eval/physics_io.py``): ``--export DIR`` writes the held-out
conditioning clips (MP4 + PNG), the GT continuations' masks and ``manifest.json`` instead of scoring;
``--predictions DIR`` scores the videos a user wrote into ``DIR/predictions/`` in place of ``--model``
(with the manifest's scenarios, seeds, context and horizon), beside the baselines.

Outputs in ``OUT``: ``physics.json`` / ``physics.md``, ``physics_per_frame.png`` (PSNR, SSIM and
object IoU against the predicted frame, one line per predictor), ``physics_<Scenario>.gif``
(GT | prediction | |error| x3 for the first seed, of ``--model``).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from cosmos_sim.bench.common import BenchResult, write_result
from cosmos_sim.envs import PHYSICS_EPISODE_STEPS, PHYSICS_SCENARIOS
from cosmos_sim.eval import HELD_OUT_SEED
from cosmos_sim.eval.predictors import BASELINES, ONE_STEP
from cosmos_sim.eval.rollouts import GTEpisode, gt_episode

PSNR_CAP_DB = 60.0
PARTS_DIR = "physics_parts"
PART_VERSION = 1  # bump when a part's content or a metric's definition changes
#: Scenes without motion (3D-consistency scenes): not part of the physics protocol by default.
STATIC_SCENARIOS = ("CameraOrbit",)
DEFAULT_SCENARIOS = tuple(s for s in PHYSICS_SCENARIOS if s not in STATIC_SCENARIOS)
#: Column -> what it is, for the notes (the table shows these per predictor and scenario).
METRICS = {
    "psnr_db": "PSNR (dB)",
    "ssim": "SSIM",
    "object_iou": "object IoU (colour segmentation vs GT seg)",
    "centroid_err_px": "object centroid error (pixels)",
    "centroid_err_m": "object centroid error (metres)",
    "spatial_iou": "Physics-IQ spatial IoU",
    "spatiotemporal_iou": "Physics-IQ spatiotemporal IoU",
    "weighted_spatial_iou": "Physics-IQ weighted spatial IoU",
    "mse": "Physics-IQ MSE (RGB in [0, 1])",
    "feature_cos": "feature cosine similarity",
}
#: Metrics that are per predicted frame (the others are one number per episode).
PER_FRAME = (
    "psnr_db",
    "ssim",
    "object_iou",
    "centroid_err_px",
    "centroid_err_m",
    "spatiotemporal_iou",
    "mse",
    "feature_cos",
)


@dataclass(frozen=True)
class Config:
    """Options of ``cosmos-sim bench physics``."""

    model: str = "physics-dit-nano"
    """World-model bundle directory or shipped name (assets/wfm/...), a diffusers Video2World pipeline
    directory (NVIDIA's Cosmos-Predict2, local), or a baseline name."""
    model_options: str = ""
    """JSON object of a diffusers --model's settings (height, width, steps, guidance_scale, prompt, ...)."""
    change_gain: float | None = None
    """A cosmos-sim world model's change gain in place of its bundle's (``WorldModelConfig.change_gain``;
    to choose one on validation seeds, e.g. --first-seed 100100); None: the bundle's own."""
    scenarios: tuple[str, ...] = DEFAULT_SCENARIOS
    """Physics scenarios (FreeFall ... or free_fall ...)."""
    context: int = 9
    """GT frames the predictor sees (the protocol uses 1 and 9)."""
    horizon: int = 24
    """Frames to predict after the context."""
    seeds: int = 8
    """Held-out episodes per scenario."""
    first_seed: int = HELD_OUT_SEED
    """Reset seed of the first episode (held-out seeds start at 100000)."""
    baselines: tuple[str, ...] = BASELINES
    """Baselines in the same table (copy-last, flow, physical-variance; one-step: the model predicting every
    frame from the true ones before it, its error without drift; none for no baseline)."""
    features: str = "tokenizer"
    """Feature extractor: tokenizer (shipped CV tokenizer latents) or module:function."""
    device: str = "auto"
    """Device of the world model (auto: CUDA if available)."""
    video: bool = True
    """Write a side-by-side GIF per scenario."""
    consistency: bool = True
    """Also score 3D consistency on the static CameraOrbit scene (same seeds, context, horizon)."""
    depth_estimator: str = "depth-nano"
    """With --consistency: DepthEstimator (shipped name or directory) for the reconstruction rows; empty: none."""
    export: str = ""
    """Only write the held-out conditioning clips (MP4 + PNG), GT continuation masks and manifest.json here."""
    predictions: str = ""
    """Score the videos in this export's predictions/ folder (made by any model) in place of --model."""

    def __post_init__(self) -> None:
        if self.export and self.predictions:
            raise ValueError("--export writes clips and --predictions scores videos made from them: pass one")
        object.__setattr__(
            self, "scenarios", _checked_scenarios(self)
        )  # free_fall -> FreeFall, no duplicates


def scenario_name(name: str) -> str:
    """``"free_fall"`` or ``"FreeFall"`` -> ``"FreeFall"``; ValueError listing the valid names otherwise."""
    if name in PHYSICS_SCENARIOS:
        return name
    by_key = {v: k for k, v in PHYSICS_SCENARIOS.items()}
    if name in by_key:
        return by_key[name]
    raise ValueError(
        f"unknown physics scenario {name!r}; valid: {list(PHYSICS_SCENARIOS)} (or their keys {list(by_key)})"
    )


def _checked_scenarios(cfg: Config) -> tuple[str, ...]:
    """``cfg``'s scenario names normalised; ValueError saying what to change for a bad option."""
    scenarios = tuple(dict.fromkeys(scenario_name(s) for s in cfg.scenarios))
    if not scenarios:
        raise ValueError(
            "no scenario given; pass --scenarios with one or more of " + ", ".join(DEFAULT_SCENARIOS)
        )
    if cfg.context < 1 or cfg.horizon < 1:
        raise ValueError(
            f"context ({cfg.context}) and horizon ({cfg.horizon}) must both be >= 1; "
            "pass --context and --horizon of 1 or more"
        )
    if cfg.context + cfg.horizon > PHYSICS_EPISODE_STEPS + 1:
        raise ValueError(
            f"context + horizon = {cfg.context + cfg.horizon} frames do not fit the "
            f"{PHYSICS_EPISODE_STEPS + 1}-frame episodes; lower --horizon or --context"
        )
    if cfg.seeds < 1 or cfg.first_seed < 0:
        raise ValueError(
            f"seeds ({cfg.seeds}) must be >= 1 and first_seed ({cfg.first_seed}) >= 0; "
            "pass --seeds of 1 or more and --first-seed of 0 or more"
        )
    unknown = [b for b in cfg.baselines if b not in (*BASELINES, "one-step", "none")]
    if unknown:
        raise ValueError(f"unknown baseline(s) {unknown}; choose from {[*BASELINES, 'one-step']} or none")
    if "one-step" in cfg.baselines and cfg.predictions:
        raise ValueError(
            "the one-step baseline runs the model itself; with --predictions drop it from --baselines"
        )
    return scenarios


def check_config(cfg: Config) -> Config:
    """``cfg`` checked again, scenario names normalised (``Config`` does both when it is built, so this
    only matters for an instance changed behind the dataclass's back)."""
    return replace(cfg)


def _nanmean(x, axis=None):
    """Mean ignoring NaN, NaN (without a warning) where there is nothing to average."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(np.asarray(x, np.float64), axis=axis)


def pixel_metrics(pred: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame PSNR (capped at ``PSNR_CAP_DB``) and SSIM of uint8 ``(T, H, W, 3)`` videos."""
    import torch

    from cosmos_sim.eval.metrics import psnr, ssim

    p, g = (
        torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255 for x in (pred, truth)
    )  # float32: 3x faster
    return np.minimum(psnr(p, g).double().numpy(), PSNR_CAP_DB), ssim(p, g).double().numpy()


def score_episode(
    pred: np.ndarray, gt: GTEpisode, context: int, extractor, gt_features: np.ndarray | None = None
) -> dict[str, Any]:
    """Every metric of one predicted episode: per-frame arrays, per-episode numbers, per-object arrays.

    ``gt_features``: the extractor's features of the GT frames predicted, when already computed.
    """

    from cosmos_sim.eval import physics_metrics as pm

    h = len(pred)
    sl = slice(context, context + h)
    truth = gt.frames[sl]
    if pred.shape != truth.shape or pred.dtype != np.uint8:
        raise ValueError(f"prediction is {pred.dtype} {pred.shape}, expected uint8 {truth.shape}")
    psnr_db, ssim_ = pixel_metrics(pred, truth)
    ref = pm.colour_reference(gt.frames[:context], gt.segs[:context], gt.labels, gt.objects)
    om = pm.object_metrics(pred, gt.segs[sl], gt.depths[sl], gt.intrinsics[sl], gt.extrinsics[sl], ref)
    ceiling = pm.object_metrics(truth, gt.segs[sl], gt.depths[sl], gt.intrinsics[sl], gt.extrinsics[sl], ref)
    iq = pm.physics_iq_metrics(pred, truth, gt.frames[context - 1])
    nan = np.full(h, np.nan)

    def per_object(d: dict[str, np.ndarray]) -> np.ndarray:
        return _nanmean(np.stack([d.get(o, nan) for o in gt.objects]), axis=0)

    return {
        "per_frame": {
            "psnr_db": psnr_db,
            "ssim": ssim_,
            "object_iou": per_object(om.iou),
            "centroid_err_px": per_object(om.centroid_px),
            "centroid_err_m": per_object(om.centroid_m),
            "spatiotemporal_iou": iq["spatiotemporal_iou_per_frame"],
            "mse": pm.mse_per_frame(pred, truth),
            "feature_cos": pm.feature_similarity(pred, truth, extractor, gt_features),
            "object_iou_ceiling": per_object(ceiling.iou),
        },
        "episode": {k: iq[k] for k in ("spatial_iou", "weighted_spatial_iou")},
        "objects": {
            o: {
                "object_iou": om.iou.get(o, nan),
                "centroid_err_px": om.centroid_px.get(o, nan),
                "centroid_err_m": om.centroid_m.get(o, nan),
            }
            for o in gt.objects
        },
    }


def _clean(x):
    """JSON-able copy: arrays to lists, NaN/inf to None, floats rounded to 6 significant digits."""
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple | np.ndarray):
        return (
            [_clean(v) for v in np.asarray(x).tolist()]
            if isinstance(x, np.ndarray)
            else [_clean(v) for v in x]
        )
    if isinstance(x, float | np.floating):
        return None if not math.isfinite(float(x)) else float(f"{float(x):.6g}")
    if isinstance(x, np.integer):
        return int(x)
    return x


def aggregate(scores: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    """One (predictor, scenario) part from its episodes' scores: per-frame means, means, per object."""
    per_frame = {
        k: _nanmean(np.stack([s["per_frame"][k] for s in scores]), axis=0) for k in scores[0]["per_frame"]
    }
    means = {k: float(_nanmean(v)) for k, v in per_frame.items()}
    means |= {k: float(_nanmean([s["episode"][k] for s in scores])) for k in scores[0]["episode"]}
    objects = {
        o: {
            k: float(_nanmean(np.stack([s["objects"][o][k] for s in scores])))
            for k in scores[0]["objects"][o]
        }
        for o in scores[0]["objects"]
    }
    return _clean(
        {
            "per_frame": per_frame,
            "means": means,
            "objects": objects,
            "episodes": len(scores),
            "seconds": seconds,
        }
    )


def part_key(identity: dict[str, str], scenario: str, cfg: Config) -> str:
    """Hash of everything that changes a (predictor, scenario) part."""
    spec = {
        "identity": identity,
        "scenario": scenario,
        "context": cfg.context,
        "horizon": cfg.horizon,
        "seeds": cfg.seeds,
        "first_seed": cfg.first_seed,
        "features": cfg.features,
        "version": PART_VERSION,
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def _label(name: str) -> str:
    """A predictor's name as a figure-name suffix: ``copy-last`` -> ``copy_last``."""
    return "".join(c if c.isalnum() else "_" for c in Path(name).name).strip("_").lower()


def _write_json(path: Path, data: dict) -> None:
    """Write through a temporary file: an interrupted run never leaves a half-written part."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, path)


def _write_seed_part(path: Path, head: dict, per_seed: list[dict], seeds: list[int], t0: float) -> None:
    """A 3D-consistency part: ``head`` (who), the mean of every figure over seeds, the per-seed figures."""
    means = {k: float(_nanmean([f[k] for f in per_seed])) for k in per_seed[0]}
    part = {**head, "means": means, "per_seed": per_seed, "seeds": seeds, "seconds": time.perf_counter() - t0}
    _write_json(path, _clean(part))


def per_frame_plot(curves: dict[str, dict[str, list]], path: Path, title: str) -> None:
    """PSNR, SSIM and object IoU against the predicted frame, one line per predictor, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    panels = (("psnr_db", "PSNR (dB)"), ("ssim", "SSIM"), ("object_iou", "object IoU"))
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), dpi=100)
    for ax, (key, ylabel) in zip(axes, panels, strict=True):
        for label, c in curves.items():
            y = np.array([np.nan if v is None else v for v in c[key]], float)
            ax.plot(np.arange(1, len(y) + 1), y, marker="o", ms=2.5, label=label)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("predicted frame")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def evaluate(
    config: Config | None = None,
    out_dir: str | os.PathLike = "benchmarks",
    quick: bool = False,
    write: bool = True,
) -> BenchResult:
    """Run the physics benchmark (resuming finished parts in ``out_dir``); see the module docstring.

    Args:
        config: options (default ``Config()``).
        out_dir: where results, pictures and ``physics_parts/`` go.
        quick: at most 2 seeds per scenario.
        write: also write ``physics.json`` / ``physics.md`` (``run_benchmark`` writes them itself).
    """
    from tqdm.auto import tqdm

    from cosmos_sim.eval.physics_metrics import load_feature_extractor
    from cosmos_sim.eval.predictors import Episode, WorldModelPredictor, make_predictor, predictor_identity

    cfg = check_config(config or Config())
    if cfg.export:
        return export_result(cfg, Path(out_dir))
    files = predictions_predictor(cfg.predictions) if cfg.predictions else None
    if files is not None:  # the manifest says which episodes were exported
        cfg = replace(cfg, **predictions_config(files.manifest))
    if quick:
        cfg = Config(**{**asdict(cfg), "seeds": min(cfg.seeds, 2)})
    out = Path(out_dir)
    parts_dir = out / PARTS_DIR
    parts_dir.mkdir(parents=True, exist_ok=True)
    model = f"predictions:{cfg.predictions}" if files is not None else cfg.model
    baselines = [ONE_STEP + model if b == "one-step" else b for b in cfg.baselines if b != "none"]
    names = list(dict.fromkeys([model, *baselines]))
    options = {model: cfg.model_options} if cfg.model_options else {}
    predictors = {
        n: files if n == model and files else make_predictor(n, device=cfg.device, options=options.get(n, ""))
        for n in names
    }
    identities = {n: files.identity() if n == model and files else predictor_identity(n) for n in names}
    if cfg.change_gain is not None:  # the same weights, another gain: other predictions
        for n in names:
            p = getattr(predictors[n], "inner", predictors[n])  # a one-step predictor's model too
            wm = p.model if isinstance(p, WorldModelPredictor) else None
            if wm is not None:
                wm.config = replace(wm.config, change_gain=cfg.change_gain)
                identities[n] = {**identities[n], "change_gain": cfg.change_gain}
            elif n == model:
                raise ValueError(f"--change-gain is for cosmos-sim world models; {model!r} is not one")
    if options:  # settings change a diffusers model's videos, so they are part of its results' key
        identities[model] = {**identities[model], "options": cfg.model_options}
    extractor = load_feature_extractor(cfg.features)
    seeds = list(range(cfg.first_seed, cfg.first_seed + cfg.seeds))
    frames = cfg.context + cfg.horizon
    display = {n: predictors[n].name for n in names}  # a model by its directory's name
    paths = {
        (n, s): parts_dir / f"{_label(display[n])}__{s}__{part_key(identities[n], s, cfg)}.json"
        for s in cfg.scenarios
        for n in names
    }
    parts: dict[tuple[str, str], dict] = {}
    todo = [k for k, p in paths.items() if not p.is_file()]
    bar = tqdm(total=len(paths), desc="bench physics", unit="part", initial=len(paths) - len(todo))
    for s in cfg.scenarios:
        missing = [n for n in names if (n, s) in todo]
        gts = [gt_episode(s, seed, frames) for seed in seeds] if missing else []
        gt_feats = [extractor(gt.frames[cfg.context : frames]) for gt in gts]  # shared by every predictor
        for n in missing:
            bar.set_postfix_str(f"{display[n]} / {s}")
            t0 = time.perf_counter()
            scores, video = [], None
            for gt, feats in zip(gts, gt_feats, strict=True):
                ep = Episode(gt.frames[: cfg.context], env_id=gt.env_id, seed=gt.seed)
                pred = predictors[n].predict(ep, cfg.horizon, seed=gt.seed)
                scores.append(score_episode(pred, gt, cfg.context, extractor, feats))
                video = (gt.frames[cfg.context : frames], pred) if video is None else video
            if cfg.video and n == model and video is not None:
                _write_gif(out / f"physics_{s}.gif", *video)
            part = {
                "predictor": display[n],
                "source": n,
                "scenario": s,
                "identity": identities[n],
                "config": asdict(cfg),
                "seeds": seeds,
                **aggregate(scores, time.perf_counter() - t0),
            }
            _write_json(paths[(n, s)], part)
            bar.update(1)
    bar.close()
    for k, p in paths.items():
        parts[k] = json.loads(p.read_text())
    result = summarise(cfg, names, parts, seeds, display)
    if cfg.consistency:
        rows3d = consistency_rows(cfg, names, predictors, identities, display, seeds, parts_dir)
        result.rows += rows3d
        if cfg.depth_estimator:
            rows_rec = reconstruction_rows(cfg, names, predictors, identities, display, seeds, parts_dir)
            result.rows += rows_rec
            for r in rows_rec:
                for k in ("fscore", "object_fscore", "chamfer_m"):
                    if r.get(k) is not None and math.isfinite(r[k]):
                        name = f"reconstruction_{k}_{_label(r['predictor'])}_{r['depth']}"
                        result.figures[name] = float(r[k])
            result.notes += (
                f" Reconstruction rows: the CameraOrbit frames after the context (64x64) TSDF-fused (open3d, voxel "
                f"1 cm, truncation 4 cm) with the known poses and depth from GT or {cfg.depth_estimator} "
                "(world_models/estimators.py), against the true surface those poses see: F-score at 2 cm, Chamfer "
                "(m); object F: the objects' true surface against reconstructed points 3 cm above the floor (the floor, most "
                "of the surface, stays the floor in a frozen view). GT frames + estimated depth is the floor of every "
                "predictor's row."
            )
        for r in rows3d:
            for k in ("sampson_error_px", "f_inlier_ratio", "pose_success_rate", "psnr_db"):
                if r.get(k) is not None and math.isfinite(r[k]):
                    result.figures[f"consistency_{k}_{_label(r['predictor'])}"] = float(r[k])
        result.notes += (
            " 3D consistency: CameraOrbit (static objects on a checker floor, camera circling 2-4 deg "
            "per step), the predicted frames after the context scored by cosmos_sim/consistency3d.py "
            "(SIFT on 4x-upsampled frames, RANSAC F: mean Sampson error of its inliers in pixels and "
            "the inlier ratio; MAGSAC++ essential matrix with the known K, success = rotation within "
            "1.5 deg and translation direction within 20 deg of the GT relative pose); row GT scores "
            "the simulator's own frames. The Cosmos paper reports Sampson error 0.355 and pose success "
            "62.6 % on real-estate videos: different scenes and resolution."
        )
    per_frame_plot(
        {display[n]: _overall_curves([parts[(n, s)] for s in cfg.scenarios]) for n in names},
        out / "physics_per_frame.png",
        f"mean over {len(cfg.scenarios)} scenarios x {cfg.seeds} held-out seeds, context {cfg.context}",
    )
    if write:
        result.command = f"python: cosmos_sim.bench.physics.evaluate({cfg!r}, {str(out)!r}, quick={quick})"
        write_result(result, out)
    return result


def export_result(cfg: Config, out: Path) -> BenchResult:
    """``--export DIR``: the run's held-out clips, GT masks and manifest (``cosmos_sim/eval/physics_io.py``)."""
    from cosmos_sim.eval.physics_io import export_clips

    seeds = list(range(cfg.first_seed, cfg.first_seed + cfg.seeds))
    extra = [s for s in STATIC_SCENARIOS if cfg.consistency and s not in cfg.scenarios]
    manifest = export_clips(cfg.export, cfg.scenarios, seeds, cfg.context, cfg.horizon, extra_scenarios=extra)
    n = len(manifest["episodes"])
    return BenchResult(
        name="physics",
        figures={"exported_episodes": float(n)},
        rows=[{"case": "Export", "scenario": s, "episodes": len(seeds)} for s in (*cfg.scenarios, *extra)],
        notes=f"Exported {n} held-out episodes ({cfg.context} context frames, {cfg.horizon} to predict) to "
        f"{cfg.export}; {manifest['predictions']}.",
    )


def predictions_predictor(directory: str):
    """``--predictions DIR``: the videos of an export as a predictor (a ConfigError when some are missing)."""
    from cosmos_sim.eval.physics_io import FilePredictor

    return FilePredictor(Path(directory)).check_complete()


def predictions_config(manifest: dict) -> dict[str, Any]:
    """The ``Config`` fields an export's manifest fixes: scenarios, context, horizon, seeds, 3D consistency."""
    seeds = manifest["seeds"]
    return {
        "scenarios": tuple(manifest["scenarios"]),
        "context": int(manifest["context"]),
        "horizon": int(manifest["horizon"]),
        "seeds": len(seeds),
        "first_seed": int(seeds[0]),
        "consistency": any(s in manifest.get("extra_scenarios", []) for s in STATIC_SCENARIOS),
    }


def consistency_rows(
    cfg: Config,
    names: list[str],
    predictors: dict,
    identities: dict,
    display: dict[str, str],
    seeds: list[int],
    parts_dir: Path,
    scenario: str = "CameraOrbit",
) -> list[dict[str, Any]]:
    """3D-consistency rows (GT first, then each predictor), each a resumable part; see the module docstring."""

    from cosmos_sim.eval.consistency3d import consistency_3d
    from cosmos_sim.eval.predictors import Episode

    frames = cfg.context + cfg.horizon
    gts: list[GTEpisode] = []
    rows = []
    for n in ["gt", *names]:
        ident = {"predictor": "gt"} if n == "gt" else identities[n]
        label = "GT" if n == "gt" else display[n]
        path = parts_dir / f"3d_{_label(label)}__{part_key(ident, scenario, cfg)}.json"
        if not path.is_file():
            gts = gts or [gt_episode(scenario, seed, frames) for seed in seeds]
            t0, per_seed = time.perf_counter(), []
            for gt in gts:
                truth = gt.frames[cfg.context : frames]
                pred = (
                    truth
                    if n == "gt"
                    else predictors[n].predict(
                        Episode(gt.frames[: cfg.context], env_id=gt.env_id, seed=gt.seed),
                        cfg.horizon,
                        seed=gt.seed,
                    )
                )
                figs = consistency_3d(
                    pred, gt.intrinsics[cfg.context], gt.extrinsics[cfg.context : frames]
                ).figures()
                psnr_db, ssim_ = pixel_metrics(pred, truth)
                figs["psnr_db"], figs["ssim"] = float(psnr_db.mean()), float(ssim_.mean())
                per_seed.append(figs)
            _write_seed_part(path, {"predictor": label}, per_seed, seeds, t0)
        part = json.loads(path.read_text())
        rows.append(
            {
                "case": "3D consistency (CameraOrbit, predicted frames)",
                "predictor": label,
                **{
                    k: part["means"].get(k)
                    for k in (
                        "sampson_error_px",
                        "f_inlier_ratio",
                        "pose_success_rate",
                        "matches_mean",
                        "psnr_db",
                        "ssim",
                    )
                },
            }
        )
    return rows


RECONSTRUCTION_METRICS = (
    "fscore",
    "object_fscore",
    "precision",
    "recall",
    "chamfer_m",
    "accuracy_m",
    "completeness_m",
)


def reconstruction_rows(
    cfg: Config,
    names: list[str],
    predictors: dict,
    identities: dict,
    display: dict[str, str],
    seeds: list[int],
    parts_dir: Path,
) -> list[dict[str, Any]]:
    """3D consistency by reconstruction (``cosmos_sim/eval/reconstruction.py``): each predictor's CameraOrbit
    frames after the context TSDF-fused with the known poses and ``cfg.depth_estimator``'s depth, against
    the true surface those poses see; above them the GT frames with GT depth (the TSDF floor) and with
    estimated depth (the estimator's floor). One resumable part per row."""
    from cosmos_sim.eval.reconstruction import (
        ReconstructionConfig,
        capture_orbit,
        object_fscore,
        predicted_orbit,
        reconstruct_orbit,
    )
    from cosmos_sim.world_models.estimators import DepthEstimator
    from cosmos_sim.world_models.wfm import file_sha

    estimator = DepthEstimator.from_pretrained(cfg.depth_estimator, device="cpu")
    est_dir = DepthEstimator.resolve_pretrained(cfg.depth_estimator)
    est_id = {"estimator": str(est_dir.resolve()), "sha": file_sha(est_dir / "model.safetensors")}
    rcfg = ReconstructionConfig()
    captures: list = []
    rows = []
    for n, depth in [("gt", "gt"), ("gt", "estimated"), *((n, "estimated") for n in names)]:
        ident = {"predictor": "gt"} if n == "gt" else identities[n]
        ident = {**ident, "depth": depth, **(est_id if depth == "estimated" else {})}
        label = "GT" if n == "gt" else display[n]
        path = parts_dir / f"rec_{_label(label)}_{depth}__{part_key(ident, 'CameraOrbit', cfg)}.json"
        if not path.is_file():
            captures = captures or [
                capture_orbit(seed, cfg.context + cfg.horizon, 64, rcfg, first=cfg.context) for seed in seeds
            ]
            t0, per_seed = time.perf_counter(), []
            for cap in captures:
                video = None if n == "gt" else predicted_orbit(predictors[n], cap)
                fn = None if depth == "gt" else estimator.predict
                res = reconstruct_orbit(cap, frames=video, depth_fn=fn, config=rcfg)
                per_seed.append(res.figures | {"object_fscore": object_fscore(res, cap.labels)})
            _write_seed_part(
                path, {"predictor": label, "depth": depth, "identity": ident}, per_seed, seeds, t0
            )
        part = json.loads(path.read_text())
        rows.append(
            {
                "case": "3D consistency by reconstruction (CameraOrbit, predicted frames, TSDF with known poses)",
                "predictor": label,
                "depth": depth,
                **{k: part["means"].get(k) for k in RECONSTRUCTION_METRICS},
            }
        )
    return rows


def _write_gif(path: Path, truth: np.ndarray, pred: np.ndarray) -> None:
    import imageio.v3 as iio3

    from cosmos_sim.data.pictures import side_by_side

    iio3.imwrite(path, side_by_side(truth, pred), extension=".gif", duration=150, loop=0)


def _overall_curves(parts: list[dict]) -> dict[str, list]:
    """Per-frame curves averaged over scenarios."""
    keys = parts[0]["per_frame"]
    return {
        k: _clean(
            _nanmean(
                np.array([[np.nan if v is None else v for v in p["per_frame"][k]] for p in parts], float),
                axis=0,
            )
        )
        for k in keys
    }


def summarise(
    cfg: Config,
    names: list[str],
    parts: dict[tuple[str, str], dict],
    seeds: list[int],
    display: dict[str, str],
) -> BenchResult:
    """Figures, table rows and notes from the finished parts (``display``: predictor -> label in tables)."""
    figures: dict[str, float] = {}
    rows: list[dict[str, Any]] = []

    def put(name: str, value) -> None:
        if value is not None and math.isfinite(value):
            figures[name] = float(value)

    def row(case: str, n: str, means: dict, **extra) -> dict:
        kind = "baseline" if n in BASELINES else "one-step" if n.startswith(ONE_STEP) else "model"
        return {
            "case": case,
            "predictor": display[n],
            "kind": kind,
            **extra,
            **{k: means.get(k) for k in METRICS},
        }

    overall_rows = []
    for n in names:
        per_s = [parts[(n, s)]["means"] for s in cfg.scenarios]
        overall = {
            k: _clean(_nanmean([m.get(k) if m.get(k) is not None else np.nan for m in per_s]))
            for k in (*METRICS, "object_iou_ceiling")
        }
        note = "= copy-last: 1-frame context, no flow" if n == "flow" and cfg.context == 1 else ""
        overall_rows.append(
            row("Overall (mean over scenarios)", n, overall) | ({"note": note} if note else {})
        )
        for k in METRICS:
            put(f"{k}_{_label(display[n])}", overall[k])
        for s in cfg.scenarios:
            m = parts[(n, s)]["means"]
            rows.append(row("Per scenario", n, m, scenario=s))
            for k in METRICS:
                put(f"{k}_{_label(display[n])}_{s}", m.get(k))
            for obj, om in parts[(n, s)]["objects"].items():
                rows.append(
                    {"case": "Per object", "predictor": display[n], "scenario": s, "object": obj, **om}
                )
    for s in cfg.scenarios:
        put(f"object_iou_ceiling_{s}", parts[(names[0], s)]["means"].get("object_iou_ceiling"))
    put(
        "object_iou_ceiling",
        _nanmean([figures.get(f"object_iou_ceiling_{s}", np.nan) for s in cfg.scenarios]),
    )
    put("seconds_total", sum(parts[k]["seconds"] for k in parts))
    rows = overall_rows + rows
    flow_note = (
        " With a 1-frame context flow has no motion to measure: it equals copy-last."
        if cfg.context == 1
        else ""
    )
    notes = (
        f"Context {cfg.context} GT frame(s), {cfg.horizon} predicted frames, held-out seeds {seeds[0]}..{seeds[-1]} "
        f"per scenario ({', '.join(cfg.scenarios)}); scenario rows average frames and seeds, overall rows average "
        "scenarios. Baselines: copy-last holds the last context frame; flow extrapolates Farneback optical flow at "
        "constant velocity; physical-variance re-simulates the seed with masses, frictions and restitutions "
        "perturbed by +-5 % (how far a second take of the same event lands); one-step: the model predicting "
        f"each frame from the true frames before it (its error without drift).{flow_note} "
        "Object IoU segments predicted frames by colour (reference colours measured on the GT context; "
        "cosmos_sim/physics_metrics.py); object_iou_ceiling = that segmentation of the GT frames themselves "
        f"({figures.get('object_iou_ceiling', float('nan')):.3f} overall). PSNR per frame capped at {PSNR_CAP_DB:g} dB. "
        "Motion IoUs and MSE follow Physics-IQ with consecutive-frame motion masks (see physics_metrics). "
        f"Features: {cfg.features}. The Cosmos paper reports PSNR 21.06, SSIM 0.69, object IoU 0.592 for "
        "Cosmos-1.0-Diffusion-7B-Video2World with 9 frames on its own PhysX scenes, not these: compare with care. "
        "Pictures: physics_per_frame.png, physics_<Scenario>.gif (GT | prediction | |error| x3, first seed)."
    )
    return BenchResult(name="physics", figures=figures, rows=rows, notes=notes)


def run(config: Config, out_dir: str, quick: bool = False) -> BenchResult:
    """``cosmos-sim bench physics``: ``evaluate`` (``run_benchmark`` writes the JSON and markdown)."""
    return evaluate(config, out_dir, quick=quick, write=False)


__all__ = [
    "Config",
    "DEFAULT_SCENARIOS",
    "aggregate",
    "check_config",
    "consistency_rows",
    "evaluate",
    "export_result",
    "part_key",
    "per_frame_plot",
    "predictions_config",
    "predictions_predictor",
    "reconstruction_rows",
    "run",
    "score_episode",
    "scenario_name",
    "summarise",
]
