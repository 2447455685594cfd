"""Person localization: MediaPipe PoseLandmarker (VIDEO mode) -> one `Observation` per frame.

The localizer follows one main subject. MediaPipe may return several poses in any order, so the
subject is chosen here: on first sight (or after it has been lost for a while) the pose with the
largest, most central box wins; afterwards the pose whose box overlaps the previous subject's box
most is kept. A frame without the subject gives `None`, never an exception.

Looking for several poses makes MediaPipe run its person detector on every frame (2-4x slower),
so while only one person is in view the localizer switches to MediaPipe's one-pose tracking and
sends every `recheck_every`-th frame through the multi-pose landmarker to notice newcomers.

MediaPipe's VIDEO mode needs strictly increasing integer-millisecond timestamps; they are derived
from `Frame.t_ns` and nudged forward when a source repeats or rewinds its timestamps.
"""

from __future__ import annotations

import logging
import zipfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from stdformer.paths import BadFileError, resolve_file
from stdformer.types import NUM_POSE_LANDMARKS, Frame, Observation

log = logging.getLogger(__name__)

TASK_MEMBERS = ("pose_detector.tflite", "pose_landmarks_detector.tflite")


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
    box_presence: float = 0.5  # landmarks below this presence do not shape bbox_xyxy
    min_match_iou: float = 0.2  # a pose continues the subject if its box overlaps this much
    lost_frames: int = 15  # frames without the subject before another person may be taken


def validate_task_file(path: Path) -> None:
    """Raise BadFileError unless `path` looks like a MediaPipe pose landmarker `.task` bundle."""
    how = (
        "Use an official pose_landmarker_{lite,full,heavy}.task or rebuild the embedded one with "
        "`python tools/build_pose_task.py`."
    )
    if not zipfile.is_zipfile(path):
        raise BadFileError(f"{path} is not a MediaPipe .task model (not a zip bundle). {how}")
    with zipfile.ZipFile(path) as bundle:
        names = set(bundle.namelist())
    missing = [m for m in TASK_MEMBERS if m not in names]
    if missing:
        raise BadFileError(
            f"{path} is not a pose landmarker .task: it lacks {', '.join(missing)} "
            f"(has {', '.join(sorted(names)) or 'nothing'}). {how}"
        )


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two xyxy boxes."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def square_crop(bbox_xyxy: np.ndarray, margin: float) -> np.ndarray:
    """Square box centred on `bbox_xyxy`, side = longer side * (1 + 2 * margin).

    Not clipped to the image: a person at the border keeps a centred crop (pad when cropping).
    """
    center = 0.5 * (bbox_xyxy[:2] + bbox_xyxy[2:])  # (2,)
    half = 0.5 * float(max(bbox_xyxy[2] - bbox_xyxy[0], bbox_xyxy[3] - bbox_xyxy[1], 1.0))
    half *= 1.0 + 2.0 * margin
    return np.array([*(center - half), *(center + half)], dtype=np.float32)  # (4,)


@dataclass(frozen=True)
class _Pose:
    """One pose MediaPipe returned, in pixels."""

    landmarks_px: np.ndarray  # (33, 3) float32
    visibility: np.ndarray  # (33,)
    presence: np.ndarray  # (33,)
    world_landmarks: np.ndarray  # (33, 3) metres
    bbox_xyxy: np.ndarray  # (4,)
    mp_index: int  # position in MediaPipe's result (for its segmentation mask)


