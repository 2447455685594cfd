"""The 33-landmark MediaPipe (BlazePose) topology: names, bones, left/right pairs, and which
landmarks are the hips and shoulders. The one place this contract is named: every
`Observation` (see `stdformer.detect.detector.PoseDetector`) follows it.

Kept as plain constants so renderers and regressors need not import mediapipe. "left" is the
person's own left, as in MediaPipe.
"""

from __future__ import annotations

POSE_LANDMARK_NAMES: tuple[str, ...] = (
    "nose",
    "left_eye_inner", "left_eye", "left_eye_outer",
    "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear",
    "mouth_left", "mouth_right",
    "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow",
    "left_wrist", "right_wrist",
    "left_pinky", "right_pinky",
    "left_index", "right_index",
    "left_thumb", "right_thumb",
    "left_hip", "right_hip",
    "left_knee", "right_knee",
    "left_ankle", "right_ankle",
    "left_heel", "right_heel",
    "left_foot_index", "right_foot_index",
)  # fmt: skip
N_POSE_LANDMARKS = len(POSE_LANDMARK_NAMES)  # 33
POSE_SHOULDERS = (11, 12)  # (left_shoulder, right_shoulder)
POSE_HIPS = (23, 24)  # (left_hip, right_hip): world landmarks are centred on their midpoint
POSE_KNEES = (25, 26)  # (left_knee, right_knee)
POSE_ANKLES = (27, 28)  # (left_ankle, right_ankle)
POSE_FACE = (0, 2, 5, 7, 8)  # nose, eyes, ears

# Bones drawn for a skeleton, as (parent-ish, child-ish) landmark index pairs.
POSE_CONNECTIONS: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (2, 3), (3, 7), (0, 4), (4, 5), (5, 6), (6, 8), (9, 10),
    (11, 12), (11, 13), (13, 15), (15, 17), (15, 19), (15, 21), (17, 19),
    (12, 14), (14, 16), (16, 18), (16, 20), (16, 22), (18, 20),
    (11, 23), (12, 24), (23, 24), (23, 25), (24, 26), (25, 27), (26, 28),
    (27, 29), (28, 30), (29, 31), (30, 32), (27, 31), (28, 32),
)  # fmt: skip


def _mirror_index(i: int) -> int:
    name = POSE_LANDMARK_NAMES[i]
    if name.startswith("left_"):
        return POSE_LANDMARK_NAMES.index("right_" + name[5:])
    if name.startswith("right_"):
        return POSE_LANDMARK_NAMES.index("left_" + name[6:])
    if name == "mouth_left":
        return POSE_LANDMARK_NAMES.index("mouth_right")
    if name == "mouth_right":
        return POSE_LANDMARK_NAMES.index("mouth_left")
    return i


# FLIP_PERMUTATION[i] is the landmark that i becomes in a horizontally mirrored image.
FLIP_PERMUTATION: tuple[int, ...] = tuple(_mirror_index(i) for i in range(N_POSE_LANDMARKS))
