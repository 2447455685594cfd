"""Implausible poses, head-covering boxes and what is drawn, on real photos and made-up poses."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from stdformer.detect.localize import LocalizerConfig, PersonLocalizer
from stdformer.detect.pose_quality import (
    drawable_skeleton,
    head_outline,
    implausibility,
    landmark_confidence,
    tight_box,
)
from stdformer.types import Frame, Observation

DATA = Path(__file__).resolve().parents[1] / "data"
L_WRIST, L_ELBOW, L_SHOULDER, R_SHOULDER, L_HIP, L_KNEE = 15, 13, 11, 12, 23, 25


@pytest.fixture(scope="module")
def astronaut_obs(astronaut_bgr) -> Observation:
    with PersonLocalizer(LocalizerConfig()) as loc:
        obs = loc.process(Frame(astronaut_bgr, 0, 0))
    assert obs is not None
    return obs


def conf_of(obs: Observation) -> np.ndarray:
    return landmark_confidence(obs.visibility, obs.presence)


def test_box_covers_the_whole_head(astronaut_obs) -> None:
    """astronaut.png: her hair starts at y ~15 (hand-measured), the eyes at y ~105; a box
    from landmarks alone would start at the eyes."""
    x0, y0, x1, _ = astronaut_obs.bbox_xyxy
    eyes_y = astronaut_obs.landmarks_px[[2, 5], 1].min()
    assert eyes_y > 95
    assert 0 <= y0 <= 25  # the skull and most of the hair are inside
    assert x0 < 150 and x1 > 290  # face and both shoulders inside


def test_head_outline_follows_a_tilted_face() -> None:
    """Face turned 90 degrees (lying on the side, head to the left): the skull is to the left."""
    lm = np.zeros((33, 3), np.float32)
    conf = np.zeros(33, np.float32)
    for i, (x, y) in {0: (100, 200), 2: (110, 190), 5: (110, 210), 7: (115, 180),
                      8: (115, 220), 9: (90, 195), 10: (90, 205)}.items():  # fmt: skip
        lm[i, :2], conf[i] = (x, y), 1.0
    pts = head_outline(lm, conf, 0.5)
    assert pts is not None and pts[0, 0] > 140  # the top of the head: beyond the eyes (+x)
    box = tight_box(lm, conf, 0.5, (400, 400))
    assert box[2] > 140 and box[1] < 180


def test_real_poses_are_plausible(astronaut_obs) -> None:
    obs = astronaut_obs
    assert implausibility(obs.landmarks_px, obs.world_landmarks, conf_of(obs)) is None


def test_landmarks_scattered_on_the_background_are_rejected(astronaut_obs) -> None:
    """Same 3D pose, 2D points thrown over the image (as on the sun and a tree): dropped."""
    obs = astronaut_obs
    rng = np.random.default_rng(1)
    scattered = obs.landmarks_px.copy()
    scattered[:, :2] = rng.uniform(0, 512, (33, 2))
    why = implausibility(scattered, obs.world_landmarks, conf_of(obs))
    assert why is not None and "do not match" in why


def test_too_few_confident_landmarks_and_impossible_bones_are_rejected(astronaut_obs) -> None:
    obs = astronaut_obs
    few = conf_of(obs).copy()
    few[np.argsort(-few)[4:]] = 0.1
    assert "confident landmarks" in implausibility(obs.landmarks_px, obs.world_landmarks, few)
    world = obs.world_landmarks.copy()
    world[R_SHOULDER] = world[L_SHOULDER] + [1.5, 0, 0]  # 1.5 m shoulders
    assert "bone 11-12" in implausibility(obs.landmarks_px, world, conf_of(obs))


def test_background_only_frames_yield_no_pose(astronaut_bgr) -> None:
    """Real backgrounds without people: the sky and buildings of camera.png, a flag and a
    space shuttle from astronaut.png (the person cut away), upscaled."""
    camera = cv2.imread(str(DATA / "camera.png"), cv2.IMREAD_COLOR)
    backgrounds = [camera[:280, 330:], astronaut_bgr[:300, 350:], astronaut_bgr[:, :40]]
    with PersonLocalizer(LocalizerConfig()) as loc:
        for i, bg in enumerate(backgrounds):
            image = cv2.resize(bg, (640, 480), interpolation=cv2.INTER_LINEAR)
            for k in range(3):
                assert loc.process(Frame(image, (3 * i + k) * 33_000_000, k)) is None


def test_head_and_shoulders_framing(compose, astronaut_bgr) -> None:
    """A webcam framing (head and shoulders only): found, the head is inside the box, and the
    drawn skeleton is the face plus the shoulders, nothing below the frame."""
    webcam = cv2.resize(astronaut_bgr[:300, 40:440], (640, 480))
    with PersonLocalizer(LocalizerConfig()) as loc:
        obs = loc.process(Frame(webcam, 0, 0))
    assert obs is not None
    assert obs.bbox_xyxy[1] < 40  # her hair starts at ~(15 / 300) * 480 = 24 px
    points, bones = drawable_skeleton(conf_of(obs))
    assert points[0] and points[L_SHOULDER] and points[R_SHOULDER] and (11, 12) in bones
    assert not points[L_HIP] and not points[L_KNEE]


def test_drawable_skeleton_drops_floating_fragments() -> None:
    conf = np.zeros(33, np.float32)
    conf[[*range(11), 11, 12, 23, 24]] = 0.9  # face, shoulders, hips
    conf[[15, 17, 19]] = 0.9  # a wrist and its fingers, but the elbow is unsure
    points, bones = drawable_skeleton(conf)
    assert (11, 12) in bones and (11, 23) in bones and (0, 4) in bones and (9, 10) in bones
    assert points[[0, 2, 11, 12, 23, 24]].all()
    assert not points[[15, 17, 19]].any()  # the lone hand is not drawn
    conf[L_ELBOW] = 0.9  # with the elbow the arm joins the body
    points, bones = drawable_skeleton(conf)
    assert points[L_WRIST] and (13, 15) in bones
