"""MediaPipe's short front/back flips are undone; real turns, long flips and new people are not."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from stdformer.body.body_model import load_body_model
from stdformer.body.regressors import landmark_regressor
from stdformer.detect.facing import FacingConfig, FacingGuard, torso_yaw_deg, unflip
from stdformer.detect.pose_topology import POSE_HIPS
from stdformer.types import Observation

FPS, F = 30.0, 600.0


@pytest.fixture(scope="module")
def landmarks() -> np.ndarray:
    """(33, 3) the default body's landmarks in camera axes (x right, y down), facing the camera."""
    body = load_body_model()
    lm = landmark_regressor(body).numpy() @ np.asarray(body.v_template)
    lm = lm * [1.0, -1.0, -1.0]  # Y-up, facing +Z -> OpenCV axes, facing the camera
    return lm - lm[list(POSE_HIPS)].mean(0)


def _obs(landmarks: np.ndarray, i: int, yaw_deg: float, subject: int = 0) -> Observation:
    """The person turned by `yaw_deg` (0: facing the camera) at frame i, 3 m away."""
    a = -np.radians(yaw_deg)
    rot = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    world = landmarks @ rot.T
    cam = world + np.array([0.0, 0.0, 3.0])
    uv = F * cam[:, :2] / cam[:, 2:] + [320, 240]
    px = np.concatenate([uv, F * world[:, 2:] / 3.0], 1).astype(np.float32)
    box = np.array([*uv.min(0), *uv.max(0)], np.float32)
    return Observation(px, np.full(33, 0.9, np.float32), np.full(33, 0.95, np.float32),
                       world.astype(np.float32), box, box.copy(), (640, 480),
                       round(i * 1e9 / FPS), i, subject_id=subject)  # fmt: skip


def _mirrored(obs: Observation) -> Observation:
    """MediaPipe's flipped reading of `obs`: labels swapped, depth mirrored (not marked)."""
    return dataclasses.replace(unflip(obs), facing_flipped=False)


def _same(a: Observation, b: Observation) -> bool:
    return np.allclose(a.landmarks_px, b.landmarks_px, atol=1e-4) and np.allclose(
        a.world_landmarks, b.world_landmarks, atol=1e-5
    )


def test_yaw_and_unflip(landmarks: np.ndarray) -> None:
    for yaw in (0.0, 30.0, -60.0, 150.0):
        obs = _obs(landmarks, 0, yaw)
        assert torso_yaw_deg(obs.world_landmarks) == pytest.approx(yaw, abs=1.0)
        mirrored = unflip(obs)  # MediaPipe's reading of the person facing the other way
        assert mirrored.facing_flipped
        assert abs((torso_yaw_deg(mirrored.world_landmarks) - (180.0 - yaw) + 180) % 360 - 180) < 1
        np.testing.assert_allclose(mirrored.landmarks_px[12, :2], obs.landmarks_px[11, :2])
        assert _same(unflip(mirrored), obs) and not unflip(mirrored).facing_flipped


def test_a_short_flip_is_undone(landmarks: np.ndarray) -> None:
    truth = [_obs(landmarks, i, 10.0 * np.sin(i / 10)) for i in range(90)]
    seen = [_mirrored(o) if 20 <= i < 35 or i in (50, 51) else o for i, o in enumerate(truth)]
    guard = FacingGuard()
    out = [guard(o) for o in seen]
    assert all(_same(o, t) for o, t in zip(out, truth, strict=True))
    flipped = [i for i, o in enumerate(out) if o.facing_flipped]
    assert flipped == [*range(20, 35), 50, 51]  # marked: MediaPipe read these the other way


def test_readings_between_truth_and_mirror_do_not_capture_the_facing(
    landmarks: np.ndarray,
) -> None:
    truth = [_obs(landmarks, i, 20.0) for i in range(40)]
    seen = list(truth)
    seen[20], seen[21] = _obs(landmarks, 20, 125.0), _obs(landmarks, 21, 118.0)  # garbage
    seen[22] = _mirrored(truth[22])  # then a flip, then MediaPipe is right again
    guard = FacingGuard()
    out = [guard(o) for o in seen]
    assert out[22].facing_flipped and _same(out[22], truth[22])
    assert not any(o.facing_flipped for o in out[23:])  # the right readings are left alone


def test_a_real_turn_is_left_alone(landmarks: np.ndarray) -> None:
    seen = [_obs(landmarks, i, 12.0 * i) for i in range(90)]  # a full turn in 1 s, twice
    guard = FacingGuard()
    assert all(guard(o) is o for o in seen)


