"""The live session: sources and the capture thread, the session loop that publishes one
result per frame to subscribers (see `session.py`), presence fade and run statistics."""