class PersonLocalizer:
    """Localize the main subject in a stream of frames (one thread; not thread-safe).

    Usage::

        with PersonLocalizer(LocalizerConfig()) as loc:
            obs = loc.process(frame)  # Observation | None

    Readable after each frame (e.g. for a status bar): `people_in_last_frame` and `mode`
    ("multi": looking for up to max_people poses, "single": one-pose tracking).
    Close it (or use `with`): MediaPipe's own finalizer is noisy at interpreter exit.
    """

    def __init__(self, config: LocalizerConfig | None = None) -> None:
        self.config = config or LocalizerConfig()
        if self.config.max_people < 1:
            raise ValueError(f"max_people must be >= 1, got {self.config.max_people}")
        self.model_path = resolve_file("pose_model", self.config.pose_model)
        validate_task_file(self.model_path)
        self._selector = SubjectSelector(self.config.min_match_iou, self.config.lost_frames)
        self._multi = None  # VIDEO landmarker for max_people poses (None when max_people == 1)
        self._single = None  # VIDEO landmarker for one pose: MediaPipe's fast tracking
        self._closed = False
        self.reset()

    # -- lifecycle ----------------------------------------------------------------------------
    def _create(self, num_poses: int):  # -> vision.PoseLandmarker (lazy import: heavy)
        from mediapipe.tasks.python import BaseOptions, vision

        cfg = self.config
        options = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(self.model_path)),
            running_mode=vision.RunningMode.VIDEO,
            num_poses=num_poses,
            min_pose_detection_confidence=cfg.min_detection_confidence,
            min_pose_presence_confidence=cfg.min_presence_confidence,
            min_tracking_confidence=cfg.min_tracking_confidence,
            output_segmentation_masks=cfg.segmentation,
        )
        try:
            return vision.PoseLandmarker.create_from_options(options)
        except (RuntimeError, ValueError, OSError) as err:  # MediaPipe maps its status codes
            raise BadFileError(
                f"MediaPipe could not load the pose model {self.model_path}: {err}. Use an "
                "official pose_landmarker_{lite,full,heavy}.task or rebuild the embedded one with "
                "`python tools/build_pose_task.py`."
            ) from err

    def reset(self) -> None:
        """Forget the subject and MediaPipe's tracking state (call when the source changes)."""
        self._release()
        self._selector.reset()
        self._last_ts_ms = -1
        self._lone_frames = 0  # consecutive frames with at most one person (multi mode)
        self._frames_in_mode = 0
        self.people_in_last_frame = 0  # poses MediaPipe found in the last processed frame
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
        self._closed = True

    def __enter__(self) -> PersonLocalizer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- per frame ----------------------------------------------------------------------------
    def _timestamp_ms(self, t_ns: int) -> int:
        """Strictly increasing ms timestamp for MediaPipe, following `t_ns` where it can."""
        ts = int(t_ns) // 1_000_000
        if ts <= self._last_ts_ms:
            ts = self._last_ts_ms + 1  # repeated or rewound time (e.g. a looping file)
        self._last_ts_ms = ts
        return ts

    def _detect(self, image: object, ts_ms: int, w: int, h: int) -> tuple[object, list[_Pose]]:
        """Run the landmarker of the current mode; switch modes as people come and go.

        Looking for N poses makes MediaPipe run its detector on every frame while fewer than N
        are tracked (2-4x slower). So after `recheck_every` frames with one person the
        localizer tracks with a one-pose landmarker, and every `recheck_every`-th frame also
        goes through the multi-pose one (only to count people) to notice newcomers.
        """
        cfg = self.config
        if self.mode == "multi":
            result = self._multi.detect_for_video(image, ts_ms)
            poses = self._poses(result, w, h)
            self._lone_frames = self._lone_frames + 1 if len(poses) <= 1 else 0
            if 0 < cfg.recheck_every <= self._lone_frames:
                if self._single is not None:
                    self._single.close()
                self._single = self._create(1)  # fresh: no stale track of someone else
                self.mode, self._frames_in_mode = "single", 0
                log.debug("one person in view: switching to one-pose tracking")
            return result, poses
        result = self._single.detect_for_video(image, ts_ms)
        poses = self._poses(result, w, h)
        self._frames_in_mode += 1
        if self._multi is not None and self._frames_in_mode % cfg.recheck_every == 0:
            others = self._poses(self._multi.detect_for_video(image, ts_ms), w, h)
            if len(others) > 1:
                self.mode, self._lone_frames = "multi", 0
                log.debug("%d people in view: switching to multi-pose tracking", len(others))
        return result, poses

    def _poses(self, result: object, w: int, h: int) -> list[_Pose]:
        return _drop_duplicates(
            [
                self._to_pose(i, lms, result.pose_world_landmarks[i], w, h)
                for i, lms in enumerate(result.pose_landmarks)
            ]
        )

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
        w, h = frame.size_wh
        result, poses = self._detect(mp_image, self._timestamp_ms(frame.t_ns), w, h)
        self.people_in_last_frame = len(poses)
        chosen = self._selector.choose([p.bbox_xyxy for p in poses], (w, h))
        if chosen is None:
            return None
        pose = poses[chosen]
        mask = None
        if self.config.segmentation and result.segmentation_masks:
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
        )

    def _to_pose(self, i: int, lms: list, world: list, w: int, h: int) -> _Pose:
        """Convert MediaPipe's normalized landmarks to pixels and build the tight box."""
        norm = np.array(
            [(p.x, p.y, p.z, p.visibility or 0.0, p.presence or 0.0) for p in lms], np.float32
        )  # (33, 5)
        if norm.shape[0] != NUM_POSE_LANDMARKS:
            raise RuntimeError(f"pose model returned {norm.shape[0]} landmarks, expected 33")
        # MediaPipe's z uses roughly the scale of x, so it goes to pixels with the width.
        landmarks_px = norm[:, :3] * np.array([w, h, w], np.float32)  # (33, 3)
        world_m = np.array([(p.x, p.y, p.z) for p in world], np.float32)  # (33, 3)
        presence = norm[:, 4]
        inside = presence >= self.config.box_presence
        pts = landmarks_px[inside, :2] if inside.sum() >= 2 else landmarks_px[:, :2]  # (N, 2)
        lo = np.clip(pts.min(axis=0), 0, [w, h])
        hi = np.clip(pts.max(axis=0), 0, [w, h])
        bbox = np.array([*lo, *hi], np.float32)  # (4,)
        return _Pose(landmarks_px, norm[:, 3].copy(), presence.copy(), world_m, bbox, i)


