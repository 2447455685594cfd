"""Streamed, crash-safe recording writer: one fixed-size record appended per frame.

Each `write()` hands the whole record to the kernel with one `os.write` on an append-only file,
so a killed process (SIGKILL) loses nothing already written: the page cache survives the
process. Every `sync_interval_s` (0.5 s by default) the data is `fdatasync`ed, so a power loss
loses at most that much. Nothing is held in memory beyond one record, and nothing existing is
ever overwritten: a recording is a new folder made with `os.mkdir` (atomic, fails if the name
exists), and a taken name gets a `-2`, `-3`... suffix.

Errors (disk full, folder not writable, file-size limit) raise `RecordingError` with what
happened and what to do; the torn tail of a failed write is cut off, the frames written before
stay readable, and the writer refuses further writes. See `format.py` for the layout.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from stdformer.recording.format import (
    END_FILE,
    FACES_FILE,
    FRAMES_FILE,
    HEADER_FILE,
    SOURCE_FILE,
    SUFFIX,
    FrameRecord,
    Header,
    RecordingError,
    RecordingInfo,
    record_crc,
    record_fields,
)

log = logging.getLogger(__name__)

_FULL = (errno.ENOSPC, errno.EDQUOT)
_DENIED = (errno.EACCES, errno.EPERM, errno.EROFS)


def describe_os_error(exc: OSError, what: str) -> str:
    """A user-facing sentence for an OSError while doing `what` (e.g. "writing x/frames.bin")."""
    if exc.errno in _FULL:
        return f"disk full while {what}. Free some space or record to another disk."
    if exc.errno == errno.EFBIG:
        return f"file size limit reached while {what}. Record to another disk or shorter takes."
    if exc.errno in _DENIED:
        return f"no permission while {what}. Choose a folder you can write to."
    if exc.errno in (errno.ENOTDIR, errno.ENOENT):
        return f"{what}: a folder on the path is missing or is a file. Choose an existing folder."
    return f"{what} failed: {exc.strerror or exc}. Check the disk and the folder."


def recording_dir_names(parent: Path, stem: str) -> Iterator[Path]:
    """The names a new recording folder may take, in order: stem.strec, stem-2.strec, ..."""
    for n in range(1, 10_000):
        yield parent / (f"{stem}{SUFFIX}" if n == 1 else f"{stem}-{n}{SUFFIX}")


def new_recording_dir(parent: str | os.PathLike[str], stem: str | None = None) -> Path:
    """Create and return a new, empty recording folder `parent/stem[-N].strec`.

    `stem` defaults to `recording-YYYYmmdd-HHMMSS`. The parent folder is created if needed.
    Raises RecordingError when the parent cannot be created or written.
    """
    parent = Path(parent).expanduser()
    stem = stem or datetime.now().strftime("recording-%Y%m%d-%H%M%S")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RecordingError(describe_os_error(exc, f"creating the folder {parent}")) from exc
    for path in recording_dir_names(parent, stem):
        try:
            path.mkdir()  # atomic: never reuses an existing recording
            return path
        except FileExistsError:
            continue
        except OSError as exc:
            raise RecordingError(describe_os_error(exc, f"creating {path}")) from exc
    raise RecordingError(f"{parent}: 9999 recordings named {stem!r} exist; use another name")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_new_file(path: Path, data: bytes) -> None:
    """Write a file that must not exist yet, durably (O_EXCL + fsync)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        _write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


