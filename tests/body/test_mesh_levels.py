"""Mesh levels (coarse 431 / middle 1723 / full): matrices, round trips, adjacency, caching."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import trimesh
from scipy.sparse.csgraph import connected_components
from scipy.spatial.transform import Rotation

import stdformer.body.mesh_levels as ml
from stdformer.body.levels import MeshLevels
from stdformer.paths import ASSETS_DIR

MATRICES = ("down_full_to_mid", "down_mid_to_coarse", "up_coarse_to_mid", "up_mid_to_full")


@pytest.fixture(scope="module")
def smpl_layout_levels(synthetic_smpl_data) -> tuple[np.ndarray, np.ndarray, MeshLevels]:
    verts = synthetic_smpl_data["v_template"]  # (6890, 3)
    faces = synthetic_smpl_data["f"].astype(np.int64)
    return verts, faces, ml.compute_mesh_levels(verts, faces)


def _vertex_areas(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(V,) a third of the area of the triangles around each vertex (m^2)."""
    tri = verts[faces]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    out = np.zeros(len(verts))
    np.add.at(out, faces.reshape(-1), np.repeat(area / 3.0, 3))
    return out


def _surface_mean(err: np.ndarray, verts: np.ndarray, faces: np.ndarray) -> float:
    """Mean error over the body surface (a plain vertex mean over-weights dense face/hands)."""
    w = _vertex_areas(verts, faces)
    return float((err * w).sum() / w.sum())


