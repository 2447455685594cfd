"""The real-footage validation set: pose2sim's `Demo_MultiPerson` take (4 synchronised,
calibrated cameras, two people, 1088x1920, 60 fps, 100 frames; BSD-3) and a 3D reference
triangulated from MediaPipe's 2D landmarks.

Build (`tools/build_real_set.py`, results cached under `~/.cache/stdformer/real/`):
1. MediaPipe (the embedded `.task`, through `stdformer.detect.mp_poses`, VIDEO mode, up to two
   poses) on every frame of every view -> `ViewDetections`.
2. Cross-view association per frame (the slot assignment with the lowest epipolar distance of
   swap-invariant midline points), linked over time by the people's 3D hip midpoints.
3. Calibration check: all four views triangulated; when a view's median reprojection error is
   above `BA_TRIGGER_PX`, the extrinsics are refined by bundle adjustment.
4. For each view V, the reference of each person WITHOUT V: left/right swaps repaired per view
   and frame in the other three views, robust (view-selecting) weighted DLT, then a zero-phase
   Butterworth low-pass (4th order, 10 Hz) over runs of valid frames.
The monocular view V is then scored against evidence it did not contribute to.

Pose2Sim's demo `Demo_SinglePerson` (= `Demo_Batch/Trial_1`) is never read here: it is kept for
independent checks.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import warnings
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stdformer.body.mesh_levels import default_cache_dir
from stdformer.eval import multiview as mv
from stdformer.paths import MissingFileError

log = logging.getLogger(__name__)

DETECT_VERSION = 1  # bump when the detection changes (invalidates the detection caches)
VERSION = 5  # bump when association, calibration check or triangulation change
WHEEL = "pose2sim-0.10.49-py3-none-any.whl"
TAKE = "Pose2Sim/Demo_MultiPerson"
VIEWS = ("cam01", "cam02", "cam03", "cam04")
PEOPLE = 2
MIN_CONF = 0.3  # landmarks below this min(visibility, presence) do not vote
INLIER_PX = 20.0  # reprojection error of an inlier view (1088x1920 images)
BA_TRIGGER_PX = 4.0  # median residual of a view above this: refine the extrinsics
LOWPASS_HZ = 10.0
SPIKE_M = 0.06  # a point this far from its +-4 frame median is a spike
MAX_GAP = 6  # frames of a landmark's gap filled by interpolation (0.1 s at 60 fps)
HOW_TO_BUILD = "Build it with `python tools/build_real_set.py` (downloads pose2sim from PyPI)."


def real_dir() -> Path:
    return default_cache_dir() / "real"


def take_dir(root: Path | None = None) -> Path:
    """The extracted take; MissingFileError with the way to get it otherwise."""
    path = (root or real_dir()) / "extract" / TAKE
    if not (path / "calibration" / "Calib.qca.txt").is_file():
        raise MissingFileError(f"real validation footage not found under {path}. {HOW_TO_BUILD}")
    return path


def read_qca(path: Path) -> list[mv.Camera]:
    """Cameras of a Qualisys `.qca.txt` file, read as Pose2Sim reads it: focal length and
    principal point in 1/64 px, centre in mm, world->camera R = diag(1, -1, -1) @ M, t = -R C.
    Distortion (also in 1/64 units, ~1e-3) is neglected."""
    cams = []
    for cam in ET.parse(path).getroot().iter("camera"):
        tr, it, fov = cam.find("transform"), cam.find("intrinsic"), cam.find("fov_video")
        M = np.array([[float(tr.get(f"r{i}{j}")) for j in (1, 2, 3)] for i in (1, 2, 3)])
        C = np.array([float(tr.get(k)) for k in "xyz"]) / 1000.0
        R = np.diag([1.0, -1.0, -1.0]) @ M
        fx, fy = float(it.get("focalLengthU")) / 64, float(it.get("focalLengthV")) / 64
        cx, cy = float(it.get("centerPointU")) / 64, float(it.get("centerPointV")) / 64
        K = np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1.0]])
        size = (int(fov.get("right")) + 1, int(fov.get("bottom")) + 1)
        cams.append(mv.Camera(cam.get("serial"), K, R, -R @ C, size))
    return cams


def file_key(*paths: Path, version: int = VERSION) -> str:
    """Short hash of the code version and the bytes of `paths` (a cache key)."""
    h = hashlib.sha256(f"v{version}".encode())
    for p in paths:
        h.update(Path(p).read_bytes())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class ViewDetections:
    """MediaPipe's poses in one view, in its own order per frame (NaN / 0 where absent)."""

    landmarks_px: np.ndarray  # (T, P, 33, 2)
    confidence: np.ndarray  # (T, P, 33) min(visibility, presence); 0 = no pose in the slot
    world: np.ndarray  # (T, P, 33, 3) metres, hip-centred, camera-aligned


