"""The one place with third-party compatibility workarounds: numpy 2 for pyrender, GL platform,
pyrender's eager import of its on-screen viewer.

pyrender 0.1.45 still uses `np.infty` (removed in numpy 2), and PyOpenGL picks its GL platform
once, from `PYOPENGL_PLATFORM`, when OpenGL is first imported. Both must be settled before
pyrender is imported, so every module that renders gets pyrender through `import_pyrender()`
instead of `import pyrender`. Nothing here runs at import time.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable, MutableMapping, Sequence
from pathlib import Path
from types import ModuleType

import numpy as np

from stdformer.paths import REPO_ROOT, default_cache_dir

logger = logging.getLogger(__name__)

# Tried in this order when PYOPENGL_PLATFORM is unset. EGL works with the pinned PyOpenGL 3.1.0;
# OSMesa needs PyOpenGL >= 3.1.10 (see the error message).
GL_PLATFORM_CANDIDATES: tuple[str, ...] = ("egl", "osmesa")
PROBE_TIMEOUT_S = 30.0

# A tiny offscreen render in a child process: a platform that crashes or hangs cannot take the
# caller with it, and the caller's own OpenGL import stays free to pick the winner.
_PROBE_CODE = """
from stdformer.render.gl_platform import apply_numpy_shim
apply_numpy_shim()
import pyrender
r = pyrender.OffscreenRenderer(8, 8)
s = pyrender.Scene()
s.add(pyrender.PerspectiveCamera(yfov=1.0))
color, depth = r.render(s)
r.delete()
assert color.shape == (8, 8, 3)
print("GL_PROBE_OK")
"""

_lock = threading.Lock()
_chosen_platform: str | None = None
_pyrender: ModuleType | None = None


class RenderError(RuntimeError):
    """Offscreen rendering is unavailable or failed; the message says how to fix it."""


def apply_numpy_shim() -> None:
    """Restore `np.infty` (removed in numpy 2) for pyrender's bounds and shadow code."""
    if not hasattr(np, "infty"):
        np.infty = np.inf  # type: ignore[attr-defined]


def probe_gl_platform(platform: str, timeout_s: float = PROBE_TIMEOUT_S) -> tuple[bool, str]:
    """Try an 8x8 pyrender render with `platform` in a child process.

    Returns (works, detail) where detail is the last line of the child's error output.
    """
    root = str(REPO_ROOT)  # the folder that holds the stdformer package
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    env = dict(os.environ, PYOPENGL_PLATFORM=platform, PYTHONPATH=path)
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _PROBE_CODE],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False, f"timed out after {timeout_s:.0f} s"
    if proc.returncode == 0 and "GL_PROBE_OK" in proc.stdout:
        return True, "ok"
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    return False, lines[-1] if lines else f"exit code {proc.returncode}"


GL_SETUP_ADVICE = (
    "Fix one of: "
    "(1) EGL (GPU or Mesa's CPU renderer): `sudo apt-get install -y libegl1 libgl1 "
    "libegl-mesa0 libgl1-mesa-dri` (with an NVIDIA driver libegl1 libgl1 suffice), then run "
    "with PYOPENGL_PLATFORM=egl; "
    "(2) OSMesa (pure CPU): `sudo apt-get install -y libosmesa6` and "
    "`pip install PyOpenGL==3.1.10` (pyrender pins 3.1.0, which cannot load OSMesa; ignore "
    "pip's pin warning), then run with PYOPENGL_PLATFORM=osmesa. "
    "Setting PYOPENGL_PLATFORM yourself skips the automatic choice."
)


def _no_platform_message(failures: dict[str, str]) -> str:
    tried = "; ".join(f"{name}: {detail}" for name, detail in failures.items())
    return f"No working OpenGL platform for offscreen rendering (tried {tried}). {GL_SETUP_ADVICE}"


def choose_gl_platform(
    candidates: Sequence[str] = GL_PLATFORM_CANDIDATES,
    probe: Callable[[str], tuple[bool, str]] | None = None,
) -> str:
    """Return the first platform in `candidates` that renders; raise RenderError if none does.

    `probe` defaults to `probe_gl_platform` (looked up at call time, so tests can replace it).
    """
    probe = probe_gl_platform if probe is None else probe
    failures: dict[str, str] = {}
    for name in candidates:
        works, detail = probe(name)
        if works:
            logger.info("offscreen GL platform: %s", name)
            return name
        logger.info("GL platform %s unusable: %s", name, detail)
        failures[name] = detail
    raise RenderError(_no_platform_message(failures))


def _cache_file() -> Path:
    return default_cache_dir() / "gl_platform.json"


def _cache_key() -> str:
    """What decides which platform works, besides the system's GL libraries: this Python and
    the installed OpenGL and pyrender packages (where and when installed; found, not imported)."""
    parts = [sys.executable, sys.version.split()[0]]
    for package in ("OpenGL", "pyrender"):
        spec = importlib.util.find_spec(package)
        origin = spec.origin if spec is not None and spec.origin else ""
        stamp = os.stat(origin).st_mtime_ns if origin and os.path.exists(origin) else 0
        parts.append(f"{origin} {stamp}")
    return " | ".join(parts)


