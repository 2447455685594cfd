"""a damaged or unreachable mesh-levels cache costs a recompute, never a crash."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

import stdformer.body.mesh_levels as ml
from stdformer.body.synthetic_smpl import make_synthetic_smpl


@pytest.fixture(scope="module")
def mesh() -> tuple[np.ndarray, np.ndarray]:
    data = make_synthetic_smpl()
    return data["v_template"], data["f"].astype(np.int64)


def _computed(monkeypatch) -> object:
    sentinel = object()
    monkeypatch.setattr(ml, "compute_mesh_levels", lambda *a, **k: sentinel)
    monkeypatch.setattr(ml, "save_mesh_levels", lambda *a, **k: None)
    return sentinel


def test_truncated_cache_file_is_recomputed(mesh, tmp_path, monkeypatch):
    verts, faces = mesh
    key = ml.mesh_levels_key(verts, faces)
    path = tmp_path / "mesh_levels" / f"levels-{key}.npz"
    path.parent.mkdir(parents=True)
    buf = io.BytesIO()
    np.savez_compressed(buf, levels_key=np.array(key), down_full_to_mid=np.arange(1e5))
    path.write_bytes(buf.getvalue()[:2000])  # a copy or write cut short: a broken zip
    sentinel = _computed(monkeypatch)
    assert ml.load_or_compute_mesh_levels(verts, faces, cache_dir=tmp_path) is sentinel


def test_unreachable_cache_dir_is_recomputed(mesh, tmp_path, monkeypatch):
    verts, faces = mesh
    sentinel = _computed(monkeypatch)
    real_is_file = Path.is_file

    def denied(self: Path) -> bool:  # a cache folder without search permission (not root)
        if "mesh_levels" in self.parts:
            raise PermissionError(13, "Permission denied", str(self))
        return real_is_file(self)

    monkeypatch.setattr(Path, "is_file", denied)
    assert ml.load_or_compute_mesh_levels(verts, faces, cache_dir=tmp_path) is sentinel


def test_cache_dir_that_is_a_file_does_not_stop_loading(mesh, tmp_path, monkeypatch):
    verts, faces = mesh
    blocker = tmp_path / "cache"
    blocker.write_text("not a folder")
    monkeypatch.setattr(ml, "compute_mesh_levels", lambda *a, **k: _tiny_levels())
    out = ml.load_or_compute_mesh_levels(verts, faces, cache_dir=blocker)
    assert out.sizes == (4, 5, 6)
    assert blocker.read_text() == "not a folder"


def _tiny_levels():
    from stdformer.body.levels import MeshLevels

    return MeshLevels(
        down_full_to_mid=np.full((5, 6), 1 / 6, np.float32),
        down_mid_to_coarse=np.full((4, 5), 1 / 5, np.float32),
        up_coarse_to_mid=np.full((5, 4), 1 / 4, np.float32),
        up_mid_to_full=np.full((6, 5), 1 / 5, np.float32),
        coarse_adjacency=np.ones((4, 4), bool),
        coarse_faces=np.array([[0, 1, 2], [0, 2, 3]]),
        mid_faces=np.array([[0, 1, 2], [2, 3, 4]]),
    )
