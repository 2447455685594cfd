"""Playback window for a recording: play/pause, scrub, step, speed; the body drawn in a 3D view
and over the source video when the recording kept it.

Rendering runs in `PlaybackRenderer`, a thread that owns its GL context (one per thread, see
`stdformer.render.renderer`) and renders only the newest requested frame, so scrubbing never queues.
"""

from __future__ import annotations

import bisect

import numpy as np
from PyQt6.QtCore import QElapsedTimer, Qt, QThread, QTimer, pyqtSignal
from PyQt6.QtGui import QCloseEvent, QImage, QKeySequence, QPixmap, QShortcut
from PyQt6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from app.video_view import bgr_to_qimage, rgb_to_qimage
from stdformer.recording import Recording
from stdformer.recording.export_video import take_view
from stdformer.render.renderer import OffscreenRenderer, yup_from_opencv
from stdformer.session.mailbox import Mailbox

SPEEDS = (0.25, 0.5, 1.0, 2.0)
VIEW_WH = (480, 480)


class PlaybackRenderer(QThread):
    """Renders requested frames of a recording (newest request wins)."""

    rendered = pyqtSignal(int, object, object)  # position, video QImage | None, view QImage
    failed = pyqtSignal(str)

    def __init__(self, rec: Recording) -> None:
        super().__init__()
        self.rec = rec
        self._requests: Mailbox[int] = Mailbox(1, "replace")  # positions; newest wins
        mesh_pos = np.flatnonzero(rec.has_mesh)
        self._camera, self._floor = (None, None) if len(mesh_pos) == 0 else take_view(
            rec, mesh_pos, VIEW_WH
        )  # fmt: skip

    def request(self, position: int) -> None:
        self._requests.put(position)

    def stop(self) -> None:
        self._requests.clear()
        self._requests.close()

    def run(self) -> None:
        try:
            renderer = OffscreenRenderer(*VIEW_WH)
        except Exception as exc:  # no OpenGL: the window says what to install
            self.failed.emit(f"3D view unavailable: {exc}")
            return
        try:
            while (position := self._requests.get()) is not None:
                video, view = self._render(renderer, position)
                self.rendered.emit(position, video, view)
        except Exception as exc:  # escaping QThread.run would abort the process
            self.failed.emit(f"Playback rendering stopped: {exc}")
        finally:
            renderer.close()

    def _render(self, renderer: OffscreenRenderer, p: int) -> tuple[QImage | None, QImage]:
        rec = self.rec
        mesh = bool(rec.has_mesh[p])
        vertices = np.asarray(rec.vertices[p], np.float32) if mesh else None
        video = None
        image = rec.source_image(p)
        if image is not None:
            if vertices is not None:
                image = renderer.render_overlay_bgr(image, vertices, rec.faces, rec.K[p])
            video = bgr_to_qimage(np.ascontiguousarray(image))
        if self._camera is None:
            view = np.zeros((*VIEW_WH[::-1], 3), np.uint8)
        else:
            view = renderer.render_view_rgb(
                self._camera,
                vertices_world=None if vertices is None else yup_from_opencv(vertices),
                faces=rec.faces if mesh else None,
                floor_y=self._floor,
            )
        return video, rgb_to_qimage(np.ascontiguousarray(view))


