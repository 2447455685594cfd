"""First run on a desktop: Qt's platform plugin prerequisites, OpenCV's Qt variables, and
MediaPipe's native log lines, checked before Qt is imported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.prerequisites import (
    debian_package,
    missing_libraries,
    neutralise_opencv_qt_env,
    platform_plugin,
    qt_platform,
    qt_prerequisite_problem,
)

REPO = Path(__file__).resolve().parents[2]
LDD_MISSING_TWO = """\
\tlinux-vdso.so.1 (0x00007ffd)
\tlibQt6XcbQpa.so.6 => /venv/PyQt6/Qt6/lib/libQt6XcbQpa.so.6 (0x00007f)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxcb.so.1 => /lib/x86_64-linux-gnu/libxcb.so.1 (0x00007f)
"""


def test_missing_x11_libraries_give_one_apt_get_line() -> None:
    msg = qt_prerequisite_problem({"DISPLAY": ":0"}, ldd=lambda _: LDD_MISSING_TWO)
    assert msg is not None and "\n" not in msg
    assert "libxcb-icccm.so.4, libxcb-keysyms.so.1" in msg
    assert "sudo apt-get install -y libxcb-icccm4 libxcb-keysyms1" in msg
    assert "'xcb'" in msg and "QT_QPA_PLATFORM=offscreen" in msg


def test_nothing_missing_is_no_problem() -> None:
    assert (
        qt_prerequisite_problem({"DISPLAY": ":0"}, ldd=lambda _: "\tlibc.so.6 => /lib/c\n") is None
    )


def test_real_plugins_resolve_here() -> None:
    """On this machine (the apt set of README) the xcb and offscreen plugins load."""
    for platform in ("xcb", "offscreen"):
        plugin = platform_plugin(platform)
        assert plugin is not None and plugin.name == f"libq{platform}.so"
    assert missing_libraries(platform_plugin("offscreen")) == []


def test_platform_choice() -> None:
    assert qt_platform({}) == "xcb"
    assert qt_platform({"QT_QPA_PLATFORM": "offscreen"}) == "offscreen"
    assert qt_platform({"QT_QPA_PLATFORM": "wayland;xcb"}) == "wayland"
    assert qt_platform({"WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland"}) == "wayland"


@pytest.mark.parametrize(
    ("soname", "package"),
    [
        ("libxcb-icccm.so.4", "libxcb-icccm4"),
        ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
        ("libxcb-foo.so.2", "libxcb-foo2"),  # Debian's rule for names without a table entry
        ("libfoo2.so.1", "libfoo2-1"),
    ],
)
def test_debian_package_names(soname: str, package: str) -> None:
    assert debian_package(soname) == package


def test_opencv_qt_variables_are_removed_others_kept() -> None:
    env = {
        "QT_QPA_PLATFORM_PLUGIN_PATH": "/venv/lib/python3.11/site-packages/cv2/qt/plugins",
        "QT_QPA_FONTDIR": "/venv/lib/python3.11/site-packages/cv2/qt/fonts",
        "QT_QPA_PLATFORM": "xcb",
    }
    assert neutralise_opencv_qt_env(env) == ["QT_QPA_PLATFORM_PLUGIN_PATH", "QT_QPA_FONTDIR"]
    assert env == {"QT_QPA_PLATFORM": "xcb"}
    mine = {"QT_QPA_PLATFORM_PLUGIN_PATH": "/opt/qt6/plugins"}
    assert neutralise_opencv_qt_env(mine) == [] and mine == {
        "QT_QPA_PLATFORM_PLUGIN_PATH": "/opt/qt6/plugins"
    }


def test_main_reports_missing_library_instead_of_aborting(tmp_path: Path) -> None:
    """A fake `ldd` says two X11 libraries are missing: main.py exits 2 with the apt-get line
    before Qt is ever loaded (a real missing library would make Qt abort with exit 134)."""
    fake = tmp_path / "ldd"
    fake.write_text(f"#!/bin/sh\ncat <<'EOF'\n{LDD_MISSING_TWO}EOF\n")
    fake.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("QT_")}
    env.update(PATH=f"{tmp_path}:{env['PATH']}", DISPLAY=":99")
    done = subprocess.run(
        [sys.executable, str(REPO / "main.py"), "--source", "sample", "--quit-after", "1"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "sudo apt-get install -y libxcb-icccm4 libxcb-keysyms1" in errors[0]
    assert "qt.qpa" not in done.stderr  # Qt never started


def test_native_log_filter_drops_mediapipe_noise_keeps_the_rest() -> None:
    code = r"""
import os, sys
from stdformer.native_logs import NativeLogFilter
f = NativeLogFilter().start()
os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
os.write(2, b"WARNING: Logging before InitGoogle() is written to STDERR\n")
os.write(2, b"W0000 00:00:1795968558.179984    4867 inference_feedback_manager.cc:121] Feedback\n")
os.write(2, b"E0000 00:00:1795968558.179984    4867 graph.cc:1] a real error\n")
print("python warning line", file=sys.stderr, flush=True)
os.write(2, b"no newline at the end")
f.stop()
print("dropped", f.dropped)
"""
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        "E0000 00:00:1795968558.179984    4867 graph.cc:1] a real error",
        "python warning line",
        "no newline at the end",
    ]
    assert done.stdout.strip() == "dropped 3"


def test_native_log_filter_drops_ffmpeg_lines_and_shows_progress_bars_as_drawn() -> None:
    code = r"""
import os, time
from stdformer.native_logs import NativeLogFilter
f = NativeLogFilter().start()
os.write(2, b"[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55d9cf19a780] moov atom not found\n")
os.write(2, b"\rprocess:  50%|#####     | 1/2")  # tqdm redraws its line, no newline yet
time.sleep(0.5)
os.write(1, b"printed after the bar\n")
f.stop()
"""
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout
    assert done.stdout == b"\rprocess:  50%|#####     | 1/2printed after the bar\n"
