"""Main window: wires the source picker, video view, 3D view and status bar to the workers."""

from __future__ import annotations

import logging
from pathlib import Path

from PyQt6.QtCore import QTimer
from PyQt6.QtGui import QCloseEvent
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSplitter,
    QToolBar,
)

from app.video_view import VideoView
from app.view3d import View3D
from app.workers import ProcessedFrame, ProcessingThread, RenderThread
from stdformer.config import AppConfig
from stdformer.live.stats import RunStats

log = logging.getLogger(__name__)
SAMPLE = "sample"
OPEN_FILE = "__open_file__"


class MainWindow(QMainWindow):
    def __init__(self, config: AppConfig, cameras: list[int], initial_source: str) -> None:
        super().__init__()
        self.config = config
        self.stats = RunStats()
        self.processing: ProcessingThread | None = None
        self.render_thread: RenderThread | None = None
        self.last_error: str | None = None
        self.mesh_text = ""
        self.setWindowTitle("STDFormer live — 3D motion capture")
        self.resize(1280, 600)

        self.video = VideoView()
        self.view3d = View3D()
        split = QSplitter()
        split.addWidget(self.video)
        split.addWidget(self.view3d)
        split.setSizes([700, 580])
        self.setCentralWidget(split)

        bar = QToolBar("Capture")
        bar.setMovable(False)
        self.addToolBar(bar)
        self.source_box = QComboBox()
        for i in cameras:
            self.source_box.addItem(f"Camera {i}", str(i))
        self.source_box.addItem("Sample clip", SAMPLE)
        self.source_box.addItem("Open video file…", OPEN_FILE)
        if initial_source not in (SAMPLE, *map(str, cameras)):
            self.source_box.insertItem(0, Path(initial_source).name, initial_source)
        self.source_box.setCurrentIndex(max(0, self.source_box.findData(initial_source)))
        self.source_box.activated.connect(self._source_picked)
        bar.addWidget(QLabel(" Source: "))
        bar.addWidget(self.source_box)
        self.start_button = QPushButton("Start")
        self.stop_button = QPushButton("Stop")
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        bar.addWidget(self.start_button)
        bar.addWidget(self.stop_button)
        bar.addSeparator()
        self.box_check = QCheckBox("Person box")
        self.landmark_check = QCheckBox("Landmarks")
        for check, attr in ((self.box_check, "show_box"), (self.landmark_check, "show_landmarks")):
            check.setChecked(True)
            check.toggled.connect(lambda on, a=attr: self._set_overlay(a, on))
            bar.addWidget(check)

        self.status_label = QLabel()
        self.state_label = QLabel()
        self.statusBar().addWidget(self.status_label, 1)
        self.statusBar().addPermanentWidget(self.state_label)
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._update_status)
        self._timer.start(500)
        self._update_buttons()

    # --- actions -------------------------------------------------------------------------
    def current_source(self) -> str:
        return str(self.source_box.currentData())

    def start(self) -> None:
        self.stop()
        spec = self.current_source()
        self.last_error = None
        self.video.clear(f"Opening {spec}…")
        self.render_thread = RenderThread(self.stats)
        self.render_thread.image_ready.connect(self.view3d.set_image)
        self.render_thread.failed.connect(self.view3d.set_message)
        self.view3d.orbit_requested.connect(self.render_thread.orbit)
        self.view3d.zoom_requested.connect(self.render_thread.zoom)
        self.view3d.reset_requested.connect(self.render_thread.reset_view)
        self.view3d.resized.connect(self.render_thread.resize)
        self.render_thread.resize(self.view3d.width(), self.view3d.height())
        self.processing = ProcessingThread(spec, self.config.loop, self.config.pipeline, self.stats)
        self.processing.on_result = self.render_thread.submit
        self.processing.mesh_status.connect(self._mesh_status)
        self.processing.frame_processed.connect(self._show_frame)
        self.processing.status_changed.connect(self.state_label.setText)
        self.processing.failed.connect(self._show_error)
        self.processing.finished.connect(self._update_buttons)
        self.render_thread.start()
        self.processing.start()
        self._update_buttons()

    def stop(self) -> None:
        for name in ("processing", "render_thread"):
            worker = getattr(self, name)
            if worker is not None:
                worker.stop()
                worker.wait(5000)
                setattr(self, name, None)
        self._update_buttons()

    # --- slots ----------------------------------------------------------------------------
    def _source_picked(self, index: int) -> None:
        if self.source_box.itemData(index) == OPEN_FILE:
            path, _ = QFileDialog.getOpenFileName(
                self, "Open video", "", "Videos (*.mp4 *.avi *.mov *.mkv *.webm);;All files (*)"
            )
            if not path:
                return
            self.source_box.insertItem(0, Path(path).name, path)
            self.source_box.setCurrentIndex(0)
        self.start()

    def _mesh_status(self, text: str) -> None:
        self.mesh_text = text
        if self.processing is not None and self.render_thread is not None:
            self.render_thread.set_faces(self.processing.faces)

    def _show_frame(self, result: ProcessedFrame) -> None:
        self.video.set_frame(result.image, result.observation)
        if result.observation is None:
            self.view3d.set_message("No person in view — step into the frame")
        elif result.mesh is not None:
            self.view3d.set_message(f"{self.mesh_text} (drag: orbit, wheel: zoom)")
        else:
            self.view3d.set_message(
                f"MediaPipe world landmarks — {self.mesh_text} (drag: orbit, wheel: zoom)"
            )

    def _show_error(self, message: str) -> None:
        self.last_error = message
        log.error(message)
        self.video.clear(message)
        self.state_label.setText("stopped")
        if self.isVisible() and self.config.quit_after_s is None:
            QMessageBox.warning(self, "STDFormer live", message)

    def _set_overlay(self, attr: str, on: bool) -> None:
        setattr(self.video, attr, on)
        self.video.update()

    def _update_buttons(self) -> None:
        running = self.processing is not None and self.processing.isRunning()
        self.start_button.setEnabled(not running)
        self.stop_button.setEnabled(running)

    def _update_status(self) -> None:
        def ms(stage: str) -> str:
            v = self.stats.recent_median(stage)
            return "–" if v is None else f"{v:.0f} ms"

        s = self.stats
        cap = self.processing.capture_status if self.processing is not None else None
        capture = f"capture {cap.fps:.1f} fps, dropped {cap.frames_dropped}" if cap else "idle"
        self.status_label.setText(
            f"{capture} | processed {s.fps():.1f} fps | localize {ms('localize')} | "
            f"render {ms('render')} | latency {ms('latency')} | "
            f"frames {s.frames_seen}, with person {s.frames_with_person}"
        )

    def closeEvent(self, event: QCloseEvent) -> None:
        self.stop()
        if self.config.stats_json:
            self.stats.write_json(self.config.stats_json, {"error": self.last_error})
        super().closeEvent(event)
