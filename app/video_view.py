"""Letterboxed video display: the frame, the body mesh layer and the person box / landmarks.

The mesh layer is rendered by the display worker (pyrender, with the predicted camera) as an
RGBA image. Everything the view shows of a frame is drawn by one function, `compose_frame`,
with OpenCV (which does not hold Python's lock): the frame scaled to the view's letterbox in
device pixels, the mesh layer blended at the chosen opacity, the person box and the confident
landmarks. The display worker composes each frame for the view's current `VideoTarget`, so the
GUI thread only copies an image; Qt's scaling and blending in `paintEvent` held the lock for
~2.5 ms per frame (a Python thread next to it ran at half speed), time the session thread
needed. When the view changes (resize, opacity, a toggle), it composes the frame it holds
itself for its next paint, so a change shows at once.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import cv2
import numpy as np
from PyQt6.QtCore import QRectF, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QImage, QPainter
from PyQt6.QtWidgets import QSizePolicy, QWidget

from stdformer.detect.pose_quality import drawable_skeleton, landmark_confidence
from stdformer.types import Observation

CONFIDENT = 0.5  # landmarks below this visibility or presence are not drawn
BOX_BGR, CROP_BGR = (120, 220, 80), (255, 160, 80)  # the person box, MediaPipe's crop
BONE_BGR, POINT_BGR = (60, 200, 255), (60, 90, 255)
POINT_RADIUS = 3.0  # logical pixels


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


def letterbox(image_w: int, image_h: int, widget_w: float, widget_h: float) -> tuple[float, ...]:
    """(x, y, w, h): the largest rectangle with the image's aspect ratio centred in the widget."""
    scale = min(widget_w / image_w, widget_h / image_h)
    w, h = image_w * scale, image_h * scale
    return (widget_w - w) / 2, (widget_h - h) / 2, w, h


def letterbox_rect(image_w: int, image_h: int, widget_w: int, widget_h: int) -> QRectF:
    """`letterbox` as a QRectF."""
    return QRectF(*letterbox(image_w, image_h, widget_w, widget_h))


@dataclass(frozen=True)
class VideoTarget:
    """How the video view shows frames: its size in device pixels (`scale` of them per logical
    pixel), the mesh layer's opacity and what is drawn over the frame."""

    size_wh: tuple[int, int]
    opacity: float = 0.7
    show_mesh: bool = True
    show_landmarks: bool = True
    show_box: bool = True
    scale: float = 1.0

    def frame_size(self, image_w: int, image_h: int) -> tuple[int, int]:
        """(w, h) device pixels a frame of this size fills in the view (its letterbox)."""
        _, _, w, h = letterbox(image_w, image_h, *self.size_wh)
        return max(1, round(w)), max(1, round(h))


@dataclass(frozen=True)
class ComposedFrame:
    """A frame composed for `target` (`compose_frame`), as the RGB32 image the view copies."""

    image: QImage
    target: VideoTarget


def compose_frame(
    frame_bgr: np.ndarray,
    obs: Observation | None,
    layer_rgba: np.ndarray | None,
    mesh_alpha: float,
    target: VideoTarget,
) -> ComposedFrame:
    """The frame as the view shows it for `target`: `compose_video` at its opacity, then the box
    and landmarks it shows (`draw_observation`), as a `ComposedFrame`."""
    alpha = mesh_alpha * target.opacity if target.show_mesh else 0.0
    size = target.frame_size(frame_bgr.shape[1], frame_bgr.shape[0])
    image = compose_video(frame_bgr, layer_rgba, alpha, size)
    if obs is not None:
        s = size[0] / frame_bgr.shape[1]
        draw_observation(image, obs, s, target.scale, target.show_box, target.show_landmarks)
    return ComposedFrame(bgr_to_qimage(image), target)


def compose_video(
    frame_bgr: np.ndarray, layer_rgba: np.ndarray | None, alpha: float, size_wh: tuple[int, int]
) -> np.ndarray:
    """(h, w, 3) uint8 BGR: the frame scaled to `size_wh` with `layer_rgba` (any size, straight
    alpha, scaled the same way) blended over it at `alpha` x its own alpha: what QPainter draws
    with that opacity and smooth (bilinear) scaling. Blended at the view's size, which is
    usually smaller than a 720p or 1080p frame (area averaging cost 8x bilinear there)."""
    out = _scaled(frame_bgr, size_wh)
    if layer_rgba is None or alpha <= 0.0:
        return out
    found = _scaled_part(layer_rgba, size_wh)  # only where the mesh is
    if found is None:
        return out
    (x, y), part = found
    roi = out[y : y + part.shape[0], x : x + part.shape[1]]
    weight = cv2.multiply(part[..., 3], min(alpha, 1.0) / 255.0, dtype=cv2.CV_32F)  # (bh, bw)
    mesh = cv2.cvtColor(part, cv2.COLOR_RGBA2BGR)
    roi[:] = cv2.blendLinear(mesh, roi, weight, 1.0 - weight)
    return out


