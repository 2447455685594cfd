"""main.py refuses bad input before any window opens: one line naming what is wrong."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from main import build_parser, check_inputs, config_from_args, main
from stdformer.paths import REPO_ROOT, BadFileError, MissingFileError
from stdformer.session.sources import SourceError


def config_for(*argv: str):
    return config_from_args(build_parser().parse_args(list(argv)))


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["--max-people", "0"], "--max-people: must be >= 1"),
        (["--lookahead", "-1"], "--lookahead: must be >= 0"),
        (["--quit-after", "0"], "--quit-after: must be > 0"),
        (["--max-people", "two"], "invalid integer value"),
        (["--vmc", "studio:port"], "--vmc: VMC target 'studio:port': the port must be a number"),
    ],
)
def test_out_of_range_options_are_usage_errors(argv, complaint, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(argv)
    assert exit_info.value.code == 2
    assert complaint in capsys.readouterr().err


def test_vmc_is_off_by_default_and_has_a_default_target() -> None:
    assert config_for().vmc is None
    assert config_for("--vmc").vmc == "127.0.0.1:39539"
    assert config_for("--vmc", "192.168.1.20:39540").vmc == "192.168.1.20:39540"


def test_defaults_pass_the_checks() -> None:
    check_inputs(config_for("--source", "sample"))  # embedded files, no weights: fine


def test_unreadable_video_file_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is not a video\n")
    with pytest.raises(SourceError, match=r"notes\.mp4.*--source sample"):  # main.py takes --source
        check_inputs(config_for("--source", str(fake)))


def test_missing_source_and_empty_folder_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not found"):
        check_inputs(config_for("--source", str(tmp_path / "nope.mp4")))
    with pytest.raises(SourceError, match="No images"):
        check_inputs(config_for("--source", str(tmp_path)))


def test_named_weights_and_body_model_must_exist(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match=r"missing\.pt"):
        check_inputs(config_for("--weights", str(tmp_path / "missing.pt")))
    with pytest.raises(MissingFileError, match=r"missing\.pkl"):
        check_inputs(config_for("--body-model", str(tmp_path / "missing.pkl")))


def test_weights_variable_pointing_nowhere_is_refused(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("STDFORMER_WEIGHTS", str(tmp_path / "gone.pt"))
    with pytest.raises(MissingFileError, match=r"gone\.pt"):
        check_inputs(config_for())


def test_garbage_pose_model_is_refused(tmp_path: Path) -> None:
    garbage = tmp_path / "pose.task"
    garbage.write_text("garbage")
    with pytest.raises(BadFileError, match=r"not a MediaPipe \.task"):
        check_inputs(config_for("--pose-model", str(garbage)))


def test_stats_json_in_missing_folder_is_refused_before_the_run(tmp_path: Path, capsys) -> None:
    target = tmp_path / "no_such_dir" / "run.json"
    assert main(["--source", "sample", "--stats-json", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --stats-json") and "no_such_dir" in err


def test_damaged_video_is_one_error_line_without_ffmpegs_own(tmp_path: Path, capfd) -> None:
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes((REPO_ROOT / "assets" / "sample_clip.mp4").read_bytes()[:20_000])
    assert main(["--source", str(damaged)]) == 2
    err = capfd.readouterr().err  # file descriptor 2: FFmpeg writes there directly
    assert err.startswith("error: Cannot read video file") and len(err.splitlines()) == 1, err


@pytest.mark.parametrize("name", ["body.pkl", "body.npz"])
def test_garbage_body_model_is_refused_before_the_window(tmp_path: Path, name: str, capsys) -> None:
    garbage = tmp_path / name
    garbage.write_text("garbage")
    assert main(["--source", "sample", "--body-model", str(garbage)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and name in err and err.count("\n") == 1
    assert "allow_pickle" not in err  # numpy's advice to unpickle untrusted files is not ours


def test_garbage_or_mismatched_checkpoint_is_refused_before_the_window(
    tmp_path: Path, landmark_weights: Path, capsys
) -> None:
    garbage = tmp_path / "weights.pt"
    garbage.write_bytes(b"\x80garbage")
    assert main(["--source", "sample", "--weights", str(garbage)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "weights.pt" in err and "checkpoint" in err
    # Weights for the default body with levels of another topology: caught before the window.
    from stdformer.body.body_model import load_body_model
    from stdformer.body.mesh_levels import compute_mesh_levels

    body = load_body_model()
    other = tmp_path / "other_levels.npz"
    compute_mesh_levels(body.v_template, body.faces, n_coarse=300, n_mid=1200).save(other)
    argv = ["--weights", str(landmark_weights), "--mesh-levels", str(other)]
    assert main(["--source", "sample", *argv]) == 2
    assert "another body topology" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_headless_run_ends_on_an_error_with_exit_code_1(
    tmp_path: Path, landmark_weights: Path
) -> None:
    """No display, no --quit-after: nobody can click the error away, so the run ends (code 1)."""
    stats_path = tmp_path / "run.json"
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.pop("QT_QPA_PLATFORM", None)
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")  # the user's saved settings stay out
    argv = ["--source", "sample", "--weights", str(landmark_weights), "--device", "cuda"]
    proc = subprocess.run(
        [sys.executable, "main.py", *argv, "--stats-json", str(stats_path)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "offscreen" in proc.stderr and "CUDA is not available" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "CUDA" in json.loads(stats_path.read_text())["error"]
