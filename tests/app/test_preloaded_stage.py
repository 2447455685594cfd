"""The mesh stage main.py loads while checking the inputs is the one the first run uses (it is
not loaded twice); later runs, or runs naming other files, load their own."""

from __future__ import annotations

from pathlib import Path

import pytest
from PyQt6.QtCore import QSettings

from app.main_window import MainWindow
from main import build_parser, check_inputs, config_from_args
from stdformer.paths import ASSETS_DIR
from stdformer.session import pipeline
from stdformer.session.pipeline import LivePipeline, PipelineConfig


def test_check_inputs_returns_the_stage_and_the_pipeline_reuses_it(placed_weights: Path) -> None:
    config = config_from_args(build_parser().parse_args(["--weights", str(placed_weights)]))
    stage = check_inputs(config)
    assert stage is not None and stage.weights == placed_weights
    with LivePipeline(config.pipeline, stage=stage) as pipe:
        assert pipe.predictor is not None and pipe.predictor.model is stage.model
        assert pipe.faces is not None and len(pipe.faces) == len(stage.body.faces)
        assert pipe.display_lod is not None and pipe.display_lod.level == "mid"
    default = check_inputs(config_from_args(build_parser().parse_args([])))
    assert default is not None and default.weights == ASSETS_DIR / "stdformer_landmarks.pt"


def test_the_window_hands_the_stage_to_its_first_run_only(
    qtbot, placed_weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = config_from_args(
        build_parser().parse_args(["--weights", str(placed_weights), "--source", "sample"])
    )
    stage = check_inputs(config)
    loads: list[PipelineConfig] = []  # the mesh stages the runs load themselves
    load = pipeline.load_mesh_stage
    monkeypatch.setattr(pipeline, "load_mesh_stage", lambda c: loads.append(c) or load(c))
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    window = MainWindow(config, [], "sample", settings, preloaded=stage)
    qtbot.addWidget(window)

    def run_ready() -> str:
        """Start a run and wait until its mesh stage is in place; its mesh status."""
        window.start()
        session = window.worker.session
        qtbot.waitUntil(lambda: bool(session.mesh_status or session.error), timeout=60_000)
        assert session.error is None
        return session.mesh_status

    assert placed_weights.name in run_ready() and loads == []  # the stage main.py loaded
    assert placed_weights.name in run_ready() and len(loads) == 1  # a second run loads again
    window.stop()