def _scaled_part(
    layer_rgba: np.ndarray, size_wh: tuple[int, int]
) -> tuple[tuple[int, int], np.ndarray] | None:
    """((x, y), part): the part of `layer_rgba` scaled to `size_wh` (as `cv2.resize`,
    bilinear) that its non-zero alpha covers, and where that part lies; None when nothing
    is. Only that part is scaled: the mesh covers a fraction of the frame (scaling the whole
    layer cost ~0.5 ms per frame at 640x480)."""
    x, y, bw, bh = cv2.boundingRect(layer_rgba[..., 3])
    if bw == 0:
        return None
    h, w = layer_rgba.shape[:2]
    if (w, h) == tuple(size_wh):
        return (x, y), layer_rgba[y : y + bh, x : x + bw]
    rx, ry = w / size_wh[0], h / size_wh[1]  # source pixels per output pixel
    # output pixels whose bilinear taps (at source (out + 0.5) * r - 0.5) reach into the box
    # (source pixels x .. x + bw - 1), a pixel to spare on each side
    x0 = max(math.floor((x - 0.5) / rx - 0.5), 0)
    y0 = max(math.floor((y - 0.5) / ry - 0.5), 0)
    x1 = min(math.ceil((x + bw + 0.5) / rx - 0.5) + 1, size_wh[0])
    y1 = min(math.ceil((y + bh + 0.5) / ry - 0.5) + 1, size_wh[1])
    to_source = np.array([[rx, 0.0, (x0 + 0.5) * rx - 0.5], [0.0, ry, (y0 + 0.5) * ry - 0.5]])
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    part = cv2.warpAffine(layer_rgba, to_source, (x1 - x0, y1 - y0), flags=flags,
                          borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
    return (x0, y0), part


def draw_observation(
    image: np.ndarray, obs: Observation, s: float, ui: float, box: bool, landmarks: bool
) -> None:
    """Draws, in place on `image` (BGR, the frame scaled by `s`), the person box (solid) and
    MediaPipe's crop (dashed), and the trusted landmarks connected to the body (no floating
    limb fragments); `ui`: device pixels per logical pixel (line widths). A few OpenCV calls
    for all of it: each call lets go of Python's lock and may wait to take it back."""
    width = max(1, round(2 * ui))
    if box:
        x0, y0, x1, y1 = np.asarray(obs.bbox_xyxy, np.float64) * s
        corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
        cv2.polylines(image, [_fixed(corners)], True, BOX_BGR, width, cv2.LINE_AA, shift=4)
        x0, y0, x1, y1 = np.asarray(obs.crop_xyxy, np.float64) * s
        corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]])
        cv2.polylines(image, _fixed(_dashes(corners, 6.0 * ui)), False, CROP_BGR,
                      max(1, round(ui)), cv2.LINE_AA, shift=4)  # fmt: skip
    if not landmarks:
        return
    pts = obs.landmarks_px[:, :2].astype(np.float64) * s
    sure, bones = drawable_skeleton(landmark_confidence(obs.visibility, obs.presence), CONFIDENT)
    if bones:
        segments = _fixed(pts[np.array(bones)])  # (B, 2, 2)
        cv2.polylines(image, segments, False, BONE_BGR, width, cv2.LINE_AA, shift=4)
    if sure.any():  # dots: zero-length segments with round ends
        dots = _fixed(np.repeat(pts[sure][:, None], 2, 1))
        cv2.polylines(image, dots, False, POINT_BGR, round(2 * POINT_RADIUS * ui), cv2.LINE_AA,
                      shift=4)  # fmt: skip


def _fixed(xy: np.ndarray) -> np.ndarray:
    """int32 coordinates with 4 fractional bits (OpenCV's `shift=4`)."""
    return np.round(np.asarray(xy) * 16).astype(np.int32)


