"""Integrations with optional packages, each installed through its own extra."""
