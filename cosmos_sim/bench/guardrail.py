"""Guardrail: how often the prompt pre-guard blocks what it should and passes what it should, whether the
video post-guard hides faces and leaves our scenes alone, whether the watermark survives encoding, and
what it all costs per frame on this CPU.

Text: the red-team and benign prompt sets kept in ``cosmos_sim/guardrail/data`` (``guardrail.redteam``),
scored with WordNet lemmas (when WordNet data is installed) and with the suffix-rule fallback; plus
better-profanity's own words (when installed), hidden the same ways, drawn at run time so the repo
holds none of them. Faces: scikit-image's ``astronaut()`` (a face: must be pixelated), ``rocket()``
and the GT scenes' frames (no face: must come back unchanged), and recall on the 100 faces of
``skimage.data.lfw_subset()`` (25x25 crops) scaled to several sizes and pasted onto scene frames (the
subset's 100 non-face crops give the false-positive rate). Watermark: GT scene frames as written
(64x64) and as exported (4x upscaled), and photos panned 4 px a frame, each encoded as MP4 (imageio-ffmpeg's
libx264 at quality 8, what cosmos-sim writes, and at its default 5; PyAV at crf 23) and JPEG q90; share of
frames still detected, of videos detected with all frames' votes pooled, of unmarked frames wrongly
detected, and PSNR of the mark.
"""

from __future__ import annotations

import dataclasses
import io
import random
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from cosmos_sim.bench.common import BenchResult, check_at_least, config_error
from cosmos_sim.guardrail import redteam
from cosmos_sim.guardrail.blocklist import Blocklist, profanity_words, read_list
from cosmos_sim.guardrail.faces import FaceDetector, FacePixelation, blazeface_dir
from cosmos_sim.guardrail.lemmas import Lemmatizer, wordnet_available
from cosmos_sim.guardrail.watermark import Watermarker, detect_frame, detect_video

SCENES = (
    "cosmos_sim/Manipulation-GT-v0",
    "cosmos_sim/Driving-GT-v0",
    "cosmos_sim/Physics-Collision-GT-v0",
    "cosmos_sim/Physics-Bounce-GT-v0",
    "cosmos_sim/Physics-CameraOrbit-GT-v0",
)
PHOTOS = ("astronaut", "rocket", "coffee", "chelsea", "hubble_deep_field", "immunohistochemistry")


@dataclass(frozen=True)
class Config:
    """Options of ``cosmos-sim bench guardrail`` (``--quick``: fewer faces, frames and repetitions)."""

    face_sizes: tuple[int, ...] = (24, 32, 48, 64, 96, 128)
    """Face sizes (pixels) at which recall on the LFW faces is measured."""
    lfw_faces: int = 100
    """LFW faces (and as many non-face crops) per size."""
    scene_frames: int = 12
    """Frames per GT scene (faces must be left alone; the watermark is measured on them)."""
    profanity_words: int = 60
    """better-profanity words hidden and scored (0: skip)."""
    timing_repeats: int = 5
    """Repetitions of each per-frame timing (the median is reported)."""

    def __post_init__(self) -> None:
        check_at_least("guardrail", self, 1, "lfw_faces", "scene_frames", "timing_repeats")
        check_at_least("guardrail", self, 8, "face_sizes")
        if self.profanity_words < 0:
            raise config_error("guardrail", "profanity_words", self.profanity_words, "a count >= 0")


# ---- inputs ------------------------------------------------------------------------------------------
def scene_frames(n: int) -> dict[str, np.ndarray]:
    """``n`` frames of each GT scene under random actions (seed 0), as the envs render them."""
    import gymnasium as gym

    import cosmos_sim  # noqa: F401  (registers the ids)

    out = {}
    for env_id in SCENES:
        env = gym.make(env_id)
        env.reset(seed=0)
        env.action_space.seed(0)
        frames = []
        for _ in range(n):
            env.step(env.action_space.sample())
            frames.append(np.ascontiguousarray(env.render()))
        env.close()
        out[env_id.split("/")[1].removesuffix("-GT-v0")] = np.stack(frames)
    return out


