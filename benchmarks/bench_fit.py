"""Body fit to the network's meshes: our `BodyFitter` / `BodyRefiner` against smplfitter.

    nice -n 10 python benchmarks/bench_fit.py [--clips heldout sample] [--no-smplfitter]

Network meshes come from the shipped weights (`Predictor` without a refiner: the raw output)
on the held-out test clip (`tests/data/heldout_clip_arm_raise.npz`, its stored detections) and
on the embedded sample clip (localized once; observations cached under
~/.cache/stdformer/bench/). Prints, one BLAS and one torch thread as main.py runs:
1. live: `BodyRefiner` "fit" and "refined" per frame, warm-started, after the betas settle:
   wall and thread-CPU ms (median, p90); vertex and J_regressor-joint distance to the raw mesh
   (mean, p90); 2D distance of the 33 landmarks to MediaPipe's confident ones (px).
2. offline: `BodyFitter.fit_vertices` from scratch on batches of 32 (betas shared per batch).
3. smplfitter 0.6.0 (MIT, optional, `pip install smplfitter==0.6.0`) on the same meshes: its
   PyTorch `BodyFitter` with an SMPL file written from our default body into a temporary folder.
The machine is shared: compare CPU ms (`time.thread_time`), which load distorts least.
"""

from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import tempfile
import time
from pathlib import Path

import _bootstrap  # noqa: F401
import numpy as np
import torch
from threadpoolctl import threadpool_limits

from stdformer.body.fit import BodyFitter
from stdformer.body.regressors import landmark_regressor
from stdformer.body.smpl_file import read_smpl_file
from stdformer.inference.predictor import Predictor, PredictorConfig
from stdformer.inference.refine import BodyRefiner, RefineConfig
from stdformer.inference.smoothing import MeshSmoother
from stdformer.paths import ASSETS_DIR, REPO_ROOT
from stdformer.session.core import DEFAULT_SMOOTHING, PROCESS_SMOOTHING, PROCESS_SMOOTHING_LAG_S
from stdformer.session.pipeline import PipelineConfig, load_mesh_stage
from stdformer.types import MeshResult, Observation

CACHE = Path.home() / ".cache" / "stdformer" / "bench"
HELDOUT = REPO_ROOT / "tests" / "data" / "heldout_clip_arm_raise.npz"
BATCH = 32
OBS_FIELDS = ("landmarks_px", "visibility", "presence", "world_landmarks", "bbox_xyxy",
              "crop_xyxy")  # fmt: skip


def machine() -> str:
    out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    info = dict(ln.split(":", 1) for ln in out.splitlines() if ":" in ln)
    avx512 = "avx512f" in info.get("Flags", "")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"CPU {info.get('Model name', '?').strip()}, {os.cpu_count()} cores, "
            f"avx512 {'yes' if avx512 else 'no'}; load average {load}")  # fmt: skip


def stats(ms: list[float]) -> str:
    return f"{np.median(ms):6.2f} / {np.percentile(ms, 90):6.2f}" if ms else "  n/a"


# ----------------------------------------------------------------------------- inputs
def heldout_observations() -> list[Observation | None]:
    from stdformer.data.corpus import load_clip
    from stdformer.eval.evaluate import observations

    return observations(load_clip(HELDOUT))


def sample_observations() -> list[Observation | None]:
    """The sample clip localized once (MediaPipe VIDEO mode), cached as arrays."""
    path = CACHE / "sample_clip_observations.npz"
    if not path.exists():
        from stdformer.detect.localize import PersonLocalizer
        from stdformer.session.sources import open_source

        found: list[Observation | None] = []
        with PersonLocalizer() as loc, open_source(ASSETS_DIR / "sample_clip.mp4") as src:
            while (frame := src.read()) is not None:
                found.append(loc.process(frame))
        ok = np.array([o is not None for o in found])
        hit = [o for o in found if o is not None]
        arrays = {f: np.stack([getattr(o, f) for o in hit]) for f in OBS_FIELDS}
        meta = np.array([[*o.image_size_wh, o.t_ns, o.index] for o in hit], np.int64)
        CACHE.mkdir(parents=True, exist_ok=True)
        np.savez(CACHE / "tmp_obs.npz", ok=ok, meta=meta, **arrays)
        os.replace(CACHE / "tmp_obs.npz", path)
    with np.load(path) as z:
        a = {k: z[k] for k in z.files}
    out: list[Observation | None] = []
    for ok in a["ok"]:
        i = sum(o is not None for o in out)
        w, h, t_ns, index = (int(x) for x in a["meta"][i]) if ok else (0, 0, 0, 0)
        out.append(Observation(*(a[f][i] for f in OBS_FIELDS), (w, h), t_ns, index) if ok else None)
    return out