def test_a_lasting_flip_is_followed_and_a_new_person_starts_over(landmarks: np.ndarray) -> None:
    truth = [_obs(landmarks, i, 5.0) for i in range(150)]
    seen = truth[:30] + [_mirrored(o) for o in truth[30:]]  # MediaPipe flips for good at 1 s
    guard = FacingGuard(FacingConfig(max_flip_s=0.5))
    out = [guard(o) for o in seen]
    assert all(_same(o, t) for o, t in zip(out[30:45], truth[30:45], strict=True))
    assert all(o is s for o, s in zip(out[46:], seen[46:], strict=True))  # held 0.5 s: followed
    other = dataclasses.replace(_mirrored(truth[0]), t_ns=truth[0].t_ns + 30_000_000, subject_id=1)
    guard = FacingGuard()
    guard(truth[0])
    assert guard(other) is other  # another person: no history to hold against them
    assert FacingGuard(FacingConfig(enabled=False))(seen[40]) is seen[40]


def test_a_lasting_flip_is_followed_though_single_readings_agree_with_the_old_facing(
    landmarks: np.ndarray,
) -> None:
    """MediaPipe changes its reading for good at 1 s, but every 10th frame still reads the
    old way (on a real clip: one frame in 20): the guard follows the new reading once it has
    held 0.5 s more than the old one, instead of restarting its clock at each old reading
    and holding the old facing to the end (46 frames of a 100-frame real clip)."""
    truth = [_obs(landmarks, i, 5.0) for i in range(150)]
    seen = truth[:30] + [o if o.index % 10 == 0 else _mirrored(o) for o in truth[30:]]
    guard = FacingGuard(FacingConfig(max_flip_s=0.5))
    yaws = np.array([torso_yaw_deg(guard(o).world_landmarks) for o in seen])
    assert np.all(np.abs(yaws[:45]) < 10)  # first held as it was
    assert np.all(np.abs(yaws[70:]) > 170)  # then MediaPipe's new reading, its odd old ones too


def test_a_track_that_starts_flipped_is_not_held_against_the_truth_for_long(
    landmarks: np.ndarray,
) -> None:
    """MediaPipe reads the first 6 frames the wrong way round, then right: the guard first
    takes the right readings for flips, but follows them once they outlast the wrong start
    (0.17 s here), not only after `max_flip_s` (it kept 16 right frames wrong on a rendered
    clip)."""
    truth = [_obs(landmarks, i, -22.0) for i in range(5, 40)]
    seen = [_mirrored(o) if o.index < 11 else o for o in truth]
    guard = FacingGuard(FacingConfig(max_flip_s=0.5))
    out = [guard(o) for o in seen]
    wrong = [o.index for o, t in zip(out, truth, strict=True) if not _same(o, t)]
    assert wrong == list(range(5, 15))  # 6 as MediaPipe read them, 4 held (0.5 s: 15 held)
    assert all(o is s for o, s in zip(out[10:], seen[10:], strict=True))


def test_a_source_that_rewinds_its_timestamps_starts_over(landmarks: np.ndarray) -> None:
    """A clip read again from its start (media times back to 0): its second pass, where the
    person faces away and MediaPipe reads that right, is MediaPipe's reading from the first
    frame on, as after a gap; the first pass's facing does not turn it round."""
    first = [_obs(landmarks, i, 0.0) for i in range(60)]  # 2 s facing the camera
    again = [_obs(landmarks, i, 180.0) for i in range(60)]  # t from 0 again, facing away
    guard = FacingGuard()
    for o in first:
        guard(o)
    out = [guard(o) for o in again]
    assert not any(o.facing_flipped for o in out)
    assert all(_same(o, t) for o, t in zip(out, again, strict=True))


@pytest.mark.parametrize("quarter", [1, 2, 3])
def test_a_person_lying_or_upside_down_keeps_their_facing(landmarks, quarter) -> None:
    """A camera rolled by quarter turns sees what a person lying on their side (or standing on
    their hands) shows it. Seen from the side their front points up or down the image, where the
    camera-frame yaw is noise: the guard mirrored such readings. Now the yaw is taken about the
    body's own direction in the image: nothing is mirrored, and a short flip is still undone."""
    from stdformer.inference.roll import turn_observation

    side = [turn_observation(_obs(landmarks, i, 90.0 + 8 * np.sin(i / 5)), quarter)
            for i in range(90)]  # fmt: skip
    guard = FacingGuard()
    assert not any(guard(o).facing_flipped for o in side)
    truth = [
        turn_observation(_obs(landmarks, i, 10.0 * np.sin(i / 10)), quarter) for i in range(60)
    ]
    seen = [_mirrored(o) if 20 <= i < 30 else o for i, o in enumerate(truth)]
    guard = FacingGuard()
    out = [guard(o) for o in seen]
    assert all(_same(o, t) for o, t in zip(out, truth, strict=True))
