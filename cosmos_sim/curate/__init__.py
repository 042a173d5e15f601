"""Video curation: raw videos -> shot-split, filtered, captioned, deduplicated, sharded training clips.

    from cosmos_sim.curate import CurateConfig, curate
    summary = curate("raw_videos/", "curated/", CurateConfig(workers=2))

Stages (one module each): ``split`` (decode, shot detection with ``detect``'s PySceneDetect
detectors, clip rules, H.264 transcode), ``motion``, ``quality``, ``text`` (filters), ``caption``,
``embed`` (embedding + dedup), ``shard``; ``executor`` runs the per-video part on local processes
or Ray; ``pipeline`` ties them together and ``report`` records every clip's fate. ``evaluate``
scores cuts and filter decisions against the labelled real footage in ``benchmarks/curate_real``.
"""

from cosmos_sim.curate.pipeline import CurateConfig, config_from_dict, curate, load_config

__all__ = ["CurateConfig", "config_from_dict", "curate", "load_config"]
