"""Video sources: webcam, video file, image folder or the embedded sample clip -> `Frame`s.

A source is a blocking reader: `read()` returns the next `Frame` or None at the end. The capture
thread (`stdformer.session.capture.CaptureThread`) drives it; headless batch code can iterate it
directly to see every frame. Time stamps (`Frame.t_ns`) are monotonic per source: the capture
clock for cameras, the frame position (index / fps) for files and folders, continued across loops.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

from stdformer.paths import MissingFileError, resolve_file
from stdformer.types import Frame

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}
DEFAULT_FPS = 30.0
HINT = "Use --source FILE (a video or an image folder) or --source sample (the embedded clip)."


class SourceError(RuntimeError):
    """A video source cannot be opened or read; the message says what was tried and what to do."""


class VideoSource:
    """Base class: a blocking frame reader. Subclasses implement `_read_image` and `_rewind`."""

    is_live = False  # cameras: True (never ends, retried on failure, not paced)

    def __init__(self, name: str, fps: float, loop: bool = False) -> None:
        self.name = name
        self.fps = fps if fps and np.isfinite(fps) and fps > 0 else DEFAULT_FPS
        self.loop = loop
        self._index = 0  # frames delivered so far (continues across loops)
        self._pos = 0  # frame position in the current pass
        self._t_offset_ns = 0  # media time of the start of the current pass

    def read(self) -> Frame | None:
        """Next frame, or None at the end of a non-looping source."""
        image = self._read_image()
        if image is None and self.loop and self._pos > 0:
            self._t_offset_ns += round(self._pos * 1e9 / self.fps)
            self._pos = 0
            self._rewind()
            image = self._read_image()
        if image is None:
            return None
        t_ns = self._t_offset_ns + round(self._pos * 1e9 / self.fps)
        frame = Frame(image, t_ns=t_ns, index=self._index, wall_ns=time.perf_counter_ns())
        self._pos += 1
        self._index += 1
        return frame

    def __iter__(self) -> Iterator[Frame]:
        while (frame := self.read()) is not None:
            yield frame

    def _read_image(self) -> np.ndarray | None:  # (H, W, 3) uint8 BGR
        raise NotImplementedError

    def _rewind(self) -> None:
        raise NotImplementedError

    def reopen(self) -> None:
        """Re-open after a read failure (cameras); files and folders have nothing to re-open."""

    def close(self) -> None:
        """Release the underlying device or file."""

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, fps={self.fps:g})"


class VideoFileSource(VideoSource):
    """A video file read with OpenCV; t_ns from the frame position and the file's fps."""

    def __init__(self, path: Path, loop: bool = False) -> None:
        self.path = path
        self._cap = _open_file_capture(path)
        super().__init__(str(path), self._cap.get(cv2.CAP_PROP_FPS), loop)
        self.frame_count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))  # container's claim
        ok, first = self._cap.read()  # a file that opens but decodes nothing is unreadable
        if not ok or first is None:
            self._cap.release()
            raise SourceError(
                f"Cannot read video file {path}: it opens but contains no decodable frame. "
                "Convert it to .mp4 or .avi, or give an image folder."
            )
        self._pending: np.ndarray | None = _as_bgr(first)

    def _read_image(self) -> np.ndarray | None:
        if self._pending is not None:
            image, self._pending = self._pending, None
            return image
        ok, image = self._cap.read()
        return _as_bgr(image) if ok else None

    def _rewind(self) -> None:
        # Seeking is unreliable in some codecs; re-opening always lands on frame 0.
        self._cap.release()
        self._cap = _open_file_capture(self.path)

    def close(self) -> None:
        self._cap.release()


class ImageFolderSource(VideoSource):
    """Images of a folder in natural name order (frame2 before frame10), or one image file."""

    def __init__(self, path: Path, fps: float | None = None, loop: bool = False) -> None:
        if path.is_dir():
            files = sorted(
                (p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES),
                key=_natural_key,
            )
        else:
            files = [path]
        if not files:
            raise SourceError(
                f"No images ({', '.join(sorted(IMAGE_SUFFIXES))}) in folder {path}. Put numbered "
                "frames there or pick another source."
            )
        self.files = files
        super().__init__(str(path), fps or DEFAULT_FPS, loop)

    def _read_image(self) -> np.ndarray | None:
        while self._pos < len(self.files):
            image = cv2.imread(str(self.files[self._pos]), cv2.IMREAD_COLOR)
            if image is not None:
                return image
            log.warning("skipping unreadable image %s", self.files[self._pos])
            self._pos += 1  # keeps the time base: a skipped image is a missing frame
        return None

    def _rewind(self) -> None:
        pass  # position already reset by read()


