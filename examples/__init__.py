"""Bundled examples (installed as toolkit.examples)."""
