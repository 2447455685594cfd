"""Recording writer and reader: round trip, crash safety, no overwrite, clear disk errors."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from stdformer.recording import (
    RecordingError,
    RecordingInfo,
    RecordingWriter,
    new_recording_dir,
    open_recording,
)
from stdformer.recording.format import FRAMES_FILE, dtype_from_fields
from tests.recording.synthetic import (
    SPHERE_FACES,
    SPHERE_VERTICES,
    synthetic_record,
    write_synthetic,
)

HERE = Path(__file__).resolve().parent


def test_round_trip_keeps_every_field(tmp_path: Path) -> None:
    path = write_synthetic(tmp_path, 20, missing=(5,))
    rec = open_recording(path)
    assert len(rec) == 20 and rec.complete and rec.dropped_tail_bytes == 0
    assert rec.fps == 30.0 and rec.header.info.source == "synthetic sphere"
    assert rec.header.info.image_size_wh == (640, 480)
    np.testing.assert_array_equal(rec.faces, SPHERE_FACES)
    np.testing.assert_array_equal(rec.frame_index, np.arange(20))
    np.testing.assert_array_equal(rec.has_mesh, np.arange(20) != 5)
    for got in rec.frames():
        want = synthetic_record(got.index, has_mesh=got.index != 5)
        np.testing.assert_array_equal(got.vertices, want.vertices)  # NaN == NaN here
        np.testing.assert_array_equal(got.joints, want.joints)
        np.testing.assert_array_equal(got.K, want.K)
        np.testing.assert_array_equal(got.landmarks_px, want.landmarks_px)
        assert got.t_ns == want.t_ns and got.tracked == want.tracked
    assert [f.index for f in rec.frames(mesh_only=True)] == [i for i in range(20) if i != 5]
    assert rec.verify() == []


def test_format_reads_with_numpy_alone(tmp_path: Path) -> None:
    """What README documents: header.json + np.fromfile, no stdformer code."""
    path = write_synthetic(tmp_path, 7)
    header = json.loads((path / "header.json").read_text())
    dtype = np.dtype([(n, t, tuple(s)) for n, t, s in header["record_fields"]])
    assert dtype.itemsize == header["record_size"]
    frames = np.fromfile(path / "frames.bin", dtype=dtype)
    faces = np.load(path / "faces.npy")
    assert frames["vertices"].shape == (7, len(SPHERE_VERTICES), 3)
    assert faces.shape == SPHERE_FACES.shape
    np.testing.assert_array_equal(frames["vertices"][3], synthetic_record(3).vertices)


def test_new_names_never_overwrite(tmp_path: Path) -> None:
    first = write_synthetic(tmp_path, 3)
    before = (first / FRAMES_FILE).read_bytes()
    info = RecordingInfo(fps=30.0, source="x")
    with RecordingWriter.create(tmp_path, info, SPHERE_FACES, 162, stem=first.stem) as second:
        second.write(synthetic_record(0))
    assert second.path != first and second.path.name == f"{first.stem}-2.strec"
    assert (first / FRAMES_FILE).read_bytes() == before
    assert len(open_recording(second.path)) == 1 and len(open_recording(first)) == 3
    assert new_recording_dir(tmp_path, first.stem).name == f"{first.stem}-3.strec"


def test_torn_tail_is_ignored(tmp_path: Path) -> None:
    path = write_synthetic(tmp_path, 10)
    itemsize = open_recording(path).header.dtype.itemsize
    with open(path / FRAMES_FILE, "ab") as f:  # a whole record of garbage + half a record
        f.write(b"\x00" * itemsize + b"\x07" * (itemsize // 2))
    rec = open_recording(path)
    assert len(rec) == 10 and rec.dropped_tail_bytes == itemsize + itemsize // 2


def test_unwritable_folder_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the folder should be")
    info = RecordingInfo(fps=30.0, source="x")
    with pytest.raises(RecordingError, match=r"not_a_folder.*Choose"):
        RecordingWriter.create(blocker / "takes", info, SPHERE_FACES, 162)


def test_permission_denied_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def denied(self: Path, *a: object, **k: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", denied)  # root ignores chmod; simulate the kernel's answer
    with pytest.raises(RecordingError, match=r"no permission.*Choose a folder you can write to"):
        new_recording_dir(tmp_path / "takes")


def test_write_error_keeps_frames_so_far(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    info = RecordingInfo(fps=30.0, source="x")
    writer = RecordingWriter.create(tmp_path, info, SPHERE_FACES, 162)
    for i in range(5):
        writer.write(synthetic_record(i))
    real_write = os.write

    def half_then_full(fd: int, data: bytes) -> int:  # a torn write, then ENOSPC
        if len(data) > 1000:
            real_write(fd, bytes(data[: len(data) // 2]))
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(RecordingError, match=r"disk full.*5 frames written before are kept"):
        writer.write(synthetic_record(5))
    monkeypatch.undo()
    with pytest.raises(RecordingError, match="stopped earlier"):
        writer.write(synthetic_record(6))
    rec = open_recording(writer.path)
    assert len(rec) == 5 and not rec.complete and rec.dropped_tail_bytes == 0  # tail cut


def test_file_size_limit_in_a_real_process(tmp_path: Path) -> None:
    """RLIMIT_FSIZE makes the kernel refuse writes (EFBIG), as a full disk does (ENOSPC)."""
    proc = subprocess.run(
        [sys.executable, str(HERE / "kill_writer.py"), str(tmp_path), "60000"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = proc.stdout.splitlines()
    assert proc.returncode == 3, proc.stderr
    assert lines[-1].startswith("ERROR file size limit reached")
    written = int(lines[-2])
    rec = open_recording(lines[0].removeprefix("PATH "))
    assert len(rec) == written > 5 and rec.verify() == []
    np.testing.assert_array_equal(rec.vertices[-1], synthetic_record(written - 1).vertices)


def test_sigkill_mid_recording_keeps_every_written_frame(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "kill_writer.py"), str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    path = Path(proc.stdout.readline().removeprefix("PATH ").strip())
    reported = 0
    while reported < 45:  # 1.5 s of frames at 30 fps
        reported = int(proc.stdout.readline())
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    rec = open_recording(path)
    # Every frame whose write() returned is there (at most one more, written before the kill).
    assert reported <= len(rec) <= reported + 1 and not rec.complete
    np.testing.assert_array_equal(rec.frame_index, np.arange(len(rec)))
    assert rec.verify() == []
    last = synthetic_record(reported - 1).vertices
    np.testing.assert_array_equal(rec.vertices[reported - 1], last)


def test_header_documents_layout(tmp_path: Path) -> None:
    path = write_synthetic(tmp_path, 1)
    header = json.loads((path / "header.json").read_text())
    assert header["format"] == "stdformer-recording" and header["n_vertices"] == 162
    dtype = dtype_from_fields(header["record_fields"])
    assert (path / FRAMES_FILE).stat().st_size == dtype.itemsize
    assert "OpenCV camera frame" in header["units"]


def test_not_a_recording(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="no such recording folder"):
        open_recording(tmp_path / "missing.strec")
    with pytest.raises(RecordingError, match=r"header.json missing"):
        open_recording(tmp_path)
