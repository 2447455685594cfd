"""Print offscreen render times (ms per frame) at 640x480 on this machine.

    python benchmarks/bench_render.py [--frames 40]

Cases: the free 3D view and the camera overlay of a body-sized mesh with SMPL's vertex count
(6890 vertices, 13,568 triangles: a closed deformed tube, new vertex positions every frame as
in live use), and the 3D view of a 33-landmark MediaPipe skeleton. The GL platform is the one
`stdformer.render.gl_platform` picks (set PYOPENGL_PLATFORM to compare EGL and OSMesa).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import _bootstrap  # noqa: F401
import numpy as np

from stdformer.render.renderer import OffscreenRenderer, OrbitCamera, yup_from_opencv


def body_like_mesh(rows: int = 65, cols: int = 106) -> tuple[np.ndarray, np.ndarray]:
    """A 1.7 m tall, person-sized tube: rows*cols = 6890 vertices, 2*(rows-1)*cols triangles."""
    h = np.linspace(0.0, 1.7, rows)
    a = np.linspace(0.0, 2.0 * np.pi, cols, endpoint=False)
    hh, aa = np.meshgrid(h, a, indexing="ij")
    radius = 0.12 + 0.06 * np.sin(hh * 3.0) ** 2
    verts = np.stack([radius * np.cos(aa) * 1.4, hh, radius * np.sin(aa)], -1).reshape(-1, 3)
    r, c = np.meshgrid(np.arange(rows - 1), np.arange(cols), indexing="ij")
    i0, i1 = r * cols + c, r * cols + (c + 1) % cols
    i2, i3 = i0 + cols, i1 + cols
    faces = np.concatenate([np.stack([i0, i2, i1], -1), np.stack([i1, i2, i3], -1)]).reshape(-1, 3)
    return verts.astype(np.float32), faces.astype(np.int32)


def time_ms(fn: Callable[[int], object], frames: int) -> tuple[float, float]:
    """(median wall ms, mean process CPU ms incl. llvmpipe's threads) per frame."""
    fn(0)  # warm-up: shader compilation, buffer allocation
    times = []
    cpu0 = time.process_time()
    for i in range(frames):
        t0 = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times), (time.process_time() - cpu0) * 1e3 / frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--msaa", type=int, default=0, help="MSAA samples (0 = live default)")
    args = parser.parse_args()

    verts, faces = body_like_mesh()
    rng = np.random.default_rng(0)
    jitter = rng.normal(scale=0.002, size=(8, *verts.shape)).astype(np.float32)
    landmarks = yup_from_opencv(rng.normal(scale=0.3, size=(33, 3)))
    K = np.array([[600.0, 0.0, 319.5], [0.0, 600.0, 239.5], [0.0, 0.0, 1.0]])
    image = np.full((480, 640, 3), 120, np.uint8)
    verts_cam = verts * np.array([1.0, -1.0, 1.0], np.float32) + np.array([0, 0.85, 3.0])
    cam = OrbitCamera(azimuth_deg=30, elevation_deg=15, distance_m=3.0, target=(0, 0.85, 0))

    t0 = time.perf_counter()
    renderer = OffscreenRenderer(640, 480, msaa_samples=args.msaa)
    init_ms = (time.perf_counter() - t0) * 1e3
    cases = {
        "view, mesh": lambda i: renderer.render_view_rgb(cam, verts + jitter[i % 8], faces),
        "overlay, mesh": lambda i: renderer.render_overlay_bgr(
            image, verts_cam + jitter[i % 8], faces, K
        ),
        "view, skeleton (33 landmarks)": lambda i: renderer.render_view_rgb(
            cam, skeleton_world=landmarks + jitter[i % 8, :33]
        ),
        "view, grid only": lambda i: renderer.render_view_rgb(cam.orbit(i)),
    }
    print(
        f"GL platform: {os.environ.get('PYOPENGL_PLATFORM')}, 640x480, MSAA {args.msaa}, ", end=""
    )
    print(f"mesh {len(verts)} vertices / {len(faces)} faces, median of {args.frames} frames")
    print(f"renderer creation (incl. platform probe, GL context): {init_ms:.0f} ms")
    print(f"{'case':32s} {'wall ms':>8s} {'CPU ms':>8s}  (per frame)")
    for name, fn in cases.items():
        wall, cpu = time_ms(fn, args.frames)
        print(f"{name:32s} {wall:8.1f} {cpu:8.1f}")
    renderer.close()


if __name__ == "__main__":
    main()
