"""Video sources: files, image folders, looping, bad paths and cameras that do not open."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from stdformer.session import sources
from stdformer.session.sources import (
    CameraSource,
    ImageFolderSource,
    SourceError,
    VideoFileSource,
    list_cameras,
    open_first_camera,
    open_source,
)


def test_video_file_frames_indices_and_times(write_clip, decode_index) -> None:
    src = open_source(str(write_clip(12, fps=25.0)))
    assert isinstance(src, VideoFileSource) and src.fps == pytest.approx(25.0)
    frames = list(src)
    src.close()
    assert len(frames) == 12
    assert [f.index for f in frames] == list(range(12))
    assert [decode_index(f.image_bgr) for f in frames] == list(range(12))
    assert [f.t_ns for f in frames] == [i * 40_000_000 for i in range(12)]
    assert frames[0].image_bgr.shape == (64, 96, 3) and frames[0].image_bgr.dtype == np.uint8
    assert all(f.wall_ns > 0 for f in frames)


def test_end_of_file_stop_vs_loop(write_clip, decode_index) -> None:
    path = write_clip(5, fps=10.0)
    with open_source(path, loop=False) as src:
        assert len(list(src)) == 5 and src.read() is None
    with open_source(path, loop=True) as src:
        frames = [src.read() for _ in range(13)]
    assert [decode_index(f.image_bgr) for f in frames] == [i % 5 for i in range(13)]
    assert [f.index for f in frames] == list(range(13))
    # Media time keeps running across the restart: 100 ms per frame, no jump back.
    assert [f.t_ns for f in frames] == [i * 100_000_000 for i in range(13)]


def test_image_folder_natural_order_and_fps(tmp_path: Path) -> None:
    for i in (10, 2, 1):  # natural order 1, 2, 10 (lexical order would be 1, 10, 2)
        cv2.imwrite(str(tmp_path / f"frame{i}.png"), np.full((8, 8, 3), i * 20, np.uint8))
    (tmp_path / "notes.txt").write_text("ignored")
    src = open_source(tmp_path, fps=5.0)
    assert isinstance(src, ImageFolderSource)
    frames = list(src)
    assert [int(f.image_bgr[0, 0, 0]) for f in frames] == [20, 40, 200]
    assert [f.t_ns for f in frames] == [0, 200_000_000, 400_000_000]


def test_image_folder_skips_unreadable_image(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((8, 8, 3), np.uint8))
    (tmp_path / "b.png").write_bytes(b"not a png")
    cv2.imwrite(str(tmp_path / "c.png"), np.zeros((8, 8, 3), np.uint8))
    frames = list(open_source(tmp_path))
    assert [f.index for f in frames] == [0, 1]
    assert frames[1].t_ns == round(2e9 / 30)  # the broken image keeps its time slot


def test_single_image_loops_as_a_still(astronaut_bgr, tmp_path: Path) -> None:
    path = tmp_path / "person.jpg"
    cv2.imwrite(str(path), astronaut_bgr)
    with open_source(path, loop=True) as src:
        frames = [src.read() for _ in range(3)]
    assert [f.index for f in frames] == [0, 1, 2] and frames[2].image_bgr.shape == (512, 512, 3)


def test_empty_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=rf"No images .* in folder {tmp_path}"):
        open_source(tmp_path)


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.mp4"
    with pytest.raises(SourceError, match=r"not found: .*nope\.mp4"):
        open_source(str(missing))


def test_unreadable_video_file_is_an_error(tmp_path: Path) -> None:
    bogus = tmp_path / "broken.mp4"
    bogus.write_bytes(b"\x00\x01 definitely not a video" * 100)
    with pytest.raises(SourceError, match=r"Cannot read video file .*broken\.mp4.*Convert it"):
        open_source(bogus)


def test_sample_spec_uses_resolve_file(write_clip, monkeypatch) -> None:
    clip = write_clip(3)
    monkeypatch.setenv("STDFORMER_SAMPLE_CLIP", str(clip))
    with open_source("sample") as src:
        assert src.name == str(clip) and len(list(src)) == 3
    monkeypatch.setenv("STDFORMER_SAMPLE_CLIP", str(clip.with_name("gone.mp4")))
    with pytest.raises(SourceError, match="sample clip not found"):
        open_source("sample")


# -- cameras (none on test machines: the real open path must fail cleanly) ---------------------
def test_missing_camera_names_index_and_suggests_file() -> None:
    t0 = time.perf_counter()
    for spec in (63, "63"):
        with pytest.raises(SourceError, match=r"camera 63 \(indices tried: 63\).*--source FILE"):
            open_source(spec)
    assert time.perf_counter() - t0 < 5.0


def test_no_camera_at_all(monkeypatch) -> None:
    monkeypatch.setattr(sources, "_open_camera", lambda index, size_wh: None)
    with pytest.raises(SourceError, match=r"indices tried: 0, 1, 2\).*--source sample"):
        open_first_camera(max_index=3)
    assert list_cameras(4) == []


def test_auto_falls_back_to_sample(monkeypatch, write_clip) -> None:
    monkeypatch.setattr(sources, "_open_camera", lambda index, size_wh: None)
    monkeypatch.setenv("STDFORMER_SAMPLE_CLIP", str(write_clip(2)))
    with open_source("auto") as src:
        assert isinstance(src, VideoFileSource)


class FakeCapture:
    """Stands in for cv2.VideoCapture of a camera that delivers `frames` frames, then dies."""

    def __init__(self, frames: int) -> None:
        self.left = frames

    def grab(self) -> bool:
        self.left -= 1
        return self.left >= 0

    def retrieve(self):
        return True, np.zeros((4, 6, 3), np.uint8)

    def get(self, prop: int) -> float:
        return 30.0

    def release(self) -> None:
        pass


def test_camera_frames_use_capture_clock_and_failure_raises(monkeypatch) -> None:
    monkeypatch.setattr(sources, "_open_camera", lambda index, size_wh: FakeCapture(3))
    cam = open_source("2")
    assert isinstance(cam, CameraSource) and cam.is_live and cam.name == "camera 2"
    frames = [cam.read() for _ in range(3)]
    assert [f.index for f in frames] == [0, 1, 2]
    assert frames[0].t_ns <= frames[1].t_ns <= frames[2].t_ns
    assert abs(frames[0].t_ns - time.monotonic_ns()) < 1e9
    with pytest.raises(SourceError, match="camera 2 stopped"):
        cam.read()
    cam.reopen()  # the device is back
    assert cam.read().index == 3
