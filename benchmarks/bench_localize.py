"""Benchmark person localization (MediaPipe VIDEO mode, 640x480) and video-source read speed.

Input: the embedded sample clip if it exists, else a synthetic clip made from the test photo
(tests/data/astronaut.png sliding and bobbing over a grey 640x480 background).

    python benchmarks/bench_localize.py              # 150 frames, three localizer settings
    python benchmarks/bench_localize.py --frames 300 --pose-model pose_landmarker_heavy.task

Prints median and p90 milliseconds per frame and the fraction of frames with a person.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import _bootstrap  # noqa: F401
import cv2
import numpy as np

from stdformer.detect.localize import LocalizerConfig, PersonLocalizer
from stdformer.paths import REPO_ROOT, MissingFileError, resolve_file
from stdformer.session.sources import open_source
from stdformer.types import Frame

SIZE_WH = (640, 480)


def synthetic_clip(path: Path, n: int, fps: float = 30.0) -> Path:
    """Write an MJPG clip of the astronaut photo moving over a grey background."""
    photo = cv2.imread(str(REPO_ROOT / "tests" / "data" / "astronaut.png"), cv2.IMREAD_COLOR)
    if photo is None:
        raise SystemExit("tests/data/astronaut.png is missing; cannot make a synthetic clip")
    person = cv2.resize(photo, (360, 360), interpolation=cv2.INTER_AREA)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, SIZE_WH)
    for i in range(n):
        frame = np.full((SIZE_WH[1], SIZE_WH[0], 3), 110, np.uint8)
        x = int(140 + 120 * math.sin(2 * math.pi * i / 90))
        y = int(100 + 15 * math.sin(2 * math.pi * i / 30))
        frame[y : y + 360, x : x + 360] = person
        writer.write(frame)
    writer.release()
    return path


def read_frames(path: Path, n: int) -> tuple[list[Frame], float]:
    """First n frames (looping if shorter) resized to 640x480, and the source's read rate."""
    frames = []
    with open_source(path, loop=True) as src:
        t0 = time.perf_counter()
        for _ in range(n):
            frames.append(src.read())
        read_fps = n / (time.perf_counter() - t0)
    resized = [
        Frame(cv2.resize(f.image_bgr, SIZE_WH, interpolation=cv2.INTER_AREA), f.t_ns, f.index)
        if f.size_wh != SIZE_WH
        else f
        for f in frames
    ]
    return resized, read_fps


def bench(frames: list[Frame], config: LocalizerConfig, warmup: int = 10) -> dict[str, float]:
    import mediapipe  # noqa: F401  (import time is not model load time)

    t_create = time.perf_counter()
    with PersonLocalizer(config) as loc:
        create_ms = (time.perf_counter() - t_create) * 1e3
        times, found, single = [], 0, 0
        for i, frame in enumerate(frames):
            t0 = time.perf_counter()
            obs = loc.process(frame)
            if i >= warmup:
                times.append((time.perf_counter() - t0) * 1e3)
                found += obs is not None
                single += loc.mode == "single"
    ms = np.array(times)
    return {
        "median": float(np.median(ms)),
        "p90": float(np.percentile(ms, 90)),
        "found": found / len(ms),
        "single": single / len(ms),
        "create": create_ms,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--pose-model", default=None, help="a .task file (default: embedded)")
    ap.add_argument("--segmentation", action="store_true")
    ap.add_argument(
        "--input", type=Path, help="a video file (default: sample clip, else synthetic)"
    )
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        if args.input is not None:
            path, label = args.input, str(args.input)
        else:
            try:
                path, label = resolve_file("sample_clip"), "embedded sample clip"
            except MissingFileError:
                path = synthetic_clip(Path(tmp) / "synthetic.avi", args.frames)
                label = "synthetic clip from tests/data/astronaut.png"
        frames, read_fps = read_frames(path, args.frames)

    print(f"input: {label}, {len(frames)} frames at {SIZE_WH[0]}x{SIZE_WH[1]}")
    print(f"source read (decode, no pacing): {read_fps:.0f} fps")
    settings = {
        "default (max_people=2, one-pose tracking while alone)": {},
        "max_people=1": {"max_people": 1},
        "max_people=2, always multi-pose (recheck_every=0)": {"recheck_every": 0},
    }
    for name, overrides in settings.items():
        cfg = LocalizerConfig(
            pose_model=args.pose_model, segmentation=args.segmentation, **overrides
        )
        r = bench(frames, cfg)
        print(
            f"localize VIDEO mode, {name}: median {r['median']:.1f} ms, "
            f"p90 {r['p90']:.1f} ms, person in {100 * r['found']:.0f}% of frames, "
            f"one-pose tracking in {100 * r['single']:.0f}% "
            f"(model load {r['create']:.0f} ms)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
