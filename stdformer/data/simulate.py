"""A fast stand-in for MediaPipe: observations simulated from ground truth, calibrated on the
rendered-and-detected corpus.

Ground truth per frame: the body's 33 MediaPipe-style landmarks (`landmark_regressor`) in the
camera frame. The simulator projects them and adds what the real detector does (fitted by
`calibrate` on training clips; the numbers live in `sim_calibration.json`, see assets/README.md):

- 2D: a per-landmark bias and an AR(1) error (lag-1 correlation `rho`), both in units of the
  person's landmark-box side, larger for landmarks outside the image (extrapolated);
- relative depth z: `z_gain * (Z - Z_hips) * f / Z_hips` pixels + noise;
- world landmarks: a linear map `world_map` (3x3, camera axes -> MediaPipe's) of the hip-centred
  camera-frame landmarks + per-landmark noise;
- visibility / presence: per-landmark mean and spread, for landmarks inside / outside the image;
- left/right swaps: with probability `swap_rate` per clip, a stretch of frames has its left and
  right landmarks exchanged (as the detector does on back views);
- misses: `miss_rate` per framing (only reported: training windows need detected frames).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from stdformer.detect.pose_topology import FLIP_PERMUTATION
from stdformer.detect.pose_topology import POSE_HIPS as HIPS

CALIBRATION_FILE = Path(__file__).with_name("sim_calibration.json")


@dataclass(frozen=True)
class SimCalibration:
    bias: np.ndarray  # (33, 2) mean 2D error / box side, inside the image
    std_in: np.ndarray  # (33, 2) error std / box side, inside the image
    std_out: np.ndarray  # (33, 2) error std / box side, outside the image
    rho: float  # lag-1 autocorrelation of the 2D error
    z_gain: float
    z_std: np.ndarray  # (33,) pixels / box side
    world_map: np.ndarray  # (3, 3)
    world_std: np.ndarray  # (33,) metres
    vis_in: np.ndarray  # (33, 2) mean, std of visibility inside the image
    vis_out: np.ndarray  # (33, 2) outside
    pres_in: np.ndarray  # (33, 2)
    pres_out: np.ndarray  # (33, 2)
    swap_rate: float
    miss_rate: dict[str, float]
    n_frames: int  # detected frames the fit used

    def save(self, path: Path = CALIBRATION_FILE) -> None:
        d = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in asdict(self).items()}
        path.write_text(json.dumps(d, indent=1) + "\n")

    @classmethod
    def load(cls, path: Path = CALIBRATION_FILE) -> SimCalibration:
        d = json.loads(Path(path).read_text())
        scalars = ("rho", "z_gain", "swap_rate", "miss_rate", "n_frames")
        return cls(**{k: (v if k in scalars else np.asarray(v, np.float64)) for k, v in d.items()})


def project(points_cam: np.ndarray, K: np.ndarray) -> np.ndarray:
    """(..., 3) camera points -> (..., 2) pixels (z clamped to 1 cm)."""
    z = np.maximum(points_cam[..., 2:3], 1e-2)
    return (points_cam[..., :2] / z) * np.diag(K)[:2] + K[:2, 2]


def box_side(px: np.ndarray) -> np.ndarray:
    """(..., 33, 2) -> (...,) longer side of the landmarks' box (at least 1 px)."""
    return np.maximum((px.max(-2) - px.min(-2)).max(-1), 1.0)


def inside_image(px: np.ndarray, size_wh: tuple[int, int]) -> np.ndarray:
    w, h = size_wh
    return (px[..., 0] >= 0) & (px[..., 0] < w) & (px[..., 1] >= 0) & (px[..., 1] < h)


def depth_px(lm_cam: np.ndarray, K: np.ndarray) -> np.ndarray:
    """(..., 33, 3) -> (..., 33) depth relative to the hips in pixels at the hips' distance."""
    hips_z = lm_cam[..., list(HIPS), 2].mean(-1, keepdims=True)
    return (lm_cam[..., 2] - hips_z) * K[0, 0] / np.maximum(hips_z, 1e-2)