def detect_view(video: Path, pose_model: Path, people: int = PEOPLE) -> ViewDetections:
    """Every pose MediaPipe finds in every frame of `video` (VIDEO mode, up to `people`)."""
    import cv2
    import mediapipe as mp

    from stdformer.detect.mp_poses import (
        LandmarkerSettings,
        create_landmarker,
        drop_duplicates,
        poses_from_result,
    )

    cap = cv2.VideoCapture(str(video))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    lms, confs, worlds = [], [], []
    with create_landmarker(LandmarkerSettings(pose_model), people, video=True) as marker:
        index = 0
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            h, w = bgr.shape[:2]
            image = mp.Image(image_format=mp.ImageFormat.SRGB, data=bgr[..., ::-1].copy())
            result = marker.detect_for_video(image, round(index * 1000 / fps))
            poses = drop_duplicates(poses_from_result(result, (0, 0), (w, h), (w, h), 0.5))
            lm = np.full((people, 33, 2), np.nan, np.float32)
            cf = np.zeros((people, 33), np.float32)
            wd = np.full((people, 33, 3), np.nan, np.float32)
            for k, pose in enumerate(poses[:people]):
                lm[k], cf[k], wd[k] = (
                    pose.landmarks_px[:, :2],
                    pose.confidence,
                    pose.world_landmarks,
                )
            lms.append(lm), confs.append(cf), worlds.append(wd)
            index += 1
    cap.release()
    if not lms:
        raise MissingFileError(f"{video}: no frame could be read")
    return ViewDetections(np.stack(lms), np.stack(confs), np.stack(worlds))


def associate(
    cams: list[mv.Camera], dets: list[ViewDetections], cap_px: float = 80.0
) -> tuple[np.ndarray, np.ndarray]:
    """Group the views' poses into people.

    Per frame, every assignment of each view's poses to person slots is scored by the epipolar
    distance of midline points between views that put a pose in the same slot (each match
    scores min(d, cap) - cap: agreeing views reward, disagreeing ones cost nothing extra); the
    slots are then linked to people over time by their triangulated hip midpoints.
    Returns uv (P, C, T, 33, 2) and w (P, C, T, 33) (confidence, 0 where unseen).
    """
    C, T, P = len(cams), dets[0].confidence.shape[0], dets[0].confidence.shape[1]
    F = {(i, j): mv.fundamental(cams[i], cams[j]) for i in range(C) for j in range(C) if i < j}
    uv = np.full((P, C, T, 33, 2), np.nan)
    w = np.zeros((P, C, T, 33))
    prev: np.ndarray | None = None  # (P, 3) hip midpoints of the people at the last frame
    for t in range(T):
        present = [[k for k in range(P) if dets[c].confidence[t, k].max() > 0] for c in range(C)]
        options = [list(itertools.permutations(range(P))) for _ in range(C)]  # slot -> pose
        mids = [[mv.midline_points(dets[c].landmarks_px[t, k], dets[c].confidence[t, k])
                 for k in range(P)] for c in range(C)]  # fmt: skip
        best, best_cost = None, np.inf
        for combo in itertools.product(*options[1:]):
            combo = (options[0][0], *combo)
            cost = 0.0
            for (i, j), Fij in F.items():
                for s in range(P):
                    a, b = combo[i][s], combo[j][s]
                    if a not in present[i] or b not in present[j]:
                        continue
                    (pa, ca), (pb, cb) = mids[i][a], mids[j][b]
                    ok = (ca > MIN_CONF) & (cb > MIN_CONF)
                    d = mv.epipolar_distance(Fij, pa[ok], pb[ok]).mean() if ok.any() else cap_px
                    cost += min(d, cap_px) - cap_px
            if cost < best_cost:
                best, best_cost = combo, cost
        slots_uv = np.full((P, C, 33, 2), np.nan)
        slots_w = np.zeros((P, C, 33))
        for c in range(C):
            for s in range(P):
                k = best[c][s]
                if k in present[c]:
                    slots_uv[s, c] = dets[c].landmarks_px[t, k]
                    conf = dets[c].confidence[t, k]
                    slots_w[s, c] = np.where(conf >= MIN_CONF, conf, 0.0)
        hips = np.stack([_hip_mid(cams, slots_uv[s], slots_w[s]) for s in range(P)])  # (P, 3)
        order = _link(prev, hips)
        uv[:, :, t], w[:, :, t] = slots_uv[order], slots_w[order]
        hips = hips[order]
        prev = hips if prev is None else np.where(np.isfinite(hips), hips, prev)
    return uv, w


