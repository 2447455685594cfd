"""Person localization: MediaPipe PoseLandmarker (VIDEO mode) -> one `Observation` per frame.

Per frame:
1. MediaPipe finds up to `max_people` poses in the full frame (`mp_poses`).
2. Implausible poses (landmarks on the background) are dropped (`pose_quality.implausibility`).
3. `SubjectTracker` (`tracking`) matches the poses to people tracks and names the subject; it
   never switches while the subject is visible, re-acquires it near where it was lost, and
   picks a new one (most complete, largest, most central) only after a timeout. A click in the
   GUI picks the subject: `request_subject_at(x, y)`.
4. Subject missing, or nobody found: a second look on an upscaled crop around the predicted box,
   or periodically on a tile of the frame (`redetect`). Costs nothing while the subject is found.
5. MediaPipe's short front/back flips of the subject (left and right labels swapped, depth
   mirrored for a few frames) are undone (`facing.FacingGuard`).
A frame without the subject gives `None`, never an exception.

Looking for several poses makes MediaPipe run its person detector on every frame (2-4x slower),
so while only one person is in view the localizer switches to MediaPipe's one-pose tracking and
looks for newcomers every `recheck_every`-th frame: MediaPipe on the frame with the followed
person greyed out (`Redetector.elsewhere`), its person detector alone while nobody else is
there (~11 ms on one core against 27-41 ms for a second, multi-pose pass that found the
followed person again: ~1 ms per frame less on average, and no 60 ms frame every second).

MediaPipe's VIDEO mode needs strictly increasing integer-millisecond timestamps; they are derived
from `Frame.t_ns` and nudged forward when a source repeats or rewinds its timestamps.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from stdformer.detect.facing import FacingConfig, FacingGuard
from stdformer.detect.mp_poses import (
    DetectedPose,
    LandmarkerSettings,
    create_landmarker,
    drop_duplicates,
    poses_from_result,
    same_person,
    validate_task_file,
)
from stdformer.detect.pose_quality import PoseQualityConfig, implausibility, torso_appearance
from stdformer.detect.redetect import RedetectConfig, Redetector
from stdformer.detect.tracking import SubjectTracker, TrackerConfig, box_iou
from stdformer.paths import resolve_file
from stdformer.types import Frame, Observation

log = logging.getLogger(__name__)

__all__ = [
    "LocalizerConfig",
    "PersonLocalizer",
    "box_iou",
    "square_crop",
    "validate_task_file",
]


@dataclass(frozen=True)
class LocalizerConfig:
    """Settings of the person localizer (CLI: --pose-model, --max-people, ...)."""

    pose_model: str | None = None  # .task path; None: $STDFORMER_POSE_MODEL, then assets/
    max_people: int = 2  # poses MediaPipe looks for; >1 lets us choose and keep a subject
    recheck_every: int = 30  # alone in view this long: fast 1-pose tracking, look again this often
    min_detection_confidence: float = 0.5
    min_presence_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    segmentation: bool = False  # also return the person mask (costs a few ms)
    crop_margin: float = 0.15  # added on every side of the crop, as a fraction of the box side
    box_presence: float = 0.5  # landmarks below this confidence do not shape bbox_xyxy
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    quality: PoseQualityConfig = field(default_factory=PoseQualityConfig)
    redetect: RedetectConfig = field(default_factory=RedetectConfig)
    facing: FacingConfig = field(default_factory=FacingConfig)  # short front/back flips undone


def square_crop(bbox_xyxy: np.ndarray, margin: float) -> np.ndarray:
    """Square box centred on `bbox_xyxy`, side = longer side * (1 + 2 * margin).

    Not clipped to the image: a person at the border keeps a centred crop (pad when cropping).
    """
    center = 0.5 * (bbox_xyxy[:2] + bbox_xyxy[2:])  # (2,)
    half = 0.5 * float(max(bbox_xyxy[2] - bbox_xyxy[0], bbox_xyxy[3] - bbox_xyxy[1], 1.0))
    half *= 1.0 + 2.0 * margin
    return np.array([*(center - half), *(center + half)], dtype=np.float32)  # (4,)


class PersonLocalizer:
    """Localize the main subject in a stream of frames (one thread; not thread-safe, except
    `request_subject_at`, which another thread such as the GUI may call).

    Usage::

        with PersonLocalizer(LocalizerConfig()) as loc:
            obs = loc.process(frame)  # Observation | None

    Readable after each frame (e.g. for a status bar): `people_in_last_frame`, `mode`
    ("multi": looking for up to max_people poses, "single": one-pose tracking),
    `rejected_in_last_frame` (implausible poses dropped) and `redetected` (the subject came from
    a second look). Close it (or use `with`): MediaPipe's finalizer is noisy at interpreter exit.
    """

    def __init__(self, config: LocalizerConfig | None = None) -> None:
        self.config = config or LocalizerConfig()
        if self.config.max_people < 1:
            raise ValueError(f"max_people must be >= 1, got {self.config.max_people}")
        self.model_path = resolve_file("pose_model", self.config.pose_model)
        validate_task_file(self.model_path)
        cfg = self.config
        self._settings = LandmarkerSettings(
            self.model_path,
            cfg.min_detection_confidence,
            cfg.min_presence_confidence,
            cfg.min_tracking_confidence,
            cfg.segmentation,
        )
        self.tracker = SubjectTracker(cfg.tracker)
        self.facing = FacingGuard(cfg.facing)
        self.redetector = Redetector(replace(self._settings, segmentation=False), cfg.redetect)
        self._multi = None  # VIDEO landmarker for max_people poses (None when max_people == 1)
        self._single = None  # VIDEO landmarker for one pose: MediaPipe's fast tracking
        self._closed = False
        self.reset()

    # -- lifecycle ----------------------------------------------------------------------------
    def _create(self, num_poses: int):  # -> vision.PoseLandmarker
        return create_landmarker(self._settings, num_poses, video=True)

    def reset(self) -> None:
        """Forget the subject and MediaPipe's tracking state (call when the source changes)."""
        self._release()
        self.tracker.reset()
        self.facing.reset()
        self.redetector.reset()
        self._last_ts_ms = -1
        self._lone_frames = 0  # consecutive frames with at most one person (multi mode)
        self._look_for_everyone = False  # a click: look for every pose in the next frame
        self._frames_in_mode = 0
        self.people_in_last_frame = 0  # plausible poses found in the last processed frame
        self.rejected_in_last_frame = 0
        self.redetected = False
        if self.config.max_people == 1:
            self._single, self.mode = self._create(1), "single"
        else:
            self._multi, self.mode = self._create(self.config.max_people), "multi"
        self._closed = False

    def _release(self) -> None:
        for landmarker in (self._multi, self._single):
            if landmarker is not None:
                landmarker.close()
        self._multi = self._single = None

    def close(self) -> None:
        """Release MediaPipe's graphs; `process` refuses frames until `reset()`."""
        self._release()
        self.redetector.close()
        self._closed = True

    def __enter__(self) -> PersonLocalizer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def people_found(self) -> int:
        """Plausible people found in the last frame processed (`PoseDetector`)."""
        return self.people_in_last_frame

    def request_subject_at(self, x_px: float, y_px: float) -> None:
        """Follow the person under image pixel (x, y) from the next frame on (thread-safe).
        While one person is tracked, MediaPipe looks for everyone again from the next frame on
        (it would otherwise notice someone else only at its next periodic look, up to
        `recheck_every` frames later, after the click had expired)."""
        self._look_for_everyone = True
        self.tracker.request_subject_at(x_px, y_px)

    # -- per frame ----------------------------------------------------------------------------
    def _timestamp_ms(self, t_ns: int) -> int:
        """Strictly increasing ms timestamp for MediaPipe, following `t_ns` where it can."""
        ts = int(t_ns) // 1_000_000
        if ts <= self._last_ts_ms:
            ts = self._last_ts_ms + 1  # repeated or rewound time (e.g. a looping file)
        self._last_ts_ms = ts
        return ts

    def _detect(
        self, image: object, rgb: np.ndarray, ts_ms: int, wh: tuple[int, int]
    ) -> tuple[object, list]:
        """Run the landmarker of the current mode; switch modes as people come and go.

        Looking for N poses makes MediaPipe run its detector on every frame while fewer than N
        are tracked (2-4x slower). So after `recheck_every` frames with one person the
        localizer tracks with a one-pose landmarker, and every `recheck_every`-th frame looks
        for a plausible pose outside the people found (module doc) to notice newcomers.
        """
        cfg = self.config
        if self._look_for_everyone and self._multi is not None and self.mode == "single":
            self.mode, self._lone_frames = "multi", 0
            log.debug("a person was clicked: switching to multi-pose tracking")
        self._look_for_everyone = False
        if self.mode == "multi":
            result = self._multi.detect_for_video(image, ts_ms)
            poses = self._poses(result, wh)
            self._lone_frames = self._lone_frames + 1 if len(poses) <= 1 else 0
            if 0 < cfg.recheck_every <= self._lone_frames:
                if self._single is not None:
                    self._single.close()
                self._single = self._create(1)  # fresh: no stale track of someone else
                self.mode, self._frames_in_mode = "single", 0
                log.debug("one person in view: switching to one-pose tracking")
            return result, poses
        result = self._single.detect_for_video(image, ts_ms)
        poses = self._poses(result, wh)
        self._frames_in_mode += 1
        if self._multi is not None and self._frames_in_mode % cfg.recheck_every == 0:
            boxes = [p.bbox_xyxy for p in poses]
            others = [p for p in self.redetector.elsewhere(rgb, boxes, cfg.box_presence)
                      if implausibility(p.landmarks_px, p.world_landmarks, p.confidence,
                                        cfg.quality) is None]  # fmt: skip
            if others:
                self.mode, self._lone_frames = "multi", 0
                log.debug("someone else in view: switching to multi-pose tracking")
        return result, poses

    def _poses(self, result: object, wh: tuple[int, int]) -> list[DetectedPose]:
        return drop_duplicates(
            poses_from_result(result, (0.0, 0.0), wh, wh, self.config.box_presence)
        )

    def _plausible(self, poses: list[DetectedPose], image_bgr: np.ndarray) -> list[DetectedPose]:
        """Drop implausible poses; attach the torso colour the tracker compares."""
        kept = []
        for pose in poses:
            why = implausibility(
                pose.landmarks_px, pose.world_landmarks, pose.confidence, self.config.quality
            )
            if why is not None:
                log.debug("pose dropped: %s", why)
                self.rejected_in_last_frame += 1
                continue
            colour = torso_appearance(
                image_bgr, pose.landmarks_px, pose.confidence, self.config.box_presence
            )
            kept.append(replace(pose, appearance=colour))
        return kept

    def process(self, frame: Frame) -> Observation | None:
        """Return the main subject's observation in `frame`, or None if it is not visible."""
        if self._closed:
            raise RuntimeError("PersonLocalizer is closed")
        image = frame.image_bgr
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected (H, W, 3) uint8 BGR, got {image.shape} {image.dtype}")
        import mediapipe as mp

        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)  # new contiguous array
        mp_image = mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)
        wh = frame.size_wh
        self.rejected_in_last_frame, self.redetected = 0, False
        result, found = self._detect(mp_image, rgb, self._timestamp_ms(frame.t_ns), wh)
        zoom = self._zoom_region(wh, frame.t_ns)
        if zoom is not None:  # a small subject: its landmarks from an upscaled crop
            found = found + self.redetector.around(rgb, zoom, self.config.box_presence)
        poses = self._plausible(drop_duplicates(found), image)
        chosen = self.tracker.update([p.candidate() for p in poses], wh, frame.t_ns)
        if chosen is None and zoom is None and self.config.redetect.enabled:
            extra = self._second_look(rgb, image, poses, frame.t_ns)
            if extra:
                chosen = self.tracker.add_candidates([p.candidate() for p in extra], wh, frame.t_ns)
                self.redetected = chosen is not None and chosen >= len(poses)
                poses = poses + extra  # the tracker's indices run over both lists
        self.people_in_last_frame = len(poses)
        if chosen is None:
            return None
        self.redetected = self.redetected or poses[chosen].mp_index < 0
        return self.facing(self._observation(poses[chosen], result, frame))

    def _zoom_region(self, wh: tuple[int, int], t_ns: int) -> np.ndarray | None:
        """The subject's predicted box when it was small in the last frames, else None."""
        cfg = self.config.redetect
        subject = self.tracker.subject
        if not cfg.enabled or subject is None:
            return None
        height = float(subject.bbox_xyxy[3] - subject.bbox_xyxy[1])
        if height >= cfg.small_subject * wh[1] or subject.frames_missing > 0:
            return None
        return subject.predicted_box(t_ns, self.config.tracker.max_extrapolate_s)

    def _second_look(
        self, rgb: np.ndarray, image_bgr: np.ndarray, poses: list[DetectedPose], t_ns: int
    ) -> list[DetectedPose]:
        """Poses from a crop around the lost subject, or from a tile when nobody was found."""
        subject = self.tracker.subject
        threshold = self.config.box_presence
        if subject is not None and subject.frames_missing > 0:
            box = subject.predicted_box(t_ns, self.config.tracker.max_extrapolate_s)
            found = self.redetector.around(rgb, box, threshold)
        elif not poses:
            found = self.redetector.next_tile(rgb, threshold)
        else:
            return []
        # A person the full frame already found is not new.
        fresh = [p for p in drop_duplicates(found) if not any(same_person(p, q) for q in poses)]
        return self._plausible(fresh, image_bgr)

    def _observation(self, pose: DetectedPose, result: object, frame: Frame) -> Observation:
        w, h = frame.size_wh
        mask = None
        if self.config.segmentation and pose.mp_index >= 0 and result.segmentation_masks:
            mask = np.array(result.segmentation_masks[pose.mp_index].numpy_view(), np.float32)
            mask = mask.reshape(h, w)  # (H, W) owned copy
        return Observation(
            landmarks_px=pose.landmarks_px,
            visibility=pose.visibility,
            presence=pose.presence,
            world_landmarks=pose.world_landmarks,
            bbox_xyxy=pose.bbox_xyxy,
            crop_xyxy=square_crop(pose.bbox_xyxy, self.config.crop_margin),
            image_size_wh=(w, h),
            t_ns=frame.t_ns,
            index=frame.index,
            segmentation=mask,
            subject_id=self.tracker.subject_id or 0,
        )
