"""Synthetic motion, observation simulation and dataset adapters."""
