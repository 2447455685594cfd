"""External-file lookup: argument -> environment variable -> assets/, with actionable errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from stdformer.paths import (
    ASSETS_DIR,
    MissingFileError,
    resolve_file,
    resolve_optional_file,
)


def test_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file, arg_file = tmp_path / "env.task", tmp_path / "arg.task"
    env_file.write_bytes(b"x")
    arg_file.write_bytes(b"x")
    monkeypatch.delenv("STDFORMER_POSE_MODEL", raising=False)
    assert resolve_file("pose_model") == ASSETS_DIR / "pose_landmarker_full.task"
    monkeypatch.setenv("STDFORMER_POSE_MODEL", str(env_file))
    assert resolve_file("pose_model") == env_file
    assert resolve_file("pose_model", arg_file) == arg_file


def test_missing_file_message_is_actionable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STDFORMER_BODY_MODEL", str(tmp_path / "SMPL_NEUTRAL.pkl"))
    with pytest.raises(MissingFileError) as err:
        resolve_file("body_model")
    msg = str(err.value)
    assert "SMPL_NEUTRAL.pkl" in msg and "$STDFORMER_BODY_MODEL" in msg
    assert "smpl.is.tue.mpg.de" in msg and "build_default_body.py" in msg


def test_optional_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STDFORMER_MESH_LEVELS", raising=False)
    assert resolve_optional_file("mesh_levels") is None
    with pytest.raises(MissingFileError, match=r"levels\.npz"):
        resolve_optional_file("mesh_levels", tmp_path / "levels.npz")


def test_every_embedded_default_is_committed() -> None:
    from stdformer.paths import ASSETS

    missing = [k for k, a in ASSETS.items() if a.default and not (ASSETS_DIR / a.default).is_file()]
    # Trained weights for the embedded model come with the training wave; all else must ship.
    assert missing in ([], ["weights"])
