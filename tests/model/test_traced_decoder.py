"""The per-frame network call as a frozen TorchScript graph: the same values as eager PyTorch,
never stale weights, traced in the background without holding up a frame, eager on failure."""

from __future__ import annotations

import logging
import threading
import time

import pytest
import torch

from stdformer.inference import traced as traced_module
from stdformer.inference.model_input import observations_to_tensor
from stdformer.inference.traced import BACKGROUND_AFTER_CALLS, WindowDecoder
from stdformer.model.stdformer import build_model


@pytest.fixture
def model(sphere_levels, tiny_landmark_config):
    return build_model(tiny_landmark_config, sphere_levels).eval()


@pytest.fixture
def window(model, observations) -> torch.Tensor:
    with torch.inference_mode():
        feats = model.encode_frame(observations_to_tensor(observations[: model.T]))
    return feats[None]  # (1, T, *feat)


def _run(decoder: WindowDecoder, window: torch.Tensor) -> tuple[torch.Tensor, ...]:
    with torch.inference_mode():
        return decoder(window)


def test_traced_graph_gives_the_eager_values(model, window) -> None:
    regressor = torch.rand(5, _n_full(model, window))  # (J, Vf)
    eager = WindowDecoder(model, model.T - 1, regressor, trace="off")
    traced = WindowDecoder(model, model.T - 1, regressor, trace="blocking")
    expected = _run(eager, window)
    got = _run(traced, window)
    assert traced.traced and not eager.traced
    assert [a.shape for a in got] == [(3,), (5, 3), expected[2].shape]
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    # pelvis-centred on the regressed root
    torch.testing.assert_close(got[1][0], torch.zeros(3), atol=1e-5, rtol=0)


def test_a_sparse_joint_regressor_gives_the_dense_product(model, window) -> None:
    n = _n_full(model, window)
    regressor = torch.zeros(5, n)
    regressor[:, torch.arange(0, n, 7)] = torch.rand(5, len(range(0, n, 7)))  # few columns
    with torch.inference_mode():
        verts = model.decode_window(window, model.T - 1).verts_full[0]  # (Vf, 3)
        _, joints, centred = WindowDecoder(model, model.T - 1, regressor, trace="blocking")(window)
    dense = regressor @ verts
    torch.testing.assert_close(joints, dense - dense[:1], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(centred, verts - dense[:1], atol=1e-5, rtol=1e-5)


def test_a_graph_traced_on_the_first_call_takes_the_constant_queries_as_constants(
    model, window
) -> None:
    """Stage 1's first decoder self-attention sees only learned tokens (a cached constant):
    a graph traced before any eager call used to record it and run it on every frame."""
    first = WindowDecoder(model, model.T - 1, trace="blocking")
    _run(first, window)  # traced on this first call
    warm = WindowDecoder(model, model.T - 1, trace="blocking")
    _run(warm, window)  # traced with the model's cache already filled

    def attentions(decoder: WindowDecoder) -> int:
        """Attention operations one traced frame runs."""
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            _run(decoder, window)
        assert decoder.traced
        return sum(e.name == "aten::scaled_dot_product_attention" for e in prof.events())

    assert attentions(first) == attentions(warm) > 0


def test_weights_changed_in_place_are_traced_again(model, window) -> None:
    decoder = WindowDecoder(model, model.T - 1, trace="blocking")
    before = _run(decoder, window)
    with torch.no_grad():
        model.cam_predictor.bias.add_(0.5)  # what an optimiser step or load_state_dict does
    after = _run(decoder, window)
    assert decoder.traced
    torch.testing.assert_close(after[0], before[0] + 0.5, atol=1e-5, rtol=1e-5)


def test_background_tracing_does_not_hold_up_a_frame(model, window, monkeypatch) -> None:
    started = []
    thread = threading.Thread

    def spy(*args, **kwargs):
        started.append(kwargs.get("name"))
        return thread(*args, **kwargs)

    monkeypatch.setattr(traced_module.threading, "Thread", spy)
    decoder = WindowDecoder(model, model.T - 1, trace="background")
    expected = _run(WindowDecoder(model, model.T - 1, trace="off"), window)
    first = _run(decoder, window)
    for _ in range(BACKGROUND_AFTER_CALLS - 1):  # the first frames: eager, no tracer running
        _run(decoder, window)
    assert started == [] and not decoder.traced
    _run(decoder, window)
    assert started == ["trace-network"] and not decoder.traced  # eager while it traces
    deadline = time.monotonic() + 60
    while not decoder.traced and time.monotonic() < deadline:
        time.sleep(0.01)
        got = _run(decoder, window)
    assert decoder.traced
    for a, b, c in zip(first, got, expected, strict=True):
        torch.testing.assert_close(a, c, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(b, c, atol=1e-5, rtol=1e-5)


def test_background_tracing_outlives_a_daemon_caller(model, window) -> None:
    """The live session calls from a daemon thread; a tracer thread inheriting that would be
    killed inside torch at interpreter exit, which aborts the process (`process` on one image
    did: "terminate called without an active exception")."""
    decoder = WindowDecoder(model, model.T - 1, trace="background")
    calls = BACKGROUND_AFTER_CALLS + 1
    caller = threading.Thread(target=lambda: [_run(decoder, window) for _ in range(calls)],
                              daemon=True)  # fmt: skip
    caller.start()
    caller.join()
    tracers = [t for t in threading.enumerate() if t.name == "trace-network"]
    assert tracers and not any(t.daemon for t in tracers)
    for t in tracers:
        t.join(60)


def test_a_tracer_failure_runs_eager_and_says_so_once(model, window, monkeypatch, caplog) -> None:
    def fail(*args, **kwargs):
        raise RuntimeError("unsupported operation")

    monkeypatch.setattr(torch.jit, "trace", fail)
    decoder = WindowDecoder(model, model.T - 1, trace="blocking")
    expected = _run(WindowDecoder(model, model.T - 1, trace="off"), window)
    with caplog.at_level(logging.WARNING, logger="stdformer.inference.traced"):
        outs = [_run(decoder, window) for _ in range(3)]
    assert not decoder.traced
    assert len([r for r in caplog.records if "not traced" in r.message]) == 1
    for out in outs:
        torch.testing.assert_close(out[2], expected[2])


def test_unknown_mode_is_refused(model) -> None:
    with pytest.raises(ValueError, match="trace must be"):
        WindowDecoder(model, 0, trace="jit")


def _n_full(model, window) -> int:
    """Vertices of the full mesh level the model outputs."""
    with torch.inference_mode():
        return model.decode_window(window, model.T - 1).verts_full.shape[1]
