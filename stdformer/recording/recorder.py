"""The recorder: a session subscriber that streams every frame's result into a recording.

    recorder = Recorder("takes", recording_info(pipeline_config, "file clip.mp4", fps=30.0))
    recorder.attach(session)      # every-frame subscription; the file starts with the 1st result
    ...                           # session runs; recorder.status() for the GUI's status line
    recorder.detach(session)      # or session.stop(): the recording is closed cleanly

Each source frame gives exactly one record, in frame order. With look-ahead a mesh arrives
frames after its observation: the frame waits (with its JPEG, when the video is kept) until its
mesh comes, and is written without a mesh if the track ends first or the session stops. Writing
happens in the subscription's own thread, never in the capture loop; a disk error stops the
recording (reported by the session as a failed subscriber, frames so far kept on disk).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from stdformer import __version__
from stdformer.recording.convert import encode_jpeg, frame_record
from stdformer.recording.format import (
    POSED_BODIES,
    FrameRecord,
    RecordingError,
    RecordingInfo,
    file_sha256,
)
from stdformer.recording.writer import RecordingWriter
from stdformer.types import Observation

if TYPE_CHECKING:
    from stdformer.session.core import SessionResult
    from stdformer.session.pipeline import PipelineConfig
    from stdformer.session.session import Session
    from stdformer.session.subscribers import Subscription

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecorderStatus:
    """What the GUI shows while recording."""

    path: Path | None  # None until the first result arrives
    frames: int
    bytes_written: int
    elapsed_s: float
    error: str | None
    closed: bool


def recording_info(
    pipeline: PipelineConfig,
    source: str,
    fps: float,
    image_size_wh: tuple[int, int] | None = None,
    **extra: object,
) -> RecordingInfo:
    """Header facts for a run of `pipeline` on `source`: body model and weights identity, and in
    `extra` the body the run recorded (`body`: refined / fit / raw; `hidden_legs`: the pose given
    to legs out of view) before any `extra` of the caller's.

    `fps` <= 0 (a camera) means: the capture rate measured when the first result arrives.
    """
    from stdformer.paths import MissingFileError, resolve_file

    body = resolve_file("body_model", pipeline.body_model)
    try:
        weights: Path | None = resolve_file("weights", pipeline.weights)
    except MissingFileError:
        weights = None  # landmarks only (the pipeline says so too)
    return RecordingInfo(
        fps=float(fps),
        source=source,
        image_size_wh=image_size_wh,
        body_model=body.name,
        body_model_sha256=file_sha256(body),
        weights=None if weights is None else weights.name,
        weights_sha256="" if weights is None else file_sha256(weights),
        lookahead=pipeline.lookahead,
        software_version=f"stdformer-live {__version__}",
        extra={
            "body": pipeline.body_output,
            "hidden_legs": pipeline.hidden_legs,
            "network_lookahead": pipeline.network_lookahead,
            **extra,
        },
    )


class Recorder:
    """Session subscriber writing one recording folder under `parent` (module docstring)."""

    def __init__(
        self,
        parent: str | os.PathLike[str],
        info: RecordingInfo,
        record_source: bool = False,
        stem: str | None = None,
        queue_size: int = 256,
    ) -> None:
        self.parent, self.info, self.stem = Path(parent), info, stem
        self.record_source, self.queue_size = record_source, queue_size
        self.writer: RecordingWriter | None = None
        self.error: str | None = None
        # frame index -> (t_ns, observation, jpeg): frames waiting for their look-ahead mesh
        self._pending: OrderedDict[int, tuple[int, Observation | None, bytes | None]] = (
            OrderedDict()
        )
        self._last_index = -1  # the newest frame handed in (the session's end repeats it)
        self._n_vertices = self._n_joints = 0
        self._t0: float | None = None
        self._t_end: float | None = None
        self._lock = threading.Lock()  # status() from the GUI thread vs the writer thread
        self.subscription: Subscription[SessionResult] | None = None

    # ------------------------------------------------------------------ session wiring
    def attach(self, session: Session) -> Subscription[SessionResult]:
        """Subscribe to every result of `session`; the recording closes when it stops."""
        self.subscription = session.subscribe(
            self.on_result,
            name="recorder",
            every_frame=True,
            queue_size=self.queue_size,
            on_close=self.close,
        )
        return self.subscription

    def detach(self, session: Session, timeout_s: float = 5.0) -> None:
        """Stop recording (the session goes on): results already queued are still written."""
        if self.subscription is not None:
            self.subscription.close(timeout_s)  # drain the queue, then `close` runs
            session.unsubscribe(self.subscription)
        self.close()

    @property
    def dropped(self) -> int:
        """Results the session dropped because this recorder fell `queue_size` behind."""
        return 0 if self.subscription is None else self.subscription.dropped

    # ------------------------------------------------------------------ per result
    def on_result(self, result: SessionResult) -> None:
        """Write what `result` completes (runs in the subscription thread)."""
        if self.error is not None:
            return
        try:
            self._on_result(result)
        except RecordingError as exc:
            self.error = str(exc)
            raise  # the session reports the failed subscriber and detaches it

    def _on_result(self, result: SessionResult) -> None:
        frame, obs = result.frame, result.observation
        if self.writer is None:
            self._start(result)
        # At the end the session hands the last frame again with the meshes still owed: only
        # those are new (the frame itself was written or is waiting already)
        again = frame.index <= self._last_index
        self._last_index = max(self._last_index, frame.index)
        jpeg = encode_jpeg(frame.image_bgr) if self.record_source else None
        for mesh in result.meshes:  # oldest first
            self._flush_pending(before=mesh.index)
            _, _, mesh_jpeg = self._pending.pop(mesh.index, (0, None, None))
            if mesh.index == frame.index:
                mesh_jpeg = jpeg
            self._write(
                frame_record(
                    mesh.index,
                    mesh.t_ns,
                    mesh.observation,
                    mesh,
                    self._n_vertices,
                    self._n_joints,
                    mesh_jpeg,
                )
            )
        if again or any(m.index == frame.index for m in result.meshes):
            return
        waiting = any(o is not None for _, o, _ in self._pending.values())
        if (obs is not None and result.faces is not None) or waiting:
            # its mesh comes later, or earlier frames still wait for theirs (a short miss keeps
            # the track: their meshes may come after this frame): written in order with them
            self._pending[frame.index] = (frame.t_ns, obs, jpeg)
            return
        self._flush_pending(before=frame.index + 1)  # frames without the person behind them
        rec = frame_record(
            frame.index, frame.t_ns, obs, None, self._n_vertices, self._n_joints, jpeg
        )
        self._write(rec)

    def _start(self, result: SessionResult) -> None:
        faces = np.zeros((0, 3), np.int32) if result.faces is None else result.faces
        mesh = result.meshes[0] if result.meshes else None
        self._n_vertices = 0 if result.faces is None else int(result.faces.max()) + 1
        self._n_joints = 24 if mesh is None else len(mesh.joints_cam)
        info = self.info
        if info.image_size_wh is None:
            info = replace(info, image_size_wh=result.frame.size_wh)
        if not info.fps > 0:  # a camera: its measured rate (timing truth stays in each t_ns)
            measured = result.counters.capture_fps
            info = replace(info, fps=float(measured) if measured > 0 else 30.0)
        writer = RecordingWriter.create(
            self.parent,
            info,
            faces,
            self._n_vertices,
            self._n_joints,
            stem=self.stem,
            record_source=self.record_source,
            # a posed body gives its vertices from its parameters: 1.6 KB a frame, not 166
            store_vertices=info.extra.get("body") not in POSED_BODIES,
        )
        with self._lock:
            self.writer, self._t0 = writer, time.monotonic()

    def _flush_pending(self, before: int) -> None:
        """Write the waiting frames older than `before` without a mesh (their track ended)."""
        while self._pending and next(iter(self._pending)) < before:
            index, (t_ns, obs, jpeg) = self._pending.popitem(last=False)
            self._write(
                frame_record(index, t_ns, obs, None, self._n_vertices, self._n_joints, jpeg)
            )

    def _write(self, rec: FrameRecord) -> None:
        if self.writer is None:  # _start runs before any write; this is a programming error
            raise RuntimeError("Recorder._write before the recording started")
        self.writer.write(rec)

    # ------------------------------------------------------------------ closing, status
    def close(self) -> None:
        """Write the frames still waiting for a mesh, then close the file; safe to call twice."""
        writer = self.writer
        if writer is None or writer.closed:
            return
        self._t_end = time.monotonic()
        try:
            if self.error is None:
                self._flush_pending(before=np.iinfo(np.int64).max)
                writer.close()
        except RecordingError as exc:
            self.error = str(exc)
            log.error("recording: %s", exc)

    def status(self) -> RecorderStatus:
        with self._lock:
            w, t0 = self.writer, self._t0
        end = self._t_end if self._t_end is not None else time.monotonic()
        return RecorderStatus(
            path=None if w is None else w.path,
            frames=0 if w is None else w.frames_written,
            bytes_written=0 if w is None else w.bytes_written,
            elapsed_s=0.0 if t0 is None else end - t0,
            error=self.error or (None if w is None else w.error),
            closed=w is not None and w.closed,
        )
