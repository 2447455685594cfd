"""Render and detect the training / held-out corpus (see `stdformer.data.corpus`).

    python tools/make_corpus.py --split train --count 240 --workers 2
    python tools/make_corpus.py --split heldout --count 48 --workers 2

Clips go to `$STDFORMER_CACHE_DIR/corpus/<split>/clip_<seed>.npz` (default
`~/.cache/stdformer`); existing clips are kept, so an interrupted run resumes where it stopped.
Photographic backgrounds come from `--photos DIR` (default: `~/.cache/stdformer/backgrounds`,
filled from Debian's opencv-doc sample images that show no people: `apt-get download
opencv-doc && dpkg -x opencv-doc_*.deb out/`, then copy e.g. aero1.jpg, baboon.jpg,
building.jpg, fruits.jpg, home.jpg, leuvenA.jpg, starry_night.jpg...); without photos the
photo backgrounds fall back to textured ones. ~55 ms per frame per worker on this CPU.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import time
from pathlib import Path

import _bootstrap  # noqa: F401

from stdformer.body.mesh_levels import default_cache_dir
from stdformer.data.corpus import HELD_OUT_SEED0


def corpus_dir(split: str) -> Path:
    return default_cache_dir() / "corpus" / split


def _worker(split: str, seeds: list[int], photos: list[str], verbose: bool) -> None:
    import logging

    logging.basicConfig(level=logging.WARNING)
    from stdformer.body.body_model import load_body_model
    from stdformer.data.corpus import make_clip, render_clip, save_clip
    from stdformer.detect.localize import LocalizerConfig, PersonLocalizer
    from stdformer.render.renderer import OffscreenRenderer

    body = load_body_model()
    out = corpus_dir(split)
    with (
        OffscreenRenderer(640, 480) as renderer,
        PersonLocalizer(LocalizerConfig(max_people=1)) as localizer,
    ):
        for seed in seeds:
            path = out / f"clip_{seed:07d}.npz"
            if path.exists():
                continue
            t0 = time.perf_counter()
            clip, _ = render_clip(
                make_clip(body, seed), body, renderer, localizer, [Path(p) for p in photos]
            )
            save_clip(clip, path)
            if verbose:
                dt = time.perf_counter() - t0
                print(
                    f"{path.name} {clip.activity:14s} {clip.framing:11s} {clip.background:8s} "
                    f"detected {clip.detected.mean():.2f} {dt:.1f}s",
                    flush=True,
                )


def main(argv: list[str] | None = None) -> int:
    from stdformer.data.appearance import photo_split

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--split", choices=("train", "heldout"), required=True)
    p.add_argument("--count", type=int, required=True, help="clips in the split")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--photos", type=Path, default=default_cache_dir() / "backgrounds")
    p.add_argument("-q", "--quiet", action="store_true")
    args = p.parse_args(argv)
    all_photos = sorted(args.photos.glob("*")) if args.photos.is_dir() else []
    photos = [str(x) for x in photo_split(all_photos, held_out=args.split == "heldout")]
    seed0 = HELD_OUT_SEED0 if args.split == "heldout" else 0
    seeds = list(range(seed0, seed0 + args.count))
    print(
        f"{args.split}: {args.count} clips -> {corpus_dir(args.split)} "
        f"({len(photos)} photos, {args.workers} workers)",
        flush=True,
    )
    t0 = time.time()
    ctx = mp.get_context("spawn")  # GL contexts and MediaPipe graphs do not survive fork
    procs = [
        ctx.Process(
            target=_worker, args=(args.split, seeds[k :: args.workers], photos, not args.quiet)
        )
        for k in range(args.workers)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
    print(f"done in {time.time() - t0:.0f} s", flush=True)
    return max((proc.exitcode or 0) for proc in procs)


if __name__ == "__main__":
    sys.exit(main())
