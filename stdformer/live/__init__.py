"""Streaming: video sources, person localization, rolling buffer, predictor, smoothing."""
