"""Instance-level fixes for one pyrender 0.1.45 `OffscreenRenderer`: speed, OSMesa, EGL teardown.

pyrender always draws into a 4x multisampled framebuffer and, with every colour image, reads
the depth buffer back and converts it to metres in numpy. On CPU OpenGL (Mesa llvmpipe, the
usual case here) the multisampling roughly doubles the frame time, and we never use the depth.
`install` replaces the two methods on a single renderer instance (never on the class, so other
pyrender users are unaffected) with versions that take a sample count and read colour only.
It also routes OSMesa through the same framebuffer path (pyrender otherwise renders OSMesa into
the window buffer, which has no alpha channel, so overlays could not be blended), and stops
EGL teardown from calling eglTerminate: the EGL display is shared by every renderer in the
process, so terminating it when one renderer closes destroyed the others' contexts.
With `vertex_lit`, lit meshes are drawn with `shaders/vertex_lit.*` (pyrender's BRDF evaluated
per vertex, not per pixel): ~5x cheaper on CPU OpenGL, for the live views.
Written against pyrender 0.1.45 (pinned); the attributes used are checked on install.
"""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import cv2
import numpy as np

_REQUIRED = ("_main_fb", "_main_fb_ms", "_main_cb", "_main_cb_ms", "_main_db", "_main_db_ms")
SHADER_DIR = Path(__file__).resolve().parent / "shaders"


def install(offscreen: Any, samples: int, vertex_lit: bool = False) -> None:
    """Make `offscreen` (a `pyrender.OffscreenRenderer`) draw into framebuffer objects with
    `samples` MSAA samples (0 = off) and return `(color, None)` from each render; with
    `vertex_lit`, light meshes per vertex (see the module docstring)."""
    gl_renderer = getattr(offscreen, "_renderer", None)
    platform = getattr(offscreen, "_platform", None)
    missing = [
        a for a in (*_REQUIRED, "_main_fb_dims", "_program_cache") if not hasattr(gl_renderer, a)
    ]
    if missing or platform is None:
        raise RuntimeError(f"unexpected pyrender version: Renderer lacks {missing or '_platform'}")
    # Every GL 3.3 core context (EGL, OSMesa) supports framebuffer objects.
    platform.supports_framebuffers = lambda: True
    if hasattr(platform, "_egl_display") and hasattr(platform, "_egl_context"):
        platform.delete_context = types.MethodType(_delete_egl_context, platform)
    gl_renderer._stdformer_samples = int(samples)
    gl_renderer._stdformer_framebuffers = {}
    gl_renderer._configure_main_framebuffer = types.MethodType(_configure, gl_renderer)
    gl_renderer._read_main_framebuffer = types.MethodType(_read_color, gl_renderer)
    if vertex_lit:
        gl_renderer._program_cache = _VertexLitPrograms(gl_renderer._program_cache)


class _VertexLitPrograms:
    """pyrender's shader program cache, but lit meshes (its `mesh.vert` + `mesh.frag`) get
    `vertex_lit.vert` + `vertex_lit.frag`; every other program (text, depth) is pyrender's."""

    def __init__(self, pyrender_cache: Any) -> None:
        from pyrender.shader_program import ShaderProgramCache

        self._pyrender = pyrender_cache
        self._ours = ShaderProgramCache(shader_dir=str(SHADER_DIR))

    def get_program(
        self,
        vertex_shader: str,
        fragment_shader: str,
        geometry_shader: str | None = None,
        defines: dict[str, Any] | None = None,
    ) -> Any:
        if (vertex_shader, fragment_shader, geometry_shader) == ("mesh.vert", "mesh.frag", None):
            return self._ours.get_program("vertex_lit.vert", "vertex_lit.frag", None, defines)
        return self._pyrender.get_program(vertex_shader, fragment_shader, geometry_shader, defines)

    def clear(self) -> None:
        self._ours.clear()
        self._pyrender.clear()


def _storage(gl: Any, samples: int, fmt: int, w: int, h: int) -> int:
    buf = gl.glGenRenderbuffers(1)
    gl.glBindRenderbuffer(gl.GL_RENDERBUFFER, buf)
    if samples > 0:
        gl.glRenderbufferStorageMultisample(gl.GL_RENDERBUFFER, samples, fmt, w, h)
    else:
        gl.glRenderbufferStorage(gl.GL_RENDERBUFFER, fmt, w, h)
    return buf


def _framebuffer(gl: Any, color: int, depth: int) -> int:
    fb = gl.glGenFramebuffers(1)
    gl.glBindFramebuffer(gl.GL_DRAW_FRAMEBUFFER, fb)
    gl.glFramebufferRenderbuffer(
        gl.GL_DRAW_FRAMEBUFFER, gl.GL_COLOR_ATTACHMENT0, gl.GL_RENDERBUFFER, color
    )
    gl.glFramebufferRenderbuffer(
        gl.GL_DRAW_FRAMEBUFFER, gl.GL_DEPTH_ATTACHMENT, gl.GL_RENDERBUFFER, depth
    )
    return fb


_FB_ATTRS = ("_main_fb", "_main_cb", "_main_db", "_main_fb_ms", "_main_cb_ms", "_main_db_ms")
KEPT_SIZES = 2  # framebuffers kept at other sizes: the live views draw two (view, overlay)


