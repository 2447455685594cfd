"""Checks and derived boxes for one MediaPipe pose: plausibility, head-covering box, what to draw.

All functions are pure (numpy in, numpy out) so the localizer, the GUI and tests share them.
Landmark indices follow `stdformer.detect.pose_topology` (MediaPipe BlazePose, 33 points).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from stdformer.detect.pose_topology import POSE_CONNECTIONS, POSE_HIPS, POSE_SHOULDERS

NOSE, L_EYE, R_EYE, L_EAR, R_EAR, MOUTH_L, MOUTH_R = 0, 2, 5, 7, 8, 9, 10
(L_SHOULDER, R_SHOULDER), (L_HIP, R_HIP) = POSE_SHOULDERS, POSE_HIPS
FACE = tuple(range(11))
# Bones whose metric length is checked: (a, b, min m, max m). Adults and children from ~1.2 m;
# MediaPipe's world landmarks come from a fixed-size body prior, so wider limits flag nonsense.
BONE_LIMITS_M: tuple[tuple[int, int, float, float], ...] = (
    (11, 12, 0.12, 0.65),  # shoulder width
    (23, 24, 0.06, 0.50),  # hip width
    (11, 13, 0.10, 0.50), (12, 14, 0.10, 0.50),  # upper arms
    (13, 15, 0.08, 0.45), (14, 16, 0.08, 0.45),  # forearms
    (23, 25, 0.15, 0.70), (24, 26, 0.15, 0.70),  # thighs
    (25, 27, 0.15, 0.70), (26, 28, 0.15, 0.70),  # shins
)  # fmt: skip
LEFT_RIGHT_BONES = (((11, 13), (12, 14)), ((13, 15), (14, 16)), ((23, 25), (24, 26)))
LEFT_RIGHT_BONES += (((25, 27), (26, 28)),)


@dataclass(frozen=True)
class PoseQualityConfig:
    """Thresholds of `implausibility` (defaults measured on real photos and rendered clips)."""

    confident: float = 0.5  # min(visibility, presence) at or above this: a trusted landmark
    min_confident: int = 6  # fewer trusted landmarks: not a person (or too little of one)
    max_left_right_ratio: float = 2.2  # a limb at most this much longer than its mirror (3D)
    max_projection_error: float = 0.25  # 2D vs world-landmark layout mismatch (of the spread)


def landmark_confidence(visibility: np.ndarray, presence: np.ndarray) -> np.ndarray:  # (33,)
    """Per-landmark trust: in the image (presence) and not hidden (visibility)."""
    return np.minimum(visibility, presence).astype(np.float32)


def implausibility(
    landmarks_px: np.ndarray,  # (33, 2+) pixels
    world_landmarks: np.ndarray,  # (33, 3) metres, camera-aligned axes
    confidence: np.ndarray,  # (33,)
    config: PoseQualityConfig | None = None,
) -> str | None:
    """Why this pose is not a real person's (landmarks on the background), or None if plausible.

    Checks, on trusted landmarks only: enough of them and a shoulder among them; metric bone
    lengths within human limits; left and right limbs of similar 3D length; and the 2D layout
    agreeing with the 3D one seen from the camera (scale + shift fit of world x, y to pixels),
    which fails when 2D points scatter over the background while the 3D prior stays tidy.
    """
    cfg = config or PoseQualityConfig()
    ok = confidence >= cfg.confident  # (33,)
    if int(ok.sum()) < cfg.min_confident:
        return f"only {int(ok.sum())} confident landmarks (need {cfg.min_confident})"
    if not (ok[L_SHOULDER] or ok[R_SHOULDER]):
        return "no confident shoulder"
    length = {}
    for a, b, lo, hi in BONE_LIMITS_M:
        if ok[a] and ok[b]:
            length[(a, b)] = d = float(np.linalg.norm(world_landmarks[a] - world_landmarks[b]))
            if not lo <= d <= hi:
                return f"bone {a}-{b} is {d:.2f} m (expected {lo:.2f}-{hi:.2f} m)"
    for left, right in LEFT_RIGHT_BONES:
        if left in length and right in length:
            ratio = max(length[left], length[right]) / max(min(length[left], length[right]), 1e-3)
            if ratio > cfg.max_left_right_ratio:
                return f"limbs {left} and {right} differ {ratio:.1f}x in length"
    err = projection_error(landmarks_px[ok, :2], world_landmarks[ok, :2])
    if err > cfg.max_projection_error:
        return f"2D landmarks do not match the 3D pose (error {err:.2f} of the spread)"
    return None


def projection_error(points_px: np.ndarray, world_xy: np.ndarray) -> float:
    """RMS residual of the best `s * world_xy + t` fit to `points_px`, over the points' spread.

    points_px (N, 2), world_xy (N, 2). MediaPipe's world axes are camera-aligned, so a real
    person's 2D landmarks are close to a scaled, shifted copy of the world x, y.
    """
    p = points_px - points_px.mean(axis=0)
    w = world_xy - world_xy.mean(axis=0)
    spread = float(np.sqrt((p**2).sum(axis=1).mean()))
    ww = float((w**2).sum())
    if spread < 1e-6 or ww < 1e-12:
        return 0.0
    scale = float((p * w).sum()) / ww
    residual = float(np.sqrt(((p - scale * w) ** 2).sum(axis=1).mean()))
    return residual / spread if scale > 0 else 1.0


def tight_box(
    landmarks_px: np.ndarray, confidence: np.ndarray, threshold: float, image_wh: tuple[int, int]
) -> np.ndarray:  # (4,)
    """Box of the trusted landmarks, widened to cover the whole head, clipped to the image.

    MediaPipe has no head-top landmark: the highest point is an eye or an ear, so a box from
    landmarks alone cuts the head at eye level (`head_outline` adds the skull).
    """
    ok = confidence >= threshold
    pts = landmarks_px[ok, :2] if ok.sum() >= 2 else landmarks_px[:, :2]  # (N, 2)
    head = head_outline(landmarks_px, confidence, threshold)
    if head is not None:
        pts = np.concatenate([pts, head])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    w, h = image_wh
    return np.array([*np.clip(lo, 0, [w, h]), *np.clip(hi, 0, [w, h])], np.float32)


def head_outline(
    landmarks_px: np.ndarray, confidence: np.ndarray, threshold: float
) -> np.ndarray | None:
    """Points (5, 2) on the outline of the head (top, left, right, back-top corners), or None.

    Adult proportions: the top of the skull is about one ear-to-ear distance above the middle
    of the ears (or 2.2 eye-to-mouth or 2 eye-to-eye distances above them), along the face's
    up direction (mouth -> eyes); the head is about 1.2 ear-to-ear distances wide.
    """
    xy = landmarks_px[:, :2]
    ok = confidence >= threshold

    def mid(a: int, b: int) -> np.ndarray | None:
        return 0.5 * (xy[a] + xy[b]) if ok[a] and ok[b] else None

    eyes, ears, mouth = mid(L_EYE, R_EYE), mid(L_EAR, R_EAR), mid(MOUTH_L, MOUTH_R)
    face = [i for i in FACE if ok[i]]
    if len(face) < 2:
        return None
    centre = ears if ears is not None else eyes if eyes is not None else xy[face].mean(axis=0)
    up = np.array([0.0, -1.0])
    eye_mouth = 0.0
    if eyes is not None and mouth is not None:
        eye_mouth = float(np.linalg.norm(eyes - mouth))
        if eye_mouth > 1e-3:
            up = (eyes - mouth) / eye_mouth
    ear_ear = float(np.linalg.norm(xy[L_EAR] - xy[R_EAR])) if ok[L_EAR] and ok[R_EAR] else 0.0
    eye_eye = float(np.linalg.norm(xy[L_EYE] - xy[R_EYE])) if ok[L_EYE] and ok[R_EYE] else 0.0
    spread = float(np.linalg.norm(xy[face] - xy[face].mean(axis=0), axis=1).max())
    top = max(ear_ear, 2.2 * eye_mouth, 2.0 * eye_eye, 1.5 * spread)
    half_width = max(0.6 * ear_ear, 1.2 * eye_eye, 0.5 * top)
    side = np.array([-up[1], up[0]])
    tip = centre + up * top
    corners = [tip + side * half_width * 0.7, tip - side * half_width * 0.7]
    return np.array(
        [tip, centre + side * half_width, centre - side * half_width, *corners], np.float32
    )


def drawable_skeleton(
    confidence: np.ndarray, threshold: float = 0.5
) -> tuple[np.ndarray, tuple[tuple[int, int], ...]]:
    """Which landmarks and bones to draw: trusted ones, connected to the body.

    Returns (points (33,) bool, bones). A bone is drawn when both ends are trusted; of those, only
    the largest connected group of bones is kept (the body), so a lone trusted wrist whose elbow
    is unsure is not drawn as a floating fragment. Points are the ends of the drawn bones.
    """
    ok = confidence >= threshold
    bones = [(a, b) for a, b in POSE_CONNECTIONS if ok[a] and ok[b]]
    parent = list(range(len(confidence)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in bones:
        parent[root(a)] = root(b)
    sizes: dict[int, int] = {}
    for a, _ in bones:
        sizes[root(a)] = sizes.get(root(a), 0) + 1
    # Face bones (eyes, ears, mouth) are not connected to the body in the topology: the head
    # belongs to the body when a shoulder is trusted, so a head-and-shoulders view keeps both.
    keep = {max(sizes, key=sizes.get)} if sizes else set()
    if ok[L_SHOULDER] or ok[R_SHOULDER]:
        keep |= {root(L_SHOULDER if ok[L_SHOULDER] else R_SHOULDER)}
        keep |= {root(i) for i in FACE if ok[i]}
    kept = tuple((a, b) for a, b in bones if root(a) in keep)
    points = np.zeros(len(confidence), bool)
    for a, b in kept:
        points[a] = points[b] = True
    return points, kept


def torso_appearance(
    image_bgr: np.ndarray, keypoints_px: np.ndarray, confidence: np.ndarray, threshold: float
) -> np.ndarray | None:
    """Colour histogram (72,) of the clothes between shoulders and hips, or None if unseen.

    Hue x saturation x value (8 x 3 x 3) of the central part of the torso, summing to 1. The
    tracker compares it between people to keep identities apart when boxes cross.
    """
    ok = confidence >= threshold
    if not (ok[L_SHOULDER] and ok[R_SHOULDER]):
        return None
    sh = keypoints_px[[L_SHOULDER, R_SHOULDER], :2]
    width = float(np.linalg.norm(sh[0] - sh[1]))
    if ok[L_HIP] and ok[R_HIP]:
        bottom = float(keypoints_px[[L_HIP, R_HIP], 1].mean())
    else:
        bottom = float(sh[:, 1].mean()) + width  # upper body: a shoulder width below
    top = float(sh[:, 1].mean())
    x0, x1 = float(sh[:, 0].min()), float(sh[:, 0].max())
    x0, x1 = x0 + 0.2 * (x1 - x0), x1 - 0.2 * (x1 - x0)
    y0, y1 = top + 0.15 * (bottom - top), bottom - 0.1 * (bottom - top)
    h, w = image_bgr.shape[:2]
    xa, xb = int(max(0, x0)), int(min(w, x1))
    ya, yb = int(max(0, y0)), int(min(h, y1))
    if xb - xa < 3 or yb - ya < 3:
        return None
    patch = cv2.cvtColor(image_bgr[ya:yb, xa:xb], cv2.COLOR_BGR2HSV)
    hist = cv2.calcHist([patch], [0, 1, 2], None, [8, 3, 3], [0, 180, 0, 256, 0, 256])
    hist = hist.ravel().astype(np.float32)  # (72,)
    total = float(hist.sum())
    return hist / total if total > 0 else None
