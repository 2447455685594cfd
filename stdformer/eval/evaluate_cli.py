"""`python main.py evaluate`: the metrics table on held-out renders, or on any video.

    python main.py evaluate                      # held-out corpus, every method, table
    python main.py evaluate --json out.json      # also write the numbers as JSON
    python main.py evaluate --video clip.mp4     # footage without ground truth
    python main.py evaluate --real               # real multi-view footage (tools/build_real_set.py)

Held-out mode: see `stdformer.eval.evaluate`. Real mode: see `stdformer.eval.real_score` (the
app's session on each view of a calibrated 4-camera take, scored against a reference
triangulated from the other three views, beside raw MediaPipe and an EMA of it).
Video mode runs the app's pipeline on every frame and reports coverage (frames with a mesh /
frames), 2D alignment (mean distance between the mesh's projected landmark points and the
detector's confident landmarks, % of the person box height) and jitter (mean vertex
acceleration in the camera frame, mm/frame^2).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
from tqdm import tqdm

from stdformer.body.mesh_levels import default_cache_dir
from stdformer.inference.predictor import DEFAULT_FOV_DEG
from stdformer.session.options import (
    add_pipeline_args,
    add_smoothing_args,
    pipeline_config_from_args,
    smoothing_from_args,
)
from stdformer.session.pipeline import LIVE_LOOKAHEAD, PipelineConfig

METHODS = (
    "stdformer", "stdformer+2", "static-T1", "refined", "app", "app-process", "mediapipe-world",
    "fit-per-frame",
)  # fmt: skip
# The app's own body (refined, live and `process` smoothing): fed what its localizer passes on.
APP_METHODS = ("refined", "app", "app-process")


def evaluate_heldout(
    weights: str | None, folder: Path, methods, fit_iters: int, show: bool,
    limit: int | None = None, hidden_legs: str = "seated", fov_deg: float = DEFAULT_FOV_DEG,
):  # fmt: skip
    from stdformer.body.body_model import load_body_model
    from stdformer.body.mesh_levels import mesh_levels_for_body
    from stdformer.data.corpus import load_corpus
    from stdformer.data.simulate import inside_image, project
    from stdformer.eval import evaluate as ev
    from stdformer.model.checkpoint import load_model
    from stdformer.session.pipeline import choose_weights

    clips = load_corpus(folder)[:limit]
    if not clips:
        raise FileNotFoundError(
            f"no held-out clips in {folder}: run `python tools/make_corpus.py --split heldout "
            "--count 48` first"
        )
    body = load_body_model()
    path = choose_weights(weights)
    if path is None and any(m.startswith(("stdformer", "static")) for m in methods):
        raise FileNotFoundError("no network weights: pass --weights or ship assets weights")
    model = load_model(mesh_levels_for_body(body), path) if path else None
    scores = {m: {g: ev.Scores() for g in (*ev.GROUPS, "all")} for m in methods}
    for clip in tqdm(clips, "held-out clips", disable=not show):
        gt_v, gt_j, pelvis_cam = ev.truth(body, clip)
        obs = ev.observations(clip)
        seen = ev.as_the_app_sees(obs)  # the app's methods: what its localizer passes on
        inside = inside_image(project(gt_j + pelvis_cam, clip.K), tuple(clip.size_wh))
        group = next(g for g, fr in ev.GROUPS.items() if clip.framing in fr)
        for m in methods:
            seen_by = seen if m in APP_METHODS else obs
            out = _run(m, model, body, clip, seen_by, fit_iters, hidden_legs, fov_deg)
            for g in (group, "all"):
                ev.score_clip(scores[m][g], out, gt_v, gt_j, inside, g == "upper", pelvis_cam)
    return {m: {g: s.summary() for g, s in per.items()} for m, per in scores.items()}, len(clips)


def _run(method, model, body, clip, obs, fit_iters, hidden_legs="seated", fov_deg=DEFAULT_FOV_DEG):
    from stdformer.eval import evaluate as ev

    if method in ("stdformer", "stdformer+2", "static-T1", *APP_METHODS):
        from stdformer.session import core

        look = {"stdformer+2": 2, "app-process": core.PROCESS_NETWORK_LOOKAHEAD}.get(method, 0)
        output = "raw" if method.startswith(("stdformer", "static")) else "refined"
        # "app": the live session's smoothing (its look-ahead from 2 CPUs); "app-process":
        # `process`'s (with its lag)
        smoothing = {
            "app": (core.DEFAULT_SMOOTHING, 0.0, LIVE_LOOKAHEAD),
            "app-process": (core.PROCESS_SMOOTHING, core.PROCESS_SMOOTHING_LAG_S, 0),
        }.get(method)
        static = method == "static-T1"
        return ev.run_network(
            model, body, obs, look, static, output, smoothing, hidden_legs, fov_deg
        )
    det = clip.detected
    joints = np.full((len(det), 14, 3), np.nan)
    if method == "mediapipe-world":
        joints[det] = ev.mediapipe_joints(clip.world_landmarks[det])
        return ev.Outputs(joints, None)
    verts = np.full((len(det), body.num_vertices, 3), np.nan, np.float32)
    if det.any():
        verts[det] = ev.fit_per_frame(body, clip.world_landmarks[det], fit_iters)
        from stdformer.body.regressors import eval_joint_regressor

        joints[det] = np.einsum("jv,nvc->njc", eval_joint_regressor(body).numpy(), verts[det])
    return ev.Outputs(joints, verts)


def evaluate_video(
    path: str, cfg: PipelineConfig, show: bool, smoothing: Mapping[str, float] | None = None
) -> dict:
    """Coverage, 2D alignment and jitter of the session's meshes on every frame of `path`:
    the app's per-frame step (`SessionCore.step`: smoothing and track resets included)."""
    from collections import deque

    from stdformer.body.body_model import load_body_model
    from stdformer.body.regressors import landmark_regressor
    from stdformer.session.core import SessionConfig, SessionCore, SessionResult
    from stdformer.session.pipeline import LivePipeline
    from stdformer.session.sources import open_source

    lreg = landmark_regressor(load_body_model(cfg.body_model)).numpy()  # (33, V)
    frames = with_mesh = 0
    align, acc = [], []
    recent: deque[np.ndarray] = deque(maxlen=3)  # last meshes of the current track
    with LivePipeline(cfg) as pipe, open_source(path) as source:
        if pipe.predictor is None:
            raise FileNotFoundError("no network weights: pass --weights or ship assets weights")
        config = SessionConfig(source=path, loop=False, pipeline=cfg, **(smoothing or {}))
        core = SessionCore(pipe, config)

        def results() -> Iterator[SessionResult]:
            nonlocal frames
            last = None
            for frame in tqdm(source, "frames", disable=not show):
                frames += 1
                last = core.step(frame)
                yield last
            final = None if last is None else core.finish(last)  # meshes still owed
            if final is not None:
                yield final

        for res in results():
            for mesh in res.meshes:
                with_mesh += 1
                obs = mesh.observation
                lm_cam = lreg @ mesh.vertices_cam  # (33, 3)
                uv = lm_cam[:, :2] / lm_cam[:, 2:3] * np.diag(mesh.K)[:2] + mesh.K[:2, 2]
                ok = (obs.visibility > 0.5) & (obs.presence > 0.5)
                height = max(float(obs.bbox_xyxy[3] - obs.bbox_xyxy[1]), 1.0)
                if ok.any():
                    d = np.linalg.norm(uv[ok] - obs.landmarks_px[ok, :2], axis=-1).mean()
                    align.append(100 * d / height)
                recent.append(mesh.vertices_cam)
                if len(recent) == 3:
                    a = recent[2] - 2 * recent[1] + recent[0]
                    acc.append(1000 * float(np.linalg.norm(a, axis=-1).mean()))
            if res.observation is None:
                recent.clear()  # a new track starts: no acceleration across the gap
    return {
        "frames": frames,
        "coverage": 100 * with_mesh / max(frames, 1),
        "align_pct_box": float(np.mean(align)) if align else math.nan,
        "jitter_mm": float(np.mean(acc)) if acc else math.nan,
    }


