"""The observation simulator reproduces the statistics it was calibrated with."""

from __future__ import annotations

import numpy as np
import pytest

from stdformer.data.simulate import SimCalibration, calibrate, simulate


@pytest.fixture(scope="module")
def shipped() -> SimCalibration:
    return SimCalibration.load()


def _truth(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 33, 3) a person 3 m in front of the camera, drifting slowly."""
    base = rng.normal(0, 0.3, (33, 3)) * [1.0, 2.5, 0.3]
    drift = np.cumsum(rng.normal(0, 0.002, (n, 1, 3)), axis=0)
    return base[None] + drift + [0.0, 0.0, 3.0]


@pytest.mark.parametrize("untriangulated", [0.0, 0.1])
def test_refit_on_simulated_data_recovers_the_calibration(
    shipped: SimCalibration, untriangulated: float
) -> None:
    """Also with a real reference's gaps: a share of truth landmarks NaN (never the torso)."""
    rng = np.random.default_rng(0)
    K = np.array([[600.0, 0, 320], [0, 600, 240], [0, 0, 1]])
    cal = shipped
    samples = []
    limbs = np.setdiff1d(np.arange(33), [11, 12, 23, 24])
    for _ in range(40):
        gt = _truth(60, rng)
        obs = simulate(gt, K, (640, 480), cal, rng)
        gaps = rng.random((60, len(limbs))) < untriangulated
        gt[:, limbs] = np.where(gaps[..., None], np.nan, gt[:, limbs])
        samples.append({"gt_cam": gt, "K": K, "size_wh": (640, 480),
                        "detected": np.ones(60, bool), **obs})  # fmt: skip
    refit = calibrate(samples, ["full"] * len(samples))
    inside = np.abs(cal.std_in).mean()
    np.testing.assert_allclose(refit.bias, cal.bias, atol=0.5 * inside + 3e-3)
    np.testing.assert_allclose(refit.std_in.mean(), cal.std_in.mean(), rtol=0.15)
    assert refit.rho == pytest.approx(cal.rho, abs=0.05)
    assert refit.z_gain == pytest.approx(cal.z_gain, rel=0.1)
    np.testing.assert_allclose(refit.world_map, cal.world_map, atol=0.05)
    np.testing.assert_allclose(refit.vis_in[:, 0], cal.vis_in[:, 0], atol=0.05)


def test_calibration_file_numbers_are_sane(shipped: SimCalibration) -> None:
    assert shipped.n_frames > 1000  # fitted on a real corpus, not a toy
    assert 0.0 <= shipped.swap_rate < 0.2 and 0.0 < shipped.rho < 1.0
    assert (shipped.std_in > 0).all() and (shipped.std_out >= shipped.std_in).all()
    # MediaPipe's world landmarks are camera-aligned: the fitted map is close to diagonal.
    off = shipped.world_map - np.diag(np.diag(shipped.world_map))
    assert np.abs(off).max() < 0.3 and (np.diag(shipped.world_map) > 0.3).all()
