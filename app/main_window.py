"""Main window: wires the source picker, video view, 3D view and status bar to the workers."""

from __future__ import annotations

import logging
from pathlib import Path

from PyQt6.QtCore import Qt, QThread, QTimer
from PyQt6.QtGui import QCloseEvent, QKeySequence, QShortcut
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
STOP_WAIT_MS = 1000  # per worker on Stop; one still busy (loading a model) finishes alone
VIEW_HINT = "drag: orbit · wheel: zoom · double-click: reset"


def source_label(spec: str) -> str:
    """What the source picker shows for a source spec (camera index, 'sample' or a path)."""
    if spec.strip().isdigit():
        return f"Camera {int(spec)}"
    if spec.strip().lower() == SAMPLE:
        return "Sample clip"
    return Path(spec).name or spec


class MainWindow(QMainWindow):
    def __init__(self, config: AppConfig, cameras: list[int], initial_source: str) -> None:
        super().__init__()
        self.config = config
        self.stats = RunStats()
        self.processing: ProcessingThread | None = None
        self.render_thread: RenderThread | None = None
        self.last_error: str | None = None
        self.mesh_text = ""
        self.render_error: str | None = None  # the 3D view cannot draw (e.g. no OpenGL)
        # Nobody is watching (--quit-after, or no display): an error or the end of a file
        # closes the window instead of waiting for a click.
        self.unattended = config.quit_after_s is not None
        self._retired: list[QThread] = []  # stopped workers that had not finished in time
        self._orbit = None  # the 3D view's camera, kept across Stop/Start
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
            self.source_box.addItem(source_label(str(i)), str(i))
        self.source_box.addItem(source_label(SAMPLE), SAMPLE)
        self.source_box.addItem("Open video file…", OPEN_FILE)
        self._select_source(initial_source)
        self._picked_index = self.source_box.currentIndex()
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
        QShortcut(QKeySequence.StandardKey.Quit, self, activated=self.close)
        self._update_buttons()

    # --- actions -------------------------------------------------------------------------
    def current_source(self) -> str:
        return str(self.source_box.currentData())

    def start(self) -> None:
        self.stop()
        spec = self.current_source()
        self.last_error = self.render_error = None
        self.stats = RunStats()  # one run per Start: rates and --stats-json skip stopped time
        self.state_label.setText("")
        self.video.clear(f"Opening {source_label(spec)}…")
        self.view3d.set_message(f"3D view: waiting for a person ({VIEW_HINT})")
        self.render_thread = RenderThread(self.stats, orbit=self._orbit)
        self.render_thread.image_ready.connect(self.view3d.set_image)
        self.render_thread.failed.connect(self._render_failed)
        self.view3d.orbit_requested.connect(self.render_thread.orbit)
        self.view3d.zoom_requested.connect(self.render_thread.zoom)
        self.view3d.reset_requested.connect(self.render_thread.reset_view)
        self.view3d.resized.connect(self.render_thread.resize)
        self.render_thread.resize(*self.view3d.device_size())
        self.processing = ProcessingThread(spec, self.config.loop, self.config.pipeline, self.stats)
        self.processing.on_result = self.render_thread.submit
        self.processing.mesh_status.connect(self._mesh_status)
        self.processing.frame_processed.connect(self._show_frame)
        self.processing.status_changed.connect(self.state_label.setText)
        self.processing.failed.connect(self._show_error)
        self.processing.ended.connect(self._show_end)
        self.processing.finished.connect(self._update_buttons)
        self.render_thread.start()
        self.processing.start()
        self._update_buttons()

    def stop(self) -> None:
        self._stop_workers(STOP_WAIT_MS)

    def _stop_workers(self, wait_ms: int | None) -> None:
        """Stop both workers; wait up to `wait_ms` each (None: until they end)."""
        was_running = self.processing is not None and self.processing.isRunning()
        if self.render_thread is not None:
            self._orbit = self.render_thread.orbit_camera
            for signal in (
                self.view3d.orbit_requested,
                self.view3d.zoom_requested,
                self.view3d.reset_requested,
                self.view3d.resized,
            ):
                signal.disconnect()
        for name in ("processing", "render_thread"):
            worker = getattr(self, name)
            if worker is not None:
                worker.stop()
                if not (worker.wait() if wait_ms is None else worker.wait(wait_ms)):
                    # Dropping a running QThread aborts the process: keep it until it ends,
                    # and do not let the run the user stopped report into the next one.
                    log.warning("%s is still finishing; it will stop on its own", name)
                    for signal in ("frame_processed", "mesh_status", "status_changed", "failed"):
                        if hasattr(worker, signal):
                            getattr(worker, signal).disconnect()
                    self._retired.append(worker)
                    worker.finished.connect(lambda w=worker: self._retired.remove(w))
                setattr(self, name, None)
        if was_running:  # an end of file or an error keeps its own message
            self.state_label.setText("stopped")
            self.view3d.set_message("Stopped. Press Start to continue.")
        self._update_buttons()

    # --- slots ----------------------------------------------------------------------------
    def _select_source(self, spec: str) -> None:
        """Make `spec` the current source, adding it to the picker once."""
        if self.source_box.findData(spec) < 0:
            self.source_box.insertItem(0, source_label(spec), spec)
            self.source_box.setItemData(0, spec, Qt.ItemDataRole.ToolTipRole)
        self.source_box.setCurrentIndex(self.source_box.findData(spec))

    def _source_picked(self, index: int) -> None:
        if self.source_box.itemData(index) == OPEN_FILE:
            path = self._ask_video_file()
            if not path:  # cancelled: keep the source that was there
                self.source_box.setCurrentIndex(self._picked_index)
                return
            self._select_source(path)
        self._picked_index = self.source_box.currentIndex()
        self.start()

    def _ask_video_file(self) -> str:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open video", "", "Videos (*.mp4 *.avi *.mov *.mkv *.webm);;All files (*)"
        )
        return path

    def _mesh_status(self, text: str) -> None:
        self.mesh_text = text
        if self.processing is not None and self.render_thread is not None:
            self.render_thread.set_faces(self.processing.faces)

    def _show_frame(self, result: ProcessedFrame) -> None:
        self.video.set_frame(result.image, result.observation)
        if self.render_error is not None:
            return  # keep saying why the 3D view is empty
        if result.observation is None:
            self.view3d.set_message("No person in view — step into the frame")
        elif result.mesh is not None:
            self.view3d.set_message(f"{self.mesh_text}\n{VIEW_HINT}")
        elif self.processing is not None and self.processing.faces is not None:
            self.view3d.set_message(f"Body mesh starting (filling the frame window)\n{VIEW_HINT}")
        else:
            self.view3d.set_message(
                f"3D skeleton from MediaPipe world landmarks ({self.mesh_text})\n{VIEW_HINT}"
            )

    def _show_error(self, message: str) -> None:
        self.last_error = message
        log.error(message)
        self.video.clear(f"{message}\n\nPick another source and press Start.")
        self.view3d.set_message("Stopped.")
        self.state_label.setText("stopped after an error")
        if self.unattended:  # fail now, exit code 1
            QTimer.singleShot(0, self.close)
        elif self.isVisible():
            QMessageBox.warning(self, "STDFormer live", message)

    def _render_failed(self, message: str) -> None:
        self.render_error = message
        log.error(message)
        self.view3d.set_message(message)

    def _show_end(self, message: str) -> None:
        self.state_label.setText(message)
        if self.unattended:  # a whole file was processed: done
            QTimer.singleShot(0, self.close)

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
        running = self.processing is not None and self.processing.isRunning()
        cap = self.processing.capture_status if running else None
        if cap is None:  # stopped, ended or still opening: no rates that are not happening
            rates = "capture –" if running else "not running"
        else:
            rates = (
                f"capture {cap.fps:.1f} fps, dropped {cap.frames_dropped} | "
                f"processed {s.fps():.1f} fps"
            )
        mesh = f" | mesh {ms('mesh')}" if s.recent_median("mesh") is not None else ""
        self.status_label.setText(
            f"{rates} | localize {ms('localize')}{mesh} | render {ms('render')} | "
            f"latency {ms('latency')} | frames {s.frames_seen}, with person {s.frames_with_person}"
        )

    def closeEvent(self, event: QCloseEvent) -> None:
        self._stop_workers(None)  # the process must not exit under a running thread
        for worker in list(self._retired):
            worker.wait()
        if self.config.stats_json:
            try:
                self.stats.write_json(self.config.stats_json, {"error": self.last_error})
            except OSError as e:
                log.error("could not write --stats-json %s: %s", self.config.stats_json, e)
        super().closeEvent(event)
