"""Hypothesis entry point: ``st.from_type(Scenario)`` draws valid scenarios."""

from __future__ import annotations


def _hypothesis_setup_hook() -> None:
    from hypothesis import strategies as st

    from muxsim.lang.syntax import Scenario
    from muxsim.strategies import scenarios

    st.register_type_strategy(Scenario, scenarios())
