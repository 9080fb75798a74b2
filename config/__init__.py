"""Typed configuration and logging set-up, shared by every layer's entrypoints."""
