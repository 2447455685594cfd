"""The one configuration system: frozen dataclasses filled from the command line (main.py).

Each stage keeps its own small config next to its code (e.g. `LocalizerConfig` in
`stdformer.live.localize`); `AppConfig` composes them for a run of the app or the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stdformer.live.localize import LocalizerConfig


@dataclass(frozen=True)
class AppConfig:
    """Everything a run needs. `source=None` means: first working camera, else the sample clip."""

    source: str | None = None
    loop: bool = True  # restart a video file at its end instead of stopping
    localizer: LocalizerConfig = field(default_factory=LocalizerConfig)
    body_model: str | None = None
    weights: str | None = None
    device: str = "auto"  # "auto" (CUDA when present), "cpu", "cuda", "cuda:1", ...
    quit_after_s: float | None = None
    stats_json: str | None = None
    max_camera_index: int = 3  # camera indices probed: 0 .. max_camera_index
