"""The live session: sources and the capture thread, the session loop that publishes one
result per frame to subscribers (see `session.py`), the mesh fade and run statistics."""
