"""Export a recording as an mp4 of the rendered body mesh.

Over the source video when the recording kept it (the mesh projected with each frame's K, as
the live overlay), otherwise in the 3D view on the ground grid from a fixed camera that frames
the whole take. The video runs at the recording's fps in real time: each recorded frame is placed
by its capture time (`t_ns`) and held until the next one, so frames the live app dropped on a
busy machine are filled by repeats instead of shortening the video (frames without a mesh show
the source or the empty grid).
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from stdformer.recording.export_mesh import (
    Progress,
    check_new_file,
    frame_slots,
    mesh_positions,
)
from stdformer.recording.format import RecordingError
from stdformer.recording.reader import Recording
from stdformer.render.geometry import frame_box
from stdformer.render.renderer import OffscreenRenderer, OrbitCamera, yup_from_opencv

DEFAULT_SIZE_WH = (640, 480)  # grid view size when no source video was recorded


def take_view(
    rec: Recording, pos: np.ndarray, size_wh: tuple[int, int]
) -> tuple[OrbitCamera, float]:
    """A fixed 3D-view camera that sees the body in every exported frame, and the floor height.

    Frames the box around up to 32 frames' vertices (a walk across the room stays in view) with
    the live view's framing (`frame_box`: from the front and slightly above, tight on height and
    width); the grid lies under the take's lowest point, fixed, so it does not jump.
    """
    sample = pos[np.linspace(0, len(pos) - 1, min(len(pos), 32)).astype(int)]
    pts = yup_from_opencv(np.asarray(rec.vertices[sample], np.float64).reshape(-1, 3))
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    return frame_box(lo, hi, size_wh), float(lo[1])


def export_mp4(
    rec: Recording, out_path: str | os.PathLike[str], frames: np.ndarray | None = None,
    size_wh: tuple[int, int] | None = None, progress: Progress | None = None,
) -> Path:  # fmt: skip
    """Render `rec` into a new mp4 (mp4v codec) at the recording's fps; returns its path.

    `frames` (positions in the recording) selects a range; by default the recording from its
    first to its last mesh frame. The video lasts as long as the take did (module docstring).
    `size_wh` is the grid view's size (default 640x480); over the source video the output has
    the source's size.
    """
    path = check_new_file(out_path)
    pos = mesh_positions(rec, frames)
    pos = np.arange(int(pos[0]), int(pos[-1]) + 1)  # every frame in between keeps the timing
    slots = frame_slots(rec.t_ns[pos], rec.fps)  # (P,) video frame of each record
    repeats = np.diff(slots, append=slots[-1] + 1)  # (P,) >= 1: held until the next record
    has_mesh = rec.has_mesh
    overlay = rec.has_source_video
    if overlay:
        first = rec.source_image(int(pos[0]))
        if first is None:
            raise RecordingError(f"{rec.path}: the source video of frame {pos[0]} is unreadable")
        size_wh = (first.shape[1], first.shape[0])
    size_wh = size_wh or DEFAULT_SIZE_WH
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), rec.fps, size_wh)
    if not writer.isOpened():
        raise RecordingError(f"cannot write {path}: OpenCV's mp4 writer did not open it")
    renderer = OffscreenRenderer(*size_wh, msaa_samples=4)
    try:
        camera, floor_y = take_view(rec, pos[has_mesh[pos]], size_wh)
        last_image = np.zeros((size_wh[1], size_wh[0], 3), np.uint8)
        for p, repeat in zip(pos, repeats.tolist(), strict=True):
            mesh = has_mesh[p]
            vertices = np.asarray(rec.vertices[p], np.float32) if mesh else None
            if overlay:
                image = rec.source_image(int(p))
                image = last_image if image is None else image  # a frame without its JPEG
                last_image = image
                if mesh:
                    image = renderer.render_overlay_bgr(image, vertices, rec.faces, rec.K[p])
            else:
                world = None if vertices is None else yup_from_opencv(vertices)
                rgb = renderer.render_view_rgb(
                    camera, vertices_world=world, faces=rec.faces if mesh else None, floor_y=floor_y
                )
                image = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
            image = _fit_frame(image, size_wh)
            for _ in range(repeat):
                writer.write(image)
            if progress:
                progress(1)
    finally:
        renderer.close()
        writer.release()
    return path


def _fit_frame(image: np.ndarray, size_wh: tuple[int, int]) -> np.ndarray:  # (H, W, 3) uint8
    """`image` scaled into the video's frame, centred on black: an image folder's pictures
    may differ in size, and the mp4 writer drops a frame of another size without an error."""
    w, h = size_wh
    ih, iw = image.shape[:2]
    if (iw, ih) == (w, h):
        return np.ascontiguousarray(image)
    s = min(w / iw, h / ih)
    nw, nh = max(1, round(iw * s)), max(1, round(ih * s))
    out = np.zeros((h, w, 3), np.uint8)
    x0, y0 = (w - nw) // 2, (h - nh) // 2
    out[y0 : y0 + nh, x0 : x0 + nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
    return out
