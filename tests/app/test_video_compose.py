"""The video view draws each frame by one function, `compose_frame` (OpenCV, off the GUI thread
in the app): the mesh layer blends as QPainter would draw it at that opacity, the person box and
the trusted landmarks follow their toggles, and the view shows a frame composed for it as it is
but composes again when its size, opacity or a toggle changed."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
from PyQt6.QtCore import QRectF
from PyQt6.QtGui import QImage, QPainter

from app.video_view import (
    BONE_BGR,
    VideoTarget,
    VideoView,
    bgr_to_qimage,
    compose_frame,
    compose_video,
)
from stdformer.types import Observation


def pixels(image: QImage) -> np.ndarray:  # (H, W, 3) int RGB
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    ptr = rgb.constBits()
    ptr.setsize(rgb.sizeInBytes())
    rows = np.frombuffer(ptr, np.uint8).reshape(rgb.height(), rgb.bytesPerLine())
    return rows[:, : 3 * rgb.width()].reshape(rgb.height(), rgb.width(), 3).astype(int)


def rgba_to_qimage(image_rgba: np.ndarray) -> QImage:  # straight alpha, as QPainter takes it
    h, w = image_rgba.shape[:2]
    rgba = np.ascontiguousarray(image_rgba)
    return QImage(rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888).copy()


def scene() -> tuple[np.ndarray, np.ndarray]:
    """A smooth 640x480 frame and a mesh layer: an opaque blob with a half-transparent rim."""
    yy, xx = np.mgrid[0:480, 0:640]
    frame = np.stack([xx * 255 // 640, yy * 255 // 480, (xx + yy) * 255 // 1120], -1)
    layer = np.zeros((480, 640, 4), np.uint8)
    r = np.hypot(xx - 300, yy - 250)
    layer[r < 120] = (230, 120, 40, 128)
    layer[r < 100] = (40, 200, 230, 255)
    return frame.astype(np.uint8), layer


def person() -> Observation:
    """A standing person's landmarks (all trusted) in a 640x480 frame."""
    lm = np.zeros((33, 3), np.float32)
    lm[:11, :2] = (320, 90)  # face
    lm[[11, 12], :2] = [(360, 140), (280, 140)]  # shoulders
    lm[[13, 14], :2] = [(380, 200), (260, 200)]
    lm[[15, 16], :2] = [(390, 260), (250, 260)]
    lm[[17, 18, 19, 20, 21, 22], :2] = [(392, 275), (248, 275)] * 3
    lm[[23, 24], :2] = [(345, 270), (295, 270)]  # hips
    lm[[25, 26], :2] = [(350, 350), (290, 350)]
    lm[[27, 28, 29, 30, 31, 32], :2] = [(352, 430), (288, 430)] * 3
    ones = np.ones(33, np.float32)
    return Observation(lm, ones, ones, np.zeros((33, 3), np.float32),
                       np.array([248, 90, 392, 430], np.float32),
                       np.array([200, 60, 440, 460], np.float32), (640, 480), 0, 0)  # fmt: skip


def bone_pixels(image_bgr: np.ndarray) -> int:
    return int((np.abs(image_bgr.astype(int) - BONE_BGR).sum(-1) < 40).sum())


