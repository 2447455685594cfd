"""`SessionCore.step(frame) -> SessionResult`: every per-frame decision, in one place.

Synchronous and thread-free: localize and predict (the pipeline), smooth the mesh, decide what
a view shows while the subject comes and goes (mesh fade), count. The GUI's session thread
(`stdformer.session.session.Session`), `main.py process` (through the same `Session`),
`main.py evaluate --video` and the tests all call this one method::

    core = SessionCore(LivePipeline(config.pipeline), config)
    for frame in source:
        result = core.step(frame)

A step has two halves: `observe(frame)` (localize: the detector, the slowest stage) and
`complete(observed)` (network, body, smoothing, fade, counters); `step` is both. The threaded
driver runs them in two threads so the next frame is localized while this one is completed
(`SessionConfig.overlap`); each half keeps its own state, so either threading gives the same
results.

Changes while running (follow another person, smoothing strength) are commands
(`core.send(PickSubject(x, y))`), queued from any thread and applied before the next step's
half they concern, so a step never sees a half-changed setting.

Each `SessionResult` is frozen and its arrays are read-only: one result is shared by every
subscriber. Timings use the clock given to the core (`clock_ns`, default `perf_counter_ns`).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np

from stdformer.inference.smoothing import MeshSmoother
from stdformer.render.display_mesh import DisplayLod
from stdformer.session.fade import MeshFade, SubjectState
from stdformer.session.pipeline import PipelineConfig
from stdformer.types import Frame, MeshResult, Observation

# The body fitted to the image follows MediaPipe's 2D jitter. Chosen on the real multi-view set
# (60 fps, model card in assets/README.md): live, strength 0.1 across the image (depth 0.5) keeps
# the overlay on the person (median/p90 1.5/4.0 % of body height, front) at accel 20.8
# mm/frame^2 (0.25 in x, y, z: 1.9/4.9 %, 17.7); `process` adds a 0.25 s lag (zero phase):
# 1.2/4.4 %, accel 13.5, PA-MPJPE 84.8 vs 87.1 mm. With the lag the filter no longer trails
# fast motion, so `process` smooths harder (0.3, and `ZERO_PHASE_BETA`): real set (the frames
# the tracker of the release before followed) front / back PA-MPJPE 82.2 -> 81.3 / 73.4 ->
# 72.6 mm, accel 8.1 -> 7.0 / 6.1 -> 5.2, overlay median / p90 1.3 / 2.0 -> 1.5 / 2.3 %;
# held-out renders PA 41.7 -> 42.0 (full), accel 4.7 -> 3.2.
DEFAULT_SMOOTHING = 0.1
PROCESS_SMOOTHING = 0.3
PROCESS_SMOOTHING_LAG_S = 0.25
# `process` also lets the network read 3 frames past the one it meshes (its window position
# 5 of 8 instead of the newest): real set front / back PA-MPJPE 82.6 -> 81.8 / 78.5 -> 78.4,
# MPJPE 136.9 -> 131.4 / 135.5 -> 136.1; held-out renders full body 49.9 -> 48.5, knees cut
# 44.9 -> 44.1, upper body 69.8 -> 69.5 (2 frames: 82.1 / 78.4, renders 48.7 / 44.3; 4 frames:
# 81.9 / 78.6, renders 48.6 / 44.4).
PROCESS_NETWORK_LOOKAHEAD = 3

if TYPE_CHECKING:
    from stdformer.session.capture import CaptureStatus
    from stdformer.session.pipeline import LivePipeline

RATE_WINDOW = 120  # steps over which `processed_fps` is measured


@dataclass(frozen=True)
class SessionConfig:
    """One run: where frames come from, the pipeline, and how the mesh is shown."""

    source: str = "sample"  # camera index, video file, image folder, or "sample"
    loop: bool = True  # restart a file at its end
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    smoothing: float = DEFAULT_SMOOTHING  # One-Euro strength in [0, 1] on the mesh; 0 = off
    smoothing_lag_s: float = 0.0  # > 0: zero-phase smoothing, meshes come this much later
    batch: bool = False  # a file: every frame, as fast as possible (not paced, none dropped)
    # localize the next frame in a second thread while this one completes; None: on 2+ CPUs
    # (`stdformer.session.session.overlap_enabled`)
    overlap: bool | None = None
    # the last mesh stays this long after the subject is lost (as long as a miss may keep the
    # track, `PipelineConfig.max_gap_s`: no fade that the track's next mesh then undoes)...
    hold_s: float = 0.2
    fade_s: float = 0.5  # ...then fades out over this long


@dataclass(frozen=True)
class SessionCounters:
    """Running counts of the session, as of the result that carries them."""

    frames_seen: int
    frames_with_person: int
    frames_with_mesh: int
    frames_dropped: int  # replaced in the capture mailbox before the session took them
    capture_fps: float
    processed_fps: float


@dataclass(frozen=True)
class SessionResult:
    """Everything the session knows about one frame. Shared by all subscribers: do not modify
    the arrays (they are read-only); copy before drawing into them."""

    frame: Frame
    observation: Observation | None  # the main subject, None when not in view
    meshes: tuple[MeshResult, ...]  # completed by this frame, oldest first (smoothed)
    display_mesh: MeshResult | None  # what a view draws now (newest, or fading after a loss)
    display_alpha: float  # opacity in [0, 1] for display_mesh
    subject: SubjectState  # "tracking", "lost" (mesh fading) or "absent"
    faces: np.ndarray | None  # (F, 3) int64 topology of every mesh; None without weights
    timings_ms: Mapping[str, float]  # this frame: localize, mesh
    latency_ms: float  # capture -> result
    counters: SessionCounters
    buffer_fill: int  # frames in the network's window (0 without weights)
    buffer_size: int  # the window length T (0 without weights)
    display_lod: DisplayLod | None = None  # the lighter mesh views draw; None: full `faces`
    device: str = ""  # where the network runs ("" without weights)
    # With look-ahead K the mesh is K frames behind `frame`: the frame it belongs to and that
    # frame's observation (None: `frame`). Views draw `display_frame` and
    # `display_observation`, so the overlay and the landmarks sit on the person in the video.
    lagged: tuple[Frame, Observation | None] | None = None
    # People found in `frame`, the subject included: with no `observation`, someone else may
    # still be in view (the followed person left or was lost; a click follows another).
    people_in_view: int = 0

    @property
    def display_frame(self) -> Frame:
        """The frame a view draws under `display_mesh` (the video and the overlay's camera)."""
        return self.frame if self.lagged is None else self.lagged[0]

    @property
    def display_observation(self) -> Observation | None:
        """The subject in `display_frame` (landmarks and box drawn over the video)."""
        return self.observation if self.lagged is None else self.lagged[1]


@dataclass(frozen=True)
class PickSubject:
    """Follow the person under frame pixel (x, y) from the next frame on (`at_s` > 0: from the
    first frame at or after that media time, e.g. someone who enters a file later)."""

    x_px: float
    y_px: float
    at_s: float = 0.0


@dataclass(frozen=True)
class SetSmoothing:
    """Change the One-Euro strength of the mesh (from the next mesh on)."""

    strength: float

    def __post_init__(self) -> None:
        MeshSmoother(self.strength)  # out of range: ValueError in the sender's thread


Command = PickSubject | SetSmoothing


@dataclass(frozen=True)
class Observed:
    """The first half of a step: the frame and who is in it (`SessionCore.observe`)."""

    frame: Frame
    observation: Observation | None
    timings_ms: dict[str, float]
    capture: CaptureStatus | None
    people: int = 0  # people found in the frame, the subject included


class SessionCore:
    """Frame in, `SessionResult` out (module doc). Use it from one thread; `send` from any."""

    def __init__(
        self,
        pipeline: LivePipeline,
        config: SessionConfig,
        clock_ns: Callable[[], int] = time.perf_counter_ns,
    ) -> None:
        self.pipeline = pipeline
        self._clock_ns = clock_ns
        self._reposer = None if pipeline.predictor is None else pipeline.predictor.refiner
        self._lag_s = config.smoothing_lag_s
        self._lag_frames = pipeline.config.lookahead  # the look-ahead is the smoother's
        self._network_lag = pipeline.config.network_lookahead
        self._smoother = self._new_smoother(config.smoothing)
        self._fade = MeshFade(config.hold_s, config.fade_s)
        self._picks: deque[PickSubject] = deque()  # append/popleft are atomic
        self._settings: deque[SetSmoothing] = deque()
        self._faces = None if pipeline.faces is None else _read_only(pipeline.faces)
        predictor = pipeline.predictor
        self.device = "" if predictor is None else str(predictor.device)
        self.mesh_status = pipeline.mesh_status  # how the mesh is produced, or why not
        self._seen = self._with_person = self._with_mesh = 0
        self._last_seen_ns: int | None = None  # the subject's last frame (None: no track)
        self._step_ns: deque[int] = deque(maxlen=RATE_WINDOW)
        # (frame, observation) of the last steps the look-aheads (smoother's and network's)
        # span, plus a short miss they may hold meshes across (`max_gap_s`, at up to 60 fps),
        # plus this one, for `SessionResult.lagged` (frames of a 4K source are 25 MB each:
        # without a look-ahead only this one is kept)
        lag = self._lag_frames + self._network_lag
        gap = math.ceil(pipeline.config.max_gap_s * 60) if lag else 0
        self._recent: deque[tuple[Frame, Observation | None]] = deque(maxlen=lag + gap + 1)

    def send(self, command: Command) -> None:
        """Queue a command (any thread); it applies before the next step."""
        if isinstance(command, PickSubject):
            self._picks.append(command)
        elif isinstance(command, SetSmoothing):
            self._settings.append(command)
        else:
            raise TypeError(f"not a session command: {command!r}")

    def _new_smoother(self, strength: float) -> MeshSmoother:
        return MeshSmoother(strength, self._lag_s, self._reposer, self._lag_frames)

    def _apply_settings(self) -> list[MeshResult]:
        """Apply queued setting changes; returns meshes a replaced smoother still held."""
        held: list[MeshResult] = []
        while self._settings:
            command = self._settings.popleft()
            if command.strength != self._smoother.strength:
                held += self._smoother.flush()
                self._smoother = self._new_smoother(command.strength)
        return held

    def step(self, frame: Frame, capture: CaptureStatus | None = None) -> SessionResult:
        """Process one frame. `capture`: the capture's state, for the counters (None: a frame
        handed in directly, nothing dropped)."""
        return self.complete(self.observe(frame, capture))

    def observe(self, frame: Frame, capture: CaptureStatus | None = None) -> Observed:
        """The first half of `step`: apply picks, localize the subject."""
        while self._picks and self._picks[0].at_s * 1e9 <= frame.t_ns:
            pick = self._picks.popleft()
            self.pipeline.localizer.request_subject_at(pick.x_px, pick.y_px)
        found = self.pipeline.localize(frame)
        return Observed(frame, found.observation, found.timings_ms, capture, found.people)

    def complete(self, observed: Observed) -> SessionResult:
        """The second half of `step`: meshes, smoothing, what views show, counters."""
        frame, capture = observed.frame, observed.capture
        smoothed = self._apply_settings()
        done, mesh_ms = self.pipeline.mesh(frame, observed.observation)
        for mesh in done:
            smoothed += self._smoother.push(mesh)
        observation = observed.observation
        if observation is not None:
            self._last_seen_ns = frame.t_ns
        elif self.pipeline.config.track_lost(self._last_seen_ns, frame.t_ns):
            # lost, not a short miss (as the pipeline decides): a new track starts from its own
            # first mesh
            smoothed += self._smoother.flush()
            self._last_seen_ns = None
        meshes = tuple(_frozen_mesh(m) for m in smoothed)
        shown = self._fade.update(frame.t_ns, observation is not None, meshes)
        now_ns = self._clock_ns()
        self._seen += 1
        self._with_person += observation is not None
        self._with_mesh += bool(meshes)
        self._step_ns.append(now_ns)
        frame.image_bgr.setflags(write=False)
        self._recent.append((frame, observation))
        buffer = None if self.pipeline.predictor is None else self.pipeline.predictor.buffer
        return SessionResult(
            frame=frame,
            observation=observation,
            meshes=meshes,
            display_mesh=shown.mesh,
            display_alpha=shown.alpha,
            subject=shown.state,
            faces=self._faces,
            timings_ms=MappingProxyType({**observed.timings_ms, **mesh_ms}),
            latency_ms=(now_ns - frame.wall_ns) / 1e6,
            counters=SessionCounters(
                frames_seen=self._seen,
                frames_with_person=self._with_person,
                frames_with_mesh=self._with_mesh,
                frames_dropped=0 if capture is None else capture.frames_dropped,
                capture_fps=0.0 if capture is None else capture.fps,
                processed_fps=self._rate(),
            ),
            buffer_fill=0 if buffer is None else len(buffer),
            buffer_size=0 if buffer is None else buffer.T,
            display_lod=self.pipeline.display_lod,
            device=self.device,
            lagged=self._frame_under(shown.mesh),
            people_in_view=observed.people,
        )

    def _frame_under(self, mesh: MeshResult | None) -> tuple[Frame, Observation | None] | None:
        """The recent step `mesh` was made from; without one (no mesh, or a held mesh older
        than the recent steps) the step the smoother's look-ahead is behind by, so the video
        does not jump when a mesh comes or goes. None: the newest step."""
        if mesh is not None:
            for i, step in enumerate(reversed(self._recent)):
                if step[0].index == mesh.index:
                    return None if i == 0 else step
        lag = self._network_lag + (self._smoother.lag_frames if self._smoother.strength > 0 else 0)
        return self._recent[max(0, len(self._recent) - 1 - lag)] if lag else None

    def finish(self, last: SessionResult) -> SessionResult | None:
        """At the end of the input: `last` again with the meshes the smoother still holds
        (look-ahead and smoothing lag), or None when none are."""
        smoothed = [m for owed in self.pipeline.flush() for m in self._smoother.push(owed)]
        smoothed += self._smoother.flush()
        if not smoothed:
            return None
        meshes = tuple(_frozen_mesh(m) for m in smoothed)
        lagged = self._frame_under(meshes[-1])
        return dataclasses.replace(last, meshes=meshes, display_mesh=meshes[-1], lagged=lagged)

    def _rate(self) -> float:
        """Steps per second over the recent window (0 when there is no rate yet)."""
        t = self._step_ns
        if len(t) < 2 or t[-1] <= t[0]:
            return 0.0
        return (len(t) - 1) / ((t[-1] - t[0]) / 1e9)


def _read_only(array: np.ndarray) -> np.ndarray:
    out = np.array(array, copy=True)
    out.setflags(write=False)
    return out


def _frozen_mesh(mesh: MeshResult) -> MeshResult:
    """The mesh with read-only arrays (it is shared by every subscriber)."""
    for array in (mesh.vertices_cam, mesh.joints_cam, mesh.K, mesh.bbox_xyxy):
        array.setflags(write=False)
    return mesh
