"""The embedded sample clip: found by resolve_file, long enough, and shows a detectable person."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from stdformer.paths import resolve_file


def _read_frames(path: str, indices: set[int]) -> tuple[int, dict[int, np.ndarray]]:
    cap = cv2.VideoCapture(path)
    frames, n = {}, 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if n in indices:
            frames[n] = frame
        n += 1
    cap.release()
    return n, frames


def test_sample_clip_is_a_5s_640x480_video() -> None:
    path = resolve_file("sample_clip")
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened()
    fps = cap.get(cv2.CAP_PROP_FPS)
    cap.release()
    n, frames = _read_frames(str(path), {0})
    assert 24 <= fps <= 30
    assert n / fps >= 5.0
    assert frames[0].shape == (480, 640, 3)
    assert path.stat().st_size < 5e6


def test_mediapipe_finds_the_person_in_the_sample_clip() -> None:
    from mediapipe import Image, ImageFormat
    from mediapipe.tasks.python import BaseOptions
    from mediapipe.tasks.python.vision import PoseLandmarker, PoseLandmarkerOptions

    try:
        model = resolve_file("pose_model")
    except FileNotFoundError as exc:  # built by tools/build_pose_task.py
        pytest.skip(str(exc))
    wanted = {10, 70, 125, 150, 190}  # standing, arms up, squat, twist, turned
    _, frames = _read_frames(str(resolve_file("sample_clip")), wanted)
    options = PoseLandmarkerOptions(base_options=BaseOptions(model_asset_path=str(model)))
    with PoseLandmarker.create_from_options(options) as landmarker:
        for i in sorted(wanted):
            rgb = np.ascontiguousarray(frames[i][..., ::-1])
            result = landmarker.detect(Image(image_format=ImageFormat.SRGB, data=rgb))
            assert result.pose_landmarks, f"no person found in frame {i}"
            xy = np.array([[p.x * 640, p.y * 480] for p in result.pose_landmarks[0]])
            # The person stands in the middle third of the image, full body inside it.
            assert 200 < np.median(xy[:, 0]) < 440, i
            assert xy[:, 1].min() > 0 and xy[:, 1].max() < 480, i
