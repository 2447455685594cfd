"""Clicking a person on the video picks the subject: the click maps to frame pixels (the pick
reaching the localizer as a session command: tests/session/test_core.py)."""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QPoint, Qt

from app.video_view import VideoView


def test_click_maps_to_frame_pixels_through_the_letterbox(qtbot) -> None:
    view = VideoView()
    qtbot.addWidget(view)
    view.resize(800, 400)  # a 400x200 frame fills it exactly at scale 2; 640x480: letterboxed
    view.set_frame(np.zeros((480, 640, 3), np.uint8), None)
    # 640x480 in 800x400: scale 400/480, width 533.3, left margin 133.3
    with qtbot.waitSignal(view.image_clicked, timeout=1000) as sig:
        qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=QPoint(400, 200))
    x, y = sig.args
    assert abs(x - 320) < 2 and abs(y - 240) < 2  # the frame's centre
    with qtbot.assertNotEmitted(view.image_clicked):  # on the black margin: nothing
        qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=QPoint(20, 200))


def test_click_without_a_frame_does_nothing(qtbot) -> None:
    view = VideoView()
    qtbot.addWidget(view)
    view.resize(320, 240)
    with qtbot.assertNotEmitted(view.image_clicked):
        qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=QPoint(160, 120))
