"""Frame in -> person + body mesh out: the one pipeline the GUI and the headless CLI drive.

`LivePipeline.process(frame)` localizes the main subject (`localize`, with a `PoseDetector`:
MediaPipe's `PersonLocalizer` unless another is given) and, when network weights are
available, pushes the observation through the streaming `Predictor` to get the body mesh in
camera coordinates (`mesh`); the session runs the two halves in two threads.
Without weights (none given and none shipped yet) it runs localization only and says so in
`mesh_status`; it never runs a network with random weights.
"""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from stdformer.body.body_model import load_body_model
from stdformer.body.levels import MeshLevels
from stdformer.detect.detector import PoseDetector
from stdformer.detect.localize import LocalizerConfig, PersonLocalizer
from stdformer.inference.predictor import DEFAULT_FOV_DEG
from stdformer.inference.refine import BodyOutput, HiddenLegs
from stdformer.paths import ASSETS, MissingFileError, resolve_file, resolve_optional_file
from stdformer.render.display_mesh import DisplayLevel, DisplayLod
from stdformer.types import Frame, MeshResult, Observation

if TYPE_CHECKING:
    from stdformer.body.body_model import BodyModel
    from stdformer.model.stdformer import STDFormer

log = logging.getLogger(__name__)

# The smoother's look-ahead live (`default_lookahead`): one frame. Its backward pass removes the
# causal filter's lag and most of its jitter for a frame of latency. Real multi-view set (60 fps,
# `main.py evaluate --real --lookahead K`), front / back, K = 0 -> 1 -> 2: accel 11.2 / 7.6 ->
# 9.7 / 6.9 -> 8.7 / 6.3 mm/frame^2, PA-MPJPE 82.6 / 79.6 -> 82.2 / 78.8 -> 82.0 / 78.4, overlay
# median 1.7 / 1.6 -> 1.5 / 1.5 -> 1.4 / 1.4 %; held-out renders (30 fps), all framings, K = 0 ->
# 1: PA-MPJPE 58.9 -> 58.1, MPVPE 138.1 -> 137.3, accel 5.6 -> 4.3. `bench_live.py` (2-core AMD
# EPYC with AVX-512, 640x480 at 30 fps): latency p50 38 -> 74 ms, within two frame intervals plus
# the detector's 18 ms; on one core (no overlap) 67 -> 115 ms at 26.7 -> 24.7 fps, so one CPU
# goes without.
LIVE_LOOKAHEAD = 1


def several_cpus() -> bool:
    """Whether this process may run on two or more CPUs: the live session then overlaps its
    stages (`session.overlap_enabled`) and looks a frame ahead (`default_lookahead`). The CPUs
    it is allowed (`taskset`, containers) where the OS says (Linux), else the machine's."""
    if hasattr(os, "sched_getaffinity"):  # not on macOS or Windows
        return len(os.sched_getaffinity(0)) >= 2
    return (os.cpu_count() or 1) >= 2


def default_lookahead() -> int:
    """The live session's look-ahead when none is asked for: `LIVE_LOOKAHEAD` frames from two
    CPUs (this process's), none on one (its latency and frame rate cost too much there)."""
    return LIVE_LOOKAHEAD if several_cpus() else 0


@dataclass(frozen=True)
class PipelineConfig:
    localizer: LocalizerConfig = field(default_factory=LocalizerConfig)
    body_model: str | None = None  # None: $STDFORMER_BODY_MODEL, then the embedded body
    weights: str | None = None  # None: $STDFORMER_WEIGHTS, then the shipped weights if present
    mesh_levels: str | None = None  # None: computed from the body (official weights need METRO's)
    device: str = "auto"
    # frames of latency spent on a smoother mesh: the session's smoother looks this many frames
    # ahead (zero phase over them; `MeshSmoother.lag_frames`); the network's own look-ahead is
    # `network_lookahead`. The app's default is `default_lookahead()` (main.py, the window).
    lookahead: int = 0
    # frames of future context the network reads (its meshes come this many frames later):
    # `process`, which has no latency budget, reads PROCESS_NETWORK_LOOKAHEAD (session.core)
    network_lookahead: int = 0
    cpu_threads: int | None = 1  # torch threads on the CPU: leave cores to MediaPipe + renderer
    display_level: DisplayLevel = "mid"  # mesh level the live views draw (recordings: full)
    body_output: BodyOutput = "refined"  # refined body (default), fitted body, or raw network
    hidden_legs: HiddenLegs = "seated"  # legs out of view below a desk: seated or standing
    fov_deg: float = DEFAULT_FOV_DEG  # the camera's, across the image's long side (placement)
    # The subject missed for at most this long (MediaPipe lost them for a few frames) keeps its
    # track: network window, body fit and smoothing go on instead of starting over (real set
    # live PA-MPJPE front / back 83.5 -> 82.7 / 80.3 -> 79.5 mm; 0.4 s the same, 0.1 s 82.8 /
    # 79.8). Longer, or another person: a fresh track.
    max_gap_s: float = 0.2

    def track_lost(self, last_seen_ns: int | None, t_ns: float) -> bool:
        """No track, or its subject missed for longer than `max_gap_s` at media time `t_ns`
        (the one rule the pipeline, the session core and the evaluation's replay share)."""
        return last_seen_ns is None or t_ns - last_seen_ns > self.max_gap_s * 1e9


