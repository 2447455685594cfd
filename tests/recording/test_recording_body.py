"""Format version 2 on carries the fitted body, version 3 may leave the vertices to it (a posed-
body recording); version 1 recordings still open and export."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from stdformer.recording import RecordingError, RecordingInfo, open_recording
from stdformer.recording.export import export_recording
from stdformer.recording.format import HEADER_FILE
from stdformer.recording.recorder import Recorder
from stdformer.types import MeshResult
from tests.recording.body_take import (
    BETAS,
    body_params,
    body_record,
    default_body,
    write_body_take,
    write_v1_take,
)
from tests.recording.test_recorder import _observation, _result

BODY_FIELDS = ("betas", "global_orient", "body_pose", "transl")


def test_body_parameters_round_trip(tmp_path: Path) -> None:
    path = write_body_take(tmp_path, 6, missing=(2,))
    rec = open_recording(path)
    assert rec.header.version == 3
    np.testing.assert_array_equal(rec.has_body, [1, 1, 0, 1, 1, 1])
    params = rec.body_params(np.arange(6))
    for i in range(6):
        for name in BODY_FIELDS:
            want = getattr(body_params(i), name)
            got = params[name][i]
            if i == 2:
                assert np.isnan(got).all()  # no mesh, no fit: NaN
            else:
                np.testing.assert_array_equal(got, want)
    frame = rec.frame(3)
    assert frame.body is not None and rec.frame(2).body is None
    np.testing.assert_array_equal(frame.body.body_pose, body_params(3).body_pose)
    # Read with numpy alone, as README documents: the fields are in the header's layout.
    header = json.loads((path / HEADER_FILE).read_text())
    dtype = np.dtype([(n, t, tuple(s)) for n, t, s in header["record_fields"]])
    raw = np.fromfile(path / "frames.bin", dtype=dtype)
    np.testing.assert_array_equal(raw["betas"][0], BETAS)
    assert header["version"] == 3 and header["vertices"] == "stored"


def test_recorded_body_reproduces_the_recorded_vertices(tmp_path: Path) -> None:
    rec = open_recording(write_body_take(tmp_path, 3))
    p = rec.body_params(np.arange(3))
    out = default_body()(**{k: v for k, v in p.items()})
    np.testing.assert_allclose(out.vertices.numpy(), rec.vertices, atol=1e-5)


def test_recorder_writes_the_mesh_body(tmp_path: Path) -> None:
    faces = default_body().faces
    recorder = Recorder(tmp_path, RecordingInfo(fps=25.0, source="test"))
    for i in range(3):
        obs = _observation(i)
        r = body_record(i, with_body=i != 1)  # frame 1: a mesh without a fit
        mesh = MeshResult(r.vertices, r.joints, r.K, obs.bbox_xyxy, obs.t_ns, i, obs, body=r.body)
        result = _result(i, obs, (mesh,))
        recorder.on_result(result.__class__(**{**result.__dict__, "faces": faces}))
    recorder.close()
    rec = open_recording(recorder.status().path)
    np.testing.assert_array_equal(rec.has_mesh, [1, 1, 1])
    np.testing.assert_array_equal(rec.has_body, [1, 0, 1])
    np.testing.assert_array_equal(rec.frame(2).body.global_orient, body_params(2).global_orient)


def test_version_1_recording_opens_and_exports(tmp_path: Path) -> None:
    path = write_v1_take(tmp_path / "old.strec", 5, missing=(1,))
    rec = open_recording(path)
    assert rec.header.version == 1 and len(rec) == 5 and rec.complete
    assert not rec.has_body.any()  # version 1's `transl` is the pelvis, not a body translation
    assert rec.frame(0).body is None
    assert np.isnan(rec.body_params(np.arange(5))["transl"]).all()
    np.testing.assert_array_equal(rec.vertices[3], body_record(3).vertices)  # nothing lost
    objs = export_recording(rec, "obj", tmp_path / "obj")
    assert len(list(objs.iterdir())) == 4
    data = np.load(export_recording(rec, "npz", tmp_path / "old.npz"))
    np.testing.assert_array_equal(data["vertices"][2], body_record(3).vertices)
    np.testing.assert_array_equal(data["joints"][:, 0], rec.joints[[0, 2, 3, 4], 0])


def test_unknown_version_is_a_clear_error(tmp_path: Path) -> None:
    path = write_body_take(tmp_path, 1)
    header = json.loads((path / HEADER_FILE).read_text())
    header["version"] = 4
    (path / HEADER_FILE).write_text(json.dumps(header))
    with pytest.raises(RecordingError, match=r"version 4.*reads versions 1, 2, 3"):
        open_recording(path)


def test_posed_body_recording_gives_its_vertices_from_the_body(tmp_path: Path) -> None:
    """No vertices on disk (1.6 KB a frame instead of 166 KB), the same vertices read back."""
    stored = open_recording(write_body_take(tmp_path / "a", 6, missing=(2,)))
    posed = open_recording(write_body_take(tmp_path / "b", 6, missing=(2,), store_vertices=False))
    header = json.loads((posed.path / HEADER_FILE).read_text())
    assert header["vertices"] == "posed" and not posed.header.stores_vertices
    assert (posed.path / "frames.bin").stat().st_size < 2_000 * 6
    assert (stored.path / "frames.bin").stat().st_size > 150_000 * 6
    want = np.asarray(stored.vertices)
    assert posed.vertices.shape == want.shape
    np.testing.assert_allclose(posed.vertices[:], want, atol=1e-5, equal_nan=True)
    assert np.isnan(posed.vertices[2]).all()  # no mesh, no body: NaN as when stored
    np.testing.assert_allclose(posed.vertices[3], want[3], atol=1e-5)
    np.testing.assert_allclose(posed.vertices[posed.has_mesh], want[[0, 1, 3, 4, 5]], atol=1e-5)
    np.testing.assert_allclose(posed.vertices[[5, 0], :, 1], want[[5, 0], :, 1], atol=1e-5)
    np.testing.assert_allclose(posed.frame(4).vertices, want[4], atol=1e-5)
    a = np.load(export_recording(stored, "npz", tmp_path / "a.npz"))
    b = np.load(export_recording(posed, "npz", tmp_path / "b.npz"))
    np.testing.assert_allclose(b["vertices"], a["vertices"], atol=1e-5)
    assert len(list(export_recording(posed, "obj", tmp_path / "obj").iterdir())) == 5


def test_posed_body_recording_refuses_a_mesh_without_a_body(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="without a fitted body"):
        write_body_take(tmp_path, 3, with_body=False, store_vertices=False)


def test_posed_body_recording_of_another_body_names_the_missing_file(tmp_path: Path) -> None:
    path = write_body_take(tmp_path, 2, store_vertices=False, body_model_sha256="0123456789abcdef")
    rec = open_recording(path)
    np.testing.assert_array_equal(rec.has_body, [1, 1])  # the parameters read without the file
    with pytest.raises(RecordingError, match="--body-model"):
        rec.vertices[0]


@pytest.mark.parametrize(("body", "stores"), [("refined", False), ("fit", False), ("raw", True)])
def test_recorder_leaves_a_posed_body_s_vertices_out(tmp_path: Path, body: str, stores: bool):
    faces = default_body().faces
    recorder = Recorder(tmp_path, RecordingInfo(fps=25.0, source="test", extra={"body": body}))
    for i in range(2):
        obs = _observation(i)
        r = body_record(i, with_body=body != "raw")
        mesh = MeshResult(r.vertices, r.joints, r.K, obs.bbox_xyxy, obs.t_ns, i, obs, body=r.body)
        result = _result(i, obs, (mesh,))
        recorder.on_result(result.__class__(**{**result.__dict__, "faces": faces}))
    recorder.close()
    rec = open_recording(recorder.status().path)
    assert rec.header.stores_vertices == stores
    np.testing.assert_allclose(rec.vertices[1], body_record(1).vertices, atol=1e-5)
