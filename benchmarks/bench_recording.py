"""Recording and batch-processing speed: writer cost per frame, export times, `process` speed.

    python benchmarks/bench_recording.py                      # writer + exports (synthetic)
    python benchmarks/bench_recording.py --process --weights W.pt [--video clip.mp4]

Writer: median / p99 / max ms of `RecordingWriter.write` for the default body (13,718 vertices),
record size and MB per minute at 30 fps, for a posed-body recording (the default: the body's
parameters, vertices posed on reading) and one with the vertices stored (`--body raw`).
Exports: seconds for each format of a 10 s take of each.
`--process`: runs `main.py process` on the clip (default: the sample clip, 640x480) without
keeping the video or rendering, and prints its speed as a multiple of real time.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _bootstrap  # noqa: F401
import numpy as np

from stdformer.body.body_model import load_body_model
from stdformer.body.fit import BodyFit, BodyFitter
from stdformer.body.kinematics import matrices
from stdformer.paths import resolve_file
from stdformer.recording import FrameRecord, RecordingInfo, RecordingWriter, open_recording
from stdformer.recording.export import FORMATS, export_recording


def synthetic_take(folder: Path, n_frames: int, store_vertices: bool) -> Path:
    """A take of the default body swaying (moving vertices, so exports do real work), its fitted
    body in every record; with `store_vertices` the vertices too (what `--body raw` records)."""
    body = load_body_model()
    fitter = BodyFitter(body)
    rv = np.zeros((n_frames, 24, 3))
    rv[:, 0, 0] = np.pi  # upright in the OpenCV camera frame (y down)
    rv[:, 3, 0] = 0.3 * np.sin(np.arange(n_frames) / 10)  # the spine sways
    fit = BodyFit(matrices(rv), np.tile([0.0, 0.2, 3.0], (n_frames, 1)), np.zeros(10))
    verts = fitter.vertices(fit)  # (N, V, 3)
    faces = np.asarray(body.faces)
    K = np.array([[640, 0, 320], [0, 640, 240], [0, 0, 1]], np.float32)
    info = RecordingInfo(fps=30.0, source="benchmark", image_size_wh=(640, 480))
    times = []
    with RecordingWriter.create(
        folder, info, faces, body.num_vertices, 24, store_vertices=store_vertices
    ) as writer:
        for i, v in enumerate(verts):
            joints = np.asarray(body.J_regressor, np.float32) @ v
            rec = FrameRecord(
                i, int(i * 1e9 / 30), True, True, v, joints, K, np.zeros(4, np.float32),
                np.zeros((33, 3), np.float32), np.zeros(33, np.float32),
                np.zeros((33, 3), np.float32), body=fit.params(i),
            )  # fmt: skip
            t0 = time.perf_counter()
            writer.write(rec)
            times.append((time.perf_counter() - t0) * 1e3)
    size = writer.dtype.itemsize
    kind = "vertices stored" if store_vertices else "posed body"
    print(
        f"writer ({kind}): {size / 1e3:.1f} kB/frame, "
        f"{size * 30 * 60 / 1e6:.1f} MB/min at 30 fps; write ms median "
        f"{statistics.median(times):.3f} p99 {np.percentile(times, 99):.3f} max {max(times):.3f}"
        " (includes an fdatasync every 0.5 s)"
    )
    return writer.path


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=300, help="synthetic take length (10 s)")
    p.add_argument("--process", action="store_true", help="also time main.py process")
    p.add_argument("--weights", help="checkpoint for --process (default: the shipped one)")
    p.add_argument("--video", help="clip for --process (default: the sample clip)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for stored in (False, True):
            rec = open_recording(synthetic_take(Path(tmp), args.frames, stored))
            kind = "vertices stored" if stored else "posed body"
            for fmt in FORMATS:
                name = f"out_{fmt}_{int(stored)}" + ("" if fmt in ("obj", "ply") else f".{fmt}")
                out = Path(tmp) / name
                t0 = time.perf_counter()
                export_recording(rec, fmt, out)
                took = time.perf_counter() - t0
                size = sum(f.stat().st_size for f in out.iterdir()) if out.is_dir() else 0
                size = size or out.stat().st_size
                print(f"export {fmt} ({kind}): {took:.2f} s for {len(rec)} frames "
                      f"({took / len(rec) * 1e3:.1f} ms/frame), {size / 1e6:.1f} MB")  # fmt: skip
        if args.process:
            video = args.video or str(resolve_file("sample_clip"))
            cmd = [sys.executable, "main.py", "process", video, "--out", tmp, "--no-source-video"]
            cmd += ["-q", "--device", "cpu"] + (["--weights", args.weights] if args.weights else [])
            done = subprocess.run(
                cmd, capture_output=True, text=True, cwd=Path(__file__).parents[1]
            )
            print(done.stdout.strip() or done.stderr.strip().splitlines()[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
