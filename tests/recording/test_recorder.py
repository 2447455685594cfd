"""The recorder subscriber: one record per source frame, in order, also with look-ahead."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pytest

from stdformer.recording import RecordingError, RecordingInfo, open_recording
from stdformer.recording.recorder import Recorder
from stdformer.session.core import SessionCounters, SessionResult
from stdformer.types import Frame, MeshResult, Observation
from tests.recording.synthetic import K_640, SPHERE_FACES, synthetic_record


def _observation(i: int) -> Observation:
    return Observation(
        landmarks_px=np.full((33, 3), i, np.float32),
        visibility=np.ones(33, np.float32),
        presence=np.ones(33, np.float32),
        world_landmarks=np.zeros((33, 3), np.float32),
        bbox_xyxy=np.array([1, 2, 3, 4], np.float32),
        crop_xyxy=np.array([0, 0, 10, 10], np.float32),
        image_size_wh=(64, 48),
        t_ns=i * 40_000_000,
        index=i,
    )


def _mesh(obs: Observation) -> MeshResult:
    r = synthetic_record(obs.index)
    return MeshResult(r.vertices, r.joints, K_640, obs.bbox_xyxy, obs.t_ns, obs.index, obs)


def _result(i: int, obs: Observation | None, meshes: tuple[MeshResult, ...]) -> SessionResult:
    frame = Frame(np.full((48, 64, 3), 7 * i % 255, np.uint8), t_ns=i * 40_000_000, index=i)
    return SessionResult(
        frame=frame,
        observation=obs,
        meshes=meshes,
        display_mesh=meshes[-1] if meshes else None,
        display_alpha=1.0,
        subject="tracking" if obs else "absent",
        faces=SPHERE_FACES.astype(np.int64),
        timings_ms=MappingProxyType({}),
        latency_ms=1.0,
        counters=SessionCounters(i + 1, i + 1, i + 1, 0, 25.0, 25.0),
        buffer_fill=0,
        buffer_size=0,
    )


def test_lookahead_frames_wait_for_their_mesh(tmp_path: Path) -> None:
    """Look-ahead 2: meshes arrive two frames late; the loss at frame 6 flushes 4 and 5."""
    recorder = Recorder(tmp_path, RecordingInfo(fps=25.0, source="test"), record_source=True)
    obs = [_observation(i) for i in range(6)]
    recorder.on_result(_result(0, obs[0], ()))
    recorder.on_result(_result(1, obs[1], ()))
    for i in range(2, 6):
        recorder.on_result(_result(i, obs[i], (_mesh(obs[i - 2]),)))
    recorder.on_result(_result(6, None, (_mesh(obs[4]), _mesh(obs[5]))))
    recorder.on_result(_result(7, None, ()))
    obs8 = _observation(8)
    recorder.on_result(_result(8, obs8, ()))  # a new track; the session stops before its mesh
    recorder.close()
    rec = open_recording(recorder.status().path)
    assert rec.complete and len(rec) == 9
    np.testing.assert_array_equal(rec.frame_index, np.arange(9))
    np.testing.assert_array_equal(rec.has_mesh, [1, 1, 1, 1, 1, 1, 0, 0, 0])
    np.testing.assert_array_equal(rec.tracked, [1, 1, 1, 1, 1, 1, 0, 0, 1])
    np.testing.assert_array_equal(rec.vertices[3], synthetic_record(3).vertices)
    assert rec.frame(8).landmarks_px[0, 0] == 8  # the pending frame kept its observation
    # Each record carries its own frame's image, not the one current when the mesh arrived.
    assert [int(rec.source_image(i)[0, 0, 0]) for i in (0, 3, 8)] == [0, 21, 56]
    assert rec.header.info.image_size_wh == (64, 48)
    status = recorder.status()
    assert status.frames == 9 and status.closed and status.error is None


def test_a_short_miss_waits_in_order_for_the_meshes_still_owed(tmp_path: Path) -> None:
    """Look-ahead 2 and a miss at frames 4-5 that keeps the track: the meshes of 2 and 3 come
    after it. Then the person leaves at 10 and the loss is declared at 16 (the last meshes
    come): the frames without them wait until then, later ones are written at once. Every frame
    once, in order, with its own image."""
    recorder = Recorder(tmp_path, RecordingInfo(fps=25.0, source="test"), record_source=True)
    obs = [_observation(i) if i < 4 or 6 <= i < 10 else None for i in range(20)]
    owed = {2: (0,), 3: (1,), 6: (2,), 7: (3,), 8: (6,), 9: (7,), 16: (8, 9)}  # step: meshes
    for i in range(20):
        recorder.on_result(_result(i, obs[i], tuple(_mesh(obs[k]) for k in owed.get(i, ()))))
        if 10 <= i < 16:  # 8 and 9 still owed: frames 0-7 written, the rest wait
            assert recorder.status().frames == 8
        if i >= 16:  # nothing owed any more: each frame written at once
            assert recorder.status().frames == i + 1
    recorder.close()
    rec = open_recording(recorder.status().path)
    assert rec.complete and len(rec) == 20
    np.testing.assert_array_equal(rec.frame_index, np.arange(20))
    np.testing.assert_array_equal(rec.has_mesh, [1] * 4 + [0, 0] + [1] * 4 + [0] * 10)
    assert [int(rec.source_image(i)[0, 0, 0]) for i in range(20)] == [7 * i for i in range(20)]


def test_the_end_of_the_input_writes_the_meshes_still_owed_once(tmp_path: Path) -> None:
    """The person leaves at frame 6 and the input ends at 8, before the loss is declared: the
    session's end hands frame 8 again with the meshes of 4 and 5; every frame once, in order."""
    recorder = Recorder(tmp_path, RecordingInfo(fps=25.0, source="test"), record_source=True)
    obs = [_observation(i) if i < 6 else None for i in range(9)]
    owed = {2: (0,), 3: (1,), 4: (2,), 5: (3,)}
    for i in range(9):
        recorder.on_result(_result(i, obs[i], tuple(_mesh(obs[k]) for k in owed.get(i, ()))))
    recorder.on_result(_result(8, None, (_mesh(obs[4]), _mesh(obs[5]))))  # `Session`'s end
    recorder.close()
    rec = open_recording(recorder.status().path)
    np.testing.assert_array_equal(rec.frame_index, np.arange(9))
    np.testing.assert_array_equal(rec.has_mesh, [1] * 6 + [0] * 3)


def test_disk_error_stops_recording_and_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = Recorder(tmp_path, RecordingInfo(fps=25.0, source="test"))
    for i in range(3):
        o = _observation(i)
        recorder.on_result(_result(i, o, (_mesh(o),)))

    def full(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    o = _observation(3)
    with pytest.raises(RecordingError, match="disk full"):
        recorder.on_result(_result(3, o, (_mesh(o),)))
    monkeypatch.undo()
    recorder.on_result(_result(4, o, (_mesh(o),)))  # ignored after the error, no second raise
    recorder.close()
    status = recorder.status()
    assert "disk full" in (status.error or "") and status.frames == 3
    assert len(open_recording(status.path)) == 3
