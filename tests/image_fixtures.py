"""Fixtures for the detect/session/render tests: a real photo of a person, composed frames,
small clips (registered for every test by `pytest_plugins` in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def astronaut_bgr() -> np.ndarray:
    """Public-domain photo of astronaut Eileen Collins (upper body, frontal), (512, 512, 3)."""
    image = cv2.imread(str(DATA / "astronaut.png"), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"test photo missing: {DATA / 'astronaut.png'}")
    return image


@pytest.fixture(scope="session")
def compose(astronaut_bgr: np.ndarray) -> Callable[..., np.ndarray]:
    """compose([(x, y, side), ...], (W, H)) pastes the photo scaled to side x side at (x, y)."""

    def _compose(placements: list[tuple[int, int, int]], size_wh: tuple[int, int]) -> np.ndarray:
        canvas = np.full((size_wh[1], size_wh[0], 3), 110, np.uint8)  # (H, W, 3) plain grey
        for x, y, side in placements:
            canvas[y : y + side, x : x + side] = cv2.resize(
                astronaut_bgr, (side, side), interpolation=cv2.INTER_AREA
            )
        return canvas

    return _compose


def frame_value(index: int) -> int:
    """Grey level that encodes a frame index in test clips (robust to lossy codecs)."""
    return (index * 12) % 240 + 8


@pytest.fixture
def write_clip(tmp_path: Path) -> Callable[..., Path]:
    """write_clip(n, fps=25.0, name="clip.avi") -> path of an MJPG clip whose frame i is
    uniformly grey at frame_value(i), 96x64 pixels."""

    def _write(n: int, fps: float = 25.0, name: str = "clip.avi") -> Path:
        path = tmp_path / name
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (96, 64))
        if not writer.isOpened():
            raise RuntimeError("cv2.VideoWriter cannot write MJPG here")
        for i in range(n):
            writer.write(np.full((64, 96, 3), frame_value(i), np.uint8))
        writer.release()
        return path

    return _write


@pytest.fixture
def decode_index() -> Callable[[np.ndarray], int]:
    """Inverse of frame_value for the first 20 frames of a clip."""

    def _decode(image_bgr: np.ndarray) -> int:
        return round((float(image_bgr.mean()) - 8) / 12)

    return _decode


@pytest.fixture(scope="session")
def desk_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A head-and-shoulders view: the first 40 frames of the sample clip cut at the person's
    hips (hips at y ~245 of 262, legs out of view), scaled x2 (600x524, 30 fps mp4v)."""
    from stdformer.paths import resolve_file

    cap = cv2.VideoCapture(str(resolve_file("sample_clip")))
    path = tmp_path_factory.mktemp("desk") / "desk.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (600, 524))
    for _ in range(40):
        ok, frame = cap.read()
        assert ok
        writer.write(cv2.resize(frame[:262, 170:470], (600, 524)))
    writer.release()
    cap.release()
    return path
