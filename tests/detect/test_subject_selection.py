"""Choosing and keeping one main subject with MediaPipe, on composed photos of real people.

The tracking rules themselves are tested on synthetic candidates in test_tracking.py.
"""

from __future__ import annotations

import cv2
import numpy as np

from stdformer.detect.localize import LocalizerConfig, PersonLocalizer
from stdformer.detect.mp_poses import LandmarkerSettings
from stdformer.detect.redetect import MASK_RGB, RedetectConfig, Redetector
from stdformer.paths import resolve_file
from stdformer.types import Frame


# -- with MediaPipe: the photo twice, at two scales (layouts where both are detected) -----------
def test_localizer_follows_the_same_person_across_frames(compose) -> None:
    """Big person (512 px) left, small one (400 px) right; then the small one moves."""
    with PersonLocalizer(LocalizerConfig(max_people=2)) as loc:
        layouts = [[(0, 0, 512), (600, 112, 400)]] * 3
        layouts += [[(0, 0, 512), (600 - 8 * i, 112 - 8 * i, 400 + 8 * i)] for i in range(1, 6)]
        noses, people = [], []
        for i, placements in enumerate(layouts):
            obs = loc.process(Frame(compose(placements, (1024, 512)), t_ns=i * 33_000_000, index=i))
            assert obs is not None
            noses.append(obs.landmarks_px[0, :2])
            people.append(loc.people_in_last_frame)
        assert people[0] == 2 and people.count(2) >= 6, people  # both seen: a real choice
        noses = np.array(noses)  # (F, 2)
        assert (noses[:, 0] < 512).all()  # always the left (larger) person
        assert np.ptp(noses[:, 0]) < 15.0  # and it did not move


def test_localizer_first_sight_picks_larger_person_on_the_right(compose) -> None:
    """Mirrored layout: the larger person is on the right, so list order cannot explain it."""
    with PersonLocalizer(LocalizerConfig(max_people=2)) as loc:
        image = compose([(0, 112, 400), (512, 0, 512)], (1024, 512))
        obs = loc.process(Frame(image, t_ns=0, index=0))
        assert loc.people_in_last_frame == 2
    assert obs is not None and obs.landmarks_px[0, 0] > 512


def test_fast_single_tracking_when_alone_and_back_when_someone_arrives(compose) -> None:
    """Alone in view: one-pose tracking; a newcomer is noticed at the next periodic look."""
    alone = [(0, 0, 512)]
    crowd = [(0, 0, 512), (600, 112, 400)]
    with PersonLocalizer(LocalizerConfig(max_people=2, recheck_every=4)) as loc:
        modes, noses = [], []
        for i, placements in enumerate([alone] * 10 + [crowd] * 10):
            obs = loc.process(Frame(compose(placements, (1024, 512)), t_ns=i * 33_000_000, index=i))
            assert obs is not None, i
            modes.append(loc.mode)
            noses.append(obs.landmarks_px[0, 0])
    assert modes[:3] == ["multi"] * 3 and modes[3:10] == ["single"] * 7
    assert modes[-1] == "multi" and "multi" in modes[10:15]  # noticed within one period
    assert max(noses) < 512  # the original subject throughout


def test_the_newcomer_look_sees_past_the_people_already_followed(compose) -> None:
    """The periodic look for newcomers greys out the people followed: with the subject covered
    only the newcomer is found; with both covered, nobody (MediaPipe's detector alone)."""
    rgb = cv2.cvtColor(compose([(0, 0, 512), (600, 112, 400)], (1024, 512)), cv2.COLOR_BGR2RGB)
    subject = np.array([40.0, 60.0, 470.0, 512.0])  # inside the first photo
    newcomer = np.array([640.0, 160.0, 980.0, 512.0])
    settings = LandmarkerSettings(resolve_file("pose_model", None))
    redetector = Redetector(settings, RedetectConfig())
    try:
        found = redetector.elsewhere(rgb, [subject], box_threshold=0.5)
        assert len(found) == 1 and found[0].landmarks_px[0, 0] > 600  # the newcomer's nose
        assert redetector.elsewhere(rgb, [subject, newcomer], box_threshold=0.5) == []
        assert rgb[200, 200].tolist() != list(MASK_RGB)  # the caller's frame is left as it was
    finally:
        redetector.close()