def photo(name: str) -> np.ndarray:
    from skimage import data

    img = getattr(data, name)()
    img = np.repeat(img[..., None], 3, axis=-1) if img.ndim == 2 else img[..., :3]
    h, w = img.shape[:2]
    return np.ascontiguousarray(img[: h // 2 * 2, : w // 2 * 2])  # even sizes for yuv420p


# ---- text --------------------------------------------------------------------------------------------
def _score(bl: Blocklist, prompts: list[dict]) -> tuple[dict[str, list[int]], float]:
    """kind -> [prompts, blocked], and ms per prompt."""
    per: dict[str, list[int]] = {}
    t0 = time.perf_counter()
    for p in prompts:
        counts = per.setdefault(p["kind"], [0, 0])
        counts[0] += 1
        counts[1] += bool(bl.matches(p["prompt"]))
    return per, 1000 * (time.perf_counter() - t0) / max(len(prompts), 1)


def profanity_prompts(n: int) -> list[dict]:
    """``n`` better-profanity words (not allow-listed, single words), each hidden every way."""
    allow = {e for _, e in read_list(redteam.DATA / "profanity_allow.txt")}
    words = [w for w in profanity_words() if " " not in w and w not in allow and w.isalpha()]
    rng = random.Random(redteam.SEED)
    out = []
    for w in rng.sample(words, min(n, len(words))):
        for kind, hide in redteam.OBFUSCATIONS.items():
            hidden = hide(w, rng)
            if hidden is not None and kind != "long-prompt":
                out.append({"prompt": f"a video of {hidden} in the street", "kind": kind, "word": w})
    return out


def measure_text(cfg: Config, rows: list, figures: dict) -> None:
    red, benign = redteam.load(redteam.REDTEAM), redteam.load(redteam.BENIGN)
    rude = profanity_prompts(cfg.profanity_words)
    modes = ["auto", "off"] if wordnet_available() else ["off"]
    for mode in modes:
        bl = Blocklist(Lemmatizer(mode))
        tag = "wordnet" if mode == "auto" else "rules"
        source = bl.lemmatizer.source
        for name, prompts in (
            ("red-team", red),
            ("benign", benign),
            ("profanity", rude),
        ):
            if not prompts:
                continue
            per, ms = _score(bl, prompts)
            n, hit = sum(v[0] for v in per.values()), sum(v[1] for v in per.values())
            rows.append(
                {
                    "case": f"text pre-guard, lemmas: {source}",
                    "set": name,
                    "kind": "all",
                    "prompts": n,
                    "blocked": hit,
                    "rate": hit / n,
                    "ms_per_prompt": ms,
                }
            )
            for kind, (k_n, k_hit) in per.items():
                rows.append(
                    {
                        "case": f"text pre-guard, lemmas: {source}",
                        "set": name,
                        "kind": kind,
                        "prompts": k_n,
                        "blocked": k_hit,
                        "rate": k_hit / k_n,
                    }
                )
            key = {
                "red-team": "block_rate",
                "benign": "false_positive_rate",
                "profanity": "profanity_block_rate",
            }
            figures[f"text_{key[name]}_{tag}"] = hit / n
            if name == "benign":
                figures[f"text_ms_per_prompt_{tag}"] = ms
    best = "wordnet" if "auto" in modes else "rules"
    figures["text_block_rate"] = figures[f"text_block_rate_{best}"]
    figures["text_false_positive_rate"] = figures[f"text_false_positive_rate_{best}"]


# ---- faces -------------------------------------------------------------------------------------------
def _paste(background: np.ndarray, crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = background.copy()
    s = crop.shape[0]
    y, x = rng.integers(0, out.shape[0] - s + 1), rng.integers(0, out.shape[1] - s + 1)
    out[y : y + s, x : x + s] = crop
    return out


def measure_faces(
    cfg: Config, scenes: dict[str, np.ndarray], out_dir: Path, rows: list, figures: dict
) -> None:
    from skimage import data

    lfw = data.lfw_subset()
    faces, non_faces = lfw[: cfg.lfw_faces], lfw[100 : 100 + cfg.lfw_faces]
    background = cv2.resize(scenes["Manipulation"][0], (256, 256), interpolation=cv2.INTER_NEAREST)
    kinds = ["blazeface", "lbp"] if blazeface_dir() is not None else ["lbp"]
    for kind in kinds:
        detector = FaceDetector(kind)
        pix = FacePixelation(detector)
        astro, rocket = photo("astronaut"), photo("rocket")
        astro_out, astro_r = pix.process(astro)
        rocket_out, _ = pix.process(rocket)
        box = astro_r.details["boxes"].get(0, [])
        changed = bool(box) and np.abs(astro_out[0].astype(int) - astro).mean() > 0.5
        scene_all = [f for v in scenes.values() for f in (*v, *v.repeat(4, axis=1).repeat(4, axis=2))]
        same = sum(bool(np.array_equal(pix.process(f)[0][0], f)) for f in scene_all)
        rng = np.random.default_rng(0)
        recall = {}
        for size in cfg.face_sizes:
            found = 0
            for crop in faces:
                rgb = np.repeat(
                    cv2.resize((crop * 255).astype(np.uint8), (size, size), cv2.INTER_CUBIC)[..., None], 3, -1
                )
                found += bool(detector.detect(_paste(background, rgb, rng)))
            recall[size] = found / len(faces)
        false_hits = 0
        for crop in non_faces:
            rgb = np.repeat(
                cv2.resize((crop * 255).astype(np.uint8), (64, 64), cv2.INTER_CUBIC)[..., None], 3, -1
            )
            false_hits += bool(detector.detect(_paste(background, rgb, rng)))
        t = []
        for _ in range(cfg.timing_repeats):
            t0 = time.perf_counter()
            detector.detect(background)
            t.append(time.perf_counter() - t0)
        row = {
            "case": "faces",
            "detector": kind,
            "astronaut_pixelated": int(changed),
            "rocket_unchanged": int(np.array_equal(rocket_out[0], rocket)),
            "scene_frames_unchanged": same / len(scene_all),
            **{f"recall_{s}px": r for s, r in recall.items()},
            "non_face_false_positive_rate": false_hits / len(non_faces),
            "ms_per_256px_frame": 1000 * float(np.median(t)),
        }
        rows.append(row)
        for k, v in row.items():
            if k not in ("case", "detector"):
                figures[f"faces_{kind}_{k}"] = v
        if kind == kinds[0]:
            picture = np.concatenate([astro, astro_out[0]], axis=1)
            cv2.imwrite(
                str(out_dir / "guardrail_faces.png"), cv2.cvtColor(picture[::2, ::2], cv2.COLOR_RGB2BGR)
            )
    lead = kinds[0]
    figures["faces_astronaut_pixelated"] = figures[f"faces_{lead}_astronaut_pixelated"]
    figures["faces_rocket_unchanged"] = figures[f"faces_{lead}_rocket_unchanged"]
    figures["faces_scene_frames_unchanged"] = figures[f"faces_{lead}_scene_frames_unchanged"]


# ---- watermark ---------------------------------------------------------------------------------------
def _mp4_imageio(frames: np.ndarray, quality: int) -> np.ndarray:
    import imageio.v2 as iio2

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "v.mp4"
        iio2.mimwrite(
            path,
            list(frames),
            fps=10,
            codec="libx264",
            pixelformat="yuv420p",
            macro_block_size=1,
            quality=quality,
        )
        return np.stack(iio2.mimread(path, memtest=False))


def _mp4_av(frames: np.ndarray, crf: int = 23) -> np.ndarray:
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as c:
        s = c.add_stream("libx264", rate=10, options={"crf": str(crf), "preset": "medium"})
        s.width, s.height, s.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    buf.seek(0)
    with av.open(buf) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])


def _jpeg(frames: np.ndarray, quality: int = 90) -> np.ndarray:
    out = []
    for f in frames:
        _, enc = cv2.imencode(".jpg", cv2.cvtColor(f, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
        out.append(cv2.cvtColor(cv2.imdecode(enc, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB))
    return np.stack(out)


def _gif(frames: np.ndarray) -> np.ndarray:
    import imageio.v3 as iio3

    data = iio3.imwrite("<bytes>", frames, extension=".gif", duration=100, loop=0)
    return np.asarray(iio3.imread(data, index=None, extension=".gif", mode="RGB"))[..., :3]


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse)) if mse > 0 else float("inf")


def measure_watermark(cfg: Config, scenes: dict[str, np.ndarray], rows: list, figures: dict) -> None:
    videos = {f"{k} {v.shape[2]}x{v.shape[1]}": v for k, v in scenes.items()}
    videos.update({f"{k} x4 (exported)": v.repeat(4, axis=1).repeat(4, axis=2) for k, v in scenes.items()})
    pan = max(2, cfg.scene_frames // 2)  # photos panned 4 px a frame: motion is what H.264 squeezes most
    videos.update(
        {
            f"{name} (photo, pan)": np.stack([np.roll(photo(name), 4 * i, axis=1) for i in range(pan)])
            for name in PHOTOS
        }
    )
    marker = Watermarker()
    attacks = {
        "none": lambda v: v,
        "mp4 imageio q8 (as written)": lambda v: _mp4_imageio(v, 8),
        "mp4 imageio q5": lambda v: _mp4_imageio(v, 5),
        "mp4 pyav crf23": _mp4_av,
        "jpeg q90": _jpeg,
        "gif": _gif,
    }
    totals = {a + g: [0, 0] for a in attacks for g in ("", "64")}  # "64": frames under 128 px, as stored
    pooled = {a: [0, 0] for a in attacks}  # videos, videos detected with all frames' votes pooled
    clean = [0, 0]
    psnrs = []
    for name, video in videos.items():
        marked, _ = marker.process(video)
        psnrs += [_psnr(a, b) for a, b in zip(video, marked, strict=True)]
        clean[0] += len(video)
        clean[1] += sum(detect_frame(f).detected for f in video)
        row = {
            "case": "watermark",
            "video": name,
            "frames": len(video),
            "psnr_db": float(np.mean(psnrs[-len(video) :])),
        }
        for attack, fn in attacks.items():
            attacked = fn(marked)  # (a GIF writer merges equal frames: count what comes back)
            found = detect_video(attacked)
            got = sum(d.detected for d in found.frames)
            group = "64" if min(video.shape[1:3]) < 128 and attack != "none" else ""
            totals[attack + group][0] += len(attacked)
            totals[attack + group][1] += got
            row[f"detected_{attack.split(' (')[0].replace(' ', '_')}"] = got / len(attacked)
            if not group:
                pooled[attack][0] += 1
                pooled[attack][1] += found.detected
        rows.append(row)
    rate = {a: got / max(n, 1) for a, (n, got) in totals.items()}
    figures["watermark_detect_rate_raw"] = rate["none"]
    figures["watermark_detect_rate_mp4"] = rate["mp4 imageio q8 (as written)"]
    figures["watermark_detect_rate_mp4_imageio_q5"] = rate["mp4 imageio q5"]
    figures["watermark_detect_rate_mp4_pyav_crf23"] = rate["mp4 pyav crf23"]
    for attack in ("mp4 imageio q5", "mp4 pyav crf23"):
        key = attack.replace("mp4 ", "").replace(" ", "_")
        figures[f"watermark_video_detect_rate_pooled_{key}"] = pooled[attack][1] / max(pooled[attack][0], 1)
    figures["watermark_detect_rate_jpeg90"] = rate["jpeg q90"]
    figures["watermark_detect_rate_gif"] = rate["gif"]
    figures["watermark_detect_rate_mp4_64px"] = rate["mp4 imageio q8 (as written)64"]
    figures["watermark_detect_rate_jpeg90_64px"] = rate["jpeg q9064"]
    figures["watermark_false_detect_rate"] = clean[1] / clean[0]
    figures["watermark_psnr_db"] = float(np.mean(psnrs))
    figures["watermark_psnr_min_db"] = float(np.min(psnrs))


# ---- overhead ----------------------------------------------------------------------------------------
def measure_overhead(cfg: Config, scenes: dict[str, np.ndarray], rows: list, figures: dict) -> None:
    from cosmos_sim.guardrail import SafetyChecker

    checker = SafetyChecker()
    runner = checker.video_runner
    base = scenes["Manipulation"]
    for side in (64, 256, 512):
        frames = np.stack([cv2.resize(f, (side, side), interpolation=cv2.INTER_NEAREST) for f in base[:4]])
        per: dict[str, list[float]] = {}
        for _ in range(cfg.timing_repeats):
            report = runner.run(frames)
            for r in report.results:
                per.setdefault(r.name, []).append(1000 * r.seconds / len(frames))
        ms = {k: float(np.median(v)) for k, v in per.items()}
        total = sum(ms.values())
        rows.append(
            {
                "case": "overhead per frame (ms)",
                "frame": f"{side}x{side}",
                **{k: v for k, v in ms.items()},
                "total": total,
            }
        )
        figures[f"overhead_ms_per_frame_{side}"] = total
    checker.check_text_safety("warm-up")
    t = []
    for _ in range(cfg.timing_repeats):
        t0 = time.perf_counter()
        checker.check_text_safety(redteam.FILLER.format("a robot arm stacks three cubes"))
        t.append(time.perf_counter() - t0)
    figures["text_ms_per_long_prompt"] = 1000 * float(np.median(t))


def run(config: Config, out_dir: str, quick: bool = False) -> BenchResult:
    """Score the text pre-guard, the face post-guard and the watermark; time them. Writes guardrail_faces.png."""
    cfg = config
    if quick:
        cfg = dataclasses.replace(
            cfg,
            lfw_faces=min(cfg.lfw_faces, 12),
            scene_frames=min(cfg.scene_frames, 3),
            profanity_words=min(cfg.profanity_words, 10),
            timing_repeats=min(cfg.timing_repeats, 2),
            face_sizes=cfg.face_sizes[:2],
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    figures: dict[str, float] = {}
    scenes = scene_frames(cfg.scene_frames)
    measure_text(cfg, rows, figures)
    measure_faces(cfg, scenes, out, rows, figures)
    measure_watermark(cfg, scenes, rows, figures)
    measure_overhead(cfg, scenes, rows, figures)
    notes = (
        "Text: the red-team set hides words of the blocklist's own categories (so it measures robustness to "
        "obfuscation, not vocabulary coverage); 'profanity' hides better-profanity words drawn at run time. "
        "Faces: LFW crops (25x25, upscaled) pasted on a 256x256 scene frame; scene frames at 64 px and 4x "
        "upscaled must come back bit-identical. Watermark: 32-bit payload, detected when >= 27 bits match; "
        "the headline 'mp4' figure is imageio-ffmpeg's libx264 at quality 8, what cosmos-sim writes (export, "
        "the guarded writer), over frames of 128+ px (exports are upscaled to 256+, the demo's composites are 192 "
        "px high, photos panned 4 px a frame); imageio's default quality 5 and PyAV at crf 23 are reported per "
        "frame and per video with all frames' votes pooled; 64x64 frames (as stored in datasets, losslessly) "
        "are counted apart (_64px). GIF's 256-colour palette is not a target. "
        "Overhead: the post-guard (faces + watermark) per frame, median of repeats, on this shared CPU."
    )
    return BenchResult(name="guardrail", figures=figures, rows=rows, notes=notes)
