"""BVH forward kinematics and the CMU conversion's geometry (no motion files needed)."""

from __future__ import annotations

import numpy as np
import pytest

from stdformer.body.smpl_file import SMPL_PARENTS
from stdformer.data.bvh import BvhError, forward_kinematics, parse_bvh
from stdformer.data.cmu import (
    resample_linear,
    resample_rotations,
    resample_times,
    to_body_proportions,
)

TWO_BONES = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation
  JOINT Knee
  {
    OFFSET 0 -10 0
    CHANNELS 3 Zrotation Yrotation Xrotation
    JOINT Ankle
    {
      OFFSET 0 -10 0
      CHANNELS 3 Zrotation Yrotation Xrotation
      End Site
      {
        OFFSET 0 0 5
      }
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.0166667
0 0 0 0 0 0 0 0 0 0 0 0
1 2 3 90 0 0 0 0 -90 0 0 0
"""


def test_bvh_forward_kinematics_composes_rotations_down_the_chain():
    bvh = parse_bvh(TWO_BONES)
    assert bvh.names == ("Hips", "Knee", "Ankle") and bvh.n_frames == 2
    assert bvh.fps == pytest.approx(60.0, rel=1e-4)
    _, pos = forward_kinematics(bvh)
    np.testing.assert_allclose(pos[0], [[0, 0, 0], [0, -10, 0], [0, -20, 0]], atol=1e-9)
    # root turned 90 deg about Z: the leg points to +X; the knee bends -90 deg about X
    # (Rx(-90) takes -Y to +Z; the root turn about Z keeps it): the shin points along +Z
    np.testing.assert_allclose(pos[1, 1], [11, 2, 3], atol=1e-9)
    np.testing.assert_allclose(pos[1, 2], [11, 2, 13], atol=1e-9)


def test_bvh_parser_names_the_problem():
    with pytest.raises(BvhError, match="expected"):
        parse_bvh("HIERARCHY\nROOT Hips\n{\n OFFSET 0 0\n}")
    with pytest.raises(BvhError, match="motion block"):
        parse_bvh(TWO_BONES.replace("Frames: 2", "Frames: 3"))


def test_resampling_keeps_the_span_and_interpolates():
    t = resample_times(61, 60.0, 25.0)  # 1 s at 60 fps -> 26 frames at 25 fps
    assert len(t) == 26 and t[-1] == pytest.approx(60.0)
    x = np.arange(61, dtype=float)[:, None] * np.ones((1, 3))
    np.testing.assert_allclose(resample_linear(x, t)[:, 0], t)
    ang = np.radians(np.arange(61) * 1.0)
    rot = np.zeros((61, 1, 3, 3))
    rot[:, 0, 0, 0] = rot[:, 0, 1, 1] = np.cos(ang)
    rot[:, 0, 0, 1], rot[:, 0, 1, 0], rot[:, 0, 2, 2] = -np.sin(ang), np.sin(ang), 1.0
    out = resample_rotations(rot, np.array([10.5]))
    assert np.degrees(np.arctan2(out[0, 0, 1, 0], out[0, 0, 0, 0])) == pytest.approx(10.5)


def test_body_proportions_keep_bone_directions_and_take_the_body_lengths():
    rng = np.random.default_rng(0)
    parents = np.asarray(SMPL_PARENTS)
    rest = rng.normal(0, 0.3, (24, 3))
    src = rng.normal(0, 0.5, (4, 24, 3))
    out = to_body_proportions(src, rest, parents)
    for j in range(1, 24):
        p = parents[j]
        length = np.linalg.norm(out[:, j] - out[:, p], axis=-1)
        np.testing.assert_allclose(length, np.linalg.norm(rest[j] - rest[p]), rtol=1e-9)
        if p not in (0, 9):  # single-parent bones keep the source's direction
            d_out = (out[:, j] - out[:, p]) / length[:, None]
            d_src = src[:, j] - src[:, p]
            d_src /= np.linalg.norm(d_src, axis=-1, keepdims=True)
            np.testing.assert_allclose(d_out, d_src, atol=1e-9)
    np.testing.assert_allclose(0.5 * (out[:, 1] + out[:, 2]), 0.5 * (src[:, 1] + src[:, 2]))


def test_webcam_views_are_mostly_frontal_with_side_and_back_shares():
    from stdformer.data.scene import WEBCAM_VIEWS, view_azimuth

    rng = np.random.default_rng(1)
    az = np.array([view_azimuth(rng, WEBCAM_VIEWS) for _ in range(4000)])
    off = np.abs((az + 180) % 360 - 180)  # 0 = in front, 180 = behind
    assert np.mean(off < 60) == pytest.approx(0.65, abs=0.03)
    assert np.mean((off > 60) & (off < 130)) == pytest.approx(0.25, abs=0.03)
    assert np.mean(off > 130) == pytest.approx(0.10, abs=0.02)


def test_cmu_motion_keeps_the_pose_and_lifts_jumps_off_the_floor():
    from stdformer.data.cmu import CmuClip
    from stdformer.data.cmu_source import cmu_motion

    n = 40
    joints = np.zeros((n, 24, 3), np.float32)
    joints[20:30, :, 1] = 0.3  # a jump: every joint (feet included) 30 cm up
    pose = np.random.default_rng(2).normal(0, 0.2, (n, 69)).astype(np.float32)
    clip = CmuClip("002_04", 30.0, np.zeros((n, 3), np.float32), pose,
                   np.ones((n, 3), np.float32), np.zeros(10, np.float32), joints,
                   np.zeros(n, np.float32))  # fmt: skip
    m = cmu_motion(clip, 10, 25, np.random.default_rng(3))
    assert m.n_frames == 25 and m.fps == 30.0
    np.testing.assert_array_equal(m.body_pose, pose[10:35])
    np.testing.assert_allclose(m.lift[10:20], 0.3, atol=1e-6)
    assert np.all(m.lift[:10] == 0) and np.all(m.lift[20:] == 0)
    np.testing.assert_allclose(m.transl[0, [0, 2]], 0.0)
