"""STDFormer live: headless library for video human mesh recovery (never imports Qt)."""

__version__ = "0.1.0"
