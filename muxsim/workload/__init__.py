"""Workloads: a server and its clients described in TOML, for the simulator and the real runner."""