def evaluate_real(args: argparse.Namespace) -> dict:
    from stdformer.eval.real_build import load_real_set
    from stdformer.eval.real_score import format_real_table, score_real
    from stdformer.session.pipeline import choose_weights

    if choose_weights(args.weights) is None:
        raise FileNotFoundError("no network weights: pass --weights or ship assets weights")
    config = pipeline_config_from_args(args)
    t0 = time.perf_counter()
    real = load_real_set()  # the reference always comes from the embedded pose model
    results = score_real(real, config, show=not args.quiet, smoothing=smoothing_from_args(args))
    results["reference"] = real.stats
    results["seconds"] = round(time.perf_counter() - t0, 1)
    print(format_real_table(results))
    print(f"{len(results['rows'])} view x person runs in {results['seconds']:.0f} s")
    return results


def format_table(results: dict) -> str:
    cols = ("mpjpe", "pa_mpjpe", "mpvpe", "accel", "root", "coverage")
    lines = []
    for group in ("all", "full", "knees", "upper"):
        extra = ("pa_visible", "legs_ok") if group == "upper" else ()
        head = f"{group:6s} {'method':16s}" + "".join(f"{c:>10s}" for c in (*cols, *extra))
        lines += [head, "-" * len(head)]
        for method, per in results.items():
            row = per.get(group, {})
            lines.append(
                f"{'':6s} {method:16s}"
                + "".join(f"{row.get(c, math.nan):10.1f}" for c in (*cols, *extra))
            )
        lines.append("")
    lines.append(
        "mm (coverage, legs_ok: %); accel in mm/frame^2; root: the pelvis's distance to the "
        "truth's in the camera; nan = not applicable"
    )
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    from stdformer.session.core import DEFAULT_SMOOTHING

    p = argparse.ArgumentParser(prog="main.py evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("--heldout", type=Path, default=default_cache_dir() / "corpus" / "heldout")
    p.add_argument("--video", help="evaluate on this video (no ground truth) instead")
    p.add_argument("--real", action="store_true", help="real multi-view footage instead")
    p.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    p.add_argument("--fit-iters", type=int, default=80, help="per-frame fit iterations")
    p.add_argument("--limit", type=int, help="only the first N held-out clips (quick checks)")
    p.add_argument("--json", type=Path, help="write the results here")
    p.add_argument("-q", "--quiet", action="store_true")
    # --weights for both modes; all of them for --video and --real, whose default look-ahead is
    # the live session's from 2 CPUs (not this machine's: the same numbers everywhere)
    add_pipeline_args(p, lookahead=LIVE_LOOKAHEAD)
    add_smoothing_args(p, DEFAULT_SMOOTHING, 0.0)  # --video, --real: as live (see `process`)
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging, native log lines")
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
    logging.getLogger("OpenGL").setLevel(logging.WARNING)
    try:
        if args.real:
            results = evaluate_real(args)
        elif args.video:
            results = evaluate_video(
                args.video, pipeline_config_from_args(args), not args.quiet,
                smoothing_from_args(args),
            )  # fmt: skip
            print(", ".join(f"{k} {v:.2f}" for k, v in results.items()))
        else:
            results, n = evaluate_heldout(
                args.weights, args.heldout, args.methods, args.fit_iters, not args.quiet,
                args.limit, args.hidden_legs, args.fov,
            )  # fmt: skip
            print(f"held-out clips: {n} ({args.heldout})")
            print(format_table(results))
    except (FileNotFoundError, ValueError, OSError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0