@dataclass(frozen=True)
class Localized:
    """Who is in one frame (`LivePipeline.localize`)."""

    observation: Observation | None  # the main subject; None: not in view
    people: int  # people found, the subject included (someone else may be in view without it)
    timings_ms: dict[str, float]


@dataclass(frozen=True)
class PipelineResult:
    frame: Frame
    observation: Observation | None
    meshes: tuple[MeshResult, ...]  # done this step (this frame's, or earlier ones' with
    # the network's look-ahead); none without weights or a person
    timings_ms: dict[str, float]
    people: int = 0  # people found in the frame, the subject included


def choose_weights(explicit: str | None) -> Path | None:
    """The one place that decides which network weights a run uses.

    `explicit` (--weights), then $STDFORMER_WEIGHTS, then the shipped file. None when nothing is
    named and nothing ships: the run shows landmarks only (never a network with random
    weights). A named file that is missing raises MissingFileError.
    """
    try:
        return resolve_file("weights", explicit or None)
    except MissingFileError:
        if explicit or os.environ.get(ASSETS["weights"].env_var):
            raise  # the user named this file (option or variable): tell them it is missing
        return None


@dataclass(frozen=True)
class MeshStage:
    """What the mesh needs, loaded and checked against each other."""

    weights: Path
    body: BodyModel
    model: STDFormer  # on the CPU, eval mode
    levels: MeshLevels


def load_mesh_stage(config: PipelineConfig) -> MeshStage | None:
    """Load the body model, mesh levels and network `config` names; None without weights.

    Every named file is fully read and checked (a body model named without weights too), so
    main.py calls this before any window opens. Raises MissingFileError or BadFileError.
    """
    weights = choose_weights(config.weights)
    if weights is None:
        if config.body_model:  # still check the file the user named
            load_body_model(config.body_model)
        return None
    from stdformer.body.mesh_levels import mesh_levels_for_body
    from stdformer.model.checkpoint import load_model

    body = load_body_model(config.body_model)
    levels_file = resolve_optional_file("mesh_levels", config.mesh_levels)
    levels = MeshLevels.load(levels_file) if levels_file else mesh_levels_for_body(body)
    return MeshStage(weights, body, load_model(levels, weights), levels)


def _make_localizer(config: LocalizerConfig) -> PersonLocalizer:
    localizer = PersonLocalizer(config)
    log.debug("pose detector ready")  # start-up milestone (benchmarks/bench_startup.py)
    return localizer


