"""The live 3D panel: shows images rendered offscreen and turns mouse input into view changes.

Dragging orbits (0.4 degrees per pixel), dragging with the right or middle button (or Shift)
pans, the wheel zooms, a double click resets the view to the automatic framing. The widget does
no rendering itself: the display worker owns the GL context (see app/workers.py).
"""

from __future__ import annotations

from PyQt6.QtCore import QPointF, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QImage, QMouseEvent, QPainter, QWheelEvent
from PyQt6.QtWidgets import QSizePolicy, QWidget

from app.video_view import letterbox_rect

DEG_PER_PIXEL = 0.4
ZOOM_PER_NOTCH = 0.9  # distance factor per wheel notch (120 units) forward
PAN_PER_HEIGHT = 0.8  # pan per widget height dragged, in units of the view distance
HINT = "drag: orbit · right-drag: pan · wheel: zoom · double-click: reset"


class View3D(QWidget):
    orbit_requested = pyqtSignal(float, float)  # (d_azimuth_deg, d_elevation_deg)
    pan_requested = pyqtSignal(float, float)  # (right, up) in units of the view distance
    zoom_requested = pyqtSignal(float)  # distance factor (< 1 zooms in)
    reset_requested = pyqtSignal()
    resized = pyqtSignal(int, int)  # (width, height) in device pixels

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(320, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setCursor(Qt.CursorShape.OpenHandCursor)
        self._image: QImage | None = None
        self._last: QPointF | None = None
        self._panning = False
        self._message = "3D view: waiting for a person"

    def set_image(self, image: QImage) -> None:
        self._image = image
        self.update()

    def set_message(self, text: str) -> None:
        self._message = text
        self.update()

    def paintEvent(self, event: object) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(36, 38, 44))
        if self._image is not None:
            img = self._image
            p.drawImage(letterbox_rect(img.width(), img.height(), self.width(), self.height()), img)
        if self._message:
            p.setPen(QColor(220, 220, 220))
            p.drawText(
                self.rect().adjusted(8, 8, -8, -8),
                Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft | Qt.TextFlag.TextWordWrap,
                self._message,
            )

    def mousePressEvent(self, event: QMouseEvent) -> None:
        button = event.button()
        shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if button in (Qt.MouseButton.RightButton, Qt.MouseButton.MiddleButton) or (
            button == Qt.MouseButton.LeftButton and shift
        ):
            self._last, self._panning = event.position(), True
            self.setCursor(Qt.CursorShape.SizeAllCursor)
        elif button == Qt.MouseButton.LeftButton:
            self._last, self._panning = event.position(), False
            self.setCursor(Qt.CursorShape.ClosedHandCursor)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._last is None:
            return
        d = event.position() - self._last
        self._last = event.position()
        if self._panning:  # the picture follows the mouse
            scale = PAN_PER_HEIGHT / max(self.height(), 1)
            self.pan_requested.emit(-d.x() * scale, d.y() * scale)
        else:
            self.orbit_requested.emit(-d.x() * DEG_PER_PIXEL, d.y() * DEG_PER_PIXEL)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._last = None
        self.setCursor(Qt.CursorShape.OpenHandCursor)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self.reset_requested.emit()

    def wheelEvent(self, event: QWheelEvent) -> None:
        notches = event.angleDelta().y() / 120.0
        if notches:
            self.zoom_requested.emit(ZOOM_PER_NOTCH**notches)

    def device_size(self) -> tuple[int, int]:
        """(width, height) in device pixels: the size the render worker should draw."""
        ratio = self.devicePixelRatioF()
        return int(self.width() * ratio), int(self.height() * ratio)

    def resizeEvent(self, event: object) -> None:
        self.resized.emit(*self.device_size())
