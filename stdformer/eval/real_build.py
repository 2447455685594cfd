"""Build, cache and load the real validation set (`stdformer.eval.real_set` has the steps).

Caches under `~/.cache/stdformer/real/` (`$STDFORMER_CACHE_DIR/real`), keyed by the set's
VERSION and the bytes of the inputs they come from:
- `detections_v{DETECT_VERSION}_{key}.npz` per view (key: video + pose model);
- `reference_v{VERSION}_{key}.npz` (key: every view's detections + the calibration file).
Nothing here downloads: `tools/build_real_set.py` fetches the footage first.
"""

from __future__ import annotations

import json
import logging
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stdformer.eval import multiview as mv
from stdformer.eval import real_set as rs
from stdformer.paths import BadFileError, MissingFileError, resolve_file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RealSet:
    """The take, its (checked) cameras and the leave-one-view-out references."""

    videos: tuple[Path, ...]  # one per view, in VIEWS order
    cameras: tuple[mv.Camera, ...]  # as used for the reference (refined when needed)
    fps: float
    reference: rs.Reference
    uv: np.ndarray  # (P, C, T, 33, 2) associated MediaPipe 2D of every view (before repair)
    w: np.ndarray  # (P, C, T, 33) their confidences (0 = unseen)
    calib_before_px: np.ndarray  # (C,) median residual of each view with the shipped calibration
    calib_after_px: np.ndarray  # (C,) after refinement (== before when none was needed)
    stats: dict


def extract_take(root: Path) -> Path:
    """Unpack Demo_MultiPerson (only) from the pose2sim wheel in `root`; returns the take dir."""
    wheel = root / rs.WHEEL
    if not wheel.is_file():
        raise MissingFileError(f"{wheel} not found. {rs.HOW_TO_BUILD}")
    with zipfile.ZipFile(wheel) as z:
        members = [n for n in z.namelist() if n.startswith(rs.TAKE + "/")]
        z.extractall(root / "extract", members)
    return rs.take_dir(root)


def _detections_path(video: Path, pose_model: Path, root: Path) -> Path:
    key = rs.file_key(video, pose_model, version=rs.DETECT_VERSION)
    return root / f"detections_v{rs.DETECT_VERSION}_{key}.npz"


def _detections(video: Path, pose_model: Path, root: Path) -> rs.ViewDetections:
    path = _detections_path(video, pose_model, root)
    if path.is_file():
        with np.load(path) as z:
            return rs.ViewDetections(z["landmarks_px"], z["confidence"], z["world"])
    t0 = time.perf_counter()
    det = rs.detect_view(video, pose_model)
    np.savez_compressed(path, **det.__dict__)
    log.info("%s: detected in %.1f s -> %s", video.name, time.perf_counter() - t0, path.name)
    return det


def build_real_set(
    root: Path | None = None, pose_model: str | None = None, rebuild: bool = False
) -> RealSet:
    """Detections, association, calibration check and references, from the caches when they
    are current (`rebuild` recomputes the reference, never the detections)."""
    root = root or rs.real_dir()
    take = rs.take_dir(root)
    model = resolve_file("pose_model", pose_model)
    videos = tuple(take / "videos" / f"{v}.mp4" for v in rs.VIEWS)
    for v in videos:
        if not v.is_file():
            raise MissingFileError(f"{v} not found. {rs.HOW_TO_BUILD}")
    calib = take / "calibration" / "Calib.qca.txt"
    dets = [_detections(v, model, root) for v in videos]
    key = rs.file_key(calib, *[_detections_path(v, model, root) for v in videos])
    path = root / f"reference_v{rs.VERSION}_{key}.npz"
    if path.is_file() and not rebuild:
        return _load(path, videos)
    t0 = time.perf_counter()
    import cv2

    shipped = rs.read_qca(calib)
    by_name = {c.name: c for c in shipped}
    cams = [by_name[v] for v in rs.VIEWS]
    fps_all = []
    for video, cam in zip(videos, cams, strict=True):
        cap = cv2.VideoCapture(str(video))
        size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        fps_all.append(float(cap.get(cv2.CAP_PROP_FPS) or 0.0))
        cap.release()
        if size != cam.size_wh:  # e.g. a letterboxed copy: the intrinsics would not apply
            raise BadFileError(f"{video}: {size[0]}x{size[1]} frames, but the calibration of "
                               f"{cam.name} is for {cam.size_wh[0]}x{cam.size_wh[1]}")  # fmt: skip
    if len(set(fps_all)) != 1 or not fps_all[0] > 0:
        raise BadFileError(f"the views' frame rates differ or are unknown: {fps_all}")
    fps = fps_all[0]
    uv, w = rs.associate(cams, dets)
    cams, before, after = rs.check_calibration(cams, uv, w)
    ref = rs.build_reference(cams, uv, w, fps)
    stats = reference_stats(ref, before, after)
    stats["build_s"] = round(time.perf_counter() - t0, 1)
    np.savez_compressed(
        path,
        K=np.stack([c.K for c in cams]), R=np.stack([c.R for c in cams]),
        t=np.stack([c.t for c in cams]), fps=fps, uv=uv, w=w,
        calib_before=before, calib_after=after, stats=json.dumps(stats),
        **{f"ref_{k}": v for k, v in ref.__dict__.items()},
    )  # fmt: skip
    return _load(path, videos)


def load_real_set(root: Path | None = None, pose_model: str | None = None) -> RealSet:
    """The cached set (building the reference if only the detections are cached)."""
    return build_real_set(root, pose_model)


def _load(path: Path, videos: tuple[Path, ...]) -> RealSet:
    with np.load(path) as z:
        cams = tuple(
            mv.Camera(name, z["K"][i], z["R"][i], z["t"][i], (1088, 1920))
            for i, name in enumerate(rs.VIEWS)
        )
        ref = rs.Reference(*(z[f"ref_{k}"] for k in rs.Reference.__dataclass_fields__))
        stats = json.loads(str(z["stats"]))
        return RealSet(
            videos, cams, float(z["fps"]), ref, z["uv"], z["w"], z["calib_before"],
            z["calib_after"], stats,
        )  # fmt: skip


def reference_stats(ref: rs.Reference, before: np.ndarray, after: np.ndarray) -> dict:
    """Reprojection and coverage statistics of the references (for the report and the JSON)."""
    out: dict = {
        "calibration_median_px": {
            "shipped": before.round(2).tolist(),
            "used": after.round(2).tolist(),
        },
        "held_out": {},
    }
    for v, name in enumerate(rs.VIEWS):
        err = ref.reproj_px[v]  # (P, T, 33, C)
        inl = ref.inlier_views[v][..., None] > 0
        finite = np.isfinite(ref.points[v]).all(-1)  # (P, T, 33)
        ok = err[np.isfinite(err) & finite[..., None] & inl]
        out["held_out"][name] = {
            # every view that saw a point, the views the robust triangulation rejected included
            "reproj_median_px": round(float(np.median(ok)), 2) if ok.size else None,
            "reproj_p90_px": round(float(np.percentile(ok, 90)), 2) if ok.size else None,
            "inlier_views_mean": round(float(ref.inlier_views[v][finite].mean()), 2),
            "points_valid_pct": round(100 * float(finite.mean()), 1),
            "swapped_frames_pct": round(100 * float((ref.swaps[v] > 0).mean()), 1),
        }
    return out
