"""Offscreen smoke tests of the GUI: open, run the sample clip, status updates, stop, close."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.application import choose_initial_source
from app.config import AppConfig
from app.main_window import SAMPLE, MainWindow
from stdformer.paths import REPO_ROOT

MAIN = [sys.executable, "main.py"]


def test_falls_back_to_sample_clip_without_camera() -> None:
    source, note = choose_initial_source(AppConfig(max_camera_index=3), cameras=[])
    assert source == SAMPLE
    assert "0-3" in note and "--source" in note


def test_explicit_source_wins() -> None:
    source, note = choose_initial_source(AppConfig(source="clip.mp4"), cameras=[0])
    assert (source, note) == ("clip.mp4", None)


def test_window_runs_sample_clip_and_stops(qtbot, tmp_path: Path) -> None:
    stats_path = tmp_path / "stats.json"
    window = MainWindow(AppConfig(stats_json=str(stats_path)), cameras=[], initial_source=SAMPLE)
    qtbot.addWidget(window)
    window.show()
    window.start()
    assert not window.start_button.isEnabled() and window.stop_button.isEnabled()
    qtbot.waitUntil(lambda: window.stats.frames_with_person >= 5, timeout=60_000)
    qtbot.waitUntil(lambda: window.view3d._image is not None, timeout=30_000)
    window._update_status()
    text = window.status_label.text()
    assert "fps" in text and "localize" in text and "ms" in text
    assert window.video.composed is not None and window.video._obs is not None

    # The overlay toggles change what the video view draws.
    window.landmark_check.setChecked(False)
    assert window.video.show_landmarks is False

    window.stop()
    assert window.worker is None and window.start_button.isEnabled()
    window.close()
    stats = json.loads(stats_path.read_text())
    assert stats["frames_seen"] >= 5 and stats["frames_with_person"] >= 5
    assert stats["frames_displayed"] >= 1 and stats["display_fps"] > 0
    assert (
        stats["latency_ms"]["p50"] > 0 and stats["latency_ms"]["p90"] >= stats["latency_ms"]["p50"]
    )
    assert stats["median_ms"]["localize"] > 0 and stats["median_ms"]["render"] > 0
    assert "dropped" in stats


def test_bad_source_reports_error_instead_of_crashing(qtbot, tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.mp4")
    window = MainWindow(AppConfig(quit_after_s=1.0), cameras=[], initial_source=missing)
    qtbot.addWidget(window)
    window.start()
    qtbot.waitUntil(lambda: window.last_error is not None, timeout=20_000)
    assert "nope.mp4" in window.last_error
    qtbot.waitUntil(lambda: window.start_button.isEnabled(), timeout=5_000)
    window.close()


@pytest.mark.slow
def test_main_cli_quit_after_writes_stats(tmp_path: Path) -> None:
    stats_path = tmp_path / "run.json"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "config"))
    proc = subprocess.run(
        [*MAIN, "--source", "sample", "--quit-after", "12", "--stats-json", str(stats_path)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    stats = json.loads(stats_path.read_text())
    assert stats["frames_seen"] > 0 and stats["frames_with_person"] > 0
    assert "Traceback" not in proc.stderr


def test_main_cli_missing_file_is_one_clear_line(tmp_path: Path) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "config"))
    proc = subprocess.run(
        [*MAIN, "--source", "sample", "--pose-model", str(tmp_path / "missing.task")],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "missing.task" in proc.stderr and "Traceback" not in proc.stderr