def _cached_platform(candidates: Sequence[str]) -> str | None:
    """The platform an earlier probe chose with this Python and these packages, if any."""
    try:
        cached = json.loads(_cache_file().read_text())
    except (OSError, ValueError):
        return None
    ok = isinstance(cached, dict) and cached.get("key") == _cache_key()
    return cached["platform"] if ok and cached.get("platform") in candidates else None


def _remember_platform(platform: str) -> None:
    path = _cache_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
        tmp.write_text(json.dumps({"key": _cache_key(), "platform": platform}))
        os.replace(tmp, path)
    except OSError as exc:  # a read-only home only costs the probe next time
        logger.debug("could not cache the GL platform at %s: %s", path, exc)


def forget_gl_platform() -> None:
    """Drop the cached choice (the chosen platform failed here): the next start probes again."""
    with contextlib.suppress(OSError):
        _cache_file().unlink(missing_ok=True)


def gl_platform() -> str:
    """The GL platform this process uses: $PYOPENGL_PLATFORM if set, else the choice cached by
    an earlier start with this Python and these packages, else a probed choice (then cached).

    The probe (a short child process per candidate, ~1-2 s) runs at most once per process and
    then only when nothing is cached; the choice is written to PYOPENGL_PLATFORM so that
    PyOpenGL, imported afterwards, uses it. A cached platform that fails in this process is
    forgotten (`forget_gl_platform`), so the next start probes again.
    """
    global _chosen_platform
    with _lock:
        if _chosen_platform is None:
            env_choice = os.environ.get("PYOPENGL_PLATFORM", "").strip()
            if env_choice:
                _chosen_platform = env_choice
            else:
                if "OpenGL" in sys.modules:
                    logger.warning(
                        "OpenGL was imported before the GL platform was chosen; "
                        "set PYOPENGL_PLATFORM explicitly if rendering fails"
                    )
                cached = _cached_platform(GL_PLATFORM_CANDIDATES)
                if cached is not None:
                    logger.info("offscreen GL platform: %s (cached in %s)", cached, _cache_file())
                    _chosen_platform = cached
                else:
                    _chosen_platform = choose_gl_platform()
                    _remember_platform(_chosen_platform)
                os.environ["PYOPENGL_PLATFORM"] = _chosen_platform
        return _chosen_platform


def prefetch_gl_platform() -> threading.Thread:
    """Choose the GL platform in a background thread, now: the probe is a child process, so it
    runs on another core while this process loads its models, and the display's
    `import_pyrender` finds the choice made instead of waiting ~1-2 s for it. A failure is left
    for `import_pyrender` to report (it probes again and raises RenderError). Importing
    pyrender here too was tried: it slowed the main thread's imports (one GIL), first mesh
    3.75 -> 4.3 s."""

    def choose() -> None:
        try:
            gl_platform()
        except RenderError as exc:
            logger.debug("GL platform probe failed: %s", exc)

    thread = threading.Thread(target=choose, name="gl-probe", daemon=True)
    thread.start()
    return thread


def rasterize_inline(environ: MutableMapping[str, str]) -> bool:
    """Let Mesa's llvmpipe draw in the calling thread (LP_NUM_THREADS=0) unless the user chose a
    thread count: for the live views, set before the first GL context of the process. Their
    frames are small (a 1,723-vertex body, at most 640 px overlay), so handing each one to
    llvmpipe's rasterizer threads costs more than it saves. `bench_render.py`, 640x480, on a
    2-core AMD EPYC: 3D view + overlay 9.1 -> 6.2 ms wall, 10.6 -> 7.4 ms CPU (2 cores); on one
    core 8.6 -> 5.8 ms, 9.2 -> 6.4 ms CPU. The command-line `export` and `process` do not call it:
    their large frames gain from the threads (mp4 of a 1088x1920 take: 12.3 s with them, 16.8 s
    without). True when it was set here."""
    if environ.get("LP_NUM_THREADS", "").strip():
        return False
    environ["LP_NUM_THREADS"] = "0"
    return True


def _skip_onscreen_viewer() -> None:
    """pyrender imports its on-screen `Viewer` (pyglet, X11, tkinter, imageio) eagerly; this
    project renders offscreen only, and that import was ~0.1-0.2 s of start-up. An empty
    `pyrender.viewer` module stands in unless it was imported already."""
    if "pyrender.viewer" in sys.modules or "pyrender" in sys.modules:
        return

    def viewer_not_loaded(*args: object, **kwargs: object) -> None:
        raise RenderError("pyrender's on-screen Viewer is not loaded in this program")

    viewer = ModuleType("pyrender.viewer", "pyrender's on-screen viewer: not loaded here")
    viewer.Viewer = viewer_not_loaded  # type: ignore[attr-defined]  # pyrender imports the name
    sys.modules["pyrender.viewer"] = viewer


def import_pyrender() -> ModuleType:
    """Import pyrender with the numpy shim applied and a working GL platform selected.

    Raises RenderError (with apt/pip/env-var advice) when no platform works or the import fails.
    """
    global _pyrender
    if _pyrender is not None:
        return _pyrender
    apply_numpy_shim()
    platform = gl_platform()
    _skip_onscreen_viewer()
    try:
        import pyrender
    except Exception as exc:  # ImportError, or OpenGL failing to load the platform library
        forget_gl_platform()
        raise RenderError(
            f"pyrender could not be imported with PYOPENGL_PLATFORM={platform}: {exc}. "
            + _no_platform_message({platform: str(exc)})
        ) from exc
    _pyrender = pyrender
    return pyrender
