"""Score the app on the real validation set, like with like, against raw MediaPipe.

For each view V and each person p, the app's own session (`stdformer.session.session.Session`,
batch mode, exactly as `main.py process` runs it, with the given `PipelineConfig`) runs on V's
video with p picked at the first frame (as a click in the GUI would). Per frame the followed
person is matched to a reference person by 2D (MediaPipe's landmarks within 10 % of the body
height of p's reprojected reference, either way round: MediaPipe's front/back flips swap left
and right, and nearer to it than to anyone else's); other frames are not scored. Rows
(methods), all on the same frames:
- `mediapipe`: MediaPipe's world landmarks, raw (as MediaPipe read them, before the
  localizer undid a front/back flip: `Observation.facing_flipped`);
- `mediapipe+ema`: the same with a causal EMA (0.5) over consecutive frames;
- `app`: the MediaPipe-33 points regressed from the app's mesh (`landmark_regressor`).
Against the reference built WITHOUT view V, moved into V's camera frame:
- MPJPE and PA-MPJPE (mm, root = hip midpoint) over the 12 limb joints and all 33 landmarks;
- accel error (mm/frame^2, limb joints, root-relative, frames inside runs of 3);
- root error (mm, the app only): where the body is, the hips' midpoint against the
  reference's in V's camera (depth follows the assumed field of view and the body's size);
- 2D alignment: per frame the mean pixel distance of the method's 2D landmarks (the app: its
  regressed points projected through the result's K) to (i) MediaPipe's confident 2D landmarks
  (min(visibility, presence) > 0.5; either labelling, as MediaPipe's flips swap it) and (ii)
  the reference reprojected into V (calibrated camera), in % of the person's body height in
  pixels (stature / depth x focal length); median and p90 over frames.
Facing: a frame is front-facing when the reference torso's forward normal points toward V.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from stdformer.detect.facing import unflip
from stdformer.detect.pose_topology import FLIP_PERMUTATION
from stdformer.detect.pose_topology import POSE_HIPS as HIPS
from stdformer.eval.metrics import similarity_align
from stdformer.eval.real_build import RealSet
from stdformer.eval.real_set import VIEWS
from stdformer.session.pipeline import LivePipeline, PipelineConfig

log = logging.getLogger(__name__)

LIMBS = (11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)
METHODS = ("mediapipe", "mediapipe+ema", "app")
METRICS = ("pa", "mpjpe", "pa_all", "mpjpe_all", "accel", "root", "align_mp", "align_ref")
CONFIDENT = 0.5
EMA = 0.5
FLIP = list(FLIP_PERMUTATION)
FOLLOW_PCT = 10.0  # MediaPipe's median 2D distance to the followed person's reference


@dataclass(frozen=True)
class AppTrack:
    """What the app produced on one video, per frame with a mesh."""

    index: np.ndarray  # (N,) frame indices
    landmarks_cam: np.ndarray  # (N, 33, 3) regressed from the mesh, camera frame, metres
    K: np.ndarray  # (N, 3, 3) the intrinsics the app placed the mesh with
    mp_px: np.ndarray  # (N, 33, 2) MediaPipe's 2D landmarks of the followed person
    mp_conf: np.ndarray  # (N, 33) min(visibility, presence)
    mp_world: np.ndarray  # (N, 33, 3) MediaPipe's world landmarks (hip-centred, metres)


def run_app(
    video: str,
    config: PipelineConfig,
    pick_xy: tuple[float, float] | None,
    smoothing: Mapping[str, float] | None = None,
) -> AppTrack:
    """The app's session on `video` (batch: every frame), following the person at `pick_xy`;
    `smoothing`: `SessionConfig` smoothing fields (default: the live app's)."""
    from stdformer.body.body_model import load_body_model
    from stdformer.body.regressors import landmark_regressor
    from stdformer.session.session import Session, SessionConfig

    lreg = landmark_regressor(load_body_model(config.body_model)).numpy()  # (33, V)
    rows: list[tuple] = []

    def factory(cfg: PipelineConfig) -> LivePipeline:
        pipe = LivePipeline(cfg)
        if pick_xy is not None:
            pipe.localizer.request_subject_at(*pick_xy)
        return pipe

    def collect(result) -> None:
        for m in result.meshes:
            o = m.observation  # MediaPipe's own reading for its rows (the app un-flips some)
            o = unflip(o) if o.facing_flipped else o
            conf = np.minimum(o.visibility, o.presence)
            rows.append((m.index, lreg @ m.vertices_cam, m.K, o.landmarks_px[:, :2], conf,
                         o.world_landmarks))  # fmt: skip

    session = Session(
        SessionConfig(
            source=str(video), loop=False, pipeline=config, batch=True, **(smoothing or {})
        ),
        pipeline_factory=factory,
    )
    session.subscribe(collect, name="real-eval", every_frame=True, queue_size=100_000)
    session.run()  # in this thread; subscriptions are drained and closed when it returns
    if session.error:
        raise RuntimeError(session.error)
    rows.sort(key=lambda r: r[0])
    index = np.array([r[0] for r in rows], int)  # (N,)
    arrays = [np.array([r[k] for r in rows], np.float64) for k in range(1, 6)]
    if not rows:
        arrays = [np.zeros((0, *shape)) for shape in ((33, 3), (3, 3), (33, 2), (33,), (33, 3))]
    return AppTrack(index, *arrays)


def _ema(x: np.ndarray, index: np.ndarray, alpha: float = EMA) -> np.ndarray:
    """Causal EMA along axis 0, restarted where the frame index jumps."""
    out = x.copy()
    for i in range(1, len(x)):
        if index[i] == index[i - 1] + 1:
            out[i] = alpha * x[i] + (1 - alpha) * out[i - 1]
    return out


def _rootrel(x: np.ndarray) -> np.ndarray:
    return x - x[..., HIPS, :].mean(-2, keepdims=True)


def _pa(pred: np.ndarray, ref: np.ndarray) -> float:
    ok = np.isfinite(ref).all(-1) & np.isfinite(pred).all(-1)
    if ok.sum() < 6:
        return np.nan
    aligned = similarity_align(pred[ok][None], ref[ok][None])[0].numpy()
    return float(np.linalg.norm(aligned - ref[ok], axis=-1).mean())


def _mean_dist(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    d = np.linalg.norm(a - b, axis=-1)
    ok = np.isfinite(d) & (True if mask is None else mask)
    return float(d[ok].mean()) if ok.any() else np.nan


def stature(ref_world: np.ndarray) -> float:
    """Body height (m) of one person from the reference (T, 33, 3): leg (heel-ankle-knee-hip,
    mean of sides) + hip midpoint to shoulder midpoint + shoulder midpoint to eyes + 0.12 m
    (eyes to the top of the head); median over frames."""

    def seg(a: int, b: int) -> np.ndarray:
        return np.linalg.norm(ref_world[:, a] - ref_world[:, b], axis=-1)

    leg = 0.5 * (seg(29, 27) + seg(27, 25) + seg(25, 23) + seg(30, 28) + seg(28, 26) + seg(26, 24))
    hip, sh = ref_world[:, HIPS].mean(1), ref_world[:, [11, 12]].mean(1)
    eyes = ref_world[:, [2, 5]].mean(1)
    total = leg + np.linalg.norm(sh - hip, axis=-1) + np.linalg.norm(eyes - sh, axis=-1) + 0.12
    return float(np.nanmedian(total))


def facing_front(ref_cam: np.ndarray) -> np.ndarray:
    """(T,) True where the torso's forward normal (body-left x up) points toward the camera."""
    left = ref_cam[:, 11] - ref_cam[:, 12]  # right shoulder -> left shoulder
    up = ref_cam[:, [11, 12]].mean(1) - ref_cam[:, HIPS].mean(1)
    forward = np.cross(left, up)
    return (forward * -ref_cam[:, [11, 12, 23, 24]].mean(1)).sum(-1) > 0


def score_view_person(real: RealSet, v: int, p: int, track: AppTrack) -> dict[str, np.ndarray]:
    """Per-frame metrics (arrays over the track's scored frames) of every method."""
    cam = real.cameras[v]
    ref_world = real.reference.points[v, p]  # (T, 33, 3)
    idx = track.index
    ref_cam = cam.to_cam(ref_world[idx])  # (N, 33, 3)
    ref_px = cam.project(ref_world[idx])  # (N, 33, 2)
    # Which reference person the app follows at each frame: nearest reprojection in 2D.
    others = [q for q in range(real.reference.points.shape[1]) if q != p]

    def gap(q: int) -> np.ndarray:  # either way round: a front/back flip is the same person
        ref_px = cam.project(real.reference.points[v, q][idx])  # (N, 33, 2)
        gaps = []
        for labels in (slice(None), FLIP):
            d = np.linalg.norm(ref_px[:, labels] - track.mp_px, axis=-1)
            gaps.append(np.nanmedian(np.where(track.mp_conf > CONFIDENT, d, np.nan), axis=-1))
        return np.fmin(*gaps)

    height_px = cam.K[1, 1] * stature(ref_world) / ref_cam[:, HIPS, 2].mean(-1)  # (N,)
    with np.errstate(all="ignore"):
        mine = gap(p)
        # The followed person is p: MediaPipe's landmarks lie on p's reference (median within
        # FOLLOW_PCT of the body height) and on no other person's more closely.
        followed = mine < FOLLOW_PCT / 100 * height_px
        followed &= np.all([~(gap(q) < mine) for q in others], axis=0)
    valid = followed & (np.isfinite(ref_cam[:, LIMBS]).all(-1).sum(-1) >= 10)
    valid &= np.isfinite(ref_cam[:, HIPS]).all((-1, -2))
    preds = {
        "mediapipe": (track.mp_world, track.mp_px),
        "mediapipe+ema": (_ema(track.mp_world, idx), _ema(track.mp_px, idx)),
        "app": (track.landmarks_cam, None),
    }
    app_px = np.einsum("nij,nkj->nki", track.K, track.landmarks_cam)  # (N, 33, 3)
    preds["app"] = (track.landmarks_cam, app_px[..., :2] / app_px[..., 2:3])
    rr = _rootrel(ref_cam)
    out: dict[str, np.ndarray] = {"valid": valid, "front": facing_front(ref_cam), "index": idx}
    for name, (world, px) in preds.items():
        pr = _rootrel(world)
        keys = ("mpjpe", "pa", "mpjpe_all", "pa_all", "align_mp", "align_ref")
        m: dict[str, list[float]] = {k: [] for k in keys}
        for i in range(len(idx)):
            m["mpjpe"].append(_mean_dist(pr[i, LIMBS], rr[i, LIMBS]))
            m["pa"].append(_pa(pr[i, LIMBS], rr[i, LIMBS]))
            m["mpjpe_all"].append(_mean_dist(pr[i], rr[i]))
            m["pa_all"].append(_pa(pr[i], rr[i]))
            conf = track.mp_conf[i] > CONFIDENT
            to_mp = np.nan
            if name == "app":  # either way round (MediaPipe's front/back flips swap the labels)
                to_mp = min(_mean_dist(px[i], track.mp_px[i], conf),
                            _mean_dist(px[i, FLIP], track.mp_px[i], conf))  # fmt: skip
            m["align_mp"].append(to_mp / height_px[i])
            m["align_ref"].append(_mean_dist(px[i], ref_px[i]) / height_px[i])
        acc = np.full(len(idx), np.nan)
        for i in range(1, len(idx) - 1):  # three consecutive frames, all of this person
            if idx[i + 1] - idx[i - 1] == 2 and valid[i - 1 : i + 2].all():
                ap = pr[i + 1, LIMBS] - 2 * pr[i, LIMBS] + pr[i - 1, LIMBS]
                ar = rr[i + 1, LIMBS] - 2 * rr[i, LIMBS] + rr[i - 1, LIMBS]
                acc[i] = np.nanmean(np.linalg.norm(ap - ar, axis=-1))
        for k, vals in m.items():
            scale = 100.0 if k.startswith("align") else 1000.0
            out[f"{name}/{k}"] = scale * np.array(vals)
        out[f"{name}/accel"] = 1000.0 * acc
        # where the body is: the hips' midpoint in the camera (MediaPipe's world landmarks are
        # hip-centred, they place nobody)
        root = np.full(len(idx), np.nan)
        if name == "app":
            root = np.linalg.norm(world[:, HIPS].mean(1) - ref_cam[:, HIPS].mean(1), axis=-1)
        out[f"{name}/root"] = 1000.0 * root
    return out


def summarize(per_frame: list[dict[str, np.ndarray]], select: str = "all") -> dict:
    """Pool frames of several (view, person) scores: means of the 3D metrics, median and p90
    of the 2D alignment. `select`: 'all', 'front' or 'back' frames."""
    out: dict = {"frames": 0}
    keep = []
    for s in per_frame:
        k = s["valid"].copy()
        if select != "all":
            k &= s["front"] if select == "front" else ~s["front"]
        keep.append(k)
    out["frames"] = int(sum(k.sum() for k in keep))
    for name in METHODS:
        row = {}
        for metric in METRICS:
            vals = np.concatenate(
                [s[f"{name}/{metric}"][k] for s, k in zip(per_frame, keep, strict=True)]
            )
            vals = vals[np.isfinite(vals)]
            if metric.startswith("align"):
                row[f"{metric}_median"] = float(np.median(vals)) if vals.size else np.nan
                row[f"{metric}_p90"] = float(np.percentile(vals, 90)) if vals.size else np.nan
            else:
                row[metric] = float(vals.mean()) if vals.size else np.nan
        out[name] = row
    return out


def pick_point(real: RealSet, v: int, p: int) -> tuple[float, float] | None:
    """Pixel of person p's hip midpoint in view v at the first frame the reference has it."""
    hips = real.reference.points[v, p][:, HIPS].mean(1)  # (T, 3)
    ok = np.flatnonzero(np.isfinite(hips).all(-1))
    if not ok.size:
        return None
    uv = real.cameras[v].project(hips[ok[0]])
    w, h = real.cameras[v].size_wh
    return (float(uv[0]), float(uv[1])) if 0 <= uv[0] < w and 0 <= uv[1] < h else None


def score_real(
    real: RealSet,
    config: PipelineConfig,
    show: bool = True,
    smoothing: Mapping[str, float] | None = None,
) -> dict:
    """Run the app on every view for every person and score it (module doc). Returns
    {"rows": {"cam01/p0": summary, ...}, "front": ..., "back": ..., "all": ...}."""
    from tqdm import tqdm

    per: dict[str, dict[str, np.ndarray]] = {}
    jobs = [(v, p) for v in range(len(VIEWS)) for p in range(real.reference.points.shape[1])]
    for v, p in tqdm(jobs, "views x people", disable=not show):
        pick = pick_point(real, v, p)
        if pick is None:
            continue  # person never seen by the other views' reference
        track = run_app(str(real.videos[v]), config, pick, smoothing)
        if len(track.index):
            with warnings.catch_warnings():  # empty slices: frames without a reference point
                warnings.simplefilter("ignore", RuntimeWarning)
                per[f"{VIEWS[v]}/p{p}"] = score_view_person(real, v, p, track)
    rows = {k: {**summarize([s]), "front_pct": 100 * float(s["front"][s["valid"]].mean())
                if s["valid"].any() else np.nan} for k, s in per.items()}  # fmt: skip
    totals = {sel: summarize(list(per.values()), sel) for sel in ("front", "back", "all")}
    return {"rows": rows, **totals}


def format_real_table(results: dict) -> str:
    """One table: per view and person, then front / back / all totals; rows per method."""
    head = (f"{'group':15s} {'frames':>6s} {'method':14s} {'PA-limb':>8s} {'MPJPE-limb':>10s} "
            f"{'PA-all':>7s} {'MPJPE-all':>9s} {'accel':>6s} {'root':>5s} {'2D-mp med/p90':>14s} "
            f"{'2D-ref med/p90':>15s}")  # fmt: skip
    lines = [head, "-" * len(head)]
    groups = [(k, r) for k, r in results["rows"].items()]
    groups += [(f"total {sel}", results[sel]) for sel in ("front", "back", "all")]
    for name, row in groups:
        if name.startswith("total") and not lines[-1].startswith("-"):
            lines.append("-" * len(head))
        label = name if "front_pct" not in row else f"{name} {row['front_pct']:3.0f}%F"
        for k, method in enumerate(METHODS):
            r = row[method]
            mp = ("" if method != "app" else
                  f"{r['align_mp_median']:.1f}/{r['align_mp_p90']:.1f}")  # fmt: skip
            ref = f"{r['align_ref_median']:.1f}/{r['align_ref_p90']:.1f}"
            lines.append(
                f"{label if k == 0 else '':15s} {row['frames'] if k == 0 else '':>6} {method:14s} "
                f"{r['pa']:8.1f} {r['mpjpe']:10.1f} {r['pa_all']:7.1f} {r['mpjpe_all']:9.1f} "
                f"{r['accel']:6.1f} {r['root']:5.0f} {mp:>14s} {ref:>15s}"
            )
    lines.append(
        "mm; accel mm/frame^2 (limbs); root: the hips' midpoint's distance to the reference's in "
        "the camera (the field of view and the body's size set it); "
        "2D alignment % of body height (median/p90 over frames): "
        "mp = vs MediaPipe's confident 2D, ref = vs the held-out reference reprojected; "
        "limb = 12 limb joints, all = 33 landmarks; %F = share of front-facing frames"
    )
    return "\n".join(lines)