class LivePipeline:
    """Owns the detector and (optionally) the body model + predictor; one thread at a time."""

    def __init__(
        self,
        config: PipelineConfig | None = None,
        stage: MeshStage | None = None,
        detector: PoseDetector | None = None,
    ) -> None:
        """`stage`: the mesh stage already loaded for `config` (main.py's input check loads it
        before the window opens; the first run reuses it instead of loading it again).
        `detector`: who finds the subject (None: MediaPipe, `config.localizer`); the pipeline
        owns it and closes it."""
        self.config = config or PipelineConfig()
        self.predictor = None
        self._subject_id: int | None = None  # whose track the predictor holds
        self._last_seen_ns: int | None = None  # when it was last in view (None: no track)
        self.faces: np.ndarray | None = None  # (F, 3) int64 of the body the mesh uses
        self.display_lod: DisplayLod | None = None  # the lighter mesh the views draw
        self.mesh_status = ""
        if detector is None:
            # MediaPipe builds its graph in its own thread (~0.3 s without the GIL): the mesh
            # stage is set up meanwhile. A detector error is reported first, as before.
            with ThreadPoolExecutor(1, thread_name_prefix="load-detector") as pool:
                made = pool.submit(_make_localizer, self.config.localizer)
                try:
                    self._load_mesh_stage(stage)
                except BaseException:
                    if made.exception() is None:
                        made.result().close()
                    else:
                        made.result()  # raises the detector's error
                    raise
                detector = made.result()
        else:
            try:
                self._load_mesh_stage(stage)
            except BaseException:
                detector.close()
                raise
        self.localizer: PoseDetector = detector

    def _load_mesh_stage(self, stage: MeshStage | None) -> None:
        stage = stage if stage is not None else load_mesh_stage(self.config)
        if stage is None:
            self.mesh_status = "no trained weights found: showing landmarks only"
            log.info("%s (pass --weights PATH to enable the body mesh)", self.mesh_status)
            return
        from stdformer.inference.predictor import Predictor, PredictorConfig
        from stdformer.inference.refine import BodyRefiner, RefineConfig

        refiner = None
        if self.config.body_output != "raw":
            refine = RefineConfig(self.config.body_output, hidden_legs=self.config.hidden_legs)
            refiner = BodyRefiner(stage.body, refine)
        self.predictor = Predictor(
            stage.model,
            PredictorConfig(
                lookahead=self.config.network_lookahead,
                device=self.config.device,
                fov_deg=self.config.fov_deg,
                cpu_threads=self.config.cpu_threads,
                trace="background",  # the first mesh is not held up by tracing
            ),
            joint_regressor=np.asarray(stage.body.J_regressor, dtype=np.float32),  # (24, V)
            refiner=refiner,
        )
        self.faces = np.asarray(stage.body.faces, dtype=np.int64)
        self.display_lod = DisplayLod.for_body(
            stage.body.v_template, stage.body.faces, self.config.display_level
        )
        self.mesh_status = f"body mesh from {stage.weights.name} on {self.predictor.device}"

    def process(self, frame: Frame) -> PipelineResult:
        """Localize and mesh one frame (`localize` then `mesh`)."""
        found = self.localize(frame)
        meshes, mesh_ms = self.mesh(frame, found.observation)
        return PipelineResult(
            frame, found.observation, tuple(meshes), {**found.timings_ms, **mesh_ms}, found.people
        )

    def localize(self, frame: Frame) -> Localized:
        """The main subject in `frame` (None: not in view), how many people are, and the
        timing. Touches only the localizer, so it may run in another thread than `mesh` (one
        frame ahead)."""
        t0 = time.perf_counter()
        obs = self.localizer.process(frame)
        ms = (time.perf_counter() - t0) * 1e3
        return Localized(obs, self.localizer.people_found(), {"localize": ms})

    def mesh(
        self, frame: Frame, obs: Observation | None
    ) -> tuple[list[MeshResult], dict[str, float]]:
        """The meshes done with `frame` (oldest first) and their timing: `frame`'s own, or,
        with the network's look-ahead, an earlier frame's, plus a lost track's last ones.
        None without weights, nor while a track's first frames wait for their future."""
        if self.predictor is None:
            return [], {}
        done = []
        if obs is None:  # missed: the track goes on unless that lasts over max_gap_s
            last = self._last_seen_ns
            if last is not None and self.config.track_lost(last, frame.t_ns):
                done = self.predictor.flush()
                self.predictor.reset()
                self._last_seen_ns = None
            return done, {}
        if self._last_seen_ns is None or obs.subject_id != self._subject_id:
            # Subject lost or another person followed: a fresh track (network window, body fit)
            # so one person's frames never mix into another's.
            done = self.predictor.flush()
            self.predictor.reset()
        self._subject_id, self._last_seen_ns = obs.subject_id, obs.t_ns
        t0 = time.perf_counter()
        mesh = self.predictor.push(obs, frame.image_bgr)
        done += [] if mesh is None else [mesh]
        return done, {"mesh": (time.perf_counter() - t0) * 1e3}

    def flush(self) -> list[MeshResult]:
        """End of the input: the meshes the network's look-ahead still owes, oldest first."""
        return [] if self.predictor is None else self.predictor.flush()

    def reset(self) -> None:
        self.localizer.reset()
        self._subject_id = self._last_seen_ns = None
        if self.predictor is not None:
            self.predictor.reset()

    def close(self) -> None:
        self.localizer.close()

    def __enter__(self) -> LivePipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
