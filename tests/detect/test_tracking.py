"""SubjectTracker on synthetic people: crossing, occlusion, leaving and returning, newcomers,
clicks, the timeout rule and pose jumps. No MediaPipe: candidates are built from boxes."""

from __future__ import annotations

import numpy as np
import pytest

from stdformer.detect.tracking import (
    BODY_LANDMARKS,
    Candidate,
    SubjectTracker,
    TrackerConfig,
    acquire_score,
    box_iou,
)

WH = (1000, 500)
FPS = 30
# A standing person's 33 landmarks as fractions of its box (x, y in [0, 1]).
_TEMPLATE = np.array(
    [(0.5, 0.08)]
    + [(0.45 + 0.03 * (i % 3), 0.06) for i in range(6)]
    + [(0.40, 0.08), (0.60, 0.08), (0.47, 0.11), (0.53, 0.11)]
    + [(0.30, 0.2), (0.70, 0.2), (0.25, 0.35), (0.75, 0.35), (0.22, 0.48), (0.78, 0.48)]
    + [(0.21, 0.5), (0.79, 0.5), (0.22, 0.51), (0.78, 0.51), (0.23, 0.5), (0.77, 0.5)]
    + [(0.4, 0.52), (0.6, 0.52), (0.4, 0.75), (0.6, 0.75), (0.4, 0.96), (0.6, 0.96)]
    + [(0.39, 0.98), (0.61, 0.98), (0.42, 1.0), (0.58, 1.0)],
    np.float32,
)  # (33, 2)


def colour(k: int) -> np.ndarray:
    """A clothing histogram: mostly bin k."""
    h = np.full(72, 0.2 / 71, np.float32)
    h[k] = 0.8
    return h


def person(
    x: float, y: float, height: float, shirt: int | None = 0, conf: float = 0.9
) -> Candidate:
    """A candidate standing with its box's top-left at (x, y), box height `height`."""
    w = 0.4 * height
    kp = _TEMPLATE * [w, height] + [x, y]
    box = np.array([x, y, x + w, y + height], np.float32)
    return Candidate(box, kp.astype(np.float32), np.full(33, conf, np.float32),
                     None if shirt is None else colour(shirt))  # fmt: skip


