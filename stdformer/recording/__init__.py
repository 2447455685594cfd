"""Recording mesh sequences: streamed crash-safe writer, reader, exporters (no Qt).

Layout of a recording folder: `stdformer.recording.format`; README "Recordings" shows how to
read one with numpy alone.
"""

from stdformer.recording.format import FrameRecord, RecordingError, RecordingInfo
from stdformer.recording.reader import Recording, open_recording
from stdformer.recording.writer import RecordingWriter, new_recording_dir

__all__ = [
    "FrameRecord",
    "Recording",
    "RecordingError",
    "RecordingInfo",
    "RecordingWriter",
    "new_recording_dir",
    "open_recording",
]
