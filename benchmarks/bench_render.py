"""Print what drawing the live views costs per frame (ms) on this machine.

    nice -n 10 python benchmarks/bench_render.py [--frames 60] [--sizes 640x480 1280x720]
        [--display-level mid|coarse|full] [--per-pixel] [--msaa N]

What the app's display thread does for each result (`stdformer.render.views.LiveViews.render`,
the GL renderer the display thread makes): the default body at the live views' display level
(`mid`, 1,723 vertices), new vertex positions every frame (the body breathes and sways, as a
tracked person does), drawn in the 3D view (grid + body, framed as live) and as the overlay
layer (the app's default: at most 640 px on its long side). For each size WxH the source frame
and the 3D view are both WxH (a 3D panel as large as the frame: an upper bound for the app's
window). Printed per size: median wall ms of the 3D view, the overlay and their sum (the
status bar's "render + overlay"), and process CPU ms per frame including llvmpipe's threads.
Then frames with nobody in view: the empty 3D view is drawn once, then reused.
`--per-pixel` lights per pixel as exports do (the app lights per vertex). The GL platform is
the one `stdformer.render.gl_platform` picks (set PYOPENGL_PLATFORM to compare EGL and OSMesa),
llvmpipe drawing in the calling thread as in the app (`rasterize_inline`; set LP_NUM_THREADS
to compare its rasterizer threads).
The CPU is printed first: numbers differ 2x between machines of one kind.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from types import MappingProxyType

import _bootstrap  # noqa: F401
import numpy as np
from bench_fit import machine

from stdformer.body.body_model import load_body_model
from stdformer.render.display_mesh import DisplayLod
from stdformer.render.gl_platform import gl_platform, rasterize_inline
from stdformer.render.renderer import OffscreenRenderer, yup_from_opencv
from stdformer.render.views import LiveViews, ViewControl
from stdformer.session.core import SessionCounters, SessionResult
from stdformer.types import Frame, MeshResult

DISTANCE_M = 2.6  # a standing person filling ~80 % of the frame's height


def results(width: int, height: int, frames: int, level: str) -> list[SessionResult]:
    """`frames` results of a standing default body seen by a (width, height) camera, moving."""
    body = load_body_model()
    lod = None if level == "full" else DisplayLod.for_body(body.v_template, body.faces, level)
    f = 0.9 * width
    K = np.array([[f, 0, (width - 1) / 2], [0, f, (height - 1) / 2], [0, 0, 1]], np.float32)
    centre = np.float32([0.0, 0.2, DISTANCE_M])  # OpenCV axes: the pelvis a bit below centre
    rest_cam, joints_cam = yup_from_opencv(body.v_template), yup_from_opencv(body.rest_joints)
    image = np.full((height, width, 3), 110, np.uint8)
    out = []
    for i in range(frames):
        a = 0.05 * np.sin(i * 0.3)  # sway (rad) and breathing: every vertex moves every frame
        turn = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
        scale = np.float32([1.0 + 0.01 * np.sin(i * 0.7), 1.0, 1.0])
        verts = (rest_cam * scale @ turn.T + centre).astype(np.float32)  # (V, 3)
        joints = (joints_cam @ turn.T + centre).astype(np.float32)  # (24, 3)
        frame = Frame(image, t_ns=i * 33_333_333, index=i)
        mesh = MeshResult(verts, joints, K, np.zeros(4, np.float32), frame.t_ns, i)
        out.append(
            SessionResult(
                frame, None, (mesh,), mesh, 1.0, "tracking", np.asarray(body.faces),
                MappingProxyType({}), 0.0, SessionCounters(i + 1, i + 1, i + 1, 0, 30.0, 30.0),
                16, 16, display_lod=lod,
            )
        )  # fmt: skip
    return out


def bench_size(args: argparse.Namespace, width: int, height: int) -> dict[str, float]:
    todo = results(width, height, args.frames + 1, args.display_level)
    renderer = OffscreenRenderer(width, height, args.msaa, vertex_lit=not args.per_pixel)
    views = LiveViews(renderer)
    control = ViewControl()
    try:
        views.render(todo[0], control, (width, height))  # warm-up: shaders, buffers
        view_ms, overlay_ms = [], []
        cpu0 = time.process_time()
        for result in todo[1:]:
            timings = views.render(result, control, (width, height)).timings_ms
            view_ms.append(timings["render"])
            overlay_ms.append(timings["overlay"])
        cpu_ms = (time.process_time() - cpu0) * 1e3 / args.frames
        t0 = time.perf_counter()
        for _ in range(args.frames):  # nobody in view: the empty view is drawn once
            views.render(None, control, (width, height))
        nobody_ms = (time.perf_counter() - t0) * 1e3 / args.frames
    finally:
        renderer.close()
    view, overlay = statistics.median(view_ms), statistics.median(overlay_ms)
    sums = [v + o for v, o in zip(view_ms, overlay_ms, strict=True)]
    return {
        "view": view,
        "overlay": overlay,
        "sum": statistics.median(sums),
        "cpu": cpu_ms,
        "nobody": nobody_ms,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--sizes", nargs="+", default=["640x480", "1280x720"])
    parser.add_argument("--display-level", choices=("mid", "coarse", "full"), default="mid")
    parser.add_argument("--per-pixel", action="store_true", help="light per pixel (exports)")
    parser.add_argument("--msaa", type=int, default=0, help="MSAA samples (0 = live default)")
    args = parser.parse_args()
    rasterize_inline(os.environ)  # as the app does (main.py), unless LP_NUM_THREADS is set

    lighting = "per pixel" if args.per_pixel else "per vertex (app)"
    print(machine())
    print(
        f"GL platform {gl_platform()}, display level {args.display_level}, "
        f"lighting {lighting}, MSAA {args.msaa}, medians of {args.frames} frames"
    )
    print(f"{'frame = 3D view':16s} {'3D view':>8s} {'overlay':>8s} {'sum':>8s} {'CPU':>8s}"
          f" {'nobody':>8s}  (ms per frame)")  # fmt: skip
    for size in args.sizes:
        width, height = (int(x) for x in size.lower().split("x"))
        r = bench_size(args, width, height)
        print(
            f"{size:16s} {r['view']:8.1f} {r['overlay']:8.1f} {r['sum']:8.1f} {r['cpu']:8.1f}"
            f" {r['nobody']:8.2f}"
        )
    print("sum: 3D view + overlay (the status bar's render + overlay); CPU: the process's CPU")
    print("time per frame incl. llvmpipe's threads; nobody: a frame with nobody in view.")


if __name__ == "__main__":
    main()