class PlaybackWindow(QWidget):
    """A top-level window playing one recording (module docstring)."""

    def __init__(self, rec: Recording, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.rec = rec
        self.setWindowTitle(f"Playback — {rec.path.name}")
        self.times_s = ((rec.t_ns - rec.t_ns[0]) / 1e9).tolist() if len(rec) else [0.0]
        self.position = 0
        self.shown_position: int | None = None
        self.video = QLabel("no source video in this recording")
        self.view = QLabel()
        for label in (self.video, self.view):
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
            label.setMinimumSize(320, 240)
        panels = QHBoxLayout()
        if rec.has_source_video:
            panels.addWidget(self.video)
        panels.addWidget(self.view)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, max(len(rec) - 1, 0))
        self.slider.valueChanged.connect(self.seek)
        self.play_button = QPushButton("Play")
        self.play_button.clicked.connect(self.toggle_play)
        back, forward = QPushButton("◀ Step"), QPushButton("Step ▶")
        back.clicked.connect(lambda: self.step(-1))
        forward.clicked.connect(lambda: self.step(1))
        self.speed = QComboBox()
        for s in SPEEDS:
            self.speed.addItem(f"{s:g}x", s)
        self.speed.setCurrentIndex(SPEEDS.index(1.0))
        self.speed.currentIndexChanged.connect(self._restart_clock)
        self.frame_label = QLabel()
        controls = QHBoxLayout()
        for w in (self.play_button, back, forward, self.speed, self.slider, self.frame_label):
            controls.addWidget(w)
        layout = QVBoxLayout(self)
        layout.addLayout(panels, 1)
        layout.addLayout(controls)
        QShortcut(QKeySequence(Qt.Key.Key_Space), self, activated=self.toggle_play)
        QShortcut(QKeySequence(Qt.Key.Key_Left), self, activated=lambda: self.step(-1))
        QShortcut(QKeySequence(Qt.Key.Key_Right), self, activated=lambda: self.step(1))
        self._clock = QElapsedTimer()
        self._clock_start_s = 0.0
        self._timer = QTimer(self)
        self._timer.setInterval(10)
        self._timer.timeout.connect(self._tick)
        self.renderer = PlaybackRenderer(rec)
        self.renderer.rendered.connect(self._show)
        self.renderer.failed.connect(self.view.setText)
        self.renderer.start()
        self.resize(1000 if rec.has_source_video else 560, 600)
        self.seek(0)

    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    def seek(self, position: int) -> None:
        self.position = int(np.clip(position, 0, max(len(self.rec) - 1, 0)))
        if self.slider.value() != self.position:
            self.slider.blockSignals(True)
            self.slider.setValue(self.position)
            self.slider.blockSignals(False)
        if len(self.rec):
            self._request_only(self.position)
        if self.playing:
            self._restart_clock()

    def step(self, delta: int) -> None:
        if self.playing:
            self.toggle_play()
        self.seek(self.position + delta)

    def toggle_play(self) -> None:
        if self.playing:
            self._timer.stop()
            self.play_button.setText("Play")
            return
        if self.position >= len(self.rec) - 1:
            self.seek(0)  # at the end: play from the start
        self._restart_clock()
        self._timer.start()
        self.play_button.setText("Pause")

    def _restart_clock(self) -> None:
        self._clock.start()
        self._clock_start_s = self.times_s[self.position]

    def _tick(self) -> None:
        speed = float(self.speed.currentData())
        t = self._clock_start_s + self._clock.elapsed() / 1000.0 * speed
        position = min(bisect.bisect_right(self.times_s, t) - 1, len(self.times_s) - 1)
        if position != self.position:
            self.position = position
            self.slider.blockSignals(True)
            self.slider.setValue(position)
            self.slider.blockSignals(False)
            self._request_only(position)
        if position >= len(self.times_s) - 1:
            self.toggle_play()

    def _request_only(self, position: int) -> None:
        """Label frame `position` counted from the take's start (the source's frame number, e.g.
        938 for a take started mid-video, is in the tooltip) and ask for its rendering."""
        r = self.rec
        mesh = "" if r.has_mesh[position] else "  (no mesh)"
        self.frame_label.setText(
            f"frame {position + 1}/{len(r)}  "
            f"{self.times_s[position]:.2f} s / {self.times_s[-1]:.2f} s{mesh}"
        )
        self.frame_label.setToolTip(f"source frame {int(r.frame_index[position])}")
        self.renderer.request(position)

    def _show(self, position: int, video: QImage | None, view: QImage) -> None:
        self.shown_position = position
        for label, image in ((self.video, video), (self.view, view)):
            if image is not None:
                pix = QPixmap.fromImage(image)
                label.setPixmap(
                    pix.scaled(
                        label.size(),
                        Qt.AspectRatioMode.KeepAspectRatio,
                        Qt.TransformationMode.SmoothTransformation,
                    )
                )

    def closeEvent(self, event: QCloseEvent) -> None:
        self._timer.stop()
        self.renderer.stop()
        self.renderer.wait()
        super().closeEvent(event)
