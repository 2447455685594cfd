"""Loss terms (golden values) and a tiny model overfitting a small batch."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from stdformer.model.stdformer import ModelOutput, build_model, project_weak_perspective
from stdformer.train.losses import (
    LossWeights,
    STDFormerLoss,
    Targets,
    edge_length_loss,
    mesh_edges,
    normal_consistency_loss,
    velocity_loss,
)


def test_velocity_loss_golden() -> None:
    gt = torch.zeros(1, 4, 2, 3)
    assert velocity_loss(gt + 5.0, gt).item() == 0.0  # a constant offset has the same motion
    pred = gt.clone()
    pred[:, 2:, :, 0] = 0.3  # one jump of 0.3 between frames 1 and 2, 3 velocity steps
    assert velocity_loss(pred, gt).item() == pytest.approx(0.1)
    assert velocity_loss(pred[:, :1], gt[:, :1]).item() == 0.0


def test_edge_and_normal_losses_golden(sphere_levels) -> None:
    faces = torch.as_tensor(sphere_levels.mid_faces)
    edges = mesh_edges(faces)
    assert edges.shape[0] == 3 * faces.shape[0] // 2  # closed mesh: E = 3F/2
    mid = torch.as_tensor(sphere_levels.down_full_to_mid) @ torch.randn(642, 3)
    lengths = (mid[edges[:, 0]] - mid[edges[:, 1]]).norm(dim=-1)
    assert edge_length_loss(2 * mid, mid, edges).item() == pytest.approx(
        lengths.mean().item(), rel=1e-5
    )
    assert normal_consistency_loss(mid, mid, faces).item() == pytest.approx(0.0, abs=1e-6)
    # Rotating a flat triangle by 90 degrees about an in-plane axis turns an edge onto the normal.
    tri = torch.tensor([[0.0, 0, 0], [1.0, 0, 0], [0.0, 1, 0]])
    rot = torch.tensor([[0.0, 0, 0], [1.0, 0, 0], [0.0, 0, 1]])
    loss = normal_consistency_loss(rot, tri, torch.tensor([[0, 1, 2]]))
    assert loss.item() == pytest.approx((0 + 1 + 1 / np.sqrt(2)) / 3)


def _targets_from(out: ModelOutput) -> Targets:
    j2d = project_weak_perspective(out.joints, out.cam_wp)
    return Targets(out.verts_full, out.joints, j2d)


def _synthetic_batch(levels, model):
    """Targets consistent with the mesh levels: a sphere scaled/moved per frame."""
    base = torch.as_tensor(np.asarray(levels.up_mid_to_full) @ np.asarray(levels.down_full_to_mid))
    rest = base @ torch.randn(642, 3) * 0.3
    b, t = 2, model.T
    scale = torch.linspace(0.8, 1.2, b * t).reshape(b, t, 1, 1)
    verts = rest * scale + torch.linspace(-0.1, 0.1, t)[None, :, None, None]
    joints = verts[:, :, :14] * 1.0
    cam = torch.tensor([0.9, 0.0, 0.1]).expand(b, t, 3)
    return Targets(verts, joints, project_weak_perspective(joints, cam))


def test_total_loss_is_zero_at_the_target_and_positive_elsewhere(
    sphere_levels, tiny_landmark_config
) -> None:
    model = build_model(tiny_landmark_config, sphere_levels)
    loss_fn = STDFormerLoss(sphere_levels)
    out = model(torch.randn(2, 4, 33, 8))
    tgt = _synthetic_batch(sphere_levels, model)
    terms = loss_fn(out, tgt)
    assert set(terms) == {"vertices", "joints_3d", "joints_2d", "mesh", "total"}
    w = LossWeights()
    expected = (
        w.joints_3d * terms["joints_3d"] + w.vertices * terms["vertices"]
        + w.mesh * terms["mesh"] + w.joints_2d * terms["joints_2d"]
    )  # fmt: skip
    torch.testing.assert_close(terms["total"], expected)
    assert terms["total"].item() > 0
    # Predictions equal to consistent targets: every data term vanishes (the tiny edge prior
    # remains).
    d = sphere_levels
    mid = torch.einsum("mf,btfc->btmc", torch.as_tensor(d.down_full_to_mid), tgt.verts_full)
    coarse = torch.einsum("km,btmc->btkc", torch.as_tensor(d.down_mid_to_coarse), mid)
    cam = torch.tensor([0.9, 0.0, 0.1]).expand(2, 4, 3)
    perfect = ModelOutput(cam, tgt.joints_3d, coarse, mid, tgt.verts_full)
    zero = loss_fn(perfect, tgt)
    for name in ("vertices", "joints_3d", "joints_2d"):
        assert zero[name].item() == pytest.approx(0.0, abs=1e-6), name
    assert zero["mesh"].item() < 1e-3


def test_tiny_model_overfits_a_small_batch(sphere_levels, tiny_landmark_config) -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: threading costs more than it saves
    try:
        _overfit(sphere_levels, tiny_landmark_config)
    finally:
        torch.set_num_threads(threads)


def _overfit(sphere_levels, tiny_landmark_config) -> None:
    model = build_model(tiny_landmark_config, sphere_levels).train()
    loss_fn = STDFormerLoss(sphere_levels)
    x = torch.randn(2, model.T, 33, 8)
    tgt = _synthetic_batch(sphere_levels, model)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    start = time.perf_counter()
    first = last = None
    step = 0
    # Stops as soon as the loss has dropped 10x (~60 steps); `step` goes into the message.
    for step in range(300):  # noqa: B007
        loss = loss_fn(model(x), tgt)["total"]
        first = first if first is not None else loss.item()
        last = loss.item()
        if last < first / 10:
            break
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert last < first / 10, (first, last, step, time.perf_counter() - start)
    print(
        f"overfit: {first:.3g} -> {last:.3g} in {step} steps, {time.perf_counter() - start:.1f} s"
    )
