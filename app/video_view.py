"""Letterboxed video display: the frame, the body mesh layer and the person box / landmarks.

The mesh layer is rendered by the display worker (pyrender, with the predicted camera) as an
RGBA image of the frame's size; it is composed here with QPainter at the chosen opacity, so
changing the opacity costs no render. Only confident landmarks are drawn.
"""

from __future__ import annotations

import cv2
import numpy as np
from PyQt6.QtCore import QPointF, QRectF, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QImage, QPainter, QPen
from PyQt6.QtWidgets import QSizePolicy, QWidget

from stdformer.detect.pose_quality import drawable_skeleton, landmark_confidence
from stdformer.types import Observation

CONFIDENT = 0.5  # landmarks below this visibility or presence are not drawn


def bgr_to_qimage(image_bgr: np.ndarray) -> QImage:
    """Owned QImage of a (H, W, 3) uint8 BGR array, in Qt's native RGB32 layout (B, G, R, X
    bytes), which QPainter draws and scales without a per-paint conversion."""
    h, w = image_bgr.shape[:2]
    bgrx = cv2.cvtColor(np.ascontiguousarray(image_bgr), cv2.COLOR_BGR2BGRA)  # (H, W, 4)
    return QImage(bgrx.data, w, h, 4 * w, QImage.Format.Format_RGB32).copy()


def rgb_to_qimage(image_rgb: np.ndarray) -> QImage:
    """Owned QImage of a (H, W, 3) uint8 RGB array (native RGB32 layout, see bgr_to_qimage)."""
    h, w = image_rgb.shape[:2]
    bgrx = cv2.cvtColor(np.ascontiguousarray(image_rgb), cv2.COLOR_RGB2BGRA)  # (H, W, 4)
    return QImage(bgrx.data, w, h, 4 * w, QImage.Format.Format_RGB32).copy()


def rgba_to_qimage(image_rgba: np.ndarray) -> QImage:
    """Owned QImage copy of a (H, W, 4) uint8 RGBA array (straight alpha)."""
    h, w = image_rgba.shape[:2]
    rgba = np.ascontiguousarray(image_rgba)
    return QImage(rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888).copy()


def letterbox_rect(image_w: int, image_h: int, widget_w: int, widget_h: int) -> QRectF:
    """Largest rectangle with the image's aspect ratio centred in the widget."""
    scale = min(widget_w / image_w, widget_h / image_h)
    w, h = image_w * scale, image_h * scale
    return QRectF((widget_w - w) / 2, (widget_h - h) / 2, w, h)


class VideoView(QWidget):
    """Shows the latest frame; overlays are toggled with `show_mesh`, `show_box` and
    `show_landmarks`; `mesh_opacity` in [0, 1] sets how strongly the mesh covers the video.
    A left click on the image emits `image_clicked(x, y)` in frame pixels (pick the subject)."""

    image_clicked = pyqtSignal(float, float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(320, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._image: QImage | None = None
        self._obs: Observation | None = None
        self._mesh_layer: QImage | None = None
        self._mesh_alpha = 1.0  # the session's fade (subject lost)
        self._message = "No source running. Pick a source and press Start."
        self.show_box = True
        self.show_landmarks = True
        self.show_mesh = True
        self.mesh_opacity = 0.7

    def set_frame(
        self,
        image: QImage,
        obs: Observation | None,
        mesh_layer: QImage | None = None,
        mesh_alpha: float = 1.0,
    ) -> None:
        """A new frame; `mesh_layer` (RGBA, the frame's size) is drawn at `mesh_alpha` x opacity."""
        self._image, self._obs = image, obs
        self._mesh_layer, self._mesh_alpha = mesh_layer, mesh_alpha
        self.update()

    def set_message(self, text: str) -> None:
        """Text shown when there is no image (and over a stale one)."""
        self._message = text
        self.update()

    def clear(self, message: str) -> None:
        self._image, self._obs, self._mesh_layer = None, None, None
        self.set_message(message)

    def paintEvent(self, event: object) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(24, 24, 28))
        if self._image is None:
            p.setPen(QColor(200, 200, 200))
            flags = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
            p.drawText(self.rect().adjusted(16, 16, -16, -16), flags, self._message)
            return
        img = self._image
        target = letterbox_rect(img.width(), img.height(), self.width(), self.height())
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        p.drawImage(target, img)
        if self.show_mesh and self._mesh_layer is not None:
            p.setOpacity(max(0.0, min(1.0, self.mesh_opacity * self._mesh_alpha)))
            p.drawImage(target, self._mesh_layer)
            p.setOpacity(1.0)
        if self._obs is not None:
            p.setRenderHint(QPainter.RenderHint.Antialiasing)
            self._draw_observation(p, self._obs, target, target.width() / img.width())

    def _draw_observation(
        self, p: QPainter, obs: Observation, target: QRectF, scale: float
    ) -> None:
        def to_widget(x: float, y: float) -> QPointF:
            return QPointF(target.x() + x * scale, target.y() + y * scale)

        if self.show_box:
            x0, y0, x1, y1 = (float(v) for v in obs.bbox_xyxy)
            p.setPen(QPen(QColor(80, 220, 120), 2))
            p.drawRect(QRectF(to_widget(x0, y0), to_widget(x1, y1)))
            cx0, cy0, cx1, cy1 = (float(v) for v in obs.crop_xyxy)
            p.setPen(QPen(QColor(80, 160, 255), 1, Qt.PenStyle.DashLine))
            p.drawRect(QRectF(to_widget(cx0, cy0), to_widget(cx1, cy1)))
        if self.show_landmarks:
            pts = [to_widget(float(x), float(y)) for x, y in obs.landmarks_px[:, :2]]
            # Trusted landmarks connected to the body only: no floating limb fragments.
            conf = landmark_confidence(obs.visibility, obs.presence)
            sure, bones = drawable_skeleton(conf, CONFIDENT)  # (33,) bool, [(a, b)]
            p.setPen(QPen(QColor(255, 200, 60, 230), 2))
            for a, b in bones:
                p.drawLine(pts[a], pts[b])
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(255, 90, 60, 240))
            for i, pt in enumerate(pts):
                if sure[i]:
                    p.drawEllipse(pt, 3.0, 3.0)

    def mousePressEvent(self, event: object) -> None:
        """Left click on the image: `image_clicked` with the frame pixel under the cursor."""
        img = self._image
        if img is None or event.button() != Qt.MouseButton.LeftButton:
            return super().mousePressEvent(event)
        target = letterbox_rect(img.width(), img.height(), self.width(), self.height())
        pos = event.position()
        if target.contains(pos):
            scale = img.width() / target.width()
            self.image_clicked.emit((pos.x() - target.x()) * scale, (pos.y() - target.y()) * scale)
