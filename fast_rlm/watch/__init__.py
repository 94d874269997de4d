"""Watching a run: what run() shows on the terminal while it works, and OpenTelemetry traces."""
