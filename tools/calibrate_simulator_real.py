"""Fit the observation simulator on *real* MediaPipe errors: the real multi-view set.

    python tools/calibrate_simulator_real.py [--out stdformer/data/sim_calibration_real.json]

The shipped calibration (`tools/calibrate_simulator.py`) is fitted on rendered people; real
people differ (clothing, motion blur, lighting), and weights trained on the render-calibrated
simulator lost on real footage (assets/README.md). Here the "truth" of each view is the
reference triangulated from the *other three* views (`main.py evaluate --real`, built by
`tools/build_real_set.py`), the detections are the app's own localizer following that person
in that view; frames where the detections are of another person or the reference is
incomplete are left out. The result is written as a `SimCalibration` json (training configs
name it with `calibration = ...`) and printed beside the render calibration.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import _bootstrap  # noqa: F401
import numpy as np
from tqdm import tqdm

from stdformer.data.simulate import CALIBRATION_FILE, SimCalibration, calibrate

REAL_CALIBRATION = CALIBRATION_FILE.with_name("sim_calibration_real.json")
FIELDS = ("landmarks_px", "visibility", "presence", "world_landmarks")
TORSO = (11, 12, 23, 24)  # shoulders and hips: needed for the box, depth and world centring
MIN_KNOWN = 25  # of 33 reference landmarks (the rest are NaN and left out of the fit)


def view_person_sample(real, v: int, p: int) -> dict[str, np.ndarray] | None:
    """Detections of person p in view v against the reference built without view v."""
    from stdformer.detect.localize import LocalizerConfig, PersonLocalizer
    from stdformer.eval.real_score import FOLLOW_PCT, HIPS, pick_point, stature
    from stdformer.session.sources import open_source

    pick = pick_point(real, v, p)
    if pick is None:
        return None
    cam, ref_world = real.cameras[v], real.reference.points[v, p]  # (T, 33, 3)
    found = []
    with PersonLocalizer(LocalizerConfig()) as loc, open_source(str(real.videos[v])) as src:
        loc.request_subject_at(*pick)
        for frame in src:
            found.append(loc.process(frame))
    T = min(len(found), len(ref_world))
    gt_cam = cam.to_cam(ref_world[:T])  # (T, 33, 3)
    gt_px = cam.project(ref_world[:T])  # (T, 33, 2)
    height_px = cam.K[1, 1] * stature(ref_world) / gt_cam[:, HIPS, 2].mean(-1)  # (T,)
    arrays = {k: np.zeros((T, 33, 3 if k == "landmarks_px" else 1)) for k in FIELDS}
    arrays["world_landmarks"] = np.zeros((T, 33, 3))
    detected = np.zeros(T, bool)
    for t, obs in enumerate(found[:T]):
        known = np.isfinite(gt_cam[t]).all(-1)  # (33,) landmarks the other views triangulated
        if obs is None or not known[list(TORSO)].all() or known.sum() < MIN_KNOWN:
            continue
        gap = np.nanmedian(np.linalg.norm(obs.landmarks_px[:, :2] - gt_px[t], axis=-1))
        if not gap < FOLLOW_PCT / 100 * height_px[t]:
            continue  # another person, or a wild detection
        detected[t] = True
        for k in FIELDS:
            arrays[k][t] = np.asarray(getattr(obs, k)).reshape(arrays[k][t].shape)
    arrays["visibility"] = arrays["visibility"][..., 0]
    arrays["presence"] = arrays["presence"][..., 0]
    gt_cam[~detected] = 1.0  # frames left out: finite filler (landmarks left NaN stay NaN)
    return {"gt_cam": gt_cam, "K": cam.K, "size_wh": cam.size_wh, "detected": detected, **arrays}


def main(argv: list[str] | None = None) -> int:
    from stdformer.eval.real_build import load_real_set
    from stdformer.eval.real_set import VIEWS

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=REAL_CALIBRATION)
    args = p.parse_args(argv)
    real = load_real_set()
    jobs = [(v, q) for v in range(len(VIEWS)) for q in range(real.reference.points.shape[1])]
    samples = []
    for v, q in tqdm(jobs, "views x people"):
        s = view_person_sample(real, v, q)
        if s is not None and s["detected"].sum() > 10:
            samples.append(s)
    rendered = SimCalibration.load()
    cal = calibrate(samples, ["real"] * len(samples))
    # The take shows whole people: nothing outside the image. Those numbers come from the
    # renders, 2D spread scaled by the real/rendered ratio measured inside the image.
    ratio = cal.std_in.mean() / rendered.std_in.mean()
    cal = dataclasses.replace(
        cal,
        std_out=np.maximum(rendered.std_out * ratio, cal.std_in),
        vis_out=rendered.vis_out,
        pres_out=rendered.pres_out,
        miss_rate=rendered.miss_rate,
    )
    cal.save(args.out)
    print(f"{len(samples)} view x person tracks, {cal.n_frames} frames -> {args.out}")
    rows = [
        ("2D std inside / box side", rendered.std_in.mean(), cal.std_in.mean()),
        ("2D std outside / box side", rendered.std_out.mean(), cal.std_out.mean()),
        ("2D |bias| / box side", np.abs(rendered.bias).mean(), np.abs(cal.bias).mean()),
        ("2D lag-1 correlation", rendered.rho, cal.rho),
        ("relative depth gain", rendered.z_gain, cal.z_gain),
        ("relative depth std / box", rendered.z_std.mean(), cal.z_std.mean()),
        ("world std (m)", rendered.world_std.mean(), cal.world_std.mean()),
        ("world map scale", np.linalg.det(rendered.world_map) ** (1 / 3),
         np.linalg.det(cal.world_map) ** (1 / 3)),
        ("left/right swap rate", rendered.swap_rate, cal.swap_rate),
        ("visibility inside", rendered.vis_in[:, 0].mean(), cal.vis_in[:, 0].mean()),
    ]  # fmt: skip
    print(f"{'':28s} {'renders':>9s} {'real':>9s}")
    for name, a, b in rows:
        print(f"{name:28s} {a:9.4f} {b:9.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
