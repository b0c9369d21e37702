"""A toolkit for promtool rule tests (series builders, the Go-template emulator) and the generated suites."""