def _hip_mid(cams: list[mv.Camera], uv: np.ndarray, w: np.ndarray) -> np.ndarray:
    mid = 0.5 * (uv[:, 23] + uv[:, 24])  # (C, 2)
    wm = np.minimum(w[:, 23], w[:, 24])
    return mv.triangulate(cams, mid[:, None], wm[:, None])[0]


def _link(prev: np.ndarray | None, hips: np.ndarray) -> list[int]:
    """Slot order that keeps each person nearest to where they were (first frame: by x)."""
    P = len(hips)
    if prev is None:
        return list(np.argsort(np.nan_to_num(hips[:, 0], nan=np.inf)))
    best, best_d = list(range(P)), np.inf
    for perm in itertools.permutations(range(P)):
        d = np.linalg.norm(hips[list(perm)] - prev, axis=-1)
        total = float(np.nansum(np.where(np.isfinite(d), d, 0.0)))
        if total < best_d:
            best, best_d = list(perm), total
    return best


def clean_track(X: np.ndarray, fps: float, cutoff_hz: float = LOWPASS_HZ) -> np.ndarray:
    """Temporal clean-up of triangulated points X (T, 33, 3), per landmark:
    1. spikes out: a point farther than `SPIKE_M` from the median of its +-4 frame window is
       dropped (a view subset switch or a bad match, not motion: 6 cm in 1/15 s);
    2. gaps of at most `MAX_GAP` frames inside a run are filled linearly;
    3. zero-phase Butterworth (order 4, `cutoff_hz`) over runs of >= 8 frames.
    Longer gaps stay NaN."""
    from scipy.signal import butter, filtfilt

    T = len(X)
    out = X.copy()
    pad = np.pad(X, ((4, 4), (0, 0), (0, 0)), constant_values=np.nan)
    windows = np.stack([pad[k : k + T] for k in range(9)])  # (9, T, 33, 3)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(windows, axis=0)
    out[np.linalg.norm(out - med, axis=-1) > SPIKE_M] = np.nan
    b, a = butter(4, cutoff_hz / (fps / 2))
    t_all = np.arange(T)
    for j in range(out.shape[1]):
        ok = np.isfinite(out[:, j]).all(-1)
        if ok.sum() < 2:
            continue
        seen = t_all[ok]
        # Fill a missing frame when the finite frames around it are at most MAX_GAP + 1 apart.
        nxt = np.searchsorted(seen, t_all)
        prev_t = seen[np.clip(nxt - 1, 0, len(seen) - 1)]
        next_t = seen[np.clip(nxt, 0, len(seen) - 1)]
        fill = ~ok & (t_all > seen[0]) & (t_all < seen[-1]) & (next_t - prev_t <= MAX_GAP + 1)
        for c in range(3):
            out[fill, j, c] = np.interp(t_all[fill], seen, out[ok, j, c])
        good = np.isfinite(out[:, j]).all(-1)
        start = 0
        while start < T:
            if not good[start]:
                start += 1
                continue
            end = start
            while end < T and good[end]:
                end += 1
            if end - start >= 8:
                pad = min(15, end - start - 1)
                out[start:end, j] = filtfilt(b, a, out[start:end, j], axis=0, padlen=pad)
            start = end
    return out


