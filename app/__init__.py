"""PyQt6 desktop application: windows, widgets and the threads between pipeline stages."""
