"""People in an image: the `PoseDetector` protocol the session depends on (`detector`), MediaPipe
pose landmarks as its implementation (`localize`; the 33-landmark contract in `pose_topology`),
re-detection, plausibility checks and subject tracking."""