@dataclass(frozen=True)
class Reference:
    """The 3D reference of every person, one per held-out view (world frame, metres)."""

    points: np.ndarray  # (V, P, T, 33, 3) built without view V; NaN where not triangulable
    inlier_views: np.ndarray  # (V, P, T, 33) views that agreed on each point
    reproj_px: np.ndarray  # (V, P, T, 33, C) reprojection error in every view (NaN unseen)
    swaps: np.ndarray  # (V, P, C, T) swap pattern chosen per view and frame (-1: the held-out)


def build_reference(
    cams: list[mv.Camera], uv: np.ndarray, w: np.ndarray, fps: float, smooth: bool = True
) -> Reference:
    """Leave-one-view-out references from associated detections uv (P, C, T, 33, 2), w."""
    P, C, T = w.shape[:3]
    points = np.full((C, P, T, 33, 3), np.nan)
    inl = np.zeros((C, P, T, 33), int)
    reproj = np.full((C, P, T, 33, C), np.nan)
    swaps = np.full((C, P, C, T), -1)
    for v in range(C):
        others = [i for i in range(C) if i != v]
        sub = [cams[i] for i in others]
        for p in range(P):
            ruv, rw, chosen = mv.repair_swaps(sub, uv[p, others], w[p, others])
            swaps[v, p, others] = chosen
            X, mask = mv.triangulate_robust(
                sub, ruv.reshape(C - 1, T * 33, 2), rw.reshape(C - 1, T * 33), INLIER_PX
            )
            X, relabelled = mv.consistent_labels(X.reshape(T, 33, 3))
            mask = mask.reshape(C - 1, T, 33)
            for k in range(1, len(mv.SWAP_PATTERNS)):  # the masks follow their points
                sel = relabelled == k
                mask[:, sel] = mv.swap_lr(mask[:, sel][..., None], mv.SWAP_PATTERNS[k])[..., 0]
                ruv[:, sel] = mv.swap_lr(ruv[:, sel], mv.SWAP_PATTERNS[k])
                rw[:, sel] = mv.swap_lr(rw[:, sel][..., None], mv.SWAP_PATTERNS[k])[..., 0]
            inl[v, p] = mask.sum(0)
            for k, i in enumerate(others):
                err = np.linalg.norm(cams[i].project(X) - ruv[k], axis=-1)
                reproj[v, p, :, :, i] = np.where(rw[k] > 0, err, np.nan)
            points[v, p] = clean_track(X, fps) if smooth else X
    return Reference(points, inl, reproj, swaps)


def check_calibration(
    cams: list[mv.Camera], uv: np.ndarray, w: np.ndarray
) -> tuple[list[mv.Camera], np.ndarray, np.ndarray]:
    """Verify each view against the others: the median reprojection error of every view (C,)
    after a robust triangulation from all views (both people, every frame). Views above
    `BA_TRIGGER_PX` get their extrinsics refined by bundle adjustment on the triangulated
    joints (the first camera fixes the frame). Returns the cameras to use and the medians
    before and after (after == before when nothing was refined)."""
    P, C = w.shape[:2]
    rep = [mv.repair_swaps(cams, uv[p], w[p]) for p in range(P)]
    ruv = np.concatenate([r[0] for r in rep], 1).reshape(C, -1, 2)  # (C, P*T*33, 2)
    rw = np.concatenate([r[1] for r in rep], 1).reshape(C, -1)

    def medians(cs: list[mv.Camera]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        X, mask = mv.triangulate_robust(cs, ruv, rw, INLIER_PX)
        err = mv.reprojection_errors(cs, X, ruv)
        med = np.array([np.median(err[c][mask[c]]) if mask[c].any() else np.nan for c in range(C)])
        return med, X, mask

    before, X, mask = medians(cams)
    if not np.nanmax(before) > BA_TRIGGER_PX:
        return cams, before, before
    good = np.flatnonzero((mask.sum(0) >= 3) & np.isfinite(X).all(1))
    pick = good[np.linspace(0, len(good) - 1, min(len(good), 600)).astype(int)]
    # Every observation of the picked points counts (Huber loss): a badly calibrated view's
    # are outliers of the triangulation, and they are what moves it.
    refined = mv.bundle_adjust(cams, ruv[:, pick], rw[:, pick], X[pick])
    after = medians(refined)[0]
    log.info("calibration refined: median residual %s -> %s px", before, after)
    return refined, before, after
