"""SMPL-topology anchors are smplx's published vertex ids, with SMPL's left/right."""

from __future__ import annotations

from smplx.vertex_ids import vertex_ids

from stdformer.body.regressors import SMPL_ANCHOR_IDS


def test_smpl_anchor_ids_are_smplx_vertex_ids_with_the_same_sides() -> None:
    smplh = vertex_ids["smplh"]  # the ids smplx itself uses for SMPL (same 6,890-vertex mesh)
    expected = {
        "nose": smplh["nose"], "left_eye": smplh["leye"], "right_eye": smplh["reye"],
        "left_ear": smplh["lear"], "right_ear": smplh["rear"],
        "left_foot_index": smplh["LBigToe"], "right_foot_index": smplh["RBigToe"],
        "left_heel": smplh["LHeel"], "right_heel": smplh["RHeel"],
        "left_thumb_tip": smplh["lthumb"], "right_thumb_tip": smplh["rthumb"],
    }  # fmt: skip
    assert dict(SMPL_ANCHOR_IDS) == expected
