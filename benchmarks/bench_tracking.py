"""Benchmark subject tracking on multi-person scenes: coverage, identity switches, ms/frame.

Scenes come from `tools/tracking_scenes.py`: two people (A = the subject, B = a bystander) cut
out of the embedded sample clip, crossing, leaving and coming back, entering, or small in the
frame. A is picked by a click on the first frame (as a user would), and must stay the subject.

    python benchmarks/bench_tracking.py                  # all scenes, default settings
    python benchmarks/bench_tracking.py --scenes cross --no-redetect
    python benchmarks/bench_tracking.py --video clip.avi # real footage: frames with a subject
    python benchmarks/bench_tracking.py --live-step 4    # frames dropped as a busy live run does

Per scene it prints
- coverage: frames where the output is A / frames where A is fully visible (>= 90 % of its body);
- switches: changes of the followed identity (A <-> B) while A is visible (>= 50 %);
- wrong: frames where the output is B;
- ms/frame: median and p90 of `PersonLocalizer.process`, and how many second looks ran.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import _bootstrap  # noqa: F401
import cv2
import numpy as np

from stdformer.detect.localize import LocalizerConfig, PersonLocalizer
from stdformer.detect.redetect import RedetectConfig
from stdformer.detect.tracking import box_iou
from stdformer.types import Frame
from tools.tracking_scenes import SCENES, SceneFrame, TrackingScenes, live_frames


def identity(bbox_xyxy: np.ndarray, frame: SceneFrame) -> str | None:
    """Which actor an output box belongs to (best IoU with a visible box, at least 0.2)."""
    scores = {
        name: box_iou(bbox_xyxy, box) for name, box in frame.visible_box.items() if box is not None
    }
    best = max(scores, key=scores.get, default=None)
    return best if best is not None and scores[best] >= 0.2 else None


def score_scene(
    frames: list[SceneFrame], config: LocalizerConfig, verbose: bool = False
) -> dict[str, float]:
    times, ids = [], []
    with PersonLocalizer(config) as loc:
        # The user clicks A on the first frame (B may be the one the automatic rule prefers).
        loc.request_subject_at(
            *(0.5 * (frames[0].visible_box["A"][:2] + frames[0].visible_box["A"][2:]))
        )
        for f in frames:
            t0 = time.perf_counter()
            obs = loc.process(Frame(f.image_bgr, f.t_ns, f.index))
            times.append((time.perf_counter() - t0) * 1e3)
            ids.append(None if obs is None else identity(obs.bbox_xyxy, f))
        looks = loc.redetector.looks
    if verbose:
        print("".join("-" if i is None else i for i in ids))
    full = [f.visible_fraction["A"] >= 0.9 for f in frames]
    seen = [f.visible_fraction["A"] >= 0.5 for f in frames]
    covered = sum(1 for i, ok in zip(ids, full, strict=True) if ok and i == "A")
    switches, last = 0, None
    for i, visible in zip(ids, seen, strict=True):
        if i is None:
            continue
        if last is not None and i != last and visible:
            switches += 1
        last = i
    ms = np.array(times[5:] or times)  # the first frames include graph warm-up
    return {
        "frames": len(frames),
        "full": sum(full),
        "coverage": covered / max(sum(full), 1),
        "switches": switches,
        "wrong": sum(i == "B" for i in ids),
        "median_ms": float(np.median(ms)),
        "p90_ms": float(np.percentile(ms, 90)),
        "looks": looks,
    }


def bench_video(path: Path, config: LocalizerConfig, limit: int) -> None:
    """Real footage without ground truth: share of frames with a subject, ms/frame."""
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    found, times = 0, []
    with PersonLocalizer(config) as loc:
        for i in range(limit):
            ok, image = cap.read()
            if not ok:
                break
            t0 = time.perf_counter()
            found += loc.process(Frame(image, round(i * 1e9 / fps), i)) is not None
            times.append((time.perf_counter() - t0) * 1e3)
        looks = loc.redetector.looks
    cap.release()
    n = len(times)
    print(
        f"{path.name}: {n} frames, subject in {100 * found / max(n, 1):.0f}%, "
        f"median {np.median(times):.1f} ms, p90 {np.percentile(times, 90):.1f} ms, "
        f"second looks {looks}"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenes", nargs="*", default=list(SCENES), choices=SCENES)
    ap.add_argument("--no-redetect", action="store_true", help="no crop/tile second looks")
    ap.add_argument("--max-people", type=int, default=2)
    ap.add_argument("--video", type=Path, help="also run on this video (no ground truth)")
    ap.add_argument("--video-frames", type=int, default=300)
    ap.add_argument(
        "--live-step", type=float, default=0.0, metavar="N",
        help="process 1 frame in N on average, irregularly, as a busy live run (0: every frame)",
    )  # fmt: skip
    ap.add_argument("-v", "--verbose", action="store_true", help="print the followed identities")
    args = ap.parse_args(argv)

    config = LocalizerConfig(
        max_people=args.max_people, redetect=RedetectConfig(enabled=not args.no_redetect)
    )
    label = "off" if args.no_redetect else "on"
    drops = f", 1 frame in {args.live_step:g} (live drops)" if args.live_step else ""
    print(f"max_people={args.max_people}, re-detection {label}{drops}")
    if args.scenes:
        t0 = time.perf_counter()
        scenes = TrackingScenes.from_clip()
        print(f"scenes built from the sample clip in {time.perf_counter() - t0:.1f} s")
        totals = {"full": 0, "covered": 0.0, "switches": 0}
        for name in args.scenes:
            frames = list(scenes.render(name))
            if args.live_step:
                frames = [frames[i] for i in live_frames(len(frames), args.live_step)]
            r = score_scene(frames, config, args.verbose)
            totals["full"] += r["full"]
            totals["covered"] += r["coverage"] * r["full"]
            totals["switches"] += r["switches"]
            print(
                f"{name:13s} {r['frames']:4d} frames | coverage {100 * r['coverage']:5.1f}% "
                f"of {r['full']} fully visible | switches {r['switches']} | wrong {r['wrong']} | "
                f"median {r['median_ms']:.1f} ms, p90 {r['p90_ms']:.1f} ms | "
                f"second looks {r['looks']}"
            )
        cov = totals["covered"] / max(totals["full"], 1)
        print(f"all scenes: coverage {100 * cov:.1f}%, identity switches {totals['switches']}")
    if args.video is not None:
        bench_video(args.video, config, args.video_frames)
    return 0


if __name__ == "__main__":
    sys.exit(main())
