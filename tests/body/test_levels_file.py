"""Mesh-levels files store each matrix by rows (its few non-zeros): what is read back equals
what was written, older files with dense matrices still load, and a damaged file is one clear
error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stdformer.body.levels import _FIELDS, MATRICES, MeshLevels
from stdformer.paths import BadFileError


def _levels() -> MeshLevels:
    rng = np.random.default_rng(0)

    def rows_of(r: int, c: int) -> np.ndarray:
        """Row-stochastic with 1-3 non-zeros a row, column 0 among them in some rows."""
        m = np.zeros((r, c), np.float32)
        for i in range(r):
            cols = rng.choice(c, size=rng.integers(1, 4), replace=False)
            m[i, cols] = rng.random(len(cols)).astype(np.float32) + 0.1
        return m / m.sum(1, keepdims=True)

    return MeshLevels(
        down_full_to_mid=rows_of(5, 9),
        down_mid_to_coarse=rows_of(4, 5),
        up_coarse_to_mid=rows_of(5, 4),
        up_mid_to_full=rows_of(9, 5),
        coarse_adjacency=np.eye(4, dtype=bool),
        coarse_faces=np.array([[0, 1, 2], [0, 2, 3]]),
        mid_faces=np.array([[0, 1, 2], [2, 3, 4]]),
    )


def _assert_same(a: MeshLevels, b: MeshLevels) -> None:
    for name in _FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and np.array_equal(x, y), name


def test_round_trip_by_rows(tmp_path: Path) -> None:
    levels = _levels()
    levels.save(tmp_path / "levels.npz")
    with np.load(tmp_path / "levels.npz") as z:
        assert "up_mid_to_full" not in z.files and "up_mid_to_full.index" in z.files
    loaded = MeshLevels.load(tmp_path / "levels.npz")
    assert loaded.sizes == levels.sizes == (4, 5, 9)
    assert loaded.fingerprint() == levels.fingerprint()
    for name in MATRICES:  # the rows the network gathers with, as read from the file
        got, want = loaded.rows(name), levels.rows(name)
        assert np.array_equal(got.index, want.index) and np.array_equal(got.weight, want.weight)
    _assert_same(loaded, levels)


def test_files_with_dense_matrices_still_load(tmp_path: Path) -> None:
    levels = _levels()
    np.savez_compressed(tmp_path / "old.npz", **{k: getattr(levels, k) for k in _FIELDS})
    _assert_same(MeshLevels.load(tmp_path / "old.npz"), levels)


@pytest.mark.parametrize("damage", ["index out of range", "shapes differ", "field missing"])
def test_damaged_file_is_one_clear_error(tmp_path: Path, damage: str) -> None:
    arrays = _levels().arrays()
    if damage == "index out of range":
        arrays["up_mid_to_full.index"] = arrays["up_mid_to_full.index"] + 99
    elif damage == "shapes differ":
        arrays["down_full_to_mid.weight"] = arrays["down_full_to_mid.weight"][:2]
    else:
        del arrays["mid_faces"]
    np.savez_compressed(tmp_path / "bad.npz", **arrays)
    with pytest.raises(BadFileError, match=r"build_mesh_levels\.py"):
        MeshLevels.load(tmp_path / "bad.npz")