class CameraSource(VideoSource):
    """A webcam by index; t_ns from the monotonic clock at grab time."""

    is_live = True

    def __init__(self, index: int, size_wh: tuple[int, int] | None = None) -> None:
        self.index = index
        self.size_wh = size_wh
        self._cap = _open_camera(index, size_wh)
        if self._cap is None:
            raise SourceError(f"Could not open camera {index} (indices tried: {index}). {HINT}")
        super().__init__(f"camera {index}", self._cap.get(cv2.CAP_PROP_FPS))

    def read(self) -> Frame | None:
        """Next camera frame; raises SourceError when the device stops delivering."""
        if self._cap is None or not self._cap.grab():
            raise SourceError(f"camera {self.index} stopped delivering frames")
        t_ns = time.monotonic_ns()  # capture clock: taken right after the grab
        ok, image = self._cap.retrieve()
        if not ok or image is None:
            raise SourceError(f"camera {self.index} returned no image")
        frame = Frame(_as_bgr(image), t_ns=t_ns, index=self._index, wall_ns=time.perf_counter_ns())
        self._index += 1
        return frame

    def reopen(self) -> None:
        """Try to open the device again; raises SourceError if it is still gone."""
        self.close()
        self._cap = _open_camera(self.index, self.size_wh)
        if self._cap is None:
            raise SourceError(f"camera {self.index} is not available")

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


def open_source(
    spec: str | int | os.PathLike[str],
    *,
    loop: bool = False,
    fps: float | None = None,
    camera_size_wh: tuple[int, int] | None = None,
) -> VideoSource:
    """Open a source from a CLI-style spec.

    `spec`: a camera index (int or digit string), "sample" (the embedded clip, resolved through
    `stdformer.paths`), "auto" (first camera that works, else the sample clip), a video file, an
    image folder or a single image. `loop` restarts files and folders at their end (t_ns keeps
    increasing); `fps` sets the frame rate of image folders; `camera_size_wh` asks a camera for
    a resolution. Raises SourceError with what was tried and what to do instead.
    """
    if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit()):
        return CameraSource(int(spec), camera_size_wh)
    if isinstance(spec, str) and spec.strip().lower() == "auto":
        try:
            return open_first_camera(size_wh=camera_size_wh)
        except SourceError as err:
            log.warning("%s Falling back to the sample clip.", err)
            spec = "sample"
    if isinstance(spec, str) and spec.strip().lower() == "sample":
        try:
            path = resolve_file("sample_clip")
        except MissingFileError as err:
            raise SourceError(str(err)) from err
        return VideoFileSource(path, loop=loop)
    path = Path(spec).expanduser()
    if not path.exists():
        raise SourceError(
            f"Video source not found: {path}. Give an existing video file or image folder, a "
            f"camera index (0, 1, ...) or 'sample'."
        )
    if path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageFolderSource(path, fps=fps, loop=loop)
    return VideoFileSource(path, loop=loop)


def open_first_camera(max_index: int = 4, size_wh: tuple[int, int] | None = None) -> CameraSource:
    """Open the first camera among indices 0..max_index-1 that delivers a frame."""
    for index in range(max_index):
        try:
            return CameraSource(index, size_wh)
        except SourceError:
            continue
    tried = ", ".join(str(i) for i in range(max_index))
    raise SourceError(f"No camera could be opened (indices tried: {tried}). {HINT}")


def list_cameras(max_index: int = 4) -> list[int]:
    """Indices in 0..max_index-1 of cameras that open and deliver a frame (for a source picker).

    On Linux only indices with a /dev/videoN node are probed, so this is instant without cameras.
    """
    found = []
    for index in range(max_index):
        if sys.platform.startswith("linux") and not Path(f"/dev/video{index}").exists():
            continue
        cap = _open_camera(index, None)
        if cap is not None:
            cap.release()
            found.append(index)
    return found


# -- helpers -------------------------------------------------------------------------------------
@contextmanager
def _quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's own warnings while probing (we raise a clearer error ourselves)."""
    try:
        previous = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    except AttributeError:  # pragma: no cover - builds without the logging module
        yield
        return
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(previous)


def _open_camera(index: int, size_wh: tuple[int, int] | None) -> cv2.VideoCapture | None:
    """An opened capture that delivered one frame, or None."""
    if sys.platform.startswith("linux") and not Path(f"/dev/video{index}").exists():
        return None  # no device node: skip OpenCV's slow backend probing
    with _quiet_opencv():
        cap = cv2.VideoCapture(index)
        if cap.isOpened() and size_wh is not None:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, size_wh[0])
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, size_wh[1])
        # Metadata-only nodes (e.g. the second /dev/video of a UVC camera) open but never grab.
        if cap.isOpened() and cap.grab():
            return cap
        cap.release()
    return None


def _open_file_capture(path: Path) -> cv2.VideoCapture:
    with _quiet_opencv():
        cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise SourceError(
            f"Cannot read video file {path}: OpenCV could not open it (unknown format or "
            "damaged). Convert it to .mp4 or .avi, or give an image folder."
        )
    return cap


def _as_bgr(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 BGR from whatever OpenCV delivered (grey or BGRA)."""
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


def _natural_key(path: Path) -> list[object]:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


def __getattr__(name: str) -> object:
    """`from stdformer.session.sources import CaptureThread` also works (it lives in capture.py,
    which imports this module, so it is looked up lazily to avoid an import cycle)."""
    if name in ("CaptureThread", "CaptureStatus"):
        from stdformer.session import capture

        return getattr(capture, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
