"""The backends, by name: an explicit mapping, chosen with ``--on``.

No import-time platform switch: a backend that cannot run here says so when
it is asked for, with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from muxsim.lang.results import Backend


@dataclass(frozen=True)
class BackendInfo:
    summary: str
    factory: Callable[[], Backend]


def _real() -> Backend:
    from realmux import RealKernel

    return RealKernel()


def _sim() -> Backend:
    from muxsim.model import SimKernel

    return SimKernel()


BACKENDS: dict[str, BackendInfo] = {
    "real": BackendInfo("the Linux kernel this runs on", _real),
    "sim": BackendInfo("the SimPy model of it", _sim),
}


def get_backend(name: str) -> Backend:
    return BACKENDS[name].factory()
