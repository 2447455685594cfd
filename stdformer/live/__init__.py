"""Live capture and processing: sources, capture thread, person localization, the predictor, and
the session loop that publishes one result per frame to subscribers (see `session.py`)."""