def test_mesh_layer_blends_as_qpainter_draws_it() -> None:
    frame, layer = scene()
    for size, alpha in (((747, 560), 0.7), ((400, 300), 0.42)):  # growing, shrinking
        reference = QImage(*size, QImage.Format.Format_RGB32)
        p = QPainter(reference)  # the view's drawing before composition moved to OpenCV
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        p.drawImage(QRectF(0, 0, *size), bgr_to_qimage(frame))
        p.setOpacity(alpha)
        p.drawImage(QRectF(0, 0, *size), rgba_to_qimage(layer))
        p.end()
        ours = compose_video(frame, layer, alpha, size)[..., ::-1].astype(int)  # as RGB
        diff = np.abs(ours - pixels(reference)).max(-1)
        assert diff.mean() < 1.5 and np.percentile(diff, 99) < 25, (size, diff.mean())
        centre = (size[1] * 250 // 480, size[0] * 300 // 640)  # inside the opaque blob
        assert diff[centre] < 6


SIZES = ((747, 560), (400, 300), (1280, 960), (333, 250))  # growing and shrinking


def test_only_the_mesh_part_is_scaled_yet_it_blends_as_the_whole_layer_would() -> None:
    """The layer is scaled only where the mesh is (a fraction of the frame): the same picture
    as scaling the whole layer, up or down, with the mesh at the frame's edges too."""
    frame, blob = scene()
    corner = blob.copy()
    corner[-40:, -30:] = (200, 30, 90, 255)  # a mesh running off the bottom right
    for layer, size in itertools.product((blob, corner), SIZES):
        whole = cv2.resize(layer, size, interpolation=cv2.INTER_LINEAR)
        out = cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR)
        weight = whole[..., 3:].astype(np.float32) * (0.7 / 255.0)
        expected = whole[..., 2::-1] * weight + out * (1.0 - weight)
        ours = compose_video(frame, layer, 0.7, size).astype(float)
        assert np.abs(ours - expected).max() <= 1.5, size


def test_nothing_to_blend_is_the_scaled_frame() -> None:
    frame, layer = scene()
    plain = compose_video(frame, None, 0.7, (320, 240))
    assert plain.shape == (240, 320, 3)
    assert np.array_equal(compose_video(frame, layer, 0.0, (320, 240)), plain)
    empty = np.zeros_like(layer)  # a layer with nobody drawn in it
    assert np.array_equal(compose_video(frame, empty, 0.7, (320, 240)), plain)


def test_box_and_landmarks_follow_their_toggles() -> None:
    frame = np.full((480, 640, 3), 40, np.uint8)
    obs = person()
    on = VideoTarget((800, 600))
    drawn = compose_frame(frame, obs, None, 1.0, on)
    assert drawn.image.width() == 800 and drawn.image.height() == 600
    rgb = pixels(drawn.image)
    assert bone_pixels(rgb[..., ::-1]) > 500  # the skeleton's bones
    off = VideoTarget((800, 600), show_landmarks=False, show_box=False)
    assert (pixels(compose_frame(frame, obs, None, 1.0, off).image) == 40).all()
    unsure = Observation(**{**obs.__dict__, "visibility": np.zeros(33, np.float32)})
    assert bone_pixels(pixels(compose_frame(frame, unsure, None, 1.0, on).image)[..., ::-1]) == 0


def test_view_shows_a_composed_frame_and_recomposes_after_a_change(qtbot) -> None:
    view = VideoView()
    qtbot.addWidget(view)
    view.resize(760, 560)  # 640x480 letterboxed to 746.7x560: margins left and right
    view.show()
    frame, layer = scene()
    composed = compose_frame(frame, None, layer, 1.0, view.target())  # the display worker's
    view.set_frame(frame, None, layer, 1.0, composed)
    shown = pixels(view.grab().toImage())
    x0 = round((760 - 746.67) / 2)
    assert np.array_equal(shown[:, x0 : x0 + composed.image.width()], pixels(composed.image))
    assert view.composed is composed  # painted as it came
    for change in (lambda: setattr(view, "mesh_opacity", 0.0),
                   lambda: setattr(view, "show_mesh", False)):  # fmt: skip
        change()  # the slider or the toggle moved: the next paint shows it at once
        now = pixels(view.grab().toImage())
        assert (np.abs(now - shown).max(-1) > 30).sum() > 5000  # the mesh is gone
        assert view.composed is not composed and view.composed.target == view.target()
        view.mesh_opacity, view.show_mesh = 0.7, True
    view.resize(600, 500)
    assert pixels(view.grab().toImage()).shape[:2] == (500, 600)
    assert view.composed.target == view.target() and view.composed.image.width() == 600
