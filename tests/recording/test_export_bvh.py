"""BVH export: an independent reader's forward kinematics (and Blender, where installed)
reproduces the recorded joints; units, Euler order, frame time, gaps and bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from stdformer.body.smpl_file import SMPL_JOINT_NAMES
from stdformer.recording import RecordingError, open_recording
from stdformer.recording.animation import YUP_FROM_CAM
from stdformer.recording.export import ExportOptions, export_length, export_recording
from tests.recording.body_take import body_params, default_body, write_body_take, write_v1_take
from tests.recording.bvh_reader import bvh_world_positions

REPO = Path(__file__).resolve().parents[2]
N_FRAMES, MISSING = 45, (10, 11)
HELD = np.array([9 if i in MISSING else i for i in range(N_FRAMES)])  # a lost frame holds 9


@pytest.fixture(scope="module")
def body_take(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_body_take(tmp_path_factory.mktemp("bvh"), N_FRAMES, missing=MISSING)


def _recorded_joints_yup(path: Path) -> np.ndarray:  # (N, 24, 3)
    return np.asarray(open_recording(path).joints, np.float64) @ YUP_FROM_CAM.T


def _smpl_order(names: list[str], positions: np.ndarray, frame_time: float):
    assert sorted(names) == sorted(SMPL_JOINT_NAMES)  # every SMPL joint, by its SMPL name
    return positions[:, [names.index(n) for n in SMPL_JOINT_NAMES]], frame_time


@pytest.mark.parametrize(("units", "euler", "scale"), [("m", "ZXY", 1.0), ("cm", "XYZ", 100.0)])
def test_bvh_joints_match_the_recording(
    body_take: Path, tmp_path: Path, units: str, euler: str, scale: float
) -> None:
    options = ExportOptions(units=units, euler=euler)
    out = export_recording(open_recording(body_take), "bvh", tmp_path / "t.bvh", options=options)
    text = out.read_text()
    assert f"CHANNELS 6 Xposition Yposition Zposition {euler[0]}rotation" in text
    positions, frame_time = _smpl_order(*bvh_world_positions(text))
    assert positions.shape == (N_FRAMES, 24, 3)  # one frame per source frame, gaps held
    assert frame_time == pytest.approx(1 / 30, abs=1e-7)
    want = _recorded_joints_yup(body_take)[HELD]
    err_mm = 1000 * np.linalg.norm(positions / scale - want, axis=-1)
    assert err_mm.max() < 0.1, err_mm.max()
    # Y-up: the body stands upright (head above pelvis), in front of the camera (z < 0).
    assert (positions[:, 15, 1] > positions[:, 0, 1] + 0.4 * scale).all()
    assert (positions[:, 0, 2] < -2.5 * scale).all()


def test_bvh_rest_skeleton_is_the_recorded_shape(body_take: Path, tmp_path: Path) -> None:
    out = export_recording(open_recording(body_take), "bvh", tmp_path / "t.bvh")
    text = out.read_text()
    first = text.index("JOINT left_knee")
    offset = np.array(text[first:].split("OFFSET")[1].split()[:3], float)
    body = default_body()
    import torch

    rest = body.joints_only(betas=torch.as_tensor(body_params(0).betas[None]))[0].numpy()
    np.testing.assert_allclose(offset, rest[4] - rest[1], atol=1e-6)  # knee - hip, shaped
    assert not np.allclose(offset, body.rest_joints[4] - body.rest_joints[1], atol=1e-3)


@pytest.mark.skipif(shutil.which("blender") is None, reason="Blender is not installed")
def test_bvh_plays_in_blender(body_take: Path, tmp_path: Path) -> None:
    out = export_recording(open_recording(body_take), "bvh", tmp_path / "t.bvh")
    dump = tmp_path / "blender.json"
    cmd = ["blender", "--background", "--factory-startup", "--python"]
    done = subprocess.run(
        [*cmd, str(REPO / "tools" / "blender_check.py"), "--", str(out), str(dump)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert dump.is_file(), done.stdout[-2000:] + done.stderr[-2000:]
    got = json.loads(dump.read_text())
    assert got["frames"] == N_FRAMES and got["fps"] == pytest.approx(30.0, abs=1e-3)
    blender = np.stack([np.array(got["joints"][n]) for n in SMPL_JOINT_NAMES], axis=1)
    err_mm = 1000 * np.linalg.norm(blender - _recorded_joints_yup(body_take)[HELD], axis=-1)
    assert err_mm.max() < 10.0, err_mm.max()


def test_unfitted_frames_are_fitted_on_export(tmp_path: Path) -> None:
    """A version 1 recording asked for BVH: the body fit runs on the recorded vertices, with
    progress, and its parameters drive the skeleton (joints within 10 mm of the recording)."""
    path = write_v1_take(tmp_path / "old.strec", 4)
    rec = open_recording(path)
    assert export_length(rec, "bvh", None, None) == 8  # 4 fitted + 4 written
    steps: list[int] = []
    out = export_recording(rec, "bvh", tmp_path / "old.bvh", progress=steps.append)
    assert sum(steps) == 8
    positions, _ = _smpl_order(*bvh_world_positions(out.read_text()))
    err = np.linalg.norm(positions - _recorded_joints_yup(path), axis=-1)
    assert err.mean() < 0.01, err.mean()


def test_bvh_of_a_mesh_that_is_not_the_body_is_refused(
    sphere_recording: Path, tmp_path: Path
) -> None:
    with pytest.raises(RecordingError, match="--body-model"):
        export_recording(open_recording(sphere_recording), "bvh", tmp_path / "x.bvh")