def run(tracker: SubjectTracker, frames: list[list[Candidate]], start: int = 0) -> list[int | None]:
    return [tracker.update(c, WH, (start + i) * 1_000_000_000 // FPS) for i, c in enumerate(frames)]


def subject_x(frames: list[list[Candidate]], picks: list[int | None]) -> list[float | None]:
    return [
        None if p is None else float(f[p].bbox_xyxy[0]) for f, p in zip(frames, picks, strict=True)
    ]


def test_box_iou_golden() -> None:
    a = np.array([0, 0, 10, 10], np.float32)
    assert box_iou(a, np.array([5, 0, 15, 10], np.float32)) == pytest.approx(50 / 150)
    assert box_iou(a, np.array([20, 20, 30, 30], np.float32)) == 0.0


def test_first_sight_prefers_complete_then_large_then_central() -> None:
    small_center, large_side = person(480, 200, 100), person(0, 0, 480)
    assert acquire_score(large_side, WH) > acquire_score(small_center, WH)
    central, corner = person(440, 100, 300), person(0, 0, 300)
    assert acquire_score(central, WH) > acquire_score(corner, WH)
    cut_off = person(400, 0, 480, conf=0.9)
    cut_off.confidence[list(BODY_LANDMARKS)[6:]] = 0.05  # hips and legs out of view
    whole = person(100, 80, 380)
    assert acquire_score(whole, WH) > acquire_score(cut_off, WH)  # basketball2.png case
    assert SubjectTracker().update([cut_off, whole], WH, 0) == 1


@pytest.mark.parametrize("same_clothes", [False, True])
def test_crossing_people_keep_identities(same_clothes: bool) -> None:
    """A walks right, B walks left and passes in front of A (A hidden for a few frames)."""
    frames = []
    for i in range(60):
        a = person(200 + 10 * i, 100, 300, shirt=0)
        b = person(800 - 10 * i, 90, 320, shirt=0 if same_clothes else 5)
        hidden = abs(float(a.bbox_xyxy[0] - b.bbox_xyxy[0])) < 40  # B covers A entirely
        frames.append([b] if hidden else [b, a] if i % 2 else [a, b])  # order varies
    tracker = SubjectTracker()
    tracker.update([person(190, 100, 300, shirt=0)], WH, -33_000_000)  # A alone first
    xs = subject_x(frames, run(tracker, frames))
    for i, x in enumerate(xs):
        if x is not None:
            assert x == pytest.approx(200 + 10 * i), i  # always A, never B
    assert sum(x is None for x in xs) <= 6  # only while A is hidden


def test_subject_leaves_and_returns_bystander_stays() -> None:
    """A walks out of the right edge, stays out 1 s, comes back; B stands still meanwhile."""
    b = person(100, 100, 300, shirt=3)
    frames = []
    for i in range(30):
        frames.append([b, person(600 + 12 * i, 100, 300, shirt=1)])
    frames += [[b]] * 30
    for i in range(30):
        frames.append([person(900 - 8 * i, 100, 300, shirt=1), b])
    tracker = SubjectTracker()
    tracker.update([person(590, 100, 300, shirt=1)], WH, -33_000_000)
    xs = subject_x(frames, run(tracker, frames))
    assert all(x is not None and x >= 600 for x in xs[:30])
    assert xs[30:60] == [None] * 30  # B is never taken while A is away (< 2 s)
    assert all(x is not None and x > 600 for x in xs[62:])  # A re-acquired, not B


def test_automatic_pick_settles_on_the_main_person_found_a_moment_later() -> None:
    """MediaPipe finds a small person at the side first and the large central one two frames
    later (cam02 of the real set): the main person becomes the subject and stays it. A click
    on the first person is final; so is the pick once `settle_s` has passed; a second reading
    over the subject (MediaPipe's duplicate) never takes over."""
    side, main = person(20, 150, 250, shirt=1), person(400, 40, 420, shirt=2)
    assert acquire_score(main, WH) > 1.25 * acquire_score(side, WH)
    frames = [[side], [side]] + [[side, main]] * 40
    xs = subject_x(frames, run(SubjectTracker(), frames))
    assert xs[:2] == [20, 20] and xs[2:] == [400] * 40

    clicked = SubjectTracker()
    clicked.update([side], WH, 0)
    clicked.request_subject_at(60, 250)
    assert subject_x(frames, run(clicked, frames)) == [20] * 42

    late = [[side]] * 35 + [[side, main]] * 10  # found after 1.2 s: the pick stands
    assert subject_x(late, run(SubjectTracker(), late)) == [20] * 45

    over = person(10, 140, 330, shirt=1)  # over the subject: its own second reading
    dup = [[side], [side]] + [[side, over]] * 10
    assert subject_x(dup, run(SubjectTracker(), dup)) == [20] * 12


def test_newcomer_in_front_does_not_take_over() -> None:
    """B enters from the left, grows larger than A and stands in front next to A."""
    frames = []
    for i in range(50):
        a = person(500 + i, 120, 260, shirt=2)
        frames.append([a] if i < 10 else [person(-100 + 15 * i, 20, 300 + 3 * i, shirt=4), a])
    tracker = SubjectTracker()
    xs = subject_x(frames, run(tracker, frames))
    assert xs == [pytest.approx(500 + i) for i in range(50)]


def test_new_subject_only_after_timeout_by_the_rule() -> None:
    cfg = TrackerConfig(new_subject_after_s=1.0)
    tracker = SubjectTracker(cfg)
    a, big, small = person(400, 100, 300, 1), person(700, 40, 400, 2), person(50, 300, 150, 3)
    run(tracker, [[a]] * 5)
    others = [[small, big]] * 45  # A gone; two others visible
    picks = run(tracker, others, start=5)
    first = next(i for i, p in enumerate(picks) if p is not None)
    assert 29 <= first <= 31  # after 1 s (30 frames), not before
    assert all(p == 1 for p in picks[first:])  # the larger, more central one, then kept


def test_a_newcomer_alone_in_view_is_followed_after_half_a_second() -> None:
    """A is lost; someone appears alone where A's track cannot reach (MediaPipe found A again
    far from the last box, or a new person came): followed once they have been alone in view
    for 0.5 s, not after 3 s. Someone who was in view beside A is not a newcomer (3 s, as
    before), nor is anyone while a second person flickers into view."""
    a, c, d = person(100, 100, 300, 1), person(700, 100, 300, 2), person(400, 150, 200, 3)
    tracker = SubjectTracker()
    run(tracker, [[a]] * 10)
    picks = run(tracker, [[]] * 3 + [[c]] * 40, start=10)
    first = next(i for i, p in enumerate(picks) if p is not None)
    assert first == 18  # frame 28: alone in view for 0.5 s (15 frame intervals) since frame 13
    assert all(p == 0 for p in picks[first:])
    tracker = SubjectTracker()
    run(tracker, [[a]] * 10)
    picks = run(tracker, ([[c]] * 10 + [[c, d]]) * 3 + [[c]] * 20, start=10)
    first = next(i for i, p in enumerate(picks) if p is not None)
    assert first == 33 + 15  # alone 0.5 s only after the last flicker (frame 43)
    tracker = SubjectTracker()
    a, c = person(350, 100, 300, 1), person(800, 100, 300, 2)  # A nearer the centre
    assert run(tracker, [[a, c]] * 10) == [0] * 10  # C beside A: a bystander
    picks = run(tracker, [[c]] * 60, start=10)
    assert picks == [None] * 60  # not within 2 s (the 3 s rule)


def test_click_picks_the_subject_and_it_sticks() -> None:
    a, b = person(100, 100, 300, 1), person(600, 100, 300, 2)
    tracker = SubjectTracker()
    assert run(tracker, [[a, b]] * 3) == [1, 1, 1]  # same size: B is more central
    tracker.request_subject_at(150, 250)  # inside A
    assert run(tracker, [[a, b]] * 5, start=3) == [0] * 5
    tracker.request_subject_at(900, 20)  # nobody there: expires after 1 s, subject unchanged
    assert run(tracker, [[a, b]] * 40, start=8) == [0] * 40


def test_click_on_a_person_not_yet_visible_is_retried_briefly() -> None:
    a, b = person(100, 100, 300, 1), person(600, 100, 300, 2)
    tracker = SubjectTracker()
    run(tracker, [[a]] * 3)
    tracker.request_subject_at(650, 250)
    assert run(tracker, [[a]] * 3 + [[a, b]] * 3, start=3) == [0, 0, 0, 1, 1, 1]


def test_pose_that_jumps_is_not_the_subject() -> None:
    """Same box, but the landmarks leapt (onto the background): dropped, not followed."""
    tracker = SubjectTracker()
    good = person(400, 100, 300)
    run(tracker, [[good]] * 5)
    rng = np.random.default_rng(0)
    scattered = Candidate(good.bbox_xyxy, rng.uniform(0, 500, (33, 2)).astype(np.float32),
                          good.confidence, good.appearance)  # fmt: skip
    assert tracker.update([scattered], WH, 5 * 33_000_000) is None
    assert tracker.update([good], WH, 6 * 33_000_000) == 0  # the real pose is back


def test_reacquire_from_a_second_look() -> None:
    """Full frame misses A; a crop finds it: add_candidates re-attaches it to A's track."""
    a, b = person(400, 100, 300, 1), person(800, 100, 200, 2)
    tracker = SubjectTracker()
    run(tracker, [[a, b]] * 3)
    subject = tracker.subject_id
    assert tracker.update([b], WH, 3 * 33_000_000) is None
    assert tracker.add_candidates([person(405, 100, 300, 1)], WH, 3 * 33_000_000) == 1
    assert tracker.subject_id == subject and tracker.subject.frames_missing == 0


def test_reset_forgets_everything() -> None:
    tracker = SubjectTracker()
    run(tracker, [[person(400, 100, 300)]] * 3)
    tracker.reset()
    assert tracker.tracks == [] and tracker.subject_id is None and tracker.subject_missing_s == 0


def _busy_steps(n_frames: int, seed: int = 0) -> list[int]:
    """Source frames a busy live run processes: 1 in 4 on average, irregular (1-8 apart)."""
    rng = np.random.default_rng(seed)
    kept, i = [], 0
    while i < n_frames:
        kept.append(i)
        i += int(np.clip(round(rng.normal(4.0, 1.5)), 1, 8))
    return kept


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_fast_walker_is_kept_when_frames_are_dropped(seed: int) -> None:
    """A person close to the camera crosses the frame at 3 box sizes per second and turns back,
    with a small bystander; the live run processes 1 frame in 4, irregularly (frames dropped).
    Every processed frame shows the walker: motion is judged per second, not per frame."""

    def walker_x(i: int) -> float:  # 0 -> 800 px in 0.9 s (30 frames), then back, ...
        s = (i % 60) / 30.0
        return 800.0 * (s if s < 1.0 else 2.0 - s)

    bystander = person(850, 20, 90, shirt=2)
    kept = _busy_steps(240, seed)
    frames = [[person(walker_x(i), 150, 330, shirt=1), bystander] for i in kept]
    tracker = SubjectTracker()
    picks = [
        tracker.update(c, WH, i * 1_000_000_000 // FPS) for c, i in zip(frames, kept, strict=True)
    ]
    assert picks == [0] * len(kept), picks  # the walker (index 0) in every frame
    assert tracker.subject_missing_s == 0.0


def test_a_lost_track_is_not_extrapolated_out_of_reach() -> None:
    """Missed for 0.5 s right after it turned around: found again where it is, not where a
    stale velocity would have carried it."""
    tracker = SubjectTracker()
    t = [0, 133, 267, 400]  # ms: 7.5 processed frames per second
    moving = [[person(100 + 0.9 * ms, 100, 300)] for ms in t]  # 3 box sizes/s to the right
    for c, ms in zip(moving, t, strict=True):
        assert tracker.update(c, WH, ms * 1_000_000) == 0
    for ms in (533, 667, 800):
        assert tracker.update([], WH, ms * 1_000_000) is None  # MediaPipe missed it
    back = person(100 + 0.9 * 400 - 120, 100, 300)  # it turned around and walked back
    assert tracker.update([back], WH, 933_000_000) == 0


def test_a_person_fitting_the_lost_subject_and_a_stale_track_continues_the_subject() -> None:
    """Two overlapping people in the same clothes (or a duplicate pose of the subject): B is
    last seen at frame 9, the subject A at 19; at frame 22 one person shows up between their
    last boxes, a little nearer B's. They continue A, lost two frames ago, not B, unseen for
    0.4 s (which left A lost for 3 s with the person in view: the real set's cam03)."""
    frames = [[person(300, 100, 300), person(340, 110, 280)] for _ in range(10)]
    frames += [[person(300, 100, 300)] for _ in range(10)] + [[], []]
    frames += [[person(330, 108, 284)] for _ in range(5)]
    tracker = SubjectTracker()
    picks = run(tracker, frames)
    first = tracker.subject_id
    assert picks[0] == 0 and picks[19] == 0  # A, the larger, is the subject
    assert picks[22:] == [0] * 5 and tracker.subject_id == first
