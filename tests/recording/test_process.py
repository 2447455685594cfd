"""`main.py process` on the sample clip: the live session on every frame, one record each."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from stdformer.paths import resolve_file
from stdformer.recording import open_recording
from stdformer.recording.process_cli import main as process_main


@pytest.mark.slow
def test_process_sample_clip_records_every_frame(
    landmark_weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clip = resolve_file("sample_clip")
    n_frames = int(cv2.VideoCapture(str(clip)).get(cv2.CAP_PROP_FRAME_COUNT))
    out = tmp_path / "out"
    argv = [str(clip), "--out", str(out), "--weights", str(landmark_weights), "--device", "cpu"]
    assert process_main([*argv, "--lookahead", "2", "--export", "npz", "-q"]) == 0
    printed = capsys.readouterr().out
    assert "x real time" in printed and f"processed {n_frames} frames" in printed
    rec = open_recording(out / f"{clip.stem}.strec")
    assert rec.complete and len(rec) == n_frames
    np.testing.assert_array_equal(rec.frame_index, np.arange(n_frames))
    assert rec.has_mesh.sum() >= n_frames - 10 and rec.has_source_video
    assert rec.header.info.weights == landmark_weights.name and rec.header.info.lookahead == 2
    assert rec.source_image(5).shape == (480, 640, 3)
    npz = np.load(out / f"{clip.stem}.npz")
    assert npz["vertices"].shape == (int(rec.has_mesh.sum()), rec.n_vertices, 3)


def test_process_missing_video_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert process_main([str(tmp_path / "nope.mp4"), "--out", str(tmp_path)]) == 2
    assert "nope.mp4" in capsys.readouterr().err
