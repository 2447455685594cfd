"""`python main.py process VIDEO --out DIR`: run the live session on a file, record every frame.

The same `Session` as the app (localizer -> predictor, every frame, none dropped: batch mode),
with a `Recorder` subscribed; a progress bar follows the frames; at the end it prints the speed
as a multiple of real time (processing only: model loading is excluded) and runs the requested
exports beside the recording. VIDEO may be a video file or a folder of images (read at 30 fps).
With several people in view, `--follow X Y` picks whom to follow (the app's click).
Exit codes: 0 done, 2 bad input (missing file, unreadable video, an output that exists or cannot
be written: every input and output is checked before any frame is processed), 1 the run failed
(the recording so far stays readable).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from stdformer.paths import BadFileError, MissingFileError
from stdformer.recording.export import (
    FORMATS,
    check_output,
    default_output,
    export_recording,
    get_format,
)
from stdformer.recording.export_mesh import check_writable_folder
from stdformer.recording.format import RecordingError
from stdformer.recording.reader import open_recording
from stdformer.recording.recorder import Recorder, recording_info
from stdformer.recording.writer import describe_os_error, recording_dir_names
from stdformer.session.core import (
    PROCESS_NETWORK_LOOKAHEAD,
    PROCESS_SMOOTHING,
    PROCESS_SMOOTHING_LAG_S,
    PickSubject,
    SessionConfig,
    SessionResult,
)
from stdformer.session.options import (
    add_pipeline_args,
    add_smoothing_args,
    pipeline_config_from_args,
    smoothing_from_args,
)
from stdformer.session.session import Session, SessionEvent
from stdformer.session.sources import ImageFolderSource, SourceError, VideoFileSource, open_source

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="main.py process",
        description="Reconstruct the body in every frame of a video file or image folder and "
        "write a recording (a new *.strec folder in --out), optionally exported.",
    )
    p.add_argument("video", metavar="VIDEO", help="video file or folder of images")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the recording")
    p.add_argument(
        "--export", nargs="+", default=[], choices=FORMATS, metavar="FORMAT",
        help=f"also export the recording: {', '.join(FORMATS)} (beside it)",
    )  # fmt: skip
    p.add_argument("--no-source-video", action="store_true", help="do not keep the video frames")
    p.add_argument(
        "--follow", nargs=2, type=float, metavar=("X", "Y"),
        help="follow the person under video pixel (X, Y) in the first second (default: the "
        "largest, most central person), as a click on the video does in the app",
    )  # fmt: skip
    p.add_argument(
        "--follow-at", type=float, default=0.0, metavar="SECONDS",
        help="with --follow: click that many seconds into the video (someone who comes in later)",
    )  # fmt: skip
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging, native log lines")
    add_pipeline_args(p, PROCESS_NETWORK_LOOKAHEAD, lookahead=0)  # its smoothing has a lag
    return add_smoothing_args(p, PROCESS_SMOOTHING, PROCESS_SMOOTHING_LAG_S)


def _probe(video: str) -> tuple[float, int | None, str]:
    """(fps, frame count if known, description) of the input; SourceError when unreadable."""
    path = Path(video).expanduser()
    if not path.exists():
        raise SourceError(f"{path}: no such video file or image folder")
    with open_source(str(path)) as src:
        if isinstance(src, ImageFolderSource):
            return src.fps, len(src.files), f"image folder {path}"
        count = src.frame_count if isinstance(src, VideoFileSource) else None
        return src.fps, count if count and count > 0 else None, f"file {path}"


def check_outputs(out: str, stem: str, formats: list[str]) -> None:
    """Every place `process` will write, checked before any work (RecordingError otherwise):
    the --out folder is created (or exists) and is writable, and no export beside the new
    recording (`<stem>[-N].<format>`, N as the recorder will pick it) exists yet."""
    folder = Path(out).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RecordingError(describe_os_error(exc, f"creating the --out folder {folder}")) from exc
    check_writable_folder(folder)
    recording = next(p for p in recording_dir_names(folder, stem) if not p.exists())
    for fmt in formats:  # exports go beside the recording (default_output)
        check_output(fmt, recording.with_name(recording.stem + get_format(fmt).suffix))


def run_process(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    fps, count, description = _probe(args.video)
    check_outputs(args.out, Path(args.video).stem, args.export)
    pipeline = pipeline_config_from_args(args)
    smoothing = smoothing_from_args(args)
    info = recording_info(pipeline, description, fps, frames_in_source=count)
    ready: list[float] = []  # when models are loaded and the source is open

    def on_event(event: SessionEvent) -> None:
        if event.kind == "ready":
            ready.append(time.perf_counter())
        elif event.kind in ("failed", "subscriber_failed"):
            log.error("%s", event.message)
            session.stop()  # the recording cannot go on: do not process the rest for nothing

    config = SessionConfig(source=args.video, loop=False, pipeline=pipeline, batch=True,
                           **smoothing)  # fmt: skip
    session = Session(config, on_event=on_event)
    if args.follow is not None:
        session.send(PickSubject(*args.follow, at_s=args.follow_at))
    elsewhere = [0]  # frames with someone in view but not the followed person

    def count_elsewhere(result: SessionResult) -> None:
        elsewhere[0] += result.observation is None and result.people_in_view > 0

    session.subscribe(count_elsewhere, name="others in view", every_frame=True)
    recorder = Recorder(args.out, info, record_source=not args.no_source_video,
                        stem=Path(args.video).stem)  # fmt: skip
    recorder.attach(session)
    bar = tqdm(total=count, unit="frame", desc="process", disable=args.quiet)
    session.subscribe(lambda r: bar.update(r.counters.frames_seen - bar.n), name="progress")
    posed_legs = [0]  # meshes whose legs were out of view and given the chosen pose

    def count_posed_legs(result: SessionResult) -> None:
        posed_legs[0] += sum(1 for m in result.meshes if m.hidden_legs)

    session.subscribe(count_posed_legs, name="hidden legs", every_frame=True)
    session.start()
    try:
        while not session.join(timeout=0.2):
            pass
    except KeyboardInterrupt:
        print("\ninterrupted: closing the recording", file=sys.stderr)
        session.stop()
        session.join()
    took = time.perf_counter() - ready[0] if ready else 0.0
    bar.close()
    status = recorder.status()
    if session.error or status.error:
        print(f"error: {session.error or status.error}", file=sys.stderr)
        if status.path is not None:
            print(f"the {status.frames} frames processed so far are in {status.path}")
        return 1
    if status.path is None:
        print("error: no frame was processed", file=sys.stderr)
        return 1
    if recorder.dropped:
        print(
            f"error: the recorder fell behind and lost {recorder.dropped} frames", file=sys.stderr
        )
        return 1
    seen = session.stats.frames_seen
    speed = seen / took if took > 0 else float("nan")
    print(f"processed {seen} frames in {took:.1f} s: {speed:.1f} fps = {speed / fps:.2f}x real "
          f"time ({fps:g} fps source); {session.mesh_status}")  # fmt: skip
    medians = session.stats.summary().get("median_ms", {})
    stages = ", ".join(f"{k} {v:.1f}" for k, v in medians.items() if k in ("localize", "mesh"))
    if stages:
        print(f"median ms per frame: {stages}")
    print(f"recording: {status.path} ({status.frames} frames, {status.bytes_written / 1e6:.1f} MB)")
    rec = open_recording(status.path)
    meshes = int(rec.has_mesh.sum())
    print(f"body mesh in {meshes} of {len(rec)} frames ({100 * meshes / max(len(rec), 1):.0f} %)")
    if elsewhere[0]:  # people in view the take does not have: say whom --follow would take
        print(
            f"the followed person was out of view in {elsewhere[0]} frames with someone else in "
            "view: --follow X Y --follow-at SECONDS follows the person at that pixel and time"
        )
    if posed_legs[0]:  # a guess the user can correct: say so
        legs = pipeline.hidden_legs
        other = "standing" if legs == "seated" else "seated"
        print(f"legs out of view in {posed_legs[0]} of {meshes} meshes: shown {legs} "
              f"(--hidden-legs {other} to show them {other})")  # fmt: skip
    for fmt in args.export:
        out = check_output(fmt, default_output(rec, fmt))
        with tqdm(total=len(rec), unit="frame", desc=f"export {fmt}", disable=args.quiet) as b:
            print(f"exported {export_recording(rec, fmt, out, progress=b.update)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.follow_at < 0 or (args.follow_at and args.follow is None):
        parser.error("--follow-at SECONDS (not negative) goes with --follow X Y")
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("OpenGL").setLevel(logging.WARNING)
    try:
        return run_process(args)
    except (SourceError, MissingFileError, BadFileError, RecordingError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
