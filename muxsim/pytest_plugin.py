"""The muxsim pytest plugin (entry point ``pytest11``).

Fixtures:

* ``sim_kernel``: the model backend;
* ``real_kernel``: the real-kernel backend (skipped, with the reason, where
  it cannot run);
* ``kernel``: parametrised over both, so one test checks a claim on the model
  and on the kernel.

Options: ``--muxsim-examples N`` and ``--muxsim-profile dev|ci|nightly`` set
Hypothesis's default example count for the session (the profiles are
registered as ``muxsim-dev``, ``muxsim-ci`` and ``muxsim-nightly``: 200, 500
and 20,000 examples). The marker ``real_kernel`` marks tests that need the
real kernel; ``--muxsim-no-real`` skips them.
"""

from __future__ import annotations

import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from muxsim.lang.results import Backend

PROFILE_EXAMPLES = {"dev": 200, "ci": 500, "nightly": 20000}

for _name, _count in PROFILE_EXAMPLES.items():
    settings.register_profile(f"muxsim-{_name}", max_examples=_count, deadline=None,
                              suppress_health_check=[HealthCheck.too_slow,
                                                     HealthCheck.data_too_large])


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("muxsim", "muxsim: I/O readiness on the model and the kernel")
    group.addoption("--muxsim-examples", type=int, default=None,
                    help="Hypothesis examples for muxsim property tests")
    group.addoption("--muxsim-profile", choices=sorted(PROFILE_EXAMPLES), default=None,
                    help="muxsim Hypothesis profile: dev (200), ci (500), nightly (20,000)")
    group.addoption("--muxsim-no-real", action="store_true",
                    help="skip tests that need the real kernel")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers",
                            "real_kernel: needs the real Linux kernel (sockets, pipes, epoll)")
    profile = config.getoption("--muxsim-profile")
    examples = config.getoption("--muxsim-examples")
    if profile is not None:
        settings.load_profile(f"muxsim-{profile}")
    if examples is not None:
        settings.register_profile("muxsim-cli", settings(settings.default,
                                                         max_examples=examples))
        settings.load_profile("muxsim-cli")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = _real_unavailable(config)
    if reason is None:
        return
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if "real_kernel" in item.keywords:
            item.add_marker(skip)


def _real_unavailable(config: pytest.Config) -> str | None:
    if config.getoption("--muxsim-no-real"):
        return "--muxsim-no-real was given"
    if not sys.platform.startswith("linux"):
        return "the real-kernel backend needs Linux"
    return None


@pytest.fixture(scope="session")
def sim_kernel() -> Backend:
    """The model of the kernel (``muxsim run --on sim``)."""
    from muxsim.model import SimKernel

    return SimKernel()


@pytest.fixture(scope="session")
def real_kernel(request: pytest.FixtureRequest) -> Backend:
    """The real kernel (``muxsim run --on real``)."""
    reason = _real_unavailable(request.config)
    if reason is not None:
        pytest.skip(reason)
    from realmux import RealKernel

    return RealKernel()


@pytest.fixture(params=["sim", "real"])
def kernel(request: pytest.FixtureRequest) -> Any:
    """Both backends in turn: write a test once, check it on the model and the kernel."""
    return request.getfixturevalue(f"{request.param}_kernel")
