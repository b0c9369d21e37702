"""Benchmarks that print figures (docs/benchmarks.md): run them as modules from the repository root."""
