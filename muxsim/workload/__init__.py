"""Workloads: a server and its clients described in TOML, for the simulator and the real runner."""

from muxsim.model.compiled import activate

activate(__name__, __path__)  # the compiled engine, if built from these very sources
