"""Main window: wires the source picker, controls, video view, 3D view and status bar to the
live session (through the adapters in app/workers.py)."""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

from PyQt6.QtCore import QSettings, Qt, QTimer
from PyQt6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSlider,
    QSplitter,
    QToolBar,
)

from app.config import AppConfig
from app.controls import ControlsBar, settings_bool
from app.record_bar import RecordBar
from app.status import StatusLabel, status_text
from app.video_view import VideoView
from app.view3d import HINT, View3D
from app.vmc_bar import VmcBar
from app.workers import DisplayThread, SessionWorker
from stdformer.render.views import ViewControl
from stdformer.session.core import PickSubject, SessionConfig, SessionResult, SetSmoothing
from stdformer.session.pipeline import MeshStage, PipelineConfig
from stdformer.session.session import SessionEvent
from stdformer.session.stats import RunStats

log = logging.getLogger(__name__)
NO_PERSON_CAMERA = "No person in view — step into the frame"
NO_PERSON_VIDEO = "No person in view in the video at this point"
SAMPLE = "sample"
OPEN_FILE = "__open_file__"
STOP_WAIT_S = 1.0  # on Stop; a session still loading models finishes alone
ORG, APP = "stdformer", "stdformer-live"


def _same_files(a: PipelineConfig, b: PipelineConfig) -> bool:
    return (a.weights, a.body_model, a.mesh_levels) == (b.weights, b.body_model, b.mesh_levels)


def source_label(spec: str) -> str:
    """What the source picker shows for a source spec (camera index, 'sample' or a path)."""
    if spec.strip().isdigit():
        return f"Camera {int(spec)}"
    if spec.strip().lower() == SAMPLE:
        return "Sample clip"
    return Path(spec).name or spec


