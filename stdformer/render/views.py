"""What the live views draw for a `SessionResult`: the free 3D view and the mesh overlay layer.

Shared by the GUI's render worker and any headless renderer, so both draw the same thing.

3D view frame ("world", Y-up, metres): the body's pelvis (or MediaPipe's hip centre) at the
origin, turned so that the estimated gravity direction points down -Y. The camera is usually
tilted (a webcam looking down at a desk), so camera axes are not gravity-aligned; the body's
trunk direction (pelvis -> neck), averaged over time, is the estimate of "up" (people in front
of a webcam sit or stand upright). The ground grid lies under the lowest point of the body.

Framing: the view aims at the box around the part of the body the input camera actually sees
(mesh vertices that project inside the image, or confident landmarks), framed by
`stdformer.render.geometry.frame_box` (the function playback and video export use too); a
head-and-shoulders webcam view fills the panel instead of sitting as a speck on the horizon.
The box is smoothed over frames. The user's orbit, zoom and pan (`ViewControl`) apply on top
of that framing; `ViewControl()` (reset) returns to it.

Cost: both views draw the lighter mesh of `SessionResult.display_lod` when the session gives
one (see `stdformer.render.display_mesh`), and the overlay layer is drawn at most
`overlay_max_side` pixels on its long side (the GUI scales it onto the letterboxed video).
A view whose inputs (points, triangles, camera, size, floor, opacity) equal the last drawn
ones is not drawn again: the last image is returned (nobody in view, a held mesh's overlay).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from stdformer.detect.pose_topology import POSE_HIPS, POSE_SHOULDERS
from stdformer.render.geometry import VIEW_ELEVATION_DEG, frame_box
from stdformer.render.renderer import OffscreenRenderer, OrbitCamera, yup_from_opencv
from stdformer.session.core import SessionResult

MIN_VISIBILITY = 0.5  # landmarks below this are not used for framing nor drawn
STANDING_HALF_M = np.array([0.3, 0.9, 0.2])  # framed until a body is seen: a standing person
SMPL_PELVIS, SMPL_NECK = 0, 12
MAX_TILT_DEG = 45.0  # gravity corrections beyond this are not believed (person lying down)
# The view's up is the trunk's direction averaged over this much media time (starting from the
# first trunk seen): it takes out the camera's pitch, which stays, but not a lean the person
# holds for a second or two, which the view should show (a 30 deg forward lean held 1 s still
# shows 22 deg; following each frame's trunk, as before, showed it upright within 0.5 s).
GRAVITY_TAU_S = 3.0


@dataclass(frozen=True)
class ViewControl:
    """The user's changes to the automatic framing: orbit angles, zoom factor, pan.

    Pan is in units of the view distance along the view's right/up axes, so a drag moves the
    picture by the same amount at any zoom.
    """

    azimuth_deg: float = 0.0
    elevation_deg: float = VIEW_ELEVATION_DEG
    zoom: float = 1.0  # distance factor, < 1 is closer
    pan_right: float = 0.0
    pan_up: float = 0.0

    def orbit(self, d_azimuth_deg: float, d_elevation_deg: float) -> ViewControl:
        el = float(np.clip(self.elevation_deg + d_elevation_deg, -89.0, 89.0))
        az = (self.azimuth_deg + d_azimuth_deg + 180.0) % 360.0 - 180.0
        return replace(self, azimuth_deg=az, elevation_deg=el)

    def zoomed(self, factor: float) -> ViewControl:
        if factor <= 0:
            raise ValueError(f"zoom factor must be positive, got {factor}")
        return replace(self, zoom=float(np.clip(self.zoom * factor, 0.05, 20.0)))

    def panned(self, d_right: float, d_up: float) -> ViewControl:
        return replace(self, pan_right=self.pan_right + d_right, pan_up=self.pan_up + d_up)


@dataclass(frozen=True)
class RenderedViews:
    """One result drawn: the 3D view and, when asked for, the overlay layer. The images are
    read-only; an image equal to the last one is the same array (not drawn again)."""

    view_rgb: np.ndarray | None  # (H, W, 3) uint8
    # (h, w, 4) uint8 covering the whole frame, at its size or smaller (overlay_max_side); alpha
    # = coverage
    overlay_rgba: np.ndarray | None
    timings_ms: dict[str, float]


def rotation_to_up(up: np.ndarray) -> np.ndarray:
    """(3, 3) smallest rotation taking the unit vector `up` onto +Y (Rodrigues)."""
    u = np.asarray(up, np.float64) / max(float(np.linalg.norm(up)), 1e-12)
    y = np.array([0.0, 1.0, 0.0])
    axis = np.cross(u, y)
    s, c = float(np.linalg.norm(axis)), float(np.dot(u, y))
    if s < 1e-9:
        return np.eye(3) if c > 0 else np.diag([1.0, -1.0, -1.0])
    k = axis / s
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + s * kx + (1 - c) * (kx @ kx)


def overlay_camera(
    K: np.ndarray, size_wh: tuple[int, int], max_side: int | None
) -> tuple[np.ndarray, tuple[int, int]]:
    """(K (3, 3), (w, h)) of the frame's camera scaled so that the long side is <= `max_side`.

    Pixel centres stay where OpenCV puts them: u' + 0.5 = s * (u + 0.5).
    """
    w, h = size_wh
    if max_side is None or max(w, h) <= max_side:
        return np.asarray(K, np.float64), (w, h)
    s = max_side / max(w, h)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    sx, sy = size[0] / w, size[1] / h  # exact per-axis factors after rounding
    k = np.array(K, np.float64)
    k[0, :] *= sx
    k[1, :] *= sy
    k[0, 2] += 0.5 * sx - 0.5
    k[1, 2] += 0.5 * sy - 0.5
    return k, size


class LiveViews:
    """Draws results with one `OffscreenRenderer`; create and use it in one thread (GL).

    `renderer=None` keeps the framing and gravity estimate without drawing (render with
    `view=False, overlay=False`), e.g. to test or to follow along without a GL context.
    """

    def __init__(
        self,
        renderer: OffscreenRenderer | None,
        smoothing: float = 0.2,
        overlay_max_side: int | None = 640,
    ) -> None:
        self.renderer = renderer
        self.overlay_max_side = overlay_max_side  # None: the overlay at the frame's size
        # (result, V, F) of the last result drawn. The result itself is kept, not its id: a freed
        # result's id is reused by the next one, which would then draw the previous mesh.
        self._shown: tuple[SessionResult, np.ndarray, np.ndarray] | None = None
        self._k = smoothing  # per-frame weight of the new framing
        self._up: np.ndarray | None = None  # (3,) world-ish up in Y-up camera axes
        self._up_t_ns: int | None = None  # media time of the last up update
        self._box: tuple[np.ndarray, np.ndarray] | None = None  # (lo (3,), hi (3,)) framed, world
        self._floor: float | None = None
        # Per view ("view", "overlay"): (the renderer's arguments, the image they gave).
        self._drawn: dict[str, tuple[dict[str, Any], np.ndarray]] = {}

    def reset(self) -> None:
        """Forget the framing and gravity estimate (a new source)."""
        self._up = self._box = self._floor = self._up_t_ns = None

    # -- geometry -------------------------------------------------------------------------------
    def _update_up(
        self, trunk_yup: np.ndarray, t_ns: int
    ) -> np.ndarray:  # (3, 3) R_world_from_yupcam
        n = float(np.linalg.norm(trunk_yup))
        if n > 1e-6:
            d = trunk_yup / n
            tilt = math.degrees(math.acos(float(np.clip(d[1], -1.0, 1.0))))
            if tilt <= MAX_TILT_DEG:
                if self._up is None or self._up_t_ns is None:
                    self._up = d
                else:  # a loop back to the file's start (t going back) leaves it as it is
                    dt_s = max(t_ns - self._up_t_ns, 0) * 1e-9
                    a = 1.0 - math.exp(-dt_s / GRAVITY_TAU_S)
                    self._up = (1.0 - a) * self._up + a * d
                self._up_t_ns = t_ns
        return np.eye(3) if self._up is None else rotation_to_up(self._up)

    def shown_mesh(self, result: SessionResult) -> tuple[np.ndarray, np.ndarray] | None:
        """(vertices_cam (V, 3), faces (F, 3)) the views draw for `result`: its display mesh at
        the session's display level (`display_lod`), else in full. None without a mesh."""
        mesh = result.display_mesh
        if mesh is None or result.faces is None:
            return None
        if self._shown is not None and self._shown[0] is result:
            return self._shown[1], self._shown[2]
        lod = result.display_lod
        if lod is None or len(mesh.vertices_cam) != lod.n_full:
            verts, faces = mesh.vertices_cam, result.faces
        else:
            verts, faces = lod.vertices(mesh.vertices_cam), lod.faces
        self._shown = (result, verts, faces)
        return verts, faces

    def world_points(self, result: SessionResult) -> tuple[np.ndarray, np.ndarray, str] | None:
        """(all points (N, 3), visible points (M, 3), kind) in the view's world frame."""
        mesh, obs = result.display_mesh, result.display_observation
        shown = self.shown_mesh(result)
        if mesh is not None and shown is not None:
            vertices_cam = shown[0]
            joints = yup_from_opencv(mesh.joints_cam)  # (J, 3)
            root = joints[SMPL_PELVIS]
            trunk = joints[SMPL_NECK] - root if len(joints) > SMPL_NECK else np.zeros(3)
            r = self._update_up(trunk, result.display_frame.t_ns)
            pts = (yup_from_opencv(vertices_cam) - root) @ r.T  # (V, 3)
            uvw = vertices_cam @ mesh.K.T  # (V, 3)
            z = np.maximum(uvw[:, 2], 1e-6)
            u, v = uvw[:, 0] / z, uvw[:, 1] / z
            w, h = result.display_frame.size_wh
            inside = (u >= 0) & (u < w) & (v >= 0) & (v < h) & (vertices_cam[:, 2] > 0)
            return pts, pts[inside] if inside.sum() >= 20 else pts, "mesh"
        if obs is not None:
            lm = yup_from_opencv(obs.world_landmarks)  # (33, 3), hip-centred already
            trunk = lm[list(POSE_SHOULDERS)].mean(0) - lm[list(POSE_HIPS)].mean(0)
            r = self._update_up(trunk, result.display_frame.t_ns)
            pts = lm @ r.T
            sure = (obs.visibility >= MIN_VISIBILITY) & (obs.presence >= MIN_VISIBILITY)
            return pts, pts[sure] if sure.sum() >= 3 else pts, "skeleton"
        return None

    def _frame(self, visible: np.ndarray, floor: float) -> None:
        lo, hi = visible.min(axis=0), visible.max(axis=0)
        k = self._k
        if self._box is None or self._floor is None:
            self._box, self._floor = (lo, hi), floor
        else:
            self._box = ((1 - k) * self._box[0] + k * lo, (1 - k) * self._box[1] + k * hi)
            self._floor = (1 - k) * self._floor + k * floor

    def camera(self, control: ViewControl, size_wh: tuple[int, int]) -> OrbitCamera:
        """The orbit camera for the current framing with the user's changes applied."""
        lo, hi = self._box if self._box is not None else (-STANDING_HALF_M, STANDING_HALF_M)
        cam = frame_box(lo, hi, size_wh, control.azimuth_deg, control.elevation_deg)
        cam = cam.zoom(control.zoom)
        return cam.pan(control.pan_right * cam.distance_m, control.pan_up * cam.distance_m)

    # -- drawing --------------------------------------------------------------------------------
    def render(
        self,
        result: SessionResult | None,
        control: ViewControl,
        size_wh: tuple[int, int],
        overlay: bool = True,
        view: bool = True,
    ) -> RenderedViews:
        """Draw `result` (None: an empty grid). The overlay layer only for a shown mesh."""
        timings: dict[str, float] = {}
        geometry = None if result is None else self.world_points(result)
        if geometry is not None:
            pts, visible, _ = geometry
            self._frame(visible, float(pts[:, 1].min()))
        view_rgb = None
        if view:
            t0 = time.perf_counter()
            view_rgb = self._render_view(result, geometry, control, size_wh)
            timings["render"] = (time.perf_counter() - t0) * 1e3
        overlay_rgba = None
        shown = None if result is None else self.shown_mesh(result)
        if overlay and shown is not None and result is not None and result.display_mesh:
            if self.renderer is None:
                raise RuntimeError("LiveViews without a renderer cannot draw the overlay")
            t0 = time.perf_counter()
            K, size = overlay_camera(
                result.display_mesh.K, result.display_frame.size_wh, self.overlay_max_side
            )
            overlay_rgba = self._draw(
                "overlay",
                self.renderer.render_overlay_rgba,
                vertices_cam=shown[0],
                faces=shown[1],
                K=K,
                size_wh=size,
            )
            timings["overlay"] = (time.perf_counter() - t0) * 1e3
        return RenderedViews(view_rgb, overlay_rgba, timings)

    def _render_view(
        self,
        result: SessionResult | None,
        geometry: tuple[np.ndarray, np.ndarray, str] | None,
        control: ViewControl,
        size_wh: tuple[int, int],
    ) -> np.ndarray:  # (H, W, 3) uint8
        if self.renderer is None:
            raise RuntimeError("LiveViews without a renderer cannot draw the 3D view")
        draw = self.renderer.render_view_rgb
        cam = self.camera(control, size_wh)
        floor = self._floor if self._floor is not None else -1.0
        if result is None or geometry is None:
            return self._draw("view", draw, camera=cam, floor_y=floor, size_wh=size_wh)
        pts, _, kind = geometry
        obs = result.display_observation
        shown = self.shown_mesh(result)
        if (kind == "mesh" or obs is None) and shown is not None:
            return self._draw(
                "view",
                draw,
                camera=cam,
                vertices_world=pts,
                faces=shown[1],
                floor_y=floor,
                size_wh=size_wh,
                alpha=result.display_alpha,
            )
        return self._draw(
            "view",
            draw,
            camera=cam,
            skeleton_world=pts,
            visibility=np.minimum(obs.visibility, obs.presence),
            min_visibility=MIN_VISIBILITY,
            floor_y=floor,
            size_wh=size_wh,
        )

    def _draw(self, view: str, draw: Callable[..., np.ndarray], **args: Any) -> np.ndarray:
        """`draw(**args)`, or the image of the last call for `view` when `args` equal its own."""
        last = self._drawn.get(view)
        if last is not None and _same_args(last[0], args):
            return last[1]
        image = draw(**args)
        image.setflags(write=False)  # shared by every frame that reuses it
        self._drawn[view] = (args, image)
        return image


def _same_args(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal keyword arguments: arrays by shape and values, everything else by `==`."""
    if a.keys() != b.keys():
        return False
    for key, x in a.items():
        y = b[key]
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            if not (isinstance(x, np.ndarray) and isinstance(y, np.ndarray)):
                return False
            if x.shape != y.shape or not np.array_equal(x, y):
                return False
        elif x != y:
            return False
    return True
