"""Reading METRO's mesh-level files without executing pickles."""

from __future__ import annotations

import io
import os
import pickle
import zipfile

import numpy as np
import pytest
import scipy.sparse as sp

from stdformer.model.official_levels import read_metro_levels
from stdformer.paths import BadFileError, MissingFileError

VF, VM, VC = 12, 6, 3


def _npy(body: bytes, n: int) -> bytes:
    """An .npy member: format-1.0 header (magic included) for a 1-D object array + pickle."""
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        out, {"descr": "|O", "fortran_order": False, "shape": (n,)}
    )
    return out.getvalue() + body


def _object_npy(items: list, py2_names: bool) -> bytes:
    """An object-array member pickled like np.save does (protocol 2)."""
    arr = np.empty(len(items), dtype=object)
    for i, m in enumerate(items):
        arr[i] = m
    body = pickle.dumps(arr, protocol=2)
    if py2_names:  # module paths as a Python 2 / old-scipy file spells them
        body = body.replace(b"scipy.sparse._csr", b"scipy.sparse.csr")
        body = body.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    return _npy(body, len(items))


def _matrices() -> dict[str, list[sp.csr_matrix]]:
    rng = np.random.default_rng(0)

    def rand(r: int, c: int) -> sp.csr_matrix:
        m = (rng.random((r, c)) < 0.5) * rng.random((r, c))
        return sp.csr_matrix(m.astype(np.float64))

    def ring(n: int) -> sp.csr_matrix:
        d = np.abs(np.subtract.outer(np.arange(n), np.arange(n)))
        return sp.csr_matrix((d == 1).astype(np.float64))

    return {
        "A": [ring(VF), ring(VM), ring(VC)],
        "U": [rand(VF, VM), rand(VM, VC)],
        "D": [rand(VM, VF), rand(VC, VM)],
    }


def _write(tmp_path, py2_names: bool) -> tuple:
    mats = _matrices()
    npz = tmp_path / "mesh_downsampling.npz"
    with zipfile.ZipFile(npz, "w") as zf:
        for key, items in mats.items():
            zf.writestr(key + ".npy", _object_npy(items, py2_names))
    faces = tmp_path / "smpl_1723_faces.npy"
    np.save(faces, np.array([[0, 1, 2], [2, 3, 4], [3, 4, 5]], np.int64))
    return npz, faces, mats


@pytest.mark.parametrize("py2_names", [False, True])
def test_reads_matrices_and_faces(tmp_path, py2_names: bool) -> None:
    npz, faces, mats = _write(tmp_path, py2_names)
    levels = read_metro_levels(npz, faces)
    assert levels.sizes == (VC, VM, VF)
    np.testing.assert_allclose(levels.up_mid_to_full, mats["U"][0].toarray(), rtol=1e-6)
    np.testing.assert_allclose(levels.up_coarse_to_mid, mats["U"][1].toarray(), rtol=1e-6)
    np.testing.assert_allclose(levels.down_full_to_mid, mats["D"][0].toarray(), rtol=1e-6)
    np.testing.assert_allclose(levels.down_mid_to_coarse, mats["D"][1].toarray(), rtol=1e-6)
    expected_adj = mats["A"][2].toarray() != 0
    np.fill_diagonal(expected_adj, True)
    np.testing.assert_array_equal(levels.coarse_adjacency, expected_adj)
    assert levels.mid_faces.shape == (3, 3) and levels.coarse_faces.shape == (0, 3)


def test_refuses_code_in_the_pickle(tmp_path) -> None:
    npz, faces, _ = _write(tmp_path, False)
    evil = pickle.dumps(np.array([os.getcwd], dtype=object), protocol=2)  # a function global
    with zipfile.ZipFile(npz, "w") as zf:
        zf.writestr("A.npy", _npy(evil, 1))
    with pytest.raises(BadFileError, match="refusing"):
        read_metro_levels(npz, faces)


def test_missing_and_malformed_files(tmp_path) -> None:
    npz, faces, _ = _write(tmp_path, False)
    with pytest.raises(MissingFileError, match="mesh_downsampling"):
        read_metro_levels(tmp_path / "nope.npz", faces)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(BadFileError):
        read_metro_levels(tmp_path / "bad.npz", faces)
    np.save(tmp_path / "faces_bad.npy", np.array([[0, 1, 99]]))
    with pytest.raises(BadFileError, match="faces"):
        read_metro_levels(npz, tmp_path / "faces_bad.npy")


def test_conversion_tool_reads_metro_files_and_saves_levels(tmp_path, monkeypatch) -> None:
    import importlib.util

    from stdformer.body.levels import MeshLevels
    from stdformer.paths import REPO_ROOT

    spec = importlib.util.spec_from_file_location(
        "convert_official_tool_levels", REPO_ROOT / "tools" / "convert_official.py"
    )
    monkeypatch.syspath_prepend(str(REPO_ROOT / "tools"))  # as `python tools/x.py` runs
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    npz, faces, _ = _write(tmp_path, True)
    args = tool.parse_args(
        ["sd.bin", "--out", "x.pt", "--metro-mesh", str(npz), "--mid-faces", str(faces)]
    )
    levels = tool._levels(args)
    assert levels.sizes == (VC, VM, VF)
    levels.save(tmp_path / "levels.npz")
    again = tool._levels(
        tool.parse_args(["sd.bin", "--out", "x.pt", "--levels", str(tmp_path / "levels.npz")])
    )
    assert (
        again.fingerprint()
        == levels.fingerprint()
        == MeshLevels.load(tmp_path / "levels.npz").fingerprint()
    )
    with pytest.raises(MissingFileError, match="mid-faces"):
        tool._levels(tool.parse_args(["sd.bin", "--out", "x.pt", "--metro-mesh", str(npz)]))
