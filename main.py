"""STDFormer live: 3D human motion capture from one webcam.

Usage:
  python main.py                      open the app (first working camera, else the sample clip)
  python main.py --source sample      the embedded sample clip
  python main.py --source 1           camera index 1
  python main.py --source clip.mp4    a video file (or a folder of images)
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from stdformer.config import AppConfig
from stdformer.live.localize import LocalizerConfig
from stdformer.live.pipeline import PipelineConfig
from stdformer.paths import BadFileError, MissingFileError, resolve_file

log = logging.getLogger("stdformer")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="main.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--source", help="camera INDEX, video FILE, image FOLDER, or 'sample'")
    p.add_argument(
        "--no-loop", action="store_true", help="stop at the end of a video file instead of looping"
    )
    p.add_argument(
        "--pose-model", metavar="PATH", help="MediaPipe pose landmarker .task (lite/full/heavy)"
    )
    p.add_argument("--body-model", metavar="PATH", help="SMPL .pkl/.npz (default: embedded body)")
    p.add_argument("--weights", metavar="PATH", help="STDFormer checkpoint (default: shipped)")
    p.add_argument(
        "--mesh-levels",
        metavar="PATH",
        help="mesh levels the weights were trained with (official weights: METRO's)",
    )
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda[:N]")
    p.add_argument(
        "--lookahead",
        type=int,
        default=0,
        metavar="K",
        help="frames of future context for the mesh (smoother, K frames more latency)",
    )
    p.add_argument(
        "--max-people",
        type=int,
        default=2,
        help="people MediaPipe looks for; the main subject is followed (1 is fastest)",
    )
    p.add_argument("--segmentation", action="store_true", help="also compute the person mask")
    p.add_argument(
        "--quit-after", type=float, metavar="SECONDS", help="close the app after this long"
    )
    p.add_argument("--stats-json", metavar="PATH", help="write run statistics here on exit")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return p


def config_from_args(args: argparse.Namespace) -> AppConfig:
    return AppConfig(
        source=args.source,
        loop=not args.no_loop,
        pipeline=PipelineConfig(
            localizer=LocalizerConfig(
                pose_model=args.pose_model,
                max_people=args.max_people,
                segmentation=args.segmentation,
            ),
            body_model=args.body_model,
            weights=args.weights,
            mesh_levels=args.mesh_levels,
            device=args.device,
            lookahead=args.lookahead,
        ),
        quit_after_s=args.quit_after,
        stats_json=args.stats_json,
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    config = config_from_args(args)
    try:  # check the files this run needs before opening any window
        resolve_file("pose_model", config.pipeline.localizer.pose_model)
    except (MissingFileError, BadFileError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not any(os.environ.get(v) for v in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")):
        # Without a display Qt would abort the process; render offscreen instead.
        log.warning("No display found: running with QT_QPA_PLATFORM=offscreen (no window).")
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from app.application import run_app  # Qt is imported only for the GUI

    return run_app(config)


if __name__ == "__main__":
    sys.exit(main())
