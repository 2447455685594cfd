"""Offscreen pyrender renderer: a free 3D view (grid, body mesh, skeleton) and a camera overlay.

Used by the live views (`stdformer.render.views`: the GUI's 3D panel and mesh overlay), video
export (also after `process`), the training corpus and the tools that render. An OpenGL context
belongs to the thread that made it, so an `OffscreenRenderer` must be created, used and closed in
one thread (the GUI does all three in its display thread, `app/workers.py`); calls from another
thread raise RenderError instead of crashing inside the driver. The GL context, the scene
(both views share one, so switching between them does not drop the other's GPU buffers),
cameras, lights and grid are built once; a body mesh with the topology of the last one drawn
in the same view is updated in place (new positions and normals in its vertex buffer), so a
live frame allocates no GL objects.

Frames: see `stdformer.render.geometry` ("cam" = OpenCV, "world" = Y-up display frame).
"""

from __future__ import annotations

import logging
import math
import threading
from typing import Any

import numpy as np

from stdformer.body.surface import vertex_normals
from stdformer.detect.pose_topology import POSE_CONNECTIONS
from stdformer.render import gl_patches
from stdformer.render.geometry import (
    OrbitCamera,
    as_float_rgba,
    grid_lines,
    skeleton_mesh,
    yup_from_opencv,
)
from stdformer.render.gl_platform import GL_SETUP_ADVICE, RenderError, gl_platform, import_pyrender

__all__ = ["OffscreenRenderer", "OrbitCamera", "RenderError", "yup_from_opencv"]

logger = logging.getLogger(__name__)

BACKGROUND_RGB = (0.16, 0.17, 0.20)
GRID_RGB = (0.25, 0.26, 0.29)  # lines are lit without normals: ~1.9x brighter on screen
BODY_RGB = (0.70, 0.78, 0.90)  # mesh colour when no per-vertex colours are given
_TRIANGLES, _LINES = 4, 1  # glTF primitive modes


