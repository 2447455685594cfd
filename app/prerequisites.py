"""Checks run by `main.py` before Qt is imported: can Qt's platform plugin load at all?

Without the system libraries its platform plugin links to, Qt prints a hint about another
library (and, with opencv-contrib imported, about OpenCV's bundled plugin folder) and aborts
the process (exit 134). This module finds the plugin Qt will load, asks `ldd` which of its
libraries are missing, and turns them into one `apt-get install` line. It never imports Qt.

It also removes what OpenCV sets on import (`QT_QPA_PLATFORM_PLUGIN_PATH`, `QT_QPA_FONTDIR`
pointing into the cv2 package): PyQt6 must use its own Qt 6 plugins, not OpenCV's Qt 5 ones.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
from collections.abc import Callable, MutableMapping
from pathlib import Path

OPENCV_QT_VARIABLES = ("QT_QPA_PLATFORM_PLUGIN_PATH", "QT_QPA_FONTDIR")
# Debian/Ubuntu package of each library a Qt 6 platform plugin commonly needs.
DEBIAN_PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libOpenGL.so.0": "libopengl0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libwayland-client.so.0": "libwayland-client0",
    "libwayland-cursor.so.0": "libwayland-cursor0",
}
_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found", re.MULTILINE)

LddRunner = Callable[[Path], str]


def neutralise_opencv_qt_env(environ: MutableMapping[str, str]) -> list[str]:
    """Drop the Qt variables OpenCV's wheel set to its own `cv2/qt` folder; names removed."""
    removed = []
    for name in OPENCV_QT_VARIABLES:
        value = environ.get(name, "")
        if value and ("cv2" in Path(value).parts or "/cv2/" in value):
            del environ[name]
            removed.append(name)
    return removed


def qt_platform(environ: MutableMapping[str, str]) -> str:
    """The platform plugin Qt 6 will try first."""
    explicit = environ.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip()
    if explicit:
        return explicit
    if environ.get("WAYLAND_DISPLAY") and environ.get("XDG_SESSION_TYPE") == "wayland":
        return "wayland"
    return "xcb"


def platform_plugin(platform: str) -> Path | None:
    """PyQt6's plugin file for `platform`, found without importing Qt; None if absent."""
    spec = importlib.util.find_spec("PyQt6")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        path = Path(root) / "Qt6" / "plugins" / "platforms" / f"libq{platform}.so"
        if path.is_file():
            return path
    return None


def run_ldd(path: Path) -> str:
    """`ldd path` output ('' when ldd is unavailable: the check is then skipped)."""
    try:
        done = subprocess.run(
            ["ldd", str(path)], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout


def missing_libraries(plugin: Path, ldd: LddRunner = run_ldd) -> list[str]:
    """Libraries (sonames) the plugin or its dependencies need that the loader cannot find."""
    return sorted(set(_NOT_FOUND.findall(ldd(plugin))))


def debian_package(soname: str) -> str:
    """Debian/Ubuntu package that ships `soname` (libfoo-bar.so.N -> libfoo-barN by default)."""
    if soname in DEBIAN_PACKAGES:
        return DEBIAN_PACKAGES[soname]
    name, _, version = soname.partition(".so.")
    name = name.lower()
    version = version.split(".")[0]
    return f"{name}-{version}" if name[-1:].isdigit() else f"{name}{version}"


def qt_prerequisite_problem(
    environ: MutableMapping[str, str], ldd: LddRunner = run_ldd
) -> str | None:
    """One actionable line if Qt's platform plugin cannot load here, else None."""
    platform = qt_platform(environ)
    plugin = platform_plugin(platform)
    if plugin is None:
        return None  # an unknown or custom platform: let Qt report it
    missing = missing_libraries(plugin, ldd)
    if not missing:
        return None
    packages = " ".join(dict.fromkeys(debian_package(s) for s in missing))
    return (
        f"Qt cannot start its '{platform}' display plugin: missing system "
        f"{'library' if len(missing) == 1 else 'libraries'} {', '.join(missing)}. "
        f"Install with: sudo apt-get install -y {packages} "
        "(or run without a window: QT_QPA_PLATFORM=offscreen python main.py ...)"
    )
