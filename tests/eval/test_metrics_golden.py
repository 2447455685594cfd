"""Golden values for the evaluation metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from stdformer.eval.metrics import (
    accel_error,
    mpjpe,
    mpvpe,
    pa_mpjpe,
    root_relative,
    similarity_align,
)


@pytest.fixture
def joints() -> np.ndarray:
    return np.random.default_rng(0).normal(0, 0.4, (14, 3))


def test_mpjpe_of_constant_offset_is_its_norm(joints) -> None:
    offset = np.array([0.03, -0.04, 0.0])  # |offset| = 0.05
    assert float(mpjpe(joints + offset, joints)) == pytest.approx(0.05)
    assert float(mpvpe(joints + offset, joints)) == pytest.approx(0.05)


def test_mpjpe_hand_computed() -> None:
    gt = np.zeros((2, 3))
    pred = np.array([[3.0, 4.0, 0.0], [0.0, 0.0, 1.0]])  # errors 5 and 1
    assert float(mpjpe(pred, gt)) == pytest.approx(3.0)
    per = mpjpe(np.stack([pred, gt]), np.stack([gt, gt]), reduce=False)
    assert per.tolist() == pytest.approx([3.0, 0.0])


def test_pa_mpjpe_of_similarity_copy_is_zero(joints) -> None:
    rot = Rotation.from_euler("xyz", [30, -50, 110], degrees=True).as_matrix()
    moved = 1.7 * joints @ rot.T + np.array([0.5, -2.0, 3.0])
    assert float(pa_mpjpe(moved, joints)) == pytest.approx(0.0, abs=1e-9)
    assert float(mpjpe(moved, joints)) > 0.1


def test_pa_alignment_recovers_the_inverse_transform(joints) -> None:
    rot = Rotation.from_euler("z", 90, degrees=True).as_matrix()
    moved = 0.5 * joints @ rot.T + 1.0
    np.testing.assert_allclose(similarity_align(moved, joints).numpy(), joints, atol=1e-9)


def test_pa_does_not_use_reflections(joints) -> None:
    mirrored = joints * np.array([-1.0, 1.0, 1.0])
    assert float(pa_mpjpe(mirrored, joints)) > 0.01


def test_pa_mpjpe_leaves_non_rigid_error() -> None:
    gt = np.array([[1.0, 0, 0], [-1.0, 0, 0], [0, 1.0, 0], [0, -1.0, 0]])
    pred = gt.copy()
    pred[:, 2] = [0.1, 0.1, -0.1, -0.1]  # a saddle: no similarity removes it
    # Best fit: R = I, t = 0, s = 4 / 4.04 (trace(cov) / var); each point is off by
    # |(x, 0.1) / 1.01 - (x, 0)| = 0.1 / sqrt(1.01).
    assert float(pa_mpjpe(pred, gt)) == pytest.approx(0.1 / np.sqrt(1.01), abs=1e-12)


def test_root_relative_uses_mean_of_hips() -> None:
    pts = np.array([[0.0, 0, 0], [2.0, 0, 0], [4.0, 2, 0]])
    out = root_relative(pts, (0, 1))
    np.testing.assert_allclose(out.numpy(), pts - [1.0, 0, 0])


def test_accel_error_golden() -> None:
    t = np.arange(6, dtype=np.float64)[:, None, None]
    gt = np.zeros((6, 2, 3))
    constant_velocity = gt + t * np.array([0.1, 0.2, 0.0])
    assert float(accel_error(constant_velocity, gt)) == pytest.approx(0.0, abs=1e-12)
    constant_accel = gt + 0.5 * t**2 * np.array([0.0, 0.0, 0.02])  # second difference = 0.02
    assert float(accel_error(constant_accel, gt)) == pytest.approx(0.02)
    with pytest.raises(ValueError, match="T>=3"):
        accel_error(gt[:2], gt[:2])


def test_metrics_accept_torch_batches(joints) -> None:
    a = torch.as_tensor(np.stack([joints, joints + 0.01]))
    assert mpjpe(a, a).item() == 0.0
    assert pa_mpjpe(a, a, reduce=False).shape == (2,)