class SubjectSelector:
    """Chooses the main subject among the person boxes of each frame and keeps following it.

    First sight (or after `lost_frames` frames without the subject): the largest, most central
    box. Afterwards: the box overlapping the subject's last box most (IoU >= `min_iou`), or a
    lone box near it (a fast move). While the subject is missing for up to `lost_frames` frames
    nobody is chosen, so a bystander is not picked up when the subject is briefly hidden.
    """

    def __init__(self, min_iou: float = 0.2, lost_frames: int = 15) -> None:
        self.min_iou = min_iou
        self.lost_frames = lost_frames
        self.subject_xyxy: np.ndarray | None = None  # (4,) last box of the subject
        self.frames_lost = 0

    def reset(self) -> None:
        self.subject_xyxy, self.frames_lost = None, 0

    def choose(self, boxes_xyxy: list[np.ndarray], image_wh: tuple[int, int]) -> int | None:
        """Index into `boxes_xyxy` of the subject in this frame, or None."""
        prev = self.subject_xyxy
        if prev is not None:
            if boxes_xyxy:
                ious = [box_iou(prev, b) for b in boxes_xyxy]
                best = int(np.argmax(ious))
                if ious[best] >= self.min_iou or (
                    len(boxes_xyxy) == 1 and _near(prev, boxes_xyxy[0])
                ):
                    self.subject_xyxy, self.frames_lost = boxes_xyxy[best], 0
                    return best
            self.frames_lost += 1
            if self.frames_lost <= self.lost_frames:
                return None
            log.debug("subject lost for %d frames; re-acquiring", self.frames_lost)
            self.subject_xyxy = None
        if not boxes_xyxy:
            return None
        w, h = image_wh
        best = max(range(len(boxes_xyxy)), key=lambda i: _acquire_score(boxes_xyxy[i], w, h))
        self.subject_xyxy, self.frames_lost = boxes_xyxy[best], 0
        return best


def _drop_duplicates(poses: list[_Pose], max_iou: float = 0.6) -> list[_Pose]:
    """Remove poses whose box mostly repeats a more confident one.

    MediaPipe can return the same person twice (a tracked region and a fresh detection).
    """
    ranked = sorted(poses, key=lambda p: -float(p.visibility.mean()))
    kept: list[_Pose] = []
    for pose in ranked:
        if all(box_iou(pose.bbox_xyxy, k.bbox_xyxy) <= max_iou for k in kept):
            kept.append(pose)
    return sorted(kept, key=lambda p: p.mp_index)


def _near(a: np.ndarray, b: np.ndarray) -> bool:
    """Box centres closer than the longer side of box `a`."""
    side = max(float(a[2] - a[0]), float(a[3] - a[1]), 1.0)
    da = 0.5 * (a[:2] + a[2:]) - 0.5 * (b[:2] + b[2:])
    return float(np.hypot(*da)) < side


def _acquire_score(bbox_xyxy: np.ndarray, w: int, h: int) -> float:
    """Prefer large and central people: area fraction, down-weighted up to half off-centre."""
    area = float((bbox_xyxy[2] - bbox_xyxy[0]) * (bbox_xyxy[3] - bbox_xyxy[1])) / (w * h)
    center = 0.5 * (bbox_xyxy[:2] + bbox_xyxy[2:])
    dist = float(np.hypot(center[0] - w / 2, center[1] - h / 2) / np.hypot(w / 2, h / 2))
    return area * (1.0 - 0.5 * dist)
