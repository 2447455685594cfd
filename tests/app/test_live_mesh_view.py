"""The live mesh in the window (offscreen, with an untrained checkpoint): mesh results arrive, the
overlay and the 3D view draw it (checked on pixels), toggles work, a lost subject leaves nothing
stale on screen and comes back cleanly, and the controls are kept between runs."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PyQt6.QtCore import QSettings
from PyQt6.QtGui import QImage

from app.config import AppConfig
from app.main_window import NO_PERSON_VIDEO, MainWindow
from stdformer.paths import resolve_file
from stdformer.session.pipeline import PipelineConfig, default_lookahead


def pixels(image: QImage) -> np.ndarray:  # (H, W, 3) uint8 RGB
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    ptr = rgb.constBits()
    ptr.setsize(rgb.sizeInBytes())
    rows = np.frombuffer(ptr, np.uint8).reshape(rgb.height(), rgb.bytesPerLine())
    return rows[:, : 3 * rgb.width()].reshape(rgb.height(), rgb.width(), 3).copy()


def body_pixels(image: QImage | None) -> int:
    """Pixels of the bluish body colour in a 3D view image (the grid and background are grey)."""
    if image is None:
        return 0
    rgb = pixels(image).astype(int)
    return int(((rgb.min(axis=2) > 90) & (rgb[..., 2] - rgb[..., 0] > 12)).sum())


@pytest.fixture
def lost_and_found_clip(tmp_path: Path) -> Path:
    """Sample clip frames with a person (10), 75 black frames (2.5 s), the person again (15).

    The gap is long enough for a busy CPU to draw a few frames of it (the display keeps only
    the newest result)."""
    cap = cv2.VideoCapture(str(resolve_file("sample_clip")))
    frames = []
    for _ in range(25):
        ok, image = cap.read()
        assert ok
        frames.append(image)
    cap.release()
    sequence = frames[:10] + [np.zeros_like(frames[0])] * 75 + frames[10:]
    folder = tmp_path / "lost_and_found"
    folder.mkdir()
    for i, image in enumerate(sequence):
        cv2.imwrite(str(folder / f"f{i:03d}.png"), image)
    return folder


def mesh_window(qtbot, weights: Path, source: str, **config) -> MainWindow:
    pipeline = PipelineConfig(weights=str(weights), device="cpu")
    window = MainWindow(AppConfig(pipeline=pipeline, **config), [], initial_source=source)
    qtbot.addWidget(window)
    window.resize(1200, 500)
    window.show()
    return window


@pytest.mark.slow
def test_mesh_is_drawn_over_the_video_and_in_the_3d_view(qtbot, placed_weights: Path) -> None:
    window = mesh_window(qtbot, placed_weights, "sample")
    arrived = []  # what the display thread composed for each frame it handed over
    set_frame = window.video.set_frame

    def spy(*args, **kw) -> None:
        arrived.append(args[4] if len(args) > 4 else kw.get("composed"))
        set_frame(*args, **kw)

    window.video.set_frame = spy
    window.start()
    qtbot.waitUntil(lambda: window.video.has_mesh, timeout=60_000)
    qtbot.waitUntil(lambda: body_pixels(window.view3d._image) > 500, timeout=30_000)
    assert "body mesh" in window.mesh_text
    # The display thread composes each frame for the video panel as it is (the GUI thread
    # only copies it), and for its new size after a resize.
    assert arrived[-1] is not None and arrived[-1].target == window.video.target()
    window.resize(900, 500)
    qtbot.waitUntil(lambda: arrived[-1].target == window.video.target(), timeout=10_000)
    w, h = window.video.target().frame_size(640, 480)
    assert (arrived[-1].image.width(), arrived[-1].image.height()) == (w, h)
    window.stop()  # freeze the last frame: compare the same frame with and without the mesh

    with_mesh = pixels(window.video.grab().toImage()).astype(int)
    window.mesh_check.setChecked(False)
    without = pixels(window.video.grab().toImage()).astype(int)
    changed = (np.abs(with_mesh - without).sum(axis=2) > 30).sum()
    assert changed > 2000  # the mesh covers the person
    window.mesh_check.setChecked(True)
    window.opacity.setValue(0)  # opacity 0: the video as it is
    assert (np.abs(pixels(window.video.grab().toImage()).astype(int) - without) > 3).sum() < 50

    window._update_status()
    text = window.status_label.text()
    assert "model" in text and "overlay" in text and "mesh" in text
    window.close()


@pytest.mark.slow
def test_lost_subject_clears_the_views_and_comes_back(
    qtbot, placed_weights: Path, lost_and_found_clip: Path
) -> None:
    window = mesh_window(qtbot, placed_weights, str(lost_and_found_clip), loop=False)
    states: list[tuple[str, bool, int, str]] = []

    def record() -> None:
        shown = window.video.has_mesh
        subject = window.shown.subject if window.shown is not None else "-"
        states.append((subject, shown, body_pixels(window.view3d._image), window.view3d._message))

    window.start()
    window.display.frame_ready.connect(record)  # runs after the window drew the frame
    qtbot.waitUntil(lambda: "Finished" in window.state_label.text(), timeout=120_000)
    qtbot.wait(300)
    record()
    absent = [s for s in states if s[0] == "absent"]
    summary = window.stats.summary()
    assert absent, f"the subject was never reported gone: {[s[0] for s in states]}, {summary}"
    assert all(not shown and body < 50 for _, shown, body, _ in absent), states  # none stale
    assert any(message == NO_PERSON_VIDEO for *_, message in absent)  # a file: no "step into"
    first_absent = states.index(absent[0])
    assert any(shown and body > 500 for _, shown, body, _ in states[:first_absent])
    subject, shown, body, _ = states[-1]
    assert subject == "tracking" and shown and body > 500  # the mesh is back
    window.close()


@pytest.mark.slow
def test_the_3d_view_says_when_hidden_legs_are_posed(qtbot, placed_weights, desk_clip) -> None:
    """Legs out of view at a desk are shown seated (or standing): the 3D view says so and
    names the menu that changes it, instead of a silent guess."""
    window = mesh_window(qtbot, placed_weights, str(desk_clip))
    window.start()
    said = "legs out of view: shown seated"
    qtbot.waitUntil(lambda: said in window.view3d._message, timeout=60_000)
    assert "Hidden legs menu" in window.view3d._message
    window.close()


def test_controls_are_kept_between_runs(qtbot, tmp_path: Path, placed_weights: Path) -> None:
    settings = QSettings(str(tmp_path / "app.ini"), QSettings.Format.IniFormat)
    window = MainWindow(AppConfig(), [], initial_source="sample", settings=settings)
    qtbot.addWidget(window)
    window.controls.model.set_path(str(placed_weights))
    window.controls.model.picked.emit()
    assert window.session_config().pipeline.lookahead == default_lookahead()  # the default
    window.controls.lookahead.setValue(3)
    assert window.session_config().pipeline.body_output == "refined"  # the default mesh
    window.controls.output.setCurrentIndex(window.controls.output.findData("raw"))
    window.controls.output.activated.emit(window.controls.output.currentIndex())
    assert window.session_config().pipeline.hidden_legs == "seated"  # the default
    window.controls.legs.setCurrentIndex(window.controls.legs.findData("standing"))
    window.controls.legs.activated.emit(window.controls.legs.currentIndex())
    assert window.session_config().pipeline.fov_deg == 60.0  # the default
    window.controls.fov.setValue(72.5)
    window.controls.smoothing.setValue(40)
    window.controls.device.setCurrentIndex(window.controls.device.findData("cpu"))
    window.controls.device.activated.emit(window.controls.device.currentIndex())
    window.opacity.setValue(35)
    window.landmark_check.setChecked(False)
    window.close()

    again = MainWindow(AppConfig(), [], initial_source="sample", settings=settings)
    qtbot.addWidget(again)
    config = again.session_config()
    assert config.pipeline.weights == str(placed_weights)
    assert config.pipeline.lookahead == 3 and config.pipeline.device == "cpu"
    assert config.pipeline.body_output == "raw"  # the network's own vertices, one menu away
    assert config.pipeline.hidden_legs == "standing" and config.pipeline.fov_deg == 72.5
    assert config.smoothing == pytest.approx(0.4)
    assert again.opacity.value() == 35 and again.video.mesh_opacity == pytest.approx(0.35)
    assert not again.landmark_check.isChecked() and not again.video.show_landmarks
    again.close()

    # An option given on the command line wins over the saved choice for that run.
    cli = AppConfig(pipeline=PipelineConfig(device="cuda:1", lookahead=5, body_output="fit"))
    third = MainWindow(cli, [], initial_source="sample", settings=settings)
    qtbot.addWidget(third)
    assert third.session_config().pipeline.device == "cuda:1"
    assert third.session_config().pipeline.lookahead == 5
    assert third.session_config().pipeline.body_output == "fit"
    third.close()
    cli = AppConfig(pipeline=PipelineConfig(hidden_legs="standing", fov_deg=59.5))
    settings.setValue("model/hidden_legs", "seated")
    fourth = MainWindow(cli, [], initial_source="sample", settings=settings)
    qtbot.addWidget(fourth)
    assert fourth.session_config().pipeline.hidden_legs == "standing"
    assert fourth.session_config().pipeline.fov_deg == 59.5  # --fov 59.5 over the saved 72.5
    fourth.close()