class RecordingWriter:
    """Writes one recording folder; use from one thread (the recorder's writer thread).

    `RecordingWriter.create(parent, info, faces, n_vertices, n_joints)` makes a new folder and
    writes header.json and faces.npy; `write(record)` appends a frame; `close()` syncs and writes
    end.json. Also a context manager.
    """

    def __init__(
        self,
        path: Path,
        info: RecordingInfo,
        faces: np.ndarray,  # (F, 3) int
        n_vertices: int,
        n_joints: int = 24,
        record_source: bool = False,
        sync_interval_s: float = 0.5,
        store_vertices: bool = True,
    ) -> None:
        """Start writing into `path`, an empty folder that already exists (see `create`).
        `store_vertices=False`: a posed-body recording (format.py), every mesh carries a body."""
        self.path = Path(path)
        self.sync_interval_s = float(sync_interval_s)
        faces = np.ascontiguousarray(faces, dtype=np.int32)
        if faces.ndim != 2 or faces.shape[1] != 3:
            raise ValueError(f"faces must be (F, 3), got {faces.shape}")
        self.header = Header(
            info=info,
            n_vertices=int(n_vertices),
            n_joints=int(n_joints),
            n_faces=len(faces),
            fields=record_fields(int(n_vertices), int(n_joints), vertices=store_vertices),
            created_utc=datetime.now(UTC).isoformat(timespec="seconds"),
            has_source_video=record_source,
        )
        self.dtype = self.header.dtype
        self._row = np.zeros(1, self.dtype)  # reused buffer for one record
        self.frames_written = 0
        self.bytes_written = 0
        self.error: str | None = None
        self._fd: int | None = None
        self._source_fd: int | None = None
        self._source_size = 0
        self._last_sync = time.monotonic()
        try:
            faces_tmp = self.path / (FACES_FILE + ".tmp")
            with open(faces_tmp, "xb") as f:
                np.save(f, faces)
                f.flush()
                os.fsync(f.fileno())
            os.rename(faces_tmp, self.path / FACES_FILE)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND
            self._fd = os.open(self.path / FRAMES_FILE, flags, 0o644)
            if record_source:
                self._source_fd = os.open(self.path / SOURCE_FILE, flags, 0o644)
            # The header goes last: its presence means the folder is a readable recording.
            _write_new_file(self.path / HEADER_FILE, self.header.to_json().encode())
            _fsync_dir(self.path)
        except OSError as exc:
            self._close_fds()
            what = f"starting the recording {self.path}"
            raise RecordingError(describe_os_error(exc, what)) from exc
        log.info("recording to %s", self.path)

    @classmethod
    def create(
        cls,
        parent: str | os.PathLike[str],
        info: RecordingInfo,
        faces: np.ndarray,
        n_vertices: int,
        n_joints: int = 24,
        stem: str | None = None,
        record_source: bool = False,
        sync_interval_s: float = 0.5,
        store_vertices: bool = True,
    ) -> RecordingWriter:
        """New recording folder under `parent` (never an existing one), ready for `write`."""
        path = new_recording_dir(parent, stem)
        return cls(
            path, info, faces, n_vertices, n_joints, record_source, sync_interval_s, store_vertices
        )

    # ------------------------------------------------------------------ writing
    def write(self, rec: FrameRecord) -> None:
        """Append one frame. Raises RecordingError (and stops the recording) on a disk error."""
        if self.error is not None:
            raise RecordingError(f"recording {self.path} stopped earlier: {self.error}")
        if self._fd is None:
            raise RecordingError(f"recording {self.path} is closed")
        if rec.has_mesh and rec.body is None and not self.header.stores_vertices:
            raise RecordingError(
                f"frame {rec.index} has a mesh without a fitted body; {self.path} stores posed "
                "bodies only (record the network's raw vertices with the body set to raw)"
            )
        row = self._row[0]
        row["index"], row["t_ns"] = rec.index, rec.t_ns
        row["tracked"], row["has_mesh"] = int(rec.tracked), int(rec.has_mesh)
        row["bbox_xyxy"], row["K"] = rec.bbox_xyxy, rec.K
        row["joints"] = rec.joints
        if self.header.stores_vertices:
            row["vertices"] = rec.vertices
        row["landmarks_px"] = rec.landmarks_px
        row["landmark_visibility"] = rec.landmark_visibility
        row["world_landmarks"] = rec.world_landmarks
        body = rec.body
        for name in ("betas", "global_orient", "body_pose", "transl"):
            row[name] = np.nan if body is None else getattr(body, name)
        row["source_offset"], row["source_length"] = -1, 0
        try:
            if self._source_fd is not None and rec.source_jpeg:
                _write_all(self._source_fd, rec.source_jpeg)
                row["source_offset"], row["source_length"] = self._source_size, len(rec.source_jpeg)
                self._source_size += len(rec.source_jpeg)
            data = self._row.view(np.uint8)
            row["crc32"] = record_crc(data.data)
            _write_all(self._fd, data.data)
        except OSError as exc:
            self._fail(exc, f"writing {self.path / FRAMES_FILE}")
        self.frames_written += 1
        self.bytes_written += self.dtype.itemsize + int(row["source_length"])
        if time.monotonic() - self._last_sync >= self.sync_interval_s:
            self.sync()

    def sync(self) -> None:
        """Force written frames to the disk (called every `sync_interval_s` by `write`)."""
        try:
            for fd in (self._fd, self._source_fd):
                if fd is not None:
                    os.fdatasync(fd)
        except OSError as exc:
            self._fail(exc, f"syncing {self.path}")
        self._last_sync = time.monotonic()

    def _fail(self, exc: OSError, what: str) -> None:
        """Cut a torn tail, close, remember and raise the error."""
        good = self.frames_written * self.dtype.itemsize
        self.error = (
            f"{describe_os_error(exc, what)} The {self.frames_written} frames written before "
            f"are kept in {self.path}."
        )
        for fd, size in ((self._fd, good), (self._source_fd, self._source_size)):
            if fd is not None:
                # Best effort; the reader also ignores a torn tail by size and CRC.
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, size)
        self._close_fds()
        log.error("recording stopped: %s", self.error)
        raise RecordingError(self.error) from exc

    # ------------------------------------------------------------------ closing
    def close(self) -> None:
        """Sync, write end.json (marks a clean stop) and release the files; safe to call twice."""
        if self._fd is None:
            return
        try:
            self.sync()
            end = f'{{"frames": {self.frames_written}, "clean": true}}\n'
            _write_new_file(self.path / END_FILE, end.encode())
            _fsync_dir(self.path)
        except RecordingError:
            raise
        except OSError as exc:
            self._fail(exc, f"closing {self.path}")
        finally:
            self._close_fds()
        log.info("recording closed: %s (%d frames)", self.path, self.frames_written)

    def _close_fds(self) -> None:
        for name in ("_fd", "_source_fd"):
            fd = getattr(self, name)
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
                setattr(self, name, None)

    @property
    def closed(self) -> bool:
        return self._fd is None

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.error is None:
            self.close()
        else:
            self._close_fds()
