"""Evaluation: metrics (MPJPE, PA-MPJPE, MPVPE, acceleration) and the `evaluate` command."""