def raw_meshes(stage, obs: list[Observation | None]) -> list[tuple[int, MeshResult]]:
    """(track id, raw network mesh) per detected frame, streamed as the pipeline does."""
    jreg = np.asarray(stage.body.J_regressor, np.float32)
    pred = Predictor(stage.model, PredictorConfig(cpu_threads=1), jreg, refiner=None)
    out, track = [], 0
    for o in obs:
        if o is None:
            pred.reset()
            track += 1
        else:
            out.append((track, pred.push(o)))
    return out


# ----------------------------------------------------------------------------- measures
class Scorer:
    """Distances of meshes (N, V, 3) to the raw network meshes and to MediaPipe's 2D."""

    def __init__(self, body) -> None:
        self.jreg = np.asarray(body.J_regressor, np.float64)  # (24, V)
        self.lm = landmark_regressor(body).numpy().astype(np.float64)  # (33, V)

    def to_raw(self, verts: np.ndarray, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dv = np.linalg.norm(verts - raw, axis=-1) * 1e3  # (N, V) mm
        dj = np.linalg.norm(self.jreg @ verts - self.jreg @ raw, axis=-1) * 1e3  # (N, 24)
        return dv, dj

    def aligned(self, verts: np.ndarray, raw: np.ndarray) -> np.ndarray:
        """(N, V) mm vertex distances with each mesh's centroid moved onto the raw's (what
        placement leaves: pose and shape)."""
        shift = raw.mean(1, keepdims=True) - verts.mean(1, keepdims=True)  # (N, 1, 3)
        return np.linalg.norm(verts + shift - raw, axis=-1) * 1e3

    def px(self, verts: np.ndarray, meshes: list[MeshResult]) -> np.ndarray:
        """Pixel distances of the 33 projected landmarks to MediaPipe's confident ones."""
        d = []
        for v, m in zip(verts, meshes, strict=True):
            o = m.observation
            p = (m.K @ (self.lm @ v.astype(np.float64)).T).T  # (33, 3)
            uv = p[:, :2] / p[:, 2:]
            w, h = o.image_size_wh
            ok = np.minimum(o.visibility, o.presence) >= 0.5
            ok &= (o.landmarks_px[:, 0] >= 0) & (o.landmarks_px[:, 0] < w)
            ok &= (o.landmarks_px[:, 1] >= 0) & (o.landmarks_px[:, 1] < h)
            d.append(np.linalg.norm(uv - o.landmarks_px[:, :2], axis=-1)[ok])
        return np.concatenate(d)


def mm(d: np.ndarray) -> str:
    return f"{d.mean():6.1f} / {np.percentile(d, 90):6.1f}"


def live(body, tracked: list[tuple[int, MeshResult]], sc: Scorer) -> None:
    raw = np.stack([m.vertices_cam for _, m in tracked]).astype(np.float64)
    meshes = [m for _, m in tracked]
    print(f"  raw network mesh: 2D landmarks {mm(sc.px(raw, meshes))} px (mean / p90)")
    for output in ("fit", "refined"):
        ref = BodyRefiner(body, RefineConfig(output=output))
        wall, cpu, keep, verts, last, age = [], [], [], [], None, 0
        fitted = []
        for track, m in tracked:
            if track != last:
                ref.reset()
                last, age = track, 0
            t0, c0 = time.perf_counter(), time.thread_time()
            res = ref(m)
            t1, c1 = time.perf_counter(), time.thread_time()
            verts.append(res.vertices_cam)
            fitted.append((track, res))
            age += 1
            if age > ref.config.settle_frames:
                wall.append((t1 - t0) * 1e3)
                cpu.append((c1 - c0) * 1e3)
                keep.append(len(verts) - 1)
        v = np.stack(verts).astype(np.float64)[keep]
        dv, dj = sc.to_raw(v, raw[keep])
        print(f"  {output:8s} ({len(keep)} settled frames): wall {stats(wall)} ms, "
              f"CPU {stats(cpu)} ms (median / p90)")  # fmt: skip
        print(f"           to raw: vertices {mm(dv)} mm, joints {mm(dj)} mm (mean / p90), "
              f"centroid-aligned vertices {mm(sc.aligned(v, raw[keep]))} mm; "
              f"2D landmarks {mm(sc.px(v, [meshes[i] for i in keep]))} px")  # fmt: skip
        if output == "refined":
            smoothing(ref, fitted)


def smoothing(ref: BodyRefiner, fitted: list[tuple[int, MeshResult]]) -> None:
    """CPU of the session's smoothing of the refined bodies (ray One-Euro + re-posing the body
    onto the smoothed mesh): live (no lag) and as `process` runs it (0.25 s lag)."""
    modes = (
        ("live", DEFAULT_SMOOTHING, 0.0),
        ("process", PROCESS_SMOOTHING, PROCESS_SMOOTHING_LAG_S),
    )
    for name, strength, lag in modes:
        smoother, last, cpu = None, None, []
        for track, m in fitted:
            if track != last:
                smoother = MeshSmoother(strength, lag, reposer=ref)
                last = track
            c0 = time.thread_time()
            smoother.push(m)
            cpu.append((time.thread_time() - c0) * 1e3)
        print(f"  smoothing {name} (strength {strength}, lag {lag} s, body re-posed): "
              f"CPU {stats(cpu)} ms per frame (median / p90)")  # fmt: skip


def batches(verts: np.ndarray) -> list[np.ndarray]:
    return [verts[i : i + BATCH] for i in range(0, len(verts) - BATCH + 1, BATCH)]


def offline(body, verts: np.ndarray, sc: Scorer) -> None:
    fitter = BodyFitter(body)
    wall = cpu = 0.0
    dv, dj = [], []
    for b in batches(verts):
        t0, c0 = time.perf_counter(), time.thread_time()
        fit = fitter.fit_vertices(b)
        wall, cpu = wall + time.perf_counter() - t0, cpu + time.thread_time() - c0
        d = sc.to_raw(fitter.vertices(fit).astype(np.float64), b)
        dv.append(d[0])
        dj.append(d[1])
    n = len(dv) * BATCH
    print(f"  BodyFitter.fit_vertices, {len(dv)} batches of {BATCH} from scratch: "
          f"wall {wall / n * 1e3:.2f} ms/frame, CPU {cpu / n * 1e3:.2f} ms/frame")  # fmt: skip
    print(f"           to raw: vertices {mm(np.concatenate(dv))} mm, "
          f"joints {mm(np.concatenate(dj))} mm")  # fmt: skip


# ----------------------------------------------------------------------------- smplfitter
def smpl_folder(tmp: Path) -> Path:
    """Our default body as smplfitter's SMPL file, plus the all-zero kid template it reads."""
    arr = read_smpl_file(ASSETS_DIR / "default_body.npz")
    (tmp / "smpl").mkdir()
    with open(tmp / "smpl" / "basicmodel_neutral_lbs_10_207_0_v1.1.0.pkl", "wb") as f:
        pickle.dump(arr.as_struct_dict(), f)
    np.save(tmp / "smpl" / "kid_template.npy", np.zeros_like(arr.v_template))
    return tmp / "smpl"


def smplfitter_bench(body, verts: np.ndarray, sc: Scorer) -> None:
    try:
        import smplfitter.pt as sf
    except ImportError:
        print("  smplfitter not installed (`pip install smplfitter==0.6.0`, MIT): skipped")
        return
    jreg = np.asarray(body.J_regressor, np.float32)  # (24, V)
    ids = BodyFitter(body, vertex_budget=1024).mesh_points.vertex_ids
    with tempfile.TemporaryDirectory() as tmp:
        root = str(smpl_folder(Path(tmp)))
        full = sf.BodyModel("smpl", "neutral", model_root=root)
        # An explicit vertex subset needs a post-LBS joint regressor of the subset (smplfitter
        # trains one offline; without it, fit() fails on the full-width J_regressor): give it
        # the column slice (its own fallback) and the target joints regressed from full meshes.
        sub = sf.BodyModel("smpl", "neutral", model_root=root, vertex_subset=ids,
                           joint_regressor_post_lbs=jreg[:, ids])  # fmt: skip
    for name, bm, sel in ((f"all {full.num_vertices} vertices", full, None),
                          (f"{len(ids)} spread vertices + joints", sub, ids)):  # fmt: skip
        fitter = sf.BodyFitter(bm)

        def fit(v: np.ndarray, shape=None, iters: int = 1, fitter=fitter, sel=sel) -> dict:
            target = torch.as_tensor(v if sel is None else v[:, sel], dtype=torch.float32)
            joints = None if sel is None else torch.as_tensor(jreg @ v.astype(np.float32))
            keys = ["pose_rotvecs", "shape_betas", "trans"]
            if shape is None:
                return fitter.fit(target, joints, num_iter=iters, share_beta=True,
                                  requested_keys=keys)  # fmt: skip
            return fitter.fit_with_known_shape(shape, target, joints, num_iter=iters,
                                               requested_keys=keys[::2])  # fmt: skip

        for iters in (1, 3):
            wall = cpu = 0.0
            out = []
            for b in batches(verts):
                t0, c0 = time.perf_counter(), time.thread_time()
                r = fit(b, iters=iters)
                wall, cpu = wall + time.perf_counter() - t0, cpu + time.thread_time() - c0
                out.append(full(r["pose_rotvecs"], r["shape_betas"], r["trans"])["vertices"])
            n = len(out) * BATCH
            dv, dj = sc.to_raw(torch.cat(out).numpy().astype(np.float64), verts[:n])
            print(f"  smplfitter fit, {name}, num_iter={iters}, batches of {BATCH}: "
                  f"wall {wall / n * 1e3:.2f}, CPU {cpu / n * 1e3:.2f} ms/frame")  # fmt: skip
            print(f"           to raw: vertices {mm(dv)} mm, joints {mm(dj)} mm")
        # Live-like: one frame at a time with the shape known (the last batch's). No warm
        # start: its `initial_pose_rotvecs` (experimental) drifted away frame by frame here.
        shape = r["shape_betas"][:1]
        wall_f, cpu_f, out = [], [], []
        for v in verts:
            t0, c0 = time.perf_counter(), time.thread_time()
            r = fit(v[None], shape)
            wall_f.append((time.perf_counter() - t0) * 1e3)
            cpu_f.append((time.thread_time() - c0) * 1e3)
            out.append(full(r["pose_rotvecs"], shape, r["trans"])["vertices"][0].numpy())
        dv, dj = sc.to_raw(np.stack(out).astype(np.float64), verts)
        print(f"  smplfitter fit_with_known_shape, {name}, 1 frame: wall {stats(wall_f)}"
              f" ms, CPU {stats(cpu_f)} ms (median / p90)")  # fmt: skip
        print(f"           to raw: vertices {mm(dv)} mm, joints {mm(dj)} mm")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", nargs="+", default=["heldout", "sample"],
                        choices=["heldout", "sample"])  # fmt: skip
    parser.add_argument("--no-smplfitter", action="store_true")
    args = parser.parse_args()
    threadpool_limits(1, user_api="blas")
    torch.set_num_threads(1)
    print(machine())
    stage = load_mesh_stage(PipelineConfig())
    if stage is None:
        raise SystemExit("no network weights (assets/stdformer_landmarks.pt): nothing to fit")
    sc = Scorer(stage.body)
    for clip in args.clips:
        obs = heldout_observations() if clip == "heldout" else sample_observations()
        tracked = raw_meshes(stage, obs)
        verts = np.stack([m.vertices_cam for _, m in tracked]).astype(np.float64)
        print(f"\n{clip} clip: {len(obs)} frames, {len(tracked)} network meshes")
        with torch.inference_mode():
            live(stage.body, tracked, sc)
            offline(stage.body, verts, sc)
            if not args.no_smplfitter:
                smplfitter_bench(stage.body, verts, sc)


if __name__ == "__main__":
    main()
