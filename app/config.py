"""The app's run configuration, filled from the command line (main.py). No Qt here, so
main.py can parse and check arguments without importing Qt.

Each library stage keeps its own small frozen config next to its code (`LocalizerConfig` in
`stdformer.detect.localize`, `PipelineConfig` in `stdformer.session.pipeline`, `SessionConfig` in
`stdformer.session.session`); `AppConfig` composes them for one run of the app.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stdformer.session.pipeline import PipelineConfig, default_lookahead


@dataclass(frozen=True)
class AppConfig:
    """Everything a run needs. `source=None` means: first working camera, else the sample clip."""

    source: str | None = None
    loop: bool = True  # restart a video file at its end instead of stopping
    # the app's pipeline defaults: the library's, with the live look-ahead this machine gets
    pipeline: PipelineConfig = field(
        default_factory=lambda: PipelineConfig(lookahead=default_lookahead())
    )
    quit_after_s: float | None = None
    stats_json: str | None = None
    max_camera_index: int = 3  # camera indices probed: 0 .. max_camera_index
    vmc: str | None = None  # "HOST:PORT": stream the body (VMC protocol) from the start