class OffscreenRenderer:
    """Renders RGB views of a body/skeleton and BGR overlays onto camera images.

    Create it in the thread that will render (see module docstring). `width`/`height` are the
    default output size of `render_view_rgb`; overlays take the size of their input image.
    `msaa_samples` > 0 smooths edges (e.g. 4 for exported video) but costs about 2x frame time
    on CPU OpenGL, so live use keeps the default 0. `vertex_lit` lights meshes per vertex
    instead of per pixel (the same lights and material, ~5x cheaper on CPU OpenGL, smooth on
    body meshes of ~1,700 vertices and more): the live views use it; exports and training
    renders keep per-pixel lighting.

    Typical use in a worker thread:
        renderer = OffscreenRenderer(640, 480)  # first call probes the GL platform (~2 s)
        camera = OrbitCamera()  # mouse drag: camera.orbit(dx, dy); wheel: camera.zoom(0.9)
        rgb = renderer.render_view_rgb(camera, skeleton_world=yup_from_opencv(obs.world_landmarks))
        bgr = renderer.render_overlay_bgr(frame.image_bgr, result.vertices_cam, faces, result.K)
        renderer.close()
    """

    def __init__(
        self, width: int = 640, height: int = 480, msaa_samples: int = 0, vertex_lit: bool = False
    ) -> None:
        if width <= 0 or height <= 0:
            raise ValueError(f"render size must be positive, got {width}x{height}")
        self._pr = import_pyrender()
        self._thread = threading.get_ident()
        self.width, self.height = int(width), int(height)
        try:
            self._renderer = self._pr.OffscreenRenderer(self.width, self.height)
        except Exception as exc:  # driver/platform failures surface as assorted GL errors
            raise RenderError(
                f"could not create an offscreen GL context with "
                f"PYOPENGL_PLATFORM={gl_platform()}: {exc}. {GL_SETUP_ADVICE}"
            ) from exc
        gl_patches.install(self._renderer, msaa_samples, vertex_lit)
        self._scene, self._grid = self._make_scene()
        # Per-frame meshes by slot ("view", "skeleton", "overlay"); drawn when in `_shown`.
        self._nodes: dict[str, Any] = {}
        self._shown: set[str] = set()

    # ----------------------------------------------------------------- scene construction
    def _material(self, rgb: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> Any:
        return self._pr.MetallicRoughnessMaterial(
            baseColorFactor=(*rgb, 1.0), metallicFactor=0.0, roughnessFactor=0.8
        )

    def _make_scene(self) -> tuple[Any, Any]:
        """One scene for both views: its cameras, lights and grid; `_use` sets it up for one."""
        pr = self._pr
        scene = pr.Scene()
        self._view_camera = scene.add(
            pr.PerspectiveCamera(yfov=math.radians(45.0), znear=0.05, zfar=200.0)
        )
        # pyrender puts pixel centres at +0.5 (GL), OpenCV at integers: cx, cy get +0.5.
        self._overlay_camera = scene.add(
            pr.IntrinsicsCamera(fx=1.0, fy=1.0, cx=0.5, cy=0.5, znear=0.02, zfar=200.0)
        )
        self._headlight = scene.add(pr.DirectionalLight(color=np.ones(3), intensity=2.5))
        key = np.eye(4)  # a fixed light from above-front-left gives shape when orbiting
        key[:3, :3] = _rotation_looking_along(np.array([0.4, -1.0, -0.5]))
        self._key_light = scene.add(pr.DirectionalLight(color=np.ones(3), intensity=1.5), pose=key)

        # Grid lines only: a filled, lit floor quad cost ~40 ms/frame on llvmpipe at 640x480.
        lines = grid_lines(half_extent_m=4.0, step_m=0.5)
        grid = pr.Primitive(positions=lines, material=self._material(GRID_RGB), mode=_LINES)
        return scene, scene.add(pr.Mesh([grid]))

    def _use(self, view: str, camera_pose_gl: np.ndarray) -> None:
        """Set the shared scene up for `view`: "view" (free 3D view: grid, body or skeleton, a
        headlight plus a key light) or "overlay" (the body alone on transparent black, lit from
        the camera at the origin)."""
        scene = self._scene
        for slot, node in self._nodes.items():
            node.mesh.is_visible = slot in self._shown
        self._grid.mesh.is_visible = view == "view"
        if view == "view":
            scene.main_camera_node = self._view_camera
            scene.bg_color = np.array([*BACKGROUND_RGB, 1.0])
            scene.ambient_light = np.full(3, 0.35)
            self._key_light.light.intensity = 1.5
        else:
            scene.main_camera_node = self._overlay_camera
            scene.bg_color = np.zeros(4)
            scene.ambient_light = np.full(3, 0.4)
            self._key_light.light.intensity = 0.0
        scene.set_pose(scene.main_camera_node, camera_pose_gl)
        scene.set_pose(self._headlight, camera_pose_gl)

    # ----------------------------------------------------------------- helpers
    def _check_thread(self) -> None:
        if threading.get_ident() != self._thread:
            raise RenderError(
                "OffscreenRenderer used from a different thread than the one that created it; "
                "GL contexts are bound to one thread: create, use and close it in one thread."
            )
        if self._renderer is None:
            raise RenderError("OffscreenRenderer is closed")

    def _show_body(
        self,
        slot: str,
        vertices: np.ndarray,  # (V, 3)
        faces: np.ndarray,  # (F, 3)
        vertex_colors: np.ndarray | None,
        alpha: float = 1.0,
    ) -> None:
        """Draw this body in `slot` next: the slot's mesh updated in place when it has the same
        triangles (and colours or none, as before), else a new mesh."""
        v = np.ascontiguousarray(vertices, dtype=np.float32)
        f = np.asarray(faces)
        if v.ndim != 2 or v.shape[1] != 3 or f.ndim != 2 or f.shape[1] != 3:
            raise ValueError(f"need vertices (V, 3) and faces (F, 3), got {v.shape}, {f.shape}")
        colors = None if vertex_colors is None else as_float_rgba(vertex_colors, len(v))
        normals = vertex_normals(v, f)
        node = self._nodes.get(slot)
        prim = None if node is None else node.mesh.primitives[0]
        if (
            prim is None
            or len(prim.positions) != len(v)
            or (prim.color_0 is None) != (colors is None)
            or not np.array_equal(prim.indices, f)
        ):
            rgb = BODY_RGB if colors is None else (1.0, 1.0, 1.0)  # colours: as given
            prim = self._pr.Primitive(
                positions=v,
                normals=normals,
                color_0=colors,
                indices=np.ascontiguousarray(f, dtype=np.int32),
                material=self._material(rgb),
                mode=_TRIANGLES,
            )
            self._set_slot(slot, self._pr.Mesh([prim]))
        else:
            gl_patches.refill_vertices(self._renderer, node.mesh, v, normals, colors)
        material = prim.material
        # alpha < 1: fading out (subject lost), blend with what is behind
        material.baseColorFactor = np.array([*material.baseColorFactor[:3], min(alpha, 1.0)])
        material.alphaMode = "BLEND" if alpha < 1.0 else "OPAQUE"
        self._shown.add(slot)

    def _set_slot(self, slot: str, mesh: Any) -> None:
        old = self._nodes.pop(slot, None)
        if old is not None:
            self._scene.remove_node(old)
        self._nodes[slot] = self._scene.add(mesh)

    def _render(self, width: int, height: int, rgba: bool) -> np.ndarray:
        self._renderer.viewport_width, self._renderer.viewport_height = width, height
        flags = self._pr.RenderFlags.RGBA if rgba else self._pr.RenderFlags.NONE
        try:
            color, _depth = self._renderer.render(self._scene, flags=flags)
        except Exception as exc:
            raise RenderError(f"offscreen render failed: {exc}") from exc
        return color

    # ----------------------------------------------------------------- public API
    def render_view_rgb(
        self,
        camera: OrbitCamera,
        vertices_world: np.ndarray | None = None,  # (V, 3) Y-up world, metres
        faces: np.ndarray | None = None,  # (F, 3) int
        vertex_colors: np.ndarray | None = None,  # (V, 3|4) uint8 or float in [0, 1]
        skeleton_world: np.ndarray | None = None,  # (J, 3) Y-up world, metres
        bones: tuple[tuple[int, int], ...] = POSE_CONNECTIONS,
        visibility: np.ndarray | None = None,  # (J,) in [0, 1]
        min_visibility: float = 0.0,
        floor_y: float | None = None,
        size_wh: tuple[int, int] | None = None,
        alpha: float = 1.0,
    ) -> np.ndarray:  # (H, W, 3) uint8 RGB
        """Free 3D view from `camera` of a ground grid plus an optional mesh and skeleton.

        `alpha` < 1 draws the mesh translucent (a body fading out).

        For MediaPipe world landmarks pass `skeleton_world=yup_from_opencv(world_landmarks)`
        (the default `bones` are the 33-landmark topology); for `MeshResult.vertices_cam` pass
        `yup_from_opencv(vertices_cam)`. The grid lies at `floor_y`, by default at the lowest
        drawn point so the subject stands on it.
        """
        self._check_thread()
        self._shown.clear()
        lowest = []
        if vertices_world is not None:
            if faces is None:
                raise ValueError("render_view_rgb: faces are required with vertices_world")
            self._show_body("view", vertices_world, faces, vertex_colors, alpha)
            lowest.append(float(np.min(np.asarray(vertices_world)[:, 1])))
        if skeleton_world is not None:
            pos, nrm, col, fc = skeleton_mesh(skeleton_world, bones, visibility, min_visibility)
            if len(fc):  # a few hundred vertices, their count changes with visibility: rebuilt
                prim = self._pr.Primitive(
                    positions=pos,
                    normals=nrm,
                    color_0=col,
                    indices=fc,
                    material=self._material(),
                    mode=_TRIANGLES,
                )
                self._set_slot("skeleton", self._pr.Mesh([prim]))
                self._shown.add("skeleton")
                lowest.append(float(pos[:, 1].min()))

        if floor_y is None:
            floor_y = min(lowest) if lowest else 0.0
        grid_pose = np.eye(4)
        grid_pose[1, 3] = floor_y
        self._scene.set_pose(self._grid, grid_pose)

        w, h = size_wh if size_wh is not None else (self.width, self.height)
        self._view_camera.camera.yfov = math.radians(camera.yfov_deg)
        self._view_camera.camera.aspectRatio = w / h
        self._use("view", camera.pose_world_from_gl())
        return self._render(w, h, rgba=False)

    def render_overlay_rgba(
        self,
        vertices_cam: np.ndarray,  # (V, 3) OpenCV camera frame, metres
        faces: np.ndarray,  # (F, 3) int
        K: np.ndarray,  # (3, 3) intrinsics of the image, OpenCV pixel convention
        size_wh: tuple[int, int],  # the image's (W, H)
        vertex_colors: np.ndarray | None = None,  # (V, 3|4) uint8 or float in [0, 1]
    ) -> np.ndarray:  # (H, W, 4) uint8 RGBA, alpha = coverage
        """The mesh seen through intrinsics K on a transparent layer the size of the image.

        A vertex at camera point X lands on pixel K @ X / z (pixel centres at integer
        coordinates, as in OpenCV). Compose the layer over the image at any opacity (the GUI
        does, so changing the opacity costs no render).
        """
        self._check_thread()
        self._shown.clear()
        w, h = int(size_wh[0]), int(size_wh[1])
        k = np.asarray(K, dtype=np.float64)
        cam = self._overlay_camera.camera
        # pyrender puts pixel centres at +0.5 (GL), OpenCV at integers: shift the principal point.
        cam.fx, cam.fy, cam.cx, cam.cy = k[0, 0], k[1, 1], k[0, 2] + 0.5, k[1, 2] + 0.5
        # OpenCV camera axes -> OpenGL camera axes is the same flip as cam -> Y-up world.
        self._show_body("overlay", yup_from_opencv(vertices_cam), faces, vertex_colors)
        self._use("overlay", np.eye(4))
        return self._render(w, h, rgba=True)

    def render_overlay_bgr(
        self,
        image_bgr: np.ndarray,  # (H, W, 3) uint8
        vertices_cam: np.ndarray,  # (V, 3) OpenCV camera frame, metres
        faces: np.ndarray,  # (F, 3) int
        K: np.ndarray,  # (3, 3) intrinsics of image_bgr, OpenCV pixel convention
        alpha: float = 0.8,
        vertex_colors: np.ndarray | None = None,  # (V, 3|4) uint8 or float in [0, 1]
    ) -> np.ndarray:  # (H, W, 3) uint8 BGR
        """Draw the mesh seen through intrinsics K over the image, blended with `alpha`
        (see `render_overlay_rgba`). Returns a new BGR image; the input is not modified."""
        self._check_thread()
        img = np.asarray(image_bgr)
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise ValueError(f"image_bgr must be (H, W, 3) uint8, got {img.shape} {img.dtype}")
        h, w = img.shape[:2]
        rgba = self.render_overlay_rgba(vertices_cam, faces, K, (w, h), vertex_colors)
        return _blend_bgr(img, rgba, float(np.clip(alpha, 0.0, 1.0)))

    def close(self) -> None:
        """Release the GL context (call from the creating thread); safe to call twice."""
        if self._renderer is None:
            return
        if threading.get_ident() != self._thread:
            logger.warning("OffscreenRenderer closed from another thread; GL context leaked")
        else:
            self._renderer.delete()
        self._renderer = None

    def __enter__(self) -> OffscreenRenderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _rotation_looking_along(direction: np.ndarray) -> np.ndarray:
    """3x3 rotation whose -z axis points along `direction` (pyrender lights shine along -z)."""
    d = direction / np.linalg.norm(direction)
    z = -d
    x = np.cross(np.array([0.0, 1.0, 0.0]), z)
    x /= np.linalg.norm(x)
    return np.stack([x, np.cross(z, x), z], axis=1)


def _blend_bgr(image_bgr: np.ndarray, render_rgba: np.ndarray, alpha: float) -> np.ndarray:
    """Alpha-blend an RGBA render over a BGR image, touching only the rendered bounding box."""
    out = image_bgr.copy()
    coverage = render_rgba[..., 3]
    rows, cols = np.flatnonzero(coverage.any(axis=1)), np.flatnonzero(coverage.any(axis=0))
    if alpha <= 0.0 or len(rows) == 0:
        return out
    box = np.s_[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    a = coverage[box][..., None].astype(np.float32) * (alpha / 255.0)
    mesh_bgr = render_rgba[box][..., 2::-1].astype(np.float32)
    out[box] = (out[box] * (1.0 - a) + mesh_bgr * a + 0.5).astype(np.uint8)
    return out
