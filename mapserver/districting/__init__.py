"""Micro-grid planning: proposals, boundaries, hand edits, validation, people, OSM start."""