def _configure(self: Any) -> None:
    """Bind draw and resolve framebuffers of the viewport's size: the ones of the last renders
    at that size (re-allocating at every switch between the 3D view and a smaller overlay
    cost ~2 ms per frame at 1280x720), else new ones. Parked ones die with the context."""
    from OpenGL import GL as gl

    w, h = self.viewport_width, self.viewport_height
    if self._main_fb is not None and (w, h) == tuple(self._main_fb_dims):
        return
    parked: dict[tuple[int, int], tuple[int, ...]] = self._stdformer_framebuffers
    if self._main_fb is not None:
        parked[tuple(self._main_fb_dims)] = tuple(getattr(self, a) for a in _FB_ATTRS)
    buffers = parked.pop((w, h), None) or _new_framebuffers(gl, w, h, self._stdformer_samples)
    while len(parked) > KEPT_SIZES:
        _delete_framebuffers(gl, parked.pop(next(iter(parked))))  # the oldest
    for attr, name in zip(_FB_ATTRS, buffers, strict=True):
        setattr(self, attr, name)
    self._main_fb_dims = (w, h)


def _new_framebuffers(gl: Any, w: int, h: int, samples: int) -> tuple[int, ...]:
    """(fb, colour, depth, fb_ms, colour_ms, depth_ms); without MSAA the draw buffers are the
    read-back ones (pyrender's delete tolerates the aliases)."""
    cb = _storage(gl, 0, gl.GL_RGBA, w, h)
    db = _storage(gl, 0, gl.GL_DEPTH_COMPONENT24, w, h)
    fb = _framebuffer(gl, cb, db)
    if samples <= 0:
        return fb, cb, db, fb, cb, db
    cb_ms = _storage(gl, samples, gl.GL_RGBA, w, h)
    db_ms = _storage(gl, samples, gl.GL_DEPTH_COMPONENT24, w, h)
    return fb, cb, db, _framebuffer(gl, cb_ms, db_ms), cb_ms, db_ms


def _delete_framebuffers(gl: Any, buffers: tuple[int, ...]) -> None:
    fb, cb, db, fb_ms, cb_ms, db_ms = buffers
    gl.glDeleteFramebuffers(len({fb, fb_ms}), list({fb, fb_ms}))
    gl.glDeleteRenderbuffers(len({cb, db, cb_ms, db_ms}), list({cb, db, cb_ms, db_ms}))


def _read_color(self: Any, scene: Any, flags: int) -> tuple[np.ndarray, None]:
    """Resolve (if multisampled) and read the colour buffer, top row first; no depth."""
    from OpenGL import GL as gl
    from pyrender.constants import RenderFlags

    w, h = self._main_fb_dims
    if self._main_fb_ms != self._main_fb:
        gl.glBindFramebuffer(gl.GL_READ_FRAMEBUFFER, self._main_fb_ms)
        gl.glBindFramebuffer(gl.GL_DRAW_FRAMEBUFFER, self._main_fb)
        gl.glBlitFramebuffer(0, 0, w, h, 0, 0, w, h, gl.GL_COLOR_BUFFER_BIT, gl.GL_LINEAR)
    gl.glBindFramebuffer(gl.GL_READ_FRAMEBUFFER, self._main_fb)
    gl.glPixelStorei(gl.GL_PACK_ALIGNMENT, 1)
    # RGBA is the driver's fast path (Mesa's llvmpipe read RGB ~5x slower at 1280x720), and
    # OpenCV drops the alpha ~40x faster than a numpy slice copy.
    buf = gl.glReadPixels(0, 0, w, h, gl.GL_RGBA, gl.GL_UNSIGNED_BYTE)
    color = cv2.flip(np.frombuffer(buf, dtype=np.uint8).reshape(h, w, 4), 0)  # top row first
    if not flags & RenderFlags.RGBA:
        color = cv2.cvtColor(color, cv2.COLOR_RGBA2RGB)
    return color, None


def _delete_egl_context(self: Any) -> None:
    """Destroy this renderer's EGL context but leave the shared display initialised."""
    from OpenGL import EGL

    if self._egl_display is not None and self._egl_context is not None:
        EGL.eglMakeCurrent(
            self._egl_display, EGL.EGL_NO_SURFACE, EGL.EGL_NO_SURFACE, EGL.EGL_NO_CONTEXT
        )
        EGL.eglDestroyContext(self._egl_display, self._egl_context)
    self._egl_context = None
    self._egl_display = None


def refill_vertices(
    offscreen: Any,
    mesh: Any,
    positions: np.ndarray,  # (V, 3) float32, V as before
    normals: np.ndarray,  # (V, 3)
    color_0: np.ndarray | None,  # (V, 4) float RGBA, present iff it was before
) -> None:
    """Give a one-primitive `pyrender.Mesh` new vertex data of the same layout, written into
    its existing GL vertex buffer (pyrender would delete and re-create every buffer and the
    vertex array for a new mesh). Not yet drawn: pyrender uploads it on its first draw."""
    from OpenGL import GL as gl

    (prim,) = mesh.primitives
    if any(a is not None for a in (prim.tangents, prim.texcoord_0, prim.texcoord_1)):
        raise ValueError("refill_vertices handles positions, normals and colours only")
    prim.positions, prim.normals = positions, normals
    if color_0 is not None:
        prim.color_0 = color_0
    mesh._bounds = None  # pyrender caches them (transparent meshes are sorted by them)
    if prim._vaid is None:
        return
    # pyrender's interleaved layout: position, normal, [tangent, uv0, uv1,] colour per vertex
    parts = [prim.positions, prim.normals] + ([prim.color_0] if color_0 is not None else [])
    data = np.ascontiguousarray(np.hstack(parts), dtype=np.float32)  # (V, 6 | 10)
    offscreen._platform.make_current()
    gl.glBindBuffer(gl.GL_ARRAY_BUFFER, prim._buffers[0])
    gl.glBufferSubData(gl.GL_ARRAY_BUFFER, 0, data.nbytes, data)
    gl.glBindBuffer(gl.GL_ARRAY_BUFFER, 0)
