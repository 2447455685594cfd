"""Generated motion: within joint limits, smooth at human rates, feet on the floor, webcam views."""

from __future__ import annotations

import numpy as np
import pytest

from stdformer.data.motion import (
    ACTIVITIES,
    FPS,
    LIMITS,
    SEATED,
    SMPL_JOINT_NAMES,
    generate_motion,
    joint_limits,
)
from stdformer.data.scene import FRAMINGS, in_view_fraction, pose_body, sample_camera


@pytest.mark.parametrize("activity", ACTIVITIES)
def test_motion_respects_joint_limits_and_is_smooth(activity: str) -> None:
    m = generate_motion(activity, 90, np.random.default_rng(3))
    assert m.body_pose.shape == (90, 69) and m.global_orient.shape == (90, 3)
    eu = m.euler_deg  # (N, 24, 3)
    assert (eu >= LIMITS[None, :, :, 0] - 1e-3).all() and (eu <= LIMITS[None, :, :, 1] + 1e-3).all()
    # Human joints rarely exceed ~2000 deg/s; angular acceleration stays bounded (no jumps).
    vel = np.abs(np.diff(eu, axis=0)) * FPS  # deg/s
    acc = np.abs(np.diff(eu, 2, axis=0)) * FPS**2
    assert vel.max() < 2500, f"{activity}: {vel.max():.0f} deg/s"
    assert np.percentile(acc, 99) < 60000, f"{activity}: {np.percentile(acc, 99):.0f} deg/s^2"


@pytest.mark.parametrize("activity", SEATED)
def test_seated_activities_keep_the_hips_and_knees_bent(activity: str) -> None:
    """Every seated activity sits (thighs within ~40 deg of horizontal, shins bent): random
    seated motion used to scale the whole seated angle by 0.3, leaving nearly straight legs."""
    for seed in range(4):
        eu = generate_motion(activity, 90, np.random.default_rng(seed)).euler_deg
        for side in ("left", "right"):
            hip = eu[:, SMPL_JOINT_NAMES.index(f"{side}_hip"), 0]
            knee = eu[:, SMPL_JOINT_NAMES.index(f"{side}_knee"), 0]
            assert hip.max() < -50 and knee.min() > 50, (activity, seed, hip.max(), knee.min())


def test_right_side_limits_mirror_the_left() -> None:
    left, right = joint_limits("left_shoulder"), joint_limits("right_shoulder")
    np.testing.assert_array_equal(right[0], left[0])  # x (flexion axis) kept
    np.testing.assert_array_equal(right[1], -left[1, ::-1])  # y, z mirrored


def test_shapes_cover_adults_and_children() -> None:
    scales = [generate_motion("walk", 2, np.random.default_rng(s)).scale for s in range(200)]
    assert min(scales) < 0.85 and max(scales) > 0.95  # children and adults


@pytest.fixture(scope="module")
def body():
    from stdformer.body.body_model import load_body_model

    return load_body_model()


def test_posed_body_stands_on_the_floor(body) -> None:
    m = generate_motion("squat", 30, np.random.default_rng(0))
    verts, joints = pose_body(body, m)
    np.testing.assert_allclose(verts[..., 1].min(axis=1), 0.0, atol=1e-4)  # lowest point on y=0
    assert (joints[:, 15, 1] > 0.6).all()  # the head stays up


@pytest.mark.parametrize("framing", FRAMINGS)
def test_camera_framings(body, framing: str) -> None:
    rng = np.random.default_rng(1)
    m = generate_motion("walk" if framing == "enter_leave" else "wave", 60, rng)
    _, joints = pose_body(body, m)
    cam = sample_camera(joints, framing, rng)
    head = in_view_fraction(cam, joints[:, [15]])  # (N,)
    ankles = in_view_fraction(cam, joints[:, [7, 8]])
    if framing == "full":
        assert head.min() == 1 and ankles.min() == 1
    elif framing == "upper":
        assert head.mean() > 0.9 and ankles.max() == 0  # head in view, legs out
    elif framing == "knees":
        assert head.mean() > 0.9 and ankles.mean() < 0.5
