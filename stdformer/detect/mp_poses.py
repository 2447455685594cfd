"""MediaPipe PoseLandmarker plumbing shared by the localizer and the re-detector.

Creates landmarkers from the `.task` bundle and turns their results (normalised to the image or
crop they saw) into `DetectedPose` objects in full-image pixels.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

from stdformer.detect.pose_quality import landmark_confidence, tight_box
from stdformer.detect.tracking import Candidate, box_iou, box_size
from stdformer.paths import BadFileError
from stdformer.types import NUM_POSE_LANDMARKS

TASK_MEMBERS = ("pose_detector.tflite", "pose_landmarks_detector.tflite")
HOW_TO_GET = (
    "Use an official pose_landmarker_{lite,full,heavy}.task or rebuild the embedded one with "
    "`python tools/build_pose_task.py`."
)


@dataclass(frozen=True)
class LandmarkerSettings:
    """What every landmarker of one localizer shares."""

    model_path: Path
    min_detection_confidence: float = 0.5
    min_presence_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    segmentation: bool = False


def validate_task_file(path: Path) -> None:
    """Raise BadFileError unless `path` looks like a MediaPipe pose landmarker `.task` bundle."""
    if not zipfile.is_zipfile(path):
        raise BadFileError(
            f"{path} is not a MediaPipe .task model (not a zip bundle). {HOW_TO_GET}"
        )
    with zipfile.ZipFile(path) as bundle:
        names = set(bundle.namelist())
    missing = [m for m in TASK_MEMBERS if m not in names]
    if missing:
        raise BadFileError(
            f"{path} is not a pose landmarker .task: it lacks {', '.join(missing)} "
            f"(has {', '.join(sorted(names)) or 'nothing'}). {HOW_TO_GET}"
        )


# Imported by mediapipe's package for what this program never does: its drawing helpers
# (they import matplotlib's pyplot, ~0.5 s) and its microphone recorder (sounddevice looks for
# PortAudio with ldconfig and gcc, ~0.1 s).
UNUSED_BY_MEDIAPIPE_HERE = (
    "mediapipe.tasks.python.vision.drawing_styles",
    "mediapipe.tasks.python.vision.drawing_utils",
    "sounddevice",
)


class _LazyUnused(importlib.abc.MetaPathFinder):
    """Finds the modules of UNUSED_BY_MEDIAPIPE_HERE as lazy modules
    (`importlib.util.LazyLoader`): each loads on its first use, not when imported."""

    def find_spec(self, name: str, path: object = None, target: object = None):
        if name not in UNUSED_BY_MEDIAPIPE_HERE:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = importlib.util.LazyLoader(spec.loader)
        return spec


def import_mediapipe_tasks() -> ModuleType:
    """`mediapipe.tasks.python`, with the modules it needs only for other tasks left unloaded
    until something uses them.

    Importing any part of mediapipe imports every task, its drawing helpers (which import
    matplotlib's pyplot: ~0.5 s of the ~0.7 s the import costs, measured on a 2-core AMD EPYC)
    and its audio recorder (sounddevice). While mediapipe is first imported, those are found as
    lazy modules, which behave as the real ones wherever they are used (the first use loads
    them; a missing PortAudio then raises there instead of at import).
    """
    name = "mediapipe.tasks.python"  # (its package rebinds `mediapipe.tasks` to this module)
    if "mediapipe" in sys.modules:
        return importlib.import_module(name)
    finder = _LazyUnused()
    sys.meta_path.insert(0, finder)
    try:
        return importlib.import_module(name)
    finally:
        sys.meta_path.remove(finder)


def create_landmarker(settings: LandmarkerSettings, num_poses: int, video: bool):
    """A PoseLandmarker in VIDEO (tracking) or IMAGE mode (lazy import: mediapipe is heavy)."""
    tasks = import_mediapipe_tasks()
    vision = tasks.vision

    mode = vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE
    options = vision.PoseLandmarkerOptions(
        base_options=tasks.BaseOptions(model_asset_path=str(settings.model_path)),
        running_mode=mode,
        num_poses=num_poses,
        min_pose_detection_confidence=settings.min_detection_confidence,
        min_pose_presence_confidence=settings.min_presence_confidence,
        min_tracking_confidence=settings.min_tracking_confidence,
        output_segmentation_masks=settings.segmentation and video,
    )
    try:
        return vision.PoseLandmarker.create_from_options(options)
    except (RuntimeError, ValueError, OSError) as err:  # MediaPipe maps its status codes
        raise BadFileError(
            f"MediaPipe could not load the pose model {settings.model_path}: {err}. {HOW_TO_GET}"
        ) from err


@dataclass(frozen=True)
class DetectedPose:
    """One pose MediaPipe returned, in full-image pixels."""

    landmarks_px: np.ndarray  # (33, 3) float32
    visibility: np.ndarray  # (33,)
    presence: np.ndarray  # (33,)
    world_landmarks: np.ndarray  # (33, 3) metres
    confidence: np.ndarray  # (33,) min(visibility, presence)
    bbox_xyxy: np.ndarray  # (4,) trusted landmarks + head disc, clipped to the image
    mp_index: int  # position in MediaPipe's result (for its segmentation mask); -1: re-detected
    appearance: np.ndarray | None = None  # (72,) torso colour histogram

    def candidate(self) -> Candidate:
        return Candidate(self.bbox_xyxy, self.landmarks_px[:, :2], self.confidence, self.appearance)


def poses_from_result(
    result: object,
    origin_xy: tuple[float, float],
    scale_xy: tuple[float, float],
    image_wh: tuple[int, int],
    box_threshold: float,
    from_crop: bool = False,
) -> list[DetectedPose]:
    """Convert a PoseLandmarkerResult to full-image poses.

    A landmark at normalised (u, v) of the image MediaPipe saw is at
    `origin_xy + (u, v) * scale_xy` in the full image (scale = the seen image's size in
    full-image pixels); z uses the x scale, as MediaPipe's z follows the width.
    """
    poses = []
    for i, (lms, world) in enumerate(
        zip(result.pose_landmarks, result.pose_world_landmarks, strict=True)
    ):
        norm = np.array(
            [(p.x, p.y, p.z, p.visibility or 0.0, p.presence or 0.0) for p in lms], np.float32
        )  # (33, 5)
        if norm.shape[0] != NUM_POSE_LANDMARKS:
            raise RuntimeError(f"pose model returned {norm.shape[0]} landmarks, expected 33")
        sx, sy = scale_xy
        landmarks_px = norm[:, :3] * np.array([sx, sy, sx], np.float32)  # (33, 3)
        landmarks_px[:, :2] += np.array(origin_xy, np.float32)
        visibility, presence = norm[:, 3].copy(), norm[:, 4].copy()
        if from_crop:  # a landmark outside the full image is not present, whatever the crop says
            w, h = image_wh
            x, y = landmarks_px[:, 0], landmarks_px[:, 1]
            presence[(x < 0) | (y < 0) | (x >= w) | (y >= h)] = 0.0
        conf = landmark_confidence(visibility, presence)
        world_m = np.array([(p.x, p.y, p.z) for p in world], np.float32)  # (33, 3)
        bbox = tight_box(landmarks_px, conf, box_threshold, image_wh)
        poses.append(
            DetectedPose(
                landmarks_px, visibility, presence, world_m, conf, bbox, -1 if from_crop else i
            )
        )
    return poses


def same_person(a: DetectedPose, b: DetectedPose) -> bool:
    """Two poses of one person: their landmarks trusted in both lie together (median distance
    under 10 % of the larger box), or, with fewer than 3 such landmarks, their boxes nearly
    coincide (IoU > 0.7). Box overlap alone would merge one person standing in front of another.
    """
    both = (a.confidence >= 0.5) & (b.confidence >= 0.5)
    if int(both.sum()) >= 3:
        gap = np.linalg.norm(a.landmarks_px[both, :2] - b.landmarks_px[both, :2], axis=1)
        return float(np.median(gap)) < 0.1 * max(box_size(a.bbox_xyxy), box_size(b.bbox_xyxy))
    return box_iou(a.bbox_xyxy, b.bbox_xyxy) > 0.7


def drop_duplicates(poses: list[DetectedPose]) -> list[DetectedPose]:
    """Remove poses that repeat a better one (kept in input order).

    MediaPipe can return the same person twice (a tracked region and a fresh detection), and a
    crop look finds again who the full frame found, often better: of two `same_person` poses the
    one with more trusted landmarks (then higher mean visibility) is kept.
    """

    def rank(p: DetectedPose) -> tuple[int, float]:
        return int((p.confidence >= 0.5).sum()), float(p.visibility.mean())

    order = sorted(range(len(poses)), key=lambda i: rank(poses[i]), reverse=True)
    kept: list[int] = []
    for i in order:
        if not any(same_person(poses[i], poses[k]) for k in kept):
            kept.append(i)
    return [poses[i] for i in sorted(kept)]
