"""Recording from the window (Record button / Ctrl+R), its status, a clean stop, and the
playback window (seek, step, play) drawing the recorded body. Offscreen, with a checkpoint."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.config import AppConfig
from app.main_window import MainWindow
from app.playback import PlaybackWindow
from stdformer.recording import RecordingInfo, RecordingWriter, open_recording
from stdformer.session.pipeline import PipelineConfig
from tests.app.test_live_mesh_view import body_pixels
from tests.recording.synthetic import (
    SPHERE_FACES,
    SPHERE_VERTICES,
    synthetic_record,
    write_synthetic,
)


def test_record_button_writes_a_readable_recording(
    qtbot, placed_weights: Path, tmp_path: Path
) -> None:
    pipeline = PipelineConfig(weights=str(placed_weights), device="cpu")
    window = MainWindow(AppConfig(pipeline=pipeline), [], initial_source="sample")
    qtbot.addWidget(window)
    bar = window.record_bar
    bar.settings.setValue("record/folder", str(tmp_path / "takes"))
    assert not bar.start_recording()  # nothing running yet: refused with a message
    window.start()
    qtbot.waitUntil(lambda: window.worker.session.mesh_status != "", timeout=60_000)
    bar.toggle_by_key()  # Ctrl+R
    assert bar.recorder is not None and bar.record_button.isChecked()
    qtbot.waitUntil(lambda: bar.recorder.status().frames >= 15, timeout=60_000)
    bar._update_status()
    assert bar.status.text().strip().startswith("● REC") and "frames" in bar.status.text()
    bar.toggle_by_key()
    assert bar.recorder is None and not bar.record_button.isChecked()
    rec = open_recording(bar.last_recording)
    assert rec.complete and len(rec) >= 15 and rec.has_mesh.sum() >= 10
    assert rec.has_source_video and rec.header.info.weights == placed_weights.name
    assert np.all(np.diff(rec.frame_index) >= 1)  # in order, each frame once
    # the fitted body is recorded as its parameters (1.6 kB a frame): played back, it is posed
    assert not rec.header.stores_vertices and rec.has_body[rec.has_mesh].all()
    assert (rec.path / "frames.bin").stat().st_size < 2_000 * len(rec)
    player = bar.open_playback(bar.last_recording)
    assert isinstance(player, PlaybackWindow)
    qtbot.addWidget(player)
    first = int(np.flatnonzero(rec.has_mesh)[0])
    player.seek(first)
    qtbot.waitUntil(lambda: player.shown_position == first, timeout=30_000)
    assert body_pixels(player.view.pixmap().toImage()) > 200  # the recorded body, posed
    player.close()
    window.stop()
    window.close()


def test_playback_seeks_steps_and_plays(qtbot, tmp_path: Path) -> None:
    rec = open_recording(write_synthetic(tmp_path, 60, missing=(10, 11)))
    window = PlaybackWindow(rec)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.shown_position == 0, timeout=30_000)
    assert body_pixels(window.view.pixmap().toImage()) > 200  # the sphere in the 3D view
    window.seek(10)  # no mesh at 10: said so, the view is the empty grid
    assert "no mesh" in window.frame_label.text()
    assert window.frame_label.text().startswith("frame 11/60  0.33 s / 1.97 s")
    qtbot.waitUntil(lambda: window.shown_position == 10, timeout=10_000)
    assert body_pixels(window.view.pixmap().toImage()) < 20
    window.step(+5)
    assert window.position == 15 and window.slider.value() == 15
    window.speed.setCurrentIndex(window.speed.findData(2.0))
    window.toggle_play()
    assert window.playing
    qtbot.waitUntil(lambda: window.position >= 40, timeout=10_000)  # 2x: 25 frames in ~0.4 s
    window.close()


def test_playback_counts_frames_from_the_take_start(qtbot, tmp_path: Path) -> None:
    """A take started at source frame 938 of a video shows "frame 1", not "frame 938"."""
    info = RecordingInfo(fps=25.0, source="busy camera", image_size_wh=(640, 480))
    with RecordingWriter.create(tmp_path, info, SPHERE_FACES, len(SPHERE_VERTICES)) as writer:
        for i in range(938, 978, 4):  # 1 frame in 4 kept (busy machine)
            r = synthetic_record(i - 938)
            writer.write(type(r)(**{**r.__dict__, "index": i, "t_ns": i * 40_000_000}))
    window = PlaybackWindow(open_recording(writer.path))
    qtbot.addWidget(window)
    assert window.frame_label.text().startswith("frame 1/10  0.00 s / 1.44 s")
    assert "938" in window.frame_label.toolTip()
    window.step(+2)
    assert window.frame_label.text().startswith("frame 3/10  0.32 s")
    window.close()
