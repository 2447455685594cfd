"""Helper process for the SIGKILL test: records synthetic frames until killed.

Prints the number of frames whose `write()` returned, one line per frame, then sleeps between
frames (30 fps pacing, as a camera would). Usage: python kill_writer.py PARENT_DIR [FSIZE_LIMIT]
With FSIZE_LIMIT it sets RLIMIT_FSIZE (a file-size limit: writes fail like on a full disk),
writes until the error and prints it as "ERROR <message>".
"""

from __future__ import annotations

import resource
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from stdformer.recording import RecordingError, RecordingInfo, RecordingWriter
from tests.recording.synthetic import SPHERE_FACES, SPHERE_VERTICES, synthetic_record


def main() -> int:
    parent = Path(sys.argv[1])
    if len(sys.argv) > 2:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
        limit = int(sys.argv[2])
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    info = RecordingInfo(fps=30.0, source="synthetic")
    writer = RecordingWriter.create(parent, info, SPHERE_FACES, len(SPHERE_VERTICES), 24)
    print(f"PATH {writer.path}", flush=True)
    i = 0
    while True:
        try:
            writer.write(synthetic_record(i))
        except RecordingError as exc:
            print(f"ERROR {exc}", flush=True)
            return 3
        i += 1
        print(i, flush=True)
        if len(sys.argv) == 2:
            time.sleep(1 / 30)


if __name__ == "__main__":
    sys.exit(main())