def _round_trip_mm(levels: MeshLevels, verts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mid = levels.down_full_to_mid.astype(np.float64) @ verts
    coarse = levels.down_mid_to_coarse.astype(np.float64) @ mid
    via_mid = levels.up_mid_to_full @ mid
    via_coarse = levels.up_mid_to_full @ (levels.up_coarse_to_mid @ coarse)
    return (np.linalg.norm(via_mid - verts, axis=1) * 1000,
            np.linalg.norm(via_coarse - verts, axis=1) * 1000)  # fmt: skip


def test_sizes_and_shapes_follow_the_paper(smpl_layout_levels):
    _, _, lv = smpl_layout_levels
    assert lv.sizes == (431, 1723, 6890)
    assert lv.up_mid_to_full.shape == (6890, 1723)
    assert lv.up_coarse_to_mid.shape == (1723, 431)
    assert lv.coarse_adjacency.shape == (431, 431) and lv.coarse_adjacency.dtype == bool
    assert lv.mid_faces.max() == 1722 and lv.coarse_faces.max() == 430
    assert len(np.unique(lv.mid_faces)) == 1723  # every middle vertex is on a triangle
    # Closed genus-0 input stays closed: F = 2V - 4 at each level.
    assert len(lv.mid_faces) == 2 * 1723 - 4 and len(lv.coarse_faces) == 2 * 431 - 4
    assert trimesh.Trimesh(np.zeros((1723, 3)), lv.mid_faces, process=False).is_watertight


def test_matrices_are_row_stochastic_and_local(smpl_layout_levels):
    _, _, lv = smpl_layout_levels
    for name in MATRICES:
        m = getattr(lv, name)
        assert m.dtype == np.float32
        assert (m >= 0).all(), name
        np.testing.assert_allclose(m.sum(axis=1), 1.0, atol=1e-5, err_msg=name)
        assert ((m > 0).sum(axis=1) <= 3).all(), name  # barycentric: one triangle per row


def test_rest_mesh_round_trip_stays_within_a_few_mm(smpl_layout_levels):
    verts, faces, lv = smpl_layout_levels
    err_mid, err_coarse = _round_trip_mm(lv, verts)
    mid_mm = _surface_mean(err_mid, verts, faces)
    coarse_mm = _surface_mean(err_coarse, verts, faces)
    assert mid_mm < 1.0 and err_mid.max() < 10.0, (mid_mm, err_mid.max())  # 0.6, 6.1
    assert coarse_mm < 4.0 and err_coarse.max() < 25.0, (coarse_mm, err_coarse.max())  # 2.9, 18


def test_levels_commute_with_rigid_motion(smpl_layout_levels):
    """Rows sum to 1, so down/up-sampling a moved body equals moving the sampled body."""
    verts, _, lv = smpl_layout_levels
    rot = Rotation.from_rotvec([0.3, -1.2, 0.5]).as_matrix()
    moved = verts @ rot.T + np.array([0.5, -0.2, 3.0])
    coarse, mid = lv.downsample(torch.as_tensor(np.stack([verts, moved]), dtype=torch.float64))
    np.testing.assert_allclose(mid[1].numpy(), mid[0].numpy() @ rot.T + [0.5, -0.2, 3.0],
                               atol=1e-5)  # fmt: skip
    np.testing.assert_allclose(coarse[1].numpy(), coarse[0].numpy() @ rot.T + [0.5, -0.2, 3.0],
                               atol=1e-5)  # fmt: skip


def test_coarse_adjacency_is_symmetric_connected_with_self_loops(smpl_layout_levels):
    _, _, lv = smpl_layout_levels
    adj = lv.coarse_adjacency
    assert (adj == adj.T).all() and adj.diagonal().all()
    assert connected_components(adj)[0] == 1
    edges = lv.coarse_faces[:, [0, 1]]
    assert adj[edges[:, 0], edges[:, 1]].all()
    assert 4.0 < adj.sum(axis=1).mean() - 1 < 8.0  # triangle mesh: ~6 neighbours


def test_deterministic(smpl_layout_levels):
    verts, faces, lv = smpl_layout_levels
    again = ml.compute_mesh_levels(verts, faces)
    for name in (*MATRICES, "coarse_adjacency", "coarse_faces", "mid_faces"):
        assert np.array_equal(getattr(lv, name), getattr(again, name)), name
    assert lv.fingerprint() == again.fingerprint()


def test_separate_pieces_are_bridged_into_one_graph():
    """Bodies with eyeballs or a mouth interior still get one connected attention graph."""
    body = trimesh.creation.icosphere(subdivisions=4, radius=0.3)  # 2562 vertices
    eye = trimesh.creation.icosphere(subdivisions=2, radius=0.02)  # 162 vertices
    verts = np.concatenate([body.vertices, eye.vertices + np.array([0.0, 0.0, 0.33])])
    faces = np.concatenate([body.faces, eye.faces + len(body.vertices)])
    lv = ml.compute_mesh_levels(verts, faces, n_coarse=120, n_mid=600)
    assert lv.sizes == (120, 600, 2724)
    assert connected_components(lv.coarse_adjacency)[0] == 1
    err_mid, _ = _round_trip_mm(lv, verts)
    assert err_mid.mean() < 2.0


def test_decimation_evens_out_vertex_density_and_keeps_the_surface_closed():
    """A sphere whose vertices crowd to the north ends up with about half of them in each half."""
    from stdformer.body.even_decimation import even_decimate

    sphere = trimesh.creation.icosphere(subdivisions=4)  # 2562 vertices
    theta = np.arccos(np.clip(sphere.vertices[:, 2], -1.0, 1.0))
    phi = np.arctan2(sphere.vertices[:, 1], sphere.vertices[:, 0])
    polar = theta**2 / np.pi  # polar angle squeezed towards the north pole
    verts = np.stack([np.sin(polar) * np.cos(phi), np.sin(polar) * np.sin(phi), np.cos(polar)], 1)
    assert (verts[:, 2] > 0).mean() > 0.79
    points, faces, cluster = even_decimate(verts, sphere.faces, 400)
    assert points.shape == (400, 3) and len(faces) == 2 * 400 - 4
    assert trimesh.Trimesh(points, faces, process=False).is_watertight
    assert 0.45 < (points[:, 2] > 0).mean() < 0.57  # 0.53; quadric decimation keeps 0.63
    np.testing.assert_array_equal(np.unique(cluster), np.arange(400))
    assert (np.linalg.norm(points, axis=1) > 0.9).all()  # merged points stay near the surface
    # Each kept point lies within its cluster of merged input vertices.
    dist = np.linalg.norm(verts - points[cluster], axis=1)
    assert dist.max() < 0.4, dist.max()


def test_bad_sizes_are_rejected(smpl_layout_levels):
    verts, faces, _ = smpl_layout_levels
    with pytest.raises(ValueError, match="n_coarse < n_mid"):
        ml.compute_mesh_levels(verts, faces, n_coarse=1723, n_mid=431)
    with pytest.raises(ValueError, match="faces"):
        ml.compute_mesh_levels(verts, faces[:, :2])


def test_cache_round_trip_and_key(smpl_layout_levels, tmp_path, monkeypatch):
    verts, faces, lv = smpl_layout_levels
    monkeypatch.setattr(ml, "compute_mesh_levels", lambda *a, **k: lv)
    first = ml.load_or_compute_mesh_levels(verts, faces, cache_dir=tmp_path)
    files = list((tmp_path / "mesh_levels").glob("levels-*.npz"))
    assert len(files) == 1 and first is lv

    def must_not_compute(*a, **k):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(ml, "compute_mesh_levels", must_not_compute)
    cached = ml.load_or_compute_mesh_levels(verts, faces, cache_dir=tmp_path)
    assert cached.fingerprint() == lv.fingerprint()
    for name in MATRICES:
        assert np.array_equal(getattr(cached, name), getattr(lv, name))
    # Another rest shape on the same topology gets its own entry (geometry matters).
    assert ml.mesh_levels_key(verts * 1.1, faces) != ml.mesh_levels_key(verts, faces)
    with pytest.raises(AssertionError, match="cache should"):
        ml.load_or_compute_mesh_levels(verts * 1.1, faces, cache_dir=tmp_path)


def test_corrupt_cache_is_recomputed(smpl_layout_levels, tmp_path, monkeypatch, caplog):
    verts, faces, lv = smpl_layout_levels
    key = ml.mesh_levels_key(verts, faces)
    path = tmp_path / "mesh_levels" / f"levels-{key}.npz"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a zip file")
    monkeypatch.setattr(ml, "compute_mesh_levels", lambda *a, **k: lv)
    out = ml.load_or_compute_mesh_levels(verts, faces, cache_dir=tmp_path)
    assert out is lv and "ignoring unreadable" in caplog.text
    assert MeshLevels.load(path).fingerprint() == lv.fingerprint()  # rewritten


def test_cache_dir_comes_from_env_not_the_model_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("STDFORMER_CACHE_DIR", str(tmp_path / "c"))
    assert ml.default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("STDFORMER_CACHE_DIR")
    assert ml.default_cache_dir().parts[-2:] == (".cache", "stdformer")


@pytest.mark.skipif(
    not (ASSETS_DIR / "default_body_levels.npz").is_file(), reason="levels not built yet"
)
def test_committed_default_levels_match_the_default_body(monkeypatch):
    from stdformer.body.body_model import load_body_model

    body = load_body_model()

    def stale(*a, **k):
        pytest.fail("assets/default_body_levels.npz was built from another default body: "
                    "rerun `python tools/build_mesh_levels.py`")  # fmt: skip

    monkeypatch.setattr(ml, "compute_mesh_levels", stale)
    lv = ml.mesh_levels_for_body(body)
    assert lv.sizes == (431, 1723, body.num_vertices)
    verts = body.v_template.astype(np.float64)
    err_mid, err_coarse = _round_trip_mm(lv, verts)
    mid_mm = _surface_mean(err_mid, verts, body.faces)
    coarse_mm = _surface_mean(err_coarse, verts, body.faces)
    assert mid_mm < 1.6 and err_mid.max() < 15.0, (mid_mm, err_mid.max())  # 1.2, 10.2
    assert coarse_mm < 5.5 and err_coarse.max() < 40.0, (coarse_mm, err_coarse.max())  # 5.0, 33
    assert connected_components(lv.coarse_adjacency)[0] == 1


# Body regions by the SMPL joint that moves a vertex most (skinning-weight argmax).
REGION_JOINTS = {
    "head": [12, 15],
    "hands": [20, 21, 22, 23],
    "feet": [7, 8, 10, 11],
    "arms": [16, 17, 18, 19],
    "legs": [1, 2, 4, 5],
    "trunk": [0, 3, 6, 9, 13, 14],
}


@pytest.mark.skipif(
    not (ASSETS_DIR / "default_body_levels.npz").is_file(), reason="levels not built yet"
)
def test_default_levels_spread_vertex_tokens_evenly_over_the_body():
    """Coarse vertices (the network's tokens) cover limbs and trunk, not mostly face and hands.

    Quadric decimation gave head, hands and feet 62 % of the coarse vertices (legs 12 % for a
    third of the skin). Each region's share of coarse/middle vertices must now be within a
    factor 1.6 of its share of the surface, and hands keep a recognisable mitten.
    """
    from stdformer.body.body_model import load_body_model

    body = load_body_model()
    lv = ml.mesh_levels_for_body(body)
    verts, weights = body.v_template.astype(np.float64), body.lbs_weights.astype(np.float64)
    joint_full = weights.argmax(1)
    weights_mid = lv.down_full_to_mid @ weights  # (Vm, 24)
    joint_mid, joint_coarse = weights_mid.argmax(1), (lv.down_mid_to_coarse @ weights_mid).argmax(1)
    area = _vertex_areas(verts, body.faces)
    share = {}
    for name, joints in REGION_JOINTS.items():
        area_share = area[np.isin(joint_full, joints)].sum() / area.sum()
        mid_share = np.isin(joint_mid, joints).mean()
        share[name] = coarse_share = np.isin(joint_coarse, joints).mean()
        for level_share in (mid_share, coarse_share):
            ratio = level_share / area_share
            assert 1 / 1.6 < ratio < 1.6, (name, area_share, mid_share, coarse_share)
    assert share["arms"] + share["legs"] + share["trunk"] > 0.65, share  # 0.72 (was 0.36)
    for hand_joints in ([20, 22], [21, 23]):
        assert np.isin(joint_coarse, hand_joints).sum() >= 12  # 14 per hand
    assert np.isin(joint_coarse, REGION_JOINTS["head"]).sum() >= 40  # 60
