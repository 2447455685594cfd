"""The mesh stage main.py loads while checking the inputs is the one the first run uses (it is
not loaded twice); later runs, or runs naming other files, load their own."""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import QSettings

from app.main_window import MainWindow
from main import build_parser, check_inputs, config_from_args
from stdformer.paths import ASSETS_DIR
from stdformer.session.pipeline import LivePipeline


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
    qtbot, placed_weights: Path, tmp_path: Path
) -> None:
    config = config_from_args(
        build_parser().parse_args(["--weights", str(placed_weights), "--source", "sample"])
    )
    stage = check_inputs(config)
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    window = MainWindow(config, [], "sample", settings, preloaded=stage)
    qtbot.addWidget(window)
    window.start()
    assert window.worker is not None and window.worker.session._pipeline_factory is not None
    window.start()  # a second run loads the files again
    assert window.worker.session._pipeline_factory is None
    window.stop()