class MainWindow(QMainWindow):
    def __init__(
        self,
        config: AppConfig,
        cameras: list[int],
        initial_source: str,
        settings: QSettings | None = None,
        preloaded: MeshStage | None = None,
    ) -> None:
        super().__init__()
        self._preloaded = preloaded  # the mesh stage of config.pipeline, for the first Start
        self.config = config
        self.settings = settings if settings is not None else QSettings(ORG, APP)
        self.stats = RunStats()
        self.worker: SessionWorker | None = None
        self.display: DisplayThread | None = None
        self.last_error: str | None = None
        self.mesh_text = ""
        self._device = ""  # where the network runs, for --stats-json
        self.shown: SessionResult | None = None  # the result on screen
        self.render_error: str | None = None  # the 3D view cannot draw (e.g. no OpenGL)
        # Nobody is watching (--quit-after, or no display): an error or the end of a file
        # closes the window instead of waiting for a click.
        self.unattended = config.quit_after_s is not None
        self._retired: list[SessionWorker] = []  # stopped sessions still loading models
        self._control = ViewControl()  # the 3D view, kept across Stop/Start
        self.setWindowTitle("STDFormer live — 3D motion capture")
        self.resize(1400, 640)

        self.video = VideoView()
        self.video.image_clicked.connect(self._pick_subject)
        self.view3d = View3D()
        split = QSplitter()
        split.addWidget(self.video)
        split.addWidget(self.view3d)
        split.setSizes([760, 640])
        self.setCentralWidget(split)
        self._build_capture_bar(cameras, initial_source)
        self.addToolBarBreak()
        self.controls = ControlsBar(config, self.settings, self)
        self.controls.reload_needed.connect(self._reload)
        self.controls.smoothing_changed.connect(self._set_smoothing)
        self.addToolBar(self.controls)
        self.addToolBarBreak()
        self.record_bar = RecordBar(self.settings, self, self.controls.body_model)
        self.record_bar.message.connect(lambda text: self.statusBar().showMessage(text, 10_000))
        self.addToolBar(self.record_bar)
        self.vmc_bar = VmcBar(self.settings, config.vmc, self)
        self.addToolBar(self.vmc_bar)

        self.status_label = StatusLabel()
        self.state_label = QLabel()
        self.statusBar().addWidget(self.status_label, 1)
        self.statusBar().addPermanentWidget(self.state_label)
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._update_status)
        self._timer.start(500)
        QShortcut(QKeySequence.StandardKey.Quit, self, activated=self.close)
        for signal, change in (
            (self.view3d.orbit_requested, lambda c, a, e: c.orbit(a, e)),
            (self.view3d.pan_requested, lambda c, r, u: c.panned(r, u)),
            (self.view3d.zoom_requested, lambda c, f: c.zoomed(f)),
            (self.view3d.reset_requested, lambda c: ViewControl()),
        ):
            signal.connect(lambda *a, ch=change: self._change_view(ch, *a))
        self.view3d.resized.connect(self._view_resized)
        self.video.target_changed.connect(self._video_target_changed)
        self._update_buttons()

    def _build_capture_bar(self, cameras: list[int], initial_source: str) -> None:
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
        self.mesh_check = QCheckBox("Mesh")
        self.landmark_check = QCheckBox("Landmarks")
        self.box_check = QCheckBox("Person box")
        for check, attr in (
            (self.mesh_check, "show_mesh"),
            (self.landmark_check, "show_landmarks"),
            (self.box_check, "show_box"),
        ):
            check.setChecked(settings_bool(self.settings, f"view/{attr}", True))
            setattr(self.video, attr, check.isChecked())
            check.toggled.connect(lambda on, a=attr: self._set_overlay(a, on))
            bar.addWidget(check)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setFixedWidth(90)
        self.opacity.setToolTip("mesh opacity over the video")
        self.opacity.setValue(int(self.settings.value("view/opacity", 70) or 0))
        self.video.mesh_opacity = self.opacity.value() / 100.0
        self.opacity.valueChanged.connect(self._set_opacity)
        bar.addWidget(QLabel(" Opacity: "))
        bar.addWidget(self.opacity)

    # --- actions -------------------------------------------------------------------------
    def current_source(self) -> str:
        return str(self.source_box.currentData())

    def session_config(self) -> SessionConfig:
        """The session the controls describe for the current source."""
        pipe = dataclasses.replace(
            self.config.pipeline,
            weights=self.controls.weights(),
            body_model=self.controls.body_model(),
            device=self.controls.device_name(),
            lookahead=self.controls.lookahead.value(),
            body_output=self.controls.body_output(),
            hidden_legs=self.controls.hidden_legs(),
            fov_deg=self.controls.fov_deg(),
        )
        return SessionConfig(
            source=self.current_source(),
            loop=self.config.loop,
            pipeline=pipe,
            smoothing=self.controls.smoothing_strength(),
        )

    def _pick_subject(self, x_px: float, y_px: float) -> None:
        """A click on the video: follow the person there from the next frame on."""
        if self.worker is not None:
            self.worker.session.send(PickSubject(x_px, y_px))

    def start(self) -> None:
        self.stop()
        spec = self.current_source()
        self.last_error = self.render_error = self.shown = None
        self.stats = RunStats()  # one run per Start: rates and --stats-json skip stopped time
        self._firsts: set[str] = set()
        self.state_label.setText("")
        self.video.clear(f"Opening {source_label(spec)}…")
        self.view3d.set_message("Loading the models and the 3D view…")  # until a frame comes
        self.display = DisplayThread(self.stats, self._control)
        self.display.set_overlay(self.video.show_mesh)
        self.display.frame_ready.connect(self._show_display)
        self.display.failed.connect(self._render_failed)
        self.display.resize(*self.view3d.device_size())
        self.display.set_video_target(self.video.target())
        config = self.session_config()
        stage, self._preloaded = self._preloaded, None  # loaded once, used by one run
        if stage is not None and not _same_files(config.pipeline, self.config.pipeline):
            stage = None  # the saved settings name other files: the session loads them
        self.worker = SessionWorker(config, self.stats, stage)
        self.worker.session.subscribe(name="display", mailbox=self.display.inbox, paces=True)
        self.worker.event.connect(self._on_event)
        self.display.start()
        self.worker.start()
        self.record_bar.set_session(self.worker.session, self.worker.session.config)
        self.vmc_bar.set_session(self.worker.session, config.pipeline.body_model)
        self._update_buttons()

    def stop(self) -> None:
        self._stop_workers(STOP_WAIT_S)

    def _stop_workers(self, wait_s: float | None) -> None:
        """Stop the session and the display; wait up to `wait_s` (None: until they end)."""
        was_running = self.worker is not None and self.worker.running
        self.record_bar.set_session(None)  # a recording ends cleanly with its session
        self.vmc_bar.set_session(None)
        if self.worker is not None:
            if not self.worker.stop(wait_s):
                # Still loading models: it ends on its own; its late events are not this run's.
                log.warning("the stopped session is still loading; it will end on its own")
                self.worker.event.disconnect()
                self._retired.append(self.worker)
            self.worker = None
        if self.display is not None:
            self.display.stop()
            self.display.wait()
            self.display.frame_ready.disconnect()
            self.display = None
        if was_running:  # an end of file or an error keeps its own message
            self.state_label.setText("stopped")
            self.view3d.set_message("Stopped. Press Start to continue.")
        self._update_buttons()

    def _reload(self) -> None:
        """Model, body, device or look-ahead changed: restart a running session with them."""
        if self.worker is not None and self.worker.running:
            self.start()

    def _set_smoothing(self, strength: float) -> None:
        if self.worker is not None:
            self.worker.session.send(SetSmoothing(strength))

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

    def _on_event(self, event: SessionEvent) -> None:
        if event.kind == "loading":
            self.state_label.setText(event.message)
        elif event.kind == "ready":
            self.mesh_text = event.message
            self.state_label.setText("")
        elif event.kind == "capture":
            self.state_label.setText(event.message)
        elif event.kind == "ended":
            self.state_label.setText(f"{event.message} Press Start to replay.")
            self._update_buttons()
            if self.unattended:  # a whole file was processed: done
                QTimer.singleShot(0, self.close)
        elif event.kind == "failed":
            self._show_error(event.message)
        elif event.kind == "subscriber_failed":
            log.error(event.message)
            self.statusBar().showMessage(event.message, 10_000)

    def _show_display(self) -> None:
        frame = None if self.display is None else self.display.take()
        if frame is None:
            return
        result = frame.result
        if frame.video is not None and result is not None:
            self.shown = result
            self._device = result.device
            obs, alpha = result.display_observation, result.display_alpha
            self.video.set_frame(frame.video, obs, frame.overlay, alpha, frame.composed)
            self.stats.count_display((time.perf_counter_ns() - result.display_frame.wall_ns) / 1e6)
            for what in ("frame", "body mesh") if result.display_mesh is not None else ("frame",):
                if what not in self._firsts:  # start-up milestones (benchmarks/bench_live.py)
                    self._firsts.add(what)
                    log.info("first %s on screen", what)
        if frame.view is not None:
            self.view3d.set_image(frame.view)
        if result is not None and self.render_error is None:
            self.view3d.set_message(self._view_message(result))

    def _view_message(self, result: SessionResult) -> str:
        if result.display_mesh is not None:
            fading = " (subject lost)" if result.subject == "lost" else ""
            legs = result.display_mesh.hidden_legs
            hidden = f"\nlegs out of view: shown {legs} (Hidden legs menu)" if legs else ""
            return f"{self.mesh_text}{fading}{hidden}\n{HINT}"
        if result.observation is None and result.people_in_view:
            n = result.people_in_view
            return (
                f"The followed person is out of view; {n} other{'s' if n > 1 else ''} in "
                "view: click one in the video to follow"
            )
        if result.observation is None:
            return NO_PERSON_CAMERA if self._camera_running() else NO_PERSON_VIDEO
        if result.faces is not None:
            return f"Body mesh starting (filling the frame window)\n{HINT}"
        return f"3D skeleton from MediaPipe world landmarks ({self.mesh_text})\n{HINT}"

    def _camera_running(self) -> bool:
        """The running source is a camera (someone can step in), not a video file."""
        cap = None if self.worker is None else self.worker.session.capture_status()
        return cap is not None and cap.source.startswith("camera")

    def _show_error(self, message: str) -> None:
        self.last_error = message
        log.error(message)
        self.video.clear(f"{message}\n\nPick another source and press Start.")
        self.view3d.set_message("Stopped.")
        self.state_label.setText("stopped after an error")
        self._update_buttons()
        if self.unattended:  # fail now, exit code 1
            QTimer.singleShot(0, self.close)
        elif self.isVisible():
            QMessageBox.warning(self, "STDFormer live", message)

    def _render_failed(self, message: str) -> None:
        self.render_error = message
        self.view3d.set_message(message)

    def _change_view(self, change, *args: float) -> None:
        self._control = change(self._control, *args)
        if self.display is not None:
            self.display.set_control(self._control)

    def _view_resized(self, width: int, height: int) -> None:
        if self.display is not None:
            self.display.resize(width, height)

    def _video_target_changed(self) -> None:
        if self.display is not None:
            self.display.set_video_target(self.video.target())

    def _set_overlay(self, attr: str, on: bool) -> None:
        setattr(self.video, attr, on)
        self.settings.setValue(f"view/{attr}", on)
        if attr == "show_mesh" and self.display is not None:
            self.display.set_overlay(on)  # no overlay render while the mesh is hidden
        self._video_target_changed()
        self.video.update()

    def _set_opacity(self, value: int) -> None:
        self.video.mesh_opacity = value / 100.0
        self.settings.setValue("view/opacity", value)
        self._video_target_changed()
        self.video.update()

    def _update_buttons(self) -> None:
        running = self.worker is not None and self.worker.running
        self.start_button.setEnabled(not running)
        self.stop_button.setEnabled(running)

    def _update_status(self) -> None:
        running = self.worker is not None and self.worker.running
        self.status_label.set_status(status_text(self.stats, self.shown, running))
        self._update_buttons()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.record_bar.close_all()  # recording, exports, playback windows
        self.vmc_bar.close_all()
        self._stop_workers(None)  # the process must not exit under a running thread
        for worker in list(self._retired):
            worker.stop(None)
        self.settings.sync()  # what the user changed (command-line options are not saved)
        if self.config.stats_json:
            extra = {"error": self.last_error, "mesh": self.mesh_text, "device": self._device}
            try:
                self.stats.write_json(self.config.stats_json, extra)
            except OSError as e:
                log.error("could not write --stats-json %s: %s", self.config.stats_json, e)
        super().closeEvent(event)
