"""Shared fixtures: the catalogue, the real-kernel backend, Hypothesis profiles."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "models" / "conformance"
INDEPENDENT = ROOT / "models" / "independent"

# "ci" (the default, and what `make test` runs) is derandomized: the same
# examples every run, so a red CI always means a change, never a new draw.
# Use HYPOTHESIS_PROFILE=dev (random, fewer) or nightly to explore.
settings.register_profile("ci", max_examples=100, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile("nightly", max_examples=20000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def catalogue_files() -> list[Path]:
    return sorted(CATALOGUE.glob("*.mux"))


def independent_files() -> list[Path]:
    return sorted(INDEPENDENT.glob("*.mux"))

