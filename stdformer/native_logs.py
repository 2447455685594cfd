"""Keep MediaPipe's and TFLite's native log lines off the terminal (unless asked for).

MediaPipe 1.x logs through absl from C++ threads straight to file descriptor 2; neither
`GLOG_minloglevel` nor `TF_CPP_MIN_LOG_LEVEL` silences it (measured). `NativeLogFilter` puts a
pipe in front of fd 2 and forwards every line except absl INFO/WARNING lines, TFLite's
"Created delegate" notices and FFmpeg's own lines (`[mov,mp4,... @ 0x...] moov atom not found`
before the clear error the source raises itself). Errors (E/F lines), Python warnings and
tracebacks pass through; a progress bar (a line redrawn with "\r") is forwarded as it is drawn.
Only the entry points install it (`main.py` and its commands; imports have no side effects),
and not with `-v`.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading

# absl: "W0000 00:00:1795968558.179984    4867 file.cc:121] text"; TFLite: "INFO: Created ..."
NOISE = re.compile(
    rb"^(?:[IW]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\]"
    rb"|INFO: Created TensorFlow Lite"
    rb"|WARNING: Logging before InitGoogle\(\)"
    rb"|WARNING: All log messages before absl::InitializeLog\(\)"
    rb"|\[[\w,]+ @ 0x[0-9a-fA-F]+\] )"  # FFmpeg through OpenCV: "[mov,mp4,... @ 0x55d0] ..."
)


class NativeLogFilter:
    """Filters fd 2 through a pipe while started (`start()`/`stop()`, or `with`)."""

    def __init__(self, fd: int = 2) -> None:
        self.fd = fd
        self.dropped = 0  # lines filtered out so far
        self._saved: int | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> NativeLogFilter:
        if self._saved is not None:
            return self
        read_end, write_end = os.pipe()
        self._saved = os.dup(self.fd)
        os.dup2(write_end, self.fd)
        os.close(write_end)
        self._thread = threading.Thread(
            target=self._pump, args=(read_end, self._saved), name="native-log-filter", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Restore fd 2 and flush what the pump still holds."""
        if self._saved is None:
            return
        os.dup2(self._saved, self.fd)  # closes the pipe's last write end: the pump sees EOF
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        os.close(self._saved)
        self._saved, self._thread = None, None

    def _pump(self, read_end: int, out_fd: int) -> None:
        pending = b""
        with os.fdopen(read_end, "rb", buffering=0) as pipe:
            while chunk := pipe.read(65536):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                self._forward(lines, out_fd)
                if b"\r" in pending:  # a progress bar redrawing its line: show it now
                    self._forward([pending], out_fd, newline=False)
                    pending = b""
        if pending:
            self._forward([pending], out_fd, newline=False)

    def _forward(self, lines: list[bytes], out_fd: int, newline: bool = True) -> None:
        kept = []
        for line in lines:
            if NOISE.match(line):
                self.dropped += 1
            else:
                kept.append(line)
        if kept:
            data = b"\n".join(kept) + (b"\n" if newline else b"")
            try:
                while data:
                    data = data[os.write(out_fd, data) :]
            except OSError:
                pass  # the terminal went away; nothing else to tell

    def __enter__(self) -> NativeLogFilter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def native_logs_hidden(verbose: bool) -> contextlib.AbstractContextManager[object]:
    """The filter for a command run (`with native_logs_hidden(args.verbose): ...`); nothing
    with `verbose`, so `-v` shows every native line."""
    return contextlib.nullcontext() if verbose else NativeLogFilter()
