"""Every command that runs the pipeline takes the same options and refuses bad values the same
way: a usage error (exit 2, one message) while parsing, before any model loads."""

from __future__ import annotations

import pytest

import main as app_main
from stdformer.eval import evaluate_cli
from stdformer.recording import process_cli

COMMANDS = {
    "main.py": lambda argv: app_main.build_parser().parse_args(argv),
    "process": lambda argv: process_cli.main(["clip.mp4", "--out", "out", *argv]),
    "evaluate": lambda argv: evaluate_cli.main(["--video", "clip.mp4", *argv]),
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["--lookahead", "-1"], "--lookahead: must be >= 0"),
        (["--lookahead", "9"], "--lookahead: must be <= 8"),  # the smoother holds at most 8
        (["--max-people", "0"], "--max-people: must be >= 1"),
        (["--network-lookahead", "8"], "--network-lookahead: must be <= 7"),  # window 8 frames
        (["--fov", "180"], "--fov: must be in (0, 180) degrees"),
    ],
)
def test_out_of_range_pipeline_option_is_a_usage_error(command, argv, complaint, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        COMMANDS[command](argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count(complaint) == 1


def test_pipeline_options_mean_the_same_in_the_app_and_process() -> None:
    argv = ["--lookahead", "2", "--max-people", "1", "--device", "cpu", "--weights", "w.pt",
            "--hidden-legs", "standing", "--network-lookahead", "1", "--fov", "70"]  # fmt: skip
    app = app_main.config_from_args(app_main.build_parser().parse_args(argv)).pipeline
    args = process_cli.build_parser().parse_args(["clip.mp4", "--out", "out", *argv])
    assert process_cli.pipeline_config_from_args(args) == app
    assert (app.lookahead, app.localizer.max_people, app.device) == (2, 1, "cpu")
    assert (app.hidden_legs, app.network_lookahead, app.fov_deg) == ("standing", 1, 70.0)


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["--smoothing-lag", "3"], "--smoothing-lag: must be in [0, 2] seconds"),
        (["--smoothing", "1.5"], "--smoothing: must be in [0, 1]"),
    ],
)
def test_out_of_range_smoothing_is_a_usage_error(argv, complaint, capsys) -> None:
    for command in ("process", "evaluate"):
        with pytest.raises(SystemExit) as exit_info:
            COMMANDS[command](argv)
        assert exit_info.value.code == 2
        assert capsys.readouterr().err.count(complaint) == 1


def test_process_smooths_with_a_lag_and_evaluate_as_live() -> None:
    """Files have no latency budget: `process` smooths zero-phase by default."""
    from stdformer.session.core import PROCESS_SMOOTHING, PROCESS_SMOOTHING_LAG_S
    from stdformer.session.options import smoothing_from_args

    args = process_cli.build_parser().parse_args(["clip.mp4", "--out", "out"])
    assert smoothing_from_args(args) == {
        "smoothing": PROCESS_SMOOTHING,
        "smoothing_lag_s": PROCESS_SMOOTHING_LAG_S,
    }
    assert PROCESS_SMOOTHING_LAG_S > 0


def test_process_lets_the_network_read_ahead_and_live_does_not() -> None:
    """No latency budget either for the network's look-ahead: `process` reads 3 frames of the
    future by default, the app (live) none, unless the user says otherwise."""
    from stdformer.session.core import PROCESS_NETWORK_LOOKAHEAD

    args = process_cli.build_parser().parse_args(["clip.mp4", "--out", "out"])
    assert process_cli.pipeline_config_from_args(args).network_lookahead == 3
    assert PROCESS_NETWORK_LOOKAHEAD == 3
    app = app_main.config_from_args(app_main.build_parser().parse_args([])).pipeline
    assert app.network_lookahead == 0


@pytest.mark.parametrize(("cpus", "expected"), [({0, 1}, 1), ({0}, 0)])
def test_the_live_look_ahead_defaults_to_one_frame_from_two_cpus(monkeypatch, cpus, expected):
    """Live the smoother looks a frame ahead where the machine has the cores for its latency;
    files (`process`: a lag of its own) and evaluations (the same numbers on any machine) do
    not follow the machine; an explicit --lookahead always wins."""
    import os

    from app.config import AppConfig
    from stdformer.session.pipeline import LIVE_LOOKAHEAD

    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: cpus)
    parse = app_main.build_parser().parse_args
    assert app_main.config_from_args(parse([])).pipeline.lookahead == expected
    assert AppConfig().pipeline.lookahead == expected
    assert app_main.config_from_args(parse(["--lookahead", "0"])).pipeline.lookahead == 0
    process = process_cli.build_parser().parse_args(["clip.mp4", "--out", "out"])
    assert process_cli.pipeline_config_from_args(process).lookahead == 0
    evaluate = evaluate_cli.build_parser().parse_args(["--real"])
    assert evaluate_cli.pipeline_config_from_args(evaluate).lookahead == LIVE_LOOKAHEAD == 1


def test_cpu_count_where_the_os_has_no_affinity(monkeypatch) -> None:
    """macOS and Windows have no `os.sched_getaffinity`: the machine's CPU count decides."""
    import os

    from stdformer.session.pipeline import LIVE_LOOKAHEAD, default_lookahead

    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    for cpus, expected in ((8, LIVE_LOOKAHEAD), (1, 0), (None, 0)):
        monkeypatch.setattr(os, "cpu_count", lambda n=cpus: n)
        assert default_lookahead() == expected
