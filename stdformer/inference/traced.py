"""The per-frame network call of streaming inference, run as a frozen TorchScript graph.

`WindowDecoder(window)` is `STDFormer.decode_window` at one window position plus the joint
regression and pelvis centring of `Predictor` (class doc there): (1, T, *feat) -> cam (3,),
joints (J, 3), vertices (Vf, 3). Eager PyTorch holds Python's GIL for every one of the graph's
few hundred small operations, so in the live session the network and the display thread
(pyrender, also Python) take turns: on a 2-core CPU the model stage (network + body fit) took
22-31 ms per frame with the session's two threads, 12 ms with one; traced, 16-25 ms with two
(`benchmarks/bench_live.py`, three alternated runs per build). A traced and frozen graph runs
in C++ with the GIL released from its first operation to its last, for the same values (float
rounding) and a little less CPU. The graph is traced on first use for each window shape and
traced again whenever a parameter or buffer changed in place (their version counters and
storage), so it never runs stale weights; if tracing fails the decoder logs once and stays eager.
TorchScript is deprecated upstream in favour of `torch.compile` / `torch.export`, neither of
which runs a graph without Python here (compile needs a C++ toolchain at run time, an exported
program is interpreted in Python): should a later torch drop tracing, this falls back to eager.
"""

from __future__ import annotations

import logging
import threading
import warnings
from typing import Literal

import torch

from stdformer.model.stdformer import STDFormer

log = logging.getLogger(__name__)


class _Decode(torch.nn.Module):
    """decode_window at `position` -> (cam_wp (B, 3), joints (B, J, 3), verts (B, Vf, 3))."""

    def __init__(self, model: STDFormer, position: int, regressor: torch.Tensor | None) -> None:
        super().__init__()
        self.model = model
        self.position = position
        # A joint regressor reads few vertices (the default body's: 199 of 13,718): only those
        # columns are multiplied (a dense (J, Vf) product cost ~0.4 ms per frame)
        self.columns = None if regressor is None else regressor.abs().sum(0).nonzero()[:, 0]
        self.regressor = None if regressor is None else regressor[:, self.columns]  # (J, U)

    def forward(self, window: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        out = self.model.decode_window(window, self.position)
        verts = out.verts_full.float()  # (B, Vf, 3)
        if self.regressor is None or self.columns is None:
            return out.cam_wp.float(), out.joints.float(), verts  # the network's joint tokens
        joints = self.regressor @ verts.index_select(1, self.columns)  # (B, J, 3), 0 = pelvis
        root = joints[:, :1]  # (B, 1, 3)
        return out.cam_wp.float(), joints - root, verts - root


TraceMode = Literal["off", "blocking", "background"]
BACKGROUND_AFTER_CALLS = 10  # frames (0.3 s at 30 fps) before a background trace starts


class WindowDecoder:
    """One frame's network output from a window of features (module doc).

    `trace`: "blocking" traces on the first call for a window shape (~0.5 s of CPU once: for
    files); "background" runs eager for the first `BACKGROUND_AFTER_CALLS` calls (the first
    mesh reaches the screen without sharing the CPU with the tracer), then traces in a thread
    and runs eager until the graph is ready (the live session); "off" runs eager PyTorch
    always (autocast precisions).
    """

    def __init__(
        self,
        model: STDFormer,
        position: int,
        regressor: torch.Tensor | None = None,  # (J, Vf) on the model's device
        trace: TraceMode = "blocking",
    ) -> None:
        if trace not in ("off", "blocking", "background"):
            raise ValueError(f"trace must be off, blocking or background, got {trace!r}")
        self._eager = _Decode(model, position, regressor).eval()
        # what the graph bakes in; listed once (walking the modules costs ~1 ms per frame)
        self._tensors = [*self._eager.parameters(), *self._eager.buffers()]
        self._mode = trace
        self._graph: tuple[tuple, torch.jit.ScriptModule] | None = None  # (key, graph)
        self._building: tuple | None = None  # the key being traced
        self.traced = False  # whether the last call ran the traced graph
        self._calls = 0  # eager calls in background mode before tracing starts

    def __call__(self, window: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(1, T, *feat) -> cam_wp (3,), joints (J, 3), verts (Vf, 3); call in inference mode."""
        module: torch.nn.Module = self._eager
        start = None  # a background build to start once this frame's output is out
        if self._mode != "off":
            key = self._state_key(window)
            graph = self._graph  # one read: a background build may replace it meanwhile
            if graph is not None and graph[0] == key:
                module = graph[1]
            elif self._building != key:
                if self._mode == "blocking":
                    self._building = key
                    if (built := self._build(key, window)) is not None:
                        module = built
                else:
                    self._calls += 1
                    if self._calls > BACKGROUND_AFTER_CALLS:
                        self._building = start = key
        self.traced = module is not self._eager
        out = tuple(a[0] for a in module(window))
        if start is not None:
            args = (start, window.clone())  # the caller may reuse its tensor
            # not a daemon (nor inheriting it from the session's thread): interpreter exit waits
            # for it (~0.5 s at most) instead of killing it inside torch, which aborts the
            # process ("terminate called without an active exception")
            name = "trace-network"
            threading.Thread(target=self._build, args=args, name=name, daemon=False).start()
        return out

    def _state_key(self, window: torch.Tensor) -> tuple:
        state = tuple((t._version, t.data_ptr()) for t in self._tensors)
        return (tuple(window.shape), window.dtype, window.device, state)

    def _build(self, key: tuple, window: torch.Tensor) -> torch.jit.ScriptModule | None:
        """The traced graph for `key` (also kept for the next calls); None if tracing failed."""
        try:
            # Shape checks inside the model become constants (the key holds the shape) and
            # TorchScript is deprecated (module doc): say neither. Filters, not catch_warnings:
            # that swaps the process-wide filters, unsafe from a background thread.
            warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
            warnings.filterwarnings("ignore", r"`torch\.jit\.", DeprecationWarning)
            with torch.inference_mode(False), torch.no_grad():
                example = window.clone()  # an inference tensor cannot be saved by the tracer
                # One eager call first fills the model's inference caches (stage 1's constant
                # query block): the tracer then bakes them in as constants instead of recording
                # their computation (a traced first call ran that attention on every frame).
                self._eager(example)
                traced = torch.jit.trace(self._eager, (example,), check_trace=False)
                graph = torch.jit.freeze(traced)
            with torch.inference_mode():
                for _ in range(2):  # TorchScript optimises on its first runs: not in a frame
                    graph(window)
        except Exception:  # any tracer limitation: stay eager, say so once
            log.warning("network not traced (runs eager, holding the GIL)", exc_info=True)
            self._mode = "off"
            return None
        if self._building == key:
            self._graph = (key, graph)
        return graph
