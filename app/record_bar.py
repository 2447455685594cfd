"""Record toolbar: record / stop (Ctrl+R), keep the video, folder, live status; export and
playback of recordings. Recording is a `stdformer.recording.Recorder` subscribed to the running
session; this bar only starts, stops and reports it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PyQt6.QtCore import QSettings, QThread, QTimer, pyqtSignal
from PyQt6.QtGui import QKeySequence, QShortcut
from PyQt6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QInputDialog,
    QLabel,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QToolBar,
    QWidget,
)

from stdformer.recording import RecordingError, open_recording
from stdformer.recording.export import (
    FORMATS,
    check_output,
    default_output,
    export_length,
    export_recording,
)
from stdformer.recording.recorder import Recorder, recording_info
from stdformer.session.core import SessionConfig
from stdformer.session.session import Session

log = logging.getLogger(__name__)
DEFAULT_FOLDER = Path.home() / "stdformer-recordings"


def status_line(frames: int, elapsed_s: float, size_bytes: int) -> str:
    """ "● REC 01:23  2,490 frames  412.3 MB" """
    m, s = divmod(int(elapsed_s), 60)
    return f"● REC {m:02d}:{s:02d}  {frames:,} frames  {size_bytes / 1e6:.1f} MB"


class ExportJob(QThread):
    """Runs one export off the GUI thread; reports progress and the outcome."""

    progressed = pyqtSignal(int)
    finished_with = pyqtSignal(str, bool)  # message, ok

    def __init__(self, recording: Path, fmt: str, out: Path, body_model: str | None) -> None:
        super().__init__()
        self.recording, self.fmt, self.out = recording, fmt, out
        self.body_model = body_model
        self.done = 0
        self.dialog: QProgressDialog | None = None

    def run(self) -> None:
        def step(n: int) -> None:
            self.done += n
            self.progressed.emit(self.done)

        try:
            path = export_recording(
                open_recording(self.recording, self.body_model), self.fmt, self.out, progress=step
            )
            self.finished_with.emit(f"Exported {path}", True)
        except Exception as exc:  # shown to the user; the app goes on
            log.exception("export failed")
            self.finished_with.emit(f"Export failed: {exc}", False)


class RecordBar(QToolBar):
    """The record controls; the main window calls `set_session` on every Start and Stop."""

    message = pyqtSignal(str)  # for the status bar

    def __init__(
        self,
        settings: QSettings,
        parent: QWidget | None = None,
        body_model: Callable[[], str | None] = lambda: None,
    ) -> None:
        super().__init__("Record", parent)
        self.setMovable(False)
        self.settings = settings
        self.body_model = body_model  # the body file chosen in the app: recordings made with it
        self.recorder: Recorder | None = None
        self.last_recording: Path | None = None
        self._session: Session | None = None
        self._config: SessionConfig | None = None
        self._jobs: list[ExportJob] = []
        self.record_button = QPushButton("● Record")
        self.record_button.setCheckable(True)
        self.record_button.setToolTip("Record the body mesh to disk (Ctrl+R)")
        self.record_button.clicked.connect(self.toggle)
        self.keep_video = QCheckBox("Keep video")
        self.keep_video.setToolTip("also store the camera frames (JPEG) for playback and export")
        self.keep_video.setChecked(str(settings.value("record/keep_video", "true")) == "true")
        self.keep_video.toggled.connect(lambda on: settings.setValue("record/keep_video", on))
        folder = QPushButton("Folder…")
        folder.clicked.connect(self._pick_folder)
        self.status = QLabel("")
        export = QPushButton("Export…")
        export.clicked.connect(self.export_dialog)
        play = QPushButton("Play recording…")
        play.clicked.connect(self.open_playback)
        for w in (self.record_button, self.keep_video, folder, self.status, export, play):
            self.addWidget(w)
        if parent is not None:
            QShortcut(QKeySequence("Ctrl+R"), parent, activated=self.toggle_by_key)
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._update_status)
        self._timer.start(500)
        self._update_status()
        self._playback: list[QWidget] = []

    @property
    def folder(self) -> Path:
        return Path(str(self.settings.value("record/folder", str(DEFAULT_FOLDER))))

    def _pick_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Recordings folder", str(self.folder))
        if path:
            self.settings.setValue("record/folder", path)

    # --- recording ------------------------------------------------------------------------
    def set_session(self, session: Session | None, config: SessionConfig | None = None) -> None:
        """A session started (record into it) or stopped (a recording in progress ends)."""
        if session is None:
            self.stop_recording()
        self._session, self._config = session, config
        self._update_status()

    def toggle_by_key(self) -> None:
        self.record_button.setChecked(not self.record_button.isChecked())
        self.toggle()

    def toggle(self) -> None:
        if self.recorder is None and self.record_button.isChecked():
            self.start_recording()
        elif self.recorder is not None:
            self.stop_recording()

    def start_recording(self) -> bool:
        if self._session is None or self._config is None or not self._session.running:
            self.record_button.setChecked(False)
            self.message.emit("Press Start first: recording needs a running source.")
            return False
        try:
            info = recording_info(self._config.pipeline, self._config.source, fps=0.0)
        except (OSError, ValueError) as exc:
            self.record_button.setChecked(False)
            self.message.emit(f"Cannot record: {exc}")
            return False
        self.recorder = Recorder(self.folder, info, record_source=self.keep_video.isChecked())
        self.recorder.attach(self._session)
        self.record_button.setChecked(True)
        self.message.emit(f"Recording into {self.folder}")
        return True

    def stop_recording(self) -> None:
        recorder, self.recorder = self.recorder, None
        self.record_button.setChecked(False)
        if recorder is None:
            return
        if self._session is not None:
            recorder.detach(self._session)
        else:
            recorder.close()
        status = recorder.status()
        if status.path is not None:
            self.last_recording = status.path
        if status.error:
            self._warn(status.error)
        elif status.path is not None:
            self.message.emit(f"Saved {status.frames} frames to {status.path}")
        self._update_status()

    def _update_status(self) -> None:
        self.record_button.setEnabled(self._session is not None or self.recorder is not None)
        if self.recorder is None:
            self.status.setText(f" {self.last_recording.name} " if self.last_recording else "")
            return
        st = self.recorder.status()
        if st.error:  # disk full, folder gone: stop, say so, keep what was written
            self.stop_recording()
            return
        self.status.setText(" " + status_line(st.frames, st.elapsed_s, st.bytes_written) + " ")

    def _warn(self, text: str) -> None:
        log.error(text)
        self.message.emit(text)
        if self.isVisible():
            QMessageBox.warning(self, "Recording", text)

    # --- export and playback ---------------------------------------------------------------
    def _choose_recording(self, title: str) -> Path | None:
        start = str(self.last_recording or self.folder)
        path = QFileDialog.getExistingDirectory(self, title, start)
        return Path(path) if path else None

    def export_dialog(self) -> None:
        rec = self._choose_recording("Recording to export (*.strec folder)")
        if rec is None:
            return
        fmt, ok = QInputDialog.getItem(self, "Export", "Format:", list(FORMATS), 2, False)
        if ok:
            self.export(rec, fmt)

    def export(self, recording: Path, fmt: str, out: Path | None = None) -> ExportJob | None:
        """Export in a background thread with a progress dialog; returns the job."""
        try:
            rec = open_recording(recording, self.body_model())
            out = check_output(fmt, out or default_output(rec, fmt))
            total = export_length(rec, fmt, None, None)
        except RecordingError as exc:
            self._warn(str(exc))
            return None
        dialog = QProgressDialog(f"Exporting {fmt}…", "", 0, max(total, 1), self)
        dialog.setCancelButton(None)
        job = ExportJob(recording, fmt, out, self.body_model())
        job.dialog = dialog
        job.progressed.connect(dialog.setValue)
        job.finished_with.connect(self._export_done)  # a bound slot: runs in the GUI thread
        self._jobs.append(job)
        job.start()
        return job

    def _export_done(self, text: str, ok: bool) -> None:
        job = self.sender()
        if isinstance(job, ExportJob):
            if job.dialog is not None:
                job.dialog.close()
            job.wait()
            self._jobs.remove(job)
        self.message.emit(text)
        if not ok:
            self._warn(text)

    def open_playback(self, path: Path | None = None) -> QWidget | None:
        from app.playback import PlaybackWindow

        path = path or self._choose_recording("Recording to play (*.strec folder)")
        if path is None:
            return None
        try:
            window = PlaybackWindow(open_recording(path, self.body_model()))
        except RecordingError as exc:
            self._warn(str(exc))
            return None
        self._playback = [w for w in self._playback if w.isVisible()] + [window]
        window.show()
        return window

    def close_all(self) -> None:
        """Window closing: end the recording cleanly, wait for exports, close playback."""
        self.stop_recording()
        for job in list(self._jobs):
            job.wait()
        for window in self._playback:
            window.close()