def _dashes(path: np.ndarray, dash: float) -> np.ndarray:
    """(D, 2, 2) dash segments along the polyline `path` (P, 2): `dash` on, `dash` off."""
    out = []
    for a, b in itertools.pairwise(path):
        n = max(1, int(np.hypot(*(b - a)) // (2 * dash)))
        t = np.arange(2 * n).reshape(n, 2) / (2 * n)  # (n, 2) start and end of each dash
        out.append(a + t[..., None] * (b - a))
    return np.concatenate(out)


def _scaled(image: np.ndarray, size_wh: tuple[int, int]) -> np.ndarray:
    if image.shape[1::-1] == tuple(size_wh):
        return image.copy()
    return cv2.resize(image, size_wh, interpolation=cv2.INTER_LINEAR)


class VideoView(QWidget):
    """Shows the latest frame; overlays are toggled with `show_mesh`, `show_box` and
    `show_landmarks`; `mesh_opacity` in [0, 1] sets how strongly the mesh covers the video.
    A left click on the image emits `image_clicked(x, y)` in frame pixels (pick the subject)."""

    image_clicked = pyqtSignal(float, float)
    target_changed = pyqtSignal()  # `target()` changed (size, opacity or a toggle)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(320, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._frame: np.ndarray | None = None  # (H, W, 3) BGR
        self._obs: Observation | None = None
        self._layer: np.ndarray | None = None  # (h, w, 4) RGBA mesh layer
        self._mesh_alpha = 1.0  # the session's fade (subject lost)
        self._composed: ComposedFrame | None = None
        self._message = "No source running. Pick a source and press Start."
        self.show_box = True
        self.show_landmarks = True
        self.show_mesh = True
        self.mesh_opacity = 0.7

    def set_frame(
        self,
        frame_bgr: np.ndarray,
        obs: Observation | None,
        mesh_layer: np.ndarray | None = None,
        mesh_alpha: float = 1.0,
        composed: ComposedFrame | None = None,
    ) -> None:
        """A new frame (the arrays are not changed afterwards); `mesh_layer` (RGBA, any size,
        scaled to the frame) is drawn at `mesh_alpha` x opacity; `composed`: all of it already
        drawn for a `target()` (the display worker's), shown while it is the view's."""
        self._frame, self._obs = frame_bgr, obs
        self._layer, self._mesh_alpha = mesh_layer, mesh_alpha
        self._composed = composed
        self.update()

    @property
    def composed(self) -> ComposedFrame | None:
        """The frame as last composed (by the display worker, or by the view after a change)."""
        return self._composed

    @property
    def has_mesh(self) -> bool:
        """A mesh layer came with the frame shown."""
        return self._layer is not None

    def target(self) -> VideoTarget:
        """How frames should be composed now (`compose_frame`)."""
        ratio = self.devicePixelRatioF()
        size = (int(self.width() * ratio), int(self.height() * ratio))
        return VideoTarget(size, round(self.mesh_opacity, 3), self.show_mesh,
                           self.show_landmarks, self.show_box, ratio)  # fmt: skip

    def resizeEvent(self, event: object) -> None:
        self.target_changed.emit()

    def set_message(self, text: str) -> None:
        """Text shown when there is no image (and over a stale one)."""
        self._message = text
        self.update()

    def clear(self, message: str) -> None:
        self._frame, self._obs, self._layer, self._composed = None, None, None, None
        self.set_message(message)

    def paintEvent(self, event: object) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(24, 24, 28))
        if self._frame is None:
            p.setPen(QColor(200, 200, 200))
            flags = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
            p.drawText(self.rect().adjusted(16, 16, -16, -16), flags, self._message)
            return
        target = self.target()
        if self._composed is None or self._composed.target != target:  # the view changed
            self._composed = compose_frame(self._frame, self._obs, self._layer,
                                           self._mesh_alpha, target)  # fmt: skip
        h, w = self._frame.shape[:2]
        image = self._composed.image  # already scaled and drawn: a plain copy
        image.setDevicePixelRatio(target.scale)
        p.drawImage(letterbox_rect(w, h, self.width(), self.height()).topLeft(), image)

    def mousePressEvent(self, event: object) -> None:
        """Left click on the image: `image_clicked` with the frame pixel under the cursor."""
        if self._frame is None or event.button() != Qt.MouseButton.LeftButton:
            return super().mousePressEvent(event)
        h, w = self._frame.shape[:2]
        target = letterbox_rect(w, h, self.width(), self.height())
        pos = event.position()
        if target.contains(pos):
            scale = w / target.width()
            self.image_clicked.emit((pos.x() - target.x()) * scale, (pos.y() - target.y()) * scale)
