"""People in an image: MediaPipe pose landmarks (the 33-landmark contract in `pose_topology`),
re-detection, plausibility checks and subject tracking."""
