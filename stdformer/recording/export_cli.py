"""`python main.py export REC --format FORMAT [--out PATH]`: convert a recording (formats: the
table in `stdformer.recording.export`).

Exit codes: 0 written, 2 bad input (no recording, output exists, no mesh frames), 1 failure
while writing (disk, renderer). Errors are one `error:` line that says what to do.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

from stdformer.paths import BadFileError, MissingFileError
from stdformer.recording.export import (
    EXPORT_FORMATS,
    ExportOptions,
    check_output,
    default_output,
    export_length,
    export_recording,
    format_table,
    get_format,
)
from stdformer.recording.format import RecordingError
from stdformer.recording.reader import open_recording
from stdformer.render.gl_platform import RenderError

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="main.py export",
        description="Export a recording (a *.strec folder). Nothing existing is overwritten.",
        epilog="formats:\n" + format_table(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("recording", metavar="REC", help="recording folder (*.strec)")
    p.add_argument(
        "--format", required=True, metavar="FORMAT", help=f"one of {', '.join(EXPORT_FORMATS)}"
    )
    p.add_argument(
        "--out", metavar="PATH", help="output file, or a new folder (obj, ply); default: beside REC"
    )
    p.add_argument("--first", type=int, metavar="N", help="first source frame index to export")
    p.add_argument("--last", type=int, metavar="N", help="last source frame index to export")
    p.add_argument(
        "--no-normals", action="store_true", help="glb: no normal deltas (half the size)"
    )
    p.add_argument("--units", choices=("m", "cm"), default="m", help="bvh: skeleton units")
    p.add_argument(
        "--euler", choices=("ZXY", "XYZ"), default="ZXY", help="bvh: rotation channel order"
    )
    p.add_argument(
        "--body-model",
        metavar="PATH",
        help="the body model file the recording was made with, when not the default body",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging, native log lines")
    return p


def run_export(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    get_format(args.format)  # an unknown format is refused before the recording is read
    rec = open_recording(args.recording, args.body_model)
    if not rec.complete:
        print(f"note: {rec.path} was not closed cleanly; exporting its {len(rec)} readable frames")
    out = check_output(args.format, args.out or default_output(rec, args.format))
    total = export_length(rec, args.format, args.first, args.last)
    options = ExportOptions(normals=not args.no_normals, units=args.units, euler=args.euler)
    t0 = time.perf_counter()
    with tqdm(total=total, unit="frame", desc=f"export {args.format}", disable=args.quiet) as bar:
        path = export_recording(rec, args.format, out, args.first, args.last, options, bar.update)
    print(f"wrote {path} ({total} steps in {time.perf_counter() - t0:.1f} s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("OpenGL").setLevel(logging.WARNING)
    try:
        return run_export(args)
    except (RecordingError, MissingFileError, BadFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (OSError, RenderError) as exc:
        print(f"error: export failed: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