def hip_centred(lm_cam: np.ndarray) -> np.ndarray:
    return lm_cam - lm_cam[..., list(HIPS), :].mean(-2, keepdims=True)


def is_swapped(obs_px: np.ndarray, gt_px: np.ndarray) -> np.ndarray:
    """(N,) True where the left/right-mirrored labelling fits the truth clearly better."""
    err = np.nanmean(np.linalg.norm(obs_px - gt_px, axis=-1), -1)
    err_sw = np.nanmean(np.linalg.norm(obs_px[..., FLIP_PERMUTATION, :] - gt_px, axis=-1), -1)
    return err_sw < 0.5 * err


def simulate(
    lm_cam: np.ndarray,  # (N, 33, 3) true landmarks, camera frame
    K: np.ndarray,  # (3, 3)
    size_wh: tuple[int, int],
    calib: SimCalibration,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Detector-like observations of N consecutive frames (keys as `Observation` fields)."""
    n = lm_cam.shape[0]
    gt_px = project(lm_cam, K)  # (N, 33, 2)
    side = box_side(gt_px)[:, None, None]  # (N, 1, 1)
    inside = inside_image(gt_px, size_wh)  # (N, 33)
    std = np.where(inside[..., None], calib.std_in, calib.std_out)  # (N, 33, 2)
    noise = np.empty((n, 33, 2))
    noise[0] = rng.standard_normal((33, 2))
    innov = np.sqrt(max(1.0 - calib.rho**2, 0.0))
    for i in range(1, n):
        noise[i] = calib.rho * noise[i - 1] + innov * rng.standard_normal((33, 2))
    px = gt_px + (calib.bias + std * noise) * side
    z = calib.z_gain * depth_px(lm_cam, K) + calib.z_std * side[..., 0] * rng.standard_normal(
        (n, 33)
    )
    world = hip_centred(lm_cam) @ calib.world_map.T
    world = world + calib.world_std[:, None] * rng.standard_normal((n, 33, 3))

    def draw(mean_std_in: np.ndarray, mean_std_out: np.ndarray) -> np.ndarray:
        ms = np.where(inside[..., None], mean_std_in, mean_std_out)  # (N, 33, 2)
        return np.clip(ms[..., 0] + ms[..., 1] * rng.standard_normal((n, 33)), 0.0, 1.0)

    out = {
        "landmarks_px": np.concatenate([px, z[..., None]], -1).astype(np.float32),
        "visibility": draw(calib.vis_in, calib.vis_out).astype(np.float32),
        "presence": draw(calib.pres_in, calib.pres_out).astype(np.float32),
        "world_landmarks": world.astype(np.float32),
    }
    if rng.random() < calib.swap_rate * 4:  # a stretch of ~1/4 of the clip swapped
        a = int(rng.integers(0, n))
        b = min(n, a + max(1, n // 4))
        for k in ("landmarks_px", "visibility", "presence"):
            out[k][a:b] = out[k][a:b][:, FLIP_PERMUTATION]
    return out


def calibrate(samples: list[dict[str, np.ndarray]], framings: list[str]) -> SimCalibration:
    """Fit the simulator on real detections.

    Each sample is one clip: `gt_cam` (N, 33, 3) true landmarks, `K`, `size_wh`, `detected`
    (N,), and the detector's `landmarks_px`, `visibility`, `presence`, `world_landmarks`.
    """
    err_in, err_out, z_pairs, w_pairs, lag, swaps = [], [], [], [], [], []
    vis = {True: [], False: []}
    pres = {True: [], False: []}
    misses: dict[str, list[float]] = {}
    for s, framing in zip(samples, framings, strict=True):
        det = s["detected"].astype(bool)
        misses.setdefault(framing, []).append(1.0 - det.mean())
        if not det.any():
            continue
        gt_cam = s["gt_cam"][det]
        gt_px = project(gt_cam, s["K"])
        obs = s["landmarks_px"][det]
        sw = is_swapped(obs[..., :2], gt_px)
        swaps.append(sw)
        keep = ~sw
        gt_cam, gt_px, obs = gt_cam[keep], gt_px[keep], obs[keep]
        if len(obs) == 0:
            continue
        side = box_side(gt_px)[:, None, None]
        e = (obs[..., :2] - gt_px) / side  # (n, 33, 2)
        inside = inside_image(gt_px, tuple(s["size_wh"]))
        err_in.append(np.where(inside[..., None], e, np.nan))
        err_out.append(np.where(~inside[..., None], e, np.nan))
        idx = np.flatnonzero(det)[keep]
        consecutive = np.flatnonzero(np.diff(idx) == 1)
        lag.append((e[consecutive], e[consecutive + 1]))
        z_pairs.append((depth_px(gt_cam, s["K"]), obs[..., 2], side[..., 0]))
        w_pairs.append((hip_centred(gt_cam), s["world_landmarks"][det][keep]))
        for flag in (True, False):
            m = inside == flag
            vis[flag].append(np.where(m, s["visibility"][det][keep], np.nan))
            pres[flag].append(np.where(m, s["presence"][det][keep], np.nan))
    ein, eout = np.concatenate(err_in), np.concatenate(err_out)
    bias = np.nan_to_num(np.nanmedian(ein, axis=0))
    # robust spreads (MAD * 1.4826): a few wild detections must not inflate everything
    std_in = np.nan_to_num(1.4826 * np.nanmedian(np.abs(ein - bias), axis=0), nan=0.02)
    std_out = np.nan_to_num(1.4826 * np.nanmedian(np.abs(eout - bias), axis=0), nan=0.1)
    std_out = np.maximum(std_out, std_in)
    a = np.concatenate([p[0] for p in lag]).reshape(-1)
    b = np.concatenate([p[1] for p in lag]).reshape(-1)
    ok = np.isfinite(a) & np.isfinite(b) & (np.abs(a) < 0.2) & (np.abs(b) < 0.2)
    rho = float(np.corrcoef(a[ok], b[ok])[0, 1]) if ok.sum() > 10 else 0.5
    zt = np.concatenate([p[0] for p in z_pairs])  # (n, 33)
    zo = np.concatenate([p[1] for p in z_pairs])
    zs = np.concatenate([p[2] for p in z_pairs])  # (n, 1)
    z_gain = float(np.nansum(zt * zo) / max(np.nansum(zt * zt), 1e-9))  # NaN: untriangulated
    z_std = 1.4826 * np.nanmedian(np.abs(zo - z_gain * zt) / zs, axis=0)
    wt = np.concatenate([p[0] for p in w_pairs]).reshape(-1, 3)
    wo = np.concatenate([p[1] for p in w_pairs]).reshape(-1, 3)
    rows = np.isfinite(wt).all(-1) & np.isfinite(wo).all(-1)
    world_map = np.linalg.lstsq(wt[rows], wo[rows], rcond=None)[0].T  # wo ~ world_map @ wt
    resid = (
        np.concatenate([p[1] for p in w_pairs])
        - np.concatenate([p[0] for p in w_pairs]) @ world_map.T
    )
    world_std = 1.4826 * np.nanmedian(np.abs(resid), axis=(0, 2))

    def mean_std(parts: list[np.ndarray], fallback: float) -> np.ndarray:
        x = np.concatenate(parts)
        m = np.nan_to_num(np.nanmean(x, axis=0), nan=fallback)
        sd = np.nan_to_num(np.nanstd(x, axis=0), nan=0.1)
        return np.stack([m, sd], -1)

    return SimCalibration(
        bias=bias,
        std_in=std_in,
        std_out=std_out,
        rho=rho,
        z_gain=z_gain,
        z_std=z_std,
        world_map=world_map,
        world_std=world_std,
        vis_in=mean_std(vis[True], 0.9),
        vis_out=mean_std(vis[False], 0.1),
        pres_in=mean_std(pres[True], 0.95),
        pres_out=mean_std(pres[False], 0.1),
        swap_rate=float(np.concatenate(swaps).mean()),
        miss_rate={k: float(np.mean(v)) for k, v in misses.items()},
        n_frames=int(sum(len(p[1]) for p in w_pairs)),
    )
