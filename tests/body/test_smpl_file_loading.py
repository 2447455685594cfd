"""User SMPL files: path resolution, restricted unpickling and actionable errors."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from stdformer.body.body_model import load_body_model
from stdformer.body.smpl_file import read_smpl_file
from stdformer.paths import BadFileError, MissingFileError


def test_env_var_selects_the_file(monkeypatch, synthetic_smpl_pkl) -> None:
    monkeypatch.setenv("STDFORMER_BODY_MODEL", str(synthetic_smpl_pkl))
    model = load_body_model()
    assert model.kind == "smpl" and model.source_path == synthetic_smpl_pkl
    assert model.gender == "neutral"


def test_chumpy_pickle_reads_as_dense_arrays(synthetic_smpl_pkl, synthetic_smpl_data) -> None:
    arrays = read_smpl_file(synthetic_smpl_pkl)
    assert isinstance(arrays.J_regressor, np.ndarray)  # scipy sparse converted to dense
    np.testing.assert_allclose(arrays.J_regressor, synthetic_smpl_data["J_regressor"])
    np.testing.assert_allclose(arrays.shapedirs, synthetic_smpl_data["shapedirs"])
    assert arrays.kintree_table[0, 0] == -1  # uint32 root parent normalised


def test_malicious_pickle_is_refused(malicious_pkl, capfd) -> None:
    with pytest.raises(BadFileError, match=r"refusing to load '(posix|os)\.system'"):
        load_body_model(malicious_pkl)
    assert "should-never-run" not in capfd.readouterr().out


def test_missing_file_names_path_and_source(tmp_path) -> None:
    missing = tmp_path / "SMPL_NEUTRAL.pkl"
    with pytest.raises(MissingFileError) as err:
        load_body_model(missing)
    msg = str(err.value)
    assert str(missing) in msg and "STDFORMER_BODY_MODEL" in msg and "smpl.is.tue.mpg.de" in msg


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("posedirs", np.zeros((6890 * 3, 200)), r"posedirs must be \(6890\*3, 207\), got"),
        ("weights", np.zeros((6890, 23)), r"weights must be \(6890, 24\)"),
        ("J_regressor", np.zeros((24, 100)), r"J_regressor must be \(24, 6890\)"),
        ("J_regressor", np.zeros((52, 6890)), r"got \(52, 6890\) \(an SMPL-H"),
        ("f", np.full((10, 3), 7000), "f indexes vertices outside"),
        ("v_template", None, "field 'v_template' is missing"),
        ("shapedirs", np.full((6890, 3, 10), np.nan), "shapedirs contains NaN"),
    ],
)
def test_malformed_fields_are_named(tmp_path, synthetic_smpl_data, field, value, expected) -> None:
    data = dict(synthetic_smpl_data)
    if value is None:
        del data[field]
    else:
        data[field] = value
    path = tmp_path / "bad.npz"
    np.savez(path, **data)
    with pytest.raises(BadFileError, match=expected) as err:
        load_body_model(path)
    assert str(path) in str(err.value) and "smpl.is.tue.mpg.de" in str(err.value)


def test_garbage_and_unknown_types(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pkl"
    junk.write_bytes(b"not a pickle at all")
    with pytest.raises(BadFileError, match="not a readable SMPL pickle"):
        load_body_model(junk)
    listed = tmp_path / "list.pkl"
    listed.write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(BadFileError, match="expected a dict"):
        load_body_model(listed)
    other = tmp_path / "model.obj"
    other.write_text("v 0 0 0\n")
    with pytest.raises(BadFileError, match="unsupported body-model file type"):
        load_body_model(other)


def test_too_many_betas_is_an_error(synthetic_smpl_npz) -> None:
    with pytest.raises(BadFileError, match="num_betas"):
        load_body_model(synthetic_smpl_npz, num_betas=11)


@pytest.mark.requires_smpl
@pytest.mark.parametrize("gender", ["neutral", "male", "female"])
def test_real_smpl_files(gender: str) -> None:
    import os

    import torch

    root = Path(os.environ["STDFORMER_SMPL_DIR"])
    g = {"neutral": "neutral", "male": "m", "female": "f"}[gender]
    names = [f"SMPL_{gender.upper()}.pkl", f"SMPL_{gender.upper()}.npz"]
    names += [f"basicModel_{g}_lbs_10_207_0_v1.0.0.pkl", f"basicmodel_{g}_lbs_10_207_0_v1.1.0.pkl"]
    candidates = [root / n for n in names if (root / n).is_file()]
    if not candidates:
        pytest.skip(f"no {gender} SMPL file ({', '.join(names)}) in {root}")
    model = load_body_model(candidates[0])
    assert model.num_vertices == 6890 and model.faces.shape == (13776, 3)
    out = model()
    np.testing.assert_allclose(out.vertices[0].numpy(), model.v_template, atol=1e-5)
    np.testing.assert_allclose(out.joints[0].numpy(), model.rest_joints, atol=1e-5)
    height = np.ptp(model.v_template[:, 1])
    assert 1.4 < height < 2.0
    assert model(body_pose=torch.zeros(2, 69)).vertices.shape == (2, 6890, 3)


def test_npz_object_fields_are_skipped_not_unpickled(tmp_path, synthetic_smpl_data) -> None:
    """SMPL .npz conversions often carry object-array metadata: ignore it, never unpickle it."""
    data = dict(synthetic_smpl_data)
    data["pose_training_info"] = np.array([{"note": "metadata"}], dtype=object)
    path = tmp_path / "SMPL_MALE.npz"
    np.savez(path, **data)
    model = load_body_model(path)
    assert model.num_vertices == 6890 and model.gender == "male"
    data["J_regressor"] = np.array([object()], dtype=object)
    np.savez(path, **data)
    with pytest.raises(BadFileError, match="'J_regressor' is stored as pickled Python objects"):
        load_body_model(path)
