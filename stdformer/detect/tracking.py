"""Follow one main subject among the people found in each frame.

Every person the localizer reports becomes a `Candidate`. `SubjectTracker` keeps a short-lived
track per person (box, velocity, normalised pose, clothing colour) and matches the candidates of
each frame to the tracks by a score of

- motion: distance to the box predicted from the track's velocity (or to the last box, if
  closer: people stop and turn), plus box overlap with the prediction. Motion is measured in
  time (`t_ns`), not in frames: a live run that drops frames on a busy machine sees people move
  further between the frames it processes, so the velocity is per second, the prediction
  extrapolates at most `max_extrapolate_s`, and the gate widens with the time since the track
  was seen (as far as a person can move in that time);
- size continuity: ratio of box sizes;
- pose continuity: landmark layout inside the box (only confident landmarks in both);
- appearance: torso colour histograms (Bhattacharyya coefficient; measured ~0.97-1.0 for one
  person between frames, ~0.1-0.3 between people in different clothes: a gate at 0.35).

The assignment maximises the total score, so two people who cross keep their tracks. A candidate
whose pose jumps from the track's previous frame further than a person moves in that time
(`max_jump` box sizes plus `max_speed` box sizes per second) is not the same track (landmarks
that leapt onto the background are dropped, not shown).

The subject is one track id. Rules, in order:
1. The subject never changes while its track is matched (visible), except by a click
   (`request_subject_at`) or while an automatic pick settles: someone found within `settle_s`
   of the tracker's own pick who was, when found, `settle_margin` times as prominent
   (`acquire_score`) as the subject was, and now in view beside it (boxes overlapping less than
   `settle_max_iou`: not a second reading of the subject), takes over. MediaPipe often finds
   one of several people a few frames before the others: the first frame's only person is not
   the scene's main one. Someone walking in is found at the edge, cut off, and does not.
2. A lost subject is re-acquired by the same track: a candidate near the predicted box that no
   other track explains.
3. Only after `new_subject_after_s` without the subject (or when there never was one) the tracker
   picks a new subject among the visible people: the highest `acquire_score` (most complete
   body, then largest, then most central).
4. Except someone alone who was never seen apart from the subject: the only person in view
   for `newcomer_after_s`, with the subject missing as long, becomes the subject unless the two
   were once in view side by side (boxes overlapping less than `apart_iou`). Most often they
   are the subject: MediaPipe lost and found them again too far from the last box or pose for
   rule 2 (glare, a fast flip, a cut in edited footage), or its duplicate of the person (a
   misread skeleton over them) became the subject's track; the view then said "no person" for
   3 s with one person in it.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

log = logging.getLogger(__name__)

# Shoulders, elbows, wrists, hips, knees, ankles: how much of a body is in view.
BODY_LANDMARKS = (11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)


@dataclass(frozen=True)
class Candidate:
    """One person found in a frame, as the tracker compares it between frames."""

    bbox_xyxy: np.ndarray  # (4,) float32 pixels
    keypoints_px: np.ndarray  # (33, 2) float32 pixels
    confidence: np.ndarray  # (33,) float32 in [0, 1]: min(visibility, presence)
    appearance: np.ndarray | None = None  # (K,) float32 colour histogram summing to 1


@dataclass(frozen=True)
class TrackerConfig:
    """How tracks are matched and when a new subject may be chosen."""

    min_score: float = 0.3  # a candidate continues a track only above this match score
    gate: float = 0.8  # max centre distance to the prediction, in box sizes, plus ...
    gate_growth_per_s: float = 3.0  # ... this per second since the track was seen (a run)
    max_gate: float = 2.5  # ... up to this
    max_extrapolate_s: float = 0.25  # the velocity moves the prediction at most this long
    max_jump: float = 0.6  # median landmark move from the track's last frame, in box sizes, ...
    max_speed: float = 3.0  # ... plus this per second between the two frames (a person running)
    min_appearance: float = 0.35  # torso colour similarity below this: not the same person
    confident: float = 0.5  # landmarks at or above this confidence count for pose and size
    velocity_smoothing: float = 0.6  # weight of the old velocity when a new box arrives
    new_subject_after_s: float = 3.0  # a lost subject is replaced only after this long
    newcomer_after_s: float = 0.5  # ... or by someone alone in view this long (rule 4) ...
    apart_iou: float = 0.5  # ... never seen beside it with boxes overlapping less than this
    forget_track_after_s: float = 3.0  # other people's tracks are dropped after this long
    pick_expiry_s: float = 1.0  # a click that hit nobody is retried this long
    settle_s: float = 1.0  # an automatic pick may move to someone found this soon after ...
    settle_margin: float = 1.25  # ... this many times as prominent when found (rule 1) ...
    settle_max_iou: float = 0.1  # ... and beside the subject in this frame, not over it
    # Between feasible matches a track unseen for longer counts this much less per second
    # (up to `stale_penalty_max`): a person who fits both the subject lost a frame ago and a
    # track unseen for 0.2 s (two people overlapping, a stale duplicate of the subject)
    # continues the fresher one. Applied after the `min_score` gate: never blocks a match.
    stale_penalty_per_s: float = 1.0
    stale_penalty_max: float = 0.3


@dataclass
class Track:
    """One person over time (mutable state of the tracker)."""

    track_id: int
    bbox_xyxy: np.ndarray  # (4,) last seen box
    keypoints_norm: np.ndarray  # (33, 2) landmarks relative to the box centre, in box sizes
    confidence: np.ndarray  # (33,)
    appearance: np.ndarray | None  # (K,)
    last_seen_ns: int
    velocity_px_s: np.ndarray = field(default_factory=lambda: np.zeros(2, np.float32))  # (2,)
    frames_missing: int = 0  # frames processed since it was seen
    hits: int = 1
    seen_apart: set[int] = field(default_factory=set)  # tracks once in view beside this one
    first_score: float | None = None  # `acquire_score` in the first frame it was matched
    first_seen_ns: int = 0

    @property
    def size(self) -> float:
        return box_size(self.bbox_xyxy)

    def missing_s(self, t_ns: int) -> float:
        """Seconds from the frame it was last seen in to `t_ns` (0 or more)."""
        return max(0.0, (int(t_ns) - self.last_seen_ns) / 1e9)

    def predicted_box(self, t_ns: int, max_extrapolate_s: float = 0.25) -> np.ndarray:  # (4,)
        """Where the box is at time `t_ns`: moved by the velocity for at most
        `max_extrapolate_s` (people stop and turn; a long extrapolation runs off)."""
        dt = min(self.missing_s(t_ns), max_extrapolate_s)
        return self.bbox_xyxy + np.tile(self.velocity_px_s * dt, 2)


def box_size(bbox_xyxy: np.ndarray) -> float:
    """Longer side of a box, at least 1 pixel."""
    return max(float(bbox_xyxy[2] - bbox_xyxy[0]), float(bbox_xyxy[3] - bbox_xyxy[1]), 1.0)


def box_center(bbox_xyxy: np.ndarray) -> np.ndarray:  # (2,)
    return 0.5 * (bbox_xyxy[:2] + bbox_xyxy[2:])


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two xyxy boxes."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def normalized_keypoints(c: Candidate) -> np.ndarray:  # (33, 2)
    return (c.keypoints_px - box_center(c.bbox_xyxy)) / box_size(c.bbox_xyxy)


def acquire_score(c: Candidate, image_wh: tuple[int, int]) -> float:
    """Who becomes the subject when there is none: most complete body, largest, most central.

    completeness (mean confidence of shoulders..ankles), squared, weighs most; then the square
    root of the box's share of the image; a box centre at an image corner costs half the score.
    So a whole body beats one cut off at the waist even when the cut-off one is larger.
    """
    w, h = image_wh
    complete = float(np.mean(c.confidence[list(BODY_LANDMARKS)]))
    x0, y0, x1, y1 = (float(v) for v in c.bbox_xyxy)
    area = max(x1 - x0, 0.0) * max(y1 - y0, 0.0) / float(w * h)
    cx, cy = box_center(c.bbox_xyxy)
    off = math.hypot(cx - w / 2, cy - h / 2) / math.hypot(w / 2, h / 2)
    return (0.05 + complete) ** 2 * math.sqrt(area) * (1.0 - 0.5 * min(off, 1.0))


class SubjectTracker:
    """Tracks everyone in view and says which candidate of each frame is the main subject.

    Not thread-safe except `request_subject_at`, which the GUI thread may call at any time; the
    request is applied on the next `update`.
    """

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Forget every track and the subject (e.g. when the source changes)."""
        self.tracks: list[Track] = []
        self.subject_id: int | None = None
        self.matched: dict[int, int] = {}  # track id -> index into this frame's candidates
        self.frame_candidates: list[Candidate] = []  # of the last update (+ add_candidates)
        self._next_id = 0
        self._now_ns = 0
        self._alone: tuple[int, int] | None = None  # (track id, since ns): the only one in view
        self._auto_since_ns: int | None = None  # when the tracker chose the subject itself
        with self._lock:
            self._pick: tuple[float, float, int | None] | None = None

    # -- public API ------------------------------------------------------------------------------
    def request_subject_at(self, x_px: float, y_px: float) -> None:
        """Make the person under image pixel (x, y) the subject from the next frame on."""
        with self._lock:
            self._pick = (float(x_px), float(y_px), None)

    @property
    def subject(self) -> Track | None:
        return next((t for t in self.tracks if t.track_id == self.subject_id), None)

    @property
    def subject_missing_s(self) -> float:
        """Seconds since the subject was last seen (0 while visible or with no subject)."""
        s = self.subject
        return 0.0 if s is None else max(0.0, (self._now_ns - s.last_seen_ns) / 1e9)

    def update(
        self, candidates: list[Candidate], image_wh: tuple[int, int], t_ns: int
    ) -> int | None:
        """Match this frame's candidates to the tracks; index of the subject's candidate or None."""
        self._now_ns = int(t_ns)
        for t in self.tracks:
            t.frames_missing += 1
        self.frame_candidates = list(candidates)
        self.matched = self._assign(candidates, self.tracks)
        for tid, ci in self.matched.items():
            self._refresh(self._track(tid), candidates[ci], t_ns)
        claimed = set(self.matched.values())
        for ci, c in enumerate(candidates):
            if ci not in claimed:
                self.tracks.append(self._new_track(c, t_ns))
                self.matched[self.tracks[-1].track_id] = ci
        self._note_apart()
        self._forget_old(t_ns)
        self._apply_pick(t_ns)
        self._choose_subject(image_wh)
        return self.matched.get(self.subject_id) if self.subject_id is not None else None

    def add_candidates(
        self, candidates: list[Candidate], image_wh: tuple[int, int], t_ns: int
    ) -> int | None:
        """More people for the frame of the last `update` (a second look, e.g. on an upscaled
        crop). They may continue tracks not matched in this frame (a lost subject is
        re-acquired this way) or start new ones. They are appended to this frame's candidates;
        returns the subject's index in that combined list, or None."""
        if not candidates:
            return None
        offset = len(self.frame_candidates)
        self.frame_candidates += candidates
        free = [t for t in self.tracks if t.track_id not in self.matched]
        extra = self._assign(candidates, free)
        for tid, ci in extra.items():
            self._refresh(self._track(tid), candidates[ci], t_ns)
        claimed = set(extra.values())
        for ci, c in enumerate(candidates):
            if ci not in claimed:
                self.tracks.append(self._new_track(c, t_ns))
                extra[self.tracks[-1].track_id] = ci
        self.matched.update({tid: offset + ci for tid, ci in extra.items()})
        self._note_apart()
        self._choose_subject(image_wh)
        return self.matched.get(self.subject_id) if self.subject_id is not None else None

    # -- matching --------------------------------------------------------------------------------
    def _score(self, track: Track, c: Candidate) -> float:
        """Match score in [0, 1] of a candidate for a track; -1 outside the gates."""
        cfg = self.config
        dt = track.missing_s(self._now_ns)
        pred = track.predicted_box(self._now_ns, cfg.max_extrapolate_s)
        size = track.size
        # Distance to the prediction, or to where it was last seen if that is closer: people
        # stop and turn, and with frames dropped a turn falls between two processed frames.
        dist = min(
            float(np.hypot(*(box_center(box) - box_center(c.bbox_xyxy)))) / size
            for box in (pred, track.bbox_xyxy)
        )
        gate = min(cfg.gate + cfg.gate_growth_per_s * dt, cfg.max_gate)
        if dist > gate:
            return -1.0
        log_ratio = abs(math.log(box_size(c.bbox_xyxy) / size))
        both = (track.confidence >= cfg.confident) & (c.confidence >= cfg.confident)
        pose_sim = 0.5  # unknown: neither helps nor hurts
        if both.sum() >= 4:
            err = np.linalg.norm(track.keypoints_norm[both] - normalized_keypoints(c)[both], axis=1)
            if track.frames_missing == 1:  # seen in the last frame: no leaps onto the background
                prev_px = track.keypoints_norm[both] * size + box_center(track.bbox_xyxy)
                jump = np.median(np.linalg.norm(prev_px - c.keypoints_px[both], axis=1)) / size
                if float(jump) > cfg.max_jump + cfg.max_speed * dt:
                    return -1.0
            pose_sim = math.exp(-float(np.mean(err)) / 0.15)
        app_sim = 0.5
        if track.appearance is not None and c.appearance is not None:
            app_sim = float(np.sum(np.sqrt(track.appearance * c.appearance)))
            if app_sim < cfg.min_appearance:  # other clothes: another person
                return -1.0
        return (
            0.30 * (1.0 - dist / gate)
            + 0.15 * box_iou(pred, c.bbox_xyxy)
            + 0.15 * math.exp(-log_ratio / 0.25)
            + 0.15 * pose_sim
            + 0.25 * app_sim
        )

    def _assign(self, candidates: list[Candidate], tracks: list[Track]) -> dict[int, int]:
        """Track id -> candidate index maximising the summed score (Hungarian assignment)."""
        if not candidates or not tracks:
            return {}
        scores = np.array([[self._score(t, c) for c in candidates] for t in tracks])  # (T, C)
        cfg = self.config
        scores[scores < cfg.min_score] = -np.inf
        # Recently seen tracks are more reliable: they come first in a near tie.
        stale = [min(cfg.stale_penalty_per_s * t.missing_s(self._now_ns), cfg.stale_penalty_max)
                 for t in tracks]  # fmt: skip
        scores -= np.array(stale)[:, None] + 1e-3 * np.array([[t.frames_missing] for t in tracks])
        feasible = np.isfinite(scores)
        rows, cols = linear_sum_assignment(np.where(feasible, scores, -1e6), maximize=True)
        pairs = zip(rows, cols, strict=True)
        return {tracks[r].track_id: int(c) for r, c in pairs if feasible[r, c]}

    # -- track bookkeeping -----------------------------------------------------------------------
    def _track(self, track_id: int) -> Track:
        return next(t for t in self.tracks if t.track_id == track_id)

    def _new_track(self, c: Candidate, t_ns: int) -> Track:
        self._next_id += 1
        return Track(
            self._next_id,
            c.bbox_xyxy.astype(np.float32),
            normalized_keypoints(c),
            c.confidence.astype(np.float32),
            c.appearance,
            int(t_ns),
            frames_missing=0,
        )

    def _refresh(self, t: Track, c: Candidate, t_ns: int) -> None:
        a = self.config.velocity_smoothing
        dt = max(t.missing_s(t_ns), 1e-3)  # a repeated time stamp: no division by zero
        step = (box_center(c.bbox_xyxy) - box_center(t.bbox_xyxy)) / dt  # px per second
        if t.missing_s(t_ns) > self.config.max_extrapolate_s:
            a = 0.0  # seen again after a while: the old velocity says nothing any more
        t.velocity_px_s = (a * t.velocity_px_s + (1 - a) * step).astype(np.float32)
        t.bbox_xyxy = c.bbox_xyxy.astype(np.float32)
        t.keypoints_norm = normalized_keypoints(c)
        t.confidence = c.confidence.astype(np.float32)
        if c.appearance is not None:
            old = t.appearance
            t.appearance = c.appearance if old is None else 0.8 * old + 0.2 * c.appearance
        t.last_seen_ns, t.frames_missing, t.hits = int(t_ns), 0, t.hits + 1

    def _note_apart(self) -> None:
        """Remember which tracks were in this frame side by side (not one over the other)."""
        seen = [(tid, self.frame_candidates[ci].bbox_xyxy) for tid, ci in self.matched.items()]
        for i, (a, box_a) in enumerate(seen):
            for b, box_b in seen[i + 1 :]:
                if box_iou(box_a, box_b) < self.config.apart_iou:
                    self._track(a).seen_apart.add(b)
                    self._track(b).seen_apart.add(a)

    def _forget_old(self, t_ns: int) -> None:
        keep_ns = self.config.forget_track_after_s * 1e9
        subject_ns = self.config.new_subject_after_s * 1e9
        kept = []
        for t in self.tracks:
            age = t_ns - t.last_seen_ns
            if t.track_id == self.subject_id and t.frames_missing > 0 and age > subject_ns:
                log.info("subject lost for %.1f s: choosing a new one", age / 1e9)
                self.subject_id = None
                continue
            if t.track_id == self.subject_id or age <= keep_ns:
                kept.append(t)
        self.tracks = kept

    def _apply_pick(self, t_ns: int) -> None:
        with self._lock:
            pick, self._pick = self._pick, None
        if pick is None:
            return
        x, y, since = pick
        since = t_ns if since is None else since
        hit = [
            (box_size(c.bbox_xyxy), tid)
            for tid, ci in self.matched.items()
            for c in [self.frame_candidates[ci]]
            if _contains(c.bbox_xyxy, x, y, grow=0.1)
        ]
        if hit:
            self.subject_id = min(hit)[1]  # the smallest box: the person in front of the click
            self._auto_since_ns = None  # the user's choice is final
            log.info("subject picked at (%.0f, %.0f): track %d", x, y, self.subject_id)
        elif t_ns - since <= self.config.pick_expiry_s * 1e9:
            with self._lock:
                if self._pick is None:  # a newer click wins
                    self._pick = (x, y, since)
        else:
            log.warning("no person at (%.0f, %.0f): subject unchanged", x, y)

    def _choose_subject(self, image_wh: tuple[int, int]) -> None:
        self._take_newcomer()
        cands = self.frame_candidates
        for tid, ci in self.matched.items():  # how prominent each person was when first found
            t = self._track(tid)
            if t.first_score is None:
                t.first_score, t.first_seen_ns = acquire_score(cands[ci], image_wh), self._now_ns
        if not self.matched:
            return
        if self.subject_id is None:
            tid = max(self.matched, key=lambda k: acquire_score(cands[self.matched[k]], image_wh))
            self.subject_id, self._auto_since_ns = tid, self._now_ns
            log.debug("new subject: track %d", tid)
            return
        self._settle()

    def _settle(self) -> None:
        """Rule 1's exception (module doc): an automatic pick moves to someone beside the
        subject, found within `settle_s` of the pick, who was `settle_margin` times as prominent
        when found (the pick a first frame with everyone found would have made)."""
        since, subject = self._auto_since_ns, self.subject
        if since is None or subject is None or subject.first_score is None:
            return
        window = self.config.settle_s * 1e9
        if self._now_ns - since > window:
            self._auto_since_ns = None
            return
        if self.subject_id not in self.matched:
            return
        box = self.frame_candidates[self.matched[self.subject_id]].bbox_xyxy
        late = [self._track(tid) for tid in self.matched if tid != self.subject_id]
        late = [t for t in late if t.first_seen_ns - since <= window]
        # someone else beside the subject, not a second reading of it (MediaPipe's duplicates)
        late = [t for t in late if box_iou(box, t.bbox_xyxy) < self.config.settle_max_iou]
        best = max(late, key=lambda t: t.first_score, default=None)
        if best is not None and best.first_score >= self.config.settle_margin * subject.first_score:
            log.info("subject settles on track %d, found %.2f s after the pick (%.2f vs %.2f)",
                     best.track_id, (best.first_seen_ns - since) / 1e9, best.first_score,
                     subject.first_score)  # fmt: skip
            self.subject_id = best.track_id

    def _take_newcomer(self) -> None:
        """Rule 4 (module doc): the only person in view for `newcomer_after_s`, never seen apart
        from the subject, replaces a subject missing as long."""
        if len(self.matched) != 1:
            self._alone = None
            return
        (tid,) = self.matched
        if self._alone is None or self._alone[0] != tid:
            self._alone = (tid, self._now_ns)
        subject, wait_ns = self.subject, self.config.newcomer_after_s * 1e9
        if subject is None or subject.frames_missing == 0 or tid == self.subject_id:
            return
        if self.subject_missing_s * 1e9 < wait_ns or self._now_ns - self._alone[1] < wait_ns:
            return
        if subject.track_id not in self._track(tid).seen_apart:
            log.info("subject lost for %.1f s, one other person in view: track %d",
                     self.subject_missing_s, tid)  # fmt: skip
            self.tracks.remove(subject)
            self.subject_id, self._auto_since_ns = tid, self._now_ns


def _contains(bbox_xyxy: np.ndarray, x: float, y: float, grow: float) -> bool:
    pad = grow * box_size(bbox_xyxy)
    x0, y0, x1, y1 = (float(v) for v in bbox_xyxy)
    return x0 - pad <= x <= x1 + pad and y0 - pad <= y <= y1 + pad
