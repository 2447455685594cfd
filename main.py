"""STDFormer live: 3D human motion capture from one webcam.

Usage:
  python main.py                      open the app (first working camera, else the sample clip)
  python main.py --source sample      the embedded sample clip
  python main.py --source 1           camera index 1
  python main.py --source clip.mp4    a video file (or a folder of images)

Headless commands (each has its own --help):
  python main.py train ...            train the embedded network
  python main.py evaluate ...         metrics on held-out renders or any video
  python main.py process VIDEO ...    every frame of a video -> a recording (+ exports)
  python main.py export REC ...       a recording to obj/ply/glb/mp4/npz
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

# Only light modules here: main() starts the GL platform probe (a child process) before torch,
# MediaPipe and OpenCV are imported, so it runs on another core while they load.
from stdformer.native_logs import NativeLogFilter, native_logs_hidden
from stdformer.paths import BadFileError, MissingFileError, resolve_file, resolve_optional_file

if TYPE_CHECKING:
    from app.config import AppConfig
    from stdformer.session.pipeline import MeshStage

log = logging.getLogger("stdformer")
CAMERA_OR_CLIP = ("sample", "auto")  # sources not opened by check_inputs
# Headless sub-commands: name -> module with `main(argv: list[str]) -> int` (imported lazily).
COMMANDS: dict[str, str] = {
    "train": "stdformer.train.cli",
    "evaluate": "stdformer.eval.evaluate_cli",
    "process": "stdformer.recording.process_cli",
    "export": "stdformer.recording.export_cli",
}
QUIET_COMMANDS = ("process", "export", "evaluate")  # native log lines hidden unless -v


def _vmc_target(text: str) -> str:
    from stdformer.recording.vmc import parse_target

    try:
        host, port = parse_target(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return f"{host}:{port}"


def build_parser() -> argparse.ArgumentParser:
    from stdformer.session.options import add_pipeline_args, positive_float

    p = argparse.ArgumentParser(
        prog="main.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--source", help="camera INDEX, video FILE, image FOLDER, or 'sample'")
    p.add_argument(
        "--no-loop", action="store_true", help="stop at the end of a video file instead of looping"
    )
    add_pipeline_args(p)
    p.add_argument(
        "--quit-after",
        type=positive_float,
        metavar="SECONDS",
        help="close the app after this long (sooner at the end of a --no-loop file or on an "
        "error, then with exit code 1)",
    )
    p.add_argument("--stats-json", metavar="PATH", help="write run statistics here on exit")
    p.add_argument(
        "--vmc",
        nargs="?",
        const="127.0.0.1:39539",
        metavar="HOST:PORT",
        type=_vmc_target,
        help="stream the body to an avatar app in the VMC protocol (OSC/UDP); without a value "
        "127.0.0.1:39539; default off (the window's VMC switch is kept between runs)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return p


def config_from_args(args: argparse.Namespace) -> AppConfig:
    from app.config import AppConfig
    from stdformer.session.options import pipeline_config_from_args

    return AppConfig(
        source=args.source,
        loop=not args.no_loop,
        pipeline=pipeline_config_from_args(args),
        quit_after_s=args.quit_after,
        stats_json=args.stats_json,
        vmc=args.vmc,
    )


def check_inputs(config: AppConfig) -> MeshStage | None:
    """Fail before any window opens: the pose model is a .task bundle, a file/folder source
    opens and has a frame, --stats-json can be written, and every named file (weights, body
    model, mesh levels) is fully loaded and checked against the others (a few seconds).

    Returns the loaded mesh stage (None without weights): the first run uses it as it is.
    Raises MissingFileError, BadFileError or SourceError with the message for the user.
    """
    from stdformer.body.levels import MeshLevels
    from stdformer.detect.localize import validate_task_file
    from stdformer.session.pipeline import load_mesh_stage
    from stdformer.session.sources import HINT as SOURCE_HINT
    from stdformer.session.sources import SourceError, open_source

    pipe = config.pipeline
    validate_task_file(resolve_file("pose_model", pipe.localizer.pose_model))
    spec = (config.source or "").strip()
    if spec and not spec.isdigit() and spec.lower() not in CAMERA_OR_CLIP:
        try:
            open_source(spec).close()  # a camera index is not probed here: opening one is slow
        except SourceError as exc:
            raise SourceError(f"{exc} {SOURCE_HINT}") from exc
    if config.stats_json and not Path(config.stats_json).expanduser().parent.is_dir():
        raise MissingFileError(
            f"--stats-json {config.stats_json}: folder {Path(config.stats_json).parent} does not "
            "exist. Create it or write the statistics elsewhere."
        )
    resolve_file("body_model", pipe.body_model)
    levels = resolve_optional_file("mesh_levels", pipe.mesh_levels)
    stage = load_mesh_stage(pipe)
    if stage is None and levels is not None:
        MeshLevels.load(levels)  # named without weights: still read it
    return stage


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in COMMANDS:
        import importlib

        # MediaPipe/TFLite/FFmpeg print native log lines on stderr; -v keeps them.
        verbose = argv[0] not in QUIET_COMMANDS or bool({"-v", "--verbose"} & set(argv[1:]))
        with native_logs_hidden(verbose):
            return int(importlib.import_module(COMMANDS[argv[0]]).main(argv[1:]))
    if not {"-h", "--help"} & set(argv):
        from stdformer.render.gl_platform import prefetch_gl_platform, rasterize_inline

        rasterize_inline(os.environ)  # the live views' small frames: no rasterizer threads
        prefetch_gl_platform()  # the 3D view's GL probe runs while the models load
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("OpenGL").setLevel(logging.WARNING)  # "no OpenGL_accelerate" is not news
    log.debug("arguments parsed")  # start-up milestone (benchmarks/bench_startup.py)
    config = config_from_args(args)
    from stdformer.session.sources import SourceError

    try:
        with native_logs_hidden(args.verbose):  # e.g. FFmpeg's line before a bad --source's error
            stage = check_inputs(config)
    except (MissingFileError, BadFileError, SourceError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    log.debug("inputs checked")
    if not any(os.environ.get(v) for v in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")):
        # Without a display Qt would abort the process; render offscreen instead.
        log.warning("No display found: running with QT_QPA_PLATFORM=offscreen (no window).")
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    # Before Qt loads: PyQt6 must use its own plugins (cv2 pointed Qt at its bundled Qt5 ones),
    # and a missing system library becomes one apt-get line instead of Qt's abort (exit 134).
    from app.prerequisites import neutralise_opencv_qt_env, qt_prerequisite_problem

    neutralise_opencv_qt_env(os.environ)
    problem = qt_prerequisite_problem(os.environ)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    if not args.verbose:  # MediaPipe/TFLite print native log lines on stderr; -v keeps them
        import atexit

        atexit.register(NativeLogFilter().start().stop)
    from app.application import run_app  # Qt is imported only for the GUI

    return run_app(config, stage)


if __name__ == "__main__":
    sys.exit(main())
