"""Bundled presets and jinja2 templates (installed as toolkit.templates)."""
