"""VMC toolbar: stream the body to an avatar app (on/off, HOST:PORT, live status).

The stream is a `stdformer.recording.vmc.VmcSender` subscribed to the running session; this
bar only starts, stops and reports it. On/off and the target are kept in QSettings
(`vmc/enabled`, `vmc/target`); `main.py --vmc [HOST:PORT]` switches it on for that run.
"""

from __future__ import annotations

import logging

from PyQt6.QtCore import QSettings, QTimer
from PyQt6.QtWidgets import QCheckBox, QLabel, QLineEdit, QToolBar, QWidget

from stdformer.recording.vmc import DEFAULT_HOST, DEFAULT_PORT, VmcSender, parse_target
from stdformer.session.session import Session

log = logging.getLogger(__name__)
DEFAULT_TARGET = f"{DEFAULT_HOST}:{DEFAULT_PORT}"


class VmcBar(QToolBar):
    """The VMC controls; the main window calls `set_session` on every Start and Stop."""

    def __init__(
        self, settings: QSettings, cli_target: str | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__("VMC", parent)
        self.setMovable(False)
        self.settings = settings
        self.sender: VmcSender | None = None
        self._session: Session | None = None
        self._body_model: str | None = None
        self.enabled_box = QCheckBox("VMC out")
        self.enabled_box.setToolTip("Stream the body to an avatar app (VMC protocol, OSC/UDP)")
        self.target_edit = QLineEdit()
        self.target_edit.setPlaceholderText(DEFAULT_TARGET)
        self.target_edit.setMaximumWidth(170)
        self.target_edit.setToolTip("HOST:PORT of the VMC receiver (VSeeFace, VMC4U, ...)")
        self.status_label = QLabel()
        for w in (self.enabled_box, self.target_edit, self.status_label):
            self.addWidget(w)
        enabled = settings.value("vmc/enabled", False, type=bool)
        target = str(settings.value("vmc/target", DEFAULT_TARGET))
        if cli_target is not None:  # the command line wins for this run (not saved)
            enabled, target = True, cli_target
        self.enabled_box.setChecked(enabled)
        self.target_edit.setText(target)
        self.enabled_box.toggled.connect(self._changed)
        self.target_edit.editingFinished.connect(self._changed)
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._update_status)
        self._timer.start(500)
        self._update_status()

    def set_session(self, session: Session | None, body_model: str | None = None) -> None:
        """A session started (stream it when switched on) or stopped (the stream ends)."""
        self._stop()
        self._session, self._body_model = session, body_model
        self._start()

    def _changed(self) -> None:
        self.settings.setValue("vmc/enabled", self.enabled_box.isChecked())
        self.settings.setValue("vmc/target", self.target_edit.text().strip() or DEFAULT_TARGET)
        self._stop()
        self._start()

    def _start(self) -> None:
        if self._session is None or not self.enabled_box.isChecked():
            self._update_status()
            return
        try:
            host, port = parse_target(self.target_edit.text() or DEFAULT_TARGET)
        except ValueError as exc:
            self.status_label.setText(str(exc))
            return
        self.sender = VmcSender(host, port, self._body_model)
        self.sender.attach(self._session)
        self._update_status()

    def _stop(self) -> None:
        if self.sender is not None and self._session is not None:
            self.sender.detach(self._session)
        self.sender = None

    def close_all(self) -> None:
        self._stop()
        self._session = None

    def _update_status(self) -> None:
        if self.sender is None:
            if self.enabled_box.isChecked() and self._session is None:
                self.status_label.setText("starts with the session")
            elif not self.enabled_box.isChecked():
                self.status_label.setText("")
            return
        s = self.sender.status()
        if s.error:
            self.status_label.setText(s.error)
        elif s.bundles_sent and not s.bones_sent:
            self.status_label.setText(f"→ {s.target}: no fitted body yet")
        else:
            self.status_label.setText(f"→ {s.target}: {s.bones_sent} frames")
