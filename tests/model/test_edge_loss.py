"""the edge self term is FastMETRO's mean predicted edge length (not its square)."""

from __future__ import annotations

import pytest
import torch

from stdformer.train.losses import edge_self_loss, mesh_edges


def test_edge_self_loss_is_mean_edge_length() -> None:
    tri = torch.tensor([[[0.0, 0.0, 0.0], [3.0, 0.0, 0.0], [0.0, 4.0, 0.0]]])  # edges 3, 4, 5
    edges = mesh_edges(torch.tensor([[0, 1, 2]]))
    assert edge_self_loss(tri, edges).item() == pytest.approx(4.0)
    assert edge_self_loss(2 * tri, edges).item() == pytest.approx(8.0)  # linear in scale


def test_unlabelled_2d_joints_are_not_supervised_through_velocity(
    sphere_levels, tiny_landmark_config
) -> None:
    """A 2D joint with confidence 0 carries no label: neither its L1 nor its V term may count."""
    from stdformer.model.stdformer import build_model, project_weak_perspective
    from stdformer.train.losses import STDFormerLoss, Targets

    model = build_model(tiny_landmark_config, sphere_levels)
    with torch.no_grad():
        out = model(torch.randn(1, 4, 33, 8))
    j2d = project_weak_perspective(out.joints, out.cam_wp).clone()  # (1, T, J, 2) exact
    conf = torch.ones(j2d.shape[:-1])
    j2d[:, :, 5] = torch.tensor([[0.0, 0.0], [9.0, -9.0], [0.0, 0.0], [9.0, 9.0]])  # no label
    conf[:, :, 5] = 0.0
    tgt = Targets(out.verts_full, out.joints, j2d, conf)
    assert STDFormerLoss(sphere_levels)(out, tgt)["joints_2d"].item() == pytest.approx(
        0.0, abs=1e-6
    )
